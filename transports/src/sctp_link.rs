//! One transport's SCTP association (RFC 8831 data channels), sans-IO:
//! packets in (what DTLS decrypted, or a pipe's UDP payload), whole
//! messages out; messages in, packets out. rtc-sctp does the protocol; this
//! adds what an SFU needs around it: streams configured per data producer
//! or consumer, WebRTC's empty-message PPIDs, and a bound on what waits to
//! be sent, so a receiver that does not read cannot grow the node's memory.
//!
//! mediasoup-client opens every data channel `negotiated` with the stream id
//! the server chose, so no DCEP handshake is needed; a DCEP message is
//! reported as ignored.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use sctp::{
    Association, AssociationHandle, ClientConfig, DatagramEvent, Endpoint, EndpointConfig, Event,
    Payload, PayloadProtocolIdentifier, ReliabilityType, ServerConfig, StreamEvent,
    TransportConfig,
};
use shared::TransportProtocol;
use thiserror::Error;

/// WebRTC's PPIDs (RFC 8831 §8).
pub const PPID_DCEP: u32 = 50;
pub const PPID_STRING: u32 = 51;
pub const PPID_BINARY: u32 = 53;
pub const PPID_STRING_EMPTY: u32 = 56;
pub const PPID_BINARY_EMPTY: u32 = 57;

/// The port both ends of a WebRTC data channel association use.
pub const SCTP_PORT: u16 = 5000;

/// mediasoup's defaults.
pub const DEFAULT_MAX_MESSAGE_SIZE: u32 = 262_144;
pub const DEFAULT_SEND_BUFFER_SIZE: u32 = 262_144;
pub const DEFAULT_NUM_STREAMS: u16 = 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SctpState {
    New,
    Connecting,
    Connected,
    Failed,
    Closed,
}

impl SctpState {
    pub fn as_str(&self) -> &'static str {
        match self {
            SctpState::New => "new",
            SctpState::Connecting => "connecting",
            SctpState::Connected => "connected",
            SctpState::Failed => "failed",
            SctpState::Closed => "closed",
        }
    }
}

/// How an association is set up.
#[derive(Debug, Clone, Copy)]
pub struct SctpOptions {
    /// Outgoing streams asked for (mediasoup's `numSctpStreams.OS`).
    pub outbound_streams: u16,
    /// Incoming streams allowed (`numSctpStreams.MIS`).
    pub inbound_streams: u16,
    /// The largest message accepted or sent.
    pub max_message_size: u32,
    /// Bytes allowed to wait for the peer, over all streams.
    pub send_buffer_size: u32,
}

impl Default for SctpOptions {
    fn default() -> Self {
        SctpOptions {
            outbound_streams: DEFAULT_NUM_STREAMS,
            inbound_streams: DEFAULT_NUM_STREAMS,
            max_message_size: DEFAULT_MAX_MESSAGE_SIZE,
            send_buffer_size: DEFAULT_SEND_BUFFER_SIZE,
        }
    }
}

/// How one stream delivers (mediasoup's `sctpStreamParameters`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StreamReliability {
    pub ordered: bool,
    pub max_packet_life_time: Option<u32>,
    pub max_retransmits: Option<u32>,
}

impl StreamReliability {
    pub fn reliable() -> Self {
        StreamReliability {
            ordered: true,
            ..Default::default()
        }
    }

    fn sctp(&self) -> (bool, ReliabilityType, u32) {
        match (self.max_retransmits, self.max_packet_life_time) {
            (Some(n), _) => (!self.ordered, ReliabilityType::Rexmit, n),
            (None, Some(ms)) => (!self.ordered, ReliabilityType::Timed, ms),
            (None, None) => (!self.ordered, ReliabilityType::Reliable, 0),
        }
    }
}

/// One whole message. An empty message has an empty payload and the
/// string or binary PPID (51/53); the wire's 56/57 never leave this file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SctpMessage {
    pub stream_id: u16,
    pub ppid: u32,
    pub payload: Bytes,
}

