//! Node: the root of the actor tree (mediasoup's Worker). It creates routers
//! and supervises them.

use std::sync::Arc;

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort, SupervisionEvent};
use serde::Serialize;
use utoipa::ToSchema;

use crate::context::Ctx;
use crate::error::{ActorError, ActorResult};
use crate::ortc;
use crate::router::{Router, RouterArgs};
use crate::rtp_parameters::{RtpCapabilities, RtpCodecCapability};
use crate::supervision::handle_child_event;

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RouterCreated {
    pub id: String,
    pub rtp_capabilities: RtpCapabilities,
}

pub enum NodeMsg {
    CreateRouter {
        /// The router's id; a new one when `None`. In a cluster the room id
        /// is global and each node's router for it shares it.
        id: Option<String>,
        media_codecs: Option<Vec<RtpCodecCapability>>,
        app_data: serde_json::Value,
        reply: RpcReplyPort<ActorResult<RouterCreated>>,
    },
}

pub struct Node;

impl Actor for Node {
    type Msg = NodeMsg;
    type State = Ctx;
    type Arguments = Ctx;

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        ctx: Ctx,
    ) -> Result<Ctx, ActorProcessingErr> {
        tracing::info!(node_id = %ctx.node_id, region = %ctx.region, "node started");
        Ok(ctx)
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        message: NodeMsg,
        ctx: &mut Ctx,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            NodeMsg::CreateRouter {
                id,
                media_codecs,
                app_data,
                reply,
            } => {
                let _ = reply.send(create_router(&myself, ctx, id, media_codecs, app_data).await);
            }
        }
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        _myself: ActorRef<Self::Msg>,
        event: SupervisionEvent,
        ctx: &mut Ctx,
    ) -> Result<(), ActorProcessingErr> {
        handle_child_event(ctx, &event);
        Ok(())
    }
}

async fn create_router(
    myself: &ActorRef<NodeMsg>,
    ctx: &Ctx,
    id: Option<String>,
    media_codecs: Option<Vec<RtpCodecCapability>>,
    app_data: serde_json::Value,
) -> ActorResult<RouterCreated> {
    let codecs = media_codecs.unwrap_or_else(ortc::default_media_codecs);
    let rtp_capabilities = ortc::generate_router_rtp_capabilities(&codecs)?;
    let id = id.unwrap_or_else(|| ctx.new_id());
    if ctx.topology.router(&id).is_ok() {
        return Err(ActorError::WrongState(format!(
            "router {id} already exists"
        )));
    }
    let (actor, _) = Actor::spawn_linked(
        None,
        Router,
        RouterArgs {
            ctx: ctx.clone(),
            id: id.clone(),
            rtp_capabilities: Arc::new(rtp_capabilities.clone()),
            app_data,
        },
        myself.get_cell(),
    )
    .await
    .map_err(|e| ActorError::Internal(format!("cannot start router: {e}")))?;
    ctx.topology.insert_router(&id, actor);
    ctx.metrics.object_opened("router");
    Ok(RouterCreated {
        id,
        rtp_capabilities,
    })
}
