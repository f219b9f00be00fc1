//! SRTP keyed by signalling rather than DTLS (mediasoup's
//! `srtpParameters {cryptoSuite, keyBase64}`), as plain and pipe transports
//! and tools like ffmpeg use: the master key and salt, concatenated, in
//! base64.

use std::fmt;
use std::str::FromStr;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
pub use srtp::context::Context;
use srtp::protection_profile::ProtectionProfile;
use thiserror::Error;

use crate::crypto_provider::provider;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SrtpCryptoSuite {
    AesCm128HmacSha1_80,
    AesCm128HmacSha1_32,
    AeadAes128Gcm,
    AeadAes256Gcm,
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum SrtpKeyError {
    #[error("unknown crypto suite {0:?}: use AES_CM_128_HMAC_SHA1_80, AES_CM_128_HMAC_SHA1_32, AEAD_AES_128_GCM or AEAD_AES_256_GCM")]
    UnknownSuite(String),
    #[error("keyBase64 is not base64")]
    NotBase64,
    #[error("keyBase64 holds {got} bytes; {suite} needs {want} (key and salt)")]
    WrongLength {
        suite: String,
        got: usize,
        want: usize,
    },
    #[error("cannot create the SRTP context: {0}")]
    Context(String),
}

impl SrtpCryptoSuite {
    pub fn name(&self) -> &'static str {
        match self {
            SrtpCryptoSuite::AesCm128HmacSha1_80 => "AES_CM_128_HMAC_SHA1_80",
            SrtpCryptoSuite::AesCm128HmacSha1_32 => "AES_CM_128_HMAC_SHA1_32",
            SrtpCryptoSuite::AeadAes128Gcm => "AEAD_AES_128_GCM",
            SrtpCryptoSuite::AeadAes256Gcm => "AEAD_AES_256_GCM",
        }
    }

    fn profile(&self) -> ProtectionProfile {
        match self {
            SrtpCryptoSuite::AesCm128HmacSha1_80 => ProtectionProfile::Aes128CmHmacSha1_80,
            SrtpCryptoSuite::AesCm128HmacSha1_32 => ProtectionProfile::Aes128CmHmacSha1_32,
            SrtpCryptoSuite::AeadAes128Gcm => ProtectionProfile::AeadAes128Gcm,
            SrtpCryptoSuite::AeadAes256Gcm => ProtectionProfile::AeadAes256Gcm,
        }
    }

    /// Bytes of master key plus master salt.
    pub fn key_length(&self) -> usize {
        let p = self.profile();
        p.key_len() + p.salt_len()
    }
}

impl fmt::Display for SrtpCryptoSuite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for SrtpCryptoSuite {
    type Err = SrtpKeyError;
    fn from_str(s: &str) -> Result<Self, SrtpKeyError> {
        [
            SrtpCryptoSuite::AesCm128HmacSha1_80,
            SrtpCryptoSuite::AesCm128HmacSha1_32,
            SrtpCryptoSuite::AeadAes128Gcm,
            SrtpCryptoSuite::AeadAes256Gcm,
        ]
        .into_iter()
        .find(|suite| suite.name() == s)
        .ok_or_else(|| SrtpKeyError::UnknownSuite(s.to_string()))
    }
}

/// The metric reason for a packet SRTP refused to unprotect: a replay, or
/// anything else (bad auth tag, too short, unknown context).
pub fn unprotect_failure_reason(error: &shared::error::Error) -> &'static str {
    match error {
        shared::error::Error::SrtpSsrcDuplicated(..)
        | shared::error::Error::SrtcpSsrcDuplicated(..) => "srtp_replay",
        _ => "srtp_auth",
    }
}

#[derive(Clone, PartialEq, Eq)]
pub struct SrtpKey {
    pub suite: SrtpCryptoSuite,
    key_and_salt: Vec<u8>,
}

impl fmt::Debug for SrtpKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SrtpKey({}, <redacted>)", self.suite)
    }
}

impl SrtpKey {
    pub fn generate(suite: SrtpCryptoSuite) -> Self {
        SrtpKey {
            suite,
            key_and_salt: (0..suite.key_length()).map(|_| rand::random()).collect(),
        }
    }

    pub fn from_base64(suite: SrtpCryptoSuite, key_base64: &str) -> Result<Self, SrtpKeyError> {
        let key_and_salt = STANDARD
            .decode(key_base64.trim())
            .map_err(|_| SrtpKeyError::NotBase64)?;
        if key_and_salt.len() != suite.key_length() {
            return Err(SrtpKeyError::WrongLength {
                suite: suite.name().into(),
                got: key_and_salt.len(),
                want: suite.key_length(),
            });
        }
        Ok(SrtpKey {
            suite,
            key_and_salt,
        })
    }

    pub fn to_base64(&self) -> String {
        STANDARD.encode(&self.key_and_salt)
    }

    /// A context for this key; `replay_protection` for the receiving side.
    pub fn context(&self, replay_protection: bool) -> Result<Context, SrtpKeyError> {
        let profile = self.suite.profile();
        let (key, salt) = self.key_and_salt.split_at(profile.key_len());
        let (rtp, rtcp) = if replay_protection {
            (
                Some(srtp::option::srtp_replay_protection(128)),
                Some(srtp::option::srtcp_replay_protection(128)),
            )
        } else {
            (None, None)
        };
        Context::new(key, salt, profile, rtp, rtcp, provider().crypto())
            .map_err(|e| SrtpKeyError::Context(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_suite_round_trips_through_its_context() {
        for name in [
            "AES_CM_128_HMAC_SHA1_80",
            "AES_CM_128_HMAC_SHA1_32",
            "AEAD_AES_128_GCM",
            "AEAD_AES_256_GCM",
        ] {
            let suite: SrtpCryptoSuite = name.parse().unwrap();
            let key = SrtpKey::generate(suite);
            let again = SrtpKey::from_base64(suite, &key.to_base64()).unwrap();
            let rtp = [0x80u8, 96, 0, 1, 0, 0, 0, 1, 0, 0, 0, 9, 1, 2, 3, 4];
            let protected = key.context(false).unwrap().encrypt_rtp(&rtp).unwrap();
            assert_eq!(
                &again
                    .context(true)
                    .unwrap()
                    .decrypt_rtp(&protected)
                    .unwrap()[..],
                &rtp[..],
                "{name}"
            );
        }
    }

    #[test]
    fn bad_keys_say_why() {
        assert!(matches!(
            "ROT13".parse::<SrtpCryptoSuite>(),
            Err(SrtpKeyError::UnknownSuite(_))
        ));
        let suite = SrtpCryptoSuite::AesCm128HmacSha1_80;
        assert_eq!(
            SrtpKey::from_base64(suite, "!!!"),
            Err(SrtpKeyError::NotBase64)
        );
        assert!(matches!(
            SrtpKey::from_base64(suite, "AAAA"),
            Err(SrtpKeyError::WrongLength {
                got: 3,
                want: 30,
                ..
            })
        ));
    }
}
