//! Compound RTCP as Troupe reads it from receivers and senders: SR, RR,
//! SDES, BYE, NACK, PLI, FIR, REMB, transport-cc feedback, XR, APP.
#![no_main]
use libfuzzer_sys::fuzz_target;
use troupe_transports::rtcp_feedback;

fuzz_target!(|data: &[u8]| {
    let _ = rtcp_feedback::parse(data);
});
