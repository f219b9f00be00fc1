//! One run's figures, as a table row and a JSON line.

use serde_json::json;

use crate::sink::{percentile_micros, Snapshot};
use crate::{BenchConfig, Forwarder, Window};

#[derive(Debug, Clone)]
pub struct Report {
    /// "troupe" or "mediasoup".
    pub sfu: &'static str,
    pub consumers: usize,
    pub rate: u32,
    pub forwarded_per_second: f64,
    pub delivery_percent: f64,
    pub cpu_micros_per_packet: f64,
    pub p50_micros: u64,
    pub p99_micros: u64,
    pub rss_mib: f64,
    /// RSS the room added to the idle node, per consumer.
    pub rss_kib_per_consumer: f64,
    pub packets_forwarded: u64,
    pub srtp: bool,
    pub webrtc: bool,
    pub shared_port: bool,
    /// Consumers with NACK and RTX.
    pub rtx: bool,
    /// WebRTC consumers' transports with a bandwidth estimate at the end:
    /// their far ends' feedback reached Troupe's estimator.
    pub transports_estimating: usize,
    /// The bare `sendmmsg` forwarder at the same N:R, run just before
    /// Troupe's run and just after (the ones that succeeded).
    pub floor_runs: Vec<FloorRun>,
}

/// What a bracketing floor run measured: its CPU per copy, and its tail,
/// which on a virtual machine is mostly the host's (a halted vCPU woken
/// late), so Troupe's p99 is read beside it.
#[derive(Debug, Clone, Copy)]
pub struct FloorRun {
    pub micros_per_copy: f64,
    pub p99_micros: u64,
}

impl Report {
    pub fn new(
        config: &BenchConfig,
        Window {
            elapsed,
            cpu,
            sent,
            delivered: received,
        }: Window,
        before: &Snapshot,
        after: &Snapshot,
        (rss, idle_rss): (u64, u64),
    ) -> Report {
        let Snapshot { latency, .. } = after.since(before);
        let expected = sent * config.consumers as u64;
        Report {
            sfu: match config.forwarder {
                Forwarder::Troupe(_) => "troupe",
                Forwarder::Mediasoup(_) => "mediasoup",
            },
            consumers: config.consumers,
            rate: config.rate,
            forwarded_per_second: received as f64 / elapsed.as_secs_f64(),
            delivery_percent: if expected == 0 {
                0.0
            } else {
                100.0 * received as f64 / expected as f64
            },
            cpu_micros_per_packet: if received == 0 {
                0.0
            } else {
                cpu.as_micros() as f64 / received as f64
            },
            p50_micros: percentile_micros(&latency, 0.50),
            p99_micros: percentile_micros(&latency, 0.99),
            rss_mib: rss as f64 / (1024.0 * 1024.0),
            rss_kib_per_consumer: rss.saturating_sub(idle_rss) as f64
                / 1024.0
                / config.consumers.max(1) as f64,
            packets_forwarded: received,
            srtp: config.srtp,
            webrtc: config.webrtc,
            shared_port: config.shared_port,
            rtx: config.rtx,
            transports_estimating: 0,
            floor_runs: Vec::new(),
        }
    }

    pub const TABLE_HEADER: &'static str =
        "| N | R (pkt/s in) | forwarded pkt/s | delivery % | CPU µs/pkt | sendmmsg floor µs | ÷ floor | p50 µs | p99 µs | floor p99 µs | RSS MiB | RSS growth KiB/consumer |\n|---|---|---|---|---|---|---|---|---|---|---|---|";

    /// The floor's CPU per copy, the mean of its runs: the ratio to it is
    /// the figure that compares across sittings.
    pub fn floor_micros_per_copy(&self) -> Option<f64> {
        let runs = &self.floor_runs;
        (!runs.is_empty())
            .then(|| runs.iter().map(|r| r.micros_per_copy).sum::<f64>() / runs.len() as f64)
    }

    /// The floor's p99 at the same rate, the mean of its runs: the tail
    /// this machine gives a forwarder that does nothing but send.
    pub fn floor_p99_micros(&self) -> Option<u64> {
        let runs = &self.floor_runs;
        (!runs.is_empty())
            .then(|| runs.iter().map(|r| r.p99_micros).sum::<u64>() / runs.len() as u64)
    }

