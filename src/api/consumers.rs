use actix_web::{web, HttpResponse};
use troupe_actors::consumer::{ConsumerDump, PreferredLayers};
use troupe_actors::stats::RtpStreamStats;
use troupe_actors::ObjectKind;

use crate::api::error::{ApiError, ApiResult, ErrorBody};
use crate::api::json_body::JsonBody;
use crate::api::State;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/v1/consumers/{id}", web::get().to(get_consumer))
        .route("/v1/consumers/{id}", web::delete().to(delete_consumer))
        .route("/v1/consumers/{id}/pause", web::post().to(pause))
        .route("/v1/consumers/{id}/resume", web::post().to(resume))
        .route(
            "/v1/consumers/{id}/request-key-frame",
            web::post().to(request_key_frame),
        )
        .route(
            "/v1/consumers/{id}/preferred-layers",
            web::post().to(preferred_layers),
        )
        .route("/v1/consumers/{id}/priority", web::post().to(priority))
        .route("/v1/consumers/{id}/stats", web::get().to(stats));
}

/// The consumer's parameters and state.
#[utoipa::path(get, path = "/v1/consumers/{id}", tag = "consumers",
    responses((status = 200, body = ConsumerDump), (status = 404, body = ErrorBody)))]
pub async fn get_consumer(state: State, id: web::Path<String>) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(state.node().consumer_dump(&id).await?))
}

/// Closes the consumer.
#[utoipa::path(delete, path = "/v1/consumers/{id}", tag = "consumers",
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn delete_consumer(state: State, id: web::Path<String>) -> ApiResult<HttpResponse> {
    state.node().close(ObjectKind::Consumer, &id)?;
    Ok(HttpResponse::NoContent().finish())
}

/// Stops forwarding to this consumer.
#[utoipa::path(post, path = "/v1/consumers/{id}/pause", tag = "consumers",
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn pause(state: State, id: web::Path<String>) -> ApiResult<HttpResponse> {
    state.node().consumer_pause(&id, true).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Resumes forwarding, starting on a key frame.
#[utoipa::path(post, path = "/v1/consumers/{id}/resume", tag = "consumers",
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn resume(state: State, id: web::Path<String>) -> ApiResult<HttpResponse> {
    state.node().consumer_pause(&id, false).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Asks the producer's sender for a key frame (throttled to one per second).
#[utoipa::path(post, path = "/v1/consumers/{id}/request-key-frame", tag = "consumers",
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn request_key_frame(state: State, id: web::Path<String>) -> ApiResult<HttpResponse> {
    state.node().consumer_request_key_frame(&id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Sets the spatial and temporal layers a simulcast or SVC consumer prefers.
#[utoipa::path(post, path = "/v1/consumers/{id}/preferred-layers", tag = "consumers",
    request_body = PreferredLayers,
    responses((status = 200, body = PreferredLayers), (status = 400, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn preferred_layers(
    state: State,
    id: web::Path<String>,
    body: JsonBody<PreferredLayers>,
) -> ApiResult<HttpResponse> {
    let layers = state
        .node()
        .consumer_set_preferred_layers(&id, body.0)
        .await?;
    Ok(HttpResponse::Ok().json(layers))
}

/// `{priority}` as mediasoup's setPriority: 1 (the default) to 255.
#[derive(serde::Deserialize, serde::Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PriorityRequest {
    #[schema(minimum = 1, maximum = 255)]
    pub priority: u8,
}

/// Sets the consumer's share of its transport's bandwidth against the
/// transport's other consumers: a higher priority climbs layers first.
#[utoipa::path(post, path = "/v1/consumers/{id}/priority", tag = "consumers",
    request_body = PriorityRequest,
    responses((status = 200, body = PriorityRequest), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn priority(
    state: State,
    id: web::Path<String>,
    body: JsonBody<PriorityRequest>,
) -> ApiResult<HttpResponse> {
    if body.0.priority == 0 {
        return Err(ApiError::invalid("priority", "must be 1 to 255"));
    }
    state.node().consumer_set_priority(&id, body.0.priority)?;
    Ok(HttpResponse::Ok().json(PriorityRequest {
        priority: body.0.priority,
    }))
}

/// Outbound RTP statistics.
#[utoipa::path(get, path = "/v1/consumers/{id}/stats", tag = "consumers",
    responses((status = 200, body = Vec<RtpStreamStats>), (status = 404, body = ErrorBody)))]
pub async fn stats(state: State, id: web::Path<String>) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(state.node().consumer_stats(&id).await?))
}
