//! LLVM 22.1's `clang-repl` drives `orc-executor` out of process (with the ORC runtime, which
//! clang-repl requires there) and gets the same output as with `llvm-jitlink-executor`.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use device_tests::*;

const INPUTS: &str = r#"extern "C" int printf(const char*, ...);
int x = 42;
auto r = printf("x=%d\n", x);
int twice(int a) { return a * 2; }
auto r2 = printf("twice=%d\n", twice(x));
struct P { int a, b; int sum() const { return a + b; } };
P p{3, 4};
auto r3 = printf("sum=%d\n", p.sum());
#include <vector>
std::vector<int> v{1, 2, 3};
v.push_back(4);
auto r4 = printf("size=%zu\n", v.size());
x = twice(x);
printf("x now %d\n", x);
%quit
"#;

fn clang_repl(executor: &std::path::Path) -> std::process::Output {
    let mut child = spawn(
        Command::new(llvm_tool("clang-repl"))
            .arg(format!("--oop-executor={}", executor.display()))
            .arg(format!("--orc-runtime={}", orc_runtime().display()))
            .stdin(Stdio::piped()),
    );
    child.take_stdin().write_all(INPUTS.as_bytes()).expect("write inputs");
    child.wait(Duration::from_secs(120))
}

#[test]
fn clang_repl_evaluates_inputs_through_orc_executor() {
    let reference = clang_repl(&llvm_tool("llvm-jitlink-executor"));
    let ours = clang_repl(&our_bin("orc-executor"));
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    assert!(reference.status.success(), "reference: {}", text(&reference.stderr));
    assert!(ours.status.success(), "ours: {}", text(&ours.stderr));
    assert!(
        text(&ours.stdout).starts_with("x=42\ntwice=84\nsum=7\nsize=4\nx now 84\n"),
        "{}",
        text(&ours.stdout)
    );
    // clang-repl itself prints an empty line at the end on the same stdout. LLVM's executor
    // holds the program's output in stdio buffers until it exits, after that line; ours
    // flushes after each call, before it. Compare the program's lines.
    let program_lines =
        |b: &[u8]| text(b).lines().filter(|l| !l.is_empty()).map(str::to_owned).collect::<Vec<_>>();
    assert_eq!(program_lines(&ours.stdout), program_lines(&reference.stdout));
    assert_eq!(text(&ours.stderr), text(&reference.stderr));
}
