//! TLS for the node-to-node control link (rustls): each node has a
//! certificate (configured, or self-signed at start) and publishes its
//! SHA-256 fingerprint in its member record; a node dialling a peer accepts exactly the
//! certificate whose fingerprint the peer's record names (pinning, no CA).
//! The cluster-secret proof inside the link stays: TLS hides what crosses,
//! the proof says who may ask.

use std::fmt::Write;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, ServerConfig, SignatureScheme};

/// The name every node's certificate carries; identity is the fingerprint.
pub const CONTROL_SERVER_NAME: &str = "troupe-control";

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// SHA-256 of a certificate, as lowercase hex pairs joined by colons (the
/// form DTLS fingerprints take too).
pub fn fingerprint(der: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, der);
    let mut out = String::with_capacity(95);
    for (i, byte) in digest.as_ref().iter().enumerate() {
        if i > 0 {
            out.push(':');
        }
        let _ = write!(out, "{byte:02x}");
    }
    out
}

/// This node's side of the link's TLS.
pub struct ControlIdentity {
    pub fingerprint: String,
    server: Arc<ServerConfig>,
}

impl ControlIdentity {
    pub fn generate() -> Result<ControlIdentity, String> {
        let key = rcgen::KeyPair::generate().map_err(|e| e.to_string())?;
        let params = rcgen::CertificateParams::new(vec![CONTROL_SERVER_NAME.to_string()])
            .map_err(|e| e.to_string())?;
        let certificate = params.self_signed(&key).map_err(|e| e.to_string())?;
        let der = certificate.der().clone();
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        Self::serving(vec![der], key)
    }

    /// A configured certificate (the leaf first, as PEM) and its key.
    /// Peers pin the leaf's fingerprint, so its names and issuer do not
    /// matter; an error says which of the two files is at fault.
    pub fn from_pem_files(
        certificate: &std::path::Path,
        private_key: &std::path::Path,
    ) -> Result<ControlIdentity, (&'static str, String)> {
        use rustls::pki_types::pem::PemObject;
        let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(certificate)
            .and_then(|certs| certs.collect::<Result<_, _>>())
            .map_err(|e| {
                (
                    "control_certificate",
                    format!("{}: {e}", certificate.display()),
                )
            })?;
        if chain.is_empty() {
            return Err((
                "control_certificate",
                format!("{}: no certificate in it", certificate.display()),
            ));
        }
        let key = PrivateKeyDer::from_pem_file(private_key).map_err(|e| {
            (
                "control_private_key",
                format!("{}: {e}", private_key.display()),
            )
        })?;
        Self::serving(chain, key).map_err(|e| {
            (
                "control_private_key",
                format!("does not match the certificate: {e}"),
            )
        })
    }

    fn serving(
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
    ) -> Result<ControlIdentity, String> {
        let leaf_fingerprint = fingerprint(&chain[0]);
        let server = ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(|e| e.to_string())?;
        Ok(ControlIdentity {
            fingerprint: leaf_fingerprint,
            server: Arc::new(server),
        })
    }

    pub fn acceptor(&self) -> tokio_rustls::TlsAcceptor {
        tokio_rustls::TlsAcceptor::from(self.server.clone())
    }
}

/// A connector that accepts only the certificate with this fingerprint.
pub fn connector(expected_fingerprint: &str) -> Result<tokio_rustls::TlsConnector, String> {
    let expected = expected_fingerprint.to_ascii_lowercase();
    let config = pinned_client_config(Arc::new(move |seen: &str| seen == expected))?;
    Ok(tokio_rustls::TlsConnector::from(Arc::new(config)))
}

/// Which certificate fingerprints a pinned client accepts.
pub type AcceptedFingerprints = Arc<dyn Fn(&str) -> bool + Send + Sync>;

/// A TLS client configuration that trusts no CA, only certificates whose
/// SHA-256 fingerprint `accepts` names (a member record's).
pub fn pinned_client_config(accepts: AcceptedFingerprints) -> Result<ClientConfig, String> {
    let verifier = Arc::new(PinnedCertificate {
        accepts,
        provider: provider(),
    });
    Ok(ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth())
}

pub fn server_name() -> ServerName<'static> {
    ServerName::try_from(CONTROL_SERVER_NAME).expect("a valid DNS name")
}

struct PinnedCertificate {
    accepts: AcceptedFingerprints,
    provider: Arc<CryptoProvider>,
}

impl std::fmt::Debug for PinnedCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PinnedCertificate")
    }
}

impl ServerCertVerifier for PinnedCertificate {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if (self.accepts)(&fingerprint(end_entity)) {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::General(
                "the peer's certificate is not one its member record names".into(),
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pem_files(dir: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf, String) {
        let key = rcgen::KeyPair::generate().unwrap();
        let certificate = rcgen::CertificateParams::new(vec!["node.example".to_string()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let (cert_path, key_path) = (dir.join("cert.pem"), dir.join("key.pem"));
        std::fs::write(&cert_path, certificate.pem()).unwrap();
        std::fs::write(&key_path, key.serialize_pem()).unwrap();
        (cert_path, key_path, fingerprint(certificate.der()))
    }

    #[test]
    fn a_configured_certificate_is_served_and_its_fingerprint_published() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key, expected) = pem_files(dir.path());
        let identity = ControlIdentity::from_pem_files(&cert, &key).unwrap();
        assert_eq!(identity.fingerprint, expected);
    }

    #[test]
    fn bad_files_name_the_field_at_fault() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, _, _) = pem_files(dir.path());
        let other = tempfile::tempdir().unwrap();
        let (_, other_key, _) = pem_files(other.path());
        let field = |c: &std::path::Path, k: &std::path::Path| {
            ControlIdentity::from_pem_files(c, k).err().map(|(f, _)| f)
        };
        assert_eq!(field(&cert, &other_key), Some("control_private_key"));
        let garbage = dir.path().join("garbage.pem");
        std::fs::write(&garbage, "not a certificate").unwrap();
        assert_eq!(field(&garbage, &other_key), Some("control_certificate"));
        assert_eq!(field(&cert, &garbage), Some("control_private_key"));
    }
}
