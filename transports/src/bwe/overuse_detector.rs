//! Turns the delay trend into a verdict — the path is over-used, under-used
//! or fine — against a threshold that adapts to the trend's own noise
//! (libwebrtc's OveruseDetector, RFC draft-ietf-rmcat-gcc §5.4).

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Usage {
    Normal,
    Overusing,
    Underusing,
}

const INITIAL_THRESHOLD: f64 = 12.5;
const K_UP: f64 = 0.0087;
const K_DOWN: f64 = 0.039;
/// A trend this far past the threshold is a spike, not a reason to adapt.
const MAX_ADAPT_OFFSET: f64 = 15.0;
/// Over-use must last this long (and two updates) to count.
const OVERUSING_TIME_MS: f64 = 10.0;

#[derive(Debug)]
pub struct OveruseDetector {
    threshold: f64,
    last_update_ms: Option<f64>,
    previous_trend: f64,
    overusing_since_ms: Option<f64>,
    overuse_count: u32,
    usage: Usage,
}

impl Default for OveruseDetector {
    fn default() -> Self {
        Self::new()
    }
}

impl OveruseDetector {
    pub fn new() -> Self {
        OveruseDetector {
            threshold: INITIAL_THRESHOLD,
            last_update_ms: None,
            previous_trend: 0.0,
            overusing_since_ms: None,
            overuse_count: 0,
            usage: Usage::Normal,
        }
    }

    pub fn usage(&self) -> Usage {
        self.usage
    }

    pub fn detect(&mut self, modified_trend: f64, now_ms: f64) -> Usage {
        if modified_trend > self.threshold {
            let since = *self.overusing_since_ms.get_or_insert(now_ms);
            self.overuse_count += 1;
            if now_ms - since >= OVERUSING_TIME_MS
                && self.overuse_count > 1
                && modified_trend >= self.previous_trend
            {
                self.overusing_since_ms = None;
                self.overuse_count = 0;
                self.usage = Usage::Overusing;
            }
        } else if modified_trend < -self.threshold {
            self.overusing_since_ms = None;
            self.overuse_count = 0;
            self.usage = Usage::Underusing;
        } else {
            self.overusing_since_ms = None;
            self.overuse_count = 0;
            self.usage = Usage::Normal;
        }
        self.previous_trend = modified_trend;
        self.adapt_threshold(modified_trend, now_ms);
        self.usage
    }

    fn adapt_threshold(&mut self, modified_trend: f64, now_ms: f64) {
        let last = self.last_update_ms.replace(now_ms).unwrap_or(now_ms);
        if modified_trend.abs() > self.threshold + MAX_ADAPT_OFFSET {
            return;
        }
        let k = if modified_trend.abs() < self.threshold {
            K_DOWN
        } else {
            K_UP
        };
        let elapsed = (now_ms - last).clamp(0.0, 100.0);
        self.threshold += k * (modified_trend.abs() - self.threshold) * elapsed;
        self.threshold = self.threshold.clamp(6.0, 600.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sustained_overuse_is_reported_a_single_spike_is_not() {
        let mut detector = OveruseDetector::new();
        assert_eq!(
            detector.detect(20.0, 0.0),
            Usage::Normal,
            "once is not enough"
        );
        assert_eq!(detector.detect(5.0, 5.0), Usage::Normal);
        let mut usage = Usage::Normal;
        for i in 0..5 {
            usage = detector.detect(20.0 + f64::from(i), 10.0 + f64::from(i) * 5.0);
        }
        assert_eq!(usage, Usage::Overusing);
        assert_eq!(detector.detect(-30.0, 50.0), Usage::Underusing);
        assert_eq!(detector.detect(0.0, 55.0), Usage::Normal);
    }

    #[test]
    fn the_threshold_follows_the_noise_within_bounds() {
        let mut detector = OveruseDetector::new();
        for i in 0..1_000 {
            detector.detect(1.0, f64::from(i) * 20.0);
        }
        assert!((6.0..INITIAL_THRESHOLD).contains(&detector.threshold));
    }
}
