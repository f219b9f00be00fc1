//! The last packets sent on a stream, by sequence number, to answer NACKs
//! (RFC 4585). Slots are reused, so a steady stream allocates nothing.
//! A packet is sent again at most once a round trip: a receiver repeats its
//! NACK every round trip until the repair arrives, and answering each would
//! fill a congested link with copies of the same packet.

use std::time::{Duration, Instant};

pub struct RetransmissionBuffer {
    slots: Vec<(Option<u16>, Vec<u8>, Option<Instant>)>,
}

impl RetransmissionBuffer {
    /// Keeps the last `capacity` packets (rounded to a power of two).
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.next_power_of_two().max(1);
        RetransmissionBuffer {
            slots: (0..capacity).map(|_| (None, Vec::new(), None)).collect(),
        }
    }

    fn index(&self, sequence: u16) -> usize {
        usize::from(sequence) & (self.slots.len() - 1)
    }

    pub fn store(&mut self, sequence: u16, packet: &[u8]) {
        let index = self.index(sequence);
        let slot = &mut self.slots[index];
        slot.0 = Some(sequence);
        slot.1.clear();
        slot.1.extend_from_slice(packet);
        slot.2 = None;
    }

    /// Drops every packet kept: what was sent before is of no use to the
    /// receiver any more (it is to start again from a key frame).
    pub fn forget(&mut self) {
        for slot in &mut self.slots {
            slot.0 = None;
        }
    }

    pub fn get(&self, sequence: u16) -> Option<&[u8]> {
        let slot = &self.slots[self.index(sequence)];
        (slot.0 == Some(sequence)).then_some(slot.1.as_slice())
    }

    /// The packet to send again now, unless it was sent again less than
    /// `round_trip` ago.
    pub fn resend(&mut self, sequence: u16, now: Instant, round_trip: Duration) -> Option<&[u8]> {
        let index = self.index(sequence);
        let slot = &mut self.slots[index];
        if slot.0 != Some(sequence)
            || slot
                .2
                .is_some_and(|at| now.saturating_duration_since(at) < round_trip)
        {
            return None;
        }
        slot.2 = Some(now);
        Some(slot.1.as_slice())
    }
}

/// An RTX packet (RFC 4588): the original payload prefixed by its sequence
/// number, under the RTX payload type, SSRC and sequence number. `original`
/// is a full RTP packet whose header ends at `payload_offset`.
pub fn rtx_packet(
    original: &[u8],
    payload_offset: usize,
    rtx_payload_type: u8,
    rtx_ssrc: u32,
    rtx_sequence: u16,
    out: &mut Vec<u8>,
) {
    out.clear();
    // A header is at least 12 bytes: an offset inside it would leave no
    // room for the fields rewritten below (found by the fuzzer).
    if !(12..=original.len()).contains(&payload_offset) {
        return;
    }
    out.extend_from_slice(&original[..payload_offset]);
    // No padding carried over: the payload below is exact.
    out[0] &= !0x20;
    out[1] = (out[1] & 0x80) | (rtx_payload_type & 0x7f);
    out[2..4].copy_from_slice(&rtx_sequence.to_be_bytes());
    out[8..12].copy_from_slice(&rtx_ssrc.to_be_bytes());
    out.extend_from_slice(&original[2..4]);
    out.extend_from_slice(&original[payload_offset..]);
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_payload_offset_inside_the_fixed_header_makes_no_packet() {
        let mut out = vec![1];
        rtx_packet(&[0x80; 40], 5, 97, 1, 2, &mut out);
        assert!(out.is_empty());
        rtx_packet(&[0x80; 40], 41, 97, 1, 2, &mut out);
        assert!(out.is_empty());
    }

    use super::*;

    #[test]
    fn keeps_the_last_packets_and_forgets_older_ones() {
        let mut buffer = RetransmissionBuffer::new(4);
        for seq in 65_534u16..=65_535 {
            buffer.store(seq, &[seq as u8]);
        }
        for seq in 0u16..4 {
            buffer.store(seq, &[seq as u8]);
        }
        assert_eq!(buffer.get(3), Some(&[3u8][..]));
        assert_eq!(buffer.get(0), Some(&[0u8][..]));
        assert_eq!(buffer.get(65_535), None, "overwritten");
        assert_eq!(buffer.get(100), None);
    }

    #[test]
    fn a_packet_is_sent_again_at_most_once_a_round_trip() {
        let mut buffer = RetransmissionBuffer::new(4);
        buffer.store(7, &[7]);
        let start = Instant::now();
        let rtt = Duration::from_millis(100);
        assert_eq!(buffer.resend(7, start, rtt), Some(&[7u8][..]));
        assert_eq!(
            buffer.resend(7, start + Duration::from_millis(50), rtt),
            None
        );
        assert!(buffer.resend(7, start + rtt, rtt).is_some());
        assert_eq!(buffer.resend(8, start, rtt), None);
    }

    #[test]
    fn forgotten_packets_are_not_sent_again_and_new_ones_are_kept() {
        let mut buffer = RetransmissionBuffer::new(4);
        buffer.store(1, &[1]);
        buffer.store(2, &[2]);
        buffer.forget();
        assert_eq!(buffer.get(1), None);
        assert_eq!(buffer.resend(2, Instant::now(), Duration::ZERO), None);
        buffer.store(3, &[3]);
        assert_eq!(buffer.get(3), Some(&[3u8][..]));
    }

    #[test]
    fn rtx_wraps_the_original_sequence_number() {
        let original = [0x80, 0xe5, 0x12, 0x34, 0, 0, 0, 9, 0, 0, 0, 1, 0xaa, 0xbb];
        let mut out = Vec::new();
        rtx_packet(&original, 12, 97, 77, 5, &mut out);
        assert_eq!(
            out,
            vec![0x80, 0xe1, 0, 5, 0, 0, 0, 9, 0, 0, 0, 77, 0x12, 0x34, 0xaa, 0xbb]
        );
    }
}
