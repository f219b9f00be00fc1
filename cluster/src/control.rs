//! Answering other nodes' requests, and opening and closing pipes: the
//! source side (`open_outbound`) and the receiving side (`ensure_producer`).

use tracing::Instrument;

use troupe_actors::ids::home_node_of;
use troupe_actors::rtp_parameters::{MediaKind, RtpCapabilities, RtpParameters};
use troupe_actors::transport::{
    ConnectRequest, ConsumeRequest, PipeTransportOptions, PlainConnectRequest,
    PlainTransportCreated, ProduceRequest, SrtpParameters,
};
use troupe_actors::{ActorError, ObjectKind};

use crate::cascade::{self, InboundPipe, OutboundPipe};
use crate::link::{Handler, LinkError};
use crate::protocol::{
    ControlRequest, ControlResponse, OpenPipe, PipeOpened, PipeSrtp, RemoteError,
};
use crate::{CascadeError, Cluster, OPEN_PIPE_DEADLINE, REMOTE_DEADLINE};

fn remote_error(e: &CascadeError) -> RemoteError {
    let (status, code) = match e {
        CascadeError::Actor(ActorError::NotFound { .. }) => (404, "not_found"),
        CascadeError::Actor(ActorError::InvalidParameter { .. }) => (400, "invalid_parameter"),
        CascadeError::Actor(ActorError::WrongState(_)) => (409, "wrong_state"),
        CascadeError::Actor(ActorError::Unsupported(_)) => (400, "unsupported"),
        CascadeError::Actor(ActorError::NotImplemented(_)) => (501, "not_implemented"),
        CascadeError::Actor(ActorError::Unavailable(_)) => (503, "unavailable"),
        CascadeError::Actor(ActorError::Internal(_)) => (500, "internal"),
        CascadeError::Link(LinkError::Remote(remote)) => return remote.clone(),
        CascadeError::Link(LinkError::Timeout { .. }) => (504, "remote_timeout"),
        CascadeError::Link(_) => (503, "node_unavailable"),
        CascadeError::Room(crate::RoomError::BadName(_)) => (400, "invalid_parameter"),
        CascadeError::Room(crate::RoomError::Unreachable(_)) => (503, "unavailable"),
    };
    RemoteError {
        status,
        code: code.into(),
        message: e.to_string(),
    }
}

pub fn handler(cluster: Cluster) -> Handler {
    std::sync::Arc::new(move |from, request, traceparent| {
        let cluster = cluster.clone();
        Box::pin(async move {
            let name = request.name();
            let span = tracing::info_span!("control", request = name, from = %from);
            crate::trace_context::adopt_parent(&span, traceparent.as_deref());
            answer(&cluster, &from, request)
                .instrument(span)
                .await
                .map_err(|e| remote_error(&e))
        })
    })
}

async fn answer(
    cluster: &Cluster,
    from: &str,
    request: ControlRequest,
) -> Result<ControlResponse, CascadeError> {
    let node = cluster.node();
    match request {
        ControlRequest::RouterCodecs { router_id } => {
            let codecs = cluster
                .inner
                .router_codecs
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get(&router_id)
                .cloned()
                .ok_or_else(|| ActorError::not_found(ObjectKind::Router, &router_id))?;
            let json = codecs.map(|c| serde_json::to_string(&c).unwrap_or_default());
            Ok(ControlResponse::RouterCodecs(json))
        }
        ControlRequest::OpenPipe(open) => Ok(ControlResponse::PipeOpened(
            open_outbound(cluster, from, open).await?,
        )),
        ControlRequest::OpenDataPipe(open) => Ok(ControlResponse::DataPipeOpened(
            crate::data_pipes::open_outbound(cluster, from, open).await?,
        )),
        ControlRequest::ClosePipe { pipe_transport_id } => {
            if cluster
                .inner
                .pipes
                .remove_outbound(&pipe_transport_id)
                .is_some()
            {
                let _ = node.close(ObjectKind::Transport, &pipe_transport_id);
            }
            cluster.inner.metrics.set_pipes(&cluster.inner.pipes);
            Ok(ControlResponse::Done)
        }
        ControlRequest::ProducerPaused {
            producer_id,
            paused,
        } => {
            node.producer_pause(&producer_id, paused).await?;
            Ok(ControlResponse::Done)
        }
        ControlRequest::ProducerClosed { producer_id } => {
            close_inbound(cluster, &producer_id, "the producer closed at its source");
            Ok(ControlResponse::Done)
        }
        ControlRequest::NewProducer {
            router_id,
            producer_id,
            kind,
        } => {
            // Only a node serving the room has subscribers to tell.
            if node.topology().router(&router_id).is_ok() {
                node.events().emit(
                    "newproducer",
                    ObjectKind::Router,
                    &router_id,
                    Some(&router_id),
                    serde_json::json!({"producerId": producer_id, "kind": kind, "node": from}),
                );
            }
            Ok(ControlResponse::Done)
        }
        ControlRequest::CloseRouter { router_id } => {
            cluster
                .inner
                .router_codecs
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&router_id);
            node.close(ObjectKind::Router, &router_id)?;
            Ok(ControlResponse::Done)
        }
    }
}

