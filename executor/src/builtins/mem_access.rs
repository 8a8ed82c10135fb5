//! Memory access wrappers (`__llvm_orc_bootstrap_mem_{write,read}_*`).
//!
//! LLVM 22.1 performs these unchecked. Here every write must land in memory the controller
//! reserved and that is writable now, and every read goes through a fault-free copy, so a bad
//! address is an error (out of band: these wrappers have no error channel) instead of a crash.
//! A request is checked completely before anything is written.

use std::borrow::Cow;

use orc_rpc::services::{
    MemReadBuffers, MemReadPointers, MemReadStrings, MemReadUInt8s, MemReadUInt16s, MemReadUInt32s,
    MemReadUInt64s, MemWriteBuffers, MemWritePointers, MemWriteUInt8s, MemWriteUInt16s, MemWriteUInt32s,
    MemWriteUInt64s,
};
use orc_rpc::{ExecutorAddr, ExecutorAddrRange};

use super::Builtin;
use crate::memory::sys_unix::{page_size, read_checked};
use crate::registry;

/// Largest buffer `mem_read_buffers` reads in one piece, in bytes (the default frame limit).
const MAX_BUFFER: usize = orc_rpc::DEFAULT_MAX_FRAME_SIZE as usize;
/// Longest string `mem_read_strings` will follow before giving up, in bytes.
const MAX_STRING: usize = 16 << 20;

fn checked_range(addr: ExecutorAddr, len: usize) -> Result<ExecutorAddrRange, String> {
    ExecutorAddrRange::from_start_size(addr, len as u64).ok_or_else(|| format!("{addr} + {len} wraps around"))
}

fn write_all(writes: &[(ExecutorAddr, &[u8])]) -> Result<(), String> {
    for &(addr, bytes) in writes {
        registry::check_writable(&checked_range(addr, bytes.len())?).map_err(|e| {
            tracing::warn!("refused memory write: {e}");
            format!("refused memory write: {e}")
        })?;
    }
    for &(addr, bytes) in writes {
        // SAFETY: checked just above to be inside a reserved slab whose pages are writable.
        unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), addr.0 as usize as *mut u8, bytes.len()) };
    }
    Ok(())
}

macro_rules! write_uint {
    ($svc:ty, $t:ty) => {
        impl Builtin for $svc {
            fn handle((items,): (Vec<(ExecutorAddr, $t)>,)) -> Result<(), String> {
                let bytes: Vec<(ExecutorAddr, [u8; size_of::<$t>()])> =
                    items.iter().map(|&(a, v)| (a, v.to_ne_bytes())).collect();
                let writes: Vec<(ExecutorAddr, &[u8])> = bytes.iter().map(|(a, b)| (*a, &b[..])).collect();
                write_all(&writes)
            }
        }
    };
}
write_uint!(MemWriteUInt8s, u8);
write_uint!(MemWriteUInt16s, u16);
write_uint!(MemWriteUInt32s, u32);
write_uint!(MemWriteUInt64s, u64);

impl Builtin for MemWritePointers {
    fn handle((items,): (Vec<(ExecutorAddr, ExecutorAddr)>,)) -> Result<(), String> {
        let bytes: Vec<(ExecutorAddr, [u8; 8])> =
            items.iter().map(|&(a, v)| (a, v.0.to_ne_bytes())).collect();
        let writes: Vec<(ExecutorAddr, &[u8])> = bytes.iter().map(|(a, b)| (*a, &b[..])).collect();
        write_all(&writes)
    }
}

