//! Producer: one incoming media track. It owns its pause state and answers
//! key-frame requests from its consumers, at most one per second.

use std::sync::Arc;
use std::time::Duration;

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::consumer::ConsumerMsg;
use crate::context::Ctx;
use crate::media::producer_media::ProducerMedia;
use crate::rtp_parameters::{MediaKind, RtpMapping, RtpParameters};
use crate::stats::{RtpStreamStats, StreamCounters};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ProducerType {
    Simple,
    Simulcast,
    Svc,
}

impl ProducerType {
    /// mediasoup's rule: several encodings are simulcast; one encoding with
    /// several layers in its scalabilityMode is SVC where the codec has
    /// spatial layers (VP9, AV1), else simulcast of one stream whose
    /// temporal layers a consumer can still choose (VP8 `L1T3`).
    pub fn of(params: &RtpParameters) -> Self {
        if params.encodings.len() > 1 {
            return ProducerType::Simulcast;
        }
        let layers = params
            .encodings
            .first()
            .and_then(|e| e.scalability_mode.as_deref())
            .map(Layers::from_scalability_mode)
            .unwrap_or(Layers {
                spatial: 1,
                temporal: 1,
            });
        if layers.spatial == 1 && layers.temporal == 1 {
            return ProducerType::Simple;
        }
        let codec_has_spatial_layers =
            params.codecs.iter().find(|c| !c.is_rtx()).is_some_and(|c| {
                let name = c.mime_type.to_ascii_lowercase();
                name == "video/vp9" || name == "video/av1"
            });
        if codec_has_spatial_layers {
            ProducerType::Svc
        } else if layers.spatial == 1 {
            ProducerType::Simulcast
        } else {
            // Spatial layers the codec cannot carry: nothing to choose.
            ProducerType::Simple
        }
    }
}

/// Spatial and temporal layer counts (or indices, for preferred layers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Layers {
    pub spatial: u8,
    pub temporal: u8,
}

impl Layers {
    /// "L3T3", "S2T1", "L1T2_KEY" → counts; anything else is one layer.
    pub fn from_scalability_mode(mode: &str) -> Layers {
        let digits = |after: char| -> Option<u8> {
            let rest = mode.get(mode.find(after)? + 1..)?;
            let end = rest
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(rest.len());
            rest.get(..end)?.parse().ok()
        };
        let spatial = if mode.starts_with('L') || mode.starts_with('S') {
            mode.get(1..)
                .and_then(|r| r.get(..r.find(|c: char| !c.is_ascii_digit()).unwrap_or(r.len())))
                .and_then(|d| d.parse().ok())
                .unwrap_or(1)
        } else {
            1
        };
        Layers {
            spatial: spatial.max(1),
            temporal: digits('T').unwrap_or(1).max(1),
        }
    }
}

/// What a producer publishes to the rest of the node at creation: fixed for
/// its lifetime, so readers need no lock.
#[derive(Debug)]
pub struct ProducerShared {
    pub id: String,
    pub kind: MediaKind,
    pub producer_type: ProducerType,
    pub rtp_parameters: RtpParameters,
    pub consumable_rtp_parameters: RtpParameters,
    pub rtp_mapping: RtpMapping,
    /// One per encoding.
    pub counters: Vec<StreamCounters>,
}

impl ProducerShared {
    /// Layer counts consumers of this producer can choose among.
    pub fn layers(&self) -> Layers {
        let per_encoding = self
            .rtp_parameters
            .encodings
            .first()
            .and_then(|e| e.scalability_mode.as_deref())
            .map(Layers::from_scalability_mode)
            .unwrap_or(Layers {
                spatial: 1,
                temporal: 1,
            });
        match self.producer_type {
            ProducerType::Simulcast => Layers {
                spatial: self.rtp_parameters.encodings.len() as u8,
                temporal: per_encoding.temporal,
            },
            _ => per_encoding,
        }
    }
}

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

/// PLI/FIR toward a sender at most this often, however many consumers ask.
pub const KEY_FRAME_REQUEST_INTERVAL: Duration = Duration::from_secs(1);

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
