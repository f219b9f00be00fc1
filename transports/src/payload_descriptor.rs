//! What the codec payload descriptors (VP8, VP9) have in common: errors, and
//! the picture numbers a consumer rewrites in place.

use thiserror::Error;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum DescriptorError {
    #[error("payload descriptor cut short")]
    TooShort,
}

/// A picture id or TL0PICIDX: its value and where it sits in the payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PictureNumber {
    pub value: u16,
    pub offset: usize,
    /// 7 or 15 (picture ids), 8 (TL0PICIDX).
    pub bits: u8,
}

impl PictureNumber {
    /// A 7- or 15-bit picture id at `offset` (the M bit says which), and
    /// where what follows it starts.
    pub fn read_picture_id(
        payload: &[u8],
        offset: usize,
    ) -> Result<(PictureNumber, usize), DescriptorError> {
        let high = *payload.get(offset).ok_or(DescriptorError::TooShort)?;
        if high & 0x80 == 0 {
            let id = PictureNumber {
                value: u16::from(high),
                offset,
                bits: 7,
            };
            return Ok((id, offset + 1));
        }
        let low = *payload.get(offset + 1).ok_or(DescriptorError::TooShort)?;
        let id = PictureNumber {
            value: u16::from_be_bytes([high & 0x7f, low]),
            offset,
            bits: 15,
        };
        Ok((id, offset + 2))
    }

    /// An 8-bit TL0PICIDX at `offset`.
    pub fn read_tl0_pic_idx(
        payload: &[u8],
        offset: usize,
    ) -> Result<PictureNumber, DescriptorError> {
        let value = *payload.get(offset).ok_or(DescriptorError::TooShort)?;
        Ok(PictureNumber {
            value: u16::from(value),
            offset,
            bits: 8,
        })
    }

    /// Writes `value` (modulo the field's size) where this number was read.
    /// The payload offset just past it.
    pub fn end(&self) -> usize {
        self.offset + if self.bits == 15 { 2 } else { 1 }
    }

    pub fn write(&self, payload: &mut [u8], value: u16) {
        match self.bits {
            15 => {
                if let Some(field) = payload.get_mut(self.offset..self.offset + 2) {
                    let [high, low] = (value & 0x7fff).to_be_bytes();
                    field[0] = 0x80 | high;
                    field[1] = low;
                }
            }
            7 => {
                if let Some(byte) = payload.get_mut(self.offset) {
                    *byte = (value & 0x7f) as u8;
                }
            }
            _ => {
                if let Some(byte) = payload.get_mut(self.offset) {
                    *byte = value as u8;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_each_width_in_place() {
        let mut payload = [0x90, 0xe0, 0x92, 0x34, 0x07];
        let picture = PictureNumber {
            value: 0x1234,
            offset: 2,
            bits: 15,
        };
        picture.write(&mut payload, 0x8001);
        assert_eq!(payload[2..4], [0x80, 0x01]);
        let tl0 = PictureNumber {
            value: 7,
            offset: 4,
            bits: 8,
        };
        tl0.write(&mut payload, 300);
        assert_eq!(payload[4], 44);
        let short = PictureNumber {
            value: 0,
            offset: 1,
            bits: 7,
        };
        short.write(&mut payload, 0xff);
        assert_eq!(payload[1], 0x7f);
        // Out of range: nothing written, no panic.
        PictureNumber {
            offset: 9,
            ..picture
        }
        .write(&mut payload, 1);
    }
}
