//! One WebRTC transport's protocol state on the shared port: ICE-lite, DTLS,
//! SRTP, and which producer each incoming stream belongs to (mediasoup's
//! RtpListener). Called from the socket tasks; the transport actor owns it.

use std::sync::atomic::AtomicBool;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use serde_json::json;
use troupe_transports::certificate::Fingerprint;
use troupe_transports::dtls_session::{DtlsEvent, DtlsRole, DtlsSession, DtlsState, SrtpContexts};
use troupe_transports::ice_lite::{IceCredentials, IceEvent, IceLite, IceState, Protocol, Tuple};
use troupe_transports::packet_kind::is_rtcp;
use troupe_transports::sctp_link::{
    SctpLink, SctpOptions, SctpSendError, SctpState, StreamReliability,
};
use troupe_transports::srtp_keys::unprotect_failure_reason;

use crate::error::{ActorError, ActorResult};
use crate::media::media_events::MediaContext;
use crate::media::ticker::spawn_ticker;
use crate::media::transport_core::{
    line_of, MediaTransport, SendPathLines, TransportCore, FAST_TICK,
};
use crate::media::webrtc_server::WebRtcServer;
use crate::media::MediaHandle;
use crate::object_kind::{CloseCause, ObjectKind};

struct EndpointState {
    ice: IceLite,
    dtls: Option<DtlsSession>,
    srtp: Option<Box<SrtpContexts>>,
    /// Data channels, when the transport was made with `enableSctp`.
    sctp: Option<SctpLink>,
    ufrags: Vec<String>,
    tuples: Vec<Tuple>,
    /// Open from the transport's creation until ICE connects: its length
    /// is how long the client took to reach us.
    ice_span: Option<tracing::Span>,
    /// Open from `connect` until the handshake ends (`dtls.result`).
    dtls_span: Option<tracing::Span>,
}

pub struct WebRtcEndpoint {
    core: TransportCore,
    server: Weak<WebRtcServer>,
    state: Mutex<EndpointState>,
    closed: AtomicBool,
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
    pub sctp_state: Option<SctpState>,
}

impl WebRtcEndpoint {
    pub fn new(
        ctx: MediaContext,
        server: &Arc<WebRtcServer>,
        transport_id: &str,
        router_id: &str,
        sctp: Option<SctpOptions>,
    ) -> Arc<Self> {
        let credentials = IceCredentials::random();
        let ufrag = credentials.ufrag.clone();
        let endpoint = Arc::new(WebRtcEndpoint {
            core: TransportCore::new(ctx, transport_id, router_id),
            server: Arc::downgrade(server),
            state: Mutex::new(EndpointState {
                ice: IceLite::new(credentials, server.consent_timeout),
                dtls: None,
                srtp: None,
                sctp: sctp.map(SctpLink::accepting),
                ufrags: vec![ufrag.clone()],
                tuples: Vec::new(),
                ice_span: Some(tracing::info_span!("ice connect", transport.id = %transport_id)),
                dtls_span: None,
            }),
            closed: AtomicBool::new(false),
        });
        server.register_ufrag(&ufrag, &endpoint);
        spawn_ticker(
            &endpoint,
            FAST_TICK,
            endpoint.core.tick_due.clone(),
            |endpoint| {
                if endpoint.closed.load(Relaxed) {
                    return None;
                }
                endpoint.tick(Instant::now());
                Some(endpoint.next_tick())
            },
        );
        endpoint
    }

