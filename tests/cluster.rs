//! A room across four `troupe` processes in two regions, with a real etcd:
//! consumers on other nodes get the producer's packets through pipes made
//! automatically, once per (producer, node) and once per region; any node
//! answers for any object; pause travels across pipes; the last consumer
//! gone closes the pipe; etcd down keeps media flowing; a killed node's
//! producers close everywhere within the lease TTL + 1 s.

mod common;

use std::net::UdpSocket;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::cluster::{etcd_available, eventually, send_opus, Etcd, EventLog, Node, Running, Sink};
use common::webrtc_client::{payload_type, vp8_packet};
use serde_json::{json, Value};
use troupe_transports::rtcp_feedback::{self, Feedback};
use troupe_transports::rtp_packet::RtpHeader;

const LEASE_TTL: Duration = Duration::from_secs(3);

/// Sends VP8 packets (a key frame every 30) at 30 per second and keeps the
/// RTCP feedback that comes back to its socket.
struct VideoSender {
    _running: Running,
    feedback: Arc<std::sync::Mutex<Vec<Feedback>>>,
}

impl VideoSender {
    fn start(to: std::net::SocketAddr, payload_type: u8, ssrc: u32) -> VideoSender {
        let running = Arc::new(AtomicBool::new(true));
        let feedback = Arc::new(std::sync::Mutex::new(Vec::new()));
        let (flag, seen) = (running.clone(), feedback.clone());
        std::thread::spawn(move || {
            let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
            socket
                .set_read_timeout(Some(Duration::from_millis(30)))
                .unwrap();
            let mut sequence: u16 = 0;
            let mut buffer = [0u8; 1500];
            while flag.load(Ordering::Relaxed) {
                let packet = vp8_packet(payload_type, ssrc, sequence, sequence.is_multiple_of(30));
                let _ = socket.send_to(&packet, to);
                sequence = sequence.wrapping_add(1);
                if let Ok(n) = socket.recv(&mut buffer) {
                    let parsed = rtcp_feedback::parse(&buffer[..n]).unwrap_or_default();
                    seen.lock().unwrap().extend(parsed);
                }
            }
        });
        VideoSender {
            _running: Running(running),
            feedback,
        }
    }

    fn key_frame_requests(&self, ssrc: u32) -> usize {
        self.feedback
            .lock()
            .unwrap()
            .iter()
            .filter(|f| matches!(f, Feedback::Pli { media_ssrc } | Feedback::Fir { media_ssrc } if *media_ssrc == ssrc))
            .count()
    }
}

struct Consumer {
    id: String,
    ssrc: u32,
    sink: Sink,
}

/// A plain transport on `home` (through `home`'s API, so it lives there)
/// sending to a fresh sink, and a consumer on it created through `via`.
fn consume(home: &Node, via: &Node, router: &str, producer: &str, caps: &Value) -> Consumer {
    let (sink, consumer) = home.consume_to_sink(via, router, producer, caps);
    Consumer {
        id: consumer["id"].as_str().unwrap().to_string(),
        ssrc: consumer["rtpParameters"]["encodings"][0]["ssrc"]
            .as_u64()
            .unwrap() as u32,
        sink,
    }
}

/// Packets keep arriving, in order, with the consumer's own SSRC.
fn assert_flowing(consumer: &Consumer, what: &str) {
    let before = consumer.sink.count();
    eventually(
        Duration::from_secs(10),
        &format!("{what}: packets arrive"),
        || consumer.sink.count() >= before + 50,
    );
    let packets = consumer.sink.packets();
    let mut last: Option<u16> = None;
    for packet in &packets {
        let header = RtpHeader::parse(packet).expect("RTP");
        assert_eq!(header.ssrc, consumer.ssrc, "{what}: the consumer's SSRC");
        if let Some(last) = last {
            let step = header.sequence_number.wrapping_sub(last);
            assert!(
                (1..1000).contains(&step),
                "{what}: out of order ({last} then {})",
                header.sequence_number
            );
        }
        last = Some(header.sequence_number);
    }
}

