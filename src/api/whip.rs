//! WHIP ingest (RFC 9725) and WHEP playback: a standard WebRTC client
//! (OBS, GStreamer, a browser's bare `RTCPeerConnection`) posts an SDP
//! offer to a room and gets an answer; its session is a WebRTC transport
//! whose producers (WHIP) or consumers (WHEP) the server makes. `PATCH`
//! trickles candidates or restarts ICE; `DELETE` ends the session.

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use troupe_actors::rtp_parameters::{MediaKind, RtpParameters};
use troupe_actors::transport::{
    ConnectRequest, ConsumeRequest, DtlsFingerprint, DtlsParameters, ProduceRequest,
    TransportCreated, WebRtcConnectRequest, WebRtcTransportOptions,
};
use troupe_actors::ObjectKind;
use troupe_signaling::{
    Direction, LocalCandidate, LocalTransport, Offer, OfferError, SectionAnswer,
};

use crate::api::caller::Caller;
use crate::api::error::{ApiError, ApiResult, ErrorBody};
use crate::api::room_book::{unix_ms, Participant, Session, SessionIce, SessionKind};
use crate::api::rooms::{authorization, cluster_view, existing_room};
use crate::api::{AppState, State};
use crate::room_tokens::Grant;

pub fn routes(cfg: &mut web::ServiceConfig) {
    let options = || web::method(actix_web::http::Method::OPTIONS).to(preflight);
    cfg.route("/v1/rooms/{room}/whip", web::post().to(whip))
        .route("/v1/rooms/{room}/whip", options())
        .route("/v1/rooms/{room}/whep", web::post().to(whep))
        .route("/v1/rooms/{room}/whep", options())
        .route("/v1/whip/{session}", web::patch().to(patch_whip))
        .route("/v1/whip/{session}", web::delete().to(end_whip))
        .route("/v1/whip/{session}", options())
        .route("/v1/whep/{session}", web::patch().to(patch_whep))
        .route("/v1/whep/{session}", web::delete().to(end_whep))
        .route("/v1/whep/{session}", options());
}

const SDP: &str = "application/sdp";
const SDP_FRAGMENT: &str = "application/trickle-ice-sdpfrag";

#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
pub struct WhepQuery {
    /// Play these producers (comma separated) rather than the room's
    /// newest audio and video.
    pub producer: Option<String>,
}

