//! Starting and stopping one Troupe node: metrics registry, cluster member,
//! HTTP server.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use actix_web::{web, App, HttpServer};
use prometheus_client::registry::Registry;
use thiserror::Error;
use troupe_actors::ActorMetrics;
use troupe_cluster::{Cluster, ClusterError};
use troupe_config::Config;

use crate::api::{self, ApiMetrics, AppState};

#[derive(Debug, Error)]
pub enum StartError {
    #[error("cannot listen on {addr} (config field `http_listen`): {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("invalid config field `{field}`: {message}")]
    Config {
        field: &'static str,
        message: String,
    },
    #[error("{0}")]
    Other(String),
}

impl StartError {
    /// Configuration problems exit with 2, everything else with 1.
    pub fn exit_code(&self) -> u8 {
        match self {
            StartError::Config { .. } => 2,
            _ => 1,
        }
    }
}

pub struct RunningServer {
    http_addr: SocketAddr,
    https: bool,
    registry: Arc<Registry>,
    cluster: Cluster,
    server: actix_web::dev::ServerHandle,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl RunningServer {
    pub fn http_addr(&self) -> SocketAddr {
        self.http_addr
    }

    /// Where the API and the demo are served: `http://` or `https://`.
    pub fn url(&self) -> String {
        let scheme = if self.https { "https" } else { "http" };
        format!("{scheme}://{}", self.http_addr)
    }

    pub fn cluster(&self) -> &Cluster {
        &self.cluster
    }

    /// Every metric of the node, as `/metrics` serves it.
    pub fn registry(&self) -> Arc<Registry> {
        self.registry.clone()
    }

    /// Refuses new work, closes every object, then stops serving.
    pub async fn stop(self) {
        self.cluster.shutdown().await;
        self.server.stop(true).await;
        let _ = self.task.await;
    }
}

pub async fn start(config: Config) -> Result<RunningServer, StartError> {
    crate::https::install_crypto_provider();
    let mut registry = Registry::default();
    let actor_metrics = ActorMetrics::register(&mut registry);
    let api_metrics = ApiMetrics::register(&mut registry, &config);
    let cluster_metrics = troupe_cluster::ClusterMetrics::register(&mut registry);
    let listener =
        std::net::TcpListener::bind(config.http_listen).map_err(|source| StartError::Bind {
            addr: config.http_listen,
            source,
        })?;
    let http_addr = listener.local_addr().map_err(|source| StartError::Bind {
        addr: config.http_listen,
        source,
    })?;
    let https = match (&config.tls_certificate, &config.tls_private_key) {
        (Some(certificate), Some(key)) => Some(
            crate::https::load(certificate, key)
                .map_err(|(field, message)| StartError::Config { field, message })?,
        ),
        _ => None,
    };
    let api_url = format!(
        "{}://{}:{}",
        if https.is_some() { "https" } else { "http" },
        if http_addr.ip().is_unspecified() {
            config.announced_address.clone()
        } else {
            http_addr.ip().to_string()
        },
        http_addr.port()
    );
    troupe_cluster::set_trace_hooks(troupe_cluster::TraceHooks {
        current: crate::telemetry::current_traceparent,
        adopt: crate::telemetry::adopt_remote_parent,
    });
    let api_cert_fingerprint = https
        .as_ref()
        .map(|h| h.fingerprint.clone())
        .unwrap_or_default();
    let cluster = Cluster::start(
        &config,
        api_url,
        api_cert_fingerprint,
        actor_metrics,
        cluster_metrics,
    )
    .await
    .map_err(|e| match e {
        ClusterError::Config { field, message } => StartError::Config { field, message },
        other => StartError::Other(other.to_string()),
    })?;
    let registry = Arc::new(registry);
    let tls = https.is_some();
    let state = web::Data::new(AppState {
        cluster: cluster.clone(),
        registry: registry.clone(),
        api_metrics,
        api_token: config.api_token.clone(),
        room_tokens: crate::room_tokens::RoomTokens::from_settings(
            config.token_secret.as_deref(),
            config.cluster_secret.as_deref(),
        ),
        room_book: Default::default(),
        room_watches: Default::default(),
        started: Instant::now(),
        demo_dir: config.demo_dir.clone(),
        http_client: relay_client(&cluster)?,
    });
    let server = HttpServer::new(move || App::new().configure(api::configure(state.clone())))
        .workers(2)
        .disable_signals()
        .shutdown_timeout(2);
    let server = match https {
        Some(https) => server.listen_rustls_0_23(listener, https.server),
        None => server.listen(listener),
    }
    .map_err(|source| StartError::Bind {
        addr: http_addr,
        source,
    })?
    .run();
    let handle = server.handle();
    let task = tokio::spawn(server);
    tracing::info!(%http_addr, scheme = if tls { "https" } else { "http" }, node_id = %config.node_id, region = %config.region, "troupe node serving");
    Ok(RunningServer {
        http_addr,
        https: tls,
        registry,
        cluster,
        server: handle,
        task,
    })
}

/// The client relays and room views call other nodes with: plain HTTP, or
/// HTTPS to a node whose certificate its member record pins.
fn relay_client(cluster: &Cluster) -> Result<reqwest::Client, StartError> {
    let tls = cluster.api_client_tls().map_err(StartError::Other)?;
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .build()
        .map_err(|e| StartError::Other(format!("cannot make the relay client: {e}")))
}
