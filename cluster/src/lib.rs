//! Troupe's cluster layer: who the nodes are (membership), where objects
//! live, and requests between nodes. Standalone — no etcd configured — is
//! the same code path with an in-process membership of one.

mod membership;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use thiserror::Error;
use troupe_actors::media::MediaConfig;
use troupe_actors::{ActorMetrics, NodeHandle};
use troupe_config::Config;

pub use membership::{LocalMembership, Membership, NodeRecord};

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

/// Readiness as `/v1/ready` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Readiness {
    Ready,
    Draining,
    NotRegistered,
    NodeDown,
}

/// This node as a member of its cluster.
#[derive(Clone)]
pub struct Cluster {
    node: NodeHandle,
    membership: Arc<dyn Membership>,
    draining: Arc<AtomicBool>,
}

impl Cluster {
    pub async fn start(
        config: &Config,
        api_url: String,
        metrics: ActorMetrics,
    ) -> Result<Cluster, ClusterError> {
        if !config.etcd_endpoints.is_empty() {
            return Err(ClusterError::Config {
                field: "etcd_endpoints",
                message: "clustering through etcd is not available in this build yet; \
                          leave it empty to run standalone"
                    .into(),
            });
        }
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
        let media = MediaConfig {
            listen_ip: config.webrtc_listen_ip,
            port: config.webrtc_port,
            announced_address: config.announced_address.clone(),
            ice_consent_timeout: std::time::Duration::from_secs(config.ice_consent_timeout_secs),
            certificate_pem,
            rtp_port_range: (config.rtp_port_range.low, config.rtp_port_range.high),
            ffmpeg: config.ffmpeg.clone(),
            recordings_dir: config.recordings_dir.clone(),
        };
        let node = NodeHandle::start(&config.node_id, &config.region, metrics, Some(media))
            .await
            .map_err(|e| ClusterError::Node(e.to_string()))?;
        let membership: Arc<dyn Membership> = Arc::new(LocalMembership::new(NodeRecord {
            id: config.node_id.clone(),
            region: config.region.clone(),
            api_url,
        }));
        Ok(Cluster {
            node,
            membership,
            draining: Arc::new(AtomicBool::new(false)),
        })
    }

    pub fn node(&self) -> &NodeHandle {
        &self.node
    }

    pub fn members(&self) -> Vec<NodeRecord> {
        self.membership.members()
    }

    pub fn readiness(&self) -> Readiness {
        if !self.node.is_alive() {
            Readiness::NodeDown
        } else if self.draining.load(Ordering::Relaxed) {
            Readiness::Draining
        } else if !self.membership.is_registered() {
            Readiness::NotRegistered
        } else {
            Readiness::Ready
        }
    }

    /// Stops taking new work; existing objects keep running until shutdown.
    pub fn drain(&self) {
        self.draining.store(true, Ordering::Relaxed);
    }

    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::Relaxed)
    }

    pub async fn shutdown(&self) {
        self.drain();
        self.node.shutdown().await;
    }
}
