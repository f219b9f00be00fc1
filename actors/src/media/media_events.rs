//! The data plane's narrow interface to the actors around it. Commands come
//! in as calls on the media objects the actors hold (pause, preferred
//! layers, connect, close); what the data plane has to say goes out through
//! `MediaEvents` — notifications, and objects it found broken — so that
//! nothing in `media/` knows the topology, the actors or the node.

use std::sync::Arc;

use crate::metrics::ActorMetrics;
use crate::object_kind::{CloseCause, ObjectKind};

pub trait MediaEvents: Send + Sync {
    /// A notification for `/v1/events` about an object.
    fn emit(
        &self,
        event: &str,
        kind: ObjectKind,
        id: &str,
        router_id: Option<&str>,
        data: serde_json::Value,
    );

    /// An object the data plane cannot go on with (a transport whose DTLS
    /// handshake failed): it is to be closed, with what depends on it.
    fn close(&self, kind: ObjectKind, id: &str, cause: CloseCause);
}

/// What every media object of a node gets: where its events go, and the
/// node's counters.
#[derive(Clone)]
pub struct MediaContext {
    pub events: Arc<dyn MediaEvents>,
    pub metrics: ActorMetrics,
}
