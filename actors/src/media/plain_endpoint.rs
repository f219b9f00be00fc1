//! A plain RTP transport (mediasoup's PlainTransport) for ffmpeg, GStreamer
//! and other tools: its own UDP port (and an RTCP port without rtcp-mux),
//! or the node's shared plain port (`shared_plain_port`), the remote
//! address given by `connect` or learned from the first packet (comedia),
//! optional SRTP keyed through the API.

use std::borrow::Cow;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::os::fd::RawFd;
use std::sync::atomic::AtomicBool;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Instant;

use serde_json::json;
use troupe_transports::packet_kind::{classify, is_rtcp, PacketKind};
use troupe_transports::sctp_link::{
    SctpEvent, SctpLink, SctpOptions, SctpSendError, SctpState, StreamReliability, SCTP_PORT,
};
use troupe_transports::srtp_keys::Context;
use troupe_transports::srtp_keys::{unprotect_failure_reason, SrtpCryptoSuite, SrtpKey};

use crate::error::{ActorError, ActorResult};
use crate::media::media_events::MediaContext;
use crate::media::media_socket::MediaSocket;
use crate::media::metered_socket::MeteredSocket;
use crate::media::outgoing_batch::{self, BatchSocket};
use crate::media::peer_link::{self, PeerLink};
use crate::media::port_allocator::AllocatedPort;
use crate::media::port_group::send_only_sibling;
use crate::media::shared_plain_port::SharedPlainPort;
use crate::media::transport_core::{line_of, MediaTransport, SendPathLines, TransportCore};
use crate::media::MediaHandle;
use crate::stats::add_by_lock_holder;

const MAX_DATAGRAM: usize = 2048;

use crate::media::ticker::spawn_ticker;
use crate::media::transport_core::FAST_TICK;

pub struct PlainOptions {
    pub listen_ip: IpAddr,
    pub announced_address: String,
    pub rtcp_mux: bool,
    pub comedia: bool,
    pub srtp: Option<SrtpCryptoSuite>,
    /// Data channels straight over UDP, as mediasoup's plain and pipe
    /// transports carry them (unencrypted, like mediasoup's).
    pub sctp: Option<SctpOptions>,
}

/// What a send reads first (`repr(C)`): the outgoing key's box and the
/// destination, within the endpoint's first two lines.
#[repr(C)]
struct PlainState {
    srtp_out: Option<Box<Context>>,
    remote_rtp: Option<SocketAddr>,
    remote_rtcp: Option<SocketAddr>,
    /// Made at connect: the end with the lower address sends INIT, the
    /// other waits for it (two INITs would cross and both be refused).
    sctp: Option<SctpLink>,
    /// Unprotects what the peer sends, once its key is known.
    srtp_in: Option<Context>,
}

/// Where a plain transport sends and receives.
pub enum PlainPorts {
    /// Its own RTP port, and an RTCP port without rtcp-mux.
    Own {
        rtp: AllocatedPort,
        rtcp: Option<AllocatedPort>,
    },
    /// The node's shared port, which hands it what its peer sends.
    Shared(Arc<SharedPlainPort>),
}

