//! The HTTP API against a real server on an OS-assigned port: the success
//! and error paths of DESIGN §4.

mod common;

use common::{assert_error, config, TestServer};
use serde_json::{json, Value};

fn create_router(server: &TestServer) -> (String, Value) {
    let (status, body) = server.call("POST", "/v1/routers", Some(json!({})));
    assert_eq!(status, 200, "{body}");
    (body["id"].as_str().unwrap().to_string(), body)
}

#[test]
fn probes_metrics_and_openapi_answer() {
    let server = TestServer::start(config(&[("node_id", "probe-node"), ("region", "eu")]));
    let (status, health) = server.call("GET", "/v1/health", None);
    assert_eq!(status, 200);
    assert_eq!(health["status"], "ok");
    assert_eq!(health["nodeId"], "probe-node");
    assert_eq!(health["region"], "eu");
    let (status, ready) = server.call("GET", "/v1/ready", None);
    assert_eq!((status, ready["ready"].as_bool()), (200, Some(true)));

    create_router(&server);
    let (status, metrics) = server.text("/metrics");
    assert_eq!(status, 200);
    assert!(
        metrics.contains("troupe_objects{kind=\"router\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("troupe_node_info{node=\"probe-node\",region=\"eu\""),
        "{metrics}"
    );
    assert!(metrics.contains(
        "troupe_api_requests_total{route=\"/v1/routers\",method=\"POST\",status=\"200\"} 1"
    ));
    // Classic text by default (promtool, most scrapers); OpenMetrics, with
    // its `# EOF`, for a scraper that asks, as Prometheus does.
    assert!(!metrics.contains("# EOF"));
    let openmetrics = ureq::get(&server.url("/metrics"))
        .header("Accept", "application/openmetrics-text; version=1.0.0")
        .call()
        .unwrap()
        .into_body()
        .read_to_string()
        .unwrap();
    assert!(openmetrics.trim_end().ends_with("# EOF"));

    let (status, doc) = server.call("GET", "/v1/openapi.json", None);
    assert_eq!(status, 200);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let paths = doc["paths"].as_object().unwrap();
    for path in [
        "/v1/routers",
        "/v1/routers/{id}",
        "/v1/routers/{id}/webrtc-transports",
        "/v1/routers/{id}/plain-transports",
        "/v1/routers/{id}/pipe-transports",
        "/v1/transports/{id}/connect",
        "/v1/transports/{id}/producers",
        "/v1/transports/{id}/consumers",
        "/v1/producers/{id}/pause",
        "/v1/consumers/{id}/preferred-layers",
        "/v1/consumers/{id}/request-key-frame",
        "/v1/transports/{id}/restart-ice",
        "/v1/routers/{id}/recordings",
        "/v1/recordings/{id}",
        "/v1/events",
        "/metrics",
    ] {
        assert!(paths.contains_key(path), "OpenAPI lacks {path}");
    }
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    for schema in [
        "RtpCapabilities",
        "RtpParameters",
        "ProduceRequest",
        "ConsumeRequest",
        "ErrorBody",
    ] {
        assert!(
            schemas.contains_key(schema),
            "OpenAPI lacks schema {schema}"
        );
    }
}

#[test]
fn router_lifecycle_in_mediasoup_shape() {
    let server = TestServer::start(config(&[]));
    let (id, created) = create_router(&server);
    let caps = &created["rtpCapabilities"];
    let mimes: Vec<&str> = caps["codecs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["mimeType"].as_str().unwrap())
        .collect();
    assert!(
        mimes.contains(&"audio/opus")
            && mimes.contains(&"video/VP8")
            && mimes.contains(&"video/H264")
    );
    assert!(caps["codecs"][0]["preferredPayloadType"].is_u64());
    assert!(caps["headerExtensions"][0]["preferredId"].is_u64());

    let (status, dump) = server.call("GET", &format!("/v1/routers/{id}"), None);
    assert_eq!(status, 200);
    assert_eq!(dump["id"], id.as_str());
    assert_eq!(dump["transportIds"], json!([]));
    assert_eq!(dump["rtpCapabilities"], *caps);

    let (status, _) = server.call("DELETE", &format!("/v1/routers/{id}"), None);
    assert_eq!(status, 204);
    assert_error(
        &server.call("GET", &format!("/v1/routers/{id}"), None),
        404,
        "not_found",
    );
    assert_error(
        &server.call("DELETE", &format!("/v1/routers/{id}"), None),
        404,
        "not_found",
    );
}

#[test]
fn router_codecs_are_validated_by_field() {
    let server = TestServer::start(config(&[]));
    let (status, body) = server.call(
        "POST",
        "/v1/routers",
        Some(json!({"mediaCodecs": [{"kind": "audio", "mimeType": "audio/opus", "clockRate": 48000, "channels": 2}]})),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["rtpCapabilities"]["codecs"].as_array().unwrap().len(),
        1
    );

    let bad = server.call(
        "POST",
        "/v1/routers",
        Some(json!({"mediaCodecs": [{"kind": "video", "mimeType": "video/Theora", "clockRate": 90000}]})),
    );
    assert_error(&bad, 400, "invalid_parameter");
    assert_eq!(bad.1["error"]["field"], "mediaCodecs[0].mimeType");

    let bad = server.call(
        "POST",
        "/v1/routers",
        Some(json!({"mediaCodecs": [{"kind": "audio", "mimeType": "audio/opus"}]})),
    );
    assert_error(&bad, 400, "invalid_parameter");
    assert!(bad.1["error"]["message"]
        .as_str()
        .unwrap()
        .contains("clockRate"));

    let bad = server.call("POST", "/v1/routers", Some(json!({"mediaCodec": []})));
    assert_error(&bad, 400, "invalid_parameter");
    assert!(bad.1["error"]["message"]
        .as_str()
        .unwrap()
        .contains("mediaCodec"));

    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let response = agent
        .post(&server.url("/v1/routers"))
        .send("{not json")
        .unwrap();
    assert_eq!(response.status().as_u16(), 400);
}

#[test]
fn webrtc_transports_answer_in_mediasoup_shape() {
    let server = TestServer::start(config(&[]));
    let (id, _) = create_router(&server);
    let (status, t) = server.call(
        "POST",
        &format!("/v1/routers/{id}/webrtc-transports"),
        Some(json!({})),
    );
    assert_eq!(status, 200, "{t}");
    assert_eq!(t["iceParameters"]["iceLite"], true);
    assert!(
        t["iceParameters"]["usernameFragment"]
            .as_str()
            .unwrap()
            .len()
            >= 16
    );
    assert!(t["iceParameters"]["password"].as_str().unwrap().len() >= 22);
    let candidates = t["iceCandidates"].as_array().unwrap();
    assert_eq!(candidates.len(), 2);
    assert_eq!(candidates[0]["protocol"], "udp");
    assert_eq!(candidates[1]["tcpType"], "passive");
    assert_eq!(candidates[0]["port"], candidates[1]["port"]);
    assert_eq!(candidates[0]["address"], "127.0.0.1");
    assert!(candidates[0]["priority"].as_u64() > candidates[1]["priority"].as_u64());
    assert_eq!(t["dtlsParameters"]["role"], "auto");
    let sha256 = t["dtlsParameters"]["fingerprints"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["algorithm"] == "sha-256")
        .unwrap();
    assert_eq!(sha256["value"].as_str().unwrap().len(), 95);

    // preferTcp puts TCP first; enableUdp false leaves TCP alone.
    let (_, tcp_first) = server.call(
        "POST",
        &format!("/v1/routers/{id}/webrtc-transports"),
        Some(json!({"preferTcp": true})),
    );
    assert_eq!(tcp_first["iceCandidates"][0]["protocol"], "tcp");
    let (_, tcp_only) = server.call(
        "POST",
        &format!("/v1/routers/{id}/webrtc-transports"),
        Some(json!({"enableUdp": false})),
    );
    assert_eq!(tcp_only["iceCandidates"].as_array().unwrap().len(), 1);
    let bad = server.call(
        "POST",
        &format!("/v1/routers/{id}/webrtc-transports"),
        Some(json!({"enableUdp": false, "enableTcp": false})),
    );
    assert_error(&bad, 400, "invalid_parameter");
    assert_eq!(bad.1["error"]["field"], "enableUdp");
    let sctp = server.call(
        "POST",
        &format!("/v1/routers/{id}/webrtc-transports"),
        Some(json!({"enableSctp": true, "numSctpStreams": {"OS": 16, "MIS": 32}})),
    );
    assert_eq!(sctp.0, 200, "{:?}", sctp.1);
    assert_eq!(
        sctp.1["sctpParameters"],
        json!({"port": 5000, "OS": 16, "MIS": 32, "maxMessageSize": 262144, "sendBufferSize": 262144})
    );
    // As mediasoup: SCTP settings without enableSctp are checked, then
    // mean nothing.
    let stray = server.call(
        "POST",
        &format!("/v1/routers/{id}/webrtc-transports"),
        Some(json!({"maxSctpMessageSize": 1000})),
    );
    assert_eq!(stray.0, 200, "{}", stray.1);
    assert!(stray.1.get("sctpParameters").is_none());
    let bad = server.call(
        "POST",
        &format!("/v1/routers/{id}/webrtc-transports"),
        Some(json!({"maxSctpMessageSize": 0})),
    );
    assert_eq!(bad.1["error"]["field"], "maxSctpMessageSize");
    assert_error(
        &server.call(
            "POST",
            &format!("/v1/routers/{id}/webrtc-transports"),
            Some(json!({"bogus": 1})),
        ),
        400,
        "invalid_parameter",
    );
    assert_error(
        &server.call(
            "POST",
            "/v1/routers/nope/webrtc-transports",
            Some(json!({})),
        ),
        404,
        "not_found",
    );

    let transport = t["id"].as_str().unwrap();
    let connect = format!("/v1/transports/{transport}/connect");
    let bad = server.call("POST", &connect, Some(json!({"dtlsParameters": {"role": "boss", "fingerprints": [{"algorithm": "sha-256", "value": "AA"}]}})));
    assert_eq!(bad.1["error"]["field"], "dtlsParameters.role");
    let bad = server.call(
        "POST",
        &connect,
        Some(json!({"dtlsParameters": {"role": "client", "fingerprints": []}})),
    );
    assert_eq!(bad.1["error"]["field"], "dtlsParameters.fingerprints");
    let bad = server.call("POST", &connect, Some(json!({"dtlsParameters": {"role": "client", "fingerprints": [{"algorithm": "md5", "value": "AA"}]}})));
    assert_eq!(bad.1["error"]["field"], "dtlsParameters.fingerprints");
    let good = json!({"dtlsParameters": {"role": "client", "fingerprints": [{"algorithm": "sha-256", "value": sha256["value"]}]}});
    assert_eq!(server.call("POST", &connect, Some(good.clone())).0, 204);
    assert_error(
        &server.call("POST", &connect, Some(good)),
        409,
        "wrong_state",
    );

    let (status, dump) = server.call("GET", &format!("/v1/transports/{transport}"), None);
    assert_eq!(status, 200);
    assert_eq!(dump["iceState"], "new");
    assert_eq!(dump["dtlsState"], "connecting");
    let (status, restarted) = server.call(
        "POST",
        &format!("/v1/transports/{transport}/restart-ice"),
        None,
    );
    assert_eq!(status, 200);
    assert_ne!(
        restarted["iceParameters"]["usernameFragment"],
        t["iceParameters"]["usernameFragment"]
    );
    let (status, stats) = server.call("GET", &format!("/v1/transports/{transport}/stats"), None);
    assert_eq!(status, 200);
    assert_eq!(stats[0]["type"], "webrtc-transport");
}

#[test]
fn pipe_transports_and_recordings_validate_their_options() {
    let server = TestServer::start(config(&[]));
    let (id, _) = create_router(&server);
    let path = format!("/v1/routers/{id}/pipe-transports");
    let (status, pipe) = server.call("POST", &path, Some(json!({"enableSrtp": true})));
    assert_eq!(status, 200, "{pipe}");
    assert!(pipe["tuple"]["localPort"].as_u64().is_some(), "{pipe}");
    assert_eq!(pipe["srtpParameters"]["cryptoSuite"], "AEAD_AES_128_GCM");
    assert_error(
        &server.call("POST", "/v1/routers/nope/pipe-transports", Some(json!({}))),
        404,
        "not_found",
    );
    let bad = server.call("POST", &path, Some(json!({"bogusOption": 1})));
    assert_error(&bad, 400, "invalid_parameter");
    let bad = server.call(
        "POST",
        &format!("/v1/routers/{id}/pipe-transports"),
        Some(json!({"listenIp": "here"})),
    );
    assert_eq!(bad.1["error"]["field"], "listenIp");
    // An address of another machine (TEST-NET-3) is refused at once, not
    // reported as the port range being used up.
    for kind in ["pipe-transports", "plain-transports"] {
        let bad = server.call(
            "POST",
            &format!("/v1/routers/{id}/{kind}"),
            Some(json!({"listenIp": "203.0.113.7"})),
        );
        assert_error(&bad, 409, "wrong_state");
        let message = bad.1["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains("not an address of this node"), "{message}");
    }
    // serde would read a struct from an array of its fields; the document
    // says object, and so does the server.
    let bad = server.call(
        "POST",
        &path,
        Some(json!({"enableSctp": true, "numSctpStreams": [16, 16]})),
    );
    assert_error(&bad, 400, "invalid_parameter");
    assert_eq!(bad.1["error"]["field"], "numSctpStreams");
    // No body means all defaults; whitespace is a JSON text without a value.
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    for (body, status) in [("", 200), ("\n", 400), ("\r\n ", 400)] {
        let response = agent
            .post(&server.url(&path))
            .header("Content-Type", "application/json")
            .send(body)
            .unwrap();
        assert_eq!(response.status().as_u16(), status, "body {body:?}");
    }
    let bad = server.call(
        "POST",
        &format!("/v1/routers/{id}/recordings"),
        Some(json!({"producerIds": ["p"], "format": "avi"})),
    );
    assert_eq!(bad.1["error"]["field"], "format");
    let bad = server.call(
        "POST",
        &format!("/v1/routers/{id}/recordings"),
        Some(json!({"producerIds": ["p"], "format": "webm"})),
    );
    assert_error(&bad, 409, "wrong_state");
    let bad = server.call(
        "POST",
        &format!("/v1/routers/{id}/recordings"),
        Some(json!({"producerIds": [], "format": "webm"})),
    );
    assert_eq!(bad.1["error"]["field"], "producerIds");
}

#[test]
fn unknown_ids_are_404_everywhere() {
    let server = TestServer::start(config(&[]));
    let produce = json!({"kind": "audio", "rtpParameters": {"codecs": [{"mimeType": "audio/opus", "payloadType": 111, "clockRate": 48000, "channels": 2}], "encodings": [{"ssrc": 1}]}});
    let cases: Vec<(&str, String, Option<Value>)> = vec![
        ("GET", "/v1/transports/x".into(), None),
        ("DELETE", "/v1/transports/x".into(), None),
        ("POST", "/v1/transports/x/connect".into(), Some(json!({}))),
        ("POST", "/v1/transports/x/producers".into(), Some(produce)),
        (
            "POST",
            "/v1/transports/x/consumers".into(),
            Some(json!({"producerId": "p", "rtpCapabilities": {}})),
        ),
        (
            "POST",
            "/v1/transports/x/data-producers".into(),
            Some(json!({})),
        ),
        ("POST", "/v1/transports/x/restart-ice".into(), None),
        ("GET", "/v1/transports/x/stats".into(), None),
        ("POST", "/v1/producers/x/pause".into(), None),
        ("POST", "/v1/producers/x/resume".into(), None),
        ("GET", "/v1/producers/x/stats".into(), None),
        ("DELETE", "/v1/producers/x".into(), None),
        ("POST", "/v1/consumers/x/pause".into(), None),
        ("POST", "/v1/consumers/x/resume".into(), None),
        ("POST", "/v1/consumers/x/request-key-frame".into(), None),
        (
            "POST",
            "/v1/consumers/x/preferred-layers".into(),
            Some(json!({"spatialLayer": 0})),
        ),
        ("GET", "/v1/consumers/x/stats".into(), None),
        ("DELETE", "/v1/consumers/x".into(), None),
        (
            "POST",
            "/v1/transports/x/data-consumers".into(),
            Some(json!({"dataProducerId": "d"})),
        ),
        ("DELETE", "/v1/data-producers/x".into(), None),
        ("GET", "/v1/data-producers/x".into(), None),
        ("GET", "/v1/data-producers/x/stats".into(), None),
        ("POST", "/v1/data-producers/x/pause".into(), None),
        (
            "POST",
            "/v1/data-producers/x/send".into(),
            Some(json!({"message": "hi"})),
        ),
        ("DELETE", "/v1/data-consumers/x".into(), None),
        ("GET", "/v1/data-consumers/x".into(), None),
        ("POST", "/v1/data-consumers/x/resume".into(), None),
        ("GET", "/v1/data-consumers/x/stats".into(), None),
        ("GET", "/v1/recordings/x".into(), None),
        ("DELETE", "/v1/recordings/x".into(), None),
        ("GET", "/v1/no-such-route".into(), None),
    ];
    for (method, path, body) in cases {
        let response = server.call(method, &path, body);
        assert_eq!(response.0, 404, "{method} {path}: {:?}", response.1);
        assert_eq!(response.1["error"]["code"], "not_found", "{method} {path}");
    }
    // A malformed body is a 400 even before the id is looked up.
    let bad = server.call(
        "POST",
        "/v1/transports/x/producers",
        Some(json!({"kind": "smell"})),
    );
    assert_error(&bad, 400, "invalid_parameter");
    assert_eq!(bad.1["error"]["field"], "kind");
}

#[test]
fn a_token_is_required_when_configured() {
    let server = TestServer::start(config(&[("api_token", "s3cret")]));
    assert_error(
        &server.call("POST", "/v1/routers", Some(json!({}))),
        401,
        "unauthorized",
    );
    assert_error(
        &server.call_with_token("POST", "/v1/routers", Some(json!({})), Some("wrong")),
        401,
        "unauthorized",
    );
    assert_error(
        &server.call_with_token("GET", "/metrics", None, Some("s3cre")),
        401,
        "unauthorized",
    );
    let (status, _) =
        server.call_with_token("POST", "/v1/routers", Some(json!({})), Some("s3cret"));
    assert_eq!(status, 200);
    // Probes stay open for the orchestrator.
    assert_eq!(server.call("GET", "/v1/health", None).0, 200);
    assert_eq!(server.call("GET", "/v1/ready", None).0, 200);
}

#[test]
fn no_token_is_needed_on_loopback_by_default() {
    let server = TestServer::start(config(&[]));
    assert_eq!(server.call("POST", "/v1/routers", Some(json!({}))).0, 200);
}

#[test]
fn off_loopback_the_server_serves_only_with_a_token() {
    let server = TestServer::start(config(&[
        ("http_listen", "0.0.0.0:0"),
        ("api_token", "t0ken"),
    ]));
    let loopback = common_alias(&server);
    assert_error(
        &loopback.call("POST", "/v1/routers", None),
        401,
        "unauthorized",
    );
    assert_eq!(
        loopback
            .call_with_token("POST", "/v1/routers", None, Some("t0ken"))
            .0,
        200
    );
}

/// The same server, addressed through 127.0.0.1 (it listens on 0.0.0.0).
fn common_alias(server: &TestServer) -> TestServer {
    TestServer::alias(std::net::SocketAddr::from((
        [127, 0, 0, 1],
        server.addr.port(),
    )))
}

#[test]
fn a_draining_node_refuses_new_work_and_says_not_ready() {
    let server = TestServer::start_with(config(&[]), |s| s.cluster().drain());
    assert_error(
        &server.call("POST", "/v1/routers", Some(json!({}))),
        503,
        "draining",
    );
    let (status, ready) = server.call("GET", "/v1/ready", None);
    assert_eq!(status, 503);
    assert_eq!(ready["reason"], "draining");
    assert_eq!(server.call("GET", "/v1/health", None).0, 200);
}

#[test]
fn events_stream_close_notifications_over_websocket() {
    let server = TestServer::start(config(&[]));
    let (id, _) = create_router(&server);
    let (other, _) = create_router(&server);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        use futures_util::StreamExt;
        let url = format!("ws://{}/v1/events?routerId={id}", server.addr);
        let (mut socket, _) = tokio_tungstenite::connect_async(url).await.unwrap();
        // Closing another room must not reach this filtered subscriber.
        let server_ref = &server;
        let other_path = format!("/v1/routers/{other}");
        let path = format!("/v1/routers/{id}");
        tokio::task::block_in_place(|| {
            assert_eq!(server_ref.call("DELETE", &other_path, None).0, 204);
            assert_eq!(server_ref.call("DELETE", &path, None).0, 204);
        });
        let message = tokio::time::timeout(std::time::Duration::from_secs(5), socket.next())
            .await
            .expect("a notification within 5 s")
            .unwrap()
            .unwrap();
        let notification: Value = serde_json::from_str(message.to_text().unwrap()).unwrap();
        assert_eq!(notification["event"], "close");
        assert_eq!(notification["targetKind"], "router");
        assert_eq!(notification["targetId"], id.as_str());
        assert!(notification["timestamp"].is_u64());
    });
}
