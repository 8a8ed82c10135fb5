//! SimpleRemoteEPC framing: the 32-byte header, opcodes, and blocking frame I/O.
//!
//! Layout from `llvm/lib/ExecutionEngine/Orc/Shared/SimpleRemoteEPCUtils.cpp` (LLVM 22.1),
//! checked on the real binaries (`docs/protocol.md` §2): four little-endian `u64`s — total
//! frame size *including* the header, opcode, sequence number, tag address — then the payload.
//! There is no magic, version or checksum. LLVM receivers keep only the low byte of the opcode
//! (`0x101` is Hangup), and so do we.

use std::io::{self, Read, Write};

use bytes::Bytes;

use crate::ExecutorAddr;
use crate::error::FrameError;
use crate::sps::SpsEncode;

/// Size of the frame header in bytes.
pub const FRAME_HEADER_SIZE: usize = 32;

/// Default limit on a whole frame (header + payload), in bytes: 1 GiB. LLVM has no limit; a
/// frame above ours is refused before any of its payload is buffered.
pub const DEFAULT_MAX_FRAME_SIZE: u64 = 1 << 30;

/// The bit that marks the sequence number of a notification, orcbridge's CallWrapper whose
/// caller waits for no Result (`docs/protocol.md` §11: forwarded output). The receiver need
/// not send a Result for it; one sent anyway is accepted and dropped. LLVM's peers number
/// their calls from 0 and never come near it.
pub const NOTIFICATION: u64 = 1 << 63;

/// SimpleRemoteEPC opcodes (`SimpleRemoteEPCOpcode` in `SimpleRemoteEPCUtils.h`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Opcode {
    /// Executor → controller, once, first: the executor info.
    Setup = 0,
    /// Either direction: end of session, payload an SPS `Error`.
    Hangup = 1,
    /// Either direction: result bytes of the call with the same sequence number.
    Result = 2,
    /// Either direction: call the wrapper function at the tag address.
    CallWrapper = 3,
}

impl Opcode {
    /// Decodes the opcode field as LLVM 22.1 does: only the low byte counts.
    pub fn from_wire(raw: u64) -> Option<Opcode> {
        match raw as u8 {
            0 => Some(Opcode::Setup),
            1 => Some(Opcode::Hangup),
            2 => Some(Opcode::Result),
            3 => Some(Opcode::CallWrapper),
            _ => None,
        }
    }
}

/// A frame header as it is on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    /// Total frame size in bytes, header included.
    pub size: u64,
    /// Raw opcode field.
    pub opcode: u64,
    /// Sequence number (the caller's numbering for CallWrapper/Result; 0 otherwise).
    pub seq_no: u64,
    /// Tag address: the wrapper function (C→E) or jit-dispatch tag (E→C) of a CallWrapper.
    pub tag_addr: ExecutorAddr,
}

impl FrameHeader {
    /// Parses the 32 header bytes.
    pub fn parse(b: &[u8; FRAME_HEADER_SIZE]) -> FrameHeader {
        let word = |i: usize| {
            let mut w = [0u8; 8];
            w.copy_from_slice(&b[i * 8..i * 8 + 8]);
            u64::from_le_bytes(w)
        };
        FrameHeader { size: word(0), opcode: word(1), seq_no: word(2), tag_addr: ExecutorAddr(word(3)) }
    }

    /// Checks the size field against the header size and `max_frame_size`, and returns the
    /// payload length.
    ///
    /// # Errors
    /// [`FrameError::TooSmall`] or [`FrameError::TooLarge`].
    pub fn payload_len(&self, max_frame_size: u64) -> Result<usize, FrameError> {
        if self.size < FRAME_HEADER_SIZE as u64 {
            return Err(FrameError::TooSmall { size: self.size });
        }
        if self.size > max_frame_size {
            return Err(FrameError::TooLarge { size: self.size, max: max_frame_size });
        }
        usize::try_from(self.size - FRAME_HEADER_SIZE as u64)
            .map_err(|_| FrameError::TooLarge { size: self.size, max: max_frame_size })
    }
}

