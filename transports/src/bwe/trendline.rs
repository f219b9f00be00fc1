//! Whether the path's queue is growing: the slope of the accumulated
//! one-way delay variation over the last groups of packets, by least
//! squares (libwebrtc's TrendlineEstimator), scaled as libwebrtc does so
//! the overuse detector's thresholds apply.

use std::collections::VecDeque;

const WINDOW: usize = 20;
const SMOOTHING: f64 = 0.9;
const THRESHOLD_GAIN: f64 = 4.0;
/// The slope is trusted more as more deltas are seen, up to this many.
const MAX_DELTAS: f64 = 60.0;

#[derive(Debug)]
pub struct Trendline {
    first_arrival_ms: Option<f64>,
    accumulated_delay_ms: f64,
    smoothed_delay_ms: f64,
    deltas: u32,
    /// (arrival since the first, smoothed accumulated delay).
    history: VecDeque<(f64, f64)>,
    trend: f64,
}

impl Default for Trendline {
    fn default() -> Self {
        Self::new()
    }
}

impl Trendline {
    pub fn new() -> Self {
        Trendline {
            first_arrival_ms: None,
            accumulated_delay_ms: 0.0,
            smoothed_delay_ms: 0.0,
            deltas: 0,
            history: VecDeque::with_capacity(WINDOW + 1),
            trend: 0.0,
        }
    }

    /// One group delta; returns the modified trend the detector compares
    /// with its threshold.
    pub fn update(&mut self, send_delta_ms: f64, arrival_delta_ms: f64, arrival_ms: f64) -> f64 {
        let first = *self.first_arrival_ms.get_or_insert(arrival_ms);
        self.deltas = self.deltas.saturating_add(1);
        self.accumulated_delay_ms += arrival_delta_ms - send_delta_ms;
        self.smoothed_delay_ms =
            SMOOTHING * self.smoothed_delay_ms + (1.0 - SMOOTHING) * self.accumulated_delay_ms;
        self.history
            .push_back((arrival_ms - first, self.smoothed_delay_ms));
        if self.history.len() > WINDOW {
            self.history.pop_front();
        }
        if self.history.len() == WINDOW {
            if let Some(slope) = slope(&self.history) {
                self.trend = slope;
            }
        }
        self.modified_trend()
    }

    pub fn modified_trend(&self) -> f64 {
        f64::from(self.deltas).min(MAX_DELTAS) * self.trend * THRESHOLD_GAIN
    }
}

fn slope(points: &VecDeque<(f64, f64)>) -> Option<f64> {
    let n = points.len() as f64;
    let mean_x = points.iter().map(|p| p.0).sum::<f64>() / n;
    let mean_y = points.iter().map(|p| p.1).sum::<f64>() / n;
    let (mut numerator, mut denominator) = (0.0, 0.0);
    for (x, y) in points {
        numerator += (x - mean_x) * (y - mean_y);
        denominator += (x - mean_x) * (x - mean_x);
    }
    (denominator != 0.0).then(|| numerator / denominator)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_steady_path_has_no_trend_and_a_filling_queue_a_positive_one() {
        let mut steady = Trendline::new();
        let mut filling = Trendline::new();
        let (mut flat, mut rising) = (0.0, 0.0);
        for i in 0..40 {
            let at = f64::from(i) * 20.0;
            flat = steady.update(20.0, 20.0, at);
            // Each group waits 2 ms more than the last: a slope of 0.1,
            // times 40 deltas and the gain of 4.
            rising = filling.update(20.0, 22.0, at);
        }
        assert!(flat.abs() < 1e-9, "{flat}");
        assert!(
            rising > 12.5,
            "{rising} should exceed the initial threshold"
        );
    }

    #[test]
    fn a_draining_queue_has_a_negative_trend() {
        let mut draining = Trendline::new();
        let mut trend = 0.0;
        for i in 0..40 {
            trend = draining.update(20.0, 18.0, f64::from(i) * 20.0);
        }
        assert!(trend < -12.5, "{trend}");
    }
}
