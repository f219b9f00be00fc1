//! SCTP packets (chunks of every type) at a data channel association: first
//! at one waiting for INIT, then at one already connected to a peer.
#![no_main]
use std::time::Instant;

use libfuzzer_sys::fuzz_target;
use troupe_transports::sctp_link::{SctpLink, SctpOptions};

/// Packets: a 2-byte length, then that many bytes.
fn packets(data: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = data;
    std::iter::from_fn(move || {
        if rest.len() < 2 {
            return None;
        }
        let length = usize::from(u16::from_be_bytes([rest[0], rest[1]])).min(rest.len() - 2);
        let (packet, tail) = rest[2..].split_at(length);
        rest = tail;
        Some(packet)
    })
}

fuzz_target!(|data: &[u8]| {
    let now = Instant::now();
    let mut waiting = SctpLink::accepting(SctpOptions::default());
    for packet in packets(data) {
        let _ = waiting.handle_packet(now, packet);
        let _ = waiting.poll_transmit(now);
    }
    // A connected pair, then the input at one end.
    let mut client = SctpLink::connecting(SctpOptions::default(), now);
    let mut server = SctpLink::accepting(SctpOptions::default());
    for _ in 0..8 {
        for p in client.poll_transmit(now) {
            server.handle_packet(now, &p);
        }
        for p in server.poll_transmit(now) {
            client.handle_packet(now, &p);
        }
    }
    for packet in packets(data) {
        let _ = server.handle_packet(now, packet);
        let _ = server.poll_transmit(now);
        let _ = server.handle_timeout(now + std::time::Duration::from_secs(3));
    }
});
