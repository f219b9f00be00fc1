//! Router: a room's media hub. It holds the room's RTP capabilities and
//! supervises the room's transports.

use std::collections::BTreeMap;
use std::sync::Arc;

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort, SupervisionEvent};
use serde::Serialize;
use utoipa::ToSchema;

use crate::context::Ctx;
use crate::error::{ActorError, ActorResult};
use crate::media::direct_endpoint::DirectEndpoint;
use crate::media::plain_endpoint::{PlainEndpoint, PlainOptions, PlainPorts};
use crate::media::port_group::first_of_group;
use crate::media::transport_core::MediaTransport;
use crate::media::webrtc_endpoint::WebRtcEndpoint;
use crate::media::webrtc_server::WebRtcServer;
use crate::media_link::media_context;
use crate::rtp_parameters::RtpCapabilities;
use crate::supervision::handle_child_event;
use crate::topology::TransportEntry;
use crate::transport::{DirectTransportCreated, DirectTransportOptions, SctpParameters};
use crate::transport::{
    DtlsFingerprint, DtlsParameters, IceCandidate, IceParameters, PipeTransportOptions,
    PlainTransportCreated, PlainTransportOptions, SrtpParameters, Transport, TransportArgs,
    TransportCreated, TransportKind, WebRtcTransportOptions,
};
use troupe_transports::sctp_link::SctpOptions;

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RouterDump {
    pub id: String,
    pub transport_ids: Vec<String>,
    pub map_producer_id_consumer_ids: BTreeMap<String, Vec<String>>,
    pub map_data_producer_id_data_consumer_ids: BTreeMap<String, Vec<String>>,
    pub rtp_observer_ids: Vec<String>,
    pub rtp_capabilities: RtpCapabilities,
    #[schema(value_type = Object)]
    pub app_data: serde_json::Value,
}

pub enum RouterMsg {
    CreateWebRtcTransport {
        options: WebRtcTransportOptions,
        reply: RpcReplyPort<ActorResult<TransportCreated>>,
    },
    CreatePlainTransport {
        options: PlainTransportOptions,
        reply: RpcReplyPort<ActorResult<PlainTransportCreated>>,
    },
    CreatePipeTransport {
        options: PipeTransportOptions,
        reply: RpcReplyPort<ActorResult<PlainTransportCreated>>,
    },
    CreateDirectTransport {
        options: DirectTransportOptions,
        reply: RpcReplyPort<ActorResult<DirectTransportCreated>>,
    },
    Dump(RpcReplyPort<RouterDump>),
    #[cfg(test)]
    Panic,
}

pub struct RouterArgs {
    pub ctx: Ctx,
    pub id: String,
    pub rtp_capabilities: Arc<RtpCapabilities>,
    pub app_data: serde_json::Value,
}

pub struct RouterState {
    args: RouterArgs,
    /// Open for the router's whole life; closed when the state drops.
    _lifetime: tracing::Span,
}

pub struct Router;

impl Actor for Router {
    type Msg = RouterMsg;
    type State = RouterState;
    type Arguments = RouterArgs;

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        args: RouterArgs,
    ) -> Result<RouterState, ActorProcessingErr> {
        let lifetime = tracing::info_span!("router", router.id = %args.id);
        tracing::info!(parent: &lifetime, "router started");
        Ok(RouterState {
            args,
            _lifetime: lifetime,
        })
    }

    async fn post_stop(
        &self,
        _myself: ActorRef<Self::Msg>,
        state: &mut RouterState,
    ) -> Result<(), ActorProcessingErr> {
        tracing::info!(router_id = %state.args.id, "router stopped");
        Ok(())
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        message: RouterMsg,
        state: &mut RouterState,
    ) -> Result<(), ActorProcessingErr> {
        let state = &mut state.args;
        match message {
            RouterMsg::CreateWebRtcTransport { options, reply } => {
                let _ = reply.send(create_webrtc_transport(&myself, state, options).await);
            }
            RouterMsg::CreatePlainTransport { options, reply } => {
                let created =
                    create_plain_transport(&myself, state, options, TransportKind::Plain, true)
                        .await;
                let _ = reply.send(created);
            }
            RouterMsg::CreatePipeTransport { options, reply } => {
                let rtx = options.enable_rtx.unwrap_or(false);
                let created = create_plain_transport(
                    &myself,
                    state,
                    options.into(),
                    TransportKind::Pipe,
                    rtx,
                )
                .await;
                let _ = reply.send(created);
            }
            RouterMsg::CreateDirectTransport { options, reply } => {
                let _ = reply.send(create_direct_transport(&myself, state, options).await);
            }
            RouterMsg::Dump(reply) => {
                let (transport_ids, producers) = state.ctx.topology.router_contents(&state.id);
                let (data_producers, rtp_observer_ids) =
                    state.ctx.topology.router_data_contents(&state.id);
                let _ = reply.send(RouterDump {
                    id: state.id.clone(),
                    transport_ids,
                    map_producer_id_consumer_ids: producers.into_iter().collect(),
                    map_data_producer_id_data_consumer_ids: data_producers.into_iter().collect(),
                    rtp_observer_ids,
                    rtp_capabilities: (*state.rtp_capabilities).clone(),
                    app_data: state.app_data.clone(),
                });
            }
            #[cfg(test)]
            RouterMsg::Panic => panic!("injected router fault"),
        }
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        _myself: ActorRef<Self::Msg>,
        event: SupervisionEvent,
        state: &mut RouterState,
    ) -> Result<(), ActorProcessingErr> {
        handle_child_event(&state.args.ctx, &event);
        Ok(())
    }
}

