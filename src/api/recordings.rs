//! Recordings of a room to a file via ffmpeg.

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use troupe_actors::recording::{RecordingFormat, RecordingInfo};
use utoipa::ToSchema;

use crate::api::error::{ApiResult, ErrorBody};
use crate::api::json_body::JsonBody;
use crate::api::State;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/v1/routers/{id}/recordings",
        web::post().to(create_recording),
    )
    .route("/v1/recordings/{id}", web::get().to(get_recording))
    .route("/v1/recordings/{id}", web::delete().to(delete_recording));
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateRecordingRequest {
    /// 1 to 8 producers of the router.
    #[schema(min_items = 1, max_items = 8)]
    pub producer_ids: Vec<String>,
    pub format: RecordingFormat,
    /// Inside the recordings directory (relative to it, or absolute);
    /// `<id>.<format>` there when absent.
    pub path: Option<String>,
}

/// Records producers of the router to a file; the file starts on a key frame.
#[utoipa::path(post, path = "/v1/routers/{id}/recordings", tag = "recordings",
    request_body = CreateRecordingRequest,
    responses((status = 200, body = RecordingInfo), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody, description = "the file exists, or a producer named is not in the router"),
              (status = 503, body = ErrorBody, description = "ffmpeg is missing or exited at once")))]
pub async fn create_recording(
    state: State,
    id: web::Path<String>,
    body: JsonBody<CreateRecordingRequest>,
) -> ApiResult<HttpResponse> {
    state.accepting()?;
    let request = body.0;
    let info = state
        .node()
        .start_recording(&id, request.producer_ids, request.format, request.path)
        .await?;
    Ok(HttpResponse::Ok().json(info))
}

/// A recording's state.
#[utoipa::path(get, path = "/v1/recordings/{id}", tag = "recordings",
    responses((status = 200, body = RecordingInfo), (status = 404, body = ErrorBody)))]
pub async fn get_recording(state: State, id: web::Path<String>) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(state.node().recording_status(&id).await?))
}

/// Stops a recording; answers once ffmpeg has finalized the file.
#[utoipa::path(delete, path = "/v1/recordings/{id}", tag = "recordings",
    responses((status = 200, body = RecordingInfo), (status = 404, body = ErrorBody)))]
pub async fn delete_recording(state: State, id: web::Path<String>) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(state.node().stop_recording(&id).await?))
}
