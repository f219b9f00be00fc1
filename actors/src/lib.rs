//! Troupe's supervised actor tree — Node → Router → Transport → Producer /
//! Consumer — and the RTP parameter rules the objects are built on.

pub mod ortc;
pub mod rtp_parameters;
