//! ffmpeg and GStreamer from Debian as real peers of plain transports:
//! ffmpeg pushes a test pattern in, a browser watches it; recordings are
//! written by ffmpeg and checked with ffprobe.

mod common;

use std::time::Duration;

use common::browser::{demo_dir, run_scenario};
use common::media_tools::ffmpeg_sender;
use common::webrtc_client::{payload_type, post};
use common::{config, TestServer};
use serde_json::{json, Value};

const VIDEO_SSRC: u32 = 1111;
const AUDIO_SSRC: u32 = 2222;

/// A room with two comedia plain transports and a VP8 and an Opus producer
/// on them, ready for ffmpeg. Returns the ports ffmpeg sends to.
struct Ingest {
    router: String,
    caps: Value,
    video: (u16, u8, u32),
    audio: (u16, u8, u32),
    producers: Vec<String>,
    transports: Vec<String>,
}

fn ingest(server: &TestServer, srtp: Option<&str>) -> Ingest {
    let router = post(server, "/v1/routers", json!({}));
    let router_id = router["id"].as_str().unwrap().to_string();
    let caps = router["rtpCapabilities"].clone();
    let mut options = json!({"comedia": true});
    if srtp.is_some() {
        options = json!({"comedia": true, "enableSrtp": true, "srtpCryptoSuite": "AES_CM_128_HMAC_SHA1_80"});
    }
    let mut make = |kind: &str, mime: &str, clock_rate: u32, ssrc: u32| {
        let transport = post(
            server,
            &format!("/v1/routers/{router_id}/plain-transports"),
            options.clone(),
        );
        let id = transport["id"].as_str().unwrap().to_string();
        if let Some(key) = srtp {
            post(
                server,
                &format!("/v1/transports/{id}/connect"),
                json!({"srtpParameters": {"cryptoSuite": "AES_CM_128_HMAC_SHA1_80", "keyBase64": key}}),
            );
        }
        let pt = payload_type(&caps, mime);
        let mut codec = json!({"mimeType": mime, "payloadType": pt, "clockRate": clock_rate});
        if kind == "audio" {
            codec["channels"] = json!(2);
        }
        let producer = post(
            server,
            &format!("/v1/transports/{id}/producers"),
            json!({"kind": kind, "rtpParameters": {"codecs": [codec], "encodings": [{"ssrc": ssrc}], "rtcp": {"cname": "ffmpeg"}}}),
        );
        let port = transport["tuple"]["localPort"].as_u64().unwrap() as u16;
        (
            id,
            producer["id"].as_str().unwrap().to_string(),
            (port, pt, ssrc),
        )
    };
    let (video_transport, video_producer, video) = make("video", "video/VP8", 90000, VIDEO_SSRC);
    let (audio_transport, audio_producer, audio) = make("audio", "audio/opus", 48000, AUDIO_SSRC);
    Ingest {
        router: router_id,
        caps,
        video,
        audio,
        producers: vec![video_producer, audio_producer],
        transports: vec![video_transport, audio_transport],
    }
}

#[test]
fn an_ffmpeg_stream_is_watched_in_a_browser() {
    let server = TestServer::start(config(&[("demo_dir", &demo_dir())]));
    let ingest = ingest(&server, None);
    let _sender = ffmpeg_sender(ingest.video, ingest.audio, 30, None);
    let report = run_scenario(&server.url(""), "watch-existing", Some(&ingest.router));
    assert!(report["second"]["framesDecoded"].as_u64().unwrap() > 0);
    let _ = (
        &ingest.caps,
        &ingest.producers,
        &ingest.transports,
        Duration::ZERO,
    );
}
