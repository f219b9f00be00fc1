//! Churn: rounds of WebRTC clients (the repo's own client: ICE, DTLS,
//! SRTP) joining a `troupe` process, publishing and watching, pausing,
//! restarting ICE, leaving cleanly or vanishing (their consent then
//! expires), with plain transports and data channels beside them; then
//! everything the node holds — objects, runtime tasks, file descriptors
//! (sockets and ports), threads — is back where it started, and RSS grew
//! by no more than the allocator keeps.
//!
//! `TROUPE_CHURN_ROUNDS` (default 4, 40 clients each) or
//! `TROUPE_CHURN_MINUTES` (rounds until that long has passed) makes it a
//! soak: docs/hardening.md has the long runs' figures.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::cluster::eventually;
use common::footprint::{assert_returned, footprint, settle, Footprint};
use common::webrtc_client::{connected_client, opus_packet, payload_type, post};
use common::TestServer;
use serde_json::json;

const CLIENTS_PER_ROUND: usize = 40;

struct Node {
    child: Child,
    api: TestServer,
}

impl Node {
    fn start() -> Node {
        let mut child = Command::new(env!("CARGO_BIN_EXE_troupe"))
            .args(["--http-listen", "127.0.0.1:0", "--webrtc-port", "0"])
            .env_remove("TROUPE_API_TOKEN")
            .env("TROUPE_ICE_CONSENT_TIMEOUT_SECS", "2")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("troupe starts");
        let url = common::listening_url(&mut child);
        let addr = url.trim_start_matches("http://").parse().unwrap();
        Node {
            child,
            api: TestServer::alias(addr),
        }
    }

    fn footprint(&self) -> Footprint {
        footprint(&self.api, self.child.id())
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One round: a room, clients that publish or watch, some paused, some
/// restarting ICE; plain transports and a data channel pair; then a third
/// of the clients leave (DELETE), a third vanish (their consent expires,
/// then the app closes them), and the room is closed with the rest.
fn round(node: &Node, round: usize) {
    let server = &node.api;
    let router = post(server, "/v1/routers", json!({}));
    let router_id = router["id"].as_str().unwrap().to_string();
    let caps = router["rtpCapabilities"].clone();
    let pt = payload_type(&caps, "audio/opus");
    let mut clients = Vec::new();
    let mut producers = Vec::new();
    for i in 0..CLIENTS_PER_ROUND {
        let (mut client, transport, _) = connected_client(server, &router_id);
        if i % 2 == 0 {
            let ssrc = 10_000 + (round * CLIENTS_PER_ROUND + i) as u32;
            let producer = post(
                server,
                &format!("/v1/transports/{transport}/producers"),
                json!({"kind": "audio", "rtpParameters": {
                    "mid": "a",
                    "codecs": [{"mimeType": "audio/opus", "payloadType": pt, "clockRate": 48000, "channels": 2}],
                    "headerExtensions": [{"uri": "urn:ietf:params:rtp-hdrext:sdes:mid", "id": 1}],
                    "encodings": [{"ssrc": ssrc}],
                    "rtcp": {"cname": "churn"}
                }}),
            );
            for sequence in 0..5 {
                client.send_rtp(&opus_packet(pt, ssrc, sequence, "a"));
            }
            producers.push(producer["id"].as_str().unwrap().to_string());
        } else {
            let producer = &producers[i / 2 % producers.len()];
            let consumer = post(
                server,
                &format!("/v1/transports/{transport}/consumers"),
                json!({"producerId": producer, "rtpCapabilities": caps}),
            );
            if i % 3 == 0 {
                let id = consumer["id"].as_str().unwrap();
                post(server, &format!("/v1/consumers/{id}/pause"), json!({}));
                post(server, &format!("/v1/consumers/{id}/resume"), json!({}));
            }
        }
        if i % 5 == 0 {
            post(
                server,
                &format!("/v1/transports/{transport}/restart-ice"),
                json!({}),
            );
        }
        clients.push((client, transport));
    }
    for _ in 0..5 {
        let plain = post(
            server,
            &format!("/v1/routers/{router_id}/plain-transports"),
            json!({"comedia": true}),
        );
        let id = plain["id"].as_str().unwrap();
        assert_eq!(
            server
                .call("DELETE", &format!("/v1/transports/{id}"), None)
                .0,
            204
        );
    }
    let direct = post(
        server,
        &format!("/v1/routers/{router_id}/direct-transports"),
        json!({}),
    );
    let direct = direct["id"].as_str().unwrap();
    let data = post(
        server,
        &format!("/v1/transports/{direct}/data-producers"),
        json!({}),
    );
    post(
        server,
        &format!("/v1/transports/{direct}/data-consumers"),
        json!({"dataProducerId": data["id"]}),
    );

    let third = CLIENTS_PER_ROUND / 3;
    let mut remaining = clients.split_off(third);
    for (_, transport) in &clients {
        assert_eq!(
            server
                .call("DELETE", &format!("/v1/transports/{transport}"), None)
                .0,
            204
        );
    }
    let vanished: Vec<_> = remaining.drain(..third).collect();
    let vanished_transports: Vec<String> = vanished.iter().map(|(_, t)| t.clone()).collect();
    drop(vanished);
    eventually(
        Duration::from_secs(10),
        "vanished clients' consent expires",
        || {
            vanished_transports.iter().all(|t| {
                server.call("GET", &format!("/v1/transports/{t}"), None).1["iceState"]
                    == "disconnected"
            })
        },
    );
    for transport in &vanished_transports {
        assert_eq!(
            server
                .call("DELETE", &format!("/v1/transports/{transport}"), None)
                .0,
            204
        );
    }
    assert_eq!(
        server
            .call("DELETE", &format!("/v1/routers/{router_id}"), None)
            .0,
        204
    );
    drop(remaining);
}

#[test]
fn churn_leaves_no_objects_tasks_sockets_or_threads_behind() {
    let node = Node::start();
    let env_number = |name: &str| -> Option<u64> { std::env::var(name).ok()?.parse().ok() };
    let minutes = env_number("TROUPE_CHURN_MINUTES").map(|m| Duration::from_secs(m * 60));
    let min_rounds = env_number("TROUPE_CHURN_ROUNDS").unwrap_or(4) as usize;
    // A first round warms up what is made once (thread pools, buffers).
    round(&node, 0);
    let settle = |what: &str, target: &Footprint| settle(&node.api, node.child.id(), what, target);
    let idle = Footprint {
        objects: 0,
        ..node.footprint()
    };
    let before = settle("the warm-up round is gone", &idle);
    let started = Instant::now();
    let mut rounds = 0;
    while rounds < min_rounds || minutes.is_some_and(|m| started.elapsed() < m) {
        rounds += 1;
        round(&node, rounds);
    }
    let elapsed = started.elapsed();
    let after = settle("every round leaves nothing behind", &before);
    eprintln!(
        "churn: {rounds} rounds of {CLIENTS_PER_ROUND} clients in {:.1} s; before {before:?}, after {after:?}",
        elapsed.as_secs_f64()
    );
    // What the allocator keeps for reuse, not a leak per client: 160
    // clients each held far more than this while connected.
    assert_returned(&before, &after, 16 * 1024);
}
