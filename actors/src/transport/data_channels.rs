//! A transport's data producers and consumers (mediasoup's produceData /
//! consumeData): SCTP streams on a WebRTC transport's association, or
//! messages to and from the API on a direct transport.

use std::sync::Arc;

use ractor::{Actor, ActorRef};

use super::{TransportKind, TransportMsg, TransportState};
use crate::data_consumer::{DataConsumer, DataConsumerArgs};
use crate::data_parameters::{
    DataConsumeRequest, DataConsumerCreated, DataObjectType, DataProduceRequest,
    DataProducerCreated, SctpStreamParameters,
};
use crate::data_producer::{DataProducer, DataProducerArgs, DataProducerInfo};
use crate::error::{ActorError, ActorResult};
use crate::media::data_consumer_media::{DataConsumerMedia, DataSink};
use crate::media::data_producer_media::DataProducerMedia;
use crate::media_link::media_context;
use crate::topology::{DataConsumerEntry, DataProducerEntry};
use troupe_transports::sctp_link::SctpOptions;

/// Longest label or protocol taken (mediasoup keeps them short too; a
/// browser sends them in every DCEP open).
const MAX_LABEL: usize = 1024;

impl TransportState {
    pub(super) fn refuse_rtp_on_direct(&self) -> ActorResult<()> {
        if self.args.kind == TransportKind::Direct {
            return Err(ActorError::WrongState(
                "a direct transport carries data channel messages only".into(),
            ));
        }
        Ok(())
    }

    /// What data this transport can carry: SCTP with these options, or
    /// direct messages (None).
    fn data_kind(&self) -> ActorResult<Option<SctpOptions>> {
        match self.args.kind {
            TransportKind::Direct => Ok(None),
            TransportKind::Webrtc => self
                .args
                .webrtc
                .as_ref()
                .and_then(|e| e.sctp_options())
                .map(Some)
                .ok_or_else(|| {
                    ActorError::WrongState("the transport was made without enableSctp".into())
                }),
            TransportKind::Plain | TransportKind::Pipe => self
                .args
                .plain
                .as_ref()
                .and_then(|p| p.sctp_options)
                .map(Some)
                .ok_or_else(|| {
                    ActorError::WrongState("the transport was made without enableSctp".into())
                }),
        }
    }

