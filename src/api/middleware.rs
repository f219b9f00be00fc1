use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{web, Error, HttpMessage};
use tracing::Instrument;

use crate::api::caller::{forbidden, Caller};
use crate::api::error::ApiError;
use crate::api::metrics::{RequestLabels, RouteLabels};
use crate::api::AppState;

/// Paths anyone may read: probes must work without credentials, and the
/// demo page and its scripts hold no secret (what they do needs a token).
fn is_public(path: &str) -> bool {
    matches!(
        path,
        "/v1/health" | "/v1/ready" | "/" | "/classic" | "/room" | "/demo/app.js" | "/demo/room.js"
    )
}

/// Compares in time independent of where the strings differ.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Routes a room token opens (its room's, within its grants; the handlers
/// check which room and grant).
fn is_room_route(path: &str) -> bool {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    matches!(
        segments.as_slice(),
        ["v1", "rooms", _]
            | ["v1", "rooms", _, "whip" | "whep" | "ws"]
            | ["v1", "whip" | "whep", _]
    )
}

/// The bearer token of a request: the `Authorization` header, or for a
/// WebSocket (browsers cannot set headers on one) the `token` query
/// parameter.
fn bearer_token(req: &ServiceRequest) -> Option<String> {
    let header = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|t| t.trim().to_string());
    header.or_else(|| {
        req.path().ends_with("/ws").then(|| {
            req.query_string()
                .split('&')
                .find_map(|pair| pair.strip_prefix("token="))
                .map(str::to_string)
        })?
    })
}

pub async fn authorize(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return next.call(req).await;
    };
    if is_public(req.path()) || req.method() == actix_web::http::Method::OPTIONS {
        return next.call(req).await;
    }
    // A documented path asked with a method it does not take is a 405,
    // whoever asks: nothing is served, so there is nothing to authorize.
    let method = req.method().as_str();
    if super::allowed_methods::allowed_methods(req.path()).is_some_and(|m| !m.contains(&method)) {
        return next.call(req).await;
    }
    let given = bearer_token(&req);
    let is_admin = match (&given, &state.api_token) {
        (Some(g), Some(expected)) => constant_time_eq(g.as_bytes(), expected.as_bytes()),
        (_, None) => false,
        (None, Some(_)) => false,
    };
    let caller = if is_admin {
        Caller::Admin
    } else {
        match given.as_deref().map(|t| state.room_tokens.verify(t)) {
            Some(Ok(claims)) if is_room_route(req.path()) => Caller::Room(claims),
            Some(Ok(_)) => {
                return Err(forbidden("a room token opens only its room's routes").into());
            }
            Some(Err(e)) if state.api_token.is_some() || is_room_route(req.path()) => {
                state.api_metrics.refused_tokens.inc();
                return Err(ApiError::new(
                    actix_web::http::StatusCode::UNAUTHORIZED,
                    "unauthorized",
                    e.to_string(),
                )
                .into());
            }
            // No API token configured (a loopback default): the caller
            // is trusted, whatever it sends that is not a room token.
            _ if state.api_token.is_none() => Caller::Admin,
            _ => return Err(ApiError::unauthorized().into()),
        }
    };
    req.extensions_mut().insert(caller);
    next.call(req).await
}

/// A span per request (route, method, status) and the API metrics.
pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let started = Instant::now();
    let method = req.method().to_string();
    let route = req.match_pattern().unwrap_or_else(|| "unmatched".into());
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let span = tracing::info_span!("api", http.method = %method, http.route = %route, http.status = tracing::field::Empty);
    if let Some(parent) = req
        .headers()
        .get("traceparent")
        .and_then(|v| v.to_str().ok())
    {
        crate::telemetry::adopt_remote_parent(&span, parent);
    }
    let result = next.call(req).instrument(span.clone()).await;
    let status = match &result {
        Ok(response) => response.status().as_u16(),
        Err(e) => e.as_response_error().status_code().as_u16(),
    };
    span.record("http.status", status);
    if let Some(state) = state {
        let m = &state.api_metrics;
        m.requests
            .get_or_create(&RequestLabels {
                route: route.clone(),
                method: method.clone(),
                status,
            })
            .inc();
        m.latency
            .get_or_create(&RouteLabels { route, method })
            .observe(started.elapsed().as_secs_f64());
    }
    result
}
