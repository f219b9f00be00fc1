//! Consumer: one outgoing copy of a producer to one transport.

use std::sync::Arc;

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use crate::context::Ctx;
use crate::error::{ActorError, ActorResult};
use crate::media::consumer_media::ConsumerMedia;
use crate::producer::{ProducerMsg, ProducerShared, ProducerType};
use crate::rtp_parameters::{MediaKind, RtpParameters};
use crate::stats::{ConsumerLayers, RtpStreamStats};
use crate::topology::ObjectKind;
use troupe_transports::layer_selector::LayerIndices;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ConsumerType {
    Simple,
    Simulcast,
    Svc,
    Pipe,
}

impl From<ProducerType> for ConsumerType {
    fn from(t: ProducerType) -> Self {
        match t {
            ProducerType::Simple => ConsumerType::Simple,
            ProducerType::Simulcast => ConsumerType::Simulcast,
            ProducerType::Svc => ConsumerType::Svc,
        }
    }
}

/// `{spatialLayer, temporalLayer?}` as mediasoup's setPreferredLayers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PreferredLayers {
    #[schema(maximum = 255)]
    pub spatial_layer: u8,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(maximum = 255)]
    pub temporal_layer: Option<u8>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConsumerDump {
    pub id: String,
    pub producer_id: String,
    pub transport_id: String,
    pub kind: MediaKind,
    #[serde(rename = "type")]
    pub consumer_type: ConsumerType,
    pub rtp_parameters: RtpParameters,
    pub paused: bool,
    pub producer_paused: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preferred_layers: Option<PreferredLayers>,
    /// The layers forwarded now (simulcast and SVC consumers, once any is).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_layers: Option<ConsumerLayers>,
    /// Its share of a thin link against the transport's other consumers.
    pub priority: u8,
    #[schema(value_type = Object)]
    pub app_data: serde_json::Value,
}

pub enum ConsumerMsg {
    Pause(RpcReplyPort<()>),
    Resume(RpcReplyPort<()>),
    ProducerPaused(bool),
    RequestKeyFrame(RpcReplyPort<()>),
    SetPreferredLayers(
        PreferredLayers,
        RpcReplyPort<ActorResult<Option<PreferredLayers>>>,
    ),
    Dump(RpcReplyPort<ConsumerDump>),
    Stats(RpcReplyPort<Vec<RtpStreamStats>>),
    #[cfg(test)]
    Panic,
}

pub struct ConsumerArgs {
    pub ctx: Ctx,
    pub id: String,
    pub router_id: String,
    pub transport_id: String,
    pub producer: Arc<ProducerShared>,
    pub producer_actor: ActorRef<ProducerMsg>,
    pub media: Arc<ConsumerMedia>,
    pub consumer_type: ConsumerType,
    pub rtp_parameters: RtpParameters,
    pub paused: bool,
    pub producer_paused: bool,
    pub preferred_layers: Option<PreferredLayers>,
    pub app_data: serde_json::Value,
}

pub struct ConsumerState {
    args: ConsumerArgs,
    /// Open for the consumer's whole life; closed when the state drops.
    _lifetime: tracing::Span,
}

impl ConsumerState {
    fn active(&self) -> bool {
        !self.args.paused && !self.args.producer_paused
    }

    /// A video consumer that starts or resumes forwarding needs a key frame
    /// before its receiver can decode anything.
    fn request_key_frame(&self) {
        if self.args.producer.kind == MediaKind::Video {
            // The media object knows which stream it needs one of.
            self.args.media.request_key_frame();
        }
    }

    fn sync_media(&self) {
        self.args.media.set_paused(self.args.paused);
        self.args
            .media
            .set_producer_paused(self.args.producer_paused);
    }

    fn emit(&self, event: &str, data: serde_json::Value) {
        let a = &self.args;
        a.ctx
            .events
            .emit(event, ObjectKind::Consumer, &a.id, Some(&a.router_id), data);
    }
}

pub struct Consumer;

