//! A consumer's side of the packet path: gate on key frames, rewrite SSRC,
//! sequence number, timestamp and extensions, send through its transport;
//! answer NACKs from a retransmission buffer (as RTX when negotiated), send
//! sender reports and read the receiver's reports (loss, RTT).

use std::cell::RefCell;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU64, AtomicU8, AtomicUsize};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use troupe_transports::bwe::layer_allocation::Demand;
use troupe_transports::key_frame::VideoCodec;
use troupe_transports::layer_selector::{LayerIndices, LayerSelector, Patch, Verdict};
use troupe_transports::retransmission_buffer::{
    reassemble, rtx_packet, RetransmissionBuffer, Source,
};
use troupe_transports::rtcp_feedback;
use troupe_transports::rtp_packet::{overwrite_extension, rebuild, Rewrite, RtpHeader};
use troupe_transports::stream_rewriter::StreamRewriter;

use crate::media::id_set::IdSet;
use crate::media::prefetch::prefetch;
use crate::media::producer_media::{ProducerMedia, RoutedPacket, MAX_EXTENSIONS, REPORT_INTERVAL};
use crate::media::transport_core::{MediaTransport, SendPathLines};
use crate::media::MediaHandle;
use crate::object_kind::ObjectKind;
use crate::ortc::{Renumbering, MID_URI, TRANSPORT_CC_URI};
use crate::rtp_parameters::{MediaKind, RtpParameters};
use crate::stats::{add_by_lock_holder, score_of, StreamCounters};

/// `current_layers` while no layer is forwarded.
const NO_LAYERS: u16 = u16::MAX;

/// Runs `send` with this thread's buffer for outgoing copies. One buffer
/// per thread rather than per consumer: a fan-out to hundreds of consumers
/// then writes every copy into the same hot cache lines instead of a cold
/// 1,500-byte buffer each, and a consumer holds no buffer of its own.
fn with_outgoing_buffer(send: impl FnOnce(&mut Vec<u8>)) {
    thread_local! {
        static OUTGOING: RefCell<Vec<u8>> = RefCell::new(Vec::with_capacity(1500));
    }
    OUTGOING.with(|cell| match cell.try_borrow_mut() {
        Ok(mut buffer) => send(&mut buffer),
        // Only if a send ever led back here on the same thread.
        Err(_) => send(&mut Vec::with_capacity(1500)),
    })
}

/// A packet is sent again at most once per round trip, and never more
/// often than this.
const MIN_RESEND_INTERVAL: Duration = Duration::from_millis(100);

/// Copies kept for retransmission at most (the last 2 s of them, up to
/// this), as many as the producer keeps packets.
const RETRANSMISSION_BUFFER: usize = crate::media::producer_media::HISTORY_PACKETS;

struct SendState {
    rewriter: StreamRewriter,
    waiting_for_key_frame: bool,
    retransmissions: Option<RetransmissionBuffer>,
    rtx_sequence: u16,
    last_out_timestamp: u32,
    last_out_at: Option<Instant>,
    /// Temporal layers (VP8, VP9) and spatial layers (VP9 SVC) forwarded.
    /// Boxed: most consumers have none, and the send state of every
    /// consumer stays a few cache lines.
    layers: Option<Box<LayerSelector>>,
}

/// The RTX stream negotiated for a consumer.
#[derive(Debug, Clone, Copy)]
struct Rtx {
    payload_type: u8,
    ssrc: u32,
}

/// What `forward` reads of a consumer: up to its packet and byte counts.
const HOT_BYTES: usize = std::mem::offset_of!(ConsumerMedia, counters) + 2 * size_of::<u64>();

