//! An RTP packet that carries only padding (RFC 3550 §5.1, the P bit), with
//! a transport-wide sequence number (one-byte header extension, RFC 8285):
//! what a probe sends. The receiver counts it in its transport-cc feedback
//! and drops it.

/// The most padding one packet can carry: its last byte says how much.
pub const MAX_PADDING: u8 = 255;

/// The padding packet's fields.
pub struct Padding {
    pub ssrc: u32,
    pub payload_type: u8,
    pub sequence_number: u16,
    pub timestamp: u32,
    /// The transport-cc extension's id and the packet's number.
    pub transport_cc: (u8, u16),
    pub padding: u8,
}

/// Writes the packet into `out` (cleared first).
pub fn padding_packet(fields: &Padding, out: &mut Vec<u8>) {
    out.clear();
    // V=2, P, X; no CSRCs; no marker.
    out.push(0x80 | 0x20 | 0x10);
    out.push(fields.payload_type & 0x7f);
    out.extend_from_slice(&fields.sequence_number.to_be_bytes());
    out.extend_from_slice(&fields.timestamp.to_be_bytes());
    out.extend_from_slice(&fields.ssrc.to_be_bytes());
    // One-byte extensions, one 32-bit word: id/length, the number, a pad.
    let (id, number) = fields.transport_cc;
    out.extend_from_slice(&[0xbe, 0xde, 0x00, 0x01]);
    out.push((id & 0x0f) << 4 | 0x01);
    out.extend_from_slice(&number.to_be_bytes());
    out.push(0);
    let padding = fields.padding.max(1);
    out.resize(out.len() + usize::from(padding) - 1, 0);
    out.push(padding);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rtp_packet::RtpHeader;

    #[test]
    fn reads_back_as_a_padding_only_packet_with_its_transport_wide_number() {
        let mut out = Vec::new();
        padding_packet(
            &Padding {
                ssrc: 1234,
                payload_type: 101,
                sequence_number: 7,
                timestamp: 90_000,
                transport_cc: (5, 0xabcd),
                padding: MAX_PADDING,
            },
            &mut out,
        );
        assert_eq!(out.len(), 12 + 8 + 255);
        let header = RtpHeader::parse(&out).unwrap();
        assert_eq!(header.ssrc, 1234);
        assert_eq!(header.payload_type, 101);
        assert_eq!(header.sequence_number, 7);
        assert!(header.payload(&out).is_empty(), "all of it is padding");
        let extensions: Vec<_> = header.extensions(&out).collect();
        assert_eq!(extensions, vec![(5u8, &[0xab, 0xcd][..])]);
    }
}
