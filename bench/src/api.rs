//! The room the benchmark builds through Troupe's HTTP API.

use std::net::UdpSocket;

use serde_json::{json, Value};
use troupe_transports::certificate::{DtlsCertificate, Fingerprint};
use troupe_transports::dtls_session::SrtpContexts;
use troupe_transports::srtp_keys::{Context, SrtpCryptoSuite, SrtpKey};

use crate::feedback::SinkFeedback;
use crate::webrtc_client::{dtls_parameters, handshake, Peer};

/// The sender's id for the transport-wide sequence number extension
/// (`--webrtc` runs), as Chrome numbers it.
pub const TRANSPORT_CC_EXTENSION_ID: u8 = 5;
const TRANSPORT_CC_URI: &str =
    "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01";

pub struct Api {
    base: String,
    agent: ureq::Agent,
}

pub struct Room {
    pub producer_port: u16,
    pub payload_type: u8,
    pub sink_sockets: Vec<UdpSocket>,
    /// With SRTP: what the sender protects with, and what each sink
    /// unprotects with (from Troupe's key for that consumer's transport, or
    /// from the DTLS handshake of a WebRTC consumer).
    pub sender_key: Option<SrtpKey>,
    pub sink_contexts: Vec<Option<Context>>,
    /// What each WebRTC consumer's far end sends back (transport-cc).
    pub sink_feedback: Vec<Option<SinkFeedback>>,
    pub webrtc_transport_ids: Vec<String>,
}

/// One WebRTC consumer's far end.
struct WebRtcConsumer {
    socket: UdpSocket,
    unprotect: Context,
    feedback: Option<SinkFeedback>,
    transport_id: String,
}

const SUITE: SrtpCryptoSuite = SrtpCryptoSuite::AeadAes128Gcm;

fn srtp_parameters(key: &SrtpKey) -> Value {
    json!({"cryptoSuite": SUITE.name(), "keyBase64": key.to_base64()})
}

fn troupe_key(transport: &Value) -> Result<SrtpKey, String> {
    let key = transport["srtpParameters"]["keyBase64"]
        .as_str()
        .ok_or("no srtpParameters")?;
    SrtpKey::from_base64(SUITE, key).map_err(|e| e.to_string())
}

/// The SSRC the load generator sends with.
pub const SSRC: u32 = 0x00be_0001;

/// `count` consumers' far ends, on ports of the OS's choosing.
pub fn sink_sockets(count: usize) -> Result<Vec<UdpSocket>, String> {
    (0..count)
        .map(|_| UdpSocket::bind("127.0.0.1:0").map_err(|e| e.to_string()))
        .collect()
}

impl Api {
    pub fn new(base: &str) -> Api {
        Api {
            base: base.to_string(),
            agent: ureq::Agent::config_builder()
                .http_status_as_error(false)
                .build()
                .into(),
        }
    }

    fn get(&self, path: &str) -> Result<Value, String> {
        let mut response = self
            .agent
            .get(&format!("{}{path}", self.base))
            .call()
            .map_err(|e| format!("GET {path}: {e}"))?;
        let text = response.body_mut().read_to_string().unwrap_or_default();
        if !response.status().is_success() {
            return Err(format!("GET {path}: {} {text}", response.status()));
        }
        serde_json::from_str(&text).map_err(|e| e.to_string())
    }

