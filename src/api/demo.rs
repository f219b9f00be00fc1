//! The demo pages: `/` (a room by name, joined through the room WebSocket
//! with a room token, or none on loopback), `/classic` (publish a camera
//! and watch a router through the admin API, as an app server would), and
//! this node's status at `/status`.

use actix_web::{web, HttpResponse};

use crate::api::State;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(room_page))
        .route("/room", web::get().to(room_page))
        .route("/classic", web::get().to(index))
        .route("/demo/app.js", web::get().to(bundle))
        .route("/demo/room.js", web::get().to(room_bundle))
        .route("/status", web::get().to(status));
}

fn read(state: &State, relative: &str) -> Option<Vec<u8>> {
    std::fs::read(state.demo_dir.join(relative)).ok()
}

pub async fn index(state: State) -> HttpResponse {
    page(&state, "index.html", "dist/app.js")
}

pub async fn room_page(state: State) -> HttpResponse {
    page(&state, "room.html", "dist/room.js")
}

fn page(state: &State, html: &str, bundle: &str) -> HttpResponse {
    match (read(state, html), state.demo_dir.join(bundle).is_file()) {
        (Some(page), true) => HttpResponse::Ok()
            .content_type("text/html; charset=utf-8")
            .body(page),
        _ => status_page(
            state,
            Some("The demo page is not built: run <code>scripts/run.sh</code>, which bundles it."),
        ),
    }
}

pub async fn bundle(state: State) -> HttpResponse {
    script(&state, "dist/app.js")
}

pub async fn room_bundle(state: State) -> HttpResponse {
    script(&state, "dist/room.js")
}

fn script(state: &State, relative: &str) -> HttpResponse {
    match read(state, relative) {
        Some(js) => HttpResponse::Ok()
            .content_type("text/javascript; charset=utf-8")
            .body(js),
        None => HttpResponse::NotFound()
            .content_type("text/plain")
            .body("demo bundle not built"),
    }
}

pub async fn status(state: State) -> HttpResponse {
    status_page(&state, None)
}

fn status_page(state: &State, note: Option<&str>) -> HttpResponse {
    let node = state.node();
    let routers = node.topology().router_ids();
    let rows: String = routers
        .iter()
        .map(|id| format!("<li><a href=\"/v1/routers/{id}\"><code>{id}</code></a></li>"))
        .collect();
    let note = note
        .map(|n| format!("<p><strong>{n}</strong></p>"))
        .unwrap_or_default();
    let html = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Troupe {node_id}</title>\
<style>body{{font-family:system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem;color:#222}}\
code{{background:#f3f3f3;padding:0 .25rem}}</style></head><body>\
<h1>Troupe</h1>{note}<p>Node <code>{node_id}</code>, region <code>{region}</code>, version {version}, \
WebRTC port {port}.</p>\
<h2>Routers ({count})</h2><ul>{rows}</ul>\
<h2>API</h2><ul><li><a href=\"/v1/openapi.json\">OpenAPI document</a></li>\
<li><a href=\"/v1/health\">health</a> · <a href=\"/v1/ready\">readiness</a> · <a href=\"/metrics\">metrics</a></li>\
<li>notifications: WebSocket <code>/v1/events</code></li></ul></body></html>",
        node_id = node.node_id(),
        region = node.region(),
        version = env!("CARGO_PKG_VERSION"),
        port = node.webrtc_port().map(|p| p.to_string()).unwrap_or_else(|| "closed".into()),
        count = routers.len(),
    );
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(html)
}