fn pipes(node: &Node, direction: &str) -> Vec<Value> {
    node.cluster_view()["pipes"][direction]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn peers(node: &Node, direction: &str, key: &str) -> Vec<String> {
    let mut peers: Vec<String> = pipes(node, direction)
        .iter()
        .map(|p| p[key].as_str().unwrap_or_default().to_string())
        .collect();
    peers.sort();
    peers
}

#[test]
fn a_room_spans_four_nodes_in_two_regions() {
    if !etcd_available() {
        panic!("etcd is not installed: scripts/test.sh installs Debian's etcd-server");
    }
    let logs = tempfile::tempdir().unwrap();
    let mut etcd = Etcd::start();
    let cluster = format!("t{}", std::process::id());
    let mut nodes: Vec<Node> = [("n1", "eu"), ("n2", "eu"), ("n3", "us"), ("n4", "us")]
        .iter()
        .map(|(id, region)| Node::on_loopback(&etcd, &cluster, id, region, logs.path()))
        .collect();
    let dump_logs = |nodes: &[Node]| {
        for node in nodes {
            eprintln!("==== {} ====\n{}", node.id, node.log());
        }
    };
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        scenario(&mut nodes, &mut etcd)
    }));
    if let Err(panic) = result {
        dump_logs(&nodes);
        std::panic::resume_unwind(panic);
    }
}

#[test]
fn a_browser_watches_and_chats_on_one_node_with_another_browser_on_another() {
    assert!(
        etcd_available(),
        "etcd is not installed: scripts/test.sh installs Debian's etcd-server"
    );
    let logs = tempfile::tempdir().unwrap();
    let etcd = Etcd::start();
    let cluster = format!("b{}", std::process::id());
    let nodes: Vec<Node> = ["a", "b"]
        .iter()
        .map(|id| Node::on_loopback(&etcd, &cluster, id, "eu", logs.path()))
        .collect();
    for node in &nodes {
        eventually(Duration::from_secs(15), "both nodes see each other", || {
            node.members() == 2
        });
    }
    let watch_origin = format!("http://{}", nodes[1].api.addr);
    let report = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        for scenario in ["publish-here-watch-there", "watch-there-then-publish-here"] {
            common::browser::run_scenario(
                &format!("http://{}", nodes[0].api.addr),
                scenario,
                Some(&watch_origin),
            );
        }
        // Data channels too: the consuming pages are on node b.
        let data = json!({ "watchOrigin": watch_origin }).to_string();
        common::browser::run_scenario(
            &format!("http://{}", nodes[0].api.addr),
            "data-channels",
            Some(&data),
        );
    }));
    if let Err(panic) = report {
        for node in &nodes {
            eprintln!("==== {} ====\n{}", node.id, node.log());
        }
        std::panic::resume_unwind(panic);
    }
    let inbound = pipes(&nodes[1], "inbound");
    assert_eq!(
        inbound.len(),
        4,
        "audio and video of both rooms piped from a to b: {inbound:?}"
    );
}