    fn post(&self, path: &str, body: Value) -> Result<Value, String> {
        let mut response = self
            .agent
            .post(&format!("{}{path}", self.base))
            .header("Content-Type", "application/json")
            .send(body.to_string())
            .map_err(|e| format!("POST {path}: {e}"))?;
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string().unwrap_or_default();
        if !(200..300).contains(&status) {
            return Err(format!("POST {path}: {status} {text}"));
        }
        Ok(if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).map_err(|e| e.to_string())?
        })
    }

    /// A router, a producer on a comedia plain transport, and `consumers`
    /// plain consumers each connected to its own sink socket (on their own
    /// ports, or all on the node's shared plain port).
    pub fn room(&self, config: &crate::BenchConfig) -> Result<Room, String> {
        let crate::BenchConfig {
            consumers,
            srtp,
            webrtc,
            shared_port,
            rtx,
            ..
        } = *config;
        let transport_options = |extra: Value| {
            let mut options = extra;
            if srtp {
                options["enableSrtp"] = json!(true);
                options["srtpCryptoSuite"] = json!(SUITE.name());
            }
            options
        };
        let router = self.post("/v1/routers", json!({}))?;
        let router_id = router["id"].as_str().ok_or("no router id")?;
        let payload_type = router["rtpCapabilities"]["codecs"]
            .as_array()
            .and_then(|c| c.iter().find(|c| c["mimeType"] == "video/VP8"))
            .and_then(|c| c["preferredPayloadType"].as_u64())
            .ok_or("no VP8 in the router")? as u8;
        let ingest = self.post(
            &format!("/v1/routers/{router_id}/plain-transports"),
            transport_options(json!({"comedia": true})),
        )?;
        let ingest_id = ingest["id"].as_str().ok_or("no transport id")?;
        let sender_key = srtp.then(|| SrtpKey::generate(SUITE));
        if let Some(key) = &sender_key {
            self.post(
                &format!("/v1/transports/{ingest_id}/connect"),
                json!({"srtpParameters": srtp_parameters(key)}),
            )?;
        }
        let mut rtp_parameters = json!({
            "codecs": [{"mimeType": "video/VP8", "payloadType": payload_type, "clockRate": 90000,
                        "rtcpFeedback": [{"type": "nack", "parameter": "pli"}]}],
            "encodings": [{"ssrc": SSRC}]
        });
        if webrtc {
            rtp_parameters["headerExtensions"] =
                json!([{"uri": TRANSPORT_CC_URI, "id": TRANSPORT_CC_EXTENSION_ID}]);
        }
        let producer = self.post(
            &format!("/v1/transports/{ingest_id}/producers"),
            json!({"kind": "video", "rtpParameters": rtp_parameters}),
        )?;
        let mut sink_sockets = Vec::with_capacity(consumers);
        let mut sink_contexts = Vec::with_capacity(consumers);
        let mut sink_feedback = Vec::with_capacity(consumers);
        let mut webrtc_transport_ids = Vec::new();
        // One certificate for every WebRTC consumer: the handshakes, not
        // the key generation, are what this measures.
        let certificate = if webrtc {
            Some(DtlsCertificate::generate().map_err(|e| e.to_string())?)
        } else {
            None
        };
        for _ in 0..consumers {
            if let Some(certificate) = &certificate {
                let consumer =
                    self.webrtc_consumer(router_id, &router, &producer, certificate, rtx)?;
                sink_sockets.push(consumer.socket);
                sink_contexts.push(Some(consumer.unprotect));
                sink_feedback.push(consumer.feedback);
                webrtc_transport_ids.push(consumer.transport_id);
                continue;
            }
            let sink = UdpSocket::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
            let port = sink.local_addr().map_err(|e| e.to_string())?.port();
            let transport = self.post(
                &format!("/v1/routers/{router_id}/plain-transports"),
                // Only when asked: builds without the option refuse it.
                transport_options(if shared_port {
                    json!({"sharedPort": true})
                } else {
                    json!({})
                }),
            )?;
            let id = transport["id"].as_str().ok_or("no transport id")?;
            let mut connect = json!({"ip": "127.0.0.1", "port": port});
            if srtp {
                // The sink sends nothing; the key is what SRTP needs both ways.
                connect["srtpParameters"] = srtp_parameters(&SrtpKey::generate(SUITE));
                let context = troupe_key(&transport)?
                    .context(false)
                    .map_err(|e| e.to_string())?;
                sink_contexts.push(Some(context));
            } else {
                sink_contexts.push(None);
            }
            self.post(&format!("/v1/transports/{id}/connect"), connect)?;
            self.post(
                &format!("/v1/transports/{id}/consumers"),
                json!({"producerId": producer["id"], "rtpCapabilities": router["rtpCapabilities"], "enableRtx": rtx}),
            )?;
            sink_sockets.push(sink);
            sink_feedback.push(None);
        }
        let producer_port = ingest["tuple"]["localPort"].as_u64().ok_or("no port")? as u16;
        Ok(Room {
            producer_port,
            payload_type,
            sink_sockets,
            sender_key,
            sink_contexts,
            sink_feedback,
            webrtc_transport_ids,
        })
    }

    /// A WebRTC transport, a client connected to it (ICE, DTLS) on a fresh
    /// socket, and a consumer on it.
    fn webrtc_consumer(
        &self,
        router_id: &str,
        router: &Value,
        producer: &Value,
        certificate: &DtlsCertificate,
        rtx: bool,
    ) -> Result<WebRtcConsumer, String> {
        let created = self.post(
            &format!("/v1/routers/{router_id}/webrtc-transports"),
            json!({"enableTcp": false}),
        )?;
        let id = created["id"].as_str().ok_or("no transport id")?;
        let candidate = created["iceCandidates"]
            .as_array()
            .and_then(|c| c.iter().find(|c| c["protocol"] == "udp"))
            .ok_or("no UDP candidate")?;
        let server = std::net::SocketAddr::new(
            candidate["address"]
                .as_str()
                .and_then(|a| a.parse().ok())
                .ok_or("bad candidate address")?,
            candidate["port"].as_u64().ok_or("bad candidate port")? as u16,
        );
        let fingerprints = created["dtlsParameters"]["fingerprints"]
            .as_array()
            .ok_or("no fingerprints")?
            .iter()
            .map(|f| Fingerprint {
                algorithm: f["algorithm"].as_str().unwrap_or_default().into(),
                value: f["value"].as_str().unwrap_or_default().into(),
            })
            .collect();
        self.post(
            &format!("/v1/transports/{id}/connect"),
            json!({"dtlsParameters": dtls_parameters(certificate)}),
        )?;
        let socket = UdpSocket::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
        socket
            .set_read_timeout(Some(std::time::Duration::from_millis(20)))
            .map_err(|e| e.to_string())?;
        let ufrag = created["iceParameters"]["usernameFragment"]
            .as_str()
            .ok_or("no ufrag")?;
        let password = created["iceParameters"]["password"]
            .as_str()
            .ok_or("no ICE password")?;
        let contexts = handshake(
            &socket,
            certificate,
            &Peer {
                server,
                ice_username: &format!("{ufrag}:bench"),
                ice_password: password,
                server_fingerprints: fingerprints,
            },
            std::time::Duration::from_secs(10),
        )?;
        let consumer = self.post(
            &format!("/v1/transports/{id}/consumers"),
            json!({"producerId": producer["id"], "rtpCapabilities": router["rtpCapabilities"], "enableRtx": rtx}),
        )?;
        let transport_cc_id = consumer["rtpParameters"]["headerExtensions"]
            .as_array()
            .and_then(|e| e.iter().find(|e| e["uri"] == TRANSPORT_CC_URI))
            .and_then(|e| e["id"].as_u64());
        let SrtpContexts { local, remote, .. } = *contexts;
        Ok(WebRtcConsumer {
            socket,
            unprotect: remote,
            feedback: transport_cc_id.map(|id| SinkFeedback::new(id as u8, local, server)),
            transport_id: id.to_string(),
        })
    }

    /// How many of `transport_ids` have an outgoing bandwidth estimate.
    pub fn transports_estimating(&self, transport_ids: &[String]) -> usize {
        transport_ids
            .iter()
            .filter(|id| {
                self.get(&format!("/v1/transports/{id}/stats"))
                    .is_ok_and(|stats| stats[0]["availableOutgoingBitrate"].as_u64().is_some())
            })
            .count()
    }
}
