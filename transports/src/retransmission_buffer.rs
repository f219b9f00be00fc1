//! What a consumer sent lately, by sequence number, to answer NACKs
//! (RFC 4585). A copy differs from its producer's packet only in its header
//! and a few payload bytes (a rewritten picture id), so a consumer keeps
//! just those (its "head") and where the rest is: the producer's packet,
//! kept once for all its consumers (`packet_history`). A copy of 1,200
//! bytes is kept in one 64-byte slot, and a room of video consumers does
//! not hold a second of video each. The ring holds the last 2 s of copies
//! up to a given number (`keep_window`), so a 100-packet/s layer keeps 256
//! copies (16 KiB) rather than the 512 a 1,000-packet/s one needs. Slots
//! are reused, so a steady stream allocates nothing once the ring has
//! grown. A packet is sent again at most once a round trip: a receiver
//! repeats its NACK every round trip until the repair arrives, and
//! answering each would fill a congested link with copies of the same
//! packet.
//!
//! Every forwarded copy stores its head, and a slot is written once a
//! ring's turn (64-512 copies), long after it left the cache: the slot is
//! one aligned cache line holding the head itself (a head on the heap was
//! a second line to fetch, and 16-48 bytes of allocator chunk besides),
//! and the fan-out prefetches the next copy's slot a few consumers ahead
//! (`slot_address`). The rare head too long for a slot (many or long
//! header extensions) goes to a side table.

use std::time::{Duration, Instant};

use crate::keep_window::{first_slots, millis, ring_limit, should_grow};

/// Where the rest of a kept copy is: the producer's packet of `encoding`
/// numbered `sequence`, whose payload from byte `payload_kept` on the copy
/// carries unchanged.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Source {
    pub encoding: u8,
    pub sequence: u16,
    pub payload_kept: u16,
}

/// Head bytes a slot holds itself: what is left of a cache line after the
/// slot's other fields. A browser's video copy (a header with MID,
/// abs-send-time and transport-cc, a rewritten VP8 picture id) needs ~40.
pub const INLINE_HEAD: usize = 46;

/// `Slot::flags`: the slot holds a copy; it was sent again.
const KEPT: u8 = 1;
const RESENT: u8 = 2;

#[repr(C, align(64))]
#[derive(Clone, Copy)]
struct Slot {
    head: [u8; INLINE_HEAD],
    /// Up to `INLINE_HEAD`: in `head`; above it the head is in `long_heads`.
    head_length: u8,
    flags: u8,
    sequence: u16,
    source: Source,
    /// When it was sent again, and kept (`millis`: wrapping, as only
    /// differences of a few seconds matter).
    resent_at_millis: u32,
    kept_at_millis: u32,
}

const _: () = assert!(std::mem::size_of::<Slot>() == 64);

const EMPTY: Slot = Slot {
    head: [0; INLINE_HEAD],
    head_length: 0,
    flags: 0,
    sequence: 0,
    source: Source {
        encoding: 0,
        sequence: 0,
        payload_kept: 0,
    },
    resent_at_millis: 0,
    kept_at_millis: 0,
};

/// Small, as it sits in a consumer's lines a forwarded copy reads.
pub struct RetransmissionBuffer {
    slots: Box<[Slot]>,
    /// Heads longer than `INLINE_HEAD`, by slot; made at the first.
    /// Boxed: one word here rather than three, in lines every copy reads.
    #[allow(clippy::box_collection)]
    long_heads: Option<Box<Vec<Vec<u8>>>>,
    /// The most slots the ring grows to.
    slot_limit: u32,
}

impl RetransmissionBuffer {
    /// Keeps the copies of the last 2 s (`keep_window`), at most `limit`
    /// of them (rounded to a power of two).
    pub fn new(limit: usize) -> Self {
        let limit = ring_limit(limit);
        RetransmissionBuffer {
            slots: vec![EMPTY; first_slots(limit)].into_boxed_slice(),
            long_heads: None,
            slot_limit: limit as u32,
        }
    }

