//! What every media transport shares, whatever carries its packets
//! (ICE+DTLS+SRTP, or plain RTP): mediasoup's RtpListener that maps incoming
//! streams to producers, the consumers sending on it, RTCP handling, the
//! periodic reports, and the transport's counters.

use std::collections::HashMap;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU64};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use troupe_transports::bwe::layer_allocation::{
    allocate, probe_padding, Demand, LayerProbe, MAX_REACH,
};
use troupe_transports::bwe::padding_pacer::PaddingPacer;
use troupe_transports::bwe::send_side::SendSideEstimator;
use troupe_transports::padding_packet::{padding_packet, Padding, MAX_PADDING};
use troupe_transports::receive_congestion::ReceiveCongestion;
use troupe_transports::rtcp_feedback::{self, Feedback};
use troupe_transports::rtp_packet::RtpHeader;
use troupe_transports::sctp_link::{SctpEvent, SctpMessage, SctpSendError, StreamReliability};

use crate::media::consumer_media::ConsumerMedia;
use crate::media::data_producer_media::DataProducerMedia;
use crate::media::media_events::MediaContext;
use crate::media::producer_media::ProducerMedia;
use crate::object_kind::{CloseCause, ObjectKind};
use crate::stats::TransportCounters;

/// The SSRC Troupe signs its RTCP feedback with.
pub const FEEDBACK_SSRC: u32 = 0x7472_6f75; // "trou"

/// How often a transport looks at its timed work (RTCP, and for WebRTC the
/// DTLS and ICE timers). Producers need it often: their NACKs must go out
/// within tens of milliseconds of a loss; so does a DTLS handshake. A
/// transport with connected consumers only sends a sender report a second
/// (as mediasoup does for video), so it looks once a second: each look is
/// a task wake-up and a pass over its consumers, and at 250 ms the looks of
/// 500 consumer-only transports with no packet to forward cost 1 % of a
/// core, over 4 % of Troupe's CPU at 50,000 forwarded packets/s
/// (docs/benchmarks.md).
pub const FAST_TICK: Duration = Duration::from_millis(50);
pub const SLOW_TICK: Duration = crate::media::producer_media::REPORT_INTERVAL;
/// While a probe pads, a few packets every 10 ms rather than a burst every
/// 50: a burst would look like a queue to the receiver's timing.
pub const PADDING_TICK: Duration = Duration::from_millis(10);

/// What may be on its way (a feedback interval and a little queue) for
/// the path to count as drained.
const DRAINED_WITHIN_MS: f64 = 250.0;

/// mediasoup-client's "probator" stream: every receiving Chromium of a
/// mediasoup app has an m-line for it, so padding sent there is counted in
/// its feedback and then dropped.
pub const PROBATOR_SSRC: u32 = 1234;

/// Padding a probe sends: the pacer and the probator stream's numbers.
#[derive(Default)]
struct ProbePadding {
    pacer: PaddingPacer,
    sequence_number: u16,
    timestamp: u32,
}

/// Addresses of a transport's send path (0: none).
pub type SendPathLines = [usize; 8];

/// The address of a field, for prefetching.
pub fn line_of<T>(field: &T) -> usize {
    field as *const T as usize
}

/// How a transport puts packets on the wire. Producers and consumers hold
/// their transport as this, so the packet path is the same for every kind.
pub trait MediaTransport: Send + Sync {
    fn core(&self) -> &TransportCore;
    /// Where sending a copy first touches this transport's memory, for a
    /// fan-out to prefetch while it works on earlier copies. Addresses
    /// only: prefetching one that has gone stale is harmless.
    fn send_path_lines(&self) -> SendPathLines {
        SendPathLines::default()
    }
    /// Sends one RTP packet (protecting it if the transport does); false if
    /// it could not be sent.
    fn send_rtp(&self, packet: &[u8]) -> bool;
    fn send_rtcp(&self, packet: &[u8]) -> bool;
    /// A producer is being made on this transport: its peer will send.
    fn will_receive_media(&self) {}
    /// Sends one data channel message on an SCTP stream; transports without
    /// SCTP refuse.
    fn send_message(
        &self,
        _stream_id: u16,
        _ppid: u32,
        _payload: &[u8],
    ) -> Result<(), SctpSendError> {
        Err(SctpSendError::NotConnected)
    }
    /// Closes the data channel on a stream (an SCTP stream reset).
    fn close_data_stream(&self, _stream_id: u16) {}
    /// How messages sent on a stream are delivered.
    fn configure_data_stream(&self, _stream_id: u16, _reliability: StreamReliability) {}
    /// Bytes of a stream waiting for the receiver.
    fn data_buffered_amount(&self, _stream_id: u16) -> usize {
        0
    }
}

