//! The Setup payload (`SimpleRemoteEPCExecutorInfo`) and the bootstrap symbol names of LLVM 22.1.
//!
//! Layout from `SimpleRemoteEPCUtils.h` (`SPSSimpleRemoteEPCExecutorInfo`); names from
//! `OrcRTBridge.h`/`OrcRTBridge.cpp` and `SimpleRemoteEPCServer` (LLVM 22.1), checked against
//! the Setup frames of the 22.1.8 executor in `shared/captures/`.

use crate::ExecutorAddr;
use crate::sps::{DecodeError, SpsDecode, SpsEncode, SpsReader};
use crate::types::sps_struct;

/// The Setup message: what the executor is and where its services are.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecutorInfo {
    /// The executor process's target triple, e.g. `x86_64-pc-linux-gnu`.
    pub target_triple: String,
    /// Page size in bytes.
    pub page_size: u64,
    /// Bootstrap values: named byte strings (`darwin-use-ehframes-only`, and our `orcbridge.*`
    /// extension announcements).
    pub bootstrap_map: Vec<(String, Vec<u8>)>,
    /// Bootstrap symbols: named executor addresses of service instances and wrapper functions.
    pub bootstrap_symbols: Vec<(String, ExecutorAddr)>,
}

sps_struct!(ExecutorInfo {
    target_triple: String,
    page_size: u64,
    bootstrap_map: Vec<(String, Vec<u8>)>,
    bootstrap_symbols: Vec<(String, ExecutorAddr)>,
});

impl ExecutorInfo {
    /// The address of bootstrap symbol `name`, if the executor sent it.
    pub fn symbol(&self, name: &str) -> Option<ExecutorAddr> {
        self.bootstrap_symbols.iter().find(|(n, _)| n == name).map(|&(_, a)| a)
    }

    /// The bootstrap value `key`, if the executor sent it.
    pub fn value(&self, key: &str) -> Option<&[u8]> {
        self.bootstrap_map.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_slice())
    }
}

/// Bootstrap-map key by which orcbridge's executor announces itself (value: its version).
/// Extensions use the `orcbridge.` prefix, which LLVM controllers ignore.
pub const ORCBRIDGE_EXECUTOR_KEY: &str = "orcbridge.executor";

/// Bootstrap symbol names as LLVM 22.1 spells them.
pub mod names {
    /// Context pointer passed as the first argument of [`DISPATCH_FN`].
    pub const DISPATCH_CTX: &str = "__llvm_orc_SimpleRemoteEPC_dispatch_ctx";
    /// The jit-dispatch entry JIT'd code calls to reach the controller:
    /// `CWrapperFunctionBuffer fn(void *ctx, const void *tag, const char *data, size_t size)`.
    pub const DISPATCH_FN: &str = "__llvm_orc_SimpleRemoteEPC_dispatch_fn";

    /// Memory manager instance (first argument of its wrappers).
    pub const MEMORY_MANAGER_INSTANCE: &str = "__llvm_orc_SimpleExecutorMemoryManager_Instance";
    /// `reserve` wrapper.
    pub const MEMORY_MANAGER_RESERVE: &str = "__llvm_orc_SimpleExecutorMemoryManager_reserve_wrapper";
    /// `initialize` wrapper.
    pub const MEMORY_MANAGER_INITIALIZE: &str = "__llvm_orc_SimpleExecutorMemoryManager_initialize_wrapper";
    /// `deinitialize` wrapper.
    pub const MEMORY_MANAGER_DEINITIALIZE: &str =
        "__llvm_orc_SimpleExecutorMemoryManager_deinitialize_wrapper";
    /// `release` wrapper.
    pub const MEMORY_MANAGER_RELEASE: &str = "__llvm_orc_SimpleExecutorMemoryManager_release_wrapper";

    /// Dylib manager instance.
    pub const DYLIB_MANAGER_INSTANCE: &str = "__llvm_orc_SimpleExecutorDylibManager_Instance";
    /// `open` wrapper.
    pub const DYLIB_MANAGER_OPEN: &str = "__llvm_orc_SimpleExecutorDylibManager_open_wrapper";
    /// `resolve` wrapper.
    pub const DYLIB_MANAGER_RESOLVE: &str = "__llvm_orc_SimpleExecutorDylibManager_resolve_wrapper";

    /// Shared-memory mapper instance.
    pub const SHM_INSTANCE: &str = "__llvm_orc_ExecutorSharedMemoryMapperService_Instance";
    /// Shared-memory `Reserve`.
    pub const SHM_RESERVE: &str = "__llvm_orc_ExecutorSharedMemoryMapperService_Reserve";
    /// Shared-memory `Initialize`.
    pub const SHM_INITIALIZE: &str = "__llvm_orc_ExecutorSharedMemoryMapperService_Initialize";
    /// Shared-memory `Deinitialize`.
    pub const SHM_DEINITIALIZE: &str = "__llvm_orc_ExecutorSharedMemoryMapperService_Deinitialize";
    /// Shared-memory `Release`.
    pub const SHM_RELEASE: &str = "__llvm_orc_ExecutorSharedMemoryMapperService_Release";

