//! STUN as ICE-lite reads it: the ufrag lookup the shared port does first,
//! then a transport's handling of a Binding request (integrity, priority,
//! USE-CANDIDATE, roles).
#![no_main]
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use troupe_transports::ice_lite::{local_ufrag_of, IceCredentials, IceLite, Protocol, Tuple};

fuzz_target!(|data: &[u8]| {
    let _ = local_ufrag_of(data);
    let credentials = IceCredentials {
        ufrag: "fuzzufrag".into(),
        pwd: "fuzzpasswordfuzzpassword".into(),
    };
    let mut ice = IceLite::new(credentials, Duration::from_secs(30));
    let tuple = Tuple {
        remote: SocketAddr::from(([127, 0, 0, 1], 5000)),
        protocol: Protocol::Udp,
    };
    let now = Instant::now();
    let _ = ice.handle_binding_request(data, tuple, now);
    let _ = ice.handle_timeout(now + Duration::from_secs(31));
});
