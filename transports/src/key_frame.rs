//! Whether an RTP payload starts a key frame, per codec: consumers start and
//! resume video only on one.

use crate::vp9_descriptor::Vp9Descriptor;

/// Codecs whose key frames we can recognise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VideoCodec {
    Vp8,
    Vp9,
    H264,
}

impl VideoCodec {
    pub fn from_mime(mime_type: &str) -> Option<Self> {
        let name = mime_type.split_once('/')?.1;
        match name.to_ascii_uppercase().as_str() {
            "VP8" => Some(VideoCodec::Vp8),
            "VP9" => Some(VideoCodec::Vp9),
            "H264" => Some(VideoCodec::H264),
            _ => None,
        }
    }

    pub fn is_key_frame(&self, payload: &[u8]) -> bool {
        match self {
            VideoCodec::Vp8 => vp8_is_key_frame(payload),
            VideoCodec::Vp9 => vp9_is_key_frame(payload),
            VideoCodec::H264 => h264_is_key_frame(payload),
        }
    }
}

/// RFC 7741: the payload descriptor, then (at the start of partition 0) the
/// VP8 frame tag whose P bit is 0 for key frames.
fn vp8_is_key_frame(payload: &[u8]) -> bool {
    let Some(&first) = payload.first() else {
        return false;
    };
    let start_of_partition = first & 0x10 != 0;
    let partition_id = first & 0x07;
    if !start_of_partition || partition_id != 0 {
        return false;
    }
    let mut offset = 1;
    if first & 0x80 != 0 {
        let Some(&x) = payload.get(offset) else {
            return false;
        };
        offset += 1;
        if x & 0x80 != 0 {
            // PictureID, 7 or 15 bits.
            let Some(&pid) = payload.get(offset) else {
                return false;
            };
            offset += if pid & 0x80 != 0 { 2 } else { 1 };
        }
        if x & 0x40 != 0 {
            offset += 1; // TL0PICIDX
        }
        if x & 0x30 != 0 {
            offset += 1; // TID/KEYIDX
        }
    }
    payload.get(offset).is_some_and(|tag| tag & 0x01 == 0)
}

/// RFC 9628 (VP9 payload): P bit clear on the first packet of a frame
/// (B bit) of the base spatial layer.
fn vp9_is_key_frame(payload: &[u8]) -> bool {
    Vp9Descriptor::parse(payload).is_ok_and(|d| d.is_key_frame())
}

/// RFC 6184: an IDR slice or SPS, alone, in a STAP-A, or starting an FU-A.
fn h264_is_key_frame(payload: &[u8]) -> bool {
    let Some(&first) = payload.first() else {
        return false;
    };
    let is_key = |nal_type: u8| nal_type == 5 || nal_type == 7;
    match first & 0x1f {
        24 => {
            // STAP-A: 16-bit sizes then NAL units.
            let mut offset = 1;
            while let Some(size) = payload.get(offset..offset + 2) {
                let size = usize::from(u16::from_be_bytes([size[0], size[1]]));
                let Some(&nal) = payload.get(offset + 2) else {
                    return false;
                };
                if is_key(nal & 0x1f) {
                    return true;
                }
                offset += 2 + size;
            }
            false
        }
        28 => payload
            .get(1)
            .is_some_and(|fu| fu & 0x80 != 0 && is_key(fu & 0x1f)),
        nal_type => is_key(nal_type),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vp8_key_frames_are_recognised() {
        // S=1 PID=0, no extension, frame tag with P=0.
        assert!(VideoCodec::Vp8.is_key_frame(&[0x10, 0x00, 0x9d, 0x01, 0x2a]));
        // Same with P=1: an inter frame.
        assert!(!VideoCodec::Vp8.is_key_frame(&[0x10, 0x01]));
        // Extended descriptor (X, I with 15-bit picture id) as Chrome sends.
        assert!(VideoCodec::Vp8.is_key_frame(&[0x90, 0x80, 0x81, 0x23, 0x50]));
        // Not the start of the partition.
        assert!(!VideoCodec::Vp8.is_key_frame(&[0x00, 0x00]));
        assert!(!VideoCodec::Vp8.is_key_frame(&[]));
        assert!(!VideoCodec::Vp8.is_key_frame(&[0x90, 0x80]));
    }

    #[test]
    fn h264_and_vp9_key_frames_are_recognised() {
        assert!(VideoCodec::H264.is_key_frame(&[0x65]));
        assert!(VideoCodec::H264.is_key_frame(&[0x78, 0, 2, 0x67, 0x42, 0, 1, 0x68]));
        assert!(VideoCodec::H264.is_key_frame(&[0x7c, 0x85]));
        assert!(!VideoCodec::H264.is_key_frame(&[0x7c, 0x05]));
        assert!(!VideoCodec::H264.is_key_frame(&[0x41]));
        assert!(!VideoCodec::H264.is_key_frame(&[0x78, 0, 9]));
        assert!(VideoCodec::Vp9.is_key_frame(&[0x08]));
        assert!(!VideoCodec::Vp9.is_key_frame(&[0x48]));
        assert_eq!(VideoCodec::from_mime("video/vp8"), Some(VideoCodec::Vp8));
        assert_eq!(VideoCodec::from_mime("audio/opus"), None);
    }
}
