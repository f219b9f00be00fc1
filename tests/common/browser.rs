//! Runs a scenario of `tests/browser/driver.mjs` (headless Chromium,
//! playwright-core, the demo page's mediasoup-client) against a server.

#![allow(dead_code)]

use std::path::Path;
use std::process::{Child, Command, Stdio};

/// A `troupe` process serving the demo page on loopback, for the browser.
pub struct DemoServer {
    child: Child,
    pub url: String,
}

impl DemoServer {
    pub fn start() -> DemoServer {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        assert!(
            root.join("demo/dist/app.js").is_file(),
            "the demo bundle is missing: run scripts/test.sh (it installs Chromium and builds the bundle)"
        );
        let mut child = Command::new(env!("CARGO_BIN_EXE_troupe"))
            .args(["--http-listen", "127.0.0.1:0", "--webrtc-port", "0"])
            .arg("--demo-dir")
            .arg(root.join("demo"))
            .env_remove("TROUPE_API_TOKEN")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("troupe starts");
        let url = super::listening_url(&mut child);
        DemoServer { child, url }
    }
}

impl Drop for DemoServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn run_scenario(base_url: &str, scenario: &str, argument: Option<&str>) -> serde_json::Value {
    run_scenario_with_token(base_url, scenario, argument, None)
}

/// The same against a node that wants its admin token (off loopback).
pub fn run_scenario_with_token(
    base_url: &str,
    scenario: &str,
    argument: Option<&str>,
    token: Option<&str>,
) -> serde_json::Value {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    assert!(
        Path::new("/usr/bin/chromium").exists() && root.join("demo/dist/app.js").is_file(),
        "Chromium or the demo bundle is missing: run scripts/test.sh, which installs and builds them"
    );
    let mut command = Command::new("node");
    command
        .arg(root.join("tests/browser/driver.mjs"))
        .arg(base_url)
        .arg(scenario);
    if let Some(argument) = argument {
        command.arg(argument);
    }
    if let Some(token) = token {
        command.env("TROUPE_API_TOKEN", token);
    }
    let output = command.output().expect("node runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let last = stdout.lines().last().unwrap_or_default();
    let report: serde_json::Value = serde_json::from_str(last).unwrap_or_else(|_| {
        panic!(
            "{scenario}: no report; stdout {stdout}; stderr {}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    assert_eq!(report["ok"], true, "{scenario}: {report:#}");
    report
}

/// The demo directory, for servers that serve the page.
pub fn demo_dir() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("demo")
        .display()
        .to_string()
}
