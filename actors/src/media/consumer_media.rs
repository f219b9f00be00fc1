//! A consumer's side of the packet path: gate on key frames, rewrite SSRC,
//! sequence number, timestamp and extensions, and send through its
//! transport.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Arc, Mutex, Weak};
use std::time::Instant;

use troupe_transports::rtp_packet::{rebuild, Rewrite};
use troupe_transports::stream_rewriter::StreamRewriter;

use crate::media::producer_media::{ProducerMedia, RoutedPacket};
use crate::media::webrtc_endpoint::WebRtcEndpoint;
use crate::media::MediaHandle;
use crate::ortc::MID_URI;
use crate::rtp_parameters::{MediaKind, RtpParameters};
use crate::stats::StreamCounters;

struct SendState {
    rewriter: StreamRewriter,
    waiting_for_key_frame: bool,
    buffer: Vec<u8>,
}

pub struct ConsumerMedia {
    pub id: String,
    pub ssrc: u32,
    kind: MediaKind,
    mid: Option<String>,
    /// Router payload types this consumer may receive.
    payload_types: Vec<u8>,
    /// Router extension ids this consumer negotiated; the MID one is rewritten.
    extension_ids: Vec<u8>,
    mid_extension_id: Option<u8>,
    producer: Weak<ProducerMedia>,
    endpoint: Weak<WebRtcEndpoint>,
    pub counters: Arc<StreamCounters>,
    paused: AtomicBool,
    producer_paused: AtomicBool,
    closed: AtomicBool,
    state: Mutex<SendState>,
    pub key_frame_requests: AtomicU64,
}

impl ConsumerMedia {
    pub fn new(
        id: &str,
        parameters: &RtpParameters,
        kind: MediaKind,
        producer: &Arc<ProducerMedia>,
        endpoint: Weak<WebRtcEndpoint>,
        paused: bool,
        producer_paused: bool,
    ) -> Arc<Self> {
        let clock_rate = parameters
            .codecs
            .first()
            .map(|c| c.clock_rate)
            .unwrap_or(90_000);
        let initial_seq: u16 = rand::random();
        let initial_ts: u32 = rand::random();
        Arc::new(ConsumerMedia {
            id: id.to_string(),
            ssrc: parameters
                .encodings
                .first()
                .and_then(|e| e.ssrc)
                .unwrap_or_default(),
            kind,
            mid: parameters.mid.clone(),
            payload_types: parameters.codecs.iter().map(|c| c.payload_type).collect(),
            extension_ids: parameters.header_extensions.iter().map(|e| e.id).collect(),
            mid_extension_id: parameters
                .header_extensions
                .iter()
                .find(|e| e.uri == MID_URI)
                .map(|e| e.id),
            producer: Arc::downgrade(producer),
            endpoint,
            counters: Arc::new(StreamCounters::default()),
            paused: paused.into(),
            producer_paused: producer_paused.into(),
            closed: false.into(),
            state: Mutex::new(SendState {
                rewriter: StreamRewriter::new(clock_rate, initial_seq, initial_ts),
                waiting_for_key_frame: kind == MediaKind::Video,
                buffer: Vec::with_capacity(1500),
            }),
            key_frame_requests: AtomicU64::new(0),
        })
    }

    fn active(&self) -> bool {
        !self.paused.load(Relaxed)
            && !self.producer_paused.load(Relaxed)
            && !self.closed.load(Relaxed)
    }

    pub fn set_paused(&self, paused: bool) {
        let was_active = self.active();
        self.paused.store(paused, Relaxed);
        self.after_state_change(was_active);
    }

    pub fn set_producer_paused(&self, paused: bool) {
        let was_active = self.active();
        self.producer_paused.store(paused, Relaxed);
        self.after_state_change(was_active);
    }

    /// Resuming starts a new segment of the stream; video waits for (and
    /// asks for) a key frame.
    fn after_state_change(&self, was_active: bool) {
        if !was_active && self.active() {
            if let Ok(mut state) = self.state.lock() {
                state.rewriter.resync();
                state.waiting_for_key_frame = self.kind == MediaKind::Video;
            }
            self.request_key_frame();
        }
    }

    pub fn request_key_frame(&self) {
        self.key_frame_requests.fetch_add(1, Relaxed);
        if let Some(producer) = self.producer.upgrade() {
            producer.request_key_frame();
        }
    }

    pub fn forward(&self, routed: &RoutedPacket<'_>, now: Instant) {
        if !self.active() || !self.payload_types.contains(&routed.payload_type) {
            return;
        }
        let Some(endpoint) = self.endpoint.upgrade() else {
            return;
        };
        let Ok(mut state) = self.state.lock() else {
            return;
        };
        if state.waiting_for_key_frame {
            if !routed.is_key_frame {
                drop(state);
                self.request_key_frame();
                return;
            }
            state.waiting_for_key_frame = false;
            state.rewriter.resync();
        }
        let Some((sequence_number, timestamp)) =
            state
                .rewriter
                .rewrite(routed.header.sequence_number, routed.header.timestamp, now)
        else {
            return;
        };
        let mut extensions: Vec<(u8, &[u8])> = Vec::with_capacity(routed.extensions.len());
        for (id, value) in &routed.extensions {
            if Some(*id) == self.mid_extension_id {
                // The receiver demultiplexes by MID: it must be this consumer's.
                if let Some(mid) = &self.mid {
                    extensions.push((*id, mid.as_bytes()));
                }
            } else if self.extension_ids.contains(id) {
                extensions.push((*id, value));
            }
        }
        let rewrite = Rewrite {
            payload_type: routed.payload_type,
            sequence_number,
            timestamp,
            ssrc: self.ssrc,
            marker: routed.header.marker,
        };
        let SendState { buffer, .. } = &mut *state;
        rebuild(routed.packet, &routed.header, &rewrite, &extensions, buffer);
        if endpoint.send_rtp(buffer) {
            self.counters.packets.fetch_add(1, Relaxed);
            self.counters.bytes.fetch_add(buffer.len() as u64, Relaxed);
        }
    }
}

impl MediaHandle for ConsumerMedia {
    fn close(&self) {
        self.closed.store(true, Relaxed);
        if let Some(producer) = self.producer.upgrade() {
            producer.remove_consumer(self);
        }
        if let Some(endpoint) = self.endpoint.upgrade() {
            endpoint.remove_consumer(self.ssrc);
        }
    }
}
