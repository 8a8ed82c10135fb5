//! Simple Packed Serialization (SPS), the argument and result encoding of ORC wrapper functions.
//!
//! The format is specified in the header comment of
//! `llvm/include/llvm/ExecutionEngine/Orc/Shared/SimplePackedSerialization.h` (LLVM 22.1; kept
//! in sync with `compiler-rt/lib/orc/simple_packed_serialization.h`):
//!
//! * fixed-width integers are little-endian, two's complement; `bool` is one byte (0 or 1);
//! * `SPSSequence<T>` is a `u64` element count followed by the elements; strings and byte
//!   blobs (`SPSString`, `SPSSequence<char>`) are a `u64` *byte* length then the bytes, with no
//!   terminator and no UTF-8 check;
//! * `SPSTuple<T1..Tn>` is the concatenation of its fields, with no count and no padding; an
//!   argument list is encoded exactly like a tuple;
//! * `SPSOptional<T>` is a `bool` then `T` when present;
//! * `SPSError` is `bool has_error` then a string when set; `SPSExpected<T>` is
//!   `bool has_value` then `T` or an error string. Note the opposite senses.
//!
//! Encoding is two-phase like LLVM's: [`SpsEncode::sps_size`] gives the exact size so a frame
//! can be allocated once, then [`SpsEncode::sps_encode`] appends. Decoding reads from a
//! bounds-checked [`SpsReader`] and never panics: every failure is a [`DecodeError`] carrying
//! the byte offset. Decoding may borrow from the input (`&[u8]`, `Cow<[u8]>`), so multi-megabyte
//! segment contents are not copied.
//!
//! Rust type ↔ SPS tag: `u8..u64`/`i8..i64`/`bool` ↔ the same; `()` ↔ `SPSEmpty`;
//! [`ExecutorAddr`](crate::ExecutorAddr) ↔ `SPSExecutorAddr`; `String`/`&str` ↔ `SPSString`;
//! `&[u8]`/`Cow<[u8]>` ↔ `SPSSequence<char>`; `Vec<T>` ↔ `SPSSequence<T>`; tuples ↔ `SPSTuple`;
//! `Option<T>` ↔ `SPSOptional<T>`; [`SpsError`] ↔ `SPSError`; [`SpsExpected`] ↔ `SPSExpected`.

mod prim;
mod result;
mod seq;

pub use result::{SpsError, SpsExpected};

use std::fmt;

/// A value that can be written in SPS form.
pub trait SpsEncode {
    /// Exact number of bytes [`sps_encode`](Self::sps_encode) appends.
    fn sps_size(&self) -> usize;
    /// Appends the SPS encoding of `self` to `out`.
    fn sps_encode(&self, out: &mut Vec<u8>);
}

/// A value that can be read from SPS form, possibly borrowing from the input buffer.
pub trait SpsDecode<'a>: Sized {
    /// The fewest bytes any encoding of this type occupies; used to reject sequence counts that
    /// cannot fit in the remaining input before anything is allocated.
    const MIN_SIZE: usize;
    /// Reads one value.
    ///
    /// # Errors
    /// [`DecodeError`] when the input ends early or holds a value the type cannot take.
    fn sps_decode(r: &mut SpsReader<'a>) -> Result<Self, DecodeError>;
}

impl<T: SpsEncode + ?Sized> SpsEncode for &T {
    fn sps_size(&self) -> usize {
        (**self).sps_size()
    }
    fn sps_encode(&self, out: &mut Vec<u8>) {
        (**self).sps_encode(out)
    }
}

/// Encodes `value` into a new buffer of exactly the right size.
pub fn to_bytes<T: SpsEncode + ?Sized>(value: &T) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.sps_size());
    value.sps_encode(&mut out);
    out
}

/// Decodes a `T` that must occupy all of `bytes`.
///
/// # Errors
/// Any [`DecodeError`] of `T`, or [`DecodeErrorKind::TrailingBytes`] if input is left over.
pub fn from_bytes<'a, T: SpsDecode<'a>>(bytes: &'a [u8]) -> Result<T, DecodeError> {
    let mut r = SpsReader::new(bytes);
    let v = T::sps_decode(&mut r)?;
    r.finish()?;
    Ok(v)
}

