//! A simulcast producer (three encodings) reaches a consumer as one stream:
//! the highest by default, another after preferred-layers, switching on a
//! key frame with continuous sequence numbers; the best stream being sent
//! while the preferred one is not.

mod common;

use std::time::Duration;

use common::cluster::EventLog;
use common::webrtc_client::{connected_client, payload_type, post, vp8_packet};
use common::{config, TestServer};
use serde_json::json;
use troupe_transports::rtp_packet::RtpHeader;

/// Encodings are told apart by the sequence numbers the test gives them.
fn encoding_of(packet: &[u8]) -> u16 {
    let h = RtpHeader::parse(packet).unwrap();
    let p = h.payload(packet);
    u16::from_be_bytes([p[2], p[3]]) / 1000
}

#[test]
fn one_simulcast_stream_at_a_time_switching_on_key_frames() {
    let server = TestServer::start(config(&[]));
    let events = EventLog::subscribe_to(server.addr, None);
    let router = post(&server, "/v1/routers", json!({}));
    let router_id = router["id"].as_str().unwrap();
    let caps = &router["rtpCapabilities"];
    let vp8 = payload_type(caps, "video/VP8");
    let (mut sender, sending, _) = connected_client(&server, router_id);
    let producer = post(
        &server,
        &format!("/v1/transports/{sending}/producers"),
        json!({"kind": "video", "rtpParameters": {
            "mid": "0",
            "codecs": [{"mimeType": "video/VP8", "payloadType": vp8, "clockRate": 90000}],
            "encodings": [
                {"ssrc": 3000, "rid": "r0", "scalabilityMode": "L1T3"},
                {"ssrc": 3001, "rid": "r1", "scalabilityMode": "L1T3"},
                {"ssrc": 3002, "rid": "r2", "scalabilityMode": "L1T3"}
            ],
            "rtcp": {"cname": "simulcast"}
        }}),
    );
    assert_eq!(producer["type"], "simulcast");
    // Each encoding i sends sequence numbers i*1000+n; the first is a key frame.
    let mut send_round = |first: u16, count: u16, key_first: bool| {
        for n in first..first + count {
            for encoding in 0..3u16 {
                let seq = encoding * 1000 + n;
                sender.send_rtp(&vp8_packet(
                    vp8,
                    3000 + u32::from(encoding),
                    seq,
                    key_first && n == first,
                ));
            }
        }
    };
    // Every stream is being sent before the consumer starts.
    send_round(0, 1, true);
    let (mut receiver, receiving, _) = connected_client(&server, router_id);
    let consumer = post(
        &server,
        &format!("/v1/transports/{receiving}/consumers"),
        json!({"producerId": producer["id"], "rtpCapabilities": caps}),
    );
    assert_eq!(consumer["type"], "simulcast");
    assert_eq!(
        consumer["rtpParameters"]["encodings"][0]["scalabilityMode"],
        "L3T3"
    );

    send_round(1, 5, true);
    let received = receiver.receive_rtp(Duration::from_millis(300));
    assert_eq!(received.len(), 5, "one stream, not three");
    assert!(
        received.iter().all(|p| encoding_of(p) == 2),
        "the highest stream by default"
    );

    let id = consumer["id"].as_str().unwrap();
    let (status, layers) = server.call(
        "POST",
        &format!("/v1/consumers/{id}/preferred-layers"),
        Some(json!({"spatialLayer": 0})),
    );
    assert_eq!(status, 200, "{layers}");
    assert_eq!(layers, json!({"spatialLayer": 0, "temporalLayer": 2}));
    // Without a key frame the consumer stays on stream 2.
    send_round(6, 3, false);
    let received_before_key = receiver.receive_rtp(Duration::from_millis(300));
    assert!(received_before_key.iter().all(|p| encoding_of(p) == 2));
    send_round(9, 3, true);
    let after = receiver.receive_rtp(Duration::from_millis(300));
    assert!(
        after.iter().all(|p| encoding_of(p) == 0),
        "switched to stream 0 at its key frame"
    );
    assert_eq!(after.len(), 3);
    // Sequence numbers continue across the switch.
    let mut all: Vec<u16> = received
        .iter()
        .chain(&received_before_key)
        .chain(&after)
        .map(|p| RtpHeader::parse(p).unwrap().sequence_number)
        .collect();
    let first = all[0];
    all.iter_mut().for_each(|s| *s = s.wrapping_sub(first));
    assert_eq!(all, (0..all.len() as u16).collect::<Vec<_>>());

    // Each change of the layers sent was notified, and the dump says it.
    let layers_seen = events.data_of("layerschange", id);
    assert_eq!(
        layers_seen,
        [
            json!({"spatialLayer": 2, "temporalLayer": 2}),
            json!({"spatialLayer": 0, "temporalLayer": 2})
        ]
    );
    let (_, dump) = server.call("GET", &format!("/v1/consumers/{id}"), None);
    assert_eq!(
        dump["currentLayers"],
        json!({"spatialLayer": 0, "temporalLayer": 2})
    );
    let (_, stats) = server.call("GET", &format!("/v1/consumers/{id}/stats"), None);
    assert_eq!(stats[0]["currentLayers"]["spatialLayer"], 0);

    let bad = server.call(
        "POST",
        &format!("/v1/consumers/{id}/preferred-layers"),
        Some(json!({"spatialLayer": 3})),
    );
    assert_eq!(bad.0, 400);
    assert_eq!(bad.1["error"]["field"], "spatialLayer");
}

