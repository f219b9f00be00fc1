//! The VP9 RTP payload descriptor (RFC 9628 §4.2): the spatial and temporal
//! layer of a packet, where layer frames begin and end, and the numbers a
//! consumer rewrites when it drops pictures.

use crate::payload_descriptor::{DescriptorError, PictureNumber};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Vp9Descriptor {
    /// P: predicted from an earlier picture of the same layer.
    pub inter_picture: bool,
    /// F: flexible mode (references in the descriptor, no TL0PICIDX).
    pub flexible: bool,
    /// B and E: the first and last packet of a layer frame.
    pub begins_frame: bool,
    pub ends_frame: bool,
    pub picture_id: Option<PictureNumber>,
    pub tl0_pic_idx: Option<PictureNumber>,
    pub spatial_id: u8,
    pub temporal_id: u8,
    /// U: from here on the frame's temporal layer can be switched up to.
    pub switching_up_point: bool,
    /// D: depends on the lower spatial layer of the same picture.
    pub inter_layer_dependent: bool,
}

impl Vp9Descriptor {
    pub fn parse(payload: &[u8]) -> Result<Vp9Descriptor, DescriptorError> {
        let first = *payload.first().ok_or(DescriptorError::TooShort)?;
        let mut d = Vp9Descriptor {
            inter_picture: first & 0x40 != 0,
            flexible: first & 0x10 != 0,
            begins_frame: first & 0x08 != 0,
            ends_frame: first & 0x04 != 0,
            ..Default::default()
        };
        let mut offset = 1;
        if first & 0x80 != 0 {
            let (picture_id, next) = PictureNumber::read_picture_id(payload, offset)?;
            d.picture_id = Some(picture_id);
            offset = next;
        }
        if first & 0x20 != 0 {
            let layers = *payload.get(offset).ok_or(DescriptorError::TooShort)?;
            d.temporal_id = layers >> 5;
            d.switching_up_point = layers & 0x10 != 0;
            d.spatial_id = (layers >> 1) & 0x07;
            d.inter_layer_dependent = layers & 0x01 != 0;
            offset += 1;
            if !d.flexible {
                d.tl0_pic_idx = Some(PictureNumber::read_tl0_pic_idx(payload, offset)?);
            }
        }
        Ok(d)
    }

    /// The first packet of a key frame: the base layer of a picture that
    /// needs no earlier one.
    pub fn is_key_frame(&self) -> bool {
        !self.inter_picture && self.begins_frame && self.spatial_id == 0
    }

    /// The first packet of a picture (its lowest spatial layer begins).
    pub fn begins_picture(&self) -> bool {
        self.begins_frame && self.spatial_id == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_an_svc_packet_in_non_flexible_mode() {
        // I L B, picture id 0x0102 (15 bit), TID 1 U SID 2 D, TL0PICIDX 9.
        let payload = [0xa8, 0x81, 0x02, 0x35, 0x09, 0xaa];
        let d = Vp9Descriptor::parse(&payload).unwrap();
        assert_eq!(d.picture_id.map(|p| (p.value, p.offset)), Some((0x0102, 1)));
        assert_eq!((d.temporal_id, d.spatial_id), (1, 2));
        assert!(d.switching_up_point && d.inter_layer_dependent);
        assert_eq!(d.tl0_pic_idx.map(|t| (t.value, t.offset)), Some((9, 4)));
        assert!(d.begins_frame && !d.ends_frame && !d.inter_picture);
        assert!(!d.is_key_frame(), "an upper spatial layer");
    }

    #[test]
    fn key_frames_and_flexible_mode() {
        // I L F B E, 7-bit picture id, TID 0 SID 0: no TL0PICIDX in flexible mode.
        let d = Vp9Descriptor::parse(&[0xbc, 0x05, 0x00]).unwrap();
        assert!(d.flexible && d.is_key_frame() && d.begins_picture() && d.ends_frame);
        assert_eq!(d.tl0_pic_idx, None);
        // P set: an inter frame.
        assert!(!Vp9Descriptor::parse(&[0x48]).unwrap().is_key_frame());
    }

    #[test]
    fn truncated_descriptors_are_errors() {
        for payload in [&[][..], &[0x80], &[0x80, 0x80], &[0x20], &[0x20, 0x00]] {
            assert_eq!(
                Vp9Descriptor::parse(payload),
                Err(DescriptorError::TooShort),
                "{payload:?}"
            );
        }
    }
}
