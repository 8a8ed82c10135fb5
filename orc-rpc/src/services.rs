//! Typed descriptors of the wrapper functions LLVM 22.1 uses on this protocol.
//!
//! Each descriptor names a function and fixes its SPS signature `Ret(Args…)`: a CallWrapper
//! payload is the SPS encoding of [`WrapperFunction::Args`] (an argument list is encoded like a
//! tuple), and the Result payload is the encoding of [`WrapperFunction::Ret`]. Both the
//! controller and the executor use these types, so the two sides cannot disagree.
//!
//! Signatures come from `llvm/include/llvm/ExecutionEngine/Orc/Shared/OrcRTBridge.h` (the
//! `SPS…Signature` aliases) and `TargetProcess/SimpleExecutorMemoryManager.h` etc. of LLVM
//! 22.1; ORC-runtime signatures from `compiler-rt/lib/orc/` as observed on 22.1.8
//! (`docs/protocol.md` §7, §10).

use std::borrow::Cow;

use crate::addr::{ExecutorAddr, ExecutorAddrRange};
use crate::info::names;
use crate::sps::{SpsDecode, SpsEncode, SpsError, SpsExpected};
use crate::types::{
    ExecutorSymbolDef, FinalizeRequest, RemoteSymbolLookupSetElement, SharedMemoryFinalizeRequest,
};

/// A wrapper function with a fixed SPS signature.
pub trait WrapperFunction {
    /// The symbol name (a bootstrap symbol for executor services, a JIT symbol for ORC-runtime
    /// functions, a jit-dispatch tag name for controller handlers).
    const NAME: &'static str;
    /// The argument list.
    type Args<'a>: SpsEncode + SpsDecode<'a>;
    /// The result.
    type Ret<'a>: SpsEncode + SpsDecode<'a>;
}

