//! A producer's side of the packet path: incoming RTP mapped to the router's
//! payload types and extension ids, then handed to each consumer. It also
//! keeps reception statistics per encoding, asks the sender for lost
//! packets (NACK), unwraps its retransmissions (RTX) and reports reception
//! (RR).

use std::sync::atomic::Ordering::Relaxed;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::{Duration, Instant};

use troupe_transports::key_frame::VideoCodec;
use troupe_transports::packet_history::PacketHistory;
use troupe_transports::receive_statistics::ReceiveStatistics;
use troupe_transports::rtcp_feedback::{self, Reception as ReportBlockValues};
use troupe_transports::rtp_packet::RtpHeader;

use crate::media::audio_level::AudioLevelMeter;
use crate::media::consumer_media::ConsumerMedia;
use crate::media::fan_out::{FanOutPool, Job, MAX_SHARES};
use crate::media::fan_out_list::FanOutList;
use crate::media::fan_out_load::FanOutLoad;
use crate::media::producer_shared::{ProducerShared, KEY_FRAME_REQUEST_INTERVAL};
use crate::media::svc_layer_bitrates::SvcLayerBitrates;
use crate::media::transport_core::{MediaTransport, FEEDBACK_SSRC};
use crate::media::MediaHandle;
use crate::metrics::ActorMetrics;
use crate::object_kind::ObjectKind;
use crate::ortc::AUDIO_LEVEL_URI;
use crate::rtp_parameters::MediaKind;
use crate::stats::score_of;

/// A packet as the router sees it, ready for every consumer.
pub struct RoutedPacket<'a> {
    pub packet: &'a [u8],
    pub header: RtpHeader,
    /// The router's payload type.
    pub payload_type: u8,
    /// Extensions under the router's ids (the first `extension_count`).
    pub extensions: [(u8, &'a [u8]); MAX_EXTENSIONS],
    pub extension_count: usize,
    pub is_key_frame: bool,
    /// Which of the producer's encodings (simulcast streams) it belongs to.
    pub encoding: usize,
    /// The encodings that carried media within `ACTIVE_WITHIN` (bit i for
    /// encoding i): a sender stops its upper simulcast streams when its
    /// bandwidth is short, and a consumer then takes the best one sent.
    pub active_encodings: u32,
}

/// An encoding that sent nothing for this long is taken as stopped.
const ACTIVE_WITHIN_MS: u64 = 1_000;

/// Header extensions carried per packet; RFC 8285 allows at most 14 in
/// the one-byte form, which is what browsers send.
pub const MAX_EXTENSIONS: usize = 16;

impl RoutedPacket<'_> {
    pub fn extensions(&self) -> &[(u8, &[u8])] {
        &self.extensions[..self.extension_count]
    }
}

/// Reception state of one encoding.
struct Reception {
    statistics: ReceiveStatistics,
    clock_rate: u32,
    /// Middle 32 bits of the sender's last SR and when it arrived.
    last_sender_report: Option<(u32, Instant)>,
}

/// How often receiver reports go to the sender.
pub const REPORT_INTERVAL: Duration = Duration::from_secs(1);

