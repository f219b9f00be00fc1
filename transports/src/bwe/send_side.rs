//! What Troupe may send on one transport, from the receiver's transport-cc
//! feedback about what it sent (GoogCC's shape: delay-based AIMD from
//! inter-arrival groups, the trendline and the over-use detector, capped by
//! the loss-based estimate and by any REMB the receiver sends).

use std::time::Instant;

use crate::bwe::aimd_rate_control::AimdRateControl;
use crate::bwe::bitrate_window::BitrateWindow;
use crate::bwe::inter_arrival::InterArrival;
use crate::bwe::loss_based::LossBasedEstimate;
use crate::bwe::overuse_detector::{OveruseDetector, Usage};
use crate::bwe::send_history::SendHistory;
use crate::bwe::trendline::Trendline;

const MIN_BPS: u64 = 30_000;
const MAX_BPS: u64 = 100_000_000;
/// Where the estimate starts at least (mediasoup's
/// initialAvailableOutgoingBitrate), higher when the first feedback shows
/// more arriving.
const START_BPS: u64 = 600_000;
/// Packets sent longer ago than this are taken as delivered or lost. The
/// last ones lost before a sender stops are never reported (no later
/// packet shows the gap), so they must age out; a queue that holds packets
/// longer than this is one a key frame should not wait for either.
const IN_FLIGHT_WINDOW_MS: f64 = 300.0;

#[derive(Debug)]
pub struct SendSideEstimator {
    epoch: Instant,
    history: SendHistory,
    groups: InterArrival,
    trendline: Trendline,
    detector: OveruseDetector,
    delay_based: AimdRateControl,
    loss_based: LossBasedEstimate,
    /// What the receiver got, by its own arrival clock.
    acked: BitrateWindow,
    remb: Option<u64>,
    /// What the receiver got over the last second, at the latest feedback.
    acked_bps: Option<u64>,
    feedback_seen: bool,
    last_overuse_ms: Option<f64>,
}

impl SendSideEstimator {
    pub fn new(now: Instant) -> Self {
        SendSideEstimator {
            epoch: now,
            history: SendHistory::new(),
            groups: InterArrival::new(),
            trendline: Trendline::new(),
            detector: OveruseDetector::new(),
            delay_based: AimdRateControl::new(MIN_BPS, MAX_BPS),
            loss_based: LossBasedEstimate::new(START_BPS, MIN_BPS, MAX_BPS),
            acked: BitrateWindow::new(),
            remb: None,
            acked_bps: None,
            feedback_seen: false,
            last_overuse_ms: None,
        }
    }

    fn ms(&self, at: Instant) -> f64 {
        at.saturating_duration_since(self.epoch).as_secs_f64() * 1_000.0
    }

    /// A packet numbered `sequence` (transport-wide) went out.
    pub fn on_sent(&mut self, sequence: u16, size: usize, now: Instant) {
        let send_ms = self.ms(now);
        self.history.on_sent(sequence, send_ms, size);
    }

    /// The receiver's transport-cc feedback: arrivals (µs, its clock) of
    /// the numbers from `base_sequence` on.
    pub fn on_feedback(&mut self, base_sequence: u16, arrivals: &[Option<i64>], now: Instant) {
        let now_ms = self.ms(now);
        let (mut lost, mut total) = (0, 0);
        let mut usage = self.detector.usage();
        for (i, arrival) in arrivals.iter().enumerate() {
            let sequence = base_sequence.wrapping_add(i as u16);
            let Some((send_ms, size)) = self.history.take(sequence) else {
                continue;
            };
            total += 1;
            let Some(arrival_us) = arrival else {
                lost += 1;
                continue;
            };
            let arrival_ms = *arrival_us as f64 / 1_000.0;
            self.acked.add(arrival_ms, size);
            if let Some(delta) = self.groups.on_packet(send_ms, arrival_ms, size) {
                let trend = self.trendline.update(
                    delta.send_delta_ms,
                    delta.arrival_delta_ms,
                    delta.arrival_ms,
                );
                usage = self.detector.detect(trend, delta.arrival_ms);
            }
        }
        if total == 0 {
            return;
        }
        self.feedback_seen = true;
        if usage == Usage::Overusing {
            self.last_overuse_ms = Some(now_ms);
        }
        let latest_arrival_ms = arrivals
            .iter()
            .rev()
            .flatten()
            .next()
            .map(|a| *a as f64 / 1_000.0);
        let acked = latest_arrival_ms.and_then(|at| self.acked.rate(at));
        self.acked_bps = acked.or(self.acked_bps);
        let was_estimating = self.delay_based.estimate().is_some();
        let delay_based = self.delay_based.update(usage, acked, now_ms);
        if let (false, Some(first)) = (was_estimating, delay_based) {
            // No lower than mediasoup's initialAvailableOutgoingBitrate
            // unless the path is already over-used: what a viewer of a
            // base temporal layer receives (50 kb/s) says nothing of the
            // path, and from 1.5x that only a probe could reach the 640 px
            // layer it prefers.
            if usage != Usage::Overusing {
                self.delay_based.raise_to(START_BPS);
            }
            self.loss_based = LossBasedEstimate::new(first.max(START_BPS), MIN_BPS, MAX_BPS);
        }
        self.loss_based.update(lost, total, acked, now_ms);
    }

