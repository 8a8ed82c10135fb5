//! The wrapper functions this executor publishes as bootstrap symbols.
//!
//! Each builtin is an LLVM 22.1 service descriptor from [`orc_rpc::services`] plus a handler
//! that receives the session it serves: a handler acts only on that session's memory,
//! libraries and instances, so one controller can never reach another's. It is published at
//! the address of a real `extern "C"` function with the wrapper-function ABI ([`c_entry`]), so
//! JIT'd code can call it like LLVM's (it then serves the session whose call is running on
//! that thread); calls arriving over the wire and alloc actions skip the C ABI and go to the
//! handler directly. Arguments that do not decode give an out-of-band error, as in LLVM
//! ("could not decode the arguments of …").

mod dylib;
mod eh_frame;
#[cfg(feature = "gdb-jit-interface")]
mod gdb;
mod initialize_and_call;
mod mem_access;
mod memory;
mod run;
mod stdio;

use std::ffi::c_char;
use std::sync::LazyLock;

use orc_rpc::ExecutorAddr;
use orc_rpc::services::{self as svc, WrapperFunction, decode_args};

use crate::call::{CWrapperFunctionBuffer, WrapperResult};
use crate::services::SessionServices;

/// A service this executor implements.
pub(crate) trait Builtin: WrapperFunction {
    /// Serves one call for session `cx`.
    ///
    /// # Errors
    /// An out-of-band error (no in-band error channel fits); in-band errors are part of
    /// `Ret`.
    fn handle(cx: &SessionServices, args: Self::Args<'_>) -> Result<Self::Ret<'static>, String>;
}

/// A published builtin: name, C entry address and the handler for calls from the wire.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BuiltinEntry {
    /// Bootstrap symbol name.
    pub name: &'static str,
    /// Address of the `extern "C"` entry.
    pub addr: ExecutorAddr,
    /// Decodes, runs and encodes one call for a session.
    pub call: fn(&SessionServices, &[u8]) -> WrapperResult,
}

fn call<B: Builtin>(cx: &SessionServices, bytes: &[u8]) -> WrapperResult {
    let args =
        decode_args::<B>(bytes).map_err(|e| format!("could not decode the arguments of {}: {e}", B::NAME))?;
    let ret = B::handle(cx, args)?;
    Ok(orc_rpc::sps::to_bytes(&ret))
}

/// The C ABI entry of builtin `B`: `CWrapperFunctionBuffer (const char *data, size_t size)`.
///
/// # Safety
/// `data` must be valid for `size` bytes, or `size` must be 0.
pub(crate) unsafe extern "C" fn c_entry<B: Builtin>(
    data: *const c_char,
    size: usize,
) -> CWrapperFunctionBuffer {
    let args: &[u8] = if size == 0 || data.is_null() {
        &[]
    } else {
        // SAFETY: per this function's contract.
        unsafe { std::slice::from_raw_parts(data.cast(), size) }
    };
    let result = std::panic::catch_unwind(|| {
        crate::services::with_current(|cx| match cx {
            Some(cx) => call::<B>(cx, args),
            None => Err(format!("{} was called outside a call of a session", B::NAME)),
        })
    })
    .unwrap_or_else(|_| Err(format!("{} panicked", B::NAME)));
    CWrapperFunctionBuffer::from_result(result)
}

fn entry<B: Builtin>() -> BuiltinEntry {
    BuiltinEntry {
        name: B::NAME,
        addr: ExecutorAddr(c_entry::<B> as *const () as usize as u64),
        call: call::<B>,
    }
}

static TABLE: LazyLock<Vec<BuiltinEntry>> = LazyLock::new(|| {
    let mut v = vec![
        entry::<svc::MemReserve>(),
        entry::<svc::MemInitialize>(),
        entry::<svc::MemDeinitialize>(),
        entry::<svc::MemRelease>(),
        entry::<svc::ShmReserve>(),
        entry::<svc::ShmInitialize>(),
        entry::<svc::ShmDeinitialize>(),
        entry::<svc::ShmRelease>(),
        entry::<svc::DylibOpen>(),
        entry::<svc::DylibResolve>(),
        entry::<svc::RunAsMain>(),
        entry::<svc::RunAsVoidFunction>(),
        entry::<svc::RunAsIntFunction>(),
        entry::<svc::MemWriteUInt8s>(),
        entry::<svc::MemWriteUInt16s>(),
        entry::<svc::MemWriteUInt32s>(),
        entry::<svc::MemWriteUInt64s>(),
        entry::<svc::MemWritePointers>(),
        entry::<svc::MemWriteBuffers>(),
        entry::<svc::MemReadUInt8s>(),
        entry::<svc::MemReadUInt16s>(),
        entry::<svc::MemReadUInt32s>(),
        entry::<svc::MemReadUInt64s>(),
        entry::<svc::MemReadPointers>(),
        entry::<svc::MemReadBuffers>(),
        entry::<svc::MemReadStrings>(),
        entry::<svc::RegisterEhFrame>(),
        entry::<svc::DeregisterEhFrame>(),
    ];
    #[cfg(feature = "gdb-jit-interface")]
    v.push(entry::<svc::RegisterJitLoaderGdb>());
    v.push(entry::<svc::TakeCrashReport>());
    v.push(entry::<svc::MemInitializeAndCall>());
    v.push(entry::<svc::StdioForward>());
    v.push(entry::<svc::StdinWrite>());
    if crate::memory::sys_unix::CAN_MAP_LOW {
        v.push(entry::<svc::MemReserveLow>());
    }
    v
});

/// Every builtin, in a fixed order.
pub(crate) fn table() -> &'static [BuiltinEntry] {
    &TABLE
}

/// The builtin published at `addr`, if any.
pub(crate) fn find(addr: ExecutorAddr) -> Option<&'static BuiltinEntry> {
    TABLE.iter().find(|b| b.addr == addr)
}
