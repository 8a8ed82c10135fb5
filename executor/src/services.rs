//! The state one session's services share: memory, libraries, jit-dispatch, and the rule for
//! which addresses may be called.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use orc_rpc::sps::{SpsError, from_bytes};
use orc_rpc::types::WrapperFunctionCall;
use orc_rpc::{ExecutorAddr, info::names};

use crate::builtins;
use crate::call::{self, WrapperResult};
use crate::dispatch::{Dispatcher, Outbox, dispatch_fn};
use crate::dylib::DylibManager;
use crate::guard::{self, Crash};
use crate::memory::MemoryManager;

/// Per-session services. Instance addresses published in Setup are the addresses of these
/// fields, so they stay valid exactly as long as the session.
#[derive(Debug)]
pub struct SessionServices {
    /// Session number, for logs.
    pub id: u64,
    /// `SimpleExecutorMemoryManager` (and the slabs of the shared-memory mapper).
    pub memory: MemoryManager,
    /// `SimpleExecutorDylibManager`.
    pub dylibs: DylibManager,
    /// Calls to the controller.
    pub dispatch: Dispatcher,
    /// `ExecutorSharedMemoryMapperService` instance: a counter for shared-memory object names.
    pub shm_counter: AtomicU64,
    /// Addresses the embedding application published in addition to ours.
    pub extra_symbols: Vec<(String, ExecutorAddr)>,
    /// The last crash caught in a call made for this session, until the controller takes it.
    last_crash: Mutex<Option<Crash>>,
}

impl SessionServices {
    /// Fresh services for session `id`, sending through `outbox`.
    pub fn new(
        id: u64,
        outbox: Arc<Outbox>,
        page_size: usize,
        extra_symbols: Vec<(String, ExecutorAddr)>,
    ) -> Self {
        SessionServices {
            id,
            memory: MemoryManager::new(page_size),
            dylibs: DylibManager::default(),
            dispatch: Dispatcher::new(outbox),
            shm_counter: AtomicU64::new(0),
            extra_symbols,
            last_crash: Mutex::new(None),
        }
    }

    /// Address of the memory manager instance.
    pub fn memory_instance(&self) -> ExecutorAddr {
        ExecutorAddr::from_ptr(&self.memory)
    }

    /// Address of the dylib manager instance.
    pub fn dylib_instance(&self) -> ExecutorAddr {
        ExecutorAddr::from_ptr(&self.dylibs)
    }

    /// Address of the shared-memory mapper instance.
    pub fn shm_instance(&self) -> ExecutorAddr {
        ExecutorAddr::from_ptr(&self.shm_counter)
    }

    /// Address of the jit-dispatch context.
    pub fn dispatch_ctx(&self) -> ExecutorAddr {
        ExecutorAddr::from_ptr(&self.dispatch)
    }

    /// A fresh, process-unique name for a shared-memory object.
    pub fn next_shm_name(&self) -> String {
        let n = self.shm_counter.fetch_add(1, Ordering::Relaxed);
        format!("/orcbridge_{}_{}_{n}", std::process::id(), self.id)
    }

    /// The bootstrap symbols of this session: every LLVM 22.1 name, plus the application's.
    pub fn bootstrap_symbols(&self) -> Vec<(String, ExecutorAddr)> {
        let mut v: Vec<(String, ExecutorAddr)> =
            builtins::table().iter().map(|b| (b.name.to_owned(), b.addr)).collect();
        v.extend([
            (names::DISPATCH_CTX.to_owned(), self.dispatch_ctx()),
            (names::DISPATCH_FN.to_owned(), ExecutorAddr(dispatch_fn as *const () as usize as u64)),
            (names::MEMORY_MANAGER_INSTANCE.to_owned(), self.memory_instance()),
            (names::DYLIB_MANAGER_INSTANCE.to_owned(), self.dylib_instance()),
            (names::SHM_INSTANCE.to_owned(), self.shm_instance()),
            (
                names::ORCBRIDGE_GUARDED_CALL.to_owned(),
                ExecutorAddr(guard::guarded_call_for_jit as *const () as usize as u64),
            ),
        ]);
        v.extend(self.extra_symbols.iter().cloned());
        v
    }

    /// True if `addr` may be called as a wrapper or entry function: one of our builtins, an
    /// address the application published, code this session placed in executable memory, or
    /// a symbol this session resolved.
    pub fn is_callable(&self, addr: ExecutorAddr) -> bool {
        builtins::find(addr).is_some()
            || self.extra_symbols.iter().any(|&(_, a)| a == addr)
            || self.memory.is_executable(addr)
            || self.dylibs.was_resolved(addr)
    }

    /// Calls the wrapper function at `addr` with SPS-encoded `args`.
    ///
    /// # Errors
    /// An out-of-band error: `addr` is not callable (see [`is_callable`](Self::is_callable)),
    /// the function reported one, or it crashed.
    pub fn call(&self, addr: ExecutorAddr, args: &[u8]) -> WrapperResult {
        if let Some(b) = builtins::find(addr) {
            return (b.call)(args);
        }
        if !self.is_callable(addr) {
            return Err(format!(
                "{addr} is not a wrapper function: it is neither published by this executor nor in code \
                 or symbols of this session"
            ));
        }
        // SAFETY: the address is executable code the controller placed or resolved, or one the
        // embedding application published; the controller asserts it has the wrapper ABI, as
        // with LLVM's executor.
        unsafe { call::call_wrapper(addr, args) }
    }

    /// Runs `addr` with `args` for the controller (a CallWrapper): as [`call`](Self::call),
    /// and when it fails because the code crashed, keeps the crash for
    /// [`take_crash`](Self::take_crash), since the controller receives only an empty result.
    /// A crash already reported in the result (an alloc action's error) is not kept.
    pub fn call_for_controller(&self, addr: ExecutorAddr, args: &[u8]) -> WrapperResult {
        let _ = guard::take_crash_on_this_thread();
        let result = self.call(addr, args);
        let crash = guard::take_crash_on_this_thread();
        if result.is_err() {
            *self.last_crash.lock().unwrap_or_else(PoisonError::into_inner) = crash;
        }
        result
    }

    /// Takes the crash that made the last failed controller call fail, if one did.
    pub fn take_crash(&self) -> Option<Crash> {
        self.last_crash.lock().unwrap_or_else(PoisonError::into_inner).take()
    }

    /// Runs an alloc action: a wrapper function call whose result must be an SPS `Error`.
    ///
    /// # Errors
    /// The action's error message, an out-of-band error, or a result that is not an `Error`.
    pub fn run_action(&self, action: &WrapperFunctionCall<'_>) -> Result<(), String> {
        let bytes = self.call(action.fn_addr, &action.arg_data)?;
        let SpsError(r) = from_bytes::<SpsError>(&bytes).map_err(|e| {
            format!("alloc action at {} returned something other than an Error: {e}", action.fn_addr)
        })?;
        r
    }
}
