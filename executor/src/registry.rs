//! The live sessions of this process, found by the instance, handle and context addresses
//! they published.
//!
//! Controllers pass those addresses back as plain numbers (`inst` arguments, dylib handles,
//! the jit-dispatch context). LLVM's executor dereferences them unchecked; we look them up
//! here first, so a wrong number is an error result instead of a crash. Wrappers without an
//! instance argument (memory access, run-as-main) consult all sessions.

use std::sync::{Arc, LazyLock, Mutex, Weak};

use orc_rpc::{ExecutorAddr, ExecutorAddrRange};

use crate::services::SessionServices;

static SESSIONS: LazyLock<Mutex<Vec<Weak<SessionServices>>>> = LazyLock::new(Mutex::default);

fn live() -> Vec<Arc<SessionServices>> {
    let mut list = SESSIONS.lock().unwrap_or_else(|e| e.into_inner());
    list.retain(|w| w.strong_count() > 0);
    list.iter().filter_map(Weak::upgrade).collect()
}

/// Makes a session's instances reachable.
pub fn register(s: &Arc<SessionServices>) {
    SESSIONS.lock().unwrap_or_else(|e| e.into_inner()).push(Arc::downgrade(s));
}

/// Removes a session (its addresses become unknown).
pub fn unregister(s: &SessionServices) {
    SESSIONS.lock().unwrap_or_else(|e| e.into_inner()).retain(|w| !std::ptr::eq(w.as_ptr(), s));
}

fn find(pred: impl Fn(&SessionServices) -> bool) -> Option<Arc<SessionServices>> {
    live().into_iter().find(|s| pred(s))
}

/// The session whose memory manager instance is `inst`.
pub fn by_memory_instance(inst: ExecutorAddr) -> Option<Arc<SessionServices>> {
    find(|s| s.memory_instance() == inst)
}

/// The session whose shared-memory mapper instance is `inst`.
pub fn by_shm_instance(inst: ExecutorAddr) -> Option<Arc<SessionServices>> {
    find(|s| s.shm_instance() == inst)
}

/// The session whose dylib manager instance is `inst`.
pub fn by_dylib_instance(inst: ExecutorAddr) -> Option<Arc<SessionServices>> {
    find(|s| s.dylib_instance() == inst)
}

/// The session whose jit-dispatch context is `ctx`.
pub fn by_dispatch_ctx(ctx: ExecutorAddr) -> Option<Arc<SessionServices>> {
    find(|s| s.dispatch_ctx() == ctx)
}

/// All live sessions, for handle lookups that each session answers itself.
pub fn all() -> Vec<Arc<SessionServices>> {
    live()
}

/// True if some session placed executable code at `addr`, resolved it as a symbol, or
/// published it.
pub fn is_callable(addr: ExecutorAddr) -> bool {
    live().iter().any(|s| s.is_callable(addr))
}

/// Checks that `range` is writable memory reserved by some session.
///
/// # Errors
/// The reason from the session that owns the range, or that none does.
pub fn check_writable(range: &ExecutorAddrRange) -> Result<(), String> {
    let sessions = live();
    match sessions.iter().find(|s| s.memory.contains(range)) {
        Some(s) => s.memory.check_writable(range),
        None => Err(format!("{range:?} is not inside memory reserved by the controller")),
    }
}

/// True if `range` lies inside memory reserved by some session.
pub fn is_reserved(range: &ExecutorAddrRange) -> bool {
    live().iter().any(|s| s.memory.contains(range))
}
