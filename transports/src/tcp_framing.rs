//! RFC 4571 framing: each packet on a TCP stream is preceded by its length as
//! a 16-bit big-endian number. The decoder keeps at most one frame buffered,
//! so a peer cannot make it grow without bound.

use thiserror::Error;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum FramingError {
    #[error("frame of {length} bytes exceeds the limit of {limit}")]
    FrameTooLarge { length: usize, limit: usize },
    #[error("zero-length frame")]
    EmptyFrame,
}

/// Splits a byte stream into frames.
#[derive(Debug)]
pub struct TcpFrameDecoder {
    buffer: Vec<u8>,
    max_frame: usize,
}

impl TcpFrameDecoder {
    /// `max_frame` bounds one frame; larger announced lengths are an error
    /// after which the connection must be closed.
    pub fn new(max_frame: usize) -> Self {
        TcpFrameDecoder {
            buffer: Vec::with_capacity(2 + max_frame.min(1500)),
            max_frame,
        }
    }

    /// Appends bytes read from the stream.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buffer.extend_from_slice(bytes);
    }

    /// Returns the next complete frame, `Ok(None)` when more bytes are needed.
    pub fn next_frame(&mut self) -> Result<Option<Vec<u8>>, FramingError> {
        if self.buffer.len() < 2 {
            return Ok(None);
        }
        let length = usize::from(u16::from_be_bytes([self.buffer[0], self.buffer[1]]));
        if length == 0 {
            return Err(FramingError::EmptyFrame);
        }
        if length > self.max_frame {
            return Err(FramingError::FrameTooLarge {
                length,
                limit: self.max_frame,
            });
        }
        if self.buffer.len() < 2 + length {
            return Ok(None);
        }
        let frame = self.buffer[2..2 + length].to_vec();
        self.buffer.drain(..2 + length);
        Ok(Some(frame))
    }

    /// Bytes held waiting for the rest of a frame.
    pub fn buffered(&self) -> usize {
        self.buffer.len()
    }
}

/// Prefixes `payload` with its RFC 4571 length. Payloads over 65535 bytes
/// cannot be framed.
pub fn encode_frame(payload: &[u8], out: &mut Vec<u8>) -> Result<(), FramingError> {
    let length = u16::try_from(payload.len()).map_err(|_| FramingError::FrameTooLarge {
        length: payload.len(),
        limit: usize::from(u16::MAX),
    })?;
    out.extend_from_slice(&length.to_be_bytes());
    out.extend_from_slice(payload);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_split_across_reads_are_reassembled() {
        let mut stream = Vec::new();
        encode_frame(b"hello", &mut stream).unwrap();
        encode_frame(b"world!", &mut stream).unwrap();
        let mut decoder = TcpFrameDecoder::new(1500);
        let mut frames = Vec::new();
        for byte in stream {
            decoder.push(&[byte]);
            while let Some(f) = decoder.next_frame().unwrap() {
                frames.push(f);
            }
        }
        assert_eq!(frames, vec![b"hello".to_vec(), b"world!".to_vec()]);
        assert_eq!(decoder.buffered(), 0);
    }

    #[test]
    fn giant_announced_length_is_refused_before_buffering() {
        let mut decoder = TcpFrameDecoder::new(1500);
        decoder.push(&[0xff, 0xff, 1, 2, 3]);
        assert_eq!(
            decoder.next_frame(),
            Err(FramingError::FrameTooLarge {
                length: 65535,
                limit: 1500
            })
        );
    }

    #[test]
    fn empty_frames_are_an_error() {
        let mut decoder = TcpFrameDecoder::new(1500);
        decoder.push(&[0, 0]);
        assert_eq!(decoder.next_frame(), Err(FramingError::EmptyFrame));
    }
}
