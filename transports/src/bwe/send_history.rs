//! What was sent under each transport-wide sequence number, and when, until
//! the receiver's feedback says when it arrived. A ring indexed by the
//! number: bounded, and allocated on the first packet only.

/// Numbers remembered: feedback comes every 100 ms, and 512 packets in
/// 100 ms is 50 Mb/s. Kept small: every WebRTC consumer's transport has one,
/// and each copy sent writes into it.
const SLOTS: usize = 512;

/// 16 bytes: a size of 0 marks an empty slot.
#[derive(Debug, Clone, Copy, Default)]
struct Sent {
    sequence: u16,
    size: u16,
    send_ms: f64,
}

#[derive(Debug, Default)]
pub struct SendHistory {
    slots: Vec<Sent>,
}

impl SendHistory {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn on_sent(&mut self, sequence: u16, send_ms: f64, size: usize) {
        if self.slots.is_empty() {
            self.slots = vec![Sent::default(); SLOTS];
        }
        self.slots[usize::from(sequence) % SLOTS] = Sent {
            sequence,
            size: size.clamp(1, usize::from(u16::MAX)) as u16,
            send_ms,
        };
    }

    /// When `sequence` was sent and its size; each is given out once.
    pub fn take(&mut self, sequence: u16) -> Option<(f64, usize)> {
        let slot = self.slots.get_mut(usize::from(sequence) % SLOTS)?;
        if slot.size == 0 || slot.sequence != sequence {
            return None;
        }
        let sent = std::mem::take(slot);
        Some((sent.send_ms, usize::from(sent.size)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gives_each_packet_once_and_forgets_overwritten_ones() {
        let mut history = SendHistory::new();
        assert_eq!(history.take(1), None);
        history.on_sent(1, 10.0, 1_200);
        history.on_sent(1 + SLOTS as u16, 20.0, 900);
        assert_eq!(history.take(1), None, "overwritten by a later number");
        assert_eq!(history.take(1 + SLOTS as u16), Some((20.0, 900)));
        assert_eq!(history.take(1 + SLOTS as u16), None);
        history.on_sent(65_535, 30.0, 100);
        assert_eq!(history.take(65_535), Some((30.0, 100)));
    }
}
