//! SRTP and SRTCP unprotect with each crypto suite Troupe negotiates.
#![no_main]
use libfuzzer_sys::fuzz_target;
use troupe_transports::srtp_keys::{SrtpCryptoSuite, SrtpKey};

fuzz_target!(|data: &[u8]| {
    for suite in [
        SrtpCryptoSuite::AesCm128HmacSha1_80,
        SrtpCryptoSuite::AeadAes128Gcm,
    ] {
        let key = SrtpKey::generate(suite);
        let Ok(mut context) = key.context(true) else {
            return;
        };
        let _ = context.decrypt_rtp(data);
        let _ = context.decrypt_rtcp(data);
    }
});
