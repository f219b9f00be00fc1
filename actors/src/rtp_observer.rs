//! RtpObserver: a router's AudioLevelObserver or ActiveSpeakerObserver
//! (mediasoup's). Every interval it takes each of its audio producers'
//! levels (from their `ssrc-audio-level` extension, measured on the packet
//! path) and tells `/v1/events` what it concludes.

use std::sync::Arc;
use std::time::Duration;

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use crate::context::Ctx;
use crate::error::{ActorError, ActorResult};
use crate::media::producer_media::ProducerMedia;
use crate::rtp_parameters::MediaKind;
use crate::speaker_detection::{DominantSpeaker, LoudestSelection, ObserverReport};
use crate::topology::ObjectKind;

/// `POST /v1/routers/{id}/audio-level-observers`, mediasoup's defaults.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AudioLevelObserverOptions {
    /// How many of the loudest producers each `volumes` names (default 1).
    #[schema(minimum = 1, maximum = 64)]
    pub max_entries: Option<u16>,
    /// dBov a producer must reach to count (default −80).
    #[schema(minimum = -127, maximum = 0)]
    pub threshold: Option<i8>,
    /// Milliseconds per window (default 1000).
    #[schema(minimum = 250, maximum = 60000)]
    pub interval: Option<u32>,
    #[serde(default = "crate::app_data::empty")]
    #[schema(value_type = Object)]
    pub app_data: serde_json::Value,
}

/// `POST /v1/routers/{id}/active-speaker-observers`.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ActiveSpeakerObserverOptions {
    /// Milliseconds per window (default 300).
    #[schema(minimum = 100, maximum = 60000)]
    pub interval: Option<u32>,
    #[serde(default = "crate::app_data::empty")]
    #[schema(value_type = Object)]
    pub app_data: serde_json::Value,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RtpObserverCreated {
    pub id: String,
}

/// `POST /v1/rtp-observers/{id}/producers`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ObservedProducer {
    pub producer_id: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum RtpObserverType {
    AudioLevel,
    ActiveSpeaker,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RtpObserverDump {
    pub id: String,
    pub router_id: String,
    #[serde(rename = "type")]
    pub observer_type: RtpObserverType,
    pub producer_ids: Vec<String>,
    pub paused: bool,
    pub interval: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dominant_producer_id: Option<String>,
    #[schema(value_type = Object)]
    pub app_data: serde_json::Value,
}

pub enum Detection {
    Loudest(LoudestSelection),
    Speaker(DominantSpeaker),
}

pub enum RtpObserverMsg {
    AddProducer(String, RpcReplyPort<ActorResult<()>>),
    RemoveProducer(String, RpcReplyPort<ActorResult<()>>),
    Pause(RpcReplyPort<()>),
    Resume(RpcReplyPort<()>),
    Dump(RpcReplyPort<RtpObserverDump>),
    Window,
}

pub struct RtpObserverArgs {
    pub ctx: Ctx,
    pub id: String,
    pub router_id: String,
    pub detection: Detection,
    pub interval: Duration,
    pub app_data: serde_json::Value,
}

pub struct RtpObserverState {
    args: RtpObserverArgs,
    producers: Vec<Arc<ProducerMedia>>,
    paused: bool,
}

impl RtpObserverState {
    fn emit(&self, event: &str, data: serde_json::Value) {
        let a = &self.args;
        a.ctx.events.emit(
            event,
            ObjectKind::RtpObserver,
            &a.id,
            Some(&a.router_id),
            data,
        );
    }

    fn window(&mut self) {
        // Producers closed since the last window leave the observer.
        let topology = &self.args.ctx.topology;
        self.producers
            .retain(|p| topology.producer(&p.shared.id).is_ok());
        let levels: Vec<_> = self
            .producers
            .iter()
            .map(|p| (p.shared.id.clone(), p.audio_level.take()))
            .collect();
        if self.paused {
            return;
        }
        let report = match &mut self.args.detection {
            Detection::Loudest(selection) => selection.window(&levels),
            Detection::Speaker(speaker) => speaker.window(&levels),
        };
        match report {
            Some(ObserverReport::Volumes(volumes)) => {
                let volumes: Vec<_> = volumes
                    .into_iter()
                    .map(|(id, dbov)| json!({"producerId": id, "volume": dbov.round() as i64}))
                    .collect();
                self.emit("volumes", json!({ "volumes": volumes }));
            }
            Some(ObserverReport::Silence) => self.emit("silence", json!({})),
            Some(ObserverReport::DominantSpeaker(id)) => {
                self.emit("dominantspeaker", json!({ "producerId": id }))
            }
            None => {}
        }
    }

    fn add_producer(&mut self, id: &str) -> ActorResult<()> {
        let producer = self.args.ctx.topology.producer(id)?;
        if producer.router_id != self.args.router_id {
            return Err(ActorError::invalid(
                "producerId",
                format!("producer {id} is in another router"),
            ));
        }
        if producer.shared.kind != MediaKind::Audio {
            return Err(ActorError::invalid(
                "producerId",
                format!("producer {id} is not audio"),
            ));
        }
        if self.producers.iter().any(|p| p.shared.id == id) {
            return Err(ActorError::WrongState(format!(
                "producer {id} is already observed"
            )));
        }
        // Levels from before it was added are not this observer's.
        producer.media.audio_level.take();
        self.producers.push(producer.media);
        Ok(())
    }
}

pub struct RtpObserver;

impl Actor for RtpObserver {
    type Msg = RtpObserverMsg;
    type State = RtpObserverState;
    type Arguments = RtpObserverArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        args: RtpObserverArgs,
    ) -> Result<RtpObserverState, ActorProcessingErr> {
        myself.send_interval(args.interval, || RtpObserverMsg::Window);
        Ok(RtpObserverState {
            args,
            producers: Vec::new(),
            paused: false,
        })
    }

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        message: RtpObserverMsg,
        state: &mut RtpObserverState,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            RtpObserverMsg::AddProducer(id, reply) => {
                let _ = reply.send(state.add_producer(&id));
            }
            RtpObserverMsg::RemoveProducer(id, reply) => {
                let before = state.producers.len();
                state.producers.retain(|p| p.shared.id != id);
                let _ = reply.send(if state.producers.len() < before {
                    Ok(())
                } else {
                    Err(ActorError::not_found(ObjectKind::Producer, &id))
                });
            }
            RtpObserverMsg::Pause(reply) => {
                state.paused = true;
                let _ = reply.send(());
            }
            RtpObserverMsg::Resume(reply) => {
                state.paused = false;
                let _ = reply.send(());
            }
            RtpObserverMsg::Dump(reply) => {
                let a = &state.args;
                let (observer_type, dominant) = match &a.detection {
                    Detection::Loudest(_) => (RtpObserverType::AudioLevel, None),
                    Detection::Speaker(s) => (
                        RtpObserverType::ActiveSpeaker,
                        s.current().map(str::to_string),
                    ),
                };
                let _ = reply.send(RtpObserverDump {
                    id: a.id.clone(),
                    router_id: a.router_id.clone(),
                    observer_type,
                    producer_ids: state
                        .producers
                        .iter()
                        .map(|p| p.shared.id.clone())
                        .collect(),
                    paused: state.paused,
                    interval: a.interval.as_millis() as u32,
                    dominant_producer_id: dominant,
                    app_data: a.app_data.clone(),
                });
            }
            RtpObserverMsg::Window => state.window(),
        }
        Ok(())
    }
}
