//! Producer: one incoming media track. It owns its pause state and answers
//! key-frame requests from its consumers, at most one per second.

use std::sync::Arc;

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use serde::Serialize;
use utoipa::ToSchema;

pub use crate::media::producer_shared::{
    Layers, ProducerShared, ProducerType, KEY_FRAME_REQUEST_INTERVAL,
};

use crate::consumer::ConsumerMsg;
use crate::context::Ctx;
use crate::media::producer_media::ProducerMedia;
use crate::rtp_parameters::{MediaKind, RtpMapping, RtpParameters};
use crate::stats::RtpStreamStats;

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProducerDump {
    pub id: String,
    pub kind: MediaKind,
    #[serde(rename = "type")]
    pub producer_type: ProducerType,
    pub transport_id: String,
    pub rtp_parameters: RtpParameters,
    pub consumable_rtp_parameters: RtpParameters,
    pub rtp_mapping: RtpMapping,
    pub paused: bool,
    pub consumer_ids: Vec<String>,
    #[schema(value_type = Object)]
    pub app_data: serde_json::Value,
}

pub enum ProducerMsg {
    Pause(RpcReplyPort<()>),
    Resume(RpcReplyPort<()>),
    Dump(RpcReplyPort<ProducerDump>),
    Stats(RpcReplyPort<Vec<RtpStreamStats>>),
    #[cfg(test)]
    Panic,
}

pub struct ProducerArgs {
    pub ctx: Ctx,
    pub shared: Arc<ProducerShared>,
    pub media: Arc<ProducerMedia>,
    pub transport_id: String,
    pub paused: bool,
    pub app_data: serde_json::Value,
}

pub struct ProducerState {
    args: ProducerArgs,
    /// Open for the producer's whole life; closed when the state drops.
    _lifetime: tracing::Span,
}

pub struct Producer;

impl Actor for Producer {
    type Msg = ProducerMsg;
    type State = ProducerState;
    type Arguments = ProducerArgs;

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        args: ProducerArgs,
    ) -> Result<ProducerState, ActorProcessingErr> {
        let lifetime = tracing::info_span!(
            "producer",
            producer.id = %args.shared.id,
            transport.id = %args.transport_id,
            kind = args.shared.kind.as_str()
        );
        tracing::info!(parent: &lifetime, "producer started");
        Ok(ProducerState {
            args,
            _lifetime: lifetime,
        })
    }

    async fn post_stop(
        &self,
        _myself: ActorRef<Self::Msg>,
        state: &mut ProducerState,
    ) -> Result<(), ActorProcessingErr> {
        tracing::info!(producer_id = %state.args.shared.id, "producer stopped");
        Ok(())
    }

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        message: ProducerMsg,
        state: &mut ProducerState,
    ) -> Result<(), ActorProcessingErr> {
        let ctx = state.args.ctx.clone();
        let id = state.args.shared.id.clone();
        match message {
            ProducerMsg::Pause(reply) => {
                if !state.args.paused {
                    state.args.paused = true;
                    state.args.media.set_paused(true);
                    for consumer in ctx.topology.set_producer_paused(&id, true) {
                        let _ = consumer.cast(ConsumerMsg::ProducerPaused(true));
                    }
                }
                let _ = reply.send(());
            }
            ProducerMsg::Resume(reply) => {
                if state.args.paused {
                    state.args.paused = false;
                    state.args.media.set_paused(false);
                    for consumer in ctx.topology.set_producer_paused(&id, false) {
                        let _ = consumer.cast(ConsumerMsg::ProducerPaused(false));
                    }
                }
                let _ = reply.send(());
            }
            ProducerMsg::Dump(reply) => {
                let shared = &state.args.shared;
                let consumer_ids = ctx
                    .topology
                    .producer(&id)
                    .map(|e| e.consumers.into_iter().collect())
                    .unwrap_or_default();
                let _ = reply.send(ProducerDump {
                    id: id.clone(),
                    kind: shared.kind,
                    producer_type: shared.producer_type,
                    transport_id: state.args.transport_id.clone(),
                    rtp_parameters: shared.rtp_parameters.clone(),
                    consumable_rtp_parameters: shared.consumable_rtp_parameters.clone(),
                    rtp_mapping: shared.rtp_mapping.clone(),
                    paused: state.args.paused,
                    consumer_ids,
                    app_data: state.args.app_data.clone(),
                });
            }
            ProducerMsg::Stats(reply) => {
                let shared = &state.args.shared;
                let mime = shared
                    .rtp_parameters
                    .codecs
                    .first()
                    .map(|c| c.mime_type.as_str())
                    .unwrap_or("");
                let stats = shared
                    .rtp_parameters
                    .encodings
                    .iter()
                    .zip(&shared.counters)
                    .map(|(encoding, counters)| {
                        RtpStreamStats::from_counters(
                            "inbound-rtp",
                            encoding.ssrc.unwrap_or_default(),
                            encoding.rtx.map(|r| r.ssrc),
                            encoding.rid.clone(),
                            shared.kind,
                            mime,
                            counters,
                        )
                    })
                    .collect();
                let _ = reply.send(stats);
            }
            #[cfg(test)]
            ProducerMsg::Panic => panic!("injected producer fault"),
        }
        Ok(())
    }
}
