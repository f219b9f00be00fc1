//! Plain RTP transports with raw UDP sockets as the peers: comedia ingest,
//! a connected plain consumer, a fixed peer that sends to a consumer's
//! port or produces after connect, RTCP that must not steal the RTP address,
//! SRTP keyed through the API both ways, and the errors.

mod common;

use std::net::UdpSocket;
use std::time::{Duration, Instant};

use common::webrtc_client::{opus_packet, payload_type, post};
use common::{assert_error, config, TestServer};
use serde_json::{json, Value};
use troupe_transports::rtcp_feedback;
use troupe_transports::rtp_packet::RtpHeader;
use troupe_transports::srtp_keys::{SrtpCryptoSuite, SrtpKey};

struct Room {
    server: TestServer,
    router: String,
    caps: Value,
}

fn room() -> Room {
    let server = TestServer::start(config(&[]));
    let router = post(&server, "/v1/routers", json!({}));
    Room {
        router: router["id"].as_str().unwrap().to_string(),
        caps: router["rtpCapabilities"].clone(),
        server,
    }
}

impl Room {
    fn plain(&self, options: Value) -> Value {
        post(
            &self.server,
            &format!("/v1/routers/{}/plain-transports", self.router),
            options,
        )
    }

    fn produce_opus(&self, transport: &str, ssrc: u32) -> String {
        let pt = payload_type(&self.caps, "audio/opus");
        post(
            &self.server,
            &format!("/v1/transports/{transport}/producers"),
            json!({"kind": "audio", "rtpParameters": {
                "codecs": [{"mimeType": "audio/opus", "payloadType": pt, "clockRate": 48000, "channels": 2}],
                "encodings": [{"ssrc": ssrc}]
            }}),
        )["id"]
            .as_str()
            .unwrap()
            .to_string()
    }
}

impl Room {
    /// Connects plain transport `transport` to `peer` (not comedia).
    fn connect_to(&self, transport: &str, peer: &UdpSocket) {
        post(
            &self.server,
            &format!("/v1/transports/{transport}/connect"),
            json!({"ip": "127.0.0.1", "port": peer.local_addr().unwrap().port()}),
        );
    }

    /// A plain transport connected to a fresh receiver socket, consuming
    /// `producer`: (the transport, the receiver, the consumer).
    fn plain_consumer(&self, producer: &str) -> (Value, UdpSocket, Value) {
        let egress = self.plain(json!({}));
        let egress_id = egress["id"].as_str().unwrap();
        let receiver = socket();
        self.connect_to(egress_id, &receiver);
        let consumer = post(
            &self.server,
            &format!("/v1/transports/{egress_id}/consumers"),
            json!({"producerId": producer, "rtpCapabilities": self.caps}),
        );
        (egress, receiver, consumer)
    }
}

fn socket() -> UdpSocket {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
    s
}

fn receive_all(socket: &UdpSocket, window: Duration) -> Vec<Vec<u8>> {
    let until = Instant::now() + window;
    let mut out = Vec::new();
    let mut buffer = [0u8; 2048];
    while Instant::now() < until {
        if let Ok((n, _)) = socket.recv_from(&mut buffer) {
            out.push(buffer[..n].to_vec());
        }
    }
    out
}

fn rtp_only(packets: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
    packets
        .into_iter()
        .filter(|p| !troupe_transports::packet_kind::is_rtcp(p))
        .collect()
}

#[test]
fn comedia_ingest_reaches_a_connected_plain_consumer() {
    let room = room();
    let ingest = room.plain(json!({"comedia": true}));
    assert_eq!(ingest["tuple"]["protocol"], "udp");
    assert!(ingest.get("rtcpTuple").is_none(), "rtcp-mux by default");
    let ingest_id = ingest["id"].as_str().unwrap();
    let producer = room.produce_opus(ingest_id, 1111);
    let (_, receiver, consumer) = room.plain_consumer(&producer);
    let consumer_ssrc = consumer["rtpParameters"]["encodings"][0]["ssrc"]
        .as_u64()
        .unwrap() as u32;

    let sender = socket();
    let port = ingest["tuple"]["localPort"].as_u64().unwrap() as u16;
    let pt = payload_type(&room.caps, "audio/opus");
    for seq in 1..=10 {
        sender
            .send_to(&opus_packet(pt, 1111, seq, "x"), ("127.0.0.1", port))
            .unwrap();
    }
    let received = rtp_only(receive_all(&receiver, Duration::from_millis(300)));
    assert_eq!(received.len(), 10);
    assert!(received
        .iter()
        .all(|p| RtpHeader::parse(p).unwrap().ssrc == consumer_ssrc));
    let (_, dump) = room
        .server
        .call("GET", &format!("/v1/transports/{ingest_id}"), None);
    assert_eq!(
        dump["tuple"]["remotePort"],
        sender.local_addr().unwrap().port()
    );
    assert_eq!(dump["comedia"], true);
}

