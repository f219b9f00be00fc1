use std::sync::Arc;

use crate::events::EventBus;
use crate::media::port_allocator::PortAllocator;
use crate::media::shared_plain_port::SharedPlainPorts;
use crate::media::webrtc_server::WebRtcServer;
use crate::media::MediaConfig;
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
    /// Ports and addresses for plain and pipe transports.
    pub media: Option<(MediaConfig, Arc<PortAllocator>)>,
    /// Plain transports' shared ports, opened when first asked for.
    pub shared_plain_ports: SharedPlainPorts,
}

pub type Ctx = Arc<NodeContext>;

impl NodeContext {
    /// A new object id that names this node as the object's home.
    pub fn new_id(&self) -> String {
        crate::ids::new_object_id(&self.node_id)
    }
}

impl NodeContext {
    pub fn new(
        node_id: &str,
        region: &str,
        metrics: ActorMetrics,
        webrtc: Option<Arc<WebRtcServer>>,
        media: Option<MediaConfig>,
    ) -> Ctx {
        let media = media.map(|m| {
            let ports = PortAllocator::new(m.rtp_port_range.0, m.rtp_port_range.1);
            (m, ports)
        });
        Arc::new(NodeContext {
            node_id: node_id.to_string(),
            region: region.to_string(),
            topology: Topology::default(),
            events: EventBus::new(node_id),
            metrics,
            webrtc,
            media,
            shared_plain_ports: SharedPlainPorts::default(),
        })
    }
}