/// A received frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// What the frame is.
    pub opcode: Opcode,
    /// Sequence number.
    pub seq_no: u64,
    /// Tag address (CallWrapper only; 0 otherwise).
    pub tag_addr: ExecutorAddr,
    /// Payload bytes (SPS-encoded; see [`crate::types`] and [`crate::services`]).
    pub payload: Bytes,
}

impl Frame {
    /// Checks the opcode of a parsed header and attaches the payload.
    ///
    /// # Errors
    /// [`FrameError::UnknownOpcode`].
    pub fn from_parts(h: FrameHeader, payload: Bytes) -> Result<Frame, FrameError> {
        let opcode = Opcode::from_wire(h.opcode)
            .ok_or(FrameError::UnknownOpcode { raw: h.opcode, seq_no: h.seq_no })?;
        Ok(Frame { opcode, seq_no: h.seq_no, tag_addr: h.tag_addr, payload })
    }
}

/// Bytes written as they are, with no SPS length prefix: for payloads that are already encoded
/// (a wrapper function's result bytes, a forwarded argument list).
#[derive(Debug, Clone, Copy)]
pub struct Raw<'a>(pub &'a [u8]);

impl SpsEncode for Raw<'_> {
    fn sps_size(&self) -> usize {
        self.0.len()
    }
    fn sps_encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.0)
    }
}

/// A complete frame (header and payload) in one contiguous buffer, ready to be written with a
/// single `write` so that it is never split by Nagle's algorithm or interleaved with another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedFrame(Vec<u8>);

impl EncodedFrame {
    /// Encodes header and `payload` with exactly one allocation.
    pub fn new(opcode: Opcode, seq_no: u64, tag_addr: ExecutorAddr, payload: &impl SpsEncode) -> Self {
        let size = FRAME_HEADER_SIZE + payload.sps_size();
        let mut buf = Vec::with_capacity(size);
        for word in [size as u64, opcode as u64, seq_no, tag_addr.0] {
            buf.extend_from_slice(&word.to_le_bytes());
        }
        payload.sps_encode(&mut buf);
        debug_assert_eq!(buf.len(), size, "sps_size disagrees with sps_encode");
        EncodedFrame(buf)
    }

    /// The whole frame.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The frame's total size in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Always false: a frame has at least its header.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The header fields.
    pub fn header(&self) -> FrameHeader {
        let mut h = [0u8; FRAME_HEADER_SIZE];
        h.copy_from_slice(&self.0[..FRAME_HEADER_SIZE]);
        FrameHeader::parse(&h)
    }

    /// The payload bytes.
    pub fn payload(&self) -> &[u8] {
        &self.0[FRAME_HEADER_SIZE..]
    }
}

/// Largest payload buffer [`FrameReader`] allocates before the data arrives.
const PREALLOCATE_MAX: usize = 64 << 20;

/// Reads frames from a blocking byte stream (a socket or a pipe).
#[derive(Debug)]
pub struct FrameReader<R> {
    inner: R,
    max_frame_size: u64,
}

impl<R: Read> FrameReader<R> {
    /// Wraps `inner` with the [`DEFAULT_MAX_FRAME_SIZE`] limit.
    pub fn new(inner: R) -> Self {
        Self::with_max_frame_size(inner, DEFAULT_MAX_FRAME_SIZE)
    }

    /// Wraps `inner`, refusing frames larger than `max_frame_size` bytes.
    pub fn with_max_frame_size(inner: R, max_frame_size: u64) -> Self {
        FrameReader { inner, max_frame_size }
    }

    /// The underlying reader.
    pub fn get_ref(&self) -> &R {
        &self.inner
    }