pub struct ProducerMedia {
    pub shared: Arc<ProducerShared>,
    endpoint: Option<Weak<dyn MediaTransport>>,
    pub(crate) metrics: ActorMetrics,
    /// Client extension id → router extension id (0: drop).
    extension_map: [u8; 256],
    video_codec: Option<VideoCodec>,
    consumers: RwLock<FanOutList>,
    /// Whether its fan-out is split over the helper threads now.
    pub(crate) fan_out_load: FanOutLoad,
    receptions: Mutex<Vec<Reception>>,
    last_report: Mutex<Option<Instant>>,
    /// When each encoding's key frame was last asked for.
    last_key_frame_request: Mutex<Vec<Option<Instant>>>,
    /// Each encoding's score (0-10) as last notified.
    scores: Mutex<Vec<u8>>,
    /// Each encoding's media SSRC: given, or learned from its first packet
    /// (rid-based simulcast has none in its parameters); 0 while unknown.
    /// Reports, NACKs, PLIs and RTX repair are addressed with it.
    ssrcs: Vec<AtomicU32>,
    /// When each encoding last carried media, in ms since `epoch` (+1, so
    /// that 0 means never).
    last_media_ms: Vec<AtomicU64>,
    /// Per layer of a VP9 SVC stream, what it carries (none otherwise).
    svc_layers: Option<SvcLayerBitrates>,
    epoch: Instant,
    /// The client's id of the `ssrc-audio-level` extension (0: none).
    audio_level_id: u8,
    /// Loudness for the router's audio observers.
    pub audio_level: AudioLevelMeter,
    paused: AtomicBool,
    closed: AtomicBool,
    /// Its last packets, kept once for all its consumers that answer NACKs
    /// (each of which keeps only the head of its copies), from the first
    /// such consumer on.
    history: Mutex<PacketHistory>,
    history_wanted: AtomicBool,
}

/// Packets kept per encoding for consumers' NACKs at most: the last 2 s
/// of them, up to this (half a second of a 1,000-packet/s stream).
pub const HISTORY_PACKETS: usize = 512;

impl ProducerMedia {
    pub fn new(
        shared: Arc<ProducerShared>,
        endpoint: Option<Weak<dyn MediaTransport>>,
        extension_ids: &[(u8, u8)],
        metrics: ActorMetrics,
        paused: bool,
    ) -> Arc<Self> {
        let mut extension_map = [0u8; 256];
        for (from, to) in extension_ids {
            extension_map[usize::from(*from)] = *to;
        }
        let media_codec = shared.rtp_parameters.codecs.iter().find(|c| !c.is_rtx());
        let video_codec = match shared.kind {
            MediaKind::Video => media_codec.and_then(|c| VideoCodec::from_mime(&c.mime_type)),
            MediaKind::Audio => None,
        };
        let clock_rate = media_codec.map(|c| c.clock_rate).unwrap_or(90_000);
        // Video repairs losses with NACK when the sender can retransmit
        // (it offered nack feedback); audio plays through loss instead.
        let nack = shared.kind == MediaKind::Video
            && media_codec.is_some_and(|c| {
                c.rtcp_feedback
                    .iter()
                    .any(|f| f.kind == "nack" && f.parameter.is_empty())
            });
        let receptions = shared
            .rtp_parameters
            .encodings
            .iter()
            .map(|_| Reception {
                statistics: ReceiveStatistics::new(clock_rate, nack),
                clock_rate,
                last_sender_report: None,
            })
            .collect();
        let encodings = shared.rtp_parameters.encodings.len();
        let svc_layers = match (video_codec, encodings) {
            (Some(VideoCodec::Vp9), 1) => {
                let layers = shared.layers();
                SvcLayerBitrates::new(layers.spatial, layers.temporal)
            }
            _ => None,
        };
        let ssrcs = shared
            .rtp_parameters
            .encodings
            .iter()
            .map(|e| AtomicU32::new(e.ssrc.unwrap_or(0)))
            .collect();
        let audio_level_id = shared
            .rtp_parameters
            .header_extensions
            .iter()
            .find(|e| e.uri == AUDIO_LEVEL_URI)
            .map_or(0, |e| e.id);
        Arc::new(ProducerMedia {
            shared,
            endpoint,
            metrics,
            extension_map,
            video_codec,
            consumers: RwLock::new(FanOutList::new(FanOutPool::get().max_shares())),
            fan_out_load: FanOutLoad::default(),
            receptions: Mutex::new(receptions),
            last_report: Mutex::new(None),
            last_key_frame_request: Mutex::new(vec![None; encodings]),
            scores: Mutex::new(vec![0; encodings]),
            ssrcs,
            last_media_ms: (0..encodings).map(|_| AtomicU64::new(0)).collect(),
            svc_layers,
            epoch: Instant::now(),
            audio_level_id,
            audio_level: AudioLevelMeter::default(),
            paused: paused.into(),
            closed: false.into(),
            history: Mutex::new(PacketHistory::new(encodings, HISTORY_PACKETS)),
            history_wanted: false.into(),
        })
    }