    /// How many copies it can hold now.
    pub fn capacity(&self) -> usize {
        self.slots.len()
    }

    /// Doubles the ring, each kept copy moved to its slot in the larger one
    /// (distinct sequence numbers modulo the old size stay distinct
    /// modulo the new).
    fn grow(&mut self) {
        let larger = self.slots.len() * 2;
        let mut slots = vec![EMPTY; larger].into_boxed_slice();
        let mut long_heads = self
            .long_heads
            .as_ref()
            .map(|_| Box::new(vec![Vec::new(); larger]));
        for (old_index, slot) in self.slots.iter().enumerate() {
            if slot.flags & KEPT == 0 {
                continue;
            }
            let index = usize::from(slot.sequence) & (larger - 1);
            slots[index] = *slot;
            if let (Some(from), Some(to)) = (self.long_heads.as_mut(), long_heads.as_mut()) {
                to[index] = std::mem::take(&mut from[old_index]);
            }
        }
        self.slots = slots;
        self.long_heads = long_heads;
    }

    fn index(&self, sequence: u16) -> usize {
        usize::from(sequence) & (self.slots.len() - 1)
    }

    /// Where the copy numbered `sequence` will be kept: a fan-out
    /// prefetches it a few consumers ahead, as the slot was last written
    /// hundreds of copies ago and is long out of the cache.
    pub fn slot_address(&self, sequence: u16) -> usize {
        std::ptr::from_ref(&self.slots[self.index(sequence)]) as usize
    }

    /// Keeps the copy numbered `sequence`, sent `now`: its header and
    /// first payload bytes (`head`), the rest in `source`.
    pub fn store(&mut self, sequence: u16, head: &[u8], source: Source, now: Instant) {
        let now_millis = millis(now);
        let mut index = self.index(sequence);
        let overwritten = &self.slots[index];
        if overwritten.flags & KEPT != 0
            && overwritten.sequence != sequence
            && should_grow(
                overwritten.kept_at_millis,
                now_millis,
                self.slots.len(),
                self.slot_limit as usize,
            )
        {
            self.grow();
            index = self.index(sequence);
        }
        let mut slot = Slot {
            sequence,
            source,
            flags: KEPT,
            kept_at_millis: now_millis,
            ..EMPTY
        };
        if let Some(inline) = slot.head.get_mut(..head.len()) {
            inline.copy_from_slice(head);
            slot.head_length = head.len() as u8;
        } else {
            slot.head_length = u8::MAX;
            let capacity = self.slots.len();
            let long_heads = self
                .long_heads
                .get_or_insert_with(|| Box::new(vec![Vec::new(); capacity]));
            let long = &mut long_heads[index];
            long.clear();
            long.extend_from_slice(head);
        }
        self.slots[index] = slot;
    }

    /// Drops every copy kept: what was sent before is of no use to the
    /// receiver any more (it is to start again from a key frame).
    pub fn forget(&mut self) {
        for slot in &mut self.slots {
            slot.flags = 0;
        }
    }

    fn kept(&self, index: usize) -> (&[u8], Source) {
        let slot = &self.slots[index];
        let head = match slot.head.get(..usize::from(slot.head_length)) {
            Some(inline) => inline,
            None => self
                .long_heads
                .as_ref()
                .and_then(|l| l.get(index))
                .map_or(&[][..], Vec::as_slice),
        };
        (head, slot.source)
    }

    fn holds(&self, index: usize, sequence: u16) -> bool {
        let slot = &self.slots[index];
        slot.flags & KEPT != 0 && slot.sequence == sequence
    }

    pub fn get(&self, sequence: u16) -> Option<(&[u8], Source)> {
        let index = self.index(sequence);
        self.holds(index, sequence).then(|| self.kept(index))
    }

