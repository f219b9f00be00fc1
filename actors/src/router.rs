//! Router: a room's media hub. It holds the room's RTP capabilities and
//! supervises the room's transports.

use std::collections::BTreeMap;
use std::sync::Arc;

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort, SupervisionEvent};
use serde::Serialize;
use utoipa::ToSchema;

use crate::context::Ctx;
use crate::error::{ActorError, ActorResult};
use crate::rtp_parameters::RtpCapabilities;
use crate::supervision::handle_child_event;
use crate::topology::TransportEntry;
use crate::transport::{Transport, TransportArgs, TransportKind, TransportMsg};

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RouterDump {
    pub id: String,
    pub transport_ids: Vec<String>,
    pub map_producer_id_consumer_ids: BTreeMap<String, Vec<String>>,
    pub rtp_capabilities: RtpCapabilities,
    #[schema(value_type = Object)]
    pub app_data: serde_json::Value,
}

pub enum RouterMsg {
    CreateTransport {
        kind: TransportKind,
        app_data: serde_json::Value,
        reply: RpcReplyPort<ActorResult<(String, ActorRef<TransportMsg>)>>,
    },
    Dump(RpcReplyPort<RouterDump>),
    #[cfg(test)]
    Panic,
}

pub struct RouterArgs {
    pub ctx: Ctx,
    pub id: String,
    pub rtp_capabilities: Arc<RtpCapabilities>,
    pub app_data: serde_json::Value,
}

pub struct RouterState {
    args: RouterArgs,
    /// Open for the router's whole life; closed when the state drops.
    _lifetime: tracing::Span,
}

pub struct Router;

impl Actor for Router {
    type Msg = RouterMsg;
    type State = RouterState;
    type Arguments = RouterArgs;

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        args: RouterArgs,
    ) -> Result<RouterState, ActorProcessingErr> {
        let lifetime = tracing::info_span!("router", router.id = %args.id);
        tracing::info!(parent: &lifetime, "router started");
        Ok(RouterState {
            args,
            _lifetime: lifetime,
        })
    }

    async fn post_stop(
        &self,
        _myself: ActorRef<Self::Msg>,
        state: &mut RouterState,
    ) -> Result<(), ActorProcessingErr> {
        tracing::info!(router_id = %state.args.id, "router stopped");
        Ok(())
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        message: RouterMsg,
        state: &mut RouterState,
    ) -> Result<(), ActorProcessingErr> {
        let state = &mut state.args;
        match message {
            RouterMsg::CreateTransport {
                kind,
                app_data,
                reply,
            } => {
                let _ = reply.send(create_transport(&myself, state, kind, app_data).await);
            }
            RouterMsg::Dump(reply) => {
                let (transport_ids, producers) = state.ctx.topology.router_contents(&state.id);
                let _ = reply.send(RouterDump {
                    id: state.id.clone(),
                    transport_ids,
                    map_producer_id_consumer_ids: producers.into_iter().collect(),
                    rtp_capabilities: (*state.rtp_capabilities).clone(),
                    app_data: state.app_data.clone(),
                });
            }
            #[cfg(test)]
            RouterMsg::Panic => panic!("injected router fault"),
        }
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        _myself: ActorRef<Self::Msg>,
        event: SupervisionEvent,
        state: &mut RouterState,
    ) -> Result<(), ActorProcessingErr> {
        handle_child_event(&state.args.ctx, &event);
        Ok(())
    }
}

async fn create_transport(
    myself: &ActorRef<RouterMsg>,
    state: &RouterArgs,
    kind: TransportKind,
    app_data: serde_json::Value,
) -> ActorResult<(String, ActorRef<TransportMsg>)> {
    let id = uuid::Uuid::new_v4().to_string();
    let (actor, _) = Actor::spawn_linked(
        None,
        Transport,
        TransportArgs {
            ctx: state.ctx.clone(),
            id: id.clone(),
            router_id: state.id.clone(),
            kind,
            router_capabilities: state.rtp_capabilities.clone(),
            app_data,
        },
        myself.get_cell(),
    )
    .await
    .map_err(|e| ActorError::Internal(format!("cannot start transport: {e}")))?;
    let entry = TransportEntry {
        router_id: state.id.clone(),
        kind,
        actor: actor.clone(),
    };
    if let Err(e) = state.ctx.topology.insert_transport(&id, entry) {
        actor.stop(None);
        return Err(e);
    }
    state.ctx.metrics.object_opened(kind.metric_kind());
    Ok((id, actor))
}
