//! The RTCP an SFU acts on, read from a compound packet (RFC 3550, 4585,
//! 5104), and the feedback it sends.

use bytes::Bytes;
use rtcp::payload_feedbacks::full_intra_request::FullIntraRequest;
use rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtcp::payload_feedbacks::receiver_estimated_maximum_bitrate::ReceiverEstimatedMaximumBitrate;
use rtcp::receiver_report::ReceiverReport;
use rtcp::reception_report::ReceptionReport;
use rtcp::sender_report::SenderReport;
use rtcp::transport_feedbacks::transport_layer_cc::TransportLayerCc;
use rtcp::transport_feedbacks::transport_layer_nack::nack_pairs_from_sequence_numbers;
use rtcp::transport_feedbacks::transport_layer_nack::TransportLayerNack;
use shared::marshal::Marshal;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use thiserror::Error;

#[derive(Debug, Error, PartialEq, Eq)]
#[error("malformed RTCP: {0}")]
pub struct RtcpError(pub String);

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Feedback {
    /// Picture loss: the receiver needs a key frame of `media_ssrc`.
    Pli { media_ssrc: u32 },
    /// Full intra request for `media_ssrc`.
    Fir { media_ssrc: u32 },
    /// Lost packets of `media_ssrc`.
    Nack {
        media_ssrc: u32,
        sequence_numbers: Vec<u16>,
    },
    /// Reception of our stream `ssrc`: loss, and the times for RTT.
    Report {
        ssrc: u32,
        fraction_lost: u8,
        total_lost: u32,
        jitter: u32,
        last_sender_report: u32,
        delay: u32,
    },
    /// A sender's report about its stream `ssrc`.
    SenderReport {
        ssrc: u32,
        ntp_time: u64,
        rtp_time: u32,
    },
    /// Receiver-estimated maximum bitrate (bits/s).
    Remb { bitrate: u64 },
    /// Transport-wide congestion control feedback: for each transport-wide
    /// sequence number from the base, when it arrived (µs on the
    /// receiver's clock, from the reference time), or `None` if it did not.
    TransportCc {
        base_sequence: u16,
        arrivals: Vec<Option<i64>>,
    },
}

/// Reads every packet of an RTCP compound packet this SFU acts on; others
/// (SDES, BYE, XR, REMB, transport-cc) are skipped.
pub fn parse(compound: &[u8]) -> Result<Vec<Feedback>, RtcpError> {
    let mut buf = Bytes::copy_from_slice(compound);
    let packets = rtcp::packet::unmarshal(&mut buf).map_err(|e| RtcpError(e.to_string()))?;
    let mut out = Vec::new();
    for packet in &packets {
        let any = packet.as_any();
        if let Some(p) = any.downcast_ref::<PictureLossIndication>() {
            out.push(Feedback::Pli {
                media_ssrc: p.media_ssrc,
            });
        } else if let Some(f) = any.downcast_ref::<FullIntraRequest>() {
            out.extend(f.fir.iter().map(|e| Feedback::Fir { media_ssrc: e.ssrc }));
        } else if let Some(n) = any.downcast_ref::<TransportLayerNack>() {
            let sequence_numbers = n.nacks.iter().flat_map(|pair| pair.packet_list()).collect();
            out.push(Feedback::Nack {
                media_ssrc: n.media_ssrc,
                sequence_numbers,
            });
        } else if let Some(rr) = any.downcast_ref::<ReceiverReport>() {
            out.extend(rr.reports.iter().map(report));
        } else if let Some(remb) = any.downcast_ref::<ReceiverEstimatedMaximumBitrate>() {
            out.push(Feedback::Remb {
                bitrate: remb.bitrate as u64,
            });
        } else if let Some(feedback) = any.downcast_ref::<TransportLayerCc>() {
            out.push(Feedback::TransportCc {
                base_sequence: feedback.base_sequence_number,
                arrivals: transport_cc_arrivals(feedback),
            });
        } else if let Some(sr) = any.downcast_ref::<SenderReport>() {
            out.push(Feedback::SenderReport {
                ssrc: sr.ssrc,
                ntp_time: sr.ntp_time,
                rtp_time: sr.rtp_time,
            });
            out.extend(sr.reports.iter().map(report));
        }
    }
    Ok(out)
}