fn scenario(nodes: &mut [Node], etcd: &mut Etcd) {
    for node in nodes.iter() {
        eventually(Duration::from_secs(15), "every node sees all four", || {
            node.members() == 4
        });
    }
    let (n1, n2, n3, n4) = (&nodes[0], &nodes[1], &nodes[2], &nodes[3]);

    // A room made on n1, an Opus producer on n1 fed by a plain sender.
    let router = n1.post("/v1/routers", json!({}));
    let caps = router["rtpCapabilities"].clone();
    let router = router["id"].as_str().unwrap().to_string();
    let ingest = n1.post(
        &format!("/v1/routers/{router}/plain-transports"),
        json!({"comedia": true}),
    );
    let ingest_port = ingest["tuple"]["localPort"].as_u64().unwrap() as u16;
    let pt = payload_type(&caps, "audio/opus");
    let producer = n1.post(
        &format!("/v1/transports/{}/producers", ingest["id"].as_str().unwrap()),
        json!({"kind": "audio", "rtpParameters": {
            "codecs": [{"mimeType": "audio/opus", "payloadType": pt, "clockRate": 48000, "channels": 2}],
            "encodings": [{"ssrc": 1111}]
        }}),
    );
    let producer = producer["id"].as_str().unwrap().to_string();
    let _sender = send_opus(([127, 0, 0, 1], ingest_port).into(), pt, 1111, 100);

    // Consumers on n2 (through its own API) and on n3 and n4 (through other
    // nodes' APIs), three of them on n3.
    let on_n2 = consume(n2, n2, &router, &producer, &caps);
    let on_n3: Vec<Consumer> = [n1, n2, n3]
        .iter()
        .map(|via| consume(n3, via, &router, &producer, &caps))
        .collect();
    let on_n4 = consume(n4, n2, &router, &producer, &caps);
    for (consumer, what) in [
        (&on_n2, "n2"),
        (&on_n3[0], "n3 #1"),
        (&on_n3[1], "n3 #2"),
        (&on_n3[2], "n3 #3"),
        (&on_n4, "n4"),
    ] {
        assert_ne!(consumer.ssrc, 1111, "{what}: SSRC rewritten");
        assert_flowing(consumer, what);
    }

    // One pipe per (producer, node); one pipe into region us.
    assert_eq!(
        peers(n1, "outbound", "toNode"),
        ["n2", "n3"],
        "n1 sends to n2 and to us's entry only"
    );
    assert_eq!(peers(n3, "inbound", "fromNode"), ["n1"]);
    assert_eq!(
        peers(n3, "outbound", "toNode"),
        ["n4"],
        "n3 fans out inside us"
    );
    assert_eq!(peers(n4, "inbound", "fromNode"), ["n3"]);
    let (_, metrics) = n1.api.text("/metrics");
    assert!(
        metrics.contains(r#"troupe_pipes{peer_node="n3",direction="out"} 1"#),
        "pipes per peer in metrics"
    );

    // A key-frame request on n4, two pipes away, reaches the VP8 sender on n1;
    // n4's subscribers hear of the new producer, which lives on n1.
    let events_n4 = EventLog::subscribe(n4);
    let video_ingest = n1.post(
        &format!("/v1/routers/{router}/plain-transports"),
        json!({"comedia": true}),
    );
    let video_pt = payload_type(&caps, "video/VP8");
    let video = n1.post(
        &format!(
            "/v1/transports/{}/producers",
            video_ingest["id"].as_str().unwrap()
        ),
        json!({"kind": "video", "rtpParameters": {
            "codecs": [{"mimeType": "video/VP8", "payloadType": video_pt, "clockRate": 90000}],
            "encodings": [{"ssrc": 2222}]
        }}),
    );
    let video = video["id"].as_str().unwrap().to_string();
    eventually(
        Duration::from_secs(5),
        "newproducer reaches n4's subscribers",
        || events_n4.saw_data("newproducer", "producerId", &video),
    );
    let video_port = video_ingest["tuple"]["localPort"].as_u64().unwrap() as u16;
    let camera = VideoSender::start(([127, 0, 0, 1], video_port).into(), video_pt, 2222);
    let watcher = consume(n4, n4, &router, &video, &caps);
    eventually(Duration::from_secs(10), "video reaches n4", || {
        watcher.sink.count() > 10
    });
    // Let the 1 s throttle of the consumer's own start-up request pass.
    std::thread::sleep(Duration::from_millis(1500));
    let before = camera.key_frame_requests(2222);
    n4.post(
        &format!("/v1/consumers/{}/request-key-frame", watcher.id),
        json!({}),
    );
    eventually(
        Duration::from_secs(5),
        "the PLI crosses both pipes to the sender",
        || camera.key_frame_requests(2222) > before,
    );
    assert_eq!(
        n4.call("DELETE", &format!("/v1/producers/{video}"), None).0,
        204
    );
    eventually(
        Duration::from_secs(5),
        "closing the producer at its home closes the piped copies",
        || {
            n4.call("GET", &format!("/v1/consumers/{}", watcher.id), None)
                .0
                == 404
        },
    );
    drop(camera);

    // Any node answers for any object, with the home node's status codes.
    let (status, dump) = n4.call("GET", &format!("/v1/consumers/{}", on_n3[0].id), None);
    assert_eq!(status, 200, "{dump}");
    assert_eq!(dump["id"], on_n3[0].id.as_str());
    let (status, missing) = n2.call(
        "GET",
        "/v1/consumers/n3~00000000000000000000000000000000",
        None,
    );
    assert_eq!(
        (status, missing["error"]["code"].as_str()),
        (404, Some("not_found"))
    );

    // Pause travels from the origin across both pipes.
    n4.post(&format!("/v1/producers/{producer}/pause"), json!({}));
    eventually(
        Duration::from_secs(5),
        "n4's consumer sees the pause",
        || {
            n4.call("GET", &format!("/v1/consumers/{}", on_n4.id), None)
                .1["producerPaused"]
                == true
        },
    );
    n2.post(&format!("/v1/producers/{producer}/resume"), json!({}));
    eventually(
        Duration::from_secs(5),
        "n4's consumer sees the resume",
        || {
            n4.call("GET", &format!("/v1/consumers/{}", on_n4.id), None)
                .1["producerPaused"]
                == false
        },
    );
    assert_flowing(&on_n4, "n4 after resume");

    // The last consumer on n4 gone: the pipe n3 → n4 closes, n1 → n3 stays.
    assert_eq!(
        n1.call("DELETE", &format!("/v1/consumers/{}", on_n4.id), None)
            .0,
        204
    );
    eventually(
        Duration::from_secs(10),
        "the idle pipe into n4 closes",
        || pipes(n4, "inbound").is_empty() && pipes(n3, "outbound").is_empty(),
    );
    assert_eq!(peers(n3, "inbound", "fromNode"), ["n1"]);

    // SIGTERM: n4 drains and leaves at once, not after the lease TTL.
    let terminated = Instant::now();
    assert!(nodes[3].terminate().success());
    let (n1, n2, n3) = (&nodes[0], &nodes[1], &nodes[2]);
    eventually(Duration::from_secs(2), "the others see n4 leave", || {
        n1.members() == 3
    });
    assert!(
        terminated.elapsed() < LEASE_TTL,
        "left before its lease would lapse"
    );
    let _ = n3;

    // etcd down for 10 s: media keeps flowing, nodes say they are not ready;
    // back up, they register again.
    etcd.stop();
    eventually(Duration::from_secs(10), "nodes notice etcd is gone", || {
        n2.call("GET", "/v1/ready", None).0 == 503
    });
    let during = on_n3[1].sink.count();
    std::thread::sleep(Duration::from_secs(10));
    assert!(
        on_n3[1].sink.count() > during + 500,
        "media flowed while etcd was down"
    );
    assert_flowing(&on_n2, "n2 while etcd is down");
    etcd.resume();
    for node in &nodes[..3] {
        eventually(Duration::from_secs(15), "nodes register again", || {
            node.call("GET", "/v1/ready", None).0 == 200 && node.members() == 3
        });
    }
    let (n1, n2, n3) = (&nodes[0], &nodes[1], &nodes[2]);
    assert_flowing(&on_n2, "n2 after etcd is back");

    // n1 killed: its producer closes at n2 and n3 within the lease TTL + 1 s.
    let events_n2 = EventLog::subscribe(n2);
    let events_n3 = EventLog::subscribe(n3);
    let _ = n1;
    nodes[0].kill();
    let killed = Instant::now();
    let (n2, n3) = (&nodes[1], &nodes[2]);
    eventually(
        LEASE_TTL + Duration::from_secs(1),
        "producerclose at n2 and n3",
        || {
            events_n2.saw("producerclose", &on_n2.id)
                && on_n3.iter().all(|c| events_n3.saw("producerclose", &c.id))
        },
    );
    eprintln!("producerclose {:?} after SIGKILL", killed.elapsed());
    eventually(Duration::from_secs(3), "pipes from n1 freed", || {
        pipes(n2, "inbound").is_empty()
            && pipes(n3, "inbound").is_empty()
            && pipes(n3, "outbound").is_empty()
    });
    // Nothing else is disturbed: n2's transports are still there.
    assert_eq!(n2.members(), 2);
    assert_eq!(
        n2.call("GET", &format!("/v1/routers/{router}"), None).0,
        200
    );
}
