//! A minimal WebRTC client for tests, built on Troupe's own sans-IO cores:
//! one UDP socket, the benchmark's ICE + DTLS client handshake, SRTP both
//! ways.

#![allow(dead_code)]

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::TestServer;
use troupe_bench::webrtc_client::{dtls_parameters, handshake_keeping_session, Peer};
use troupe_transports::certificate::{DtlsCertificate, Fingerprint};
use troupe_transports::dtls_session::{DtlsSession, SrtpContexts};
use troupe_transports::packet_kind::{classify, is_rtcp, PacketKind};

pub struct WebRtcTestClient {
    pub socket: UdpSocket,
    pub server: SocketAddr,
    certificate: DtlsCertificate,
    srtp: Option<Box<SrtpContexts>>,
    /// The DTLS session after the handshake, for application data (SCTP).
    pub dtls: Option<DtlsSession>,
    ice_username: String,
    ice_pwd: String,
}

impl WebRtcTestClient {
    /// A client for a transport created through the API (`created` is its
    /// `{iceParameters, iceCandidates, dtlsParameters}`).
    pub fn new(created: &Value) -> WebRtcTestClient {
        let candidate = created["iceCandidates"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["protocol"] == "udp")
            .expect("a UDP candidate");
        let server = SocketAddr::new(
            candidate["address"].as_str().unwrap().parse().unwrap(),
            candidate["port"].as_u64().unwrap() as u16,
        );
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket
            .set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        WebRtcTestClient {
            socket,
            server,
            certificate: DtlsCertificate::generate().unwrap(),
            srtp: None,
            dtls: None,
            ice_username: format!(
                "{}:client",
                created["iceParameters"]["usernameFragment"]
                    .as_str()
                    .unwrap()
            ),
            ice_pwd: created["iceParameters"]["password"]
                .as_str()
                .unwrap()
                .to_string(),
        }
    }

    /// `dtlsParameters` for `connect`: this client is the DTLS client.
    pub fn dtls_parameters(&self) -> Value {
        dtls_parameters(&self.certificate)
    }

    fn receive(&self) -> Option<Vec<u8>> {
        let mut buffer = vec![0u8; 2048];
        match self.socket.recv_from(&mut buffer) {
            Ok((n, _)) => Some(buffer[..n].to_vec()),
            Err(_) => None,
        }
    }

    /// ICE then DTLS, until SRTP keys exist. `server_fingerprints` are the
    /// transport's `dtlsParameters.fingerprints`.
    pub fn connect(&mut self, server_fingerprints: &Value) {
        let fingerprints = server_fingerprints
            .as_array()
            .unwrap()
            .iter()
            .map(|f| Fingerprint {
                algorithm: f["algorithm"].as_str().unwrap().into(),
                value: f["value"].as_str().unwrap().into(),
            })
            .collect();
        let peer = Peer {
            server: self.server,
            ice_username: &self.ice_username,
            ice_password: &self.ice_pwd,
            server_fingerprints: fingerprints,
        };
        let (dtls, contexts) = handshake_keeping_session(
            &self.socket,
            &self.certificate,
            &peer,
            Duration::from_secs(5),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        self.srtp = Some(contexts);
        self.dtls = Some(dtls);
    }

    /// Protects an RTP packet as this client would send it.
    pub fn protect(&mut self, rtp: &[u8]) -> Vec<u8> {
        self.srtp
            .as_mut()
            .unwrap()
            .local
            .encrypt_rtp(rtp)
            .unwrap()
            .to_vec()
    }

    pub fn send_rtp(&mut self, rtp: &[u8]) -> Vec<u8> {
        let protected = self.protect(rtp);
        self.socket.send_to(&protected, self.server).unwrap();
        protected
    }

    pub fn send_raw(&self, bytes: &[u8]) {
        self.socket.send_to(bytes, self.server).unwrap();
    }

    /// RTP packets received (unprotected) within `window`; RTCP is skipped.
    pub fn receive_rtp(&mut self, window: Duration) -> Vec<Vec<u8>> {
        self.receive_all(window).0
    }

    /// RTP and RTCP packets received (unprotected) within `window`.
    pub fn receive_all(&mut self, window: Duration) -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
        let until = Instant::now() + window;
        let (mut rtp, mut rtcp) = (Vec::new(), Vec::new());
        while Instant::now() < until {
            if let Some(d) = self.receive() {
                if classify(&d) != PacketKind::Rtp {
                    continue;
                }
                let srtp = self.srtp.as_mut().unwrap();
                if is_rtcp(&d) {
                    if let Ok(plain) = srtp.remote.decrypt_rtcp(&d) {
                        rtcp.push(plain.to_vec());
                    }
                } else if let Ok(plain) = srtp.remote.decrypt_rtp(&d) {
                    rtp.push(plain.to_vec());
                }
            }
        }
        (rtp, rtcp)
    }

