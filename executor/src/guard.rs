//! Crash survival: a fault in JIT'd code ends the call that ran it, not the executor.
//!
//! Every jump into received code ([`crate::call`]) runs under [`guarded`]. The first guarded
//! call installs one handler for `SIGSEGV`, `SIGBUS`, `SIGILL`, `SIGFPE`, `SIGTRAP` and
//! `SIGABRT` (`c/guard.cpp`); when such a signal arrives on a thread inside a guarded call,
//! the handler jumps back to that call (`siglongjmp`), which returns a [`Crash`]. A C++
//! exception the JIT'd code does not catch ends the call the same way. A thread without an
//! alternate signal stack gets one for the call, so a stack overflow is caught too. Signals outside
//! guarded calls go to the handlers installed before ours (Rust's stack-overflow report, an
//! application's crash reporter) or get their default action, so an embedding application
//! sees no difference for its own code.
//!
//! What survives is the process, not the crashed code's state: locks it held stay held and
//! memory it was changing stays half-changed, as with any such recovery (cling, ROOT). The
//! call's frames are abandoned; nothing in them is dropped, which is why [`guarded`] only
//! takes `Copy` closures.
//!
//! The last crash on a thread is kept for [`take_crash_on_this_thread`], so the session that
//! made the call can report it (the `orcbridge` crash-report extension, `docs/protocol.md`
//! §11): LLVM 22.1's protocol cannot carry an error out of a wrapper call.

use std::cell::Cell;
use std::ffi::{c_int, c_void};
use std::sync::Once;

unsafe extern "C" {
    fn orcx_install_crash_handlers() -> c_int;
    fn orcx_guarded_call(
        f: unsafe extern "C-unwind" fn(*mut c_void),
        ctx: *mut c_void,
        sig: *mut c_int,
        addr: *mut *mut c_void,
    ) -> c_int;
}

/// A fault signal, or a C++ exception nobody caught, that ended a guarded call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Crash {
    /// The signal number (`SIGSEGV`, ...); `SIGABRT` for an uncaught exception, which
    /// `std::terminate` would have raised.
    pub signal: i32,
    /// `si_addr` of the signal: the faulting address for `SIGSEGV`/`SIGBUS`, the instruction
    /// for `SIGILL`/`SIGFPE`/`SIGTRAP`; 0 for a signal that was sent (`SIGABRT` from `abort`).
    pub address: u64,
    /// An uncaught C++ exception rather than a signal.
    pub exception: bool,
}

impl Crash {
    /// The signal's number on the wire (Linux's numbering, [`orc_rpc::crash`]). Every signal
    /// number the executor reports (crash reports, and through `__orcbridge_guarded_call` the
    /// session runtime's `main` and REPL-input threads) is translated with
    /// [`orc_rpc::crash::from_native`].
    pub fn wire_signal(&self) -> i32 {
        orc_rpc::crash::from_native(self.signal)
    }
}

// The wire translation agrees with this system's own numbers for every signal the wire names
// (`orc_rpc::crash`'s constants): the six the guard catches (`c/guard.cpp`: SIGILL, SIGTRAP,
// SIGABRT, SIGBUS, SIGFPE, SIGSEGV) and the others a crash report may carry. Checked when the
// crate compiles, so also by scripts/check-apple.sh for Darwin, where no test can run here.
const _: () = {
    use orc_rpc::crash as w;
    assert!(w::from_native(libc::SIGILL) == w::SIGILL);
    assert!(w::from_native(libc::SIGTRAP) == w::SIGTRAP);
    assert!(w::from_native(libc::SIGABRT) == w::SIGABRT);
    assert!(w::from_native(libc::SIGBUS) == w::SIGBUS);
    assert!(w::from_native(libc::SIGFPE) == w::SIGFPE);
    assert!(w::from_native(libc::SIGSEGV) == w::SIGSEGV);
    assert!(w::from_native(libc::SIGUSR1) == w::SIGUSR1);
    assert!(w::from_native(libc::SIGUSR2) == w::SIGUSR2);
    assert!(w::from_native(libc::SIGSYS) == w::SIGSYS);
    assert!(w::from_native(libc::SIGKILL) == w::SIGKILL);
    assert!(w::from_native(libc::SIGPIPE) == w::SIGPIPE);
    assert!(w::from_native(libc::SIGTERM) == w::SIGTERM);
};

impl std::fmt::Display for Crash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.exception {
            return f.write_str("an uncaught C++ exception");
        }
        f.write_str(&orc_rpc::crash::describe(self.wire_signal(), self.address))
    }
}

thread_local! {
    static LAST_CRASH: Cell<Option<Crash>> = const { Cell::new(None) };
}

/// The most recent crash caught on this thread since the last call, if any.
pub fn take_crash_on_this_thread() -> Option<Crash> {
    LAST_CRASH.with(Cell::take)
}

fn install_handlers() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        // SAFETY: installs process-wide handlers once; they only act inside guarded calls.
        if unsafe { orcx_install_crash_handlers() } != 0 {
            tracing::warn!("cannot install crash handlers: a crash in JIT'd code will end the process");
        }
    });
}

