//! `cargo run --release -p troupe-bench -- [--smoke] [--srtp] [--webrtc] [--shared-port] [--rtx] [--floor] [--capacity N] [--pin] [--window S] [--append FILE] [--troupe PATH | --mediasoup] [N:R ...]`
//!
//! Each N:R runs N consumers of one producer sending R packets/s, against a
//! fresh Troupe, bracketed by the same fan-out through a bare `sendmmsg`
//! forwarder (a run before, one after), and prints a Markdown table row
//! (with Troupe ÷ that floor's mean) and a JSON line. `--floor` runs only
//! the bare forwarder (no Troupe): one `sendto` per copy, io_uring sends
//! from a socket per copy, and `sendmmsg`. `--capacity N` finds
//! the highest rate N consumers are forwarded in full, then measures at
//! 80 % of it (`capacity.rs`). `--mediasoup` runs the same rooms in a
//! mediasoup worker instead of Troupe (`bench/mediasoup`).

use std::time::{Duration, SystemTime};

use troupe_bench::capacity::{find_capacity, loaded_rate, LOAD_SHARE};
use troupe_bench::floor::{run_floor, FloorReport, Method};
use troupe_bench::{pinning, results_file, run, BenchConfig, FloorRun, Forwarder, Report};

const DEFAULT_RUNS: &[(usize, u32)] = &[(10, 2000), (100, 1000), (500, 100), (500, 500)];

/// What `--smoke --floor` runs (a Troupe smoke run has its own config).
const SMOKE_RUN: (usize, u32) = (4, 300);

const USAGE: &str = "usage: troupe-bench [--smoke] [--srtp] [--webrtc] [--shared-port] [--rtx] [--floor] [--capacity N] [--pin] [--window SECONDS] [--append FILE] [--troupe PATH | --mediasoup] [N:R ...]
  N:R         N consumers of one producer sending R packets/s (default: 10:2000 100:1000 500:100 500:500)
  --srtp      SRTP on every leg
  --webrtc    every consumer on its own WebRTC transport
  --shared-port  plain consumers on the node's shared plain port (sendmmsg batches)
  --rtx       consumers with NACK and RTX, as a browser's: each keeps packets to send again
  --floor     the same fan-outs through a bare forwarder, no Troupe (sendto per copy, io_uring from N sockets, and sendmmsg)
  --capacity  N: the highest rate N consumers get in full, then latency at 80 % of it
  --pin       Troupe (or the floor's forwarder) alone on core 0, the load generator on the others
  --smoke     a few seconds, as CI runs it
  --window    seconds measured per run (default 10)
  --append    FILE: append the table, with the date, command and machine (e.g. docs/benchmarks.md)
  --troupe    the troupe binary (default target/release/troupe)
  --mediasoup the same rooms in a mediasoup worker instead of Troupe (plain legs on own ports; run `npm ci` in bench/mediasoup first)";

/// The script `--mediasoup` runs with node.
const MEDIASOUP_SCRIPT: &str = "bench/mediasoup/fanout.mjs";

fn usage_error(message: &str) -> ! {
    eprintln!("{message}\n{USAGE}");
    std::process::exit(2);
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mut forwarder = Forwarder::Troupe("target/release/troupe".to_string());
    let (mut smoke, mut srtp, mut webrtc, mut floor) = (false, false, false, false);
    let (mut shared_port, mut rtx) = (false, false);
    let mut window = Duration::from_secs(10);
    let mut append_to = None;
    let mut capacity_of = None;
    let mut runs = Vec::new();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--help" | "-h" => {
                println!("{USAGE}");
                return;
            }
            "--smoke" => smoke = true,
            "--srtp" => srtp = true,
            "--webrtc" => webrtc = true,
            "--floor" => floor = true,
            "--shared-port" => shared_port = true,
            "--rtx" => rtx = true,
            "--pin" => {
                if let Err(e) = pinning::enable() {
                    usage_error(&e)
                }
            }
            "--capacity" => {
                capacity_of = Some(
                    args.next()
                        .and_then(|s| s.parse::<usize>().ok())
                        .filter(|n| *n > 0)
                        .unwrap_or_else(|| usage_error("--capacity needs a number of consumers")),
                )
            }
            "--append" => {
                append_to = Some(
                    args.next()
                        .unwrap_or_else(|| usage_error("--append needs a file")),
                )
            }
            "--troupe" => {
                forwarder = Forwarder::Troupe(
                    args.next()
                        .unwrap_or_else(|| usage_error("--troupe needs a path")),
                )
            }
            "--mediasoup" => forwarder = Forwarder::Mediasoup(MEDIASOUP_SCRIPT.to_string()),
            "--window" => {
                window = args
                    .next()
                    .and_then(|s| s.parse().ok())
                    .map(Duration::from_secs)
                    .unwrap_or_else(|| usage_error("--window needs a number of seconds"))
            }
            spec => {
                let parsed = spec
                    .split_once(':')
                    .and_then(|(n, r)| Some((n.parse().ok()?, r.parse().ok()?)));
                match parsed {
                    Some(run) => runs.push(run),
                    None => usage_error(&format!("not an option or N:R: {spec}")),
                }
            }
        }
    }
    if smoke {
        runs = vec![SMOKE_RUN];
        window = Duration::from_secs(1);
    } else if runs.is_empty() {
        runs = DEFAULT_RUNS.to_vec();
    }
    let legs = Legs {
        srtp,
        webrtc,
        shared_port,
        rtx,
    };
    let (mut failed, table) = if let Some(consumers) = capacity_of {
        run_capacity(&forwarder, consumers, legs, window)
    } else if floor {
        run_floors(&runs, window)
    } else {
        run_forwarder(&forwarder, &runs, smoke, legs, window)
    };
    if let Some(path) = append_to {
        let command = std::iter::once("troupe-bench".to_string())
            .chain(std::env::args().skip(1))
            .collect::<Vec<_>>()
            .join(" ");
        let section = results_file::section(&command, &table, SystemTime::now());
        if let Err(e) = results_file::append(&path, &section) {
            eprintln!("{e}");
            failed = true;
        }
    }
    std::process::exit(i32::from(failed));
}

