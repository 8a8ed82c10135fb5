//! orcbridge's target-side runtime: C source that the host compiles for the executor's target
//! triple and JIT-links into every session before user code.
//!
//! Because it is ordinary JIT'd code, it works in any ORC executor, ours or LLVM's
//! `llvm-jitlink-executor`. The source (`c/orcbridge_rt.c`) is freestanding (no headers), so it
//! compiles for targets without a sysroot. What it provides, and why, is described at the top
//! of that file; the names the host calls or resolves are below.

/// The runtime's C source.
pub const SOURCE: &str = include_str!("../c/orcbridge_rt.c");

/// File name to compile [`SOURCE`] under (appears in diagnostics).
pub const SOURCE_NAME: &str = "orcbridge_rt.c";

/// Wrapper `(Sequence<Addr> initializers, Sequence<Addr> finalizers) -> Error`: runs the
/// initializers in order and records the finalizers for exit time.
pub const RUN_INITIALIZERS: &str = "__orcbridge_run_initializers_wrapper";

/// Wrapper `(Addr main, Sequence<String> argv) -> (int64 status, bool called_exit)`: runs
/// `main`; an `exit()` on its thread returns here instead of ending the process; then runs the
/// exit-time work as a native program would.
pub const RUN_MAIN: &str = "__orcbridge_run_main_wrapper";

/// Wrapper `() -> Error`: runs exit-time work (atexit handlers, static destructors, recorded
/// finalizers, newest first) and flushes stdio.
pub const RUN_EXIT: &str = "__orcbridge_run_exit_wrapper";

/// Wrapper `(u64 start, u64 end) -> Error`: the dealloc action of a unit whose memory spans
/// `[start, end)`: runs the exit-time work that lives there (atexit handlers and static
/// destructors registered with the session's DSO handle whose function or object is in the
/// range, then the unit's finalizers), as `dlclose` does for a library, so that nothing
/// touches the unit once it is unloaded.
pub const UNIT_UNLOADED: &str = "__orcbridge_unit_unloaded_wrapper";

/// Wrapper `(Sequence<(Addr entry, u64 value)>) -> Error`: stores each value into its GOT
/// entry (one atomic 8-byte store each). The finalize action of a unit that redefines names,
/// pointing the entries of earlier units at the new definitions, and the host's call when an
/// undone unit's names fall back to earlier ones.
pub const REBIND: &str = "__orcbridge_rebind_wrapper";

/// Wrapper `(Sequence<Addr> initializers, Sequence<Addr> finalizers) -> (bool has_value, u8
/// kind, u64 type, Sequence<u8> data, i32 signal, u64 fault)`: runs one REPL input's top-level
/// statements on the session's input thread (one thread for every input, so `thread_local`
/// state persists) and returns the value it captured (kinds as `orcbridge_clang::ValueKind`).
/// A fault that orc-executor's guard caught on that thread comes back as its signal (Linux's
/// numbering, `orc_rpc::crash`) and address, with no value.
pub const RUN_INPUT: &str = "__orcbridge_run_input_wrapper";

/// Prefix of undefined names the host resolves in the executor process without the prefix,
/// so the runtime can reach libc functions it overrides (e.g. `__orcbridge_libc_exit` →
/// `exit`).
pub const LIBC_ALIAS_PREFIX: &str = "__orcbridge_libc_";

#[cfg(test)]
mod tests {
    #[test]
    fn source_defines_every_entry_point() {
        for name in [
            super::RUN_INITIALIZERS,
            super::RUN_MAIN,
            super::RUN_EXIT,
            super::UNIT_UNLOADED,
            super::REBIND,
            "__tls_get_addr",
            "__dso_handle",
        ] {
            assert!(super::SOURCE.contains(name), "{name}");
        }
    }
}
