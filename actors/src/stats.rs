//! Counters the media path increments and the stats objects (mediasoup's
//! field names) the API shows.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;
use utoipa::ToSchema;

use crate::rtp_parameters::MediaKind;

/// Adds to a counter that only holders of one lock write (a transport's
/// send state, a consumer's): a plain load and store rather than a locked
/// add, one locked instruction fewer per copy (too small to measure alone
/// on this machine; the lock is held anyway). Readers, who take no lock,
/// still see whole values.
pub fn add_by_lock_holder(counter: &AtomicU64, value: u64) {
    counter.store(counter.load(Relaxed).wrapping_add(value), Relaxed);
}

/// Per RTP stream counters, written by the packet path without locks.
/// In this order (`repr(C)`): packets and bytes, counted for every packet,
/// lead, and a consumer's hot lines end with them.
#[derive(Debug, Default)]
#[repr(C)]
pub struct StreamCounters {
    pub packets: AtomicU64,
    pub bytes: AtomicU64,
    pub packets_lost: AtomicU64,
    pub packets_discarded: AtomicU64,
    pub packets_retransmitted: AtomicU64,
    pub packets_repaired: AtomicU64,
    pub nack_count: AtomicU64,
    pub nack_packet_count: AtomicU64,
    pub pli_count: AtomicU64,
    pub fir_count: AtomicU64,
    /// Bits per second over the last second, sampled by the transport.
    pub bitrate: AtomicU64,
    /// Latest round-trip time in microseconds (0: unknown).
    pub round_trip_time_us: AtomicU64,
    /// Latest fraction lost, 0-255 as in RTCP (from reports or our own).
    pub fraction_lost: AtomicU64,
    /// Bytes at the last bitrate sample.
    bytes_at_sample: AtomicU64,
}

impl StreamCounters {
    /// Updates `bitrate` from the bytes counted since the last sample,
    /// `elapsed` ago.
    pub fn sample_bitrate(&self, elapsed: std::time::Duration) {
        let bytes = self.bytes.load(Relaxed);
        let before = self.bytes_at_sample.swap(bytes, Relaxed);
        let micros = elapsed.as_micros().max(1) as u64;
        self.bitrate.store(
            bytes.saturating_sub(before) * 8 * 1_000_000 / micros,
            Relaxed,
        );
    }
}

/// mediasoup's scale for a stream's quality from its fraction lost (0-255):
/// 10 is perfect, each tenth of packets lost costs a point.
pub fn score_of(fraction_lost: u64) -> u8 {
    (10 - (fraction_lost.min(255) * 10 / 256).min(10)) as u8
}

pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default()
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RtpStreamStats {
    /// `inbound-rtp` for producers, `outbound-rtp` for consumers.
    #[serde(rename = "type")]
    pub stats_type: String,
    pub timestamp: u64,
    pub ssrc: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rtx_ssrc: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rid: Option<String>,
    pub kind: MediaKind,
    pub mime_type: String,
    pub packets_lost: u64,
    pub fraction_lost: f64,
    pub packets_discarded: u64,
    pub packets_retransmitted: u64,
    pub packets_repaired: u64,
    pub nack_count: u64,
    pub nack_packet_count: u64,
    pub pli_count: u64,
    pub fir_count: u64,
    pub score: u8,
    pub byte_count: u64,
    pub packet_count: u64,
    pub bitrate: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub round_trip_time: Option<f64>,
    /// A simulcast or SVC consumer's layers forwarded now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_layers: Option<ConsumerLayers>,
}

/// `{spatialLayer, temporalLayer}` as mediasoup's consumer layers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConsumerLayers {
    pub spatial_layer: u8,
    pub temporal_layer: u8,
}