    pub fn send_rtcp(&mut self, rtcp: &[u8]) {
        let protected = self
            .srtp
            .as_mut()
            .unwrap()
            .local
            .encrypt_rtcp(rtcp)
            .unwrap()
            .to_vec();
        self.socket.send_to(&protected, self.server).unwrap();
    }
}

/// A VP8 RTP packet whose payload starts a key frame (descriptor S=1,
/// partition 0, frame tag P=0) or an inter frame.
pub fn vp8_packet(payload_type: u8, ssrc: u32, sequence: u16, key_frame: bool) -> Vec<u8> {
    let mut p = vec![0x80, 0x80 | payload_type];
    p.extend_from_slice(&sequence.to_be_bytes());
    p.extend_from_slice(&(u32::from(sequence) * 3000).to_be_bytes());
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.push(0x10);
    p.push(if key_frame { 0x00 } else { 0x01 });
    p.extend_from_slice(&sequence.to_be_bytes());
    p.extend_from_slice(&[0x42; 100]);
    p
}

/// An RTX packet for `original` (RFC 4588).
pub fn rtx_of(original: &[u8], payload_type: u8, ssrc: u32, sequence: u16) -> Vec<u8> {
    let mut p = original[..12].to_vec();
    p[1] = (p[1] & 0x80) | payload_type;
    p[2..4].copy_from_slice(&sequence.to_be_bytes());
    p[8..12].copy_from_slice(&ssrc.to_be_bytes());
    p.extend_from_slice(&original[2..4]);
    p.extend_from_slice(&original[12..]);
    p
}

/// An Opus RTP packet with the router's payload type and the given MID
/// extension (id 1, as the router numbers it).
pub fn opus_packet(payload_type: u8, ssrc: u32, sequence: u16, mid: &str) -> Vec<u8> {
    let mut p = vec![0x90, payload_type];
    p.extend_from_slice(&sequence.to_be_bytes());
    p.extend_from_slice(&(u32::from(sequence) * 960).to_be_bytes());
    p.extend_from_slice(&ssrc.to_be_bytes());
    let mid = mid.as_bytes();
    let mut ext = vec![0x10 | (mid.len() as u8 - 1)];
    ext.extend_from_slice(mid);
    while ext.len() % 4 != 0 {
        ext.push(0);
    }
    p.extend_from_slice(&[0xbe, 0xde]);
    p.extend_from_slice(&((ext.len() / 4) as u16).to_be_bytes());
    p.extend_from_slice(&ext);
    p.extend_from_slice(&[0xfc; 80]);
    p
}

/// POSTs and expects success.
pub fn post(server: &TestServer, path: &str, body: Value) -> Value {
    let (status, value) = server.call("POST", path, Some(body));
    assert!(status == 200 || status == 204, "{path}: {status} {value}");
    value
}

/// A WebRTC transport on `router`, with a client connected to it.
/// Returns the client, the transport id and its ICE ufrag.
pub fn connected_client(server: &TestServer, router: &str) -> (WebRtcTestClient, String, String) {
    let created = post(
        server,
        &format!("/v1/routers/{router}/webrtc-transports"),
        json!({}),
    );
    let id = created["id"].as_str().unwrap().to_string();
    let mut client = WebRtcTestClient::new(&created);
    post(
        server,
        &format!("/v1/transports/{id}/connect"),
        json!({"dtlsParameters": client.dtls_parameters()}),
    );
    client.connect(&created["dtlsParameters"]["fingerprints"]);
    let ufrag = created["iceParameters"]["usernameFragment"]
        .as_str()
        .unwrap()
        .to_string();
    (client, id, ufrag)
}

/// The router's payload type for a MIME type (the first match).
pub fn payload_type(capabilities: &Value, mime_type: &str) -> u8 {
    capabilities["codecs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["mimeType"] == mime_type)
        .unwrap()["preferredPayloadType"]
        .as_u64()
        .unwrap() as u8
}

/// An Opus producer with `ssrc` on a new comedia plain transport of
/// `router`: the transport as created, and the producer's id.
pub fn opus_ingest(
    server: &TestServer,
    router: &str,
    capabilities: &Value,
    ssrc: u32,
) -> (Value, String) {
    let ingest = post(
        server,
        &format!("/v1/routers/{router}/plain-transports"),
        json!({"comedia": true}),
    );
    let pt = payload_type(capabilities, "audio/opus");
    let producer = post(
        server,
        &format!(
            "/v1/transports/{}/producers",
            ingest["id"].as_str().unwrap()
        ),
        json!({"kind": "audio", "rtpParameters": {
            "codecs": [{"mimeType": "audio/opus", "payloadType": pt, "clockRate": 48000, "channels": 2}],
            "encodings": [{"ssrc": ssrc}]
        }}),
    );
    let id = producer["id"].as_str().unwrap().to_string();
    (ingest, id)
}