/// What sending a copy reads comes first, in two cache lines (`repr(C)`,
/// aligned to a line): at N=500 the send's reads spread over six lines of
/// a 4 KiB endpoint were most of its own time, each a miss on every copy
/// however early the fan-out prefetched them.
#[repr(C, align(64))]
pub struct PlainEndpoint {
    closed: AtomicBool,
    /// Copies leave the sibling without an address: it is connected to
    /// the peer (`peer_link`).
    to_peer: AtomicBool,
    /// `rtp_batch`'s descriptor, read by every batched copy.
    rtp_batch_fd: RawFd,
    /// What RTP (and RTCP where muxed) leaves by, as a fan-out's batch
    /// sees it: copies to many plain consumers leave in one io_uring
    /// submission. A send-only sibling of the RTP socket where it could be
    /// made.
    rtp_batch: Option<Arc<dyn BatchSocket>>,
    /// What a batched copy holds (see `BatchSocket for PlainEndpoint`),
    /// and what the shared port is given to reach this transport.
    myself: Weak<PlainEndpoint>,
    /// Sends and receives through the shared port rather than its own.
    shared: Option<Arc<SharedPlainPort>>,
    rtcp_socket: Option<Arc<MediaSocket>>,
    state: Mutex<PlainState>,
    core: TransportCore,
    pub rtp_port: u16,
    pub rtcp_port: Option<u16>,
    pub listen_ip: IpAddr,
    pub announced_address: String,
    pub comedia: bool,
    pub rtcp_mux: bool,
    /// Our key, given to the peer in `srtpParameters`.
    pub local_key: Option<SrtpKey>,
    pub sctp_options: Option<SctpOptions>,
    /// The receive loops, stopped on close so the ports are freed at once.
    tasks: Mutex<Vec<tokio::task::AbortHandle>>,
    _ports: Vec<AllocatedPort>,
    /// The send-only sibling `rtp_batch` sends on, if there is one.
    sibling: Option<Arc<MeteredSocket<UdpSocket>>>,
    /// The RTP socket the runtime reads, which a released link sends on.
    rtp_watched: Option<Arc<MediaSocket>>,
    /// When the linked sibling was last looked at for what the peer sent.
    sibling_looked_at: Mutex<Instant>,
}

/// What `connect` gives a plain transport.
pub struct PlainConnect {
    pub ip: Option<IpAddr>,
    pub port: Option<u16>,
    pub rtcp_port: Option<u16>,
    pub srtp: Option<SrtpKey>,
}

impl PlainEndpoint {
    pub fn new(
        ctx: MediaContext,
        transport_id: &str,
        router_id: &str,
        options: PlainOptions,
        ports: PlainPorts,
    ) -> std::io::Result<Arc<Self>> {
        let to_tokio = |port: &AllocatedPort| -> std::io::Result<Arc<MediaSocket>> {
            Ok(Arc::new(MediaSocket::new(port.socket.try_clone()?)?))
        };
        let rtp_port = match &ports {
            PlainPorts::Own { rtp, .. } => rtp.port,
            PlainPorts::Shared(shared) => shared.port(),
        };
        let (own_ports, shared) = match ports {
            PlainPorts::Own { rtp, rtcp } => (Some((rtp, rtcp)), None),
            PlainPorts::Shared(shared) => (None, Some(shared)),
        };
        let (rtp_socket, rtcp_socket) = match &own_ports {
            Some((rtp, rtcp)) => (
                Some(to_tokio(rtp)?),
                rtcp.as_ref().map(to_tokio).transpose()?,
            ),
            None => (None, None),
        };
        let local_key = options.srtp.map(SrtpKey::generate);
        let srtp_out = match &local_key {
            Some(key) => Some(Box::new(
                key.context(false)
                    .map_err(|e| std::io::Error::other(e.to_string()))?,
            )),
            None => None,
        };
        // RTP leaves from a sibling socket on the port where the kernel
        // steers arrivals (at N=500 the watched socket's epoll callback per
        // sent copy was 6 % of Troupe's time), else from the watched one.
        let sibling = own_ports
            .as_ref()
            .and_then(|(rtp, _)| send_only_sibling(&rtp.socket).ok())
            .map(|sibling| Arc::new(MeteredSocket::new(sibling, ctx.metrics.clone())));
        let rtp_batch = match (&sibling, &rtp_socket) {
            (Some(sibling), _) => Some(sibling.clone() as Arc<dyn BatchSocket>),
            (None, Some(socket)) => Some(Arc::new(MeteredSocket::new(
                socket.clone(),
                ctx.metrics.clone(),
            )) as Arc<dyn BatchSocket>),
            (None, None) => None,
        };
        let rtp_batch_fd = rtp_batch.as_ref().map_or(-1, |b| b.fd());
        let endpoint = Arc::new_cyclic(|myself| PlainEndpoint {
            core: TransportCore::new(ctx, transport_id, router_id),
            shared,
            myself: myself.clone(),
            rtcp_socket: rtcp_socket.clone(),
            rtp_batch,
            rtp_batch_fd,
            rtp_port,
            rtcp_port: own_ports
                .as_ref()
                .and_then(|(_, rtcp)| rtcp.as_ref().map(|p| p.port)),
            listen_ip: options.listen_ip,
            announced_address: options.announced_address,
            comedia: options.comedia,
            rtcp_mux: options.rtcp_mux,
            local_key,
            sctp_options: options.sctp,
            state: Mutex::new(PlainState {
                remote_rtp: None,
                remote_rtcp: None,
                sctp: None,
                srtp_in: None,
                srtp_out,
            }),
            closed: AtomicBool::new(false),
            to_peer: AtomicBool::new(false),
            sibling,
            rtp_watched: rtp_socket.clone(),
            sibling_looked_at: Mutex::new(Instant::now()),
            tasks: Mutex::new(Vec::new()),
            _ports: own_ports
                .map(|(rtp, rtcp)| std::iter::once(rtp).chain(rtcp).collect())
                .unwrap_or_default(),
        });
        let mut tasks = Vec::new();
        if let Some(socket) = rtp_socket {
            tasks.push(
                tokio::spawn(Self::receive(Arc::downgrade(&endpoint), socket, false))
                    .abort_handle(),
            );
        }
        if let Some(socket) = rtcp_socket {
            tasks.push(
                tokio::spawn(Self::receive(Arc::downgrade(&endpoint), socket, true)).abort_handle(),
            );
        }
        if let Ok(mut slot) = endpoint.tasks.lock() {
            *slot = tasks;
        }
        spawn_ticker(
            &endpoint,
            FAST_TICK,
            endpoint.core.tick_due.clone(),
            |endpoint| {
                if endpoint.closed.load(Relaxed) {
                    return None;
                }
                for report in endpoint.core.poll_reports(Instant::now()) {
                    endpoint.send_rtcp(&report);
                }
                endpoint.look_at_sibling(Instant::now());
                Some(endpoint.sctp_tick(Instant::now()))
            },
        );
        Ok(endpoint)
    }

