//! What a transport tells the senders of the media it receives about the
//! path, so their congestion controllers can use it: transport-cc feedback
//! when they number packets transport-wide; else a REMB from our own
//! abs-send-time estimate; and in both cases at most the transport's
//! `maxIncomingBitrate` (mediasoup's "limitation" REMB, which Chrome
//! applies as a cap on top of its own estimate).

use std::time::{Duration, Instant};

use crate::bwe::bitrate_window::BitrateWindow;
use crate::bwe::remote_estimator::RemoteEstimator;
use crate::rtcp_feedback::receiver_estimated_maximum_bitrate;
use crate::transport_cc_feedback::TransportCcFeedback;

/// How often a REMB goes out while there is one to send.
const REMB_INTERVAL: Duration = Duration::from_secs(1);
/// A fall in the estimate by this fraction is told at once, not at the next
/// interval (libwebrtc's rule), but no more often than this.
const REMB_DECREASE_FRACTION: f64 = 0.03;
const REMB_MIN_GAP: Duration = Duration::from_millis(200);

#[derive(Debug)]
pub struct ReceiveCongestion {
    sender_ssrc: u32,
    epoch: Instant,
    transport_cc: TransportCcFeedback,
    estimator: RemoteEstimator,
    incoming: BitrateWindow,
    uses_transport_cc: bool,
    uses_abs_send_time: bool,
    max_incoming_bitrate: Option<u64>,
    last_remb: Option<(Instant, u64)>,
}

impl ReceiveCongestion {
    pub fn new(sender_ssrc: u32, now: Instant) -> Self {
        ReceiveCongestion {
            sender_ssrc,
            epoch: now,
            transport_cc: TransportCcFeedback::new(sender_ssrc, now),
            estimator: RemoteEstimator::new(now),
            incoming: BitrateWindow::new(),
            uses_transport_cc: false,
            uses_abs_send_time: false,
            max_incoming_bitrate: None,
            last_remb: None,
        }
    }

    fn ms(&self, at: Instant) -> f64 {
        at.saturating_duration_since(self.epoch).as_secs_f64() * 1_000.0
    }

    /// An RTP packet of `size` bytes arrived at `arrival`, with the
    /// transport-wide sequence number and abs-send-time it carried.
    pub fn on_packet(
        &mut self,
        transport_sequence: Option<u16>,
        abs_send_time: Option<u32>,
        media_ssrc: u32,
        size: usize,
        arrival: Instant,
    ) {
        let arrival_ms = self.ms(arrival);
        self.incoming.add(arrival_ms, size);
        if let Some(sequence) = transport_sequence {
            self.uses_transport_cc = true;
            self.transport_cc.on_packet(sequence, media_ssrc, arrival);
        } else if let Some(send_time) = abs_send_time {
            self.uses_abs_send_time = true;
            self.estimator.on_packet(send_time, size, arrival);
        }
    }

    /// `None` or 0 lifts the cap.
    pub fn set_max_incoming_bitrate(&mut self, bitrate: Option<u64>) {
        self.max_incoming_bitrate = bitrate.filter(|b| *b > 0);
        // The new cap goes out with the next poll.
        self.last_remb = None;
    }

    pub fn max_incoming_bitrate(&self) -> Option<u64> {
        self.max_incoming_bitrate
    }

    /// What the senders may send: our estimate where we make one (REMB),
    /// else what arrives (the senders estimate from our transport-cc
    /// feedback and send what fits); never above the cap.
    pub fn available_bitrate(&mut self, now: Instant) -> Option<u64> {
        let measured = if self.remb_estimates() {
            self.estimator.estimate()
        } else {
            self.incoming.rate(self.ms(now))
        }?;
        Some(self.cap(measured))
    }

    fn remb_estimates(&self) -> bool {
        self.uses_abs_send_time && !self.uses_transport_cc
    }

    fn cap(&self, bitrate: u64) -> u64 {
        self.max_incoming_bitrate
            .map_or(bitrate, |max| bitrate.min(max))
    }