/// The SCTP streams of a transport in use by its data producers (incoming)
/// and data consumers (outgoing).
#[derive(Default)]
struct DataStreams {
    producers: HashMap<u16, Arc<DataProducerMedia>>,
    consumers: std::collections::HashSet<u16>,
}

/// Where an incoming SSRC goes: a producer's encoding, media or RTX.
#[derive(Clone)]
struct Route {
    producer: Arc<ProducerMedia>,
    encoding: usize,
    rtx: bool,
}

#[derive(Default)]
struct Listener {
    producers: Vec<Arc<ProducerMedia>>,
    by_ssrc: HashMap<u32, Route>,
    by_mid: HashMap<String, Arc<ProducerMedia>>,
    by_rid: HashMap<String, (Arc<ProducerMedia>, usize)>,
    ids: ClientExtensionIds,
}

/// The ids a client gave the header extensions the transport itself reads
/// from incoming packets (the same for every producer of a transport, as
/// the client's BUNDLE requires).
#[derive(Debug, Default, Clone, Copy)]
pub struct ClientExtensionIds {
    pub mid: Option<u8>,
    pub rid: Option<u8>,
    pub rrid: Option<u8>,
    pub transport_cc: Option<u8>,
    pub abs_send_time: Option<u8>,
}

impl ClientExtensionIds {
    fn merge(&mut self, other: ClientExtensionIds) {
        self.mid = other.mid.or(self.mid);
        self.rid = other.rid.or(self.rid);
        self.rrid = other.rrid.or(self.rrid);
        self.transport_cc = other.transport_cc.or(self.transport_cc);
        self.abs_send_time = other.abs_send_time.or(self.abs_send_time);
    }
}

pub struct TransportCore {
    pub ctx: MediaContext,
    pub transport_id: String,
    pub router_id: String,
    listener: RwLock<Listener>,
    consumers: RwLock<HashMap<u32, Arc<ConsumerMedia>>>,
    data_streams: RwLock<DataStreams>,
    pub counters: TransportCounters,
    transport_sequence: AtomicU16,
    last_sample: Mutex<Option<Instant>>,
    /// What the senders are told about the path (transport-cc, REMB).
    receive_congestion: Mutex<ReceiveCongestion>,
    /// What this transport may send, from its receiver's feedback.
    send_estimator: Mutex<SendSideEstimator>,
    /// Set by the receiver's first transport-cc feedback: until then there
    /// is nobody to match send times with, and copies skip the history.
    receiver_sends_feedback: AtomicBool,
    layer_probe: Mutex<LayerProbe>,
    probe_padding: Mutex<ProbePadding>,
    /// The padding rate now, read without the lock on every tick.
    padding_bps: AtomicU64,
    /// mediasoup's max/minOutgoingBitrate (0: none).
    max_outgoing_bitrate: AtomicU64,
    min_outgoing_bitrate: AtomicU64,
    epoch: Instant,
    /// Wakes the transport's ticker when its timed work must come sooner
    /// than the pause it sleeps (a consumer-only transport sleeps a
    /// second): a producer arrives (its NACKs and feedback), a consumer
    /// arrives, the receiver's first transport-cc feedback comes (layers
    /// then follow the estimate).
    pub tick_due: Arc<tokio::sync::Notify>,
}