    pub(super) async fn produce_data(
        &mut self,
        myself: &ActorRef<TransportMsg>,
        request: DataProduceRequest,
    ) -> ActorResult<DataProducerCreated> {
        check_label(&request.label, &request.protocol)?;
        if request.id.is_some() && self.args.kind != TransportKind::Pipe {
            // The request is well formed; it asks what only a pipe
            // transport does, so it conflicts with this transport's kind.
            return Err(ActorError::WrongState(format!(
                "id: only a data producer on a pipe transport takes its origin's id, and this is a {}",
                self.args.kind.metric_kind().replace('_', " ")
            )));
        }
        let sctp = self.data_kind()?;
        let ctx = self.args.ctx.clone();
        if let Some(id) = &request.id {
            if ctx.topology.data_producer(id).is_ok() {
                return Err(ActorError::WrongState(format!(
                    "data producer {id} already exists on this node"
                )));
            }
        }
        let id = request.id.clone().unwrap_or_else(|| ctx.new_id());
        let (data_type, stream) = match (sctp, request.sctp_stream_parameters) {
            (Some(options), Some(stream)) => {
                check_stream(&stream, options.inbound_streams, "sctpStreamParameters")?;
                (DataObjectType::Sctp, Some(stream))
            }
            (Some(_), None) => {
                return Err(ActorError::invalid(
                    "sctpStreamParameters",
                    "required on an SCTP transport",
                ))
            }
            (None, Some(_)) => {
                return Err(ActorError::invalid(
                    "sctpStreamParameters",
                    "a direct data producer has no SCTP stream",
                ))
            }
            (None, None) => (DataObjectType::Direct, None),
        };
        let media = DataProducerMedia::new(
            &id,
            stream.map(|s| (Arc::downgrade(&self.args.media), s.stream_id)),
            request.paused,
        );
        if let Some(stream) = stream {
            if !self
                .args
                .media
                .core()
                .add_data_producer(&media, stream.stream_id)
            {
                return Err(ActorError::invalid(
                    "sctpStreamParameters.streamId",
                    format!(
                        "stream {} is used by another data producer of the transport",
                        stream.stream_id
                    ),
                ));
            }
        }
        let info = Arc::new(DataProducerInfo {
            id: id.clone(),
            data_type,
            sctp_stream_parameters: stream,
            label: request.label,
            protocol: request.protocol,
        });
        let remove_stream = || {
            if let Some(stream) = stream {
                self.args
                    .media
                    .core()
                    .remove_data_producer(stream.stream_id);
            }
        };
        let spawned = Actor::spawn_linked(
            None,
            DataProducer,
            DataProducerArgs {
                ctx: ctx.clone(),
                info: info.clone(),
                media: media.clone(),
                transport_id: self.args.id.clone(),
                paused: request.paused,
                app_data: object_or_empty(request.app_data),
            },
            myself.get_cell(),
        )
        .await;
        let actor = match spawned {
            Ok((actor, _)) => actor,
            Err(e) => {
                remove_stream();
                return Err(ActorError::Internal(format!(
                    "cannot start data producer: {e}"
                )));
            }
        };
        let entry = DataProducerEntry {
            router_id: self.args.router_id.clone(),
            transport_id: self.args.id.clone(),
            actor: actor.clone(),
            media,
            info: info.clone(),
            paused: request.paused,
            consumers: Default::default(),
        };
        if let Err(e) = ctx.topology.insert_data_producer(&id, entry) {
            remove_stream();
            actor.stop(None);
            return Err(e);
        }
        ctx.metrics.object_opened("data_producer");
        ctx.events.emit(
            "newdataproducer",
            crate::topology::ObjectKind::Router,
            &self.args.router_id,
            Some(&self.args.router_id),
            serde_json::json!({"dataProducerId": id, "label": info.label, "transportId": self.args.id}),
        );
        Ok(DataProducerCreated {
            id,
            data_type,
            sctp_stream_parameters: stream,
            label: info.label.clone(),
            protocol: info.protocol.clone(),
            paused: request.paused,
        })
    }