/// mediasoup's candidate priority: host type preference (64), a local
/// preference per protocol, component 1.
fn candidate_priority(local_preference: u32) -> u32 {
    (1 << 24) * 64 + (1 << 8) * local_preference + (256 - 1)
}

fn candidates(server: &WebRtcServer, options: &WebRtcTransportOptions) -> Vec<IceCandidate> {
    let enable_udp = options.enable_udp.unwrap_or(true);
    let enable_tcp = options.enable_tcp.unwrap_or(true);
    let tcp_first = options.prefer_tcp.unwrap_or(false) && !options.prefer_udp.unwrap_or(false);
    let (udp_pref, tcp_pref) = if tcp_first {
        (65534, 65535)
    } else {
        (65535, 65534)
    };
    let candidate = |protocol: &str, preference: u32| IceCandidate {
        foundation: format!("{protocol}candidate"),
        priority: candidate_priority(preference),
        address: server.announced_address.clone(),
        ip: server.announced_address.clone(),
        protocol: protocol.to_string(),
        port: server.local_port,
        candidate_type: "host".into(),
        tcp_type: (protocol == "tcp").then(|| "passive".to_string()),
    };
    let mut out = Vec::new();
    if enable_udp {
        out.push(candidate("udp", udp_pref));
    }
    if enable_tcp {
        out.push(candidate("tcp", tcp_pref));
    }
    out.sort_by_key(|c| std::cmp::Reverse(c.priority));
    out
}

async fn create_webrtc_transport(
    myself: &ActorRef<RouterMsg>,
    state: &RouterArgs,
    options: WebRtcTransportOptions,
) -> ActorResult<TransportCreated> {
    if options.enable_udp == Some(false) && options.enable_tcp == Some(false) {
        return Err(ActorError::invalid(
            "enableUdp",
            "at least one of enableUdp and enableTcp must be true",
        ));
    }
    let sctp = sctp_options(SctpSettings {
        enable: options.enable_sctp,
        streams: options.num_sctp_streams,
        max_message_size: options.max_sctp_message_size,
        send_buffer_size: options.sctp_send_buffer_size,
    })?;
    let server = state
        .ctx
        .webrtc
        .clone()
        .ok_or_else(|| ActorError::NotImplemented("this node has no WebRTC port".into()))?;
    let id = state.ctx.new_id();
    let endpoint = WebRtcEndpoint::new(media_context(&state.ctx), &server, &id, &state.id, sctp);
    let info = endpoint.info();
    spawn_transport(
        myself,
        state,
        &id,
        &options.app_data,
        TransportParts {
            media: endpoint.clone(),
            webrtc: Some(endpoint.clone()),
            plain: None,
            kind: TransportKind::Webrtc,
            rtx_by_default: true,
        },
    )
    .await?;
    Ok(TransportCreated {
        id,
        ice_parameters: IceParameters {
            username_fragment: info.ice.ufrag,
            password: info.ice.pwd,
            ice_lite: true,
        },
        ice_candidates: candidates(&server, &options),
        dtls_parameters: DtlsParameters {
            role: "auto".into(),
            fingerprints: server
                .certificate
                .fingerprints
                .iter()
                .map(|f| DtlsFingerprint {
                    algorithm: f.algorithm.clone(),
                    value: f.value.clone(),
                })
                .collect(),
        },
        sctp_parameters: sctp.map(SctpParameters::from),
    })
}

/// The SCTP fields every transport kind's options have.
struct SctpSettings {
    enable: Option<bool>,
    streams: Option<crate::transport::NumSctpStreams>,
    max_message_size: Option<u32>,
    send_buffer_size: Option<u32>,
}

