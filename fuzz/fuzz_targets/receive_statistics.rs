//! A producer's reception statistics and NACK list fed random sequence
//! numbers and timestamps.
#![no_main]
use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use troupe_transports::receive_statistics::ReceiveStatistics;

fuzz_target!(|packets: Vec<(u16, u32, u8)>| {
    let mut statistics = ReceiveStatistics::new(90_000, true);
    let mut now = Instant::now();
    for (sequence, timestamp, after_ms) in packets.into_iter().take(8192) {
        now += Duration::from_millis(u64::from(after_ms));
        statistics.on_packet(sequence, timestamp, now);
        let _ = statistics.nacks_due(now);
    }
    let _ = statistics.report();
    assert!(statistics.lost() <= statistics.expected().max(statistics.lost()));
});