    fn lock(&self) -> MutexGuard<'_, EndpointState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn emit(&self, event: &str, data: serde_json::Value) {
        self.core.emit(event, data);
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
            sctp_state: state.sctp.as_ref().map(|s| s.state()),
        }
    }

    /// The SCTP settings, for a transport made with `enableSctp`.
    pub fn sctp_options(&self) -> Option<SctpOptions> {
        self.lock().sctp.as_ref().map(|s| *s.options())
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
        state.dtls_span = Some(tracing::info_span!(
            "dtls handshake",
            transport.id = %self.core.transport_id,
            dtls.role = ?local_role,
            dtls.result = tracing::field::Empty
        ));
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

    /// A STUN message routed here by its ufrag.
    pub fn handle_stun(self: &Arc<Self>, datagram: &[u8], tuple: Tuple, now: Instant) {
        let mut state = self.lock();
        let (response, events) = match state.ice.handle_binding_request(datagram, tuple, now) {
            Ok(result) => result,
            Err(e) => {
                drop(state);
                self.core.ctx.metrics.drop_packet(e.reason());
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
                IceEvent::StateChanged(s) => self.ice_state_changed(s),
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
            self.core.ctx.metrics.drop_packet("unknown_tuple");
            return;
        }
        let Some(dtls) = state.dtls.as_mut() else {
            drop(state);
            // The client can be quicker than its app's `connect` call; its
            // DTLS retransmission covers this.
            self.core.ctx.metrics.drop_packet("dtls_before_connect");
            return;
        };
        let events = dtls.handle_datagram(now, datagram);
        let mut outcome = None;
        let mut sctp_events = Vec::new();
        for event in events {
            match event {
                DtlsEvent::Connected(contexts) => {
                    state.srtp = Some(contexts);
                    outcome = Some(Ok(()));
                }
                DtlsEvent::ApplicationData(packet) => match state.sctp.as_mut() {
                    Some(sctp) => sctp_events.extend(sctp.handle_packet(now, &packet)),
                    None => self.core.ctx.metrics.drop_packet("sctp_not_enabled"),
                },
                DtlsEvent::Failed(reason) => outcome = Some(Err(reason)),
                DtlsEvent::Closed => outcome = Some(Err("the peer closed DTLS".into())),
            }
        }
        Self::pump_sctp(&mut state, now);
        self.flush_dtls(state);
        match outcome {
            Some(Ok(())) => {
                tracing::info!(transport_id = %self.core.transport_id, "DTLS connected");
                self.dtls_done("connected");
                self.emit("dtlsstatechange", json!({"dtlsState": "connected"}));
            }
            Some(Err(reason)) => self.dtls_failed(&reason),
            None => {}
        }
        self.core.sctp_events(sctp_events);
    }

    /// Puts what SCTP has to send into DTLS records.
    fn pump_sctp(state: &mut EndpointState, now: Instant) {
        let (Some(sctp), Some(dtls)) = (state.sctp.as_mut(), state.dtls.as_mut()) else {
            return;
        };
        for packet in sctp.poll_transmit(now) {
            // Before DTLS connects there is nothing SCTP could have sent.
            let _ = dtls.write(now, &packet);
        }
    }

    fn ice_state_changed(&self, state: IceState) {
        match state {
            IceState::Connected | IceState::Completed => {
                // Closing the span records how long ICE took.
                self.lock().ice_span.take();
            }
            IceState::Disconnected => self.core.ctx.metrics.transport_failed("ice_disconnected"),
            _ => {}
        }
        self.emit("icestatechange", json!({"iceState": state.as_str()}));
    }

    /// Ends the DTLS handshake span with its result.
    fn dtls_done(&self, result: &str) {
        if let Some(span) = self.lock().dtls_span.take() {
            span.record("dtls.result", result);
        }
    }

    fn dtls_failed(&self, reason: &str) {
        self.dtls_done("failed");
        tracing::warn!(transport_id = %self.core.transport_id, %reason, "DTLS failed");
        self.core.ctx.metrics.transport_failed("dtls_failed");
        self.emit(
            "dtlsstatechange",
            json!({"dtlsState": "failed", "reason": reason}),
        );
        self.core.ctx.events.close(
            ObjectKind::Transport,
            &self.core.transport_id,
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
                self.core.ctx.metrics.drop_packet("unknown_tuple");
                return;
            }
            let Some(srtp) = state.srtp.as_mut() else {
                drop(state);
                self.core.ctx.metrics.drop_packet("srtp_before_dtls");
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
                    self.core
                        .ctx
                        .metrics
                        .drop_packet(unprotect_failure_reason(&e));
                    return;
                }
            }
        };
        self.core
            .counters
            .bytes_received
            .fetch_add(datagram.len() as u64, Relaxed);
        if rtcp {
            self.core.handle_rtcp(&plain);
        } else {
            self.core
                .counters
                .rtp_bytes_received
                .fetch_add(datagram.len() as u64, Relaxed);
            self.core.ctx.metrics.rtp_received(datagram.len());
            self.core.handle_rtp(&plain, now);
        }
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
                    self.core.ctx.metrics.drop_packet("srtp_protect");
                    return false;
                }
            }
        };
        let Some(server) = self.server.upgrade() else {
            return false;
        };
        let sent = server.send(tuple, &protected);
        if sent {
            self.core
                .counters
                .bytes_sent
                .fetch_add(protected.len() as u64, Relaxed);
            if !rtcp {
                self.core
                    .counters
                    .rtp_bytes_sent
                    .fetch_add(protected.len() as u64, Relaxed);
                self.core.ctx.metrics.rtp_sent(protected.len());
            }
        }
        sent
    }

    /// Timers: DTLS retransmissions and ICE consent.
    /// Fast while DTLS is not connected yet (its retransmissions) or while
    /// producers need timely NACKs; ICE consent is checked in seconds.
    fn next_tick(&self) -> Duration {
        let state = self.lock();
        let handshaking = state
            .dtls
            .as_ref()
            .is_none_or(|d| d.state() != DtlsState::Connected);
        let sctp_timer = state.sctp.as_ref().and_then(|s| s.poll_timeout());
        drop(state);
        if handshaking {
            return FAST_TICK;
        }
        let tick = self.core.report_tick();
        // SCTP's own timers (delayed SACK 200 ms, retransmissions) decide
        // when it needs looking at again, never sooner than FAST_TICK.
        match sctp_timer {
            Some(at) => at
                .saturating_duration_since(Instant::now())
                .clamp(FAST_TICK, tick),
            None => tick,
        }
    }

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
        let sctp_events = match state.sctp.as_mut() {
            Some(sctp) => sctp.handle_timeout(now),
            None => Vec::new(),
        };
        Self::pump_sctp(&mut state, now);
        self.flush_dtls(state);
        self.core.sctp_events(sctp_events);
        for event in events {
            if let IceEvent::StateChanged(s) = event {
                self.ice_state_changed(s);
            }
        }
        if let Some(reason) = failure {
            self.dtls_failed(&reason);
            return;
        }
        for report in self.core.poll_reports(now) {
            self.send_protected(&report, true);
        }
        for padding in self.core.poll_padding(now) {
            self.send_protected(&padding, false);
        }
    }
}

