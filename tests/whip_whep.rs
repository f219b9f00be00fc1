//! Rooms that standard clients join: WHIP ingest and WHEP playback with
//! room tokens. The browser tests use npm `whip-whep` and a bare
//! `RTCPeerConnection` in headless Chromium (no SFU SDK), with ffmpeg
//! recording the room meanwhile; the others send Chromium's own offers
//! (`signaling/fixtures`) over HTTP.

mod common;

use std::time::Duration;

use common::browser::{demo_dir, run_scenario};
use common::{config, TestServer};
use serde_json::{json, Value};

const ADMIN: &str = "admin-token-for-tests";
const TOKEN_SECRET: &str = "room-token-secret-for-tests";
const CHROMIUM_WHIP: &str = include_str!("../signaling/fixtures/chromium-whip.sdp");
const CHROMIUM_WHEP: &str = include_str!("../signaling/fixtures/chromium-whep.sdp");

/// One browser call at a time: a publisher, its players and ffmpeg are what
/// two cores encode and decode in real time; two calls at once starve each
/// other into freezes that say nothing about Troupe.
fn one_call_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

fn server(extra: &[(&str, &str)]) -> TestServer {
    let demo = demo_dir();
    let mut pairs = vec![
        ("api_token", ADMIN),
        ("token_secret", TOKEN_SECRET),
        ("demo_dir", demo.as_str()),
    ];
    pairs.extend_from_slice(extra);
    TestServer::start(config(&pairs))
}

fn token(server: &TestServer, room: &str, identity: &str, grants: Value) -> String {
    let (status, issued) = server.call_with_token(
        "POST",
        "/v1/tokens",
        Some(json!({"room": room, "identity": identity, "grants": grants, "ttlSecs": 600})),
        Some(ADMIN),
    );
    assert_eq!(status, 200, "{issued}");
    issued["token"].as_str().unwrap().to_string()
}

struct Answer {
    status: u16,
    location: Option<String>,
    etag: Option<String>,
    content_type: Option<String>,
    allow_origin: Option<String>,
    body: String,
}

/// A request with a text body of any content type, as WHIP clients send.
fn send(
    server: &TestServer,
    method: &str,
    path: &str,
    content_type: &str,
    body: &str,
    token: Option<&str>,
) -> Answer {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut request = ureq::http::Request::builder()
        .method(method)
        .uri(server.url(path))
        .header("Content-Type", content_type);
    if let Some(token) = token {
        request = request.header("Authorization", format!("Bearer {token}"));
    }
    let response = agent
        .run(request.body(body.to_string()).unwrap())
        .expect("the server answers");
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let (location, etag, content_type, allow_origin) = (
        header("location"),
        header("etag"),
        header("content-type"),
        header("access-control-allow-origin"),
    );
    let status = response.status().as_u16();
    let body = response.into_body().read_to_string().unwrap_or_default();
    Answer {
        status,
        location,
        etag,
        content_type,
        allow_origin,
        body,
    }
}

fn room_view(server: &TestServer, room: &str) -> Value {
    let (status, view) =
        server.call_with_token("GET", &format!("/v1/rooms/{room}"), None, Some(ADMIN));
    assert_eq!(status, 200, "{view}");
    view
}

fn rooms(server: &TestServer) -> Vec<Value> {
    let (_, list) = server.call_with_token("GET", "/v1/rooms", None, Some(ADMIN));
    list.as_array().cloned().unwrap_or_default()
}

