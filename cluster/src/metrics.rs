//! The cluster's own metrics: members, registration, pipes per peer node,
//! node-to-node requests. Labels are node ids and request names: bounded by
//! the cluster's size, never per object.

use std::collections::HashSet;
use std::sync::atomic::{AtomicI64, AtomicU64};
use std::sync::{Arc, Mutex};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::cascade::PipeBook;
use crate::link::LinkError;
use crate::protocol::ControlResponse;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PipeLabels {
    pub peer_node: String,
    pub direction: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub request: &'static str,
    pub outcome: &'static str,
}

#[derive(Clone)]
pub struct ClusterMetrics {
    members: Gauge<i64, AtomicI64>,
    registered: Gauge<i64, AtomicI64>,
    etcd_contact_age: Gauge<f64, AtomicU64>,
    pipes: Family<PipeLabels, Gauge<i64, AtomicI64>>,
    requests: Family<RequestLabels, Counter>,
    /// Peers with a pipe gauge set, so a peer's gauge drops to zero when its
    /// last pipe goes.
    peers_seen: Arc<Mutex<HashSet<String>>>,
}

impl ClusterMetrics {
    pub fn register(registry: &mut Registry) -> Self {
        let metrics = ClusterMetrics {
            members: Gauge::default(),
            registered: Gauge::default(),
            etcd_contact_age: Gauge::default(),
            pipes: Family::default(),
            requests: Family::default(),
            peers_seen: Default::default(),
        };
        registry.register(
            "troupe_cluster_members",
            "Nodes this node sees in its cluster, itself included",
            metrics.members.clone(),
        );
        registry.register(
            "troupe_cluster_registered",
            "1 while this node's registration (etcd lease) is alive, else 0",
            metrics.registered.clone(),
        );
        registry.register(
            "troupe_etcd_contact_age_seconds",
            "Seconds since etcd last answered this node (keep-alive or watch): how stale its view of the cluster may be",
            metrics.etcd_contact_age.clone(),
        );
        registry.register(
            "troupe_pipes",
            "Pipe transports to (out) or from (in) each peer node",
            metrics.pipes.clone(),
        );
        // Every request and outcome exists from the start at zero.
        for request in crate::protocol::ControlRequest::NAMES {
            for outcome in ["ok", "refused", "timeout", "unreachable"] {
                drop(
                    metrics
                        .requests
                        .get_or_create(&RequestLabels { request, outcome }),
                );
            }
        }
        registry.register(
            "troupe_cluster_requests",
            "Node-to-node control requests sent, by outcome",
            metrics.requests.clone(),
        );
        metrics
    }

    pub fn set_members(&self, count: usize) {
        self.members.set(count as i64);
    }

    pub fn set_etcd_contact_age(&self, seconds: f64) {
        self.etcd_contact_age.set(seconds);
    }

    pub fn set_registered(&self, registered: bool) {
        self.registered.set(i64::from(registered));
    }

    pub fn set_pipes(&self, book: &PipeBook) {
        let counts = book.per_peer();
        let mut seen = self.peers_seen.lock().unwrap_or_else(|e| e.into_inner());
        seen.extend(counts.keys().cloned());
        for peer in seen.iter() {
            let (inbound, outbound) = counts.get(peer).copied().unwrap_or_default();
            for (direction, count) in [("in", inbound), ("out", outbound)] {
                self.pipes
                    .get_or_create(&PipeLabels {
                        peer_node: peer.clone(),
                        direction,
                    })
                    .set(count as i64);
            }
        }
    }

    pub fn request_done(&self, request: &'static str, result: &Result<ControlResponse, LinkError>) {
        let outcome = match result {
            Ok(_) => "ok",
            Err(LinkError::Remote(_)) => "refused",
            Err(LinkError::Timeout { .. }) => "timeout",
            Err(_) => "unreachable",
        };
        self.requests
            .get_or_create(&RequestLabels { request, outcome })
            .inc();
    }
}
