//! The cluster's background work on a node: pipes follow membership (a node
//! that left takes its pipes with it), producer pause/resume/close travel to
//! the nodes they are piped to, and pipes nobody consumes any more close.

use std::time::Duration;

use troupe_actors::ObjectKind;

use crate::membership::MembershipChange;
use crate::protocol::ControlRequest;
use crate::{Cluster, REMOTE_DEADLINE};

/// How often idle inbound pipes are looked for, and how many empty looks in
/// a row close one (a consumer being created right after its pipe must not
/// lose it).
const SWEEP_EVERY: Duration = Duration::from_secs(1);
const IDLE_SWEEPS: u32 = 3;

/// A node that left takes its pipes with it, both ways.
pub async fn watch_membership(cluster: Cluster) {
    let mut changes = cluster.inner.table.subscribe();
    loop {
        let change = match changes.recv().await {
            Ok(change) => change,
            Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
            Err(_) => return,
        };
        cluster.inner.metrics.set_members(cluster.members().len());
        let MembershipChange::Left(gone) = change else {
            continue;
        };
        let (inbound, outbound) = cluster.inner.pipes.remove_node(&gone);
        for pipe in inbound {
            tracing::warn!(producer = %pipe.producer_id, node = %gone, "source node gone: closing its pipe");
            let _ = cluster
                .node()
                .close(ObjectKind::Transport, &pipe.transport_id);
        }
        for pipe in outbound {
            let _ = cluster
                .node()
                .close(ObjectKind::Transport, &pipe.transport_id);
        }
        cluster.inner.links.forget(&gone).await;
        cluster.inner.metrics.set_pipes(&cluster.inner.pipes);
        cluster.inner.data_pipes.sweep(&cluster);
    }
}

/// Pause, resume and close of a producer travel to the nodes it is piped
/// to: the pipe consumers here see them first.
pub async fn forward_producer_events(cluster: Cluster) {
    let mut events = cluster.node().events().subscribe();
    loop {
        let event = match events.recv().await {
            Ok(event) => event,
            Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                tracing::warn!(missed = n, "cluster fell behind on notifications");
                continue;
            }
            Err(_) => return,
        };
        if event.target_kind == ObjectKind::Router && event.event == "newproducer" {
            announce_new_producer(&cluster, &event);
            continue;
        }
        if event.target_kind != ObjectKind::Consumer {
            continue;
        }
        let Some(pipe) = cluster.inner.pipes.outbound_by_consumer(&event.target_id) else {
            continue;
        };
        let request = match event.event.as_str() {
            "producerpause" | "producerresume" => ControlRequest::ProducerPaused {
                producer_id: pipe.producer_id.clone(),
                paused: event.event == "producerpause",
            },
            "producerclose" | "transportclose" | "routerclose" | "close" | "failed" => {
                cluster.inner.pipes.remove_outbound(&pipe.transport_id);
                let _ = cluster
                    .node()
                    .close(ObjectKind::Transport, &pipe.transport_id);
                cluster.inner.metrics.set_pipes(&cluster.inner.pipes);
                ControlRequest::ProducerClosed {
                    producer_id: pipe.producer_id.clone(),
                }
            }
            _ => continue,
        };
        let cluster = cluster.clone();
        tokio::spawn(async move {
            if let Err(e) = cluster
                .request(&pipe.to_node, request, REMOTE_DEADLINE)
                .await
            {
                tracing::warn!(node = %pipe.to_node, error = %e, "cannot tell a pipe's far end");
            }
        });
    }
}

/// A producer made here is announced to every other node, which tells its
/// own subscribers of the room (`newproducer`): a client watching the room
/// through another node learns of it there and consumes it (the pipe
/// follows). Pipe producers are not announced: their origin was.
fn announce_new_producer(cluster: &Cluster, event: &troupe_actors::Notification) {
    let Some(producer_id) = event.data["producerId"].as_str() else {
        return;
    };
    if cluster.remote_home_of(producer_id).is_some() {
        return;
    }
    let Some(router_id) = event.router_id.clone() else {
        return;
    };
    for member in cluster.members() {
        if member.id == cluster.node_id() {
            continue;
        }
        let request = ControlRequest::NewProducer {
            router_id: router_id.clone(),
            producer_id: producer_id.to_string(),
            kind: event.data["kind"].as_str().unwrap_or_default().to_string(),
        };
        let cluster = cluster.clone();
        tokio::spawn(async move {
            if let Err(e) = cluster.request(&member.id, request, REMOTE_DEADLINE).await {
                tracing::debug!(node = %member.id, error = %e, "cannot announce a producer");
            }
        });
    }
}

/// Closes inbound pipes nobody consumes any more, and tells their sources.
pub async fn sweep_idle_pipes(cluster: Cluster) {
    let mut tick = tokio::time::interval(SWEEP_EVERY);
    loop {
        tick.tick().await;
        let metrics = &cluster.inner.metrics;
        metrics.set_registered(cluster.is_registered());
        metrics.set_etcd_contact_age(cluster.inner.table.seconds_since_contact());
        metrics.set_members(cluster.members().len());
        let topology = cluster.node().topology();
        let idle = cluster
            .inner
            .pipes
            .idle_inbound(IDLE_SWEEPS, |producer_id| {
                topology
                    .producer(producer_id)
                    .map(|p| p.consumers.len())
                    .unwrap_or(0)
            });
        for pipe in idle {
            tracing::info!(producer = %pipe.producer_id, from = %pipe.from_node, "last consumer gone: closing the pipe");
            let _ = cluster
                .node()
                .close(ObjectKind::Transport, &pipe.transport_id);
            let close = ControlRequest::ClosePipe {
                pipe_transport_id: pipe.remote_transport_id.clone(),
            };
            if let Err(e) = cluster
                .request(&pipe.from_node, close, REMOTE_DEADLINE)
                .await
            {
                tracing::warn!(node = %pipe.from_node, error = %e, "cannot close the pipe's far end");
            }
        }
        cluster.inner.metrics.set_pipes(&cluster.inner.pipes);
        cluster.inner.data_pipes.sweep(&cluster);
    }
}