impl Actor for Consumer {
    type Msg = ConsumerMsg;
    type State = ConsumerState;
    type Arguments = ConsumerArgs;

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        args: ConsumerArgs,
    ) -> Result<ConsumerState, ActorProcessingErr> {
        let lifetime = tracing::info_span!(
            "consumer",
            consumer.id = %args.id,
            producer.id = %args.producer.id,
            transport.id = %args.transport_id
        );
        tracing::info!(parent: &lifetime, "consumer started");
        let state = ConsumerState {
            args,
            _lifetime: lifetime,
        };
        if state.active() {
            state.request_key_frame();
        }
        Ok(state)
    }

    async fn post_stop(
        &self,
        _myself: ActorRef<Self::Msg>,
        state: &mut ConsumerState,
    ) -> Result<(), ActorProcessingErr> {
        tracing::info!(consumer_id = %state.args.id, "consumer stopped");
        Ok(())
    }

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        message: ConsumerMsg,
        state: &mut ConsumerState,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            ConsumerMsg::Pause(reply) => {
                state.args.paused = true;
                state.sync_media();
                let _ = reply.send(());
            }
            ConsumerMsg::Resume(reply) => {
                state.args.paused = false;
                // The media object re-syncs and asks for a key frame.
                state.sync_media();
                let _ = reply.send(());
            }
            ConsumerMsg::ProducerPaused(paused) => {
                if state.args.producer_paused != paused {
                    let was_active = state.active();
                    state.args.producer_paused = paused;
                    state.emit(
                        if paused {
                            "producerpause"
                        } else {
                            "producerresume"
                        },
                        json!({}),
                    );
                    if !was_active && state.active() {
                        state.request_key_frame();
                    }
                }
            }
            ConsumerMsg::RequestKeyFrame(reply) => {
                state.request_key_frame();
                let _ = reply.send(());
            }
            ConsumerMsg::SetPreferredLayers(wanted, reply) => {
                let _ = reply.send(set_preferred_layers(state, wanted));
            }
            ConsumerMsg::Dump(reply) => {
                let a = &state.args;
                let _ = reply.send(ConsumerDump {
                    id: a.id.clone(),
                    producer_id: a.producer.id.clone(),
                    transport_id: a.transport_id.clone(),
                    kind: a.producer.kind,
                    consumer_type: a.consumer_type,
                    rtp_parameters: a.rtp_parameters.clone(),
                    paused: a.paused,
                    producer_paused: a.producer_paused,
                    preferred_layers: a.preferred_layers,
                    current_layers: a.media.current_layers().map(ConsumerLayers::from),
                    priority: a.media.priority(),
                    app_data: a.app_data.clone(),
                });
            }
            ConsumerMsg::Stats(reply) => {
                let a = &state.args;
                let encoding = a.rtp_parameters.encodings.first();
                let mut stats = RtpStreamStats::from_counters(
                    "outbound-rtp",
                    encoding.and_then(|e| e.ssrc).unwrap_or_default(),
                    encoding.and_then(|e| e.rtx).map(|r| r.ssrc),
                    None,
                    a.producer.kind,
                    a.rtp_parameters
                        .codecs
                        .first()
                        .map(|c| c.mime_type.as_str())
                        .unwrap_or(""),
                    &a.media.counters,
                );
                stats.current_layers = a.media.current_layers().map(ConsumerLayers::from);
                let _ = reply.send(vec![stats]);
            }
            #[cfg(test)]
            ConsumerMsg::Panic => panic!("injected consumer fault"),
        }
        Ok(())
    }
}

fn set_preferred_layers(
    state: &mut ConsumerState,
    wanted: PreferredLayers,
) -> ActorResult<Option<PreferredLayers>> {
    if !matches!(
        state.args.consumer_type,
        ConsumerType::Simulcast | ConsumerType::Svc
    ) {
        return Err(ActorError::WrongState(format!(
            "a {:?} consumer has no layers to prefer",
            state.args.consumer_type
        )));
    }
    let available = state.args.producer.layers();
    if wanted.spatial_layer >= available.spatial {
        return Err(ActorError::invalid(
            "spatialLayer",
            format!(
                "must be below {} (the producer's spatial layers)",
                available.spatial
            ),
        ));
    }
    let temporal = wanted.temporal_layer.unwrap_or(available.temporal - 1);
    if temporal >= available.temporal {
        return Err(ActorError::invalid(
            "temporalLayer",
            format!(
                "must be below {} (the producer's temporal layers)",
                available.temporal
            ),
        ));
    }
    let layers = PreferredLayers {
        spatial_layer: wanted.spatial_layer,
        temporal_layer: Some(temporal),
    };
    state.args.preferred_layers = Some(layers);
    state.args.media.set_target_layers(LayerIndices {
        spatial: layers.spatial_layer,
        temporal,
    });
    Ok(Some(layers))
}

#[cfg(test)]
mod tests {
    use crate::producer::Layers;

    #[test]
    fn scalability_modes_give_layer_counts() {
        assert_eq!(
            Layers::from_scalability_mode("L1T3"),
            Layers {
                spatial: 1,
                temporal: 3
            }
        );
        assert_eq!(
            Layers::from_scalability_mode("L3T3_KEY"),
            Layers {
                spatial: 3,
                temporal: 3
            }
        );
        assert_eq!(
            Layers::from_scalability_mode("S2T1"),
            Layers {
                spatial: 2,
                temporal: 1
            }
        );
        assert_eq!(
            Layers::from_scalability_mode("bogus"),
            Layers {
                spatial: 1,
                temporal: 1
            }
        );
    }
}
