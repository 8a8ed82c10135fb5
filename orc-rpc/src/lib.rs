//! The wire layer of orcbridge: LLVM 22.1's ORC SimpleRemoteEPC protocol.
//!
//! This crate corresponds to LLVM's `llvm/ExecutionEngine/Orc/Shared/` layer, used by both the
//! controller and the executor. It has no I/O policy and no LLVM dependency.
//!
//! * [`sps`]: Simple Packed Serialization, the encoding of every argument and result.
//! * [`frame`]: the 32-byte frame header, [`Opcode`], blocking [`FrameReader`]/[`write_frame`].
//! * [`codec`]: a `tokio-util` codec for the same frames.
//! * [`info`]: the Setup payload ([`ExecutorInfo`]) and the bootstrap symbol names.
//! * [`types`]: named protocol structures (finalize requests, alloc actions, symbol defs).
//! * [`services`]: typed [`WrapperFunction`] descriptors for every service LLVM 22.1 uses.
//! * [`crash`]: signal numbers on the wire and the text a crash in JIT'd code is reported as.
//! * `secure` (feature `secure`): orcbridge's authenticated, encrypted sessions (a Noise
//!   handshake with a pre-shared key, then encrypted records), without I/O of its own.
//!
//! The protocol as implemented here is described in `docs/protocol.md` of this repository,
//! with the LLVM sources each fact comes from.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod addr;
pub mod codec;
pub mod crash;
pub mod error;
pub mod frame;
pub mod info;
#[cfg(feature = "secure")]
pub mod secure;
pub mod services;
pub mod sps;
pub mod types;

pub use addr::{ExecutorAddr, ExecutorAddrRange};
pub use codec::FrameCodec;
pub use error::FrameError;
pub use frame::{
    DEFAULT_MAX_FRAME_SIZE, EncodedFrame, FRAME_HEADER_SIZE, Frame, FrameHeader, FrameReader, Opcode, Raw,
    write_frame,
};
pub use info::ExecutorInfo;
pub use services::WrapperFunction;
pub use sps::{DecodeError, SpsDecode, SpsEncode, SpsError, SpsExpected};
