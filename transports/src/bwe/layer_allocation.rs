//! Which layer each consumer of a transport may send, from what the
//! transport may send: a pure function of the budget, each consumer's
//! layers (their bitrates now), preference and priority, as mediasoup's
//! DistributeAvailableOutgoingBitrate. Every consumer keeps its lowest layer;
//! then, higher priority first and `priority` steps a round, each climbs
//! one layer at a time while the budget holds and it is below what it
//! prefers.
//!
//! Without padding probes, the only way to learn that a path carries more
//! than is sent is to send more: `LayerProbe` lets the allocation reach
//! one layer further when the path has been calm for a while, and waits
//! longer after each attempt that ended in over-use.

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

/// During a probe: what `budget` allows, then one step further for one
/// consumer below its preference — the highest priority's, the cheapest
/// among equals — if everything then stays within `ceiling`. A layer can
/// cost far more than the one below (an SVC stream's next spatial layer
/// carries all the lower ones too), so a budget a fixed fraction over the
/// estimate may never reach it.
pub fn allocate_probing(budget: u64, ceiling: u64, demands: &[Demand]) -> Vec<usize> {
    let sent = |d: &Demand, layer: usize| d.layers.get(layer).copied().flatten();
    let mut chosen = allocate(budget, demands);
    let used: u64 = demands
        .iter()
        .zip(&chosen)
        .map(|(d, &layer)| sent(d, layer).unwrap_or(0))
        .sum();
    let step = demands
        .iter()
        .zip(&chosen)
        .enumerate()
        .filter_map(|(i, (demand, &current))| {
            let last = demand.preferred.min(demand.layers.len().saturating_sub(1));
            let next = (current + 1..=last).find(|l| sent(demand, *l).is_some())?;
            let cost = sent(demand, next)?.saturating_sub(sent(demand, current).unwrap_or(0));
            (used + cost <= ceiling).then_some((std::cmp::Reverse(demand.priority), cost, i, next))
        })
        .min();
    if let Some((_, _, i, next)) = step {
        chosen[i] = next;
    }
    chosen
}

const FIRST_WAIT_MS: f64 = 4_000.0;
const LONGEST_WAIT_MS: f64 = 16_000.0;
/// An attempt that sees over-use within this long failed.
const VERDICT_MS: f64 = 5_000.0;
/// How much further than the estimate an attempt may reach: about one
/// simulcast layer (each about twice the one below).
const REACH: f64 = 1.6;

/// The furthest over the estimate an attempt may go for one step.
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
    /// The budget to allocate at `now_ms` from `estimate`, given how long
    /// ago the path was last over-used (`None`: never).
    pub fn budget(&mut self, estimate: u64, since_overuse_ms: Option<f64>, now_ms: f64) -> u64 {
        if let Some(at) = self.attempt_at_ms {
            let overused_since_attempt = since_overuse_ms.is_some_and(|s| now_ms - s > at);
            if overused_since_attempt {
                self.attempt_at_ms = None;
                self.wait_ms = (self.wait_ms * 2.0).min(LONGEST_WAIT_MS);
            } else if now_ms - at >= VERDICT_MS {
                self.attempt_at_ms = None;
                self.wait_ms = FIRST_WAIT_MS;
                self.proven = true;
            } else {
                return (estimate as f64 * REACH) as u64;
            }
        }
        let calm = since_overuse_ms.is_none_or(|s| s >= self.wait_ms);
        if calm {
            self.attempt_at_ms = Some(now_ms);
            return (estimate as f64 * REACH) as u64;
        }
        estimate
    }

    /// Whether an attempt is on (the budget reaches over the estimate).
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
    fn a_probe_takes_one_step_however_dear_within_the_ceiling() {
        // An SVC stream: each spatial layer carries the ones below.
        let svc = Demand {
            priority: 1,
            layers: vec![Some(150_000), Some(600_000), Some(1_800_000)],
            preferred: 2,
            current: None,
        };
        assert_eq!(allocate(400_000, &[svc.clone()]), [0]);
        assert_eq!(allocate_probing(400_000, 750_000, &[svc.clone()]), [1]);
        assert_eq!(allocate_probing(400_000, 500_000, &[svc.clone()]), [0]);
        // One step for one consumer: the higher priority's.
        let demands = [simulcast(1, 2), simulcast(2, 2)];
        assert_eq!(allocate(300_000, &demands), [0, 0]);
        assert_eq!(allocate_probing(300_000, 900_000, &demands), [0, 1]);
        // Everyone at its preference: nothing to probe for.
        assert_eq!(allocate_probing(100_000, 900_000, &[simulcast(1, 0)]), [0]);
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
        assert_eq!(allocate(540_000, &[held.clone()]), [1]);
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
    fn probes_reach_further_when_calm_and_back_off_after_overuse() {
        let mut probe = LayerProbe::default();
        // Never over-used: reach further at once.
        assert_eq!(probe.budget(100_000, None, 0.0), 160_000);
        assert!(probe.attempting());
        // Over-use 1 s into the attempt: it failed.
        assert_eq!(probe.budget(100_000, Some(0.0), 1_000.0), 100_000);
        assert!(!probe.attempting() && !probe.take_proven());
        // The wait has doubled to 8 s.
        assert_eq!(probe.budget(100_000, Some(7_000.0), 8_000.0), 100_000);
        assert_eq!(probe.budget(100_000, Some(8_000.0), 9_000.0), 160_000);
        // No over-use for the verdict's time: success, the wait is short
        // again, and the next attempt starts.
        assert_eq!(probe.budget(100_000, Some(13_000.0), 14_000.0), 160_000);
        assert_eq!(probe.wait_ms, FIRST_WAIT_MS);
        assert!(probe.take_proven(), "what arrived meanwhile is proven");
        assert!(!probe.take_proven(), "once");
        // It goes on until its verdict.
        assert_eq!(probe.budget(100_000, Some(13_100.0), 14_100.0), 160_000);
        assert_eq!(probe.wait_ms, FIRST_WAIT_MS);
    }
}