    fn lock(&self) -> MutexGuard<'_, PlainState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    async fn receive(endpoint: Weak<PlainEndpoint>, socket: Arc<MediaSocket>, rtcp_port: bool) {
        let mut buffer = vec![0u8; MAX_DATAGRAM];
        loop {
            let (length, from) = match socket.recv_from(&mut buffer).await {
                Ok(r) => r,
                Err(_) => {
                    if endpoint.upgrade().is_none_or(|e| e.closed.load(Relaxed)) {
                        break;
                    }
                    continue;
                }
            };
            let Some(endpoint) = endpoint.upgrade() else {
                break;
            };
            if endpoint.closed.load(Relaxed) {
                break;
            }
            endpoint.handle_datagram(&buffer[..length], from, rtcp_port);
        }
    }

    pub(crate) fn handle_datagram(&self, datagram: &[u8], from: SocketAddr, on_rtcp_port: bool) {
        let metrics = &self.core.ctx.metrics;
        if self.sctp_options.is_some() && is_sctp(datagram) {
            return self.handle_sctp(datagram, from);
        }
        if classify(datagram) != PacketKind::Rtp {
            return metrics.drop_packet("junk");
        }
        let rtcp = on_rtcp_port || is_rtcp(datagram);
        let mut events = Vec::new();
        let plain = {
            let mut state = self.lock();
            // comedia learns where the peer is from what it sends: the RTP
            // address from RTP only, since tools like ffmpeg send RTCP from
            // another port first.
            if rtcp {
                match state.remote_rtcp {
                    None if self.comedia => {
                        state.remote_rtcp = Some(from);
                        events.push(("rtcptuple", from));
                    }
                    Some(known) if known != from && state.remote_rtp != Some(from) => {
                        drop(state);
                        return metrics.drop_packet("unknown_tuple");
                    }
                    None if state.remote_rtp != Some(from) && !self.comedia => {
                        drop(state);
                        return metrics.drop_packet("unknown_tuple");
                    }
                    _ => {}
                }
            } else {
                match state.remote_rtp {
                    None if self.comedia => {
                        state.remote_rtp = Some(from);
                        events.push(("tuple", from));
                    }
                    Some(known) if known == from => {}
                    _ => {
                        drop(state);
                        return metrics.drop_packet("unknown_tuple");
                    }
                }
            }
            match (&mut state.srtp_in, self.local_key.is_some()) {
                (Some(srtp), _) => {
                    let result = if rtcp {
                        srtp.decrypt_rtcp(datagram)
                    } else {
                        srtp.decrypt_rtp(datagram)
                    };
                    match result {
                        Ok(p) => Cow::Owned(p.to_vec()),
                        Err(e) => {
                            drop(state);
                            return metrics.drop_packet(unprotect_failure_reason(&e));
                        }
                    }
                }
                // SRTP enabled but the peer's key not given yet.
                (None, true) => {
                    drop(state);
                    return metrics.drop_packet("srtp_before_connect");
                }
                // Plain RTP is forwarded from the receive buffer as is.
                (None, false) => Cow::Borrowed(datagram),
            }
        };
        for (event, address) in events {
            self.core.emit(
                event,
                json!({ event_field(event): self.tuple_json(Some(address), event == "rtcptuple") }),
            );
        }
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
            metrics.rtp_received(datagram.len());
            self.core.handle_rtp(&plain, Instant::now());
        }
    }

    /// An SCTP packet: only from the connected peer.
    fn handle_sctp(&self, packet: &[u8], from: SocketAddr) {
        let now = Instant::now();
        let mut state = self.lock();
        if state.remote_rtp != Some(from) {
            drop(state);
            return self.core.ctx.metrics.drop_packet("unknown_tuple");
        }
        let events = match state.sctp.as_mut() {
            Some(sctp) => sctp.handle_packet(now, packet),
            None => vec![SctpEvent::Ignored("sctp_before_connect")],
        };
        self.flush_sctp(state, now);
        self.core.sctp_events(events);
    }

    /// Sends what SCTP has queued; consumes the lock.
    fn flush_sctp(&self, mut state: MutexGuard<'_, PlainState>, now: Instant) {
        let Some(destination) = state.remote_rtp else {
            return;
        };
        let packets = match state.sctp.as_mut() {
            Some(sctp) => sctp.poll_transmit(now),
            None => return,
        };
        drop(state);
        for packet in packets {
            if self.send_datagram(&packet, destination, false).is_err() {
                self.core.ctx.metrics.drop_packet("send_failed");
            }
        }
    }

    /// SCTP's timers; returns when to look again.
    fn sctp_tick(&self, now: Instant) -> std::time::Duration {
        let tick = self.core.report_tick();
        let mut state = self.lock();
        let Some(sctp) = state.sctp.as_mut() else {
            return tick;
        };
        let events = sctp.handle_timeout(now);
        let next = sctp.poll_timeout();
        self.flush_sctp(state, now);
        self.core.sctp_events(events);
        match next {
            Some(at) => at
                .saturating_duration_since(Instant::now())
                .clamp(FAST_TICK, tick),
            None => tick,
        }
    }

    pub fn sctp_state(&self) -> Option<SctpState> {
        self.sctp_options?;
        Some(
            self.lock()
                .sctp
                .as_ref()
                .map_or(SctpState::New, |s| s.state()),
        )
    }

    /// `connect`: the peer's address (not with comedia) and its SRTP key.
    pub fn connect(&self, request: PlainConnect) -> ActorResult<()> {
        // Everything is checked before anything changes, so a refused
        // connect leaves the transport as it was.
        let srtp_in =
            match (request.srtp, self.local_key.as_ref()) {
                (Some(key), Some(local)) => {
                    if key.suite != local.suite {
                        return Err(ActorError::invalid(
                            "srtpParameters.cryptoSuite",
                            format!("must be {}, as the transport was created with", local.suite),
                        ));
                    }
                    Some(key.context(true).map_err(|e| {
                        ActorError::invalid("srtpParameters.keyBase64", e.to_string())
                    })?)
                }
                (None, Some(_)) => {
                    return Err(ActorError::invalid(
                        "srtpParameters",
                        "required: the transport has SRTP enabled",
                    ))
                }
                (Some(_), None) => {
                    return Err(ActorError::invalid(
                        "srtpParameters",
                        "the transport was created without SRTP",
                    ))
                }
                (None, None) => None,
            };
        let remote = if self.comedia {
            if request.ip.is_some() || request.port.is_some() {
                return Err(ActorError::invalid(
                    "ip",
                    "a comedia transport learns the address from the peer",
                ));
            }
            None
        } else {
            let ip = request
                .ip
                .ok_or_else(|| ActorError::invalid("ip", "required"))?;
            let port = request
                .port
                .filter(|p| *p != 0)
                .ok_or_else(|| ActorError::invalid("port", "required"))?;
            let rtcp_port = if self.rtcp_mux {
                port
            } else {
                request
                    .rtcp_port
                    .ok_or_else(|| ActorError::invalid("rtcpPort", "required without rtcpMux"))?
            };
            Some((SocketAddr::new(ip, port), SocketAddr::new(ip, rtcp_port)))
        };
        let mut state = self.lock();
        if state.srtp_in.is_some() || (!self.comedia && state.remote_rtp.is_some()) {
            return Err(ActorError::WrongState(
                "the transport is already connected".into(),
            ));
        }
        if let (Some(shared), Some((rtp, _))) = (&self.shared, remote) {
            let Some(me) = self.myself.upgrade() else {
                return Err(ActorError::WrongState("the transport is closed".into()));
            };
            if !shared.register(rtp, &me) {
                return Err(ActorError::WrongState(format!(
                    "another transport on the shared port {} is connected to {rtp}",
                    shared.port()
                )));
            }
        }
        if let Some((rtp, rtcp)) = remote {
            state.remote_rtp = Some(rtp);
            state.remote_rtcp = Some(rtcp);
            self.link_sibling(rtp);
        }
        state.srtp_in = srtp_in;
        if let (Some(options), Some((remote, _))) = (self.sctp_options, remote) {
            let now = Instant::now();
            let local = (self.announced_address.parse().ok(), self.rtp_port);
            let initiates = local < (Some(remote.ip()), remote.port());
            state.sctp = Some(if initiates {
                SctpLink::connecting(options, now)
            } else {
                SctpLink::accepting(options)
            });
            self.flush_sctp(state, now);
        }
        Ok(())
    }

    fn peer_link(&self) -> Option<PeerLink<'_>> {
        self.sibling.as_ref().map(|sibling| PeerLink {
            sibling: &sibling.socket,
            to_peer: &self.to_peer,
        })
    }

    /// Sends to a fixed peer from the sibling connected to it, if the peer
    /// is not expected to send here: no SCTP, no producer yet.
    fn link_sibling(&self, peer: SocketAddr) {
        if self.sctp_options.is_some() || self.core.has_producers() {
            return;
        }
        if let Some(link) = self.peer_link() {
            if let Err(e) = link.connect(peer) {
                tracing::debug!("a plain transport sends with addresses: {e}");
            }
        }
    }

    /// Unlinks the sibling if the peer sent it anything, handing that on.
    fn look_at_sibling(&self, now: Instant) {
        let Some(link) = self.peer_link().filter(PeerLink::is_linked) else {
            return;
        };
        {
            let mut looked_at = self
                .sibling_looked_at
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            if now.duration_since(*looked_at) < peer_link::LOOK_EVERY {
                return;
            }
            *looked_at = now;
        }
        if link.has_caught() {
            self.release_sibling();
        }
    }

    fn release_sibling(&self) {
        if let (Some(link), Some(watched)) = (self.peer_link(), &self.rtp_watched) {
            link.release(watched.as_ref(), |datagram, from| {
                self.handle_datagram(datagram, from, false)
            });
        }
    }

    pub fn remote(&self) -> (Option<SocketAddr>, Option<SocketAddr>) {
        let state = self.lock();
        (state.remote_rtp, state.remote_rtcp)
    }

    /// mediasoup's TransportTuple for our RTP (or RTCP) port.
    pub fn tuple_json(&self, remote: Option<SocketAddr>, rtcp: bool) -> serde_json::Value {
        let local_port = if rtcp {
            self.rtcp_port.unwrap_or(self.rtp_port)
        } else {
            self.rtp_port
        };
        let mut tuple = json!({
            "localAddress": self.announced_address,
            "localIp": self.announced_address,
            "localPort": local_port,
            "protocol": "udp",
        });
        if let Some(remote) = remote {
            tuple["remoteIp"] = json!(remote.ip().to_string());
            tuple["remotePort"] = json!(remote.port());
        }
        tuple
    }

    fn send_to(&self, packet: &[u8], rtcp: bool) -> bool {
        if self.closed.load(Relaxed) {
            return false;
        }
        // The send happens under this transport's own lock: nobody else
        // contends for it, and it spares a copy of every packet. Its byte
        // counts are written only under it.
        let mut state = self.lock();
        let destination = if rtcp {
            state.remote_rtcp.or(state.remote_rtp)
        } else {
            state.remote_rtp
        };
        let Some(destination) = destination else {
            return false;
        };
        let result = match state.srtp_out.as_mut() {
            Some(srtp) => {
                let protected = if rtcp {
                    srtp.encrypt_rtcp(packet)
                } else {
                    srtp.encrypt_rtp(packet)
                };
                match protected {
                    Ok(bytes) => self.send_datagram(&bytes, destination, rtcp),
                    Err(_) => return false,
                }
            }
            None => self.send_datagram(packet, destination, rtcp),
        };
        let Ok(bytes) = result else {
            drop(state);
            self.core.ctx.metrics.drop_packet("send_failed");
            return false;
        };
        let counters = &self.core.counters;
        add_by_lock_holder(&counters.bytes_sent, bytes as u64);
        if !rtcp {
            add_by_lock_holder(&counters.rtp_bytes_sent, bytes as u64);
        }
        drop(state);
        if !rtcp {
            self.core.ctx.metrics.rtp_sent(bytes);
        }
        true
    }
}

