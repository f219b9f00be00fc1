//! The room WebSocket: browsers join a room by name with a room token, no
//! application server. The demo room page (troupe-client over
//! mediasoup-client) in headless Chromium, with a WHIP publisher and a WHEP
//! player in the same room; and the protocol's refusals with a plain
//! WebSocket client.

mod common;

use std::time::Duration;

use common::browser::{demo_dir, run_scenario};
use common::{config, TestServer};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

const ADMIN: &str = "admin-token-for-room-tests";

fn server() -> TestServer {
    let demo = demo_dir();
    TestServer::start(config(&[("api_token", ADMIN), ("demo_dir", demo.as_str())]))
}

fn token(server: &TestServer, room: &str, identity: &str, grants: Value) -> String {
    let (status, issued) = server.call_with_token(
        "POST",
        "/v1/tokens",
        Some(json!({"room": room, "identity": identity, "grants": grants})),
        Some(ADMIN),
    );
    assert_eq!(status, 200, "{issued}");
    issued["token"].as_str().unwrap().to_string()
}

#[test]
fn browsers_join_a_room_by_name_with_tokens_and_see_each_other() {
    let server = server();
    let origin = format!("http://{}", server.addr);
    let everything = json!({"publish": true, "subscribe": true, "data": true});
    let argument = json!({
        "origin": origin, "room": "lounge",
        "alice": token(&server, "lounge", "alice", everything.clone()),
        "bob": token(&server, "lounge", "bob", everything),
        "whipToken": token(&server, "lounge", "obs", json!({"publish": true})),
        "whepToken": token(&server, "lounge", "player", json!({"subscribe": true})),
        "adminToken": ADMIN,
    })
    .to_string();
    let report = run_scenario(&origin, "room-page", Some(&argument));
    for tile in [
        &report["seen"]["aliceSeesBob"],
        &report["seen"]["bobSeesAlice"],
    ] {
        assert_eq!(tile["stats"]["frameWidth"], 640, "{tile}");
        let overlay = tile["overlay"].as_str().unwrap();
        assert!(
            overlay.contains("640x480") && overlay.contains("kb/s"),
            "{overlay}"
        );
    }
    assert_eq!(report["whipSeen"]["stats"]["frameWidth"], 640);
    assert_eq!(
        report["whep"]["video"]["frameWidth"], 640,
        "{}",
        report["whep"]
    );
    let identities: Vec<&str> = report["view"]["participants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["identity"].as_str().unwrap())
        .collect();
    for who in ["alice", "bob", "obs"] {
        assert!(identities.contains(&who), "{who} not in {identities:?}");
    }
    // The room named its speakers (both pages' fake microphones beep).
    let speakers = report["speakers"].as_array().unwrap();
    assert!(
        speakers.iter().any(|s| s == "alice" || s == "bob"),
        "{speakers:?}"
    );
}

/// A WebSocket client speaking the room protocol.
struct Peer {
    socket: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
    next: u64,
    notifications: Vec<Value>,
}

impl Peer {
    async fn join(server: &TestServer, room: &str, token: &str) -> Peer {
        let url = format!("ws://{}/v1/rooms/{room}/ws?token={token}", server.addr);
        let (socket, _) = tokio_tungstenite::connect_async(url)
            .await
            .expect("the socket opens");
        Peer {
            socket,
            next: 1,
            notifications: Vec::new(),
        }
    }

    async fn send_text(&mut self, text: String) -> Value {
        self.socket.send(Message::text(text)).await.unwrap();
        loop {
            let message = tokio::time::timeout(Duration::from_secs(10), self.socket.next())
                .await
                .expect("an answer within 10 s")
                .expect("the socket stays open")
                .unwrap();
            let value: Value = serde_json::from_str(message.to_text().unwrap()).unwrap();
            if value.get("notification").is_some() {
                self.notifications.push(value);
                continue;
            }
            return value;
        }
    }

    async fn request(&mut self, method: &str, data: Value) -> Value {
        let id = self.next;
        self.next += 1;
        let answer = self
            .send_text(json!({"id": id, "method": method, "data": data}).to_string())
            .await;
        assert_eq!(answer["id"], id, "{answer}");
        answer
    }

    /// Waits for a notification, reading the socket for up to `limit`.
    async fn notification(&mut self, name: &str, limit: Duration) -> Value {
        if let Some(found) = self
            .notifications
            .iter()
            .find(|n| n["notification"] == name)
        {
            return found.clone();
        }
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let message = tokio::time::timeout_at(deadline, self.socket.next())
                .await
                .unwrap_or_else(|_| panic!("no {name} within {limit:?}: {:?}", self.notifications))
                .unwrap()
                .unwrap();
            let value: Value = serde_json::from_str(message.to_text().unwrap()).unwrap();
            if value["notification"] == name {
                return value;
            }
            self.notifications.push(value);
        }
    }
}

