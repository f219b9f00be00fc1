//! The HTTP + JSON API of DESIGN §4, served by actix-web. Handlers are thin:
//! parse, call the cluster/actor layer, map errors.

mod allowed_methods;
mod body_shape;
pub mod caller;
mod cluster;
mod consumers;
mod data;
mod demo;
pub mod error;
mod events;
mod exposition;
pub mod json_body;
mod metrics;
mod middleware;
pub mod openapi;
mod openapi_rules;
mod producers;
mod recordings;
pub mod relay;
pub mod room_book;
mod room_socket;
mod room_watch;
mod rooms;
mod routers;
mod rtp_observers;
mod system;
mod transports;
mod whip;

use std::sync::Arc;
use std::time::Instant;

use actix_web::web;
use prometheus_client::registry::Registry;
use troupe_cluster::Cluster;

pub use error::{ApiError, ApiResult, ErrorBody};
pub use metrics::ApiMetrics;

pub struct AppState {
    pub cluster: Cluster,
    pub registry: Arc<Registry>,
    pub api_metrics: ApiMetrics,
    pub api_token: Option<String>,
    pub room_tokens: crate::room_tokens::RoomTokens,
    /// Who is in this node's rooms (sessions, producers' makers).
    pub room_book: room_book::RoomBook,
    /// One watcher per room with a WebSocket open here.
    pub room_watches: room_watch::RoomWatches,
    pub started: Instant,
    /// Where the demo page and its bundle are read from.
    pub demo_dir: std::path::PathBuf,
    /// Relays requests about objects on other nodes.
    pub http_client: reqwest::Client,
}

impl AppState {
    pub fn node(&self) -> &troupe_actors::NodeHandle {
        self.cluster.node()
    }

    /// New objects are refused while the node drains.
    pub fn accepting(&self) -> ApiResult<()> {
        if self.cluster.is_draining() {
            Err(ApiError::draining())
        } else {
            Ok(())
        }
    }
}

pub type State = web::Data<AppState>;

/// Registers every route and the middleware on an actix App.
pub fn configure(state: State) -> impl FnOnce(&mut web::ServiceConfig) {
    move |cfg: &mut web::ServiceConfig| {
        cfg.app_data(state.clone())
            .app_data(
                web::PathConfig::default()
                    .error_handler(|e, _| ApiError::invalid("path", e.to_string()).into()),
            )
            .service(
                web::scope("")
                    .wrap(actix_web::middleware::from_fn(relay::relay))
                    .wrap(actix_web::middleware::from_fn(middleware::authorize))
                    .wrap(actix_web::middleware::from_fn(middleware::observe))
                    .configure(system::routes)
                    .configure(cluster::routes)
                    .configure(routers::routes)
                    .configure(transports::routes)
                    .configure(producers::routes)
                    .configure(consumers::routes)
                    .configure(data::routes)
                    .configure(rtp_observers::routes)
                    .configure(recordings::routes)
                    .configure(rooms::routes)
                    .configure(whip::routes)
                    .configure(room_socket::routes)
                    .configure(events::routes)
                    .configure(demo::routes)
                    .default_service(web::to(not_a_route)),
            );
    }
}

async fn not_a_route(req: actix_web::HttpRequest) -> ApiResult<actix_web::HttpResponse> {
    if let Some(methods) = allowed_methods::allowed_methods(req.path()) {
        let allow = methods.join(", ");
        let error = ApiError::new(
            actix_web::http::StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            format!("{} takes {allow}, not {}", req.path(), req.method()),
        );
        let mut response = actix_web::ResponseError::error_response(&error);
        if let Ok(value) = actix_web::http::header::HeaderValue::from_str(&allow) {
            response
                .headers_mut()
                .insert(actix_web::http::header::ALLOW, value);
        }
        return Ok(response);
    }
    Err(ApiError::not_found(format!(
        "no route for {} {}",
        req.method(),
        req.path()
    )))
}
