//! A `tokio-util` codec for SimpleRemoteEPC frames.
//!
//! The decoder is a two-state machine (header, then payload of a known length), so frames split
//! across reads resume without re-parsing. Sizes are checked against the limit before anything
//! is reserved; a size below the header size is an error, as in LLVM
//! (`SimpleRemoteEPCUtils.cpp`, "Message size too small").

use bytes::{Buf, BufMut, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

use crate::error::FrameError;
use crate::frame::{DEFAULT_MAX_FRAME_SIZE, EncodedFrame, FRAME_HEADER_SIZE, Frame, FrameHeader};

/// Decodes [`Frame`]s and encodes [`EncodedFrame`]s.
#[derive(Debug, Clone)]
pub struct FrameCodec {
    max_frame_size: u64,
    state: State,
}

#[derive(Debug, Clone, Copy)]
enum State {
    Head,
    Payload(FrameHeader, usize),
}

impl Default for FrameCodec {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_FRAME_SIZE)
    }
}

impl FrameCodec {
    /// A codec that refuses frames above `max_frame_size` bytes (header included), in both
    /// directions.
    pub fn new(max_frame_size: u64) -> Self {
        FrameCodec { max_frame_size, state: State::Head }
    }

    /// The configured limit in bytes.
    pub fn max_frame_size(&self) -> u64 {
        self.max_frame_size
    }
}

/// How much to reserve ahead for a payload: enough for small frames at once, bounded for
/// large ones so a lying size field cannot make us allocate.
const MAX_RESERVE_AHEAD: usize = 1 << 20;

impl Decoder for FrameCodec {
    type Item = Frame;
    type Error = FrameError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Frame>, FrameError> {
        loop {
            match self.state {
                State::Head => {
                    if src.len() < FRAME_HEADER_SIZE {
                        src.reserve(FRAME_HEADER_SIZE - src.len());
                        return Ok(None);
                    }
                    let mut hdr = [0u8; FRAME_HEADER_SIZE];
                    hdr.copy_from_slice(&src[..FRAME_HEADER_SIZE]);
                    let h = FrameHeader::parse(&hdr);
                    let len = h.payload_len(self.max_frame_size)?;
                    src.advance(FRAME_HEADER_SIZE);
                    self.state = State::Payload(h, len);
                }
                State::Payload(h, len) => {
                    if src.len() < len {
                        src.reserve((len - src.len()).min(MAX_RESERVE_AHEAD));
                        return Ok(None);
                    }
                    let payload = src.split_to(len).freeze();
                    self.state = State::Head;
                    return Frame::from_parts(h, payload).map(Some);
                }
            }
        }
    }

    fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<Frame>, FrameError> {
        match self.decode(src)? {
            Some(f) => Ok(Some(f)),
            None => match self.state {
                State::Head if src.is_empty() => Ok(None),
                State::Head => {
                    Err(FrameError::Truncated { expected: FRAME_HEADER_SIZE as u64, got: src.len() as u64 })
                }
                State::Payload(h, _) => Err(FrameError::Truncated {
                    expected: h.size,
                    got: (FRAME_HEADER_SIZE + src.len()) as u64,
                }),
            },
        }
    }
}

impl Encoder<EncodedFrame> for FrameCodec {
    type Error = FrameError;

    fn encode(&mut self, frame: EncodedFrame, dst: &mut BytesMut) -> Result<(), FrameError> {
        self.encode(&frame, dst)
    }
}

impl Encoder<&EncodedFrame> for FrameCodec {
    type Error = FrameError;

    fn encode(&mut self, frame: &EncodedFrame, dst: &mut BytesMut) -> Result<(), FrameError> {
        let size = frame.len() as u64;
        if size > self.max_frame_size {
            return Err(FrameError::TooLarge { size, max: self.max_frame_size });
        }
        dst.put_slice(frame.as_bytes());
        Ok(())
    }
}