#[test]
fn standard_clients_publish_and_play_a_room_while_ffmpeg_records_it() {
    let _call = one_call_at_a_time();
    let dir = tempfile::tempdir().unwrap();
    let server = server(&[("recordings_dir", dir.path().to_str().unwrap())]);
    let base = format!("http://{}", server.addr);
    let publish = token(&server, "stage", "camera-1", json!({"publish": true}));
    let play = token(&server, "stage", "viewer", json!({"subscribe": true}));
    let argument = json!({
        "room": "stage", "publishToken": publish, "playToken": play,
        "whipOrigin": base, "whepOrigins": [base], "adminToken": ADMIN, "holdMs": 8000,
    })
    .to_string();
    // ffmpeg records the room while the browsers publish and play it.
    let recorder = {
        let addr = server.addr;
        std::thread::spawn(move || record_while_published(addr, "stage"))
    };
    let report = run_scenario(&base, "whip-whep", Some(&argument));
    let recorded = recorder.join().expect("the recorder finishes");

    let sent = &report["sent"];
    assert_eq!(sent["sentVideo"]["frameWidth"], 640, "{sent}");
    assert_eq!(
        sent["sentVideo"]["qualityLimitationReason"], "none",
        "{sent}"
    );
    for player in report["players"].as_array().unwrap() {
        let video = &player["video"];
        assert_eq!(video["frameWidth"], 640, "{player}");
        assert!(
            video["framesPerSecond"].as_f64().unwrap_or(0.0) >= 15.0,
            "{player}"
        );
        assert!(
            video["totalFreezesDuration"].as_f64().unwrap_or(1.0) < 0.5,
            "{player}"
        );
        assert_eq!(player["audio"]["codec"], "audio/opus");
    }
    let view = &report["roomView"];
    let producers = view["producers"].as_array().unwrap();
    assert_eq!(producers.len(), 2, "{view}");
    assert!(producers.iter().all(|p| p["identity"] == "camera-1"));
    let kinds: Vec<&str> = view["participants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds.iter().filter(|k| **k == "whep").count(), 2, "{view}");
    assert_eq!(kinds.iter().filter(|k| **k == "whip").count(), 1, "{view}");
    // Ending the sessions (DELETE) closed what they made.
    let after = &report["roomAfter"];
    assert_eq!(after["producers"], json!([]), "{after}");
    assert_eq!(after["participants"], json!([]), "{after}");
    assert!(recorded.0 >= 50, "{} video frames recorded", recorded.0);
    assert_eq!(recorded.1, "opus");
}

/// Waits for the room's two producers, records them 4 s to WebM, and
/// returns (video frames, audio codec) of the file.
fn record_while_published(addr: std::net::SocketAddr, room: &str) -> (u32, String) {
    let server = TestServer::alias(addr);
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let view = loop {
        let (status, view) =
            server.call_with_token("GET", &format!("/v1/rooms/{room}"), None, Some(ADMIN));
        if status == 200 && view["producers"].as_array().is_some_and(|p| p.len() == 2) {
            break view;
        }
        assert!(std::time::Instant::now() < deadline, "no publisher: {view}");
        std::thread::sleep(Duration::from_millis(250));
    };
    let ids: Vec<&str> = view["producers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    let (status, recording) = server.call_with_token(
        "POST",
        &format!(
            "/v1/routers/{}/recordings",
            view["routerId"].as_str().unwrap()
        ),
        Some(json!({"producerIds": ids, "format": "webm", "path": "stage.webm"})),
        Some(ADMIN),
    );
    assert_eq!(status, 200, "{recording}");
    std::thread::sleep(Duration::from_secs(4));
    let id = recording["id"].as_str().unwrap();
    let (status, stopped) =
        server.call_with_token("DELETE", &format!("/v1/recordings/{id}"), None, Some(ADMIN));
    assert_eq!(status, 200, "{stopped}");
    let path = recording["path"].as_str().unwrap();
    let probe = |args: &[&str]| common::media_tools::ffprobe(path, args);
    let frames = probe(&[
        "-select_streams",
        "v:0",
        "-count_frames",
        "-show_entries",
        "stream=nb_read_frames",
    ])
    .parse()
    .unwrap_or(0);
    let audio = probe(&[
        "-select_streams",
        "a:0",
        "-show_entries",
        "stream=codec_name",
    ]);
    (frames, audio)
}

#[test]
fn room_tokens_are_refused_with_their_reason_and_nothing_is_made() {
    let server = server(&[]);
    let publish = token(&server, "lobby", "cam", json!({"publish": true}));
    let play = token(&server, "lobby", "viewer", json!({"subscribe": true}));
    let elsewhere = token(&server, "other-room", "cam", json!({"publish": true}));
    let forged = troupe::room_tokens::RoomTokens::new(b"not the server's secret at all").issue(
        "lobby",
        "cam",
        publish_grants(),
        600,
    );
    let expired = expired_token("lobby");
    let whip = |token: Option<&str>| {
        send(
            &server,
            "POST",
            "/v1/rooms/lobby/whip",
            "application/sdp",
            CHROMIUM_WHIP,
            token,
        )
    };
    for (token, status, reason) in [
        (None, 401, "Authorization"),
        (Some("garbage"), 401, "not a room token"),
        (Some(expired.as_str()), 401, "expired"),
        (Some(forged.as_str()), 401, "signature"),
        (Some(elsewhere.as_str()), 403, "other-room"),
        (Some(play.as_str()), 403, "publish"),
    ] {
        let answer = whip(token);
        assert_eq!(
            answer.status,
            status,
            "{:?}: {}",
            token.map(|t| &t[..8.min(t.len())]),
            answer.body
        );
        assert!(
            answer.body.contains(reason),
            "{reason:?} not in {}",
            answer.body
        );
    }
    assert!(rooms(&server).is_empty(), "a refused request made a room");
    // A method the route does not take is a 405 for anyone, token or not.
    let put = send(
        &server,
        "PUT",
        "/v1/rooms/lobby/whip",
        "application/sdp",
        "",
        None,
    );
    assert_eq!(put.status, 405, "{}", put.body);
    // A room token opens its room's routes only.
    let (status, _) = server.call_with_token("GET", "/v1/rooms", None, Some(&publish));
    assert_eq!(status, 403);
    let (status, _) = server.call_with_token(
        "POST",
        "/v1/tokens",
        Some(json!({"room": "lobby", "identity": "x"})),
        Some(&publish),
    );
    assert_eq!(status, 403);
    // The right token publishes; the admin token works everywhere.
    let answer = whip(Some(&publish));
    assert_eq!(answer.status, 201, "{}", answer.body);
    let answer = send(
        &server,
        "POST",
        "/v1/rooms/lobby/whep",
        "application/sdp",
        CHROMIUM_WHEP,
        Some(ADMIN),
    );
    assert_eq!(answer.status, 201, "{}", answer.body);
    assert!(metric(&server, "troupe_api_refused_room_tokens_total") >= 3.0);
}

fn publish_grants() -> troupe::room_tokens::Grants {
    troupe::room_tokens::Grants {
        publish: true,
        ..Default::default()
    }
}

/// A token of the server's secret whose lifetime ended a minute ago.
fn expired_token(room: &str) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let claims = json!({"room": room, "sub": "late", "grants": {"publish": true}, "iat": now - 120, "exp": now - 60});
    jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(TOKEN_SECRET.as_bytes()),
    )
    .unwrap()
}

