//! The typed messages nodes send each other over the control link, encoded
//! with rmp-serde. Objects of the actor layer (RTP parameters, codecs)
//! travel as their JSON API form, so the link never needs a second schema
//! for them.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum ControlRequest {
    /// The codecs of a router made on the receiving node, so the sender can
    /// serve the same room.
    RouterCodecs { router_id: String },
    /// Send a producer into the requester's router for the same room.
    OpenPipe(OpenPipe),
    /// The requester no longer needs the pipe.
    ClosePipe { pipe_transport_id: String },
    /// The origin paused or resumed a producer the receiver gets by pipe.
    ProducerPaused { producer_id: String, paused: bool },
    /// The origin closed a producer the receiver gets by pipe.
    ProducerClosed { producer_id: String },
    /// Send a data producer's messages into the requester's router.
    OpenDataPipe(OpenDataPipe),
    /// A router (room) was closed: close the local one too.
    CloseRouter { router_id: String },
    /// A producer was made in a room: tell this node's subscribers of it.
    NewProducer {
        router_id: String,
        producer_id: String,
        kind: String,
    },
}

impl ControlRequest {
    pub const NAMES: [&'static str; 8] = [
        "router_codecs",
        "open_pipe",
        "close_pipe",
        "producer_paused",
        "producer_closed",
        "close_router",
        "new_producer",
        "open_data_pipe",
    ];

    pub fn name(&self) -> &'static str {
        Self::NAMES[match self {
            ControlRequest::RouterCodecs { .. } => 0,
            ControlRequest::OpenPipe(_) => 1,
            ControlRequest::ClosePipe { .. } => 2,
            ControlRequest::ProducerPaused { .. } => 3,
            ControlRequest::ProducerClosed { .. } => 4,
            ControlRequest::CloseRouter { .. } => 5,
            ControlRequest::NewProducer { .. } => 6,
            ControlRequest::OpenDataPipe(_) => 7,
        }]
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OpenPipe {
    pub router_id: String,
    pub producer_id: String,
    /// The requester's pipe transport: where to send.
    pub ip: String,
    pub port: u16,
    pub srtp: Option<PipeSrtp>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PipeSrtp {
    pub crypto_suite: String,
    /// The key, sealed with the cluster secret (`sealed`).
    pub sealed_key: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PipeOpened {
    pub pipe_transport_id: String,
    pub ip: String,
    pub port: u16,
    pub srtp: Option<PipeSrtp>,
    /// `audio` or `video`.
    pub kind: String,
    /// The pipe consumer's RTP parameters (JSON): the far side produces
    /// with exactly these.
    pub rtp_parameters_json: String,
    pub paused: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OpenDataPipe {
    pub router_id: String,
    pub data_producer_id: String,
    /// The requester's pipe transport (SCTP over UDP): where to send.
    pub ip: String,
    pub port: u16,
}

/// The far end of a data pipe: its address, and the stream and settings
/// its data consumer sends with, which the requester's pipe data producer
/// takes as they are.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DataPipeOpened {
    pub pipe_transport_id: String,
    pub ip: String,
    pub port: u16,
    pub stream_id: u16,
    pub ordered: bool,
    pub max_packet_life_time: Option<u32>,
    pub max_retransmits: Option<u32>,
    pub label: String,
    pub protocol: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum ControlResponse {
    /// JSON of the media codecs; `None` when the router was made with the
    /// default codecs.
    RouterCodecs(Option<String>),
    PipeOpened(PipeOpened),
    DataPipeOpened(DataPipeOpened),
    Done,
}

/// A request refused or failed on the remote node, with the HTTP status the
/// API would have answered there.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct RemoteError {
    pub status: u16,
    pub code: String,
    pub message: String,
}

/// One frame on the link.
#[derive(Debug, Serialize, Deserialize)]
pub enum Frame {
    /// Server → client, first: prove you know the cluster secret.
    Challenge { node_id: String, nonce: Vec<u8> },
    /// Client → server: the proof, and a nonce for the server's proof.
    Hello {
        node_id: String,
        proof: Vec<u8>,
        nonce: Vec<u8>,
    },
    /// Server → client: the server's proof.
    Welcome { proof: Vec<u8> },
    Request {
        id: u64,
        /// W3C `traceparent` of the caller's span, when tracing is on.
        traceparent: Option<String>,
        body: ControlRequest,
    },
    Response {
        id: u64,
        result: Result<ControlResponse, RemoteError>,
    },
}