    /// A consumer answers NACKs from this producer's packets: keep them.
    pub fn keep_packets(&self) {
        self.history_wanted.store(true, Relaxed);
    }

    /// `use_packet` on the packet of `encoding` numbered `sequence`, if it
    /// is still kept.
    pub fn with_kept_packet<R>(
        &self,
        encoding: usize,
        sequence: u16,
        use_packet: impl FnOnce(&[u8]) -> R,
    ) -> Option<R> {
        let history = self.history.lock().ok()?;
        history.get(encoding, sequence).map(use_packet)
    }

    pub fn add_consumer(&self, consumer: Arc<ConsumerMedia>) {
        if let Ok(mut consumers) = self.consumers.write() {
            consumers.push(consumer);
        }
    }

    pub fn remove_consumer(&self, consumer: &ConsumerMedia) {
        if let Ok(mut consumers) = self.consumers.write() {
            consumers.remove(consumer);
        }
    }

    pub fn set_paused(&self, paused: bool) {
        self.paused.store(paused, Relaxed);
    }

    /// The media SSRC of an encoding, if known yet.
    pub fn media_ssrc(&self, encoding: usize) -> Option<u32> {
        self.ssrcs
            .get(encoding)
            .map(|s| s.load(Relaxed))
            .filter(|s| *s != 0)
    }

    /// The transport bound this SSRC to an encoding by its RID.
    pub fn learn_ssrc(&self, encoding: usize, ssrc: u32) {
        if let Some(slot) = self.ssrcs.get(encoding) {
            slot.store(ssrc, Relaxed);
        }
    }

    fn ms_since_epoch(&self, at: Instant) -> u64 {
        at.saturating_duration_since(self.epoch).as_millis() as u64
    }

    /// Bit i set: encoding i carried media lately.
    fn active_encodings(&self, now: Instant) -> u32 {
        let now_ms = self.ms_since_epoch(now) + 1;
        let mut active = 0;
        for (i, last) in self.last_media_ms.iter().enumerate().take(32) {
            let last = last.load(Relaxed);
            if last != 0 && now_ms.saturating_sub(last) <= ACTIVE_WITHIN_MS {
                active |= 1 << i;
            }
        }
        active
    }

    fn encoding_of_ssrc(&self, ssrc: u32) -> Option<usize> {
        self.ssrcs.iter().position(|s| s.load(Relaxed) == ssrc)
    }

    /// The payload types the sender uses for RTX.
    fn is_rtx_payload_type(&self, payload_type: u8) -> Option<u8> {
        self.shared
            .rtp_parameters
            .codecs
            .iter()
            .find(|c| c.is_rtx() && c.payload_type == payload_type)
            .and_then(|c| c.apt())
    }

    /// An RTX packet from the sender (RFC 4588): restore the original and
    /// process it as a repaired packet.
    pub fn receive_rtx(
        self: &Arc<Self>,
        packet: &[u8],
        header: RtpHeader,
        encoding: usize,
        now: Instant,
    ) {
        let Some(apt) = self.is_rtx_payload_type(header.payload_type) else {
            return self.metrics.drop_packet("rtx_unknown_payload_type");
        };
        let payload = header.payload(packet);
        let (Some(media_ssrc), true) = (self.media_ssrc(encoding), payload.len() > 2) else {
            // Empty RTX packets are bandwidth probes.
            return;
        };
        let mut original = Vec::with_capacity(packet.len());
        original.extend_from_slice(&packet[..header.payload_offset]);
        original[0] &= !0x20;
        original[1] = (original[1] & 0x80) | apt;
        original[2..4].copy_from_slice(&payload[..2]);
        original[8..12].copy_from_slice(&media_ssrc.to_be_bytes());
        original.extend_from_slice(&payload[2..]);
        let Ok(restored) = RtpHeader::parse(&original) else {
            return;
        };
        if let Some(c) = self.shared.counters.get(encoding) {
            c.packets_repaired.fetch_add(1, Relaxed);
        }
        self.receive(&original, restored, encoding, now);
    }

