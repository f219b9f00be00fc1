//! The cluster across hosts: three `troupe` nodes, each in its own network
//! namespace with its own address (veth pairs on a bridge), etcd and the
//! media peers in the root namespace. Pipes, the control link and the API
//! relay must use the nodes' real addresses, not loopback. Needs root and
//! `ip netns`; where that is not possible the test says so and skips.

mod common;

use std::net::UdpSocket;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::cluster::{etcd_available, eventually, Etcd, EventLog, Node, NodeOptions, Sink};
use common::netns::ip;
use common::webrtc_client::{opus_packet, payload_type};
use serde_json::json;
use troupe_transports::rtp_packet::RtpHeader;

const TOKEN: &str = "netns-token";

/// The namespaces, veth pairs and bridge of one test run; removed on drop.
struct Hosts {
    bridge: String,
    namespaces: Vec<String>,
    subnet: String,
}

impl Hosts {
    fn create(count: usize) -> Result<Hosts, String> {
        let tag = std::process::id() % 100_000;
        let mut hosts = Hosts {
            bridge: format!("trb{tag}"),
            namespaces: Vec::new(),
            subnet: format!("10.213.{}", tag % 250),
        };
        ip(&["link", "add", &hosts.bridge, "type", "bridge"])?;
        ip(&[
            "addr",
            "add",
            &format!("{}.1/24", hosts.subnet),
            "dev",
            &hosts.bridge,
        ])?;
        ip(&["link", "set", &hosts.bridge, "up"])?;
        for i in 1..=count {
            let namespace = format!("troupe-{tag}-{i}");
            ip(&["netns", "add", &namespace])?;
            hosts.namespaces.push(namespace.clone());
            let (outer, inner) = (format!("trh{tag}x{i}"), format!("trn{tag}x{i}"));
            ip(&[
                "link", "add", &outer, "type", "veth", "peer", "name", &inner,
            ])?;
            ip(&["link", "set", &inner, "netns", &namespace])?;
            ip(&["link", "set", &outer, "master", &hosts.bridge, "up"])?;
            let inside = |args: &[&str]| {
                let mut full = vec!["-n", namespace.as_str()];
                full.extend_from_slice(args);
                ip(&full)
            };
            inside(&[
                "addr",
                "add",
                &format!("{}/24", hosts.address(i)),
                "dev",
                &inner,
            ])?;
            inside(&["link", "set", &inner, "up"])?;
            inside(&["link", "set", "lo", "up"])?;
        }
        Ok(hosts)
    }

    fn address(&self, i: usize) -> String {
        format!("{}.{}", self.subnet, 10 + i)
    }

    fn root_address(&self) -> String {
        format!("{}.1", self.subnet)
    }
}

impl Drop for Hosts {
    fn drop(&mut self) {
        for namespace in &self.namespaces {
            // Deleting a namespace deletes the veth end in it, and the pair.
            let _ = ip(&["netns", "delete", namespace]);
        }
        let _ = ip(&["link", "delete", &self.bridge]);
    }
}

#[test]
fn nodes_on_separate_hosts_cascade_over_their_own_addresses() {
    assert!(
        etcd_available(),
        "etcd is not installed: scripts/test.sh installs Debian's etcd-server"
    );
    let hosts = match Hosts::create(3) {
        Ok(hosts) => hosts,
        Err(why) => {
            eprintln!("SKIPPED nodes_on_separate_hosts_cascade_over_their_own_addresses: cannot make network namespaces here ({why})");
            return;
        }
    };
    let root = hosts.root_address();
    let etcd = Etcd::start_on(&root);
    let logs = tempfile::tempdir().unwrap();
    let cluster = format!("netns{}", std::process::id());
    let mut nodes: Vec<Node> = [("h1", "eu"), ("h2", "eu"), ("h3", "us")]
        .iter()
        .enumerate()
        .map(|(i, (id, region))| {
            let address = hosts.address(i + 1);
            Node::start(NodeOptions {
                id,
                region,
                etcd: &etcd.endpoint(),
                cluster: &cluster,
                wrapper: &["ip", "netns", "exec", &hosts.namespaces[i]],
                ip: &address,
                token: Some(TOKEN),
                log_dir: logs.path(),
                env: &[],
            })
        })
        .collect();
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        scenario(&hosts, &mut nodes)
    }));
    if let Err(panic) = result {
        for node in &nodes {
            eprintln!("==== {} ====\n{}", node.id, node.log());
        }
        std::panic::resume_unwind(panic);
    }
}

