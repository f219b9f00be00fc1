//! Troupe's supervised actor tree — Node → Router → Transport → Producer /
//! Consumer — and the RTP parameter rules the objects are built on.
//!
//! Every object is a `ractor` actor spawned linked under its parent, so the
//! actor tree is the supervision tree. Parents apply one policy to failed
//! children (see `supervision`): close the child and its dependents with
//! mediasoup's cascade and events, count it, carry on.

pub mod app_data;
mod ask;
mod close;
pub mod consumer;
mod context;
pub mod data_consumer;
pub mod data_parameters;
pub mod data_producer;
pub mod error;
pub mod events;
mod handle;
pub mod ids;
pub mod media;
mod media_link;
pub mod metrics;
pub mod node;
pub mod object_kind;
pub mod open_file_limit;
pub mod ortc;
pub mod producer;
pub mod recording;
pub mod router;
pub mod rtp_observer;
pub mod rtp_parameters;
pub mod speaker_detection;
pub mod stats;
pub mod striped_counter;
mod supervision;
pub mod topology;
pub mod transport;

#[cfg(test)]
mod tests;

pub use error::{ActorError, ActorResult};
pub use events::{EventBus, Notification};
pub use handle::NodeHandle;
pub use metrics::ActorMetrics;
pub use topology::ObjectKind;
