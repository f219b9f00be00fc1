//! Which packets of a layered video stream a consumer forwards: temporal
//! layers of VP8 (one simulcast stream, or a single L1T3 stream) and the
//! spatial and temporal layers of VP9 SVC, up to the consumer's target.
//! As mediasoup's codec handlers: switch down at the start of a picture,
//! up where the stream allows it (a key frame, VP8's layer sync, VP9's
//! switching-up point), VP8's picture numbers kept continuous, and for VP9
//! the marker bit on the last packet of the highest spatial layer sent.

use crate::key_frame::VideoCodec;
use crate::payload_descriptor::PictureNumber;
use crate::picture_number_rewriter::PictureNumberRewriter;
use crate::vp8_descriptor::Vp8Descriptor;
use crate::vp9_descriptor::Vp9Descriptor;

/// Spatial and temporal layer indices.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LayerIndices {
    pub spatial: u8,
    pub temporal: u8,
}

/// What to do with one packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Forward {
        marker: bool,
        patch: Patch,
    },
    Drop,
    /// Its payload descriptor is cut short: dropped, and worth counting.
    Malformed,
}

/// Picture numbers to write into the forwarded payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Patch {
    picture_id: Option<(PictureNumber, u16)>,
    tl0_pic_idx: Option<(PictureNumber, u16)>,
}

impl Patch {
    pub fn apply(&self, payload: &mut [u8]) {
        for (number, value) in [self.picture_id, self.tl0_pic_idx].into_iter().flatten() {
            number.write(payload, value);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.picture_id.is_none() && self.tl0_pic_idx.is_none()
    }

    /// How far into the payload it writes: bytes past this are the
    /// producer's, unchanged.
    pub fn end(&self) -> usize {
        [self.picture_id, self.tl0_pic_idx]
            .into_iter()
            .flatten()
            .map(|(number, _)| number.end())
            .max()
            .unwrap_or(0)
    }
}

#[derive(Debug, Clone)]
pub struct LayerSelector {
    codec: VideoCodec,
    target: LayerIndices,
    current: Option<LayerIndices>,
    picture_ids: PictureNumberRewriter,
    tl0_pic_idx: PictureNumberRewriter,
}

impl LayerSelector {
    /// A selector for a codec with layers it understands (VP8, VP9).
    pub fn new(codec: VideoCodec, target: LayerIndices) -> Option<Self> {
        matches!(codec, VideoCodec::Vp8 | VideoCodec::Vp9).then(|| LayerSelector {
            codec,
            target,
            current: None,
            picture_ids: PictureNumberRewriter::new(15),
            tl0_pic_idx: PictureNumberRewriter::new(8),
        })
    }

    pub fn set_target(&mut self, target: LayerIndices) {
        self.target = target;
    }

    pub fn target(&self) -> LayerIndices {
        self.target
    }

    /// The layers being forwarded; `None` before the first key frame.
    pub fn current(&self) -> Option<LayerIndices> {
        self.current
    }

    /// A spatial switch that only a key frame can bring (VP9): going up.
    /// Going down needs none, in full SVC and K-SVC (`_KEY` modes) alike: a
    /// lower spatial layer never refers to a higher one, and in K-SVC an
    /// upper layer refers to a lower one only in key pictures.
    pub fn needs_key_frame(&self) -> bool {
        match (self.codec, self.current) {
            (VideoCodec::Vp9, Some(current)) => current.spatial < self.target.spatial,
            (_, None) => true,
            _ => false,
        }
    }

    /// Another stream follows (a simulcast switch): picture numbers go on
    /// from the last sent; layers start again at its key frame.
    pub fn resync(&mut self) {
        self.picture_ids.resync();
        self.tl0_pic_idx.resync();
        self.current = None;
    }

    pub fn select(&mut self, payload: &[u8], marker: bool) -> Verdict {
        match self.codec {
            VideoCodec::Vp8 => match Vp8Descriptor::parse(payload) {
                Ok(d) => self.select_vp8(&d, marker),
                Err(_) => Verdict::Malformed,
            },
            VideoCodec::Vp9 => match Vp9Descriptor::parse(payload) {
                Ok(d) => self.select_vp9(&d, marker),
                Err(_) => Verdict::Malformed,
            },
            VideoCodec::H264 => Verdict::Forward {
                marker,
                patch: Patch::default(),
            },
        }
    }

    fn select_vp8(&mut self, d: &Vp8Descriptor, marker: bool) -> Verdict {
        let temporal = d.temporal_id.unwrap_or(0);
        if d.starts_frame {
            let wanted = self.target.temporal;
            match self.current.as_mut() {
                _ if d.key_frame => {
                    self.current = Some(LayerIndices {
                        spatial: 0,
                        temporal: wanted,
                    })
                }
                None => {}
                Some(current) if wanted < current.temporal => current.temporal = wanted,
                Some(current)
                    if temporal > current.temporal && temporal <= wanted && d.layer_sync =>
                {
                    current.temporal = temporal
                }
                Some(_) => {}
            }
        }
        let Some(current) = self.current else {
            return Verdict::Drop;
        };
        if temporal > current.temporal {
            if let Some(picture_id) = d.picture_id {
                self.picture_ids.drop_picture(picture_id.value);
            }
            return Verdict::Drop;
        }
        Verdict::Forward {
            marker,
            patch: self.patch(d.picture_id, d.tl0_pic_idx),
        }
    }

