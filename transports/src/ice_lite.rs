//! ICE-lite (RFC 8445 §2.5) as an SFU needs it: answer the client's Binding
//! requests, learn the tuples that pass the checks, follow the nominated one,
//! and notice when consent stops (RFC 7675).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rand::distr::{Alphanumeric, SampleString};
use stun::attributes::{ATTR_USERNAME, ATTR_USE_CANDIDATE};
use stun::fingerprint::FINGERPRINT;
use stun::integrity::MessageIntegrity;
use stun::message::{Message, Setter, BINDING_REQUEST, BINDING_SUCCESS};
use stun::textattrs::TextAttribute;
use stun::xoraddr::XorMappedAddress;
use thiserror::Error;

use crate::crypto_provider::provider;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    Udp,
    Tcp,
}

/// Where a client's packets come from: its address and the protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Tuple {
    pub remote: SocketAddr,
    pub protocol: Protocol,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IceState {
    New,
    Connected,
    Completed,
    Disconnected,
    Closed,
}

impl IceState {
    pub fn as_str(&self) -> &'static str {
        match self {
            IceState::New => "new",
            IceState::Connected => "connected",
            IceState::Completed => "completed",
            IceState::Disconnected => "disconnected",
            IceState::Closed => "closed",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IceEvent {
    StateChanged(IceState),
    SelectedTupleChanged(Tuple),
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum IceError {
    #[error("malformed STUN message: {0}")]
    Malformed(String),
    #[error("not a Binding request")]
    NotBindingRequest,
    #[error("no USERNAME")]
    MissingUsername,
    #[error("USERNAME does not start with this transport's ufrag")]
    WrongUsername,
    #[error("bad or missing FINGERPRINT")]
    BadFingerprint,
    #[error("bad or missing MESSAGE-INTEGRITY")]
    BadIntegrity,
    #[error("cannot build the response: {0}")]
    Response(String),
}

impl IceError {
    /// A short label for metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            IceError::Malformed(_) => "stun_malformed",
            IceError::NotBindingRequest => "stun_not_binding",
            IceError::MissingUsername | IceError::WrongUsername => "stun_username",
            IceError::BadFingerprint => "stun_fingerprint",
            IceError::BadIntegrity => "stun_integrity",
            IceError::Response(_) => "stun_response",
        }
    }
}

/// ICE credentials as mediasoup's `iceParameters`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IceCredentials {
    pub ufrag: String,
    pub pwd: String,
}

impl IceCredentials {
    /// Random credentials: 16 and 32 characters, above RFC 8445's minimums.
    pub fn random() -> Self {
        let mut rng = rand::rng();
        IceCredentials {
            ufrag: Alphanumeric.sample_string(&mut rng, 16),
            pwd: Alphanumeric.sample_string(&mut rng, 32),
        }
    }
}

/// Tuples that passed a check and may carry media, at most this many.
const MAX_TUPLES: usize = 8;

pub struct IceLite {
    credentials: IceCredentials,
    /// Credentials still honoured during an ICE restart until the client
    /// switches over.
    previous: Option<IceCredentials>,
    state: IceState,
    tuples: Vec<Tuple>,
    selected: Option<Tuple>,
    last_consent: Option<Instant>,
    consent_timeout: Duration,
}

/// The local ufrag a Binding request is addressed to (the part of USERNAME
/// before the colon), for routing a request to its transport.
pub fn local_ufrag_of(datagram: &[u8]) -> Result<String, IceError> {
    let mut message = Message::new();
    message.raw = datagram.to_vec();
    message
        .decode()
        .map_err(|e| IceError::Malformed(e.to_string()))?;
    let username = TextAttribute::get_from_as(&message, ATTR_USERNAME)
        .map_err(|_| IceError::MissingUsername)?;
    Ok(username
        .text
        .split(':')
        .next()
        .unwrap_or_default()
        .to_string())
}