/// What the consumers' legs are.
#[derive(Clone, Copy)]
struct Legs {
    srtp: bool,
    webrtc: bool,
    shared_port: bool,
    rtx: bool,
}

fn bench_config(
    forwarder: &Forwarder,
    consumers: usize,
    rate: u32,
    legs: Legs,
    window: Duration,
) -> BenchConfig {
    BenchConfig {
        forwarder: forwarder.clone(),
        consumers,
        rate,
        warmup: Duration::from_secs(3),
        window,
        payload: 1200,
        srtp: legs.srtp,
        webrtc: legs.webrtc,
        shared_port: legs.shared_port,
        rtx: legs.rtx,
    }
}

/// The floor for `consumers` at `rate`, in the same sitting as the Troupe
/// run it brackets: ratios compare across sittings where absolute figures
/// do not.
fn floor_run(consumers: usize, rate: u32, window: Duration) -> Option<FloorRun> {
    match run_floor(
        consumers,
        rate,
        Method::SendMmsg,
        Duration::from_secs(1),
        window,
    ) {
        Ok(floor) => Some(FloorRun {
            micros_per_copy: floor.cpu_micros_per_copy,
            p99_micros: floor.p99_micros,
        }),
        Err(e) => {
            eprintln!("floor N={consumers} R={rate}: {e}");
            None
        }
    }
}

/// A Troupe run between two floor runs, the floor their mean: this machine's
/// speed drifts by up to 15 % within minutes, and a floor taken on one
/// side only moved the ratio with it.
fn run_bracketed(config: &BenchConfig, window: Duration) -> Result<Report, String> {
    let before = floor_run(config.consumers, config.rate, window);
    let mut report = run(config)?;
    let after = floor_run(config.consumers, config.rate, window);
    report.floor_runs = before.into_iter().chain(after).collect();
    Ok(report)
}

