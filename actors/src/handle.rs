//! The actor tree as the layers above see it: one method per operation, by
//! object id, each a mailbox request with a deadline.

use ractor::{Actor, ActorRef};

use crate::ask::{ask, ask_result};
use crate::close::close_object;
use crate::consumer::{ConsumerDump, ConsumerMsg, PreferredLayers};
use crate::context::{Ctx, NodeContext};
use crate::error::{ActorError, ActorResult};
use crate::events::EventBus;
use crate::media::webrtc_server::WebRtcServer;
use crate::media::MediaConfig;
use crate::metrics::ActorMetrics;
use crate::node::{Node, NodeMsg, RouterCreated};
use crate::producer::{ProducerDump, ProducerMsg};
use crate::recording::{
    self, FfmpegProcess, RecordedStream, Recording, RecordingArgs, RecordingFormat, RecordingInfo,
    RecordingMsg, RecordingState,
};
use crate::router::{RouterDump, RouterMsg};
use crate::rtp_parameters::RtpCodecCapability;
use crate::stats::{RtpStreamStats, TransportStats};
use crate::topology::{CloseCause, ObjectKind, Topology};
use crate::topology::{RecordingEntry, RecordingLookup};
use crate::transport::{
    ConnectRequest, ConsumeRequest, ConsumerCreated, IceParameters, PipeTransportOptions,
    PlainConnectRequest, PlainTransportCreated, PlainTransportOptions, ProduceRequest,
    ProducerCreated, TransportCreated, TransportDump, TransportKind, TransportMsg,
    WebRtcTransportOptions,
};

use crate::data_consumer::{DataConsumerDump, DataConsumerMsg};
use crate::data_parameters::{
    DataConsumeRequest, DataConsumerCreated, DataObjectType, DataProduceRequest,
    DataProducerCreated, DataStats, DirectMessage,
};
use crate::data_producer::{DataProducerDump, DataProducerMsg};
use crate::transport::{DirectTransportCreated, DirectTransportOptions};
use troupe_transports::sctp_link;

use crate::rtp_observer::{
    ActiveSpeakerObserverOptions, AudioLevelObserverOptions, Detection, RtpObserver,
    RtpObserverArgs, RtpObserverCreated, RtpObserverDump, RtpObserverMsg,
};
use crate::speaker_detection::LoudestSelection;
use crate::topology::RtpObserverEntry;

use ObjectKind::RtpObserver as RtpObserverKind;
use ObjectKind::{Consumer, DataConsumer, DataProducer, Producer, Router, Transport};

#[derive(Clone)]
pub struct NodeHandle {
    ctx: Ctx,
    node: ActorRef<NodeMsg>,
}

impl NodeHandle {
    /// Starts a node; with `media` it opens the shared WebRTC port.
    pub async fn start(
        node_id: &str,
        region: &str,
        metrics: ActorMetrics,
        media: Option<MediaConfig>,
    ) -> ActorResult<Self> {
        let webrtc = match &media {
            Some(config) => Some(
                WebRtcServer::start(config, metrics.clone())
                    .await
                    .map_err(|e| ActorError::Internal(e.to_string()))?,
            ),
            None => None,
        };
        let ctx = NodeContext::new(node_id, region, metrics, webrtc, media);
        let (node, _) = Actor::spawn(None, Node, ctx.clone())
            .await
            .map_err(|e| ActorError::Internal(format!("cannot start node: {e}")))?;
        Ok(NodeHandle { ctx, node })
    }

    pub fn node_id(&self) -> &str {
        &self.ctx.node_id
    }

    pub fn region(&self) -> &str {
        &self.ctx.region
    }

    pub fn events(&self) -> &EventBus {
        &self.ctx.events
    }

    pub fn topology(&self) -> &Topology {
        &self.ctx.topology
    }

    pub fn metrics(&self) -> &ActorMetrics {
        &self.ctx.metrics
    }

    /// Whether the root actor is running.
    pub fn is_alive(&self) -> bool {
        matches!(self.node.get_status(), ractor::ActorStatus::Running)
    }

    /// Closes every router, then stops the node.
    pub async fn shutdown(&self) {
        for id in self.ctx.topology.router_ids() {
            close_object(&self.ctx, Router, &id, CloseCause::Closed);
        }
        self.node.stop(Some("shutdown".into()));
    }