fn consumer_stats(room: &Room, consumer: &Value) -> Value {
    let id = consumer["id"].as_str().unwrap();
    room.server
        .call("GET", &format!("/v1/consumers/{id}/stats"), None)
        .1[0]
        .clone()
}

/// A plain consumer sends to its fixed peer from a socket connected to it
/// (no address per copy). Whatever the peer then sends to the RTP port
/// (here RTCP, muxed) is still heard: at the latest when the transport
/// next looks, after which it reaches Troupe at once, and the media to
/// the peer never stops.
#[test]
fn a_plain_consumers_peer_that_sends_is_heard_and_still_served() {
    let room = room();
    let ingest = room.plain(json!({"comedia": true}));
    let ingest_id = ingest["id"].as_str().unwrap();
    let producer = room.produce_opus(ingest_id, 3333);
    let (egress, receiver, consumer) = room.plain_consumer(&producer);
    let egress_port = egress["tuple"]["localPort"].as_u64().unwrap() as u16;
    let consumer_ssrc = consumer["rtpParameters"]["encodings"][0]["ssrc"]
        .as_u64()
        .unwrap() as u32;
    let sender = socket();
    let ingest_port = ingest["tuple"]["localPort"].as_u64().unwrap() as u16;
    let pt = payload_type(&room.caps, "audio/opus");
    let mut sequence = 0;
    let mut send_ten = || {
        for _ in 0..10 {
            sequence += 1;
            sender
                .send_to(
                    &opus_packet(pt, 3333, sequence, "x"),
                    ("127.0.0.1", ingest_port),
                )
                .unwrap();
        }
    };
    send_ten();
    let received = rtp_only(receive_all(&receiver, Duration::from_millis(300)));
    assert_eq!(received.len(), 10);

    let nack = rtcp_feedback::nack(9, consumer_ssrc, &[1]);
    receiver.send_to(&nack, ("127.0.0.1", egress_port)).unwrap();
    let heard_by = Instant::now() + Duration::from_secs(3);
    while consumer_stats(&room, &consumer)["nackCount"] != 1 {
        assert!(Instant::now() < heard_by, "the peer's NACK was never heard");
        std::thread::sleep(Duration::from_millis(50));
    }
    // From now on what the peer sends reaches Troupe at once.
    receiver.send_to(&nack, ("127.0.0.1", egress_port)).unwrap();
    std::thread::sleep(Duration::from_millis(150));
    assert_eq!(consumer_stats(&room, &consumer)["nackCount"], 2);
    send_ten();
    let received = rtp_only(receive_all(&receiver, Duration::from_millis(300)));
    assert_eq!(received.len(), 10, "the peer is still served");
}

/// A transport connected to a fixed peer that then gets a producer: the
/// peer's media reaches the consumers at once, from its first packet.
#[test]
fn a_producer_made_after_connect_is_heard_from_its_first_packet() {
    let room = room();
    let ingest = room.plain(json!({}));
    let ingest_id = ingest["id"].as_str().unwrap();
    let ingest_port = ingest["tuple"]["localPort"].as_u64().unwrap() as u16;
    let peer = socket();
    room.connect_to(ingest_id, &peer);
    let producer = room.produce_opus(ingest_id, 4444);
    let (_, receiver, _) = room.plain_consumer(&producer);
    let pt = payload_type(&room.caps, "audio/opus");
    for seq in 1..=10 {
        peer.send_to(&opus_packet(pt, 4444, seq, "x"), ("127.0.0.1", ingest_port))
            .unwrap();
    }
    let received = rtp_only(receive_all(&receiver, Duration::from_millis(300)));
    assert_eq!(received.len(), 10);
}

#[test]
fn rtcp_from_another_port_does_not_steal_the_rtp_address() {
    let room = room();
    let ingest = room.plain(json!({"comedia": true}));
    let ingest_id = ingest["id"].as_str().unwrap();
    room.produce_opus(ingest_id, 2222);
    let port = ingest["tuple"]["localPort"].as_u64().unwrap() as u16;
    // ffmpeg sends its first RTCP from a second local port.
    let rtcp_sender = socket();
    rtcp_sender
        .send_to(
            &rtcp_feedback::sender_report(2222, rtcp_feedback::ntp_now(), 0, 0, 0),
            ("127.0.0.1", port),
        )
        .unwrap();
    let rtp_sender = socket();
    let pt = payload_type(&room.caps, "audio/opus");
    for seq in 1..=5 {
        rtp_sender
            .send_to(&opus_packet(pt, 2222, seq, "x"), ("127.0.0.1", port))
            .unwrap();
    }
    std::thread::sleep(Duration::from_millis(200));
    let (_, dump) = room
        .server
        .call("GET", &format!("/v1/transports/{ingest_id}"), None);
    assert_eq!(
        dump["tuple"]["remotePort"],
        rtp_sender.local_addr().unwrap().port()
    );
    let producer_id = room
        .server
        .call("GET", &format!("/v1/transports/{ingest_id}"), None)
        .1["producerIds"][0]
        .clone();
    let (_, stats) = room.server.call(
        "GET",
        &format!("/v1/producers/{}/stats", producer_id.as_str().unwrap()),
        None,
    );
    assert_eq!(stats[0]["packetCount"], 5);
}