#[repr(C, align(64))]
pub struct ConsumerMedia {
    // Laid out in this order (`repr(C)`, from the start of a line): what
    // `forward` reads for every copy comes first, in six lines
    // (`HOT_BYTES`, held to it by a test), so a fan-out prefetches those
    // rather than the whole value (`prefetch_own`).
    state: Mutex<SendState>,
    endpoint: Weak<dyn MediaTransport>,
    /// Where sending through `endpoint` first touches memory.
    endpoint_lines: SendPathLines,
    /// Where the next copy will be kept for retransmission (0: nowhere).
    next_kept_slot: AtomicUsize,
    /// The producer encoding (simulcast spatial layer) forwarded now, and
    /// the one wanted; a switch happens on the wanted one's key frame.
    current_encoding: AtomicUsize,
    target_encoding: AtomicUsize,
    /// The highest simulcast stream, or SVC spatial layer, the transport's
    /// bandwidth allows (`usize::MAX`: no limit), set by its allocation.
    bandwidth_limit: AtomicUsize,
    /// Router payload types this consumer may receive.
    payload_types: IdSet,
    /// Router extension ids this consumer negotiated; MID and transport-wide
    /// sequence numbers are rewritten.
    extension_ids: IdSet,
    /// The receiver's own numbers, where it chose them (a WHEP player);
    /// `None` for mediasoup-client's, which are the router's. Boxed: few
    /// consumers have one.
    renumbering: Option<Box<Renumbering>>,
    mid: Option<Box<str>>,
    pub ssrc: u32,
    paused: AtomicBool,
    producer_paused: AtomicBool,
    closed: AtomicBool,
    mid_extension_id: Option<u8>,
    transport_cc_extension_id: Option<u8>,
    /// Whether this consumer chooses layers at all (simulcast and SVC
    /// consumers).
    layered: bool,
    /// Its packet and byte counts lead: the rest of it is not on the path.
    pub counters: StreamCounters,
    // Nothing below is read on the path of a forwarded copy.
    pub id: String,
    metrics: crate::metrics::ActorMetrics,
    /// When the last sender report went out (RTCP, once a second).
    last_sender_report: Mutex<Option<Instant>>,
    kind: MediaKind,
    clock_rate: u32,
    /// The transport-cc extension id the receiver knows.
    client_transport_cc_id: Option<u8>,
    rtx: Option<Rtx>,
    producer: Weak<ProducerMedia>,
    pub key_frame_requests: AtomicU64,
    /// Whether the producer's layers are simulcast streams.
    simulcast: bool,
    /// The producer's highest temporal layer.
    top_temporal_layer: u8,
    /// Whether it has a layer selector (made once, with the consumer).
    selects_layers: bool,
    /// The layers forwarded now (spatial << 8 | temporal), for stats and the
    /// `layerschange` notification.
    current_layers: AtomicU16,
    /// (own score << 8 | the producer's) as last notified.
    notified_score: AtomicU16,
    /// Its codec's payload type (not RTX's).
    media_payload_type: Option<u8>,
    /// Whether its layers are a VP9 SVC stream's, whose bitrates the
    /// producer measures (then the transport's allocation limits them).
    svc: bool,
    /// mediasoup's consumer priority: its share of a thin link.
    priority: AtomicU8,
    /// The SVC spatial layer preferred; the selector gets it within the
    /// bandwidth limit.
    preferred_spatial: AtomicU8,
    /// The temporal layer preferred, and the highest the bandwidth allows
    /// (`u8::MAX`: no limit); the selector gets the lower.
    preferred_temporal: AtomicU8,
    temporal_limit: AtomicU8,
}