impl Builtin for MemWriteBuffers {
    fn handle((items,): (Vec<(ExecutorAddr, Cow<'_, [u8]>)>,)) -> Result<(), String> {
        let writes: Vec<(ExecutorAddr, &[u8])> = items.iter().map(|(a, b)| (*a, &b[..])).collect();
        write_all(&writes)
    }
}

fn read_into(addr: ExecutorAddr, buf: &mut [u8]) -> Result<(), String> {
    checked_range(addr, buf.len())?;
    read_checked(addr.0 as usize, buf).map_err(|e| {
        tracing::warn!("refused memory read of {} bytes at {addr}: {e}", buf.len());
        format!("cannot read {} bytes at {addr}: {e}", buf.len())
    })
}

macro_rules! read_uint {
    ($svc:ty, $t:ty) => {
        impl Builtin for $svc {
            fn handle((addrs,): (Vec<ExecutorAddr>,)) -> Result<Vec<$t>, String> {
                addrs
                    .iter()
                    .map(|&a| {
                        let mut b = [0u8; size_of::<$t>()];
                        read_into(a, &mut b).map(|()| <$t>::from_ne_bytes(b))
                    })
                    .collect()
            }
        }
    };
}
read_uint!(MemReadUInt8s, u8);
read_uint!(MemReadUInt16s, u16);
read_uint!(MemReadUInt32s, u32);
read_uint!(MemReadUInt64s, u64);

impl Builtin for MemReadPointers {
    fn handle((addrs,): (Vec<ExecutorAddr>,)) -> Result<Vec<ExecutorAddr>, String> {
        addrs
            .iter()
            .map(|&a| {
                let mut b = [0u8; 8];
                read_into(a, &mut b).map(|()| ExecutorAddr(u64::from_ne_bytes(b)))
            })
            .collect()
    }
}

impl Builtin for MemReadBuffers {
    fn handle((ranges,): (Vec<ExecutorAddrRange>,)) -> Result<Vec<Cow<'static, [u8]>>, String> {
        ranges
            .iter()
            .map(|r| {
                let len = usize::try_from(r.size()).ok().filter(|&l| l <= MAX_BUFFER);
                let len = len.ok_or_else(|| format!("{r:?} is larger than {MAX_BUFFER} bytes"))?;
                let mut buf = vec![0u8; len];
                read_into(r.start, &mut buf).map(|()| Cow::Owned(buf))
            })
            .collect()
    }
}

impl Builtin for MemReadStrings {
    fn handle((addrs,): (Vec<ExecutorAddr>,)) -> Result<Vec<Cow<'static, [u8]>>, String> {
        addrs.iter().map(|&a| read_c_string(a).map(Cow::Owned)).collect()
    }
}

/// Reads a NUL-terminated string one page-bounded chunk at a time, so a string that ends just
/// before an unmapped page is still read.
fn read_c_string(addr: ExecutorAddr) -> Result<Vec<u8>, String> {
    let page = page_size() as u64;
    let mut out = Vec::new();
    let mut at = addr.0;
    loop {
        let chunk_len = (page - at % page) as usize;
        let mut chunk = vec![0u8; chunk_len];
        read_into(ExecutorAddr(at), &mut chunk)?;
        if let Some(nul) = chunk.iter().position(|&b| b == 0) {
            out.extend_from_slice(&chunk[..nul]);
            return Ok(out);
        }
        out.extend_from_slice(&chunk);
        if out.len() > MAX_STRING {
            return Err(format!("string at {addr} is longer than {MAX_STRING} bytes"));
        }
        at = at
            .checked_add(chunk_len as u64)
            .ok_or_else(|| format!("string at {addr} runs off the address space"))?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_are_fault_free() {
        let s = b"hello\0world";
        assert_eq!(read_c_string(ExecutorAddr::from_ptr(s.as_ptr())).unwrap(), b"hello");
        assert!(read_c_string(ExecutorAddr(8)).is_err());
        let v = 0x1122_3344u32;
        let got = MemReadUInt32s::handle((vec![ExecutorAddr::from_ptr(&v)],)).unwrap();
        assert_eq!(got, vec![v]);
        assert!(MemReadUInt64s::handle((vec![ExecutorAddr(16)],)).is_err());
    }

    #[test]
    fn writes_outside_reservations_are_refused() {
        let target = 0u64;
        let err =
            MemWriteUInt64s::handle((vec![(ExecutorAddr::from_ptr(&raw const target), 5)],)).unwrap_err();
        assert!(err.contains("not inside memory reserved"), "{err}");
        assert_eq!(target, 0);
    }
}
