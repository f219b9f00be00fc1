//! Rooms by name and the tokens that open them: `POST /v1/rooms`,
//! `GET /v1/rooms[/{name}]`, `DELETE /v1/rooms/{name}`, `POST /v1/tokens`.
//! A room's view gathers every node's part: each node knows its own
//! sessions and producers.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use troupe_actors::rtp_parameters::{MediaKind, RtpCodecCapability};
use troupe_cluster::RoomRecord;
use utoipa::ToSchema;

use crate::api::caller::{forbidden, Caller};
use crate::api::error::{ApiError, ApiResult, ErrorBody};
use crate::api::json_body::JsonBody;
use crate::api::relay::RELAYED_HEADER;
use crate::api::room_book::Participant;
use crate::api::{AppState, State};
use crate::room_tokens::{Grant, Grants, MAX_TTL_SECS};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/v1/rooms", web::post().to(open_room))
        .route("/v1/rooms", web::get().to(list_rooms))
        .route("/v1/rooms/{name}", web::get().to(get_room))
        .route("/v1/rooms/{name}", web::delete().to(close_room))
        .route("/v1/tokens", web::post().to(issue_token));
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OpenRoomRequest {
    /// 1-64 letters, digits, `-`, `_`, `.`.
    #[schema(
        min_length = 1,
        max_length = 64,
        pattern = "^[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}$"
    )]
    pub name: String,
    /// The room's codecs when it is made now; opus, VP8, VP9 and H264 when
    /// absent. An existing room keeps its own.
    #[serde(default)]
    #[schema(min_items = 1)]
    pub media_codecs: Option<Vec<RtpCodecCapability>>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RoomSummary {
    pub name: String,
    pub router_id: String,
}

