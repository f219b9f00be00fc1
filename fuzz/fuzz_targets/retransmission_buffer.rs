//! The retransmission buffer fed random stores, lookups and resends, and
//! its copies put back together from random payloads.
#![no_main]
use std::time::{Duration, Instant};

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use troupe_transports::retransmission_buffer::{
    reassemble, rtx_packet, RetransmissionBuffer, Source,
};

#[derive(Arbitrary, Debug)]
enum Step {
    Store {
        sequence: u16,
        /// Time since the step before (the ring grows by copies' ages).
        after_ms: u8,
        head: Vec<u8>,
        source_sequence: u16,
        payload_kept: u16,
    },
    Get {
        sequence: u16,
    },
    Resend {
        sequence: u16,
        after_ms: u16,
        rtt_ms: u16,
        payload_offset: u8,
        payload: Vec<u8>,
    },
    Forget,
}

fuzz_target!(|input: (u8, Vec<Step>)| {
    let (capacity, steps) = input;
    let mut buffer = RetransmissionBuffer::new(usize::from(capacity));
    let mut now = Instant::now();
    for step in steps.into_iter().take(4096) {
        match step {
            Step::Store {
                sequence,
                after_ms,
                head,
                source_sequence,
                payload_kept,
            } => {
                let source = Source {
                    encoding: 0,
                    sequence: source_sequence,
                    payload_kept,
                };
                now += Duration::from_millis(u64::from(after_ms));
                buffer.store(sequence, &head, source, now);
                // Inline or in the side table, the head comes back whole.
                assert_eq!(buffer.get(sequence), Some((&head[..], source)));
            }
            Step::Get { sequence } => {
                let _ = buffer.get(sequence);
            }
            Step::Resend {
                sequence,
                after_ms,
                rtt_ms,
                payload_offset,
                payload,
            } => {
                now += Duration::from_millis(u64::from(after_ms));
                if let Some((head, source)) =
                    buffer.resend(sequence, now, Duration::from_millis(u64::from(rtt_ms)))
                {
                    let mut packet = Vec::new();
                    if !reassemble(head, source, &payload, &mut packet) {
                        continue;
                    }
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
