//! Errors of the framing layer.

use std::io;

/// A frame could not be read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// The transport failed.
    #[error("transport I/O error: {0}")]
    Io(#[from] io::Error),
    /// The header's size field is below the 32-byte header size.
    #[error("malformed frame: size field {size} is smaller than the 32-byte header")]
    TooSmall {
        /// The size field as received.
        size: u64,
    },
    /// The header's size field is above the configured limit.
    #[error("frame of {size} bytes exceeds the maximum frame size of {max} bytes")]
    TooLarge {
        /// The size field as received (or the size of a frame being sent).
        size: u64,
        /// The configured maximum.
        max: u64,
    },
    /// The stream ended inside a frame.
    #[error("peer closed the connection inside a frame ({got} of {expected} bytes received)")]
    Truncated {
        /// Bytes the frame should have had.
        expected: u64,
        /// Bytes that arrived.
        got: u64,
    },
    /// The opcode's low byte is not Setup, Hangup, Result or CallWrapper.
    #[error("unknown opcode {raw:#x} in frame with sequence number {seq_no}")]
    UnknownOpcode {
        /// The opcode field as received.
        raw: u64,
        /// The frame's sequence number.
        seq_no: u64,
    },
}
