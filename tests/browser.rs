//! End to end with real peers: Debian's Chromium, headless, driven by
//! playwright-core, running the real mediasoup-client (the demo page's
//! bundle) against a `troupe` process. `scripts/test.sh` installs Chromium,
//! the npm packages and builds the bundle; the scenarios themselves are in
//! `tests/browser/driver.mjs`.

mod common;

/// Runs one scenario in Chromium against a fresh `troupe` process.
fn scenario(name: &str) -> serde_json::Value {
    let troupe = common::browser::DemoServer::start();
    common::browser::run_scenario(&troupe.url, name, None)
}

#[test]
fn a_browser_publishes_and_two_browsers_watch() {
    let report = scenario("publish-and-watch");
    for watcher in report["results"].as_array().unwrap() {
        assert!(
            watcher["second"]["framesDecoded"].as_u64().unwrap()
                > watcher["first"]["framesDecoded"].as_u64().unwrap()
        );
        assert!(watcher["second"]["audioPacketsReceived"].as_u64().unwrap() > 0);
    }
}

#[test]
fn the_same_over_ice_tcp_only() {
    scenario("publish-and-watch-tcp");
}

#[test]
fn a_paused_consumer_gets_no_frames_and_resumes_within_two_seconds() {
    let report = scenario("pause-resume");
    assert_eq!(report["stalled"], true);
    assert!(report["resumedWithinMs"].as_u64().unwrap() <= 2500);
}

#[test]
fn a_wrong_fingerprint_fails_dtls_and_closes_the_transport() {
    let report = scenario("wrong-fingerprint");
    assert_eq!(report["failed"]["data"]["dtlsState"], "failed");
}

#[test]
fn the_demo_page_publishes_simulcast_and_its_watch_link_shows_a_sharp_picture_a_chat_and_the_speaker(
) {
    let report = scenario("demo-page");
    assert!(report["width"].as_u64().unwrap() >= 640, "{report}");
    assert_eq!(report["publisherHeard"], true, "{report}");
    assert_eq!(report["watcherHeard"], true, "{report}");
    assert_eq!(report["speaking"], true, "{report}");
}
