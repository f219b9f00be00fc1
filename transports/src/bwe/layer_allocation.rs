//! Which layer each consumer of a transport may send, from what the
//! transport may send: a pure function of the budget, each consumer's
//! layers (their bitrates now), preference and priority, as mediasoup's
//! DistributeAvailableOutgoingBitrate. Every consumer keeps its lowest layer;
//! then, higher priority first and `priority` steps a round, each climbs
//! one layer at a time while the budget holds and it is below what it
//! prefers.
//!
//! The layers never take more than the estimate. To learn that the path
//! carries more than is sent, `LayerProbe` starts an attempt when the path
//! has been calm for a while: padding beside the media, as much as the
//! consumers would climb by within a few times the estimate
//! (`probe_padding`). An attempt that sees no over-use proves the path
//! carries what arrived meanwhile; one that does ends at once, and the next
//! waits longer.

/// One consumer's part of the allocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Demand {
    /// 1 (default) to 255: how many steps a round it takes.
    pub priority: u8,
    /// Each layer's bitrate, `None` for a layer not being sent.
    pub layers: Vec<Option<u64>>,
    /// The highest layer it wants.
    pub preferred: usize,
    /// The layer the last allocation gave it: kept while it costs up to
    /// `KEEP_TOLERANCE` more than the budget left, so that bitrates that
    /// wobble around a layer's edge do not switch streams every tick.
    pub current: Option<usize>,
}

/// How far over the budget a consumer may stay on the layer it has.
const KEEP_TOLERANCE: f64 = 0.15;

/// The highest layer each consumer may send (by index into its layers).
pub fn allocate(budget: u64, demands: &[Demand]) -> Vec<usize> {
    let sent = |d: &Demand, layer: usize| d.layers.get(layer).copied().flatten();
    let mut chosen: Vec<usize> = demands
        .iter()
        .map(|d| {
            (0..d.layers.len())
                .find(|l| sent(d, *l).is_some())
                .unwrap_or(0)
        })
        .collect();
    let mut remaining = budget as i64;
    for (d, &layer) in demands.iter().zip(&chosen) {
        remaining -= sent(d, layer).unwrap_or(0) as i64;
    }
    let tolerance = (budget as f64 * KEEP_TOLERANCE) as i64;
    let mut order: Vec<usize> = (0..demands.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(demands[i].priority));
    loop {
        let mut climbed = false;
        for &i in &order {
            let demand = &demands[i];
            for _ in 0..demand.priority.max(1) {
                let current = chosen[i];
                let Some(next) = (current + 1
                    ..=demand.preferred.min(demand.layers.len().saturating_sub(1)))
                    .find(|l| sent(demand, *l).is_some())
                else {
                    break;
                };
                let cost = sent(demand, next).unwrap_or(0) as i64
                    - sent(demand, current).unwrap_or(0) as i64;
                let keeping = demand.current.is_some_and(|c| next <= c);
                if cost > remaining + if keeping { tolerance } else { 0 } {
                    break;
                }
                remaining -= cost;
                chosen[i] = next;
                climbed = true;
            }
        }
        if !climbed {
            return chosen;
        }
    }
}

/// The padding an attempt sends: what the consumers' layers would cost
/// more with `ceiling` to share than with `budget` (0: nobody would climb).
/// All of the climb is probed at once: one layer can cost far more than the
/// one below (an SVC stream's next spatial layer carries the lower ones
/// too), and climbing temporal layer by temporal layer would take an
/// attempt each.
pub fn probe_padding(budget: u64, ceiling: u64, demands: &[Demand]) -> u64 {
    let cost = |chosen: Vec<usize>| -> u64 {
        demands
            .iter()
            .zip(chosen)
            .map(|(d, layer)| d.layers.get(layer).copied().flatten().unwrap_or(0))
            .sum()
    };
    cost(allocate(ceiling, demands)).saturating_sub(cost(allocate(budget, demands)))
}

const FIRST_WAIT_MS: f64 = 4_000.0;
/// A failed attempt costs only padding (no viewer moved), so the wait
/// need not grow long: 4, 8, 8... s.
const LONGEST_WAIT_MS: f64 = 8_000.0;
/// An attempt that sees no over-use within this long succeeded (padding
/// over what a link carries builds a queue the detector sees within a
/// second or so).
const VERDICT_MS: f64 = 2_500.0;

/// How far over the estimate an attempt probes, at most.
pub const MAX_REACH: f64 = 3.0;

#[derive(Debug)]
pub struct LayerProbe {
    wait_ms: f64,
    attempt_at_ms: Option<f64>,
    /// An attempt ran its course without over-use: what arrived meanwhile
    /// is what the path is proven to carry.
    proven: bool,
}

impl Default for LayerProbe {
    fn default() -> Self {
        LayerProbe {
            wait_ms: FIRST_WAIT_MS,
            attempt_at_ms: None,
            proven: false,
        }
    }
}

