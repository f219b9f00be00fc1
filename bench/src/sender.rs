//! The producer side: VP8-like RTP at a steady rate, 30 frames a second,
//! a key frame every 2 s and on PLI/FIR, the send index and time in each
//! payload.

use std::net::UdpSocket;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use troupe_transports::srtp_keys::SrtpKey;

use crate::api::SSRC;
use crate::wall_clock_nanos;

pub struct Sender {
    sent: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// Offset of the index and send time in the payload (after the VP8
/// descriptor and frame tag).
pub const STAMP_OFFSET: usize = 2;

impl Sender {
    pub fn start(
        port: u16,
        payload_type: u8,
        rate: u32,
        payload: usize,
        key: Option<SrtpKey>,
        transport_cc_extension: Option<u8>,
    ) -> Result<Sender, String> {
        let mut protect = match key {
            Some(key) => Some(key.context(false).map_err(|e| e.to_string())?),
            None => None,
        };
        let socket = UdpSocket::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
        socket
            .connect(("127.0.0.1", port))
            .map_err(|e| e.to_string())?;
        socket.set_nonblocking(true).map_err(|e| e.to_string())?;
        let sent = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (sent_counter, stop_flag) = (sent.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let per_frame = (rate / 30).max(1);
            let interval = Duration::from_secs_f64(1.0 / f64::from(rate.max(1)));
            // With transport-cc, a one-byte header extension of one word:
            // the id, the 16-bit transport-wide number, a byte of padding.
            let header = if transport_cc_extension.is_some() {
                20
            } else {
                12
            };
            let mut packet = vec![0u8; header + payload.max(STAMP_OFFSET + 16)];
            let mut rtcp = [0u8; 1500];
            let (mut sequence, mut timestamp, mut frame, mut index) = (0u16, 0u32, 0u64, 0u64);
            let mut key_frame_asked = true;
            let mut next = Instant::now();
            while !stop_flag.load(Relaxed) {
                // PLI (PT 206, FMT 1) or FIR (FMT 4) from Troupe: key frame next.
                while let Ok(n) = socket.recv(&mut rtcp) {
                    if n >= 2 && rtcp[1] == 206 && matches!(rtcp[0] & 0x1f, 1 | 4) {
                        key_frame_asked = true;
                    }
                }
                let key_frame = key_frame_asked || frame % 60 == 0;
                key_frame_asked = false;
                for i in 0..per_frame {
                    let now = Instant::now();
                    if next > now {
                        std::thread::sleep(next - now);
                    }
                    next += interval;
                    let last = i + 1 == per_frame;
                    packet[0] = 0x80;
                    if let Some(id) = transport_cc_extension {
                        packet[0] |= 0x10;
                        packet[12..16].copy_from_slice(&[0xbe, 0xde, 0, 1]);
                        packet[16] = (id << 4) | 1;
                        packet[17..19].copy_from_slice(&(sequence).to_be_bytes());
                        packet[19] = 0;
                    }
                    packet[1] = (u8::from(last) << 7) | payload_type;
                    packet[2..4].copy_from_slice(&sequence.to_be_bytes());
                    packet[4..8].copy_from_slice(&timestamp.to_be_bytes());
                    packet[8..12].copy_from_slice(&SSRC.to_be_bytes());
                    // VP8 descriptor: S bit on the first packet of a frame;
                    // frame tag: P bit clear on key frames.
                    packet[header] = if i == 0 { 0x10 } else { 0x00 };
                    packet[header + 1] = if key_frame { 0x00 } else { 0x01 };
                    let stamp = header + STAMP_OFFSET;
                    packet[stamp..stamp + 8].copy_from_slice(&index.to_be_bytes());
                    let sent_at = wall_clock_nanos();
                    packet[stamp + 8..stamp + 16].copy_from_slice(&sent_at.to_be_bytes());
                    let sent = match protect.as_mut() {
                        Some(context) => match context.encrypt_rtp(&packet) {
                            Ok(protected) => socket.send(&protected),
                            Err(e) => Err(std::io::Error::other(e.to_string())),
                        },
                        None => socket.send(&packet),
                    };
                    if sent.is_ok() {
                        sent_counter.fetch_add(1, Relaxed);
                    }
                    sequence = sequence.wrapping_add(1);
                    index += 1;
                }
                timestamp = timestamp.wrapping_add(3000);
                frame += 1;
            }
        });
        Ok(Sender {
            sent,
            stop,
            thread: Some(thread),
        })
    }

    pub fn sent(&self) -> u64 {
        self.sent.load(Relaxed)
    }

    pub fn stop(mut self) {
        self.stop.store(true, Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