#[test]
fn while_the_preferred_stream_is_not_sent_the_best_one_that_is_goes_out() {
    let server = TestServer::start(config(&[]));
    let router = post(&server, "/v1/routers", json!({}));
    let router_id = router["id"].as_str().unwrap();
    let caps = &router["rtpCapabilities"];
    let vp8 = payload_type(caps, "video/VP8");
    let (mut sender, sending, _) = connected_client(&server, router_id);
    let producer = post(
        &server,
        &format!("/v1/transports/{sending}/producers"),
        json!({"kind": "video", "rtpParameters": {
            "mid": "0",
            "codecs": [{"mimeType": "video/VP8", "payloadType": vp8, "clockRate": 90000}],
            "encodings": [{"ssrc": 4000, "rid": "r0"}, {"ssrc": 4001, "rid": "r1"}, {"ssrc": 4002, "rid": "r2"}]
        }}),
    );
    let (mut receiver, receiving, _) = connected_client(&server, router_id);
    post(
        &server,
        &format!("/v1/transports/{receiving}/consumers"),
        json!({"producerId": producer["id"], "rtpCapabilities": caps}),
    );
    // A sender short of bandwidth sends its two lower streams only.
    let mut send = |encodings: &[u16], first: u16, count: u16, key_first: bool| {
        for n in first..first + count {
            for &encoding in encodings {
                let key = key_first && n == first;
                sender.send_rtp(&vp8_packet(
                    vp8,
                    4000 + u32::from(encoding),
                    encoding * 1000 + n,
                    key,
                ));
            }
        }
    };
    send(&[0, 1], 1, 4, true);
    let received = receiver.receive_rtp(Duration::from_millis(300));
    assert!(!received.is_empty());
    assert!(
        received.iter().skip(1).all(|p| encoding_of(p) == 1),
        "the best stream sent, not nothing"
    );
    // The top stream starts (with a key frame): the consumer moves up.
    send(&[0, 1, 2], 5, 3, true);
    let received: Vec<u16> = receiver
        .receive_rtp(Duration::from_millis(300))
        .iter()
        .map(|p| encoding_of(p))
        .collect();
    // Stream 1's packet sent just before stream 2's key frame still goes out.
    assert_eq!(received, [1, 2, 2, 2], "moved up at its key frame");
}