impl TransportCore {
    pub fn new(ctx: MediaContext, transport_id: &str, router_id: &str) -> Self {
        TransportCore {
            ctx,
            transport_id: transport_id.to_string(),
            router_id: router_id.to_string(),
            listener: RwLock::new(Listener::default()),
            consumers: RwLock::new(HashMap::new()),
            data_streams: RwLock::new(DataStreams::default()),
            counters: TransportCounters::default(),
            transport_sequence: AtomicU16::new(rand::random()),
            last_sample: Mutex::new(None),
            receive_congestion: Mutex::new(ReceiveCongestion::new(FEEDBACK_SSRC, Instant::now())),
            send_estimator: Mutex::new(SendSideEstimator::new(Instant::now())),
            receiver_sends_feedback: AtomicBool::new(false),
            tick_due: Arc::new(tokio::sync::Notify::new()),
            layer_probe: Mutex::new(LayerProbe::default()),
            probe_padding: Mutex::new(ProbePadding::default()),
            padding_bps: AtomicU64::new(0),
            max_outgoing_bitrate: AtomicU64::new(0),
            min_outgoing_bitrate: AtomicU64::new(0),
            epoch: Instant::now(),
        }
    }

    pub fn emit(&self, event: &str, data: serde_json::Value) {
        self.ctx.events.emit(
            event,
            ObjectKind::Transport,
            &self.transport_id,
            Some(&self.router_id),
            data,
        );
    }

    /// Forgets every producer and consumer (the transport closes).
    pub fn clear(&self) {
        if let Ok(mut listener) = self.listener.write() {
            *listener = Listener::default();
        }
        if let Ok(mut consumers) = self.consumers.write() {
            consumers.clear();
        }
        if let Ok(mut streams) = self.data_streams.write() {
            *streams = DataStreams::default();
        }
    }

    /// Routes a stream's incoming messages to a data producer; false if a
    /// data producer of this transport has that stream already.
    pub fn add_data_producer(&self, producer: &Arc<DataProducerMedia>, stream_id: u16) -> bool {
        let Ok(mut streams) = self.data_streams.write() else {
            return false;
        };
        if streams.producers.contains_key(&stream_id) {
            return false;
        }
        streams.producers.insert(stream_id, producer.clone());
        true
    }

    /// The lowest stream below `limit` no data consumer of this transport
    /// sends on, now taken (mediasoup allocates them the same way).
    pub fn allocate_consumer_stream(&self, limit: u16) -> Option<u16> {
        let mut streams = self.data_streams.write().ok()?;
        let free = (0..limit).find(|id| !streams.consumers.contains(id))?;
        streams.consumers.insert(free);
        Some(free)
    }

    /// The data producer of the stream closed.
    pub fn remove_data_producer(&self, stream_id: u16) {
        if let Ok(mut streams) = self.data_streams.write() {
            streams.producers.remove(&stream_id);
        }
    }

    /// The data consumer sending on the stream closed: it is free again.
    pub fn release_consumer_stream(&self, stream_id: u16) {
        if let Ok(mut streams) = self.data_streams.write() {
            streams.consumers.remove(&stream_id);
        }
    }

    /// What an SCTP association reported, acted on without the endpoint's
    /// lock: a message may be sent straight back out on this transport.
    pub fn sctp_events(&self, events: Vec<SctpEvent>) {
        for event in events {
            match event {
                SctpEvent::Message(message) => self.handle_message(&message),
                SctpEvent::StateChanged(state) => {
                    tracing::info!(transport_id = %self.transport_id, sctp_state = state.as_str(), "SCTP state");
                    self.emit(
                        "sctpstatechange",
                        serde_json::json!({"sctpState": state.as_str()}),
                    );
                }
                SctpEvent::Ignored(reason) => self.ctx.metrics.drop_packet(reason),
                // The peer closed a data channel it sends on: its data
                // producer is gone (its consumers get `dataproducerclose`).
                SctpEvent::StreamClosed(stream_id) => {
                    if let Some(id) = self.data_producer_of_stream(stream_id) {
                        self.ctx
                            .events
                            .close(ObjectKind::DataProducer, &id, CloseCause::Closed);
                    }
                }
            }
        }
    }

    /// The data producer whose messages arrive on the stream.
    pub fn data_producer_of_stream(&self, stream_id: u16) -> Option<String> {
        let streams = self.data_streams.read().ok()?;
        streams.producers.get(&stream_id).map(|p| p.id.clone())
    }

    /// A whole message from the peer, for the data producer of its stream.
    pub fn handle_message(&self, message: &SctpMessage) {
        let producer = self
            .data_streams
            .read()
            .ok()
            .and_then(|s| s.producers.get(&message.stream_id).cloned());
        match producer {
            Some(producer) => producer.deliver(message),
            None => self.ctx.metrics.drop_packet("sctp_unknown_stream"),
        }
    }

