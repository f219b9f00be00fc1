//! mediasoup's SeqManager idea for one outgoing stream: the consumer's
//! sequence numbers and timestamps continue without gaps or jumps across
//! pauses, resumes and source changes, whatever the incoming stream does.

use std::time::Instant;

/// `a` is newer than `b` in RFC 3550 serial-number arithmetic.
pub fn seq_newer(a: u16, b: u16) -> bool {
    a != b && a.wrapping_sub(b) < 0x8000
}

#[derive(Debug, Clone)]
pub struct StreamRewriter {
    clock_rate: u32,
    /// Re-base on the next accepted packet.
    sync_pending: bool,
    started: bool,
    seq_offset: u16,
    ts_offset: u32,
    /// Incoming packets older than this one predate the last re-base.
    sync_in_seq: u16,
    last_out_seq: u16,
    last_out_ts: u32,
    last_out_at: Option<Instant>,
}

impl StreamRewriter {
    pub fn new(clock_rate: u32, initial_seq: u16, initial_ts: u32) -> Self {
        StreamRewriter {
            clock_rate: clock_rate.max(1),
            sync_pending: true,
            started: false,
            seq_offset: 0,
            ts_offset: 0,
            sync_in_seq: 0,
            last_out_seq: initial_seq.wrapping_sub(1),
            last_out_ts: initial_ts,
            last_out_at: None,
        }
    }

    /// The next packet starts a new segment (after a pause, a key-frame wait,
    /// or a new source).
    pub fn resync(&mut self) {
        self.sync_pending = true;
    }

    pub fn is_syncing(&self) -> bool {
        self.sync_pending
    }

    /// Output sequence number and timestamp for an incoming packet, or
    /// `None` for a packet from before the current segment.
    pub fn rewrite(&mut self, in_seq: u16, in_ts: u32, now: Instant) -> Option<(u16, u32)> {
        if self.sync_pending {
            let out_seq = self.last_out_seq.wrapping_add(1);
            // The timestamp advances by the wall-clock time since the last
            // packet sent, at least one tick, so players see time move on.
            let out_ts = if self.started {
                let elapsed = self
                    .last_out_at
                    .map(|t| now.saturating_duration_since(t))
                    .unwrap_or_default();
                let ticks =
                    (elapsed.as_micros() as u64 * u64::from(self.clock_rate) / 1_000_000).max(1);
                self.last_out_ts.wrapping_add(ticks as u32)
            } else {
                self.last_out_ts
            };
            self.seq_offset = out_seq.wrapping_sub(in_seq);
            self.ts_offset = out_ts.wrapping_sub(in_ts);
            self.sync_in_seq = in_seq;
            self.sync_pending = false;
            self.started = true;
        } else if seq_newer(self.sync_in_seq, in_seq) {
            return None;
        }
        let out_seq = in_seq.wrapping_add(self.seq_offset);
        let out_ts = in_ts.wrapping_add(self.ts_offset);
        if seq_newer(out_seq, self.last_out_seq) {
            self.last_out_seq = out_seq;
            self.last_out_ts = out_ts;
            self.last_out_at = Some(now);
        }
        Some((out_seq, out_ts))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn continuous_across_a_resync_with_a_jump_in_the_source() {
        let start = Instant::now();
        let mut r = StreamRewriter::new(90_000, 1000, 5000);
        assert_eq!(r.rewrite(60_000, 1_000_000, start), Some((1000, 5000)));
        assert_eq!(r.rewrite(60_001, 1_003_000, start), Some((1001, 8000)));
        // Reordered packet inside the segment is passed with its mapping.
        assert_eq!(r.rewrite(60_000, 1_000_000, start), Some((1000, 5000)));
        r.resync();
        // The source jumps (another sender, or after a pause): output goes on.
        let later = start + Duration::from_millis(100);
        assert_eq!(r.rewrite(7, 42, later), Some((1002, 8000 + 9000)));
        assert_eq!(r.rewrite(8, 42 + 3000, later), Some((1003, 17000 + 3000)));
        // A late packet from before the re-base is dropped.
        assert_eq!(r.rewrite(60_002, 1_006_000, later), None);
    }

    #[test]
    fn wraps_around_sixteen_bits() {
        let now = Instant::now();
        let mut r = StreamRewriter::new(48_000, 65_535, 0);
        assert_eq!(r.rewrite(10, 0, now), Some((65_535, 0)));
        assert_eq!(r.rewrite(11, 960, now), Some((0, 960)));
        assert!(seq_newer(0, 65_535));
        assert!(!seq_newer(65_535, 0));
    }

    #[test]
    fn a_gap_in_the_source_stays_a_gap_so_the_receiver_can_nack_it() {
        let now = Instant::now();
        let mut r = StreamRewriter::new(90_000, 500, 0);
        assert_eq!(r.rewrite(10, 0, now), Some((500, 0)));
        // 11 and 12 were lost on the way in.
        assert_eq!(r.rewrite(13, 9000, now), Some((503, 9000)));
        // A retransmission of 11 arrives late and keeps its place.
        assert_eq!(r.rewrite(11, 3000, now), Some((501, 3000)));
    }

    #[test]
    fn a_late_packet_does_not_move_the_stream_back() {
        let start = Instant::now();
        let mut r = StreamRewriter::new(90_000, 100, 1000);
        r.rewrite(1, 0, start);
        r.rewrite(3, 6000, start);
        r.rewrite(2, 3000, start);
        r.resync();
        // The new segment continues after the newest packet sent (103), not
        // after the late one (102).
        assert_eq!(r.rewrite(50, 0, start).map(|(seq, _)| seq), Some(103));
    }

    #[test]
    fn a_resync_without_time_passing_still_moves_the_timestamp_on() {
        let now = Instant::now();
        let mut r = StreamRewriter::new(90_000, 0, 7000);
        assert_eq!(r.rewrite(1, 100, now), Some((0, 7000)));
        r.resync();
        // Same instant, same source timestamp: one tick later, never equal.
        assert_eq!(r.rewrite(2, 100, now), Some((1, 7001)));
    }

    #[test]
    fn the_timestamp_wraps_around_thirty_two_bits() {
        let now = Instant::now();
        let mut r = StreamRewriter::new(90_000, 0, u32::MAX - 1000);
        assert_eq!(r.rewrite(1, 0, now), Some((0, u32::MAX - 1000)));
        assert_eq!(r.rewrite(2, 3000, now), Some((1, 1999)));
        r.resync();
        let later = now + Duration::from_millis(10);
        // 10 ms at 90 kHz is 900 ticks after the last timestamp sent.
        assert_eq!(r.rewrite(9, 0, later), Some((2, 1999 + 900)));
    }

    #[test]
    fn resyncs_before_the_first_packet_start_at_the_initial_values() {
        let now = Instant::now();
        let mut r = StreamRewriter::new(48_000, 4242, 99);
        r.resync();
        r.resync();
        assert!(r.is_syncing());
        assert_eq!(r.rewrite(30_000, 123_456, now), Some((4242, 99)));
        assert!(!r.is_syncing());
    }
}
