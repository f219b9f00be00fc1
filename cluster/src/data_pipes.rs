//! Data channels across nodes: a data consumer on this node of a data
//! producer made on another gets its messages through a pair of pipe
//! transports with SCTP (mediasoup's pipeToRouter for data). The home node
//! consumes the data producer into its end; this node makes a pipe data
//! producer with the same id at the other. Pipe transports left without
//! data producers or consumers are closed by the upkeep sweep.

use std::sync::Mutex;

use troupe_actors::data_parameters::{
    DataConsumeRequest, DataProduceRequest, SctpStreamParameters,
};
use troupe_actors::ids::home_node_of;
use troupe_actors::transport::{
    ConnectRequest, PipeTransportOptions, PlainConnectRequest, PlainTransportCreated,
};
use troupe_actors::{ActorError, ObjectKind};

use crate::protocol::{ControlRequest, ControlResponse, DataPipeOpened, OpenDataPipe};
use crate::{CascadeError, Cluster, OPEN_PIPE_DEADLINE};

/// This node's data pipe transports, both ends.
#[derive(Default)]
pub struct DataPipeBook {
    transports: Mutex<Vec<String>>,
}

impl DataPipeBook {
    fn add(&self, transport_id: &str) {
        if let Ok(mut t) = self.transports.lock() {
            t.push(transport_id.to_string());
        }
    }

    /// Closes the pipe transports that carry nothing any more.
    pub fn sweep(&self, cluster: &Cluster) {
        let node = cluster.node();
        let Ok(mut transports) = self.transports.lock() else {
            return;
        };
        transports.retain(|id| {
            if node.topology().transport(id).is_err() {
                return false;
            }
            let (producers, consumers) = node.topology().transport_data_contents(id);
            if producers.is_empty() && consumers.is_empty() {
                tracing::info!(transport = %id, "data pipe idle: closing it");
                let _ = node.close(ObjectKind::Transport, id);
                return false;
            }
            true
        });
    }
}

fn pipe_options(app_data: serde_json::Value) -> PipeTransportOptions {
    PipeTransportOptions {
        enable_sctp: Some(true),
        app_data,
        ..Default::default()
    }
}

fn local_port(created: &PlainTransportCreated) -> Result<u16, ActorError> {
    created.tuple["localPort"]
        .as_u64()
        .and_then(|p| u16::try_from(p).ok())
        .ok_or_else(|| ActorError::Internal("a pipe transport without a port".into()))
}

async fn connect(
    cluster: &Cluster,
    transport_id: &str,
    ip: &str,
    port: u16,
) -> Result<(), ActorError> {
    cluster
        .node()
        .connect_transport(
            transport_id,
            ConnectRequest::Plain(PlainConnectRequest {
                ip: Some(ip.to_string()),
                port: Some(port),
                rtcp_port: None,
                srtp_parameters: None,
            }),
        )
        .await
}