    /// A packet numbered `number` (transport-wide) went out, `size` bytes.
    pub fn on_sent(&self, number: u16, size: usize, now: Instant) {
        if !self.receiver_sends_feedback.load(Relaxed) {
            return;
        }
        // What the estimator's recorded-sequence tests replay (off unless
        // this target is enabled: one relaxed load per copy).
        tracing::trace!(target: "troupe::bwe_record", "S {} {number} {size}", self.ms_since_epoch(now));
        if let Ok(mut estimator) = self.send_estimator.lock() {
            estimator.on_sent(number, size, now);
        }
    }

    fn ms_since_epoch(&self, at: Instant) -> f64 {
        at.saturating_duration_since(self.epoch).as_secs_f64() * 1_000.0
    }

    /// What this transport may send, as its receiver's feedback says, within
    /// max/minOutgoingBitrate; `None` until the feedback says anything.
    pub fn available_outgoing_bitrate(&self) -> Option<u64> {
        let estimate = self.send_estimator.lock().ok()?.estimate()?;
        Some(self.within_outgoing_limits(estimate))
    }

    fn within_outgoing_limits(&self, bitrate: u64) -> u64 {
        let max = self.max_outgoing_bitrate.load(Relaxed);
        let min = self.min_outgoing_bitrate.load(Relaxed);
        let capped = if max > 0 { bitrate.min(max) } else { bitrate };
        capped.max(min)
    }

    /// Whether more is on its way to the receiver than the path carries in
    /// `DRAINED_WITHIN`: a key frame asked for now would queue behind it,
    /// or be dropped with it.
    pub fn draining(&self, now: Instant) -> bool {
        self.receiver_sends_feedback.load(Relaxed)
            && self
                .send_estimator
                .lock()
                .ok()
                .and_then(|e| e.in_flight_ms(now))
                .is_some_and(|ms| ms > DRAINED_WITHIN_MS)
    }

    /// mediasoup's setMaxOutgoingBitrate / setMinOutgoingBitrate (0: none).
    pub fn set_outgoing_bitrate_limits(&self, max: Option<u64>, min: Option<u64>) {
        if let Some(max) = max {
            self.max_outgoing_bitrate.store(max, Relaxed);
        }
        if let Some(min) = min {
            self.min_outgoing_bitrate.store(min, Relaxed);
        }
    }

    pub fn outgoing_bitrate_limits(&self) -> (u64, u64) {
        (
            self.max_outgoing_bitrate.load(Relaxed),
            self.min_outgoing_bitrate.load(Relaxed),
        )
    }

    /// Shares what the transport may send among its layered consumers:
    /// others (audio, single streams) take what they send, the rest is
    /// allocated by preference and priority. Without an estimate, nobody is
    /// limited.
    fn allocate_outgoing_bitrate(&self, consumers: &[Arc<ConsumerMedia>], now: Instant) {
        let demands: Vec<(Arc<ConsumerMedia>, Demand)> = consumers
            .iter()
            .filter_map(|c| Some((c.clone(), c.bandwidth_demand()?)))
            .collect();
        if demands.is_empty() {
            return;
        }
        let (estimate, since_overuse) = match self.send_estimator.lock() {
            Ok(estimator) => (estimator.estimate(), estimator.since_overuse_ms(now)),
            Err(_) => return,
        };
        let Some(estimate) = estimate.map(|e| self.within_outgoing_limits(e)) else {
            for (consumer, _) in &demands {
                consumer.set_bandwidth_limit(None);
            }
            return;
        };
        let now_ms = self.ms_since_epoch(now);
        let (attempting, proven) = match self.layer_probe.lock() {
            Ok(mut probe) => {
                probe.update(since_overuse, now_ms);
                (probe.attempting(), probe.take_proven())
            }
            Err(_) => (false, false),
        };
        if proven {
            tracing::trace!(target: "troupe::bwe_record", "P {now_ms}");
            if let Ok(mut estimator) = self.send_estimator.lock() {
                estimator.on_probe_proven();
            }
        }
        let fixed: u64 = consumers
            .iter()
            .filter(|c| !demands.iter().any(|(d, _)| Arc::ptr_eq(c, d)))
            .map(|c| c.bitrate())
            .sum();
        let demands_only: Vec<Demand> = demands.iter().map(|(_, d)| d.clone()).collect();
        let budget = estimate.saturating_sub(fixed);
        let layers = allocate(budget, &demands_only);
        let padding = if attempting {
            let ceiling = ((estimate as f64 * MAX_REACH) as u64).saturating_sub(fixed);
            // A little over the climb: what arrives must prove room for it.
            probe_padding(budget, ceiling, &demands_only) * 11 / 10
        } else {
            0
        };
        self.set_padding_rate(padding);
        for ((consumer, _), layer) in demands.iter().zip(layers) {
            consumer.set_bandwidth_limit(Some(layer));
        }
    }

