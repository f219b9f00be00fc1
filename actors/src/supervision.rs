//! The supervision policy every parent actor applies to its children:
//! one-for-one, close-don't-restart. A child that fails is closed with its
//! dependents (the mediasoup cascade, with events), the failure is counted,
//! and the parent and all siblings carry on. Restarting would bring an
//! object back with none of its peer's state (ICE, DTLS, sequence numbers),
//! which is worse than an explicit close the client can react to.

use ractor::SupervisionEvent;

use crate::close::close_object;
use crate::context::NodeContext;
use crate::topology::CloseCause;

pub fn handle_child_event(ctx: &NodeContext, event: &SupervisionEvent) {
    let (cell, reason, label) = match event {
        SupervisionEvent::ActorFailed(cell, error) => (cell, error.to_string(), "failed"),
        // A child that stopped without being closed through the topology
        // stopped on its own: treat it like a failure so nothing dangles.
        SupervisionEvent::ActorTerminated(cell, _, reason) => (
            cell,
            reason.clone().unwrap_or_else(|| "stopped".into()),
            "stopped",
        ),
        _ => return,
    };
    let Some((kind, id)) = ctx.topology.object_of_actor(cell.get_id()) else {
        return; // Closed through the topology already.
    };
    tracing::error!(%kind, %id, %reason, "actor {label}; closing it and its dependents");
    ctx.metrics.failure(&kind.to_string(), label);
    close_object(ctx, kind, &id, CloseCause::Failed(reason));
}
