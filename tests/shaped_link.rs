//! A viewer on a link that shrinks and opens again: the receiving browser
//! runs in its own network namespace, joined to the host by a veth pair,
//! and `tc ... tbf` on the host's end limits what Troupe can send it. The
//! publisher (720p in three simulcast streams) is on the host. What the
//! viewer gets must follow its link — within it while the link is thin,
//! back up once it opens — as its own `getStats()` reports; and a viewer
//! of two publishers on one thin link, whose higher-priority consumer must
//! get the better picture; and a publisher whose own uplink shrinks, whose
//! viewer must go on getting what the publisher can still send. Needs root
//! and `ip netns`; where that is not possible the tests say so and skip.

mod common;

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;

use common::browser::{demo_dir, run_scenario_with_token};
use common::netns::ip;
use serde_json::{json, Value};

const TOKEN: &str = "shaped-link-token";

/// The tests run one at a time: each loads both cores with browsers, and
/// a test that shares them would measure the machine, not the link.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
static HOSTS_MADE: AtomicU32 = AtomicU32::new(0);

/// The host at the thin end of the link (the viewer, or the publisher): a
/// namespace and the veth pair to it; removed on drop.
struct ThinHost {
    namespace: String,
    host_end: String,
    inner_end: String,
    host_address: String,
}

impl ThinHost {
    fn create() -> Result<ThinHost, String> {
        let tag =
            (std::process::id() % 10_000) * 10 + HOSTS_MADE.fetch_add(1, Ordering::Relaxed) % 10;
        let subnet = format!("10.214.{}", tag % 250);
        let host = ThinHost {
            namespace: format!("troupe-thin-{tag}"),
            host_end: format!("tsh{tag}"),
            inner_end: format!("tsn{tag}"),
            host_address: format!("{subnet}.1"),
        };
        let inner = host.inner_end.clone();
        ip(&["netns", "add", &host.namespace])?;
        ip(&[
            "link",
            "add",
            &host.host_end,
            "type",
            "veth",
            "peer",
            "name",
            &inner,
        ])?;
        ip(&["link", "set", &inner, "netns", &host.namespace])?;
        ip(&[
            "addr",
            "add",
            &format!("{}/24", host.host_address),
            "dev",
            &host.host_end,
        ])?;
        ip(&["link", "set", &host.host_end, "up"])?;
        let inside = |args: &[&str]| {
            let mut full = vec!["-n", host.namespace.as_str()];
            full.extend_from_slice(args);
            ip(&full)
        };
        inside(&["addr", "add", &format!("{subnet}.2/24"), "dev", &inner])?;
        inside(&["link", "set", &inner, "up"])?;
        inside(&["link", "set", "lo", "up"])?;
        Ok(host)
    }
}

impl Drop for ThinHost {
    fn drop(&mut self) {
        // Deleting the namespace deletes the veth end in it, and the pair.
        let _ = ip(&["netns", "delete", &self.namespace]);
    }
}

struct Troupe(Child);

