//! Troupe's fan-out benchmark. It starts a `troupe` process (or uses one),
//! creates a producer on a comedia plain transport and N consumers on plain
//! transports connected to N sink sockets, sends VP8-like RTP at R packets
//! per second, and reports forwarded packets/s, delivery, Troupe's CPU time
//! per forwarded packet (from /proc), added latency and memory.

mod api;
pub mod capacity;
mod feedback;
pub mod floor;
pub mod pinning;
mod process;
mod report;
pub mod results_file;
mod sender;
mod sink;
pub mod webrtc_client;

use std::time::{Duration, Instant};

pub use report::{FloorRun, Report};

#[derive(Debug, Clone)]
pub struct BenchConfig {
    /// The troupe binary to start.
    pub troupe: String,
    pub consumers: usize,
    /// Packets per second sent by the producer.
    pub rate: u32,
    pub warmup: Duration,
    pub window: Duration,
    /// Payload bytes after the 12-byte RTP header.
    pub payload: usize,
    /// SRTP (AEAD_AES_128_GCM) on every leg: the sender protects, Troupe
    /// unprotects and protects each copy, the sinks unprotect.
    pub srtp: bool,
    /// Consumers on WebRTC transports (ICE-lite, DTLS, SRTP), each driven by
    /// a client on `webrtc_client`, instead of plain transports.
    pub webrtc: bool,
    /// Plain consumers on the node's shared plain port (`sharedPort`),
    /// whose fan-outs leave in `sendmmsg` batches.
    pub shared_port: bool,
}

impl BenchConfig {
    /// Seconds, not minutes: proves packets flow and a report comes out.
    pub fn smoke(troupe: &str) -> Self {
        BenchConfig {
            troupe: troupe.to_string(),
            consumers: 4,
            rate: 300,
            warmup: Duration::from_millis(2500),
            window: Duration::from_secs(2),
            payload: 1200,
            srtp: false,
            webrtc: false,
            shared_port: false,
        }
    }
}

/// Nanoseconds since the Unix epoch: the clock of the kernel's receive
/// timestamps, so the sender's send time and the sinks' arrival time
/// compare directly.
pub(crate) fn wall_clock_nanos() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or_default()
}

/// How long copies of a window's last packets are waited for.
pub(crate) const DRAIN: Duration = Duration::from_millis(200);

/// What a measured window saw.
pub struct Window {
    pub elapsed: Duration,
    /// Troupe's (or the floor's) CPU time in it.
    pub cpu: Duration,
    /// Packets the sender sent in it.
    pub sent: u64,
    /// Copies of those packets the sinks received.
    pub delivered: u64,
}

/// Runs one configuration against a fresh Troupe and returns its report.
pub fn run(config: &BenchConfig) -> Result<Report, String> {
    let troupe = process::Troupe::start(&config.troupe)?;
    let api = api::Api::new(&troupe.url);
    // Memory per consumer is what the room adds to an idle node.
    let idle_rss = troupe.rss_bytes()?;
    let room = api.room(
        config.consumers,
        config.srtp,
        config.webrtc,
        config.shared_port,
    )?;
    let sinks = sink::Sinks::start(room.sink_sockets, room.sink_contexts, room.sink_feedback)?;
    let sender = sender::Sender::start(
        room.producer_port,
        room.payload_type,
        config.rate,
        config.payload,
        room.sender_key,
        // A real call's sender numbers its packets for transport-wide
        // congestion control, and Troupe answers with feedback.
        config.webrtc.then_some(api::TRANSPORT_CC_EXTENSION_ID),
    )?;
    std::thread::sleep(config.warmup);

    let cpu_before = troupe.cpu_time()?;
    let sent_before = sender.sent();
    let received_before = sinks.snapshot();
    let window_start = Instant::now();
    std::thread::sleep(config.window);
    let elapsed = window_start.elapsed();
    let cpu_after = troupe.cpu_time()?;
    let sent_after = sender.sent();
    let received_after = sinks.snapshot();
    // The window's last packets may still be on their way to some sinks.
    std::thread::sleep(DRAIN);
    let delivered = sinks.copies_of(sent_before, sent_after);
    let rss = troupe.rss_bytes()?;
    let estimating = api.transports_estimating(&room.webrtc_transport_ids);
    sender.stop();
    sinks.stop();

    let mut report = Report::new(
        config,
        Window {
            elapsed,
            cpu: cpu_after - cpu_before,
            sent: sent_after - sent_before,
            delivered,
        },
        &received_before,
        &received_after,
        (rss, idle_rss),
    );
    report.transports_estimating = estimating;
    Ok(report)
}