/// A Binding request as an ICE client sends it (for Troupe's own test and
/// load clients): USERNAME, PRIORITY, optional USE-CANDIDATE,
/// MESSAGE-INTEGRITY with `pwd`, FINGERPRINT.
pub fn binding_request(username: &str, pwd: &str, use_candidate: bool) -> Vec<u8> {
    use stun::attributes::{RawAttribute, ATTR_ICE_CONTROLLING, ATTR_PRIORITY};
    use stun::message::TransactionId;
    let crypto = provider();
    let mut transaction = [0u8; 12];
    transaction.iter_mut().for_each(|b| *b = rand::random());
    let mut setters: Vec<Box<dyn Setter>> = vec![
        Box::new(BINDING_REQUEST),
        Box::new(TransactionId(transaction)),
        Box::new(TextAttribute::new(ATTR_USERNAME, username.to_string())),
        Box::new(RawAttribute {
            typ: ATTR_PRIORITY,
            length: 4,
            value: 1_853_817_087u32.to_be_bytes().to_vec(),
        }),
        Box::new(RawAttribute {
            typ: ATTR_ICE_CONTROLLING,
            length: 8,
            value: rand::random::<u64>().to_be_bytes().to_vec(),
        }),
    ];
    if use_candidate {
        setters.push(Box::new(RawAttribute {
            typ: ATTR_USE_CANDIDATE,
            length: 0,
            value: vec![],
        }));
    }
    setters.push(Box::new(
        MessageIntegrity::new_short_term_integrity_with_provider(pwd.to_string(), crypto.crypto()),
    ));
    setters.push(Box::new(FINGERPRINT));
    let mut message = Message::new();
    match message.build(&setters) {
        Ok(()) => message.raw,
        Err(_) => Vec::new(),
    }
}

impl IceLite {
    pub fn new(credentials: IceCredentials, consent_timeout: Duration) -> Self {
        IceLite {
            credentials,
            previous: None,
            state: IceState::New,
            tuples: Vec::new(),
            selected: None,
            last_consent: None,
            consent_timeout,
        }
    }

    pub fn credentials(&self) -> &IceCredentials {
        &self.credentials
    }

    pub fn state(&self) -> IceState {
        self.state
    }

    pub fn selected_tuple(&self) -> Option<Tuple> {
        self.selected
    }

    /// Whether media from `tuple` is accepted: it passed a connectivity check.
    pub fn is_valid_tuple(&self, tuple: &Tuple) -> bool {
        self.tuples.contains(tuple)
    }

    /// New credentials (an ICE restart); the old ones keep working until a
    /// request with the new ones arrives.
    pub fn restart(&mut self, credentials: IceCredentials) {
        self.previous = Some(std::mem::replace(&mut self.credentials, credentials));
    }

    pub fn close(&mut self) -> Vec<IceEvent> {
        self.set_state(IceState::Closed).into_iter().collect()
    }

    /// Checks a Binding request and returns the success response to send
    /// back to `from`, with the events it caused.
    pub fn handle_binding_request(
        &mut self,
        datagram: &[u8],
        from: Tuple,
        now: Instant,
    ) -> Result<(Vec<u8>, Vec<IceEvent>), IceError> {
        if self.state == IceState::Closed {
            return Err(IceError::WrongUsername);
        }
        let mut request = Message::new();
        request.raw = datagram.to_vec();
        request
            .decode()
            .map_err(|e| IceError::Malformed(e.to_string()))?;
        if request.typ != BINDING_REQUEST {
            return Err(IceError::NotBindingRequest);
        }
        let username = TextAttribute::get_from_as(&request, ATTR_USERNAME)
            .map_err(|_| IceError::MissingUsername)?;
        let local_ufrag = username.text.split(':').next().unwrap_or_default();
        let pwd = if local_ufrag == self.credentials.ufrag {
            self.previous = None;
            self.credentials.pwd.clone()
        } else {
            match &self.previous {
                Some(previous) if previous.ufrag == local_ufrag => previous.pwd.clone(),
                _ => return Err(IceError::WrongUsername),
            }
        };
        FINGERPRINT
            .check(&request)
            .map_err(|_| IceError::BadFingerprint)?;
        let crypto = provider();
        MessageIntegrity::check(&mut request, pwd.as_bytes(), crypto.crypto())
            .map_err(|_| IceError::BadIntegrity)?;
        let nominated = request.contains(ATTR_USE_CANDIDATE);

        let mut response = Message::new();
        let integrity =
            MessageIntegrity::new_short_term_integrity_with_provider(pwd, crypto.crypto());
        let mapped = XorMappedAddress {
            ip: from.remote.ip(),
            port: from.remote.port(),
        };
        let setters: [Box<dyn Setter>; 5] = [
            Box::new(BINDING_SUCCESS),
            Box::new(request.transaction_id),
            Box::new(mapped),
            Box::new(integrity),
            Box::new(FINGERPRINT),
        ];
        response
            .build(&setters)
            .map_err(|e| IceError::Response(e.to_string()))?;

        self.last_consent = Some(now);
        let events = self.handle_tuple(from, nominated);
        Ok((response.raw, events))
    }

