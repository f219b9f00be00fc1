//! Traces across nodes: a consumer created on node b for a producer on node
//! a makes ONE trace, with spans from both nodes and the parent links
//! intact, received by a real OTLP/HTTP receiver (here, in the test), which
//! also gets both nodes' metrics; and traces over OTLP/gRPC.

mod common;

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::cluster::{etcd_available, eventually, Etcd, Node, NodeOptions};
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use prost::Message;
use serde_json::json;

#[derive(Debug, Clone)]
struct ReceivedSpan {
    node: String,
    name: String,
    trace_id: Vec<u8>,
    span_id: Vec<u8>,
    parent_span_id: Vec<u8>,
}

/// Metric names received over OTLP, by node.
type ReceivedMetrics = Arc<Mutex<HashSet<(String, String)>>>;

/// An OTLP/HTTP (protobuf) receiver on a free port: POST /v1/traces and
/// /v1/metrics.
fn otlp_receiver() -> (u16, Arc<Mutex<Vec<ReceivedSpan>>>, ReceivedMetrics) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let spans = Arc::new(Mutex::new(Vec::new()));
    let metrics: ReceivedMetrics = Default::default();
    let into = spans.clone();
    let metrics_into = metrics.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let into = into.clone();
            let metrics_into = metrics_into.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut writer = stream;
                loop {
                    let mut length = 0usize;
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let is_metrics = line.contains("/v1/metrics");
                    loop {
                        line.clear();
                        if reader.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        let header = line.trim_end();
                        if header.is_empty() {
                            break;
                        }
                        if let Some((name, value)) = header.split_once(':') {
                            if name.eq_ignore_ascii_case("content-length") {
                                length = value.trim().parse().unwrap_or(0);
                            }
                        }
                    }
                    let mut body = vec![0u8; length];
                    if reader.read_exact(&mut body).is_err() {
                        return;
                    }
                    if is_metrics {
                        if let Ok(request) = ExportMetricsServiceRequest::decode(body.as_slice()) {
                            metrics_into.lock().unwrap().extend(metric_names(request));
                        }
                    } else if let Ok(request) = ExportTraceServiceRequest::decode(body.as_slice()) {
                        into.lock().unwrap().extend(flatten(request));
                    }
                    let _ = writer.write_all(
                        b"HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\ncontent-length: 0\r\n\r\n",
                    );
                }
            });
        }
    });
    (port, spans, metrics)
}

fn node_of(resource: Option<&opentelemetry_proto::tonic::resource::v1::Resource>) -> String {
    resource
        .iter()
        .flat_map(|r| r.attributes.iter())
        .find(|a| a.key == "troupe.node_id")
        .and_then(|a| a.value.as_ref())
        .and_then(|v| match &v.value {
            Some(AnyValue::StringValue(s)) => Some(s.clone()),
            _ => None,
        })
        .unwrap_or_default()
}

fn metric_names(request: ExportMetricsServiceRequest) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for resource_metrics in request.resource_metrics {
        let node = node_of(resource_metrics.resource.as_ref());
        for scope in resource_metrics.scope_metrics {
            for metric in scope.metrics {
                out.push((node.clone(), metric.name));
            }
        }
    }
    out
}

fn flatten(request: ExportTraceServiceRequest) -> Vec<ReceivedSpan> {
    let mut out = Vec::new();
    for resource_spans in request.resource_spans {
        let node = node_of(resource_spans.resource.as_ref());
        for scope in resource_spans.scope_spans {
            for span in scope.spans {
                out.push(ReceivedSpan {
                    node: node.clone(),
                    name: span.name,
                    trace_id: span.trace_id,
                    span_id: span.span_id,
                    parent_span_id: span.parent_span_id,
                });
            }
        }
    }
    out
}

