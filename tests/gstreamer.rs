//! GStreamer from Debian on both sides of Troupe: a VP8 test pattern pushed
//! into a plain transport, and a plain consumer written to a WebM file by
//! another GStreamer pipeline.

mod common;

use std::process::Command;
use std::time::Duration;

use common::media_tools::Tool;
use common::webrtc_client::{payload_type, post};
use common::{config, TestServer};
use serde_json::json;

const FRAMES: u32 = 150;

#[test]
fn a_gstreamer_stream_through_troupe_is_written_by_gstreamer_with_every_frame() {
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("out.webm");
    let server = TestServer::start(config(&[]));
    let router = post(&server, "/v1/routers", json!({}));
    let router_id = router["id"].as_str().unwrap();
    let vp8 = payload_type(&router["rtpCapabilities"], "video/VP8");

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
            "codecs": [{"mimeType": "video/VP8", "payloadType": vp8, "clockRate": 90000}],
            "encodings": [{"ssrc": 3333}]
        }}),
    );

    // The receiving pipeline listens first, on a port the OS chose.
    let receive_port = std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let egress = post(
        &server,
        &format!("/v1/routers/{router_id}/plain-transports"),
        json!({"rtcpMux": false}),
    );
    let egress_id = egress["id"].as_str().unwrap();
    post(
        &server,
        &format!("/v1/transports/{egress_id}/connect"),
        json!({"ip": "127.0.0.1", "port": receive_port, "rtcpPort": receive_port + 1}),
    );
    let consumer = post(
        &server,
        &format!("/v1/transports/{egress_id}/consumers"),
        json!({"producerId": producer["id"], "rtpCapabilities": router["rtpCapabilities"], "enableRtx": false}),
    );
    let consumer_pt = consumer["rtpParameters"]["codecs"][0]["payloadType"]
        .as_u64()
        .unwrap();
    let caps = format!(
        "application/x-rtp,media=video,encoding-name=VP8,clock-rate=90000,payload={consumer_pt}"
    );
    let receiver = Tool::spawn(
        Command::new("gst-launch-1.0").args([
            "-q",
            "-e",
            "udpsrc",
            &format!("port={receive_port}"),
            &format!("caps={caps}"),
            "!",
            "rtpjitterbuffer",
            "latency=200",
            "!",
            "rtpvp8depay",
            "!",
            "webmmux",
            "!",
            "filesink",
            &format!("location={}", output.display()),
        ]),
        "gst-launch receiver",
    );
    std::thread::sleep(Duration::from_millis(1000));

    let port = ingest["tuple"]["localPort"].as_u64().unwrap();
    Tool::spawn(
        Command::new("gst-launch-1.0").args([
            "-q",
            "videotestsrc",
            &format!("num-buffers={FRAMES}"),
            "is-live=true",
            "!",
            "video/x-raw,width=320,height=240,framerate=30/1",
            "!",
            "vp8enc",
            "deadline=1",
            "keyframe-max-dist=30",
            "!",
            "rtpvp8pay",
            &format!("pt={vp8}"),
            "ssrc=3333",
            "mtu=1200",
            "!",
            "udpsink",
            "host=127.0.0.1",
            &format!("port={port}"),
        ]),
        "gst-launch sender",
    )
    .wait_success();
    std::thread::sleep(Duration::from_millis(800));
    // One SIGINT: with -e the pipeline sends EOS and finishes the file.
    interrupt(receiver.child.id());
    receiver.wait_success();

    let frames = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-select_streams",
            "v:0",
            "-count_frames",
            "-show_entries",
            "stream=nb_read_frames",
        ])
        .args(["-of", "csv=p=0"])
        .arg(&output)
        .output()
        .unwrap();
    let frames: u32 = String::from_utf8_lossy(&frames.stdout)
        .trim()
        .parse()
        .unwrap_or(0);
    assert_eq!(frames, FRAMES, "every frame sent is in the file");
}

fn interrupt(pid: u32) {
    let status = Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}
