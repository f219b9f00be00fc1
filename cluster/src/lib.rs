//! Troupe's cluster layer: who the nodes are (membership), where objects
//! live (ids name their home node), requests between nodes (the control
//! link) and automatic cascading with pipe transports. Standalone — no
//! etcd configured — is the same code path with an in-process membership
//! of one.

mod cascade;
mod control;
mod data_pipes;
mod etcd_membership;
mod link;
pub mod link_tls;
mod membership;
mod metrics;
pub mod protocol;
mod rooms;
mod sealed;
mod trace_context;
mod upkeep;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use thiserror::Error;
use troupe_actors::ids::home_node_of;
use troupe_actors::media::MediaConfig;
use troupe_actors::rtp_parameters::RtpCodecCapability;
use troupe_actors::{ActorError, ActorMetrics, NodeHandle};
use troupe_config::Config;

pub use cascade::{InboundPipe, OutboundPipe, PipeListing};
pub use link::LinkError;
pub use membership::{MemberTable, MembershipChange, NodeRecord};
pub use metrics::ClusterMetrics;
pub use rooms::{check_room_name, RoomError, RoomRecord};
pub use trace_context::{set_trace_hooks, TraceHooks};

use cascade::PipeBook;
use link::Links;

#[derive(Debug, Error)]
pub enum ClusterError {
    #[error("{field}: {message}")]
    Config {
        field: &'static str,
        message: String,
    },
    #[error("cannot start the node: {0}")]
    Node(String),
}

