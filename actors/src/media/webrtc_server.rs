//! The node's one WebRTC port (mediasoup's WebRtcServer, for every
//! transport): a UDP port group (a socket per sending thread, so fan-outs
//! leave in `sendmmsg` batches) and one TCP listener. Datagrams are sorted by
//! their first byte (RFC 7983): STUN goes to the transport owning the ufrag,
//! everything else to the transport owning the 5-tuple.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use troupe_transports::certificate::DtlsCertificate;
use troupe_transports::ice_lite::{local_ufrag_of, Protocol, Tuple};
use troupe_transports::packet_kind::{classify, PacketKind};
use troupe_transports::tcp_framing::{encode_frame, TcpFrameDecoder};

use crate::media::port_group::{first_of_group, PortGroup, WatchedSocket};
use crate::media::webrtc_endpoint::WebRtcEndpoint;
use crate::media::MediaConfig;
use crate::metrics::ActorMetrics;

/// Largest datagram accepted on the port: above any MTU in use.
const MAX_DATAGRAM: usize = 2048;
/// Frames queued toward one ICE-TCP client before new ones are dropped.
const TCP_SEND_QUEUE: usize = 512;
/// ICE-TCP connections open at once; more are refused (each holds a task,
/// buffers and a send queue).
const MAX_TCP_CONNECTIONS: usize = 4096;
/// TCP connections that never send a valid STUN request are closed.
const TCP_IDLE_LIMIT: Duration = Duration::from_secs(30);

pub struct WebRtcServer {
    udp: PortGroup,
    pub local_port: u16,
    pub listen_ip: IpAddr,
    pub announced_address: String,
    pub certificate: DtlsCertificate,
    pub consent_timeout: Duration,
    metrics: ActorMetrics,
    by_ufrag: RwLock<HashMap<String, Weak<WebRtcEndpoint>>>,
    by_tuple: RwLock<HashMap<Tuple, Weak<WebRtcEndpoint>>>,
    tcp_writers: Mutex<HashMap<SocketAddr, mpsc::Sender<Vec<u8>>>>,
}

fn bind_pair(ip: IpAddr, port: u16) -> io::Result<(std::net::UdpSocket, std::net::TcpListener)> {
    // With port 0 the UDP port is chosen first and TCP must get the same
    // number; another process may hold it, so try a few.
    let attempts = if port == 0 { 20 } else { 1 };
    let mut last_error = None;
    for _ in 0..attempts {
        let udp = first_of_group(SocketAddr::new(ip, port))?;
        let chosen = udp.local_addr()?.port();
        match std::net::TcpListener::bind(SocketAddr::new(ip, chosen)) {
            Ok(tcp) => return Ok((udp, tcp)),
            Err(e) => last_error = Some(e),
        }
    }
    Err(last_error.unwrap_or_else(|| io::Error::other("no port")))
}

/// What the shared WebRTC port's socket asks the kernel for.
const SHARED_PORT_RECEIVE_BUFFER: usize = 4 * 1024 * 1024;

