//! Audio observers with real browsers: two pages publish Chromium's fake
//! microphone, one muted (`track.enabled = false`, so it sends silence);
//! an ActiveSpeakerObserver names the other within 2 s and follows the
//! mute when it moves, and an AudioLevelObserver reports volumes.

mod common;

#[test]
fn the_active_speaker_is_named_within_two_seconds_and_follows_the_mute() {
    let troupe = common::browser::DemoServer::start();
    let report = common::browser::run_scenario(&troupe.url, "active-speaker", None);
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
