//! A receive-side bandwidth estimate from the abs-send-time header
//! extension, for senders that take REMB instead of transport-cc feedback
//! (libwebrtc's RemoteBitrateEstimatorAbsSendTime): inter-arrival groups →
//! delay trend → over-use verdict → AIMD estimate.

use std::time::Instant;

use crate::bwe::aimd_rate_control::AimdRateControl;
use crate::bwe::bitrate_window::BitrateWindow;
use crate::bwe::inter_arrival::InterArrival;
use crate::bwe::overuse_detector::OveruseDetector;
use crate::bwe::trendline::Trendline;

/// abs-send-time is 6.18 fixed-point seconds in 24 bits: it wraps every 64 s.
const ABS_SEND_TIME_WRAP: i64 = 1 << 24;
const ABS_SEND_TIME_TICKS_PER_MS: f64 = (1 << 18) as f64 / 1_000.0;

const MIN_BPS: u64 = 30_000;
const MAX_BPS: u64 = 100_000_000;

#[derive(Debug)]
pub struct RemoteEstimator {
    epoch: Instant,
    last_send_raw: Option<u32>,
    send_ticks: i64,
    groups: InterArrival,
    trendline: Trendline,
    detector: OveruseDetector,
    rate: AimdRateControl,
    incoming: BitrateWindow,
}

impl RemoteEstimator {
    pub fn new(now: Instant) -> Self {
        RemoteEstimator {
            epoch: now,
            last_send_raw: None,
            send_ticks: 0,
            groups: InterArrival::new(),
            trendline: Trendline::new(),
            detector: OveruseDetector::new(),
            rate: AimdRateControl::new(MIN_BPS, MAX_BPS),
            incoming: BitrateWindow::new(),
        }
    }

    fn ms_since_epoch(&self, at: Instant) -> f64 {
        at.saturating_duration_since(self.epoch).as_secs_f64() * 1_000.0
    }

    /// A packet carrying abs-send-time `abs_send_time` (its 24 bits),
    /// `size` bytes, arrived at `arrival`.
    pub fn on_packet(&mut self, abs_send_time: u32, size: usize, arrival: Instant) {
        let raw = abs_send_time & 0x00ff_ffff;
        if let Some(last) = self.last_send_raw {
            let mut delta = i64::from(raw) - i64::from(last);
            if delta > ABS_SEND_TIME_WRAP / 2 {
                delta -= ABS_SEND_TIME_WRAP;
            } else if delta < -ABS_SEND_TIME_WRAP / 2 {
                delta += ABS_SEND_TIME_WRAP;
            }
            self.send_ticks += delta;
        }
        self.last_send_raw = Some(raw);
        let send_ms = self.send_ticks as f64 / ABS_SEND_TIME_TICKS_PER_MS;
        let arrival_ms = self.ms_since_epoch(arrival);
        self.incoming.add(arrival_ms, size);
        let usage = match self.groups.on_packet(send_ms, arrival_ms, size) {
            Some(delta) => {
                let trend = self.trendline.update(
                    delta.send_delta_ms,
                    delta.arrival_delta_ms,
                    delta.arrival_ms,
                );
                self.detector.detect(trend, arrival_ms)
            }
            None => self.detector.usage(),
        };
        let incoming = self.incoming.rate(arrival_ms);
        self.rate.update(usage, incoming, arrival_ms);
    }

    /// What the path can carry, once enough has arrived to say.
    pub fn estimate(&self) -> Option<u64> {
        self.rate.estimate()
    }

    /// What arrived over the last second.
    pub fn incoming_bitrate(&mut self, now: Instant) -> Option<u64> {
        let now_ms = self.ms_since_epoch(now);
        self.incoming.rate(now_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// Sends 1,000-byte packets every `interval_ms` for `seconds`, each
    /// delayed by `queue_ms(i)` on the path, and returns the estimate.
    fn run(
        estimator: &mut RemoteEstimator,
        start: Instant,
        from_ms: u64,
        seconds: u64,
        interval_ms: u64,
        queue_ms: impl Fn(u64) -> u64,
    ) -> Option<u64> {
        let count = seconds * 1_000 / interval_ms;
        for i in 0..count {
            let sent_ms = from_ms + i * interval_ms;
            let abs_send_time =
                ((sent_ms as f64 * ABS_SEND_TIME_TICKS_PER_MS) as u64 % (1 << 24)) as u32;
            let arrival = start + Duration::from_millis(sent_ms + 20 + queue_ms(i));
            estimator.on_packet(abs_send_time, 1_000, arrival);
        }
        estimator.estimate()
    }

    #[test]
    fn an_open_path_lets_the_estimate_grow_past_what_is_sent() {
        let start = Instant::now();
        let mut estimator = RemoteEstimator::new(start);
        // 800 kb/s: a packet every 10 ms, no queue.
        let estimate = run(&mut estimator, start, 0, 20, 10, |_| 0).unwrap();
        assert!(estimate > 1_000_000, "{estimate}");
        let incoming = estimator
            .incoming_bitrate(start + Duration::from_millis(20_020))
            .unwrap();
        assert!((780_000..=820_000).contains(&incoming), "{incoming}");
    }

    #[test]
    fn a_filling_queue_brings_the_estimate_below_what_is_sent() {
        let start = Instant::now();
        let mut estimator = RemoteEstimator::new(start);
        run(&mut estimator, start, 0, 10, 10, |_| 0);
        // Then each packet waits 0.5 ms longer than the one before: the
        // path carries less than is sent.
        let estimate = run(&mut estimator, start, 10_000, 3, 10, |i| i / 2).unwrap();
        assert!(estimate < 800_000, "{estimate}");
    }

    #[test]
    fn the_send_time_wraps_every_64_seconds() {
        let start = Instant::now();
        let mut estimator = RemoteEstimator::new(start);
        // From 60 s to 70 s of the sender's clock: across the wrap at 64 s.
        let estimate = run(&mut estimator, start, 60_000, 10, 10, |_| 0);
        assert!(estimate.is_some_and(|e| e > 800_000), "{estimate:?}");
    }
}