impl WebRtcServer {
    pub async fn start(config: &MediaConfig, metrics: ActorMetrics) -> io::Result<Arc<Self>> {
        let certificate = match &config.certificate_pem {
            Some((cert, key)) => DtlsCertificate::from_pem(cert, key),
            None => DtlsCertificate::generate(),
        }
        .map_err(|e| {
            io::Error::other(format!(
                "config fields `dtls_certificate` and `dtls_private_key`: {e}"
            ))
        })?;
        let (udp, tcp) = bind_pair(config.listen_ip, config.port).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!(
                    "cannot open the WebRTC port {} (config field `webrtc_port`): {e}",
                    config.port
                ),
            )
        })?;
        tcp.set_nonblocking(true)?;
        let udp = PortGroup::around(udp, &metrics)?;
        let local_port = udp.port;
        for socket in udp.receivers() {
            socket.socket.enable_arrival_timestamps()?;
        }
        // Every client's uplink arrives on these sockets: the kernel's
        // default buffer (208 KiB) is ~6 ms of 100 publishers, and a burst
        // past it is lost before Troupe sees it (a browser's 200 KiB data
        // channel message was, in tests, taking unreliable messages with it).
        // Clients are spread over the group's sockets, but one may carry
        // them all.
        match udp.receivers()[0]
            .socket
            .set_receive_buffer(SHARED_PORT_RECEIVE_BUFFER)
        {
            Ok(granted) if granted < SHARED_PORT_RECEIVE_BUFFER => tracing::warn!(
                granted,
                wanted = SHARED_PORT_RECEIVE_BUFFER,
                "the WebRTC port's receive buffer is small: raise net.core.rmem_max"
            ),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "cannot size the WebRTC port's receive buffer"),
        }
        for socket in &udp.receivers()[1..] {
            let _ = socket.socket.set_receive_buffer(SHARED_PORT_RECEIVE_BUFFER);
        }
        let receivers: Vec<Arc<WatchedSocket>> = udp.receivers().to_vec();
        let tcp = TcpListener::from_std(tcp)?;
        let server = Arc::new(WebRtcServer {
            udp,
            local_port,
            listen_ip: config.listen_ip,
            announced_address: config.announced_address.clone(),
            certificate,
            consent_timeout: config.ice_consent_timeout,
            metrics,
            by_ufrag: RwLock::new(HashMap::new()),
            by_tuple: RwLock::new(HashMap::new()),
            tcp_writers: Mutex::new(HashMap::new()),
        });
        for socket in receivers {
            tokio::spawn(Self::receive_udp(Arc::downgrade(&server), socket));
        }
        tokio::spawn(Self::accept_tcp(Arc::downgrade(&server), tcp));
        tracing::info!(ip = %config.listen_ip, port = local_port, "WebRTC port open (UDP and TCP)");
        Ok(server)
    }

    async fn receive_udp(server: Weak<WebRtcServer>, udp: Arc<WatchedSocket>) {
        let mut buffer = vec![0u8; MAX_DATAGRAM];
        loop {
            let (length, from, arrival) = match udp.socket.recv_stamped(&mut buffer).await {
                Ok(r) => r,
                Err(e) => {
                    // ICMP errors surface here on some systems; keep serving.
                    tracing::debug!(error = %e, "UDP receive error");
                    continue;
                }
            };
            let Some(server) = server.upgrade() else {
                break;
            };
            server.handle_datagram(
                &buffer[..length],
                Tuple {
                    remote: from,
                    protocol: Protocol::Udp,
                },
                arrival,
            );
        }
    }

    async fn accept_tcp(server: Weak<WebRtcServer>, listener: TcpListener) {
        loop {
            let Ok((stream, remote)) = listener.accept().await else {
                continue;
            };
            let Some(strong) = server.upgrade() else {
                break;
            };
            let open = strong
                .tcp_writers
                .lock()
                .map(|w| w.len())
                .unwrap_or(usize::MAX);
            if open >= MAX_TCP_CONNECTIONS {
                strong.metrics.drop_packet("tcp_connections_full");
                continue;
            }
            let _ = stream.set_nodelay(true);
            tokio::spawn(strong.serve_tcp(stream, remote));
        }
    }

    /// One ICE-TCP connection (RFC 6544, passive side): RFC 4571 frames in,
    /// frames out through a bounded queue.
    async fn serve_tcp(self: Arc<Self>, stream: TcpStream, remote: SocketAddr) {
        let (mut reader, mut writer) = stream.into_split();
        let (sender, mut receiver) = mpsc::channel::<Vec<u8>>(TCP_SEND_QUEUE);
        if let Ok(mut writers) = self.tcp_writers.lock() {
            writers.insert(remote, sender);
        }
        let write_task = tokio::spawn(async move {
            let mut framed = Vec::with_capacity(MAX_DATAGRAM);
            while let Some(payload) = receiver.recv().await {
                framed.clear();
                if encode_frame(&payload, &mut framed).is_err()
                    || writer.write_all(&framed).await.is_err()
                {
                    break;
                }
            }
        });
        let tuple = Tuple {
            remote,
            protocol: Protocol::Tcp,
        };
        let mut decoder = TcpFrameDecoder::new(MAX_DATAGRAM);
        let mut buffer = vec![0u8; 4096];
        let weak = Arc::downgrade(&self);
        drop(self);
        let mut seen_valid = false;
        loop {
            let read = tokio::time::timeout(TCP_IDLE_LIMIT, reader.read(&mut buffer)).await;
            let length = match read {
                Ok(Ok(0)) | Ok(Err(_)) => break,
                Ok(Ok(n)) => n,
                Err(_) if seen_valid => continue,
                Err(_) => break,
            };
            let Some(server) = weak.upgrade() else { break };
            decoder.push(&buffer[..length]);
            loop {
                match decoder.next_frame() {
                    Ok(Some(frame)) => {
                        seen_valid = true;
                        server.handle_datagram(&frame, tuple, Instant::now());
                    }
                    Ok(None) => break,
                    Err(_) => {
                        server.metrics.drop_packet("tcp_bad_frame");
                        if let Ok(mut writers) = server.tcp_writers.lock() {
                            writers.remove(&remote);
                        }
                        write_task.abort();
                        return;
                    }
                }
            }
        }
        if let Some(server) = weak.upgrade() {
            if let Ok(mut writers) = server.tcp_writers.lock() {
                writers.remove(&remote);
            }
            if let Ok(mut tuples) = server.by_tuple.write() {
                tuples.remove(&tuple);
            }
        }
        write_task.abort();
    }

    /// One datagram that reached the host at `now`.
    pub fn handle_datagram(&self, datagram: &[u8], tuple: Tuple, now: Instant) {
        match classify(datagram) {
            PacketKind::Stun => match local_ufrag_of(datagram) {
                Ok(ufrag) => match self.endpoint_for_ufrag(&ufrag) {
                    Some(endpoint) => endpoint.handle_stun(datagram, tuple, now),
                    None => self.metrics.drop_packet("stun_unknown_ufrag"),
                },
                Err(e) => self.metrics.drop_packet(e.reason()),
            },
            kind @ (PacketKind::Dtls | PacketKind::Rtp) => {
                let endpoint = self
                    .by_tuple
                    .read()
                    .ok()
                    .and_then(|t| t.get(&tuple).and_then(Weak::upgrade));
                match (endpoint, kind) {
                    (Some(endpoint), PacketKind::Dtls) => {
                        endpoint.handle_dtls(datagram, tuple, now)
                    }
                    (Some(endpoint), _) => endpoint.handle_srtp(datagram, tuple, now),
                    (None, _) => self.metrics.drop_packet("unknown_tuple"),
                }
            }
            PacketKind::Unknown => self.metrics.drop_packet("junk"),
        }
    }

    pub fn endpoint_for_ufrag(&self, ufrag: &str) -> Option<Arc<WebRtcEndpoint>> {
        self.by_ufrag
            .read()
            .ok()?
            .get(ufrag)
            .and_then(Weak::upgrade)
    }

    pub fn register_ufrag(&self, ufrag: &str, endpoint: &Arc<WebRtcEndpoint>) {
        if let Ok(mut map) = self.by_ufrag.write() {
            map.insert(ufrag.to_string(), Arc::downgrade(endpoint));
        }
    }

    pub fn bind_tuple(&self, tuple: Tuple, endpoint: &Arc<WebRtcEndpoint>) {
        let known = self
            .by_tuple
            .read()
            .ok()
            .and_then(|t| {
                t.get(&tuple)
                    .map(|w| std::ptr::eq(w.as_ptr(), Arc::as_ptr(endpoint)))
            })
            .unwrap_or(false);
        if !known {
            if let Ok(mut map) = self.by_tuple.write() {
                map.insert(tuple, Arc::downgrade(endpoint));
            }
        }
    }

    pub fn unregister(&self, ufrags: &[String], tuples: &[Tuple]) {
        if let Ok(mut map) = self.by_ufrag.write() {
            for u in ufrags {
                map.remove(u);
            }
        }
        if let Ok(mut map) = self.by_tuple.write() {
            for t in tuples {
                map.remove(t);
            }
        }
    }

    /// Sends without waiting: a full socket buffer or TCP queue drops the
    /// packet (counted) rather than stalling every transport on this port.
    pub fn send(&self, tuple: Tuple, data: &[u8]) -> bool {
        match tuple.protocol {
            Protocol::Udp => match self.udp.send(data, tuple.remote) {
                Ok(_) => true,
                Err(_) => {
                    self.metrics.drop_packet("send_failed");
                    false
                }
            },
            Protocol::Tcp => {
                let sender = self
                    .tcp_writers
                    .lock()
                    .ok()
                    .and_then(|w| w.get(&tuple.remote).cloned());
                match sender.map(|s| s.try_send(data.to_vec())) {
                    Some(Ok(())) => true,
                    _ => {
                        self.metrics.drop_packet("tcp_send_queue_full");
                        false
                    }
                }
            }
        }
    }
}