    pub async fn create_router(
        &self,
        id: Option<String>,
        media_codecs: Option<Vec<RtpCodecCapability>>,
        app_data: serde_json::Value,
    ) -> ActorResult<RouterCreated> {
        ask_result(&self.node, Router, "new", |reply| NodeMsg::CreateRouter {
            id,
            media_codecs,
            app_data,
            reply,
        })
        .await
    }

    pub async fn router_dump(&self, id: &str) -> ActorResult<RouterDump> {
        let router = self.ctx.topology.router(id)?;
        ask(&router.actor, Router, id, RouterMsg::Dump).await
    }

    pub fn close(&self, kind: ObjectKind, id: &str) -> ActorResult<()> {
        if close_object(&self.ctx, kind, id, CloseCause::Closed) {
            Ok(())
        } else {
            Err(ActorError::not_found(kind, id))
        }
    }

    pub async fn create_webrtc_transport(
        &self,
        router_id: &str,
        options: WebRtcTransportOptions,
    ) -> ActorResult<TransportCreated> {
        let router = self.ctx.topology.router(router_id)?;
        ask_result(&router.actor, Router, router_id, |reply| {
            RouterMsg::CreateWebRtcTransport { options, reply }
        })
        .await
    }

    /// The port WebRTC clients reach this node on.
    pub fn webrtc_port(&self) -> Option<u16> {
        self.ctx.webrtc.as_ref().map(|s| s.local_port)
    }

    pub async fn create_plain_transport(
        &self,
        router_id: &str,
        options: PlainTransportOptions,
    ) -> ActorResult<PlainTransportCreated> {
        let router = self.ctx.topology.router(router_id)?;
        ask_result(&router.actor, Router, router_id, |reply| {
            RouterMsg::CreatePlainTransport { options, reply }
        })
        .await
    }

    pub async fn create_pipe_transport(
        &self,
        router_id: &str,
        options: PipeTransportOptions,
    ) -> ActorResult<PlainTransportCreated> {
        let router = self.ctx.topology.router(router_id)?;
        ask_result(&router.actor, Router, router_id, |reply| {
            RouterMsg::CreatePipeTransport { options, reply }
        })
        .await
    }

    pub async fn connect_transport(&self, id: &str, request: ConnectRequest) -> ActorResult<()> {
        let t = self.ctx.topology.transport(id)?;
        ask_result(&t.actor, Transport, id, |r| {
            TransportMsg::Connect(request, r)
        })
        .await
    }

    pub async fn restart_ice(&self, id: &str) -> ActorResult<IceParameters> {
        let t = self.ctx.topology.transport(id)?;
        ask_result(&t.actor, Transport, id, TransportMsg::RestartIce).await
    }

    /// mediasoup's setMaxOutgoingBitrate / setMinOutgoingBitrate.
    pub async fn set_outgoing_bitrate_limits(
        &self,
        id: &str,
        max: Option<u64>,
        min: Option<u64>,
    ) -> ActorResult<()> {
        let t = self.ctx.topology.transport(id)?;
        ask(&t.actor, Transport, id, |reply| {
            TransportMsg::SetOutgoingBitrateLimits { max, min, reply }
        })
        .await
    }

    pub async fn set_max_incoming_bitrate(&self, id: &str, bitrate: u64) -> ActorResult<()> {
        let t = self.ctx.topology.transport(id)?;
        ask(&t.actor, Transport, id, |reply| {
            TransportMsg::SetMaxIncomingBitrate(bitrate, reply)
        })
        .await
    }

    pub fn transport_kind(&self, id: &str) -> ActorResult<TransportKind> {
        Ok(self.ctx.topology.transport(id)?.kind)
    }

    pub async fn transport_dump(&self, id: &str) -> ActorResult<TransportDump> {
        let t = self.ctx.topology.transport(id)?;
        ask(&t.actor, Transport, id, TransportMsg::Dump).await
    }

    pub async fn transport_stats(&self, id: &str) -> ActorResult<Vec<TransportStats>> {
        let t = self.ctx.topology.transport(id)?;
        ask(&t.actor, Transport, id, TransportMsg::Stats).await
    }

    pub async fn produce(
        &self,
        transport_id: &str,
        request: ProduceRequest,
    ) -> ActorResult<ProducerCreated> {
        let t = self.ctx.topology.transport(transport_id)?;
        ask_result(&t.actor, Transport, transport_id, |r| {
            TransportMsg::Produce(request, r)
        })
        .await
    }

