//! The Kubernetes manifests: every kustomization in `k8s/` renders with
//! `kubectl kustomize`, and `kubernetes-validate --strict` accepts every
//! rendered resource for a current Kubernetes version; the Troupe pods keep
//! the properties operators rely on; the shipped config file is one Troupe
//! accepts.

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn kustomizations() -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![root().join("k8s")];
    while let Some(dir) = pending.pop() {
        if dir.join("kustomization.yaml").is_file() {
            found.push(dir.clone());
        }
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            if entry.path().is_dir() {
                pending.push(entry.path());
            }
        }
    }
    found.sort();
    found
}

fn tool(program: &str) -> bool {
    Command::new(program).arg("--help").output().is_ok()
}

fn render(dir: &Path) -> String {
    let output = Command::new("kubectl")
        .arg("kustomize")
        .arg(dir)
        .output()
        .expect("kubectl runs");
    assert!(
        output.status.success(),
        "kubectl kustomize {}: {}",
        dir.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn every_kustomization_renders_and_validates_strictly() {
    assert!(
        tool("kubectl") && tool("kubernetes-validate"),
        "kubectl and kubernetes-validate are needed: scripts/test.sh installs them"
    );
    let dirs = kustomizations();
    assert!(
        dirs.len() >= 4,
        "base, dashboards and the overlays: {dirs:?}"
    );
    let out = tempfile::tempdir().unwrap();
    for dir in &dirs {
        let rendered = render(dir);
        let file = out.path().join("rendered.yaml");
        std::fs::write(&file, &rendered).unwrap();
        let validation = Command::new("kubernetes-validate")
            .args(["--strict", "--quiet"])
            .arg(&file)
            .output()
            .expect("kubernetes-validate runs");
        assert!(
            validation.status.success(),
            "{} does not validate: {}{}",
            dir.display(),
            String::from_utf8_lossy(&validation.stdout),
            String::from_utf8_lossy(&validation.stderr)
        );
    }
}

#[test]
fn troupe_pods_reach_media_without_host_network_and_drain() {
    if !tool("kubectl") {
        panic!("kubectl is needed: scripts/test.sh installs it");
    }
    let rendered = render(&root().join("k8s/overlays/observability"));
    assert!(!rendered.contains("hostNetwork"), "no hostNetwork");
    assert_eq!(
        rendered.matches("hostPort: 40000\n").count(),
        2,
        "the WebRTC port, UDP and TCP, on the node's address"
    );
    for needle in [
        "name: webrtc-udp",
        "name: webrtc-tcp",
        "path: /v1/ready",
        "path: /v1/health",
        "preStop:",
        "terminationGracePeriodSeconds: 60",
        "kind: PodDisruptionBudget",
        "fieldPath: status.hostIP",
        "secretKeyRef:",
        "TROUPE_OTLP_ENDPOINT",
        "troupe-node-overview.json",
    ] {
        assert!(
            rendered.contains(needle),
            "rendered manifests lack {needle:?}"
        );
    }
    // Every dashboard ships in the provisioned ConfigMap.
    for entry in std::fs::read_dir(root().join("k8s/dashboards"))
        .unwrap()
        .flatten()
    {
        let name = entry.file_name().to_string_lossy().to_string();
        if name.ends_with(".json") {
            assert!(rendered.contains(&name), "{name} is not provisioned");
        }
    }
}

#[test]
fn the_shipped_config_file_is_one_troupe_accepts() {
    let output = Command::new(env!("CARGO_BIN_EXE_troupe"))
        .arg("--config")
        .arg(root().join("k8s/base/troupe-config.yaml"))
        .arg("--print-config")
        .env("TROUPE_API_TOKEN", "t")
        .env("TROUPE_CLUSTER_SECRET", "s")
        // The pod gets it from the downward API (status.hostIP).
        .env("TROUPE_ANNOUNCED_ADDRESS", "10.0.0.5")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(printed.contains("drain_timeout_secs = 50"), "{printed}");
}