impl ConsumerMedia {
    /// `target_layers` is given for a consumer that chooses among the
    /// producer's layers (simulcast and SVC), and says which it starts with.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        id: &str,
        parameters: &RtpParameters,
        kind: MediaKind,
        producer: &Arc<ProducerMedia>,
        endpoint: Weak<dyn MediaTransport>,
        paused: bool,
        producer_paused: bool,
        target_layers: Option<LayerIndices>,
    ) -> Arc<Self> {
        let media_codec = parameters.codecs.iter().find(|c| !c.is_rtx());
        let clock_rate = media_codec.map(|c| c.clock_rate).unwrap_or(90_000);
        let nack = media_codec.is_some_and(|c| {
            c.rtcp_feedback
                .iter()
                .any(|f| f.kind == "nack" && f.parameter.is_empty())
        });
        if nack {
            producer.keep_packets();
        }
        let encoding = parameters.encodings.first();
        let rtx = match (
            parameters.codecs.iter().find(|c| c.is_rtx()),
            encoding.and_then(|e| e.rtx),
        ) {
            (Some(codec), Some(rtx)) => Some(Rtx {
                payload_type: codec.payload_type,
                ssrc: rtx.ssrc,
            }),
            _ => None,
        };
        let renumbering =
            Renumbering::between(&producer.shared.consumable_rtp_parameters, parameters);
        let client_id_of = |uri: &str| {
            parameters
                .header_extensions
                .iter()
                .find(|e| e.uri == uri)
                .map(|e| e.id)
        };
        let router_extension_id = |client: u8| {
            renumbering
                .as_ref()
                .map_or(client, |r| r.router_extension_id(client))
        };
        let router_payload_type = |client: u8| {
            renumbering
                .as_ref()
                .map_or(client, |r| r.router_payload_type(client))
        };
        let simulcast = producer.shared.rtp_parameters.encodings.len() > 1;
        let layers = target_layers.and_then(|target| {
            let codec = media_codec.and_then(|c| VideoCodec::from_mime(&c.mime_type))?;
            // A simulcast stream's spatial layer is the stream itself.
            let within_stream = LayerIndices {
                spatial: if simulcast { 0 } else { target.spatial },
                temporal: target.temporal,
            };
            LayerSelector::new(codec, within_stream).map(Box::new)
        });
        let selects_layers = layers.is_some();
        let target_encoding = match (simulcast, target_layers) {
            (true, Some(target)) => usize::from(target.spatial),
            _ => producer
                .shared
                .rtp_parameters
                .encodings
                .len()
                .saturating_sub(1),
        };
        let initial_seq: u16 = rand::random();
        let initial_ts: u32 = rand::random();
        Arc::new(ConsumerMedia {
            id: id.to_string(),
            metrics: producer.metrics.clone(),
            ssrc: encoding.and_then(|e| e.ssrc).unwrap_or_default(),
            kind,
            clock_rate,
            mid: parameters.mid.as_deref().map(Box::from),
            payload_types: parameters
                .codecs
                .iter()
                .map(|c| router_payload_type(c.payload_type))
                .collect(),
            extension_ids: parameters
                .header_extensions
                .iter()
                .map(|e| router_extension_id(e.id))
                .collect(),
            mid_extension_id: client_id_of(MID_URI).map(router_extension_id),
            transport_cc_extension_id: client_id_of(TRANSPORT_CC_URI).map(router_extension_id),
            client_transport_cc_id: client_id_of(TRANSPORT_CC_URI),
            renumbering: renumbering.map(Box::new),
            rtx,
            producer: Arc::downgrade(producer),
            endpoint_lines: endpoint
                .upgrade()
                .map_or_else(SendPathLines::default, |e| e.send_path_lines()),
            next_kept_slot: AtomicUsize::new(0),
            endpoint,
            counters: StreamCounters::default(),
            paused: paused.into(),
            producer_paused: producer_paused.into(),
            closed: false.into(),
            state: Mutex::new(SendState {
                rewriter: StreamRewriter::new(clock_rate, initial_seq, initial_ts),
                waiting_for_key_frame: kind == MediaKind::Video,
                retransmissions: nack.then(|| RetransmissionBuffer::new(RETRANSMISSION_BUFFER)),
                rtx_sequence: rand::random(),
                last_out_timestamp: initial_ts,
                last_out_at: None,
                layers,
            }),
            last_sender_report: Mutex::new(None),
            key_frame_requests: AtomicU64::new(0),
            current_encoding: AtomicUsize::new(usize::MAX),
            target_encoding: AtomicUsize::new(target_encoding),
            layered: target_layers.is_some() && kind == MediaKind::Video,
            simulcast,
            top_temporal_layer: producer.shared.layers().temporal.saturating_sub(1),
            selects_layers,
            current_layers: AtomicU16::new(NO_LAYERS),
            notified_score: AtomicU16::new(u16::MAX),
            media_payload_type: media_codec.map(|c| c.payload_type),
            svc: selects_layers && !simulcast && producer.svc_layers().is_some(),
            bandwidth_limit: AtomicUsize::new(usize::MAX),
            priority: AtomicU8::new(1),
            preferred_spatial: AtomicU8::new(target_layers.map_or(0, |t| t.spatial)),
            preferred_temporal: AtomicU8::new(target_layers.map_or(u8::MAX, |t| t.temporal)),
            temporal_limit: AtomicU8::new(u8::MAX),
        })
    }

    /// Starts loading this consumer's own lines, well ahead of its copy:
    /// the ones `forward` reads, which its layout puts first. Reads
    /// nothing: its lines are cold, and a read here would wait for them
    /// (measured: the prefetch's own reads of the endpoint's address were
    /// half a fan-out thread's user time at N=500).
    pub fn prefetch_own(self: &Arc<Self>) {
        // Aligned to a line, the value starts one; its reference counts,
        // which a copy does not touch, sit in the line before.
        let start = Arc::as_ptr(self).cast::<u8>();
        for offset in (0..HOT_BYTES).step_by(64) {
            prefetch(start.wrapping_add(offset));
        }
    }

    /// Starts loading what this consumer's send touches in its transport,
    /// once `prefetch_own` has brought the addresses in.
    pub fn prefetch_send_path(&self) {
        // The transport's reference counts, which `forward` updates (the
        // 16 bytes before its value: in the value's first line, or for a
        // value aligned to a line such as a plain endpoint's, in the line
        // before), and what its send reads and counts.
        prefetch(self.endpoint.as_ptr().cast::<u8>().wrapping_sub(16));
        let kept = self.next_kept_slot.load(Relaxed);
        for line in self
            .endpoint_lines
            .into_iter()
            .chain(std::iter::once(kept))
            .filter(|l| *l != 0)
        {
            prefetch(line as *const u8);
        }
    }

    /// Which share of a split fan-out this consumer is in (stable).
    pub fn share(&self, shares: usize) -> usize {
        self.ssrc as usize % shares.max(1)
    }

    /// The SSRCs this consumer sends with (media, and RTX if any).
    pub fn ssrcs(&self) -> Vec<u32> {
        std::iter::once(self.ssrc)
            .chain(self.rtx.map(|r| r.ssrc))
            .collect()
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

    /// Asks for a key frame of the stream this consumer forwards or is
    /// switching to.
    pub fn request_key_frame(&self) {
        self.key_frame_requests.fetch_add(1, Relaxed);
        let Some(producer) = self.producer.upgrade() else {
            return;
        };
        let encoding = if self.simulcast {
            self.wanted_encoding(producer.active_encodings_now())
        } else {
            0
        };
        producer.request_key_frames(1 << encoding.min(31));
    }

    /// The layers to forward: a simulcast stream switch happens on that
    /// stream's next key frame, a VP9 spatial switch on the next key frame
    /// (both requested now), a temporal switch where the stream allows.
    pub fn set_target_layers(&self, target: LayerIndices) {
        let mut key_frame_needed = false;
        if self.simulcast {
            let encoding = usize::from(target.spatial);
            key_frame_needed |= self.target_encoding.swap(encoding, Relaxed) != encoding;
        }
        self.preferred_spatial.store(target.spatial, Relaxed);
        self.preferred_temporal.store(target.temporal, Relaxed);
        key_frame_needed |= self.update_selector_target();
        if key_frame_needed {
            self.request_key_frame();
        }
    }

    /// Gives the layer selector the preferred layers within the bandwidth
    /// limits; true if an SVC spatial switch now needs a key frame.
    fn update_selector_target(&self) -> bool {
        let temporal = self
            .preferred_temporal
            .load(Relaxed)
            .min(self.temporal_limit.load(Relaxed));
        let spatial_limit = u8::try_from(self.bandwidth_limit.load(Relaxed)).unwrap_or(u8::MAX);
        let spatial = self.preferred_spatial.load(Relaxed).min(spatial_limit);
        let Ok(mut state) = self.state.lock() else {
            return false;
        };
        let Some(layers) = state.layers.as_mut() else {
            return false;
        };
        layers.set_target(LayerIndices {
            spatial: if self.simulcast { 0 } else { spatial },
            temporal,
        });
        !self.simulcast && layers.needs_key_frame()
    }

    /// Temporal layers a bandwidth allocation can choose among: none
    /// without a selector (every temporal layer goes out).
    fn allocatable_temporal_layers(&self) -> usize {
        if self.selects_layers {
            usize::from(self.top_temporal_layer) + 1
        } else {
            1
        }
    }

    /// The simulcast stream to forward: the preferred one within what the
    /// bandwidth allows, else the best being sent below it.
    fn wanted_encoding(&self, active: u32) -> usize {
        let allowed = self
            .target_encoding
            .load(Relaxed)
            .min(self.bandwidth_limit.load(Relaxed));
        best_active_encoding(allowed, active)
    }

    /// Whether the link's share no longer holds the stream forwarded now
    /// and a lower one has been chosen in its place.
    fn link_forces_step_down(&self, current: usize, target: usize) -> bool {
        current != usize::MAX && target < current && self.bandwidth_limit.load(Relaxed) < current
    }

    /// The layers (each simulcast stream at each temporal layer, by cost
    /// order within a stream) and their bitrates now, the preferred one and
    /// the priority, for the transport's allocation; `None` for a consumer
    /// it does not allocate (not simulcast, or paused).
    pub fn bandwidth_demand(&self) -> Option<Demand> {
        if !(self.simulcast || self.svc) || !self.active() {
            return None;
        }
        let producer = self.producer.upgrade()?;
        if self.svc {
            return self.svc_demand(&producer);
        }
        let active = producer.active_encodings_now();
        let temporal_layers = self.allocatable_temporal_layers();
        let top = (temporal_layers - 1) as u8;
        let preferred_temporal =
            usize::from(self.preferred_temporal.load(Relaxed)).min(temporal_layers - 1);
        // Frame rate is given up only in the lowest stream sent (640 px at
        // 20 fps looks better than 1280 px at 5), and where it is preferred.
        let lowest_active = active.trailing_zeros() as usize;
        let mut layers = Vec::new();
        for (i, counters) in producer.shared.counters.iter().enumerate() {
            let bitrate = (active & (1 << i.min(31)) != 0).then(|| counters.bitrate.load(Relaxed));
            for temporal in 0..temporal_layers {
                let offered = i == lowest_active
                    || temporal == temporal_layers - 1
                    || temporal == preferred_temporal;
                let share = temporal_layers_share(temporal as u8, top);
                layers.push(
                    bitrate
                        .filter(|_| offered)
                        .map(|b| (b as f64 * share) as u64),
                );
            }
        }
        let preferred = self.target_encoding.load(Relaxed) * temporal_layers + preferred_temporal;
        Some(self.demand(layers, temporal_layers, preferred))
    }

    /// A demand of `layers` (spatial-major, `temporal_layers` each), with
    /// the limit it has now.
    fn demand(&self, layers: Vec<Option<u64>>, temporal_layers: usize, preferred: usize) -> Demand {
        let limit = self.bandwidth_limit.load(Relaxed);
        let temporal_limit =
            usize::from(self.temporal_limit.load(Relaxed)).min(temporal_layers - 1);
        Demand {
            priority: self.priority.load(Relaxed),
            layers,
            preferred,
            current: (limit != usize::MAX).then(|| limit * temporal_layers + temporal_limit),
        }
    }

    /// An SVC consumer's layers: everything up to each spatial and
    /// temporal layer, as measured by the producer; frame rate given up only
    /// in the lowest spatial layer and where it is preferred, as for
    /// simulcast. `None` until the producer has measured anything.
    fn svc_demand(&self, producer: &ProducerMedia) -> Option<Demand> {
        let svc_layers = producer.svc_layers()?;
        let (spatial_layers, temporal_layers) = svc_layers.shape();
        if svc_layers.up_to(spatial_layers - 1, temporal_layers - 1) == 0 {
            return None;
        }
        let preferred_spatial =
            usize::from(self.preferred_spatial.load(Relaxed)).min(spatial_layers - 1);
        let preferred_temporal =
            usize::from(self.preferred_temporal.load(Relaxed)).min(temporal_layers - 1);
        let mut layers = Vec::with_capacity(spatial_layers * temporal_layers);
        for spatial in 0..spatial_layers {
            for temporal in 0..temporal_layers {
                let offered = spatial == 0
                    || temporal == temporal_layers - 1
                    || temporal == preferred_temporal;
                let bitrate = svc_layers.up_to(spatial, temporal);
                let sent = bitrate > 0 || (spatial, temporal) == (0, 0);
                layers.push((offered && sent).then_some(bitrate));
            }
        }
        let preferred = preferred_spatial * temporal_layers + preferred_temporal;
        Some(self.demand(layers, temporal_layers, preferred))
    }

    /// What the transport's allocation allows this consumer: an index into
    /// its demand's layers (`None`: no limit). A lower stream is switched
    /// to at its next key frame, a lower temporal layer at once; an SVC
    /// stream's spatial layer down at once, up at a key frame.
    pub fn set_bandwidth_limit(&self, layer: Option<usize>) {
        let temporal_layers = self.allocatable_temporal_layers();
        let (encoding, temporal) = match layer {
            Some(layer) => (layer / temporal_layers, (layer % temporal_layers) as u8),
            None => (usize::MAX, u8::MAX),
        };
        let temporal = if temporal_layers == 1 {
            u8::MAX
        } else {
            temporal
        };
        let temporal_changed = self.temporal_limit.swap(temporal, Relaxed) != temporal;
        let limit_changed = self.bandwidth_limit.swap(encoding, Relaxed) != encoding;
        if self.svc {
            let forwarded = self.current_layers().map(|l| usize::from(l.spatial));
            if forwarded.is_some_and(|spatial| encoding < spatial) {
                self.step_down_svc();
            }
            if (temporal_changed || limit_changed) && self.update_selector_target() {
                self.request_key_frame();
            }
            return;
        }
        if temporal_changed {
            self.update_selector_target();
        }
        if limit_changed {
            let active = self
                .producer
                .upgrade()
                .map_or(0, |p| p.active_encodings_now());
            if self.wanted_encoding(active) != self.current_encoding.load(Relaxed) {
                self.request_key_frame_once_drained();
            }
        }
    }

    /// The link no longer carries the spatial layers forwarded. The lower
    /// ones alone would decode, but not after the losses that told us: the
    /// receiving Chromium then waits 2-3 s before it asks for a key frame
    /// (frozen 3.7 s on a 250 kbit/s link). So, as for a simulcast step
    /// down, nothing more goes out until a key frame (asked for once the
    /// queue the old layers built has drained) arrives, and no repairs of
    /// them either.
    fn step_down_svc(&self) {
        if let Ok(mut state) = self.state.lock() {
            state.waiting_for_key_frame = true;
            if let Some(retransmissions) = state.retransmissions.as_mut() {
                retransmissions.forget();
            }
        }
        self.request_key_frame_once_drained();
    }

    /// The payload type and transport-cc extension id a probe's padding
    /// goes with: a video consumer's, as the receiver's probator stream has
    /// (mediasoup-client copies them from its first video consumer).
    pub fn probe_parameters(&self) -> Option<(u8, u8)> {
        if self.kind != MediaKind::Video {
            return None;
        }
        Some((self.media_payload_type?, self.client_transport_cc_id?))
    }

    /// Asks for the key frame a switch needs, unless the path to the
    /// receiver is still full of what went before (then a packet after it
    /// drains asks): a key frame sent into that queue was dropped with it,
    /// repaired a round trip later, and the picture froze 2 s instead of 1.
    fn request_key_frame_once_drained(&self) {
        let draining = self
            .endpoint
            .upgrade()
            .is_some_and(|e| e.core().draining(Instant::now()));
        if !draining {
            self.request_key_frame();
        }
    }

    /// Whether the transport's allocation chooses its layers (simulcast
    /// streams, or a VP9 SVC stream's layers).
    pub fn adapts_to_bandwidth(&self) -> bool {
        self.simulcast || self.svc
    }

    pub fn set_priority(&self, priority: u8) {
        self.priority.store(priority.max(1), Relaxed);
    }

    pub fn priority(&self) -> u8 {
        self.priority.load(Relaxed)
    }

    /// What this consumer sent over the last second, in bits per second.
    pub fn bitrate(&self) -> u64 {
        self.counters.bitrate.load(Relaxed)
    }

    /// The spatial and temporal layer forwarded now, if any.
    pub fn current_layers(&self) -> Option<LayerIndices> {
        let packed = self.current_layers.load(Relaxed);
        (packed != NO_LAYERS).then_some(LayerIndices {
            spatial: (packed >> 8) as u8,
            temporal: packed as u8,
        })
    }

    /// Notes what is forwarded after a packet; `layerschange` when it moved.
    fn note_layers(&self, state: &SendState, endpoint: &dyn MediaTransport) {
        if !self.layered {
            return;
        }
        let encoding = self.current_encoding.load(Relaxed);
        let within = state.layers.as_ref().and_then(|l| l.current());
        let layers = if self.simulcast {
            (encoding != usize::MAX).then(|| LayerIndices {
                spatial: encoding as u8,
                // Without a selector (H264) every temporal layer goes out.
                temporal: within.map_or(self.top_temporal_layer, |l| l.temporal),
            })
        } else {
            within
        };
        let packed = layers.map_or(NO_LAYERS, |l| {
            u16::from(l.spatial) << 8 | u16::from(l.temporal)
        });
        if self.current_layers.swap(packed, Relaxed) != packed {
            let data = match layers {
                Some(l) => {
                    serde_json::json!({"spatialLayer": l.spatial, "temporalLayer": l.temporal})
                }
                None => serde_json::Value::Null,
            };
            let core = endpoint.core();
            core.ctx.events.emit(
                "layerschange",
                ObjectKind::Consumer,
                &self.id,
                Some(&core.router_id),
                data,
            );
        }
    }

    pub fn forward(&self, routed: &RoutedPacket<'_>, now: Instant) {
        if !self.active() || !self.payload_types.contains(routed.payload_type) {
            return;
        }
        let target = self.wanted_encoding(routed.active_encodings);
        let current = self.current_encoding.load(Relaxed);
        // One simulcast stream at a time: the current one, or the target
        // from its first key frame on.
        let switching = routed.encoding == target && current != target;
        if routed.encoding != current && !switching {
            return;
        }
        let Some(endpoint) = self.endpoint.upgrade() else {
            return;
        };
        let Ok(mut state) = self.state.lock() else {
            return;
        };
        if routed.encoding == current && self.link_forces_step_down(current, target) {
            // Every packet of a stream the link can no longer carry, sent
            // while the lower stream's key frame is awaited, deepens the
            // queue that key frame must cross (measured on a 250 kbit/s
            // link: frozen 2.7-5 s when the old stream went on until the
            // switch). Its repairs would add to that queue too, and going
            // back to it needs a key frame of its own.
            if !state.waiting_for_key_frame {
                state.waiting_for_key_frame = true;
                if let Some(retransmissions) = state.retransmissions.as_mut() {
                    retransmissions.forget();
                }
            }
            self.metrics.drop_packet("stepping_down");
            state.rewriter.drop_packet(routed.header.sequence_number);
            return;
        }
        if switching && routed.is_key_frame {
            self.current_encoding.store(target, Relaxed);
            state.waiting_for_key_frame = false;
            state.rewriter.resync();
            if let Some(layers) = state.layers.as_mut() {
                layers.resync();
            }
        } else if switching || state.waiting_for_key_frame {
            if !routed.is_key_frame || switching {
                drop(state);
                self.request_key_frame_once_drained();
                return;
            }
            state.waiting_for_key_frame = false;
            state.rewriter.resync();
        }
        // A VP9 spatial switch waits for a key frame: ask again (throttled
        // per stream) until one comes.
        let mut key_frame_wanted = false;
        let (marker, patch) = match state.layers.as_mut() {
            Some(layers) => {
                let verdict =
                    layers.select(routed.header.payload(routed.packet), routed.header.marker);
                key_frame_wanted = layers.needs_key_frame();
                match verdict {
                    Verdict::Forward { marker, patch } => (marker, patch),
                    verdict @ (Verdict::Drop | Verdict::Malformed) => {
                        if verdict == Verdict::Malformed {
                            self.metrics.drop_packet("payload_descriptor_malformed");
                        }
                        state.rewriter.drop_packet(routed.header.sequence_number);
                        self.note_layers(&state, endpoint.as_ref());
                        drop(state);
                        if key_frame_wanted {
                            self.request_key_frame();
                        }
                        return;
                    }
                }
            }
            None => (routed.header.marker, Patch::default()),
        };
        self.note_layers(&state, endpoint.as_ref());
        let Some((sequence_number, timestamp)) =
            state
                .rewriter
                .rewrite(routed.header.sequence_number, routed.header.timestamp, now)
        else {
            return;
        };
        // A transport-wide number is taken only for a packet that carries
        // the extension, so the receiver sees no gaps that look like loss.
        let carries_transport_cc = self
            .transport_cc_extension_id
            .is_some_and(|tcc| routed.extensions().iter().any(|(id, _)| *id == tcc));
        let transport_number =
            carries_transport_cc.then(|| endpoint.core().next_transport_sequence());
        let transport_sequence = transport_number.unwrap_or(0).to_be_bytes();
        // On the stack: this runs for every packet and every consumer.
        let mut extensions: [(u8, &[u8]); MAX_EXTENSIONS] = [(0, &[]); MAX_EXTENSIONS];
        let mut count = 0;
        for (id, value) in routed.extensions() {
            let kept: Option<&[u8]> = if Some(*id) == self.mid_extension_id {
                // The receiver demultiplexes by MID: it must be this consumer's.
                self.mid.as_ref().map(|m| m.as_bytes())
            } else if Some(*id) == self.transport_cc_extension_id {
                // Transport-wide numbers belong to the transport they are sent on.
                Some(&transport_sequence)
            } else if self.extension_ids.contains(*id) {
                Some(value)
            } else {
                None
            };
            if let Some(value) = kept {
                let id = self
                    .renumbering
                    .as_ref()
                    .map_or(*id, |r| r.client_extension_id(*id));
                extensions[count] = (id, value);
                count += 1;
            }
        }
        let rewrite = Rewrite {
            payload_type: self.renumbering.as_ref().map_or(routed.payload_type, |r| {
                r.client_payload_type(routed.payload_type)
            }),
            sequence_number,
            timestamp,
            ssrc: self.ssrc,
            marker,
        };
        let SendState {
            retransmissions,
            last_out_timestamp,
            last_out_at,
            ..
        } = &mut *state;
        *last_out_timestamp = timestamp;
        *last_out_at = Some(now);
        with_outgoing_buffer(|buffer| {
            rebuild(
                routed.packet,
                &routed.header,
                &rewrite,
                &extensions[..count],
                buffer,
            );
            let payload_start = buffer.len() - routed.header.payload(routed.packet).len();
            if !patch.is_empty() {
                patch.apply(&mut buffer[payload_start..]);
            }
            if let Some(retransmissions) = retransmissions {
                // The header and the payload bytes the patch rewrote; the
                // producer keeps the rest once for all its consumers.
                let payload_kept = patch.end().min(buffer.len() - payload_start);
                retransmissions.store(
                    sequence_number,
                    &buffer[..payload_start + payload_kept],
                    Source {
                        encoding: u8::try_from(routed.encoding).unwrap_or(u8::MAX),
                        sequence: routed.header.sequence_number,
                        payload_kept: payload_kept as u16,
                    },
                    now,
                );
                self.next_kept_slot.store(
                    retransmissions.slot_address(sequence_number.wrapping_add(1)),
                    Relaxed,
                );
            }
            if endpoint.send_rtp(buffer) {
                // Under `state`, which every forwarded copy holds.
                add_by_lock_holder(&self.counters.packets, 1);
                add_by_lock_holder(&self.counters.bytes, buffer.len() as u64);
                if let Some(number) = transport_number {
                    endpoint.core().on_sent(number, buffer.len(), now);
                }
            }
        });
        drop(state);
        if key_frame_wanted {
            self.request_key_frame();
        }
    }

    /// The receiver lost these packets: send them again, as RTX if
    /// negotiated, each at most once a round trip, each under a new
    /// transport-wide number so that the bandwidth estimate counts it.
    pub fn on_nack(&self, sequence_numbers: &[u16]) {
        self.counters.nack_count.fetch_add(1, Relaxed);
        self.counters
            .nack_packet_count
            .fetch_add(sequence_numbers.len() as u64, Relaxed);
        let Some(endpoint) = self.endpoint.upgrade() else {
            return;
        };
        let Ok(mut state) = self.state.lock() else {
            return;
        };
        let SendState {
            retransmissions,
            rtx_sequence,
            ..
        } = &mut *state;
        let Some(retransmissions) = retransmissions else {
            return;
        };
        let Some(producer) = self.producer.upgrade() else {
            return;
        };
        let now = Instant::now();
        let round_trip = Duration::from_micros(self.counters.round_trip_time_us.load(Relaxed))
            .max(MIN_RESEND_INTERVAL);
        // The copy as it was sent, put back together from its head and the
        // producer's packet; NACKs are rare enough for a buffer of their own.
        let mut copy = Vec::new();
        with_outgoing_buffer(|buffer| {
            for &sequence in sequence_numbers {
                let Some((head, source)) = retransmissions.resend(sequence, now, round_trip) else {
                    continue;
                };
                let reassembled = producer.with_kept_packet(
                    usize::from(source.encoding),
                    source.sequence,
                    |packet| {
                        RtpHeader::parse(packet).is_ok_and(|header| {
                            reassemble(head, source, header.payload(packet), &mut copy)
                        })
                    },
                );
                if reassembled != Some(true) {
                    continue;
                }
                let original = copy.as_slice();
                let Ok(header) = RtpHeader::parse(original) else {
                    continue;
                };
                buffer.clear();
                match self.rtx {
                    Some(rtx) => {
                        *rtx_sequence = rtx_sequence.wrapping_add(1);
                        rtx_packet(
                            original,
                            header.payload_offset,
                            rtx.payload_type,
                            rtx.ssrc,
                            *rtx_sequence,
                            buffer,
                        );
                    }
                    None => buffer.extend_from_slice(original),
                }
                let transport_number = self.client_transport_cc_id.and_then(|id| {
                    let number = endpoint.core().next_transport_sequence();
                    let header = RtpHeader::parse(buffer).ok()?;
                    overwrite_extension(buffer, &header, id, &number.to_be_bytes())
                        .then_some(number)
                });
                if endpoint.send_rtp(buffer) {
                    self.counters.packets_retransmitted.fetch_add(1, Relaxed);
                    self.metrics.retransmissions.inc();
                    if let Some(number) = transport_number {
                        endpoint.core().on_sent(number, buffer.len(), now);
                    }
                }
            }
        });
    }

    /// A report block about our stream: loss and round-trip time.
    pub fn on_report(
        &self,
        fraction_lost: u8,
        total_lost: u32,
        last_sender_report: u32,
        delay: u32,
    ) {
        self.counters
            .fraction_lost
            .store(u64::from(fraction_lost), Relaxed);
        self.counters
            .packets_lost
            .store(u64::from(total_lost), Relaxed);
        if let Some(rtt) =
            rtcp_feedback::round_trip_time(rtcp_feedback::ntp_now(), last_sender_report, delay)
        {
            self.counters
                .round_trip_time_us
                .store(rtt.as_micros() as u64, Relaxed);
            self.metrics.round_trip_time.0.observe(rtt.as_secs_f64());
        }
    }

    /// mediasoup's consumer `score` notification: this stream's score (from
    /// the receiver's reports) and its producer's, when either changed.
    fn update_score(&self) {
        let score = if self.counters.packets.load(Relaxed) == 0 {
            0
        } else {
            score_of(self.counters.fraction_lost.load(Relaxed))
        };
        let producer_scores = self
            .producer
            .upgrade()
            .map(|p| p.scores())
            .unwrap_or_default();
        let encoding = match self.current_encoding.load(Relaxed) {
            usize::MAX => 0,
            current => current,
        };
        let producer_score = producer_scores.get(encoding).copied().unwrap_or(0);
        let packed = u16::from(score) << 8 | u16::from(producer_score);
        if self.notified_score.swap(packed, Relaxed) == packed {
            return;
        }
        if let Some(endpoint) = self.endpoint.upgrade() {
            let core = endpoint.core();
            core.ctx.events.emit(
                "score",
                ObjectKind::Consumer,
                &self.id,
                Some(&core.router_id),
                serde_json::json!({
                    "score": score,
                    "producerScore": producer_score,
                    "producerScores": producer_scores,
                }),
            );
        }
    }

    /// A sender report every second while sending, for the receiver's
    /// lip sync and our RTT.
    pub fn poll_rtcp(&self, now: Instant) -> Option<Vec<u8>> {
        if !self.active() {
            return None;
        }
        let state = self.state.lock().ok()?;
        let last_out_at = state.last_out_at?;
        let mut last_sender_report = self.last_sender_report.lock().ok()?;
        if last_sender_report.is_some_and(|t| now.duration_since(t) < REPORT_INTERVAL) {
            return None;
        }
        if let Some(previous) = *last_sender_report {
            self.counters.sample_bitrate(now.duration_since(previous));
        }
        *last_sender_report = Some(now);
        drop(last_sender_report);
        self.update_score();
        let elapsed = now.duration_since(last_out_at);
        let rtp_time = state.last_out_timestamp.wrapping_add(
            (elapsed.as_micros() as u64 * u64::from(self.clock_rate) / 1_000_000) as u32,
        );
        Some(rtcp_feedback::sender_report(
            self.ssrc,
            rtcp_feedback::ntp_now(),
            rtp_time,
            self.counters.packets.load(Relaxed) as u32,
            self.counters.bytes.load(Relaxed) as u32,
        ))
    }
}