/// `__orcbridge_guarded_call` (bootstrap symbol [`orc_rpc::info::names::ORCBRIDGE_GUARDED_CALL`]):
/// the guard for JIT'd code that runs code on threads of its own (the session runtime's
/// `main` and REPL-input threads). Calls `f(ctx)`; returns 1 with `*sig` (in the wire's
/// numbering, [`orc_rpc::crash`]) and `*addr` set if a fault signal interrupted it on this
/// thread, 2 with `*sig` = SIGABRT for a C++ exception it let escape, else 0.
///
/// # Safety
/// `f` must be callable with `ctx`; `sig` and `addr` must be writable. What [`guarded`] says
/// about abandoned frames applies to the caller's frames between here and the fault.
pub unsafe extern "C" fn guarded_call_for_jit(
    f: unsafe extern "C-unwind" fn(*mut c_void),
    ctx: *mut c_void,
    sig: *mut c_int,
    addr: *mut *mut c_void,
) -> c_int {
    install_handlers();
    // SAFETY: as the caller guarantees.
    let r = unsafe { orcx_guarded_call(f, ctx, sig, addr) };
    if r != 0 {
        // SAFETY: `sig` is writable per the contract and was just written.
        unsafe { *sig = orc_rpc::crash::from_native(*sig) };
    }
    r
}

/// Runs `f` (a call into JIT'd code); a fault signal raised on this thread while it runs makes
/// this return `Err` with the signal instead of ending the process. Nested guarded calls work;
/// the innermost one catches.
///
/// # Safety
/// If `f` crashes, its frames and those of the code it called are abandoned without
/// unwinding. `f` is `Copy` (it owns nothing to drop) and must not leave anything between it
/// and the JIT'd code that needs dropping or unlocking.
pub unsafe fn guarded<F, R>(f: F) -> Result<R, Crash>
where
    F: FnOnce() -> R + Copy,
    R: Copy,
{
    install_handlers();

    struct Ctx<F, R> {
        f: F,
        out: Option<R>,
    }
    // C-unwind: a C++ exception from JIT'd code passes through here to the guard's catch.
    unsafe extern "C-unwind" fn trampoline<F: FnOnce() -> R + Copy, R: Copy>(ctx: *mut c_void) {
        // SAFETY: `ctx` is the `Ctx` below, alive for the whole guarded call.
        let ctx = unsafe { &mut *ctx.cast::<Ctx<F, R>>() };
        ctx.out = Some((ctx.f)());
    }

    let mut ctx = Ctx { f, out: None };
    let (mut sig, mut addr): (c_int, *mut c_void) = (0, std::ptr::null_mut());
    // SAFETY: the trampoline matches the C signature and `ctx` outlives the call; the frames
    // a crash abandons (trampoline, `f`, JIT'd code) own nothing, as required above.
    let crashed =
        unsafe { orcx_guarded_call(trampoline::<F, R>, (&raw mut ctx).cast(), &raw mut sig, &raw mut addr) };
    match (crashed, ctx.out) {
        (0, Some(r)) => Ok(r),
        _ => {
            let crash = Crash { signal: sig, address: addr as u64, exception: crashed == 2 };
            LAST_CRASH.with(|c| c.set(Some(crash)));
            Err(crash)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_inside_a_guarded_call_become_errors_and_the_thread_goes_on() {
        // SAFETY: the closures own nothing; the faults are deliberate.
        let r = unsafe { guarded(|| std::ptr::read_volatile(std::ptr::null::<u32>())) };
        let segv = Crash { signal: libc::SIGSEGV, address: 0, exception: false };
        assert_eq!(r, Err(segv));
        assert_eq!(take_crash_on_this_thread(), Some(segv));
        assert_eq!(take_crash_on_this_thread(), None);
        // SAFETY: as above.
        let r = unsafe { guarded(|| libc::raise(libc::SIGABRT)) };
        assert_eq!(r.map_err(|c| c.signal), Err(libc::SIGABRT));
        // SAFETY: as above; nothing crashes.
        assert_eq!(unsafe { guarded(|| 6 * 7) }, Ok(42));
        // Nested: the inner guard catches, the outer call completes.
        // SAFETY: as above.
        let outer =
            unsafe { guarded(|| guarded(|| std::ptr::read_volatile(std::ptr::dangling::<u64>())).is_err()) };
        assert_eq!(outer, Ok(true));
    }

    #[test]
    fn reported_signals_use_the_wire_numbering() {
        // What `__orcbridge_guarded_call` hands the session runtime, which sends it to the host
        // as it is: the wire's number, named right by the host.
        extern "C-unwind" fn bus(_: *mut c_void) {
            // SAFETY: raising a signal the guard catches, inside the guarded call.
            unsafe { libc::raise(libc::SIGBUS) };
        }
        let (mut sig, mut addr) = (0, std::ptr::null_mut());
        // SAFETY: `bus` ignores its argument; `sig` and `addr` are writable.
        let r = unsafe { guarded_call_for_jit(bus, std::ptr::null_mut(), &mut sig, &mut addr) };
        assert_eq!((r, sig), (1, orc_rpc::crash::SIGBUS));
        // A sent signal (raise) is not a fault: it has no fault address (on Darwin too, where
        // sent signals have positive si_codes).
        assert!(addr.is_null(), "raise(SIGBUS) reported fault address {addr:?}");
        assert_eq!(orc_rpc::crash::signal_name(sig), "SIGBUS");
        let crash = Crash { signal: libc::SIGBUS, address: 8, exception: false };
        assert_eq!(crash.to_string(), "SIGBUS (invalid memory access at 0x8)");
    }
}
