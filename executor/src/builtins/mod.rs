//! The wrapper functions this executor publishes as bootstrap symbols.
//!
//! Each builtin is an LLVM 22.1 service descriptor from [`orc_rpc::services`] plus a handler
//! that receives the session it serves: a handler acts only on that session's memory,
//! libraries and instances, so one controller can never reach another's. It is published at
//! the address of a real `extern "C"` function with the wrapper-function ABI ([`c_entry`]), so
//! JIT'd code can call it like LLVM's (it then serves the session whose call is running on
//! that thread, if that session publishes it: see [`Needs`]); calls arriving over the wire and
//! alloc actions skip the C ABI and go to the handler directly. Arguments that do not decode
//! give an out-of-band error, as in LLVM ("could not decode the arguments of …").

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

/// The [`crate::ExecutorBuilder`] option a builtin is published under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Needs {
    /// Always published.
    Nothing,
    /// [`crate::ExecutorBuilder::gdb_jit_interface`].
    GdbJitInterface,
    /// [`crate::ExecutorBuilder::forward_stdio`].
    ForwardStdio,
}

/// A builtin: name, C entry address, the handler for calls from the wire, and the option it
/// needs to be published.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BuiltinEntry {
    /// Bootstrap symbol name.
    pub name: &'static str,
    /// Address of the `extern "C"` entry.
    pub addr: ExecutorAddr,
    /// Decodes, runs and encodes one call for a session.
    pub call: fn(&SessionServices, &[u8]) -> WrapperResult,
    /// The option a session publishes it under.
    pub needs: Needs,
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
            Some(cx) if cx.builtin_at(c_entry_addr::<B>()).is_some() => call::<B>(cx, args),
            Some(_) => Err(format!("{} is not published by this executor", B::NAME)),
            None => Err(format!("{} was called outside a call of a session", B::NAME)),
        })
    })
    .unwrap_or_else(|_| Err(format!("{} panicked", B::NAME)));
    CWrapperFunctionBuffer::from_result(result)
}

/// The address of [`c_entry`] for `B`.
fn c_entry_addr<B: Builtin>() -> ExecutorAddr {
    ExecutorAddr(c_entry::<B> as *const () as usize as u64)
}

fn entry<B: Builtin>(needs: Needs) -> BuiltinEntry {
    BuiltinEntry { name: B::NAME, addr: c_entry_addr::<B>(), call: call::<B>, needs }
}

static TABLE: LazyLock<Vec<BuiltinEntry>> = LazyLock::new(|| {
    let mut v = vec![
        entry::<svc::MemReserve>(Needs::Nothing),
        entry::<svc::MemInitialize>(Needs::Nothing),
        entry::<svc::MemDeinitialize>(Needs::Nothing),
        entry::<svc::MemRelease>(Needs::Nothing),
        entry::<svc::ShmReserve>(Needs::Nothing),
        entry::<svc::ShmInitialize>(Needs::Nothing),
        entry::<svc::ShmDeinitialize>(Needs::Nothing),
        entry::<svc::ShmRelease>(Needs::Nothing),
        entry::<svc::DylibOpen>(Needs::Nothing),
        entry::<svc::DylibResolve>(Needs::Nothing),
        entry::<svc::RunAsMain>(Needs::Nothing),
        entry::<svc::RunAsVoidFunction>(Needs::Nothing),
        entry::<svc::RunAsIntFunction>(Needs::Nothing),
        entry::<svc::MemWriteUInt8s>(Needs::Nothing),
        entry::<svc::MemWriteUInt16s>(Needs::Nothing),
        entry::<svc::MemWriteUInt32s>(Needs::Nothing),
        entry::<svc::MemWriteUInt64s>(Needs::Nothing),
        entry::<svc::MemWritePointers>(Needs::Nothing),
        entry::<svc::MemWriteBuffers>(Needs::Nothing),
        entry::<svc::MemReadUInt8s>(Needs::Nothing),
        entry::<svc::MemReadUInt16s>(Needs::Nothing),
        entry::<svc::MemReadUInt32s>(Needs::Nothing),
        entry::<svc::MemReadUInt64s>(Needs::Nothing),
        entry::<svc::MemReadPointers>(Needs::Nothing),
        entry::<svc::MemReadBuffers>(Needs::Nothing),
        entry::<svc::MemReadStrings>(Needs::Nothing),
        entry::<svc::RegisterEhFrame>(Needs::Nothing),
        entry::<svc::DeregisterEhFrame>(Needs::Nothing),
    ];
    #[cfg(feature = "gdb-jit-interface")]
    v.push(entry::<svc::RegisterJitLoaderGdb>(Needs::GdbJitInterface));
    v.push(entry::<svc::TakeCrashReport>(Needs::Nothing));
    v.push(entry::<svc::MemInitializeAndCall>(Needs::Nothing));
    v.push(entry::<svc::StdioForward>(Needs::ForwardStdio));
    v.push(entry::<svc::StdinWrite>(Needs::ForwardStdio));
    if crate::memory::sys_unix::CAN_MAP_LOW {
        v.push(entry::<svc::MemReserveLow>(Needs::Nothing));
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