    /// One RTP packet from the producer's transport, already unprotected.
    pub fn receive(
        self: &Arc<Self>,
        packet: &[u8],
        header: RtpHeader,
        encoding: usize,
        now: Instant,
    ) {
        if self.closed.load(Relaxed) {
            return;
        }
        let fresh = match self.receptions.lock() {
            Ok(mut receptions) => receptions.get_mut(encoding).is_some_and(|r| {
                r.statistics
                    .on_packet(header.sequence_number, header.timestamp, now)
            }),
            Err(_) => false,
        };
        let Some(counters) = self.shared.counters.get(encoding) else {
            return;
        };
        if !fresh {
            counters.packets_discarded.fetch_add(1, Relaxed);
            return;
        }
        counters.packets.fetch_add(1, Relaxed);
        counters.bytes.fetch_add(packet.len() as u64, Relaxed);
        if let Some(last) = self.last_media_ms.get(encoding) {
            last.store(self.ms_since_epoch(now) + 1, Relaxed);
        }
        if let Some(svc_layers) = &self.svc_layers {
            svc_layers.on_packet(header.payload(packet), packet.len());
        }
        if self.audio_level_id != 0 {
            if let Some((_, value)) = header
                .extensions(packet)
                .find(|(id, _)| *id == self.audio_level_id)
            {
                self.audio_level.record(value);
            }
        }
        if self.paused.load(Relaxed) {
            return;
        }
        let Some(routed) = self.route(packet, header, encoding, now) else {
            return;
        };
        if self.history_wanted.load(Relaxed) {
            if let Ok(mut history) = self.history.lock() {
                history.store(encoding, routed.header.sequence_number, packet, now);
            }
        }
        let Ok(consumers) = self.consumers.read() else {
            return;
        };
        let pool = FanOutPool::get();
        let split = self
            .fan_out_load
            .on_packet(self.ms_since_epoch(now), consumers.len());
        let shares = if split {
            pool.max_shares().min(consumers.shares())
        } else {
            1
        };
        // Helpers take their shares from a copy; this thread does the first
        // (and any share whose helper is busy), or all of them unsplit.
        let mut inline = [shares == 1; MAX_SHARES];
        inline[0] = true;
        for share in 1..shares {
            let job = Job {
                producer: self.clone(),
                packet: packet.to_vec(),
                encoding,
                now,
                share,
            };
            self.fan_out_load.share_handed_off();
            match pool.submit(job) {
                Ok(()) => {
                    self.metrics.fan_out_handoffs.inc();
                }
                Err(job) => {
                    self.fan_out_load.share_done();
                    inline[job.share] = true;
                }
            }
        }
        consumers.forward_inline(&inline, &routed, now);
    }

    /// A helper thread's part of a fan-out: the consumers of one share.
    pub fn forward_share(&self, packet: &[u8], encoding: usize, now: Instant, share: usize) {
        let Ok(header) = RtpHeader::parse(packet) else {
            return;
        };
        let Some(routed) = self.route(packet, header, encoding, now) else {
            return;
        };
        let Ok(consumers) = self.consumers.read() else {
            return;
        };
        consumers.forward_share(share, &routed, now);
    }

