//! First-byte demultiplexing of a shared media port (RFC 7983 §7).

/// What a datagram on the shared WebRTC port carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PacketKind {
    Stun,
    Dtls,
    /// RTP or RTCP; tell them apart with [`is_rtcp`].
    Rtp,
    Unknown,
}

/// Classifies a datagram by its first byte as RFC 7983 prescribes, after
/// checking it is long enough to be any of them.
pub fn classify(datagram: &[u8]) -> PacketKind {
    let Some(&first) = datagram.first() else {
        return PacketKind::Unknown;
    };
    match first {
        // STUN: the 20-byte header and the magic cookie must be present.
        0..=3 if datagram.len() >= 20 && datagram[4..8] == [0x21, 0x12, 0xa4, 0x42] => {
            PacketKind::Stun
        }
        // DTLS record header is 13 bytes.
        20..=63 if datagram.len() >= 13 => PacketKind::Dtls,
        // RTP/RTCP version 2, and at least an RTCP header.
        128..=191 if datagram.len() >= 8 => PacketKind::Rtp,
        _ => PacketKind::Unknown,
    }
}

/// RTCP packet types occupy 192..=223 in the second byte (RFC 5761 §4), where
/// RTP has its marker bit and payload type.
pub fn is_rtcp(datagram: &[u8]) -> bool {
    matches!(datagram.get(1), Some(192..=223))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stun_header() -> Vec<u8> {
        let mut b = vec![0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42];
        b.extend_from_slice(&[7; 12]);
        b
    }

    #[test]
    fn classifies_by_first_byte() {
        assert_eq!(classify(&stun_header()), PacketKind::Stun);
        let mut dtls = vec![22, 0xfe, 0xfd];
        dtls.extend_from_slice(&[0; 10]);
        assert_eq!(classify(&dtls), PacketKind::Dtls);
        let rtp = [0x80, 96, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1];
        assert_eq!(classify(&rtp), PacketKind::Rtp);
        assert!(!is_rtcp(&rtp));
        let rtcp = [0x81, 201, 0, 1, 0, 0, 0, 1];
        assert_eq!(classify(&rtcp), PacketKind::Rtp);
        assert!(is_rtcp(&rtcp));
    }

    #[test]
    fn short_and_foreign_datagrams_are_unknown() {
        assert_eq!(classify(&[]), PacketKind::Unknown);
        assert_eq!(classify(&stun_header()[..19]), PacketKind::Unknown);
        let mut no_cookie = stun_header();
        no_cookie[4] = 0;
        assert_eq!(classify(&no_cookie), PacketKind::Unknown);
        assert_eq!(classify(&[22, 0xfe]), PacketKind::Unknown);
        assert_eq!(classify(&[0x80, 96, 0]), PacketKind::Unknown);
        assert_eq!(classify(&[64; 40]), PacketKind::Unknown);
        assert_eq!(classify(&[255; 40]), PacketKind::Unknown);
    }
}