    fn set_padding_rate(&self, bps: u64) {
        if self.padding_bps.swap(bps, Relaxed) != bps {
            if let Ok(mut padding) = self.probe_padding.lock() {
                padding.pacer.set_rate(bps);
            }
        }
    }

    /// The padding packets a probe owes now (unprotected RTP on the
    /// probator stream, each with a transport-wide number and noted as
    /// sent): none unless an attempt is on and a video consumer says which
    /// payload type and extension id the receiver knows.
    pub fn poll_padding(&self, now: Instant) -> Vec<Vec<u8>> {
        if self.padding_bps.load(Relaxed) == 0 {
            return Vec::new();
        }
        let Some((payload_type, transport_cc_id)) = self
            .consumers
            .read()
            .ok()
            .and_then(|c| c.values().find_map(|c| c.probe_parameters()))
        else {
            return Vec::new();
        };
        let Ok(mut padding) = self.probe_padding.lock() else {
            return Vec::new();
        };
        let size = 12 + 8 + usize::from(MAX_PADDING);
        let due = padding.pacer.due(now, size);
        let mut out = Vec::with_capacity(due);
        for _ in 0..due {
            let number = self.next_transport_sequence();
            padding.sequence_number = padding.sequence_number.wrapping_add(1);
            padding.timestamp = padding.timestamp.wrapping_add(900);
            let mut packet = Vec::with_capacity(size);
            padding_packet(
                &Padding {
                    ssrc: PROBATOR_SSRC,
                    payload_type,
                    sequence_number: padding.sequence_number,
                    timestamp: padding.timestamp,
                    transport_cc: (transport_cc_id, number),
                    padding: MAX_PADDING,
                },
                &mut packet,
            );
            self.on_sent(number, packet.len(), now);
            out.push(packet);
        }
        out
    }

    /// What a copy's send touches in the core: its byte counters and
    /// transport-wide number, and the node's packet counters.
    pub fn send_path_lines(&self) -> [usize; 4] {
        [
            line_of(&self.counters.bytes_sent),
            line_of(&self.counters.rtp_bytes_sent),
            line_of(&self.transport_sequence),
            self.ctx.metrics.rtp_sent_line(),
        ]
    }

    /// The next transport-wide sequence number for packets sent here.
    pub fn next_transport_sequence(&self) -> u16 {
        self.transport_sequence.fetch_add(1, Relaxed)
    }

    fn consumer_by_ssrc(&self, ssrc: u32) -> Option<Arc<ConsumerMedia>> {
        self.consumers.read().ok()?.get(&ssrc).cloned()
    }

    pub fn has_producers(&self) -> bool {
        self.listener
            .read()
            .map(|l| !l.producers.is_empty())
            .unwrap_or(false)
    }

    /// How long until the transport's next look at its RTCP work.
    pub fn report_tick(&self) -> Duration {
        if self.padding_bps.load(Relaxed) > 0 {
            PADDING_TICK
        } else if self.has_producers() || self.adapts_layers() {
            FAST_TICK
        } else {
            SLOW_TICK
        }
    }

    /// Whether this transport shares an estimate among layered consumers:
    /// then a shrinking link must be answered within tens of milliseconds.
    fn adapts_layers(&self) -> bool {
        self.receiver_sends_feedback.load(Relaxed)
            && self
                .consumers
                .read()
                .is_ok_and(|c| c.values().any(|c| c.adapts_to_bandwidth()))
    }

