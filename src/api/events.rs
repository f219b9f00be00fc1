//! `GET /v1/events`: a WebSocket of JSON notifications. `?routerId=` keeps
//! one room's. A subscriber too slow to keep up is told how many
//! notifications it missed rather than making the node buffer for it.

use actix_web::{web, HttpRequest, HttpResponse};
use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::json;
use tokio::sync::broadcast::error::RecvError;
use utoipa::IntoParams;

use crate::api::error::ApiError;
use crate::api::State;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/v1/events", web::get().to(events));
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
pub struct EventFilter {
    /// Only notifications about this router's objects.
    pub router_id: Option<String>,
}

/// WebSocket of notifications: `{event, targetKind, targetId, routerId, nodeId, timestamp, data}`.
#[utoipa::path(get, path = "/v1/events", tag = "events", params(EventFilter),
    responses((status = 101, description = "WebSocket upgrade; then one JSON notification per text message"),
              (status = 400, body = crate::api::error::ErrorBody, description = "not a WebSocket upgrade")))]
pub async fn events(
    state: State,
    req: HttpRequest,
    body: web::Payload,
    filter: web::Query<EventFilter>,
) -> Result<HttpResponse, ApiError> {
    let (response, mut session, mut incoming) = actix_ws::handle(&req, body)
        .map_err(|e| ApiError::invalid("", format!("not a WebSocket upgrade: {e}")))?;
    let mut notifications = state.node().events().subscribe();
    let router_filter = filter.into_inner().router_id;
    actix_web::rt::spawn(async move {
        loop {
            tokio::select! {
                received = notifications.recv() => {
                    let text = match received {
                        Ok(n) if router_filter.as_ref().is_some_and(|r| n.router_id.as_ref() != Some(r)) => continue,
                        Ok(n) => serde_json::to_string(&n).unwrap_or_default(),
                        Err(RecvError::Lagged(missed)) => json!({"event": "lagged", "data": {"missed": missed}}).to_string(),
                        Err(RecvError::Closed) => break,
                    };
                    if session.text(text).await.is_err() {
                        break;
                    }
                }
                message = incoming.next() => match message {
                    Some(Ok(actix_ws::Message::Ping(bytes))) => {
                        if session.pong(&bytes).await.is_err() {
                            break;
                        }
                    }
                    Some(Ok(actix_ws::Message::Close(_))) | None | Some(Err(_)) => break,
                    Some(Ok(_)) => {}
                },
            }
        }
        let _ = session.close(None).await;
    });
    Ok(response)
}