/// Publishes into a room (WHIP): an `application/sdp` offer in, the answer
/// out, `Location` naming the session. Needs the `publish` grant.
#[utoipa::path(post, path = "/v1/rooms/{room}/whip", tag = "whip-whep", params(("room" = String, Path, description = "the room name", pattern = "^[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}$", min_length = 1, max_length = 64)),
    request_body(content = String, content_type = "application/sdp", description = "SDP offer"),
    responses((status = 201, body = String, content_type = "application/sdp", description = "SDP answer; Location: /v1/whip/{session}"),
              (status = 400, body = ErrorBody, description = "an offer that cannot be answered (the reason says why)"),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 415, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn whip(
    state: State,
    caller: Caller,
    request: HttpRequest,
    room: web::Path<String>,
    body: web::Bytes,
) -> ApiResult<HttpResponse> {
    caller.may(&room, Grant::Publish)?;
    state.accepting()?;
    let offer = read_offer(&state, &request, &body)?;
    let (record, opened_now) = state.cluster.open_room(&room, None).await?;
    // Everything the offer asks is checked before a session is made; a
    // room this request opened goes again with a refused offer.
    let sections = match publish_sections(&state, &record.router_id, &offer).await {
        Ok(sections) => sections,
        Err(e) => {
            if opened_now {
                let _ = state.cluster.close_room(&room).await;
            }
            return Err(e);
        }
    };
    let identity = caller.identity().unwrap_or("whip").to_string();
    let transport =
        open_transport(&state, &record.router_id, &offer, &room, &identity, "whip").await?;
    let session_id = transport.id.clone();
    let made = async {
        let mut answers = Vec::with_capacity(sections.len());
        for (media, section) in offer.media.iter().zip(sections) {
            let Some((kind, rtp_parameters)) = section else {
                answers.push(SectionAnswer::Rejected(format!("{} is not published", media.mid)));
                continue;
            };
            let produced = state
                .node()
                .produce(
                    &session_id,
                    ProduceRequest {
                        id: None,
                        kind,
                        rtp_parameters: rtp_parameters.clone(),
                        paused: false,
                        app_data: serde_json::json!({"room": *room, "identity": identity, "session": session_id}),
                    },
                )
                .await?;
            state.room_book.add_producer(&produced.id, &room, &identity, &session_id);
            answers.push(SectionAnswer::Receiving(rtp_parameters));
        }
        Ok::<_, ApiError>(answers)
    }
    .await;
    session_created(
        &state,
        &offer,
        transport,
        made,
        &room,
        &identity,
        SessionKind::Whip,
    )
}

/// What each section of a WHIP offer becomes in the room's router: a
/// producer's kind and parameters, or `None` for a section not published.
async fn publish_sections(
    state: &AppState,
    router_id: &str,
    offer: &Offer,
) -> ApiResult<Vec<Option<(MediaKind, RtpParameters)>>> {
    state.cluster.ensure_router(router_id).await?;
    let router_caps = state.node().router_dump(router_id).await?.rtp_capabilities;
    let fallback_cname = format!("troupe-{}", uuid_like());
    let mut sections = Vec::with_capacity(offer.media.len());
    for media in &offer.media {
        let publishes = media.kind.is_some() && !media.disabled && media.direction.offerer_sends();
        sections.push(if publishes {
            Some(
                troupe_signaling::producer_parameters(media, &router_caps, &fallback_cname)
                    .map_err(|e| refused(state, e))?,
            )
        } else {
            None
        });
    }
    if sections.iter().all(Option::is_none) {
        return Err(refused(
            state,
            OfferError::new(
                "the offer sends no audio or video (WHIP sections must be sendonly or sendrecv)",
            ),
        ));
    }
    Ok(sections)
}

/// Plays a room (WHEP): its newest audio and video (or the producers
/// `?producer=` names), each consumed for one receiving section of the
/// offer. Needs the `subscribe` grant.
#[utoipa::path(post, path = "/v1/rooms/{room}/whep", tag = "whip-whep", params(("room" = String, Path, description = "the room name", pattern = "^[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}$", min_length = 1, max_length = 64), WhepQuery),
    request_body(content = String, content_type = "application/sdp", description = "SDP offer (recvonly sections)"),
    responses((status = 201, body = String, content_type = "application/sdp", description = "SDP answer; Location: /v1/whep/{session}"),
              (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody, description = "no such room, or nothing in it to play"),
              (status = 415, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn whep(
    state: State,
    caller: Caller,
    request: HttpRequest,
    room: web::Path<String>,
    query: web::Query<WhepQuery>,
    body: web::Bytes,
) -> ApiResult<HttpResponse> {
    caller.may(&room, Grant::Subscribe)?;
    state.accepting()?;
    let offer = read_offer(&state, &request, &body)?;
    let record = existing_room(&state, &room).await?;
    let view = cluster_view(&state, &record, authorization(&request)).await;
    let wanted: Option<Vec<&str>> = query
        .producer
        .as_deref()
        .map(|list| list.split(',').map(str::trim).collect());
    if let Some(wanted) = &wanted {
        for id in wanted {
            if !view.producers.iter().any(|p| p.id == *id) {
                return Err(ApiError::not_found(format!(
                    "room {:?} has no producer {id}",
                    *room
                )));
            }
        }
    }
    // Each receiving section takes the newest producer of its kind not
    // taken yet.
    let mut taken: Vec<&str> = Vec::new();
    let mut picks: Vec<Option<String>> = Vec::with_capacity(offer.media.len());
    for media in &offer.media {
        let receives = !media.disabled && media.direction.offerer_receives();
        let pick = media.kind.filter(|_| receives).and_then(|kind| {
            view.producers
                .iter()
                .filter(|p| p.kind == kind && !taken.contains(&p.id.as_str()))
                .find(|p| wanted.as_ref().is_none_or(|w| w.contains(&p.id.as_str())))
        });
        if let Some(producer) = pick {
            taken.push(&producer.id);
        }
        picks.push(pick.map(|p| p.id.clone()));
    }
    if picks.iter().all(Option::is_none) {
        return Err(ApiError::not_found(format!(
            "room {:?} has no {} to play yet",
            *room,
            if offer
                .media
                .iter()
                .any(|m| m.direction == Direction::SendOnly)
            {
                "receiving section in the offer, or nothing"
            } else {
                "audio or video"
            }
        )));
    }
    state.cluster.ensure_router(&record.router_id).await?;
    let identity = caller.identity().unwrap_or("whep").to_string();
    let transport =
        open_transport(&state, &record.router_id, &offer, &room, &identity, "whep").await?;
    let session_id = transport.id.clone();
    let made = async {
        let mut answers = Vec::with_capacity(picks.len());
        for (media, pick) in offer.media.iter().zip(picks) {
            let Some(producer_id) = pick else {
                answers.push(SectionAnswer::Rejected(format!("nothing to play in {}", media.mid)));
                continue;
            };
            state
                .cluster
                .ensure_producer(&record.router_id, &producer_id)
                .await?;
            let consumer = state
                .node()
                .consume(
                    &session_id,
                    ConsumeRequest {
                        producer_id: producer_id.clone(),
                        rtp_capabilities: troupe_signaling::receiver_capabilities(media),
                        paused: false,
                        preferred_layers: None,
                        enable_rtx: None,
                        app_data: serde_json::json!({"room": *room, "identity": identity, "session": session_id}),
                        mid: Some(media.mid.clone()),
                    },
                )
                .await?;
            answers.push(SectionAnswer::Sending {
                parameters: consumer.rtp_parameters,
                stream_id: format!("troupe-{}", *room),
                track_id: consumer.id,
            });
        }
        Ok::<_, ApiError>(answers)
    }
    .await;
    session_created(
        &state,
        &offer,
        transport,
        made,
        &room,
        &identity,
        SessionKind::Whep,
    )
}

/// Trickled candidates (`204`; Troupe is ICE-lite and needs none), or new
/// ICE credentials: an ICE restart, answered with Troupe's new ones.
#[utoipa::path(patch, path = "/v1/whip/{session}", tag = "whip-whep",
    request_body(content = String, content_type = "application/trickle-ice-sdpfrag"),
    responses((status = 204, description = "candidates taken"),
              (status = 200, body = String, content_type = "application/trickle-ice-sdpfrag", description = "ICE restarted: Troupe's new credentials and candidates"),
              (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 415, body = ErrorBody)))]
pub async fn patch_whip(
    state: State,
    caller: Caller,
    request: HttpRequest,
    id: web::Path<String>,
    body: web::Bytes,
) -> ApiResult<HttpResponse> {
    patch_session(&state, &caller, &request, SessionKind::Whip, &id, &body).await
}

/// As for WHIP: trickle (`204`) or ICE restart (`200`).
#[utoipa::path(patch, path = "/v1/whep/{session}", tag = "whip-whep",
    request_body(content = String, content_type = "application/trickle-ice-sdpfrag"),
    responses((status = 204, description = "candidates taken"),
              (status = 200, body = String, content_type = "application/trickle-ice-sdpfrag", description = "ICE restarted: Troupe's new credentials and candidates"),
              (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 415, body = ErrorBody)))]
