//! ffmpeg and GStreamer from Debian as real peers of plain transports:
//! ffmpeg pushes a test pattern in, a browser watches it; recordings are
//! written by ffmpeg and checked with ffprobe.

mod common;

use std::time::Duration;

use common::browser::{demo_dir, run_scenario};
use common::media_tools::{ffmpeg_sender, ffprobe};
use common::webrtc_client::{payload_type, post};
use common::{assert_error, config, TestServer};
use serde_json::{json, Value};
use std::path::Path;

/// Encoders are heavy on two cores: these tests run one at a time.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner())
}

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

fn start_ingest(server: &TestServer, srtp: Option<&str>) -> Ingest {
    let router = post(server, "/v1/routers", json!({}));
    let router_id = router["id"].as_str().unwrap().to_string();
    let caps = router["rtpCapabilities"].clone();
    let mut options = json!({"comedia": true});
    if srtp.is_some() {
        options = json!({"comedia": true, "enableSrtp": true, "srtpCryptoSuite": "AES_CM_128_HMAC_SHA1_80"});
    }
    let make = |kind: &str, mime: &str, clock_rate: u32, ssrc: u32| {
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
    let _serial = serial();
    let server = TestServer::start(config(&[("demo_dir", &demo_dir())]));
    let ingest = start_ingest(&server, None);
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

/// Records 10 s of the ffmpeg test pattern and checks the file.
fn record_ten_seconds(srtp: Option<&str>) {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(config(&[("recordings_dir", dir.path().to_str().unwrap())]));
    let ingest = start_ingest(&server, srtp);
    let recording = post(
        &server,
        &format!("/v1/routers/{}/recordings", ingest.router),
        json!({"producerIds": ingest.producers, "format": "webm", "path": "room.webm"}),
    );
    assert_eq!(recording["state"], "recording");
    let path = recording["path"].as_str().unwrap().to_string();
    assert!(
        Path::new(&path).is_absolute()
            && path.starts_with(dir.path().canonicalize().unwrap().to_str().unwrap())
    );
    // The sender's own clock: on a busy machine ffmpeg's `-re` pacing
    // falls behind, and 10 s of pattern take longer to send (a loaded run
    // recorded 13.1 s of it, correctly).
    let sending = std::time::Instant::now();
    ffmpeg_sender(ingest.video, ingest.audio, 10, srtp).wait_success();
    let sent_for = sending.elapsed().as_secs_f64();
    std::thread::sleep(Duration::from_millis(500));
    let id = recording["id"].as_str().unwrap();
    let (status, stopped) = server.call("DELETE", &format!("/v1/recordings/{id}"), None);
    assert_eq!(status, 200, "{stopped}");
    assert_eq!(stopped["state"], "stopped");
    assert_eq!(
        server.call("GET", &format!("/v1/recordings/{id}"), None).1["state"],
        "stopped"
    );

    let frames: u32 = ffprobe(
        &path,
        &[
            "-select_streams",
            "v:0",
            "-count_frames",
            "-show_entries",
            "stream=nb_read_frames",
        ],
    )
    .parse()
    .unwrap_or(0);
    assert!(frames >= 285, "{frames} of 300 video frames recorded");
    let duration: f64 = ffprobe(&path, &["-show_entries", "format=duration"])
        .parse()
        .unwrap_or(0.0);
    assert!(
        (9.0..=sent_for.max(10.0) + 1.0).contains(&duration),
        "duration {duration} s for {sent_for:.1} s of sending (cues and duration written)"
    );
    let first_key = ffprobe(
        &path,
        &[
            "-select_streams",
            "v:0",
            "-read_intervals",
            "%+#1",
            "-show_entries",
            "frame=key_frame",
        ],
    );
    assert_eq!(
        first_key.lines().next(),
        Some("1"),
        "the file starts on a key frame"
    );
    let audio = ffprobe(
        &path,
        &[
            "-select_streams",
            "a:0",
            "-show_entries",
            "stream=codec_name",
        ],
    );
    assert_eq!(audio, "opus");
    // Nothing is left running: the recording's transports are gone.
    let (_, dump) = server.call("GET", &format!("/v1/routers/{}", ingest.router), None);
    assert_eq!(
        dump["transportIds"].as_array().unwrap().len(),
        2,
        "only the ingest transports remain"
    );
}

#[test]
fn a_room_is_recorded_to_a_webm_that_starts_on_a_key_frame() {
    record_ten_seconds(None);
}

#[test]
fn the_same_with_srtp_on_the_ingest_transports() {
    let key = troupe_transports::srtp_keys::SrtpKey::generate(
        troupe_transports::srtp_keys::SrtpCryptoSuite::AesCm128HmacSha1_80,
    );
    record_ten_seconds(Some(&key.to_base64()));
}

#[test]
fn bad_recording_requests_get_clear_errors_and_leave_nothing_running() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(config(&[("recordings_dir", dir.path().to_str().unwrap())]));
    let ingest = start_ingest(&server, None);
    let path = format!("/v1/routers/{}/recordings", ingest.router);
    let bad = server.call(
        "POST",
        &path,
        Some(json!({"producerIds": ["nope"], "format": "webm"})),
    );
    assert_error(&bad, 409, "wrong_state");
    let bad = server.call(
        "POST",
        &path,
        Some(json!({"producerIds": ingest.producers, "format": "avi"})),
    );
    assert_eq!(bad.1["error"]["field"], "format");
    for outside in ["../escape.webm", "/tmp/elsewhere.webm", "a/../../b.webm"] {
        let bad = server.call(
            "POST",
            &path,
            Some(json!({"producerIds": ingest.producers, "format": "webm", "path": outside})),
        );
        assert_error(&bad, 400, "invalid_parameter");
        assert_eq!(bad.1["error"]["field"], "path", "{outside}");
    }
    assert_error(
        &server.call(
            "POST",
            "/v1/routers/nope/recordings",
            Some(json!({"producerIds": ingest.producers, "format": "webm"})),
        ),
        404,
        "not_found",
    );
    drop(server);

    for ffmpeg in ["/nonexistent/ffmpeg", "false"] {
        let server = TestServer::start(config(&[
            ("recordings_dir", dir.path().to_str().unwrap()),
            ("ffmpeg", ffmpeg),
        ]));
        let ingest = start_ingest(&server, None);
        let bad = server.call(
            "POST",
            &format!("/v1/routers/{}/recordings", ingest.router),
            Some(json!({"producerIds": ingest.producers, "format": "webm"})),
        );
        assert_error(&bad, 503, "unavailable");
        assert!(
            bad.1["error"]["message"]
                .as_str()
                .unwrap()
                .contains("ffmpeg"),
            "{}",
            bad.1
        );
        let (_, dump) = server.call("GET", &format!("/v1/routers/{}", ingest.router), None);
        assert_eq!(
            dump["transportIds"].as_array().unwrap().len(),
            2,
            "{ffmpeg}: nothing left behind"
        );
    }
}

#[test]
fn an_ffmpeg_that_dies_is_reported_with_its_status_and_stderr() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    // An ffmpeg killed two seconds into the recording.
    let wrapper = dir.path().join("dying-ffmpeg");
    std::fs::write(
        &wrapper,
        "#!/bin/sh\necho 'about to die' >&2\nexec timeout -s KILL 2 ffmpeg \"$@\"\n",
    )
    .unwrap();
    std::process::Command::new("chmod")
        .arg("+x")
        .arg(&wrapper)
        .status()
        .unwrap();
    let server = TestServer::start(config(&[
        ("recordings_dir", dir.path().to_str().unwrap()),
        ("ffmpeg", wrapper.to_str().unwrap()),
    ]));
    let ingest = start_ingest(&server, None);
    let recording = post(
        &server,
        &format!("/v1/routers/{}/recordings", ingest.router),
        json!({"producerIds": ingest.producers, "format": "mkv"}),
    );
    assert!(recording["path"].as_str().unwrap().ends_with(".mkv"));
    let id = recording["id"].as_str().unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let status = loop {
        let (_, status) = server.call("GET", &format!("/v1/recordings/{id}"), None);
        if status["state"] == "failed" || std::time::Instant::now() > deadline {
            break status;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(status["state"], "failed", "{status}");
    assert_eq!(status["exitCode"], 137);
    assert!(status["error"].as_str().unwrap().contains("about to die"));
    let (_, dump) = server.call("GET", &format!("/v1/routers/{}", ingest.router), None);
    assert_eq!(dump["transportIds"].as_array().unwrap().len(), 2);
}

#[test]
fn closing_the_producers_ends_the_recording_cleanly() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(config(&[("recordings_dir", dir.path().to_str().unwrap())]));
    let ingest = start_ingest(&server, None);
    let recording = post(
        &server,
        &format!("/v1/routers/{}/recordings", ingest.router),
        json!({"producerIds": ingest.producers, "format": "webm"}),
    );
    let sending = std::time::Instant::now();
    ffmpeg_sender(ingest.video, ingest.audio, 4, None).wait_success();
    let sent_for = sending.elapsed().as_secs_f64();
    for producer in &ingest.producers {
        assert_eq!(
            server
                .call("DELETE", &format!("/v1/producers/{producer}"), None)
                .0,
            204
        );
    }
    let id = recording["id"].as_str().unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let (_, status) = server.call("GET", &format!("/v1/recordings/{id}"), None);
        if status["state"] == "stopped" {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "still {status}");
        std::thread::sleep(Duration::from_millis(200));
    }
    let path = recording["path"].as_str().unwrap();
    let duration: f64 = ffprobe(path, &["-show_entries", "format=duration"])
        .parse()
        .unwrap_or(0.0);
    // Measured against the sender's clock, as above.
    assert!(
        (3.0..=sent_for.max(4.0) + 1.0).contains(&duration),
        "a finished file of about 4 s, not {duration} ({sent_for:.1} s of sending)"
    );
}

