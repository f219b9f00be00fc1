//! Any node answers the whole API: a request about an object that lives on
//! another node (its id names the node) is sent there as it came and the
//! answer is passed back unchanged, status code and body. Creating a
//! transport in a room this node does not serve yet first makes the local
//! router for that room.
//!
//! Relaying the HTTP request itself, rather than translating each route
//! into a link message, keeps every status code and error body identical
//! whichever node answered, and the home node's own validation applies.

use std::time::Duration;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{web, Error, FromRequest, HttpResponse};
use troupe_cluster::Cluster;

use crate::api::error::ApiError;
use crate::api::AppState;

/// Marks a relayed request: it is answered where it arrives, never relayed
/// again (no loops, whatever the nodes think of each other).
pub const RELAYED_HEADER: &str = "x-troupe-relayed-by";
/// The home node may itself wait on another node (opening a pipe), so this
/// is longer than one node-to-node request.
const RELAY_DEADLINE: Duration = Duration::from_secs(15);

#[derive(Debug, PartialEq, Eq)]
enum Placement {
    Here,
    /// Serve the room here, then answer here.
    ServeRoom(String),
    Relay(String),
}

/// Where a request is carried out, from its method and path.
fn placement(cluster: &Cluster, method: &str, path: &str) -> Placement {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (kind, id, rest) = match segments.as_slice() {
        ["v1", kind, id, rest @ ..] => (*kind, *id, rest),
        _ => return Placement::Here,
    };
    let relay_to_home = || match cluster.remote_home_of(id) {
        Some(home) => Placement::Relay(home),
        None => Placement::Here,
    };
    let served_here = || cluster.node().topology().router(id).is_ok();
    match (kind, method, rest) {
        ("transports" | "producers" | "consumers" | "recordings", _, _) => relay_to_home(),
        ("data-producers" | "data-consumers" | "rtp-observers", _, _) => relay_to_home(),
        // A WHIP/WHEP session is its transport.
        ("whip" | "whep", _, _) => relay_to_home(),
        ("routers", "POST", [sub])
            if sub.ends_with("-transports") || sub.ends_with("-observers") =>
        {
            Placement::ServeRoom(id.to_string())
        }
        // Closing a room closes it everywhere; the handler does that.
        ("routers", "DELETE", []) => Placement::Here,
        ("routers", _, _) if served_here() => Placement::Here,
        ("routers", _, _) => relay_to_home(),
        _ => Placement::Here,
    }
}

pub async fn relay(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, Error> {
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return Ok(next.call(req).await?.map_into_left_body());
    };
    if req.headers().contains_key(RELAYED_HEADER) {
        return Ok(next.call(req).await?.map_into_left_body());
    }
    match placement(&state.cluster, req.method().as_str(), req.path()) {
        Placement::Here => Ok(next.call(req).await?.map_into_left_body()),
        Placement::ServeRoom(router_id) => {
            // Not found or unreachable: the handler answers 404 as usual.
            if let Err(e) = state.cluster.ensure_router(&router_id).await {
                if !matches!(
                    e,
                    troupe_cluster::CascadeError::Actor(troupe_actors::ActorError::NotFound { .. })
                ) {
                    let error = ApiError::from(e);
                    let (http, _) = req.into_parts();
                    let response = actix_web::ResponseError::error_response(&error);
                    return Ok(ServiceResponse::new(http, response).map_into_right_body());
                }
            }
            Ok(next.call(req).await?.map_into_left_body())
        }
        Placement::Relay(node) => {
            let (http, mut payload) = req.into_parts();
            let body = web::Bytes::from_request(&http, &mut payload).await?;
            let response = match forward(&state, &node, &http, body).await {
                Ok(response) => response,
                Err(error) => actix_web::ResponseError::error_response(&error),
            };
            Ok(ServiceResponse::new(http, response).map_into_right_body())
        }
    }
}

async fn forward(
    state: &AppState,
    node: &str,
    http: &actix_web::HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let member = state.cluster.member(node).ok_or_else(|| {
        ApiError::not_found(format!(
            "{} lives on node {node}, which is not in the cluster (any more)",
            http.path()
        ))
    })?;
    let path = http
        .uri()
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    let method = reqwest::Method::from_bytes(http.method().as_str().as_bytes())
        .map_err(|e| ApiError::invalid("method", e.to_string()))?;
    let mut request = state
        .http_client
        .request(method, format!("{}{path}", member.api_url))
        .timeout(RELAY_DEADLINE)
        .header(RELAYED_HEADER, state.cluster.node_id())
        .body(body);
    for name in ["content-type", "authorization", "traceparent", "tracestate"] {
        if let Some(value) = http.headers().get(name).and_then(|v| v.to_str().ok()) {
            request = request.header(name, value);
        }
    }
    if let Some(traceparent) = crate::telemetry::current_traceparent() {
        request = request.header("traceparent", traceparent);
    }
    let answer = request.send().await.map_err(|e| relay_error(node, e))?;
    let status = actix_web::http::StatusCode::from_u16(answer.status().as_u16())
        .unwrap_or(actix_web::http::StatusCode::BAD_GATEWAY);
    let content_type = answer
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let bytes = answer.bytes().await.map_err(|e| relay_error(node, e))?;
    let mut response = HttpResponse::build(status);
    if let Some(content_type) = content_type {
        response.insert_header(("content-type", content_type));
    }
    Ok(response.body(bytes))
}

fn relay_error(node: &str, e: reqwest::Error) -> ApiError {
    use actix_web::http::StatusCode;
    if e.is_timeout() {
        ApiError::new(
            StatusCode::GATEWAY_TIMEOUT,
            "remote_timeout",
            format!(
                "node {node} did not answer within {} s",
                RELAY_DEADLINE.as_secs()
            ),
        )
    } else {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "node_unavailable",
            format!("cannot reach node {node}: {e}"),
        )
    }
}
