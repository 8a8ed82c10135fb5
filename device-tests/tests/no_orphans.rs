//! No executor outlives the controller that launched it, whatever ends the controller: `repl`
//! killed with SIGKILL while its input spins, or LLVM's `clang-repl` killed the same way (its
//! `orc-executor` sees end of file on its pipe and exits once the grace period for the running
//! call is over).

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use device_tests::*;

#[test]
fn kill_9_of_repl_leaves_no_executor_running() {
    let mut repl = spawn(Command::new(our_bin("repl")).args(["-x", "c"]).stdin(Stdio::piped()));
    let mut stdin = repl.take_stdin();
    stdin.write_all(b"#include <stdio.h>\nputs(\"spinning\"); fflush(stdout); for (;;) {}\n").unwrap();
    stdin.flush().unwrap();
    repl.wait_for_stdout("spinning", Duration::from_secs(60));
    let executor = wait_for_child_named(repl.id(), "orc-executor");
    repl.signal(libc::SIGKILL);
    assert!(wait_gone(executor, Duration::from_secs(2)), "orc-executor {executor} outlived repl by 2 s");
    drop(stdin);
    drop(repl);
}

#[test]
fn an_executor_whose_controller_died_mid_call_exits() {
    // clang-repl does not arrange for its executor to die with it: orc-executor notices the end
    // of its input pipe and, the running call not returning, exits with status 3.
    let mut clang_repl = spawn(
        Command::new(llvm_tool("clang-repl"))
            .arg(format!("--oop-executor={}", our_bin("orc-executor").display()))
            .arg(format!("--orc-runtime={}", orc_runtime().display()))
            .stdin(Stdio::piped()),
    );
    let mut stdin = clang_repl.take_stdin();
    stdin
        .write_all(
            b"extern \"C\" int printf(const char *, ...);\nextern \"C\" int fflush(void *);\n\
              int spin() { printf(\"spinning\\n\"); fflush(nullptr); for (;;) {} }\nint x = spin();\n",
        )
        .unwrap();
    stdin.flush().unwrap();
    clang_repl.wait_for_stdout("spinning", Duration::from_secs(60));
    let executor = wait_for_child_named(clang_repl.id(), "orc-executor");
    let start = Instant::now();
    clang_repl.signal(libc::SIGKILL);
    assert!(wait_gone(executor, Duration::from_secs(10)), "orc-executor {executor} outlived clang-repl");
    assert!(start.elapsed() < Duration::from_secs(5));
    drop(stdin);
    drop(clang_repl);
}
