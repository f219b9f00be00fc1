use std::sync::{Arc, OnceLock};

use crypto::RTCCryptoProvider;

/// The process-wide crypto provider (ring), made once.
pub fn provider() -> Arc<dyn RTCCryptoProvider> {
    static PROVIDER: OnceLock<Arc<dyn RTCCryptoProvider>> = OnceLock::new();
    PROVIDER
        .get_or_init(|| {
            crypto::default_provider().expect("the ring crypto provider is compiled in")
        })
        .clone()
}
