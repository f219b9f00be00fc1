//! One transport's DTLS 1.2 association (RFC 5763/5764): handshake in the
//! role mediasoup would take, the peer's certificate checked against the
//! fingerprint it announced, SRTP keys exported when done.
//!
//! rtc-dtls's `Endpoint` keys associations by remote address; an ICE tuple
//! can change and ICE-TCP has no stable address, so each session keeps its
//! own endpoint with one association under a fixed key.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::BytesMut;
use dtls::config::{
    ClientAuthType, ConfigBuilder, ExtendedMasterSecretType, VerifyPeerCertificateFn,
};
use dtls::endpoint::{Endpoint, EndpointEvent};
use dtls::extension::extension_use_srtp::SrtpProtectionProfile;
use shared::TransportProtocol;
use srtp::context::Context;
use srtp::protection_profile::ProtectionProfile;
use thiserror::Error;

use crate::certificate::{fingerprint_of, DtlsCertificate, Fingerprint};
use crate::crypto_provider::provider;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DtlsRole {
    Client,
    Server,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DtlsState {
    New,
    Connecting,
    Connected,
    Failed,
    Closed,
}

impl DtlsState {
    pub fn as_str(&self) -> &'static str {
        match self {
            DtlsState::New => "new",
            DtlsState::Connecting => "connecting",
            DtlsState::Connected => "connected",
            DtlsState::Failed => "failed",
            DtlsState::Closed => "closed",
        }
    }
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum DtlsError {
    #[error("invalid DTLS configuration: {0}")]
    Config(String),
    #[error("DTLS handshake failed: {0}")]
    Handshake(String),
    #[error("cannot derive SRTP keys: {0}")]
    Keys(String),
}

/// The SRTP contexts of a connected session: one to protect what we send,
/// one to unprotect what we receive.
pub struct SrtpContexts {
    pub profile: ProtectionProfile,
    pub local: Context,
    pub remote: Context,
}

pub enum DtlsEvent {
    Connected(Box<SrtpContexts>),
    /// Decrypted application data: SCTP packets of data channels.
    ApplicationData(Vec<u8>),
    Failed(String),
    Closed,
}

/// Profiles offered, best first: AEAD_AES_128_GCM costs about half as much
/// CPU per packet as AES_CM_128_HMAC_SHA1_80 here.
const PROFILES: [SrtpProtectionProfile; 2] = [
    SrtpProtectionProfile::Srtp_Aead_Aes_128_Gcm,
    SrtpProtectionProfile::Srtp_Aes128_Cm_Hmac_Sha1_80,
];

/// Replay windows for SRTP and SRTCP, as libsrtp's defaults.
const REPLAY_WINDOW: usize = 128;

fn association_key() -> SocketAddr {
    SocketAddr::from(([0, 0, 0, 1], 1))
}

pub struct DtlsSession {
    endpoint: Endpoint,
    role: DtlsRole,
    state: DtlsState,
    client_config: Option<Arc<dtls::config::HandshakeConfig>>,
    /// Why the fingerprint check refused the peer, if it did.
    verify_failure: Arc<Mutex<Option<String>>>,
}

impl DtlsSession {
    /// A session that will authenticate the peer by `remote_fingerprints`.
    pub fn new(
        certificate: &DtlsCertificate,
        role: DtlsRole,
        remote_fingerprints: Vec<Fingerprint>,
    ) -> Result<Self, DtlsError> {
        if remote_fingerprints.is_empty() {
            return Err(DtlsError::Config("no remote fingerprint given".into()));
        }
        // RFC 8122 §5: fingerprints with a hash function we lack are
        // ignored (mediasoup offers sha-224 beside sha-256); only a peer
        // none of whose fingerprints we can check is refused.
        let (remote_fingerprints, unsupported): (Vec<Fingerprint>, Vec<Fingerprint>) =
            remote_fingerprints
                .into_iter()
                .partition(|f| fingerprint_of(b"", &f.algorithm).is_some());
        if remote_fingerprints.is_empty() {
            let algorithms: Vec<&str> = unsupported.iter().map(|f| f.algorithm.as_str()).collect();
            return Err(DtlsError::Config(format!(
                "unsupported fingerprint algorithms {algorithms:?}"
            )));
        }
        let verify_failure = Arc::new(Mutex::new(None));
        let failure = verify_failure.clone();
        let verify: VerifyPeerCertificateFn = Arc::new(move |certs, _| {
            let matched = certs.first().is_some_and(|der| {
                remote_fingerprints.iter().any(|f| {
                    fingerprint_of(der, &f.algorithm)
                        .is_some_and(|v| v.eq_ignore_ascii_case(&f.value))
                })
            });
            if matched {
                Ok(())
            } else {
                if let Ok(mut slot) = failure.lock() {
                    *slot = Some("the peer's certificate does not match its fingerprint".into());
                }
                Err(shared::error::Error::ErrNoMatchingCertificateFingerprint)
            }
        });
        let config = ConfigBuilder::default()
            .with_crypto_provider(provider())
            .with_certificates(vec![certificate.certificate.clone()])
            .with_srtp_protection_profiles(PROFILES.to_vec())
            .with_client_auth(ClientAuthType::RequireAnyClientCert)
            .with_insecure_skip_verify(true)
            .with_verify_peer_certificate(Some(verify))
            .with_extended_master_secret(ExtendedMasterSecretType::Require)
            .build(role == DtlsRole::Client, None)
            .map_err(|e| DtlsError::Config(e.to_string()))?;
        let config = Arc::new(config);
        let local = SocketAddr::from(([0, 0, 0, 0], 0));
        let (endpoint, client_config) = match role {
            DtlsRole::Server => (
                Endpoint::new(local, TransportProtocol::UDP, Some(config)),
                None,
            ),
            DtlsRole::Client => (
                Endpoint::new(local, TransportProtocol::UDP, None),
                Some(config),
            ),
        };
        Ok(DtlsSession {
            endpoint,
            role,
            state: DtlsState::New,
            client_config,
            verify_failure,
        })
    }

    pub fn state(&self) -> DtlsState {
        self.state
    }

    pub fn role(&self) -> DtlsRole {
        self.role
    }

    /// Starts the handshake: the client sends its ClientHello now; the
    /// server waits for one.
    pub fn start(&mut self, now: Instant) -> Result<(), DtlsError> {
        if self.state != DtlsState::New {
            return Ok(());
        }
        self.state = DtlsState::Connecting;
        if let Some(config) = self.client_config.clone() {
            self.endpoint
                .connect(now, association_key(), config, None)
                .map_err(|e| self.fail(e.to_string()))?;
        }
        Ok(())
    }

    fn fail(&mut self, reason: String) -> DtlsError {
        self.state = DtlsState::Failed;
        let reason = self
            .verify_failure
            .lock()
            .ok()
            .and_then(|f| f.clone())
            .unwrap_or(reason);
        DtlsError::Handshake(reason)
    }

    /// Feeds one DTLS datagram from the peer.
    pub fn handle_datagram(&mut self, now: Instant, datagram: &[u8]) -> Vec<DtlsEvent> {
        if matches!(self.state, DtlsState::Failed | DtlsState::Closed) {
            return Vec::new();
        }
        if self.state == DtlsState::New {
            self.state = DtlsState::Connecting;
        }
        let result = self
            .endpoint
            .read(now, association_key(), None, BytesMut::from(datagram));
        let mut out = Vec::new();
        match result {
            Ok(events) => {
                for event in events {
                    match event {
                        EndpointEvent::HandshakeComplete => match self.srtp_contexts() {
                            Ok(contexts) => {
                                self.state = DtlsState::Connected;
                                out.push(DtlsEvent::Connected(Box::new(contexts)));
                            }
                            Err(e) => {
                                self.state = DtlsState::Failed;
                                out.push(DtlsEvent::Failed(e.to_string()));
                            }
                        },
                        EndpointEvent::PeerClosed => {
                            self.state = DtlsState::Closed;
                            out.push(DtlsEvent::Closed);
                        }
                        EndpointEvent::ApplicationData(data) => {
                            out.push(DtlsEvent::ApplicationData(data.to_vec()))
                        }
                        _ => {}
                    }
                }
            }
            Err(e) => {
                // Before the handshake completes any error is fatal; after
                // it, a bad record is dropped and the session goes on.
                if self.state != DtlsState::Connected {
                    let error = self.fail(e.to_string());
                    out.push(DtlsEvent::Failed(error.to_string()));
                }
            }
        }
        out
    }

    fn srtp_contexts(&self) -> Result<SrtpContexts, DtlsError> {
        let keys_error = |e: &dyn std::fmt::Display| DtlsError::Keys(e.to_string());
        let state = self
            .endpoint
            .get_connection_state(association_key())
            .ok_or_else(|| DtlsError::Keys("no association".into()))?;
        let profile = match state.srtp_protection_profile() {
            SrtpProtectionProfile::Srtp_Aead_Aes_128_Gcm => ProtectionProfile::AeadAes128Gcm,
            SrtpProtectionProfile::Srtp_Aes128_Cm_Hmac_Sha1_80 => {
                ProtectionProfile::Aes128CmHmacSha1_80
            }
            other => {
                return Err(DtlsError::Keys(format!(
                    "unexpected SRTP profile {other:?}"
                )))
            }
        };
        let mut config = srtp::config::Config {
            profile,
            ..Default::default()
        };
        let material = state
            .export_keying_material(
                srtp::config::LABEL_EXTRACTOR_DTLS_SRTP,
                &[],
                config.keying_material_len(),
            )
            .map_err(|e| keys_error(&e))?;
        config
            .set_session_keys_from_keying_material(material.as_ref(), state.is_client())
            .map_err(|e| keys_error(&e))?;
        let crypto = provider();
        let local = Context::new(
            &config.keys.local_master_key,
            &config.keys.local_master_salt,
            profile,
            None,
            None,
            crypto.crypto(),
        )
        .map_err(|e| keys_error(&e))?;
        let remote = Context::new(
            &config.keys.remote_master_key,
            &config.keys.remote_master_salt,
            profile,
            Some(srtp::option::srtp_replay_protection(REPLAY_WINDOW)),
            Some(srtp::option::srtcp_replay_protection(REPLAY_WINDOW)),
            crypto.crypto(),
        )
        .map_err(|e| keys_error(&e))?;
        Ok(SrtpContexts {
            profile,
            local,
            remote,
        })
    }

    /// Encrypts application data (an SCTP packet) for the peer; the record
    /// is then in `poll_transmit`.
    pub fn write(&mut self, now: Instant, data: &[u8]) -> Result<(), DtlsError> {
        if self.state != DtlsState::Connected {
            return Err(DtlsError::Config("DTLS is not connected".into()));
        }
        self.endpoint
            .write(now, association_key(), data)
            .map_err(|e| DtlsError::Handshake(e.to_string()))
    }

    /// The next datagram to send to the peer.
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.endpoint.poll_transmit().map(|m| m.message.to_vec())
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        self.endpoint.poll_timeout(&association_key())
    }

    /// Drives handshake retransmissions; a handshake out of retries fails.
    pub fn handle_timeout(&mut self, now: Instant) -> Vec<DtlsEvent> {
        match self.endpoint.handle_timeout(association_key(), now) {
            Ok(()) => Vec::new(),
            Err(e) if self.state == DtlsState::Connecting => {
                let error = self.fail(e.to_string());
                vec![DtlsEvent::Failed(error.to_string())]
            }
            Err(_) => Vec::new(),
        }
    }

    /// Sends close_notify.
    pub fn close(&mut self, now: Instant) {
        if self.state != DtlsState::Closed {
            self.endpoint.stop(now, association_key());
            self.state = DtlsState::Closed;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pump(
        a: &mut DtlsSession,
        b: &mut DtlsSession,
        now: Instant,
    ) -> (Vec<DtlsEvent>, Vec<DtlsEvent>) {
        let (mut a_events, mut b_events) = (Vec::new(), Vec::new());
        for _ in 0..50 {
            let mut moved = false;
            while let Some(d) = a.poll_transmit() {
                b_events.extend(b.handle_datagram(now, &d));
                moved = true;
            }
            while let Some(d) = b.poll_transmit() {
                a_events.extend(a.handle_datagram(now, &d));
                moved = true;
            }
            if !moved {
                break;
            }
        }
        (a_events, b_events)
    }

    #[test]
    fn a_handshake_yields_matching_srtp_contexts() {
        let (server_cert, client_cert) = (
            DtlsCertificate::generate().unwrap(),
            DtlsCertificate::generate().unwrap(),
        );
        let mut server = DtlsSession::new(
            &server_cert,
            DtlsRole::Server,
            client_cert.fingerprints[1..2].to_vec(),
        )
        .unwrap();
        let mut client = DtlsSession::new(
            &client_cert,
            DtlsRole::Client,
            server_cert.fingerprints.clone(),
        )
        .unwrap();
        let now = Instant::now();
        server.start(now).unwrap();
        client.start(now).unwrap();
        let (server_events, client_events) = pump(&mut server, &mut client, now);
        let take = |events: Vec<DtlsEvent>| {
            events.into_iter().find_map(|e| match e {
                DtlsEvent::Connected(c) => Some(c),
                _ => None,
            })
        };
        let mut s = take(server_events).expect("server connected");
        let mut c = take(client_events).expect("client connected");
        assert!(matches!(s.profile, ProtectionProfile::AeadAes128Gcm));
        assert_eq!(server.state(), DtlsState::Connected);
        // What the client protects, the server unprotects, and back.
        let rtp = [
            0x80u8, 96, 0, 1, 0, 0, 0, 1, 0, 0, 0, 9, 0xde, 0xad, 0xbe, 0xef,
        ];
        let protected = c.local.encrypt_rtp(&rtp).unwrap();
        assert_eq!(&s.remote.decrypt_rtp(&protected).unwrap()[..], &rtp[..]);
        // A replay is refused.
        assert!(s.remote.decrypt_rtp(&protected).is_err());
        let protected = s.local.encrypt_rtp(&rtp).unwrap();
        assert_eq!(&c.remote.decrypt_rtp(&protected).unwrap()[..], &rtp[..]);
    }

    #[test]
    fn a_wrong_fingerprint_fails_the_handshake() {
        let (server_cert, client_cert) = (
            DtlsCertificate::generate().unwrap(),
            DtlsCertificate::generate().unwrap(),
        );
        let impostor = DtlsCertificate::generate().unwrap();
        let mut server = DtlsSession::new(
            &server_cert,
            DtlsRole::Server,
            impostor.fingerprints.clone(),
        )
        .unwrap();
        let mut client = DtlsSession::new(
            &client_cert,
            DtlsRole::Client,
            server_cert.fingerprints.clone(),
        )
        .unwrap();
        let now = Instant::now();
        client.start(now).unwrap();
        let (server_events, _) = pump(&mut server, &mut client, now);
        let failure = server_events.iter().find_map(|e| match e {
            DtlsEvent::Failed(reason) => Some(reason.clone()),
            _ => None,
        });
        assert!(failure.expect("server failed").contains("fingerprint"));
        assert_eq!(server.state(), DtlsState::Failed);
    }

    #[test]
    fn garbage_fails_a_handshake_without_panicking() {
        let cert = DtlsCertificate::generate().unwrap();
        let mut server =
            DtlsSession::new(&cert, DtlsRole::Server, cert.fingerprints.clone()).unwrap();
        let events = server.handle_datagram(
            Instant::now(),
            &[22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 50, 1, 2],
        );
        assert!(events.iter().all(|e| matches!(e, DtlsEvent::Failed(_))));
        let bad = vec![Fingerprint {
            algorithm: "md5".into(),
            value: "00".into(),
        }];
        assert!(DtlsSession::new(&cert, DtlsRole::Server, bad).is_err());
    }

    #[test]
    fn a_fingerprint_of_an_unknown_hash_beside_a_known_one_is_ignored() {
        let (server_cert, client_cert) = (
            DtlsCertificate::generate().unwrap(),
            DtlsCertificate::generate().unwrap(),
        );
        // As mediasoup's dtlsParameters list them: sha-224 among the rest.
        let mut offered = vec![Fingerprint {
            algorithm: "sha-224".into(),
            value: "00:11".into(),
        }];
        offered.extend(server_cert.fingerprints.iter().cloned());
        let mut server = DtlsSession::new(
            &server_cert,
            DtlsRole::Server,
            client_cert.fingerprints.clone(),
        )
        .unwrap();
        let mut client = DtlsSession::new(&client_cert, DtlsRole::Client, offered).unwrap();
        let now = Instant::now();
        server.start(now).unwrap();
        client.start(now).unwrap();
        let (_, client_events) = pump(&mut server, &mut client, now);
        assert!(client_events
            .iter()
            .any(|e| matches!(e, DtlsEvent::Connected(_))));
    }

    #[test]
    fn an_unknown_hash_alone_is_refused_by_name() {
        let cert = DtlsCertificate::generate().unwrap();
        let only_unknown = vec![Fingerprint {
            algorithm: "sha-224".into(),
            value: "00".into(),
        }];
        let error = DtlsSession::new(&cert, DtlsRole::Client, only_unknown)
            .err()
            .unwrap();
        assert!(error.to_string().contains("sha-224"), "{error}");
    }
}