    /// What was sent beyond the estimate arrived without over-use (a layer
    /// tried as a probe): the path carries at least what arrived.
    pub fn on_probe_proven(&mut self) {
        if let Some(acked) = self.acked_bps {
            self.delay_based.raise_to(acked);
            self.loss_based.raise_to(acked);
        }
    }

    /// A REMB from the receiver caps the estimate.
    pub fn on_remb(&mut self, bitrate: u64) {
        self.remb = Some(bitrate);
    }

    /// What may be sent now: `None` until feedback has shown what the path
    /// carries (a REMB alone counts).
    pub fn estimate(&self) -> Option<u64> {
        let from_feedback = self
            .delay_based
            .estimate()
            .filter(|_| self.feedback_seen)
            .map(|delay| delay.min(self.loss_based.estimate()));
        match (from_feedback, self.remb) {
            (Some(estimate), Some(remb)) => Some(estimate.min(remb)),
            (estimate, remb) => estimate.or(remb),
        }
    }

    /// How long what was sent lately and not yet accounted for by feedback
    /// takes to cross the path at the estimate: the queue a step down leaves
    /// behind, plus a feedback interval.
    pub fn in_flight_ms(&self, now: Instant) -> Option<f64> {
        let estimate = self.estimate()?.max(1) as f64;
        let bytes = self
            .history
            .in_flight_bytes(self.ms(now) - IN_FLIGHT_WINDOW_MS);
        Some(bytes as f64 * 8_000.0 / estimate)
    }

    /// Milliseconds since the path was last seen over-used.
    pub fn since_overuse_ms(&self, now: Instant) -> Option<f64> {
        self.last_overuse_ms.map(|at| self.ms(now) - at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// Sends 1,200-byte packets every `interval_ms` from `from` for
    /// `count` packets, each arriving after `delay_ms(i)`, with feedback
    /// every 100 ms; returns the estimate at the end.
    fn run(
        estimator: &mut SendSideEstimator,
        start: Instant,
        first_sequence: u16,
        from_ms: u64,
        count: u64,
        interval_ms: u64,
        delay_ms: impl Fn(u64) -> Option<u64>,
    ) -> Option<u64> {
        let mut pending: Vec<Option<i64>> = Vec::new();
        let mut base = first_sequence;
        for i in 0..count {
            let sent_ms = from_ms + i * interval_ms;
            let sequence = first_sequence.wrapping_add(i as u16);
            estimator.on_sent(sequence, 1_200, start + Duration::from_millis(sent_ms));
            pending.push(delay_ms(i).map(|d| ((sent_ms + d) * 1_000) as i64));
            if (i + 1) % (100 / interval_ms) == 0 {
                let at = start + Duration::from_millis(sent_ms + 30);
                estimator.on_feedback(base, &pending, at);
                base = sequence.wrapping_add(1);
                pending.clear();
            }
        }
        estimator.estimate()
    }

    #[test]
    fn an_open_path_keeps_the_estimate_above_what_is_sent() {
        let start = Instant::now();
        let mut estimator = SendSideEstimator::new(start);
        assert_eq!(estimator.estimate(), None);
        // 960 kb/s: a 1,200-byte packet every 10 ms, steady 20 ms delay.
        let estimate = run(&mut estimator, start, 0, 0, 2_000, 10, |_| Some(20)).unwrap();
        assert!(estimate > 960_000, "{estimate}");
    }

    #[test]
    fn a_link_that_queues_brings_the_estimate_to_what_it_carries() {
        let start = Instant::now();
        let mut estimator = SendSideEstimator::new(start);
        run(&mut estimator, start, 0, 0, 500, 10, |_| Some(20));
        // The link now carries 480 kb/s: each packet leaves 20 ms after the
        // one before while they are sent every 10 ms, so the queue grows.
        let estimate = run(&mut estimator, start, 500, 5_000, 300, 10, |i| {
            Some(20 + i * 10)
        })
        .unwrap();
        assert!(estimate < 600_000, "{estimate}");
        assert!(estimator
            .since_overuse_ms(start + Duration::from_secs(9))
            .is_some());
    }

    #[test]
    fn heavy_loss_brings_it_down_and_a_remb_caps_it() {
        let start = Instant::now();
        let mut estimator = SendSideEstimator::new(start);
        run(&mut estimator, start, 0, 0, 500, 10, |_| Some(20));
        let before = estimator.estimate().unwrap();
        // One packet in three lost.
        let after = run(&mut estimator, start, 500, 5_000, 300, 10, |i| {
            (i % 3 != 0).then_some(20)
        })
        .unwrap();
        assert!(after < before, "{after} after {before}");
        estimator.on_remb(40_000);
        assert_eq!(estimator.estimate(), Some(40_000));
        // A REMB alone, before any transport-cc feedback, is the estimate.
        let mut remb_only = SendSideEstimator::new(start);
        remb_only.on_remb(300_000);
        assert_eq!(remb_only.estimate(), Some(300_000));
    }
}
