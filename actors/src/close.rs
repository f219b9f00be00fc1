//! Carrying out a close: take the object and its dependents out of the
//! topology, stop their actors, tell subscribers, update the gauges.

use serde_json::json;

use crate::context::NodeContext;
use crate::topology::{CloseCause, ObjectKind};

/// Closes an object with mediasoup's cascade. Returns false if it was
/// already closed.
pub fn close_object(ctx: &NodeContext, kind: ObjectKind, id: &str, cause: CloseCause) -> bool {
    let detached = ctx.topology.detach(kind, id, cause);
    if detached.is_empty() {
        return false;
    }
    for object in &detached {
        let reason = match &object.cause {
            CloseCause::Failed(reason) | CloseCause::Error(reason) => reason.clone(),
            other => other.event().to_string(),
        };
        if let Some(media) = &object.media {
            media.close();
        }
        object.cell.stop(Some(reason.clone()));
        ctx.metrics.object_closed(object.metric_kind);
        ctx.events.emit(
            object.cause.event(),
            object.kind,
            &object.id,
            Some(&object.router_id),
            json!({ "reason": reason }),
        );
        tracing::info!(kind = %object.kind, id = %object.id, cause = object.cause.event(), "closed");
    }
    true
}