/// The home side: a pipe transport connected to the requester's, and a
/// data consumer of the data producer on it.
pub async fn open_outbound(
    cluster: &Cluster,
    from: &str,
    open: OpenDataPipe,
) -> Result<DataPipeOpened, CascadeError> {
    let node = cluster.node();
    let producer = node.topology().data_producer(&open.data_producer_id)?;
    if producer.router_id != open.router_id {
        return Err(ActorError::not_found(ObjectKind::DataProducer, &open.data_producer_id).into());
    }
    let created = node
        .create_pipe_transport(
            &open.router_id,
            pipe_options(
                serde_json::json!({"dataPipeTo": from, "dataProducerId": open.data_producer_id}),
            ),
        )
        .await?;
    let transport_id = created.id.clone();
    let result = async {
        connect(cluster, &transport_id, &open.ip, open.port).await?;
        let consumed = node
            .consume_data(
                &transport_id,
                DataConsumeRequest {
                    data_producer_id: open.data_producer_id.clone(),
                    ordered: None,
                    max_packet_life_time: None,
                    max_retransmits: None,
                    paused: false,
                    app_data: serde_json::json!({}),
                },
            )
            .await?;
        let stream = consumed
            .sctp_stream_parameters
            .ok_or_else(|| ActorError::Internal("a pipe data consumer without a stream".into()))?;
        Ok::<_, ActorError>(DataPipeOpened {
            pipe_transport_id: transport_id.clone(),
            ip: cluster.inner.this.pipe_address.clone(),
            port: local_port(&created)?,
            stream_id: stream.stream_id,
            ordered: stream.ordered,
            max_packet_life_time: stream.max_packet_life_time,
            max_retransmits: stream.max_retransmits,
            label: consumed.label,
            protocol: consumed.protocol,
        })
    }
    .await;
    match &result {
        Ok(_) => cluster.inner.data_pipes.add(&transport_id),
        Err(_) => {
            let _ = node.close(ObjectKind::Transport, &transport_id);
        }
    }
    tracing::info!(data_producer = %open.data_producer_id, to = %from, ok = result.is_ok(), "data pipe out");
    Ok(result?)
}

/// The receiving side: the data producer is here already, or a pipe from
/// its home node brings it.
pub async fn ensure_data_producer(
    cluster: &Cluster,
    router_id: &str,
    data_producer_id: &str,
) -> Result<(), CascadeError> {
    let node = cluster.node();
    let here = || node.topology().data_producer(data_producer_id).is_ok();
    if here() {
        return Ok(());
    }
    let not_found = || {
        CascadeError::from(ActorError::not_found(
            ObjectKind::DataProducer,
            data_producer_id,
        ))
    };
    let home = home_node_of(data_producer_id)
        .ok_or_else(not_found)?
        .to_string();
    if home == cluster.node_id() || cluster.member(&home).is_none() {
        return Err(not_found());
    }
    let _setting_up = cluster.inner.pipes.setup(data_producer_id).await;
    if here() {
        return Ok(());
    }
    let created = node
        .create_pipe_transport(
            router_id,
            pipe_options(
                serde_json::json!({"dataPipeFrom": home, "dataProducerId": data_producer_id}),
            ),
        )
        .await?;
    let transport_id = created.id.clone();
    let result = async {
        let open = OpenDataPipe {
            router_id: router_id.to_string(),
            data_producer_id: data_producer_id.to_string(),
            ip: cluster.inner.this.pipe_address.clone(),
            port: local_port(&created)?,
        };
        let opened = match cluster
            .request(
                &home,
                ControlRequest::OpenDataPipe(open),
                OPEN_PIPE_DEADLINE,
            )
            .await?
        {
            ControlResponse::DataPipeOpened(opened) => opened,
            other => {
                return Err(CascadeError::from(ActorError::Internal(format!(
                    "unexpected answer to open_data_pipe: {other:?}"
                ))))
            }
        };
        connect(cluster, &transport_id, &opened.ip, opened.port).await?;
        node.produce_data(
            &transport_id,
            DataProduceRequest {
                id: Some(data_producer_id.to_string()),
                sctp_stream_parameters: Some(SctpStreamParameters {
                    stream_id: opened.stream_id,
                    ordered: opened.ordered,
                    max_packet_life_time: opened.max_packet_life_time,
                    max_retransmits: opened.max_retransmits,
                }),
                label: opened.label,
                protocol: opened.protocol,
                paused: false,
                app_data: serde_json::json!({"pipedFrom": home}),
            },
        )
        .await?;
        Ok(())
    }
    .await;
    match &result {
        Ok(()) => cluster.inner.data_pipes.add(&transport_id),
        Err(_) => {
            let _ = node.close(ObjectKind::Transport, &transport_id);
        }
    }
    tracing::info!(data_producer = %data_producer_id, from = %home, ok = result.is_ok(), "data pipe in");
    result
}
