//! Probes, metrics and the API description.

use actix_web::{web, HttpResponse};
use serde::Serialize;
use troupe_cluster::Readiness;
use utoipa::ToSchema;

use crate::api::exposition;
use crate::api::State;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/v1/health", web::get().to(health))
        .route("/v1/ready", web::get().to(ready))
        .route("/metrics", web::get().to(metrics))
        .route("/v1/openapi.json", web::get().to(openapi));
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Health {
    pub status: String,
    pub node_id: String,
    pub region: String,
    pub version: String,
    pub uptime_seconds: u64,
}

#[derive(Serialize, ToSchema)]
pub struct Ready {
    pub ready: bool,
    /// Why not, when not ready: `draining`, `not-registered`, `node-down`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Liveness: the process serves requests.
#[utoipa::path(get, path = "/v1/health", tag = "system", responses((status = 200, body = Health)))]
pub async fn health(state: State) -> HttpResponse {
    HttpResponse::Ok().json(Health {
        status: "ok".into(),
        node_id: state.node().node_id().to_string(),
        region: state.node().region().to_string(),
        version: env!("CARGO_PKG_VERSION").into(),
        uptime_seconds: state.started.elapsed().as_secs(),
    })
}

/// Readiness: the node takes new work (registered in its cluster, not draining).
#[utoipa::path(get, path = "/v1/ready", tag = "system",
    responses((status = 200, body = Ready), (status = 503, body = Ready)))]
pub async fn ready(state: State) -> HttpResponse {
    let reason = match state.cluster.readiness() {
        Readiness::Ready => None,
        Readiness::Draining => Some("draining"),
        Readiness::NotRegistered => Some("not-registered"),
        Readiness::NodeDown => Some("node-down"),
    };
    let body = Ready {
        ready: reason.is_none(),
        reason: reason.map(str::to_string),
    };
    if body.ready {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}

/// Prometheus metrics: OpenMetrics when the scraper asks for it (as
/// Prometheus does), else the classic text format.
#[utoipa::path(get, path = "/metrics", tag = "system",
    responses((status = 200, description = "Prometheus text, or OpenMetrics text when the scraper's Accept asks for it",
        content((String = "text/plain; version=0.0.4; charset=utf-8"), (String = "application/openmetrics-text; version=1.0.0; charset=utf-8")))))]
pub async fn metrics(state: State, request: actix_web::HttpRequest) -> HttpResponse {
    let alive = tokio::runtime::Handle::current()
        .metrics()
        .num_alive_tasks();
    state
        .api_metrics
        .runtime_tasks
        .set(i64::try_from(alive).unwrap_or(i64::MAX));
    let mut text = String::new();
    let accept = request
        .headers()
        .get(actix_web::http::header::ACCEPT)
        .and_then(|v| v.to_str().ok());
    match prometheus_client::encoding::text::encode(&mut text, &state.registry) {
        Ok(()) if exposition::wants_openmetrics(accept) => HttpResponse::Ok()
            .content_type(exposition::OPENMETRICS)
            .body(text),
        Ok(()) => HttpResponse::Ok()
            .content_type(exposition::PROMETHEUS_TEXT)
            .body(exposition::to_prometheus_text(&text)),
        Err(e) => HttpResponse::InternalServerError().body(format!("cannot encode metrics: {e}")),
    }
}

/// This API's OpenAPI 3 description, generated from the handlers and types.
#[utoipa::path(get, path = "/v1/openapi.json", tag = "system", responses((status = 200, description = "OpenAPI document")))]
pub async fn openapi() -> HttpResponse {
    HttpResponse::Ok().json(crate::api::openapi_rules::document())
}
