//! SPS composites: sequences, strings, byte blobs, tuples and optionals.

use std::borrow::Cow;

use super::{DecodeError, DecodeErrorKind, SpsDecode, SpsEncode, SpsReader};

/// `SPSSequence<char>` (a byte blob): `u64` length then the bytes.
impl SpsEncode for [u8] {
    fn sps_size(&self) -> usize {
        8 + self.len()
    }
    fn sps_encode(&self, out: &mut Vec<u8>) {
        (self.len() as u64).sps_encode(out);
        out.extend_from_slice(self);
    }
}

impl<'a> SpsDecode<'a> for &'a [u8] {
    const MIN_SIZE: usize = 8;
    fn sps_decode(r: &mut SpsReader<'a>) -> Result<Self, DecodeError> {
        let n = r.read_count(1)?;
        r.take(n)
    }
}

impl SpsEncode for Cow<'_, [u8]> {
    fn sps_size(&self) -> usize {
        (**self).sps_size()
    }
    fn sps_encode(&self, out: &mut Vec<u8>) {
        (**self).sps_encode(out)
    }
}

impl<'a> SpsDecode<'a> for Cow<'a, [u8]> {
    const MIN_SIZE: usize = 8;
    fn sps_decode(r: &mut SpsReader<'a>) -> Result<Self, DecodeError> {
        <&'a [u8]>::sps_decode(r).map(Cow::Borrowed)
    }
}

/// `SPSString`: `u64` byte length then the bytes, no terminator.
impl SpsEncode for str {
    fn sps_size(&self) -> usize {
        self.as_bytes().sps_size()
    }
    fn sps_encode(&self, out: &mut Vec<u8>) {
        self.as_bytes().sps_encode(out)
    }
}

impl SpsEncode for String {
    fn sps_size(&self) -> usize {
        self.as_str().sps_size()
    }
    fn sps_encode(&self, out: &mut Vec<u8>) {
        self.as_str().sps_encode(out)
    }
}

impl<'a> SpsDecode<'a> for &'a str {
    const MIN_SIZE: usize = 8;
    fn sps_decode(r: &mut SpsReader<'a>) -> Result<Self, DecodeError> {
        let at = r.offset();
        let bytes = <&'a [u8]>::sps_decode(r)?;
        std::str::from_utf8(bytes).map_err(|_| DecodeError { offset: at, kind: DecodeErrorKind::InvalidUtf8 })
    }
}

impl<'a> SpsDecode<'a> for String {
    const MIN_SIZE: usize = 8;
    fn sps_decode(r: &mut SpsReader<'a>) -> Result<Self, DecodeError> {
        <&'a str>::sps_decode(r).map(str::to_owned)
    }
}

/// `SPSSequence<T>`: `u64` element count then the elements.
impl<T: SpsEncode> SpsEncode for Vec<T> {
    fn sps_size(&self) -> usize {
        8 + self.iter().map(SpsEncode::sps_size).sum::<usize>()
    }
    fn sps_encode(&self, out: &mut Vec<u8>) {
        (self.len() as u64).sps_encode(out);
        for v in self {
            v.sps_encode(out);
        }
    }
}

impl<'a, T: SpsDecode<'a>> SpsDecode<'a> for Vec<T> {
    const MIN_SIZE: usize = 8;
    fn sps_decode(r: &mut SpsReader<'a>) -> Result<Self, DecodeError> {
        let n = r.read_count(T::MIN_SIZE)?;
        let mut v = Vec::with_capacity(n);
        for _ in 0..n {
            v.push(T::sps_decode(r)?);
        }
        Ok(v)
    }
}

/// `SPSOptional<T>`: `bool` present, then `T` if present.
impl<T: SpsEncode> SpsEncode for Option<T> {
    fn sps_size(&self) -> usize {
        1 + self.as_ref().map_or(0, SpsEncode::sps_size)
    }
    fn sps_encode(&self, out: &mut Vec<u8>) {
        self.is_some().sps_encode(out);
        if let Some(v) = self {
            v.sps_encode(out);
        }
    }
}

impl<'a, T: SpsDecode<'a>> SpsDecode<'a> for Option<T> {
    const MIN_SIZE: usize = 1;
    fn sps_decode(r: &mut SpsReader<'a>) -> Result<Self, DecodeError> {
        if bool::sps_decode(r)? { T::sps_decode(r).map(Some) } else { Ok(None) }
    }
}

macro_rules! sps_tuple {
    ($($name:ident : $idx:tt),+) => {
        /// `SPSTuple`: the fields back to back (also the encoding of an argument list).
        impl<$($name: SpsEncode),+> SpsEncode for ($($name,)+) {
            fn sps_size(&self) -> usize {
                0 $(+ self.$idx.sps_size())+
            }
            fn sps_encode(&self, out: &mut Vec<u8>) {
                $(self.$idx.sps_encode(out);)+
            }
        }
        impl<'a, $($name: SpsDecode<'a>),+> SpsDecode<'a> for ($($name,)+) {
            const MIN_SIZE: usize = 0 $(+ $name::MIN_SIZE)+;
            fn sps_decode(r: &mut SpsReader<'a>) -> Result<Self, DecodeError> {
                Ok(($($name::sps_decode(r)?,)+))
            }
        }
    };
}
sps_tuple!(A: 0);
sps_tuple!(A: 0, B: 1);
sps_tuple!(A: 0, B: 1, C: 2);
sps_tuple!(A: 0, B: 1, C: 2, D: 3);
sps_tuple!(A: 0, B: 1, C: 2, D: 3, E: 4);
sps_tuple!(A: 0, B: 1, C: 2, D: 3, E: 4, F: 5);
