//! Operations on an existing transport: connect, produce, consume, stats,
//! ICE restart, close.

use actix_web::{web, HttpResponse};
use troupe_actors::stats::TransportStats;
use troupe_actors::transport::{
    ConnectRequest, ConsumeRequest, ConsumerCreated, IceParameters, PlainConnectRequest,
    ProduceRequest, ProducerCreated, TransportDump, TransportKind, WebRtcConnectRequest,
};
use troupe_actors::ObjectKind;

use crate::api::error::{ApiError, ApiResult, ErrorBody};
use crate::api::json_body::{self, JsonBody};

/// `{bitrate}` in bits per second, as mediasoup's setMaxIncomingBitrate.
#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BitrateRequest {
    /// Bits per second; 0 lifts the limit. At most 2^32 - 1, as mediasoup's.
    #[schema(minimum = 0, maximum = 4294967295_u64, format = Int64)]
    pub bitrate: u32,
}

#[derive(serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RestartIceResponse {
    pub ice_parameters: IceParameters,
}
use crate::api::State;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/v1/transports/{id}", web::get().to(get_transport))
        .route("/v1/transports/{id}", web::delete().to(delete_transport))
        .route("/v1/transports/{id}/connect", web::post().to(connect))
        .route("/v1/transports/{id}/producers", web::post().to(produce))
        .route("/v1/transports/{id}/consumers", web::post().to(consume))
        .route("/v1/transports/{id}/stats", web::get().to(stats))
        .route(
            "/v1/transports/{id}/restart-ice",
            web::post().to(restart_ice),
        )
        .route(
            "/v1/transports/{id}/max-incoming-bitrate",
            web::post().to(set_max_incoming_bitrate),
        )
        .route(
            "/v1/transports/{id}/max-outgoing-bitrate",
            web::post().to(set_max_outgoing_bitrate),
        )
        .route(
            "/v1/transports/{id}/min-outgoing-bitrate",
            web::post().to(set_min_outgoing_bitrate),
        );
}

/// The transport's kind, producers and consumers.
#[utoipa::path(get, path = "/v1/transports/{id}", tag = "transports",
    responses((status = 200, body = TransportDump), (status = 404, body = ErrorBody)))]
pub async fn get_transport(state: State, id: web::Path<String>) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(state.node().transport_dump(&id).await?))
}

/// Closes the transport, its producers and consumers.
#[utoipa::path(delete, path = "/v1/transports/{id}", tag = "transports",
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn delete_transport(state: State, id: web::Path<String>) -> ApiResult<HttpResponse> {
    state.node().close(ObjectKind::Transport, &id)?;
    Ok(HttpResponse::NoContent().finish())
}

/// Connects the transport: `{dtlsParameters}` for WebRTC, `{ip, port, rtcpPort?, srtpParameters?}` for plain and pipe.
#[utoipa::path(post, path = "/v1/transports/{id}/connect", tag = "transports",
        request_body(content = Object, description = "WebRTC: WebRtcConnectRequest {dtlsParameters}; plain: PlainConnectRequest {ip, port, rtcpPort?, srtpParameters?}"),
    responses((status = 204), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody, description = "already connected")))]
pub async fn connect(
    state: State,
    id: web::Path<String>,
    body: web::Bytes,
) -> ApiResult<HttpResponse> {
    match state.node().transport_kind(&id)? {
        TransportKind::Webrtc => {
            let request: WebRtcConnectRequest = json_body::parse(&body)?;
            state
                .node()
                .connect_transport(&id, ConnectRequest::WebRtc(request))
                .await?;
            Ok(HttpResponse::NoContent().finish())
        }
        TransportKind::Plain | TransportKind::Pipe => {
            let request: PlainConnectRequest = json_body::parse(&body)?;
            state
                .node()
                .connect_transport(&id, ConnectRequest::Plain(request))
                .await?;
            Ok(HttpResponse::NoContent().finish())
        }
        TransportKind::Direct => Err(ApiError::invalid(
            "id",
            "a direct transport has nothing to connect",
        )),
    }
}

