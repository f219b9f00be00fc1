//! The page at `/`: what this node is and what it serves.

use actix_web::{web, HttpResponse};

use crate::api::State;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(index));
}

pub async fn index(state: State) -> HttpResponse {
    let node = state.node();
    let routers = node.topology().router_ids();
    let rows: String = routers
        .iter()
        .map(|id| format!("<li><a href=\"/v1/routers/{id}\"><code>{id}</code></a></li>"))
        .collect();
    let html = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Troupe {node_id}</title>\
<style>body{{font-family:system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem;color:#222}}\
code{{background:#f3f3f3;padding:0 .25rem}}</style></head><body>\
<h1>Troupe</h1><p>Node <code>{node_id}</code>, region <code>{region}</code>, version {version}.</p>\
<h2>Routers ({count})</h2><ul>{rows}</ul>\
<h2>API</h2><ul><li><a href=\"/v1/openapi.json\">OpenAPI document</a></li>\
<li><a href=\"/v1/health\">health</a> · <a href=\"/v1/ready\">readiness</a> · <a href=\"/metrics\">metrics</a></li>\
<li>notifications: WebSocket <code>/v1/events</code></li></ul></body></html>",
        node_id = node.node_id(),
        region = node.region(),
        version = env!("CARGO_PKG_VERSION"),
        count = routers.len(),
    );
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(html)
}