    /// The packet as the router sees it: payload type and extension ids
    /// mapped, key frame detected.
    fn route<'a>(
        &self,
        packet: &'a [u8],
        header: RtpHeader,
        encoding: usize,
        now: Instant,
    ) -> Option<RoutedPacket<'a>> {
        let Some(payload_type) = self
            .shared
            .rtp_mapping
            .codecs
            .iter()
            .find(|m| m.payload_type == header.payload_type)
            .map(|m| m.mapped_payload_type)
        else {
            self.metrics.drop_packet("unknown_payload_type");
            return None;
        };
        // On the stack: this runs for every packet.
        let mut extensions: [(u8, &[u8]); MAX_EXTENSIONS] = [(0, &[]); MAX_EXTENSIONS];
        let mut extension_count = 0;
        for (id, value) in header.extensions(packet) {
            let mapped = self.extension_map[usize::from(id)];
            if mapped != 0 && extension_count < MAX_EXTENSIONS {
                extensions[extension_count] = (mapped, value);
                extension_count += 1;
            }
        }
        let is_key_frame = match self.video_codec {
            Some(codec) => codec.is_key_frame(header.payload(packet)),
            None => true,
        };
        Some(RoutedPacket {
            packet,
            header,
            payload_type,
            extensions,
            extension_count,
            is_key_frame,
            encoding,
            active_encodings: self.active_encodings(now) | 1 << encoding.min(31),
        })
    }

    pub fn on_sender_report(&self, ssrc: u32, ntp_time: u64, now: Instant) {
        let Some(encoding) = self.encoding_of_ssrc(ssrc) else {
            return;
        };
        if let Ok(mut receptions) = self.receptions.lock() {
            if let Some(r) = receptions.get_mut(encoding) {
                r.last_sender_report = Some((rtcp_feedback::ntp_middle(ntp_time), now));
            }
        }
    }

    /// RTCP this producer owes its sender now: NACKs for missing packets,
    /// and a receiver report every second.
    pub fn poll_rtcp(&self, now: Instant, sender_ssrc: u32) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        let report_due = match self.last_report.lock() {
            Ok(mut last) => {
                let due = last.is_none_or(|t| now.duration_since(t) >= REPORT_INTERVAL);
                if due {
                    if let Some(t) = *last {
                        for c in &self.shared.counters {
                            c.sample_bitrate(now.duration_since(t));
                        }
                        if let Some(svc_layers) = &self.svc_layers {
                            svc_layers.sample(now.duration_since(t));
                        }
                    }
                    *last = Some(now);
                }
                due
            }
            Err(_) => false,
        };
        let Ok(mut receptions) = self.receptions.lock() else {
            return out;
        };
        let mut blocks = Vec::new();
        for (i, reception) in receptions.iter_mut().enumerate() {
            let Some(ssrc) = self.media_ssrc(i) else {
                continue;
            };
            let nacks = reception.statistics.nacks_due(now);
            if !nacks.is_empty() {
                if let Some(c) = self.shared.counters.get(i) {
                    c.nack_count.fetch_add(1, Relaxed);
                    c.nack_packet_count.fetch_add(nacks.len() as u64, Relaxed);
                }
                self.metrics.feedback("nack_sent");
                out.push(rtcp_feedback::nack(sender_ssrc, ssrc, &nacks));
            }
            if report_due && reception.statistics.received() > 0 {
                let block = reception.statistics.report();
                if let Some(c) = self.shared.counters.get(i) {
                    c.packets_lost.store(reception.statistics.lost(), Relaxed);
                    c.fraction_lost
                        .store(u64::from(block.fraction_lost), Relaxed);
                }
                let (last_sender_report, delay) = match reception.last_sender_report {
                    Some((lsr, at)) => (
                        lsr,
                        (now.duration_since(at).as_micros() as u64 * 65_536 / 1_000_000) as u32,
                    ),
                    None => (0, 0),
                };
                if reception.clock_rate > 0 {
                    let seconds = f64::from(block.jitter) / f64::from(reception.clock_rate);
                    self.metrics.jitter.0.observe(seconds);
                }
                blocks.push(ReportBlockValues {
                    ssrc,
                    fraction_lost: block.fraction_lost,
                    total_lost: block.total_lost,
                    extended_highest: block.extended_highest,
                    jitter: block.jitter,
                    last_sender_report,
                    delay_since_last_sender_report: delay,
                });
            }
        }
        drop(receptions);
        if !blocks.is_empty() {
            self.update_scores(&blocks);
            out.push(rtcp_feedback::receiver_report(sender_ssrc, &blocks));
        }
        out
    }

    /// Each encoding's score, 0 until it has received anything.
    pub fn scores(&self) -> Vec<u8> {
        self.scores.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// New scores from this second's reception; mediasoup's producer `score`
    /// notification when any changed.
    fn update_scores(&self, blocks: &[ReportBlockValues]) {
        let encodings = &self.shared.rtp_parameters.encodings;
        let changed = match self.scores.lock() {
            Ok(mut scores) => {
                let before = scores.clone();
                for block in blocks {
                    if let Some(i) = self.encoding_of_ssrc(block.ssrc) {
                        if let Some(score) = scores.get_mut(i) {
                            *score = score_of(u64::from(block.fraction_lost));
                        }
                    }
                }
                (*scores != before).then(|| scores.clone())
            }
            Err(_) => None,
        };
        let (Some(scores), Some(endpoint)) =
            (changed, self.endpoint.as_ref().and_then(Weak::upgrade))
        else {
            return;
        };
        let data: Vec<serde_json::Value> = scores
            .iter()
            .zip(encodings)
            .enumerate()
            .map(|(i, (score, encoding))| {
                serde_json::json!({"encodingIdx": i, "ssrc": self.media_ssrc(i), "rid": encoding.rid, "score": score})
            })
            .collect();
        let core = endpoint.core();
        core.ctx.events.emit(
            "score",
            ObjectKind::Producer,
            &self.shared.id,
            Some(&core.router_id),
            serde_json::Value::Array(data),
        );
    }

    /// Asks the sender for a key frame of every encoding.
    pub fn request_key_frame(&self) {
        self.request_key_frames(u32::MAX);
    }

    /// Asks the sender for a key frame of the encodings in `encodings` (bit
    /// i for encoding i) with a PLI each, at most once a second each: a
    /// consumer switching simulcast streams needs one stream's key frame,
    /// and key frames of the others would only spend the sender's bitrate.
    pub fn request_key_frames(&self, encodings: u32) {
        if self.shared.kind != MediaKind::Video || self.closed.load(Relaxed) {
            return;
        }
        let due: Vec<usize> = {
            let Ok(mut last) = self.last_key_frame_request.lock() else {
                return;
            };
            let now = Instant::now();
            (0..self.ssrcs.len().min(32))
                .filter(|i| encodings & (1 << i) != 0)
                .filter(|i| {
                    let slot = &mut last[*i];
                    let due =
                        slot.is_none_or(|t| now.duration_since(t) >= KEY_FRAME_REQUEST_INTERVAL);
                    if due {
                        *slot = Some(now);
                    }
                    due
                })
                .collect()
        };
        let Some(endpoint) = self.endpoint.as_ref().and_then(Weak::upgrade) else {
            return;
        };
        for i in due {
            let Some(ssrc) = self.media_ssrc(i) else {
                continue;
            };
            if endpoint.send_rtcp(&rtcp_feedback::picture_loss_indication(FEEDBACK_SSRC, ssrc)) {
                self.metrics.feedback("pli_sent");
                if let Some(c) = self.shared.counters.get(i) {
                    c.pli_count.fetch_add(1, Relaxed);
                }
            }
        }
    }

    /// What each layer carries, for a VP9 SVC stream.
    pub fn svc_layers(&self) -> Option<&SvcLayerBitrates> {
        self.svc_layers.as_ref()
    }

    /// The encodings that carried media lately (bit i for encoding i).
    pub fn active_encodings_now(&self) -> u32 {
        self.active_encodings(Instant::now())
    }
}

impl MediaHandle for ProducerMedia {
    fn close(&self) {
        self.closed.store(true, Relaxed);
        if let Ok(mut consumers) = self.consumers.write() {
            consumers.clear();
        }
        if let Some(endpoint) = self.endpoint.as_ref().and_then(Weak::upgrade) {
            endpoint.core().remove_producer(&self.shared.id);
        }
    }
}
