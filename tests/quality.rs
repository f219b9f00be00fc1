//! Call quality as the browsers themselves measure it (`getStats()`), for
//! each way mediasoup-client publishes: one camera stream, three-layer
//! simulcast, VP9 SVC. Headless Chromium publishes and watches through a
//! Troupe node; after 20 s the publisher must not be held back by its
//! congestion controller (which only grows with transport-cc feedback from
//! Troupe), and each receiver must get the layer it prefers, smoothly.
//! Figures and how they compare with mediasoup: docs/quality.md.

mod common;

use std::sync::{Mutex, MutexGuard};

use common::browser::{demo_dir, run_scenario};
use common::{config, TestServer};
use serde_json::{json, Value};

/// One call at a time: each runs a publisher and two or three receivers in
/// Chromium, which is all two cores can encode and decode in real time.
fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

fn call(options: Value) -> Value {
    let server = TestServer::start(config(&[("demo_dir", &demo_dir())]));
    let report = run_scenario(&server.url(""), "quality", Some(&options.to_string()));
    eprintln!(
        "quality {options}: sender {} receivers {}",
        report["sender"], report["receivers"]
    );
    report
}

/// mediasoup-demo's webcam encodings: three streams from 720p.
fn simulcast_encodings() -> Value {
    json!([
        {"scaleResolutionDownBy": 4, "maxBitrate": 500_000},
        {"scaleResolutionDownBy": 2, "maxBitrate": 1_000_000},
        {"scaleResolutionDownBy": 1, "maxBitrate": 5_000_000}
    ])
}

fn number(value: &Value) -> f64 {
    value.as_f64().unwrap_or_default()
}

/// The publisher's congestion controller lets it send what it captures.
fn assert_publisher_not_held_back(report: &Value, min_layer_width: f64) {
    let sender = &report["sender"];
    let estimate = number(&sender["availableOutgoingBitrate"]);
    assert!(
        estimate >= 500_000.0,
        "the publisher's estimate is {estimate} b/s: {sender}"
    );
    let layers = sender["layers"].as_array().expect("layers");
    for layer in layers {
        assert_ne!(
            layer["qualityLimitationReason"], "bandwidth",
            "a layer held back for bandwidth: {sender}"
        );
        assert!(
            number(&layer["framesPerSecond"]) >= 15.0,
            "a layer below 15 fps: {sender}"
        );
    }
    let widest = layers
        .iter()
        .map(|l| number(&l["frameWidth"]))
        .fold(0.0, f64::max);
    assert!(widest >= min_layer_width, "widest layer {widest}: {sender}");
}

fn receiver(report: &Value, index: usize) -> &Value {
    &report["receivers"][index]
}

fn assert_smooth(receiver: &Value, min_fps: f64) {
    assert!(
        number(&receiver["framesPerSecond"]) >= min_fps,
        "receiver below {min_fps} fps: {receiver}"
    );
    assert!(
        number(&receiver["windowFreezesDuration"]) == 0.0,
        "receiver froze in the last 5 s: {receiver}"
    );
}

/// Receivers preferring layer 2, layer 0, and layer 1 at temporal layer 0
/// (in that order) get what they prefer.
fn assert_each_gets_its_preferred_layers(report: &Value) {
    let top = receiver(report, 0);
    assert!(number(&top["frameWidth"]) >= 640.0, "{top}");
    assert_smooth(top, 15.0);
    let bottom = receiver(report, 1);
    assert!(number(&bottom["frameWidth"]) <= 320.0, "{bottom}");
    assert_smooth(bottom, 15.0);
    // The base temporal layer of L1T3 or L3T3 is a quarter of the frames.
    let base = receiver(report, 2);
    assert_eq!(number(&base["frameWidth"]), 640.0, "{base}");
    let fps = number(&base["framesPerSecond"]);
    assert!(
        (3.0..=7.5).contains(&fps),
        "temporal layer 0 at {fps} fps: {base}"
    );
}

#[test]
fn one_camera_stream_goes_out_at_full_size_and_arrives_smoothly() {
    let _serial = serial();
    let report = call(json!({"video": {"width": 640, "height": 480}}));
    assert_publisher_not_held_back(&report, 640.0);
    let viewer = receiver(&report, 0);
    assert_eq!(number(&viewer["frameWidth"]), 640.0, "{viewer}");
    assert_smooth(viewer, 15.0);
}

