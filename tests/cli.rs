//! The `troupe` binary as operators run it: configuration errors exit 2
//! naming the field, `--print-config`, and a node that starts on the
//! defaults, serves, and stops cleanly on SIGTERM.

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

fn troupe() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_troupe"));
    // Tests must not inherit an operator's TROUPE_* settings.
    for (key, _) in std::env::vars().filter(|(k, _)| k.starts_with("TROUPE_")) {
        command.env_remove(key);
    }
    command.env_remove("RUST_LOG");
    command
}

fn assert_config_error(command: &mut Command, field: &str) {
    let output = command.output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{field}: {stderr}");
    assert!(
        stderr.contains(&format!("`{field}`")),
        "{field} not named in: {stderr}"
    );
    assert_eq!(
        stderr.trim().lines().count(),
        1,
        "one line expected: {stderr}"
    );
}

#[test]
fn each_bad_flag_exits_2_naming_the_field() {
    let cases = [
        ("--http-listen", "nowhere", "http_listen"),
        ("--webrtc-port", "99999", "webrtc_port"),
        ("--webrtc-listen-ip", "1.2.3", "webrtc_listen_ip"),
        ("--announced-address", "bad host!", "announced_address"),
        ("--rtp-port-range", "9-2", "rtp_port_range"),
        ("--etcd", "no-port", "etcd_endpoints"),
        ("--cluster", "a/b", "cluster"),
        ("--node-id", "x y", "node_id"),
        ("--region", "r#", "region"),
        ("--otlp-endpoint", "collector", "otlp_endpoint"),
        ("--dtls-certificate", "/no/such.pem", "dtls_certificate"),
    ];
    for (flag, value, field) in cases {
        assert_config_error(troupe().args(["--print-config", flag, value]), field);
    }
}

#[test]
fn each_bad_env_var_exits_2_naming_the_field() {
    let cases = [
        ("TROUPE_HTTP_LISTEN", "nowhere", "http_listen"),
        ("TROUPE_WEBRTC_PORT", "-1", "webrtc_port"),
        ("TROUPE_RTP_PORT_RANGE", "a-b", "rtp_port_range"),
        ("TROUPE_ETCD_ENDPOINTS", "no-port", "etcd_endpoints"),
        ("TROUPE_OTLP_ENDPOINT", "grpc://x", "otlp_endpoint"),
    ];
    for (var, value, field) in cases {
        assert_config_error(troupe().arg("--print-config").env(var, value), field);
    }
}

#[test]
fn off_loopback_without_a_token_refuses_to_start() {
    assert_config_error(troupe().args(["--http-listen", "0.0.0.0:0"]), "api_token");
}

#[test]
fn a_bad_config_file_exits_2_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("troupe.toml");
    std::fs::write(&file, "webrtc_port = 1\nrtp_prot_range = \"1-2\"\n").unwrap();
    assert_config_error(
        troupe().arg("--config").arg(&file).arg("--print-config"),
        "rtp_prot_range",
    );
    std::fs::write(&file, "rtp_port_range = \"2000-1000\"\n").unwrap();
    assert_config_error(
        troupe().arg("--config").arg(&file).arg("--print-config"),
        "rtp_port_range",
    );
    let missing = dir.path().join("missing.yaml");
    let output = troupe().arg("--config").arg(&missing).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn print_config_shows_the_effective_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("troupe.yaml");
    std::fs::write(&file, "region: eu\nwebrtc_port: 41000\n").unwrap();
    let output = troupe()
        .arg("--config")
        .arg(&file)
        .args(["--print-config", "--webrtc-port", "42000"])
        .env("TROUPE_CLUSTER", "prod")
        .env("TROUPE_API_TOKEN", "hidden-token")
        .output()
        .unwrap();
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(text.contains("region = \"eu\""), "{text}");
    assert!(text.contains("webrtc_port = 42000"), "{text}");
    assert!(text.contains("cluster = \"prod\""), "{text}");
    assert!(text.contains("http_listen = \"127.0.0.1:8080\""), "{text}");
    assert!(text.contains("rtp_port_range = \"40100-40999\""), "{text}");
    assert!(!text.contains("hidden-token"));
}

#[test]
fn the_node_starts_on_defaults_serves_and_stops_on_sigterm() {
    let mut child = troupe()
        .args(["--http-listen", "127.0.0.1:0", "--webrtc-port", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let url = common::listening_url(&mut child);
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let health = agent.get(&format!("{url}/v1/health")).call().unwrap();
    assert_eq!(health.status().as_u16(), 200);
    let page = agent
        .get(&format!("{url}/"))
        .call()
        .unwrap()
        .into_body()
        .read_to_string()
        .unwrap();
    assert!(page.contains("Troupe"));
    let routers = agent
        .post(&format!("{url}/v1/routers"))
        .send_empty()
        .unwrap();
    assert_eq!(routers.status().as_u16(), 200);

    // SAFETY: plain FFI call with a valid pid and signal number.
    let rc = unsafe { libc_kill(child.id() as i32, 15) };
    assert_eq!(rc, 0);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "exit status {status}");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "troupe did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

extern "C" {
    #[link_name = "kill"]
    fn libc_kill(pid: i32, signal: i32) -> i32;
}
