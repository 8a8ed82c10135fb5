//! The state one session's services share: memory, libraries, jit-dispatch, and the rules for
//! which addresses may be called.
//!
//! Every handler receives the [`SessionServices`] of the session it serves and acts on that
//! session only: instance arguments must be this session's, memory must be this session's,
//! code must have been placed or resolved by this session. Nothing a controller sends is looked
//! up in another session (the process-wide [`crate::registry`] exists only for JIT'd code that
//! calls in without a session, and for refusing reads of other sessions' memory).

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use orc_rpc::sps::{SpsError, from_bytes};
use orc_rpc::types::WrapperFunctionCall;
use orc_rpc::{ExecutorAddr, ExecutorAddrRange, info::names};

use crate::Config;
use crate::builtins::{self, Needs};
use crate::call::{self, WrapperResult};
use crate::dispatch::{Dispatcher, Outbox, dispatch_fn};
use crate::dylib::DylibManager;
use crate::guard::{self, Crash};
use crate::memory::MemoryManager;

/// Per-session services. Instance addresses published in Setup are the addresses of these
/// fields, so they stay valid exactly as long as the session.
#[derive(Debug)]
pub(crate) struct SessionServices {
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
    /// Largest frame the session sends or accepts, in bytes; bounds what one read may return.
    pub max_frame_size: u64,
    /// The stdio extension is offered ([`crate::ExecutorBuilder::forward_stdio`]).
    forward_stdio: bool,
    /// Calls into JIT'd code run under the crash guard ([`crate::ExecutorBuilder::crash_guard`]).
    pub crash_guard: bool,
    /// The GDB JIT interface service is published ([`crate::ExecutorBuilder::gdb_jit_interface`]).
    gdb_jit_interface: bool,
    /// The last crash caught in a call made for this session, until the controller takes it.
    last_crash: Mutex<Option<Crash>>,
}

thread_local! {
    /// The session whose call into JIT'd code runs on this thread (see [`with_current`]).
    static CURRENT: Cell<*const SessionServices> = const { Cell::new(std::ptr::null()) };
}

/// Runs `f` with the session whose call into JIT'd code is running on this thread, if any: a
/// builtin's C entry called by that code serves that session.
pub(crate) fn with_current<R>(f: impl FnOnce(Option<&SessionServices>) -> R) -> R {
    let p = CURRENT.with(Cell::get);
    // SAFETY: CURRENT is non-null only while `SessionServices::call` runs on this thread, which
    // holds a reference to the session for that time (see `Entered`).
    f(unsafe { p.as_ref() })
}

/// Marks `s` as the current session of this thread until dropped.
struct Entered(*const SessionServices);

impl Entered {
    fn new(s: &SessionServices) -> Entered {
        Entered(CURRENT.with(|c| c.replace(s)))
    }
}

impl Drop for Entered {
    fn drop(&mut self) {
        CURRENT.with(|c| c.set(self.0));
    }
}

impl SessionServices {
    /// Fresh services for session `id` of an executor with `config`, sending through
    /// `outbox`; the application's process symbols answer lookups in the process first.
    pub fn new(id: u64, outbox: Arc<Outbox>, config: &Config) -> Self {
        SessionServices {
            id,
            memory: MemoryManager::new(config.page_size),
            dylibs: DylibManager::new(config.process_symbols.clone()),
            dispatch: Dispatcher::new(outbox),
            shm_counter: AtomicU64::new(0),
            extra_symbols: config.symbols.clone(),
            max_frame_size: config.max_frame_size,
            forward_stdio: config.forward_stdio,
            crash_guard: config.crash_guard,
            gdb_jit_interface: config.gdb_jit_interface,
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

    /// Checks that `inst` is this session's memory manager (`shm`: shared-memory mapper)
    /// instance.
    ///
    /// # Errors
    /// Says it is not, and logs it.
    pub fn check_memory_instance(&self, inst: ExecutorAddr, shm: bool) -> Result<(), String> {
        let ours = if shm { self.shm_instance() } else { self.memory_instance() };
        if inst == ours {
            return Ok(());
        }
        let e = format!("{inst} is not a memory manager instance of this session");
        tracing::warn!("session {}: {e}", self.id);
        Err(e)
    }

    /// A fresh, process-unique name for a shared-memory object.
    pub fn next_shm_name(&self) -> String {
        let n = self.shm_counter.fetch_add(1, Ordering::Relaxed);
        format!("/orcbridge_{}_{}_{n}", std::process::id(), self.id)
    }

    /// The builtins this session publishes: all but those whose option the application
    /// turned off.
    fn builtins(&self) -> impl Iterator<Item = &'static builtins::BuiltinEntry> {
        builtins::table().iter().filter(|b| match b.needs {
            Needs::Nothing => true,
            Needs::GdbJitInterface => self.gdb_jit_interface,
            Needs::ForwardStdio => self.forward_stdio,
        })
    }

    /// The builtin published at `addr` in this session, if any.
    pub fn builtin_at(&self, addr: ExecutorAddr) -> Option<&'static builtins::BuiltinEntry> {
        self.builtins().find(|b| b.addr == addr)
    }