impl RtpStreamStats {
    pub fn from_counters(
        stats_type: &str,
        ssrc: u32,
        rtx_ssrc: Option<u32>,
        rid: Option<String>,
        kind: MediaKind,
        mime_type: &str,
        counters: &StreamCounters,
    ) -> Self {
        let packets = counters.packets.load(Relaxed);
        let lost = counters.packets_lost.load(Relaxed);
        let fraction = counters.fraction_lost.load(Relaxed).min(255);
        let rtt_us = counters.round_trip_time_us.load(Relaxed);
        RtpStreamStats {
            stats_type: stats_type.into(),
            timestamp: now_ms(),
            ssrc,
            rtx_ssrc,
            rid,
            kind,
            mime_type: mime_type.into(),
            packets_lost: lost,
            fraction_lost: fraction as f64 / 256.0,
            packets_discarded: counters.packets_discarded.load(Relaxed),
            packets_retransmitted: counters.packets_retransmitted.load(Relaxed),
            packets_repaired: counters.packets_repaired.load(Relaxed),
            nack_count: counters.nack_count.load(Relaxed),
            nack_packet_count: counters.nack_packet_count.load(Relaxed),
            pli_count: counters.pli_count.load(Relaxed),
            fir_count: counters.fir_count.load(Relaxed),
            score: score_of(fraction),
            byte_count: counters.bytes.load(Relaxed),
            packet_count: packets,
            bitrate: counters.bitrate.load(Relaxed),
            // Milliseconds, as mediasoup reports it.
            round_trip_time: (rtt_us > 0).then(|| rtt_us as f64 / 1000.0),
            current_layers: None,
        }
    }
}

/// Transport-level byte counters.
#[derive(Debug, Default)]
pub struct TransportCounters {
    pub bytes_received: AtomicU64,
    pub bytes_sent: AtomicU64,
    pub rtp_bytes_received: AtomicU64,
    pub rtp_bytes_sent: AtomicU64,
    pub recv_bitrate: AtomicU64,
    pub send_bitrate: AtomicU64,
    sampled: (AtomicU64, AtomicU64),
}

impl TransportCounters {
    /// Updates both bitrates from the bytes counted since the last sample.
    pub fn sample_bitrates(&self, elapsed: std::time::Duration) {
        let micros = elapsed.as_micros().max(1) as u64;
        let rate = |now: u64, before: &AtomicU64| {
            now.saturating_sub(before.swap(now, Relaxed)) * 8 * 1_000_000 / micros
        };
        self.recv_bitrate.store(
            rate(self.bytes_received.load(Relaxed), &self.sampled.0),
            Relaxed,
        );
        self.send_bitrate.store(
            rate(self.bytes_sent.load(Relaxed), &self.sampled.1),
            Relaxed,
        );
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TransportStats {
    #[serde(rename = "type")]
    pub stats_type: String,
    pub transport_id: String,
    pub timestamp: u64,
    pub bytes_received: u64,
    pub recv_bitrate: u64,
    pub bytes_sent: u64,
    pub send_bitrate: u64,
    pub rtp_bytes_received: u64,
    pub rtp_bytes_sent: u64,
    /// What the senders on this transport may send: Troupe's own estimate
    /// for senders that take REMB, else the bitrate arriving (senders with
    /// transport-cc estimate for themselves from Troupe's feedback); never
    /// above `maxIncomingBitrate`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub available_incoming_bitrate: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_incoming_bitrate: Option<u64>,
    /// What this transport may send, from its receiver's transport-cc
    /// feedback (or REMB), within max/minOutgoingBitrate; shared among its
    /// simulcast consumers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub available_outgoing_bitrate: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_outgoing_bitrate: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_outgoing_bitrate: Option<u64>,
}

impl TransportStats {
    pub fn from_counters(stats_type: &str, transport_id: &str, c: &TransportCounters) -> Self {
        TransportStats {
            stats_type: stats_type.into(),
            transport_id: transport_id.into(),
            timestamp: now_ms(),
            bytes_received: c.bytes_received.load(Relaxed),
            recv_bitrate: c.recv_bitrate.load(Relaxed),
            bytes_sent: c.bytes_sent.load(Relaxed),
            send_bitrate: c.send_bitrate.load(Relaxed),
            rtp_bytes_received: c.rtp_bytes_received.load(Relaxed),
            rtp_bytes_sent: c.rtp_bytes_sent.load(Relaxed),
            available_incoming_bitrate: None,
            max_incoming_bitrate: None,
            available_outgoing_bitrate: None,
            max_outgoing_bitrate: None,
            min_outgoing_bitrate: None,
        }
    }
}

impl From<troupe_transports::layer_selector::LayerIndices> for ConsumerLayers {
    fn from(layers: troupe_transports::layer_selector::LayerIndices) -> Self {
        ConsumerLayers {
            spatial_layer: layers.spatial,
            temporal_layer: layers.temporal,
        }
    }
}
