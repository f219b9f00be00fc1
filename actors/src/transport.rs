//! Transport: one connection's media endpoint. It creates the producers and
//! consumers on it, supervises them, and keeps mediasoup's RtpListener rules
//! (an SSRC, MID or RID belongs to one producer of the transport).

use std::collections::HashMap;
use std::sync::Arc;

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort, SupervisionEvent};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::consumer::{Consumer, ConsumerArgs, ConsumerType, PreferredLayers};
use crate::context::Ctx;
use crate::data_parameters::{
    DataConsumeRequest, DataConsumerCreated, DataProduceRequest, DataProducerCreated,
};
use crate::error::{ActorError, ActorResult};
use crate::media::consumer_media::ConsumerMedia;
use crate::media::plain_endpoint::{PlainConnect, PlainEndpoint};
use crate::media::producer_media::ProducerMedia;
use crate::media::transport_core::ClientExtensionIds;
use crate::media::transport_core::MediaTransport;
use crate::media::webrtc_endpoint::{tuple_json, RemoteDtlsRole, WebRtcEndpoint};
use crate::ortc::{self, ABS_SEND_TIME_URI, MID_URI, RID_URI, RRID_URI, TRANSPORT_CC_URI};
use crate::producer::{Producer, ProducerArgs, ProducerShared, ProducerType};
use crate::rtp_parameters::{MediaKind, RtpCapabilities, RtpParameters};
use crate::stats::TransportStats;
use crate::supervision::handle_child_event;
use crate::topology::{ConsumerEntry, ProducerEntry};
use troupe_transports::certificate::Fingerprint;
use troupe_transports::layer_selector::LayerIndices;
use troupe_transports::srtp_keys::{SrtpCryptoSuite, SrtpKey};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum TransportKind {
    Webrtc,
    Plain,
    Pipe,
    /// mediasoup's DirectTransport: data only, to and from the API.
    Direct,
}

impl TransportKind {
    pub fn metric_kind(&self) -> &'static str {
        match self {
            TransportKind::Webrtc => "webrtc_transport",
            TransportKind::Plain => "plain_transport",
            TransportKind::Pipe => "pipe_transport",
            TransportKind::Direct => "direct_transport",
        }
    }
    fn stats_type(&self) -> &'static str {
        match self {
            TransportKind::Webrtc => "webrtc-transport",
            TransportKind::Plain => "plain-rtp-transport",
            TransportKind::Pipe => "pipe-transport",
            TransportKind::Direct => "direct-transport",
        }
    }
}

/// `POST /v1/routers/{id}/webrtc-transports` options, as mediasoup's.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WebRtcTransportOptions {
    pub enable_udp: Option<bool>,
    pub enable_tcp: Option<bool>,
    pub prefer_udp: Option<bool>,
    pub prefer_tcp: Option<bool>,
    /// Data channels over the DTLS association (default false).
    pub enable_sctp: Option<bool>,
    /// Streams of the association (default 1024 each way).
    pub num_sctp_streams: Option<NumSctpStreams>,
    /// The largest message sent or received, bytes (default 262144).
    #[schema(minimum = 1, maximum = 16777216)]
    pub max_sctp_message_size: Option<u32>,
    /// Bytes that may wait for a slow receiver before messages to it are
    /// dropped (`sctpsendbufferfull`), default 262144.
    #[schema(minimum = 1, maximum = 67108864)]
    pub sctp_send_buffer_size: Option<u32>,
    #[serde(default = "crate::app_data::empty")]
    #[schema(value_type = Object)]
    pub app_data: serde_json::Value,
}

/// mediasoup's `numSctpStreams`.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NumSctpStreams {
    /// Outgoing streams.
    #[serde(rename = "OS")]
    #[schema(minimum = 1, maximum = 65535)]
    pub os: u16,
    /// Incoming streams allowed.
    #[serde(rename = "MIS")]
    #[schema(minimum = 1, maximum = 65535)]
    pub mis: u16,
}

/// mediasoup's `sctpParameters`, as mediasoup-client takes them.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SctpParameters {
    pub port: u16,
    #[serde(rename = "OS")]
    pub os: u16,
    #[serde(rename = "MIS")]
    pub mis: u16,
    pub max_message_size: u32,
    pub send_buffer_size: u32,
}

