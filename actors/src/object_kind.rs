//! What kind of object a notification or an error is about, and why an
//! object closes: plain names that the data plane, the actors and the API
//! all use, so they sit below all of them.

use std::fmt;

use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ObjectKind {
    Router,
    Transport,
    Producer,
    Consumer,
    DataProducer,
    DataConsumer,
    RtpObserver,
    Recording,
}

impl fmt::Display for ObjectKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ObjectKind::Router => "router",
            ObjectKind::Transport => "transport",
            ObjectKind::Producer => "producer",
            ObjectKind::Consumer => "consumer",
            ObjectKind::DataProducer => "dataproducer",
            ObjectKind::DataConsumer => "dataconsumer",
            ObjectKind::RtpObserver => "rtpobserver",
            ObjectKind::Recording => "recording",
        })
    }
}

/// Why an object is being closed; each maps to mediasoup's event name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CloseCause {
    /// Closed on request (API or its owner).
    Closed,
    RouterClosed,
    TransportClosed,
    ProducerClosed,
    DataProducerClosed,
    /// Its actor failed; the text is the failure.
    Failed(String),
    /// Closed by Troupe because of a protocol error (DTLS failure, ...).
    Error(String),
}

impl CloseCause {
    pub fn event(&self) -> &'static str {
        match self {
            CloseCause::Closed => "close",
            CloseCause::RouterClosed => "routerclose",
            CloseCause::TransportClosed => "transportclose",
            CloseCause::ProducerClosed => "producerclose",
            CloseCause::DataProducerClosed => "dataproducerclose",
            CloseCause::Failed(_) => "failed",
            CloseCause::Error(_) => "close",
        }
    }
}