    /// The address of the crash guard for JIT'd code (`__orcbridge_guarded_call`), if this
    /// session publishes it: with the guard on.
    fn guarded_call(&self) -> Option<ExecutorAddr> {
        self.crash_guard.then_some(ExecutorAddr(guard::guarded_call_for_jit as *const () as usize as u64))
    }

    /// The bootstrap symbols of this session: every LLVM 22.1 name (but the GDB JIT interface
    /// when it is off), the crash guard and the stdio extension (when on), plus the
    /// application's.
    pub fn bootstrap_symbols(&self) -> Vec<(String, ExecutorAddr)> {
        let mut v: Vec<(String, ExecutorAddr)> =
            self.builtins().map(|b| (b.name.to_owned(), b.addr)).collect();
        v.extend([
            (names::DISPATCH_CTX.to_owned(), self.dispatch_ctx()),
            (names::DISPATCH_FN.to_owned(), ExecutorAddr(dispatch_fn as *const () as usize as u64)),
            (names::MEMORY_MANAGER_INSTANCE.to_owned(), self.memory_instance()),
            (names::DYLIB_MANAGER_INSTANCE.to_owned(), self.dylib_instance()),
            (names::SHM_INSTANCE.to_owned(), self.shm_instance()),
        ]);
        v.extend(self.guarded_call().map(|addr| (names::ORCBRIDGE_GUARDED_CALL.to_owned(), addr)));
        v.extend(self.extra_symbols.iter().cloned());
        v
    }

    /// True if `addr` is one of the executor's own entry points this session publishes
    /// (builtins, jit-dispatch, the crash guard) or one the application published.
    fn is_published(&self, addr: ExecutorAddr) -> bool {
        self.builtin_at(addr).is_some()
            || addr.0 == dispatch_fn as *const () as usize as u64
            || self.guarded_call() == Some(addr)
            || self.extra_symbols.iter().any(|&(_, a)| a == addr)
    }

    /// True if `addr` is code this session placed in executable memory or a symbol it
    /// resolved, and not one of the executor's published entry points: what `run_as_main`,
    /// `run_as_void_function` and `run_as_int_function` may jump to.
    pub fn is_program_code(&self, addr: ExecutorAddr) -> bool {
        (self.memory.is_executable(addr) || self.dylibs.was_resolved(addr)) && !self.is_published(addr)
    }

    /// True if `addr` may be called as a wrapper function: one of our builtins, an address
    /// the application published, code this session placed in executable memory, or a symbol
    /// this session resolved.
    pub fn is_callable(&self, addr: ExecutorAddr) -> bool {
        self.is_published(addr) || self.memory.is_executable(addr) || self.dylibs.was_resolved(addr)
    }

    /// Checks that reading `range` does not reach into memory another session reserved.
    ///
    /// # Errors
    /// Says whose memory it is not.
    pub fn check_readable(&self, range: &ExecutorAddrRange) -> Result<(), String> {
        if crate::registry::reserved_by_another(self, range) {
            return Err(format!("{range:?} is memory of another session"));
        }
        Ok(())
    }

    /// Calls the wrapper function at `addr` with SPS-encoded `args` for this session. C stdio
    /// is flushed after a call into JIT'd code, as `exit()` would, so its output is not held
    /// back when stdout is a pipe or a file, whatever the controller (with or without the ORC
    /// runtime) calls.
    ///
    /// # Errors
    /// An out-of-band error: `addr` is not callable (see [`is_callable`](Self::is_callable)),
    /// the function reported one, or it crashed.
    pub fn call(&self, addr: ExecutorAddr, args: &[u8]) -> WrapperResult {
        if let Some(b) = self.builtin_at(addr) {
            return (b.call)(self, args);
        }
        if !self.is_callable(addr) {
            return Err(format!(
                "{addr} is not a wrapper function: it is neither published by this executor nor in code \
                 or symbols of this session"
            ));
        }
        let _entered = Entered::new(self);
        // SAFETY: the address is executable code the controller placed or resolved, or one the
        // embedding application published; the controller asserts it has the wrapper ABI, as
        // with LLVM's executor.
        let result = unsafe { call::call_wrapper(addr, args, self.crash_guard) };
        crate::cstdio::flush_stdio_if_free();
        result
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

    /// Runs `f` (a jump into code the controller named, guarded as
    /// [`crash_guard`](Self::crash_guard) says) with this session current on the thread,
    /// flushing C stdio afterwards as [`call`](Self::call) does.
    pub fn run_program_code<R>(&self, f: impl FnOnce() -> R) -> R {
        let _entered = Entered::new(self);
        let r = f();
        crate::cstdio::flush_stdio_if_free();
        r
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