impl From<troupe_transports::sctp_link::SctpOptions> for SctpParameters {
    fn from(o: troupe_transports::sctp_link::SctpOptions) -> Self {
        SctpParameters {
            port: troupe_transports::sctp_link::SCTP_PORT,
            os: o.outbound_streams,
            mis: o.inbound_streams,
            max_message_size: o.max_message_size,
            send_buffer_size: o.send_buffer_size,
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct IceParameters {
    pub username_fragment: String,
    pub password: String,
    pub ice_lite: bool,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct IceCandidate {
    pub foundation: String,
    pub priority: u32,
    /// The announced address (mediasoup ≥ 3.13 reads `address`, older `ip`).
    pub address: String,
    pub ip: String,
    pub protocol: String,
    pub port: u16,
    #[serde(rename = "type")]
    pub candidate_type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tcp_type: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DtlsFingerprint {
    pub algorithm: String,
    pub value: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DtlsParameters {
    /// `auto`, `client` or `server`.
    #[serde(default = "auto_role")]
    pub role: String,
    pub fingerprints: Vec<DtlsFingerprint>,
}

fn auto_role() -> String {
    "auto".into()
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TransportCreated {
    pub id: String,
    pub ice_parameters: IceParameters,
    pub ice_candidates: Vec<IceCandidate>,
    pub dtls_parameters: DtlsParameters,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sctp_parameters: Option<SctpParameters>,
}

/// `POST /v1/routers/{id}/direct-transports`.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DirectTransportOptions {
    /// Checked and accepted as mediasoup's; direct data producers take
    /// messages up to 262144 bytes whatever it says.
    #[schema(minimum = 1, maximum = 16777216)]
    pub max_message_size: Option<u32>,
    #[serde(default = "crate::app_data::empty")]
    #[schema(value_type = Object)]
    pub app_data: serde_json::Value,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DirectTransportCreated {
    pub id: String,
}

/// The SRTP crypto suites a plain transport takes (the document's names for
/// `troupe_transports::srtp_keys::SrtpCryptoSuite`).
#[derive(ToSchema)]
#[allow(non_camel_case_types, dead_code)]
pub enum SrtpCryptoSuiteName {
    AES_CM_128_HMAC_SHA1_80,
    AES_CM_128_HMAC_SHA1_32,
    AEAD_AES_128_GCM,
    AEAD_AES_256_GCM,
}

/// `POST /v1/routers/{id}/plain-transports` options, as mediasoup's.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PlainTransportOptions {
    /// An IP address of this node (IPv4 or IPv6); the WebRTC listen IP by
    /// default. An address the node does not have is a 409.
    #[schema(format = Ipv4)]
    pub listen_ip: Option<String>,
    /// RTP and RTCP on one port (default true).
    pub rtcp_mux: Option<bool>,
    /// Learn the peer's address from its first packet (default false).
    pub comedia: Option<bool>,
    /// Share one node-wide port (per listen IP) with every other plain
    /// transport that asks, rather than take a port of its own (default
    /// false; Troupe's, not mediasoup's). A fan-out to many consumers on
    /// the shared port leaves in `sendmmsg` batches. Each transport is
    /// told apart by its peer's address, so it needs `connect` with `ip`
    /// and `port`, `rtcpMux`, and not `comedia`; two transports on the
    /// port cannot have the same peer.
    pub shared_port: Option<bool>,
    pub enable_srtp: Option<bool>,
    /// Default AES_CM_128_HMAC_SHA1_80; used only with `enableSrtp`.
    #[schema(value_type = Option<SrtpCryptoSuiteName>)]
    pub srtp_crypto_suite: Option<String>,
    /// Data channels over the transport (default false).
    pub enable_sctp: Option<bool>,
    /// Streams of the association (default 1024 each way).
    pub num_sctp_streams: Option<NumSctpStreams>,
    /// The largest message sent or received, bytes (default 262144).
    #[schema(minimum = 1, maximum = 16777216)]
    pub max_sctp_message_size: Option<u32>,
    /// Bytes that may wait for a slow receiver (default 262144).
    #[schema(minimum = 1, maximum = 67108864)]
    pub sctp_send_buffer_size: Option<u32>,
    #[serde(default = "crate::app_data::empty")]
    #[schema(value_type = Object)]
    pub app_data: serde_json::Value,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SrtpParameters {
    #[schema(value_type = SrtpCryptoSuiteName)]
    pub crypto_suite: String,
    pub key_base64: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PlainTransportCreated {
    pub id: String,
    #[schema(value_type = Object)]
    pub tuple: serde_json::Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Object)]
    pub rtcp_tuple: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub srtp_parameters: Option<SrtpParameters>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sctp_parameters: Option<SctpParameters>,
}

/// `POST /v1/routers/{id}/pipe-transports`: RTP between two routers,
/// usually on two nodes (mediasoup's PipeTransport). RTP and RTCP share one
/// port; the far end is given by `connect`.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PipeTransportOptions {
    /// An IP address of this node (IPv4 or IPv6); the WebRTC listen IP by
    /// default. An address the node does not have is a 409.
    #[schema(format = Ipv4)]
    pub listen_ip: Option<String>,
    /// SRTP on the pipe (AEAD_AES_128_GCM), default false.
    pub enable_srtp: Option<bool>,
    /// NACK and RTX across the pipe, default false.
    pub enable_rtx: Option<bool>,
    /// Data channels over the transport (default false).
    pub enable_sctp: Option<bool>,
    /// Streams of the association (default 1024 each way).
    pub num_sctp_streams: Option<NumSctpStreams>,
    /// The largest message sent or received, bytes (default 262144).
    #[schema(minimum = 1, maximum = 16777216)]
    pub max_sctp_message_size: Option<u32>,
    /// Bytes that may wait for a slow receiver (default 262144).
    #[schema(minimum = 1, maximum = 67108864)]
    pub sctp_send_buffer_size: Option<u32>,
    #[serde(default = "crate::app_data::empty")]
    #[schema(value_type = Object)]
    pub app_data: serde_json::Value,
}

impl From<PipeTransportOptions> for PlainTransportOptions {
    fn from(pipe: PipeTransportOptions) -> Self {
        let enable_srtp = pipe.enable_srtp.unwrap_or(false);
        PlainTransportOptions {
            listen_ip: pipe.listen_ip,
            rtcp_mux: Some(true),
            comedia: Some(false),
            shared_port: None,
            enable_srtp: Some(enable_srtp),
            // GCM: about half the CPU of AES-CM + HMAC (DESIGN §9), and
            // both ends are Troupe.
            srtp_crypto_suite: enable_srtp.then(|| "AEAD_AES_128_GCM".to_string()),
            enable_sctp: pipe.enable_sctp,
            num_sctp_streams: pipe.num_sctp_streams,
            max_sctp_message_size: pipe.max_sctp_message_size,
            sctp_send_buffer_size: pipe.sctp_send_buffer_size,
            app_data: pipe.app_data,
        }
    }
}

/// `POST /v1/transports/{id}/connect` for a plain transport.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PlainConnectRequest {
    pub ip: Option<String>,
    pub port: Option<u16>,
    pub rtcp_port: Option<u16>,
    pub srtp_parameters: Option<SrtpParameters>,
}

/// What `connect` carries, by transport kind.
#[derive(Debug, Clone)]
pub enum ConnectRequest {
    WebRtc(WebRtcConnectRequest),
    Plain(PlainConnectRequest),
}

/// `POST /v1/transports/{id}/connect` for a WebRTC transport.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WebRtcConnectRequest {
    pub dtls_parameters: DtlsParameters,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProduceRequest {
    /// Pipe transports only (mediasoup's pipeToRouter): the pipe producer
    /// keeps its origin producer's id.
    #[serde(default)]
    pub id: Option<String>,
    pub kind: MediaKind,
    pub rtp_parameters: RtpParameters,
    #[serde(default)]
    pub paused: bool,
    #[serde(default = "crate::app_data::empty")]
    #[schema(value_type = Object)]
    pub app_data: serde_json::Value,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProducerCreated {
    pub id: String,
    pub kind: MediaKind,
    #[serde(rename = "type")]
    pub producer_type: ProducerType,
    pub paused: bool,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConsumeRequest {
    pub producer_id: String,
    pub rtp_capabilities: RtpCapabilities,
    #[serde(default)]
    pub paused: bool,
    #[serde(default)]
    pub preferred_layers: Option<PreferredLayers>,
    /// RTX toward the consumer when its capabilities allow; default true.
    #[serde(default)]
    pub enable_rtx: Option<bool>,
    #[serde(default = "crate::app_data::empty")]
    #[schema(value_type = Object)]
    pub app_data: serde_json::Value,
    /// The MID the receiver gave this track (a WHEP offer's m-section);
    /// not in the API: mediasoup's consumers get the transport's next.
    #[serde(skip)]
    pub mid: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConsumerCreated {
    pub id: String,
    pub producer_id: String,
    pub kind: MediaKind,
    pub rtp_parameters: RtpParameters,
    #[serde(rename = "type")]
    pub consumer_type: ConsumerType,
    pub paused: bool,
    pub producer_paused: bool,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TransportDump {
    pub id: String,
    pub router_id: String,
    pub kind: TransportKind,
    pub producer_ids: Vec<String>,
    pub consumer_ids: Vec<String>,
    pub data_producer_ids: Vec<String>,
    pub data_consumer_ids: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sctp_parameters: Option<SctpParameters>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sctp_state: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ice_state: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dtls_state: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Object)]
    pub ice_selected_tuple: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ice_parameters: Option<IceParameters>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Object)]
    pub tuple: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Object)]
    pub rtcp_tuple: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comedia: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rtcp_mux: Option<bool>,
    #[schema(value_type = Object)]
    pub app_data: serde_json::Value,
}

pub enum TransportMsg {
    Connect(ConnectRequest, RpcReplyPort<ActorResult<()>>),
    RestartIce(RpcReplyPort<ActorResult<IceParameters>>),
    Produce(ProduceRequest, RpcReplyPort<ActorResult<ProducerCreated>>),
    Consume(ConsumeRequest, RpcReplyPort<ActorResult<ConsumerCreated>>),
    ProduceData(
        DataProduceRequest,
        RpcReplyPort<ActorResult<DataProducerCreated>>,
    ),
    ConsumeData(
        DataConsumeRequest,
        RpcReplyPort<ActorResult<DataConsumerCreated>>,
    ),
    Dump(RpcReplyPort<TransportDump>),
    Stats(RpcReplyPort<Vec<TransportStats>>),
    /// mediasoup's setMaxIncomingBitrate: 0 lifts the cap.
    SetMaxIncomingBitrate(u64, RpcReplyPort<()>),
    /// mediasoup's setMaxOutgoingBitrate / setMinOutgoingBitrate (0: none).
    SetOutgoingBitrateLimits {
        max: Option<u64>,
        min: Option<u64>,
        reply: RpcReplyPort<()>,
    },
    #[cfg(test)]
    Panic,
}

pub struct TransportArgs {
    pub ctx: Ctx,
    pub id: String,
    pub router_id: String,
    pub kind: TransportKind,
    pub router_capabilities: Arc<RtpCapabilities>,
    pub app_data: serde_json::Value,
    /// How this transport's packets travel.
    pub media: Arc<dyn MediaTransport>,
    /// The WebRTC specifics (ICE, DTLS), for WebRTC transports.
    pub webrtc: Option<Arc<WebRtcEndpoint>>,
    /// The plain RTP specifics (ports, comedia, SRTP keys).
    pub plain: Option<Arc<PlainEndpoint>>,
    /// Whether consumers offer RTX unless the request says otherwise:
    /// always for clients, only when asked for pipes (as mediasoup).
    pub rtx_by_default: bool,
}

pub struct TransportState {
    args: TransportArgs,
    /// RtpListener: which producer each SSRC, MID and RID of this transport
    /// belongs to.
    ssrc_owners: HashMap<u32, String>,
    mid_owners: HashMap<String, String>,
    rid_owners: HashMap<String, String>,
    next_consumer_mid: u32,
    /// One CNAME for every producer of the transport (mediasoup's rule): the
    /// first one a client gave, else a random one. Chrome sends none with
    /// rid-based simulcast, and a consumer without one makes the receiving
    /// browser reject its SDP ("Missing stream ID").
    cname_for_producers: Option<String>,
    /// Open for the transport's whole life; closed when the state drops.
    _lifetime: tracing::Span,
}

impl TransportState {
    fn owner_alive(&self, owner: &str) -> bool {
        self.args.ctx.topology.producer(owner).is_ok()
    }

    fn check_listener(&self, params: &RtpParameters) -> ActorResult<()> {
        if let Some(mid) = &params.mid {
            if let Some(owner) = self.mid_owners.get(mid).filter(|o| self.owner_alive(o)) {
                return Err(ActorError::invalid(
                    "rtpParameters.mid",
                    format!("mid {mid:?} is already used by producer {owner}"),
                ));
            }
        }
        for (i, encoding) in params.encodings.iter().enumerate() {
            let ssrcs = encoding
                .ssrc
                .into_iter()
                .chain(encoding.rtx.map(|r| r.ssrc));
            for ssrc in ssrcs {
                if let Some(owner) = self.ssrc_owners.get(&ssrc).filter(|o| self.owner_alive(o)) {
                    return Err(ActorError::invalid(
                        format!("rtpParameters.encodings[{i}].ssrc"),
                        format!("ssrc {ssrc} is already used by producer {owner}"),
                    ));
                }
            }
            if params.mid.is_none() {
                if let Some(rid) = &encoding.rid {
                    if let Some(owner) = self.rid_owners.get(rid).filter(|o| self.owner_alive(o)) {
                        return Err(ActorError::invalid(
                            format!("rtpParameters.encodings[{i}].rid"),
                            format!("rid {rid:?} is already used by producer {owner}"),
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    fn record_listener(&mut self, params: &RtpParameters, producer_id: &str) {
        if let Some(mid) = &params.mid {
            self.mid_owners.insert(mid.clone(), producer_id.to_string());
        }
        for encoding in &params.encodings {
            for ssrc in encoding
                .ssrc
                .into_iter()
                .chain(encoding.rtx.map(|r| r.ssrc))
            {
                self.ssrc_owners.insert(ssrc, producer_id.to_string());
            }
            if let Some(rid) = &encoding.rid {
                self.rid_owners.insert(rid.clone(), producer_id.to_string());
            }
        }
    }

    fn connect(&mut self, request: ConnectRequest) -> ActorResult<()> {
        match request {
            ConnectRequest::WebRtc(r) => self.connect_webrtc(r),
            ConnectRequest::Plain(r) => self.connect_plain(r),
        }
    }

    fn connect_plain(&mut self, request: PlainConnectRequest) -> ActorResult<()> {
        let Some(endpoint) = &self.args.plain else {
            return Err(ActorError::invalid(
                "dtlsParameters",
                "this is a WebRTC transport: connect it with dtlsParameters",
            ));
        };
        let ip =
            match &request.ip {
                Some(ip) => Some(ip.parse().map_err(|_| {
                    ActorError::invalid("ip", format!("{ip:?} is not an IP address"))
                })?),
                None => None,
            };
        let srtp =
            match request.srtp_parameters {
                Some(p) => {
                    let suite: SrtpCryptoSuite = p.crypto_suite.parse().map_err(
                        |e: troupe_transports::srtp_keys::SrtpKeyError| {
                            ActorError::invalid("srtpParameters.cryptoSuite", e.to_string())
                        },
                    )?;
                    Some(SrtpKey::from_base64(suite, &p.key_base64).map_err(|e| {
                        ActorError::invalid("srtpParameters.keyBase64", e.to_string())
                    })?)
                }
                None => None,
            };
        endpoint.connect(PlainConnect {
            ip,
            port: request.port,
            rtcp_port: request.rtcp_port,
            srtp,
        })?;
        let (rtp, rtcp) = endpoint.remote();
        if !endpoint.comedia {
            self.args.ctx.events.emit(
                "tuple",
                crate::topology::ObjectKind::Transport,
                &self.args.id,
                Some(&self.args.router_id),
                serde_json::json!({"tuple": endpoint.tuple_json(rtp, false)}),
            );
            if !endpoint.rtcp_mux {
                self.args.ctx.events.emit(
                    "rtcptuple",
                    crate::topology::ObjectKind::Transport,
                    &self.args.id,
                    Some(&self.args.router_id),
                    serde_json::json!({"rtcpTuple": endpoint.tuple_json(rtcp, true)}),
                );
            }
        }
        Ok(())
    }

    fn connect_webrtc(&mut self, request: WebRtcConnectRequest) -> ActorResult<()> {
        let Some(endpoint) = &self.args.webrtc else {
            return Err(ActorError::invalid(
                "ip",
                "this is a plain transport: connect it with ip and port",
            ));
        };
        let dtls = request.dtls_parameters;
        let role = match dtls.role.as_str() {
            "auto" => RemoteDtlsRole::Auto,
            "client" => RemoteDtlsRole::Client,
            "server" => RemoteDtlsRole::Server,
            other => {
                return Err(ActorError::invalid(
                    "dtlsParameters.role",
                    format!("{other:?} is not auto, client or server"),
                ))
            }
        };
        if dtls.fingerprints.is_empty() {
            return Err(ActorError::invalid(
                "dtlsParameters.fingerprints",
                "at least one fingerprint is required",
            ));
        }
        let fingerprints = dtls
            .fingerprints
            .into_iter()
            .map(|f| Fingerprint {
                algorithm: f.algorithm,
                value: f.value,
            })
            .collect();
        endpoint.connect(role, fingerprints)?;
        Ok(())
    }

    async fn produce(
        &mut self,
        myself: &ActorRef<TransportMsg>,
        mut request: ProduceRequest,
    ) -> ActorResult<ProducerCreated> {
        self.refuse_rtp_on_direct()?;
        if request.id.is_some() && self.args.kind != TransportKind::Pipe {
            // The request is well formed; it asks what only a pipe
            // transport does, so it conflicts with this transport's kind.
            return Err(ActorError::WrongState(format!(
                "id: only a producer on a pipe transport takes its origin's id, and this is a {}",
                self.args.kind.metric_kind().replace('_', " ")
            )));
        }
        ortc::validate_rtp_parameters(&request.rtp_parameters, request.kind)?;
        let given_cname = request
            .rtp_parameters
            .rtcp
            .cname
            .clone()
            .filter(|c| !c.is_empty());
        let cname = self
            .cname_for_producers
            .get_or_insert_with(|| {
                given_cname.unwrap_or_else(|| format!("{:016x}", rand::random::<u64>()))
            })
            .clone();
        request.rtp_parameters.rtcp.cname = Some(cname);
        let params = &request.rtp_parameters;
        let caps = &self.args.router_capabilities;
        let rtp_mapping = ortc::get_producer_rtp_parameters_mapping(params, caps)?;
        self.check_listener(params)?;
        let consumable_rtp_parameters =
            ortc::get_consumable_rtp_parameters(request.kind, params, caps, &rtp_mapping);
        let id = request.id.clone().unwrap_or_else(|| self.args.ctx.new_id());
        let producer_type = ProducerType::of(params);
        let shared = Arc::new(ProducerShared {
            id: id.clone(),
            kind: request.kind,
            producer_type,
            rtp_parameters: params.clone(),
            consumable_rtp_parameters,
            rtp_mapping,
            counters: params
                .encodings
                .iter()
                .map(|_| Default::default())
                .collect(),
        });
        let ctx = self.args.ctx.clone();
        let extension_ids = ortc::map_header_extension_ids(params, caps, request.kind);
        let media = ProducerMedia::new(
            shared.clone(),
            Some(Arc::downgrade(&self.args.media)),
            &extension_ids,
            ctx.metrics.clone(),
            request.paused,
        );
        let (actor, _) = Actor::spawn_linked(
            None,
            Producer,
            ProducerArgs {
                ctx: ctx.clone(),
                shared: shared.clone(),
                media: media.clone(),
                transport_id: self.args.id.clone(),
                paused: request.paused,
                app_data: request.app_data,
            },
            myself.get_cell(),
        )
        .await
        .map_err(|e| ActorError::Internal(format!("cannot start producer: {e}")))?;
        let entry = ProducerEntry {
            router_id: self.args.router_id.clone(),
            transport_id: self.args.id.clone(),
            actor: actor.clone(),
            shared,
            media: media.clone(),
            paused: request.paused,
            consumers: Default::default(),
        };
        if let Err(e) = ctx.topology.insert_producer(&id, entry) {
            actor.stop(None);
            return Err(e);
        }
        let client_id = |uri: &str| {
            params
                .header_extensions
                .iter()
                .find(|e| e.uri == uri)
                .map(|e| e.id)
        };
        self.args.media.will_receive_media();
        self.args.media.core().add_producer(
            &media,
            ClientExtensionIds {
                mid: client_id(MID_URI),
                rid: client_id(RID_URI),
                rrid: client_id(RRID_URI),
                transport_cc: client_id(TRANSPORT_CC_URI),
                abs_send_time: client_id(ABS_SEND_TIME_URI),
            },
        );
        ctx.metrics.object_opened("producer");
        self.record_listener(params, &id);
        ctx.events.emit(
            "newproducer",
            crate::topology::ObjectKind::Router,
            &self.args.router_id,
            Some(&self.args.router_id),
            serde_json::json!({"producerId": id, "kind": request.kind, "transportId": self.args.id}),
        );
        Ok(ProducerCreated {
            id,
            kind: request.kind,
            producer_type,
            paused: request.paused,
        })
    }

    async fn consume(
        &mut self,
        myself: &ActorRef<TransportMsg>,
        request: ConsumeRequest,
    ) -> ActorResult<ConsumerCreated> {
        self.refuse_rtp_on_direct()?;
        let ctx = self.args.ctx.clone();
        let producer = ctx.topology.producer(&request.producer_id)?;
        if producer.router_id != self.args.router_id {
            return Err(ActorError::invalid(
                "producerId",
                format!("producer {} is in another router", request.producer_id),
            ));
        }
        let consumable = &producer.shared.consumable_rtp_parameters;
        // A pipe's far end is a router with the same codecs: it can take
        // whatever this router can send.
        let capabilities = match self.args.kind {
            TransportKind::Pipe => &self.args.router_capabilities,
            _ => &request.rtp_capabilities,
        };
        if !ortc::can_consume(consumable, capabilities) {
            return Err(ActorError::invalid(
                "rtpCapabilities",
                format!(
                    "cannot consume producer {}: no codec in common",
                    request.producer_id
                ),
            ));
        }
        let enable_rtx = request.enable_rtx.unwrap_or(self.args.rtx_by_default);
        let mut rtp_parameters =
            ortc::get_consumer_rtp_parameters(consumable, capabilities, enable_rtx)?;
        let consumer_type = match self.args.kind {
            TransportKind::Pipe => ConsumerType::Pipe,
            _ => producer.shared.producer_type.into(),
        };
        if let Some(mid) = &request.mid {
            rtp_parameters.mid = Some(mid.clone());
        } else if self.args.kind == TransportKind::Webrtc {
            rtp_parameters.mid = Some(self.next_consumer_mid.to_string());
            self.next_consumer_mid = self.next_consumer_mid.wrapping_add(1);
        }
        let target_layers = match consumer_type {
            ConsumerType::Simulcast | ConsumerType::Svc => {
                let available = producer.shared.layers();
                let preferred = request.preferred_layers;
                Some(LayerIndices {
                    spatial: preferred
                        .map_or(u8::MAX, |p| p.spatial_layer)
                        .min(available.spatial.saturating_sub(1)),
                    temporal: preferred
                        .and_then(|p| p.temporal_layer)
                        .unwrap_or(u8::MAX)
                        .min(available.temporal.saturating_sub(1)),
                })
            }
            _ => None,
        };
        let id = self.args.ctx.new_id();
        let media = ConsumerMedia::new(
            &id,
            &rtp_parameters,
            producer.shared.kind,
            &producer.media,
            Arc::downgrade(&self.args.media),
            request.paused,
            producer.paused,
            target_layers,
        );
        let (actor, _) = Actor::spawn_linked(
            None,
            Consumer,
            ConsumerArgs {
                ctx: ctx.clone(),
                id: id.clone(),
                router_id: self.args.router_id.clone(),
                transport_id: self.args.id.clone(),
                producer: producer.shared.clone(),
                producer_actor: producer.actor.clone(),
                media: media.clone(),
                consumer_type,
                rtp_parameters: rtp_parameters.clone(),
                paused: request.paused,
                producer_paused: producer.paused,
                preferred_layers: request.preferred_layers,
                app_data: request.app_data,
            },
            myself.get_cell(),
        )
        .await
        .map_err(|e| ActorError::Internal(format!("cannot start consumer: {e}")))?;
        let entry = ConsumerEntry {
            router_id: self.args.router_id.clone(),
            transport_id: self.args.id.clone(),
            producer_id: request.producer_id.clone(),
            actor: actor.clone(),
            media: media.clone(),
        };
        if let Err(e) = ctx.topology.insert_consumer(&id, entry) {
            actor.stop(None);
            return Err(e);
        }
        producer.media.add_consumer(media.clone());
        self.args.media.core().add_consumer(&media);
        ctx.metrics.object_opened("consumer");
        Ok(ConsumerCreated {
            id,
            producer_id: request.producer_id,
            kind: producer.shared.kind,
            rtp_parameters,
            consumer_type,
            paused: request.paused,
            producer_paused: producer.paused,
        })
    }
}

mod data_channels;

pub struct Transport;

impl Actor for Transport {
    type Msg = TransportMsg;
    type State = TransportState;
    type Arguments = TransportArgs;

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        args: TransportArgs,
    ) -> Result<TransportState, ActorProcessingErr> {
        let lifetime = tracing::info_span!("transport", transport.id = %args.id, router.id = %args.router_id, kind = args.kind.metric_kind());
        tracing::info!(parent: &lifetime, "transport started");
        Ok(TransportState {
            _lifetime: lifetime,
            args,
            ssrc_owners: HashMap::new(),
            mid_owners: HashMap::new(),
            rid_owners: HashMap::new(),
            next_consumer_mid: 0,
            cname_for_producers: None,
        })
    }

    async fn post_stop(
        &self,
        _myself: ActorRef<Self::Msg>,
        state: &mut TransportState,
    ) -> Result<(), ActorProcessingErr> {
        tracing::info!(transport_id = %state.args.id, "transport stopped");
        Ok(())
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        message: TransportMsg,
        state: &mut TransportState,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            TransportMsg::Connect(request, reply) => {
                let _ = reply.send(state.connect(request));
            }
            TransportMsg::RestartIce(reply) => {
                let result = match &state.args.webrtc {
                    Some(endpoint) => {
                        let credentials = endpoint.restart_ice();
                        Ok(IceParameters {
                            username_fragment: credentials.ufrag,
                            password: credentials.pwd,
                            ice_lite: true,
                        })
                    }
                    None => Err(ActorError::WrongState("this transport has no ICE".into())),
                };
                let _ = reply.send(result);
            }
            TransportMsg::Produce(request, reply) => {
                let _ = reply.send(state.produce(&myself, request).await);
            }
            TransportMsg::Consume(request, reply) => {
                let _ = reply.send(state.consume(&myself, request).await);
            }
            TransportMsg::ProduceData(request, reply) => {
                let _ = reply.send(state.produce_data(&myself, request).await);
            }
            TransportMsg::ConsumeData(request, reply) => {
                let _ = reply.send(state.consume_data(&myself, request).await);
            }
            TransportMsg::Dump(reply) => {
                let a = &state.args;
                let (producer_ids, consumer_ids) = a.ctx.topology.transport_contents(&a.id);
                let (data_producer_ids, data_consumer_ids) =
                    a.ctx.topology.transport_data_contents(&a.id);
                let info = a.webrtc.as_ref().map(|e| e.info());
                let sctp_parameters = a
                    .webrtc
                    .as_ref()
                    .and_then(|e| e.sctp_options())
                    .or_else(|| a.plain.as_ref().and_then(|p| p.sctp_options))
                    .map(SctpParameters::from);
                let plain_sctp_state = a.plain.as_ref().and_then(|p| p.sctp_state());
                let server = a.ctx.webrtc.as_ref();
                let _ = reply.send(TransportDump {
                    id: a.id.clone(),
                    router_id: a.router_id.clone(),
                    kind: a.kind,
                    producer_ids,
                    consumer_ids,
                    data_producer_ids,
                    data_consumer_ids,
                    sctp_parameters,
                    sctp_state: info
                        .as_ref()
                        .and_then(|i| i.sctp_state)
                        .or(plain_sctp_state)
                        .map(|s| s.as_str().to_string()),
                    ice_state: info.as_ref().map(|i| i.ice_state.as_str().to_string()),
                    dtls_state: info.as_ref().map(|i| i.dtls_state.as_str().to_string()),
                    ice_selected_tuple: info.as_ref().and_then(|i| {
                        let server = server?;
                        i.selected_tuple
                            .map(|t| tuple_json(&t, server.local_port, &server.announced_address))
                    }),
                    ice_parameters: info.map(|i| IceParameters {
                        username_fragment: i.ice.ufrag,
                        password: i.ice.pwd,
                        ice_lite: true,
                    }),
                    tuple: a.plain.as_ref().map(|p| p.tuple_json(p.remote().0, false)),
                    rtcp_tuple: a
                        .plain
                        .as_ref()
                        .filter(|p| !p.rtcp_mux)
                        .map(|p| p.tuple_json(p.remote().1, true)),
                    comedia: a.plain.as_ref().map(|p| p.comedia),
                    rtcp_mux: a.plain.as_ref().map(|p| p.rtcp_mux),
                    app_data: a.app_data.clone(),
                });
            }
            TransportMsg::Stats(reply) => {
                let a = &state.args;
                let core = a.media.core();
                let mut stats =
                    TransportStats::from_counters(a.kind.stats_type(), &a.id, &core.counters);
                stats.available_incoming_bitrate = core.available_incoming_bitrate();
                stats.max_incoming_bitrate = core.max_incoming_bitrate();
                stats.available_outgoing_bitrate = core.available_outgoing_bitrate();
                let (max_outgoing, min_outgoing) = core.outgoing_bitrate_limits();
                stats.max_outgoing_bitrate = (max_outgoing > 0).then_some(max_outgoing);
                stats.min_outgoing_bitrate = (min_outgoing > 0).then_some(min_outgoing);
                let _ = reply.send(vec![stats]);
            }
            TransportMsg::SetOutgoingBitrateLimits { max, min, reply } => {
                state
                    .args
                    .media
                    .core()
                    .set_outgoing_bitrate_limits(max, min);
                let _ = reply.send(());
            }
            TransportMsg::SetMaxIncomingBitrate(bitrate, reply) => {
                state
                    .args
                    .media
                    .core()
                    .set_max_incoming_bitrate(Some(bitrate));
                let _ = reply.send(());
            }
            #[cfg(test)]
            TransportMsg::Panic => panic!("injected transport fault"),
        }
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        _myself: ActorRef<Self::Msg>,
        event: SupervisionEvent,
        state: &mut TransportState,
    ) -> Result<(), ActorProcessingErr> {
        handle_child_event(&state.args.ctx, &event);
        Ok(())
    }
}