    pub async fn consume(
        &self,
        transport_id: &str,
        request: ConsumeRequest,
    ) -> ActorResult<ConsumerCreated> {
        let t = self.ctx.topology.transport(transport_id)?;
        ask_result(&t.actor, Transport, transport_id, |r| {
            TransportMsg::Consume(request, r)
        })
        .await
    }

    pub async fn producer_pause(&self, id: &str, pause: bool) -> ActorResult<()> {
        let p = self.ctx.topology.producer(id)?;
        let build = if pause {
            ProducerMsg::Pause
        } else {
            ProducerMsg::Resume
        };
        ask(&p.actor, Producer, id, build).await
    }

    pub async fn producer_dump(&self, id: &str) -> ActorResult<ProducerDump> {
        let p = self.ctx.topology.producer(id)?;
        ask(&p.actor, Producer, id, ProducerMsg::Dump).await
    }

    pub async fn producer_stats(&self, id: &str) -> ActorResult<Vec<RtpStreamStats>> {
        let p = self.ctx.topology.producer(id)?;
        ask(&p.actor, Producer, id, ProducerMsg::Stats).await
    }

    pub async fn consumer_pause(&self, id: &str, pause: bool) -> ActorResult<()> {
        let c = self.ctx.topology.consumer(id)?;
        let build = if pause {
            ConsumerMsg::Pause
        } else {
            ConsumerMsg::Resume
        };
        ask(&c.actor, Consumer, id, build).await
    }

    pub async fn consumer_request_key_frame(&self, id: &str) -> ActorResult<()> {
        let c = self.ctx.topology.consumer(id)?;
        ask(&c.actor, Consumer, id, ConsumerMsg::RequestKeyFrame).await
    }

    /// The consumer's share of its transport's bandwidth (1-255); the
    /// media object holds it, so no actor message is needed.
    pub fn consumer_set_priority(&self, id: &str, priority: u8) -> ActorResult<()> {
        let c = self.ctx.topology.consumer(id)?;
        c.media.set_priority(priority);
        Ok(())
    }

    pub async fn consumer_set_preferred_layers(
        &self,
        id: &str,
        layers: PreferredLayers,
    ) -> ActorResult<Option<PreferredLayers>> {
        let c = self.ctx.topology.consumer(id)?;
        ask_result(&c.actor, Consumer, id, |r| {
            ConsumerMsg::SetPreferredLayers(layers, r)
        })
        .await
    }

    pub async fn consumer_dump(&self, id: &str) -> ActorResult<ConsumerDump> {
        let c = self.ctx.topology.consumer(id)?;
        ask(&c.actor, Consumer, id, ConsumerMsg::Dump).await
    }

    pub async fn consumer_stats(&self, id: &str) -> ActorResult<Vec<RtpStreamStats>> {
        let c = self.ctx.topology.consumer(id)?;
        ask(&c.actor, Consumer, id, ConsumerMsg::Stats).await
    }

    pub async fn create_direct_transport(
        &self,
        router_id: &str,
        options: DirectTransportOptions,
    ) -> ActorResult<DirectTransportCreated> {
        if options
            .max_message_size
            .is_some_and(|size| !(1..=16 * 1024 * 1024).contains(&size))
        {
            return Err(ActorError::invalid(
                "maxMessageSize",
                "must be 1 to 16777216",
            ));
        }
        let router = self.ctx.topology.router(router_id)?;
        ask_result(&router.actor, Router, router_id, |reply| {
            RouterMsg::CreateDirectTransport { options, reply }
        })
        .await
    }

    pub async fn produce_data(
        &self,
        transport_id: &str,
        request: DataProduceRequest,
    ) -> ActorResult<DataProducerCreated> {
        let t = self.ctx.topology.transport(transport_id)?;
        ask_result(&t.actor, Transport, transport_id, |r| {
            TransportMsg::ProduceData(request, r)
        })
        .await
    }

    pub async fn consume_data(
        &self,
        transport_id: &str,
        request: DataConsumeRequest,
    ) -> ActorResult<DataConsumerCreated> {
        let t = self.ctx.topology.transport(transport_id)?;
        ask_result(&t.actor, Transport, transport_id, |r| {
            TransportMsg::ConsumeData(request, r)
        })
        .await
    }

    pub async fn data_producer_pause(&self, id: &str, pause: bool) -> ActorResult<()> {
        let p = self.ctx.topology.data_producer(id)?;
        let build = if pause {
            DataProducerMsg::Pause
        } else {
            DataProducerMsg::Resume
        };
        ask(&p.actor, DataProducer, id, build).await
    }