impl From<RoomRecord> for RoomSummary {
    fn from(r: RoomRecord) -> Self {
        RoomSummary {
            name: r.name,
            router_id: r.router_id,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RoomProducer {
    pub id: String,
    pub kind: MediaKind,
    /// Where it is produced.
    pub node: String,
    /// Who produces it, when known (a session's token identity).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<String>,
    /// The session that made it (a participant's id), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<String>,
    pub paused: bool,
    /// When it was made (Unix ms; 0 when not made through a room session).
    pub created_at_ms: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RoomDetail {
    pub name: String,
    pub router_id: String,
    pub participants: Vec<Participant>,
    /// Newest first.
    pub producers: Vec<RoomProducer>,
    #[serde(default)]
    pub data_producers: Vec<RoomDataProducer>,
    /// The newest dominant speaker any node's room observer named.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_speaker: Option<ActiveSpeaker>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ActiveSpeaker {
    pub producer_id: String,
    /// When it became the speaker (Unix ms).
    pub since_ms: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RoomDataProducer {
    pub id: String,
    pub label: String,
    pub protocol: String,
    pub node: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<String>,
}

/// Opens a room: the router its name stands for on every node, made here
/// when the room has none yet.
#[utoipa::path(post, path = "/v1/rooms", tag = "rooms", request_body = OpenRoomRequest,
    responses((status = 201, body = RoomSummary, description = "made now"),
              (status = 200, body = RoomSummary, description = "the room existed"),
              (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 503, body = ErrorBody, description = "draining, or the room directory (etcd) is unreachable")))]
pub async fn open_room(
    state: State,
    caller: Caller,
    body: JsonBody<OpenRoomRequest>,
) -> ApiResult<HttpResponse> {
    state.accepting()?;
    let JsonBody(request) = body;
    caller.may(&request.name, Grant::Admin)?;
    // Checked whether or not the room exists: a request is wrong by itself,
    // not by whom it finds.
    if let Some(codecs) = &request.media_codecs {
        troupe_actors::ortc::generate_router_rtp_capabilities(codecs)
            .map_err(|e| ApiError::invalid(e.field, e.message))?;
    }
    let (record, created) = state
        .cluster
        .open_room(&request.name, request.media_codecs)
        .await?;
    let summary = RoomSummary::from(record);
    Ok(if created {
        HttpResponse::Created().json(summary)
    } else {
        HttpResponse::Ok().json(summary)
    })
}

/// Every room of the cluster.
#[utoipa::path(get, path = "/v1/rooms", tag = "rooms",
    responses((status = 200, body = Vec<RoomSummary>), (status = 503, body = ErrorBody)))]
pub async fn list_rooms(state: State) -> ApiResult<HttpResponse> {
    let rooms: Vec<RoomSummary> = state
        .cluster
        .rooms()
        .await?
        .into_iter()
        .map(RoomSummary::from)
        .collect();
    Ok(HttpResponse::Ok().json(rooms))
}

/// A room's participants and producers, on every node.
#[utoipa::path(get, path = "/v1/rooms/{name}", tag = "rooms", params(("name" = String, Path, description = "the room name", pattern = "^[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}$", min_length = 1, max_length = 64)),
    responses((status = 200, body = RoomDetail), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get_room(
    state: State,
    caller: Caller,
    request: HttpRequest,
    name: web::Path<String>,
) -> ApiResult<HttpResponse> {
    caller.may(&name, Grant::Subscribe)?;
    let record = existing_room(&state, &name).await?;
    let detail = if request.headers().contains_key(RELAYED_HEADER) {
        local_view(&state, &record)
    } else {
        cluster_view(&state, &record, authorization(&request)).await
    };
    Ok(HttpResponse::Ok().json(detail))
}

/// Closes a room on every node: its sessions end, its name is free.
#[utoipa::path(delete, path = "/v1/rooms/{name}", tag = "rooms", params(("name" = String, Path, description = "the room name", pattern = "^[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}$", min_length = 1, max_length = 64)),
    responses((status = 204), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn close_room(
    state: State,
    caller: Caller,
    name: web::Path<String>,
) -> ApiResult<HttpResponse> {
    caller.may(&name, Grant::Admin)?;
    state.cluster.close_room(&name).await?;
    state.room_book.forget_room(&name);
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TokenRequest {
    #[schema(
        min_length = 1,
        max_length = 64,
        pattern = "^[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}$"
    )]
    pub room: String,
    /// The holder's name in the room.
    #[schema(min_length = 1, max_length = 128)]
    pub identity: String,
    #[serde(default)]
    pub grants: Grants,
    /// Lifetime in seconds (default 3600, at most 86400).
    #[serde(default)]
    #[schema(minimum = 1, maximum = 86400)]
    pub ttl_secs: Option<u64>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TokenIssued {
    pub token: String,
    pub room: String,
    pub identity: String,
    /// Unix seconds.
    pub expires_at: u64,
}

/// Makes a room token (admin only): `Authorization: Bearer <token>` on the
/// room's WHIP, WHEP and WebSocket routes, within its grants.
#[utoipa::path(post, path = "/v1/tokens", tag = "rooms", request_body = TokenRequest,
    responses((status = 200, body = TokenIssued), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn issue_token(
    state: State,
    caller: Caller,
    body: JsonBody<TokenRequest>,
) -> ApiResult<HttpResponse> {
    if !matches!(caller, Caller::Admin) {
        return Err(forbidden("only the admin token makes room tokens"));
    }
    let JsonBody(request) = body;
    troupe_cluster::check_room_name(&request.room)
        .map_err(|e| ApiError::invalid("room", e.to_string()))?;
    if request.identity.is_empty() || request.identity.chars().count() > 128 {
        return Err(ApiError::invalid("identity", "1 to 128 characters"));
    }
    let ttl = request.ttl_secs.unwrap_or(3600);
    if !(1..=MAX_TTL_SECS).contains(&ttl) {
        return Err(ApiError::invalid(
            "ttlSecs",
            format!("1 to {MAX_TTL_SECS} seconds"),
        ));
    }
    let token = state
        .room_tokens
        .issue(&request.room, &request.identity, request.grants, ttl);
    let claims = state.room_tokens.verify(&token).map_err(|e| {
        ApiError::new(
            actix_web::http::StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            e.to_string(),
        )
    })?;
    Ok(HttpResponse::Ok().json(TokenIssued {
        token,
        room: claims.room,
        identity: claims.identity,
        expires_at: claims.exp,
    }))
}

pub async fn existing_room(state: &AppState, name: &str) -> ApiResult<RoomRecord> {
    state
        .cluster
        .room(name)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no room named {name:?}")))
}

pub fn authorization(request: &HttpRequest) -> Option<String> {
    request
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// This node's part of a room.
pub fn local_view(state: &AppState, record: &RoomRecord) -> RoomDetail {
    let topology = state.node().topology();
    let node = state.cluster.node_id().to_string();
    let participants = state.room_book.participants(&record.name, topology);
    let producers = topology
        .producers_in(&record.router_id)
        .into_iter()
        .filter(|(_, _, piped)| !piped)
        .map(|(id, entry, _)| {
            let origin = state.room_book.producer_origin(&id);
            RoomProducer {
                kind: entry.shared.kind,
                node: node.clone(),
                identity: origin.as_ref().map(|o| o.identity.clone()),
                session: origin.as_ref().map(|o| o.session.clone()),
                paused: entry.paused,
                created_at_ms: origin.map_or(0, |o| o.created_at_ms),
                id,
            }
        })
        .collect();
    let data_producers = topology
        .data_producers_in(&record.router_id)
        .into_iter()
        .filter(|(_, _, piped)| !piped)
        .map(|(id, entry, _)| {
            let origin = state.room_book.producer_origin(&id);
            RoomDataProducer {
                label: entry.info.label.clone(),
                protocol: entry.info.protocol.clone(),
                node: node.clone(),
                identity: origin.as_ref().map(|o| o.identity.clone()),
                session: origin.map(|o| o.session),
                id,
            }
        })
        .collect();
    RoomDetail {
        name: record.name.clone(),
        router_id: record.router_id.clone(),
        participants,
        producers,
        data_producers,
        active_speaker: state.room_watches.speaker(&record.name),
    }
}

/// The room as every node sees its part of it; a node that does not
/// answer is left out (and logged).
pub async fn cluster_view(
    state: &AppState,
    record: &RoomRecord,
    authorization: Option<String>,
) -> RoomDetail {
    let mut detail = local_view(state, record);
    for member in state.cluster.members() {
        if member.id == state.cluster.node_id() {
            continue;
        }
        let mut request = state
            .http_client
            .get(format!("{}/v1/rooms/{}", member.api_url, record.name))
            .timeout(std::time::Duration::from_secs(3))
            .header(RELAYED_HEADER, state.cluster.node_id());
        if let Some(authorization) = &authorization {
            request = request.header("authorization", authorization);
        }
        let part = match request.send().await {
            Ok(answer) if answer.status().is_success() => answer
                .bytes()
                .await
                .ok()
                .and_then(|b| serde_json::from_slice::<RoomDetail>(&b).ok()),
            Ok(answer) if answer.status() == reqwest::StatusCode::NOT_FOUND => None,
            Ok(answer) => {
                tracing::warn!(node = %member.id, status = %answer.status(), "no room view from there");
                None
            }
            Err(e) => {
                tracing::warn!(node = %member.id, error = %e, "no room view from there");
                None
            }
        };
        if let Some(part) = part {
            detail.participants.extend(part.participants);
            for producer in part.producers {
                if !detail.producers.iter().any(|p| p.id == producer.id) {
                    detail.producers.push(producer);
                }
            }
            for data_producer in part.data_producers {
                if !detail
                    .data_producers
                    .iter()
                    .any(|p| p.id == data_producer.id)
                {
                    detail.data_producers.push(data_producer);
                }
            }
        }
    }
    detail
        .producers
        .sort_by_key(|p| std::cmp::Reverse(p.created_at_ms));
    detail
}
