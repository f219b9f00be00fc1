//! A producer's last packets, by encoding (simulcast stream) and sequence
//! number, kept once for all its consumers: each consumer keeps only the
//! head of what it sent (`retransmission_buffer`) and finds the rest here
//! when it answers a NACK. An encoding's ring is made on its first packet
//! and holds its last 2 s, up to a limit (`keep_window`): a 20-packet/s
//! simulcast layer keeps 64 packets (~80 KB) rather than the 512 of a
//! 1,000-packet/s one (~600 KB). Slots are reused, so a steady stream
//! allocates nothing once its ring has grown.

use std::time::Instant;

use crate::keep_window::{first_slots, millis, ring_limit, should_grow};

#[derive(Default)]
struct Kept {
    sequence: Option<u16>,
    /// `keep_window::millis`.
    at_millis: u32,
    packet: Vec<u8>,
}

pub struct PacketHistory {
    /// The most packets an encoding's ring grows to.
    limit: usize,
    /// One ring per encoding, empty until the encoding's first packet.
    rings: Vec<Vec<Kept>>,
}

fn index(ring: &[Kept], sequence: u16) -> usize {
    usize::from(sequence) & (ring.len() - 1)
}

impl PacketHistory {
    /// Keeps the last 2 s of packets of each of `encodings`, at most
    /// `limit` (rounded to a power of two) of each.
    pub fn new(encodings: usize, limit: usize) -> Self {
        PacketHistory {
            limit: ring_limit(limit),
            rings: (0..encodings).map(|_| Vec::new()).collect(),
        }
    }

    /// Keeps `packet`, received `now`; an encoding the producer does not
    /// have is ignored.
    pub fn store(&mut self, encoding: usize, sequence: u16, packet: &[u8], now: Instant) {
        let limit = self.limit;
        let Some(ring) = self.rings.get_mut(encoding) else {
            return;
        };
        if ring.is_empty() {
            ring.resize_with(first_slots(limit), Kept::default);
        }
        let now_millis = millis(now);
        let overwritten = &ring[index(ring, sequence)];
        if overwritten.sequence.is_some_and(|s| s != sequence)
            && should_grow(overwritten.at_millis, now_millis, ring.len(), limit)
        {
            grow(ring);
        }
        let at = index(ring, sequence);
        let slot = &mut ring[at];
        slot.sequence = Some(sequence);
        slot.at_millis = now_millis;
        slot.packet.clear();
        slot.packet.extend_from_slice(packet);
    }

    pub fn get(&self, encoding: usize, sequence: u16) -> Option<&[u8]> {
        let ring = self.rings.get(encoding).filter(|r| !r.is_empty())?;
        let kept = &ring[index(ring, sequence)];
        (kept.sequence == Some(sequence)).then_some(kept.packet.as_slice())
    }

    /// How many packets `encoding`'s ring holds now.
    pub fn capacity(&self, encoding: usize) -> usize {
        self.rings.get(encoding).map_or(0, Vec::len)
    }
}

/// Doubles `ring`, each kept packet moved (not copied) to its slot in the
/// larger one.
fn grow(ring: &mut Vec<Kept>) {
    let mut larger: Vec<Kept> = (0..ring.len() * 2).map(|_| Kept::default()).collect();
    for kept in ring.drain(..) {
        if let Some(sequence) = kept.sequence {
            let at = index(&larger, sequence);
            larger[at] = kept;
        }
    }
    *ring = larger;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_each_encodings_last_packets() {
        let mut history = PacketHistory::new(2, 4);
        for sequence in 0u16..6 {
            history.store(0, sequence, &[0, sequence as u8], Instant::now());
        }
        history.store(1, 5, &[1, 5], Instant::now());
        assert_eq!(history.get(0, 5), Some(&[0u8, 5][..]));
        assert_eq!(history.get(0, 2), Some(&[0u8, 2][..]));
        assert_eq!(history.get(0, 1), None, "overwritten by 5");
        assert_eq!(history.get(1, 5), Some(&[1u8, 5][..]));
        assert_eq!(history.get(1, 4), None);
    }

    #[test]
    fn an_encoding_out_of_range_is_neither_kept_nor_found() {
        let mut history = PacketHistory::new(1, 4);
        history.store(3, 1, &[1], Instant::now());
        assert_eq!(history.get(3, 1), None);
        assert_eq!(history.get(0, 1), None);
    }

    #[test]
    fn an_encoding_that_sent_nothing_holds_no_ring() {
        let mut history = PacketHistory::new(3, 512);
        history.store(0, 1, &[1], Instant::now());
        assert_eq!(history.capacity(0), crate::keep_window::FIRST_SLOTS);
        assert!(history.rings[1].is_empty() && history.rings[2].is_empty());
    }

    #[test]
    fn a_ring_grows_to_the_last_two_seconds_of_its_encoding_and_no_further() {
        let start = Instant::now();
        let mut history = PacketHistory::new(2, 512);
        // Encoding 0 at 20 packets/s, encoding 1 at 200 for 10 s.
        for i in 0..2000u16 {
            let at = start + std::time::Duration::from_millis(5 * u64::from(i));
            history.store(1, i, &i.to_be_bytes(), at);
            if i % 10 == 0 {
                history.store(0, i / 10, &i.to_be_bytes(), at);
            }
        }
        assert_eq!(history.capacity(0), 64, "3.2 s of 20 packets/s");
        assert_eq!(history.capacity(1), 512, "2.56 s of 200 packets/s");
        for i in 1488..2000u16 {
            assert_eq!(
                history.get(1, i),
                Some(&i.to_be_bytes()[..]),
                "{i} kept through growth"
            );
        }
        assert_eq!(history.get(1, 1487), None);
        assert_eq!(history.get(0, 199), Some(&1990u16.to_be_bytes()[..]));
    }
}