impl PlainEndpoint {
    /// From the RTCP port if it has one, else the RTP port (own or shared).
    fn send_datagram(
        &self,
        datagram: &[u8],
        destination: SocketAddr,
        rtcp: bool,
    ) -> std::io::Result<usize> {
        if let Some(shared) = &self.shared {
            return shared.send(datagram, destination);
        }
        if let (Some(socket), true) = (&self.rtcp_socket, rtcp) {
            return socket.send_to(datagram, destination);
        }
        let hold_myself = || self.myself.upgrade().map(|me| me as Arc<dyn BatchSocket>);
        if self.rtp_batch.is_some()
            && outgoing_batch::gather_holding(
                self,
                hold_myself,
                datagram,
                destination,
                self.to_peer.load(Relaxed),
            )
        {
            return Ok(datagram.len());
        }
        BatchSocket::send_to(self, datagram, destination)
    }
}

/// A batch holds the transport rather than its socket (see
/// `outgoing_batch::gather_holding`), and sends on the socket through it.
impl BatchSocket for PlainEndpoint {
    fn fd(&self) -> RawFd {
        self.rtp_batch_fd
    }

    fn send_to(&self, datagram: &[u8], destination: SocketAddr) -> std::io::Result<usize> {
        match &self.rtp_batch {
            Some(batch) => batch.send_to(datagram, destination),
            None => Err(std::io::ErrorKind::NotConnected.into()),
        }
    }