#[derive(Debug, PartialEq, Eq)]
pub enum SctpEvent {
    StateChanged(SctpState),
    Message(SctpMessage),
    /// The peer closed its data channel on this stream (a stream reset we
    /// did not start).
    StreamClosed(u16),
    /// A message the node does not forward (DCEP, unknown PPID, too big).
    Ignored(&'static str),
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum SctpSendError {
    #[error("the SCTP association is not connected")]
    NotConnected,
    #[error("the message is larger than maxMessageSize ({0} bytes)")]
    TooLarge(u32),
    #[error("the SCTP send buffer is full ({0} bytes waiting)")]
    BufferFull(usize),
    #[error("stream {0} cannot be used: {1}")]
    Stream(u16, String),
}

fn association_key() -> SocketAddr {
    SocketAddr::from(([0, 0, 0, 1], SCTP_PORT))
}

pub struct SctpLink {
    endpoint: Endpoint,
    association: Option<(AssociationHandle, Association)>,
    options: SctpOptions,
    state: SctpState,
    /// Reliability of the streams we send on, applied when each opens.
    reliability: HashMap<u16, StreamReliability>,
    /// Streams we reset: the peer's reset of them in answer is no news.
    resetting: std::collections::HashSet<u16>,
    /// Messages sent before the association is up (a pipe's far end, or a
    /// browser that opens its association with its first channel), sent
    /// once it is; bounded by the send buffer.
    pending: Vec<SctpMessage>,
    pending_bytes: usize,
}

impl SctpLink {
    fn transport_config(options: &SctpOptions) -> TransportConfig {
        TransportConfig::default()
            .with_sctp_port(SCTP_PORT)
            .with_max_message_size(options.max_message_size)
            .with_max_num_outbound_streams(options.outbound_streams)
            .with_max_num_inbound_streams(options.inbound_streams)
    }

    /// The side that waits for the peer's INIT (a browser always sends one).
    pub fn accepting(options: SctpOptions) -> Self {
        let server = ServerConfig::new(Self::transport_config(&options));
        SctpLink {
            endpoint: Endpoint::new(
                SocketAddr::from(([0, 0, 0, 0], SCTP_PORT)),
                TransportProtocol::UDP,
                Arc::new(EndpointConfig::new()),
                Some(Arc::new(server)),
            ),
            association: None,
            options,
            state: SctpState::New,
            reliability: HashMap::new(),
            resetting: Default::default(),
            pending: Vec::new(),
            pending_bytes: 0,
        }
    }

    /// The side that sends INIT (one end of a pipe between two nodes).
    pub fn connecting(options: SctpOptions, now: Instant) -> Self {
        let mut link = Self::accepting(options);
        let client = ClientConfig::new(Self::transport_config(&options));
        if let Ok(association) = link.endpoint.connect(now, client, association_key()) {
            link.association = Some(association);
            link.state = SctpState::Connecting;
            link.endpoint.reject_new_associations();
        }
        link
    }

    pub fn state(&self) -> SctpState {
        self.state
    }

    pub fn options(&self) -> &SctpOptions {
        &self.options
    }

    /// One SCTP packet from the peer.
    pub fn handle_packet(&mut self, now: Instant, packet: &[u8]) -> Vec<SctpEvent> {
        if matches!(self.state, SctpState::Closed | SctpState::Failed) {
            return Vec::new();
        }
        let Some((handle, event)) =
            self.endpoint
                .handle(now, association_key(), None, Bytes::copy_from_slice(packet))
        else {
            return vec![SctpEvent::Ignored("sctp_unexpected_packet")];
        };
        match event {
            DatagramEvent::NewAssociation(association) => {
                if self.association.is_some() {
                    // A second INIT from a peer that restarted: keep the one
                    // we have; the peer's retransmissions reach it.
                    return vec![SctpEvent::Ignored("sctp_second_association")];
                }
                self.association = Some((handle, association));
                // One association per transport: later INITs must not each
                // leave an entry in the endpoint (an INIT storm).
                self.endpoint.reject_new_associations();
                let mut events = Vec::new();
                self.set_state(SctpState::Connecting, &mut events);
                self.drain_events(now, &mut events);
                events
            }
            DatagramEvent::AssociationEvent(event) => match self.association.as_mut() {
                Some((current, association)) if *current == handle => {
                    association.handle_event(event);
                    let mut events = Vec::new();
                    self.drain_events(now, &mut events);
                    events
                }
                _ => vec![SctpEvent::Ignored("sctp_unknown_association")],
            },
            _ => vec![SctpEvent::Ignored("sctp_unexpected_packet")],
        }
    }

    fn set_state(&mut self, state: SctpState, events: &mut Vec<SctpEvent>) {
        if self.state != state {
            self.state = state;
            events.push(SctpEvent::StateChanged(state));
        }
    }

    fn drain_events(&mut self, now: Instant, events: &mut Vec<SctpEvent>) {
        let Some((handle, association)) = self.association.as_mut() else {
            return;
        };
        let handle = *handle;
        let mut readable = Vec::new();
        let mut new_state = None;
        while let Some(event) = association.poll() {
            match event {
                Event::Connected => new_state = Some(SctpState::Connected),
                Event::HandshakeFailed { .. } => new_state = Some(SctpState::Failed),
                // rtc-sctp reports each stream it forgets (a reset) this
                // way; the association itself is closed only if it says so.
                Event::AssociationLost { id, .. } if !self.resetting.remove(&id) => {
                    events.push(SctpEvent::StreamClosed(id));
                }
                Event::Stream(StreamEvent::Readable { id } | StreamEvent::Opened { id }) => {
                    readable.push(id)
                }
                _ => {}
            }
        }
        while let Some(stream) = association.accept_stream() {
            readable.push(stream.stream_identifier());
        }
        while let Some(event) = association.poll_endpoint_event() {
            self.endpoint.handle_event(handle, event);
        }
        // A new association reads as closed until its handshake is done.
        if association.is_closed() && new_state.is_none() && self.state == SctpState::Connected {
            new_state = Some(SctpState::Closed);
        }
        readable.sort_unstable();
        readable.dedup();
        for id in readable {
            self.read_stream(id, events);
        }
        if let Some(state) = new_state {
            self.set_state(state, events);
            if state == SctpState::Connected {
                self.send_pending(now);
            } else {
                self.pending.clear();
                self.pending_bytes = 0;
            }
        }
    }

    fn send_pending(&mut self, now: Instant) {
        self.pending_bytes = 0;
        for message in std::mem::take(&mut self.pending) {
            // Failures here are what a send just after connecting would
            // have met; the messages are dropped as they would have been.
            let _ = self.send(now, message.stream_id, message.ppid, &message.payload);
        }
    }

    fn read_stream(&mut self, id: u16, events: &mut Vec<SctpEvent>) {
        let max = self.options.max_message_size as usize;
        let Some((_, association)) = self.association.as_mut() else {
            return;
        };
        if let Some(reliability) = self.reliability.get(&id) {
            if let Ok(mut stream) = association.stream(id) {
                let (unordered, kind, value) = reliability.sctp();
                let _ = stream.set_reliability_params(unordered, kind, value);
            }
        }
        let Ok(mut stream) = association.stream(id) else {
            return;
        };
        loop {
            let chunks = match stream.read_sctp() {
                Ok(Some(chunks)) => chunks,
                Ok(None) | Err(_) => break,
            };
            let Ok(payload) = chunks.to_payload(max) else {
                events.push(SctpEvent::Ignored("sctp_message_too_large"));
                continue;
            };
            let (ppid, payload) = match chunks.ppi {
                PayloadProtocolIdentifier::String => (PPID_STRING, payload.freeze()),
                PayloadProtocolIdentifier::Binary => (PPID_BINARY, payload.freeze()),
                PayloadProtocolIdentifier::StringEmpty => (PPID_STRING, Bytes::new()),
                PayloadProtocolIdentifier::BinaryEmpty => (PPID_BINARY, Bytes::new()),
                PayloadProtocolIdentifier::Dcep => {
                    events.push(SctpEvent::Ignored("sctp_dcep"));
                    continue;
                }
                _ => {
                    events.push(SctpEvent::Ignored("sctp_unknown_ppid"));
                    continue;
                }
            };
            events.push(SctpEvent::Message(SctpMessage {
                stream_id: id,
                ppid,
                payload,
            }));
        }
    }

    /// How a stream we send on delivers; applies to its next messages.
    pub fn configure_stream(&mut self, stream_id: u16, reliability: StreamReliability) {
        self.reliability.insert(stream_id, reliability);
        if let Some((_, association)) = self.association.as_mut() {
            if let Ok(mut stream) = association.stream(stream_id) {
                let (unordered, kind, value) = reliability.sctp();
                let _ = stream.set_reliability_params(unordered, kind, value);
            }
        }
    }

    /// Closes a data channel: resets our outgoing side of the stream (RFC
    /// 8831 §6.7), and the peer closes its channel on that stream.
    pub fn reset_stream(&mut self, now: Instant, stream_id: u16) {
        self.reliability.remove(&stream_id);
        if self.state != SctpState::Connected {
            return;
        }
        let Some((_, association)) = self.association.as_mut() else {
            return;
        };
        let stream = match association.stream(stream_id) {
            Ok(stream) => Ok(stream),
            // Never written to by us, but open on the peer's side.
            Err(_) => association.open_stream(stream_id, PayloadProtocolIdentifier::Binary),
        };
        if let Ok(mut stream) = stream {
            if stream.close(now).is_ok() {
                self.resetting.insert(stream_id);
            }
        }
    }

    /// Bytes waiting to be sent or acknowledged, over all streams.
    pub fn buffered_amount(&mut self) -> usize {
        let Some((_, association)) = self.association.as_mut() else {
            return 0;
        };
        association
            .stream_ids()
            .into_iter()
            .filter_map(|id| association.stream(id).ok()?.buffered_amount().ok())
            .sum()
    }

    /// Bytes waiting on one stream.
    pub fn stream_buffered_amount(&mut self, stream_id: u16) -> usize {
        self.association
            .as_mut()
            .and_then(|(_, a)| a.stream(stream_id).ok()?.buffered_amount().ok())
            .unwrap_or(0)
    }

    /// Queues one message; `poll_transmit` then yields its packets.
    pub fn send(
        &mut self,
        now: Instant,
        stream_id: u16,
        ppid: u32,
        payload: &[u8],
    ) -> Result<(), SctpSendError> {
        if payload.len() > self.options.max_message_size as usize {
            return Err(SctpSendError::TooLarge(self.options.max_message_size));
        }
        match self.state {
            SctpState::Connected => {}
            SctpState::New | SctpState::Connecting => {
                if self.pending_bytes + payload.len() > self.options.send_buffer_size as usize {
                    return Err(SctpSendError::BufferFull(self.pending_bytes));
                }
                self.pending_bytes += payload.len();
                self.pending.push(SctpMessage {
                    stream_id,
                    ppid,
                    payload: Bytes::copy_from_slice(payload),
                });
                return Ok(());
            }
            SctpState::Failed | SctpState::Closed => return Err(SctpSendError::NotConnected),
        }
        let waiting = self.buffered_amount();
        if waiting + payload.len() > self.options.send_buffer_size as usize {
            return Err(SctpSendError::BufferFull(waiting));
        }
        let (ppi, data): (PayloadProtocolIdentifier, &[u8]) = match (ppid, payload.is_empty()) {
            (PPID_STRING, false) => (PayloadProtocolIdentifier::String, payload),
            (PPID_STRING, true) => (PayloadProtocolIdentifier::StringEmpty, &[0]),
            (_, false) => (PayloadProtocolIdentifier::Binary, payload),
            (_, true) => (PayloadProtocolIdentifier::BinaryEmpty, &[0]),
        };
        let reliability = self
            .reliability
            .get(&stream_id)
            .copied()
            .unwrap_or_else(StreamReliability::reliable);
        let Some((_, association)) = self.association.as_mut() else {
            return Err(SctpSendError::NotConnected);
        };
        let stream_error =
            |e: &dyn std::fmt::Display| SctpSendError::Stream(stream_id, e.to_string());
        let mut stream = match association.stream(stream_id) {
            Ok(stream) => stream,
            Err(_) => association
                .open_stream(stream_id, ppi)
                .map_err(|e| stream_error(&e))?,
        };
        let (unordered, kind, value) = reliability.sctp();
        stream
            .set_reliability_params(unordered, kind, value)
            .map_err(|e| stream_error(&e))?;
        stream
            .write_with_ppi(now, data, ppi)
            .map_err(|e| stream_error(&e))?;
        Ok(())
    }

    /// The next SCTP packet for the peer.
    pub fn poll_transmit(&mut self, now: Instant) -> Vec<Bytes> {
        let Some((_, association)) = self.association.as_mut() else {
            return Vec::new();
        };
        let mut out = Vec::new();
        while let Some(transmit) = association.poll_transmit(now) {
            if let Payload::RawEncode(packets) = transmit.message {
                out.extend(packets);
            }
        }
        out
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        self.association.as_ref()?.1.poll_timeout()
    }

    /// Retransmissions, delayed acknowledgements, heartbeats.
    pub fn handle_timeout(&mut self, now: Instant) -> Vec<SctpEvent> {
        let mut events = Vec::new();
        if let Some((_, association)) = self.association.as_mut() {
            if association.poll_timeout().is_some_and(|t| now >= t) {
                association.handle_timeout(now);
                self.drain_events(now, &mut events);
            }
        }
        events
    }

    /// Ends the association with an ABORT (the transport is closing).
    pub fn close(&mut self) {
        if let Some((_, association)) = self.association.as_mut() {
            let _ = association.abort();
        }
        self.state = SctpState::Closed;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pump(a: &mut SctpLink, b: &mut SctpLink, now: Instant) -> (Vec<SctpEvent>, Vec<SctpEvent>) {
        let (mut a_events, mut b_events) = (Vec::new(), Vec::new());
        for _ in 0..10_000 {
            let to_b = a.poll_transmit(now);
            let to_a = b.poll_transmit(now);
            if to_b.is_empty() && to_a.is_empty() {
                break;
            }
            for p in to_b {
                b_events.extend(b.handle_packet(now, &p));
            }
            for p in to_a {
                a_events.extend(a.handle_packet(now, &p));
            }
        }
        (a_events, b_events)
    }

    fn messages(events: &[SctpEvent]) -> Vec<&SctpMessage> {
        events
            .iter()
            .filter_map(|e| match e {
                SctpEvent::Message(m) => Some(m),
                _ => None,
            })
            .collect()
    }

    fn connected_pair(now: Instant) -> (SctpLink, SctpLink) {
        let mut client = SctpLink::connecting(SctpOptions::default(), now);
        let mut server = SctpLink::accepting(SctpOptions::default());
        let (client_events, server_events) = pump(&mut client, &mut server, now);
        assert!(client_events.contains(&SctpEvent::StateChanged(SctpState::Connected)));
        assert!(server_events.contains(&SctpEvent::StateChanged(SctpState::Connected)));
        (client, server)
    }

    #[test]
    fn ordered_messages_of_every_size_arrive_whole_and_in_order() {
        let now = Instant::now();
        let (mut client, mut server) = connected_pair(now);
        let big: Vec<u8> = (0..200 * 1024).map(|i| (i % 251) as u8).collect();
        for i in 0..300 {
            client
                .send(now, 1, PPID_STRING, format!("message {i}").as_bytes())
                .unwrap();
            let (_, events) = pump(&mut client, &mut server, now);
            assert_eq!(
                messages(&events)[0].payload,
                Bytes::from(format!("message {i}"))
            );
        }
        client.send(now, 1, PPID_BINARY, &big).unwrap();
        client.send(now, 1, PPID_BINARY, &[]).unwrap();
        client.send(now, 1, PPID_STRING, b"").unwrap();
        let (_, events) = pump(&mut client, &mut server, now);
        let got = messages(&events);
        assert_eq!(got.len(), 3);
        assert_eq!(got[0].payload, Bytes::from(big));
        assert_eq!((got[1].ppid, got[1].payload.len()), (PPID_BINARY, 0));
        assert_eq!((got[2].ppid, got[2].payload.len()), (PPID_STRING, 0));
        // The other way too, on the stream the server chose.
        server.send(now, 7, PPID_STRING, b"back").unwrap();
        let (events, _) = pump(&mut client, &mut server, now);
        assert_eq!(messages(&events)[0].stream_id, 7);
    }

    #[test]
    fn resetting_a_stream_tells_the_peer() {
        let now = Instant::now();
        let (mut client, mut server) = connected_pair(now);
        client.send(now, 4, PPID_STRING, b"open").unwrap();
        pump(&mut client, &mut server, now);
        server.reset_stream(now, 4);
        let sent = server.poll_transmit(now);
        assert!(!sent.is_empty(), "a RE-CONFIG chunk goes out");
        for p in sent {
            client.handle_packet(now, &p);
        }
        let (client_events, server_events) = pump(&mut client, &mut server, now);
        assert_eq!(server.state(), SctpState::Connected);
        assert!(!server_events.contains(&SctpEvent::StreamClosed(4)));
        // The stream can carry a new channel afterwards.
        server.send(now, 4, PPID_STRING, b"again").unwrap();
        let (events, _) = pump(&mut client, &mut server, now);
        assert_eq!(
            messages(&events).last().unwrap().payload,
            Bytes::from("again")
        );
        let _ = client_events;
    }

    #[test]
    fn a_message_over_the_limit_or_a_full_buffer_is_refused() {
        let now = Instant::now();
        let (mut client, mut server) = connected_pair(now);
        let too_big = vec![0u8; DEFAULT_MAX_MESSAGE_SIZE as usize + 1];
        assert_eq!(
            server.send(now, 1, PPID_BINARY, &too_big),
            Err(SctpSendError::TooLarge(DEFAULT_MAX_MESSAGE_SIZE))
        );
        // Nothing is read by the client: the buffer fills and says so.
        let chunk = vec![1u8; 64 * 1024];
        let mut refused = false;
        for _ in 0..16 {
            if let Err(SctpSendError::BufferFull(_)) = server.send(now, 1, PPID_BINARY, &chunk) {
                refused = true;
                break;
            }
        }
        assert!(refused);
        assert!(server.buffered_amount() <= DEFAULT_SEND_BUFFER_SIZE as usize);
        // Once the peer acknowledges, there is room again.
        pump(&mut client, &mut server, now);
        assert!(server.send(now, 1, PPID_BINARY, &chunk).is_ok());
    }

    #[test]
    fn junk_and_stray_packets_are_ignored_without_panicking() {
        let now = Instant::now();
        let mut server = SctpLink::accepting(SctpOptions::default());
        for junk in [
            &[][..],
            &[0x13, 0x88][..],
            &[0x13, 0x88, 0x13, 0x88, 0, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 4][..],
            &[0xff; 64][..],
        ] {
            let events = server.handle_packet(now, junk);
            assert!(events.iter().all(|e| matches!(e, SctpEvent::Ignored(_))));
        }
        assert_eq!(server.state(), SctpState::New);
    }

    #[test]
    fn messages_sent_before_the_association_is_up_wait_for_it() {
        let now = Instant::now();
        let mut client = SctpLink::connecting(SctpOptions::default(), now);
        let mut server = SctpLink::accepting(SctpOptions::default());
        server.send(now, 2, PPID_STRING, b"early").unwrap();
        client.send(now, 2, PPID_STRING, b"early too").unwrap();
        let too_much = vec![0u8; DEFAULT_SEND_BUFFER_SIZE as usize];
        assert!(matches!(
            server.send(now, 2, PPID_BINARY, &too_much),
            Err(SctpSendError::BufferFull(_))
        ));
        let (client_events, server_events) = pump(&mut client, &mut server, now);
        assert_eq!(messages(&client_events)[0].payload, Bytes::from("early"));
        assert_eq!(
            messages(&server_events)[0].payload,
            Bytes::from("early too")
        );
    }

    #[test]
    fn an_init_storm_leaves_the_association_working() {
        let now = Instant::now();
        let (mut client, mut server) = connected_pair(now);
        for _ in 0..1000 {
            let mut stranger = SctpLink::connecting(SctpOptions::default(), now);
            let inits = stranger.poll_transmit(now);
            assert!(!inits.is_empty());
            for init in inits {
                let events = server.handle_packet(now, &init);
                assert!(events.iter().all(|e| matches!(e, SctpEvent::Ignored(_))));
            }
        }
        client.send(now, 1, PPID_STRING, b"still here").unwrap();
        let (_, events) = pump(&mut client, &mut server, now);
        assert_eq!(messages(&events)[0].payload, Bytes::from("still here"));
    }

    #[test]
    fn an_unordered_stream_without_retransmissions_still_delivers_on_a_clean_path() {
        let now = Instant::now();
        let (mut client, mut server) = connected_pair(now);
        client.configure_stream(
            3,
            StreamReliability {
                ordered: false,
                max_packet_life_time: None,
                max_retransmits: Some(0),
            },
        );
        for i in 0..20u8 {
            client.send(now, 3, PPID_BINARY, &[i]).unwrap();
        }
        let (_, events) = pump(&mut client, &mut server, now);
        assert_eq!(messages(&events).len(), 20);
    }
}
