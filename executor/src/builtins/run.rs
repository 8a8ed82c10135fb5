//! `run_as_main`, `run_as_void_function`, `run_as_int_function`, and orcbridge's
//! `take_crash_report` for the crashes they (and JIT'd wrapper functions) end in.
//!
//! The target must be code placed or resolved by a live session (LLVM jumps to any number it
//! is given). These results have no error channel, so a refused call is an out-of-band error,
//! which reaches an LLVM controller as an empty Result. C stdio is flushed after each call,
//! as `exit()` would, so output is not held back when stdout is a pipe or a file.

use orc_rpc::ExecutorAddr;
use orc_rpc::services::{RunAsIntFunction, RunAsMain, RunAsVoidFunction, TakeCrashReport};

use super::Builtin;
use crate::call;
use crate::registry;

fn check(addr: ExecutorAddr) -> Result<(), String> {
    if registry::is_callable(addr) {
        Ok(())
    } else {
        Err(format!("refusing to call {addr}: it is not code placed or a symbol resolved by the controller"))
    }
}

impl Builtin for RunAsMain {
    fn handle((main, args): (ExecutorAddr, Vec<String>)) -> Result<i64, String> {
        check(main)?;
        // SAFETY: `main` is JIT'd or resolved code the controller says is `int main(int, char**)`.
        let rc = unsafe { call::run_as_main(main, &args) };
        call::flush_c_stdio();
        rc
    }
}

impl Builtin for RunAsVoidFunction {
    fn handle((f,): (ExecutorAddr,)) -> Result<i32, String> {
        check(f)?;
        // SAFETY: as above, for `int (*)(void)`.
        let rc = unsafe { call::run_as_void_function(f) };
        call::flush_c_stdio();
        rc
    }
}

impl Builtin for RunAsIntFunction {
    fn handle((f, arg): (ExecutorAddr, i32)) -> Result<i32, String> {
        check(f)?;
        // SAFETY: as above, for `int (*)(int)`.
        let rc = unsafe { call::run_as_int_function(f, arg) };
        call::flush_c_stdio();
        rc
    }
}

impl Builtin for TakeCrashReport {
    fn handle((inst,): (ExecutorAddr,)) -> Result<Option<(i32, u64, String)>, String> {
        let session = registry::by_memory_instance(inst)
            .ok_or_else(|| format!("{inst} is not a memory manager instance of a live session"))?;
        Ok(session.take_crash().map(|c| (c.signal, c.address, c.to_string())))
    }
}