pub async fn patch_whep(
    state: State,
    caller: Caller,
    request: HttpRequest,
    id: web::Path<String>,
    body: web::Bytes,
) -> ApiResult<HttpResponse> {
    patch_session(&state, &caller, &request, SessionKind::Whep, &id, &body).await
}

async fn patch_session(
    state: &AppState,
    caller: &Caller,
    request: &HttpRequest,
    kind: SessionKind,
    id: &str,
    body: &[u8],
) -> ApiResult<HttpResponse> {
    let session = session_of(state, caller, kind, id)?;
    require_content_type(request, SDP_FRAGMENT)?;
    let text = std::str::from_utf8(body).map_err(|_| ApiError::invalid("body", "not UTF-8"))?;
    let fragment = troupe_signaling::parse_fragment(text).map_err(|e| refused(state, e))?;
    let Some(ice) = session.ice else {
        return Ok(no_content());
    };
    if !fragment.is_restart(&ice.remote_ufrag) {
        return Ok(no_content());
    }
    let parameters = state.node().restart_ice(id).await?;
    if let Some(ufrag) = &fragment.ice_ufrag {
        state.room_book.set_remote_ufrag(id, ufrag);
    }
    let answer = troupe_signaling::restart_answer(
        &parameters.username_fragment,
        &parameters.password,
        &ice.first_mid,
        &ice.candidates,
    );
    let mut response = HttpResponse::Ok();
    response.content_type(SDP_FRAGMENT).insert_header((
        header::ETAG,
        format!("\"{}\"", parameters.username_fragment),
    ));
    Ok(with_cors(response.body(answer)))
}

