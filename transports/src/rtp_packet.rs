//! RTP (RFC 3550) headers read without copying, and packets rebuilt for a
//! consumer: new SSRC, sequence number, timestamp and payload type, header
//! extensions renumbered (RFC 8285), payload kept.

use thiserror::Error;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum RtpError {
    #[error("shorter than an RTP header")]
    TooShort,
    #[error("RTP version is not 2")]
    BadVersion,
    #[error("header extension runs past the packet")]
    BadExtension,
    #[error("padding longer than the payload")]
    BadPadding,
}

/// The fixed fields of an RTP packet and where its parts are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtpHeader {
    pub marker: bool,
    pub payload_type: u8,
    pub sequence_number: u16,
    pub timestamp: u32,
    pub ssrc: u32,
    /// Offset and length of the extension elements (after the 4-byte
    /// extension header), and the profile (0xBEDE one-byte, 0x100X two-byte).
    pub extension: Option<(usize, usize, u16)>,
    pub payload_offset: usize,
    pub payload_len: usize,
}

impl RtpHeader {
    pub fn parse(packet: &[u8]) -> Result<RtpHeader, RtpError> {
        if packet.len() < 12 {
            return Err(RtpError::TooShort);
        }
        if packet[0] >> 6 != 2 {
            return Err(RtpError::BadVersion);
        }
        let has_padding = packet[0] & 0x20 != 0;
        let has_extension = packet[0] & 0x10 != 0;
        let csrc_count = usize::from(packet[0] & 0x0f);
        let mut offset = 12 + 4 * csrc_count;
        if packet.len() < offset {
            return Err(RtpError::TooShort);
        }
        let mut extension = None;
        if has_extension {
            let header = packet
                .get(offset..offset + 4)
                .ok_or(RtpError::BadExtension)?;
            let profile = u16::from_be_bytes([header[0], header[1]]);
            let length = 4 * usize::from(u16::from_be_bytes([header[2], header[3]]));
            offset += 4;
            if packet.len() < offset + length {
                return Err(RtpError::BadExtension);
            }
            extension = Some((offset, length, profile));
            offset += length;
        }
        let mut end = packet.len();
        if has_padding {
            let padding = usize::from(*packet.last().ok_or(RtpError::TooShort)?);
            if padding == 0 || end < offset + padding {
                return Err(RtpError::BadPadding);
            }
            end -= padding;
        }
        Ok(RtpHeader {
            marker: packet[1] & 0x80 != 0,
            payload_type: packet[1] & 0x7f,
            sequence_number: u16::from_be_bytes([packet[2], packet[3]]),
            timestamp: u32::from_be_bytes([packet[4], packet[5], packet[6], packet[7]]),
            ssrc: u32::from_be_bytes([packet[8], packet[9], packet[10], packet[11]]),
            extension,
            payload_offset: offset,
            payload_len: end - offset,
        })
    }

    /// The header extensions, as (id, value) pairs.
    pub fn extensions<'a>(&self, packet: &'a [u8]) -> Extensions<'a> {
        match self.extension {
            Some((offset, length, profile)) => Extensions {
                data: packet.get(offset..offset + length).unwrap_or(&[]),
                two_byte: profile & 0xfff0 == 0x1000,
                valid: profile == 0xbede || profile & 0xfff0 == 0x1000,
            },
            None => Extensions {
                data: &[],
                two_byte: false,
                valid: false,
            },
        }
    }

    pub fn payload<'a>(&self, packet: &'a [u8]) -> &'a [u8] {
        packet
            .get(self.payload_offset..self.payload_offset + self.payload_len)
            .unwrap_or(&[])
    }
}

/// Overwrites the value of extension `id` in `packet` (whose header is
/// `header`) with `value` of the same length; false if it has none such.
pub fn overwrite_extension(packet: &mut [u8], header: &RtpHeader, id: u8, value: &[u8]) -> bool {
    let Some(offset) = header
        .extensions(packet)
        .find(|(i, v)| *i == id && v.len() == value.len())
        .map(|(_, v)| v.as_ptr() as usize - packet.as_ptr() as usize)
    else {
        return false;
    };
    match packet.get_mut(offset..offset + value.len()) {
        Some(field) => {
            field.copy_from_slice(value);
            true
        }
        None => false,
    }
}

/// Iterator over RFC 8285 extension elements; stops at malformed data.
pub struct Extensions<'a> {
    data: &'a [u8],
    two_byte: bool,
    valid: bool,
}