/// `enableSctp` and its settings, checked; mediasoup's defaults.
fn sctp_options(options: SctpSettings) -> ActorResult<Option<SctpOptions>> {
    let defaults = SctpOptions::default();
    let streams = options.streams;
    let sctp = SctpOptions {
        outbound_streams: streams.map_or(defaults.outbound_streams, |s| s.os),
        inbound_streams: streams.map_or(defaults.inbound_streams, |s| s.mis),
        max_message_size: options
            .max_message_size
            .unwrap_or(defaults.max_message_size),
        send_buffer_size: options
            .send_buffer_size
            .unwrap_or(defaults.send_buffer_size),
    };
    if sctp.outbound_streams == 0 || sctp.inbound_streams == 0 {
        return Err(ActorError::invalid(
            "numSctpStreams",
            "OS and MIS must be 1 to 65535",
        ));
    }
    if !(1..=MAX_SCTP_MESSAGE_SIZE).contains(&sctp.max_message_size) {
        return Err(ActorError::invalid(
            "maxSctpMessageSize",
            format!("must be 1 to {MAX_SCTP_MESSAGE_SIZE}"),
        ));
    }
    if !(1..=MAX_SCTP_SEND_BUFFER).contains(&sctp.send_buffer_size) {
        return Err(ActorError::invalid(
            "sctpSendBufferSize",
            format!("must be 1 to {MAX_SCTP_SEND_BUFFER}"),
        ));
    }
    // As mediasoup: without enableSctp the (valid) settings mean nothing.
    Ok((options.enable == Some(true)).then_some(sctp))
}

/// Bounds on what one transport may hold for SCTP: a message, and what
/// waits for a slow receiver.
const MAX_SCTP_MESSAGE_SIZE: u32 = 16 * 1024 * 1024;
const MAX_SCTP_SEND_BUFFER: u32 = 64 * 1024 * 1024;

async fn create_direct_transport(
    myself: &ActorRef<RouterMsg>,
    state: &RouterArgs,
    options: DirectTransportOptions,
) -> ActorResult<DirectTransportCreated> {
    let id = state.ctx.new_id();
    let endpoint = Arc::new(DirectEndpoint::new(
        media_context(&state.ctx),
        &id,
        &state.id,
    ));
    spawn_transport(
        myself,
        state,
        &id,
        &options.app_data,
        TransportParts {
            media: endpoint,
            webrtc: None,
            plain: None,
            kind: TransportKind::Direct,
            rtx_by_default: false,
        },
    )
    .await?;
    Ok(DirectTransportCreated { id })
}