/// Ends a WHIP session: its transport closes, and with it its producers.
#[utoipa::path(delete, path = "/v1/whip/{session}", tag = "whip-whep",
    responses((status = 200, description = "ended"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn end_whip(
    state: State,
    caller: Caller,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    end_session(&state, &caller, SessionKind::Whip, &id)
}

/// Ends a WHEP session: its transport and consumers close.
#[utoipa::path(delete, path = "/v1/whep/{session}", tag = "whip-whep",
    responses((status = 200, description = "ended"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn end_whep(
    state: State,
    caller: Caller,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    end_session(&state, &caller, SessionKind::Whep, &id)
}

fn end_session(
    state: &AppState,
    caller: &Caller,
    kind: SessionKind,
    id: &str,
) -> ApiResult<HttpResponse> {
    // A peer that closed its connection first may have ended the transport
    // already (DTLS close_notify): its session still ends with a 200.
    let session = state
        .room_book
        .session(id)
        .filter(|s| s.participant.kind == kind)
        .ok_or_else(|| ApiError::not_found(format!("no {} session {id}", kind_name(kind))))?;
    caller.may(&session.participant.room, grant_of(kind))?;
    let _ = state.node().close(ObjectKind::Transport, id);
    state.room_book.remove_session(id);
    Ok(with_cors(HttpResponse::Ok().finish()))
}

/// CORS preflight for browser WHIP/WHEP clients on other origins.
pub async fn preflight() -> HttpResponse {
    let mut response = HttpResponse::NoContent();
    response
        .insert_header((
            "access-control-allow-methods",
            "POST, PATCH, DELETE, OPTIONS",
        ))
        .insert_header((
            "access-control-allow-headers",
            "authorization, content-type, if-match",
        ))
        .insert_header(("access-control-max-age", "86400"))
        .insert_header(("accept-post", SDP))
        .insert_header(("accept-patch", SDP_FRAGMENT));
    with_cors(response.finish())
}

fn with_cors(mut response: HttpResponse) -> HttpResponse {
    let headers = response.headers_mut();
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    headers.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static("location, etag, link"),
    );
    response
}

fn no_content() -> HttpResponse {
    with_cors(HttpResponse::NoContent().finish())
}

fn require_content_type(request: &HttpRequest, expected: &str) -> ApiResult<()> {
    let given = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = given.split(';').next().unwrap_or("").trim();
    if essence.eq_ignore_ascii_case(expected) {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            format!("the body must be {expected}, not {given:?}"),
        ))
    }
}

fn read_offer(state: &AppState, request: &HttpRequest, body: &[u8]) -> ApiResult<Offer> {
    require_content_type(request, SDP)?;
    let text = std::str::from_utf8(body)
        .map_err(|_| refused(state, OfferError::new("the offer is not UTF-8")))?;
    let offer = troupe_signaling::parse_offer(text).map_err(|e| refused(state, e))?;
    let unbundled = offer
        .media
        .iter()
        .any(|m| !m.disabled && m.kind.is_some() && !m.rtcp_mux);
    if unbundled {
        return Err(refused(
            state,
            OfferError::new("every media section needs a=rtcp-mux"),
        ));
    }
    Ok(offer)
}

fn refused(state: &AppState, e: OfferError) -> ApiError {
    state.api_metrics.refused_offers.inc();
    ApiError::invalid("sdp", e.0)
}

/// A session made through this node's API, and the caller's right to it.
fn session_of(
    state: &AppState,
    caller: &Caller,
    kind: SessionKind,
    id: &str,
) -> ApiResult<Session> {
    let session = state
        .room_book
        .session(id)
        .filter(|_| state.node().topology().transport(id).is_ok())
        .filter(|s| s.participant.kind == kind)
        .ok_or_else(|| ApiError::not_found(format!("no {} session {id}", kind_name(kind))))?;
    caller.may(&session.participant.room, grant_of(kind))?;
    Ok(session)
}

fn grant_of(kind: SessionKind) -> Grant {
    match kind {
        SessionKind::Whep => Grant::Subscribe,
        _ => Grant::Publish,
    }
}

fn kind_name(kind: SessionKind) -> &'static str {
    match kind {
        SessionKind::Whip => "whip",
        SessionKind::Whep => "whep",
        SessionKind::Websocket => "ws",
    }
}