/// Each reported packet's arrival, in order from the base sequence number.
fn transport_cc_arrivals(feedback: &TransportLayerCc) -> Vec<Option<i64>> {
    use rtcp::transport_feedbacks::transport_layer_cc::{PacketStatusChunk, SymbolTypeTcc};
    let count = usize::from(feedback.packet_status_count);
    let mut statuses = Vec::with_capacity(count);
    for chunk in &feedback.packet_chunks {
        match chunk {
            PacketStatusChunk::RunLengthChunk(run) => {
                let room = count - statuses.len();
                statuses.extend(std::iter::repeat_n(
                    run.packet_status_symbol,
                    usize::from(run.run_length).min(room),
                ));
            }
            PacketStatusChunk::StatusVectorChunk(vector) => {
                let room = count - statuses.len();
                statuses.extend(vector.symbol_list.iter().take(room));
            }
        }
        if statuses.len() == count {
            break;
        }
    }
    // 24-bit reference time in 64 ms units.
    let mut time = i64::from(feedback.reference_time) * 64_000;
    let mut deltas = feedback.recv_deltas.iter();
    statuses
        .iter()
        .map(|status| match status {
            SymbolTypeTcc::PacketReceivedSmallDelta | SymbolTypeTcc::PacketReceivedLargeDelta => {
                time += deltas.next()?.delta;
                Some(time)
            }
            _ => None,
        })
        .collect()
}

fn report(r: &rtcp::reception_report::ReceptionReport) -> Feedback {
    Feedback::Report {
        ssrc: r.ssrc,
        fraction_lost: r.fraction_lost,
        total_lost: r.total_lost,
        jitter: r.jitter,
        last_sender_report: r.last_sender_report,
        delay: r.delay,
    }
}

/// The current time as a 64-bit NTP timestamp (RFC 3550 §4).
pub fn ntp_now() -> u64 {
    let since_unix = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO);
    let seconds = since_unix.as_secs() + 2_208_988_800;
    let fraction = (u64::from(since_unix.subsec_nanos()) << 32) / 1_000_000_000;
    (seconds << 32) | fraction
}

/// The middle 32 bits of an NTP timestamp, as LSR and DLSR use.
pub fn ntp_middle(ntp: u64) -> u32 {
    (ntp >> 16) as u32
}

/// Round-trip time from a report block (RFC 3550 §6.4.1): arrival minus
/// the sender report's time minus the receiver's delay, in 1/65536 s.
pub fn round_trip_time(arrival_ntp: u64, last_sender_report: u32, delay: u32) -> Option<Duration> {
    if last_sender_report == 0 {
        return None;
    }
    let rtt = ntp_middle(arrival_ntp)
        .wrapping_sub(last_sender_report)
        .wrapping_sub(delay);
    // A negative or absurd value means clocks or reports are inconsistent.
    (rtt < 65_536 * 60).then(|| Duration::from_micros(u64::from(rtt) * 1_000_000 / 65_536))
}

/// A sender report for a stream we send.
pub fn sender_report(
    ssrc: u32,
    ntp_time: u64,
    rtp_time: u32,
    packet_count: u32,
    octet_count: u32,
) -> Vec<u8> {
    SenderReport {
        ssrc,
        ntp_time,
        rtp_time,
        packet_count,
        octet_count,
        reports: vec![],
        profile_extensions: Default::default(),
    }
    .marshal()
    .map(|b| b.to_vec())
    .unwrap_or_default()
}

/// One receiver report block.
#[derive(Debug, Clone, Copy)]
pub struct Reception {
    pub ssrc: u32,
    pub fraction_lost: u8,
    pub total_lost: u32,
    pub extended_highest: u32,
    pub jitter: u32,
    pub last_sender_report: u32,
    pub delay_since_last_sender_report: u32,
}

/// A receiver report for streams we receive.
pub fn receiver_report(sender_ssrc: u32, blocks: &[Reception]) -> Vec<u8> {
    let reports = blocks
        .iter()
        .map(|b| ReceptionReport {
            ssrc: b.ssrc,
            fraction_lost: b.fraction_lost,
            total_lost: b.total_lost,
            last_sequence_number: b.extended_highest,
            jitter: b.jitter,
            last_sender_report: b.last_sender_report,
            delay: b.delay_since_last_sender_report,
        })
        .collect();
    ReceiverReport {
        ssrc: sender_ssrc,
        reports,
        profile_extensions: Default::default(),
    }
    .marshal()
    .map(|b| b.to_vec())
    .unwrap_or_default()
}

/// A generic NACK for lost packets of `media_ssrc`.
pub fn nack(sender_ssrc: u32, media_ssrc: u32, sequence_numbers: &[u16]) -> Vec<u8> {
    TransportLayerNack {
        sender_ssrc,
        media_ssrc,
        nacks: nack_pairs_from_sequence_numbers(sequence_numbers),
    }
    .marshal()
    .map(|b| b.to_vec())
    .unwrap_or_default()
}

