//! `GET /v1/rooms/{room}/ws?token=`: the room WebSocket a browser joins
//! with a room token and no application server. JSON requests
//! `{id, method, data}` drive mediasoup-client's flow (transports, produce,
//! consume, data channels) and get `{id, ok, data | error}`; notifications
//! `{notification, data}` tell of the room (peers, producers) and of the
//! peer's own objects (`producerclose`, `layerschange`, ...). A peer acts
//! only on what it made, within its token's grants; when the socket
//! closes, everything it made closes.

use std::collections::BTreeSet;
use std::sync::Arc;

use actix_web::{web, HttpRequest, HttpResponse};
use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::broadcast::error::RecvError;
use troupe_actors::consumer::PreferredLayers;
use troupe_actors::data_parameters::{DataConsumeRequest, DataProduceRequest};
use troupe_actors::rtp_parameters::{MediaKind, RtpCapabilities, RtpParameters};
use troupe_actors::topology::Topology;
use troupe_actors::transport::{
    ConnectRequest, ConsumeRequest, DtlsParameters, NumSctpStreams, ProduceRequest,
    WebRtcConnectRequest, WebRtcTransportOptions,
};
use troupe_actors::ObjectKind;
use troupe_cluster::RoomRecord;

use crate::api::caller::{forbidden, Caller};
use crate::api::error::{ApiError, ApiResult, ErrorBody};
use crate::api::room_book::{unix_ms, Participant, Session, SessionKind};
use crate::api::rooms::{cluster_view, local_view};
use crate::api::AppState;
use crate::room_tokens::Grant;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/v1/rooms/{room}/ws", web::get().to(room_socket));
}

/// What one peer may make: a browser needs two transports and a few
/// tracks; these bounds keep a misbehaving page from filling the node.
const MAX_TRANSPORTS: usize = 4;
const MAX_PRODUCERS: usize = 16;
const MAX_CONSUMERS: usize = 512;
/// The largest request taken, bytes (a simulcast `produce` is ~4 KB).
const MAX_MESSAGE: usize = 64 * 1024;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct SocketQuery {
    /// A room token (browsers cannot set headers on a WebSocket); the
    /// `Authorization` header works too. The middleware reads it.
    #[allow(dead_code)]
    pub token: Option<String>,
    /// The name to go by, for a caller without a room token (the admin, or
    /// anyone on a loopback node); a token's identity wins. 1-64 characters.
    pub name: Option<String>,
}