fn run_capacity(
    forwarder: &Forwarder,
    consumers: usize,
    legs: Legs,
    window: Duration,
) -> (bool, String) {
    println!("{}", Report::TABLE_HEADER);
    let start = (100_000 / consumers).max(1) as u32;
    let found = find_capacity(start, |rate| {
        let report = run(&bench_config(forwarder, consumers, rate, legs, window))?;
        println!("{}", report.table_row());
        eprintln!("{}", report.json_line());
        Ok(report)
    });
    let capacity = match found {
        Ok(capacity) => capacity,
        Err(e) => {
            eprintln!("capacity N={consumers}: {e}");
            return (true, String::new());
        }
    };
    let rate = loaded_rate(&capacity);
    let loaded = match run_bracketed(
        &bench_config(forwarder, consumers, rate, legs, window),
        window,
    ) {
        Ok(report) => report,
        Err(e) => {
            eprintln!("run N={consumers} R={rate} failed: {e}");
            return (true, String::new());
        }
    };
    let summary = format!(
        "Capacity at N={consumers}: R={} ({:.0} forwarded/s, {:.2} % delivered); at {:.0} % of it (R={rate}): p50 {} µs, p99 {} µs{}, {:.2} µs/pkt{}.",
        capacity.rate,
        capacity.report.forwarded_per_second,
        capacity.report.delivery_percent,
        LOAD_SHARE * 100.0,
        loaded.p50_micros,
        loaded.p99_micros,
        loaded
            .floor_p99_micros()
            .map_or(String::new(), |p| format!(" (the floor's p99 at that rate {p} µs)")),
        loaded.cpu_micros_per_packet,
        loaded
            .floor_micros_per_copy()
            .map_or(String::new(), |f| format!(" ({:.2}× the floor)", loaded.cpu_micros_per_packet / f)),
    );
    println!("{}", loaded.table_row());
    eprintln!("{}", loaded.json_line());
    println!("{summary}");
    let mut table = vec![Report::TABLE_HEADER.to_string()];
    table.extend(capacity.steps.iter().map(Report::table_row));
    table.push(loaded.table_row());
    table.push(String::new());
    table.push(summary);
    (false, table.join("\n"))
}

fn run_forwarder(
    forwarder: &Forwarder,
    runs: &[(usize, u32)],
    smoke: bool,
    legs: Legs,
    window: Duration,
) -> (bool, String) {
    let configs: Vec<BenchConfig> = if smoke {
        vec![BenchConfig {
            srtp: legs.srtp,
            webrtc: legs.webrtc,
            shared_port: legs.shared_port,
            rtx: legs.rtx,
            ..BenchConfig::smoke_of(forwarder.clone())
        }]
    } else {
        runs.iter()
            .map(|&(consumers, rate)| bench_config(forwarder, consumers, rate, legs, window))
            .collect()
    };
    let mut table = vec![Report::TABLE_HEADER.to_string()];
    println!("{}", Report::TABLE_HEADER);
    let mut failed = false;
    for config in &configs {
        let result = if smoke {
            run(config)
        } else {
            run_bracketed(config, window)
        };
        match result {
            Ok(report) => {
                println!("{}", report.table_row());
                eprintln!("{}", report.json_line());
                table.push(report.table_row());
                if smoke && report.packets_forwarded == 0 {
                    eprintln!("smoke: no packet was forwarded");
                    failed = true;
                }
            }
            Err(e) => {
                eprintln!("run N={} R={} failed: {e}", config.consumers, config.rate);
                failed = true;
            }
        }
    }
    (failed, table.join("\n"))
}

fn run_floors(runs: &[(usize, u32)], window: Duration) -> (bool, String) {
    let mut table = vec![FloorReport::TABLE_HEADER.to_string()];
    println!("{}", FloorReport::TABLE_HEADER);
    let mut failed = false;
    for &(consumers, rate) in runs {
        for method in [Method::SendTo, Method::OwnSocketsRing, Method::SendMmsg] {
            match run_floor(consumers, rate, method, Duration::from_secs(1), window) {
                Ok(report) => {
                    println!("{}", report.table_row());
                    eprintln!("{}", report.json_line());
                    table.push(report.table_row());
                    if report.copies_delivered == 0 {
                        eprintln!("floor: no copy was delivered");
                        failed = true;
                    }
                }
                // A kernel or sandbox without io_uring (Troupe then sends
                // with sendmmsg too) has no such floor to show.
                Err(e) if method == Method::OwnSocketsRing => {
                    eprintln!(
                        "floor N={consumers} R={rate} ({}) skipped: {e}",
                        method.name()
                    );
                }
                Err(e) => {
                    eprintln!(
                        "floor N={consumers} R={rate} ({}) failed: {e}",
                        method.name()
                    );
                    failed = true;
                }
            }
        }
    }
    (failed, table.join("\n"))
}