fn pipe_srtp(cluster: &Cluster, created: &PlainTransportCreated) -> Option<PipeSrtp> {
    created.srtp_parameters.as_ref().map(|s| PipeSrtp {
        crypto_suite: s.crypto_suite.clone(),
        sealed_key: cluster.inner.sealer.seal(&s.key_base64),
    })
}

fn local_port(created: &PlainTransportCreated) -> Result<u16, ActorError> {
    created.tuple["localPort"]
        .as_u64()
        .and_then(|p| u16::try_from(p).ok())
        .ok_or_else(|| ActorError::Internal("a pipe transport without a port".into()))
}

async fn connect_pipe(
    cluster: &Cluster,
    transport_id: &str,
    ip: &str,
    port: u16,
    srtp: Option<PipeSrtp>,
) -> Result<(), ActorError> {
    let srtp_parameters = match srtp {
        Some(s) => Some(SrtpParameters {
            crypto_suite: s.crypto_suite,
            key_base64: cluster
                .inner
                .sealer
                .open(&s.sealed_key)
                .map_err(|e| ActorError::invalid("srtp", e.to_string()))?,
        }),
        None => None,
    };
    let request = PlainConnectRequest {
        ip: Some(ip.to_string()),
        port: Some(port),
        rtcp_port: None,
        srtp_parameters,
    };
    cluster
        .node()
        .connect_transport(transport_id, ConnectRequest::Plain(request))
        .await
}

/// The source side of a pipe: make this end, connect it to the requester's
/// end, and consume the producer into it.
async fn open_outbound(
    cluster: &Cluster,
    from: &str,
    open: OpenPipe,
) -> Result<PipeOpened, CascadeError> {
    let node = cluster.node();
    cluster.ensure_router(&open.router_id).await?;
    ensure_producer(cluster, &open.router_id, &open.producer_id).await?;
    let created = node
        .create_pipe_transport(
            &open.router_id,
            PipeTransportOptions {
                enable_srtp: Some(open.srtp.is_some()),
                enable_rtx: Some(true),
                app_data: serde_json::json!({"pipeTo": from, "producerId": open.producer_id}),
                ..Default::default()
            },
        )
        .await?;
    let transport_id = created.id.clone();
    let result = async {
        connect_pipe(
            cluster,
            &transport_id,
            &open.ip,
            open.port,
            open.srtp.clone(),
        )
        .await?;
        let consumed = node
            .consume(
                &transport_id,
                ConsumeRequest {
                    producer_id: open.producer_id.clone(),
                    rtp_capabilities: RtpCapabilities::default(),
                    paused: false,
                    preferred_layers: None,
                    enable_rtx: None,
                    mid: None,
                    app_data: serde_json::json!({}),
                },
            )
            .await?;
        cluster.inner.pipes.add_outbound(OutboundPipe {
            producer_id: open.producer_id.clone(),
            router_id: open.router_id.clone(),
            to_node: from.to_string(),
            transport_id: transport_id.clone(),
            consumer_id: consumed.id.clone(),
        });
        cluster.inner.metrics.set_pipes(&cluster.inner.pipes);
        Ok::<_, ActorError>(PipeOpened {
            pipe_transport_id: transport_id.clone(),
            ip: cluster.inner.this.pipe_address.clone(),
            port: local_port(&created)?,
            srtp: pipe_srtp(cluster, &created),
            kind: match consumed.kind {
                MediaKind::Audio => "audio".into(),
                MediaKind::Video => "video".into(),
            },
            rtp_parameters_json: serde_json::to_string(&consumed.rtp_parameters)
                .map_err(|e| ActorError::Internal(e.to_string()))?,
            paused: consumed.producer_paused,
        })
    }
    .await;
    if result.is_err() {
        cluster.inner.pipes.remove_outbound(&transport_id);
        let _ = node.close(ObjectKind::Transport, &transport_id);
    }
    tracing::info!(producer = %open.producer_id, to = %from, ok = result.is_ok(), "pipe out");
    Ok(result?)
}

