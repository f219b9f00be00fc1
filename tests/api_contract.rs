//! schemathesis (every check) against a live node: what the OpenAPI
//! document promises is what the server does. The node is given a router,
//! transports, a producer, a consumer, data producers and consumers and an
//! observer first, and schemathesis is told their ids, so the operations on
//! existing objects are exercised with generated bodies, not only answered
//! 404. What JSON Schema cannot state is allowed for, with its reason, in
//! tests/schemathesis/schemathesis.toml.
//!
//! `TROUPE_SCHEMATHESIS_EXAMPLES` (default 40 an operation, and 8 times as
//! many stateful scenarios) and `TROUPE_SCHEMATHESIS_SEED`
//! (default fixed, so CI is repeatable; `random` for a new one) make it
//! longer or different.

mod common;

use std::path::Path;
use std::process::Command;

use common::webrtc_client::post;
use common::{config, TestServer};
use serde_json::{json, Value};

const DEFAULT_SEED: &str = "208925671183215470719451139101573240671";

fn id(value: &Value) -> String {
    value["id"].as_str().expect("an id").to_string()
}

/// Objects for the operations that act on one: the paths (templates) that
/// act on each, and its id.
fn objects(server: &TestServer) -> Vec<(Vec<String>, String)> {
    let router = post(server, "/v1/routers", json!({}));
    let caps = router["rtpCapabilities"].clone();
    let router = id(&router);
    let webrtc = id(&post(
        server,
        &format!("/v1/routers/{router}/webrtc-transports"),
        json!({"enableSctp": true}),
    ));
    let plain = id(&post(
        server,
        &format!("/v1/routers/{router}/plain-transports"),
        json!({"comedia": true}),
    ));
    let producer = id(&post(
        server,
        &format!("/v1/transports/{plain}/producers"),
        json!({"kind": "video", "rtpParameters": {
            "codecs": [{"mimeType": "video/VP8", "payloadType": 96, "clockRate": 90000}],
            "encodings": [{"ssrc": 1111}],
            "rtcp": {"cname": "contract"}
        }}),
    ));
    let consumer = id(&post(
        server,
        &format!("/v1/transports/{webrtc}/consumers"),
        json!({"producerId": producer, "rtpCapabilities": caps}),
    ));
    let direct = id(&post(
        server,
        &format!("/v1/routers/{router}/direct-transports"),
        json!({}),
    ));
    let data_producer = id(&post(
        server,
        &format!("/v1/transports/{direct}/data-producers"),
        json!({"label": "contract"}),
    ));
    let data_consumer = id(&post(
        server,
        &format!("/v1/transports/{webrtc}/data-consumers"),
        json!({"dataProducerId": data_producer}),
    ));
    let observer = id(&post(
        server,
        &format!("/v1/routers/{router}/audio-level-observers"),
        json!({}),
    ));
    let groups: Vec<(&str, &[&str], String)> = vec![
        (
            "/v1/routers/{id}",
            &[
                "",
                "/webrtc-transports",
                "/plain-transports",
                "/pipe-transports",
                "/direct-transports",
                "/audio-level-observers",
                "/active-speaker-observers",
            ],
            router,
        ),
        (
            "/v1/transports/{id}",
            &[
                "",
                "/stats",
                "/connect",
                "/restart-ice",
                "/max-incoming-bitrate",
                "/max-outgoing-bitrate",
                "/min-outgoing-bitrate",
                "/consumers",
                "/data-consumers",
            ],
            webrtc,
        ),
        ("/v1/transports/{id}", &["/producers"], plain),
        ("/v1/transports/{id}", &["/data-producers"], direct),
        (
            "/v1/producers/{id}",
            &["", "/stats", "/pause", "/resume"],
            producer,
        ),
        (
            "/v1/consumers/{id}",
            &[
                "",
                "/stats",
                "/pause",
                "/resume",
                "/preferred-layers",
                "/priority",
                "/request-key-frame",
            ],
            consumer,
        ),
        (
            "/v1/data-producers/{id}",
            &["", "/stats", "/pause", "/resume", "/send"],
            data_producer,
        ),
        (
            "/v1/data-consumers/{id}",
            &["", "/stats", "/pause", "/resume"],
            data_consumer,
        ),
        (
            "/v1/rtp-observers/{id}",
            &["", "/pause", "/resume", "/producers"],
            observer,
        ),
    ];
    groups
        .into_iter()
        .map(|(base, suffixes, id)| (suffixes.iter().map(|s| format!("{base}{s}")).collect(), id))
        .collect()
}

#[test]
fn schemathesis_finds_the_server_as_its_document_says() {
    let server = TestServer::start(config(&[]));
    let here = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/schemathesis");
    let mut toml = std::fs::read_to_string(here.join("schemathesis.toml")).unwrap();
    // Deleting an object would leave the operations after it nothing to act
    // on; DELETE is exercised on objects the stateful phase makes itself.
    for (paths, id) in objects(&server) {
        let paths: Vec<String> = paths.iter().map(|p| format!("{p:?}")).collect();
        toml.push_str(&format!(
            "\n[[operations]]\ninclude-path = [{}]\nexclude-method = \"DELETE\"\nparameters = {{ \"path.id\" = \"{id}\" }}\n",
            paths.join(", ")
        ));
    }
    let dir = tempfile::tempdir().unwrap();
    let with_objects = dir.path().join("schemathesis.toml");
    std::fs::write(&with_objects, toml).unwrap();
    let base = here.join("schemathesis.toml");

    let examples = std::env::var("TROUPE_SCHEMATHESIS_EXAMPLES").unwrap_or("40".into());
    let seed = std::env::var("TROUPE_SCHEMATHESIS_SEED").unwrap_or(DEFAULT_SEED.into());
    // The stateful phase makes its own objects by following the document's
    // links; given ids of ours it would credit them to the objects it made
    // (and report ours, deleted by one of its sequences, as its own lost).
    // So it runs on its own, and the given ids only serve the phases that
    // call one operation at a time.
    let scenarios = (examples.parse::<u32>().unwrap_or(40) * 8).to_string();
    let runs = [
        (base.as_path(), "examples,stateful", &scenarios),
        (with_objects.as_path(), "coverage,fuzzing", &examples),
    ];
    for (config_file, phases, examples) in runs {
        let mut command = Command::new("schemathesis");
        command
            .arg("--config-file")
            .arg(config_file)
            .args(["--no-color", "run", "--checks", "all", "--workers", "1"])
            .args(["--phases", phases, "--max-examples", examples])
            .arg(server.url("/v1/openapi.json"))
            .env("PYTHONPATH", &here)
            .current_dir(dir.path());
        if seed != "random" {
            command.args(["--seed", &seed]);
        }
        let output = command
            .output()
            .expect("schemathesis runs (scripts/test.sh installs it from PyPI)");
        let report = String::from_utf8_lossy(&output.stdout);
        let summary = report
            .rfind("SUMMARY")
            .map(|at| &report[at..])
            .unwrap_or(&report);
        eprintln!("phases {phases}: {summary}");
        assert!(
            output.status.success(),
            "schemathesis reports failures in phases {phases}:\n{report}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(summary.contains("passed"), "{summary}");
    }
}
