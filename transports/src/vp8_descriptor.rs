//! The VP8 RTP payload descriptor (RFC 7741 §4.2): where a frame starts,
//! its temporal layer, and the picture id and TL0PICIDX a consumer rewrites
//! when it drops frames or switches simulcast streams.

use crate::payload_descriptor::{DescriptorError, PictureNumber};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Vp8Descriptor {
    /// The first packet of a frame (S set, partition 0).
    pub starts_frame: bool,
    pub key_frame: bool,
    pub picture_id: Option<PictureNumber>,
    pub tl0_pic_idx: Option<PictureNumber>,
    /// TID: the temporal layer, when the sender gives one.
    pub temporal_id: Option<u8>,
    /// Y: the frame depends only on TL0 frames, so a receiver may switch up
    /// to its layer here.
    pub layer_sync: bool,
}

impl Vp8Descriptor {
    pub fn parse(payload: &[u8]) -> Result<Vp8Descriptor, DescriptorError> {
        let first = *payload.first().ok_or(DescriptorError::TooShort)?;
        let starts_frame = first & 0x10 != 0 && first & 0x07 == 0;
        let mut d = Vp8Descriptor {
            starts_frame,
            ..Default::default()
        };
        let mut offset = 1;
        if first & 0x80 != 0 {
            let extension = *payload.get(offset).ok_or(DescriptorError::TooShort)?;
            offset += 1;
            if extension & 0x80 != 0 {
                let (picture_id, next) = PictureNumber::read_picture_id(payload, offset)?;
                d.picture_id = Some(picture_id);
                offset = next;
            }
            if extension & 0x40 != 0 {
                d.tl0_pic_idx = Some(PictureNumber::read_tl0_pic_idx(payload, offset)?);
                offset += 1;
            }
            if extension & 0x30 != 0 {
                let byte = *payload.get(offset).ok_or(DescriptorError::TooShort)?;
                if extension & 0x20 != 0 {
                    d.temporal_id = Some(byte >> 6);
                    d.layer_sync = byte & 0x20 != 0;
                }
                offset += 1;
            }
        }
        if starts_frame {
            let tag = *payload.get(offset).ok_or(DescriptorError::TooShort)?;
            d.key_frame = tag & 0x01 == 0;
        }
        Ok(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_chrome_sends_with_temporal_layers() {
        // X; I L T; 15-bit picture id 0x1234; TL0PICIDX 7; TID 2, Y; key frame tag.
        let payload = [0x90, 0xe0, 0x92, 0x34, 0x07, 0xa0, 0x10, 0x02];
        let d = Vp8Descriptor::parse(&payload).unwrap();
        assert!(d.starts_frame);
        assert!(d.key_frame);
        assert_eq!(
            d.picture_id,
            Some(PictureNumber {
                value: 0x1234,
                offset: 2,
                bits: 15
            })
        );
        assert_eq!(d.tl0_pic_idx.map(|t| (t.value, t.offset)), Some((7, 4)));
        assert_eq!(d.temporal_id, Some(2));
        assert!(d.layer_sync);
    }

    #[test]
    fn short_picture_ids_continuations_and_inter_frames() {
        let d = Vp8Descriptor::parse(&[0x80, 0x80, 0x05, 0x00]).unwrap();
        assert_eq!(d.picture_id.map(|p| (p.value, p.bits)), Some((5, 7)));
        assert!(!d.starts_frame);
        assert!(!d.key_frame);
        let d = Vp8Descriptor::parse(&[0x10, 0x01]).unwrap();
        assert!(d.starts_frame && !d.key_frame);
        assert_eq!(d.temporal_id, None);
    }

    #[test]
    fn truncated_descriptors_are_errors() {
        for payload in [
            &[][..],
            &[0x80],
            &[0x80, 0x80],
            &[0x80, 0x80, 0x80],
            &[0x80, 0x40],
            &[0x80, 0x20],
            &[0x10],
        ] {
            assert_eq!(
                Vp8Descriptor::parse(payload),
                Err(DescriptorError::TooShort),
                "{payload:?}"
            );
        }
    }
}