    pub async fn data_producer_dump(&self, id: &str) -> ActorResult<DataProducerDump> {
        let p = self.ctx.topology.data_producer(id)?;
        ask(&p.actor, DataProducer, id, DataProducerMsg::Dump).await
    }

    pub async fn data_producer_stats(&self, id: &str) -> ActorResult<Vec<DataStats>> {
        let p = self.ctx.topology.data_producer(id)?;
        ask(&p.actor, DataProducer, id, DataProducerMsg::Stats).await
    }

    /// A message from the server side into a direct data producer, to each
    /// of its data consumers (mediasoup's `DataProducer.send()`).
    pub fn data_producer_send(&self, id: &str, message: DirectMessage) -> ActorResult<()> {
        let p = self.ctx.topology.data_producer(id)?;
        if p.info.data_type != DataObjectType::Direct {
            return Err(ActorError::WrongState(
                "only a direct data producer takes messages from the API".into(),
            ));
        }
        let (ppid, payload) = if message.binary {
            use base64::Engine;
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(message.message.as_bytes())
                .map_err(|e| ActorError::invalid("message", format!("not base64: {e}")))?;
            (sctp_link::PPID_BINARY, bytes)
        } else {
            (sctp_link::PPID_STRING, message.message.into_bytes())
        };
        if payload.len() > sctp_link::DEFAULT_MAX_MESSAGE_SIZE as usize {
            return Err(ActorError::invalid(
                "message",
                format!("at most {} bytes", sctp_link::DEFAULT_MAX_MESSAGE_SIZE),
            ));
        }
        p.media.deliver(&sctp_link::SctpMessage {
            stream_id: 0,
            ppid,
            payload: payload.into(),
        });
        Ok(())
    }

    pub async fn data_consumer_pause(&self, id: &str, pause: bool) -> ActorResult<()> {
        let c = self.ctx.topology.data_consumer(id)?;
        let build = if pause {
            DataConsumerMsg::Pause
        } else {
            DataConsumerMsg::Resume
        };
        ask(&c.actor, DataConsumer, id, build).await
    }

    pub async fn data_consumer_dump(&self, id: &str) -> ActorResult<DataConsumerDump> {
        let c = self.ctx.topology.data_consumer(id)?;
        ask(&c.actor, DataConsumer, id, DataConsumerMsg::Dump).await
    }

    pub async fn data_consumer_stats(&self, id: &str) -> ActorResult<Vec<DataStats>> {
        let c = self.ctx.topology.data_consumer(id)?;
        ask(&c.actor, DataConsumer, id, DataConsumerMsg::Stats).await
    }

    /// mediasoup's `router.createAudioLevelObserver()`.
    pub async fn create_audio_level_observer(
        &self,
        router_id: &str,
        options: AudioLevelObserverOptions,
    ) -> ActorResult<RtpObserverCreated> {
        let max_entries = options.max_entries.unwrap_or(1);
        if !(1..=64).contains(&max_entries) {
            return Err(ActorError::invalid("maxEntries", "must be 1 to 64"));
        }
        let threshold = options.threshold.unwrap_or(-80);
        if !(-127..=0).contains(&threshold) {
            return Err(ActorError::invalid("threshold", "must be -127 to 0 (dBov)"));
        }
        let interval = options.interval.unwrap_or(1000);
        if !(250..=60_000).contains(&interval) {
            return Err(ActorError::invalid("interval", "must be 250 to 60000 ms"));
        }
        let detection =
            Detection::Loudest(LoudestSelection::new(usize::from(max_entries), threshold));
        self.spawn_rtp_observer(router_id, detection, interval, options.app_data)
            .await
    }

    /// mediasoup's `router.createActiveSpeakerObserver()`.
    pub async fn create_active_speaker_observer(
        &self,
        router_id: &str,
        options: ActiveSpeakerObserverOptions,
    ) -> ActorResult<RtpObserverCreated> {
        let interval = options.interval.unwrap_or(300);
        if !(100..=60_000).contains(&interval) {
            return Err(ActorError::invalid("interval", "must be 100 to 60000 ms"));
        }
        let detection = Detection::Speaker(Default::default());
        self.spawn_rtp_observer(router_id, detection, interval, options.app_data)
            .await
    }

