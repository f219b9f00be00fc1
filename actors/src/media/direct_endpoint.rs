//! The packet side of a direct transport (mediasoup's DirectTransport):
//! nothing goes on the wire. Its data producers are fed by the API and its
//! data consumers' messages go to `/v1/events`, so it only needs the
//! transport core that routes data streams.

use crate::media::media_events::MediaContext;
use crate::media::transport_core::{MediaTransport, TransportCore};

pub struct DirectEndpoint {
    core: TransportCore,
}

impl DirectEndpoint {
    pub fn new(ctx: MediaContext, transport_id: &str, router_id: &str) -> Self {
        DirectEndpoint {
            core: TransportCore::new(ctx, transport_id, router_id),
        }
    }
}

impl MediaTransport for DirectEndpoint {
    fn core(&self) -> &TransportCore {
        &self.core
    }

    fn send_rtp(&self, _packet: &[u8]) -> bool {
        false
    }

    fn send_rtcp(&self, _packet: &[u8]) -> bool {
        false
    }
}
