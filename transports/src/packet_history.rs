//! A producer's last packets, by encoding (simulcast stream) and sequence
//! number, kept once for all its consumers: each consumer keeps only the
//! head of what it sent (`retransmission_buffer`) and finds the rest here
//! when it answers a NACK. Rings are made on an encoding's first packet and
//! their slots reused, so a steady stream allocates nothing.

pub struct PacketHistory {
    capacity: usize,
    /// One ring per encoding, empty until the encoding's first packet.
    rings: Vec<Vec<(Option<u16>, Vec<u8>)>>,
}

impl PacketHistory {
    /// Keeps the last `capacity` packets (rounded to a power of two) of
    /// each of `encodings`.
    pub fn new(encodings: usize, capacity: usize) -> Self {
        PacketHistory {
            capacity: capacity.next_power_of_two().max(1),
            rings: (0..encodings).map(|_| Vec::new()).collect(),
        }
    }

    fn index(&self, sequence: u16) -> usize {
        usize::from(sequence) & (self.capacity - 1)
    }

    /// Keeps `packet`; an encoding the producer does not have is ignored.
    pub fn store(&mut self, encoding: usize, sequence: u16, packet: &[u8]) {
        let index = self.index(sequence);
        let capacity = self.capacity;
        let Some(ring) = self.rings.get_mut(encoding) else {
            return;
        };
        if ring.is_empty() {
            ring.resize_with(capacity, || (None, Vec::new()));
        }
        let slot = &mut ring[index];
        slot.0 = Some(sequence);
        slot.1.clear();
        slot.1.extend_from_slice(packet);
    }

    pub fn get(&self, encoding: usize, sequence: u16) -> Option<&[u8]> {
        let (kept, packet) = self.rings.get(encoding)?.get(self.index(sequence))?;
        (*kept == Some(sequence)).then_some(packet.as_slice())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_each_encodings_last_packets() {
        let mut history = PacketHistory::new(2, 4);
        for sequence in 0u16..6 {
            history.store(0, sequence, &[0, sequence as u8]);
        }
        history.store(1, 5, &[1, 5]);
        assert_eq!(history.get(0, 5), Some(&[0u8, 5][..]));
        assert_eq!(history.get(0, 2), Some(&[0u8, 2][..]));
        assert_eq!(history.get(0, 1), None, "overwritten by 5");
        assert_eq!(history.get(1, 5), Some(&[1u8, 5][..]));
        assert_eq!(history.get(1, 4), None);
    }

    #[test]
    fn an_encoding_out_of_range_is_neither_kept_nor_found() {
        let mut history = PacketHistory::new(1, 4);
        history.store(3, 1, &[1]);
        assert_eq!(history.get(3, 1), None);
        assert_eq!(history.get(0, 1), None);
    }

    #[test]
    fn an_encoding_that_sent_nothing_holds_no_ring() {
        let mut history = PacketHistory::new(3, 512);
        history.store(0, 1, &[1]);
        assert_eq!(history.rings[0].len(), 512);
        assert!(history.rings[1].is_empty() && history.rings[2].is_empty());
    }
}
