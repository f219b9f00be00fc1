//! A producer's side of the packet path: incoming RTP mapped to the router's
//! payload types and extension ids, then handed to each consumer.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::Instant;

use troupe_transports::key_frame::VideoCodec;
use troupe_transports::rtp_packet::RtpHeader;

use crate::media::consumer_media::ConsumerMedia;
use crate::media::webrtc_endpoint::WebRtcEndpoint;
use crate::media::MediaHandle;
use crate::metrics::ActorMetrics;
use crate::producer::{ProducerShared, KEY_FRAME_REQUEST_INTERVAL};
use crate::rtp_parameters::MediaKind;

/// A packet as the router sees it, ready for every consumer.
pub struct RoutedPacket<'a> {
    pub packet: &'a [u8],
    pub header: RtpHeader,
    /// The router's payload type.
    pub payload_type: u8,
    /// Extensions under the router's ids.
    pub extensions: Vec<(u8, &'a [u8])>,
    pub is_key_frame: bool,
}

pub struct ProducerMedia {
    pub shared: Arc<ProducerShared>,
    endpoint: Option<Weak<WebRtcEndpoint>>,
    metrics: ActorMetrics,
    /// Client extension id → router extension id (0: drop).
    extension_map: [u8; 256],
    video_codec: Option<VideoCodec>,
    consumers: RwLock<Vec<Arc<ConsumerMedia>>>,
    last_key_frame_request: Mutex<Option<Instant>>,
    paused: std::sync::atomic::AtomicBool,
    closed: std::sync::atomic::AtomicBool,
}

impl ProducerMedia {
    pub fn new(
        shared: Arc<ProducerShared>,
        endpoint: Option<Weak<WebRtcEndpoint>>,
        extension_ids: &[(u8, u8)],
        metrics: ActorMetrics,
        paused: bool,
    ) -> Arc<Self> {
        let mut extension_map = [0u8; 256];
        for (from, to) in extension_ids {
            extension_map[usize::from(*from)] = *to;
        }
        let video_codec = match shared.kind {
            MediaKind::Video => shared
                .rtp_parameters
                .codecs
                .first()
                .and_then(|c| VideoCodec::from_mime(&c.mime_type)),
            MediaKind::Audio => None,
        };
        Arc::new(ProducerMedia {
            shared,
            endpoint,
            metrics,
            extension_map,
            video_codec,
            consumers: RwLock::new(Vec::new()),
            last_key_frame_request: Mutex::new(None),
            paused: paused.into(),
            closed: false.into(),
        })
    }

    pub fn add_consumer(&self, consumer: Arc<ConsumerMedia>) {
        if let Ok(mut consumers) = self.consumers.write() {
            consumers.push(consumer);
        }
    }

    pub fn remove_consumer(&self, consumer: &ConsumerMedia) {
        if let Ok(mut consumers) = self.consumers.write() {
            consumers.retain(|c| !std::ptr::eq(c.as_ref(), consumer));
        }
    }

    pub fn set_paused(&self, paused: bool) {
        self.paused.store(paused, Relaxed);
    }

    /// Which encoding a packet with this SSRC belongs to.
    pub fn encoding_of(&self, ssrc: u32) -> Option<usize> {
        self.shared
            .rtp_parameters
            .encodings
            .iter()
            .position(|e| e.ssrc == Some(ssrc))
    }

    /// The original SSRCs of the producer's media streams (for PLI).
    fn media_ssrcs(&self) -> Vec<u32> {
        self.shared
            .rtp_parameters
            .encodings
            .iter()
            .filter_map(|e| e.ssrc)
            .collect()
    }

    /// One RTP packet from the producer's transport, already unprotected.
    pub fn receive(&self, packet: &[u8], header: RtpHeader, encoding: usize, now: Instant) {
        if self.closed.load(Relaxed) {
            return;
        }
        if let Some(counters) = self.shared.counters.get(encoding) {
            counters.packets.fetch_add(1, Relaxed);
            counters.bytes.fetch_add(packet.len() as u64, Relaxed);
        }
        if self.paused.load(Relaxed) {
            return;
        }
        let Some(payload_type) = self
            .shared
            .rtp_mapping
            .codecs
            .iter()
            .find(|m| m.payload_type == header.payload_type)
            .map(|m| m.mapped_payload_type)
        else {
            self.metrics.drop_packet("unknown_payload_type");
            return;
        };
        let extensions = header
            .extensions(packet)
            .filter_map(|(id, value)| {
                let mapped = self.extension_map[usize::from(id)];
                (mapped != 0).then_some((mapped, value))
            })
            .collect();
        let is_key_frame = match self.video_codec {
            Some(codec) => codec.is_key_frame(header.payload(packet)),
            None => true,
        };
        let routed = RoutedPacket {
            packet,
            header,
            payload_type,
            extensions,
            is_key_frame,
        };
        // Forwarding happens under the read lock: consumers are added and
        // removed rarely, and nothing in `forward` takes this lock.
        let Ok(consumers) = self.consumers.read() else {
            return;
        };
        for consumer in consumers.iter() {
            consumer.forward(&routed, now);
        }
    }

    /// Asks the sender for a key frame with a PLI, at most once a second.
    pub fn request_key_frame(&self) {
        if self.shared.kind != MediaKind::Video || self.closed.load(Relaxed) {
            return;
        }
        {
            let Ok(mut last) = self.last_key_frame_request.lock() else {
                return;
            };
            if last.is_some_and(|t| t.elapsed() < KEY_FRAME_REQUEST_INTERVAL) {
                return;
            }
            *last = Some(Instant::now());
        }
        let Some(endpoint) = self.endpoint.as_ref().and_then(Weak::upgrade) else {
            return;
        };
        for (i, ssrc) in self.media_ssrcs().into_iter().enumerate() {
            if endpoint.send_picture_loss_indication(ssrc) {
                self.metrics.feedback("pli_sent");
                if let Some(c) = self.shared.counters.get(i) {
                    c.pli_count.fetch_add(1, Relaxed);
                }
            }
        }
    }
}

impl MediaHandle for ProducerMedia {
    fn close(&self) {
        self.closed.store(true, Relaxed);
        if let Ok(mut consumers) = self.consumers.write() {
            consumers.clear();
        }
        if let Some(endpoint) = self.endpoint.as_ref().and_then(Weak::upgrade) {
            endpoint.remove_producer(&self.shared.id);
        }
    }
}