/// A BYE: the stream `ssrc` ends (RFC 3550 §6.6).
pub fn goodbye(ssrc: u32) -> Vec<u8> {
    rtcp::goodbye::Goodbye {
        sources: vec![ssrc],
        reason: Default::default(),
    }
    .marshal()
    .map(|b| b.to_vec())
    .unwrap_or_default()
}

/// A REMB (draft-alvestrand-rmcat-remb): the most the senders of `ssrcs`
/// should send, in bits per second.
pub fn receiver_estimated_maximum_bitrate(
    sender_ssrc: u32,
    bitrate: u64,
    ssrcs: &[u32],
) -> Vec<u8> {
    ReceiverEstimatedMaximumBitrate {
        sender_ssrc,
        bitrate: bitrate as f32,
        ssrcs: ssrcs.to_vec(),
    }
    .marshal()
    .map(|b| b.to_vec())
    .unwrap_or_default()
}

/// A PLI asking the sender of `media_ssrc` for a key frame.
pub fn picture_loss_indication(sender_ssrc: u32, media_ssrc: u32) -> Vec<u8> {
    PictureLossIndication {
        sender_ssrc,
        media_ssrc,
    }
    .marshal()
    .map(|b| b.to_vec())
    .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transport_cc_feedback_reads_back_as_arrivals() {
        let start = std::time::Instant::now();
        let mut generator = crate::transport_cc_feedback::TransportCcFeedback::new(1, start);
        for (sequence, ms) in [(500u16, 0u64), (501, 5), (503, 12)] {
            generator.on_packet(sequence, 9, start + Duration::from_millis(ms));
        }
        let packet = generator.poll(start + Duration::from_millis(20)).remove(0);
        match parse(&packet).unwrap().as_slice() {
            [Feedback::TransportCc {
                base_sequence,
                arrivals,
            }] => {
                assert_eq!(*base_sequence, 500);
                assert_eq!(arrivals, &[Some(0), Some(5_000), None, Some(12_000)]);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_remb_round_trips() {
        let remb = receiver_estimated_maximum_bitrate(1, 1_500_000, &[7, 8]);
        match parse(&remb).unwrap().as_slice() {
            [Feedback::Remb { bitrate }] => {
                assert!((1_490_000..=1_510_000).contains(bitrate), "{bitrate}")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn reports_and_nacks_round_trip() {
        let sr = sender_report(5, 0x1234_5678_9abc_def0, 90_000, 10, 1000);
        assert_eq!(
            parse(&sr).unwrap(),
            vec![Feedback::SenderReport {
                ssrc: 5,
                ntp_time: 0x1234_5678_9abc_def0,
                rtp_time: 90_000
            }]
        );
        let block = Reception {
            ssrc: 7,
            fraction_lost: 3,
            total_lost: 4,
            extended_highest: 100,
            jitter: 2,
            last_sender_report: 9,
            delay_since_last_sender_report: 1,
        };
        let rr = receiver_report(1, &[block]);
        assert!(matches!(
            parse(&rr).unwrap()[0],
            Feedback::Report {
                ssrc: 7,
                fraction_lost: 3,
                total_lost: 4,
                ..
            }
        ));
        assert_eq!(
            parse(&nack(1, 2, &[5, 6])).unwrap(),
            vec![Feedback::Nack {
                media_ssrc: 2,
                sequence_numbers: vec![5, 6]
            }]
        );
    }

    #[test]
    fn round_trip_time_from_a_report_block() {
        let sent = ntp_now();
        let arrival = sent + (1u64 << 32) / 10; // 100 ms later
        let rtt = round_trip_time(arrival, ntp_middle(sent), 65_536 / 20).unwrap(); // 50 ms held
        assert!((45..=55).contains(&rtt.as_millis()), "{rtt:?}");
        assert_eq!(round_trip_time(arrival, 0, 0), None);
    }

    #[test]
    fn reads_pli_and_nack_from_a_compound_packet() {
        let mut compound = picture_loss_indication(1, 1234);
        let nack = TransportLayerNack {
            sender_ssrc: 1,
            media_ssrc: 99,
            nacks: nack_pairs_from_sequence_numbers(&[10, 11, 13]),
        };
        compound.extend_from_slice(&nack.marshal().unwrap());
        assert_eq!(
            parse(&compound).unwrap(),
            vec![
                Feedback::Pli { media_ssrc: 1234 },
                Feedback::Nack {
                    media_ssrc: 99,
                    sequence_numbers: vec![10, 11, 13]
                }
            ]
        );
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(parse(&[0x81, 201, 0, 40, 1, 2]).is_err());
        assert!(parse(&[]).is_err());
    }
}