impl Drop for Troupe {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Samples of one phase (0 open, 1 thin, 2 open again).
fn phase(timeline: &[Value], index: u64) -> Vec<&Value> {
    timeline.iter().filter(|s| s["phase"] == index).collect()
}

fn number(value: &Value) -> f64 {
    value.as_f64().unwrap_or_default()
}

/// The node's log: kept in `TROUPE_SHAPED_LOG` when set (with `RUST_LOG`
/// chosen by whoever runs the test, e.g. `troupe::bwe_record=trace` for
/// what the estimator's recorded-sequence tests replay), else dropped.
fn node_log() -> Stdio {
    std::env::var("TROUPE_SHAPED_LOG")
        .ok()
        .and_then(|path| std::fs::File::create(path).ok())
        .map_or_else(Stdio::null, Stdio::from)
}

/// A 720p camera in mediasoup-demo's three simulcast streams, watched by
/// a viewer preferring the top one; `more` adds the phases and the rest.
fn simulcast_720p(more: Value) -> Value {
    let mut options = json!({
        "video": {"width": 1280, "height": 720},
        "encodings": [
            {"scaleResolutionDownBy": 4, "maxBitrate": 500_000},
            {"scaleResolutionDownBy": 2, "maxBitrate": 1_000_000},
            {"scaleResolutionDownBy": 1, "maxBitrate": 5_000_000}
        ],
        "preferredLayers": {"spatialLayer": 2},
    });
    if let (Some(options), Value::Object(more)) = (options.as_object_mut(), more) {
        options.extend(more);
    }
    options
}

/// The first phase: an open link for 12 s, longer (up to 40 s) until the
/// viewer gets the top stream. The publisher's Chromium usually reaches
/// 5 Mb/s with its first probe; once in CI it started at 335 kb/s and grew
/// 8 % a second (no probe result), which takes 20 s to the 720p stream.
fn open_until_full_size() -> Value {
    json!({"seconds": 12, "untilWidth": 1280, "maxSeconds": 40})
}

/// The top stream, 1280 px, by the end of the open phase.
fn full_size_while_open(timeline: &[Value]) {
    let open = phase(timeline, 0);
    let last_open = open.last().expect("samples while open");
    assert_eq!(number(&last_open["frameWidth"]), 1280.0, "{last_open}");
}

/// Back at 640 px or more, at 15 fps, within 25 s of the link opening.
fn back_at_640_px_within_25_s(timeline: &[Value]) {
    let reopened = phase(timeline, 2);
    let start = number(&reopened[0]["t"]);
    let back = reopened
        .iter()
        .find(|s| number(&s["frameWidth"]) >= 640.0 && number(&s["fps"]) >= 15.0)
        .map(|s| number(&s["t"]) - start);
    assert!(
        back.is_some_and(|seconds| seconds <= 25.0),
        "back at 640 px and 15 fps after {back:?} s"
    );
}

/// Runs the driver's shaped-link scenario with `options` (the viewer's
/// Chromium and veth filled in) against a node on the host's end; the
/// timeline it sampled, or `None` where namespaces cannot be made.
fn run_on_shaped_link(test: &str, mut options: Value) -> Option<Vec<Value>> {
    let _one_at_a_time = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let host = match ThinHost::create() {
        Ok(host) => host,
        Err(why) => {
            eprintln!("SKIPPED {test}: cannot make network namespaces here ({why})");
            return None;
        }
    };
    let mut child = Command::new(env!("CARGO_BIN_EXE_troupe"))
        .args(["--http-listen", &format!("{}:0", host.host_address)])
        .args(["--webrtc-listen-ip", &host.host_address])
        .args(["--webrtc-port", "0", "--api-token", TOKEN])
        .args(["--demo-dir", &demo_dir()])
        .stdout(Stdio::piped())
        .stderr(node_log())
        .spawn()
        .expect("troupe starts");
    let url = common::listening_url(&mut child);
    let _troupe = Troupe(child);

    // Playwright starts the viewer's Chromium through this, in the namespace.
    let scripts = tempfile::tempdir().unwrap();
    let wrapper = scripts.path().join("chromium-in-namespace");
    let mut file = std::fs::File::create(&wrapper).unwrap();
    writeln!(
        file,
        "#!/bin/sh\nexec ip netns exec {} /usr/bin/chromium \"$@\"",
        host.namespace
    )
    .unwrap();
    drop(file);
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
    assert!(Path::new("/usr/bin/chromium").exists());

    options["chromium"] = json!(wrapper);
    options["veth"] = json!(host.host_end);
    options["namespace"] = json!(host.namespace);
    options["innerVeth"] = json!(host.inner_end);
    let report =
        run_scenario_with_token(&url, "shaped-link", Some(&options.to_string()), Some(TOKEN));
    let timeline = report["timeline"].as_array().expect("a timeline").clone();
    for sample in &timeline {
        eprintln!("{sample}");
    }
    Some(timeline)
}

#[test]
fn a_viewer_steps_down_to_fit_a_thin_link_and_back_up_when_it_opens() {
    let options = simulcast_720p(json!({
        "phases": [open_until_full_size(), {"seconds": 25, "rate": "250kbit"}, {"seconds": 30}]
    }));
    let Some(timeline) = run_on_shaped_link(
        "a_viewer_steps_down_to_fit_a_thin_link_and_back_up_when_it_opens",
        options,
    ) else {
        return;
    };
    follows_a_link_that_shrinks_to_250_kbit_and_opens(&timeline, 2.0);
}

#[test]
fn a_viewer_of_vp9_svc_steps_down_to_fit_a_thin_link_and_back_up_when_it_opens() {
    let options = json!({
        "video": {"width": 1280, "height": 720},
        "codec": "video/VP9",
        "encodings": [{"scalabilityMode": "L3T3_KEY"}],
        "preferredLayers": {"spatialLayer": 2},
        "phases": [open_until_full_size(), {"seconds": 25, "rate": "250kbit"}, {"seconds": 30}]
    });
    let Some(timeline) = run_on_shaped_link(
        "a_viewer_of_vp9_svc_steps_down_to_fit_a_thin_link_and_back_up_when_it_opens",
        options,
    ) else {
        return;
    };
    // 1.5 Mb/s of SVC into 250 kbit/s: the picture freezes 0.5-0.6 s before
    // any feedback can show the losses (simulcast's 0.7 Mb/s: none), then
    // 0.9-1.4 s until the lower layer's key frame; 1.3-2.1 s in all (five
    // runs), so its bar is wider than the simulcast one.
    follows_a_link_that_shrinks_to_250_kbit_and_opens(&timeline, 2.5);
}

/// The bar for a viewer preferring the top layer of a 720p
/// publisher, 12 s or more on an open link (until the viewer gets the top
/// stream), 25 s at 250 kbit/s, 30 s open again:
/// frozen less than `max_frozen` s (2 in the issue) in any 8 s, the moment
/// the link shrinks too; within the link; back at 640 px within 25 s.
fn follows_a_link_that_shrinks_to_250_kbit_and_opens(timeline: &[Value], max_frozen: f64) {
    full_size_while_open(timeline);

    for (i, sample) in timeline.iter().enumerate() {
        let window_end = number(&sample["t"]) + 8.0;
        let Some(later) = timeline[i..]
            .iter()
            .take_while(|s| number(&s["t"]) <= window_end)
            .last()
        else {
            continue;
        };
        let frozen = number(&later["freezes"]) - number(&sample["freezes"]);
        assert!(
            frozen < max_frozen,
            "frozen {frozen:.2} s between {} s and {} s",
            sample["t"],
            later["t"]
        );
    }

    // Once the step down has settled (the last 10 s of the thin phase),
    // what arrives fits the 250 kbit/s link with the audio beside it.
    let thin = phase(timeline, 1);
    let settled = &thin[thin.len().saturating_sub(10)..];
    let video_kbps = settled.iter().map(|s| number(&s["kbps"])).sum::<f64>() / settled.len() as f64;
    assert!(
        video_kbps <= 220.0,
        "{video_kbps} kb/s of video on a 250 kbit/s link"
    );
    let estimate = number(&settled.last().unwrap()["availableOutgoingBitrate"]);
    assert!(
        estimate < 400_000.0,
        "the estimate follows the link: {estimate}"
    );

    back_at_640_px_within_25_s(timeline);
}

/// What one consumer (by priority) got, averaged over `samples`.
fn average_of(samples: &[&Value], priority: u64, field: &str) -> f64 {
    let values: Vec<f64> = samples
        .iter()
        .filter_map(|s| {
            s["consumers"]
                .as_array()?
                .iter()
                .find(|c| c["priority"] == priority)
                .map(|c| number(&c[field]))
        })
        .collect();
    values.iter().sum::<f64>() / values.len().max(1) as f64
}

#[test]
fn the_higher_priority_consumer_gets_the_better_picture_on_a_shared_thin_link() {
    let options = simulcast_720p(json!({
        "priorities": [2, 1],
        "phases": [{"seconds": 10}, {"seconds": 30, "rate": "600kbit"}]
    }));
    let Some(timeline) = run_on_shaped_link(
        "the_higher_priority_consumer_gets_the_better_picture_on_a_shared_thin_link",
        options,
    ) else {
        return;
    };
    let thin = phase(&timeline, 1);
    let settled = &thin[thin.len().saturating_sub(12)..];
    let (high, low) = (
        average_of(settled, 2, "frameWidth"),
        average_of(settled, 1, "frameWidth"),
    );
    assert!(
        high > low,
        "priority 2 got {high} px on average, priority 1 {low} px"
    );
    let video_kbps = average_of(settled, 2, "kbps") + average_of(settled, 1, "kbps");
    assert!(
        video_kbps <= 540.0,
        "{video_kbps} kb/s of video on a 600 kbit/s link"
    );
    for priority in [1, 2] {
        let fps = average_of(settled, priority, "fps");
        assert!(fps >= 5.0, "priority {priority}: {fps} fps");
    }
}

#[test]
fn a_publisher_on_a_thin_uplink_keeps_its_viewer_watching() {
    let options = simulcast_720p(json!({
        "thinSide": "publisher",
        "phases": [open_until_full_size(), {"seconds": 25, "rate": "400kbit"}, {"seconds": 30}]
    }));
    let Some(timeline) = run_on_shaped_link(
        "a_publisher_on_a_thin_uplink_keeps_its_viewer_watching",
        options,
    ) else {
        return;
    };
    full_size_while_open(&timeline);
    // The publisher hears of its thin uplink through Troupe's feedback and
    // sends what fits; its viewer gets the best of that.
    let thin = phase(&timeline, 1);
    let settled = &thin[thin.len().saturating_sub(10)..];
    let estimate = number(&settled.last().unwrap()["publisherEstimate"]);
    assert!(
        estimate < 450_000.0,
        "the publisher's estimate follows its 400 kbit/s uplink: {estimate}"
    );
    for sample in settled {
        assert!(number(&sample["fps"]) >= 5.0, "{sample}");
    }
    back_at_640_px_within_25_s(&timeline);
}
