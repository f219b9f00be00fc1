//! Pipe transports through the public API, as an app doing mediasoup's
//! pipeToRouter by hand: two routers, a pipe transport in each connected to
//! the other with SRTP, a pipe consumer on one side and a producer with its
//! parameters on the other.

mod common;

use std::net::UdpSocket;
use std::time::{Duration, Instant};

use common::webrtc_client::{opus_ingest, opus_packet, payload_type, post};
use common::{assert_error, config, TestServer};
use serde_json::{json, Value};
use troupe_transports::rtp_packet::RtpHeader;

fn pipe(server: &TestServer, router: &str) -> Value {
    post(
        server,
        &format!("/v1/routers/{router}/pipe-transports"),
        json!({"enableSrtp": true, "enableRtx": true}),
    )
}

fn connect(server: &TestServer, transport: &Value, to: &Value) {
    post(
        server,
        &format!(
            "/v1/transports/{}/connect",
            transport["id"].as_str().unwrap()
        ),
        json!({
            "ip": to["tuple"]["localIp"],
            "port": to["tuple"]["localPort"],
            "srtpParameters": to["srtpParameters"],
        }),
    );
}

#[test]
fn a_producer_piped_between_two_routers_reaches_the_far_consumer() {
    let server = TestServer::start(config(&[]));
    let origin = post(&server, "/v1/routers", json!({}));
    let caps = origin["rtpCapabilities"].clone();
    let origin = origin["id"].as_str().unwrap().to_string();
    let far = post(&server, "/v1/routers", json!({}))["id"]
        .as_str()
        .unwrap()
        .to_string();

    let pt = payload_type(&caps, "audio/opus");
    let (ingest, producer) = opus_ingest(&server, &origin, &caps, 4444);

    let (near_pipe, far_pipe) = (pipe(&server, &origin), pipe(&server, &far));
    assert_eq!(
        near_pipe["srtpParameters"]["cryptoSuite"],
        "AEAD_AES_128_GCM"
    );
    connect(&server, &near_pipe, &far_pipe);
    connect(&server, &far_pipe, &near_pipe);
    let pipe_consumer = post(
        &server,
        &format!(
            "/v1/transports/{}/consumers",
            near_pipe["id"].as_str().unwrap()
        ),
        json!({"producerId": producer, "rtpCapabilities": {}}),
    );
    assert_eq!(pipe_consumer["type"], "pipe");
    let codecs = pipe_consumer["rtpParameters"]["codecs"].to_string();
    let far_path = format!(
        "/v1/transports/{}/producers",
        far_pipe["id"].as_str().unwrap()
    );
    // One node holds one object per id: the far producer keeping the
    // origin's id is for pipes between nodes (the cluster does that).
    assert_error(
        &server.call(
            "POST",
            &far_path,
            Some(json!({"id": producer, "kind": "audio", "rtpParameters": pipe_consumer["rtpParameters"]})),
        ),
        409,
        "wrong_state",
    );
    let piped = post(
        &server,
        &far_path,
        json!({"kind": "audio", "rtpParameters": pipe_consumer["rtpParameters"]}),
    );
    let piped = piped["id"].as_str().unwrap().to_string();

    let sink = UdpSocket::bind("127.0.0.1:0").unwrap();
    sink.set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    let out = post(
        &server,
        &format!("/v1/routers/{far}/plain-transports"),
        json!({}),
    );
    let out_id = out["id"].as_str().unwrap();
    post(
        &server,
        &format!("/v1/transports/{out_id}/connect"),
        json!({"ip": "127.0.0.1", "port": sink.local_addr().unwrap().port()}),
    );
    let consumer = post(
        &server,
        &format!("/v1/transports/{out_id}/consumers"),
        json!({"producerId": piped, "rtpCapabilities": caps}),
    );
    let ssrc = consumer["rtpParameters"]["encodings"][0]["ssrc"]
        .as_u64()
        .unwrap() as u32;

    let sender = UdpSocket::bind("127.0.0.1:0").unwrap();
    let to = format!("127.0.0.1:{}", ingest["tuple"]["localPort"]);
    let mut received = Vec::new();
    let mut buffer = [0u8; 2048];
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut sequence = 0u16;
    while received.len() < 40 && Instant::now() < deadline {
        sender
            .send_to(&opus_packet(pt, 4444, sequence, "0"), &to)
            .unwrap();
        sequence += 1;
        while let Ok(n) = sink.recv(&mut buffer) {
            if let Ok(header) = RtpHeader::parse(&buffer[..n]) {
                if header.payload_type == pt {
                    received.push(header);
                }
            }
        }
    }
    assert!(
        received.len() >= 40,
        "only {} packets crossed the pipe",
        received.len()
    );
    assert!(received.iter().all(|h| h.ssrc == ssrc));
    assert!(received
        .windows(2)
        .all(|w| w[1].sequence_number == w[0].sequence_number.wrapping_add(1)));
    assert!(codecs.contains("audio/opus"), "{codecs}");

    // Closing the origin producer closes the pipe consumer.
    assert_eq!(
        server
            .call("DELETE", &format!("/v1/producers/{producer}"), None)
            .0,
        204
    );
    let (status, _) = server.call(
        "GET",
        &format!("/v1/consumers/{}", pipe_consumer["id"].as_str().unwrap()),
        None,
    );
    assert_eq!(status, 404);
}

#[test]
fn enable_rtx_decides_whether_a_pipe_carries_retransmissions() {
    let server = TestServer::start(config(&[]));
    let router = post(&server, "/v1/routers", json!({}));
    let caps = router["rtpCapabilities"].clone();
    let router = router["id"].as_str().unwrap().to_string();
    let ingest = post(
        &server,
        &format!("/v1/routers/{router}/plain-transports"),
        json!({"comedia": true}),
    );
    let vp8 = payload_type(&caps, "video/VP8");
    let producer = post(
        &server,
        &format!(
            "/v1/transports/{}/producers",
            ingest["id"].as_str().unwrap()
        ),
        json!({"kind": "video", "rtpParameters": {
            "codecs": [{"mimeType": "video/VP8", "payloadType": vp8, "clockRate": 90000,
                        "rtcpFeedback": [{"type": "nack"}, {"type": "nack", "parameter": "pli"}]}],
            "encodings": [{"ssrc": 7777}]
        }}),
    );
    let codecs_over = |options: Value| {
        let pipe = post(
            &server,
            &format!("/v1/routers/{router}/pipe-transports"),
            options,
        );
        let consumer = post(
            &server,
            &format!("/v1/transports/{}/consumers", pipe["id"].as_str().unwrap()),
            json!({"producerId": producer["id"], "rtpCapabilities": {}}),
        );
        consumer["rtpParameters"]["codecs"].to_string()
    };
    assert!(codecs_over(json!({"enableRtx": true})).contains("video/rtx"));
    // As mediasoup: without enableRtx a pipe has no RTX.
    assert!(!codecs_over(json!({})).contains("video/rtx"));
}
