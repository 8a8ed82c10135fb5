//! SPS primitives: fixed-width integers, `bool`, `SPSEmpty` and `SPSExecutorAddr`.

use super::{DecodeError, DecodeErrorKind, SpsDecode, SpsEncode, SpsReader};
use crate::ExecutorAddr;

macro_rules! sps_int {
    ($($t:ty),*) => {$(
        impl SpsEncode for $t {
            fn sps_size(&self) -> usize {
                std::mem::size_of::<$t>()
            }
            fn sps_encode(&self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.to_le_bytes());
            }
        }
        impl<'a> SpsDecode<'a> for $t {
            const MIN_SIZE: usize = std::mem::size_of::<$t>();
            fn sps_decode(r: &mut SpsReader<'a>) -> Result<Self, DecodeError> {
                Ok(<$t>::from_le_bytes(r.take_array()?))
            }
        }
    )*};
}
sps_int!(u8, u16, u32, u64, i8, i16, i32, i64);

impl SpsEncode for bool {
    fn sps_size(&self) -> usize {
        1
    }
    fn sps_encode(&self, out: &mut Vec<u8>) {
        out.push(u8::from(*self));
    }
}

impl<'a> SpsDecode<'a> for bool {
    const MIN_SIZE: usize = 1;
    fn sps_decode(r: &mut SpsReader<'a>) -> Result<Self, DecodeError> {
        let at = r.offset();
        match r.take_array::<1>()?[0] {
            0 => Ok(false),
            1 => Ok(true),
            b => Err(DecodeError { offset: at, kind: DecodeErrorKind::InvalidBool(b) }),
        }
    }
}

/// `SPSEmpty`: the result of a `void` wrapper function, zero bytes.
impl SpsEncode for () {
    fn sps_size(&self) -> usize {
        0
    }
    fn sps_encode(&self, _out: &mut Vec<u8>) {}
}

impl<'a> SpsDecode<'a> for () {
    const MIN_SIZE: usize = 0;
    fn sps_decode(_r: &mut SpsReader<'a>) -> Result<Self, DecodeError> {
        Ok(())
    }
}

impl SpsEncode for ExecutorAddr {
    fn sps_size(&self) -> usize {
        8
    }
    fn sps_encode(&self, out: &mut Vec<u8>) {
        self.0.sps_encode(out)
    }
}

impl<'a> SpsDecode<'a> for ExecutorAddr {
    const MIN_SIZE: usize = 8;
    fn sps_decode(r: &mut SpsReader<'a>) -> Result<Self, DecodeError> {
        u64::sps_decode(r).map(ExecutorAddr)
    }
}
