//! LLVM 22.1's own controller, `llvm-jitlink`, drives `orc-executor` over pipes
//! (`-oop-executor=`) and TCP (`-oop-executor-connect=`), with and without the ORC runtime, at
//! -O0 and -O2. Each run must give the same stdout and exit status as the same command against
//! LLVM's `llvm-jitlink-executor`, and, where LLVM's controller supports the program's features,
//! as the native build of the program.

use std::path::Path;
use std::process::{Command, Output};

use device_tests::*;

struct Case {
    src: &'static str,
    args: &'static [&'static str],
    /// The exit status LLVM's own pair gives, (without runtime, with runtime): a check that
    /// the reference run itself did what the test is about.
    status: (i32, i32),
    /// Native output equals the JIT'd output (not for argv, where llvm-jitlink passes no
    /// program name, or for atexit, which neither controller mode runs like a native exit).
    native: bool,
}

fn jitlink(executor_flag: &str, runtime: bool, obj: &Path, args: &[&str]) -> Output {
    let mut cmd = Command::new(llvm_tool("llvm-jitlink"));
    cmd.arg(executor_flag);
    if runtime {
        cmd.arg(format!("-orc-runtime={}", orc_runtime().display()));
    }
    cmd.arg(obj);
    if !args.is_empty() {
        cmd.arg("-args").args(args);
    }
    run(&mut cmd, 60)
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn check(case: &Case) {
    let dir = scratch();
    let native_out = case.native.then(|| {
        let exe = compile_native(case.src, dir.path(), &["-O0"]);
        run(Command::new(&exe).args(case.args), 30)
    });
    for opt in ["-O0", "-O2"] {
        let obj = compile(case.src, dir.path(), &[opt]);
        for runtime in [false, true] {
            let what = format!("{} {opt} runtime={runtime}", case.src);
            let reference = jitlink(
                &format!("-oop-executor={}", llvm_tool("llvm-jitlink-executor").display()),
                runtime,
                &obj,
                case.args,
            );
            let want = if runtime { case.status.1 } else { case.status.0 };
            assert_eq!(
                reference.status.code(),
                Some(want),
                "{what}: LLVM reference run\n{}",
                text(&reference.stderr)
            );

            // Pipes: llvm-jitlink launches orc-executor.
            let ours = jitlink(
                &format!("-oop-executor={}", our_bin("orc-executor").display()),
                runtime,
                &obj,
                case.args,
            );
            assert_eq!(
                ours.status.code(),
                reference.status.code(),
                "{what} (pipes) stderr:\n{}",
                text(&ours.stderr)
            );
            assert_eq!(text(&ours.stdout), text(&reference.stdout), "{what} (pipes)");

            // TCP: the program's output appears on the executor's stdout; llvm-jitlink must exit
            // by itself with main's status (LLVM's own executor leaves it hanging here).
            let (exe_out, exe_err) = (dir.path().join("exe.out"), dir.path().join("exe.err"));
            let (executor, port) = start_listening_executor(&["--once"], &exe_out, &exe_err);
            let tcp = jitlink(&format!("-oop-executor-connect=127.0.0.1:{port}"), runtime, &obj, case.args);
            let status = executor.wait(std::time::Duration::from_secs(20), "orc-executor --once");
            assert!(status.success(), "{what}: executor exit {status:?}");
            assert_eq!(
                tcp.status.code(),
                reference.status.code(),
                "{what} (tcp) stderr:\n{}",
                text(&tcp.stderr)
            );
            assert_eq!(std::fs::read_to_string(&exe_out).unwrap(), text(&reference.stdout), "{what} (tcp)");

            if let Some(native) = &native_out
                && reference.status.code() == Some(want)
            {
                assert_eq!(text(&ours.stdout), text(&native.stdout), "{what}: native output differs");
                assert_eq!(ours.status.code(), native.status.code(), "{what}: native status differs");
            }
        }
    }
}

#[test]
fn hello_world() {
    check(&Case { src: "hello.c", args: &["a", "b"], status: (7, 7), native: false });
}

#[test]
fn c_globals_function_pointers_qsort_libm_exit_code() {
    check(&Case { src: "cprog.c", args: &[], status: (3, 3), native: true });
}

#[test]
fn cxx_exception_across_jit_frames_virtuals_and_containers() {
    check(&Case { src: "cxx_exc.cpp", args: &[], status: (5, 5), native: true });
}

#[test]
fn cxx_static_init_and_atexit() {
    // Without the ORC runtime llvm-jitlink cannot resolve atexit (it lives in libc_nonshared.a,
    // not in any process's dynamic symbols) and fails the same way against both executors.
    check(&Case { src: "cxx_init.cpp", args: &[], status: (1, 0), native: false });
}

#[test]
fn argv_passing() {
    check(&Case { src: "argv.c", args: &["first", "second arg", "3"], status: (3, 3), native: false });
}

#[test]
fn output_of_a_program_run_through_the_orc_runtime_is_not_held_back() {
    // With the ORC runtime, llvm-jitlink runs main through the runtime's own wrapper, not
    // run_as_main; orc-executor flushes C stdio after every call into JIT'd code, so the
    // output is in the executor's stdout as soon as llvm-jitlink is done, while the executor
    // keeps serving (LLVM's executor holds it in its buffers until it exits).
    let dir = scratch();
    let obj = compile("hello.c", dir.path(), &["-O1"]);
    let (out, err) = (dir.path().join("exe.out"), dir.path().join("exe.err"));
    let (executor, port) = start_listening_executor(&[], &out, &err);
    let o = jitlink(&format!("-oop-executor-connect=127.0.0.1:{port}"), true, &obj, &[]);
    assert_eq!(o.status.code(), Some(7), "{}", text(&o.stderr));
    // llvm-jitlink passes no program name.
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "hello, world (argc=0)\n");
    assert!(std::fs::metadata(format!("/proc/{}", executor.id())).is_ok(), "the executor still runs");
}