impl MediaTransport for WebRtcEndpoint {
    fn core(&self) -> &TransportCore {
        &self.core
    }

    fn send_path_lines(&self) -> SendPathLines {
        let [a, b, c, d] = self.core.send_path_lines();
        let state = self.lock();
        [
            line_of(&self.closed),
            line_of(&self.state),
            line_of(&state.srtp),
            line_of(&state.ice),
            a,
            b,
            c,
            d,
        ]
    }

    fn send_rtp(&self, packet: &[u8]) -> bool {
        self.send_protected(packet, false)
    }

    fn send_rtcp(&self, packet: &[u8]) -> bool {
        self.send_protected(packet, true)
    }

    fn send_message(&self, stream_id: u16, ppid: u32, payload: &[u8]) -> Result<(), SctpSendError> {
        if self.closed.load(Relaxed) {
            return Err(SctpSendError::NotConnected);
        }
        let now = Instant::now();
        let mut state = self.lock();
        let sctp = state.sctp.as_mut().ok_or(SctpSendError::NotConnected)?;
        sctp.send(now, stream_id, ppid, payload)?;
        Self::pump_sctp(&mut state, now);
        self.flush_dtls(state);
        Ok(())
    }

    fn close_data_stream(&self, stream_id: u16) {
        if self.closed.load(Relaxed) {
            return;
        }
        let now = Instant::now();
        let mut state = self.lock();
        if let Some(sctp) = state.sctp.as_mut() {
            sctp.reset_stream(now, stream_id);
        }
        Self::pump_sctp(&mut state, now);
        self.flush_dtls(state);
    }

    fn configure_data_stream(&self, stream_id: u16, reliability: StreamReliability) {
        if let Some(sctp) = self.lock().sctp.as_mut() {
            sctp.configure_stream(stream_id, reliability);
        }
    }

    fn data_buffered_amount(&self, stream_id: u16) -> usize {
        self.lock()
            .sctp
            .as_mut()
            .map(|s| s.stream_buffered_amount(stream_id))
            .unwrap_or(0)
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
            if let Some(sctp) = state.sctp.as_mut() {
                sctp.close();
            }
            Self::pump_sctp(&mut state, now);
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
        self.core.clear();
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
