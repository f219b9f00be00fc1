//! The room the benchmark builds through Troupe's HTTP API.

use std::net::UdpSocket;

use serde_json::{json, Value};
use troupe_transports::srtp_keys::{SrtpCryptoSuite, SrtpKey};

pub struct Api {
    base: String,
    agent: ureq::Agent,
}

pub struct Room {
    pub producer_port: u16,
    pub payload_type: u8,
    pub sink_sockets: Vec<UdpSocket>,
    /// With SRTP: what the sender protects with, and what each sink
    /// unprotects with (Troupe's key for that consumer's transport).
    pub sender_key: Option<SrtpKey>,
    pub sink_keys: Vec<Option<SrtpKey>>,
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
    /// plain consumers each connected to its own sink socket.
    pub fn room(&self, consumers: usize, srtp: bool) -> Result<Room, String> {
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
        let producer = self.post(
            &format!("/v1/transports/{ingest_id}/producers"),
            json!({"kind": "video", "rtpParameters": {
                "codecs": [{"mimeType": "video/VP8", "payloadType": payload_type, "clockRate": 90000,
                            "rtcpFeedback": [{"type": "nack", "parameter": "pli"}]}],
                "encodings": [{"ssrc": SSRC}]
            }}),
        )?;
        let mut sink_sockets = Vec::with_capacity(consumers);
        let mut sink_keys = Vec::with_capacity(consumers);
        for _ in 0..consumers {
            let sink = UdpSocket::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
            let port = sink.local_addr().map_err(|e| e.to_string())?.port();
            let transport = self.post(
                &format!("/v1/routers/{router_id}/plain-transports"),
                transport_options(json!({})),
            )?;
            let id = transport["id"].as_str().ok_or("no transport id")?;
            let mut connect = json!({"ip": "127.0.0.1", "port": port});
            if srtp {
                // The sink sends nothing; the key is what SRTP needs both ways.
                connect["srtpParameters"] = srtp_parameters(&SrtpKey::generate(SUITE));
                sink_keys.push(Some(troupe_key(&transport)?));
            } else {
                sink_keys.push(None);
            }
            self.post(&format!("/v1/transports/{id}/connect"), connect)?;
            self.post(
                &format!("/v1/transports/{id}/consumers"),
                json!({"producerId": producer["id"], "rtpCapabilities": router["rtpCapabilities"], "enableRtx": false}),
            )?;
            sink_sockets.push(sink);
        }
        let producer_port = ingest["tuple"]["localPort"].as_u64().ok_or("no port")? as u16;
        Ok(Room {
            producer_port,
            payload_type,
            sink_sockets,
            sender_key,
            sink_keys,
        })
    }
}
