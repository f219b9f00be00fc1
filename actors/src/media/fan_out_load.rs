//! Whether a producer's fan-out is split over the helper threads: by its
//! load as well as its size. A split pays when one thread could not keep
//! up; below that it costs the hand-off (the packet copied to each helper,
//! a wake-up, the packet routed again) and gains only the tail of one
//! fan-out's latency. Measured at N=500 R=100 (50,000 copies/s, a quarter
//! of what one thread sends here): see `docs/benchmarks.md`.

use std::sync::atomic::Ordering::{AcqRel, Acquire, Relaxed};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize};

/// Below this many consumers one thread always does the fan-out (measured:
/// at 100 consumers the split cost 0.15–0.3 µs more per packet and did
/// not lower p99 at 80 % of capacity).
pub const SPLIT_AT: usize = 200;
/// Copies a second from which a fan-out of `SPLIT_AT` or more consumers is
/// split: about half of what one thread sends on a small machine.
pub const SPLIT_FROM_COPIES_PER_SECOND: u64 = 100_000;
/// A split fan-out goes back to one thread below this, not at once below
/// the threshold above, so that a load near it does not flap.
pub const JOIN_BELOW_COPIES_PER_SECOND: u64 = 70_000;
/// How long the packet rate is counted over before the decision is
/// taken again.
pub const WINDOW_MS: u64 = 200;

#[derive(Default)]
pub struct FanOutLoad {
    window_started_ms: AtomicU64,
    packets_in_window: AtomicU64,
    split: AtomicBool,
    /// Shares handed to helpers and not yet sent: the fan-out goes back to
    /// one thread only when there are none, so that no consumer's packet
    /// overtakes the one before it.
    in_flight: AtomicUsize,
}

impl FanOutLoad {
    /// Counts a packet arriving at `now_ms` for `consumers` and says
    /// whether its fan-out is split.
    pub fn on_packet(&self, now_ms: u64, consumers: usize) -> bool {
        let packets = self.packets_in_window.fetch_add(1, Relaxed) + 1;
        let elapsed = now_ms.saturating_sub(self.window_started_ms.load(Relaxed));
        if elapsed >= WINDOW_MS {
            let copies_per_second = packets * consumers as u64 * 1000 / elapsed;
            let threshold = if self.split.load(Relaxed) {
                JOIN_BELOW_COPIES_PER_SECOND
            } else {
                SPLIT_FROM_COPIES_PER_SECOND
            };
            self.split.store(
                consumers >= SPLIT_AT && copies_per_second >= threshold,
                Relaxed,
            );
            self.window_started_ms.store(now_ms, Relaxed);
            self.packets_in_window.store(0, Relaxed);
        }
        (consumers >= SPLIT_AT && self.split.load(Relaxed)) || self.in_flight.load(Acquire) > 0
    }

    /// A share is handed to a helper.
    pub fn share_handed_off(&self) {
        self.in_flight.fetch_add(1, AcqRel);
    }

    /// A helper has sent its share (or it came back to be done inline).
    pub fn share_done(&self) {
        self.in_flight.fetch_sub(1, AcqRel);
    }

    pub fn is_split(&self) -> bool {
        self.split.load(Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Packets at `per_second` for `seconds` from `start_ms`; the last
    /// decision.
    fn run(load: &FanOutLoad, consumers: usize, per_second: u64, start_ms: u64, ms: u64) -> bool {
        let mut split = false;
        let packets = per_second * ms / 1000;
        for i in 0..packets {
            split = load.on_packet(start_ms + i * 1000 / per_second, consumers);
        }
        split
    }

    #[test]
    fn a_large_fan_out_at_a_low_rate_stays_on_one_thread() {
        let load = FanOutLoad::default();
        // N=500 R=100: 50,000 copies/s.
        assert!(!run(&load, 500, 100, 1_000, 2_000));
    }

    #[test]
    fn a_large_fan_out_at_a_high_rate_is_split_within_a_window() {
        let load = FanOutLoad::default();
        // N=500 R=400: 200,000 copies/s.
        assert!(run(&load, 500, 400, 1_000, 2 * WINDOW_MS + 10));
    }

    #[test]
    fn a_small_fan_out_is_never_split() {
        let load = FanOutLoad::default();
        assert!(!run(&load, SPLIT_AT - 1, 5_000, 1_000, 2_000));
    }

    #[test]
    fn between_the_thresholds_a_fan_out_keeps_what_it_had() {
        let load = FanOutLoad::default();
        // 200 consumers at 425 packets/s: 85,000 copies/s.
        assert!(!run(&load, 200, 425, 1_000, 1_000));
        assert!(run(&load, 200, 1_000, 2_000, 1_000), "200,000/s: split");
        assert!(run(&load, 200, 425, 3_000, 1_000), "85,000/s: still split");
        assert!(!run(&load, 200, 250, 4_000, 1_000), "50,000/s: one thread");
    }

    #[test]
    fn a_fan_out_stays_split_while_a_helper_has_a_share() {
        let load = FanOutLoad::default();
        assert!(run(&load, 500, 1_000, 1_000, 1_000));
        load.share_handed_off();
        assert!(run(&load, 500, 10, 2_000, 1_000), "a share in flight");
        load.share_done();
        assert!(!load.on_packet(3_000, 500));
    }
}