    /// Troupe's CPU per packet over the floor's, when the floor was run.
    pub fn floor_ratio(&self) -> Option<f64> {
        self.floor_micros_per_copy()
            .filter(|f| *f > 0.0)
            .map(|f| self.cpu_micros_per_packet / f)
    }

    pub fn table_row(&self) -> String {
        let or_dash = |v: Option<f64>| v.map_or("–".to_string(), |v| format!("{v:.2}"));
        format!(
            "| {} | {} | {:.0} | {:.2} | {:.2} | {} | {} | {} | {} | {} | {:.1} | {:.1} |",
            self.consumers,
            self.rate,
            self.forwarded_per_second,
            self.delivery_percent,
            self.cpu_micros_per_packet,
            or_dash(self.floor_micros_per_copy()),
            or_dash(self.floor_ratio()),
            self.p50_micros,
            self.p99_micros,
            self.floor_p99_micros()
                .map_or("–".to_string(), |p| p.to_string()),
            self.rss_mib,
            self.rss_kib_per_consumer
        )
    }

    pub fn json_line(&self) -> String {
        json!({
            "sfu": self.sfu,
            "consumers": self.consumers,
            "rate": self.rate,
            "forwardedPerSecond": self.forwarded_per_second,
            "deliveryPercent": self.delivery_percent,
            "cpuMicrosPerPacket": self.cpu_micros_per_packet,
            "p50Micros": self.p50_micros,
            "p99Micros": self.p99_micros,
            "rssMiB": self.rss_mib,
            "rssGrowthKiBPerConsumer": self.rss_kib_per_consumer,
            "floorMicrosPerCopy": self.floor_micros_per_copy(),
            "floorRatio": self.floor_ratio(),
            "floorRunsMicros": self.floor_runs.iter().map(|r| r.micros_per_copy).collect::<Vec<_>>(),
            "floorRunsP99Micros": self.floor_runs.iter().map(|r| r.p99_micros).collect::<Vec<_>>(),
            "floorP99Micros": self.floor_p99_micros(),
            "sharedPort": self.shared_port,
            "rtx": self.rtx,
            "legs": if self.srtp { "srtp" } else { "plain" },
            "consumerTransports": if self.webrtc { "webrtc" } else { "plain" },
            "transportsEstimating": self.transports_estimating,
        })
        .to_string()
    }
}

/// A plausible run, for tests of what reads reports.
#[cfg(test)]
impl Report {
    pub(crate) fn example(rate: u32, delivery_percent: f64) -> Report {
        Report {
            sfu: "troupe",
            consumers: 100,
            rate,
            forwarded_per_second: f64::from(rate) * delivery_percent,
            delivery_percent,
            cpu_micros_per_packet: 3.0,
            p50_micros: 200,
            p99_micros: 500,
            rss_mib: 30.0,
            rss_kib_per_consumer: 130.0,
            packets_forwarded: 1,
            srtp: false,
            webrtc: false,
            shared_port: false,
            rtx: false,
            transports_estimating: 0,
            floor_runs: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report_with_floor(floor_runs: Vec<FloorRun>) -> Report {
        Report {
            cpu_micros_per_packet: 4.2,
            p50_micros: 410,
            p99_micros: 5490,
            floor_runs,
            ..Report::example(1758, 100.0)
        }
    }

    #[test]
    fn the_floor_runs_tail_is_reported_beside_troupes() {
        let report = report_with_floor(vec![
            FloorRun {
                micros_per_copy: 4.0,
                p99_micros: 3000,
            },
            FloorRun {
                micros_per_copy: 4.4,
                p99_micros: 5000,
            },
        ]);
        assert_eq!(report.floor_p99_micros(), Some(4000));
        assert!(report.table_row().contains("| 5490 | 4000 |"));
        let json: serde_json::Value = serde_json::from_str(&report.json_line()).unwrap();
        assert_eq!(json["floorP99Micros"], 4000);
        assert_eq!(json["floorRunsP99Micros"], serde_json::json!([3000, 5000]));
    }

    #[test]
    fn without_a_floor_run_its_columns_are_dashes() {
        let report = report_with_floor(Vec::new());
        assert_eq!(report.floor_p99_micros(), None);
        assert!(report
            .table_row()
            .contains("| 4.20 | – | – | 410 | 5490 | – |"));
    }
}