fn metric(server: &TestServer, name: &str) -> f64 {
    let (_, text) = server.call_with_token("GET", "/metrics", None, Some(ADMIN));
    text.as_str()
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(name))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
        .unwrap_or(0.0)
}

#[test]
fn bad_offers_are_refused_with_the_reason_and_leave_nothing_behind() {
    let server = server(&[]);
    let (status, opened) = server.call_with_token(
        "POST",
        "/v1/rooms",
        Some(json!({"name": "pcmu-only", "mediaCodecs": [{"kind": "audio", "mimeType": "audio/PCMU", "clockRate": 8000, "channels": 1}]})),
        Some(ADMIN),
    );
    assert_eq!(status, 201, "{opened}");
    let strip = |prefix: &str| {
        CHROMIUM_WHIP
            .lines()
            .filter(|l| !l.starts_with(prefix))
            .collect::<Vec<_>>()
            .join("\r\n")
    };
    let cases: Vec<(String, &str, u16, &str)> = vec![
        (
            CHROMIUM_WHIP[..CHROMIUM_WHIP.len() / 4].to_string(),
            "application/sdp",
            400,
            "sdp",
        ),
        (
            strip("a=fingerprint"),
            "application/sdp",
            400,
            "fingerprint",
        ),
        (strip("a=ice-ufrag"), "application/sdp", 400, "ice-ufrag"),
        (strip("a=ice-pwd"), "application/sdp", 400, "ice-pwd"),
        ("v=0\r\nnonsense".into(), "application/sdp", 400, "sdp"),
        (
            CHROMIUM_WHIP.into(),
            "application/json",
            415,
            "application/sdp",
        ),
        // The room routes PCMU only: Chromium's video codecs are none of it.
        (
            CHROMIUM_WHIP.into(),
            "application/sdp",
            400,
            "none of the offered codecs",
        ),
    ];
    for (offer, content_type, status, reason) in cases {
        let answer = send(
            &server,
            "POST",
            "/v1/rooms/pcmu-only/whip",
            content_type,
            &offer,
            Some(ADMIN),
        );
        assert_eq!(answer.status, status, "{reason}: {}", answer.body);
        assert!(
            answer.body.contains(reason),
            "{reason:?} not in {}",
            answer.body
        );
    }
    let view = room_view(&server, "pcmu-only");
    assert_eq!(view["participants"], json!([]), "{view}");
    assert_eq!(view["producers"], json!([]), "{view}");
    let (_, router) = server.call_with_token(
        "GET",
        &format!("/v1/routers/{}", view["routerId"].as_str().unwrap()),
        None,
        Some(ADMIN),
    );
    assert_eq!(router["transportIds"], json!([]), "{router}");
    assert!(metric(&server, "troupe_api_refused_sdp_offers_total") >= 6.0);
    // An offer refused in a room it would have opened leaves no room.
    let answer = send(
        &server,
        "POST",
        "/v1/rooms/brand-new/whip",
        "application/sdp",
        &CHROMIUM_WHIP.replace("a=sendonly", "a=recvonly"),
        Some(ADMIN),
    );
    assert_eq!(answer.status, 400, "{}", answer.body);
    assert!(
        room_view_or_none(&server, "brand-new").is_none(),
        "the refused offer left its room"
    );
    // WHEP of a room with nothing in it, or of no room.
    let answer = send(
        &server,
        "POST",
        "/v1/rooms/pcmu-only/whep",
        "application/sdp",
        CHROMIUM_WHEP,
        Some(ADMIN),
    );
    assert_eq!(answer.status, 404, "{}", answer.body);
    let answer = send(
        &server,
        "POST",
        "/v1/rooms/nowhere/whep",
        "application/sdp",
        CHROMIUM_WHEP,
        Some(ADMIN),
    );
    assert_eq!(answer.status, 404, "{}", answer.body);
}

