//! DataConsumer: one outgoing copy of a data producer's messages, on its
//! own SCTP stream of its transport (or to the API, on a direct one).

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

use crate::context::Ctx;
use crate::data_parameters::{DataObjectType, DataStats, SctpStreamParameters};
use crate::data_producer::DataProducerInfo;
use crate::media::data_consumer_media::DataConsumerMedia;
use crate::topology::ObjectKind;

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DataConsumerDump {
    pub id: String,
    pub data_producer_id: String,
    pub transport_id: String,
    #[serde(rename = "type")]
    pub data_type: DataObjectType,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sctp_stream_parameters: Option<SctpStreamParameters>,
    pub label: String,
    pub protocol: String,
    pub paused: bool,
    pub data_producer_paused: bool,
    #[schema(value_type = Object)]
    pub app_data: serde_json::Value,
}

pub enum DataConsumerMsg {
    Pause(RpcReplyPort<()>),
    Resume(RpcReplyPort<()>),
    DataProducerPaused(bool),
    Dump(RpcReplyPort<DataConsumerDump>),
    Stats(RpcReplyPort<Vec<DataStats>>),
}

pub struct DataConsumerArgs {
    pub ctx: Ctx,
    pub id: String,
    pub router_id: String,
    pub transport_id: String,
    pub producer: Arc<DataProducerInfo>,
    pub media: Arc<DataConsumerMedia>,
    pub data_type: DataObjectType,
    pub sctp_stream_parameters: Option<SctpStreamParameters>,
    pub paused: bool,
    pub producer_paused: bool,
    pub app_data: serde_json::Value,
}

pub struct DataConsumer;

impl Actor for DataConsumer {
    type Msg = DataConsumerMsg;
    type State = DataConsumerArgs;
    type Arguments = DataConsumerArgs;

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        args: DataConsumerArgs,
    ) -> Result<DataConsumerArgs, ActorProcessingErr> {
        tracing::info!(data_consumer_id = %args.id, data_producer_id = %args.producer.id, transport_id = %args.transport_id, "data consumer started");
        Ok(args)
    }

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        message: DataConsumerMsg,
        state: &mut DataConsumerArgs,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            DataConsumerMsg::Pause(reply) => {
                state.paused = true;
                state.media.set_paused(true);
                let _ = reply.send(());
            }
            DataConsumerMsg::Resume(reply) => {
                state.paused = false;
                state.media.set_paused(false);
                let _ = reply.send(());
            }
            DataConsumerMsg::DataProducerPaused(paused) => {
                if state.producer_paused != paused {
                    state.producer_paused = paused;
                    state.media.set_producer_paused(paused);
                    let event = if paused {
                        "dataproducerpause"
                    } else {
                        "dataproducerresume"
                    };
                    state.ctx.events.emit(
                        event,
                        ObjectKind::DataConsumer,
                        &state.id,
                        Some(&state.router_id),
                        json!({}),
                    );
                }
            }
            DataConsumerMsg::Dump(reply) => {
                let _ = reply.send(DataConsumerDump {
                    id: state.id.clone(),
                    data_producer_id: state.producer.id.clone(),
                    transport_id: state.transport_id.clone(),
                    data_type: state.data_type,
                    sctp_stream_parameters: state.sctp_stream_parameters,
                    label: state.producer.label.clone(),
                    protocol: state.producer.protocol.clone(),
                    paused: state.paused,
                    data_producer_paused: state.producer_paused,
                    app_data: state.app_data.clone(),
                });
            }
            DataConsumerMsg::Stats(reply) => {
                let sent = &state.media.sent;
                let _ = reply.send(vec![DataStats {
                    stats_type: "data-consumer".into(),
                    timestamp: crate::stats::now_ms(),
                    label: state.producer.label.clone(),
                    protocol: state.producer.protocol.clone(),
                    messages_received: None,
                    bytes_received: None,
                    messages_sent: Some(sent.messages.load(Relaxed)),
                    bytes_sent: Some(sent.bytes.load(Relaxed)),
                    buffered_amount: Some(state.media.buffered_amount() as u64),
                }]);
            }
        }
        Ok(())
    }
}
