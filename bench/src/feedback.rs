//! What a WebRTC consumer's far end says back, as a browser does: the
//! arrival of every transport-wide numbered packet, as transport-cc
//! feedback every 100 ms (SRTCP), so that Troupe's send-side estimate and
//! its allocation run on every consumer as in a real call.

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use troupe_transports::rtp_packet::RtpHeader;
use troupe_transports::srtp_keys::Context;
use troupe_transports::transport_cc_feedback::TransportCcFeedback;

/// The SSRC the sinks sign their feedback with.
const SINK_SSRC: u32 = 0x5e17_0001;

pub struct SinkFeedback {
    extension_id: u8,
    generator: TransportCcFeedback,
    protect: Context,
    server: SocketAddr,
    pub sent: u64,
}

impl SinkFeedback {
    pub fn new(extension_id: u8, protect: Context, server: SocketAddr) -> Self {
        SinkFeedback {
            extension_id,
            generator: TransportCcFeedback::new(SINK_SSRC, Instant::now()),
            protect,
            server,
            sent: 0,
        }
    }

    /// An RTP packet (unprotected) that reached the sink's socket
    /// `waited` before now.
    pub fn on_packet(&mut self, packet: &[u8], waited: Duration, now: Instant) {
        let Ok(header) = RtpHeader::parse(packet) else {
            return;
        };
        let number = header
            .extensions(packet)
            .find(|(id, _)| *id == self.extension_id)
            .and_then(|(_, value)| Some(u16::from_be_bytes(value.get(..2)?.try_into().ok()?)));
        if let Some(number) = number {
            let arrival = now.checked_sub(waited).unwrap_or(now);
            self.generator.on_packet(number, header.ssrc, arrival);
        }
    }

    /// Sends the feedback that is due.
    pub fn send_due(&mut self, socket: &UdpSocket, now: Instant) {
        for packet in self.generator.poll(now) {
            if let Ok(protected) = self.protect.encrypt_rtcp(&packet) {
                if socket.send_to(&protected, self.server).is_ok() {
                    self.sent += 1;
                }
            }
        }
    }
}
