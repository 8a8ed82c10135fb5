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
use crate::services::SessionServices;

/// Longest string `mem_read_strings` will follow before giving up, in bytes.
const MAX_STRING: usize = 16 << 20;

fn checked_range(addr: ExecutorAddr, len: usize) -> Result<ExecutorAddrRange, String> {
    ExecutorAddrRange::from_start_size(addr, len as u64).ok_or_else(|| format!("{addr} + {len} wraps around"))
}

fn write_all(cx: &SessionServices, writes: &[(ExecutorAddr, &[u8])]) -> Result<(), String> {
    cx.memory.write(writes).map_err(|e| {
        tracing::warn!("session {}: refused memory write: {e}", cx.id);
        format!("refused memory write: {e}")
    })
}

macro_rules! write_uint {
    ($svc:ty, $t:ty) => {
        impl Builtin for $svc {
            fn handle(cx: &SessionServices, (items,): (Vec<(ExecutorAddr, $t)>,)) -> Result<(), String> {
                let bytes: Vec<(ExecutorAddr, [u8; size_of::<$t>()])> =
                    items.iter().map(|&(a, v)| (a, v.to_ne_bytes())).collect();
                let writes: Vec<(ExecutorAddr, &[u8])> = bytes.iter().map(|(a, b)| (*a, &b[..])).collect();
                write_all(cx, &writes)
            }
        }
    };
}
write_uint!(MemWriteUInt8s, u8);
write_uint!(MemWriteUInt16s, u16);
write_uint!(MemWriteUInt32s, u32);
write_uint!(MemWriteUInt64s, u64);

impl Builtin for MemWritePointers {
    fn handle(cx: &SessionServices, (items,): (Vec<(ExecutorAddr, ExecutorAddr)>,)) -> Result<(), String> {
        let bytes: Vec<(ExecutorAddr, [u8; 8])> =
            items.iter().map(|&(a, v)| (a, v.0.to_ne_bytes())).collect();
        let writes: Vec<(ExecutorAddr, &[u8])> = bytes.iter().map(|(a, b)| (*a, &b[..])).collect();
        write_all(cx, &writes)
    }
}

