//! DataProducer: one incoming data channel (or a direct one fed by the
//! API). It owns its pause state; messages go straight through its media
//! object to its data consumers.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use serde::Serialize;
use utoipa::ToSchema;

use crate::context::Ctx;
use crate::data_consumer::DataConsumerMsg;
use crate::data_parameters::{DataObjectType, DataStats, SctpStreamParameters};
use crate::media::data_producer_media::DataProducerMedia;

/// What a data producer is, fixed for its lifetime.
#[derive(Debug, Clone)]
pub struct DataProducerInfo {
    pub id: String,
    pub data_type: DataObjectType,
    pub sctp_stream_parameters: Option<SctpStreamParameters>,
    pub label: String,
    pub protocol: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DataProducerDump {
    pub id: String,
    #[serde(rename = "type")]
    pub data_type: DataObjectType,
    pub transport_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sctp_stream_parameters: Option<SctpStreamParameters>,
    pub label: String,
    pub protocol: String,
    pub paused: bool,
    pub data_consumer_ids: Vec<String>,
    #[schema(value_type = Object)]
    pub app_data: serde_json::Value,
}

pub enum DataProducerMsg {
    Pause(RpcReplyPort<()>),
    Resume(RpcReplyPort<()>),
    Dump(RpcReplyPort<DataProducerDump>),
    Stats(RpcReplyPort<Vec<DataStats>>),
}

pub struct DataProducerArgs {
    pub ctx: Ctx,
    pub info: Arc<DataProducerInfo>,
    pub media: Arc<DataProducerMedia>,
    pub transport_id: String,
    pub paused: bool,
    pub app_data: serde_json::Value,
}

pub struct DataProducer;

impl Actor for DataProducer {
    type Msg = DataProducerMsg;
    type State = DataProducerArgs;
    type Arguments = DataProducerArgs;

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        args: DataProducerArgs,
    ) -> Result<DataProducerArgs, ActorProcessingErr> {
        tracing::info!(data_producer_id = %args.info.id, transport_id = %args.transport_id, label = %args.info.label, "data producer started");
        Ok(args)
    }

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        message: DataProducerMsg,
        state: &mut DataProducerArgs,
    ) -> Result<(), ActorProcessingErr> {
        let id = state.info.id.clone();
        match message {
            DataProducerMsg::Pause(reply) => {
                set_paused(state, true);
                let _ = reply.send(());
            }
            DataProducerMsg::Resume(reply) => {
                set_paused(state, false);
                let _ = reply.send(());
            }
            DataProducerMsg::Dump(reply) => {
                let data_consumer_ids = state
                    .ctx
                    .topology
                    .data_producer(&id)
                    .map(|e| e.consumers.into_iter().collect())
                    .unwrap_or_default();
                let info = &state.info;
                let _ = reply.send(DataProducerDump {
                    id: id.clone(),
                    data_type: info.data_type,
                    transport_id: state.transport_id.clone(),
                    sctp_stream_parameters: info.sctp_stream_parameters,
                    label: info.label.clone(),
                    protocol: info.protocol.clone(),
                    paused: state.paused,
                    data_consumer_ids,
                    app_data: state.app_data.clone(),
                });
            }
            DataProducerMsg::Stats(reply) => {
                let received = &state.media.received;
                let _ = reply.send(vec![DataStats {
                    stats_type: "data-producer".into(),
                    timestamp: crate::stats::now_ms(),
                    label: state.info.label.clone(),
                    protocol: state.info.protocol.clone(),
                    messages_received: Some(received.messages.load(Relaxed)),
                    bytes_received: Some(received.bytes.load(Relaxed)),
                    messages_sent: None,
                    bytes_sent: None,
                    buffered_amount: None,
                }]);
            }
        }
        Ok(())
    }
}

fn set_paused(state: &mut DataProducerArgs, paused: bool) {
    if state.paused == paused {
        return;
    }
    state.paused = paused;
    state.media.set_paused(paused);
    for consumer in state
        .ctx
        .topology
        .set_data_producer_paused(&state.info.id, paused)
    {
        let _ = consumer.cast(DataConsumerMsg::DataProducerPaused(paused));
    }
}
