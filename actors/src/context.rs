use std::sync::Arc;

use crate::events::EventBus;
use crate::metrics::ActorMetrics;
use crate::topology::Topology;

/// What every actor of a node shares.
pub struct NodeContext {
    pub node_id: String,
    pub region: String,
    pub topology: Topology,
    pub events: EventBus,
    pub metrics: ActorMetrics,
}

pub type Ctx = Arc<NodeContext>;

impl NodeContext {
    pub fn new(node_id: &str, region: &str, metrics: ActorMetrics) -> Ctx {
        Arc::new(NodeContext {
            node_id: node_id.to_string(),
            region: region.to_string(),
            topology: Topology::default(),
            events: EventBus::new(node_id),
            metrics,
        })
    }
}
