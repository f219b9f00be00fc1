//! The kernel's floor: what the same fan-out costs with nothing but system
//! calls. A bare forwarder thread receives the sender's packets and sends
//! each to the N sinks, changing only the SSRC, either with one `sendto`
//! per copy from N sockets (as Troupe's plain consumers do, each owning its
//! port), with io_uring submissions of 64 sends from those N sockets (as
//! Troupe's batches to plain consumers on their own ports), or with
//! `sendmmsg` batches from one socket. Its CPU per copy is
//! counted as Troupe's is (on loopback it includes the sinks' receive path,
//! which runs inside the sending call), so the difference from Troupe's
//! figure is what Troupe itself adds.

use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::sender::Sender;
use crate::sink::{percentile_micros, Sinks, Snapshot};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// One `sendto` per copy, each copy from its own socket.
    SendTo,
    /// One socket; the copies of a packet in `sendmmsg` calls of up to 64.
    SendMmsg,
    /// One socket per copy, as plain consumers on their own ports have;
    /// each copy written out whole and sent in io_uring submissions of up
    /// to 64, as Troupe's batches do. Against `SendMmsg` it shows what
    /// the kernel charges for touching N sockets rather than one.
    OwnSocketsRing,
}

impl Method {
    pub fn name(self) -> &'static str {
        match self {
            Method::SendTo => "sendto per copy",
            Method::SendMmsg => "sendmmsg, 64 a call",
            Method::OwnSocketsRing => "io_uring from N sockets, 64 a submission",
        }
    }
}

/// Messages per `sendmmsg` call, as a real batching path would use.
const BATCH: usize = 64;
/// Room for one copy in the ring's arena.
const SLOT: usize = 1536;

pub struct FloorReport {
    pub consumers: usize,
    pub rate: u32,
    pub method: Method,
    pub copies_per_second: f64,
    pub delivery_percent: f64,
    pub cpu_micros_per_copy: f64,
    pub p50_micros: u64,
    pub p99_micros: u64,
    pub copies_delivered: u64,
}

impl FloorReport {
    pub const TABLE_HEADER: &'static str = "| N | R (pkt/s in) | method | copies/s | delivery % | CPU µs/copy | p50 µs | p99 µs |\n|---|---|---|---|---|---|---|---|";

    pub fn table_row(&self) -> String {
        format!(
            "| {} | {} | {} | {:.0} | {:.2} | {:.2} | {} | {} |",
            self.consumers,
            self.rate,
            self.method.name(),
            self.copies_per_second,
            self.delivery_percent,
            self.cpu_micros_per_copy,
            self.p50_micros,
            self.p99_micros
        )
    }

    pub fn json_line(&self) -> String {
        json!({
            "floor": self.method.name(),
            "consumers": self.consumers,
            "rate": self.rate,
            "copiesPerSecond": self.copies_per_second,
            "deliveryPercent": self.delivery_percent,
            "cpuMicrosPerCopy": self.cpu_micros_per_copy,
            "p50Micros": self.p50_micros,
            "p99Micros": self.p99_micros,
        })
        .to_string()
    }
}

fn thread_cpu_nanos() -> u64 {
    // SAFETY: getrusage fills the zeroed struct it is given.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_THREAD, &mut usage);
        usage
    };
    let nanos = |t: libc::timeval| t.tv_sec as u64 * 1_000_000_000 + t.tv_usec as u64 * 1000;
    nanos(usage.ru_utime) + nanos(usage.ru_stime)
}

fn socket_address(address: SocketAddr) -> Result<libc::sockaddr_in, String> {
    let SocketAddr::V4(v4) = address else {
        return Err("the floor runs on IPv4 loopback".into());
    };
    Ok(libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: v4.port().to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from_ne_bytes(v4.ip().octets()),
        },
        sin_zero: [0; 8],
    })
}

/// The forwarding loop's sockets and per-copy state.
struct Forwarder {
    method: Method,
    destinations: Vec<libc::sockaddr_in>,
    /// One per copy for `SendTo` and `OwnSocketsRing`; one in all for
    /// `SendMmsg`.
    sockets: Vec<UdpSocket>,
    /// For `OwnSocketsRing`: the ring and the copies of one submission.
    ring: Option<io_uring::IoUring>,
    arena: Vec<u8>,
    /// Each copy's own 12-byte header; the rest of the packet is shared.
    headers: Vec<[u8; 12]>,
}