    /// The copy to send again now, unless it was sent again less than
    /// `round_trip` ago.
    pub fn resend(
        &mut self,
        sequence: u16,
        now: Instant,
        round_trip: Duration,
    ) -> Option<(&[u8], Source)> {
        let index = self.index(sequence);
        if !self.holds(index, sequence) {
            return None;
        }
        let now_millis = millis(now);
        let slot = &mut self.slots[index];
        if slot.flags & RESENT != 0
            && u128::from(now_millis.wrapping_sub(slot.resent_at_millis)) < round_trip.as_millis()
        {
            return None;
        }
        slot.flags |= RESENT;
        slot.resent_at_millis = now_millis;
        Some(self.kept(index))
    }
}

/// The copy as it was sent: its `head`, then the producer's payload from
/// `source.payload_kept` on. False (and `out` empty) if the payload is
/// shorter than what the head kept of it.
pub fn reassemble(head: &[u8], source: Source, payload: &[u8], out: &mut Vec<u8>) -> bool {
    out.clear();
    let Some(rest) = payload.get(usize::from(source.payload_kept)..) else {
        return false;
    };
    out.extend_from_slice(head);
    out.extend_from_slice(rest);
    true
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

    fn from(sequence: u16) -> Source {
        Source {
            encoding: 1,
            sequence,
            payload_kept: 0,
        }
    }

    #[test]
    fn keeps_the_last_copies_and_forgets_older_ones() {
        let mut buffer = RetransmissionBuffer::new(4);
        for seq in 65_534u16..=65_535 {
            buffer.store(seq, &[seq as u8], from(seq), Instant::now());
        }
        for seq in 0u16..4 {
            buffer.store(seq, &[seq as u8], from(seq + 10), Instant::now());
        }
        assert_eq!(buffer.get(3), Some((&[3u8][..], from(13))));
        assert_eq!(buffer.get(0), Some((&[0u8][..], from(10))));
        assert_eq!(buffer.get(65_535), None, "overwritten");
        assert_eq!(buffer.get(100), None);
    }

    #[test]
    fn a_copy_is_sent_again_at_most_once_a_round_trip() {
        let mut buffer = RetransmissionBuffer::new(4);
        buffer.store(7, &[7], from(70), Instant::now());
        let start = Instant::now();
        let rtt = Duration::from_millis(100);
        assert_eq!(buffer.resend(7, start, rtt), Some((&[7u8][..], from(70))));
        assert_eq!(
            buffer.resend(7, start + Duration::from_millis(50), rtt),
            None
        );
        assert!(buffer.resend(7, start + rtt, rtt).is_some());
        assert_eq!(buffer.resend(8, start, rtt), None);
    }

    #[test]
    fn forgotten_copies_are_not_sent_again_and_new_ones_are_kept() {
        let mut buffer = RetransmissionBuffer::new(4);
        buffer.store(1, &[1], from(1), Instant::now());
        buffer.store(2, &[2], from(2), Instant::now());
        buffer.forget();
        assert_eq!(buffer.get(1), None);
        assert_eq!(buffer.resend(2, Instant::now(), Duration::ZERO), None);
        buffer.store(3, &[3], from(3), Instant::now());
        assert_eq!(buffer.get(3), Some((&[3u8][..], from(3))));
    }

    #[test]
    fn a_head_longer_than_a_slot_holds_is_kept_whole_and_the_slot_reused_for_short_ones() {
        let mut buffer = RetransmissionBuffer::new(4);
        let long: Vec<u8> = (0..=INLINE_HEAD as u8 + 30).collect();
        let exact: Vec<u8> = (0..INLINE_HEAD as u8).rev().collect();
        buffer.store(1, &long, from(1), Instant::now());
        buffer.store(2, &exact, from(2), Instant::now());
        assert_eq!(buffer.get(1), Some((&long[..], from(1))));
        assert_eq!(buffer.get(2), Some((&exact[..], from(2))));
        // The same slot (1 + 4), short then long then short again.
        buffer.store(5, &[5, 5], from(5), Instant::now());
        assert_eq!(buffer.get(5), Some((&[5u8, 5][..], from(5))));
        assert_eq!(buffer.get(1), None);
        buffer.store(9, &long[3..], from(9), Instant::now());
        assert_eq!(buffer.get(9), Some((&long[3..], from(9))));
        buffer.store(13, &[13], from(13), Instant::now());
        assert_eq!(buffer.get(13), Some((&[13u8][..], from(13))));
        assert_eq!(
            buffer.resend(13, Instant::now(), Duration::from_millis(10)),
            Some((&[13u8][..], from(13)))
        );
    }

    #[test]
    fn a_slot_is_one_cache_line() {
        assert_eq!(std::mem::align_of::<Slot>(), 64);
        let buffer = RetransmissionBuffer::new(512);
        assert_eq!(buffer.slots.as_ptr() as usize % 64, 0);
        assert_eq!(
            std::mem::size_of_val(&*buffer.slots),
            crate::keep_window::FIRST_SLOTS * 64
        );
    }

    #[test]
    fn the_ring_grows_to_hold_the_last_two_seconds_up_to_its_limit() {
        let start = Instant::now();
        let mut buffer = RetransmissionBuffer::new(512);
        let long = [7u8; INLINE_HEAD + 20];
        // 1,000 copies a second: 2 s would be 2,000, the limit is 512.
        for i in 0..600u16 {
            let head: &[u8] = if i % 10 == 0 { &long } else { &[i as u8] };
            let at = start + Duration::from_millis(u64::from(i));
            buffer.store(i.wrapping_sub(100), head, from(i), at);
        }
        assert_eq!(buffer.capacity(), 512);
        for i in 88..600u16 {
            let head: &[u8] = if i % 10 == 0 { &long } else { &[i as u8] };
            assert_eq!(
                buffer.get(i.wrapping_sub(100)),
                Some((head, from(i))),
                "copy {i} moved with each growth"
            );
        }
        assert_eq!(buffer.get(87u16.wrapping_sub(100)), None);
    }

    #[test]
    fn a_slow_stream_keeps_a_small_ring() {
        let start = Instant::now();
        let mut buffer = RetransmissionBuffer::new(512);
        // 25 copies a second: 64 slots hold 2.56 s.
        for i in 0..1000u16 {
            buffer.store(
                i,
                &[1],
                from(i),
                start + Duration::from_millis(40 * u64::from(i)),
            );
        }
        assert_eq!(buffer.capacity(), crate::keep_window::FIRST_SLOTS);
        // 100 a second: 256 hold 2.56 s, 128 only 1.28.
        let later = start + Duration::from_secs(60);
        for i in 0..1000u16 {
            buffer.store(
                i,
                &[1],
                from(i),
                later + Duration::from_millis(10 * u64::from(i)),
            );
        }
        assert_eq!(buffer.capacity(), 256);
    }

    #[test]
    fn a_copy_is_its_head_then_the_producers_payload_past_what_the_head_kept() {
        // A rewritten header and a rewritten first payload byte (a picture
        // id), then the producer's payload unchanged.
        let head = [0x80, 96, 0, 9, 0, 0, 0, 1, 0, 0, 0, 2, 0x55];
        let source = Source {
            encoding: 0,
            sequence: 4,
            payload_kept: 1,
        };
        let mut out = Vec::new();
        assert!(reassemble(&head, source, &[0x11, 0xaa, 0xbb], &mut out));
        assert_eq!(out, [&head[..], &[0xaa, 0xbb]].concat());
        // A payload shorter than the head's part of it is no copy.
        let long = Source {
            payload_kept: 5,
            ..source
        };
        assert!(!reassemble(&head, long, &[0x11], &mut out));
        assert!(out.is_empty());
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