#[test]
fn a_session_trickles_restarts_ice_and_ends() {
    let server = server(&[]);
    let answer = send(
        &server,
        "POST",
        "/v1/rooms/lobby/whip",
        "application/sdp",
        CHROMIUM_WHIP,
        Some(ADMIN),
    );
    assert_eq!(answer.status, 201, "{}", answer.body);
    assert_eq!(answer.content_type.as_deref(), Some("application/sdp"));
    assert_eq!(answer.allow_origin.as_deref(), Some("*"));
    assert!(answer.etag.is_some());
    for line in [
        "a=ice-lite",
        "a=setup:passive",
        "a=group:BUNDLE 0 1",
        "a=recvonly",
        "typ host",
    ] {
        assert!(answer.body.contains(line), "{line} not in\n{}", answer.body);
    }
    let session = answer.location.expect("Location");
    assert!(session.starts_with("/v1/whip/"), "{session}");
    let first_ufrag = ufrag_of(&answer.body);
    let trickle = "a=ice-ufrag:EsAw\r\na=ice-pwd:bP+XJMM09aR8AiX1jdukzR6Y\r\nm=audio 9 UDP/TLS/RTP/SAVPF 0\r\na=mid:0\r\na=candidate:1387637174 1 udp 2122260223 192.0.2.1 61764 typ host generation 0 ufrag EsAw network-id 1\r\na=end-of-candidates\r\n";
    let fragment_type = "application/trickle-ice-sdpfrag";
    let offered_ufrag = ufrag_of(CHROMIUM_WHIP);
    let trickle = trickle.replace("EsAw", &offered_ufrag);
    let patched = send(
        &server,
        "PATCH",
        &session,
        fragment_type,
        &trickle,
        Some(ADMIN),
    );
    assert_eq!(patched.status, 204, "{}", patched.body);
    let wrong_type = send(
        &server,
        "PATCH",
        &session,
        "application/sdp",
        &trickle,
        Some(ADMIN),
    );
    assert_eq!(wrong_type.status, 415);
    // New credentials: an ICE restart, answered with Troupe's new ones.
    let restart = "a=ice-ufrag:newU\r\na=ice-pwd:a-new-password-of-22chars\r\nm=audio 9 UDP/TLS/RTP/SAVPF 0\r\na=mid:0\r\n";
    let restarted = send(
        &server,
        "PATCH",
        &session,
        fragment_type,
        restart,
        Some(ADMIN),
    );
    assert_eq!(restarted.status, 200, "{}", restarted.body);
    assert_eq!(restarted.content_type.as_deref(), Some(fragment_type));
    let new_ufrag = ufrag_of(&restarted.body);
    assert_ne!(new_ufrag, first_ufrag);
    assert!(restarted.body.contains("a=candidate:"));
    // The same credentials again are no restart.
    let again = send(
        &server,
        "PATCH",
        &session,
        fragment_type,
        restart,
        Some(ADMIN),
    );
    assert_eq!(again.status, 204);
    let preflight = send(&server, "OPTIONS", &session, "text/plain", "", None);
    assert_eq!(preflight.status, 204);
    assert_eq!(preflight.allow_origin.as_deref(), Some("*"));
    let view = room_view(&server, "lobby");
    assert_eq!(view["producers"].as_array().unwrap().len(), 2);
    let ended = send(&server, "DELETE", &session, "text/plain", "", Some(ADMIN));
    assert_eq!(ended.status, 200, "{}", ended.body);
    let view = room_view(&server, "lobby");
    assert_eq!(view["producers"], json!([]), "{view}");
    assert_eq!(view["participants"], json!([]), "{view}");
    let gone = send(&server, "DELETE", &session, "text/plain", "", Some(ADMIN));
    assert_eq!(gone.status, 404);
}