impl Forwarder {
    fn forward(&mut self, packet: &[u8], copy: &mut [u8]) {
        let Some(rest) = packet.get(12..) else {
            return;
        };
        for (i, header) in self.headers.iter_mut().enumerate() {
            header.copy_from_slice(&packet[..12]);
            header[8..12].copy_from_slice(&(i as u32 + 1).to_be_bytes());
        }
        match self.method {
            Method::SendTo => {
                let length = packet.len().min(copy.len());
                for ((socket, header), destination) in self
                    .sockets
                    .iter()
                    .zip(&self.headers)
                    .zip(&self.destinations)
                {
                    copy[..12].copy_from_slice(header);
                    copy[12..length].copy_from_slice(&rest[..length - 12]);
                    // SAFETY: the buffer and address outlive the call.
                    unsafe {
                        libc::sendto(
                            socket.as_raw_fd(),
                            copy.as_ptr() as *const libc::c_void,
                            length,
                            0,
                            destination as *const libc::sockaddr_in as *const libc::sockaddr,
                            std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
                        );
                    }
                }
            }
            Method::OwnSocketsRing => self.forward_by_ring(packet, rest),
            Method::SendMmsg => {
                let Some(socket) = self.sockets.first() else {
                    return;
                };
                let mut start = 0;
                while start < self.headers.len() {
                    let end = (start + BATCH).min(self.headers.len());
                    let mut iovecs: Vec<[libc::iovec; 2]> = self.headers[start..end]
                        .iter_mut()
                        .map(|header| {
                            [
                                libc::iovec {
                                    iov_base: header.as_mut_ptr() as *mut libc::c_void,
                                    iov_len: 12,
                                },
                                libc::iovec {
                                    iov_base: rest.as_ptr() as *mut libc::c_void,
                                    iov_len: rest.len(),
                                },
                            ]
                        })
                        .collect();
                    // SAFETY: a zeroed mmsghdr is valid; each then points at
                    // its iovecs and address, which outlive the call.
                    let mut messages: Vec<libc::mmsghdr> = iovecs
                        .iter_mut()
                        .zip(&self.destinations[start..end])
                        .map(|(iov, destination)| {
                            let mut message: libc::mmsghdr = unsafe { std::mem::zeroed() };
                            message.msg_hdr.msg_name = destination as *const _ as *mut libc::c_void;
                            message.msg_hdr.msg_namelen =
                                std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
                            message.msg_hdr.msg_iov = iov.as_mut_ptr();
                            message.msg_hdr.msg_iovlen = 2;
                            message
                        })
                        .collect();
                    // SAFETY: messages and what they point at outlive the call.
                    let sent = unsafe {
                        libc::sendmmsg(
                            socket.as_raw_fd(),
                            messages.as_mut_ptr(),
                            messages.len() as libc::c_uint,
                            0,
                        )
                    };
                    if sent <= 0 {
                        break;
                    }
                    start += sent as usize;
                }
            }
        }
    }

    fn forward_by_ring(&mut self, packet: &[u8], rest: &[u8]) {
        let Some(ring) = self.ring.as_mut() else {
            return;
        };
        let length = packet.len().min(SLOT);
        let mut start = 0;
        while start < self.headers.len() {
            let end = (start + BATCH).min(self.headers.len());
            let mut queued = 0;
            {
                let mut queue = ring.submission();
                for (slot, copy) in (start..end).enumerate() {
                    let out = &mut self.arena[slot * SLOT..slot * SLOT + length];
                    out[..12].copy_from_slice(&self.headers[copy]);
                    out[12..].copy_from_slice(&rest[..length - 12]);
                    let entry = io_uring::opcode::Send::new(
                        io_uring::types::Fd(self.sockets[copy].as_raw_fd()),
                        out.as_ptr(),
                        length as u32,
                    )
                    .dest_addr((&self.destinations[copy] as *const libc::sockaddr_in).cast())
                    .dest_addr_len(std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t)
                    .build();
                    // SAFETY: the copy and its address live until the
                    // completions are reaped below; the queue holds BATCH.
                    if unsafe { queue.push(&entry) }.is_ok() {
                        queued += 1;
                    }
                }
            }
            if ring.submit_and_wait(queued).is_err() {
                return;
            }
            ring.completion().for_each(drop);
            start = end;
        }
    }
}

