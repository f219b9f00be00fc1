use super::*;
use crate::{load, Sources};

fn with_flags(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let mut flags = Layer::default();
    for (k, v) in pairs {
        flags.set_text(k, *v)?;
    }
    load(&Sources {
        flags,
        ..Default::default()
    })
}

fn field_of(result: Result<Config, ConfigError>) -> String {
    result.unwrap_err().field_name().unwrap().to_string()
}

#[test]
fn defaults_match_the_contract() {
    let c = Config::default();
    assert_eq!(c.http_listen.to_string(), "127.0.0.1:8080");
    assert_eq!(c.webrtc_port, 40000);
    assert_eq!(c.webrtc_listen_ip.to_string(), "127.0.0.1");
    assert_eq!(c.announced_address, "127.0.0.1");
    assert_eq!(
        c.rtp_port_range,
        PortRange {
            low: 40100,
            high: 40999
        }
    );
    assert_eq!(c.api_token, None);
    assert!(c.etcd_endpoints.is_empty());
    assert_eq!(c.cluster, "troupe");
    assert!(c.node_id.starts_with("node-"));
    assert_eq!(c.region, "default");
    assert_eq!(c.otlp_endpoint, None);
    assert_eq!(c.ffmpeg, "ffmpeg");
    assert_eq!(c.recordings_dir, PathBuf::from("./recordings"));
}

#[test]
fn each_bad_field_is_named() {
    let cases: &[(&str, &str)] = &[
        ("http_listen", "nowhere"),
        ("webrtc_port", "70000"),
        ("webrtc_listen_ip", "300.1.1.1"),
        ("announced_address", "not a host!"),
        ("rtp_port_range", "5000-4000"),
        ("rtp_port_range", "40100"),
        ("rtp_port_range", "0-10"),
        ("etcd_endpoints", "localhost"),
        ("cluster", "bad/name"),
        ("node_id", "has space"),
        ("region", ""),
        ("otlp_endpoint", "collector:4318"),
        ("dtls_certificate", "/nonexistent/cert.pem"),
        ("ice_consent_timeout_secs", "0"),
        ("etcd_lease_ttl_secs", "-1"),
    ];
    for (key, value) in cases {
        let result = with_flags(&[(key, value)]);
        // An empty region falls back to the default, which is valid.
        if *key == "region" {
            assert!(result.is_ok());
            continue;
        }
        assert_eq!(field_of(result), *key, "{key}={value}");
    }
}

#[test]
fn api_token_is_required_off_loopback() {
    assert_eq!(
        field_of(with_flags(&[("http_listen", "0.0.0.0:8080")])),
        "api_token"
    );
    let c = with_flags(&[("http_listen", "0.0.0.0:8080"), ("api_token", "s3cret")]).unwrap();
    assert_eq!(c.api_token.as_deref(), Some("s3cret"));
    assert!(
        !c.to_toml().contains("s3cret"),
        "print-config must not leak the token"
    );
}

#[test]
fn unspecified_listen_ip_needs_an_announced_address() {
    assert_eq!(
        field_of(with_flags(&[("webrtc_listen_ip", "0.0.0.0")])),
        "announced_address"
    );
    let c = with_flags(&[
        ("webrtc_listen_ip", "0.0.0.0"),
        ("announced_address", "sfu.example.com"),
    ])
    .unwrap();
    assert_eq!(c.announced_address, "sfu.example.com");
}

#[test]
fn dtls_files_come_in_pairs() {
    let dir = tempfile::tempdir().unwrap();
    let cert = dir.path().join("cert.pem");
    std::fs::write(&cert, "x").unwrap();
    let result = with_flags(&[("dtls_certificate", cert.to_str().unwrap())]);
    assert_eq!(field_of(result), "dtls_private_key");
}

#[test]
fn a_cluster_needs_a_secret() {
    let mut layer = Layer::default();
    layer.set_text("etcd_endpoints", "127.0.0.1:2379").unwrap();
    let error = Config::from_layer(&layer).unwrap_err();
    assert!(error.to_string().contains("cluster_secret"), "{error}");
    layer.set_text("cluster_secret", "s").unwrap();
    let config = Config::from_layer(&layer).unwrap();
    assert!(
        !config.to_toml().contains("\"s\""),
        "the secret is redacted"
    );
}

#[test]
fn layers_apply_file_then_env_then_flags() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("troupe.toml");
    std::fs::write(
        &file,
        "webrtc_port = 41000\nregion = \"eu\"\ncluster = \"from-file\"\netcd_endpoints = [\"127.0.0.1:2379\"]\n",
    )
    .unwrap();
    let mut flags = Layer::default();
    flags.set_text("cluster", "from-flag").unwrap();
    let sources = Sources {
        file: Some(file),
        env: vec![
            ("TROUPE_REGION".into(), "us".into()),
            ("TROUPE_CLUSTER".into(), "from-env".into()),
            ("TROUPE_CLUSTER_SECRET".into(), "s".into()),
            ("TROUPE_SERVICE_HOST".into(), "10.0.0.1".into()),
        ],
        flags,
    };
    let c = load(&sources).unwrap();
    assert_eq!(c.webrtc_port, 41000);
    assert_eq!(c.region, "us");
    assert_eq!(c.cluster, "from-flag");
    assert_eq!(c.etcd_endpoints, vec!["127.0.0.1:2379".to_string()]);
}

#[test]
fn yaml_files_load_and_unknown_keys_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("troupe.yaml");
    std::fs::write(&good, "webrtc_port: 42000\nrtp_port_range: 50000-50100\n").unwrap();
    let c = crate::load_file(&good).unwrap();
    assert_eq!(c.webrtc_port, 42000);
    assert_eq!(c.rtp_port_range.len(), 101);

    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "webrtc_prot = 1\n").unwrap();
    let err = crate::load_file(&bad).unwrap_err();
    assert_eq!(err.field_name(), Some("webrtc_prot"));
    assert!(err.to_string().contains("webrtc_prot"));
}

#[test]
fn wrong_types_in_a_file_name_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "webrtc_port = \"high\"\n").unwrap();
    assert_eq!(
        crate::load_file(&bad).unwrap_err().field_name(),
        Some("webrtc_port")
    );
    std::fs::write(&bad, "region = [\"eu\"]\n").unwrap();
    assert_eq!(
        crate::load_file(&bad).unwrap_err().field_name(),
        Some("region")
    );
}

#[test]
fn shipped_examples_are_valid() {
    let examples = concat!(env!("CARGO_MANIFEST_DIR"), "/examples");
    let mut seen = 0;
    for entry in std::fs::read_dir(examples).unwrap() {
        let path = entry.unwrap().path();
        let mut sources = Sources {
            file: Some(path.clone()),
            ..Default::default()
        };
        // Examples bound off loopback carry a placeholder token.
        sources
            .env
            .push(("TROUPE_API_TOKEN".into(), "example".into()));
        load(&sources).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        seen += 1;
    }
    assert!(seen >= 2);
}
