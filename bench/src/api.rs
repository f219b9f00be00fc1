//! The room the benchmark builds through Troupe's HTTP API.

use std::net::UdpSocket;

use serde_json::{json, Value};

pub struct Api {
    base: String,
    agent: ureq::Agent,
}

pub struct Room {
    pub producer_port: u16,
    pub payload_type: u8,
    pub sink_sockets: Vec<UdpSocket>,
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
    pub fn room(&self, consumers: usize) -> Result<Room, String> {
        let router = self.post("/v1/routers", json!({}))?;
        let router_id = router["id"].as_str().ok_or("no router id")?;
        let payload_type = router["rtpCapabilities"]["codecs"]
            .as_array()
            .and_then(|c| c.iter().find(|c| c["mimeType"] == "video/VP8"))
            .and_then(|c| c["preferredPayloadType"].as_u64())
            .ok_or("no VP8 in the router")? as u8;
        let ingest = self.post(
            &format!("/v1/routers/{router_id}/plain-transports"),
            json!({"comedia": true}),
        )?;
        let ingest_id = ingest["id"].as_str().ok_or("no transport id")?;
        let producer = self.post(
            &format!("/v1/transports/{ingest_id}/producers"),
            json!({"kind": "video", "rtpParameters": {
                "codecs": [{"mimeType": "video/VP8", "payloadType": payload_type, "clockRate": 90000,
                            "rtcpFeedback": [{"type": "nack", "parameter": "pli"}]}],
                "encodings": [{"ssrc": SSRC}]
            }}),
        )?;
        let mut sink_sockets = Vec::with_capacity(consumers);
        for _ in 0..consumers {
            let sink = UdpSocket::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
            let port = sink.local_addr().map_err(|e| e.to_string())?.port();
            let transport = self.post(
                &format!("/v1/routers/{router_id}/plain-transports"),
                json!({}),
            )?;
            let id = transport["id"].as_str().ok_or("no transport id")?;
            self.post(
                &format!("/v1/transports/{id}/connect"),
                json!({"ip": "127.0.0.1", "port": port}),
            )?;
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
        })
    }
}