    fn dropped(&self, copies: usize) {
        if let Some(batch) = &self.rtp_batch {
            batch.dropped(copies);
        }
    }
}

fn event_field(event: &str) -> &'static str {
    if event == "tuple" {
        "tuple"
    } else {
        "rtcpTuple"
    }
}

impl MediaTransport for PlainEndpoint {
    fn core(&self) -> &TransportCore {
        &self.core
    }

    fn will_receive_media(&self) {
        self.release_sibling();
    }

    fn send_path_lines(&self) -> SendPathLines {
        // The send's own two lines (see the struct) and what it counts in
        // the core. Plain transports number no packets transport-wide:
        // that line is left out.
        let [bytes_sent, rtp_bytes_sent, _, metrics] = self.core.send_path_lines();
        let first = line_of(self);
        [
            first,
            first + 64,
            bytes_sent,
            rtp_bytes_sent,
            metrics,
            0,
            0,
            0,
        ]
    }

    fn send_rtp(&self, packet: &[u8]) -> bool {
        self.send_to(packet, false)
    }

    fn send_rtcp(&self, packet: &[u8]) -> bool {
        self.send_to(packet, true)
    }

    fn send_message(&self, stream_id: u16, ppid: u32, payload: &[u8]) -> Result<(), SctpSendError> {
        if self.closed.load(Relaxed) {
            return Err(SctpSendError::NotConnected);
        }
        let now = Instant::now();
        let mut state = self.lock();
        let sctp = state.sctp.as_mut().ok_or(SctpSendError::NotConnected)?;
        sctp.send(now, stream_id, ppid, payload)?;
        self.flush_sctp(state, now);
        Ok(())
    }

