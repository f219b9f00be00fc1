//! The media data plane. Actors own objects and their control; packets never
//! go through a mailbox. Each transport, producer and consumer publishes a
//! media object here when it is created, and the socket tasks call straight
//! through them: socket → endpoint (ICE/DTLS/SRTP) → producer → each
//! consumer (rewrite) → its endpoint (SRTP) → socket.

pub mod audio_level;
pub mod consumer_media;
pub mod data_consumer_media;
pub mod data_producer_media;
pub mod direct_endpoint;
pub mod fan_out;
pub mod fan_out_list;
pub mod fan_out_load;
#[cfg(test)]
mod fan_out_tests;
pub mod id_set;
pub mod media_events;
pub mod media_socket;
pub mod metered_socket;
pub mod outgoing_batch;
pub mod peer_link;
pub mod plain_endpoint;
pub mod port_allocator;
pub mod port_group;
pub mod prefetch;
pub mod producer_media;
pub mod producer_shared;
pub mod shared_plain_port;
pub mod svc_layer_bitrates;
pub mod ticker;
pub mod transport_core;
pub mod webrtc_endpoint;
pub mod webrtc_server;

use std::net::IpAddr;
use std::time::Duration;

/// Something the close cascade must shut down besides its actor.
pub trait MediaHandle: Send + Sync {
    fn close(&self);
}

/// How the node's shared WebRTC port is set up.
#[derive(Debug, Clone)]
pub struct MediaConfig {
    pub listen_ip: IpAddr,
    /// 0 picks a free port (tests).
    pub port: u16,
    pub announced_address: String,
    pub ice_consent_timeout: Duration,
    /// PEM certificate and key; generated when absent.
    pub certificate_pem: Option<(String, String)>,
    /// Ports for plain and pipe transports, inclusive.
    pub rtp_port_range: (u16, u16),
    /// The ffmpeg binary recordings run.
    pub ffmpeg: String,
    /// Where recordings are written; a requested path must lie inside.
    pub recordings_dir: std::path::PathBuf,
}

impl MediaConfig {
    /// Loopback on a free port, as tests use.
    pub fn loopback_any_port() -> Self {
        MediaConfig {
            listen_ip: IpAddr::from([127, 0, 0, 1]),
            port: 0,
            announced_address: "127.0.0.1".into(),
            ice_consent_timeout: Duration::from_secs(30),
            certificate_pem: None,
            // Tests take ports from the OS's ephemeral range instead.
            rtp_port_range: (0, 0),
            ffmpeg: "ffmpeg".into(),
            recordings_dir: std::env::temp_dir().join("troupe-recordings"),
        }
    }
}
