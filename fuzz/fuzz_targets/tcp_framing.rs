//! RFC 4571 framing of ICE-TCP, fed in arbitrary chunks.
#![no_main]
use libfuzzer_sys::fuzz_target;
use troupe_transports::tcp_framing::{encode_frame, TcpFrameDecoder};

fuzz_target!(|data: &[u8]| {
    let mut decoder = TcpFrameDecoder::new(1500);
    for chunk in data.chunks(1 + data.first().map_or(0, |b| usize::from(*b % 64))) {
        decoder.push(chunk);
        loop {
            match decoder.next_frame() {
                Ok(Some(frame)) => {
                    let mut out = Vec::new();
                    encode_frame(&frame, &mut out).expect("a decoded frame encodes");
                }
                Ok(None) => break,
                Err(_) => return,
            }
        }
        assert!(
            decoder.buffered() <= 1500 + 2 + 64 + 1,
            "the decoder stays bounded"
        );
    }
});