    pub(super) async fn consume_data(
        &mut self,
        myself: &ActorRef<TransportMsg>,
        request: DataConsumeRequest,
    ) -> ActorResult<DataConsumerCreated> {
        let ctx = self.args.ctx.clone();
        let producer = ctx.topology.data_producer(&request.data_producer_id)?;
        if producer.router_id != self.args.router_id {
            return Err(ActorError::invalid(
                "dataProducerId",
                format!(
                    "data producer {} is in another router",
                    request.data_producer_id
                ),
            ));
        }
        let sctp = self.data_kind()?;
        let id = ctx.new_id();
        let (data_type, stream, sink) = match sctp {
            Some(options) => {
                // Unless the request says otherwise, deliver as the data
                // producer's stream does (reliable and ordered for a direct one).
                let origin = producer.info.sctp_stream_parameters;
                let reliability_given =
                    request.max_packet_life_time.is_some() || request.max_retransmits.is_some();
                let stream_id = self
                    .args
                    .media
                    .core()
                    .allocate_consumer_stream(options.outbound_streams)
                    .ok_or_else(|| {
                        ActorError::WrongState(format!(
                            "all {} SCTP streams of the transport are in use",
                            options.outbound_streams
                        ))
                    })?;
                let stream = SctpStreamParameters {
                    stream_id,
                    ordered: request
                        .ordered
                        .unwrap_or_else(|| origin.is_none_or(|o| o.ordered)),
                    max_packet_life_time: if reliability_given {
                        request.max_packet_life_time
                    } else {
                        origin.and_then(|o| o.max_packet_life_time)
                    },
                    max_retransmits: if reliability_given {
                        request.max_retransmits
                    } else {
                        origin.and_then(|o| o.max_retransmits)
                    },
                };
                if let Err(e) = check_stream(&stream, u16::MAX, "") {
                    self.args.media.core().release_consumer_stream(stream_id);
                    return Err(e);
                }
                self.args
                    .media
                    .configure_data_stream(stream_id, stream.reliability());
                let sink = DataSink::Sctp {
                    transport: Arc::downgrade(&self.args.media),
                    stream_id,
                };
                (DataObjectType::Sctp, Some(stream), sink)
            }
            None => (DataObjectType::Direct, None, DataSink::Events),
        };
        let remove_stream = || {
            if let Some(stream) = stream {
                self.args
                    .media
                    .core()
                    .release_consumer_stream(stream.stream_id);
            }
        };
        let media = Arc::new(DataConsumerMedia::new(
            &id,
            &self.args.router_id,
            media_context(&ctx),
            sink,
            request.paused,
            producer.paused,
        ));
        let spawned = Actor::spawn_linked(
            None,
            DataConsumer,
            DataConsumerArgs {
                ctx: ctx.clone(),
                id: id.clone(),
                router_id: self.args.router_id.clone(),
                transport_id: self.args.id.clone(),
                producer: producer.info.clone(),
                media: media.clone(),
                data_type,
                sctp_stream_parameters: stream,
                paused: request.paused,
                producer_paused: producer.paused,
                app_data: object_or_empty(request.app_data),
            },
            myself.get_cell(),
        )
        .await;
        let actor = match spawned {
            Ok((actor, _)) => actor,
            Err(e) => {
                remove_stream();
                return Err(ActorError::Internal(format!(
                    "cannot start data consumer: {e}"
                )));
            }
        };
        let entry = DataConsumerEntry {
            router_id: self.args.router_id.clone(),
            transport_id: self.args.id.clone(),
            data_producer_id: request.data_producer_id.clone(),
            actor: actor.clone(),
            media: media.clone(),
        };
        if let Err(e) = ctx.topology.insert_data_consumer(&id, entry) {
            remove_stream();
            actor.stop(None);
            return Err(e);
        }
        producer.media.add_consumer(media);
        ctx.metrics.object_opened("data_consumer");
        Ok(DataConsumerCreated {
            id,
            data_producer_id: request.data_producer_id,
            data_type,
            sctp_stream_parameters: stream,
            label: producer.info.label.clone(),
            protocol: producer.info.protocol.clone(),
            paused: request.paused,
            data_producer_paused: producer.paused,
        })
    }
}

fn object_or_empty(app_data: serde_json::Value) -> serde_json::Value {
    if app_data.is_null() {
        serde_json::json!({})
    } else {
        app_data
    }
}

fn check_label(label: &str, protocol: &str) -> ActorResult<()> {
    if label.len() > MAX_LABEL {
        return Err(ActorError::invalid(
            "label",
            format!("at most {MAX_LABEL} bytes"),
        ));
    }
    if protocol.len() > MAX_LABEL {
        return Err(ActorError::invalid(
            "protocol",
            format!("at most {MAX_LABEL} bytes"),
        ));
    }
    Ok(())
}

/// mediasoup's rules for `sctpStreamParameters`.
fn check_stream(stream: &SctpStreamParameters, streams: u16, field: &str) -> ActorResult<()> {
    let at = |name: &str| {
        if field.is_empty() {
            name.to_string()
        } else {
            format!("{field}.{name}")
        }
    };
    if stream.stream_id >= streams {
        return Err(ActorError::invalid(
            at("streamId"),
            format!("must be below {streams} (the transport's incoming streams)"),
        ));
    }
    if stream.max_packet_life_time.is_some() && stream.max_retransmits.is_some() {
        return Err(ActorError::invalid(
            at("maxRetransmits"),
            "give maxPacketLifeTime or maxRetransmits, not both",
        ));
    }
    Ok(())
}