    fn handle_tuple(&mut self, tuple: Tuple, nominated: bool) -> Vec<IceEvent> {
        let mut events = Vec::new();
        if !self.tuples.contains(&tuple) {
            if self.tuples.len() == MAX_TUPLES {
                // Forget the oldest tuple that is not the selected one.
                if let Some(pos) = self.tuples.iter().position(|t| Some(*t) != self.selected) {
                    self.tuples.remove(pos);
                }
            }
            self.tuples.push(tuple);
        }
        let select = match self.state {
            // The first valid tuple is used until one is nominated.
            IceState::New | IceState::Disconnected => true,
            IceState::Connected => nominated || self.selected.is_none(),
            IceState::Completed => nominated,
            IceState::Closed => false,
        };
        if select && self.selected != Some(tuple) {
            self.selected = Some(tuple);
            events.push(IceEvent::SelectedTupleChanged(tuple));
        }
        let next = if nominated || self.state == IceState::Completed {
            IceState::Completed
        } else {
            IceState::Connected
        };
        events.extend(self.set_state(next));
        events
    }

    fn set_state(&mut self, state: IceState) -> Option<IceEvent> {
        (self.state != state).then(|| {
            self.state = state;
            IceEvent::StateChanged(state)
        })
    }

    /// When `handle_timeout` must next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.state {
            IceState::Connected | IceState::Completed => {
                self.last_consent.map(|t| t + self.consent_timeout)
            }
            _ => None,
        }
    }

    /// Consent freshness: without a valid Binding request for the consent
    /// timeout the transport is disconnected and keeps no selected tuple.
    pub fn handle_timeout(&mut self, now: Instant) -> Vec<IceEvent> {
        match self.poll_timeout() {
            Some(deadline) if now >= deadline => {
                self.selected = None;
                self.tuples.clear();
                self.set_state(IceState::Disconnected).into_iter().collect()
            }
            _ => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use stun::attributes::ATTR_PRIORITY;
    use stun::message::TransactionId;

    fn request(username: &str, pwd: &str, use_candidate: bool) -> Vec<u8> {
        let crypto = provider();
        let mut m = Message::new();
        let mut setters: Vec<Box<dyn Setter>> = vec![
            Box::new(BINDING_REQUEST),
            Box::new(TransactionId([7; 12])),
            Box::new(TextAttribute::new(ATTR_USERNAME, username.to_string())),
            Box::new(stun::attributes::RawAttribute {
                typ: ATTR_PRIORITY,
                length: 4,
                value: vec![0, 0, 0, 1],
            }),
        ];
        if use_candidate {
            setters.push(Box::new(stun::attributes::RawAttribute {
                typ: ATTR_USE_CANDIDATE,
                length: 0,
                value: vec![],
            }));
        }
        setters.push(Box::new(
            MessageIntegrity::new_short_term_integrity_with_provider(
                pwd.to_string(),
                crypto.crypto(),
            ),
        ));
        setters.push(Box::new(FINGERPRINT));
        m.build(&setters).unwrap();
        m.raw
    }

    fn tuple(port: u16) -> Tuple {
        Tuple {
            remote: SocketAddr::from(([127, 0, 0, 1], port)),
            protocol: Protocol::Udp,
        }
    }

    fn ice() -> IceLite {
        IceLite::new(
            IceCredentials {
                ufrag: "local".into(),
                pwd: "localpassword0123456789".into(),
            },
            Duration::from_secs(30),
        )
    }

    #[test]
    fn a_valid_request_is_answered_with_the_source_address() {
        let mut ice = ice();
        let now = Instant::now();
        let (response, events) = ice
            .handle_binding_request(
                &request("local:remote", "localpassword0123456789", false),
                tuple(5000),
                now,
            )
            .unwrap();
        assert_eq!(
            events,
            vec![
                IceEvent::SelectedTupleChanged(tuple(5000)),
                IceEvent::StateChanged(IceState::Connected)
            ]
        );
        let mut m = Message::new();
        m.raw = response;
        m.decode().unwrap();
        assert_eq!(m.typ, BINDING_SUCCESS);
        assert_eq!(m.transaction_id, TransactionId([7; 12]));
        let mut mapped = XorMappedAddress::default();
        mapped
            .get_from_as(&m, stun::attributes::ATTR_XORMAPPED_ADDRESS)
            .unwrap();
        assert_eq!(mapped.port, 5000);
        FINGERPRINT.check(&m).unwrap();
        MessageIntegrity::check(&mut m, b"localpassword0123456789", provider().crypto()).unwrap();
        assert_eq!(
            local_ufrag_of(&request("local:remote", "x", false)).as_deref(),
            Ok("local")
        );
    }

    #[test]
    fn the_public_request_builder_is_accepted() {
        let mut ice = ice();
        let request = binding_request("local:client", "localpassword0123456789", true);
        let (_, events) = ice
            .handle_binding_request(&request, tuple(9), Instant::now())
            .unwrap();
        assert!(events.contains(&IceEvent::StateChanged(IceState::Completed)));
    }

    #[test]
    fn nomination_completes_and_moves_the_selected_tuple() {
        let mut ice = ice();
        let now = Instant::now();
        let pwd = "localpassword0123456789";
        ice.handle_binding_request(&request("local:r", pwd, false), tuple(1), now)
            .unwrap();
        let (_, events) = ice
            .handle_binding_request(&request("local:r", pwd, true), tuple(2), now)
            .unwrap();
        assert_eq!(
            events,
            vec![
                IceEvent::SelectedTupleChanged(tuple(2)),
                IceEvent::StateChanged(IceState::Completed)
            ]
        );
        // An unnominated check from another tuple does not steal the selection.
        let (_, events) = ice
            .handle_binding_request(&request("local:r", pwd, false), tuple(3), now)
            .unwrap();
        assert!(events.is_empty());
        assert_eq!(ice.selected_tuple(), Some(tuple(2)));
        assert!(ice.is_valid_tuple(&tuple(3)));
        assert!(!ice.is_valid_tuple(&tuple(4)));
    }

    #[test]
    fn bad_requests_are_refused_with_a_reason() {
        let mut ice = ice();
        let now = Instant::now();
        let pwd = "localpassword0123456789";
        assert_eq!(
            ice.handle_binding_request(&request("other:r", pwd, false), tuple(1), now),
            Err(IceError::WrongUsername)
        );
        assert_eq!(
            ice.handle_binding_request(&request("local:r", "wrong-password", false), tuple(1), now),
            Err(IceError::BadIntegrity)
        );
        let mut tampered = request("local:r", pwd, false);
        let last = tampered.len() - 1;
        tampered[last] ^= 0xff;
        assert_eq!(
            ice.handle_binding_request(&tampered, tuple(1), now),
            Err(IceError::BadFingerprint)
        );
        assert!(matches!(
            ice.handle_binding_request(&tampered[..30], tuple(1), now),
            Err(IceError::Malformed(_))
        ));
        assert!(matches!(
            ice.handle_binding_request(&[0u8; 3], tuple(1), now),
            Err(IceError::Malformed(_))
        ));
        assert_eq!(ice.state(), IceState::New);
    }

    #[test]
    fn consent_expiry_disconnects_and_a_new_check_reconnects() {
        let mut ice = ice();
        let start = Instant::now();
        let pwd = "localpassword0123456789";
        ice.handle_binding_request(&request("local:r", pwd, true), tuple(1), start)
            .unwrap();
        assert!(ice
            .handle_timeout(start + Duration::from_secs(29))
            .is_empty());
        assert_eq!(
            ice.handle_timeout(start + Duration::from_secs(30)),
            vec![IceEvent::StateChanged(IceState::Disconnected)]
        );
        assert_eq!(ice.selected_tuple(), None);
        let (_, events) = ice
            .handle_binding_request(
                &request("local:r", pwd, true),
                tuple(1),
                start + Duration::from_secs(31),
            )
            .unwrap();
        assert!(events.contains(&IceEvent::StateChanged(IceState::Completed)));
    }

    #[test]
    fn restart_keeps_the_old_credentials_until_the_new_ones_are_used() {
        let mut ice = ice();
        let now = Instant::now();
        ice.restart(IceCredentials {
            ufrag: "fresh".into(),
            pwd: "freshpassword0123456789".into(),
        });
        assert!(ice
            .handle_binding_request(
                &request("local:r", "localpassword0123456789", false),
                tuple(1),
                now
            )
            .is_ok());
        assert!(ice
            .handle_binding_request(
                &request("fresh:r", "freshpassword0123456789", false),
                tuple(1),
                now
            )
            .is_ok());
        assert_eq!(
            ice.handle_binding_request(
                &request("local:r", "localpassword0123456789", false),
                tuple(1),
                now
            ),
            Err(IceError::WrongUsername)
        );
    }
}
