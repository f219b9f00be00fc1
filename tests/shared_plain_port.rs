//! Plain transports on the node's shared port (`sharedPort`), with raw UDP
//! sockets as the peers: a fan-out large enough to be split over threads
//! reaches every consumer complete and in order from the one port (sent in
//! batches), each receiver's RTCP finds its own consumer (a PLI reaches the
//! sender, a NACK is answered), two transports cannot have one peer, and
//! what cannot work on one port is refused with the field named.

mod common;

use std::collections::HashSet;
use std::net::UdpSocket;
use std::time::{Duration, Instant};

use common::webrtc_client::{payload_type, post, vp8_packet};
use common::{assert_error, config, TestServer};
use serde_json::{json, Value};
use troupe_transports::packet_kind::is_rtcp;
use troupe_transports::rtcp_feedback;
use troupe_transports::rtp_packet::RtpHeader;

const SENDER_SSRC: u32 = 5555;
/// More than `troupe_actors::media::fan_out_load::SPLIT_AT`, at a rate
/// that splits the fan-out (about 900 packets/s, some 200,000 copies/s,
/// from its first 200 ms on): two threads batch.
const CONSUMERS: usize = 220;
const PACKETS: u16 = 400;
/// Sent between two drains of every receiver, which fits its buffer.
const PACKETS_PER_DRAIN: u16 = 50;

fn socket() -> UdpSocket {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
    s
}

/// What has arrived, with where it came from.
fn drain(socket: &UdpSocket) -> Vec<(Vec<u8>, u16)> {
    socket.set_nonblocking(true).unwrap();
    let mut buffer = [0u8; 2048];
    let mut packets = Vec::new();
    while let Ok((n, from)) = socket.recv_from(&mut buffer) {
        packets.push((buffer[..n].to_vec(), from.port()));
    }
    socket.set_nonblocking(false).unwrap();
    packets
}

/// Waits for a datagram that `wanted` accepts.
fn wait_for(socket: &UdpSocket, wanted: impl Fn(&[u8]) -> bool) -> Option<Vec<u8>> {
    let until = Instant::now() + Duration::from_secs(2);
    let mut buffer = [0u8; 2048];
    while Instant::now() < until {
        if let Ok(n) = socket.recv(&mut buffer) {
            if wanted(&buffer[..n]) {
                return Some(buffer[..n].to_vec());
            }
        }
    }
    None
}

struct Consumer {
    receiver: UdpSocket,
    transport: String,
    ssrc: u32,
}

fn shared_consumer(server: &TestServer, router: &str, producer: &str, caps: &Value) -> Consumer {
    let receiver = socket();
    let transport = post(
        server,
        &format!("/v1/routers/{router}/plain-transports"),
        json!({"sharedPort": true}),
    );
    let id = transport["id"].as_str().unwrap().to_string();
    post(
        server,
        &format!("/v1/transports/{id}/connect"),
        json!({"ip": "127.0.0.1", "port": receiver.local_addr().unwrap().port()}),
    );
    let consumer = post(
        server,
        &format!("/v1/transports/{id}/consumers"),
        json!({"producerId": producer, "rtpCapabilities": caps, "enableRtx": true}),
    );
    Consumer {
        receiver,
        transport: id,
        ssrc: consumer["rtpParameters"]["encodings"][0]["ssrc"]
            .as_u64()
            .unwrap() as u32,
    }
}