    /// Reads the next frame. `Ok(None)` is a clean end of stream at a frame boundary.
    ///
    /// An unknown opcode is reported only after the whole frame was consumed, so the stream
    /// stays in step.
    ///
    /// # Errors
    /// [`FrameError::Truncated`] for end of stream inside a frame; [`FrameError::TooSmall`],
    /// [`FrameError::TooLarge`] (nothing of the payload is read), [`FrameError::UnknownOpcode`],
    /// [`FrameError::Io`].
    pub fn read_frame(&mut self) -> Result<Option<Frame>, FrameError> {
        let mut hdr = [0u8; FRAME_HEADER_SIZE];
        let got = read_full(&mut self.inner, &mut hdr)?;
        if got == 0 {
            return Ok(None);
        }
        if got < FRAME_HEADER_SIZE {
            return Err(FrameError::Truncated { expected: FRAME_HEADER_SIZE as u64, got: got as u64 });
        }
        let h = FrameHeader::parse(&hdr);
        let len = h.payload_len(self.max_frame_size)?;
        // Up to 64 MiB the buffer is allocated at once (untouched capacity costs address space
        // only); beyond, it grows with the data actually received rather than trusting the
        // size field up front.
        let mut payload = Vec::with_capacity(len.min(PREALLOCATE_MAX));
        let n = (&mut self.inner).take(len as u64).read_to_end(&mut payload)?;
        if n < len {
            return Err(FrameError::Truncated { expected: h.size, got: (FRAME_HEADER_SIZE + n) as u64 });
        }
        Frame::from_parts(h, Bytes::from(payload)).map(Some)
    }
}

/// Reads until `buf` is full or the stream ends; returns the bytes read.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

/// Writes one encoded frame and flushes.
///
/// # Errors
/// The writer's I/O error.
pub fn write_frame(w: &mut impl Write, frame: &EncodedFrame) -> io::Result<()> {
    w.write_all(frame.as_bytes())?;
    w.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame_bytes(size: u64, opcode: u64, seq: u64, tag: u64, payload: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        for w in [size, opcode, seq, tag] {
            v.extend_from_slice(&w.to_le_bytes());
        }
        v.extend_from_slice(payload);
        v
    }

    #[test]
    fn encoded_frame_layout() {
        let f = EncodedFrame::new(Opcode::CallWrapper, 5, ExecutorAddr(0x1000), &Raw(b"abc"));
        assert_eq!(f.as_bytes(), frame_bytes(35, 3, 5, 0x1000, b"abc").as_slice());
        assert_eq!(f.header().size, 35);
        assert_eq!(f.payload(), b"abc");
    }

    #[test]
    fn reader_reads_frames_and_clean_eof() {
        let mut bytes = frame_bytes(33, 2, 7, 0, b"x");
        bytes.extend(frame_bytes(32, 0x101, 0, 0, b""));
        let mut r = FrameReader::new(bytes.as_slice());
        let f = r.read_frame().unwrap().unwrap();
        assert_eq!((f.opcode, f.seq_no, &f.payload[..]), (Opcode::Result, 7, &b"x"[..]));
        // Only the low byte of the opcode counts, as in LLVM 22.1.
        assert_eq!(r.read_frame().unwrap().unwrap().opcode, Opcode::Hangup);
        assert!(r.read_frame().unwrap().is_none());
    }

    #[test]
    fn reader_rejects_bad_frames() {
        let small = frame_bytes(31, 3, 0, 0, b"");
        assert!(matches!(
            FrameReader::new(small.as_slice()).read_frame(),
            Err(FrameError::TooSmall { size: 31 })
        ));

        let big = frame_bytes(1 << 40, 3, 0, 0, b"");
        assert!(matches!(
            FrameReader::with_max_frame_size(big.as_slice(), 1 << 20).read_frame(),
            Err(FrameError::TooLarge { .. })
        ));

        let truncated = frame_bytes(40, 3, 0, 0, b"abc");
        assert!(matches!(
            FrameReader::new(truncated.as_slice()).read_frame(),
            Err(FrameError::Truncated { expected: 40, got: 35 })
        ));

        let half_header = &frame_bytes(32, 3, 0, 0, b"")[..10];
        assert!(matches!(
            FrameReader::new(half_header).read_frame(),
            Err(FrameError::Truncated { got: 10, .. })
        ));

        let mut unknown = frame_bytes(34, 7, 9, 0, b"zz");
        unknown.extend(frame_bytes(32, 1, 0, 0, b""));
        let mut r = FrameReader::new(unknown.as_slice());
        assert!(matches!(r.read_frame(), Err(FrameError::UnknownOpcode { raw: 7, seq_no: 9 })));
        // The bad frame was consumed whole: the next one is intact.
        assert_eq!(r.read_frame().unwrap().unwrap().opcode, Opcode::Hangup);
    }
}
