//! The send-side estimator fed what a real viewer's Chromium reported:
//! `recorded/` holds, for one transport of `tests/shaped_link.rs`, every
//! transport-wide numbered packet Troupe sent (`S ms number bytes`), each
//! transport-cc feedback as it came (`F ms base arrival_µs|- ...`) and each
//! probe that held (`P ms`), from 9 s to 52 s of a run (`RUST_LOG=
//! troupe::bwe_record=trace TROUPE_SHAPED_LOG=FILE`). The link was open
//! (1280 px simulcast at about 0.7 Mb/s), shrank to 250 kbit/s at about
//! 13.2 s and opened again at about 38.7 s. Replayed, the estimate is
//! what the live node had (188 kb/s at 14 s, for instance).

use std::time::{Duration, Instant};

use crate::bwe::send_side::SendSideEstimator;

const SIMULCAST_250KBIT: &str = include_str!("recorded/chromium_simulcast_250kbit.txt");
const SIMULCAST_SHRINKING: &str = include_str!("recorded/chromium_simulcast_shrinking.txt");

/// Replays a recording; the estimate after each step, by time (ms).
fn replay(recording: &str) -> Vec<(f64, Option<u64>)> {
    let epoch = Instant::now();
    let at = |ms: f64| epoch + Duration::from_secs_f64(ms / 1_000.0);
    let mut estimator = SendSideEstimator::new(epoch);
    let mut timeline = Vec::new();
    for line in recording.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let (Some(kind), Some(ms)) = (fields.first(), fields.get(1).and_then(|m| m.parse().ok()))
        else {
            panic!("bad line {line:?}");
        };
        match *kind {
            "S" => {
                let number: u16 = fields[2].parse().unwrap();
                let size: usize = fields[3].parse().unwrap();
                estimator.on_sent(number, size, at(ms));
            }
            "F" => {
                let base: u16 = fields[2].parse().unwrap();
                let arrivals: Vec<Option<i64>> =
                    fields[3..].iter().map(|a| a.parse().ok()).collect();
                estimator.on_feedback(base, &arrivals, at(ms));
            }
            "P" => estimator.on_probe_proven(),
            other => panic!("unknown record {other}"),
        }
        timeline.push((ms, estimator.estimate()));
    }
    timeline
}

/// The estimate last given at or before `ms`.
fn estimate_at(timeline: &[(f64, Option<u64>)], ms: f64) -> u64 {
    timeline
        .iter()
        .take_while(|(t, _)| *t <= ms)
        .filter_map(|(_, e)| *e)
        .last()
        .unwrap_or(0)
}

#[test]
fn a_link_shrinking_to_250_kbit_is_seen_within_a_second_and_followed() {
    let timeline = replay(SIMULCAST_250KBIT);
    // Open: the 0.7 Mb/s sent and room above it.
    assert!(estimate_at(&timeline, 13_000.0) > 1_000_000);
    // Shrunk at about 13.2 s: under the link within a second.
    assert!(estimate_at(&timeline, 14_300.0) < 250_000);
    // While thin, near the link: never collapsing, never above it.
    for ms in (16_000..38_000).step_by(500) {
        let estimate = estimate_at(&timeline, f64::from(ms));
        assert!(
            (100_000..300_000).contains(&estimate),
            "{estimate} at {ms} ms"
        );
    }
    // Open again at about 38.7 s: the probes that held lift it.
    assert!(estimate_at(&timeline, 51_000.0) > 700_000);
}

#[test]
fn a_stream_three_times_the_link_is_cut_within_half_a_second_of_its_losses() {
    // Another run, before a step down stopped the old stream at once: the
    // 1280 px stream went on into the shrunk link from about 13.25 s to
    // 13.75 s, losing 33 of 46 packets; the first losses were reported at
    // about 13.98 s (they only show once later packets cross the queue).
    let timeline = replay(SIMULCAST_SHRINKING);
    assert!(estimate_at(&timeline, 13_200.0) > 1_000_000);
    assert!(estimate_at(&timeline, 14_000.0) < 300_000);
    assert!(estimate_at(&timeline, 20_000.0) < 250_000);
}
