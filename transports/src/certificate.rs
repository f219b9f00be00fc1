//! The node's DTLS certificate and its fingerprints as mediasoup's
//! `dtlsParameters.fingerprints` (uppercase hex with colons).

use dtls::crypto::Certificate;
use ring::digest;
use thiserror::Error;

use crate::crypto_provider::provider;

#[derive(Debug, Error)]
pub enum CertificateError {
    #[error("cannot generate a certificate: {0}")]
    Generate(String),
    #[error("cannot load the certificate: {0}")]
    Load(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprint {
    /// `sha-1`, `sha-256`, `sha-384` or `sha-512`.
    pub algorithm: String,
    pub value: String,
}

#[derive(Clone)]
pub struct DtlsCertificate {
    pub certificate: Certificate,
    pub fingerprints: Vec<Fingerprint>,
}

fn hash_algorithm(name: &str) -> Option<&'static digest::Algorithm> {
    match name.to_ascii_lowercase().as_str() {
        // SHA-1 is still a fingerprint algorithm of RFC 8122; it only
        // identifies a certificate here, it signs nothing.
        "sha-1" => Some(&digest::SHA1_FOR_LEGACY_USE_ONLY),
        "sha-256" => Some(&digest::SHA256),
        "sha-384" => Some(&digest::SHA384),
        "sha-512" => Some(&digest::SHA512),
        _ => None,
    }
}

/// The fingerprint of a DER certificate with the named algorithm.
pub fn fingerprint_of(der: &[u8], algorithm: &str) -> Option<String> {
    let digest = digest::digest(hash_algorithm(algorithm)?, der);
    Some(
        digest
            .as_ref()
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect::<Vec<_>>()
            .join(":"),
    )
}

impl DtlsCertificate {
    /// A fresh self-signed ECDSA P-256 certificate, as browsers make.
    pub fn generate() -> Result<Self, CertificateError> {
        let certificate =
            Certificate::generate_self_signed(vec!["troupe".to_string()], provider().crypto())
                .map_err(|e| CertificateError::Generate(e.to_string()))?;
        Ok(Self::with_fingerprints(certificate))
    }

    /// A certificate and its PKCS#8 key from PEM text.
    pub fn from_pem(certificate_pem: &str, key_pem: &str) -> Result<Self, CertificateError> {
        if key_pem.contains("BEGIN EC PRIVATE KEY") || key_pem.contains("BEGIN RSA PRIVATE KEY") {
            return Err(CertificateError::Load(
                "the key must be PKCS#8 (BEGIN PRIVATE KEY): convert it with `openssl pkcs8 -topk8 -nocrypt`".into(),
            ));
        }
        // rtc-dtls reads its own tag for PKCS#8 keys.
        let key_pem = key_pem
            .replace("BEGIN PRIVATE KEY", "BEGIN PRIVATE_KEY")
            .replace("END PRIVATE KEY", "END PRIVATE_KEY");
        let combined = format!("{key_pem}\n{certificate_pem}");
        let certificate = Certificate::from_pem(&combined, provider().crypto())
            .map_err(|e| CertificateError::Load(e.to_string()))?;
        Ok(Self::with_fingerprints(certificate))
    }

    fn with_fingerprints(certificate: Certificate) -> Self {
        let der = certificate
            .certificate
            .first()
            .map(|c| c.as_ref().to_vec())
            .unwrap_or_default();
        let fingerprints = ["sha-1", "sha-256", "sha-384", "sha-512"]
            .iter()
            .filter_map(|algorithm| {
                fingerprint_of(&der, algorithm).map(|value| Fingerprint {
                    algorithm: algorithm.to_string(),
                    value,
                })
            })
            .collect();
        DtlsCertificate {
            certificate,
            fingerprints,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pem_certificate_and_pkcs8_key_load_with_the_right_fingerprint() {
        // A P-256 key and self-signed certificate as `openssl req -x509`
        // and `openssl pkcs8 -topk8` make them.
        let generated = DtlsCertificate::generate().unwrap();
        let pem = generated.certificate.serialize_pem().unwrap();
        let (key, cert) = pem.split_at(pem.find("-----BEGIN CERTIFICATE-----").unwrap());
        let openssl_style_key = key.replace("PRIVATE_KEY", "PRIVATE KEY");
        let loaded = DtlsCertificate::from_pem(cert, &openssl_style_key).unwrap();
        assert_eq!(loaded.fingerprints, generated.fingerprints);
        assert!(DtlsCertificate::from_pem(cert, "-----BEGIN EC PRIVATE KEY-----\n").is_err());
    }

    #[test]
    fn fingerprints_are_uppercase_hex_with_colons() {
        let cert = DtlsCertificate::generate().unwrap();
        let algorithms: Vec<&str> = cert
            .fingerprints
            .iter()
            .map(|f| f.algorithm.as_str())
            .collect();
        assert_eq!(algorithms, ["sha-1", "sha-256", "sha-384", "sha-512"]);
        let sha256 = &cert.fingerprints[1].value;
        assert_eq!(sha256.len(), 32 * 3 - 1);
        assert!(sha256
            .chars()
            .all(|c| c == ':' || c.is_ascii_digit() || ('A'..='F').contains(&c)));
        assert_eq!(fingerprint_of(b"x", "md5"), None);
    }
}
