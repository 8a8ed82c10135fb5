//! orcbridge's host: the controller side of an out-of-process JIT.
//!
//! * [`epc`]: the SimpleRemoteEPC controller (one session with one executor).
//! * [`link`]: the JIT linker (objects and archives → finalized segments, per architecture),
//!   the `orcbridge-jitlink` crate, which builds and is tested without LLVM.
//! * [`memmgr`]: executor memory as the host hands it out.
//! * [`jit`]: a session put together: load units, run code, few round trips; [`libs`]:
//!   libraries found as GNU ld finds them.
//! * [`compile`]: front ends (C/C++, LLVM IR).
//! * [`repl`]: the interactive C/C++ REPL (in-process clang, values printed on the host).
//! * [`session_server`]: the server of `repl --session NAME`; [`watch`]: `repl --watch`.
//! * [`cli`]: the `repl` command line (run by `repl-jit`; the flags, the input loops and
//!   [`interrupt`], what Ctrl-C does, are in `repl_front`); [`completion`]: what Tab does.

pub mod cli;
pub mod compile;
pub mod completion;
pub mod epc;
pub use repl_front::interrupt;
pub mod jit;
pub mod libs;
pub use orcbridge_jitlink as link;
pub mod memmgr;
pub mod repl;
pub mod session_server;
pub mod stdio;
pub mod watch;
