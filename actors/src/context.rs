use std::sync::Arc;

use crate::events::EventBus;
use crate::media::webrtc_server::WebRtcServer;
use crate::metrics::ActorMetrics;
use crate::topology::Topology;

/// What every actor of a node shares.
pub struct NodeContext {
    pub node_id: String,
    pub region: String,
    pub topology: Topology,
    pub events: EventBus,
    pub metrics: ActorMetrics,
    /// The shared WebRTC port; absent only in tests of the tree alone.
    pub webrtc: Option<Arc<WebRtcServer>>,
}

pub type Ctx = Arc<NodeContext>;

impl NodeContext {
    pub fn new(
        node_id: &str,
        region: &str,
        metrics: ActorMetrics,
        webrtc: Option<Arc<WebRtcServer>>,
    ) -> Ctx {
        Arc::new(NodeContext {
            node_id: node_id.to_string(),
            region: region.to_string(),
            topology: Topology::default(),
            events: EventBus::new(node_id),
            metrics,
            webrtc,
        })
    }
}