    /// Feedback due now: transport-cc packets, and a REMB when one is due,
    /// naming the senders' media SSRCs.
    pub fn poll(&mut self, now: Instant, media_ssrcs: &[u32]) -> Vec<Vec<u8>> {
        let mut out = self.transport_cc.poll(now);
        let remb = if self.remb_estimates() {
            self.estimator.estimate().map(|e| self.cap(e))
        } else {
            self.max_incoming_bitrate
        };
        if let Some(bitrate) = remb {
            let due = match self.last_remb {
                None => true,
                Some((at, sent)) => {
                    let since = now.saturating_duration_since(at);
                    since >= REMB_INTERVAL
                        || (since >= REMB_MIN_GAP
                            && (bitrate as f64) < sent as f64 * (1.0 - REMB_DECREASE_FRACTION))
                }
            };
            if due && !media_ssrcs.is_empty() {
                self.last_remb = Some((now, bitrate));
                let remb =
                    receiver_estimated_maximum_bitrate(self.sender_ssrc, bitrate, media_ssrcs);
                if !remb.is_empty() {
                    out.push(remb);
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rtcp_feedback::{parse, Feedback};

    fn rembs(packets: &[Vec<u8>]) -> Vec<u64> {
        packets
            .iter()
            .flat_map(|p| parse(p).unwrap_or_default())
            .filter_map(|f| match f {
                Feedback::Remb { bitrate } => Some(bitrate),
                _ => None,
            })
            .collect()
    }

    fn abs_send_time(ms: u64) -> u32 {
        ((ms << 18) / 1_000) as u32 & 0x00ff_ffff
    }

    #[test]
    fn transport_cc_senders_get_feedback_and_a_rembed_cap_only_when_set() {
        let start = Instant::now();
        let mut congestion = ReceiveCongestion::new(1, start);
        for i in 0..50u16 {
            let at = start + Duration::from_millis(u64::from(i) * 10);
            congestion.on_packet(
                Some(i),
                Some(abs_send_time(u64::from(i) * 10)),
                5,
                1_000,
                at,
            );
        }
        let now = start + Duration::from_millis(600);
        let packets = congestion.poll(now, &[5]);
        assert_eq!(packets.len(), 1, "one transport-cc feedback, no REMB");
        assert!(rembs(&packets).is_empty());
        let incoming = congestion.available_bitrate(now).unwrap();
        assert!((600_000..=900_000).contains(&incoming), "{incoming}");
        congestion.set_max_incoming_bitrate(Some(300_000));
        let packets = congestion.poll(now + Duration::from_millis(100), &[5]);
        let capped = rembs(&packets);
        assert_eq!(capped.len(), 1);
        assert!((299_000..=301_000).contains(&capped[0]), "{capped:?}");
        assert_eq!(congestion.available_bitrate(now), Some(300_000));
        // Not again before the interval.
        assert!(rembs(&congestion.poll(now + Duration::from_millis(300), &[5])).is_empty());
        congestion.set_max_incoming_bitrate(Some(0));
        assert_eq!(congestion.max_incoming_bitrate(), None);
        // Any cap the API takes makes a valid REMB.
        congestion.set_max_incoming_bitrate(Some(u64::MAX));
        let huge = rembs(&congestion.poll(now + Duration::from_secs(5), &[5]));
        assert_eq!(huge.len(), 1);
    }

    #[test]
    fn abs_send_time_senders_get_rembs_from_our_estimate() {
        let start = Instant::now();
        let mut congestion = ReceiveCongestion::new(1, start);
        let mut sent = Vec::new();
        for i in 0..1_000u64 {
            let at = start + Duration::from_millis(i * 10);
            congestion.on_packet(None, Some(abs_send_time(i * 10)), 5, 1_000, at);
            if i % 5 == 0 {
                sent.extend(rembs(&congestion.poll(at, &[5])));
            }
        }
        assert!(
            sent.len() >= 8,
            "about one a second once estimating: {sent:?}"
        );
        let last = *sent.last().unwrap();
        assert!(last > 800_000, "an open path lets it grow: {last}");
        congestion.set_max_incoming_bitrate(Some(500_000));
        let capped = rembs(&congestion.poll(start + Duration::from_secs(11), &[5]));
        assert!(capped[0] <= 500_001, "{capped:?}");
    }
}
