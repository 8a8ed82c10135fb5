//! The GDB JIT interface (`llvm_orc_registerJITLoaderGDBAllocAction`).
//!
//! Debuggers find JIT'd objects through the global `__jit_debug_descriptor` and a breakpoint
//! on `__jit_debug_register_code`; layout and protocol from the GDB manual, "JIT Compilation
//! Interface" (the same as LLVM's `JITLoaderGDB.cpp`). The action prepends an entry for the
//! debug object and, when asked, calls the breakpoint function.

use std::cell::UnsafeCell;
use std::sync::Mutex;

use orc_rpc::ExecutorAddrRange;
use orc_rpc::services::RegisterJitLoaderGdb;
use orc_rpc::sps::SpsError;

use super::Builtin;

/// `struct jit_code_entry`.
#[repr(C)]
struct JitCodeEntry {
    next: *mut JitCodeEntry,
    prev: *mut JitCodeEntry,
    symfile_addr: *const u8,
    symfile_size: u64,
}

/// `struct jit_descriptor`.
#[repr(C)]
pub struct JitDescriptor {
    version: u32,
    action_flag: u32,
    relevant_entry: *mut JitCodeEntry,
    first_entry: *mut JitCodeEntry,
}

/// The descriptor in a cell: debuggers read it by name, we change it under [`LOCK`].
#[repr(transparent)]
pub struct DescriptorCell(UnsafeCell<JitDescriptor>);

// SAFETY: all access from Rust goes through LOCK; debuggers read it with the process stopped.
unsafe impl Sync for DescriptorCell {}

const JIT_REGISTER_FN: u32 = 1;

/// The GDB JIT interface descriptor (name fixed by the GDB protocol).
#[unsafe(no_mangle)]
pub static __jit_debug_descriptor: DescriptorCell = DescriptorCell(UnsafeCell::new(JitDescriptor {
    version: 1,
    action_flag: 0,
    relevant_entry: std::ptr::null_mut(),
    first_entry: std::ptr::null_mut(),
}));

/// Debuggers set a breakpoint here (name fixed by the GDB protocol).
#[unsafe(no_mangle)]
#[inline(never)]
pub extern "C" fn __jit_debug_register_code() {
    // Keep the call from being optimised away.
    std::sync::atomic::compiler_fence(std::sync::atomic::Ordering::SeqCst);
}

static LOCK: Mutex<()> = Mutex::new(());

impl Builtin for RegisterJitLoaderGdb {
    fn handle(
        cx: &crate::services::SessionServices,
        (range, auto_register): (ExecutorAddrRange, bool),
    ) -> Result<SpsError, String> {
        if !cx.memory.contains(&range) {
            return Ok(SpsError::failure(format!(
                "debug object {range:?} is not in memory reserved by this session"
            )));
        }
        let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
        let d = __jit_debug_descriptor.0.get();
        let entry = Box::into_raw(Box::new(JitCodeEntry {
            next: std::ptr::null_mut(),
            prev: std::ptr::null_mut(),
            symfile_addr: range.start.0 as usize as *const u8,
            symfile_size: range.size(),
        }));
        // SAFETY: the descriptor is only changed under LOCK; `entry` is a fresh allocation that
        // stays alive for the process (debuggers may read it at any time).
        unsafe {
            (*entry).next = (*d).first_entry;
            if !(*d).first_entry.is_null() {
                (*(*d).first_entry).prev = entry;
            }
            (*d).first_entry = entry;
            (*d).relevant_entry = entry;
            (*d).action_flag = JIT_REGISTER_FN;
        }
        if auto_register {
            __jit_debug_register_code();
        }
        Ok(SpsError::SUCCESS)
    }
}