fn ufrag_of(sdp: &str) -> String {
    sdp.lines()
        .find_map(|l| l.trim().strip_prefix("a=ice-ufrag:"))
        .expect("an ice-ufrag")
        .to_string()
}

#[test]
fn rooms_are_opened_listed_viewed_and_closed_by_name() {
    let server = server(&[]);
    let open = |name: &str| {
        server.call_with_token(
            "POST",
            "/v1/rooms",
            Some(json!({"name": name})),
            Some(ADMIN),
        )
    };
    let (status, first) = open("team-7");
    assert_eq!(status, 201, "{first}");
    let (status, again) = open("team-7");
    assert_eq!(status, 200);
    assert_eq!(again["routerId"], first["routerId"], "one name, one router");
    for bad in ["", "a/b", "spaces here", &"x".repeat(65)] {
        let (status, body) = open(bad);
        assert!(status == 400 || status == 404, "{bad:?}: {status} {body}");
    }
    assert_eq!(rooms(&server).len(), 1);
    // The id-based routes see the same router.
    let (status, _) = server.call_with_token(
        "GET",
        &format!("/v1/routers/{}", first["routerId"].as_str().unwrap()),
        None,
        Some(ADMIN),
    );
    assert_eq!(status, 200);
    let (status, _) = server.call_with_token("DELETE", "/v1/rooms/team-7", None, Some(ADMIN));
    assert_eq!(status, 204);
    assert!(rooms(&server).is_empty());
    let (status, _) = server.call_with_token("GET", "/v1/rooms/team-7", None, Some(ADMIN));
    assert_eq!(status, 404);
    // The name is free again: a new router.
    let (status, reopened) = open("team-7");
    assert_eq!(status, 201);
    assert_ne!(reopened["routerId"], first["routerId"]);
    // Closing the router by id frees the name too.
    let (status, _) = server.call_with_token(
        "DELETE",
        &format!("/v1/routers/{}", reopened["routerId"].as_str().unwrap()),
        None,
        Some(ADMIN),
    );
    assert_eq!(status, 204);
    assert!(rooms(&server).is_empty());
}

