//! A data channel client for tests: the test WebRTC client's DTLS session
//! carrying an SCTP association of Troupe's own `SctpLink`, as a browser's
//! would, so tests can speak SCTP to a node (and misbehave on purpose).

#![allow(dead_code)]

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use troupe_transports::dtls_session::DtlsEvent;
use troupe_transports::packet_kind::{classify, PacketKind};
use troupe_transports::sctp_link::{SctpEvent, SctpLink, SctpMessage, SctpOptions, SctpState};

use super::webrtc_client::{post, WebRtcTestClient};
use super::TestServer;

pub struct DataClient {
    pub rtc: WebRtcTestClient,
    pub link: SctpLink,
    pub transport_id: String,
    pub received: Vec<SctpMessage>,
    /// Streams the node closed (reset).
    pub closed_streams: Vec<u16>,
}

impl DataClient {
    /// A WebRTC transport with `enableSctp` (and `options`) on `router`,
    /// connected, with its SCTP association up.
    pub fn connect(server: &TestServer, router: &str, options: Value) -> DataClient {
        let mut body = json!({"enableSctp": true});
        if let (Some(body), Some(extra)) = (body.as_object_mut(), options.as_object()) {
            body.extend(extra.clone());
        }
        let created = post(
            server,
            &format!("/v1/routers/{router}/webrtc-transports"),
            body,
        );
        let transport_id = created["id"].as_str().unwrap().to_string();
        let mut rtc = WebRtcTestClient::new(&created);
        post(
            server,
            &format!("/v1/transports/{transport_id}/connect"),
            json!({"dtlsParameters": rtc.dtls_parameters()}),
        );
        rtc.connect(&created["dtlsParameters"]["fingerprints"]);
        let mut client = DataClient {
            rtc,
            link: SctpLink::connecting(SctpOptions::default(), Instant::now()),
            transport_id,
            received: Vec::new(),
            closed_streams: Vec::new(),
        };
        let deadline = Instant::now() + Duration::from_secs(5);
        while client.link.state() != SctpState::Connected {
            assert!(Instant::now() < deadline, "SCTP does not connect");
            client.pump(Duration::from_millis(50));
        }
        client
    }

    /// Sends raw bytes as DTLS application data: what SCTP would carry.
    pub fn send_application_data(&mut self, bytes: &[u8]) {
        let dtls = self.rtc.dtls.as_mut().unwrap();
        dtls.write(Instant::now(), bytes).unwrap();
        let mut records = Vec::new();
        while let Some(d) = dtls.poll_transmit() {
            records.push(d);
        }
        for d in records {
            self.rtc.send_raw(&d);
        }
    }

    pub fn send(&mut self, stream_id: u16, ppid: u32, payload: &[u8]) {
        self.link
            .send(Instant::now(), stream_id, ppid, payload)
            .unwrap();
        self.pump(Duration::ZERO);
    }

    /// Moves packets both ways for `window` (at least one round).
    pub fn pump(&mut self, window: Duration) {
        let until = Instant::now() + window;
        loop {
            let now = Instant::now();
            for packet in self.link.poll_transmit(now) {
                self.send_application_data(&packet);
            }
            let mut buffer = vec![0u8; 2048];
            if let Ok((n, _)) = self.rtc.socket.recv_from(&mut buffer) {
                if classify(&buffer[..n]) == PacketKind::Dtls {
                    let events = self
                        .rtc
                        .dtls
                        .as_mut()
                        .unwrap()
                        .handle_datagram(now, &buffer[..n]);
                    for event in events {
                        if let DtlsEvent::ApplicationData(data) = event {
                            for e in self.link.handle_packet(now, &data) {
                                match e {
                                    SctpEvent::Message(m) => self.received.push(m),
                                    SctpEvent::StreamClosed(id) => self.closed_streams.push(id),
                                    _ => {}
                                }
                            }
                        }
                    }
                }
            }
            for e in self.link.handle_timeout(Instant::now()) {
                if let SctpEvent::Message(m) = e {
                    self.received.push(m);
                }
            }
            if Instant::now() >= until {
                break;
            }
        }
        for packet in self.link.poll_transmit(Instant::now()) {
            self.send_application_data(&packet);
        }
    }

    /// Pumps until `count` messages have arrived, or fails after 10 s.
    pub fn wait_for(&mut self, count: usize) -> &[SctpMessage] {
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.received.len() < count {
            assert!(
                Instant::now() < deadline,
                "{} of {count} messages arrived",
                self.received.len()
            );
            self.pump(Duration::from_millis(20));
        }
        &self.received
    }
}