#[test]
fn srtp_keyed_through_the_api_works_both_ways() {
    let room = room();
    let ingest = room
        .plain(json!({"comedia": true, "enableSrtp": true, "srtpCryptoSuite": "AEAD_AES_128_GCM"}));
    assert_eq!(ingest["srtpParameters"]["cryptoSuite"], "AEAD_AES_128_GCM");
    let ingest_id = ingest["id"].as_str().unwrap();
    let sender_key = SrtpKey::generate(SrtpCryptoSuite::AeadAes128Gcm);
    post(
        &room.server,
        &format!("/v1/transports/{ingest_id}/connect"),
        json!({"srtpParameters": {"cryptoSuite": "AEAD_AES_128_GCM", "keyBase64": sender_key.to_base64()}}),
    );
    let producer = room.produce_opus(ingest_id, 3333);

    let egress = room.plain(json!({"enableSrtp": true, "rtcpMux": false}));
    assert_eq!(
        egress["srtpParameters"]["cryptoSuite"],
        "AES_CM_128_HMAC_SHA1_80"
    );
    assert!(egress["rtcpTuple"]["localPort"].is_u64());
    let egress_id = egress["id"].as_str().unwrap();
    let receiver = socket();
    let receiver_rtcp = socket();
    let receiver_key = SrtpKey::generate(SrtpCryptoSuite::AesCm128HmacSha1_80);
    post(
        &room.server,
        &format!("/v1/transports/{egress_id}/connect"),
        json!({"ip": "127.0.0.1", "port": receiver.local_addr().unwrap().port(),
               "rtcpPort": receiver_rtcp.local_addr().unwrap().port(),
               "srtpParameters": {"cryptoSuite": "AES_CM_128_HMAC_SHA1_80", "keyBase64": receiver_key.to_base64()}}),
    );
    post(
        &room.server,
        &format!("/v1/transports/{egress_id}/consumers"),
        json!({"producerId": producer, "rtpCapabilities": room.caps}),
    );

    let mut protect = sender_key.context(false).unwrap();
    let sender = socket();
    let port = ingest["tuple"]["localPort"].as_u64().unwrap() as u16;
    let pt = payload_type(&room.caps, "audio/opus");
    for seq in 1..=8 {
        let packet = protect
            .encrypt_rtp(&opus_packet(pt, 3333, seq, "x"))
            .unwrap();
        sender.send_to(&packet, ("127.0.0.1", port)).unwrap();
    }
    // Plain RTP without the key is refused.
    sender
        .send_to(&opus_packet(pt, 3333, 99, "x"), ("127.0.0.1", port))
        .unwrap();
    let egress_key = SrtpKey::from_base64(
        SrtpCryptoSuite::AesCm128HmacSha1_80,
        egress["srtpParameters"]["keyBase64"].as_str().unwrap(),
    )
    .unwrap();
    let mut unprotect = egress_key.context(true).unwrap();
    let received = receive_all(&receiver, Duration::from_millis(300));
    let decrypted: Vec<_> = received
        .iter()
        .filter_map(|p| unprotect.decrypt_rtp(p).ok())
        .collect();
    assert_eq!(
        decrypted.len(),
        8,
        "all 8 protected packets, not the plain one"
    );
}