#[test]
fn whip_into_one_node_and_whep_out_of_another_for_the_same_room_name() {
    let _call = one_call_at_a_time();
    use common::cluster::{etcd_available, eventually, Etcd, Node, NodeOptions};
    assert!(
        etcd_available(),
        "etcd is not installed: scripts/test.sh installs Debian's etcd-server"
    );
    let logs = tempfile::tempdir().unwrap();
    let etcd = Etcd::start();
    let cluster = format!("w{}", std::process::id());
    let nodes: Vec<Node> = ["a", "b"]
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
                env: &[],
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
    // Tokens made on node a open the room on node b: the nodes derive one
    // signing secret from the cluster secret.
    let (a, b) = (&nodes[0].api, &nodes[1].api);
    let grant = |grants: Value| {
        let (status, issued) = a.call(
            "POST",
            "/v1/tokens",
            Some(json!({"room": "relay", "identity": "stage-cam", "grants": grants})),
        );
        assert_eq!(status, 200, "{issued}");
        issued["token"].as_str().unwrap().to_string()
    };
    let argument = json!({
        "room": "relay", "publishToken": grant(json!({"publish": true})),
        "playToken": grant(json!({"subscribe": true})),
        "whipOrigin": format!("http://{}", a.addr), "whepOrigins": [format!("http://{}", b.addr)],
        "holdMs": 4000,
    })
    .to_string();
    let origin = format!("http://{}", a.addr);
    let report = std::panic::catch_unwind(|| run_scenario(&origin, "whip-whep", Some(&argument)));
    let report = match report {
        Ok(report) => report,
        Err(panic) => {
            for node in &nodes {
                eprintln!("==== {} ====\n{}", node.id, node.log());
            }
            std::panic::resume_unwind(panic);
        }
    };
    for player in report["players"].as_array().unwrap() {
        assert_eq!(player["video"]["frameWidth"], 640, "{player}");
    }
    // Both nodes name the same router for the room, and the view of the
    // room from node a shows node b's players.
    let router_on = |server: &TestServer| {
        let (_, list) = server.call("GET", "/v1/rooms", None);
        list[0]["routerId"].clone()
    };
    assert_eq!(router_on(a), router_on(b));
    let view = &report["roomView"];
    let nodes_seen: Vec<&str> = view["participants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["node"].as_str().unwrap())
        .collect();
    assert!(
        nodes_seen.contains(&"a") && nodes_seen.contains(&"b"),
        "{view}"
    );
}

/// A self-signed certificate for 127.0.0.1, made with openssl as
/// `scripts/run.sh --tls` makes one.
fn self_signed(dir: &std::path::Path) -> (String, String) {
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    let status = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
        ])
        .args(["-nodes", "-days", "2", "-subj", "/CN=troupe-test"])
        .args(["-addext", "subjectAltName=IP:127.0.0.1"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stderr(std::process::Stdio::null())
        .status()
        .expect("openssl runs (scripts/test.sh installs it)");
    assert!(status.success());
    (cert.display().to_string(), key.display().to_string())
}

#[test]
fn the_api_and_standard_clients_work_over_https() {
    let _call = one_call_at_a_time();
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = self_signed(dir.path());
    let server = server(&[("tls_certificate", &cert), ("tls_private_key", &key)]);
    let base = format!("https://{}", server.addr);
    let status_of = |url: &str, extra: &[&str]| {
        let mut args = vec!["-o", "/dev/null", "-w", "%{http_code}"];
        args.extend_from_slice(extra);
        args.push(url);
        curl(&args)
    };
    let health = status_of(&format!("{base}/v1/health"), &["--cacert", &cert]);
    assert_eq!(health, "200");
    // Plain HTTP on the same port gets no answer.
    let plain = status_of(&format!("http://{}/v1/health", server.addr), &[]);
    assert_ne!(plain, "200");
    // The demo page and its bundle are there over HTTPS too.
    let page = status_of(&format!("{base}/"), &["--cacert", &cert]);
    assert_eq!(page, "200");
    let publish = token_over(&cert, &base, "secure", json!({"publish": true}));
    let play = token_over(&cert, &base, "secure", json!({"subscribe": true}));
    let argument = json!({
        "room": "secure", "publishToken": publish, "playToken": play,
        "whipOrigin": base, "whepOrigins": [base], "adminToken": ADMIN, "holdMs": 2000,
    })
    .to_string();
    let report = run_scenario(&base, "whip-whep", Some(&argument));
    for player in report["players"].as_array().unwrap() {
        assert_eq!(player["video"]["frameWidth"], 640, "{player}");
    }
}

fn token_over(cert: &str, base: &str, room: &str, grants: Value) -> String {
    let auth = format!("Authorization: Bearer {ADMIN}");
    let body = json!({"room": room, "identity": "tls", "grants": grants}).to_string();
    let url = format!("{base}/v1/tokens");
    let answer = curl(&[
        "--cacert",
        cert,
        "-X",
        "POST",
        "-H",
        &auth,
        "-H",
        "Content-Type: application/json",
        "-d",
        &body,
        &url,
    ]);
    let issued: Value = serde_json::from_str(&answer).expect("a token");
    issued["token"].as_str().unwrap().to_string()
}

/// curl, quiet and bounded in time; its output as text.
fn curl(args: &[&str]) -> String {
    let output = std::process::Command::new("curl")
        .args(["-s", "--max-time", "5"])
        .args(args)
        .output()
        .expect("curl runs (scripts/test.sh installs it)");
    String::from_utf8_lossy(&output.stdout).to_string()
}

#[test]
fn gstreamer_publishes_through_whip_and_a_browser_plays_it_through_whep() {
    let _call = one_call_at_a_time();
    let server = server(&[]);
    let base = format!("http://{}", server.addr);
    let publish = token(&server, "native", "gstreamer", json!({"publish": true}));
    let play = token(&server, "native", "viewer", json!({"subscribe": true}));
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/gstreamer/whip_publish.py"
    );
    let url = format!("{base}/v1/rooms/native/whip");
    let publisher = std::thread::spawn(move || {
        std::process::Command::new("/usr/bin/python3")
            .args([script, &url, &publish, "20"])
            .output()
            .expect("python3 runs (scripts/test.sh installs python3-gi and GStreamer's webrtcbin)")
    });
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while room_view_or_none(&server, "native")
        .is_none_or(|v| v["producers"].as_array().map_or(0, Vec::len) < 2)
    {
        assert!(
            std::time::Instant::now() < deadline,
            "GStreamer did not publish"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    let argument = json!({
        "room": "native", "playToken": play, "whipOrigin": base, "whepOrigins": [base],
        "adminToken": ADMIN, "holdMs": 3000,
    })
    .to_string();
    let report = run_scenario(&base, "whip-whep", Some(&argument));
    for player in report["players"].as_array().unwrap() {
        assert_eq!(player["video"]["frameWidth"], 640, "{player}");
        assert_eq!(player["video"]["codec"], "video/VP8");
        assert_eq!(player["audio"]["codec"], "audio/opus");
    }
    let view = &report["roomView"];
    assert!(view["producers"]
        .as_array()
        .unwrap()
        .iter()
        .all(|p| p["identity"] == "gstreamer"));
    let output = publisher.join().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let result: Value =
        serde_json::from_str(stdout.lines().last().unwrap_or("{}")).unwrap_or_else(|_| {
            panic!(
                "no report: {stdout} {}",
                String::from_utf8_lossy(&output.stderr)
            )
        });
    assert_eq!(result["ok"], true, "{result}");
    assert_eq!(result["deleted"], 200);
}

fn room_view_or_none(server: &TestServer, room: &str) -> Option<Value> {
    let (status, view) =
        server.call_with_token("GET", &format!("/v1/rooms/{room}"), None, Some(ADMIN));
    (status == 200).then_some(view)
}
