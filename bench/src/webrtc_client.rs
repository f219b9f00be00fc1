//! The client side of a WebRTC transport, on Troupe's own sans-IO cores: an
//! ICE Binding request with USE-CANDIDATE, then a DTLS client handshake
//! until SRTP keys exist. The benchmark's WebRTC consumers use it, and so
//! does the tests' WebRTC client.

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use troupe_transports::certificate::{DtlsCertificate, Fingerprint};
use troupe_transports::dtls_session::{DtlsEvent, DtlsRole, DtlsSession, SrtpContexts};
use troupe_transports::ice_lite::binding_request;
use troupe_transports::packet_kind::{classify, PacketKind};

/// What the client needs to reach one transport.
pub struct Peer<'a> {
    pub server: SocketAddr,
    /// `<server ufrag>:<client ufrag>` and the server's ICE password.
    pub ice_username: &'a str,
    pub ice_password: &'a str,
    pub server_fingerprints: Vec<Fingerprint>,
}

/// ICE then DTLS over `socket` (a read timeout set), within `limit`.
pub fn handshake(
    socket: &UdpSocket,
    certificate: &DtlsCertificate,
    peer: &Peer,
    limit: Duration,
) -> Result<Box<SrtpContexts>, String> {
    handshake_keeping_session(socket, certificate, peer, limit).map(|(_, contexts)| contexts)
}

/// The same, keeping the DTLS session for application data (SCTP).
pub fn handshake_keeping_session(
    socket: &UdpSocket,
    certificate: &DtlsCertificate,
    peer: &Peer,
    limit: Duration,
) -> Result<(DtlsSession, Box<SrtpContexts>), String> {
    let deadline = Instant::now() + limit;
    let mut buffer = vec![0u8; 2048];
    let mut receive = |socket: &UdpSocket| match socket.recv_from(&mut buffer) {
        Ok((n, _)) => Some(buffer[..n].to_vec()),
        Err(_) => None,
    };
    let request = binding_request(peer.ice_username, peer.ice_password, true);
    let mut answered = false;
    while !answered {
        if Instant::now() > deadline {
            return Err("no STUN answer".into());
        }
        socket
            .send_to(&request, peer.server)
            .map_err(|e| e.to_string())?;
        while let Some(d) = receive(socket) {
            answered |= classify(&d) == PacketKind::Stun;
        }
    }
    let mut dtls = DtlsSession::new(
        certificate,
        DtlsRole::Client,
        peer.server_fingerprints.clone(),
    )
    .map_err(|e| e.to_string())?;
    dtls.start(Instant::now()).map_err(|e| e.to_string())?;
    let mut contexts = None;
    while contexts.is_none() {
        if Instant::now() > deadline {
            return Err("no DTLS handshake".into());
        }
        while let Some(d) = dtls.poll_transmit() {
            socket.send_to(&d, peer.server).map_err(|e| e.to_string())?;
        }
        match receive(socket) {
            Some(d) if classify(&d) == PacketKind::Dtls => {
                for event in dtls.handle_datagram(Instant::now(), &d) {
                    match event {
                        DtlsEvent::Connected(c) => contexts = Some(c),
                        DtlsEvent::Failed(reason) => return Err(format!("DTLS failed: {reason}")),
                        DtlsEvent::Closed => return Err("DTLS closed".into()),
                        DtlsEvent::ApplicationData(_) => {}
                    }
                }
            }
            Some(_) => {}
            None => {
                let _ = dtls.handle_timeout(Instant::now());
            }
        }
    }
    // The final flight, so the server completes too.
    while let Some(d) = dtls.poll_transmit() {
        socket.send_to(&d, peer.server).map_err(|e| e.to_string())?;
    }
    let contexts = contexts.ok_or_else(|| "no SRTP keys".to_string())?;
    Ok((dtls, contexts))
}

/// `dtlsParameters` for `connect`: this client is the DTLS client.
pub fn dtls_parameters(certificate: &DtlsCertificate) -> serde_json::Value {
    let sha256 = certificate
        .fingerprints
        .iter()
        .find(|f| f.algorithm == "sha-256")
        .map(|f| f.value.clone())
        .unwrap_or_default();
    serde_json::json!({"role": "client", "fingerprints": [{"algorithm": "sha-256", "value": sha256}]})
}
