//! Executor addresses: `ExecutorAddr` and `ExecutorAddrRange`.
//!
//! Mirrors `llvm/include/llvm/ExecutionEngine/Orc/Shared/ExecutorAddress.h` (LLVM 22.1): an
//! address is a plain `u64` in the *executor's* address space. It is a pointer only inside the
//! executor process; the controller treats it as an opaque number.

use std::fmt;

/// An address in the executor process (SPS `SPSExecutorAddr`, 8 bytes little-endian on the
/// wire).
#[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ExecutorAddr(pub u64);

impl ExecutorAddr {
    /// The null address.
    pub const NULL: ExecutorAddr = ExecutorAddr(0);

    /// Returns true for address 0.
    pub fn is_null(self) -> bool {
        self.0 == 0
    }

    /// `self + offset`, or `None` on overflow.
    pub fn checked_add(self, offset: u64) -> Option<ExecutorAddr> {
        self.0.checked_add(offset).map(ExecutorAddr)
    }

    /// The address of a value in *this* process (meaningful to send only when this process is
    /// the executor).
    pub fn from_ptr<T: ?Sized>(ptr: *const T) -> ExecutorAddr {
        ExecutorAddr(ptr as *const u8 as usize as u64)
    }
}

impl fmt::Debug for ExecutorAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#x}", self.0)
    }
}

impl fmt::Display for ExecutorAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#x}", self.0)
    }
}

impl From<u64> for ExecutorAddr {
    fn from(v: u64) -> Self {
        ExecutorAddr(v)
    }
}

/// A half-open range `[start, end)` of executor addresses (SPS `SPSExecutorAddrRange`, encoded
/// as start then **end**, not start and size; observed on the 22.1 binaries).
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct ExecutorAddrRange {
    /// First address in the range.
    pub start: ExecutorAddr,
    /// One past the last address.
    pub end: ExecutorAddr,
}

impl ExecutorAddrRange {
    /// The range `[start, start + size)`; `None` if it wraps around.
    pub fn from_start_size(start: ExecutorAddr, size: u64) -> Option<Self> {
        Some(ExecutorAddrRange { start, end: start.checked_add(size)? })
    }

    /// Size in bytes (0 for an empty or inverted range).
    pub fn size(&self) -> u64 {
        self.end.0.saturating_sub(self.start.0)
    }

    /// True if the range holds no bytes.
    pub fn is_empty(&self) -> bool {
        self.end.0 <= self.start.0
    }

    /// True if `addr` is inside the range.
    pub fn contains(&self, addr: ExecutorAddr) -> bool {
        self.start <= addr && addr < self.end
    }

    /// True if `other` lies completely inside this range (an empty `other` counts when its
    /// start is inside or at the end).
    pub fn contains_range(&self, other: &ExecutorAddrRange) -> bool {
        self.start <= other.start && other.end <= self.end && other.start <= other.end
    }
}

impl fmt::Debug for ExecutorAddrRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{:#x}, {:#x})", self.start.0, self.end.0)
    }
}
