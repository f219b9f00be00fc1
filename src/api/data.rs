//! Data producers and consumers (mediasoup's produceData / consumeData):
//! SCTP data channels on WebRTC transports, or messages to and from the
//! API on direct transports.

use actix_web::{web, HttpResponse};
use troupe_actors::data_consumer::DataConsumerDump;
use troupe_actors::data_parameters::{
    DataConsumeRequest, DataConsumerCreated, DataProduceRequest, DataProducerCreated, DataStats,
    DirectMessage,
};
use troupe_actors::data_producer::DataProducerDump;
use troupe_actors::ObjectKind;

use crate::api::error::{ApiResult, ErrorBody};
use crate::api::json_body::JsonBody;
use crate::api::State;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/v1/transports/{id}/data-producers",
        web::post().to(produce_data),
    )
    .route(
        "/v1/transports/{id}/data-consumers",
        web::post().to(consume_data),
    )
    .route("/v1/data-producers/{id}", web::get().to(get_data_producer))
    .route(
        "/v1/data-producers/{id}",
        web::delete().to(delete_data_producer),
    )
    .route(
        "/v1/data-producers/{id}/pause",
        web::post().to(pause_data_producer),
    )
    .route(
        "/v1/data-producers/{id}/resume",
        web::post().to(resume_data_producer),
    )
    .route(
        "/v1/data-producers/{id}/stats",
        web::get().to(data_producer_stats),
    )
    .route("/v1/data-producers/{id}/send", web::post().to(send))
    .route("/v1/data-consumers/{id}", web::get().to(get_data_consumer))
    .route(
        "/v1/data-consumers/{id}",
        web::delete().to(delete_data_consumer),
    )
    .route(
        "/v1/data-consumers/{id}/pause",
        web::post().to(pause_data_consumer),
    )
    .route(
        "/v1/data-consumers/{id}/resume",
        web::post().to(resume_data_consumer),
    )
    .route(
        "/v1/data-consumers/{id}/stats",
        web::get().to(data_consumer_stats),
    );
}

/// Creates a data producer: an incoming data channel on the stream
/// `sctpStreamParameters.streamId` (WebRTC transport made with `enableSctp`),
/// or a direct one fed by `POST /v1/data-producers/{id}/send`.
#[utoipa::path(post, path = "/v1/transports/{id}/data-producers", tag = "data",
    request_body = DataProduceRequest,
    responses((status = 200, body = DataProducerCreated), (status = 400, body = ErrorBody),
              (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody, description = "the transport has no SCTP, or `id` is given to a transport that is not a pipe"),
              (status = 501, body = ErrorBody, description = "SCTP on plain and pipe transports")))]
pub async fn produce_data(
    state: State,
    id: web::Path<String>,
    body: JsonBody<DataProduceRequest>,
) -> ApiResult<HttpResponse> {
    state.accepting()?;
    Ok(HttpResponse::Ok().json(state.node().produce_data(&id, body.0).await?))
}

/// Creates a data consumer of a data producer of the same router, on a
/// stream the server allocates.
#[utoipa::path(post, path = "/v1/transports/{id}/data-consumers", tag = "data",
    request_body = DataConsumeRequest,
    responses((status = 200, body = DataConsumerCreated), (status = 400, body = ErrorBody),
              (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody, description = "the transport has no SCTP, or no free stream"),
              (status = 501, body = ErrorBody, description = "SCTP on plain and pipe transports")))]
pub async fn consume_data(
    state: State,
    id: web::Path<String>,
    body: JsonBody<DataConsumeRequest>,
) -> ApiResult<HttpResponse> {
    state.accepting()?;
    // A data producer on another node is piped into this node's router first.
    let router_id = state.node().topology().transport(&id)?.router_id;
    state
        .cluster
        .ensure_data_producer(&router_id, &body.0.data_producer_id)
        .await?;
    Ok(HttpResponse::Ok().json(state.node().consume_data(&id, body.0).await?))
}

