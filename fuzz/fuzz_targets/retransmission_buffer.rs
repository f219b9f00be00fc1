//! The retransmission buffer fed random stores, lookups and resends.
#![no_main]
use std::time::{Duration, Instant};

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use troupe_transports::retransmission_buffer::{rtx_packet, RetransmissionBuffer};

#[derive(Arbitrary, Debug)]
enum Step {
    Store {
        sequence: u16,
        packet: Vec<u8>,
    },
    Get {
        sequence: u16,
    },
    Resend {
        sequence: u16,
        after_ms: u16,
        rtt_ms: u16,
        payload_offset: u8,
    },
    Forget,
}

fuzz_target!(|input: (u8, Vec<Step>)| {
    let (capacity, steps) = input;
    let mut buffer = RetransmissionBuffer::new(usize::from(capacity));
    let mut now = Instant::now();
    for step in steps.into_iter().take(4096) {
        match step {
            Step::Store { sequence, packet } => buffer.store(sequence, &packet),
            Step::Get { sequence } => {
                let _ = buffer.get(sequence);
            }
            Step::Resend {
                sequence,
                after_ms,
                rtt_ms,
                payload_offset,
            } => {
                now += Duration::from_millis(u64::from(after_ms));
                if let Some(packet) =
                    buffer.resend(sequence, now, Duration::from_millis(u64::from(rtt_ms)))
                {
                    let packet = packet.to_vec();
                    let mut out = Vec::new();
                    rtx_packet(
                        &packet,
                        usize::from(payload_offset),
                        97,
                        1234,
                        sequence,
                        &mut out,
                    );
                }
            }
            Step::Forget => buffer.forget(),
        }
    }
});