#[test]
fn a_cross_node_consume_is_one_trace_with_spans_from_both_nodes() {
    assert!(
        etcd_available(),
        "etcd is not installed: scripts/test.sh installs Debian's etcd-server"
    );
    let (port, spans, metrics) = otlp_receiver();
    let endpoint = format!("http://127.0.0.1:{port}");
    let etcd = Etcd::start();
    let logs = tempfile::tempdir().unwrap();
    let cluster = format!("traces{}", std::process::id());
    let env = [("TROUPE_OTLP_ENDPOINT", endpoint.as_str())];
    let mut nodes: Vec<Node> = ["a", "b"]
        .iter()
        .map(|id| {
            Node::start(NodeOptions {
                id,
                region: "eu",
                etcd: &etcd.endpoint(),
                cluster: &cluster,
                wrapper: &[],
                ip: "127.0.0.1",
                token: None,
                log_dir: logs.path(),
                env: &env,
            })
        })
        .collect();
    for node in &nodes {
        eventually(Duration::from_secs(15), "both nodes see each other", || {
            node.cluster_view()["members"]
                .as_array()
                .map_or(0, Vec::len)
                == 2
        });
    }
    let (a, b) = (&nodes[0], &nodes[1]);
    let router = a.post("/v1/routers", json!({}));
    let caps = router["rtpCapabilities"].clone();
    let router = router["id"].as_str().unwrap().to_string();
    let ingest = a.post(
        &format!("/v1/routers/{router}/plain-transports"),
        json!({"comedia": true}),
    );
    let producer = a.post(
        &format!("/v1/transports/{}/producers", ingest["id"].as_str().unwrap()),
        json!({"kind": "audio", "rtpParameters": {
            "codecs": [{"mimeType": "audio/opus", "payloadType": 100, "clockRate": 48000, "channels": 2}],
            "encodings": [{"ssrc": 5555}]
        }}),
    );
    // A WebRTC client connecting to b: ICE and DTLS spans.
    let (_client, _, _) = common::webrtc_client::connected_client(&b.api, &router);
    let transport = b.post(&format!("/v1/routers/{router}/plain-transports"), json!({}));
    b.post(
        &format!(
            "/v1/transports/{}/consumers",
            transport["id"].as_str().unwrap()
        ),
        json!({"producerId": producer["id"], "rtpCapabilities": caps}),
    );
    // SIGTERM flushes both exporters.
    for node in nodes.iter_mut() {
        assert!(node.terminate().success());
    }
    eventually(
        Duration::from_secs(10),
        "spans from both nodes arrive",
        || {
            let spans = spans.lock().unwrap();
            let nodes: HashSet<&str> = spans.iter().map(|s| s.node.as_str()).collect();
            nodes.contains("a") && nodes.contains("b")
        },
    );
    let spans = spans.lock().unwrap().clone();
    // The consume request on b is the root of a trace that a's control
    // span (opening the pipe) belongs to, as a child of one of b's spans.
    let consume = spans
        .iter()
        .find(|s| {
            s.node == "b"
                && s.name == "api"
                && spans
                    .iter()
                    .any(|c| c.node == "b" && c.name == "pipe setup" && c.trace_id == s.trace_id)
        })
        .unwrap_or_else(|| panic!("no traced consume on b among {} spans", spans.len()));
    let trace: Vec<&ReceivedSpan> = spans
        .iter()
        .filter(|s| s.trace_id == consume.trace_id)
        .collect();
    let ids_on_b: HashMap<&[u8], &str> = trace
        .iter()
        .filter(|s| s.node == "b")
        .map(|s| (s.span_id.as_slice(), s.name.as_str()))
        .collect();
    let control = trace
        .iter()
        .find(|s| s.node == "a" && s.name == "control")
        .unwrap_or_else(|| panic!("a's side is not in the trace: {trace:#?}"));
    assert_eq!(
        ids_on_b.get(control.parent_span_id.as_slice()),
        Some(&"pipe setup"),
        "a's control span is a child of b's pipe setup span"
    );
    assert!(
        consume.parent_span_id.is_empty(),
        "the API request is the root"
    );

    for name in [
        "ice connect",
        "dtls handshake",
        "transport",
        "consumer",
        "producer",
    ] {
        assert!(
            spans.iter().any(|s| s.name == name),
            "a {name:?} span was exported"
        );
    }

    // Metrics went over OTLP too (flushed at shutdown), from both nodes.
    let metrics = metrics.lock().unwrap().clone();
    for node in ["a", "b"] {
        for name in [
            "troupe_objects",
            "troupe_rtp_packets_total",
            "troupe_api_requests_total",
        ] {
            assert!(
                metrics.contains(&(node.to_string(), name.to_string())),
                "{name} from {node} over OTLP; got {metrics:?}"
            );
        }
    }
}

