//! Troupe's SDP offer/answer for standard WebRTC clients (WHIP ingest,
//! WHEP playback): read an offer, say what its sections become in
//! mediasoup's terms, write the answer. Sans-IO: no sockets, no actors.

pub mod answer;
pub mod mapping;
pub mod offer;
pub mod sdpfrag;
#[cfg(test)]
mod tests;

pub use answer::{answer, LocalCandidate, LocalTransport, SectionAnswer};
pub use mapping::{producer_parameters, receiver_capabilities};
pub use offer::{parse_offer, Direction, Offer, OfferedMedia};
pub use sdpfrag::{parse_fragment, restart_answer, IceFragment};

/// Why an offer (or ICE fragment) cannot be answered; the message names
/// the line or section at fault, for a 400.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct OfferError(pub String);

impl OfferError {
    pub fn new(message: impl Into<String>) -> OfferError {
        OfferError(message.into())
    }
}
