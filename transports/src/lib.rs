//! Sans-IO protocol cores for Troupe. Nothing here owns a socket, spawns a
//! task or reads a clock: callers feed bytes (and time) in and take bytes and
//! events out, so every core is unit-tested, fuzzed and benchmarked alone.

pub mod bwe;
pub mod certificate;
pub mod crypto_provider;
pub mod dtls_session;
pub mod ice_lite;
pub mod keep_window;
pub mod key_frame;
pub mod layer_selector;
pub mod packet_history;
pub mod packet_kind;
pub mod padding_packet;
pub mod payload_descriptor;
pub mod picture_number_rewriter;
pub mod receive_congestion;
pub mod receive_statistics;
pub mod retransmission_buffer;
pub mod rtcp_feedback;
pub mod rtp_packet;
pub mod sctp_link;
pub mod srtp_keys;
pub mod stream_rewriter;
pub mod tcp_framing;
pub mod transport_cc_feedback;
pub mod vp8_descriptor;
pub mod vp9_descriptor;

pub use packet_kind::{classify, PacketKind};
pub use tcp_framing::{FramingError, TcpFrameDecoder};