impl LayerProbe {
    /// Looks at the path at `now_ms`, given how long ago it was last
    /// over-used (`None`: never): ends an attempt (failed on over-use,
    /// proven after its verdict's time) or starts one once calm.
    pub fn update(&mut self, since_overuse_ms: Option<f64>, now_ms: f64) {
        if let Some(at) = self.attempt_at_ms {
            let overused_since_attempt = since_overuse_ms.is_some_and(|s| now_ms - s > at);
            if overused_since_attempt {
                self.attempt_at_ms = None;
                self.wait_ms = (self.wait_ms * 2.0).min(LONGEST_WAIT_MS);
            } else if now_ms - at >= VERDICT_MS {
                self.attempt_at_ms = None;
                self.wait_ms = FIRST_WAIT_MS;
                self.proven = true;
            }
            return;
        }
        if since_overuse_ms.is_none_or(|s| s >= self.wait_ms) {
            self.attempt_at_ms = Some(now_ms);
        }
    }

    /// Whether an attempt is on (padding should go out).
    pub fn attempting(&self) -> bool {
        self.attempt_at_ms.is_some()
    }

    /// Whether an attempt has passed since last asked.
    pub fn take_proven(&mut self) -> bool {
        std::mem::take(&mut self.proven)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn simulcast(priority: u8, preferred: usize) -> Demand {
        Demand {
            priority,
            layers: vec![Some(150_000), Some(400_000), Some(1_200_000)],
            preferred,
            current: None,
        }
    }

    #[test]
    fn each_gets_the_best_layer_that_fits_up_to_its_preference() {
        assert_eq!(allocate(2_000_000, &[simulcast(1, 2)]), [2]);
        assert_eq!(allocate(1_000_000, &[simulcast(1, 2)]), [1]);
        assert_eq!(allocate(250_000, &[simulcast(1, 2)]), [0]);
        assert_eq!(
            allocate(10_000, &[simulcast(1, 2)]),
            [0],
            "the lowest whatever it costs"
        );
        assert_eq!(
            allocate(5_000_000, &[simulcast(1, 1)]),
            [1],
            "never above the preference"
        );
    }

    #[test]
    fn a_probe_pads_for_the_whole_climb_the_ceiling_allows() {
        // An SVC stream: each spatial layer carries the ones below.
        let svc = Demand {
            priority: 1,
            layers: vec![Some(150_000), Some(600_000), Some(1_800_000)],
            preferred: 2,
            current: None,
        };
        assert_eq!(
            probe_padding(400_000, 750_000, std::slice::from_ref(&svc)),
            450_000
        );
        assert_eq!(
            probe_padding(400_000, 500_000, std::slice::from_ref(&svc)),
            0
        );
        assert_eq!(probe_padding(700_000, 2_000_000, &[svc]), 1_200_000);
        // Two consumers: everything both would climb by.
        let demands = [simulcast(1, 2), simulcast(2, 2)];
        assert_eq!(probe_padding(300_000, 900_000, &demands), 500_000);
        // Everyone at its preference: nothing to probe for.
        assert_eq!(probe_padding(100_000, 900_000, &[simulcast(1, 0)]), 0);
    }

    #[test]
    fn higher_priority_climbs_first() {
        // 600 kb/s for two: 150+150, then one of them to 400.
        let demands = [simulcast(1, 2), simulcast(2, 2)];
        assert_eq!(allocate(600_000, &demands), [0, 1]);
        assert_eq!(allocate(900_000, &demands), [1, 1]);
    }

    #[test]
    fn a_layer_held_is_kept_a_little_over_the_budget_but_not_taken() {
        let held = Demand {
            current: Some(1),
            ..simulcast(1, 2)
        };
        // 540 kb/s: 150 + 250 for layer 1 is 400, within 15 % of the budget
        // left; a consumer not on it yet does not get it.
        assert_eq!(allocate(540_000, std::slice::from_ref(&held)), [1]);
        assert_eq!(allocate(360_000, &[held]), [1]);
        assert_eq!(allocate(360_000, &[simulcast(1, 2)]), [0]);
        let far = Demand {
            current: Some(1),
            ..simulcast(1, 2)
        };
        assert_eq!(allocate(300_000, &[far]), [0], "too far over: down it goes");
    }

    #[test]
    fn layers_not_sent_are_skipped() {
        let demand = Demand {
            priority: 1,
            layers: vec![None, Some(400_000), None],
            preferred: 2,
            current: None,
        };
        assert_eq!(allocate(5_000_000, &[demand]), [1]);
    }

    #[test]
    fn attempts_start_when_calm_and_wait_longer_after_overuse() {
        let mut probe = LayerProbe::default();
        // Never over-used: an attempt at once.
        probe.update(None, 0.0);
        assert!(probe.attempting());
        // Over-use 1 s into the attempt: it failed.
        probe.update(Some(0.0), 1_000.0);
        assert!(!probe.attempting() && !probe.take_proven());
        // The wait has doubled to 8 s.
        probe.update(Some(7_000.0), 8_000.0);
        assert!(!probe.attempting());
        probe.update(Some(8_000.0), 9_000.0);
        assert!(probe.attempting());
        // No over-use for the verdict's time: proven, the wait is short
        // again, and the next attempt starts at the next look.
        probe.update(Some(10_500.0), 11_500.0);
        assert!(!probe.attempting());
        assert_eq!(probe.wait_ms, FIRST_WAIT_MS);
        assert!(probe.take_proven(), "what arrived meanwhile is proven");
        assert!(!probe.take_proven(), "once");
        probe.update(Some(10_600.0), 11_600.0);
        assert!(probe.attempting());
    }
}