/// Creates a producer (an incoming track) on the transport.
#[utoipa::path(post, path = "/v1/transports/{id}/producers", tag = "producers",
    request_body = ProduceRequest,
    responses((status = 200, body = ProducerCreated), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody, description = "a direct transport (data only), or `id` given to a transport that is not a pipe")))]
pub async fn produce(
    state: State,
    id: web::Path<String>,
    body: JsonBody<ProduceRequest>,
) -> ApiResult<HttpResponse> {
    state.accepting()?;
    Ok(HttpResponse::Ok().json(state.node().produce(&id, body.0).await?))
}

/// Creates a consumer of a producer on the transport.
#[utoipa::path(post, path = "/v1/transports/{id}/consumers", tag = "consumers",
    request_body = ConsumeRequest,
    responses((status = 200, body = ConsumerCreated), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn consume(
    state: State,
    id: web::Path<String>,
    body: JsonBody<ConsumeRequest>,
) -> ApiResult<HttpResponse> {
    state.accepting()?;
    // A producer on another node is piped into this node's router first.
    let router_id = state.node().topology().transport(&id)?.router_id;
    state
        .cluster
        .ensure_producer(&router_id, &body.0.producer_id)
        .await?;
    Ok(HttpResponse::Ok().json(state.node().consume(&id, body.0).await?))
}

/// The transport's byte counters and bitrates.
#[utoipa::path(get, path = "/v1/transports/{id}/stats", tag = "transports",
    responses((status = 200, body = Vec<TransportStats>), (status = 404, body = ErrorBody)))]
pub async fn stats(state: State, id: web::Path<String>) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(state.node().transport_stats(&id).await?))
}

/// New ICE credentials for a WebRTC transport.
#[utoipa::path(post, path = "/v1/transports/{id}/restart-ice", tag = "transports",
    responses((status = 200, body = RestartIceResponse), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn restart_ice(state: State, id: web::Path<String>) -> ApiResult<HttpResponse> {
    match state.node().transport_kind(&id)? {
        TransportKind::Webrtc => Ok(HttpResponse::Ok().json(RestartIceResponse {
            ice_parameters: state.node().restart_ice(&id).await?,
        })),
        other => Err(ApiError::invalid(
            "id",
            format!("a {other:?} transport has no ICE"),
        )),
    }
}

/// Caps what the senders on this transport are told they may send
/// (transport-cc senders by a REMB with the cap, as mediasoup's "limitation"
/// REMB; REMB senders by our estimate, capped).
#[utoipa::path(post, path = "/v1/transports/{id}/max-incoming-bitrate", tag = "transports",
    request_body = BitrateRequest,
    responses((status = 204), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn set_max_incoming_bitrate(
    state: State,
    id: web::Path<String>,
    body: JsonBody<BitrateRequest>,
) -> ApiResult<HttpResponse> {
    state
        .node()
        .set_max_incoming_bitrate(&id, u64::from(body.0.bitrate))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Caps what this transport sends, whatever its estimate says (0: no cap).
#[utoipa::path(post, path = "/v1/transports/{id}/max-outgoing-bitrate", tag = "transports",
    request_body = BitrateRequest,
    responses((status = 204), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn set_max_outgoing_bitrate(
    state: State,
    id: web::Path<String>,
    body: JsonBody<BitrateRequest>,
) -> ApiResult<HttpResponse> {
    state
        .node()
        .set_outgoing_bitrate_limits(&id, Some(u64::from(body.0.bitrate)), None)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// What this transport may send at least, whatever its estimate says
/// (0: no floor).
#[utoipa::path(post, path = "/v1/transports/{id}/min-outgoing-bitrate", tag = "transports",
    request_body = BitrateRequest,
    responses((status = 204), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn set_min_outgoing_bitrate(
    state: State,
    id: web::Path<String>,
    body: JsonBody<BitrateRequest>,
) -> ApiResult<HttpResponse> {
    state
        .node()
        .set_outgoing_bitrate_limits(&id, None, Some(u64::from(body.0.bitrate)))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
