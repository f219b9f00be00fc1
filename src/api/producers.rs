use actix_web::{web, HttpResponse};
use troupe_actors::producer::ProducerDump;
use troupe_actors::stats::RtpStreamStats;
use troupe_actors::ObjectKind;

use crate::api::error::{ApiResult, ErrorBody};
use crate::api::State;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/v1/producers/{id}", web::get().to(get_producer))
        .route("/v1/producers/{id}", web::delete().to(delete_producer))
        .route("/v1/producers/{id}/pause", web::post().to(pause))
        .route("/v1/producers/{id}/resume", web::post().to(resume))
        .route("/v1/producers/{id}/stats", web::get().to(stats));
}

/// The producer's parameters, mapping and consumers.
#[utoipa::path(get, path = "/v1/producers/{id}", tag = "producers",
    responses((status = 200, body = ProducerDump), (status = 404, body = ErrorBody)))]
pub async fn get_producer(state: State, id: web::Path<String>) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(state.node().producer_dump(&id).await?))
}

/// Closes the producer; each of its consumers emits `producerclose`.
#[utoipa::path(delete, path = "/v1/producers/{id}", tag = "producers",
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn delete_producer(state: State, id: web::Path<String>) -> ApiResult<HttpResponse> {
    state.node().close(ObjectKind::Producer, &id)?;
    Ok(HttpResponse::NoContent().finish())
}

/// Pauses the producer; its consumers emit `producerpause`.
#[utoipa::path(post, path = "/v1/producers/{id}/pause", tag = "producers",
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn pause(state: State, id: web::Path<String>) -> ApiResult<HttpResponse> {
    state.node().producer_pause(&id, true).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Resumes the producer; its consumers emit `producerresume`.
#[utoipa::path(post, path = "/v1/producers/{id}/resume", tag = "producers",
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn resume(state: State, id: web::Path<String>) -> ApiResult<HttpResponse> {
    state.node().producer_pause(&id, false).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Inbound RTP statistics, one entry per encoding.
#[utoipa::path(get, path = "/v1/producers/{id}/stats", tag = "producers",
    responses((status = 200, body = Vec<RtpStreamStats>), (status = 404, body = ErrorBody)))]
pub async fn stats(state: State, id: web::Path<String>) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(state.node().producer_stats(&id).await?))
}
