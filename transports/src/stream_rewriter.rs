//! mediasoup's SeqManager idea for one outgoing stream: the consumer's
//! sequence numbers and timestamps continue without gaps or jumps across
//! pauses, resumes and source changes, whatever the incoming stream does.
//! Packets the consumer drops on purpose (layers above the one it sends)
//! leave no gap, so the receiver does not take them for losses and NACK
//! them; packets lost on the way in do leave one, so it can.

use std::collections::VecDeque;
use std::time::Instant;

/// Drop points remembered for packets that arrive late (retransmissions
/// repaired on the way in): about two seconds of a layer's drops.
const DROP_HISTORY: usize = 256;

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
    /// The newest incoming sequence number of this segment.
    highest_in_seq: u16,
    /// (dropped incoming sequence number, offset of the packets before it
    /// back to the previous drop), oldest first.
    drops: VecDeque<(u16, u16)>,
    /// Packets not newer than this are older than every remembered drop:
    /// their offset is unknown.
    forgotten_before: Option<u16>,
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
            highest_in_seq: 0,
            drops: VecDeque::new(),
            forgotten_before: None,
        }
    }

    /// The consumer leaves this incoming packet out: what follows moves up
    /// one so the output has no gap.
    pub fn drop_packet(&mut self, in_seq: u16) {
        if self.sync_pending || !self.started || !seq_newer(in_seq, self.highest_in_seq) {
            // Before a segment starts there is nothing to close up; a late
            // packet's place was taken when it went missing.
            return;
        }
        if self.drops.len() == DROP_HISTORY {
            self.forgotten_before = self.drops.pop_front().map(|(seq, _)| seq);
        }
        self.drops.push_back((in_seq, self.seq_offset));
        self.seq_offset = self.seq_offset.wrapping_sub(1);
        self.highest_in_seq = in_seq;
    }

    /// The offset in force for an incoming sequence number: the current one
    /// unless drops came after it.
    fn offset_for(&self, in_seq: u16) -> Option<u16> {
        if !seq_newer(self.highest_in_seq, in_seq) {
            return Some(self.seq_offset);
        }
        if self
            .forgotten_before
            .is_some_and(|forgotten| !seq_newer(in_seq, forgotten))
        {
            return None;
        }
        match self
            .drops
            .iter()
            .find(|(dropped, _)| seq_newer(*dropped, in_seq))
        {
            Some((_, offset)) => Some(*offset),
            None => Some(self.seq_offset),
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
            self.highest_in_seq = in_seq;
            self.drops.clear();
            self.forgotten_before = None;
            self.sync_pending = false;
            self.started = true;
        } else if seq_newer(self.sync_in_seq, in_seq) {
            return None;
        }
        let offset = self.offset_for(in_seq)?;
        if seq_newer(in_seq, self.highest_in_seq) {
            self.highest_in_seq = in_seq;
        }
        let out_seq = in_seq.wrapping_add(offset);
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
    fn dropped_packets_leave_no_gap_and_late_ones_keep_their_place() {
        let now = Instant::now();
        let mut r = StreamRewriter::new(90_000, 100, 0);
        assert_eq!(r.rewrite(10, 0, now).map(|o| o.0), Some(100));
        // 11 is lost on the way in; 12 and 13 are dropped (a higher layer).
        r.drop_packet(12);
        r.drop_packet(13);
        assert_eq!(r.rewrite(14, 0, now).map(|o| o.0), Some(102));
        r.drop_packet(15);
        assert_eq!(r.rewrite(16, 0, now).map(|o| o.0), Some(103));
        // 11's retransmission arrives: it fills the gap it left (101).
        assert_eq!(r.rewrite(11, 0, now).map(|o| o.0), Some(101));
        // 14 again (a duplicate) maps as before.
        assert_eq!(r.rewrite(14, 0, now).map(|o| o.0), Some(102));
        // Dropping a late packet changes nothing.
        r.drop_packet(12);
        assert_eq!(r.rewrite(17, 0, now).map(|o| o.0), Some(104));
    }

    #[test]
    fn drops_across_the_sixteen_bit_wrap_and_a_long_history() {
        let now = Instant::now();
        let mut r = StreamRewriter::new(90_000, 0, 0);
        r.rewrite(65_000, 0, now);
        // Every other packet dropped, 600 times: beyond what is remembered.
        let mut seq = 65_000u16;
        for _ in 0..600 {
            seq = seq.wrapping_add(1);
            r.drop_packet(seq);
            seq = seq.wrapping_add(1);
            assert!(r.rewrite(seq, 0, now).is_some());
        }
        assert_eq!(
            r.rewrite(seq.wrapping_add(1), 0, now).map(|o| o.0),
            Some(601)
        );
        // A packet older than every remembered drop has no known place.
        assert_eq!(r.rewrite(65_002, 0, now), None);
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
