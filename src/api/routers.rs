//! Routers (rooms) and the transports created in them.

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use troupe_actors::node::RouterCreated;
use troupe_actors::router::RouterDump;
use troupe_actors::rtp_parameters::RtpCodecCapability;
use troupe_actors::transport::{
    DirectTransportCreated, DirectTransportOptions, PipeTransportOptions, PlainTransportCreated,
    PlainTransportOptions, TransportCreated, WebRtcTransportOptions,
};
use utoipa::ToSchema;

use crate::api::error::{ApiResult, ErrorBody};
use crate::api::json_body::JsonBody;
use crate::api::State;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/v1/routers", web::post().to(create_router))
        .route("/v1/routers/{id}", web::get().to(get_router))
        .route("/v1/routers/{id}", web::delete().to(delete_router))
        .route(
            "/v1/routers/{id}/webrtc-transports",
            web::post().to(create_webrtc_transport),
        )
        .route(
            "/v1/routers/{id}/plain-transports",
            web::post().to(create_plain_transport),
        )
        .route(
            "/v1/routers/{id}/direct-transports",
            web::post().to(create_direct_transport),
        )
        .route(
            "/v1/routers/{id}/pipe-transports",
            web::post().to(create_pipe_transport),
        );
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateRouterRequest {
    /// The router's codecs; opus, VP8, VP9 and H264 when absent.
    #[serde(default)]
    #[schema(min_items = 1)]
    pub media_codecs: Option<Vec<RtpCodecCapability>>,
    #[serde(default = "troupe_actors::app_data::empty")]
    #[schema(value_type = Object)]
    pub app_data: serde_json::Value,
}

/// Creates a router (a room) with the given codecs.
#[utoipa::path(post, path = "/v1/routers", tag = "routers", request_body = CreateRouterRequest,
    responses((status = 200, body = RouterCreated), (status = 400, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn create_router(
    state: State,
    body: JsonBody<CreateRouterRequest>,
) -> ApiResult<HttpResponse> {
    state.accepting()?;
    let JsonBody(request) = body;
    let app_data = if request.app_data.is_null() {
        serde_json::json!({})
    } else {
        request.app_data
    };
    let created = state
        .cluster
        .create_router(request.media_codecs, app_data)
        .await?;
    Ok(HttpResponse::Ok().json(created))
}

/// The router's transports, producer → consumers map and capabilities.
#[utoipa::path(get, path = "/v1/routers/{id}", tag = "routers",
    responses((status = 200, body = RouterDump), (status = 404, body = ErrorBody)))]
pub async fn get_router(state: State, id: web::Path<String>) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(state.node().router_dump(&id).await?))
}

/// Closes the router and everything in it, on every node that serves the room.
#[utoipa::path(delete, path = "/v1/routers/{id}", tag = "routers",
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn delete_router(state: State, id: web::Path<String>) -> ApiResult<HttpResponse> {
    state.cluster.close_router(&id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Creates a WebRTC transport (ICE-lite, DTLS, SRTP) on this node.
#[utoipa::path(post, path = "/v1/routers/{id}/webrtc-transports", tag = "transports",
    request_body = WebRtcTransportOptions,
    responses((status = 200, body = TransportCreated), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn create_webrtc_transport(
    state: State,
    id: web::Path<String>,
    body: JsonBody<WebRtcTransportOptions>,
) -> ApiResult<HttpResponse> {
    state.accepting()?;
    let created = state.node().create_webrtc_transport(&id, body.0).await?;
    Ok(HttpResponse::Ok().json(created))
}

/// Creates a plain RTP transport (ffmpeg, GStreamer) on this node.
#[utoipa::path(post, path = "/v1/routers/{id}/plain-transports", tag = "transports",
        request_body = PlainTransportOptions,
    responses((status = 200, body = PlainTransportCreated), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody, description = "listenIp is not an address of this node"),
              (status = 503, body = ErrorBody, description = "no free port in the node's rtp_port_range")))]
pub async fn create_plain_transport(
    state: State,
    id: web::Path<String>,
    body: JsonBody<PlainTransportOptions>,
) -> ApiResult<HttpResponse> {
    state.accepting()?;
    let created = state.node().create_plain_transport(&id, body.0).await?;
    Ok(HttpResponse::Ok().json(created))
}

/// Creates a pipe transport (router to router, usually across nodes).
#[utoipa::path(post, path = "/v1/routers/{id}/pipe-transports", tag = "transports",
    request_body = PipeTransportOptions,
    responses((status = 200, body = PlainTransportCreated), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody, description = "listenIp is not an address of this node"),
              (status = 503, body = ErrorBody, description = "no free port in the node's rtp_port_range")))]
pub async fn create_pipe_transport(
    state: State,
    id: web::Path<String>,
    body: JsonBody<PipeTransportOptions>,
) -> ApiResult<HttpResponse> {
    state.accepting()?;
    let created = state.node().create_pipe_transport(&id, body.0).await?;
    Ok(HttpResponse::Ok().json(created))
}

/// Creates a direct transport (mediasoup's DirectTransport): data producers
/// fed through the API, data consumers whose messages arrive as `message`
/// notifications on `/v1/events`.
#[utoipa::path(post, path = "/v1/routers/{id}/direct-transports", tag = "transports",
    request_body = DirectTransportOptions,
    responses((status = 200, body = DirectTransportCreated), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn create_direct_transport(
    state: State,
    id: web::Path<String>,
    body: JsonBody<DirectTransportOptions>,
) -> ApiResult<HttpResponse> {
    state.accepting()?;
    let created = state.node().create_direct_transport(&id, body.0).await?;
    Ok(HttpResponse::Ok().json(created))
}
