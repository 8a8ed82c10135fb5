//! `run_as_main`, `run_as_void_function`, `run_as_int_function`, and orcbridge's
//! `take_crash_report` for the crashes they (and JIT'd wrapper functions) end in.
//!
//! The target must be code placed or resolved by the calling session, and not one of the
//! executor's own entry points (LLVM jumps to any number it is given, so a controller could make
//! it call a wrapper function with the wrong signature). These results have no error channel,
//! so a refused call is an out-of-band error, which reaches an LLVM controller as an empty
//! Result. C stdio is flushed after each call, as `exit()` would, so output is not held back
//! when stdout is a pipe or a file.

use orc_rpc::ExecutorAddr;
use orc_rpc::services::{RunAsIntFunction, RunAsMain, RunAsVoidFunction, TakeCrashReport};

use super::Builtin;
use crate::call;
use crate::services::SessionServices;

fn check(cx: &SessionServices, addr: ExecutorAddr) -> Result<(), String> {
    if cx.is_program_code(addr) {
        Ok(())
    } else {
        Err(format!(
            "refusing to call {addr}: it is not code placed or a symbol resolved by this session \
             (the executor's own entry points cannot be run as programs)"
        ))
    }
}

impl Builtin for RunAsMain {
    fn handle(cx: &SessionServices, (main, args): (ExecutorAddr, Vec<String>)) -> Result<i64, String> {
        check(cx, main)?;
        // SAFETY: `main` is JIT'd or resolved code the controller says is `int main(int, char**)`.
        cx.run_program_code(|| unsafe { call::run_as_main(main, &args, cx.crash_guard) })
    }
}

impl Builtin for RunAsVoidFunction {
    fn handle(cx: &SessionServices, (f,): (ExecutorAddr,)) -> Result<i32, String> {
        check(cx, f)?;
        // SAFETY: as above, for `int (*)(void)`.
        cx.run_program_code(|| unsafe { call::run_as_void_function(f, cx.crash_guard) })
    }
}

impl Builtin for RunAsIntFunction {
    fn handle(cx: &SessionServices, (f, arg): (ExecutorAddr, i32)) -> Result<i32, String> {
        check(cx, f)?;
        // SAFETY: as above, for `int (*)(int)`.
        cx.run_program_code(|| unsafe { call::run_as_int_function(f, arg, cx.crash_guard) })
    }
}

impl Builtin for TakeCrashReport {
    fn handle(cx: &SessionServices, (inst,): (ExecutorAddr,)) -> Result<Option<(i32, u64, String)>, String> {
        cx.check_memory_instance(inst, false)?;
        Ok(cx.take_crash().map(|c| (c.wire_signal(), c.address, c.to_string())))
    }
}
