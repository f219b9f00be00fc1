//! One run's figures, as a table row and a JSON line.

use std::time::Duration;

use serde_json::json;

use crate::sink::{percentile_micros, Snapshot};
use crate::BenchConfig;

#[derive(Debug, Clone)]
pub struct Report {
    pub consumers: usize,
    pub rate: u32,
    pub forwarded_per_second: f64,
    pub delivery_percent: f64,
    pub cpu_micros_per_packet: f64,
    pub p50_micros: u64,
    pub p99_micros: u64,
    pub rss_mib: f64,
    pub rss_kib_per_consumer: f64,
    pub packets_forwarded: u64,
    pub srtp: bool,
    pub webrtc: bool,
    /// WebRTC consumers' transports with a bandwidth estimate at the end:
    /// their far ends' feedback reached Troupe's estimator.
    pub transports_estimating: usize,
}

impl Report {
    pub fn new(
        config: &BenchConfig,
        elapsed: Duration,
        cpu: Duration,
        sent: u64,
        before: &Snapshot,
        after: &Snapshot,
        rss: u64,
    ) -> Report {
        let Snapshot { received, latency } = after.since(before);
        let expected = sent * config.consumers as u64;
        Report {
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
            rss_kib_per_consumer: rss as f64 / 1024.0 / config.consumers.max(1) as f64,
            packets_forwarded: received,
            srtp: config.srtp,
            webrtc: config.webrtc,
            transports_estimating: 0,
        }
    }

    pub const TABLE_HEADER: &'static str =
        "| N | R (pkt/s in) | forwarded pkt/s | delivery % | CPU µs/pkt | p50 µs | p99 µs | RSS MiB | RSS KiB/consumer |\n|---|---|---|---|---|---|---|---|---|";

    pub fn table_row(&self) -> String {
        format!(
            "| {} | {} | {:.0} | {:.2} | {:.2} | {} | {} | {:.1} | {:.1} |",
            self.consumers,
            self.rate,
            self.forwarded_per_second,
            self.delivery_percent,
            self.cpu_micros_per_packet,
            self.p50_micros,
            self.p99_micros,
            self.rss_mib,
            self.rss_kib_per_consumer
        )
    }

    pub fn json_line(&self) -> String {
        json!({
            "consumers": self.consumers,
            "rate": self.rate,
            "forwardedPerSecond": self.forwarded_per_second,
            "deliveryPercent": self.delivery_percent,
            "cpuMicrosPerPacket": self.cpu_micros_per_packet,
            "p50Micros": self.p50_micros,
            "p99Micros": self.p99_micros,
            "rssMiB": self.rss_mib,
            "rssKiBPerConsumer": self.rss_kib_per_consumer,
            "legs": if self.srtp { "srtp" } else { "plain" },
            "consumerTransports": if self.webrtc { "webrtc" } else { "plain" },
            "transportsEstimating": self.transports_estimating,
        })
        .to_string()
    }
}
