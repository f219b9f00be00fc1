//! `cargo run --release -p troupe-bench -- [--smoke] [--srtp] [--webrtc] [--troupe PATH] [N:R ...]`
//!
//! Each N:R runs N consumers of one producer sending R packets/s, against a
//! fresh Troupe, and prints a Markdown table row and a JSON line.

use std::time::Duration;

use troupe_bench::{run, BenchConfig, Report};

const DEFAULT_RUNS: &[(usize, u32)] = &[(10, 2000), (100, 1000), (500, 100), (500, 500)];

fn main() {
    let mut args = std::env::args().skip(1);
    let mut troupe = "target/release/troupe".to_string();
    let mut smoke = false;
    let mut srtp = false;
    let mut webrtc = false;
    let mut window = Duration::from_secs(10);
    let mut runs = Vec::new();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--smoke" => smoke = true,
            "--srtp" => srtp = true,
            "--webrtc" => webrtc = true,
            "--troupe" => troupe = args.next().expect("--troupe PATH"),
            "--window" => {
                window = Duration::from_secs(
                    args.next()
                        .and_then(|s| s.parse().ok())
                        .expect("--window SECONDS"),
                )
            }
            spec => {
                let (n, r) = spec.split_once(':').expect("runs are N:R, e.g. 100:1000");
                runs.push((n.parse().expect("N"), r.parse().expect("R")));
            }
        }
    }
    let configs: Vec<BenchConfig> = if smoke {
        vec![BenchConfig {
            srtp,
            webrtc,
            ..BenchConfig::smoke(&troupe)
        }]
    } else {
        let runs = if runs.is_empty() {
            DEFAULT_RUNS.to_vec()
        } else {
            runs
        };
        runs.into_iter()
            .map(|(consumers, rate)| BenchConfig {
                troupe: troupe.clone(),
                consumers,
                rate,
                warmup: Duration::from_secs(3),
                window,
                payload: 1200,
                srtp,
                webrtc,
            })
            .collect()
    };
    println!("{}", Report::TABLE_HEADER);
    let mut failed = false;
    for config in &configs {
        match run(config) {
            Ok(report) => {
                println!("{}", report.table_row());
                eprintln!("{}", report.json_line());
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
    std::process::exit(i32::from(failed));
}