/// The share of a stream's bitrate its temporal layers up to `wanted` carry,
/// of `top + 1` layers: libwebrtc's split for VP8 (40/20/40 % for three,
/// 60/40 % for two).
fn temporal_layers_share(wanted: u8, top: u8) -> f64 {
    match (top, wanted) {
        (2, 0) => 0.4,
        (2, 1) => 0.6,
        (1, 0) => 0.6,
        _ => 1.0,
    }
}

/// The preferred encoding if it is being sent, else the best one below it
/// that is; the preferred one when none is.
fn best_active_encoding(preferred: usize, active: u32) -> usize {
    (0..=preferred.min(31))
        .rev()
        .find(|i| active & (1 << i) != 0)
        .unwrap_or(preferred)
}

impl MediaHandle for ConsumerMedia {
    fn close(&self) {
        self.closed.store(true, Relaxed);
        if let Some(producer) = self.producer.upgrade() {
            producer.remove_consumer(self);
        }
        if let Some(endpoint) = self.endpoint.upgrade() {
            endpoint.core().remove_consumer(self);
        }
    }
}

#[cfg(test)]
impl ConsumerMedia {
    /// How many bytes of the copy numbered `sequence` this consumer keeps
    /// itself (the rest is the producer's).
    pub(crate) fn kept_bytes(&self, sequence: u16) -> Option<usize> {
        let state = self.state.lock().ok()?;
        let (head, _) = state.retransmissions.as_ref()?.get(sequence)?;
        Some(head.len())
    }

