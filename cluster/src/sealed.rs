//! Pipe SRTP keys cross the control link sealed: AES-256-GCM under a key
//! derived (HKDF-SHA256) from the cluster secret. The link authenticates
//! both ends but is not encrypted, and a pipe's key must not be readable by
//! whoever can watch the network between nodes.

use base64::Engine;
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use ring::hkdf;
use ring::rand::{SecureRandom, SystemRandom};

pub struct KeySealer {
    key: LessSafeKey,
    random: SystemRandom,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("a sealed key that does not open with this cluster's secret")]
pub struct Unsealable;

/// Binds a sealed value to its purpose: it cannot be opened as anything else.
const CONTEXT: &[u8] = b"troupe pipe srtp key v1";

impl KeySealer {
    pub fn new(cluster_secret: &[u8]) -> Self {
        let salt = hkdf::Salt::new(hkdf::HKDF_SHA256, b"troupe-cluster");
        let mut key = [0u8; 32];
        // HKDF-Expand of 32 bytes cannot fail (limit: 255 × 32).
        if let Ok(okm) = salt
            .extract(cluster_secret)
            .expand(&[CONTEXT], hkdf::HKDF_SHA256)
        {
            let _ = okm.fill(&mut key);
        }
        let unbound = UnboundKey::new(&AES_256_GCM, &key)
            .unwrap_or_else(|_| unreachable!("a 32-byte key is what AES-256-GCM takes"));
        KeySealer {
            key: LessSafeKey::new(unbound),
            random: SystemRandom::new(),
        }
    }

    /// `base64(nonce ‖ ciphertext ‖ tag)` of `plain`.
    pub fn seal(&self, plain: &str) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        // The system RNG does not fail on Linux; a zero nonce would still
        // only repeat, not leak, within one process' few pipes.
        let _ = self.random.fill(&mut nonce);
        let mut sealed = plain.as_bytes().to_vec();
        let _ = self.key.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(CONTEXT),
            &mut sealed,
        );
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        base64::engine::general_purpose::STANDARD.encode(out)
    }

    pub fn open(&self, sealed: &str) -> Result<String, Unsealable> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(sealed)
            .map_err(|_| Unsealable)?;
        if bytes.len() < NONCE_LEN {
            return Err(Unsealable);
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| Unsealable)?;
        let mut buffer = ciphertext.to_vec();
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(CONTEXT), &mut buffer)
            .map_err(|_| Unsealable)?;
        String::from_utf8(plain.to_vec()).map_err(|_| Unsealable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_key_opens_with_the_same_secret_only() {
        let (ours, theirs) = (KeySealer::new(b"secret"), KeySealer::new(b"other"));
        let sealed = ours.seal("a2V5IG1hdGVyaWFs");
        assert!(!sealed.contains("a2V5IG1hdGVyaWFs"));
        assert_ne!(
            sealed,
            ours.seal("a2V5IG1hdGVyaWFs"),
            "a fresh nonce each time"
        );
        assert_eq!(
            KeySealer::new(b"secret").open(&sealed).unwrap(),
            "a2V5IG1hdGVyaWFs"
        );
        assert_eq!(theirs.open(&sealed), Err(Unsealable));
    }

    #[test]
    fn tampered_or_garbage_input_is_an_error_not_a_panic() {
        let sealer = KeySealer::new(b"secret");
        let mut bytes = base64::engine::general_purpose::STANDARD
            .decode(sealer.seal("key"))
            .unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        let tampered = base64::engine::general_purpose::STANDARD.encode(bytes);
        for input in [tampered.as_str(), "", "!!!", "AAAA"] {
            assert_eq!(sealer.open(input), Err(Unsealable), "{input:?}");
        }
    }
}