macro_rules! wrapper_fn {
    ($(#[$doc:meta])* $ty:ident = $name:expr, ($($args:ty),*) -> $ret:ty) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy)]
        pub struct $ty;
        impl WrapperFunction for $ty {
            const NAME: &'static str = $name;
            type Args<'a> = ($($args,)*);
            type Ret<'a> = $ret;
        }
    };
}

// --- SimpleExecutorMemoryManager --------------------------------------------------------------

wrapper_fn!(
    /// `reserve(inst, size) -> Expected<base>`: map `size` bytes (rounded up to pages) read-write
    /// as a new slab.
    MemReserve = names::MEMORY_MANAGER_RESERVE, (ExecutorAddr, u64) -> SpsExpected<ExecutorAddr>
);
wrapper_fn!(
    /// orcbridge extension: `reserve_low(inst, size) -> Expected<base>`, a slab in the low 2 GiB.
    MemReserveLow = names::ORCBRIDGE_RESERVE_LOW, (ExecutorAddr, u64) -> SpsExpected<ExecutorAddr>
);
wrapper_fn!(
    /// orcbridge extension: `take_crash_report(inst) -> Optional<(signal, address, text)>`, the
    /// last crash caught in a call made for the session of memory manager `inst` (then
    /// forgotten). `signal` is the POSIX signal number, `address` its `si_addr`.
    TakeCrashReport = names::ORCBRIDGE_TAKE_CRASH_REPORT, (ExecutorAddr) -> Option<(i32, u64, String)>
);
wrapper_fn!(
    /// orcbridge extension: `stdio_forward(tag, flags) -> Error`, send what the executor
    /// process writes to descriptors 1 and 2 to the caller's jit-dispatch handler `tag`
    /// ([`StdioOutput`]); `flags` are [`STDIO_STDIN`] and [`STDIO_LINE_BUFFERED`].
    StdioForward = names::ORCBRIDGE_STDIO_FORWARD, (ExecutorAddr, u32) -> SpsError
);

/// [`StdioForward`] flag: descriptor 0 becomes a stream only the caller feeds
/// ([`StdinWrite`]).
pub const STDIO_STDIN: u32 = 1;
/// [`StdioForward`] flag: C's `stdout` and `stdin` become line-buffered, as on a terminal (the
/// caller shows the output on one).
pub const STDIO_LINE_BUFFERED: u32 = 2;
wrapper_fn!(
    /// orcbridge extension: `stdin_write(bytes) -> Error`, feed descriptor 0 of the executor
    /// process; empty `bytes` ends the input.
    StdinWrite = names::ORCBRIDGE_STDIN_WRITE, (Cow<'a, [u8]>) -> SpsError
);
wrapper_fn!(
    /// orcbridge extension, a controller handler (jit-dispatch tag chosen by the controller):
    /// `output(fd, bytes) -> ()`, bytes the executor process wrote to descriptor `fd` (1 or 2).
    StdioOutput = names::ORCBRIDGE_STDIO_OUTPUT, (u8, Cow<'a, [u8]>) -> ()
);
wrapper_fn!(
    /// `initialize(inst, FinalizeRequest) -> Expected<key>`: copy segments into a reserved slab,
    /// protect them, run the finalize actions. The key is the lowest segment address.
    MemInitialize = names::MEMORY_MANAGER_INITIALIZE,
        (ExecutorAddr, FinalizeRequest<'a>) -> SpsExpected<ExecutorAddr>
);
wrapper_fn!(
    /// orcbridge extension: `initialize_and_call(inst, FinalizeRequest, fn, args) ->
    /// Expected<(key, Optional<result>)>`. Initializes the region exactly as [`MemInitialize`]
    /// does (its error is this call's error, and nothing is called); then calls the wrapper
    /// function `fn` with `args` as a CallWrapper from the controller would, and returns the
    /// key with `fn`'s result bytes, or `None` when that call failed out of band (a crash:
    /// [`TakeCrashReport`] has it; an address that may not be called). The region stays
    /// initialized either way, as with the two calls this replaces.
    MemInitializeAndCall = names::ORCBRIDGE_INITIALIZE_AND_CALL,
        (ExecutorAddr, FinalizeRequest<'a>, ExecutorAddr, Cow<'a, [u8]>)
            -> SpsExpected<(ExecutorAddr, Option<Cow<'a, [u8]>>)>
);
wrapper_fn!(
    /// `deinitialize(inst, keys) -> Error`: run the dealloc actions of the regions (keys taken in
    /// reverse order).
    MemDeinitialize = names::MEMORY_MANAGER_DEINITIALIZE, (ExecutorAddr, Vec<ExecutorAddr>) -> SpsError
);
wrapper_fn!(
    /// `release(inst, bases) -> Error`: deinitialize what is left in the slabs, then unmap them.
    MemRelease = names::MEMORY_MANAGER_RELEASE, (ExecutorAddr, Vec<ExecutorAddr>) -> SpsError
);

// --- SimpleExecutorDylibManager ---------------------------------------------------------------

wrapper_fn!(
    /// `open(inst, path, mode) -> Expected<handle>`; `""` is the executor process itself; mode
    /// must be 0.
    DylibOpen = names::DYLIB_MANAGER_OPEN, (ExecutorAddr, String, u64) -> SpsExpected<ExecutorAddr>
);
wrapper_fn!(
    /// `resolve(handle, [(name, required)]) -> Expected<[Optional<ExecutorSymbolDef>]>`, one
    /// entry per name in order. Note: no instance argument.
    DylibResolve = names::DYLIB_MANAGER_RESOLVE,
        (ExecutorAddr, Vec<RemoteSymbolLookupSetElement<'a>>)
            -> SpsExpected<Vec<Option<ExecutorSymbolDef>>>
);

// --- Running code ------------------------------------------------------------------------------

wrapper_fn!(
    /// `run_as_main(main, args) -> int64`: calls `int main(int, char**)` with `args` as argv
    /// (no program name is added).
    RunAsMain = names::RUN_AS_MAIN, (ExecutorAddr, Vec<String>) -> i64
);
wrapper_fn!(
    /// `run_as_void_function(fn) -> int32`: calls `int32_t (*)(void)` (sic, as LLVM does).
    RunAsVoidFunction = names::RUN_AS_VOID_FUNCTION, (ExecutorAddr) -> i32
);
wrapper_fn!(
    /// `run_as_int_function(fn, arg) -> int32`: calls `int32_t (*)(int32_t)`.
    RunAsIntFunction = names::RUN_AS_INT_FUNCTION, (ExecutorAddr, i32) -> i32
);

// --- Memory access -----------------------------------------------------------------------------

wrapper_fn!(
    /// Writes bytes.
    MemWriteUInt8s = names::MEM_WRITE_UINT8S, (Vec<(ExecutorAddr, u8)>) -> ()
);
wrapper_fn!(
    /// Writes 16-bit values (native byte order of the executor).
    MemWriteUInt16s = names::MEM_WRITE_UINT16S, (Vec<(ExecutorAddr, u16)>) -> ()
);
wrapper_fn!(
    /// Writes 32-bit values.
    MemWriteUInt32s = names::MEM_WRITE_UINT32S, (Vec<(ExecutorAddr, u32)>) -> ()
);
wrapper_fn!(
    /// Writes 64-bit values.
    MemWriteUInt64s = names::MEM_WRITE_UINT64S, (Vec<(ExecutorAddr, u64)>) -> ()
);
wrapper_fn!(
    /// Writes pointers.
    MemWritePointers = names::MEM_WRITE_POINTERS, (Vec<(ExecutorAddr, ExecutorAddr)>) -> ()
);
wrapper_fn!(
    /// Writes byte buffers.
    MemWriteBuffers = names::MEM_WRITE_BUFFERS, (Vec<(ExecutorAddr, Cow<'a, [u8]>)>) -> ()
);
wrapper_fn!(
    /// Reads bytes.
    MemReadUInt8s = names::MEM_READ_UINT8S, (Vec<ExecutorAddr>) -> Vec<u8>
);
wrapper_fn!(
    /// Reads 16-bit values.
    MemReadUInt16s = names::MEM_READ_UINT16S, (Vec<ExecutorAddr>) -> Vec<u16>
);
wrapper_fn!(
    /// Reads 32-bit values.
    MemReadUInt32s = names::MEM_READ_UINT32S, (Vec<ExecutorAddr>) -> Vec<u32>
);
wrapper_fn!(
    /// Reads 64-bit values.
    MemReadUInt64s = names::MEM_READ_UINT64S, (Vec<ExecutorAddr>) -> Vec<u64>
);
wrapper_fn!(
    /// Reads pointers.
    MemReadPointers = names::MEM_READ_POINTERS, (Vec<ExecutorAddr>) -> Vec<ExecutorAddr>
);
wrapper_fn!(
    /// Reads the bytes of each range.
    MemReadBuffers = names::MEM_READ_BUFFERS, (Vec<ExecutorAddrRange>) -> Vec<Cow<'a, [u8]>>
);
wrapper_fn!(
    /// Reads a NUL-terminated string at each address (the NUL is not included).
    MemReadStrings = names::MEM_READ_STRINGS, (Vec<ExecutorAddr>) -> Vec<Cow<'a, [u8]>>
);

// --- Alloc actions -----------------------------------------------------------------------------

wrapper_fn!(
    /// Registers an `.eh_frame` section with the unwinder.
    RegisterEhFrame = names::REGISTER_EH_FRAME, (ExecutorAddrRange) -> SpsError
);
wrapper_fn!(
    /// Deregisters an `.eh_frame` section.
    DeregisterEhFrame = names::DEREGISTER_EH_FRAME, (ExecutorAddrRange) -> SpsError
);
wrapper_fn!(
    /// Adds a debug object to the GDB JIT interface (`__jit_debug_descriptor`) and, when the
    /// flag is set, calls `__jit_debug_register_code`.
    RegisterJitLoaderGdb = names::REGISTER_JIT_LOADER_GDB, (ExecutorAddrRange, bool) -> SpsError
);

// --- ExecutorSharedMemoryMapperService ---------------------------------------------------------

wrapper_fn!(
    /// `Reserve(inst, size) -> Expected<(base, shm object name)>`.
    ShmReserve = names::SHM_RESERVE, (ExecutorAddr, u64) -> SpsExpected<(ExecutorAddr, String)>
);
wrapper_fn!(
    /// `Initialize(inst, reservation, request) -> Expected<key>`.
    ShmInitialize = names::SHM_INITIALIZE,
        (ExecutorAddr, ExecutorAddr, SharedMemoryFinalizeRequest<'a>) -> SpsExpected<ExecutorAddr>
);
wrapper_fn!(
    /// `Deinitialize(inst, keys) -> Error`.
    ShmDeinitialize = names::SHM_DEINITIALIZE, (ExecutorAddr, Vec<ExecutorAddr>) -> SpsError
);
wrapper_fn!(
    /// `Release(inst, bases) -> Error`.
    ShmRelease = names::SHM_RELEASE, (ExecutorAddr, Vec<ExecutorAddr>) -> SpsError
);

// --- ORC runtime (liborc_rt) -------------------------------------------------------------------

wrapper_fn!(
    /// `__orc_rt_run_program_wrapper(jit_dylib, entry, args) -> int64`.
    OrcRtRunProgram = "__orc_rt_run_program_wrapper", (String, String, Vec<String>) -> i64
);
wrapper_fn!(
    /// `__orc_rt_jit_dlopen_wrapper(name, mode) -> dso handle`.
    OrcRtJitDlopen = "__orc_rt_jit_dlopen_wrapper", (String, i32) -> ExecutorAddr
);
wrapper_fn!(
    /// `__orc_rt_jit_dlupdate_wrapper(dso) -> int32` (runs new initializers).
    OrcRtJitDlupdate = "__orc_rt_jit_dlupdate_wrapper", (ExecutorAddr) -> i32
);
wrapper_fn!(
    /// `__orc_rt_jit_dlclose_wrapper(dso) -> int32`.
    OrcRtJitDlclose = "__orc_rt_jit_dlclose_wrapper", (ExecutorAddr) -> i32
);
wrapper_fn!(
    /// Controller handler (jit-dispatch tag) for the ELFNix runtime:
    /// `push_initializers(dso) -> Expected<[(dso, [dep dso])]>`.
    ElfNixPushInitializers = "__orc_rt_elfnix_push_initializers_tag",
        (ExecutorAddr) -> SpsExpected<Vec<(ExecutorAddr, Vec<ExecutorAddr>)>>
);
wrapper_fn!(
    /// Controller handler (jit-dispatch tag) for the ELFNix runtime:
    /// `symbol_lookup(dso, name) -> Expected<addr>`.
    ElfNixSymbolLookup = "__orc_rt_elfnix_symbol_lookup_tag", (ExecutorAddr, String) -> SpsExpected<ExecutorAddr>
);

/// Encodes the CallWrapper payload for `F`.
pub fn encode_args<F: WrapperFunction>(args: &F::Args<'_>) -> Vec<u8> {
    crate::sps::to_bytes(args)
}

/// Decodes a CallWrapper payload for `F`.
///
/// # Errors
/// [`crate::sps::DecodeError`] if the bytes are not exactly one argument list of `F`.
pub fn decode_args<'a, F: WrapperFunction>(bytes: &'a [u8]) -> Result<F::Args<'a>, crate::sps::DecodeError> {
    crate::sps::from_bytes(bytes)
}

/// Decodes a Result payload for `F`.
///
/// # Errors
/// [`crate::sps::DecodeError`]; note that an empty payload is how an LLVM peer transmits an
/// out-of-band error (the message is lost on the wire), so it fails here for any non-void `F`.
pub fn decode_ret<'a, F: WrapperFunction>(bytes: &'a [u8]) -> Result<F::Ret<'a>, crate::sps::DecodeError> {
    crate::sps::from_bytes(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn initialize_and_call_is_initialize_then_a_call_on_the_wire() {
        // The arguments are initialize's, then the function and its argument bytes.
        let req = FinalizeRequest { segments: Vec::new(), actions: Vec::new() };
        let args = encode_args::<MemInitializeAndCall>(&(
            ExecutorAddr(0x10),
            req.clone(),
            ExecutorAddr(0x20),
            Cow::Borrowed(&b"ab"[..]),
        ));
        let mut want = crate::sps::to_bytes(&(ExecutorAddr(0x10), req));
        want.extend(crate::sps::to_bytes(&(ExecutorAddr(0x20), &b"ab"[..])));
        assert_eq!(args, want);
        let (inst, _, f, bytes) = decode_args::<MemInitializeAndCall>(&args).unwrap();
        assert_eq!((inst, f, &*bytes), (ExecutorAddr(0x10), ExecutorAddr(0x20), &b"ab"[..]));

        // A call that failed out of band is told apart from one that returned no bytes.
        for result in [None, Some(Cow::Borrowed(&b""[..])), Some(Cow::Borrowed(&b"xyz"[..]))] {
            let ret = SpsExpected::ok((ExecutorAddr(0x1000), result.clone()));
            let bytes = crate::sps::to_bytes(&ret);
            let SpsExpected(back) = decode_ret::<MemInitializeAndCall>(&bytes).unwrap();
            assert_eq!(back, Ok((ExecutorAddr(0x1000), result)));
        }
        let failed =
            crate::sps::to_bytes(&SpsExpected::<(ExecutorAddr, Option<Cow<'_, [u8]>>)>(Err("no".into())));
        assert_eq!(decode_ret::<MemInitializeAndCall>(&failed).unwrap().0, Err("no".to_owned()));
    }
}