/// A bounds-checked cursor over SPS input.
#[derive(Debug, Clone)]
pub struct SpsReader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> SpsReader<'a> {
    /// Starts reading at the beginning of `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        SpsReader { buf, pos: 0 }
    }

    /// Current byte offset from the start of the input.
    pub fn offset(&self) -> usize {
        self.pos
    }

    /// Bytes not yet read.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// Takes the next `n` bytes.
    ///
    /// # Errors
    /// [`DecodeErrorKind::UnexpectedEnd`] if fewer than `n` bytes remain.
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if n > self.remaining() {
            return Err(self.error(DecodeErrorKind::UnexpectedEnd { needed: n, available: self.remaining() }));
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    /// Takes `N` bytes as an array.
    ///
    /// # Errors
    /// As [`take`](Self::take).
    pub fn take_array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let s = self.take(N)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }

    /// Reads a `u64` element or byte count and checks that `count` elements of at least
    /// `min_elem_size` bytes (1 for zero-sized elements) fit in the remaining input.
    ///
    /// # Errors
    /// [`DecodeErrorKind::LengthTooLarge`] when they cannot fit.
    pub fn read_count(&mut self, min_elem_size: usize) -> Result<usize, DecodeError> {
        let at = self.pos;
        let count = u64::from_le_bytes(self.take_array()?);
        let per = min_elem_size.max(1) as u64;
        match count.checked_mul(per) {
            Some(bytes) if bytes <= self.remaining() as u64 => Ok(count as usize),
            _ => Err(DecodeError {
                offset: at,
                kind: DecodeErrorKind::LengthTooLarge { count, remaining: self.remaining() },
            }),
        }
    }

    /// Succeeds only if all input has been read.
    ///
    /// # Errors
    /// [`DecodeErrorKind::TrailingBytes`].
    pub fn finish(&self) -> Result<(), DecodeError> {
        if self.remaining() == 0 {
            Ok(())
        } else {
            Err(self.error(DecodeErrorKind::TrailingBytes(self.remaining())))
        }
    }

    /// Builds an error at the current offset.
    pub fn error(&self, kind: DecodeErrorKind) -> DecodeError {
        DecodeError { offset: self.pos, kind }
    }
}

/// Why SPS input could not be decoded, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("SPS decode error at byte {offset}: {kind}")]
pub struct DecodeError {
    /// Byte offset into the decoded buffer (argument or result payload).
    pub offset: usize,
    /// What went wrong.
    pub kind: DecodeErrorKind,
}

/// The kinds of [`DecodeError`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecodeErrorKind {
    /// The input ended inside a value.
    UnexpectedEnd {
        /// Bytes the value needed.
        needed: usize,
        /// Bytes that were left.
        available: usize,
    },
    /// A `bool` byte other than 0 or 1.
    InvalidBool(u8),
    /// A string that is not UTF-8 where the Rust type requires it.
    InvalidUtf8,
    /// A sequence count that cannot fit in the remaining input.
    LengthTooLarge {
        /// The count read from the wire.
        count: u64,
        /// Bytes left after the count.
        remaining: usize,
    },
    /// Bytes left over after the value.
    TrailingBytes(usize),
    /// A value outside the range the field allows (e.g. an address too large for `usize`).
    OutOfRange(&'static str),
}

