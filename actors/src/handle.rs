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
use crate::router::{RouterDump, RouterMsg};
use crate::rtp_parameters::RtpCodecCapability;
use crate::stats::{RtpStreamStats, TransportStats};
use crate::topology::{CloseCause, ObjectKind, Topology};
use crate::transport::{
    ConnectRequest, ConsumeRequest, ConsumerCreated, IceParameters, PlainTransportCreated,
    PlainTransportOptions, ProduceRequest, ProducerCreated, TransportCreated, TransportDump,
    TransportKind, TransportMsg, WebRtcTransportOptions,
};

use ObjectKind::{Consumer, Producer, Router, Transport};

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
            Some(config) => Some(WebRtcServer::start(config, metrics.clone()).await.map_err(
                |e| {
                    ActorError::Internal(format!(
                        "cannot open the WebRTC port {} (config field `webrtc_port`): {e}",
                        config.port
                    ))
                },
            )?),
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
}