/// Why a cluster operation failed: locally, or between nodes.
#[derive(Debug, Error)]
pub enum CascadeError {
    #[error(transparent)]
    Actor(#[from] ActorError),
    #[error(transparent)]
    Link(#[from] LinkError),
    #[error(transparent)]
    Room(#[from] RoomError),
}

/// Readiness as `/v1/ready` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Readiness {
    Ready,
    Draining,
    NotRegistered,
    NodeDown,
}

/// How long a node-to-node request may take before the caller gets a clear
/// timeout error.
pub const REMOTE_DEADLINE: Duration = Duration::from_secs(5);
/// Opening a pipe may chain through a region's entry node: two hops.
const OPEN_PIPE_DEADLINE: Duration = Duration::from_secs(8);

/// This node as a member of its cluster.
#[derive(Clone)]
pub struct Cluster {
    inner: Arc<Inner>,
}

struct Inner {
    node: NodeHandle,
    this: NodeRecord,
    table: Arc<MemberTable>,
    links: Links,
    sealer: sealed::KeySealer,
    pipes: PipeBook,
    data_pipes: data_pipes::DataPipeBook,
    metrics: ClusterMetrics,
    /// The codecs of routers made on this node (`None`: the defaults), for
    /// other nodes that serve the same room.
    router_codecs: Mutex<std::collections::HashMap<String, Option<Vec<RtpCodecCapability>>>>,
    rooms: rooms::RoomDirectory,
    draining: AtomicBool,
    drain_timeout: Duration,
    etcd: Option<(etcd_membership::EtcdSettings, tokio::task::JoinHandle<()>)>,
    tasks: Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

fn media_config(config: &Config) -> Result<MediaConfig, ClusterError> {
    let certificate_pem = match (&config.dtls_certificate, &config.dtls_private_key) {
        (Some(cert), Some(key)) => {
            let read = |path: &std::path::Path, field: &'static str| {
                std::fs::read_to_string(path).map_err(|e| ClusterError::Config {
                    field,
                    message: format!("{}: {e}", path.display()),
                })
            };
            Some((
                read(cert, "dtls_certificate")?,
                read(key, "dtls_private_key")?,
            ))
        }
        _ => None,
    };
    Ok(MediaConfig {
        listen_ip: config.webrtc_listen_ip,
        port: config.webrtc_port,
        announced_address: config.announced_address.clone(),
        ice_consent_timeout: Duration::from_secs(config.ice_consent_timeout_secs),
        certificate_pem,
        rtp_port_range: (config.rtp_port_range.low, config.rtp_port_range.high),
        ffmpeg: config.ffmpeg.clone(),
        recordings_dir: config.recordings_dir.clone(),
    })
}

/// The address others reach a socket bound to `bound` on: itself, unless it
/// is "any", then the announced address.
fn reachable(bound: SocketAddr, announced: &str) -> String {
    if bound.ip().is_unspecified() {
        format!("{announced}:{}", bound.port())
    } else {
        bound.to_string()
    }
}

impl Cluster {
    pub async fn start(
        config: &Config,
        api_url: String,
        api_cert_fingerprint: String,
        metrics: ActorMetrics,
        cluster_metrics: ClusterMetrics,
    ) -> Result<Cluster, ClusterError> {
        let media = media_config(config)?;
        let control = if config.etcd_endpoints.is_empty() {
            None
        } else {
            let listener = tokio::net::TcpListener::bind(config.control_listen)
                .await
                .map_err(|e| ClusterError::Config {
                    field: "control_listen",
                    message: format!("cannot listen on {}: {e}", config.control_listen),
                })?;
            Some(listener)
        };
        let identity = match (
            &control,
            &config.control_certificate,
            &config.control_private_key,
        ) {
            (None, _, _) => None,
            (Some(_), Some(certificate), Some(key)) => Some(Arc::new(
                link_tls::ControlIdentity::from_pem_files(certificate, key)
                    .map_err(|(field, message)| ClusterError::Config { field, message })?,
            )),
            (Some(_), _, _) => Some(Arc::new(link_tls::ControlIdentity::generate().map_err(
                |e| ClusterError::Config {
                    field: "control_listen",
                    message: format!("cannot make the control link's TLS certificate: {e}"),
                },
            )?)),
        };
        let control_address = match &control {
            Some(l) => l
                .local_addr()
                .map(|a| reachable(a, &config.announced_address))
                .unwrap_or_default(),
            None => String::new(),
        };
        let node = NodeHandle::start(&config.node_id, &config.region, metrics, Some(media))
            .await
            .map_err(|e| ClusterError::Node(e.to_string()))?;
        let this = NodeRecord {
            id: config.node_id.clone(),
            region: config.region.clone(),
            api_url,
            api_cert_fingerprint,
            control_address,
            control_cert_fingerprint: identity
                .as_ref()
                .map(|i| i.fingerprint.clone())
                .unwrap_or_default(),
            pipe_address: config.announced_address.clone(),
            load: 0,
        };
        let secret = config.cluster_secret.clone().unwrap_or_default();
        let (table, etcd) = if config.etcd_endpoints.is_empty() {
            (membership::standalone(this.clone()), None)
        } else {
            let table = MemberTable::new();
            let settings = || etcd_membership::EtcdSettings {
                endpoints: config.etcd_endpoints.clone(),
                cluster: config.cluster.clone(),
                lease_ttl: Duration::from_secs(config.etcd_lease_ttl_secs),
            };
            let (record, topology) = (this.clone(), node.topology().clone());
            let task = etcd_membership::spawn(settings(), table.clone(), move || NodeRecord {
                load: topology.object_count() as u64,
                ..record.clone()
            });
            (table, Some((settings(), task)))
        };
        let cluster = Cluster {
            inner: Arc::new(Inner {
                node,
                this,
                table,
                links: Links::new(&config.node_id, secret.as_bytes()),
                sealer: sealed::KeySealer::new(secret.as_bytes()),
                pipes: PipeBook::default(),
                data_pipes: Default::default(),
                metrics: cluster_metrics,
                router_codecs: Default::default(),
                rooms: if config.etcd_endpoints.is_empty() {
                    rooms::RoomDirectory::in_process()
                } else {
                    rooms::RoomDirectory::etcd(config.etcd_endpoints.clone(), &config.cluster)
                },
                draining: AtomicBool::new(false),
                drain_timeout: Duration::from_secs(config.drain_timeout_secs),
                etcd,
                tasks: Default::default(),
            }),
        };
        if let (Some(listener), Some(identity)) = (control, identity) {
            let handler = control::handler(cluster.clone());
            let task = link::serve(
                listener,
                config.node_id.clone(),
                secret.into_bytes(),
                identity,
                handler,
            );
            cluster.spawn_task(task);
        }
        let watcher = tokio::spawn(upkeep::watch_membership(cluster.clone()));
        cluster.spawn_task(watcher);
        let events = tokio::spawn(upkeep::forward_producer_events(cluster.clone()));
        cluster.spawn_task(events);
        let sweeper = tokio::spawn(upkeep::sweep_idle_pipes(cluster.clone()));
        cluster.spawn_task(sweeper);
        Ok(cluster)
    }

    fn spawn_task(&self, task: tokio::task::JoinHandle<()>) {
        self.inner
            .tasks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(task);
    }

    pub fn node(&self) -> &NodeHandle {
        &self.inner.node
    }

    pub fn node_id(&self) -> &str {
        &self.inner.this.id
    }

    pub fn region(&self) -> &str {
        &self.inner.this.region
    }

    pub fn members(&self) -> Vec<NodeRecord> {
        self.inner.table.members()
    }

    pub fn member(&self, id: &str) -> Option<NodeRecord> {
        self.inner.table.member(id)
    }

    pub fn is_registered(&self) -> bool {
        self.inner.table.is_registered()
    }

    pub fn pipes(&self) -> PipeListing {
        self.inner.pipes.listing()
    }

    /// TLS for requests to other nodes' HTTPS APIs (relays, room views):
    /// it accepts exactly the certificates the members' records name.
    pub fn api_client_tls(&self) -> Result<rustls::ClientConfig, String> {
        let table = self.inner.table.clone();
        link_tls::pinned_client_config(std::sync::Arc::new(move |seen: &str| {
            table
                .members()
                .iter()
                .any(|m| !m.api_cert_fingerprint.is_empty() && m.api_cert_fingerprint == seen)
        }))
    }

    /// The node an object lives on, when it is not this one.
    pub fn remote_home_of(&self, id: &str) -> Option<String> {
        home_node_of(id)
            .filter(|home| *home != self.node_id())
            .map(str::to_string)
    }

    pub fn readiness(&self) -> Readiness {
        if !self.inner.node.is_alive() {
            Readiness::NodeDown
        } else if self.inner.draining.load(Ordering::Relaxed) {
            Readiness::Draining
        } else if !self.inner.table.is_registered() {
            Readiness::NotRegistered
        } else {
            Readiness::Ready
        }
    }

    /// Stops taking new work; existing objects keep running until shutdown.
    pub fn drain(&self) {
        self.inner.draining.store(true, Ordering::Relaxed);
    }

    pub fn is_draining(&self) -> bool {
        self.inner.draining.load(Ordering::Relaxed)
    }

    /// Drains (new work refused, `/v1/ready` 503) and gives sessions up to
    /// `drain_timeout_secs` to end; then leaves the cluster (its key
    /// deleted, so the others close their pipes from it at once rather than
    /// after the lease TTL) and closes every object left.
    pub async fn shutdown(&self) {
        self.drain();
        let deadline = tokio::time::Instant::now() + self.inner.drain_timeout;
        let topology = self.inner.node.topology();
        while topology.object_count() > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        if let Some((settings, task)) = &self.inner.etcd {
            task.abort();
            etcd_membership::deregister(settings, self.node_id()).await;
        }
        for task in self
            .inner
            .tasks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain(..)
        {
            task.abort();
        }
        self.inner.node.shutdown().await;
    }

    /// Creates a router (a room) here and remembers its codecs for the
    /// other nodes that will serve it.
    pub async fn create_router(
        &self,
        media_codecs: Option<Vec<RtpCodecCapability>>,
        app_data: serde_json::Value,
    ) -> Result<troupe_actors::node::RouterCreated, ActorError> {
        let created = self
            .inner
            .node
            .create_router(None, media_codecs.clone(), app_data)
            .await?;
        self.inner
            .router_codecs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(created.id.clone(), media_codecs);
        Ok(created)
    }

    /// Closes a room on every node that serves it.
    pub async fn close_router(&self, router_id: &str) -> Result<(), ActorError> {
        let local = self
            .inner
            .node
            .close(troupe_actors::ObjectKind::Router, router_id);
        self.inner
            .router_codecs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(router_id);
        let mut closed_elsewhere = false;
        for member in self.members() {
            if member.id == self.node_id() {
                continue;
            }
            let request = protocol::ControlRequest::CloseRouter {
                router_id: router_id.to_string(),
            };
            match self.request(&member.id, request, REMOTE_DEADLINE).await {
                Ok(_) => closed_elsewhere = true,
                Err(LinkError::Remote(_)) => {}
                Err(e) => {
                    tracing::warn!(node = %member.id, error = %e, "cannot close the room there")
                }
            }
        }
        if local.is_err() && !closed_elsewhere {
            return local;
        }
        Ok(())
    }

    /// The router a room name stands for, made here (and recorded for
    /// every node) when the room has none; `true` when it was made now.
    pub async fn open_room(
        &self,
        name: &str,
        media_codecs: Option<Vec<RtpCodecCapability>>,
    ) -> Result<(RoomRecord, bool), CascadeError> {
        check_room_name(name)?;
        let directory = &self.inner.rooms;
        // Another node may open or replace the record meanwhile: a few
        // rounds settle it.
        for _ in 0..3 {
            let current = directory.get(name).await?;
            if let Some(record) = current.as_ref().filter(|r| !self.is_stale(r)) {
                return Ok((record.clone(), false));
            }
            let created = self
                .create_router(media_codecs.clone(), serde_json::json!({"room": name}))
                .await?;
            let mine = RoomRecord {
                name: name.to_string(),
                router_id: created.id.clone(),
            };
            let holding = match directory.put_unless_taken(&mine, current.as_ref()).await {
                Ok(holding) => holding,
                Err(e) => {
                    let _ = self.close_router(&created.id).await;
                    return Err(e.into());
                }
            };
            if holding == mine {
                tracing::info!(room = %name, router = %created.id, "opened a room");
                return Ok((mine, true));
            }
            let _ = self.close_router(&created.id).await;
            if !self.is_stale(&holding) {
                return Ok((holding, false));
            }
        }
        Err(RoomError::Unreachable(format!("room {name} keeps changing; try again")).into())
    }

    /// The room's record, unless it is stale.
    pub async fn room(&self, name: &str) -> Result<Option<RoomRecord>, CascadeError> {
        check_room_name(name)?;
        Ok(self
            .inner
            .rooms
            .get(name)
            .await?
            .filter(|r| !self.is_stale(r)))
    }

    /// Every live room of the cluster.
    pub async fn rooms(&self) -> Result<Vec<RoomRecord>, CascadeError> {
        let mut rooms = self.inner.rooms.list().await?;
        rooms.retain(|r| !self.is_stale(r));
        Ok(rooms)
    }

    /// Closes a room's router on every node and forgets its name.
    pub async fn close_room(&self, name: &str) -> Result<(), CascadeError> {
        let record = self.room(name).await?.ok_or_else(|| ActorError::NotFound {
            kind: troupe_actors::ObjectKind::Router,
            id: format!("room {name}"),
        })?;
        self.inner.rooms.remove(name).await?;
        self.close_router(&record.router_id).await?;
        Ok(())
    }

    /// A record whose router is gone: closed here, or its node has left.
    fn is_stale(&self, record: &RoomRecord) -> bool {
        match home_node_of(&record.router_id) {
            Some(home) if home == self.node_id() => self
                .inner
                .node
                .topology()
                .router(&record.router_id)
                .is_err(),
            Some(home) => self.member(home).is_none(),
            None => true,
        }
    }

    /// Makes sure this node has its local router for a room, asking the
    /// room's home node for its codecs when needed.
    pub async fn ensure_router(&self, router_id: &str) -> Result<(), CascadeError> {
        if self.inner.node.topology().router(router_id).is_ok() {
            return Ok(());
        }
        // A room whose node is not in the cluster (any more) is gone.
        let Some(home) = self
            .remote_home_of(router_id)
            .filter(|home| self.member(home).is_some())
        else {
            return Err(ActorError::not_found(troupe_actors::ObjectKind::Router, router_id).into());
        };
        let _setting_up = self.inner.pipes.setup(router_id).await;
        if self.inner.node.topology().router(router_id).is_ok() {
            return Ok(());
        }
        let request = protocol::ControlRequest::RouterCodecs {
            router_id: router_id.to_string(),
        };
        let codecs = match self.request(&home, request, REMOTE_DEADLINE).await? {
            protocol::ControlResponse::RouterCodecs(Some(json)) => Some(
                serde_json::from_str::<Vec<RtpCodecCapability>>(&json)
                    .map_err(|e| ActorError::Internal(format!("codecs from {home}: {e}")))?,
            ),
            _ => None,
        };
        self.inner
            .node
            .create_router(
                Some(router_id.to_string()),
                codecs,
                serde_json::json!({"servedFor": home}),
            )
            .await?;
        tracing::info!(router = %router_id, %home, "serving the room on this node too");
        Ok(())
    }

    /// Brings a data producer made on another node into this node's router
    /// (a data pipe), so a data consumer can be made of it here.
    pub async fn ensure_data_producer(
        &self,
        router_id: &str,
        data_producer_id: &str,
    ) -> Result<(), CascadeError> {
        data_pipes::ensure_data_producer(self, router_id, data_producer_id).await
    }

    /// Makes sure a producer can be consumed in this node's router for the
    /// room: it lives here, or it is piped here from its source.
    pub async fn ensure_producer(
        &self,
        router_id: &str,
        producer_id: &str,
    ) -> Result<(), CascadeError> {
        control::ensure_producer(self, router_id, producer_id).await
    }

    async fn request(
        &self,
        node: &str,
        body: protocol::ControlRequest,
        deadline: Duration,
    ) -> Result<protocol::ControlResponse, LinkError> {
        let member = self
            .member(node)
            .ok_or_else(|| LinkError::UnknownNode(node.to_string()))?;
        let address: SocketAddr =
            member
                .control_address
                .parse()
                .map_err(|_| LinkError::Unreachable {
                    node: node.to_string(),
                    reason: format!(
                        "no control address in its record ({:?})",
                        member.control_address
                    ),
                })?;
        if member.control_cert_fingerprint.is_empty() {
            return Err(LinkError::Unreachable {
                node: node.to_string(),
                reason: "no control certificate fingerprint in its record".into(),
            });
        }
        let name = body.name();
        let result = self
            .inner
            .links
            .request(
                node,
                address,
                &member.control_cert_fingerprint,
                body,
                trace_context::current_traceparent(),
                deadline,
            )
            .await;
        self.inner.metrics.request_done(name, &result);
        result
    }
}