/// The data producer's parameters and consumers.
#[utoipa::path(get, path = "/v1/data-producers/{id}", tag = "data",
    responses((status = 200, body = DataProducerDump), (status = 404, body = ErrorBody)))]
pub async fn get_data_producer(state: State, id: web::Path<String>) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(state.node().data_producer_dump(&id).await?))
}

/// Closes the data producer; each of its data consumers closes with
/// `dataproducerclose`.
#[utoipa::path(delete, path = "/v1/data-producers/{id}", tag = "data",
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn delete_data_producer(state: State, id: web::Path<String>) -> ApiResult<HttpResponse> {
    state.node().close(ObjectKind::DataProducer, &id)?;
    Ok(HttpResponse::NoContent().finish())
}

/// Stops forwarding its messages; its data consumers emit `dataproducerpause`.
#[utoipa::path(post, path = "/v1/data-producers/{id}/pause", tag = "data",
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn pause_data_producer(state: State, id: web::Path<String>) -> ApiResult<HttpResponse> {
    state.node().data_producer_pause(&id, true).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Forwards its messages again; its data consumers emit `dataproducerresume`.
#[utoipa::path(post, path = "/v1/data-producers/{id}/resume", tag = "data",
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn resume_data_producer(state: State, id: web::Path<String>) -> ApiResult<HttpResponse> {
    state.node().data_producer_pause(&id, false).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Messages and bytes received.
#[utoipa::path(get, path = "/v1/data-producers/{id}/stats", tag = "data",
    responses((status = 200, body = Vec<DataStats>), (status = 404, body = ErrorBody)))]
pub async fn data_producer_stats(state: State, id: web::Path<String>) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(state.node().data_producer_stats(&id).await?))
}

/// Sends a message from the server side through a direct data producer to
/// each of its data consumers (text, or base64 with `binary: true`).
#[utoipa::path(post, path = "/v1/data-producers/{id}/send", tag = "data",
    request_body = DirectMessage,
    responses((status = 204), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody, description = "not a direct data producer")))]
pub async fn send(
    state: State,
    id: web::Path<String>,
    body: JsonBody<DirectMessage>,
) -> ApiResult<HttpResponse> {
    state.node().data_producer_send(&id, body.0)?;
    Ok(HttpResponse::NoContent().finish())
}

/// The data consumer's stream and state.
#[utoipa::path(get, path = "/v1/data-consumers/{id}", tag = "data",
    responses((status = 200, body = DataConsumerDump), (status = 404, body = ErrorBody)))]
pub async fn get_data_consumer(state: State, id: web::Path<String>) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(state.node().data_consumer_dump(&id).await?))
}

/// Closes the data consumer.
#[utoipa::path(delete, path = "/v1/data-consumers/{id}", tag = "data",
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn delete_data_consumer(state: State, id: web::Path<String>) -> ApiResult<HttpResponse> {
    state.node().close(ObjectKind::DataConsumer, &id)?;
    Ok(HttpResponse::NoContent().finish())
}

/// Stops sending to this receiver.
#[utoipa::path(post, path = "/v1/data-consumers/{id}/pause", tag = "data",
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn pause_data_consumer(state: State, id: web::Path<String>) -> ApiResult<HttpResponse> {
    state.node().data_consumer_pause(&id, true).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Sends to this receiver again.
#[utoipa::path(post, path = "/v1/data-consumers/{id}/resume", tag = "data",
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn resume_data_consumer(state: State, id: web::Path<String>) -> ApiResult<HttpResponse> {
    state.node().data_consumer_pause(&id, false).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Messages and bytes sent, and bytes waiting for the receiver.
#[utoipa::path(get, path = "/v1/data-consumers/{id}/stats", tag = "data",
    responses((status = 200, body = Vec<DataStats>), (status = 404, body = ErrorBody)))]
pub async fn data_consumer_stats(state: State, id: web::Path<String>) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(state.node().data_consumer_stats(&id).await?))
}
