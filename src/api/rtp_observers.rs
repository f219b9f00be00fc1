//! A router's audio observers (mediasoup's AudioLevelObserver and
//! ActiveSpeakerObserver): `volumes`, `silence` and `dominantspeaker`
//! notifications on `/v1/events`.

use actix_web::{web, HttpResponse};
use troupe_actors::rtp_observer::{
    ActiveSpeakerObserverOptions, AudioLevelObserverOptions, ObservedProducer, RtpObserverCreated,
    RtpObserverDump,
};
use troupe_actors::ObjectKind;

use crate::api::error::{ApiResult, ErrorBody};
use crate::api::json_body::JsonBody;
use crate::api::State;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/v1/routers/{id}/audio-level-observers",
        web::post().to(create_audio_level_observer),
    )
    .route(
        "/v1/routers/{id}/active-speaker-observers",
        web::post().to(create_active_speaker_observer),
    )
    .route("/v1/rtp-observers/{id}", web::get().to(get_observer))
    .route("/v1/rtp-observers/{id}", web::delete().to(delete_observer))
    .route(
        "/v1/rtp-observers/{id}/producers",
        web::post().to(add_producer),
    )
    .route(
        "/v1/rtp-observers/{id}/producers/{producer_id}",
        web::delete().to(remove_producer),
    )
    .route("/v1/rtp-observers/{id}/pause", web::post().to(pause))
    .route("/v1/rtp-observers/{id}/resume", web::post().to(resume));
}

/// Every `interval` ms, `volumes` names the `maxEntries` loudest audio
/// producers at or above `threshold` dBov; `silence` once when none is.
#[utoipa::path(post, path = "/v1/routers/{id}/audio-level-observers", tag = "observers",
    request_body = AudioLevelObserverOptions,
    responses((status = 200, body = RtpObserverCreated), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn create_audio_level_observer(
    state: State,
    id: web::Path<String>,
    body: JsonBody<AudioLevelObserverOptions>,
) -> ApiResult<HttpResponse> {
    state.accepting()?;
    let created = state
        .node()
        .create_audio_level_observer(&id, body.0)
        .await?;
    Ok(HttpResponse::Ok().json(created))
}

/// `dominantspeaker` names the audio producer speaking now, when it changes.
#[utoipa::path(post, path = "/v1/routers/{id}/active-speaker-observers", tag = "observers",
    request_body = ActiveSpeakerObserverOptions,
    responses((status = 200, body = RtpObserverCreated), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn create_active_speaker_observer(
    state: State,
    id: web::Path<String>,
    body: JsonBody<ActiveSpeakerObserverOptions>,
) -> ApiResult<HttpResponse> {
    state.accepting()?;
    let created = state
        .node()
        .create_active_speaker_observer(&id, body.0)
        .await?;
    Ok(HttpResponse::Ok().json(created))
}

/// The observer's producers and state.
#[utoipa::path(get, path = "/v1/rtp-observers/{id}", tag = "observers",
    responses((status = 200, body = RtpObserverDump), (status = 404, body = ErrorBody)))]
pub async fn get_observer(state: State, id: web::Path<String>) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(state.node().rtp_observer_dump(&id).await?))
}

/// Closes the observer.
#[utoipa::path(delete, path = "/v1/rtp-observers/{id}", tag = "observers",
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn delete_observer(state: State, id: web::Path<String>) -> ApiResult<HttpResponse> {
    state.node().close(ObjectKind::RtpObserver, &id)?;
    Ok(HttpResponse::NoContent().finish())
}

/// Observes an audio producer of the same router.
#[utoipa::path(post, path = "/v1/rtp-observers/{id}/producers", tag = "observers",
    request_body = ObservedProducer,
    responses((status = 204), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody, description = "already observed")))]
pub async fn add_producer(
    state: State,
    id: web::Path<String>,
    body: JsonBody<ObservedProducer>,
) -> ApiResult<HttpResponse> {
    state
        .node()
        .rtp_observer_add_producer(&id, body.0.producer_id)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Stops observing a producer.
#[utoipa::path(delete, path = "/v1/rtp-observers/{id}/producers/{producer_id}", tag = "observers",
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn remove_producer(
    state: State,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    let (id, producer_id) = path.into_inner();
    state
        .node()
        .rtp_observer_remove_producer(&id, producer_id)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// No notifications until resumed.
#[utoipa::path(post, path = "/v1/rtp-observers/{id}/pause", tag = "observers",
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn pause(state: State, id: web::Path<String>) -> ApiResult<HttpResponse> {
    state.node().rtp_observer_pause(&id, true).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Notifications again.
#[utoipa::path(post, path = "/v1/rtp-observers/{id}/resume", tag = "observers",
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn resume(state: State, id: web::Path<String>) -> ApiResult<HttpResponse> {
    state.node().rtp_observer_pause(&id, false).await?;
    Ok(HttpResponse::NoContent().finish())
}