    fn close_data_stream(&self, stream_id: u16) {
        let now = Instant::now();
        let mut state = self.lock();
        if let Some(sctp) = state.sctp.as_mut() {
            sctp.reset_stream(now, stream_id);
        }
        self.flush_sctp(state, now);
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

/// An SCTP common header from WebRTC's port 5000 to port 5000; RTP and
/// RTCP start with version 2 (0x80..0xbf), so the two never mix.
fn is_sctp(datagram: &[u8]) -> bool {
    let port = SCTP_PORT.to_be_bytes();
    datagram.len() >= 12 && datagram[..2] == port && datagram[2..4] == port
}

impl MediaHandle for PlainEndpoint {
    fn close(&self) {
        let now = Instant::now();
        let mut state = self.lock();
        if let Some(sctp) = state.sctp.as_mut() {
            sctp.close();
        }
        let remote = state.remote_rtp;
        self.flush_sctp(state, now);
        self.closed.store(true, Relaxed);
        if let (Some(shared), Some(remote)) = (&self.shared, remote) {
            shared.unregister(remote, self);
        }
        if let Ok(tasks) = self.tasks.lock() {
            tasks.iter().for_each(|t| t.abort());
        }
        self.core.clear();
    }
}

#[cfg(test)]
mod layout_tests {
    use super::*;
    use std::mem::{offset_of, size_of};

    #[test]
    fn what_a_send_reads_is_in_the_endpoints_first_two_lines() {
        // Where a Mutex keeps its value is its own business: measured.
        let state = Mutex::new(PlainState {
            srtp_out: None,
            remote_rtp: None,
            remote_rtcp: None,
            sctp: None,
            srtp_in: None,
        });
        let value_at = {
            let guard = state.lock().unwrap();
            &*guard as *const PlainState as usize - &state as *const _ as usize
        };
        let state_at = offset_of!(PlainEndpoint, state) + value_at;
        let ends = [
            ("closed", offset_of!(PlainEndpoint, closed) + 1),
            ("to_peer", offset_of!(PlainEndpoint, to_peer) + 1),
            ("rtp_batch_fd", offset_of!(PlainEndpoint, rtp_batch_fd) + 4),
            ("rtp_batch", offset_of!(PlainEndpoint, rtp_batch) + 16),
            ("myself", offset_of!(PlainEndpoint, myself) + 8),
            ("shared", offset_of!(PlainEndpoint, shared) + 8),
            ("rtcp_socket", offset_of!(PlainEndpoint, rtcp_socket) + 8),
            ("state's lock", offset_of!(PlainEndpoint, state) + value_at),
            (
                "srtp_out",
                state_at + offset_of!(PlainState, srtp_out) + size_of::<Option<Box<Context>>>(),
            ),
            (
                "remote_rtp",
                state_at + offset_of!(PlainState, remote_rtp) + size_of::<Option<SocketAddr>>(),
            ),
        ];
        for (field, end) in ends {
            assert!(end <= 128, "{field} ends at byte {end}");
        }
        assert_eq!(std::mem::align_of::<PlainEndpoint>(), 64);
    }
}