impl<'a> Iterator for Extensions<'a> {
    type Item = (u8, &'a [u8]);
    fn next(&mut self) -> Option<Self::Item> {
        if !self.valid {
            return None;
        }
        loop {
            let (&first, rest) = self.data.split_first()?;
            if first == 0 {
                self.data = rest; // padding
                continue;
            }
            let (id, length, header) = if self.two_byte {
                let (&len, _) = rest.split_first()?;
                (first, usize::from(len), 2)
            } else {
                let id = first >> 4;
                if id == 15 {
                    return None;
                }
                (id, usize::from(first & 0x0f) + 1, 1)
            };
            let value = self.data.get(header..header + length)?;
            self.data = &self.data[header + length..];
            return Some((id, value));
        }
    }
}

/// What a consumer's copy of a packet gets.
#[derive(Debug, Clone, Copy)]
pub struct Rewrite {
    pub payload_type: u8,
    pub sequence_number: u16,
    pub timestamp: u32,
    pub ssrc: u32,
    pub marker: bool,
}

/// Builds a packet from `packet` with `rewrite` applied and extensions
/// `extensions` (id, value) — the caller decides which to keep and their
/// ids. CSRCs and padding are not carried over.
pub fn rebuild(
    packet: &[u8],
    header: &RtpHeader,
    rewrite: &Rewrite,
    extensions: &[(u8, &[u8])],
    out: &mut Vec<u8>,
) {
    out.clear();
    out.push(0x80);
    out.push((u8::from(rewrite.marker) << 7) | (rewrite.payload_type & 0x7f));
    out.extend_from_slice(&rewrite.sequence_number.to_be_bytes());
    out.extend_from_slice(&rewrite.timestamp.to_be_bytes());
    out.extend_from_slice(&rewrite.ssrc.to_be_bytes());
    if !extensions.is_empty() {
        out[0] |= 0x10;
        let one_byte = extensions
            .iter()
            .all(|(id, v)| (1..=14).contains(id) && (1..=16).contains(&v.len()));
        let start = out.len();
        out.extend_from_slice(&[0, 0, 0, 0]);
        for (id, value) in extensions {
            if one_byte {
                out.push((id << 4) | (value.len() as u8 - 1));
            } else {
                out.push(*id);
                out.push(value.len().min(255) as u8);
            }
            out.extend_from_slice(&value[..value.len().min(255)]);
        }
        while !(out.len() - start - 4).is_multiple_of(4) {
            out.push(0);
        }
        let profile: u16 = if one_byte { 0xbede } else { 0x1000 };
        let words = ((out.len() - start - 4) / 4) as u16;
        out[start..start + 2].copy_from_slice(&profile.to_be_bytes());
        out[start + 2..start + 4].copy_from_slice(&words.to_be_bytes());
    }
    out.extend_from_slice(header.payload(packet));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packet_with_extensions() -> Vec<u8> {
        let mut p = vec![0x90, 0xe0, 0x12, 0x34, 0, 0, 0x10, 0, 0, 0, 0, 42];
        // one-byte extensions: id 9 (mid "0"), id 3 (2 bytes), padding
        p.extend_from_slice(&[0xbe, 0xde, 0, 2, 0x90, b'0', 0x31, 0xaa, 0xbb, 0, 0, 0]);
        p.extend_from_slice(b"payload");
        p
    }

    #[test]
    fn parses_fields_and_extensions() {
        let p = packet_with_extensions();
        let h = RtpHeader::parse(&p).unwrap();
        assert!(h.marker);
        assert_eq!(
            (h.payload_type, h.sequence_number, h.timestamp, h.ssrc),
            (96, 0x1234, 0x1000, 42)
        );
        let ext: Vec<(u8, Vec<u8>)> = h.extensions(&p).map(|(i, v)| (i, v.to_vec())).collect();
        assert_eq!(ext, vec![(9, b"0".to_vec()), (3, vec![0xaa, 0xbb])]);
        assert_eq!(h.payload(&p), b"payload");
    }

    #[test]
    fn rebuilds_with_new_fields_and_ids() {
        let p = packet_with_extensions();
        let h = RtpHeader::parse(&p).unwrap();
        let rewrite = Rewrite {
            payload_type: 101,
            sequence_number: 7,
            timestamp: 99,
            ssrc: 5,
            marker: false,
        };
        let mut out = Vec::new();
        rebuild(
            &p,
            &h,
            &rewrite,
            &[(1, b"3"), (11, &[0xaa, 0xbb])],
            &mut out,
        );
        let r = RtpHeader::parse(&out).unwrap();
        assert_eq!(
            (
                r.payload_type,
                r.sequence_number,
                r.timestamp,
                r.ssrc,
                r.marker
            ),
            (101, 7, 99, 5, false)
        );
        let ext: Vec<(u8, Vec<u8>)> = r.extensions(&out).map(|(i, v)| (i, v.to_vec())).collect();
        assert_eq!(ext, vec![(1, b"3".to_vec()), (11, vec![0xaa, 0xbb])]);
        assert_eq!(r.payload(&out), b"payload");
        // Without extensions the X bit is off.
        rebuild(&p, &h, &rewrite, &[], &mut out);
        assert_eq!(out[0], 0x80);
        assert_eq!(RtpHeader::parse(&out).unwrap().payload(&out), b"payload");
    }

    #[test]
    fn an_extension_value_is_overwritten_in_place() {
        let mut p = packet_with_extensions();
        let h = RtpHeader::parse(&p).unwrap();
        assert!(overwrite_extension(&mut p, &h, 3, &[0x01, 0x02]));
        let ext: Vec<(u8, Vec<u8>)> = h.extensions(&p).map(|(i, v)| (i, v.to_vec())).collect();
        assert_eq!(ext, vec![(9, b"0".to_vec()), (3, vec![0x01, 0x02])]);
        assert!(
            !overwrite_extension(&mut p, &h, 4, &[0, 0]),
            "no such extension"
        );
        assert!(!overwrite_extension(&mut p, &h, 3, &[0]), "another length");
    }

    #[test]
    fn malformed_packets_are_errors() {
        assert_eq!(RtpHeader::parse(&[0x80; 5]), Err(RtpError::TooShort));
        assert_eq!(RtpHeader::parse(&[0x40; 12]), Err(RtpError::BadVersion));
        let mut p = packet_with_extensions();
        p[15] = 200; // extension length past the end
        assert_eq!(RtpHeader::parse(&p), Err(RtpError::BadExtension));
        let mut p = vec![0xa0, 96, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 1, 2, 50];
        assert_eq!(RtpHeader::parse(&p), Err(RtpError::BadPadding));
        p[14] = 0;
        assert_eq!(RtpHeader::parse(&p), Err(RtpError::BadPadding));
        let mut csrc = vec![0x8f, 96, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1];
        csrc.extend_from_slice(&[0; 8]);
        assert_eq!(RtpHeader::parse(&csrc), Err(RtpError::TooShort));
    }
}