    async fn spawn_rtp_observer(
        &self,
        router_id: &str,
        detection: Detection,
        interval: u32,
        app_data: serde_json::Value,
    ) -> ActorResult<RtpObserverCreated> {
        let router = self.ctx.topology.router(router_id)?;
        let id = self.ctx.new_id();
        let app_data = if app_data.is_null() {
            serde_json::json!({})
        } else {
            app_data
        };
        let (actor, _) = Actor::spawn_linked(
            None,
            RtpObserver,
            RtpObserverArgs {
                ctx: self.ctx.clone(),
                id: id.clone(),
                router_id: router_id.to_string(),
                detection,
                interval: std::time::Duration::from_millis(u64::from(interval)),
                app_data,
            },
            router.actor.get_cell(),
        )
        .await
        .map_err(|e| ActorError::Internal(format!("cannot start the observer: {e}")))?;
        if let Err(e) = self.ctx.topology.insert_rtp_observer(
            &id,
            RtpObserverEntry {
                router_id: router_id.to_string(),
                actor: actor.clone(),
            },
        ) {
            actor.stop(None);
            return Err(e);
        }
        self.ctx.metrics.object_opened("rtp_observer");
        Ok(RtpObserverCreated { id })
    }

    pub async fn rtp_observer_add_producer(
        &self,
        id: &str,
        producer_id: String,
    ) -> ActorResult<()> {
        let o = self.ctx.topology.rtp_observer(id)?;
        ask_result(&o.actor, RtpObserverKind, id, |r| {
            RtpObserverMsg::AddProducer(producer_id, r)
        })
        .await
    }

    pub async fn rtp_observer_remove_producer(
        &self,
        id: &str,
        producer_id: String,
    ) -> ActorResult<()> {
        let o = self.ctx.topology.rtp_observer(id)?;
        ask_result(&o.actor, RtpObserverKind, id, |r| {
            RtpObserverMsg::RemoveProducer(producer_id, r)
        })
        .await
    }

    pub async fn rtp_observer_pause(&self, id: &str, pause: bool) -> ActorResult<()> {
        let o = self.ctx.topology.rtp_observer(id)?;
        let build = if pause {
            RtpObserverMsg::Pause
        } else {
            RtpObserverMsg::Resume
        };
        ask(&o.actor, RtpObserverKind, id, build).await
    }

    pub async fn rtp_observer_dump(&self, id: &str) -> ActorResult<RtpObserverDump> {
        let o = self.ctx.topology.rtp_observer(id)?;
        ask(&o.actor, RtpObserverKind, id, RtpObserverMsg::Dump).await
    }

