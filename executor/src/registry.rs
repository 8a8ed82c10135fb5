//! The live sessions of this process, for the two questions that cannot be answered from
//! within one session.
//!
//! * JIT'd code reaches the controller through `__llvm_orc_SimpleRemoteEPC_dispatch_fn` with a
//!   context number; it calls without a session, so the number is looked up here (LLVM's
//!   executor dereferences it unchecked; a wrong number is an error here).
//! * A session may read the process's memory (a controller reads its program's globals and
//!   heap), but not memory another session reserved.
//!
//! Everything a controller sends is otherwise checked against its own session only
//! ([`crate::services`]).

use std::sync::{Arc, LazyLock, Mutex, Weak};

use orc_rpc::{ExecutorAddr, ExecutorAddrRange};

use crate::services::SessionServices;

static SESSIONS: LazyLock<Mutex<Vec<Weak<SessionServices>>>> = LazyLock::new(Mutex::default);

fn live() -> Vec<Arc<SessionServices>> {
    let mut list = SESSIONS.lock().unwrap_or_else(|e| e.into_inner());
    list.retain(|w| w.strong_count() > 0);
    list.iter().filter_map(Weak::upgrade).collect()
}

/// Makes a session's dispatch context and memory known.
pub(crate) fn register(s: &Arc<SessionServices>) {
    SESSIONS.lock().unwrap_or_else(|e| e.into_inner()).push(Arc::downgrade(s));
}

/// Removes a session (its context becomes unknown).
pub(crate) fn unregister(s: &SessionServices) {
    SESSIONS.lock().unwrap_or_else(|e| e.into_inner()).retain(|w| !std::ptr::eq(w.as_ptr(), s));
}

/// The session whose jit-dispatch context is `ctx`.
pub(crate) fn by_dispatch_ctx(ctx: ExecutorAddr) -> Option<Arc<SessionServices>> {
    live().into_iter().find(|s| s.dispatch_ctx() == ctx)
}

/// True if `range` overlaps memory reserved by a live session other than `me`.
pub(crate) fn reserved_by_another(me: &SessionServices, range: &ExecutorAddrRange) -> bool {
    live().iter().any(|s| !std::ptr::eq(&**s, me) && s.memory.overlaps(range))
}
