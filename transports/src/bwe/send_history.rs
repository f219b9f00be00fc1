//! What was sent under each transport-wide sequence number, and when, until
//! the receiver's feedback says when it arrived. A ring indexed by the
//! number: bounded, and allocated on the first packet only.

/// Numbers remembered: well over a second of video between two feedbacks.
const SLOTS: usize = 2_048;

#[derive(Debug, Clone, Copy)]
struct Sent {
    sequence: u16,
    send_ms: f64,
    size: u32,
}

#[derive(Debug, Default)]
pub struct SendHistory {
    slots: Vec<Option<Sent>>,
}

impl SendHistory {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn on_sent(&mut self, sequence: u16, send_ms: f64, size: usize) {
        if self.slots.is_empty() {
            self.slots = vec![None; SLOTS];
        }
        self.slots[usize::from(sequence) % SLOTS] = Some(Sent {
            sequence,
            send_ms,
            size: size as u32,
        });
    }

    /// When `sequence` was sent and its size; each is given out once.
    pub fn take(&mut self, sequence: u16) -> Option<(f64, usize)> {
        let slot = self.slots.get_mut(usize::from(sequence) % SLOTS)?;
        match *slot {
            Some(sent) if sent.sequence == sequence => {
                *slot = None;
                Some((sent.send_ms, sent.size as usize))
            }
            _ => None,
        }
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