    /// `run_as_main`.
    pub const RUN_AS_MAIN: &str = "__llvm_orc_bootstrap_run_as_main_wrapper";
    /// `run_as_void_function`.
    pub const RUN_AS_VOID_FUNCTION: &str = "__llvm_orc_bootstrap_run_as_void_function_wrapper";
    /// `run_as_int_function`.
    pub const RUN_AS_INT_FUNCTION: &str = "__llvm_orc_bootstrap_run_as_int_function_wrapper";

    /// Memory writes.
    pub const MEM_WRITE_UINT8S: &str = "__llvm_orc_bootstrap_mem_write_uint8s_wrapper";
    /// Memory writes.
    pub const MEM_WRITE_UINT16S: &str = "__llvm_orc_bootstrap_mem_write_uint16s_wrapper";
    /// Memory writes.
    pub const MEM_WRITE_UINT32S: &str = "__llvm_orc_bootstrap_mem_write_uint32s_wrapper";
    /// Memory writes.
    pub const MEM_WRITE_UINT64S: &str = "__llvm_orc_bootstrap_mem_write_uint64s_wrapper";
    /// Memory writes.
    pub const MEM_WRITE_POINTERS: &str = "__llvm_orc_bootstrap_mem_write_pointers_wrapper";
    /// Memory writes.
    pub const MEM_WRITE_BUFFERS: &str = "__llvm_orc_bootstrap_mem_write_buffers_wrapper";
    /// Memory reads.
    pub const MEM_READ_UINT8S: &str = "__llvm_orc_bootstrap_mem_read_uint8s_wrapper";
    /// Memory reads.
    pub const MEM_READ_UINT16S: &str = "__llvm_orc_bootstrap_mem_read_uint16s_wrapper";
    /// Memory reads.
    pub const MEM_READ_UINT32S: &str = "__llvm_orc_bootstrap_mem_read_uint32s_wrapper";
    /// Memory reads.
    pub const MEM_READ_UINT64S: &str = "__llvm_orc_bootstrap_mem_read_uint64s_wrapper";
    /// Memory reads.
    pub const MEM_READ_POINTERS: &str = "__llvm_orc_bootstrap_mem_read_pointers_wrapper";
    /// Memory reads.
    pub const MEM_READ_BUFFERS: &str = "__llvm_orc_bootstrap_mem_read_buffers_wrapper";
    /// Memory reads.
    pub const MEM_READ_STRINGS: &str = "__llvm_orc_bootstrap_mem_read_strings_wrapper";

    /// EH-frame registration alloc action (the key differs from LLVM's C symbol name
    /// `llvm_orc_registerEHFrameSectionAllocAction`).
    pub const REGISTER_EH_FRAME: &str = "llvm_orc_registerEHFrameAllocAction";
    /// EH-frame deregistration alloc action.
    pub const DEREGISTER_EH_FRAME: &str = "llvm_orc_deregisterEHFrameAllocAction";
    /// GDB JIT interface registration alloc action.
    pub const REGISTER_JIT_LOADER_GDB: &str = "llvm_orc_registerJITLoaderGDBAllocAction";

    /// orcbridge extension (not in LLVM): like `reserve`, but the slab lies in the low 2 GiB
    /// of the address space, for code built without `-fPIC` whose 32-bit absolute relocations
    /// (`R_X86_64_32`/`32S`) must reach its own data. Only offered where the OS can do it.
    pub const ORCBRIDGE_RESERVE_LOW: &str = "__orcbridge_SimpleExecutorMemoryManager_reserve_low_wrapper";

    /// orcbridge extension (not in LLVM): `initialize` followed, if it succeeded, by a call of
    /// a wrapper function as a controller's CallWrapper would make it, in one call: a REPL input
    /// whose code must run costs one round trip instead of two
    /// ([`crate::services::MemInitializeAndCall`]).
    pub const ORCBRIDGE_INITIALIZE_AND_CALL: &str =
        "__orcbridge_SimpleExecutorMemoryManager_initialize_and_call_wrapper";

    /// orcbridge extension (not in LLVM): the last crash caught in JIT'd code called by the
    /// session whose memory manager instance is given. LLVM 22.1's protocol turns an error of
    /// a wrapper call into an empty Result, so the controller asks for the details here.
    pub const ORCBRIDGE_TAKE_CRASH_REPORT: &str = "__orcbridge_take_crash_report_wrapper";

    /// orcbridge extension (not in LLVM): `stdio_forward(tag, flags) -> Error`. From this call
    /// on, what the executor process writes to descriptors 1 and 2 is sent to the calling
    /// controller as jit-dispatch calls of its handler `tag` ([`ORCBRIDGE_STDIO_OUTPUT`]);
    /// with flag 1, descriptor 0 becomes a stream only this controller feeds
    /// ([`ORCBRIDGE_STDIN_WRITE`]); with flag 2, C's `stdout` and `stdin` become line-buffered,
    /// as on a terminal.
    /// Offered only by executors that forward their stdio.
    pub const ORCBRIDGE_STDIO_FORWARD: &str = "__orcbridge_stdio_forward_wrapper";

