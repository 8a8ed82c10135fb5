//! Ctrl-C (`SIGINT`) as `repl` handles it.
//!
//! [`install`] runs first thing in `main`, so there is no moment in which a `SIGINT` kills
//! `repl` with its default action: from then on every `SIGINT` only increments a counter.
//! Waits that Ctrl-C may end ([`Interrupts::since`]) compare the counter with a mark taken when
//! the work began, and a tokio signal stream wakes them; a `SIGINT` that arrives before the
//! wait starts (say, while the input compiles) is therefore not lost. What an interrupt means
//! is the caller's choice: the REPL stops waiting for a running input, a program run from
//! files ends as a native program would.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

static COUNT: AtomicU64 = AtomicU64::new(0);

/// The `SIGINT` action [`install`] put in place, kept to put it back (see [`while_handled`]).
struct Action(libc::sigaction);
// SAFETY: a plain C struct of a handler address, flags and a mask, only copied to sigaction.
unsafe impl Send for Action {}
// SAFETY: as above; never mutated after it is stored.
unsafe impl Sync for Action {}

static OURS: OnceLock<Action> = OnceLock::new();

/// Replaces the default action of `SIGINT` (terminate) with a counter. Call first in `main`;
/// calling again does nothing.
///
/// # Panics
/// If the handler cannot be installed (`sigaction` failing, which it does not for SIGINT).
pub fn install() {
    OURS.get_or_init(|| {
        // SAFETY: the action only increments an atomic, which is async-signal-safe.
        unsafe { signal_hook_registry::register(libc::SIGINT, || _ = COUNT.fetch_add(1, Ordering::SeqCst)) }
            .expect("cannot install the SIGINT handler");
        // SAFETY: a zeroed sigaction is a valid out-parameter; a null new action only reads.
        let mut ours: libc::sigaction = unsafe { std::mem::zeroed() };
        // SAFETY: valid pointers; SIGINT is a valid signal.
        unsafe { libc::sigaction(libc::SIGINT, std::ptr::null(), &mut ours) };
        Action(ours)
    });
}

/// Runs `f` with [`install`]'s `SIGINT` handler in place, then puts back the one that was
/// there. The line editor (rustyline) replaces the `SIGINT` action with its own for as long as
/// it exists, which would make Ctrl-C while an input runs invisible to [`Interrupts`].
pub fn while_handled<T>(f: impl FnOnce() -> T) -> T {
    let Some(ours) = OURS.get() else { return f() };
    // SAFETY: a zeroed sigaction is a valid out-parameter.
    let mut theirs: libc::sigaction = unsafe { std::mem::zeroed() };
    // SAFETY: valid pointers; `ours` is the action signal-hook-registry installed.
    unsafe { libc::sigaction(libc::SIGINT, &ours.0, &mut theirs) };
    let result = f();
    // SAFETY: valid pointers; `theirs` was the action in place before.
    unsafe { libc::sigaction(libc::SIGINT, &theirs, std::ptr::null_mut()) };
    result
}

/// The number of `SIGINT`s received so far: a mark for [`Interrupts::since`].
pub fn mark() -> u64 {
    COUNT.load(Ordering::SeqCst)
}

/// Wakes async waits on `SIGINT`. Create it inside the tokio runtime.
#[derive(Debug)]
pub struct Interrupts {
    signal: tokio::signal::unix::Signal,
}

impl Interrupts {
    /// A stream of wake-ups for `SIGINT` (installs [`install`]'s counter too).
    ///
    /// # Errors
    /// tokio cannot register the signal.
    pub fn new() -> std::io::Result<Interrupts> {
        install();
        Ok(Interrupts { signal: tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())? })
    }

    /// Completes once a `SIGINT` has arrived after `mark` was taken (at once if one already
    /// has).
    pub async fn since(&mut self, mark: u64) {
        while COUNT.load(Ordering::SeqCst) <= mark {
            // A wake-up left over from an earlier signal just goes round the loop again.
            if self.signal.recv().await.is_none() {
                std::future::pending::<()>().await;
            }
        }
    }
}