fn scenario(hosts: &Hosts, nodes: &mut [Node]) {
    let root = hosts.root_address();
    for node in nodes.iter() {
        eventually(Duration::from_secs(15), "every node sees all three", || {
            node.cluster_view()["members"]
                .as_array()
                .map_or(0, Vec::len)
                == 3
        });
    }
    let (h1, h2, h3) = (&nodes[0], &nodes[1], &nodes[2]);
    let view = h1.cluster_view();
    let mut addresses: Vec<String> = view["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["pipeAddress"].as_str().unwrap().to_string())
        .collect();
    addresses.sort();
    assert_eq!(
        addresses,
        [hosts.address(1), hosts.address(2), hosts.address(3)]
    );

    let router = h1.post("/v1/routers", json!({}));
    let caps = router["rtpCapabilities"].clone();
    let router = router["id"].as_str().unwrap().to_string();
    let ingest = h1.post(
        &format!("/v1/routers/{router}/plain-transports"),
        json!({"comedia": true}),
    );
    assert_eq!(ingest["tuple"]["localIp"], hosts.address(1).as_str());
    let pt = payload_type(&caps, "audio/opus");
    let producer = h1.post(
        &format!("/v1/transports/{}/producers", ingest["id"].as_str().unwrap()),
        json!({"kind": "audio", "rtpParameters": {
            "codecs": [{"mimeType": "audio/opus", "payloadType": pt, "clockRate": 48000, "channels": 2}],
            "encodings": [{"ssrc": 3333}]
        }}),
    );
    let producer = producer["id"].as_str().unwrap().to_string();
    let running = Arc::new(AtomicBool::new(true));
    let sender = {
        let running = running.clone();
        let to = format!("{}:{}", hosts.address(1), ingest["tuple"]["localPort"]);
        let from = root.clone();
        std::thread::spawn(move || {
            let socket = UdpSocket::bind((from.as_str(), 0)).unwrap();
            let mut sequence: u16 = 0;
            while running.load(Ordering::Relaxed) {
                let _ = socket.send_to(&opus_packet(pt, 3333, sequence, "0"), &to);
                sequence = sequence.wrapping_add(1);
                std::thread::sleep(Duration::from_millis(10));
            }
        })
    };

    // Consumers on h2 and h3, each created through another node's API.
    let mut consumers = Vec::new();
    for (home, via) in [(h2, h3), (h3, h1)] {
        let sink = Sink::open(&root);
        let transport = home.post(&format!("/v1/routers/{router}/plain-transports"), json!({}));
        let transport = transport["id"].as_str().unwrap().to_string();
        via.post(
            &format!("/v1/transports/{transport}/connect"),
            json!({"ip": root, "port": sink.port}),
        );
        let consumer = via.post(
            &format!("/v1/transports/{transport}/consumers"),
            json!({"producerId": producer, "rtpCapabilities": caps}),
        );
        let ssrc = consumer["rtpParameters"]["encodings"][0]["ssrc"]
            .as_u64()
            .unwrap() as u32;
        consumers.push((
            home.id.clone(),
            consumer["id"].as_str().unwrap().to_string(),
            ssrc,
            sink,
        ));
    }
    for (home, _, ssrc, sink) in &consumers {
        eventually(
            Duration::from_secs(10),
            &format!("media reaches the consumer on {home}"),
            || sink.count() > 50,
        );
        let mut last = None;
        for packet in sink.packets() {
            let header = RtpHeader::parse(&packet).unwrap();
            assert_eq!(header.ssrc, *ssrc);
            if let Some(last) = last {
                assert!((1..1000).contains(&header.sequence_number.wrapping_sub(last)));
            }
            last = Some(header.sequence_number);
        }
    }
    // The pipes run between the hosts' own addresses.
    let inbound = &h3.cluster_view()["pipes"]["inbound"];
    assert_eq!(inbound[0]["fromNode"], "h1", "{inbound}");
    let pipe_transport = inbound[0]["transportId"].as_str().unwrap();
    let (_, dump) = h3.call("GET", &format!("/v1/transports/{pipe_transport}"), None);
    let dump_text = dump.to_string();
    assert!(
        dump_text.contains(&hosts.address(3)),
        "h3's end is on h3's address: {dump_text}"
    );

    // h1's host goes away: its producer closes on the other hosts.
    let events_h2 = EventLog::subscribe(h2);
    let events_h3 = EventLog::subscribe(h3);
    nodes[0].kill();
    eventually(Duration::from_secs(4), "producerclose on h2 and h3", || {
        events_h2.saw("producerclose", &consumers[0].1)
            && events_h3.saw("producerclose", &consumers[1].1)
    });
    running.store(false, Ordering::Relaxed);
    let _ = sender.join();
}
