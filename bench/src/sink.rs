//! The consumers' far ends: N UDP sockets read by one thread, counting
//! packets and the latency Troupe added.
//!
//! Latency is taken from the kernel's receive timestamp (SO_TIMESTAMPNS),
//! when the packet reached the sink's socket, so the time this thread takes
//! to get to a socket is not counted as Troupe's.
//!
//! Tried: sweeping the sockets every millisecond instead of sleeping in
//! poll(2) on them, so that Troupe's `sendto` never has a sink to wake.
//! Troupe's CPU per packet rose (N=500 R=100: 6.05 → 6.6 µs), so the
//! sinks wait in poll.

use std::net::UdpSocket;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use troupe_transports::srtp_keys::Context;

use crate::feedback::SinkFeedback;

use crate::sender::STAMP_OFFSET;
use crate::wall_clock_nanos;

/// Latency histogram: 10 µs buckets up to 100 ms.
pub const BUCKET_MICROS: u64 = 10;
pub const BUCKETS: usize = 10_000;

#[derive(Clone)]
pub struct Snapshot {
    pub received: u64,
    pub latency: Vec<u64>,
}

impl Snapshot {
    /// What arrived between `before` and this snapshot.
    pub fn since(&self, before: &Snapshot) -> Snapshot {
        Snapshot {
            received: self.received - before.received,
            latency: self
                .latency
                .iter()
                .zip(&before.latency)
                .map(|(a, b)| a - b)
                .collect(),
        }
    }
}

/// Copies counted by the sender's index are kept up to this index (at
/// 2,500 packets/s, over an hour); later ones count only in `received`.
const MAX_INDEX: u64 = 1 << 24;

pub struct Sinks {
    state: Arc<Mutex<Snapshot>>,
    /// Copies received of each packet the sender sent, by its index.
    copies_by_index: Arc<Mutex<Vec<u32>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

const BATCH: usize = 64;

fn payload_offset(packet: &[u8]) -> Option<usize> {
    if packet.len() < 12 {
        return None;
    }
    let mut offset = 12 + 4 * usize::from(packet[0] & 0x0f);
    if packet[0] & 0x10 != 0 {
        let length = u16::from_be_bytes([*packet.get(offset + 2)?, *packet.get(offset + 3)?]);
        offset += 4 + 4 * usize::from(length);
    }
    Some(offset)
}

fn set_int_option(socket: &UdpSocket, option: libc::c_int, value: libc::c_int) {
    // SAFETY: setsockopt with a valid fd and an int option value.
    unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            option,
            &value as *const _ as *const libc::c_void,
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
    }
}

/// The SO_TIMESTAMPNS receive time of a message (wall clock, ns).
fn receive_timestamp(header: &libc::msghdr) -> Option<u64> {
    // SAFETY: the control buffer was filled by recvmmsg for this header;
    // the CMSG macros stay within msg_controllen.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(header);
        while !cmsg.is_null() {
            if (*cmsg).cmsg_level == libc::SOL_SOCKET && (*cmsg).cmsg_type == libc::SCM_TIMESTAMPNS
            {
                let time: libc::timespec =
                    std::ptr::read_unaligned(libc::CMSG_DATA(cmsg) as *const libc::timespec);
                return Some(time.tv_sec as u64 * 1_000_000_000 + time.tv_nsec as u64);
            }
            cmsg = libc::CMSG_NXTHDR(header, cmsg);
        }
    }
    None
}

/// The latency below which `fraction` of the histogram's samples fall.
pub fn percentile_micros(histogram: &[u64], fraction: f64) -> u64 {
    let total: u64 = histogram.iter().sum();
    if total == 0 {
        return 0;
    }
    let target = (total as f64 * fraction).ceil() as u64;
    let mut seen = 0;
    for (i, count) in histogram.iter().enumerate() {
        seen += count;
        if seen >= target {
            return (i as u64 + 1) * BUCKET_MICROS;
        }
    }
    histogram.len() as u64 * BUCKET_MICROS
}

