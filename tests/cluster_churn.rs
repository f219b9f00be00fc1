//! Churn of a clustered node that loses etcd and then its peers while
//! media flows through it: rounds of a room on node A, fed by plain senders,
//! watched on A and, through pipes, on B and C; etcd is killed, B and C are
//! killed while it is down, media keeps reaching A's own consumers; etcd
//! comes back, A learns its peers are gone and frees what it held for them;
//! the room is closed and B and C start again. After the rounds, A's
//! objects, runtime tasks, file descriptors (sockets, ports, control links)
//! and threads are back where they were, and RSS grew by no more than the
//! allocator keeps. `TROUPE_CLUSTER_CHURN_ROUNDS` (default 2) makes it longer.

mod common;

use std::time::{Duration, Instant};

use common::cluster::{etcd_available, eventually, send_opus, Etcd, Node, Sink};
use common::footprint::{assert_returned, footprint, settle, Footprint};
use common::webrtc_client::payload_type;
use serde_json::json;

const PRODUCERS: usize = 3;
/// Each sender's rate: with three producers and six consumers (two on
/// each node), A forwards some 3,600 packets a second.
const PACKETS_PER_SECOND: u64 = 200;

struct Cluster {
    etcd: Etcd,
    a: Node,
    peers: Vec<Node>,
    name: String,
    logs: tempfile::TempDir,
}

fn outbound_pipes(node: &Node) -> usize {
    node.cluster_view()["pipes"]["outbound"]
        .as_array()
        .map_or(0, Vec::len)
}

fn flowing(sink: &Sink, what: &str) {
    let before = sink.count();
    eventually(Duration::from_secs(10), what, || {
        sink.count() >= before + 50
    });
}

fn round(cluster: &mut Cluster, round: usize) {
    let a = &cluster.a;
    let router = a.post("/v1/routers", json!({}));
    let caps = router["rtpCapabilities"].clone();
    let router = router["id"].as_str().unwrap().to_string();
    let pt = payload_type(&caps, "audio/opus");
    let mut senders = Vec::new();
    let mut producers = Vec::new();
    for i in 0..PRODUCERS {
        let ingest = a.post(
            &format!("/v1/routers/{router}/plain-transports"),
            json!({"comedia": true}),
        );
        let ssrc = 5000 + (round * PRODUCERS + i) as u32;
        let producer = a.post(
            &format!("/v1/transports/{}/producers", ingest["id"].as_str().unwrap()),
            json!({"kind": "audio", "rtpParameters": {
                "codecs": [{"mimeType": "audio/opus", "payloadType": pt, "clockRate": 48000, "channels": 2}],
                "encodings": [{"ssrc": ssrc}]
            }}),
        );
        let port = ingest["tuple"]["localPort"].as_u64().unwrap() as u16;
        senders.push(send_opus(
            ([127, 0, 0, 1], port).into(),
            pt,
            ssrc,
            PACKETS_PER_SECOND,
        ));
        producers.push(producer["id"].as_str().unwrap().to_string());
    }
    let at_home: Vec<Sink> = (0..2)
        .map(|i| {
            a.consume_to_sink(a, &router, &producers[i % PRODUCERS], &caps)
                .0
        })
        .collect();
    let mut on_peers = Vec::new();
    for peer in &cluster.peers {
        for i in 0..2 {
            on_peers.push(
                peer.consume_to_sink(peer, &router, &producers[(i + 1) % PRODUCERS], &caps)
                    .0,
            );
        }
    }
    for sink in at_home.iter().chain(&on_peers) {
        flowing(sink, "media reaches every consumer");
    }
    assert_eq!(outbound_pipes(a), 2 * cluster.peers.len().min(PRODUCERS));

    // etcd gone, then the peers, with media flowing.
    cluster.etcd.stop();
    eventually(Duration::from_secs(10), "A notices etcd is gone", || {
        a.call("GET", "/v1/ready", None).0 == 503
    });
    for peer in &mut cluster.peers {
        peer.kill();
    }
    for sink in &at_home {
        flowing(
            sink,
            "A's own consumers get media with etcd and its peers gone",
        );
    }

    // etcd back: A registers again, sees its peers' leases lapse and frees
    // the pipes it held for them.
    cluster.etcd.resume();
    let a = &cluster.a;
    eventually(
        Duration::from_secs(20),
        "A is alone and ready again",
        || a.call("GET", "/v1/ready", None).0 == 200 && a.members() == 1,
    );
    eventually(
        Duration::from_secs(10),
        "A frees the pipes to its lost peers",
        || outbound_pipes(a) == 0,
    );
    for sink in &at_home {
        flowing(sink, "A's own consumers once etcd is back");
    }
    drop(senders);
    assert_eq!(
        a.call("DELETE", &format!("/v1/routers/{router}"), None).0,
        204
    );

    // The peers come back for the next round.
    let ids: Vec<String> = cluster.peers.iter().map(|p| p.id.clone()).collect();
    cluster.peers = ids
        .iter()
        .map(|id| {
            Node::on_loopback(
                &cluster.etcd,
                &cluster.name,
                id,
                "default",
                cluster.logs.path(),
            )
        })
        .collect();
    for node in cluster.peers.iter().chain([&cluster.a]) {
        eventually(Duration::from_secs(15), "the peers are back", || {
            node.members() == 3
        });
    }
}

#[test]
fn a_node_losing_etcd_and_its_peers_under_load_returns_to_where_it_started() {
    assert!(etcd_available(), "etcd is installed (scripts/test.sh does)");
    let etcd = Etcd::start();
    let logs = tempfile::tempdir().unwrap();
    let name = format!("churn-{}", std::process::id());
    let a = Node::on_loopback(&etcd, &name, "a", "default", logs.path());
    let peers = ["b", "c"]
        .iter()
        .map(|id| Node::on_loopback(&etcd, &name, id, "default", logs.path()))
        .collect();
    let mut cluster = Cluster {
        etcd,
        a,
        peers,
        name,
        logs,
    };
    for node in cluster.peers.iter().chain([&cluster.a]) {
        eventually(Duration::from_secs(15), "three members", || {
            node.members() == 3
        });
    }
    let rounds: usize = std::env::var("TROUPE_CLUSTER_CHURN_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(2);
    // A first round warms up what is made once (pools, buffers, clients).
    round(&mut cluster, 0);
    let (api, pid) = (&cluster.a.api, cluster.a.pid());
    let idle = Footprint {
        objects: 0,
        ..footprint(api, pid)
    };
    let before = settle(api, pid, "the warm-up round is gone", &idle);
    let started = Instant::now();
    for r in 1..=rounds {
        round(&mut cluster, r);
    }
    let (api, pid) = (&cluster.a.api, cluster.a.pid());
    let after = settle(api, pid, "every round leaves nothing behind", &before);
    eprintln!(
        "cluster churn: {rounds} rounds in {:.1} s; before {before:?}, after {after:?}",
        started.elapsed().as_secs_f64()
    );
    assert_returned(&before, &after, 16 * 1024);
}