/// The session's transport, connected with the offer's fingerprint (the
/// offerer is the DTLS client: Troupe answers `passive`).
async fn open_transport(
    state: &AppState,
    router_id: &str,
    offer: &Offer,
    room: &str,
    identity: &str,
    via: &str,
) -> ApiResult<TransportCreated> {
    let created = state
        .node()
        .create_webrtc_transport(
            router_id,
            WebRtcTransportOptions {
                app_data: serde_json::json!({"room": room, "identity": identity, "via": via}),
                ..Default::default()
            },
        )
        .await?;
    let connected = state
        .node()
        .connect_transport(
            &created.id,
            ConnectRequest::WebRtc(WebRtcConnectRequest {
                dtls_parameters: DtlsParameters {
                    role: "client".into(),
                    fingerprints: vec![DtlsFingerprint {
                        algorithm: offer.fingerprint_algorithm.clone(),
                        value: offer.fingerprint.clone(),
                    }],
                },
            }),
        )
        .await;
    if let Err(e) = connected {
        let _ = state.node().close(ObjectKind::Transport, &created.id);
        return Err(ApiError::invalid("sdp", format!("a=fingerprint: {e}")));
    }
    Ok(created)
}

/// The answer to a session whose objects were made; a session that failed
/// half-way closes its transport and with it whatever was made.
fn session_created(
    state: &AppState,
    offer: &Offer,
    transport: TransportCreated,
    made: ApiResult<Vec<SectionAnswer>>,
    room: &str,
    identity: &str,
    kind: SessionKind,
) -> ApiResult<HttpResponse> {
    let answers = match made {
        Ok(answers) => answers,
        Err(e) => {
            let _ = state.node().close(ObjectKind::Transport, &transport.id);
            return Err(e);
        }
    };
    let candidates: Vec<LocalCandidate> = transport
        .ice_candidates
        .iter()
        .map(|c| LocalCandidate {
            foundation: c.foundation.clone(),
            priority: c.priority,
            address: c.address.clone(),
            port: c.port,
            protocol: c.protocol.clone(),
            tcp_type: c.tcp_type.clone(),
        })
        .collect();
    // One fingerprint, the one every browser checks (several would be
    // legal, and some clients take the last).
    let fingerprints = transport
        .dtls_parameters
        .fingerprints
        .iter()
        .find(|f| f.algorithm == "sha-256")
        .or(transport.dtls_parameters.fingerprints.first())
        .map(|f| vec![(f.algorithm.clone(), f.value.clone())])
        .unwrap_or_default();
    let local = LocalTransport {
        ice_ufrag: transport.ice_parameters.username_fragment.clone(),
        ice_pwd: transport.ice_parameters.password.clone(),
        fingerprints,
        candidates: candidates.clone(),
    };
    let answer = troupe_signaling::answer(offer, &local, &answers);
    let first_mid = offer
        .media
        .iter()
        .zip(&answers)
        .find(|(_, a)| !matches!(a, SectionAnswer::Rejected(_)))
        .map(|(m, _)| m.mid.clone())
        .unwrap_or_default();
    state.room_book.add_session(Session {
        participant: Participant {
            id: transport.id.clone(),
            room: room.to_string(),
            identity: identity.to_string(),
            kind,
            node: state.cluster.node_id().to_string(),
            created_at_ms: unix_ms(),
        },
        ice: Some(SessionIce {
            remote_ufrag: offer.ice_ufrag.clone(),
            first_mid,
            candidates,
        }),
    });
    let location = format!("/v1/{}/{}", kind_name(kind), transport.id);
    let mut response = HttpResponse::Created();
    response
        .content_type(SDP)
        .insert_header((header::LOCATION, location))
        .insert_header((
            header::ETAG,
            format!("\"{}\"", transport.ice_parameters.username_fragment),
        ));
    Ok(with_cors(response.body(answer)))
}

/// A CNAME for a publisher that names none.
fn uuid_like() -> String {
    format!("{:016x}", rand::random::<u64>())
}
