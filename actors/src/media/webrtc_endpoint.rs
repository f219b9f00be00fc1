//! One WebRTC transport's protocol state on the shared port: ICE-lite, DTLS,
//! SRTP, and which producer each incoming stream belongs to (mediasoup's
//! RtpListener). Called from the socket tasks; the transport actor owns it.

use std::collections::HashMap;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::atomic::{AtomicBool, AtomicU16};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, Weak};
use std::time::{Duration, Instant};

use serde_json::json;
use troupe_transports::certificate::Fingerprint;
use troupe_transports::dtls_session::{DtlsEvent, DtlsRole, DtlsSession, DtlsState, SrtpContexts};
use troupe_transports::ice_lite::{IceCredentials, IceEvent, IceLite, IceState, Protocol, Tuple};
use troupe_transports::packet_kind::is_rtcp;
use troupe_transports::rtcp_feedback::{self, Feedback};
use troupe_transports::rtp_packet::RtpHeader;

use crate::close::close_object;
use crate::context::Ctx;
use crate::error::{ActorError, ActorResult};
use crate::media::consumer_media::ConsumerMedia;
use crate::media::producer_media::ProducerMedia;
use crate::media::webrtc_server::WebRtcServer;
use crate::media::MediaHandle;
use crate::stats::TransportCounters;
use crate::topology::{CloseCause, ObjectKind};

/// The SSRC Troupe signs its RTCP feedback with.
const FEEDBACK_SSRC: u32 = 0x7472_6f75; // "trou"

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
    /// The client's ids for the MID, RID and repaired-RID extensions.
    mid_extension_id: Option<u8>,
    rid_extension_id: Option<u8>,
    rrid_extension_id: Option<u8>,
}

struct EndpointState {
    ice: IceLite,
    dtls: Option<DtlsSession>,
    srtp: Option<Box<SrtpContexts>>,
    ufrags: Vec<String>,
    tuples: Vec<Tuple>,
}

pub struct WebRtcEndpoint {
    pub transport_id: String,
    pub router_id: String,
    ctx: Ctx,
    server: Weak<WebRtcServer>,
    state: Mutex<EndpointState>,
    listener: RwLock<Listener>,
    consumers: RwLock<HashMap<u32, Arc<ConsumerMedia>>>,
    pub counters: Arc<TransportCounters>,
    closed: AtomicBool,
    transport_sequence: AtomicU16,
    last_sample: Mutex<Option<Instant>>,
}

/// The DTLS role the peer announced in `connect`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RemoteDtlsRole {
    Auto,
    Client,
    Server,
}

/// What the transport's dump shows of its connection.
#[derive(Debug, Clone)]
pub struct ConnectionInfo {
    pub ice_state: IceState,
    pub dtls_state: DtlsState,
    pub selected_tuple: Option<Tuple>,
    pub ice: IceCredentials,
    pub dtls_role: Option<DtlsRole>,
}

fn drop_reason_for_srtp(error: &str) -> &'static str {
    if error.contains("replay") || error.contains("duplicate") {
        "srtp_replay"
    } else {
        "srtp_auth"
    }
}

