//! The estimate losses allow (libwebrtc's classic SendSideBandwidthEstimation):
//! under 2 % lost it grows 8 % a second, over 10 % it falls by half the
//! fraction lost, in between it holds. Delay says when a queue builds; loss
//! says when a link drops what it cannot carry (a policer, a full buffer).

const LOW_LOSS: f64 = 0.02;
const HIGH_LOSS: f64 = 0.10;
const INCREASE_PER_SECOND: f64 = 1.08;
/// Losses are judged over at least this many packets and this long (about
/// libwebrtc's receiver-report interval): judged every feedback, a burst of
/// losses would cut the estimate again and again for the same congestion.
const MIN_PACKETS: u32 = 20;
const MIN_INTERVAL_MS: f64 = 1_000.0;

#[derive(Debug)]
pub struct LossBasedEstimate {
    estimate_bps: f64,
    min_bps: f64,
    max_bps: f64,
    lost: u32,
    total: u32,
    last_update_ms: Option<f64>,
}

impl LossBasedEstimate {
    pub fn new(start_bps: u64, min_bps: u64, max_bps: u64) -> Self {
        LossBasedEstimate {
            estimate_bps: start_bps as f64,
            min_bps: min_bps as f64,
            max_bps: max_bps as f64,
            lost: 0,
            total: 0,
            last_update_ms: None,
        }
    }

    pub fn estimate(&self) -> u64 {
        self.estimate_bps as u64
    }

    /// The path carried `bps` without losses that count: at least that.
    pub fn raise_to(&mut self, bps: u64) {
        self.estimate_bps = self.estimate_bps.max(bps as f64).min(self.max_bps);
    }

    /// Packets reported by one feedback: `lost` of `total`. `acked_bps`
    /// bounds growth, as the estimate is only proven up to what arrived.
    pub fn update(&mut self, lost: u32, total: u32, acked_bps: Option<u64>, now_ms: f64) -> u64 {
        self.lost += lost;
        self.total += total;
        let last = *self.last_update_ms.get_or_insert(now_ms - MIN_INTERVAL_MS);
        if self.total < MIN_PACKETS || now_ms - last < MIN_INTERVAL_MS {
            return self.estimate();
        }
        self.last_update_ms = Some(now_ms);
        let fraction = f64::from(self.lost) / f64::from(self.total);
        let elapsed_s = ((now_ms - last) / 1_000.0).clamp(0.0, 1.0);
        self.lost = 0;
        self.total = 0;
        if fraction < LOW_LOSS {
            let grown = self.estimate_bps * INCREASE_PER_SECOND.powf(elapsed_s);
            let ceiling = acked_bps.map_or(f64::MAX, |a| 1.5 * a as f64 + 10_000.0);
            self.estimate_bps = grown.min(ceiling.max(self.estimate_bps));
        } else if fraction > HIGH_LOSS {
            self.estimate_bps *= 1.0 - fraction / 2.0;
        }
        self.estimate_bps = self.estimate_bps.clamp(self.min_bps, self.max_bps);
        self.estimate()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heavy_loss_halves_its_fraction_light_loss_lets_it_grow() {
        let mut loss = LossBasedEstimate::new(1_000_000, 50_000, 10_000_000);
        // 30 % lost: down by 15 %.
        assert_eq!(loss.update(30, 100, None, 0.0), 850_000);
        // 5 %: held.
        assert_eq!(loss.update(5, 100, None, 1_000.0), 850_000);
        // None lost for a second: 8 % up.
        assert_eq!(loss.update(0, 100, None, 2_000.0), 918_000);
        // Not again within the second, however many are lost...
        assert_eq!(loss.update(50, 100, None, 2_500.0), 918_000);
        // ...but a second on, with all that was reported since (60 of 200).
        assert_eq!(loss.update(10, 100, None, 3_000.0), 780_300);
        // Too few packets to judge: unchanged until there are enough.
        assert_eq!(loss.update(1, 10, None, 4_000.0), 780_300);
    }

    #[test]
    fn growth_stays_near_what_arrived() {
        let mut loss = LossBasedEstimate::new(100_000, 50_000, 10_000_000);
        for i in 0..100 {
            loss.update(0, 100, Some(100_000), f64::from(i) * 1_000.0);
        }
        assert_eq!(loss.estimate(), 160_000);
    }
}