    /// Starts recording producers of a router to a file (see `recording`).
    #[tracing::instrument(name = "recording start", skip_all, fields(router.id = %router_id))]
    pub async fn start_recording(
        &self,
        router_id: &str,
        producer_ids: Vec<String>,
        format: RecordingFormat,
        path: Option<String>,
    ) -> ActorResult<RecordingInfo> {
        let router = self.ctx.topology.router(router_id)?;
        let (media, _) = self
            .ctx
            .media
            .clone()
            .ok_or_else(|| ActorError::Unavailable("this node has no media ports".into()))?;
        if producer_ids.is_empty() || producer_ids.len() > 8 {
            return Err(ActorError::invalid("producerIds", "name 1 to 8 producers"));
        }
        for id in &producer_ids {
            match self.ctx.topology.producer(id) {
                Ok(p) if p.router_id == router_id => {}
                _ => {
                    return Err(ActorError::WrongState(format!(
                        "producer {id} is not in router {router_id}"
                    )))
                }
            }
        }
        let id = self.ctx.new_id();
        let output = recording::resolve_path(&media.recordings_dir, path.as_deref(), &id, format)?;
        let loopback = std::net::IpAddr::from([127, 0, 0, 1]);
        let mut streams = Vec::new();
        let result = async {
            for producer_id in &producer_ids {
                let transport = self
                    .create_plain_transport(
                        router_id,
                        PlainTransportOptions {
                            listen_ip: Some("127.0.0.1".into()),
                            rtcp_mux: Some(false),
                            ..Default::default()
                        },
                    )
                    .await?;
                let ffmpeg_port = recording::free_port_pair(loopback)?;
                self.connect_transport(
                    &transport.id,
                    ConnectRequest::Plain(PlainConnectRequest {
                        ip: Some("127.0.0.1".into()),
                        port: Some(ffmpeg_port),
                        rtcp_port: Some(ffmpeg_port + 1),
                        srtp_parameters: None,
                    }),
                )
                .await?;
                let router_caps = self.router_dump(router_id).await?.rtp_capabilities;
                let consumer = self
                    .consume(
                        &transport.id,
                        ConsumeRequest {
                            producer_id: producer_id.clone(),
                            rtp_capabilities: router_caps,
                            paused: true,
                            preferred_layers: None,
                            // ffmpeg neither asks for nor understands RTX.
                            enable_rtx: Some(false),
                            mid: None,
                            app_data: serde_json::json!({"recording": id}),
                        },
                    )
                    .await?;
                streams.push(RecordedStream {
                    transport_id: transport.id,
                    consumer_id: consumer.id,
                    consumer_ssrc: consumer
                        .rtp_parameters
                        .encodings
                        .first()
                        .and_then(|e| e.ssrc)
                        .unwrap_or_default(),
                    rtp_parameters: consumer.rtp_parameters,
                    ffmpeg_port,
                });
            }
            let sdp_path = output.with_extension("sdp");
            std::fs::write(&sdp_path, recording::sdp(&streams))
                .map_err(|e| ActorError::Unavailable(format!("cannot write the SDP: {e}")))?;
            let ffmpeg = match FfmpegProcess::start(
                &media.ffmpeg,
                &sdp_path,
                &output,
                format,
                streams[0].ffmpeg_port,
            )
            .await
            {
                Ok(f) => f,
                Err(e) => {
                    let _ = std::fs::remove_file(&sdp_path);
                    return Err(e);
                }
            };
            Ok((sdp_path, ffmpeg))
        }
        .await;
        let (sdp_path, ffmpeg) = match result {
            Ok(r) => r,
            Err(e) => {
                // Nothing stays behind from a recording that did not start.
                for stream in &streams {
                    close_object(
                        &self.ctx,
                        Transport,
                        &stream.transport_id,
                        CloseCause::Closed,
                    );
                }
                return Err(e);
            }
        };
        let info = RecordingInfo {
            id: id.clone(),
            router_id: router_id.to_string(),
            path: output.display().to_string(),
            format,
            state: RecordingState::Recording,
            producer_ids,
            started_at: crate::stats::now_ms(),
            exit_code: None,
            error: None,
        };
        let consumers: Vec<String> = streams.iter().map(|s| s.consumer_id.clone()).collect();
        let ended = vec![false; streams.len()];
        let args = RecordingArgs {
            ctx: self.ctx.clone(),
            info: info.clone(),
            streams,
            ended,
            ffmpeg,
            sdp_path,
        };
        let (actor, _) = Actor::spawn_linked(None, Recording, args, router.actor.get_cell())
            .await
            .map_err(|e| ActorError::Internal(format!("cannot start the recording: {e}")))?;
        self.ctx.topology.insert_recording(
            &id,
            RecordingEntry {
                router_id: router_id.to_string(),
                actor,
            },
        )?;
        self.ctx.metrics.object_opened("recording");
        // ffmpeg listens: start the streams; video begins on a key frame.
        for consumer in consumers {
            self.consumer_pause(&consumer, false).await?;
        }
        Ok(info)
    }

    pub async fn recording_status(&self, id: &str) -> ActorResult<RecordingInfo> {
        match self.ctx.topology.recording(id) {
            RecordingLookup::Live(entry) => {
                ask(
                    &entry.actor,
                    ObjectKind::Recording,
                    id,
                    RecordingMsg::Status,
                )
                .await
            }
            RecordingLookup::Finished(finished) => Ok(*finished),
            RecordingLookup::Unknown => Err(ActorError::not_found(ObjectKind::Recording, id)),
        }
    }

    /// Stops a recording; returns once ffmpeg has finalized the file.
    #[tracing::instrument(name = "recording stop", skip(self), fields(recording.id = %id))]
    pub async fn stop_recording(&self, id: &str) -> ActorResult<RecordingInfo> {
        match self.ctx.topology.recording(id) {
            RecordingLookup::Live(entry) => {
                // Finalizing can take a few seconds; allow more than the
                // usual control deadline.
                match entry
                    .actor
                    .call(RecordingMsg::Stop, Some(std::time::Duration::from_secs(20)))
                    .await
                {
                    Ok(ractor::rpc::CallResult::Success(info)) => {
                        self.ctx.metrics.object_closed("recording");
                        Ok(info)
                    }
                    _ => Err(ActorError::not_found(ObjectKind::Recording, id)),
                }
            }
            RecordingLookup::Finished(finished) => Ok(*finished),
            RecordingLookup::Unknown => Err(ActorError::not_found(ObjectKind::Recording, id)),
        }
    }
}