#[test]
fn an_h264_stream_from_ffmpeg_is_recorded_to_mkv() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(config(&[("recordings_dir", dir.path().to_str().unwrap())]));
    let router = post(&server, "/v1/routers", json!({}));
    let router_id = router["id"].as_str().unwrap();
    let h264 = payload_type(&router["rtpCapabilities"], "video/H264");
    let transport = post(
        &server,
        &format!("/v1/routers/{router_id}/plain-transports"),
        json!({"comedia": true}),
    );
    let transport_id = transport["id"].as_str().unwrap();
    let producer = post(
        &server,
        &format!("/v1/transports/{transport_id}/producers"),
        json!({"kind": "video", "rtpParameters": {
            "codecs": [{"mimeType": "video/H264", "payloadType": h264, "clockRate": 90000,
                        "parameters": {"packetization-mode": 1, "profile-level-id": "42e01f"}}],
            "encodings": [{"ssrc": VIDEO_SSRC}]
        }}),
    );
    let recording = post(
        &server,
        &format!("/v1/routers/{router_id}/recordings"),
        json!({"producerIds": [producer["id"]], "format": "mkv"}),
    );
    let port = transport["tuple"]["localPort"].as_u64().unwrap();
    common::media_tools::Tool::spawn(
        std::process::Command::new("ffmpeg").args([
            "-hide_banner",
            "-loglevel",
            "error",
            "-re",
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=320x240:rate=30:duration=5",
            "-c:v",
            "libx264",
            "-profile:v",
            "baseline",
            "-level",
            "3.1",
            "-tune",
            "zerolatency",
            "-preset",
            "ultrafast",
            "-pix_fmt",
            "yuv420p",
            "-g",
            "30",
            "-payload_type",
            &h264.to_string(),
            "-ssrc",
            &VIDEO_SSRC.to_string(),
            "-f",
            "rtp",
            &format!("rtp://127.0.0.1:{port}?rtcpport={port}&pkt_size=1200"),
        ]),
        "ffmpeg H264 sender",
    )
    .wait_success();
    std::thread::sleep(Duration::from_millis(500));
    let (status, stopped) = server.call(
        "DELETE",
        &format!("/v1/recordings/{}", recording["id"].as_str().unwrap()),
        None,
    );
    assert_eq!(status, 200, "{stopped}");
    let path = recording["path"].as_str().unwrap();
    assert_eq!(
        ffprobe(
            path,
            &[
                "-select_streams",
                "v:0",
                "-show_entries",
                "stream=codec_name"
            ]
        ),
        "h264"
    );
    let frames: u32 = ffprobe(
        path,
        &[
            "-select_streams",
            "v:0",
            "-count_frames",
            "-show_entries",
            "stream=nb_read_frames",
        ],
    )
    .parse()
    .unwrap_or(0);
    assert!(frames >= 140, "{frames} of 150 frames");
}
