//! The actor tree's metrics: objects alive and failures contained, by kind.
//! Labels stay low-cardinality — never an object id.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::media::fan_out_load::{SPLIT_AT, SPLIT_FROM_COPIES_PER_SECOND};
use crate::striped_counter::StripedU64;

/// Counted once per packet or copy, from every packet-path thread.
pub type PacketPathCounter = Counter<u64, StripedU64>;

/// The two handles a packet's count updates, aligned so that they share
/// one cache line: the fan-out prefetches one line for them, and at an
/// offset where the pair straddled two, the second was a miss on every
/// copy sent (three quarters of `PlainEndpoint::send_to`'s samples).
#[derive(Clone, Debug, Default)]
#[repr(align(16))]
struct PacketsAndBytes(PacketPathCounter, PacketPathCounter);

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabel {
    pub kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct FailureLabels {
    pub kind: String,
    pub reason: String,
}

/// The reasons packets are dropped for, as counted on the media ports.
pub const DROP_REASONS: &[&str] = &[
    "junk",
    "unknown_tuple",
    "unknown_ssrc",
    "unknown_payload_type",
    "stun_malformed",
    "stun_not_binding",
    "stun_username",
    "stun_fingerprint",
    "stun_integrity",
    "stun_unknown_ufrag",
    "dtls_before_connect",
    "srtp_before_dtls",
    "srtp_before_connect",
    "srtp_auth",
    "srtp_replay",
    "srtp_protect",
    "rtp_malformed",
    "rtcp_malformed",
    "rtx_unknown_payload_type",
    "payload_descriptor_malformed",
    "stepping_down",
    "tcp_bad_frame",
    "tcp_connections_full",
    "tcp_send_queue_full",
    "send_failed",
];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabel {
    pub reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DirectionLabel {
    pub direction: String,
}

/// A histogram of seconds with fixed buckets, so `ActorMetrics` can be
/// `Default` like the other metric types.
#[derive(Clone, Debug)]
pub struct SecondsHistogram<const RTT: bool>(pub Histogram);

impl<const RTT: bool> Default for SecondsHistogram<RTT> {
    fn default() -> Self {
        // RTT: 5 ms to 1.6 s; jitter: 1 ms to 160 ms.
        let buckets: &[f64] = if RTT {
            &[0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.4, 0.8, 1.6]
        } else {
            &[0.001, 0.0025, 0.005, 0.01, 0.02, 0.04, 0.08, 0.16]
        };
        SecondsHistogram(Histogram::new(buckets.iter().copied()))
    }
}

#[derive(Clone, Debug, Default)]
pub struct ActorMetrics {
    pub objects: Family<KindLabel, Gauge>,
    pub failures: Family<FailureLabels, Counter>,
    pub dropped: Family<ReasonLabel, Counter>,
    pub rtp_packets: Family<DirectionLabel, PacketPathCounter>,
    pub rtp_bytes: Family<DirectionLabel, PacketPathCounter>,
    pub rtcp_feedback: Family<KindLabel, Counter>,
    pub retransmissions: Counter,
    /// Shares of split fan-outs handed to a helper thread.
    pub fan_out_handoffs: Counter,
    pub round_trip_time: SecondsHistogram<true>,
    pub jitter: SecondsHistogram<false>,
    /// ICE consent lost, DTLS failed.
    pub transport_failures: Family<KindLabel, Counter>,
    /// Handles on the per-packet series, made once so the packet path does
    /// no label lookup.
    rtp_in: PacketsAndBytes,
    rtp_out: PacketsAndBytes,
}

impl ActorMetrics {
    pub fn register(registry: &mut Registry) -> Self {
        let mut metrics = ActorMetrics::default();
        let series = |m: &ActorMetrics, direction: &str| {
            let label = DirectionLabel {
                direction: direction.into(),
            };
            PacketsAndBytes(
                m.rtp_packets.get_or_create(&label).clone(),
                m.rtp_bytes.get_or_create(&label).clone(),
            )
        };
        metrics.rtp_in = series(&metrics, "in");
        metrics.rtp_out = series(&metrics, "out");
        // Every known series exists from the start at zero, so dashboards
        // and rate() see a value before the first event.
        for kind in [
            "router",
            "webrtc_transport",
            "plain_transport",
            "pipe_transport",
            "producer",
            "consumer",
            "direct_transport",
            "data_producer",
            "data_consumer",
            "rtp_observer",
            "recording",
        ] {
            drop(
                metrics
                    .objects
                    .get_or_create(&KindLabel { kind: kind.into() }),
            );
        }
        for kind in ["router", "transport", "producer", "consumer"] {
            for reason in ["failed", "stopped"] {
                drop(metrics.failures.get_or_create(&FailureLabels {
                    kind: kind.into(),
                    reason: reason.into(),
                }));
            }
        }
        for kind in ["ice_disconnected", "dtls_failed"] {
            drop(
                metrics
                    .transport_failures
                    .get_or_create(&KindLabel { kind: kind.into() }),
            );
        }
        for reason in DROP_REASONS {
            drop(metrics.dropped.get_or_create(&ReasonLabel {
                reason: (*reason).into(),
            }));
        }
        for kind in [
            "pli",
            "fir",
            "nack",
            "remb",
            "transport_cc",
            "pli_sent",
            "nack_sent",
        ] {
            drop(
                metrics
                    .rtcp_feedback
                    .get_or_create(&KindLabel { kind: kind.into() }),
            );
        }
        registry.register(
            "troupe_objects",
            "Objects alive on this node, by kind",
            metrics.objects.clone(),
        );
        registry.register(
            "troupe_actor_failures",
            "Actor failures contained by a supervisor (the object was closed, its siblings kept running)",
            metrics.failures.clone(),
        );
        registry.register(
            "troupe_packets_dropped",
            "Packets dropped at the media ports, by reason",
            metrics.dropped.clone(),
        );
        registry.register(
            "troupe_rtp_packets",
            "RTP packets received (in) and sent (out)",
            metrics.rtp_packets.clone(),
        );
        registry.register(
            "troupe_rtp_bytes",
            "RTP bytes received (in) and sent (out)",
            metrics.rtp_bytes.clone(),
        );
        registry.register(
            "troupe_rtcp_feedback",
            "RTCP feedback received from receivers (pli, fir, nack) and sent to senders (pli_sent)",
            metrics.rtcp_feedback.clone(),
        );
        registry.register(
            "troupe_retransmissions",
            "Packets retransmitted to receivers (as RTX when negotiated) on their NACKs",
            metrics.retransmissions.clone(),
        );
        registry.register(
            "troupe_fan_out_shares_handed_off",
            format!(
                "Shares of a producer's split fan-out handed to a helper thread, one per helper per packet: a fan-out of {SPLIT_AT} or more consumers is split from {SPLIT_FROM_COPIES_PER_SECOND} copies/s"
            ),
            metrics.fan_out_handoffs.clone(),
        );
        registry.register(
            "troupe_round_trip_time_seconds",
            "Round-trip times to receivers, from their receiver reports",
            metrics.round_trip_time.0.clone(),
        );
        registry.register(
            "troupe_jitter_seconds",
            "Interarrival jitter of the streams producers send, as reported to them",
            metrics.jitter.0.clone(),
        );
        registry.register(
            "troupe_transport_failures",
            "WebRTC transports that lost ICE consent (ice_disconnected) or failed DTLS (dtls_failed)",
            metrics.transport_failures.clone(),
        );
        metrics
    }

    pub fn transport_failed(&self, kind: &str) {
        self.transport_failures
            .get_or_create(&KindLabel { kind: kind.into() })
            .inc();
    }

    pub fn drop_packet(&self, reason: &str) {
        self.dropped
            .get_or_create(&ReasonLabel {
                reason: reason.into(),
            })
            .inc();
    }

    pub fn dropped_for(&self, reason: &str) -> u64 {
        self.dropped
            .get_or_create(&ReasonLabel {
                reason: reason.into(),
            })
            .get()
    }

    pub fn rtp_received(&self, bytes: usize) {
        self.rtp_in.0.inc();
        self.rtp_in.1.inc_by(bytes as u64);
    }

    /// Where `rtp_sent` reads its counters' addresses: every transport
    /// holds its own copy of these handles, one more line a copy touches.
    pub fn rtp_sent_line(&self) -> usize {
        &self.rtp_out as *const _ as usize
    }

    pub fn rtp_sent(&self, bytes: usize) {
        self.rtp_out.0.inc();
        self.rtp_out.1.inc_by(bytes as u64);
    }

    pub fn feedback(&self, kind: &str) {
        self.rtcp_feedback
            .get_or_create(&KindLabel { kind: kind.into() })
            .inc();
    }

    pub fn object_opened(&self, kind: &str) {
        self.objects
            .get_or_create(&KindLabel { kind: kind.into() })
            .inc();
    }

    pub fn object_closed(&self, kind: &str) {
        self.objects
            .get_or_create(&KindLabel { kind: kind.into() })
            .dec();
    }

    pub fn failure(&self, kind: &str, reason: &str) {
        self.failures
            .get_or_create(&FailureLabels {
                kind: kind.into(),
                reason: reason.into(),
            })
            .inc();
    }

    pub fn alive(&self, kind: &str) -> i64 {
        self.objects
            .get_or_create(&KindLabel { kind: kind.into() })
            .get()
    }

    pub fn failures_of(&self, kind: &str, reason: &str) -> u64 {
        self.failures
            .get_or_create(&FailureLabels {
                kind: kind.into(),
                reason: reason.into(),
            })
            .get()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_packets_count_handles_share_one_cache_line() {
        // Aligned to their size, 16 bytes never straddle a 64-byte line.
        assert_eq!(std::mem::size_of::<PacketsAndBytes>(), 16);
        assert_eq!(std::mem::align_of::<PacketsAndBytes>(), 16);
        let metrics = ActorMetrics::default();
        assert_eq!(
            metrics.rtp_sent_line(),
            &metrics.rtp_out as *const _ as usize
        );
    }
}