    /// orcbridge extension (not in LLVM): `stdin_write(bytes) -> Error`, for a controller that
    /// took descriptor 0 ([`ORCBRIDGE_STDIO_FORWARD`]): each call returns once its bytes are
    /// written there (a reader took them or they fit the buffer); empty `bytes` ends the input
    /// (readers see end of file).
    pub const ORCBRIDGE_STDIN_WRITE: &str = "__orcbridge_stdin_write_wrapper";

    /// orcbridge extension (not in LLVM): the signature name of the controller's handler for
    /// forwarded output, `output(fd, bytes) -> ()`: `fd` is 1 or 2; the executor ignores the
    /// result. The tag address itself is the controller's choice (see
    /// [`ORCBRIDGE_STDIO_FORWARD`]).
    pub const ORCBRIDGE_STDIO_OUTPUT: &str = "__orcbridge_stdio_output_tag";

    /// orcbridge extension (not in LLVM): a plain C function for JIT'd code,
    /// `int __orcbridge_guarded_call(void (*fn)(void *), void *ctx, int *sig, void **addr)`,
    /// which calls `fn(ctx)` and returns 1 (signal and fault address stored) if a fault signal
    /// interrupted it on the calling thread, else 0. The session runtime runs `main` on a
    /// thread of its own under it. Controllers resolve the runtime's reference to this name
    /// from Setup; it is not a wrapper function.
    pub const ORCBRIDGE_GUARDED_CALL: &str = "__orcbridge_guarded_call";

    /// Every bootstrap symbol `llvm-jitlink-executor` 22.1.8 sends on Linux (34 names).
    pub const LLVM22_EXECUTOR_SYMBOLS: [&str; 34] = [
        DISPATCH_CTX,
        DISPATCH_FN,
        MEMORY_MANAGER_INSTANCE,
        MEMORY_MANAGER_RESERVE,
        MEMORY_MANAGER_INITIALIZE,
        MEMORY_MANAGER_DEINITIALIZE,
        MEMORY_MANAGER_RELEASE,
        DYLIB_MANAGER_INSTANCE,
        DYLIB_MANAGER_OPEN,
        DYLIB_MANAGER_RESOLVE,
        SHM_INSTANCE,
        SHM_RESERVE,
        SHM_INITIALIZE,
        SHM_DEINITIALIZE,
        SHM_RELEASE,
        RUN_AS_MAIN,
        RUN_AS_VOID_FUNCTION,
        RUN_AS_INT_FUNCTION,
        MEM_WRITE_UINT8S,
        MEM_WRITE_UINT16S,
        MEM_WRITE_UINT32S,
        MEM_WRITE_UINT64S,
        MEM_WRITE_POINTERS,
        MEM_WRITE_BUFFERS,
        MEM_READ_UINT8S,
        MEM_READ_UINT16S,
        MEM_READ_UINT32S,
        MEM_READ_UINT64S,
        MEM_READ_POINTERS,
        MEM_READ_BUFFERS,
        MEM_READ_STRINGS,
        REGISTER_EH_FRAME,
        DEREGISTER_EH_FRAME,
        REGISTER_JIT_LOADER_GDB,
    ];

    /// The subset `llvm-jitlink` 22.1 refuses to start without ("Symbol … not found in bootstrap
    /// symbols map"; found by dropping each one in turn, `docs/protocol.md` §6.1).
    pub const LLVM22_CONTROLLER_REQUIRED: [&str; 26] = [
        DISPATCH_CTX,
        DISPATCH_FN,
        MEMORY_MANAGER_INSTANCE,
        MEMORY_MANAGER_RESERVE,
        MEMORY_MANAGER_INITIALIZE,
        MEMORY_MANAGER_RELEASE,
        DYLIB_MANAGER_INSTANCE,
        DYLIB_MANAGER_OPEN,
        DYLIB_MANAGER_RESOLVE,
        RUN_AS_MAIN,
        RUN_AS_VOID_FUNCTION,
        RUN_AS_INT_FUNCTION,
        MEM_WRITE_UINT8S,
        MEM_WRITE_UINT16S,
        MEM_WRITE_UINT32S,
        MEM_WRITE_UINT64S,
        MEM_WRITE_POINTERS,
        MEM_WRITE_BUFFERS,
        MEM_READ_UINT8S,
        MEM_READ_UINT16S,
        MEM_READ_UINT32S,
        MEM_READ_UINT64S,
        MEM_READ_BUFFERS,
        MEM_READ_STRINGS,
        REGISTER_EH_FRAME,
        DEREGISTER_EH_FRAME,
    ];
}