    /// Registers a producer with the client's ids of the extensions the
    /// transport reads.
    pub fn add_producer(&self, producer: &Arc<ProducerMedia>, extension_ids: ClientExtensionIds) {
        let Ok(mut listener) = self.listener.write() else {
            return;
        };
        listener.ids.merge(extension_ids);
        listener.producers.push(producer.clone());
        let params = &producer.shared.rtp_parameters;
        if let Some(mid) = &params.mid {
            listener.by_mid.insert(mid.clone(), producer.clone());
        }
        for (i, encoding) in params.encodings.iter().enumerate() {
            if let Some(ssrc) = encoding.ssrc {
                listener.by_ssrc.insert(
                    ssrc,
                    Route {
                        producer: producer.clone(),
                        encoding: i,
                        rtx: false,
                    },
                );
            }
            if let Some(rtx) = encoding.rtx {
                listener.by_ssrc.insert(
                    rtx.ssrc,
                    Route {
                        producer: producer.clone(),
                        encoding: i,
                        rtx: true,
                    },
                );
            }
            if let Some(rid) = &encoding.rid {
                listener.by_rid.insert(rid.clone(), (producer.clone(), i));
            }
        }
        drop(listener);
        self.tick_due.notify_one();
    }

    pub fn remove_producer(&self, producer_id: &str) {
        let Ok(mut listener) = self.listener.write() else {
            return;
        };
        listener.producers.retain(|p| p.shared.id != producer_id);
        listener
            .by_ssrc
            .retain(|_, route| route.producer.shared.id != producer_id);
        listener.by_mid.retain(|_, p| p.shared.id != producer_id);
        listener
            .by_rid
            .retain(|_, (p, _)| p.shared.id != producer_id);
    }

    pub fn add_consumer(&self, consumer: &Arc<ConsumerMedia>) {
        if let Ok(mut consumers) = self.consumers.write() {
            for ssrc in consumer.ssrcs() {
                consumers.insert(ssrc, consumer.clone());
            }
        }
        self.tick_due.notify_one();
    }

    pub fn remove_consumer(&self, consumer: &ConsumerMedia) {
        if let Ok(mut consumers) = self.consumers.write() {
            for ssrc in consumer.ssrcs() {
                consumers.remove(&ssrc);
            }
        }
    }

    /// An unprotected RTP packet from the peer.
    pub fn handle_rtp(&self, packet: &[u8], now: Instant) {
        let header = match RtpHeader::parse(packet) {
            Ok(h) => h,
            Err(_) => return self.ctx.metrics.drop_packet("rtp_malformed"),
        };
        let (found, ids) = {
            let Ok(listener) = self.listener.read() else {
                return;
            };
            (listener.by_ssrc.get(&header.ssrc).cloned(), listener.ids)
        };
        self.record_arrival(packet, &header, ids, now);
        let route = match found {
            Some(found) => found,
            None => match self.learn_ssrc(packet, &header) {
                Some(found) => found,
                None => return self.ctx.metrics.drop_packet("unknown_ssrc"),
            },
        };
        if route.rtx {
            route
                .producer
                .receive_rtx(packet, header, route.encoding, now);
        } else {
            route.producer.receive(packet, header, route.encoding, now);
        }
    }

    /// Every packet is accounted to the senders' congestion control: the
    /// ones with a transport-wide sequence number acknowledged to them,
    /// whichever stream they belong to (padding and RTX probes too: the
    /// sender's estimate grows from them), abs-send-time fed to our own
    /// estimate for senders that take REMB.
    fn record_arrival(
        &self,
        packet: &[u8],
        header: &RtpHeader,
        ids: ClientExtensionIds,
        now: Instant,
    ) {
        let value_of = |id: Option<u8>| {
            let id = id?;
            header
                .extensions(packet)
                .find(|(i, _)| *i == id)
                .map(|(_, v)| v)
        };
        let transport_sequence = value_of(ids.transport_cc)
            .and_then(|v| Some(u16::from_be_bytes(v.get(..2)?.try_into().ok()?)));
        let abs_send_time = value_of(ids.abs_send_time)
            .and_then(|v| Some(u32::from_be_bytes([0, *v.first()?, *v.get(1)?, *v.get(2)?])));
        if let Ok(mut congestion) = self.receive_congestion.lock() {
            congestion.on_packet(
                transport_sequence,
                abs_send_time,
                header.ssrc,
                packet.len(),
                now,
            );
        }
    }