impl WebRtcEndpoint {
    pub fn new(
        ctx: Ctx,
        server: &Arc<WebRtcServer>,
        transport_id: &str,
        router_id: &str,
    ) -> Arc<Self> {
        let credentials = IceCredentials::random();
        let ufrag = credentials.ufrag.clone();
        let endpoint = Arc::new(WebRtcEndpoint {
            transport_id: transport_id.to_string(),
            router_id: router_id.to_string(),
            ctx,
            server: Arc::downgrade(server),
            state: Mutex::new(EndpointState {
                ice: IceLite::new(credentials, server.consent_timeout),
                dtls: None,
                srtp: None,
                ufrags: vec![ufrag.clone()],
                tuples: Vec::new(),
            }),
            listener: RwLock::new(Listener::default()),
            consumers: RwLock::new(HashMap::new()),
            counters: Arc::new(TransportCounters::default()),
            closed: AtomicBool::new(false),
            transport_sequence: AtomicU16::new(rand::random()),
            last_sample: Mutex::new(None),
        });
        server.register_ufrag(&ufrag, &endpoint);
        let weak = Arc::downgrade(&endpoint);
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(Duration::from_millis(50));
            loop {
                ticker.tick().await;
                let Some(endpoint) = weak.upgrade() else {
                    break;
                };
                if endpoint.closed.load(Relaxed) {
                    break;
                }
                endpoint.tick(Instant::now());
            }
        });
        endpoint
    }

    fn lock(&self) -> MutexGuard<'_, EndpointState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn emit(&self, event: &str, data: serde_json::Value) {
        self.ctx.events.emit(
            event,
            ObjectKind::Transport,
            &self.transport_id,
            Some(&self.router_id),
            data,
        );
    }

    pub fn info(&self) -> ConnectionInfo {
        let state = self.lock();
        ConnectionInfo {
            ice_state: state.ice.state(),
            dtls_state: state
                .dtls
                .as_ref()
                .map(|d| d.state())
                .unwrap_or(DtlsState::New),
            selected_tuple: state.ice.selected_tuple(),
            ice: state.ice.credentials().clone(),
            dtls_role: state.dtls.as_ref().map(|d| d.role()),
        }
    }

    /// `connect({dtlsParameters})`: the peer's role and certificate
    /// fingerprints. mediasoup's rule: a peer that is client makes us server
    /// and vice versa; a peer that says auto makes us client.
    pub fn connect(
        &self,
        role: RemoteDtlsRole,
        fingerprints: Vec<Fingerprint>,
    ) -> ActorResult<DtlsRole> {
        let server = self
            .server
            .upgrade()
            .ok_or_else(|| ActorError::WrongState("the WebRTC server is gone".into()))?;
        let local_role = match role {
            RemoteDtlsRole::Client => DtlsRole::Server,
            RemoteDtlsRole::Server | RemoteDtlsRole::Auto => DtlsRole::Client,
        };
        let mut state = self.lock();
        if state.dtls.is_some() {
            return Err(ActorError::WrongState(
                "the transport is already connected".into(),
            ));
        }
        let session = DtlsSession::new(&server.certificate, local_role, fingerprints)
            .map_err(|e| ActorError::invalid("dtlsParameters.fingerprints", e.to_string()))?;
        let mut session = session;
        if local_role == DtlsRole::Server {
            // A server only waits for the ClientHello; "connecting" from now.
            let _ = session.start(Instant::now());
        }
        state.dtls = Some(session);
        let start_now = local_role == DtlsRole::Client && state.ice.selected_tuple().is_some();
        drop(state);
        self.emit("dtlsstatechange", json!({"dtlsState": "connecting"}));
        if start_now {
            self.start_dtls_client(Instant::now());
        }
        Ok(local_role)
    }

    pub fn restart_ice(self: &Arc<Self>) -> IceCredentials {
        let credentials = IceCredentials::random();
        let mut state = self.lock();
        state.ice.restart(credentials.clone());
        state.ufrags.push(credentials.ufrag.clone());
        drop(state);
        if let Some(server) = self.server.upgrade() {
            server.register_ufrag(&credentials.ufrag, self);
        }
        credentials
    }

    /// The next transport-wide sequence number for packets sent here.
    pub fn next_transport_sequence(&self) -> u16 {
        self.transport_sequence.fetch_add(1, Relaxed)
    }

    /// Registers a producer with the client's ids for MID, RID and RRID.
    pub fn add_producer(&self, producer: &Arc<ProducerMedia>, extension_ids: [Option<u8>; 3]) {
        let Ok(mut listener) = self.listener.write() else {
            return;
        };
        let [mid, rid, rrid] = extension_ids;
        listener.mid_extension_id = mid.or(listener.mid_extension_id);
        listener.rid_extension_id = rid.or(listener.rid_extension_id);
        listener.rrid_extension_id = rrid.or(listener.rrid_extension_id);
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
    }

    pub fn remove_consumer(&self, consumer: &ConsumerMedia) {
        if let Ok(mut consumers) = self.consumers.write() {
            for ssrc in consumer.ssrcs() {
                consumers.remove(&ssrc);
            }
        }
    }

    /// A STUN message routed here by its ufrag.
    pub fn handle_stun(self: &Arc<Self>, datagram: &[u8], tuple: Tuple, now: Instant) {
        let mut state = self.lock();
        let (response, events) = match state.ice.handle_binding_request(datagram, tuple, now) {
            Ok(result) => result,
            Err(e) => {
                drop(state);
                self.ctx.metrics.drop_packet(e.reason());
                return;
            }
        };
        let mut start_client = false;
        for event in &events {
            match event {
                IceEvent::SelectedTupleChanged(t) if !state.tuples.contains(t) => {
                    state.tuples.push(*t)
                }
                IceEvent::StateChanged(IceState::Connected | IceState::Completed) => {
                    start_client = state.dtls.as_ref().is_some_and(|d| {
                        d.role() == DtlsRole::Client && d.state() == DtlsState::New
                    });
                }
                _ => {}
            }
        }
        drop(state);
        let Some(server) = self.server.upgrade() else {
            return;
        };
        server.bind_tuple(tuple, self);
        server.send(tuple, &response);
        for event in events {
            match event {
                IceEvent::StateChanged(s) => self.emit("icestatechange", json!({"iceState": s.as_str()})),
                IceEvent::SelectedTupleChanged(t) => self.emit(
                    "iceselectedtuplechange",
                    json!({"iceSelectedTuple": tuple_json(&t, server.local_port, &server.announced_address)}),
                ),
            }
        }
        if start_client {
            self.start_dtls_client(now);
        }
    }

    fn start_dtls_client(&self, now: Instant) {
        let mut state = self.lock();
        if let Some(dtls) = state.dtls.as_mut() {
            if let Err(e) = dtls.start(now) {
                drop(state);
                self.dtls_failed(&e.to_string());
                return;
            }
        }
        self.flush_dtls(state);
    }

    /// Sends what DTLS queued to the selected tuple. Consumes the lock so no
    /// socket call happens while it is held.
    fn flush_dtls(&self, mut state: MutexGuard<'_, EndpointState>) {
        let Some(tuple) = state.ice.selected_tuple() else {
            return;
        };
        let mut datagrams = Vec::new();
        if let Some(dtls) = state.dtls.as_mut() {
            while let Some(d) = dtls.poll_transmit() {
                datagrams.push(d);
            }
        }
        drop(state);
        if let Some(server) = self.server.upgrade() {
            for d in datagrams {
                server.send(tuple, &d);
            }
        }
    }

    fn is_valid_tuple(state: &EndpointState, tuple: &Tuple) -> bool {
        state.ice.is_valid_tuple(tuple)
    }

    pub fn handle_dtls(&self, datagram: &[u8], tuple: Tuple, now: Instant) {
        let mut state = self.lock();
        if !Self::is_valid_tuple(&state, &tuple) {
            drop(state);
            self.ctx.metrics.drop_packet("unknown_tuple");
            return;
        }
        let Some(dtls) = state.dtls.as_mut() else {
            drop(state);
            // The client can be quicker than its app's `connect` call; its
            // DTLS retransmission covers this.
            self.ctx.metrics.drop_packet("dtls_before_connect");
            return;
        };
        let events = dtls.handle_datagram(now, datagram);
        let mut outcome = None;
        for event in events {
            match event {
                DtlsEvent::Connected(contexts) => {
                    state.srtp = Some(contexts);
                    outcome = Some(Ok(()));
                }
                DtlsEvent::Failed(reason) => outcome = Some(Err(reason)),
                DtlsEvent::Closed => outcome = Some(Err("the peer closed DTLS".into())),
            }
        }
        self.flush_dtls(state);
        match outcome {
            Some(Ok(())) => {
                tracing::info!(transport_id = %self.transport_id, "DTLS connected");
                self.emit("dtlsstatechange", json!({"dtlsState": "connected"}));
            }
            Some(Err(reason)) => self.dtls_failed(&reason),
            None => {}
        }
    }

    fn dtls_failed(&self, reason: &str) {
        tracing::warn!(transport_id = %self.transport_id, %reason, "DTLS failed");
        self.ctx.metrics.failure("transport", "dtls_failed");
        self.emit(
            "dtlsstatechange",
            json!({"dtlsState": "failed", "reason": reason}),
        );
        close_object(
            &self.ctx,
            ObjectKind::Transport,
            &self.transport_id,
            CloseCause::Error(format!("DTLS failed: {reason}")),
        );
    }

    /// SRTP or SRTCP from the peer.
    pub fn handle_srtp(&self, datagram: &[u8], tuple: Tuple, now: Instant) {
        let rtcp = is_rtcp(datagram);
        let plain = {
            let mut state = self.lock();
            if !Self::is_valid_tuple(&state, &tuple) {
                drop(state);
                self.ctx.metrics.drop_packet("unknown_tuple");
                return;
            }
            let Some(srtp) = state.srtp.as_mut() else {
                drop(state);
                self.ctx.metrics.drop_packet("srtp_before_dtls");
                return;
            };
            let result = if rtcp {
                srtp.remote.decrypt_rtcp(datagram)
            } else {
                srtp.remote.decrypt_rtp(datagram)
            };
            match result {
                Ok(plain) => plain,
                Err(e) => {
                    drop(state);
                    self.ctx
                        .metrics
                        .drop_packet(drop_reason_for_srtp(&e.to_string()));
                    return;
                }
            }
        };
        self.counters
            .bytes_received
            .fetch_add(datagram.len() as u64, Relaxed);
        if rtcp {
            self.handle_rtcp(&plain);
        } else {
            self.counters
                .rtp_bytes_received
                .fetch_add(datagram.len() as u64, Relaxed);
            self.ctx.metrics.rtp_received(datagram.len());
            self.handle_rtp(&plain, now);
        }
    }

    fn handle_rtp(&self, packet: &[u8], now: Instant) {
        let header = match RtpHeader::parse(packet) {
            Ok(h) => h,
            Err(_) => return self.ctx.metrics.drop_packet("rtp_malformed"),
        };
        let found = {
            let Ok(listener) = self.listener.read() else {
                return;
            };
            listener.by_ssrc.get(&header.ssrc).cloned()
        };
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
        let found = if let Some(rid) = value_of(listener.rid_extension_id) {
            listener.by_rid.get(&rid).map(|(p, i)| Route {
                producer: p.clone(),
                encoding: *i,
                rtx: false,
            })
        } else if let Some(rrid) = value_of(listener.rrid_extension_id) {
            listener.by_rid.get(&rrid).map(|(p, i)| Route {
                producer: p.clone(),
                encoding: *i,
                rtx: true,
            })
        } else if let Some(mid) = value_of(listener.mid_extension_id) {
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
        listener.by_ssrc.insert(header.ssrc, found.clone());
        Some(found)
    }

    fn handle_rtcp(&self, packet: &[u8]) {
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
                    let consumer = self
                        .consumers
                        .read()
                        .ok()
                        .and_then(|c| c.get(&media_ssrc).cloned());
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
                    let consumer = self
                        .consumers
                        .read()
                        .ok()
                        .and_then(|c| c.get(&media_ssrc).cloned());
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
                    let consumer = self
                        .consumers
                        .read()
                        .ok()
                        .and_then(|c| c.get(&ssrc).cloned());
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
                Feedback::Remb { .. } => self.ctx.metrics.feedback("remb"),
                Feedback::TransportCc => self.ctx.metrics.feedback("transport_cc"),
            }
        }
    }

    /// Protects and sends one RTP packet to the peer; false if it could not.
    pub fn send_rtp(&self, packet: &[u8]) -> bool {
        self.send_protected(packet, false)
    }

    pub fn send_picture_loss_indication(&self, media_ssrc: u32) -> bool {
        self.send_protected(
            &rtcp_feedback::picture_loss_indication(FEEDBACK_SSRC, media_ssrc),
            true,
        )
    }

    fn send_protected(&self, packet: &[u8], rtcp: bool) -> bool {
        if self.closed.load(Relaxed) {
            return false;
        }
        let (tuple, protected) = {
            let mut state = self.lock();
            let Some(tuple) = state.ice.selected_tuple() else {
                return false;
            };
            let Some(srtp) = state.srtp.as_mut() else {
                return false;
            };
            let result = if rtcp {
                srtp.local.encrypt_rtcp(packet)
            } else {
                srtp.local.encrypt_rtp(packet)
            };
            match result {
                Ok(p) => (tuple, p),
                Err(_) => {
                    drop(state);
                    self.ctx.metrics.drop_packet("srtp_protect");
                    return false;
                }
            }
        };
        let Some(server) = self.server.upgrade() else {
            return false;
        };
        let sent = server.send(tuple, &protected);
        if sent {
            self.counters
                .bytes_sent
                .fetch_add(protected.len() as u64, Relaxed);
            if !rtcp {
                self.counters
                    .rtp_bytes_sent
                    .fetch_add(protected.len() as u64, Relaxed);
                self.ctx.metrics.rtp_sent(protected.len());
            }
        }
        sent
    }

    /// Timers: DTLS retransmissions and ICE consent.
    fn tick(&self, now: Instant) {
        let mut state = self.lock();
        let mut failure = None;
        if let Some(dtls) = state.dtls.as_mut() {
            if dtls.poll_timeout().is_some_and(|t| now >= t) {
                for event in dtls.handle_timeout(now) {
                    if let DtlsEvent::Failed(reason) = event {
                        failure = Some(reason);
                    }
                }
            }
        }
        let events = if state.ice.poll_timeout().is_some_and(|t| now >= t) {
            state.ice.handle_timeout(now)
        } else {
            Vec::new()
        };
        self.flush_dtls(state);
        for event in events {
            if let IceEvent::StateChanged(s) = event {
                self.emit("icestatechange", json!({"iceState": s.as_str()}));
            }
        }
        if let Some(reason) = failure {
            self.dtls_failed(&reason);
            return;
        }
        self.send_reports(now);
    }

    /// NACKs and receiver reports for what we receive, sender reports for
    /// what we send, and the transport's bitrates.
    fn send_reports(&self, now: Instant) {
        let producers = self
            .listener
            .read()
            .map(|l| l.producers.clone())
            .unwrap_or_default();
        for producer in producers {
            for packet in producer.poll_rtcp(now, FEEDBACK_SSRC) {
                self.send_protected(&packet, true);
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
        for consumer in consumers {
            if let Some(report) = consumer.poll_rtcp(now) {
                self.send_protected(&report, true);
            }
        }
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
    }
}

impl MediaHandle for WebRtcEndpoint {
    fn close(&self) {
        if self.closed.swap(true, Relaxed) {
            return;
        }
        let (ufrags, tuples, datagrams) = {
            let mut state = self.lock();
            let now = Instant::now();
            let mut datagrams = Vec::new();
            if let Some(dtls) = state.dtls.as_mut() {
                dtls.close(now);
                while let Some(d) = dtls.poll_transmit() {
                    datagrams.push(d);
                }
            }
            state.ice.close();
            (
                std::mem::take(&mut state.ufrags),
                std::mem::take(&mut state.tuples),
                (state.ice.selected_tuple(), datagrams),
            )
        };
        if let Some(server) = self.server.upgrade() {
            if let (Some(tuple), datagrams) = datagrams {
                for d in datagrams {
                    server.send(tuple, &d);
                }
            }
            server.unregister(&ufrags, &tuples);
        }
        if let Ok(mut listener) = self.listener.write() {
            *listener = Listener::default();
        }
        if let Ok(mut consumers) = self.consumers.write() {
            consumers.clear();
        }
    }
}

/// mediasoup's TransportTuple shape.
pub fn tuple_json(tuple: &Tuple, local_port: u16, local_address: &str) -> serde_json::Value {
    json!({
        "localAddress": local_address,
        "localPort": local_port,
        "remoteIp": tuple.remote.ip().to_string(),
        "remotePort": tuple.remote.port(),
        "protocol": match tuple.protocol { Protocol::Udp => "udp", Protocol::Tcp => "tcp" },
    })
}
