//! The front of the `repl` command: what runs before, or instead of, the JIT.
//!
//! `repl` (this crate's binary) links no LLVM, so it starts in a few milliseconds: as a client
//! of a warm session server (`repl --session NAME`, [`session`]) it does all the work itself;
//! for everything else it replaces itself with `repl-jit`, the JIT installed next to it
//! (package `host-repl`), which parses the same [`args::Cli`].
//!
//! * [`args`]: the flags; [`input`]: lines into inputs, and the loops that read them;
//!   [`interrupt`]: what Ctrl-C does; [`session`]: the session client and its wire.

pub mod args;
pub mod input;
pub mod interrupt;
pub mod session;

use std::path::PathBuf;

use anyhow::{Context, Result, bail};

/// `repl-jit`, the JIT installed next to this program.
///
/// # Errors
/// This program's path is unknown, or there is no `repl-jit` beside it.
pub fn jit_program() -> Result<PathBuf> {
    let exe = std::env::current_exe().context("cannot find this program's path")?;
    let path = exe.with_file_name("repl-jit");
    if !path.exists() {
        bail!(
            "no repl-jit next to {} (build it with `cargo build`; install the two side by side)",
            exe.display()
        );
    }
    Ok(path)
}