async fn create_plain_transport(
    myself: &ActorRef<RouterMsg>,
    state: &RouterArgs,
    options: PlainTransportOptions,
    kind: TransportKind,
    rtx_by_default: bool,
) -> ActorResult<PlainTransportCreated> {
    let (media, ports) = state
        .ctx
        .media
        .clone()
        .ok_or_else(|| ActorError::NotImplemented("this node has no media ports".into()))?;
    let listen_ip: std::net::IpAddr = match &options.listen_ip {
        Some(ip) => ip
            .parse()
            .map_err(|_| ActorError::invalid("listenIp", format!("{ip:?} is not an IP address")))?,
        None => media.listen_ip,
    };
    // The configured announced address stands for the configured listen IP
    // (and for "any"); another listen IP announces itself.
    let announced_address = if listen_ip == media.listen_ip || listen_ip.is_unspecified() {
        media.announced_address.clone()
    } else {
        listen_ip.to_string()
    };
    let suite = options
        .srtp_crypto_suite
        .as_deref()
        .map(|name| {
            name.parse::<troupe_transports::srtp_keys::SrtpCryptoSuite>()
                .map_err(|e| ActorError::invalid("srtpCryptoSuite", e.to_string()))
        })
        .transpose()?;
    // As mediasoup: without enableSrtp the suite means nothing.
    let srtp = options.enable_srtp.unwrap_or(false).then(|| {
        suite.unwrap_or(troupe_transports::srtp_keys::SrtpCryptoSuite::AesCm128HmacSha1_80)
    });
    let rtcp_mux = options.rtcp_mux.unwrap_or(true);
    let comedia = options.comedia.unwrap_or(false);
    let shared_port = options.shared_port.unwrap_or(false);
    if shared_port && comedia {
        return Err(ActorError::invalid(
            "sharedPort",
            "a transport on the shared port is known by the peer address given in connect, so not with comedia",
        ));
    }
    if shared_port && !rtcp_mux {
        return Err(ActorError::invalid(
            "sharedPort",
            "the shared port is one port: RTCP on it needs rtcpMux",
        ));
    }
    let sctp = sctp_options(SctpSettings {
        enable: options.enable_sctp,
        streams: options.num_sctp_streams,
        max_message_size: options.max_sctp_message_size,
        send_buffer_size: options.sctp_send_buffer_size,
    })?;
    let port_error = |e: std::io::Error| match e.kind() {
        std::io::ErrorKind::AddrNotAvailable => ActorError::WrongState(format!(
            "listenIp {listen_ip} is not an address of this node"
        )),
        _ => ActorError::Unavailable(format!("cannot open a port: {e}")),
    };
    let plain_ports = if shared_port {
        PlainPorts::Shared(
            state
                .ctx
                .shared_plain_ports
                .get_or_open(listen_ip, &ports, &state.ctx.metrics)
                .map_err(port_error)?,
        )
    } else {
        PlainPorts::Own {
            // Reusable: the endpoint sends from a second socket on it.
            rtp: ports
                .allocate_with(listen_ip, first_of_group)
                .map_err(port_error)?,
            rtcp: if rtcp_mux {
                None
            } else {
                Some(ports.allocate(listen_ip).map_err(port_error)?)
            },
        }
    };
    let id = state.ctx.new_id();
    let endpoint = PlainEndpoint::new(
        media_context(&state.ctx),
        &id,
        &state.id,
        PlainOptions {
            listen_ip,
            announced_address,
            rtcp_mux,
            comedia,
            srtp,
            sctp,
        },
        plain_ports,
    )
    .map_err(|e| ActorError::Internal(format!("cannot start the plain transport: {e}")))?;
    spawn_transport(
        myself,
        state,
        &id,
        &options.app_data,
        TransportParts {
            media: endpoint.clone(),
            webrtc: None,
            plain: Some(endpoint.clone()),
            kind,
            rtx_by_default,
        },
    )
    .await?;
    Ok(PlainTransportCreated {
        id,
        tuple: endpoint.tuple_json(None, false),
        rtcp_tuple: (!rtcp_mux).then(|| endpoint.tuple_json(None, true)),
        srtp_parameters: endpoint.local_key.as_ref().map(|k| SrtpParameters {
            crypto_suite: k.suite.name().to_string(),
            key_base64: k.to_base64(),
        }),
        sctp_parameters: sctp.map(SctpParameters::from),
    })
}

/// The packet side of a transport about to be spawned.
struct TransportParts {
    media: std::sync::Arc<dyn MediaTransport>,
    webrtc: Option<std::sync::Arc<WebRtcEndpoint>>,
    plain: Option<std::sync::Arc<PlainEndpoint>>,
    kind: TransportKind,
    rtx_by_default: bool,
}

/// Spawns the transport actor for an endpoint already made and records it;
/// if that fails the endpoint is closed, so nothing is left open.
async fn spawn_transport(
    myself: &ActorRef<RouterMsg>,
    state: &RouterArgs,
    id: &str,
    app_data: &serde_json::Value,
    parts: TransportParts,
) -> ActorResult<()> {
    let kind = parts.kind;
    let close_media = |parts: &TransportParts| match (&parts.webrtc, &parts.plain) {
        (Some(e), _) => crate::media::MediaHandle::close(e.as_ref()),
        (None, Some(p)) => crate::media::MediaHandle::close(p.as_ref()),
        (None, None) => {}
    };
    let app_data = if app_data.is_null() {
        serde_json::json!({})
    } else {
        app_data.clone()
    };
    let spawned = Actor::spawn_linked(
        None,
        Transport,
        TransportArgs {
            ctx: state.ctx.clone(),
            id: id.to_string(),
            router_id: state.id.clone(),
            kind,
            router_capabilities: state.rtp_capabilities.clone(),
            app_data,
            media: parts.media.clone(),
            webrtc: parts.webrtc.clone(),
            plain: parts.plain.clone(),
            rtx_by_default: parts.rtx_by_default,
        },
        myself.get_cell(),
    )
    .await;
    let actor = match spawned {
        Ok((actor, _)) => actor,
        Err(e) => {
            close_media(&parts);
            return Err(ActorError::Internal(format!("cannot start transport: {e}")));
        }
    };
    let entry = TransportEntry {
        router_id: state.id.clone(),
        kind,
        actor: actor.clone(),
        endpoint: parts.webrtc.clone(),
        media: parts.plain.clone(),
    };
    if let Err(e) = state.ctx.topology.insert_transport(id, entry) {
        close_media(&parts);
        actor.stop(None);
        return Err(e);
    }
    state.ctx.metrics.object_opened(kind.metric_kind());
    Ok(())
}