#[test]
fn the_room_socket_keeps_peers_to_their_grants_and_their_own_objects() {
    let server = server();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let viewer_token = token(&server, "hall", "viewer", json!({"subscribe": true}));
    let speaker_token = token(
        &server,
        "hall",
        "speaker",
        json!({"publish": true, "subscribe": true}),
    );
    let other_room = token(&server, "elsewhere", "x", json!({"publish": true}));
    runtime.block_on(async {
        // A token for another room, or none, opens no socket.
        for bad in [other_room.as_str(), "garbage", ""] {
            let url = format!("ws://{}/v1/rooms/hall/ws?token={bad}", server.addr);
            let refused = tokio_tungstenite::connect_async(url).await;
            assert!(refused.is_err(), "{bad:?} opened a socket");
        }
        let mut speaker = Peer::join(&server, "hall", &speaker_token).await;
        let joined = speaker.request("join", json!({})).await;
        assert_eq!(joined["ok"], true, "{joined}");
        assert_eq!(joined["data"]["identity"], "speaker");
        assert!(joined["data"]["routerRtpCapabilities"]["codecs"].is_array());
        let mut viewer = Peer::join(&server, "hall", &viewer_token).await;
        viewer.request("join", json!({})).await;
        // The speaker hears of the viewer.
        let arrived = speaker.notification("peerJoined", Duration::from_secs(5)).await;
        assert_eq!(arrived["data"]["identity"], "viewer", "{arrived}");

        let transport = speaker.request("createTransport", json!({})).await;
        assert_eq!(transport["ok"], true, "{transport}");
        let transport_id = transport["data"]["id"].as_str().unwrap().to_string();
        // A viewer may not publish, nor touch the speaker's transport.
        let refused = viewer
            .request("produce", json!({"transportId": transport_id, "kind": "audio", "rtpParameters": {"codecs": []}}))
            .await;
        assert_eq!(refused["error"]["code"], "forbidden", "{refused}");
        let viewer_transport = viewer.request("createTransport", json!({})).await;
        let viewer_transport_id = viewer_transport["data"]["id"].as_str().unwrap().to_string();
        let foreign = viewer.request("restartIce", json!({"transportId": transport_id})).await;
        assert_eq!(foreign["error"]["code"], "forbidden", "{foreign}");
        // Bad requests are answered, and the socket carries on.
        let unknown = viewer.request("fly", json!({})).await;
        assert_eq!(unknown["error"]["code"], "invalid_parameter");
        let garbled = viewer.send_text("{not json".into()).await;
        assert_eq!(garbled["ok"], false);
        let wrong_shape = viewer.request("connectTransport", json!({"transportId": 7})).await;
        assert_eq!(wrong_shape["error"]["code"], "invalid_parameter", "{wrong_shape}");
        // The speaker publishes (plain parameters, as a client would send).
        let produced = speaker
            .request(
                "produce",
                json!({"transportId": transport_id, "kind": "audio", "rtpParameters": {
                    "mid": "0",
                    "codecs": [{"mimeType": "audio/opus", "payloadType": 111, "clockRate": 48000, "channels": 2}],
                    "encodings": [{"ssrc": 11111111}], "rtcp": {"cname": "speaker"}}}),
            )
            .await;
        assert_eq!(produced["ok"], true, "{produced}");
        let producer_id = produced["data"]["id"].as_str().unwrap().to_string();
        let announced = viewer.notification("newProducer", Duration::from_secs(5)).await;
        assert_eq!(announced["data"]["id"], producer_id.as_str());
        assert_eq!(announced["data"]["identity"], "speaker");
        let capabilities = joined["data"]["routerRtpCapabilities"].clone();
        let consumed = viewer
            .request("consume", json!({"transportId": viewer_transport_id, "producerId": producer_id, "rtpCapabilities": capabilities}))
            .await;
        assert_eq!(consumed["ok"], true, "{consumed}");
        assert_eq!(consumed["data"]["paused"], true, "consumers start paused until resumed");
        // The speaker's socket closes: everything it made closes, and the
        // viewer hears of it (its consumer's producerclose, the room's news).
        speaker.socket.close(None).await.unwrap();
        viewer.notification("producerclose", Duration::from_secs(5)).await;
        viewer.notification("producerClosed", Duration::from_secs(5)).await;
        viewer.notification("peerLeft", Duration::from_secs(5)).await;
        let (_, gone) = tokio::task::block_in_place(|| {
            server.call_with_token("GET", &format!("/v1/transports/{transport_id}"), None, Some(ADMIN))
        });
        assert_eq!(gone["error"]["code"], "not_found", "{gone}");
        // At most 4 transports a peer; one closed elsewhere (an ICE
        // timeout, an admin) no longer counts.
        let mut extra = Vec::new();
        for _ in 0..3 {
            let made = viewer.request("createTransport", json!({})).await;
            extra.push(made["data"]["id"].as_str().unwrap().to_string());
        }
        let fifth = viewer.request("createTransport", json!({})).await;
        assert_eq!(fifth["error"]["code"], "too_many", "{fifth}");
        let closed = tokio::task::block_in_place(|| {
            server.call_with_token("DELETE", &format!("/v1/transports/{}", extra[0]), None, Some(ADMIN))
        });
        assert_eq!(closed.0, 204);
        let again = viewer.request("createTransport", json!({})).await;
        assert_eq!(again["ok"], true, "{again}");
        let left = viewer.request("leave", json!({})).await;
        assert_eq!(left["ok"], true);
    });
    let (_, view) = server.call_with_token("GET", "/v1/rooms/hall", None, Some(ADMIN));
    assert_eq!(view["participants"], json!([]), "{view}");
}

#[test]
fn on_a_loopback_node_anyone_joins_by_name_without_a_token() {
    let server = TestServer::start(config(&[]));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let url = format!("ws://{}/v1/rooms/open-house/ws?name=carol", server.addr);
        let (socket, _) = tokio_tungstenite::connect_async(url).await.expect("opens");
        let mut carol = Peer {
            socket,
            next: 1,
            notifications: Vec::new(),
        };
        let joined = carol.request("join", json!({})).await;
        assert_eq!(joined["data"]["identity"], "carol", "{joined}");
        assert_eq!(joined["data"]["room"], "open-house");
    });
    // The page itself is the room page, served with no token.
    let (status, page) = server.call("GET", "/", None);
    assert_eq!(status, 200);
    assert!(page.as_str().unwrap_or_default().contains("Troupe room"));
}
