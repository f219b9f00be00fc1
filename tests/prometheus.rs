//! `/metrics` as real Prometheus tools see it: `promtool check metrics` finds
//! nothing to complain about, and a Prometheus server (Debian's) scraping a
//! node that forwards packets answers a PromQL query with the forwarded
//! packets counter increasing.

mod common;

use std::io::Write;
use std::net::UdpSocket;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::cluster::{eventually, free_port, Sink};
use common::webrtc_client::{opus_ingest, opus_packet, payload_type, post};
use common::{config, TestServer};
use serde_json::json;

fn forwarding_server() -> (TestServer, Arc<AtomicBool>, Sink) {
    let server = TestServer::start(config(&[]));
    let router = post(&server, "/v1/routers", json!({}));
    let caps = router["rtpCapabilities"].clone();
    let router = router["id"].as_str().unwrap().to_string();
    let pt = payload_type(&caps, "audio/opus");
    let (ingest, producer) = opus_ingest(&server, &router, &caps, 6666);
    let sink = Sink::open("127.0.0.1");
    let out = post(
        &server,
        &format!("/v1/routers/{router}/plain-transports"),
        json!({}),
    );
    let out = out["id"].as_str().unwrap();
    post(
        &server,
        &format!("/v1/transports/{out}/connect"),
        json!({"ip": "127.0.0.1", "port": sink.port}),
    );
    post(
        &server,
        &format!("/v1/transports/{out}/consumers"),
        json!({"producerId": producer, "rtpCapabilities": caps}),
    );
    let running = Arc::new(AtomicBool::new(true));
    let flag = running.clone();
    let to = format!("127.0.0.1:{}", ingest["tuple"]["localPort"]);
    std::thread::spawn(move || {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        let mut sequence = 0u16;
        while flag.load(Ordering::Relaxed) {
            let _ = socket.send_to(&opus_packet(pt, 6666, sequence, "0"), &to);
            sequence = sequence.wrapping_add(1);
            std::thread::sleep(Duration::from_millis(10));
        }
    });
    (server, running, sink)
}

#[test]
fn promtool_finds_the_exposition_clean() {
    assert!(
        common::media_tools::which("promtool"),
        "promtool is needed: scripts/test.sh installs Debian's prometheus"
    );
    let (server, running, sink) = forwarding_server();
    eventually(Duration::from_secs(5), "packets are forwarded", || {
        sink.count() > 10
    });
    // Every family has a sample by now, the API ones included.
    let (_, text) = server.text("/metrics");
    running.store(false, Ordering::Relaxed);
    let mut promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    promtool
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let output = promtool.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "promtool: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn prometheus_scrapes_the_forwarded_packets_counter_increasing() {
    assert!(
        common::media_tools::which("prometheus"),
        "prometheus is needed: scripts/test.sh installs Debian's prometheus"
    );
    let (server, running, _sink) = forwarding_server();
    let dir = tempfile::tempdir().unwrap();
    let config_file = dir.path().join("prometheus.yml");
    std::fs::write(
        &config_file,
        format!(
            "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: troupe\n    static_configs:\n      - targets: ['{}']\n",
            server.addr
        ),
    )
    .unwrap();
    let web = format!("127.0.0.1:{}", free_port());
    let mut prometheus = Command::new("prometheus")
        .arg(format!("--config.file={}", config_file.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.path().join("data").display()
        ))
        .arg(format!("--web.listen-address={web}"))
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.path().join("prometheus.log")).unwrap())
        .spawn()
        .unwrap();
    let query = |expression: &str| -> Option<f64> {
        let body = ureq::get(&format!("http://{web}/api/v1/query"))
            .query("query", expression)
            .call()
            .ok()?
            .into_body()
            .read_to_string()
            .ok()?;
        let answer: serde_json::Value = serde_json::from_str(&body).ok()?;
        answer["data"]["result"][0]["value"][1]
            .as_str()?
            .parse()
            .ok()
    };
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        eventually(
            Duration::from_secs(30),
            "PromQL sees forwarded packets increasing",
            || {
                query(r#"increase(troupe_rtp_packets_total{job="troupe",direction="out"}[5s])"#)
                    .is_some_and(|v| v > 0.0)
            },
        );
        let up = query(r#"up{job="troupe"}"#);
        assert_eq!(up, Some(1.0));
    }));
    running.store(false, Ordering::Relaxed);
    let _ = prometheus.kill();
    let _ = prometheus.wait();
    if let Err(panic) = result {
        eprintln!(
            "{}",
            std::fs::read_to_string(dir.path().join("prometheus.log")).unwrap_or_default()
        );
        std::panic::resume_unwind(panic);
    }
}