    /// Caps what the senders on this transport are told they may send
    /// (`None` or 0: no cap).
    pub fn set_max_incoming_bitrate(&self, bitrate: Option<u64>) {
        if let Ok(mut congestion) = self.receive_congestion.lock() {
            congestion.set_max_incoming_bitrate(bitrate);
        }
    }

    /// What the senders on this transport may send, as far as we know.
    pub fn available_incoming_bitrate(&self) -> Option<u64> {
        self.receive_congestion
            .lock()
            .ok()?
            .available_bitrate(Instant::now())
    }

    pub fn max_incoming_bitrate(&self) -> Option<u64> {
        self.receive_congestion.lock().ok()?.max_incoming_bitrate()
    }

    /// mediasoup's RtpListener: a stream first seen by MID or RID is bound to
    /// its producer by SSRC from then on.
    fn learn_ssrc(&self, packet: &[u8], header: &RtpHeader) -> Option<Route> {
        let mut listener = self.listener.write().ok()?;
        let value_of = |id: Option<u8>| {
            let id = id?;
            header
                .extensions(packet)
                .find(|(i, _)| *i == id)
                .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
        };
        let found = if let Some(rid) = value_of(listener.ids.rid) {
            listener.by_rid.get(&rid).map(|(p, i)| Route {
                producer: p.clone(),
                encoding: *i,
                rtx: false,
            })
        } else if let Some(rrid) = value_of(listener.ids.rrid) {
            listener.by_rid.get(&rrid).map(|(p, i)| Route {
                producer: p.clone(),
                encoding: *i,
                rtx: true,
            })
        } else if let Some(mid) = value_of(listener.ids.mid) {
            listener.by_mid.get(&mid).and_then(|p| {
                // A MID alone names the producer; only a single-encoding one
                // can be bound without a RID. Its RTX is told by payload type.
                let rtx = p
                    .shared
                    .rtp_parameters
                    .codecs
                    .iter()
                    .any(|c| c.is_rtx() && c.payload_type == header.payload_type);
                (p.shared.rtp_parameters.encodings.len() == 1).then(|| Route {
                    producer: p.clone(),
                    encoding: 0,
                    rtx,
                })
            })
        } else {
            None
        }?;
        // One learned SSRC per stream: a sender that changes SSRC replaces
        // the old binding, so the table cannot grow without bound.
        let same_stream = |r: &Route| {
            Arc::ptr_eq(&r.producer, &found.producer)
                && r.encoding == found.encoding
                && r.rtx == found.rtx
        };
        let configured: Vec<u32> = found
            .producer
            .shared
            .rtp_parameters
            .encodings
            .iter()
            .flat_map(|e| e.ssrc.into_iter().chain(e.rtx.map(|r| r.ssrc)))
            .collect();
        listener
            .by_ssrc
            .retain(|ssrc, r| configured.contains(ssrc) || !same_stream(r));
        listener.by_ssrc.insert(header.ssrc, found.clone());
        if !found.rtx {
            found.producer.learn_ssrc(found.encoding, header.ssrc);
        }
        Some(found)
    }