impl fmt::Display for DecodeErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeErrorKind::UnexpectedEnd { needed, available } => {
                write!(f, "input ends early (needed {needed} bytes, {available} left)")
            }
            DecodeErrorKind::InvalidBool(b) => write!(f, "invalid bool byte {b:#04x}"),
            DecodeErrorKind::InvalidUtf8 => write!(f, "string is not valid UTF-8"),
            DecodeErrorKind::LengthTooLarge { count, remaining } => {
                write!(f, "sequence count {count} does not fit in the {remaining} remaining bytes")
            }
            DecodeErrorKind::TrailingBytes(n) => write!(f, "{n} unexpected trailing bytes"),
            DecodeErrorKind::OutOfRange(what) => write!(f, "value out of range: {what}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use super::*;
    use crate::ExecutorAddr;

    fn round_trip<T>(v: T, expect: &[u8])
    where
        T: SpsEncode + for<'a> SpsDecode<'a> + PartialEq + std::fmt::Debug,
    {
        let bytes = to_bytes(&v);
        assert_eq!(bytes, expect, "encoding of {v:?}");
        assert_eq!(v.sps_size(), expect.len());
        assert_eq!(from_bytes::<T>(&bytes).unwrap(), v);
    }

    #[test]
    fn primitives_are_little_endian() {
        round_trip(0x1234u16, &[0x34, 0x12]);
        round_trip(-2i32, &[0xfe, 0xff, 0xff, 0xff]);
        round_trip(ExecutorAddr(0x7f76_392f_9000), &[0x00, 0x90, 0x2f, 0x39, 0x76, 0x7f, 0, 0]);
        round_trip(true, &[1]);
        round_trip((), &[]);
    }

    #[test]
    fn strings_have_u64_length_and_no_terminator() {
        round_trip(String::from("ab"), &[2, 0, 0, 0, 0, 0, 0, 0, b'a', b'b']);
        let blob: Cow<'static, [u8]> = Cow::Owned(vec![9, 8]);
        assert_eq!(to_bytes(&blob), [2, 0, 0, 0, 0, 0, 0, 0, 9, 8]);
    }

    #[test]
    fn error_and_expected_have_opposite_senses() {
        round_trip(SpsError::SUCCESS, &[0]);
        round_trip(SpsError::failure("x"), &[1, 1, 0, 0, 0, 0, 0, 0, 0, b'x']);
        round_trip(SpsExpected::ok(7u8), &[1, 7]);
        round_trip(SpsExpected::<u8>::failure("x"), &[0, 1, 0, 0, 0, 0, 0, 0, 0, b'x']);
    }

    #[test]
    fn resolve_result_matches_capture() {
        // hello_pipe frame #8 (LLVM 22.1.8): Expected ok, [Some(printf, Exported)].
        let bytes =
            [0x01, 0x01, 0, 0, 0, 0, 0, 0, 0, 0x01, 0xb0, 0x05, 0x87, 0x37, 0x76, 0x7f, 0, 0, 0x10, 0x00];
        let v: SpsExpected<Vec<Option<crate::types::ExecutorSymbolDef>>> = from_bytes(&bytes).unwrap();
        let defs = v.0.clone().unwrap();
        assert_eq!(defs[0].unwrap().addr, ExecutorAddr(0x7f76_3787_05b0));
        assert_eq!(to_bytes(&v), bytes);
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        assert_eq!(from_bytes::<bool>(&[2]).unwrap_err().kind, DecodeErrorKind::InvalidBool(2));
        assert!(matches!(
            from_bytes::<u64>(&[1, 2, 3]).unwrap_err().kind,
            DecodeErrorKind::UnexpectedEnd { needed: 8, available: 3 }
        ));
        // A count that claims more elements than there are bytes is refused before allocating.
        let huge = u64::MAX.to_le_bytes();
        assert!(matches!(
            from_bytes::<Vec<u64>>(&huge).unwrap_err().kind,
            DecodeErrorKind::LengthTooLarge { .. }
        ));
        assert!(matches!(
            from_bytes::<String>(&huge).unwrap_err().kind,
            DecodeErrorKind::LengthTooLarge { .. }
        ));
        assert_eq!(from_bytes::<u8>(&[1, 2]).unwrap_err().kind, DecodeErrorKind::TrailingBytes(1));
        let not_utf8 = [1, 0, 0, 0, 0, 0, 0, 0, 0xff];
        assert_eq!(from_bytes::<String>(&not_utf8).unwrap_err().kind, DecodeErrorKind::InvalidUtf8);
    }

    #[test]
    fn decoders_survive_arbitrary_bytes() {
        // Deterministic pseudo-random inputs, bounded in count: no decoder may panic.
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..20_000 {
            let len = (next() % 64) as usize;
            let mut buf: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            // Small counts make the structured paths reachable.
            if len >= 8 && next() % 2 == 0 {
                buf[..8].copy_from_slice(&(next() % 4).to_le_bytes());
            }
            let _ = from_bytes::<crate::types::FinalizeRequest<'_>>(&buf);
            let _ = from_bytes::<crate::ExecutorInfo>(&buf);
            let _ = from_bytes::<SpsExpected<Vec<Option<crate::types::ExecutorSymbolDef>>>>(&buf);
            let _ = from_bytes::<(ExecutorAddr, Vec<String>)>(&buf);
            let _ = from_bytes::<SpsError>(&buf);
        }
    }
}
