//! The node-to-node control link is TLS with pinned certificates: two
//! `troupe` processes with a real etcd open a pipe (ids, RTP parameters and
//! addresses cross the link), and what tcpdump sees of the link holds none
//! of them in the clear. Every member record shows its certificate's
//! fingerprint: one node's is configured (made by openssl), the other's
//! self-signed at start.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::cluster::{etcd_available, eventually, Etcd, Node};
use common::webrtc_client::payload_type;
use serde_json::json;

fn start_node(
    etcd: &Etcd,
    cluster: &str,
    id: &str,
    logs: &std::path::Path,
    env: &[(&str, &str)],
) -> Node {
    Node::on_loopback_with(etcd, cluster, id, "eu", logs, env)
}

/// A certificate and key made by openssl, and the certificate's SHA-256
/// fingerprint as openssl says it.
fn openssl_certificate(dir: &std::path::Path) -> (String, String, String) {
    let cert = dir.join("control.pem");
    let key = dir.join("control-key.pem");
    let made = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt"])
        .args(["ec_paramgen_curve:prime256v1", "-nodes", "-days", "2"])
        .args(["-subj", "/CN=node-a.control.example"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stderr(Stdio::null())
        .status()
        .expect("openssl runs (scripts/test.sh installs it)");
    assert!(made.success());
    let printed = Command::new("openssl")
        .args(["x509", "-noout", "-fingerprint", "-sha256", "-in"])
        .arg(&cert)
        .output()
        .unwrap();
    let printed = String::from_utf8_lossy(&printed.stdout);
    let fingerprint = printed
        .trim()
        .rsplit('=')
        .next()
        .unwrap()
        .to_ascii_lowercase();
    (
        cert.display().to_string(),
        key.display().to_string(),
        fingerprint,
    )
}

/// tcpdump writing the loopback traffic of `ports` to `file`.
struct Capture(Child);

impl Capture {
    fn start(file: &std::path::Path, ports: &[u16]) -> Capture {
        let filter = ports
            .iter()
            .map(|p| format!("tcp port {p}"))
            .collect::<Vec<_>>()
            .join(" or ");
        let child = Command::new("tcpdump")
            // Immediate mode: packets not yet handed over when tcpdump is
            // stopped would be lost.
            .args([
                "-i",
                "lo",
                "--immediate-mode",
                "-U",
                "-s",
                "0",
                "-Z",
                "root",
                "-w",
            ])
            .arg(file)
            .arg(filter)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("tcpdump runs (scripts/test.sh installs it)");
        // tcpdump needs a moment before it sees packets.
        std::thread::sleep(Duration::from_millis(1000));
        Capture(child)
    }

    fn stop(mut self) {
        std::thread::sleep(Duration::from_millis(500));
        // SIGTERM lets tcpdump flush the file.
        let _ = Command::new("kill").arg(self.0.id().to_string()).status();
        let _ = self.0.wait();
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn port_of(address: &str) -> u16 {
    address.rsplit(':').next().unwrap().parse().unwrap()
}

#[test]
fn the_control_link_carries_nothing_in_the_clear_and_pins_certificates() {
    assert!(
        etcd_available(),
        "etcd is not installed: scripts/test.sh installs Debian's etcd-server"
    );
    assert!(
        Command::new("tcpdump").arg("--version").output().is_ok(),
        "tcpdump is not installed: scripts/test.sh installs it"
    );
    let logs = tempfile::tempdir().unwrap();
    let etcd = Etcd::start();
    let cluster = format!("tls{}", std::process::id());
    let (cert, key, configured_fingerprint) = openssl_certificate(logs.path());
    let a = start_node(
        &etcd,
        &cluster,
        "a",
        logs.path(),
        &[
            ("TROUPE_CONTROL_CERTIFICATE", &cert),
            ("TROUPE_CONTROL_PRIVATE_KEY", &key),
        ],
    );
    let b = start_node(&etcd, &cluster, "b", logs.path(), &[]);
    for node in [&a, &b] {
        eventually(Duration::from_secs(15), "both nodes see each other", || {
            node.cluster_view()["members"]
                .as_array()
                .is_some_and(|m| m.len() == 2)
        });
    }
    let members = a.cluster_view()["members"].as_array().unwrap().clone();
    let mut control_ports = Vec::new();
    for member in &members {
        let fingerprint = member["controlCertFingerprint"].as_str().unwrap();
        assert_eq!(fingerprint.len(), 95, "{member}");
        control_ports.push(port_of(member["controlAddress"].as_str().unwrap()));
    }
    assert_ne!(
        members[0]["controlCertFingerprint"],
        members[1]["controlCertFingerprint"]
    );
    let of_a = members.iter().find(|m| m["id"] == "a").unwrap();
    assert_eq!(
        of_a["controlCertFingerprint"], configured_fingerprint,
        "a serves the configured certificate"
    );

    let capture_file = logs.path().join("control.pcap");
    let capture = Capture::start(&capture_file, &control_ports);
    // A room on a, a producer there, a consumer of it on b: the pipe's
    // setup crosses the control link.
    let router = a.post("/v1/routers", json!({}));
    let caps = router["rtpCapabilities"].clone();
    let router = router["id"].as_str().unwrap().to_string();
    let ingest = a.post(
        &format!("/v1/routers/{router}/plain-transports"),
        json!({"comedia": true}),
    );
    let pt = payload_type(&caps, "audio/opus");
    let producer = a.post(
        &format!("/v1/transports/{}/producers", ingest["id"].as_str().unwrap()),
        json!({"kind": "audio", "rtpParameters": {
            "codecs": [{"mimeType": "audio/opus", "payloadType": pt, "clockRate": 48000, "channels": 2}],
            "encodings": [{"ssrc": 4242}]
        }}),
    );
    let producer = producer["id"].as_str().unwrap().to_string();
    let (_sink, _) = b.consume_to_sink(&b, &router, &producer, &caps);
    assert!(
        !b.cluster_view()["pipes"]["inbound"]
            .as_array()
            .unwrap()
            .is_empty(),
        "a pipe was opened over the link"
    );
    capture.stop();

    let captured = std::fs::read(&capture_file).unwrap();
    // TLS application data records, and a handshake, crossed...
    assert!(
        contains(&captured, &[0x17, 0x03, 0x03]),
        "no TLS records captured"
    );
    // ...and none of what they carry is readable.
    for secret in [
        producer.as_bytes(),
        router.as_bytes(),
        b"audio/opus".as_slice(),
        b"mimeType".as_slice(),
        b"rtp_parameters_json".as_slice(),
        b"OpenPipe".as_slice(),
    ] {
        assert!(
            !contains(&captured, secret),
            "{:?} crossed the control link in the clear",
            String::from_utf8_lossy(secret)
        );
    }
}