impl Sinks {
    pub fn start(
        sockets: Vec<UdpSocket>,
        mut unprotect: Vec<Option<Context>>,
        mut feedback: Vec<Option<SinkFeedback>>,
    ) -> Result<Sinks, String> {
        for s in &sockets {
            s.set_nonblocking(true).map_err(|e| e.to_string())?;
            set_int_option(s, libc::SO_RCVBUF, 4 << 20);
            set_int_option(s, libc::SO_TIMESTAMPNS, 1);
        }
        let state = Arc::new(Mutex::new(Snapshot {
            received: 0,
            latency: vec![0; BUCKETS],
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let copies_by_index = Arc::new(Mutex::new(Vec::new()));
        let (shared, stop_flag) = (state.clone(), stop.clone());
        let shared_copies = copies_by_index.clone();
        let thread = std::thread::spawn(move || {
            // The sinks stand in for receivers on other machines, and the
            // latency comes from kernel timestamps, so they can leave the
            // cores to Troupe when both want them.
            // SAFETY: setpriority on this thread (a tid of 0 is the caller).
            unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, 10) };
            let mut fds: Vec<libc::pollfd> = sockets
                .iter()
                .map(|s| libc::pollfd {
                    fd: s.as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                })
                .collect();
            let mut buffers = vec![[0u8; 1500]; BATCH];
            let mut controls = vec![[0u64; 8]; BATCH];
            // Feedback is due every 100 ms whether packets come or not.
            let timeout = if feedback.iter().any(Option::is_some) {
                20
            } else {
                100
            };
            while !stop_flag.load(Relaxed) {
                // SAFETY: fds points to fds.len() valid pollfd structs.
                let ready =
                    unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout) };
                let now = std::time::Instant::now();
                for (socket, feedback) in sockets.iter().zip(feedback.iter_mut()) {
                    if let Some(feedback) = feedback {
                        feedback.send_due(socket, now);
                    }
                }
                if ready <= 0 {
                    continue;
                }
                let mut local = Snapshot {
                    received: 0,
                    latency: Vec::new(),
                };
                let mut samples = Vec::with_capacity(256);
                let mut indexes = Vec::with_capacity(256);
                for ((pfd, context), mut feedback) in fds
                    .iter_mut()
                    .zip(unprotect.iter_mut())
                    .zip(feedback.iter_mut().map(Option::as_mut))
                    .filter(|((p, _), _)| p.revents & libc::POLLIN != 0)
                {
                    loop {
                        let mut iovecs: Vec<libc::iovec> = buffers
                            .iter_mut()
                            .map(|b| libc::iovec {
                                iov_base: b.as_mut_ptr() as *mut libc::c_void,
                                iov_len: b.len(),
                            })
                            .collect();
                        // SAFETY: zeroed mmsghdr is valid; each points at its iovec.
                        let mut headers: Vec<libc::mmsghdr> =
                            (0..BATCH).map(|_| unsafe { std::mem::zeroed() }).collect();
                        for ((h, iov), control) in headers
                            .iter_mut()
                            .zip(iovecs.iter_mut())
                            .zip(controls.iter_mut())
                        {
                            h.msg_hdr.msg_iov = iov;
                            h.msg_hdr.msg_iovlen = 1;
                            h.msg_hdr.msg_control = control.as_mut_ptr() as *mut libc::c_void;
                            h.msg_hdr.msg_controllen = std::mem::size_of_val(control);
                        }
                        // SAFETY: headers and buffers outlive the call.
                        let n = unsafe {
                            libc::recvmmsg(
                                pfd.fd,
                                headers.as_mut_ptr(),
                                BATCH as u32,
                                libc::MSG_DONTWAIT,
                                std::ptr::null_mut(),
                            )
                        };
                        if n <= 0 {
                            break;
                        }
                        let now = wall_clock_nanos();
                        let now_instant = std::time::Instant::now();
                        for (h, buffer) in headers.iter().zip(buffers.iter()).take(n as usize) {
                            let arrived = receive_timestamp(&h.msg_hdr).unwrap_or(now);
                            let received = &buffer[..h.msg_len as usize];
                            let decrypted;
                            let packet = match context.as_mut() {
                                Some(context) => match context.decrypt_rtp(received) {
                                    Ok(plain) => {
                                        decrypted = plain;
                                        &decrypted[..]
                                    }
                                    // RTCP (sender reports) or a bad packet.
                                    Err(_) => continue,
                                },
                                None => received,
                            };
                            if troupe_transports::packet_kind::is_rtcp(packet) {
                                continue;
                            }
                            if let Some(feedback) = feedback.as_mut() {
                                let waited =
                                    std::time::Duration::from_nanos(now.saturating_sub(arrived));
                                feedback.on_packet(packet, waited, now_instant);
                            }
                            local.received += 1;
                            if let Some(offset) = payload_offset(packet) {
                                let at = offset + STAMP_OFFSET + 8;
                                if let Some(stamp) = packet.get(at..at + 8) {
                                    let sent =
                                        u64::from_be_bytes(stamp.try_into().unwrap_or_default());
                                    samples.push(arrived.saturating_sub(sent) / 1000);
                                }
                                let at = offset + STAMP_OFFSET;
                                if let Some(index) = packet.get(at..at + 8) {
                                    indexes.push(u64::from_be_bytes(
                                        index.try_into().unwrap_or_default(),
                                    ));
                                }
                            }
                        }
                    }
                }
                if let Ok(mut s) = shared.lock() {
                    s.received += local.received;
                    for micros in samples {
                        let bucket = ((micros / BUCKET_MICROS) as usize).min(BUCKETS - 1);
                        s.latency[bucket] += 1;
                    }
                }
                if let Ok(mut copies) = shared_copies.lock() {
                    for index in indexes.into_iter().filter(|i| *i < MAX_INDEX) {
                        let index = index as usize;
                        if copies.len() <= index {
                            copies.resize(index + 1, 0);
                        }
                        copies[index] += 1;
                    }
                }
            }
        });
        Ok(Sinks {
            state,
            copies_by_index,
            stop,
            thread: Some(thread),
        })
    }

    pub fn snapshot(&self) -> Snapshot {
        self.state.lock().map(|s| s.clone()).unwrap_or(Snapshot {
            received: 0,
            latency: vec![0; BUCKETS],
        })
    }

    /// Copies received of the packets the sender numbered `first..end`,
    /// whenever they arrived: a window counted by what was sent in it, so
    /// copies still on their way at its edges are not lost to it.
    pub fn copies_of(&self, first: u64, end: u64) -> u64 {
        self.copies_by_index
            .lock()
            .map(|copies| {
                let end = (end as usize).min(copies.len());
                let first = (first as usize).min(end);
                copies[first..end].iter().map(|c| u64::from(*c)).sum()
            })
            .unwrap_or(0)
    }

    pub fn stop(mut self) {
        self.stop.store(true, Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
