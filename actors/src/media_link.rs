//! How what the data plane reports reaches the node: notifications onto
//! its event bus, objects to close through the close cascade.

use std::sync::{Arc, Weak};

use crate::close::close_object;
use crate::context::{Ctx, NodeContext};
use crate::media::media_events::{MediaContext, MediaEvents};
use crate::object_kind::{CloseCause, ObjectKind};

/// Holds the node weakly: the node holds the media objects that hold this.
struct NodeMediaEvents(Weak<NodeContext>);

impl MediaEvents for NodeMediaEvents {
    fn emit(
        &self,
        event: &str,
        kind: ObjectKind,
        id: &str,
        router_id: Option<&str>,
        data: serde_json::Value,
    ) {
        if let Some(ctx) = self.0.upgrade() {
            ctx.events.emit(event, kind, id, router_id, data);
        }
    }

    fn close(&self, kind: ObjectKind, id: &str, cause: CloseCause) {
        if let Some(ctx) = self.0.upgrade() {
            close_object(&ctx, kind, id, cause);
        }
    }
}

/// The media context of objects made on this node.
pub fn media_context(ctx: &Ctx) -> MediaContext {
    MediaContext {
        events: Arc::new(NodeMediaEvents(Arc::downgrade(ctx))),
        metrics: ctx.metrics.clone(),
    }
}