impl Builtin for MemWriteBuffers {
    fn handle(cx: &SessionServices, (items,): (Vec<(ExecutorAddr, Cow<'_, [u8]>)>,)) -> Result<(), String> {
        let writes: Vec<(ExecutorAddr, &[u8])> = items.iter().map(|(a, b)| (*a, &b[..])).collect();
        write_all(cx, &writes)
    }
}

fn read_into(cx: &SessionServices, addr: ExecutorAddr, buf: &mut [u8]) -> Result<(), String> {
    let range = checked_range(addr, buf.len())?;
    cx.check_readable(&range)
        .and_then(|()| read_checked(addr.0 as usize, buf).map_err(|e| e.to_string()))
        .map_err(|e| {
            tracing::warn!("session {}: refused memory read of {} bytes at {addr}: {e}", cx.id, buf.len());
            format!("cannot read {} bytes at {addr}: {e}", buf.len())
        })
}

/// The most bytes one read request may return: what fits in a Result frame.
fn read_budget(cx: &SessionServices) -> usize {
    usize::try_from(cx.max_frame_size.saturating_sub(orc_rpc::FRAME_HEADER_SIZE as u64)).unwrap_or(usize::MAX)
}

macro_rules! read_uint {
    ($svc:ty, $t:ty) => {
        impl Builtin for $svc {
            fn handle(cx: &SessionServices, (addrs,): (Vec<ExecutorAddr>,)) -> Result<Vec<$t>, String> {
                addrs
                    .iter()
                    .map(|&a| {
                        let mut b = [0u8; size_of::<$t>()];
                        read_into(cx, a, &mut b).map(|()| <$t>::from_ne_bytes(b))
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
    fn handle(cx: &SessionServices, (addrs,): (Vec<ExecutorAddr>,)) -> Result<Vec<ExecutorAddr>, String> {
        addrs
            .iter()
            .map(|&a| {
                let mut b = [0u8; 8];
                read_into(cx, a, &mut b).map(|()| ExecutorAddr(u64::from_ne_bytes(b)))
            })
            .collect()
    }
}

impl Builtin for MemReadBuffers {
    fn handle(
        cx: &SessionServices,
        (ranges,): (Vec<ExecutorAddrRange>,),
    ) -> Result<Vec<Cow<'static, [u8]>>, String> {
        // The whole answer must fit in one frame: check the total before allocating anything.
        let budget = read_budget(cx);
        let total = ranges.iter().try_fold(0usize, |sum, r| {
            usize::try_from(r.size()).ok().and_then(|n| sum.checked_add(n)?.checked_add(8))
        });
        match total {
            Some(t) if t <= budget => {}
            _ => {
                let e = format!(
                    "a read of {} ranges totalling more than {budget} bytes does not fit in one frame",
                    ranges.len()
                );
                tracing::warn!("session {}: {e}", cx.id);
                return Err(e);
            }
        }
        ranges
            .iter()
            .map(|r| {
                let mut buf = vec![0u8; r.size() as usize];
                read_into(cx, r.start, &mut buf).map(|()| Cow::Owned(buf))
            })
            .collect()
    }
}

impl Builtin for MemReadStrings {
    fn handle(
        cx: &SessionServices,
        (addrs,): (Vec<ExecutorAddr>,),
    ) -> Result<Vec<Cow<'static, [u8]>>, String> {
        let mut budget = read_budget(cx);
        addrs
            .iter()
            .map(|&a| {
                let s = read_c_string(cx, a, budget.min(MAX_STRING))?;
                budget = budget.saturating_sub(s.len() + 8);
                Ok(Cow::Owned(s))
            })
            .collect()
    }
}

/// Reads a NUL-terminated string of at most `limit` bytes one page-bounded chunk at a time,
/// so a string that ends just before an unmapped page is still read.
fn read_c_string(cx: &SessionServices, addr: ExecutorAddr, limit: usize) -> Result<Vec<u8>, String> {
    let page = page_size() as u64;
    let mut out = Vec::new();
    let mut at = addr.0;
    loop {
        let chunk_len = (page - at % page) as usize;
        let mut chunk = vec![0u8; chunk_len];
        read_into(cx, ExecutorAddr(at), &mut chunk)?;
        if let Some(nul) = chunk.iter().position(|&b| b == 0) {
            out.extend_from_slice(&chunk[..nul]);
            if out.len() > limit {
                break;
            }
            return Ok(out);
        }
        out.extend_from_slice(&chunk);
        if out.len() > limit {
            break;
        }
        at = at
            .checked_add(chunk_len as u64)
            .ok_or_else(|| format!("string at {addr} runs off the address space"))?;
    }
    Err(format!("string at {addr} is longer than {limit} bytes"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session() -> SessionServices {
        let outbox = std::sync::Arc::new(crate::dispatch::Outbox::new(Box::new(std::io::sink()), 1 << 20));
        SessionServices::new(1, outbox, &crate::Executor::builder().max_frame_size(4096).build().config)
    }

    #[test]
    fn reads_are_fault_free() {
        let cx = session();
        let s = b"hello\0world";
        assert_eq!(read_c_string(&cx, ExecutorAddr::from_ptr(s.as_ptr()), 100).unwrap(), b"hello");
        assert!(read_c_string(&cx, ExecutorAddr::from_ptr(s.as_ptr()), 3).is_err());
        assert!(read_c_string(&cx, ExecutorAddr(8), 100).is_err());
        let v = 0x1122_3344u32;
        let got = MemReadUInt32s::handle(&cx, (vec![ExecutorAddr::from_ptr(&v)],)).unwrap();
        assert_eq!(got, vec![v]);
        assert!(MemReadUInt64s::handle(&cx, (vec![ExecutorAddr(16)],)).is_err());
    }

    #[test]
    fn reads_are_bounded_before_allocating() {
        // Ranges whose sizes add up beyond the frame limit (here 4096 bytes) are refused as a
        // whole, before any buffer is allocated.
        let cx = session();
        let v = [0u8; 64];
        let r = |n: u64| ExecutorAddrRange::from_start_size(ExecutorAddr::from_ptr(&v), n).unwrap();
        assert!(MemReadBuffers::handle(&cx, (vec![r(64); 10],)).is_ok());
        let huge = ExecutorAddrRange { start: ExecutorAddr(0), end: ExecutorAddr(u64::MAX) };
        let err = MemReadBuffers::handle(&cx, (vec![huge; 3],)).unwrap_err();
        assert!(err.contains("does not fit in one frame"), "{err}");
        assert!(MemReadBuffers::handle(&cx, (vec![r(64); 100],)).is_err());
    }

    #[test]
    fn writes_outside_reservations_are_refused() {
        let cx = session();
        let target = 0u64;
        let err = MemWriteUInt64s::handle(&cx, (vec![(ExecutorAddr::from_ptr(&raw const target), 5)],))
            .unwrap_err();
        assert!(err.contains("not inside memory reserved"), "{err}");
        assert_eq!(target, 0);
    }
}