/// The receiving side: the producer is here already, or a pipe brings it.
pub async fn ensure_producer(
    cluster: &Cluster,
    router_id: &str,
    producer_id: &str,
) -> Result<(), CascadeError> {
    let span =
        tracing::info_span!("pipe setup", producer.id = %producer_id, router.id = %router_id);
    pipe_in(cluster, router_id, producer_id)
        .instrument(span)
        .await
}

async fn pipe_in(
    cluster: &Cluster,
    router_id: &str,
    producer_id: &str,
) -> Result<(), CascadeError> {
    let node = cluster.node();
    let here = |node: &troupe_actors::NodeHandle| node.topology().producer(producer_id).is_ok();
    if here(node) {
        return Ok(());
    }
    let not_found = || CascadeError::from(ActorError::not_found(ObjectKind::Producer, producer_id));
    let home = home_node_of(producer_id).ok_or_else(not_found)?.to_string();
    if home == cluster.node_id() {
        return Err(not_found());
    }
    let home_record = cluster.member(&home).ok_or_else(not_found)?;
    let members = cluster.members();
    let source = cascade::source_for(
        cluster.node_id(),
        cluster.region(),
        &home,
        &home_record.region,
        members.iter().map(|m| (m.id.as_str(), m.region.as_str())),
    )
    .to_string();
    let _setting_up = cluster.inner.pipes.setup(producer_id).await;
    if here(node) {
        return Ok(());
    }
    let created = node
        .create_pipe_transport(
            router_id,
            PipeTransportOptions {
                enable_srtp: Some(true),
                enable_rtx: Some(true),
                app_data: serde_json::json!({"pipeFrom": source, "producerId": producer_id}),
                ..Default::default()
            },
        )
        .await?;
    let transport_id = created.id.clone();
    let open = OpenPipe {
        router_id: router_id.to_string(),
        producer_id: producer_id.to_string(),
        ip: cluster.inner.this.pipe_address.clone(),
        port: local_port(&created)?,
        srtp: pipe_srtp(cluster, &created),
    };
    let opened = match cluster
        .request(&source, ControlRequest::OpenPipe(open), OPEN_PIPE_DEADLINE)
        .await
    {
        Ok(ControlResponse::PipeOpened(opened)) => opened,
        Ok(other) => {
            let _ = node.close(ObjectKind::Transport, &transport_id);
            return Err(
                ActorError::Internal(format!("unexpected answer to open_pipe: {other:?}")).into(),
            );
        }
        Err(e) => {
            let _ = node.close(ObjectKind::Transport, &transport_id);
            return Err(e.into());
        }
    };
    let produced = async {
        connect_pipe(
            cluster,
            &transport_id,
            &opened.ip,
            opened.port,
            opened.srtp.clone(),
        )
        .await?;
        let rtp_parameters: RtpParameters = serde_json::from_str(&opened.rtp_parameters_json)
            .map_err(|e| ActorError::Internal(format!("pipe parameters from {source}: {e}")))?;
        let kind = if opened.kind == "audio" {
            MediaKind::Audio
        } else {
            MediaKind::Video
        };
        node.produce(
            &transport_id,
            ProduceRequest {
                id: Some(producer_id.to_string()),
                kind,
                rtp_parameters,
                paused: opened.paused,
                app_data: serde_json::json!({"pipedFrom": source}),
            },
        )
        .await
    }
    .await;
    if let Err(e) = produced {
        let _ = node.close(ObjectKind::Transport, &transport_id);
        let close = ControlRequest::ClosePipe {
            pipe_transport_id: opened.pipe_transport_id,
        };
        let _ = cluster.request(&source, close, REMOTE_DEADLINE).await;
        return Err(e.into());
    }
    cluster.inner.pipes.add_inbound(InboundPipe {
        producer_id: producer_id.to_string(),
        router_id: router_id.to_string(),
        from_node: source.clone(),
        transport_id,
        remote_transport_id: opened.pipe_transport_id,
        idle_sweeps: 0,
    });
    cluster.inner.metrics.set_pipes(&cluster.inner.pipes);
    tracing::info!(producer = %producer_id, from = %source, "pipe in");
    Ok(())
}

/// Closes this node's end of an inbound pipe: the pipe producer closes with
/// it, and its consumers get `producerclose`.
fn close_inbound(cluster: &Cluster, producer_id: &str, why: &str) {
    if let Some(pipe) = cluster.inner.pipes.remove_inbound(producer_id) {
        tracing::info!(producer = %producer_id, from = %pipe.from_node, why, "pipe in closed");
        let _ = cluster
            .node()
            .close(ObjectKind::Transport, &pipe.transport_id);
    }
    cluster.inner.metrics.set_pipes(&cluster.inner.pipes);
}
