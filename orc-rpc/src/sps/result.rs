//! `SPSError` and `SPSExpected<T>`: errors that travel inside a wrapper function's result.
//!
//! Layouts from `SimplePackedSerialization.h` (`SPSSerializableError`,
//! `SPSSerializableExpected`, LLVM 22.1). The flag senses are opposite: for `Error` a set flag
//! means failure, for `Expected` a set flag means success.

use super::{DecodeError, SpsDecode, SpsEncode, SpsReader};

/// SPS `Error`: `00` for success, `01` + string message for failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpsError(pub Result<(), String>);

impl SpsError {
    /// The success value (encodes as the single byte `00`).
    pub const SUCCESS: SpsError = SpsError(Ok(()));

    /// A failure with `msg`.
    pub fn failure(msg: impl Into<String>) -> Self {
        SpsError(Err(msg.into()))
    }
}

impl<E: ToString> From<Result<(), E>> for SpsError {
    fn from(r: Result<(), E>) -> Self {
        SpsError(r.map_err(|e| e.to_string()))
    }
}

impl SpsEncode for SpsError {
    fn sps_size(&self) -> usize {
        match &self.0 {
            Ok(()) => 1,
            Err(m) => 1 + m.sps_size(),
        }
    }
    fn sps_encode(&self, out: &mut Vec<u8>) {
        match &self.0 {
            Ok(()) => false.sps_encode(out),
            Err(m) => {
                true.sps_encode(out);
                m.sps_encode(out);
            }
        }
    }
}

impl<'a> SpsDecode<'a> for SpsError {
    const MIN_SIZE: usize = 1;
    fn sps_decode(r: &mut SpsReader<'a>) -> Result<Self, DecodeError> {
        if bool::sps_decode(r)? { Ok(SpsError(Err(lossy_string(r)?))) } else { Ok(SpsError(Ok(()))) }
    }
}

/// SPS `Expected<T>`: `01` + `T` on success, `00` + string message on failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpsExpected<T>(pub Result<T, String>);

impl<T> SpsExpected<T> {
    /// A success holding `v`.
    pub fn ok(v: T) -> Self {
        SpsExpected(Ok(v))
    }

    /// A failure with `msg`.
    pub fn failure(msg: impl Into<String>) -> Self {
        SpsExpected(Err(msg.into()))
    }
}

impl<T, E: ToString> From<Result<T, E>> for SpsExpected<T> {
    fn from(r: Result<T, E>) -> Self {
        SpsExpected(r.map_err(|e| e.to_string()))
    }
}

impl<T: SpsEncode> SpsEncode for SpsExpected<T> {
    fn sps_size(&self) -> usize {
        1 + match &self.0 {
            Ok(v) => v.sps_size(),
            Err(m) => m.sps_size(),
        }
    }
    fn sps_encode(&self, out: &mut Vec<u8>) {
        match &self.0 {
            Ok(v) => {
                true.sps_encode(out);
                v.sps_encode(out);
            }
            Err(m) => {
                false.sps_encode(out);
                m.sps_encode(out);
            }
        }
    }
}

impl<'a, T: SpsDecode<'a>> SpsDecode<'a> for SpsExpected<T> {
    const MIN_SIZE: usize = 1;
    fn sps_decode(r: &mut SpsReader<'a>) -> Result<Self, DecodeError> {
        if bool::sps_decode(r)? {
            Ok(SpsExpected(Ok(T::sps_decode(r)?)))
        } else {
            Ok(SpsExpected(Err(lossy_string(r)?)))
        }
    }
}

/// Error messages come from C++ `std::string`s that need not be UTF-8; keep them readable
/// rather than failing the whole decode.
fn lossy_string(r: &mut SpsReader<'_>) -> Result<String, DecodeError> {
    let bytes = <&[u8]>::sps_decode(r)?;
    Ok(String::from_utf8_lossy(bytes).into_owned())
}