    /// Whether the address a fan-out prefetches is where the copy numbered
    /// `sequence` will be kept.
    pub(crate) fn next_kept_slot_is(&self, sequence: u16) -> bool {
        let state = self.state.lock().unwrap();
        state
            .retransmissions
            .as_ref()
            .map(|r| r.slot_address(sequence))
            == Some(self.next_kept_slot.load(Relaxed))
    }

    /// Whether it keeps copies at all (and so has a slot to prefetch).
    pub(crate) fn keeps_copies(&self) -> bool {
        self.state.lock().unwrap().retransmissions.is_some()
            || self.next_kept_slot.load(Relaxed) != 0
    }
}

#[cfg(test)]
mod layout_tests {
    use super::{ConsumerMedia, HOT_BYTES};
    use std::mem::{align_of, offset_of};

    /// A fan-out prefetches a consumer's lines up to its packet and byte
    /// counts: what `forward` reads must stay before them, and few (six
    /// lines, from the start of one; seven or eight before).
    #[test]
    fn the_lines_a_forwarded_copy_reads_come_first_and_are_few() {
        let hot_end = HOT_BYTES;
        assert_eq!(align_of::<ConsumerMedia>(), 64);
        assert!(hot_end <= 6 * 64, "{hot_end} bytes before the counts");
        for field_offset in [
            offset_of!(ConsumerMedia, state),
            offset_of!(ConsumerMedia, endpoint),
            offset_of!(ConsumerMedia, endpoint_lines),
            offset_of!(ConsumerMedia, next_kept_slot),
            offset_of!(ConsumerMedia, current_encoding),
            offset_of!(ConsumerMedia, payload_types),
            offset_of!(ConsumerMedia, ssrc),
            offset_of!(ConsumerMedia, closed),
            offset_of!(ConsumerMedia, layered),
        ] {
            assert!(field_offset < hot_end);
        }
        assert!(offset_of!(ConsumerMedia, metrics) >= hot_end);
    }
}