    fn select_vp9(&mut self, d: &Vp9Descriptor, marker: bool) -> Verdict {
        if d.begins_picture() {
            let target = self.target;
            match self.current.as_mut() {
                _ if d.is_key_frame() => self.current = Some(target),
                None => {}
                Some(current) => {
                    if target.spatial < current.spatial {
                        current.spatial = target.spatial;
                    }
                    if target.temporal < current.temporal {
                        current.temporal = target.temporal;
                    } else if d.temporal_id > current.temporal
                        && d.temporal_id <= target.temporal
                        && d.switching_up_point
                    {
                        current.temporal = d.temporal_id;
                    }
                }
            }
        }
        let Some(current) = self.current else {
            return Verdict::Drop;
        };
        // Unlike VP8's, VP9's picture ids keep their gaps: a receiver reads
        // each picture's place in the group of frames (non-flexible mode) or
        // its references (flexible mode) from the id itself.
        if d.temporal_id > current.temporal || d.spatial_id > current.spatial {
            return Verdict::Drop;
        }
        Verdict::Forward {
            marker: marker || (d.ends_frame && d.spatial_id == current.spatial),
            patch: self.patch(d.picture_id, d.tl0_pic_idx),
        }
    }

    fn patch(&mut self, picture_id: Option<PictureNumber>, tl0: Option<PictureNumber>) -> Patch {
        Patch {
            picture_id: picture_id.map(|p| (p, self.picture_ids.map(p.value))),
            tl0_pic_idx: tl0.map(|t| (t, self.tl0_pic_idx.map(t.value))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A VP8 packet with picture id, TL0PICIDX and TID (Chrome's layout).
    fn vp8(picture_id: u16, tl0: u8, temporal: u8, sync: bool, starts: bool, key: bool) -> Vec<u8> {
        let [high, low] = picture_id.to_be_bytes();
        vec![
            if starts { 0x90 } else { 0x80 },
            0xe0,
            0x80 | high,
            low,
            tl0,
            (temporal << 6) | if sync { 0x20 } else { 0 },
            if key { 0x10 } else { 0x11 },
        ]
    }

    /// A VP9 packet, non-flexible mode, with layer indices.
    fn vp9(
        picture_id: u16,
        spatial: u8,
        temporal: u8,
        begins: bool,
        ends: bool,
        key: bool,
    ) -> Vec<u8> {
        let [high, low] = picture_id.to_be_bytes();
        let mut first = 0xa0; // I L
        if !key {
            first |= 0x40;
        }
        if begins {
            first |= 0x08;
        }
        if ends {
            first |= 0x04;
        }
        let switching_up = 0x10;
        vec![
            first,
            0x80 | high,
            low,
            (temporal << 5) | switching_up | (spatial << 1),
            1,
        ]
    }

    fn forwarded(verdict: Verdict) -> Option<(bool, Vec<u8>)> {
        match verdict {
            Verdict::Forward { marker, patch } => Some((marker, {
                let mut out = vec![0; 8];
                patch.apply(&mut out);
                out
            })),
            Verdict::Drop | Verdict::Malformed => None,
        }
    }

    fn layers(spatial: u8, temporal: u8) -> LayerIndices {
        LayerIndices { spatial, temporal }
    }

    #[test]
    fn a_patch_ends_past_the_last_byte_it_rewrites() {
        let mut s = LayerSelector::new(VideoCodec::Vp8, layers(0, 0)).unwrap();
        let packet = vp8(100, 5, 0, false, true, true);
        let Verdict::Forward { patch, .. } = s.select(&packet, true) else {
            panic!("a key frame is forwarded");
        };
        // Picture id in bytes 2-3, TL0PICIDX in byte 4: the producer's
        // bytes from 5 on are the copy's.
        assert_eq!(patch.end(), 5);
        assert_eq!(Patch::default().end(), 0);
    }

    #[test]
    fn vp8_drops_temporal_layers_above_the_target_with_continuous_picture_ids() {
        let mut s = LayerSelector::new(VideoCodec::Vp8, layers(0, 0)).unwrap();
        // Nothing before the first key frame.
        assert_eq!(
            s.select(&vp8(9, 0, 0, false, true, false), false),
            Verdict::Drop
        );
        // L1T3 pattern: TIDs 0 2 1 2 0 ...
        let pattern = [0u8, 2, 1, 2, 0, 2, 1, 2];
        let mut sent_ids = Vec::new();
        for (i, tid) in pattern.iter().enumerate() {
            let packet = vp8(100 + i as u16, 5, *tid, false, true, i == 0);
            if let Some((_, out)) = forwarded(s.select(&packet, true)) {
                sent_ids.push(u16::from_be_bytes([out[2] & 0x7f, out[3]]));
            }
        }
        assert_eq!(
            sent_ids,
            [100, 101],
            "only the TL0 pictures, numbered without a gap"
        );
        assert_eq!(s.current(), Some(layers(0, 0)));
    }

    #[test]
    fn vp8_switches_up_only_at_a_layer_sync_and_down_at_once() {
        let mut s = LayerSelector::new(VideoCodec::Vp8, layers(0, 0)).unwrap();
        assert!(forwarded(s.select(&vp8(1, 1, 0, false, true, true), true)).is_some());
        s.set_target(layers(0, 2));
        // A TL2 frame without Y cannot be decoded without the TL1 frames missed.
        assert_eq!(
            s.select(&vp8(2, 1, 2, false, true, false), true),
            Verdict::Drop
        );
        assert!(forwarded(s.select(&vp8(3, 1, 1, true, true, false), true)).is_some());
        assert_eq!(s.current(), Some(layers(0, 1)));
        assert!(forwarded(s.select(&vp8(4, 1, 2, true, true, false), true)).is_some());
        assert_eq!(s.current(), Some(layers(0, 2)));
        // A continuation packet of a frame follows its frame's layer.
        assert!(forwarded(s.select(&vp8(4, 1, 2, false, false, false), true)).is_some());
        s.set_target(layers(0, 0));
        assert_eq!(
            s.select(&vp8(5, 1, 1, false, true, false), true),
            Verdict::Drop
        );
        assert_eq!(s.current(), Some(layers(0, 0)));
    }

    #[test]
    fn vp9_keeps_spatial_layers_up_to_the_target_and_marks_the_end_of_the_picture() {
        let mut s = LayerSelector::new(VideoCodec::Vp9, layers(1, 2)).unwrap();
        assert!(s.needs_key_frame());
        // A key picture: S0, S1, S2 (one packet each); the marker on S2.
        let s0 = forwarded(s.select(&vp9(7, 0, 0, true, true, true), false)).unwrap();
        let s1 = forwarded(s.select(&vp9(7, 1, 0, true, true, true), false)).unwrap();
        assert_eq!(
            s.select(&vp9(7, 2, 0, true, true, true), true),
            Verdict::Drop
        );
        assert!(!s0.0, "S0 does not end the picture sent");
        assert!(s1.0, "S1 is the highest layer sent: it carries the marker");
        assert_eq!(s.current(), Some(layers(1, 2)));
        assert!(!s.needs_key_frame());
        // K-SVC: going up to S2 waits for a key frame.
        s.set_target(layers(2, 2));
        assert!(s.needs_key_frame());
        assert_eq!(
            s.select(&vp9(8, 2, 0, true, true, false), true),
            Verdict::Drop
        );
        assert!(forwarded(s.select(&vp9(9, 0, 0, true, true, true), false)).is_some());
        assert!(forwarded(s.select(&vp9(9, 2, 0, true, true, true), true)).is_some());
        assert_eq!(s.current(), Some(layers(2, 2)));
        // Down to S0 at the next picture, with no key frame: S0 refers to
        // S0 only (K-SVC), and now carries the marker.
        s.set_target(layers(0, 2));
        assert!(!s.needs_key_frame());
        let (marker, _) = forwarded(s.select(&vp9(10, 0, 0, true, true, false), false)).unwrap();
        assert!(marker);
        assert_eq!(
            s.select(&vp9(10, 1, 0, true, true, false), false),
            Verdict::Drop
        );
        assert_eq!(s.current(), Some(layers(0, 2)));
    }

    #[test]
    fn vp9_drops_whole_pictures_of_higher_temporal_layers_keeping_their_ids() {
        let mut s = LayerSelector::new(VideoCodec::Vp9, layers(0, 0)).unwrap();
        let mut ids = Vec::new();
        for (i, tid) in [0u8, 2, 1, 2, 0].iter().enumerate() {
            let key = i == 0;
            if let Some((marker, out)) =
                forwarded(s.select(&vp9(50 + i as u16, 0, *tid, true, true, key), false))
            {
                assert!(marker);
                ids.push(u16::from_be_bytes([out[1] & 0x7f, out[2]]));
            }
        }
        assert_eq!(ids, [50, 54]);
    }

    #[test]
    fn malformed_payloads_are_dropped_and_h264_passes() {
        let mut s = LayerSelector::new(VideoCodec::Vp9, layers(0, 0)).unwrap();
        assert_eq!(s.select(&[0x80], true), Verdict::Malformed);
        assert!(LayerSelector::new(VideoCodec::H264, layers(0, 0)).is_none());
    }

    #[test]
    fn a_stream_switch_continues_the_picture_ids() {
        let mut s = LayerSelector::new(VideoCodec::Vp8, layers(0, 2)).unwrap();
        forwarded(s.select(&vp8(1000, 3, 0, false, true, true), true));
        s.resync();
        assert_eq!(s.current(), None);
        let (_, out) = forwarded(s.select(&vp8(77, 200, 0, false, true, true), true)).unwrap();
        assert_eq!(u16::from_be_bytes([out[2] & 0x7f, out[3]]), 1001);
        assert_eq!(out[4], 4, "TL0PICIDX continues too");
    }
}
