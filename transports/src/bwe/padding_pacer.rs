//! Padding spread evenly at a rate: a probe for room the media does not
//! use yet. A consumer's next layer often costs more than the estimate
//! allows, and the estimate only grows close to what is sent; padding sent
//! beside the media shows whether the path carries the next layer before
//! any viewer is moved to it (a failed probe then costs no freeze).

use std::time::{Duration, Instant};

/// After a pause (a late tick), no more than this much padding at once.
const MAX_CATCH_UP: Duration = Duration::from_millis(50);
/// Nor more than this many packets a call, however high the rate (64 in
/// a 10 ms tick is 14 Mb/s of padding).
const MAX_PACKETS: usize = 64;

#[derive(Debug, Default)]
pub struct PaddingPacer {
    rate_bps: u64,
    credit_bytes: f64,
    last: Option<Instant>,
}

impl PaddingPacer {
    /// Sends at `rate_bps` from now on (0: none).
    pub fn set_rate(&mut self, rate_bps: u64) {
        if rate_bps == 0 {
            self.last = None;
            self.credit_bytes = 0.0;
        }
        self.rate_bps = rate_bps;
    }

    pub fn rate(&self) -> u64 {
        self.rate_bps
    }

    /// How many packets of `packet_bytes` are due at `now`.
    pub fn due(&mut self, now: Instant, packet_bytes: usize) -> usize {
        if self.rate_bps == 0 || packet_bytes == 0 {
            return 0;
        }
        let elapsed = self
            .last
            .map_or(Duration::ZERO, |last| now.saturating_duration_since(last))
            .min(MAX_CATCH_UP);
        self.last = Some(now);
        self.credit_bytes += self.rate_bps as f64 / 8.0 * elapsed.as_secs_f64();
        let packets = (self.credit_bytes / packet_bytes as f64)
            .floor()
            .min(MAX_PACKETS as f64);
        self.credit_bytes = (self.credit_bytes - packets * packet_bytes as f64)
            .min((MAX_PACKETS * packet_bytes) as f64);
        packets as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sends_at_its_rate_evenly_and_never_bursts_after_a_pause() {
        let start = Instant::now();
        let mut pacer = PaddingPacer::default();
        assert_eq!(pacer.due(start, 250), 0, "no rate, nothing");
        pacer.set_rate(400_000);
        assert_eq!(pacer.due(start, 250), 0, "starts from now");
        // 400 kb/s is 50,000 bytes a second: 200 packets of 250 bytes, two
        // every 10 ms tick.
        let mut total = 0;
        for tick in 1..=100 {
            let due = pacer.due(start + Duration::from_millis(10 * tick), 250);
            assert_eq!(due, 2, "tick {tick}");
            total += due;
        }
        assert_eq!(total, 200);
        // A second's pause owes no second's worth: 50 ms at most.
        assert_eq!(pacer.due(start + Duration::from_secs(2), 250), 10);
        // However high the rate, a bounded batch a call.
        pacer.set_rate(1_000_000_000);
        assert_eq!(pacer.due(start + Duration::from_millis(2_010), 250), 64);
        assert_eq!(pacer.due(start + Duration::from_millis(2_020), 250), 64);
        pacer.set_rate(0);
        assert_eq!(pacer.due(start + Duration::from_secs(3), 250), 0);
        assert_eq!(pacer.rate(), 0);
    }
}