    /// An unprotected RTCP compound packet from the peer.
    pub fn handle_rtcp(&self, packet: &[u8]) {
        let feedback = match rtcp_feedback::parse(packet) {
            Ok(f) => f,
            Err(_) => return self.ctx.metrics.drop_packet("rtcp_malformed"),
        };
        for item in feedback {
            match item {
                Feedback::Pli { media_ssrc } | Feedback::Fir { media_ssrc } => {
                    let kind = if matches!(item, Feedback::Pli { .. }) {
                        "pli"
                    } else {
                        "fir"
                    };
                    self.ctx.metrics.feedback(kind);
                    let consumer = self.consumer_by_ssrc(media_ssrc);
                    if let Some(consumer) = consumer {
                        let counter = if kind == "pli" {
                            &consumer.counters.pli_count
                        } else {
                            &consumer.counters.fir_count
                        };
                        counter.fetch_add(1, Relaxed);
                        consumer.request_key_frame();
                    }
                }
                Feedback::Nack {
                    media_ssrc,
                    sequence_numbers,
                } => {
                    self.ctx.metrics.feedback("nack");
                    let consumer = self.consumer_by_ssrc(media_ssrc);
                    if let Some(consumer) = consumer {
                        consumer.on_nack(&sequence_numbers);
                    }
                }
                Feedback::Report {
                    ssrc,
                    fraction_lost,
                    total_lost,
                    last_sender_report,
                    delay,
                    ..
                } => {
                    let consumer = self.consumer_by_ssrc(ssrc);
                    if let Some(consumer) = consumer.filter(|c| c.ssrc == ssrc) {
                        consumer.on_report(fraction_lost, total_lost, last_sender_report, delay);
                    }
                }
                Feedback::SenderReport { ssrc, ntp_time, .. } => {
                    let route = self
                        .listener
                        .read()
                        .ok()
                        .and_then(|l| l.by_ssrc.get(&ssrc).cloned());
                    if let Some(route) = route {
                        route
                            .producer
                            .on_sender_report(ssrc, ntp_time, Instant::now());
                    }
                }
                Feedback::Remb { bitrate } => {
                    self.ctx.metrics.feedback("remb");
                    if let Ok(mut estimator) = self.send_estimator.lock() {
                        estimator.on_remb(bitrate);
                    }
                }
                Feedback::TransportCc {
                    base_sequence,
                    arrivals,
                } => {
                    self.ctx.metrics.feedback("transport_cc");
                    if !self.receiver_sends_feedback.swap(true, Relaxed) {
                        self.tick_due.notify_one();
                    }
                    let now = Instant::now();
                    if tracing::enabled!(target: "troupe::bwe_record", tracing::Level::TRACE) {
                        let arrivals: Vec<String> = arrivals
                            .iter()
                            .map(|a| a.map_or("-".into(), |us| us.to_string()))
                            .collect();
                        tracing::trace!(
                            target: "troupe::bwe_record",
                            "F {} {base_sequence} {}",
                            self.ms_since_epoch(now),
                            arrivals.join(" ")
                        );
                    }
                    if let Ok(mut estimator) = self.send_estimator.lock() {
                        estimator.on_feedback(base_sequence, &arrivals, now);
                    }
                }
            }
        }
    }

    /// NACKs and receiver reports for what we receive, sender reports for
    /// what we send, and the transport's bitrates.
    pub fn poll_reports(&self, now: Instant) -> Vec<Vec<u8>> {
        let producers = self
            .listener
            .read()
            .map(|l| l.producers.clone())
            .unwrap_or_default();
        let media_ssrcs: Vec<u32> = producers
            .iter()
            .flat_map(|p| {
                (0..p.shared.rtp_parameters.encodings.len()).filter_map(|i| p.media_ssrc(i))
            })
            .collect();
        let mut out = match self.receive_congestion.lock() {
            Ok(mut congestion) => congestion.poll(now, &media_ssrcs),
            Err(_) => Vec::new(),
        };
        for packet in &out {
            // A REMB's packet type is 206 (payload-specific), transport-cc's 205.
            let kind = if packet.get(1) == Some(&206) {
                "remb_sent"
            } else {
                "transport_cc_sent"
            };
            self.ctx.metrics.feedback(kind);
        }
        for producer in producers {
            for packet in producer.poll_rtcp(now, FEEDBACK_SSRC) {
                out.push(packet);
            }
        }
        let consumers: Vec<Arc<ConsumerMedia>> = match self.consumers.read() {
            Ok(c) => c
                .iter()
                .filter(|(ssrc, c)| c.ssrc == **ssrc)
                .map(|(_, c)| c.clone())
                .collect(),
            Err(_) => Vec::new(),
        };
        for consumer in &consumers {
            if let Some(report) = consumer.poll_rtcp(now) {
                out.push(report);
            }
        }
        self.allocate_outgoing_bitrate(&consumers, now);
        if let Ok(mut last) = self.last_sample.lock() {
            match *last {
                Some(t)
                    if now.duration_since(t) < crate::media::producer_media::REPORT_INTERVAL => {}
                Some(t) => {
                    self.counters.sample_bitrates(now.duration_since(t));
                    *last = Some(now);
                }
                None => *last = Some(now),
            }
        }
        out
    }
}
