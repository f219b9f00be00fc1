//! Troupe's fan-out benchmark. It starts a `troupe` process (or uses one),
//! creates a producer on a comedia plain transport and N consumers on plain
//! transports connected to N sink sockets, sends VP8-like RTP at R packets
//! per second, and reports forwarded packets/s, delivery, Troupe's CPU time
//! per forwarded packet (from /proc), added latency and memory. The same
//! room in a mediasoup worker (`mediasoup.rs`) gives side-by-side figures.

mod api;
pub mod capacity;
mod feedback;
pub mod floor;
mod mediasoup;
pub mod pinning;
mod process;
mod report;
pub mod results_file;
mod sender;
mod sink;
pub mod webrtc_client;

use std::time::{Duration, Instant};

pub use report::{FloorRun, Report};

/// The SFU under test.
#[derive(Debug, Clone)]
pub enum Forwarder {
    /// The troupe binary to start.
    Troupe(String),
    /// The script that runs a mediasoup worker (`bench/mediasoup/fanout.mjs`).
    Mediasoup(String),
}

#[derive(Debug, Clone)]
pub struct BenchConfig {
    pub forwarder: Forwarder,
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
    /// Consumers negotiate NACK with RTX (`enableRtx`), as a browser's do:
    /// each keeps its recent packets to send again.
    pub rtx: bool,
}

impl BenchConfig {
    /// Seconds, not minutes: proves packets flow and a report comes out.
    pub fn smoke(troupe: &str) -> Self {
        Self::smoke_of(Forwarder::Troupe(troupe.to_string()))
    }

    pub fn smoke_of(forwarder: Forwarder) -> Self {
        BenchConfig {
            forwarder,
            consumers: 4,
            rate: 300,
            warmup: Duration::from_millis(2500),
            window: Duration::from_secs(2),
            payload: 1200,
            srtp: false,
            webrtc: false,
            shared_port: false,
            rtx: false,
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

/// Runs one configuration against a fresh forwarder and returns its report.
pub fn run(config: &BenchConfig) -> Result<Report, String> {
    match &config.forwarder {
        Forwarder::Troupe(binary) => run_troupe(config, binary),
        Forwarder::Mediasoup(script) => run_mediasoup(config, script),
    }
}

fn run_troupe(config: &BenchConfig, binary: &str) -> Result<Report, String> {
    let troupe = process::Troupe::start(binary)?;
    let api = api::Api::new(&troupe.url);
    // Memory per consumer is what the room adds to an idle node.
    let idle_rss = troupe.stats().rss_bytes()?;
    let room = api.room(config)?;
    let webrtc_transport_ids = room.webrtc_transport_ids.clone();
    measure(config, troupe.stats(), idle_rss, room, || {
        api.transports_estimating(&webrtc_transport_ids)
    })
}

fn run_mediasoup(config: &BenchConfig, script: &str) -> Result<Report, String> {
    if config.srtp || config.webrtc || config.shared_port {
        return Err("--mediasoup runs plain legs on their own ports only".into());
    }
    let mut mediasoup = mediasoup::Mediasoup::start(script)?;
    let idle_rss = mediasoup.worker.rss_bytes()?;
    let sink_sockets = api::sink_sockets(config.consumers)?;
    let sink_ports = sink_sockets
        .iter()
        .map(|s| s.local_addr().map(|a| a.port()).map_err(|e| e.to_string()))
        .collect::<Result<Vec<u16>, String>>()?;
    let ingest = mediasoup.room(&sink_ports, api::SSRC, config.rtx)?;
    let room = api::Room {
        producer_port: ingest.producer_port,
        payload_type: ingest.payload_type,
        sink_contexts: sink_sockets.iter().map(|_| None).collect(),
        sink_feedback: sink_sockets.iter().map(|_| None).collect(),
        sink_sockets,
        sender_key: None,
        webrtc_transport_ids: Vec::new(),
    };
    measure(config, mediasoup.worker, idle_rss, room, || 0)
}

/// Sends through `room` and measures a window of `forwarder`. `estimating`
/// is asked, before the load stops, how many transports estimate bandwidth.
fn measure(
    config: &BenchConfig,
    forwarder: process::ProcessStats,
    idle_rss: u64,
    room: api::Room,
    estimating: impl FnOnce() -> usize,
) -> Result<Report, String> {
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

    let cpu_before = forwarder.cpu_time()?;
    let sent_before = sender.sent();
    let received_before = sinks.snapshot();
    let window_start = Instant::now();
    std::thread::sleep(config.window);
    let elapsed = window_start.elapsed();
    let cpu_after = forwarder.cpu_time()?;
    let sent_after = sender.sent();
    let received_after = sinks.snapshot();
    // The window's last packets may still be on their way to some sinks.
    std::thread::sleep(DRAIN);
    let delivered = sinks.copies_of(sent_before, sent_after);
    let rss = forwarder.rss_bytes()?;
    let estimating = estimating();
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