#[test]
fn plain_transport_errors_name_the_field() {
    let room = room();
    let path = format!("/v1/routers/{}/plain-transports", room.router);
    let bad = room
        .server
        .call("POST", &path, Some(json!({"listenIp": "here"})));
    assert_error(&bad, 400, "invalid_parameter");
    assert_eq!(bad.1["error"]["field"], "listenIp");
    let bad = room.server.call(
        "POST",
        &path,
        Some(json!({"enableSrtp": true, "srtpCryptoSuite": "ROT13"})),
    );
    assert_eq!(bad.1["error"]["field"], "srtpCryptoSuite");
    // As mediasoup, a suite without enableSrtp means nothing (but must
    // still be a suite).
    let plain = room.server.call(
        "POST",
        &path,
        Some(json!({"srtpCryptoSuite": "AEAD_AES_128_GCM"})),
    );
    assert_eq!(plain.0, 200, "{}", plain.1);
    assert!(plain.1.get("srtpParameters").is_none());
    let bad = room
        .server
        .call("POST", &path, Some(json!({"srtpCryptoSuite": "ROT13"})));
    assert_eq!(bad.1["error"]["field"], "srtpCryptoSuite");

    let transport = room.plain(json!({}));
    let connect = format!(
        "/v1/transports/{}/connect",
        transport["id"].as_str().unwrap()
    );
    let bad = room
        .server
        .call("POST", &connect, Some(json!({"ip": "127.0.0.1"})));
    assert_eq!(bad.1["error"]["field"], "port");
    let bad = room.server.call(
        "POST",
        &connect,
        Some(json!({"ip": "localhost", "port": 5})),
    );
    assert_eq!(bad.1["error"]["field"], "ip");
    let bad = room.server.call("POST", &connect, Some(json!({"ip": "127.0.0.1", "port": 5, "srtpParameters": {"cryptoSuite": "AEAD_AES_128_GCM", "keyBase64": "AAAA"}})));
    assert_eq!(bad.1["error"]["field"], "srtpParameters.keyBase64");
    let key = SrtpKey::generate(SrtpCryptoSuite::AeadAes128Gcm).to_base64();
    let bad = room.server.call("POST", &connect, Some(json!({"ip": "127.0.0.1", "port": 5, "srtpParameters": {"cryptoSuite": "AEAD_AES_128_GCM", "keyBase64": key}})));
    assert_eq!(
        bad.1["error"]["field"], "srtpParameters",
        "the transport has no SRTP"
    );
    let bad = room
        .server
        .call("POST", &connect, Some(json!({"dtlsParameters": {}})));
    assert_error(&bad, 400, "invalid_parameter");
    assert_eq!(
        room.server
            .call(
                "POST",
                &connect,
                Some(json!({"ip": "127.0.0.1", "port": 5}))
            )
            .0,
        204
    );
    assert_error(
        &room.server.call(
            "POST",
            &connect,
            Some(json!({"ip": "127.0.0.1", "port": 6})),
        ),
        409,
        "wrong_state",
    );

    let comedia = room.plain(json!({"comedia": true}));
    let bad = room.server.call(
        "POST",
        &format!("/v1/transports/{}/connect", comedia["id"].as_str().unwrap()),
        Some(json!({"ip": "127.0.0.1", "port": 5})),
    );
    assert_eq!(bad.1["error"]["field"], "ip");
    let (_, metrics) = room.server.text("/metrics");
    assert!(
        metrics.contains("troupe_objects{kind=\"plain_transport\"} 3"),
        "{metrics}"
    );
}

#[test]
fn a_fan_out_split_over_cores_keeps_every_consumer_complete_and_in_order() {
    let room = room();
    let ingest = room.plain(json!({"comedia": true}));
    let ingest_id = ingest["id"].as_str().unwrap();
    let producer = room.produce_opus(ingest_id, 4444);
    // More consumers than troupe_actors::media::fan_out::SPLIT_AT.
    let receivers: Vec<UdpSocket> = (0..220)
        .map(|_| {
            let receiver = socket();
            let egress = room.plain(json!({}));
            let id = egress["id"].as_str().unwrap();
            post(
                &room.server,
                &format!("/v1/transports/{id}/connect"),
                json!({"ip": "127.0.0.1", "port": receiver.local_addr().unwrap().port()}),
            );
            post(
                &room.server,
                &format!("/v1/transports/{id}/consumers"),
                json!({"producerId": producer, "rtpCapabilities": room.caps}),
            );
            receiver
        })
        .collect();
    let sender = socket();
    let port = ingest["tuple"]["localPort"].as_u64().unwrap() as u16;
    let pt = payload_type(&room.caps, "audio/opus");
    for seq in 1..=30 {
        sender
            .send_to(&opus_packet(pt, 4444, seq, "x"), ("127.0.0.1", port))
            .unwrap();
        std::thread::sleep(Duration::from_millis(2));
    }
    std::thread::sleep(Duration::from_millis(300));
    for receiver in &receivers {
        // Everything has arrived by now: drain what is queued.
        receiver.set_nonblocking(true).unwrap();
        let mut buffer = [0u8; 2048];
        let mut packets = Vec::new();
        while let Ok((n, _)) = receiver.recv_from(&mut buffer) {
            packets.push(buffer[..n].to_vec());
        }
        let sequences: Vec<u16> = rtp_only(packets)
            .iter()
            .map(|p| RtpHeader::parse(p).unwrap().sequence_number)
            .collect();
        assert_eq!(sequences.len(), 30, "every packet reaches every consumer");
        assert!(
            sequences.windows(2).all(|w| w[1] == w[0].wrapping_add(1)),
            "in order: {sequences:?}"
        );
    }
}
