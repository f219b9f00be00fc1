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

    /// Bytes sent since `since_ms` that no feedback has accounted for yet:
    /// on their way, or in a queue on it.
    pub fn in_flight_bytes(&self, since_ms: f64) -> usize {
        self.slots
            .iter()
            .filter(|s| s.size > 0 && s.send_ms >= since_ms)
            .map(|s| usize::from(s.size))
            .sum()
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

    #[test]
    fn counts_what_feedback_has_not_accounted_for() {
        let mut history = SendHistory::new();
        assert_eq!(history.in_flight_bytes(0.0), 0);
        history.on_sent(1, 10.0, 1_000);
        history.on_sent(2, 20.0, 500);
        history.on_sent(3, 30.0, 200);
        history.take(2);
        assert_eq!(history.in_flight_bytes(0.0), 1_200);
        assert_eq!(history.in_flight_bytes(15.0), 200, "only the recent");
    }
}