#[test]
fn simulcast_sends_all_three_layers_and_each_receiver_gets_the_one_it_prefers() {
    let _serial = serial();
    let report = call(json!({
        "video": {"width": 1280, "height": 720},
        "encodings": simulcast_encodings(),
        "receivers": [
            {"preferredLayers": {"spatialLayer": 2}},
            {"preferredLayers": {"spatialLayer": 0}},
            {"preferredLayers": {"spatialLayer": 1, "temporalLayer": 0}}
        ]
    }));
    assert_publisher_not_held_back(&report, 1280.0);
    assert_eq!(report["sender"]["layers"].as_array().map(Vec::len), Some(3));
    assert_each_gets_its_preferred_layers(&report);
}

#[test]
fn vp9_svc_receivers_get_the_spatial_and_temporal_layers_they_prefer() {
    let _serial = serial();
    let report = call(json!({
        "video": {"width": 1280, "height": 720},
        "codec": "video/VP9",
        "encodings": [{"scalabilityMode": "L3T3_KEY"}],
        "receivers": [
            {"preferredLayers": {"spatialLayer": 2}},
            {"preferredLayers": {"spatialLayer": 0}},
            {"preferredLayers": {"spatialLayer": 1, "temporalLayer": 0}}
        ]
    }));
    assert_publisher_not_held_back(&report, 1280.0);
    assert_each_gets_its_preferred_layers(&report);
}

#[test]
fn receivers_that_change_their_preferred_layers_mid_call_get_the_new_ones() {
    let _serial = serial();
    let report = call(json!({
        "video": {"width": 1280, "height": 720},
        "encodings": simulcast_encodings(),
        "receivers": [
            {"preferredLayers": {"spatialLayer": 2}, "switchTo": {"spatialLayer": 0}},
            {"preferredLayers": {"spatialLayer": 0}, "switchTo": {"spatialLayer": 2}}
        ]
    }));
    let down = receiver(&report, 0);
    assert!(number(&down["frameWidth"]) <= 320.0, "{down}");
    assert_eq!(down["currentLayers"]["spatialLayer"], 0, "{down}");
    assert_smooth(down, 15.0);
    let up = receiver(&report, 1);
    assert!(number(&up["frameWidth"]) >= 640.0, "{up}");
    assert_smooth(up, 15.0);
}

#[test]
fn a_sender_without_transport_cc_is_paced_by_troupes_remb() {
    let _serial = serial();
    let report = call(json!({"video": {"width": 640, "height": 480}, "remb": true}));
    assert_publisher_not_held_back(&report, 640.0);
    let available = number(&report["transportStats"]["availableIncomingBitrate"]);
    assert!(available >= 500_000.0, "{}", report["transportStats"]);
    let viewer = receiver(&report, 0);
    assert_eq!(number(&viewer["frameWidth"]), 640.0, "{viewer}");
    assert_smooth(viewer, 15.0);
}

#[test]
fn max_incoming_bitrate_caps_what_the_browser_sends() {
    let _serial = serial();
    let report =
        call(json!({"video": {"width": 640, "height": 480}, "maxIncomingBitrate": 200_000}));
    let sender = &report["sender"];
    let estimate = number(&sender["availableOutgoingBitrate"]);
    assert!(
        estimate > 0.0 && estimate <= 200_000.0,
        "the publisher's estimate should follow the cap: {sender}"
    );
    assert_eq!(report["transportStats"]["maxIncomingBitrate"], 200_000);
    let viewer = receiver(&report, 0);
    assert!(number(&viewer["kbps"]) <= 250.0, "{viewer}");
    assert_smooth(viewer, 15.0);
}

#[test]
fn h264_simulcast_from_openh264_reaches_each_receiver_at_its_preferred_size() {
    let _serial = serial();
    let report = call(json!({
        "video": {"width": 1280, "height": 720},
        "codec": "video/H264",
        "encodings": simulcast_encodings(),
        "receivers": [
            {"preferredLayers": {"spatialLayer": 2}},
            {"preferredLayers": {"spatialLayer": 0}}
        ]
    }));
    assert_publisher_not_held_back(&report, 1280.0);
    let top = receiver(&report, 0);
    assert!(number(&top["frameWidth"]) >= 640.0, "{top}");
    assert_smooth(top, 15.0);
    let bottom = receiver(&report, 1);
    assert!(number(&bottom["frameWidth"]) <= 320.0, "{bottom}");
    assert_smooth(bottom, 15.0);
}