/// Runs the bare forwarder for `warmup + window` and reports the window.
pub fn run_floor(
    consumers: usize,
    rate: u32,
    method: Method,
    warmup: Duration,
    window: Duration,
) -> Result<FloorReport, String> {
    let error = |e: std::io::Error| e.to_string();
    let sink_sockets: Vec<UdpSocket> = (0..consumers)
        .map(|_| UdpSocket::bind("127.0.0.1:0"))
        .collect::<Result<_, _>>()
        .map_err(error)?;
    let destinations = sink_sockets
        .iter()
        .map(|s| s.local_addr().map_err(error).and_then(socket_address))
        .collect::<Result<Vec<_>, _>>()?;
    let sending_sockets = match method {
        Method::SendTo | Method::OwnSocketsRing => consumers,
        Method::SendMmsg => 1,
    };
    let ring = match method {
        Method::OwnSocketsRing => Some(io_uring::IoUring::new(BATCH as u32).map_err(error)?),
        _ => None,
    };
    let mut forwarder = Forwarder {
        method,
        destinations,
        sockets: (0..sending_sockets)
            .map(|_| UdpSocket::bind("127.0.0.1:0"))
            .collect::<Result<_, _>>()
            .map_err(error)?,
        headers: vec![[0; 12]; consumers],
        ring,
        arena: vec![0; SLOT * BATCH],
    };
    let inbound = UdpSocket::bind("127.0.0.1:0").map_err(error)?;
    inbound
        .set_read_timeout(Some(Duration::from_millis(100)))
        .map_err(error)?;
    let inbound_port = inbound.local_addr().map_err(error)?.port();

    let sinks = Sinks::start(
        sink_sockets,
        (0..consumers).map(|_| None).collect(),
        (0..consumers).map(|_| None).collect(),
    )?;
    let stop = Arc::new(AtomicBool::new(false));
    let cpu = Arc::new(AtomicU64::new(0));
    let (stop_flag, cpu_spent) = (stop.clone(), cpu.clone());
    let thread = std::thread::spawn(move || {
        if let Err(e) = crate::pinning::pin_forwarder_thread() {
            eprintln!("floor forwarder: {e}");
        }
        let mut packet = [0u8; 1500];
        let mut copy = [0u8; 1500];
        while !stop_flag.load(Relaxed) {
            if let Ok(length) = inbound.recv(&mut packet) {
                forwarder.forward(&packet[..length], &mut copy);
            }
            cpu_spent.store(thread_cpu_nanos(), Relaxed);
        }
    });
    let sender = Sender::start(inbound_port, 96, rate, 1200, None, None)?;
    std::thread::sleep(warmup);

    let (cpu_before, sent_before, received_before) =
        (cpu.load(Relaxed), sender.sent(), sinks.snapshot());
    let started = Instant::now();
    std::thread::sleep(window);
    let elapsed = started.elapsed();
    let (cpu_after, sent_after, received_after) =
        (cpu.load(Relaxed), sender.sent(), sinks.snapshot());
    std::thread::sleep(crate::DRAIN);
    let received = sinks.copies_of(sent_before, sent_after);
    sender.stop();
    stop.store(true, Relaxed);
    let _ = thread.join();
    sinks.stop();

    let Snapshot { latency, .. } = received_after.since(&received_before);
    let expected = (sent_after - sent_before) * consumers as u64;
    Ok(FloorReport {
        consumers,
        rate,
        method,
        copies_per_second: received as f64 / elapsed.as_secs_f64(),
        delivery_percent: received as f64 * 100.0 / expected.max(1) as f64,
        cpu_micros_per_copy: cpu_after.saturating_sub(cpu_before) as f64
            / 1000.0
            / received.max(1) as f64,
        p50_micros: percentile_micros(&latency, 0.50),
        p99_micros: percentile_micros(&latency, 0.99),
        copies_delivered: received,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ring_floor_sends_every_copy_from_its_own_socket() {
        let report = match run_floor(
            3,
            200,
            Method::OwnSocketsRing,
            Duration::from_millis(200),
            Duration::from_millis(500),
        ) {
            Ok(report) => report,
            // A sandbox without io_uring: the floor is skipped there too.
            Err(e) if e.contains("Operation not permitted") || e.contains("not implemented") => {
                return;
            }
            Err(e) => panic!("{e}"),
        };
        assert!(report.copies_delivered > 0);
        assert!(
            report.delivery_percent > 99.0,
            "{} % delivered",
            report.delivery_percent
        );
    }
}
