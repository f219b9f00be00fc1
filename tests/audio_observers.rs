//! Audio observers with real browsers: two pages publish Chromium's fake
//! microphone, one muted (`track.enabled = false`, so it sends silence);
//! an ActiveSpeakerObserver names the other within 2 s and follows the
//! mute when it moves, and an AudioLevelObserver reports volumes.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};

#[test]
fn the_active_speaker_is_named_within_two_seconds_and_follows_the_mute() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut child = Command::new(env!("CARGO_BIN_EXE_troupe"))
        .args(["--http-listen", "127.0.0.1:0", "--webrtc-port", "0"])
        .arg("--demo-dir")
        .arg(root.join("demo"))
        .env_remove("TROUPE_API_TOKEN")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("troupe starts");
    let url = common::listening_url(&mut child);
    let report = common::browser::run_scenario(&url, "active-speaker", None);
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        report["firstNamedMs"].as_u64().unwrap() <= 2000,
        "{report:#}"
    );
    assert!(report["switchedMs"].as_u64().unwrap() <= 2000, "{report:#}");
    assert_eq!(report["dump"]["dominantProducerId"], report["audio"][1]);
}

#[test]
fn observer_requests_are_checked_and_observers_close_with_their_router() {
    use common::{assert_error, config, TestServer};
    use serde_json::json;
    let server = TestServer::start(config(&[]));
    let router = server.call("POST", "/v1/routers", Some(json!({}))).1["id"]
        .as_str()
        .unwrap()
        .to_string();
    let create =
        |path: &str, body| server.call("POST", &format!("/v1/routers/{router}/{path}"), Some(body));
    assert_error(
        &create("audio-level-observers", json!({"threshold": 5})),
        400,
        "invalid_parameter",
    );
    assert_error(
        &create("audio-level-observers", json!({"maxEntries": 0})),
        400,
        "invalid_parameter",
    );
    assert_error(
        &create("active-speaker-observers", json!({"interval": 10})),
        400,
        "invalid_parameter",
    );
    let observer = create("active-speaker-observers", json!({}));
    assert_eq!(observer.0, 200, "{}", observer.1);
    let id = observer.1["id"].as_str().unwrap().to_string();
    let add = server.call(
        "POST",
        &format!("/v1/rtp-observers/{id}/producers"),
        Some(json!({"producerId": "nope"})),
    );
    assert_error(&add, 404, "not_found");
    let dump = server
        .call("GET", &format!("/v1/rtp-observers/{id}"), None)
        .1;
    assert_eq!(dump["type"], "activeSpeaker");
    assert_eq!(dump["interval"], 300);
    assert_eq!(
        server
            .call("POST", &format!("/v1/rtp-observers/{id}/pause"), None)
            .0,
        204
    );
    assert_eq!(
        server
            .call("DELETE", &format!("/v1/routers/{router}"), None)
            .0,
        204
    );
    assert_error(
        &server.call("GET", &format!("/v1/rtp-observers/{id}"), None),
        404,
        "not_found",
    );
}
