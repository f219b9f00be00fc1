//! Recordings of a room to a file via ffmpeg.

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::api::error::{ApiError, ApiResult, ErrorBody};
use crate::api::json_body::JsonBody;
use crate::api::State;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/v1/routers/{id}/recordings",
        web::post().to(create_recording),
    )
    .route("/v1/recordings/{id}", web::get().to(get_recording))
    .route("/v1/recordings/{id}", web::delete().to(get_recording));
}

#[derive(Debug, Deserialize, ToSchema)]
// Parsed and checked now so clients get field errors; the rest is read
// once this object kind is built.
#[allow(dead_code)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateRecordingRequest {
    pub producer_ids: Vec<String>,
    /// `webm` or `mkv`.
    pub format: String,
    /// Inside the recordings directory; generated when absent.
    pub path: Option<String>,
}

/// Records producers of the router to a file.
#[utoipa::path(post, path = "/v1/routers/{id}/recordings", tag = "recordings",
    request_body = CreateRecordingRequest,
    responses((status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 501, body = ErrorBody)))]
pub async fn create_recording(
    state: State,
    id: web::Path<String>,
    body: JsonBody<CreateRecordingRequest>,
) -> ApiResult<HttpResponse> {
    state.accepting()?;
    let request = body.0;
    if !matches!(request.format.as_str(), "webm" | "mkv") {
        return Err(ApiError::invalid(
            "format",
            format!("{:?} is not \"webm\" or \"mkv\"", request.format),
        ));
    }
    if request.producer_ids.is_empty() {
        return Err(ApiError::invalid(
            "producerIds",
            "name at least one producer",
        ));
    }
    state.node().router_dump(&id).await?;
    Err(ApiError::not_implemented(
        "recordings need plain transports, which are not built yet",
    ))
}

/// A recording's state; DELETE stops it once the file is finalized.
#[utoipa::path(get, path = "/v1/recordings/{id}", tag = "recordings",
    responses((status = 404, body = ErrorBody)))]
pub async fn get_recording(id: web::Path<String>) -> ApiResult<HttpResponse> {
    Err(ApiError::not_found(format!("recording {id} not found")))
}
