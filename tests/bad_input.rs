//! Bad input at the shared WebRTC port while a transport forwards media:
//! every kind is dropped and counted, nothing panics, and the media keeps
//! flowing.

mod common;

use std::io::{Read, Write};
use std::net::{TcpStream, UdpSocket};
use std::time::Duration;

use common::webrtc_client::{connected_client, opus_packet, payload_type, post, WebRtcTestClient};
use common::{config, TestServer};
use serde_json::json;
use troupe_transports::ice_lite::binding_request;

struct Call {
    sender_ufrag: String,
    sender: WebRtcTestClient,
    receiver: WebRtcTestClient,
    payload_type: u8,
    sequence: u16,
}

fn call(server: &TestServer) -> Call {
    let router = post(server, "/v1/routers", json!({}));
    let router_id = router["id"].as_str().unwrap();
    let caps = &router["rtpCapabilities"];
    let payload_type = payload_type(caps, "audio/opus");
    let (sender, sending, sender_ufrag) = connected_client(server, router_id);
    let producer = post(
        server,
        &format!("/v1/transports/{sending}/producers"),
        json!({"kind": "audio", "rtpParameters": {
            "mid": "a",
            "codecs": [{"mimeType": "audio/opus", "payloadType": payload_type, "clockRate": 48000, "channels": 2}],
            "headerExtensions": [{"uri": "urn:ietf:params:rtp-hdrext:sdes:mid", "id": 1}],
            "encodings": [{"ssrc": 1111}],
            "rtcp": {"cname": "bad-input"}
        }}),
    );
    let (receiver, receiving, _) = connected_client(server, router_id);
    post(
        server,
        &format!("/v1/transports/{receiving}/consumers"),
        json!({"producerId": producer["id"], "rtpCapabilities": caps}),
    );
    Call {
        sender_ufrag,
        sender,
        receiver,
        payload_type,
        sequence: 0,
    }
}

impl Call {
    /// Sends 20 packets and returns how many the receiver got.
    fn flow(&mut self) -> usize {
        for _ in 0..20 {
            self.sequence += 1;
            let packet = opus_packet(self.payload_type, 1111, self.sequence, "a");
            self.sender.send_rtp(&packet);
            std::thread::sleep(Duration::from_millis(2));
        }
        self.receiver.receive_rtp(Duration::from_millis(400)).len()
    }
}

#[test]
fn bad_input_is_dropped_counted_and_leaves_media_flowing() {
    let server = TestServer::start(config(&[]));
    let mut call = call(&server);
    assert!(call.flow() >= 15, "media flows before the attack");
    let port = call.sender.server;
    let stranger = UdpSocket::bind("127.0.0.1:0").unwrap();

    // Random bytes of every length, from a stranger and from the sender.
    for length in [1usize, 2, 7, 12, 19, 20, 64, 300, 1200, 1500] {
        let junk: Vec<u8> = (0..length).map(|_| rand::random()).collect();
        stranger.send_to(&junk, port).unwrap();
        call.sender.send_raw(&junk);
    }
    // STUN: truncated, oversized, wrong password, unknown ufrag, no USERNAME.
    let valid = binding_request("nobody:client", "password-password-password", true);
    stranger.send_to(&valid[..30], port).unwrap();
    let mut oversized = valid.clone();
    oversized.resize(4000, 0x41);
    stranger.send_to(&oversized, port).unwrap();
    stranger.send_to(&valid, port).unwrap();
    let wrong_password = binding_request(
        &format!("{}:x", call.sender_ufrag),
        "not-the-password-at-all",
        true,
    );
    stranger.send_to(&wrong_password, port).unwrap();
    // DTLS garbage: from a stranger (unknown tuple) and on the live tuple.
    let mut dtls_garbage = vec![22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 9, 0, 40];
    dtls_garbage.extend((0..40).map(|_| rand::random::<u8>()));
    stranger.send_to(&dtls_garbage, port).unwrap();
    call.sender.send_raw(&dtls_garbage);
    // SRTP with a broken auth tag, a replay, and an unknown SSRC.
    call.sequence += 1;
    let mut tampered =
        call.sender
            .protect(&opus_packet(call.payload_type, 1111, call.sequence, "a"));
    let last = tampered.len() - 1;
    tampered[last] ^= 0x5a;
    call.sender.send_raw(&tampered);
    call.sequence += 1;
    let replayed = call
        .sender
        .send_rtp(&opus_packet(call.payload_type, 1111, call.sequence, "a"));
    call.sender.send_raw(&replayed);
    call.sequence += 1;
    call.sender
        .send_rtp(&opus_packet(call.payload_type, 4242, call.sequence, "zz"));
    // ICE-TCP: a giant frame length closes that connection only.
    let mut tcp = TcpStream::connect(port).unwrap();
    tcp.write_all(&[0xff, 0xff, 1, 2, 3, 4]).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut sink = [0u8; 16];
    assert!(
        matches!(tcp.read(&mut sink), Ok(0) | Err(_)),
        "the server closes a connection with a giant frame"
    );

    std::thread::sleep(Duration::from_millis(200));
    for reason in [
        "junk",
        "unknown_tuple",
        "stun_malformed",
        "stun_integrity",
        "stun_unknown_ufrag",
        "srtp_auth",
        "srtp_replay",
        "unknown_ssrc",
        "tcp_bad_frame",
    ] {
        assert!(server.dropped(reason) > 0, "{reason} was not counted");
    }
    assert!(call.flow() >= 15, "media still flows after the attack");
    assert_eq!(server.call("GET", "/v1/health", None).0, 200);
}
