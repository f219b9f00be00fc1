//! RTCP on WebRTC transports, with Troupe's own test client on both sides:
//! NACK toward a lossy sender and RTX repair, NACKs from a receiver answered
//! with RTX, sender and receiver reports, round-trip time.

mod common;

use std::time::Duration;

use common::webrtc_client::{
    connected_client, payload_type, post, rtx_of, vp8_packet, WebRtcTestClient,
};
use common::{config, TestServer};
use serde_json::{json, Value};
use troupe_transports::rtcp_feedback::{self, Feedback};
use troupe_transports::rtp_packet::RtpHeader;

const SSRC: u32 = 2222;
const RTX_SSRC: u32 = 2223;

struct VideoCall {
    server: TestServer,
    sender: WebRtcTestClient,
    receiver: WebRtcTestClient,
    producer: String,
    consumer: Value,
    vp8: u8,
    rtx: u8,
}

fn video_call() -> VideoCall {
    let server = TestServer::start(config(&[]));
    let router = post(&server, "/v1/routers", json!({}));
    let router_id = router["id"].as_str().unwrap();
    let caps = &router["rtpCapabilities"];
    let vp8 = payload_type(caps, "video/VP8");
    let rtx = caps["codecs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["parameters"]["apt"] == vp8)
        .unwrap()["preferredPayloadType"]
        .as_u64()
        .unwrap() as u8;
    let (sender, sending, _) = connected_client(&server, router_id);
    let producer = post(
        &server,
        &format!("/v1/transports/{sending}/producers"),
        json!({"kind": "video", "rtpParameters": {
            "mid": "v",
            "codecs": [
                {"mimeType": "video/VP8", "payloadType": vp8, "clockRate": 90000,
                 "rtcpFeedback": [{"type": "nack"}, {"type": "nack", "parameter": "pli"}]},
                {"mimeType": "video/rtx", "payloadType": rtx, "clockRate": 90000, "parameters": {"apt": vp8}}
            ],
            "encodings": [{"ssrc": SSRC, "rtx": {"ssrc": RTX_SSRC}}],
            "rtcp": {"cname": "rtcp-test"}
        }}),
    )["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (receiver, receiving, _) = connected_client(&server, router_id);
    let consumer = post(
        &server,
        &format!("/v1/transports/{receiving}/consumers"),
        json!({"producerId": producer, "rtpCapabilities": caps}),
    );
    VideoCall {
        server,
        sender,
        receiver,
        producer,
        consumer,
        vp8,
        rtx,
    }
}

fn feedback(rtcp: &[Vec<u8>]) -> Vec<Feedback> {
    rtcp.iter()
        .flat_map(|p| rtcp_feedback::parse(p).unwrap_or_default())
        .collect()
}

/// The original sequence number the test wrote into each VP8 payload.
fn original_sequence(packet: &[u8]) -> u16 {
    let h = RtpHeader::parse(packet).unwrap();
    let payload = h.payload(packet);
    u16::from_be_bytes([payload[2], payload[3]])
}

#[test]
fn a_lost_packet_is_nacked_and_its_rtx_repairs_the_stream() {
    let mut call = video_call();
    let packets: Vec<Vec<u8>> = (1..=5)
        .map(|seq| vp8_packet(call.vp8, SSRC, seq, seq == 1))
        .collect();
    for (i, p) in packets.iter().enumerate() {
        if i != 2 {
            call.sender.send_rtp(p);
        }
    }
    let (_, rtcp) = call.sender.receive_all(Duration::from_millis(300));
    let nacked: Vec<u16> = feedback(&rtcp)
        .into_iter()
        .filter_map(|f| match f {
            Feedback::Nack {
                media_ssrc: SSRC,
                sequence_numbers,
            } => Some(sequence_numbers),
            _ => None,
        })
        .flatten()
        .collect();
    assert!(
        nacked.contains(&3),
        "Troupe asks the sender for packet 3: {nacked:?}"
    );
    call.sender
        .send_rtp(&rtx_of(&packets[2], call.rtx, RTX_SSRC, 1));
    let received = call.receiver.receive_rtp(Duration::from_millis(300));
    let mut originals: Vec<u16> = received.iter().map(|p| original_sequence(p)).collect();
    originals.sort();
    assert_eq!(
        originals,
        vec![1, 2, 3, 4, 5],
        "the repaired packet reaches the consumer"
    );
    let (_, stats) = call.server.call(
        "GET",
        &format!("/v1/producers/{}/stats", call.producer),
        None,
    );
    assert_eq!(stats[0]["packetsRepaired"], 1);
    assert!(stats[0]["nackCount"].as_u64().unwrap() >= 1);
}

#[test]
fn a_receivers_nack_is_answered_with_rtx() {
    let mut call = video_call();
    for seq in 1..=5 {
        call.sender
            .send_rtp(&vp8_packet(call.vp8, SSRC, seq, seq == 1));
    }
    let received = call.receiver.receive_rtp(Duration::from_millis(300));
    assert_eq!(received.len(), 5);
    let encoding = &call.consumer["rtpParameters"]["encodings"][0];
    let (consumer_ssrc, consumer_rtx_ssrc) = (
        encoding["ssrc"].as_u64().unwrap() as u32,
        encoding["rtx"]["ssrc"].as_u64().unwrap() as u32,
    );
    let lost = RtpHeader::parse(&received[1]).unwrap();
    assert_eq!(lost.ssrc, consumer_ssrc);
    call.receiver.send_rtcp(&rtcp_feedback::nack(
        1,
        consumer_ssrc,
        &[lost.sequence_number],
    ));
    let again = call.receiver.receive_rtp(Duration::from_millis(300));
    let rtx = again
        .iter()
        .find(|p| RtpHeader::parse(p).unwrap().ssrc == consumer_rtx_ssrc)
        .expect("an RTX packet");
    let header = RtpHeader::parse(rtx).unwrap();
    let payload = header.payload(rtx);
    assert_eq!(
        u16::from_be_bytes([payload[0], payload[1]]),
        lost.sequence_number
    );
    assert_eq!(&payload[2..], lost.payload(&received[1]));
    let (_, stats) = call.server.call(
        "GET",
        &format!(
            "/v1/consumers/{}/stats",
            call.consumer["id"].as_str().unwrap()
        ),
        None,
    );
    assert_eq!(stats[0]["packetsRetransmitted"], 1);
    assert_eq!(stats[0]["nackCount"], 1);
}

#[test]
fn reports_flow_both_ways_and_round_trip_time_is_measured() {
    let mut call = video_call();
    let consumer_ssrc = call.consumer["rtpParameters"]["encodings"][0]["ssrc"]
        .as_u64()
        .unwrap() as u32;
    let mut sender_rtcp = Vec::new();
    let mut receiver_rtcp = Vec::new();
    for seq in 1..=40u16 {
        call.sender
            .send_rtp(&vp8_packet(call.vp8, SSRC, seq, seq == 1));
        sender_rtcp.extend(call.sender.receive_all(Duration::from_millis(15)).1);
        receiver_rtcp.extend(call.receiver.receive_all(Duration::from_millis(15)).1);
    }
    let to_sender = feedback(&sender_rtcp);
    assert!(
        to_sender
            .iter()
            .any(|f| matches!(f, Feedback::Report { ssrc: SSRC, .. })),
        "the sender gets receiver reports: {to_sender:?}"
    );
    let to_receiver = feedback(&receiver_rtcp);
    // The latest one: the RTT is measured from when it was sent.
    let sender_report = to_receiver
        .iter()
        .rev()
        .find_map(|f| match f {
            Feedback::SenderReport { ssrc, ntp_time, .. } if *ssrc == consumer_ssrc => {
                Some(*ntp_time)
            }
            _ => None,
        })
        .expect("the receiver gets sender reports");
    let block = rtcp_feedback::Reception {
        ssrc: consumer_ssrc,
        fraction_lost: 0,
        total_lost: 0,
        extended_highest: 40,
        jitter: 0,
        last_sender_report: rtcp_feedback::ntp_middle(sender_report),
        delay_since_last_sender_report: 0,
    };
    call.receiver
        .send_rtcp(&rtcp_feedback::receiver_report(9, &[block]));
    std::thread::sleep(Duration::from_millis(100));
    let (_, stats) = call.server.call(
        "GET",
        &format!(
            "/v1/consumers/{}/stats",
            call.consumer["id"].as_str().unwrap()
        ),
        None,
    );
    let rtt = stats[0]["roundTripTime"]
        .as_f64()
        .expect("roundTripTime is measured");
    assert!(rtt > 0.0 && rtt < 5000.0, "{rtt}");
    assert!(stats[0]["bitrate"].as_u64().unwrap() > 0);
}
