//! The node-to-node control link's frames (MessagePack), as a node decodes
//! what a peer sends.
#![no_main]
use libfuzzer_sys::fuzz_target;
use troupe_cluster::protocol::Frame;

fuzz_target!(|data: &[u8]| {
    let _ = rmp_serde::from_slice::<Frame>(data);
});
