//! HTTPS for the API, the demo and the WebSockets: the configured PEM
//! certificate and key served with rustls (ring, as the control link), and
//! the client other nodes' HTTPS APIs are called with, which trusts the
//! certificates their member records pin rather than any CA.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// Makes ring the process's TLS provider. reqwest is built without a
/// provider of its own (no aws-lc); clients that do not bring their TLS
/// configuration (the OTLP exporter's) take the process default.
pub fn install_crypto_provider() {
    // Err: already installed, by an earlier call.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The server's TLS configuration and its certificate's fingerprint.
pub struct HttpsIdentity {
    pub server: rustls::ServerConfig,
    pub fingerprint: String,
}

/// Reads the certificate chain and key; the error names the file at fault.
pub fn load(
    certificate: &Path,
    private_key: &Path,
) -> Result<HttpsIdentity, (&'static str, String)> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(certificate)
        .and_then(|certs| certs.collect::<Result<_, _>>())
        .map_err(|e| ("tls_certificate", format!("{}: {e}", certificate.display())))?;
    let Some(leaf) = chain.first() else {
        return Err((
            "tls_certificate",
            format!("{}: no certificate in it", certificate.display()),
        ));
    };
    let fingerprint = troupe_cluster::link_tls::fingerprint(leaf);
    let key = PrivateKeyDer::from_pem_file(private_key)
        .map_err(|e| ("tls_private_key", format!("{}: {e}", private_key.display())))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut server = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ("tls_certificate", e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| {
            (
                "tls_private_key",
                format!("does not match the certificate: {e}"),
            )
        })?;
    server.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(HttpsIdentity {
        server,
        fingerprint,
    })
}
