//! The benchmark's smoke mode, as CI runs it: a few seconds against the
//! debug build, asserting that packets flow and a report comes out — never
//! a speed.

use std::time::Duration;

use troupe_bench::floor::{run_floor, Method};
use troupe_bench::{run, BenchConfig, Report};

#[test]
fn the_benchmark_runs_and_reports() {
    let report =
        run(&BenchConfig::smoke(env!("CARGO_BIN_EXE_troupe"))).expect("the smoke run completes");
    assert!(report.packets_forwarded > 0, "{report:?}");
    assert!(report.table_row().starts_with("| 4 | 300 |"));
    assert!(report.json_line().contains("\"cpuMicrosPerPacket\""));
    assert!(Report::TABLE_HEADER.contains("CPU µs/pkt"));
}

#[test]
fn the_srtp_variant_runs_and_reports() {
    let config = BenchConfig {
        srtp: true,
        ..BenchConfig::smoke(env!("CARGO_BIN_EXE_troupe"))
    };
    let report = run(&config).expect("the SRTP smoke run completes");
    // Counted only when the sink could unprotect it: SRTP end to end.
    assert!(report.packets_forwarded > 0, "{report:?}");
    assert!(report.json_line().contains("\"legs\":\"srtp\""));
}

#[test]
fn the_webrtc_consumer_variant_runs_and_reports() {
    let config = BenchConfig {
        webrtc: true,
        ..BenchConfig::smoke(env!("CARGO_BIN_EXE_troupe"))
    };
    let report = run(&config).expect("the WebRTC smoke run completes");
    // Counted only when the sink could unprotect it with the keys of its
    // DTLS handshake.
    assert!(report.packets_forwarded > 0, "{report:?}");
    assert!(report
        .json_line()
        .contains("\"consumerTransports\":\"webrtc\""));
    // Each far end's transport-cc feedback reached Troupe's estimator.
    assert_eq!(report.transports_estimating, report.consumers, "{report:?}");
}

#[test]
fn the_rtx_variant_runs_and_reports() {
    let config = BenchConfig {
        rtx: true,
        ..BenchConfig::smoke(env!("CARGO_BIN_EXE_troupe"))
    };
    let report = run(&config).expect("the RTX smoke run completes");
    assert!(report.packets_forwarded > 0, "{report:?}");
    assert!(report.json_line().contains("\"rtx\":true"));
}

#[test]
fn the_kernel_floor_runs_both_send_methods() {
    for method in [Method::SendTo, Method::SendMmsg] {
        let report = run_floor(
            4,
            300,
            method,
            Duration::from_millis(500),
            Duration::from_secs(1),
        )
        .expect("the floor run completes");
        assert!(report.copies_delivered > 0, "{}", report.table_row());
        assert!(report.json_line().contains("\"cpuMicrosPerCopy\""));
    }
}
