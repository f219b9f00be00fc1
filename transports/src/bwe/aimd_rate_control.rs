//! The estimate itself: grows while the path is fine, drops to a fraction of
//! what actually arrives when it is over-used, holds while a queue drains
//! (libwebrtc's AimdRateControl, RFC draft-ietf-rmcat-gcc §5.5).

use crate::bwe::overuse_detector::Usage;

/// On over-use the estimate goes to this much of what arrived.
const BETA: f64 = 0.85;
/// Growth per second while nothing is wrong.
const INCREASE_PER_SECOND: f64 = 1.08;
/// The estimate may run this far ahead of what arrives, no further: it is
/// only proven up to what the sender sent.
const MAX_AHEAD_FACTOR: f64 = 1.5;
const MAX_AHEAD_BPS: f64 = 10_000.0;
/// The first estimate is taken after this long, as far ahead of what
/// arrived as it may run: a sender that found its rate on an open path
/// keeps it, one on a thin path is over-using within a few groups anyway
/// (we have no probes to find the room above what is sent).
const INITIALIZATION_MS: f64 = 2_000.0;

#[derive(Debug)]
pub struct AimdRateControl {
    min_bps: u64,
    max_bps: u64,
    estimate_bps: Option<f64>,
    first_seen_ms: Option<f64>,
    last_update_ms: Option<f64>,
}

impl AimdRateControl {
    pub fn new(min_bps: u64, max_bps: u64) -> Self {
        AimdRateControl {
            min_bps,
            max_bps,
            estimate_bps: None,
            first_seen_ms: None,
            last_update_ms: None,
        }
    }

    pub fn estimate(&self) -> Option<u64> {
        self.estimate_bps.map(|e| e as u64)
    }

    /// The detector's verdict with what arrived over the last second.
    pub fn update(&mut self, usage: Usage, incoming_bps: Option<u64>, now_ms: f64) -> Option<u64> {
        let last = self.last_update_ms.replace(now_ms).unwrap_or(now_ms);
        let elapsed_s = ((now_ms - last) / 1_000.0).clamp(0.0, 1.0);
        let first = *self.first_seen_ms.get_or_insert(now_ms);
        let incoming = incoming_bps.map(|b| b as f64);
        let Some(estimate) = self.estimate_bps else {
            if let Some(incoming) = incoming {
                if usage == Usage::Overusing {
                    self.estimate_bps = Some(self.clamp(BETA * incoming));
                } else if now_ms - first >= INITIALIZATION_MS {
                    self.estimate_bps =
                        Some(self.clamp(MAX_AHEAD_FACTOR * incoming + MAX_AHEAD_BPS));
                }
            }
            return self.estimate();
        };
        let next = match usage {
            // Just under what gets through, to drain the queue we built;
            // never a cut below that for the same queue, however often the
            // detector repeats itself.
            Usage::Overusing => match incoming {
                Some(incoming) => estimate.min(BETA * incoming),
                None => BETA * estimate,
            },
            Usage::Underusing => estimate,
            Usage::Normal => {
                let grown = estimate * INCREASE_PER_SECOND.powf(elapsed_s);
                match incoming {
                    Some(incoming) => {
                        grown.min((MAX_AHEAD_FACTOR * incoming + MAX_AHEAD_BPS).max(estimate))
                    }
                    None => grown,
                }
            }
        };
        self.estimate_bps = Some(self.clamp(next));
        self.estimate()
    }

    /// The path carried `bps` without over-use: the estimate is at least
    /// that (a probe's result; growth alone is capped near what is sent).
    pub fn raise_to(&mut self, bps: u64) {
        if let Some(estimate) = self.estimate_bps {
            self.estimate_bps = Some(self.clamp(estimate.max(bps as f64)));
        }
    }

    fn clamp(&self, bps: f64) -> f64 {
        bps.clamp(self.min_bps as f64, self.max_bps as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_from_what_arrives_grows_while_fine_and_backs_off_on_overuse() {
        let mut rate = AimdRateControl::new(30_000, 10_000_000);
        assert_eq!(rate.update(Usage::Normal, Some(500_000), 0.0), None);
        // As far ahead of what arrives as it may go: 1.5x (+10 kb/s).
        let first = rate.update(Usage::Normal, Some(500_000), 2_000.0);
        assert_eq!(first, Some(760_000));
        // Over-use: 85 % of what arrives.
        let backed_off = rate.update(Usage::Overusing, Some(400_000), 2_500.0);
        assert_eq!(backed_off, Some(340_000));
        // A second of normal use: 8 % more.
        let grown = rate.update(Usage::Normal, Some(400_000), 3_500.0);
        assert_eq!(grown, Some(367_200));
        // Never more than 1.5x what arrives (+10 kb/s).
        for i in 4..60 {
            rate.update(Usage::Normal, Some(400_000), f64::from(i) * 1_000.0);
        }
        assert_eq!(rate.estimate(), Some(610_000));
        // Under-use holds while the queue drains.
        let held = rate.update(Usage::Underusing, Some(300_000), 61_000.0);
        assert_eq!(held, Some(610_000));
    }

    #[test]
    fn stays_within_its_bounds() {
        let mut rate = AimdRateControl::new(100_000, 1_000_000);
        rate.update(Usage::Overusing, Some(10_000), 0.0);
        assert_eq!(rate.estimate(), Some(100_000));
        for i in 1..200 {
            rate.update(Usage::Normal, Some(5_000_000), f64::from(i) * 1_000.0);
        }
        assert_eq!(rate.estimate(), Some(1_000_000));
    }
}
