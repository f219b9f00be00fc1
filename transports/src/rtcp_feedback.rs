//! The RTCP an SFU acts on, read from a compound packet (RFC 3550, 4585,
//! 5104), and the feedback it sends.

use bytes::Bytes;
use rtcp::payload_feedbacks::full_intra_request::FullIntraRequest;
use rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtcp::receiver_report::ReceiverReport;
use rtcp::sender_report::SenderReport;
use rtcp::transport_feedbacks::transport_layer_nack::TransportLayerNack;
use shared::marshal::Marshal;
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
    use rtcp::transport_feedbacks::transport_layer_nack::nack_pairs_from_sequence_numbers;

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