/// Joins a room over a WebSocket (see the module's protocol).
#[utoipa::path(get, path = "/v1/rooms/{room}/ws", tag = "rooms", params(("room" = String, Path, description = "the room name", pattern = "^[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}$", min_length = 1, max_length = 64), SocketQuery),
    responses((status = 101, description = "WebSocket upgrade; JSON requests and notifications (docs/rooms.md)"),
              (status = 400, body = ErrorBody, description = "not a WebSocket upgrade"),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn room_socket(
    state: web::Data<AppState>,
    caller: Caller,
    request: HttpRequest,
    room: web::Path<String>,
    query: web::Query<SocketQuery>,
    body: web::Payload,
) -> ApiResult<HttpResponse> {
    let room = room.into_inner();
    let chosen_name = query
        .into_inner()
        .name
        .filter(|n| (1..=64).contains(&n.chars().count()));
    if caller.may(&room, Grant::Subscribe).is_err() {
        caller.may(&room, Grant::Publish)?;
    }
    state.accepting()?;
    let (record, _) = state.cluster.open_room(&room, None).await?;
    state.cluster.ensure_router(&record.router_id).await?;
    let (response, session, incoming) = actix_ws::handle(&request, body)
        .map_err(|e| ApiError::invalid("", format!("not a WebSocket upgrade: {e}")))?;
    let peer = Peer {
        id: format!(
            "{}~peer-{:012x}",
            state.cluster.node_id(),
            rand::random::<u64>() >> 16
        ),
        identity: caller
            .identity()
            .map(str::to_string)
            .or(chosen_name)
            .unwrap_or_else(|| "admin".into()),
        caller,
        record,
        state: state.into_inner(),
        owned: Owned::default(),
    };
    actix_web::rt::spawn(peer.run(session, incoming));
    Ok(response)
}

#[derive(Default)]
struct Owned {
    transports: BTreeSet<String>,
    producers: BTreeSet<String>,
    consumers: BTreeSet<String>,
    data_producers: BTreeSet<String>,
    data_consumers: BTreeSet<String>,
}

impl Owned {
    fn contains(&self, id: &str) -> bool {
        [
            &self.transports,
            &self.producers,
            &self.consumers,
            &self.data_producers,
            &self.data_consumers,
        ]
        .iter()
        .any(|set| set.contains(id))
    }

    /// Forgets what closed without the peer asking (a transport whose ICE
    /// consent lapsed, its producers and consumers), so the bounds count
    /// only live objects and a peer may reconnect.
    fn forget_closed(&mut self, topology: &Topology) {
        self.transports.retain(|id| topology.transport(id).is_ok());
        self.producers.retain(|id| topology.producer(id).is_ok());
        self.consumers.retain(|id| topology.consumer(id).is_ok());
        self.data_producers
            .retain(|id| topology.data_producer(id).is_ok());
        self.data_consumers
            .retain(|id| topology.data_consumer(id).is_ok());
    }
}

struct Peer {
    id: String,
    identity: String,
    caller: Caller,
    record: RoomRecord,
    state: Arc<AppState>,
    owned: Owned,
}

#[derive(Deserialize)]
struct Request {
    id: Value,
    method: String,
    #[serde(default)]
    data: Value,
}

impl Peer {
    async fn run(mut self, mut session: actix_ws::Session, incoming: actix_ws::MessageStream) {
        let mut incoming = incoming.max_frame_size(MAX_MESSAGE);
        self.state.room_book.add_session(Session {
            participant: Participant {
                id: self.id.clone(),
                room: self.record.name.clone(),
                identity: self.identity.clone(),
                kind: SessionKind::Websocket,
                node: self.state.cluster.node_id().to_string(),
                created_at_ms: unix_ms(),
            },
            ice: None,
        });
        let first = local_view(&self.state, &self.record);
        let mut room_events =
            self.state
                .room_watches
                .subscribe(self.state.clone(), &self.record, first);
        let mut object_events = self.state.node().events().subscribe();
        loop {
            tokio::select! {
                message = incoming.next() => {
                    let text = match message {
                        Some(Ok(actix_ws::Message::Text(text))) => text.to_string(),
                        Some(Ok(actix_ws::Message::Ping(bytes))) => {
                            if session.pong(&bytes).await.is_err() { break; }
                            continue;
                        }
                        Some(Ok(actix_ws::Message::Close(_))) | None | Some(Err(_)) => break,
                        Some(Ok(_)) => continue,
                    };
                    let answer = self.answer(&text).await;
                    let leaving = answer.get("left").is_some();
                    if session.text(answer.to_string()).await.is_err() || leaving {
                        break;
                    }
                }
                event = room_events.recv() => {
                    let text = match event {
                        // Its own arrival is no news to a peer.
                        Ok(e) if e["data"]["id"] == self.id.as_str() => continue,
                        Ok(e) => e.to_string(),
                        Err(RecvError::Lagged(missed)) => json!({"notification": "lagged", "data": {"missed": missed}}).to_string(),
                        Err(RecvError::Closed) => break,
                    };
                    if session.text(text).await.is_err() { break; }
                }
                event = object_events.recv() => {
                    let text = match event {
                        Ok(n) if self.owned.contains(&n.target_id) => {
                            json!({"notification": n.event, "data": {"id": n.target_id, "kind": n.target_kind, "data": n.data}}).to_string()
                        }
                        Ok(_) => continue,
                        Err(RecvError::Lagged(missed)) => json!({"notification": "lagged", "data": {"missed": missed}}).to_string(),
                        Err(RecvError::Closed) => break,
                    };
                    if session.text(text).await.is_err() { break; }
                }
            }
        }
        self.leave();
        let _ = session.close(None).await;
    }

    fn leave(&mut self) {
        for transport in std::mem::take(&mut self.owned.transports) {
            let _ = self.state.node().close(ObjectKind::Transport, &transport);
        }
        self.state.room_book.remove_session(&self.id);
    }

    async fn answer(&mut self, text: &str) -> Value {
        let request: Request = match serde_json::from_str(text) {
            Ok(r) => r,
            Err(e) => {
                self.state.api_metrics.refused_offers.inc();
                return json!({"id": null, "ok": false, "error": {"code": "invalid_parameter", "message": format!("not a request {{id, method, data}}: {e}")}});
            }
        };
        match self.handle(&request.method, request.data).await {
            Ok(Some(data)) => json!({"id": request.id, "ok": true, "data": data}),
            Ok(None) => json!({"id": request.id, "ok": true, "left": true}),
            Err(e) => {
                json!({"id": request.id, "ok": false, "error": {"code": e.code, "message": e.message}})
            }
        }
    }

    /// One request; `None` for `leave`.
    async fn handle(&mut self, method: &str, data: Value) -> ApiResult<Option<Value>> {
        let state = self.state.clone();
        let node = state.node();
        self.owned.forget_closed(node.topology());
        let room = self.record.name.clone();
        let ok = |v: Value| Ok(Some(v));
        match method {
            "join" => {
                let capabilities = node
                    .router_dump(&self.record.router_id)
                    .await?
                    .rtp_capabilities;
                let view = cluster_view(
                    &state,
                    &self.record,
                    state.api_token.as_ref().map(|t| format!("Bearer {t}")),
                )
                .await;
                ok(json!({
                    "peerId": self.id, "identity": self.identity, "room": room,
                    "routerRtpCapabilities": capabilities,
                    "peers": view.participants.iter().filter(|p| p.id != self.id).collect::<Vec<_>>(),
                    "producers": view.producers, "dataProducers": view.data_producers,
                }))
            }
            "leave" => Ok(None),
            "createTransport" => {
                #[derive(Deserialize)]
                #[serde(rename_all = "camelCase", deny_unknown_fields)]
                struct Create {
                    #[serde(default)]
                    sctp: bool,
                    #[serde(default)]
                    force_tcp: bool,
                }
                let create: Create = parse(data)?;
                if self.owned.transports.len() >= MAX_TRANSPORTS {
                    return Err(too_many("transports", MAX_TRANSPORTS));
                }
                state.accepting()?;
                let created = node
                    .create_webrtc_transport(
                        &self.record.router_id,
                        WebRtcTransportOptions {
                            enable_udp: Some(!create.force_tcp),
                            enable_sctp: Some(create.sctp),
                            num_sctp_streams: create.sctp.then_some(NumSctpStreams { os: 1024, mis: 1024 }),
                            app_data: json!({"room": room, "identity": self.identity, "peerId": self.id}),
                            ..Default::default()
                        },
                    )
                    .await?;
                self.owned.transports.insert(created.id.clone());
                ok(serde_json::to_value(created).unwrap_or_default())
            }
            "connectTransport" => {
                #[derive(Deserialize)]
                #[serde(rename_all = "camelCase", deny_unknown_fields)]
                struct Connect {
                    transport_id: String,
                    dtls_parameters: DtlsParameters,
                }
                let connect: Connect = parse(data)?;
                self.own(&self.owned.transports, &connect.transport_id)?;
                node.connect_transport(
                    &connect.transport_id,
                    ConnectRequest::WebRtc(WebRtcConnectRequest {
                        dtls_parameters: connect.dtls_parameters,
                    }),
                )
                .await?;
                ok(json!({}))
            }
            "restartIce" => {
                let id: TransportRef = parse(data)?;
                self.own(&self.owned.transports, &id.transport_id)?;
                ok(json!({"iceParameters": node.restart_ice(&id.transport_id).await?}))
            }
            "produce" => {
                self.caller.may(&room, Grant::Publish)?;
                #[derive(Deserialize)]
                #[serde(rename_all = "camelCase", deny_unknown_fields)]
                struct Produce {
                    transport_id: String,
                    kind: MediaKind,
                    rtp_parameters: RtpParameters,
                    #[serde(default)]
                    paused: bool,
                    #[serde(default)]
                    app_data: Value,
                }
                let produce: Produce = parse(data)?;
                self.own(&self.owned.transports, &produce.transport_id)?;
                if self.owned.producers.len() >= MAX_PRODUCERS {
                    return Err(too_many("producers", MAX_PRODUCERS));
                }
                let created = node
                    .produce(
                        &produce.transport_id,
                        ProduceRequest {
                            id: None,
                            kind: produce.kind,
                            rtp_parameters: produce.rtp_parameters,
                            paused: produce.paused,
                            app_data: json!({"room": room, "identity": self.identity, "peerId": self.id, "app": produce.app_data}),
                        },
                    )
                    .await?;
                state
                    .room_book
                    .add_producer(&created.id, &room, &self.identity, &self.id);
                self.owned.producers.insert(created.id.clone());
                ok(json!({"id": created.id}))
            }
            "consume" => {
                self.caller.may(&room, Grant::Subscribe)?;
                #[derive(Deserialize)]
                #[serde(rename_all = "camelCase", deny_unknown_fields)]
                struct Consume {
                    transport_id: String,
                    producer_id: String,
                    rtp_capabilities: RtpCapabilities,
                    #[serde(default)]
                    preferred_layers: Option<PreferredLayers>,
                }
                let consume: Consume = parse(data)?;
                self.own(&self.owned.transports, &consume.transport_id)?;
                if self.owned.consumers.len() >= MAX_CONSUMERS {
                    return Err(too_many("consumers", MAX_CONSUMERS));
                }
                state
                    .cluster
                    .ensure_producer(&self.record.router_id, &consume.producer_id)
                    .await?;
                // Paused until the page has it wired: `resumeConsumer`.
                let created = node
                    .consume(
                        &consume.transport_id,
                        ConsumeRequest {
                            producer_id: consume.producer_id,
                            rtp_capabilities: consume.rtp_capabilities,
                            paused: true,
                            preferred_layers: consume.preferred_layers,
                            enable_rtx: None,
                            app_data: json!({"peerId": self.id}),
                            mid: None,
                        },
                    )
                    .await?;
                self.owned.consumers.insert(created.id.clone());
                ok(serde_json::to_value(created).unwrap_or_default())
            }
            "pauseProducer" | "resumeProducer" | "closeProducer" => {
                let id: ObjectRef = parse(data)?;
                self.own(&self.owned.producers, &id.id)?;
                match method {
                    "closeProducer" => {
                        node.close(ObjectKind::Producer, &id.id)?;
                        self.owned.producers.remove(&id.id);
                    }
                    _ => {
                        node.producer_pause(&id.id, method == "pauseProducer")
                            .await?
                    }
                }
                ok(json!({}))
            }
            "pauseConsumer" | "resumeConsumer" | "closeConsumer" => {
                let id: ObjectRef = parse(data)?;
                self.own(&self.owned.consumers, &id.id)?;
                match method {
                    "closeConsumer" => {
                        node.close(ObjectKind::Consumer, &id.id)?;
                        self.owned.consumers.remove(&id.id);
                    }
                    _ => {
                        node.consumer_pause(&id.id, method == "pauseConsumer")
                            .await?
                    }
                }
                ok(json!({}))
            }
            "setPreferredLayers" => {
                #[derive(Deserialize)]
                #[serde(rename_all = "camelCase", deny_unknown_fields)]
                struct Layers {
                    id: String,
                    preferred_layers: PreferredLayers,
                }
                let layers: Layers = parse(data)?;
                self.own(&self.owned.consumers, &layers.id)?;
                node.consumer_set_preferred_layers(&layers.id, layers.preferred_layers)
                    .await?;
                ok(json!({}))
            }
            "produceData" => {
                self.caller.may(&room, Grant::Data)?;
                #[derive(Deserialize)]
                #[serde(rename_all = "camelCase")]
                struct ProduceData {
                    transport_id: String,
                    #[serde(flatten)]
                    request: DataProduceRequest,
                }
                let produce: ProduceData = parse(data)?;
                self.own(&self.owned.transports, &produce.transport_id)?;
                if produce.request.id.is_some() {
                    return Err(ApiError::invalid("id", "ids are the server's to give"));
                }
                if self.owned.data_producers.len() >= MAX_PRODUCERS {
                    return Err(too_many("data producers", MAX_PRODUCERS));
                }
                let created = node
                    .produce_data(&produce.transport_id, produce.request)
                    .await?;
                state
                    .room_book
                    .add_producer(&created.id, &room, &self.identity, &self.id);
                self.owned.data_producers.insert(created.id.clone());
                ok(serde_json::to_value(created).unwrap_or_default())
            }
            "consumeData" => {
                self.caller.may(&room, Grant::Data)?;
                #[derive(Deserialize)]
                #[serde(rename_all = "camelCase")]
                struct ConsumeData {
                    transport_id: String,
                    #[serde(flatten)]
                    request: DataConsumeRequest,
                }
                let consume: ConsumeData = parse(data)?;
                self.own(&self.owned.transports, &consume.transport_id)?;
                if self.owned.data_consumers.len() >= MAX_CONSUMERS {
                    return Err(too_many("data consumers", MAX_CONSUMERS));
                }
                state
                    .cluster
                    .ensure_data_producer(&self.record.router_id, &consume.request.data_producer_id)
                    .await?;
                let created = node
                    .consume_data(&consume.transport_id, consume.request)
                    .await?;
                self.owned.data_consumers.insert(created.id.clone());
                ok(serde_json::to_value(created).unwrap_or_default())
            }
            "getStats" => {
                let id: ObjectRef = parse(data)?;
                if self.owned.transports.contains(&id.id) {
                    ok(serde_json::to_value(node.transport_stats(&id.id).await?)
                        .unwrap_or_default())
                } else if self.owned.consumers.contains(&id.id) {
                    ok(
                        serde_json::to_value(node.consumer_stats(&id.id).await?)
                            .unwrap_or_default(),
                    )
                } else {
                    self.own(&self.owned.producers, &id.id)?;
                    ok(
                        serde_json::to_value(node.producer_stats(&id.id).await?)
                            .unwrap_or_default(),
                    )
                }
            }
            other => Err(ApiError::invalid(
                "method",
                format!("unknown method {other:?}"),
            )),
        }
    }

    fn own(&self, set: &BTreeSet<String>, id: &str) -> ApiResult<()> {
        if set.contains(id) {
            Ok(())
        } else {
            Err(forbidden(format!("{id} is not one of this peer's")))
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct TransportRef {
    transport_id: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ObjectRef {
    id: String,
}

fn parse<T: serde::de::DeserializeOwned>(data: Value) -> ApiResult<T> {
    serde_path_to_error::deserialize(data).map_err(|e| {
        let path = e.path().to_string();
        ApiError::invalid(
            if path == "." { String::new() } else { path },
            e.inner().to_string(),
        )
    })
}

fn too_many(what: &str, limit: usize) -> ApiError {
    ApiError::new(
        actix_web::http::StatusCode::TOO_MANY_REQUESTS,
        "too_many",
        format!("a peer has at most {limit} {what}"),
    )
}