#[test]
fn a_split_fan_out_leaves_from_one_port_complete_and_in_order_and_rtcp_finds_its_consumer() {
    let server = TestServer::start(config(&[]));
    let router = post(&server, "/v1/routers", json!({}));
    let router_id = router["id"].as_str().unwrap();
    let caps = router["rtpCapabilities"].clone();
    let pt = payload_type(&caps, "video/VP8");
    let ingest = post(
        &server,
        &format!("/v1/routers/{router_id}/plain-transports"),
        json!({"comedia": true}),
    );
    let ingest_id = ingest["id"].as_str().unwrap();
    let producer = post(
        &server,
        &format!("/v1/transports/{ingest_id}/producers"),
        json!({"kind": "video", "rtpParameters": {
            "codecs": [{"mimeType": "video/VP8", "payloadType": pt, "clockRate": 90000,
                        "rtcpFeedback": [{"type": "nack"}, {"type": "nack", "parameter": "pli"}]}],
            "encodings": [{"ssrc": SENDER_SSRC}]
        }}),
    )["id"]
        .as_str()
        .unwrap()
        .to_string();
    let consumers: Vec<Consumer> = (0..CONSUMERS)
        .map(|_| shared_consumer(&server, router_id, &producer, &caps))
        .collect();
    let ports: HashSet<u64> = consumers
        .iter()
        .map(|c| {
            let (_, dump) = server.call("GET", &format!("/v1/transports/{}", c.transport), None);
            dump["tuple"]["localPort"].as_u64().unwrap()
        })
        .collect();
    assert_eq!(ports.len(), 1, "one port for all: {ports:?}");
    let shared_port = *ports.iter().next().unwrap() as u16;
    assert_ne!(
        u64::from(shared_port),
        ingest["tuple"]["localPort"].as_u64().unwrap()
    );

    let sender = socket();
    let ingest_port = ingest["tuple"]["localPort"].as_u64().unwrap() as u16;
    let mut sent = Vec::new();
    let mut arrived: Vec<Vec<(Vec<u8>, u16)>> = vec![Vec::new(); CONSUMERS];
    let drain_all = |arrived: &mut Vec<Vec<(Vec<u8>, u16)>>| {
        for (consumer, got) in consumers.iter().zip(arrived.iter_mut()) {
            got.extend(drain(&consumer.receiver));
        }
    };
    let handoffs_before = server.metric("troupe_fan_out_shares_handed_off_total");
    for seq in 1..=PACKETS {
        let packet = vp8_packet(pt, SENDER_SSRC, seq, seq == 1);
        sender.send_to(&packet, ("127.0.0.1", ingest_port)).unwrap();
        sent.push(packet);
        std::thread::sleep(Duration::from_millis(1));
        if seq % PACKETS_PER_DRAIN == 0 {
            drain_all(&mut arrived);
        }
    }
    std::thread::sleep(Duration::from_millis(300));
    drain_all(&mut arrived);
    if std::thread::available_parallelism().map_or(1, |n| n.get()) > 1 {
        assert!(
            server.metric("troupe_fan_out_shares_handed_off_total") > handoffs_before,
            "the fan-out was split over the helper threads"
        );
    }
    let mut received_by_first = Vec::new();
    let mut asker_sequences = Vec::new();
    for (i, (consumer, got)) in consumers.iter().zip(arrived).enumerate() {
        let packets: Vec<(Vec<u8>, u16)> = got.into_iter().filter(|(p, _)| !is_rtcp(p)).collect();
        assert!(
            packets.iter().all(|(_, from)| *from == shared_port),
            "sent from the shared port"
        );
        let sequences: Vec<u16> = packets
            .iter()
            .map(|(p, _)| RtpHeader::parse(p).unwrap().sequence_number)
            .collect();
        assert_eq!(sequences.len(), usize::from(PACKETS), "consumer {i}");
        assert!(
            sequences.windows(2).all(|w| w[1] == w[0].wrapping_add(1)),
            "in order: {sequences:?}"
        );
        assert!(packets
            .iter()
            .all(|(p, _)| RtpHeader::parse(p).unwrap().ssrc == consumer.ssrc));
        if i == 0 {
            received_by_first = packets.into_iter().map(|(p, _)| p).collect();
        } else if i == 3 {
            asker_sequences = sequences;
        }
    }
    // The payload is the sender's, untouched.
    let payload = |p: &[u8]| p[RtpHeader::parse(p).unwrap().payload_offset..].to_vec();
    assert_eq!(payload(&received_by_first[4]), payload(&sent[4]));

    // A receiver's NACK is read on the shared port and answered from it
    // (outside any fan-out: a send of its own).
    let asker = &consumers[3];
    let lost = asker_sequences[4];
    drain(&asker.receiver);
    asker
        .receiver
        .send_to(
            &rtcp_feedback::nack(1, asker.ssrc, &[lost]),
            ("127.0.0.1", shared_port),
        )
        .unwrap();
    // As RTX: the original sequence number leads the payload.
    let resent = wait_for(&asker.receiver, |p| {
        RtpHeader::parse(p).is_ok_and(|h| {
            !is_rtcp(p)
                && h.ssrc != asker.ssrc
                && h.payload(p).get(..2) == Some(&lost.to_be_bytes())
        })
    });
    assert!(resent.is_some(), "packet {lost} resent");

    // A PLI from one receiver reaches the sender through the producer.
    let pli_asker = &consumers[CONSUMERS - 1];
    // Past the producer's once-a-second limit on key frame requests (the
    // consumers' own first requests).
    std::thread::sleep(Duration::from_millis(1100));
    drain(&sender);
    pli_asker
        .receiver
        .send_to(
            &rtcp_feedback::picture_loss_indication(1, pli_asker.ssrc),
            ("127.0.0.1", shared_port),
        )
        .unwrap();
    let pli = wait_for(&sender, |p| {
        rtcp_feedback::parse(p).is_ok_and(|all| {
            all.iter()
                .any(|f| matches!(f, rtcp_feedback::Feedback::Pli { .. }))
        })
    });
    assert!(pli.is_some(), "the PLI reached the sender");

    // Two transports cannot have the same peer on the shared port; once
    // the first closes, its peer is free.
    let taken = consumers[0].receiver.local_addr().unwrap().port();
    let second = post(
        &server,
        &format!("/v1/routers/{router_id}/plain-transports"),
        json!({"sharedPort": true}),
    );
    let connect = format!("/v1/transports/{}/connect", second["id"].as_str().unwrap());
    let refused = server.call(
        "POST",
        &connect,
        Some(json!({"ip": "127.0.0.1", "port": taken})),
    );
    assert_error(&refused, 409, "wrong_state");
    let (status, _) = server.call(
        "DELETE",
        &format!("/v1/transports/{}", consumers[0].transport),
        None,
    );
    assert_eq!(status, 204);
    let accepted = server.call(
        "POST",
        &connect,
        Some(json!({"ip": "127.0.0.1", "port": taken})),
    );
    assert_eq!(accepted.0, 204, "{}", accepted.1);
}

#[test]
fn what_one_port_cannot_do_is_refused_with_the_field_named() {
    let server = TestServer::start(config(&[]));
    let router = post(&server, "/v1/routers", json!({}));
    let path = format!(
        "/v1/routers/{}/plain-transports",
        router["id"].as_str().unwrap()
    );
    for options in [
        json!({"sharedPort": true, "comedia": true}),
        json!({"sharedPort": true, "rtcpMux": false}),
    ] {
        let refused = server.call("POST", &path, Some(options.clone()));
        assert_error(&refused, 400, "invalid_parameter");
        assert_eq!(refused.1["error"]["field"], "sharedPort", "{options}");
    }
}