/// An OTLP/gRPC trace receiver (tonic, the collector's own service
/// definition) on a free port.
mod grpc_receiver {
    use std::sync::{Arc, Mutex};

    use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
        TraceService, TraceServiceServer,
    };
    use opentelemetry_proto::tonic::collector::trace::v1::{
        ExportTraceServiceRequest, ExportTraceServiceResponse,
    };

    pub struct Receiver {
        pub spans: Arc<Mutex<Vec<super::ReceivedSpan>>>,
    }

    #[tonic::async_trait]
    impl TraceService for Receiver {
        async fn export(
            &self,
            request: tonic::Request<ExportTraceServiceRequest>,
        ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
            self.spans
                .lock()
                .unwrap()
                .extend(super::flatten(request.into_inner()));
            Ok(tonic::Response::new(ExportTraceServiceResponse {
                partial_success: None,
            }))
        }
    }

    /// Serves on a thread of its own; returns the port and what arrives.
    pub fn start() -> (u16, Arc<Mutex<Vec<super::ReceivedSpan>>>) {
        let spans = Arc::new(Mutex::new(Vec::new()));
        let receiver = Receiver {
            spans: spans.clone(),
        };
        let (port_tx, port_rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                port_tx.send(listener.local_addr().unwrap().port()).unwrap();
                tonic::transport::Server::builder()
                    .add_service(TraceServiceServer::new(receiver))
                    .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener))
                    .await
                    .unwrap();
            });
        });
        (port_rx.recv().unwrap(), spans)
    }
}

#[test]
fn traces_also_go_over_otlp_grpc() {
    let (port, spans) = grpc_receiver::start();
    let endpoint = format!("http://127.0.0.1:{port}");
    let (troupe, api) = standalone_troupe(&[
        "--node-id",
        "g1",
        "--otlp-endpoint",
        &endpoint,
        "--otlp-protocol",
        "grpc",
    ]);
    assert_eq!(api.call("POST", "/v1/routers", Some(json!({}))).0, 200);
    assert!(terminate(troupe).success());
    eventually(
        Duration::from_secs(10),
        "API spans arrive over gRPC",
        || {
            spans
                .lock()
                .unwrap()
                .iter()
                .any(|s| s.node == "g1" && s.name == "api")
        },
    );
}

#[test]
fn an_unreachable_collector_slows_nothing() {
    // Nothing listens on this port: every export fails.
    let closed = common::cluster::free_port();
    let (troupe, api) =
        standalone_troupe(&["--otlp-endpoint", &format!("http://127.0.0.1:{closed}")]);
    let started = std::time::Instant::now();
    for _ in 0..50 {
        assert_eq!(api.call("POST", "/v1/routers", Some(json!({}))).0, 200);
    }
    eprintln!(
        "50 requests in {:?} with the collector down",
        started.elapsed()
    );
    let stopping = std::time::Instant::now();
    assert!(terminate(troupe).success());
    eprintln!("stopped in {:?}", stopping.elapsed());
}

/// A standalone `troupe` process on free ports with more flags, and a
/// client of its API.
fn standalone_troupe(flags: &[&str]) -> (std::process::Child, common::TestServer) {
    let mut troupe = std::process::Command::new(env!("CARGO_BIN_EXE_troupe"))
        .args(["--http-listen", "127.0.0.1:0", "--webrtc-port", "0"])
        .args(flags)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let url = common::listening_url(&mut troupe);
    let api = common::TestServer::alias(url.trim_start_matches("http://").parse().unwrap());
    (troupe, api)
}

/// SIGTERM (which flushes the exporters), then the exit status.
fn terminate(mut troupe: std::process::Child) -> std::process::ExitStatus {
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &troupe.id().to_string()])
        .status();
    troupe.wait().unwrap()
}
