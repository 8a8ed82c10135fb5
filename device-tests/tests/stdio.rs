//! The target's stdio over the wire (orcbridge's stdio extension, `docs/protocol.md` §11):
//! `repl --oop-executor-connect` shows what the executor process writes, in order with the
//! values, and a program run from files reads repl's stdin; LLVM's controllers, which do not
//! ask for it, see the executor as before. Real processes on loopback.

use std::fs::File;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use device_tests::*;

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Serves one controller with orc-executor (`--once`, `args`): see [`serve_once`].
fn ours<T>(args: &[&str], dir: &Path, controller: impl FnOnce(&str) -> T) -> (T, String, String) {
    serve_once(&mut Command::new(our_bin("orc-executor")), args, dir, controller)
}

/// Runs repl with `args`, its stdout and stderr both going to one file (so their order is
/// visible), stdin from `stdin`; returns the exit code and what it wrote.
fn repl_merged(args: &[String], stdin: Stdio, dir: &Path) -> (Option<i32>, String) {
    let path = dir.join("merged");
    let out = File::create(&path).unwrap();
    let err = out.try_clone().unwrap();
    let status =
        KillOnDrop::spawn(Command::new(our_bin("repl")).args(args).stdin(stdin).stdout(out).stderr(err))
            .wait(Duration::from_secs(120), "repl");
    (status.code(), std::fs::read_to_string(&path).unwrap())
}

#[test]
fn output_comes_in_order_with_values_and_the_executor_keeps_a_copy() {
    let dir = scratch();
    let inputs = [
        "#include <stdio.h>",
        "printf(\"one\\n\");",
        "6 * 7",
        "fprintf(stderr, \"two\\n\");",
        "printf(\"no newline\");",
        "7",
        "fputs(\"three\\n\", stdout); fputs(\"four\\n\", stderr); fflush(stderr); 8",
    ];
    let ((code, merged), printed, log) = ours(&[], dir.path(), |addr| {
        let mut args = vec![format!("--oop-executor-connect={addr}")];
        for i in inputs {
            args.extend(["-e".to_owned(), i.to_owned()]);
        }
        repl_merged(&args, Stdio::null(), dir.path())
    });
    assert_eq!(code, Some(0), "{merged}");
    // The last input writes stdout and stderr and returns a value: C stdio buffers stdout
    // when it is not a terminal, so its line comes when the call ends, after stderr's.
    assert_eq!(merged, "one\n(int) 42\ntwo\nno newline(int) 7\nfour\nthree\n(int) 8\n");
    assert_eq!(printed, "one\nno newlinethree\n");
    assert!(log.contains("two\n") && log.contains("four\n"), "{log}");
}

#[test]
fn a_program_reads_repl_stdin_and_its_output_and_exit_code_come_back() {
    let dir = scratch();
    let src = dir.path().join("count.c");
    // Sums the numbers on its stdin and counts its bytes: the input is bigger than any socket
    // buffer, so the executor feeds it as the program reads.
    std::fs::write(
        &src,
        "#include <stdio.h>\nint main(void) { long sum = 0, bytes = 0; int c, n = 0, digits = 0;\n\
         while ((c = getchar()) != EOF) { bytes++; if (c >= '0' && c <= '9') { n = n * 10 + (c - '0'); digits = 1; }\n\
         else { if (digits) sum += n; n = 0; digits = 0; } }\n\
         printf(\"sum %ld bytes %ld\\n\", sum, bytes); fprintf(stderr, \"read it all\\n\"); return 3; }\n",
    )
    .unwrap();
    let input = dir.path().join("input");
    let numbers: String = (1..=300_000).map(|i| format!("{i}\n")).collect();
    std::fs::write(&input, &numbers).unwrap();
    let want_sum: u64 = (1..=300_000u64).sum();

    let run_count = |stdin: Stdio| {
        ours(&[], dir.path(), |addr| {
            repl_merged(
                &[format!("--oop-executor-connect={addr}"), src.display().to_string()],
                stdin,
                dir.path(),
            )
        })
        .0
    };
    let (code, merged) = run_count(File::open(&input).unwrap().into());
    assert_eq!(code, Some(3), "{merged}");
    // As natively with both streams in one file: stderr at once, stdout's buffer at exit.
    assert_eq!(merged, format!("read it all\nsum {want_sum} bytes {}\n", numbers.len()));

    // With nothing on stdin the program sees end of file at once, not the executor's stdin.
    let (code, merged) = run_count(Stdio::null());
    assert_eq!((code, merged.as_str()), (Some(3), "read it all\nsum 0 bytes 0\n"));
}

#[test]
fn llvm_jitlink_sees_the_executor_as_before_while_repl_forwards() {
    // One executor serves repl (which captures the process's stdio) and then llvm-jitlink,
    // which does not ask: its program's output goes to the executor's stdout only, and its
    // exit code comes back.
    let dir = scratch();
    let obj = compile("hello.c", dir.path(), &["-O1"]);
    let (out, err) = (dir.path().join("exe.out"), dir.path().join("exe.err"));
    let (_exe, port) = start_listening_executor(&[], &out, &err);
    let addr = format!("127.0.0.1:{port}");
    let o = run(
        Command::new(our_bin("repl")).arg(format!("--oop-executor-connect={addr}")).args([
            "-e",
            "#include <stdio.h>",
            "-e",
            "puts(\"from repl\");",
        ]),
        60,
    );
    assert_eq!(text(&o.stdout), "from repl\n", "{}", text(&o.stderr));
    let o = run(
        Command::new(llvm_tool("llvm-jitlink")).arg(format!("-oop-executor-connect={addr}")).arg(&obj),
        60,
    );
    assert_eq!(o.status.code(), Some(7), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout), "");
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "from repl\nhello, world (argc=0)\n");
}

#[test]
fn a_program_that_floods_its_output_does_not_stop_another_controller() {
    // Controller A's program writes 8 MiB; controller B meanwhile evaluates a value. Both
    // finish, and A gets every byte. (Output is the process's: B may see some of A's too.)
    let dir = scratch();
    let src = dir.path().join("flood.c");
    std::fs::write(
        &src,
        "#include <stdio.h>\nint main(void) { for (int i = 0; i < 8 * 1024; i++) { for (int j = 0; j < 1023; j++) putchar('x'); putchar('\\n'); } return 0; }\n",
    )
    .unwrap();
    let (out, err) = (dir.path().join("exe.out"), dir.path().join("exe.err"));
    let (_exe, port) = start_listening_executor(&[], &out, &err);
    let addr = format!("--oop-executor-connect=127.0.0.1:{port}");
    let a = spawn(Command::new(our_bin("repl")).arg(&addr).arg(&src).stdin(Stdio::null()));
    let b = run(Command::new(our_bin("repl")).args([addr.as_str(), "-e", "int v = 6 * 7;", "-e", "v"]), 120);
    assert!(text(&b.stdout).contains("(int) 42\n"), "{}", text(&b.stderr));
    let a = a.wait(Duration::from_secs(120));
    assert_eq!(a.status.code(), Some(0), "{}", text(&a.stderr));
    assert_eq!(a.stdout.len(), 8 << 20);
    assert!(a.stdout.iter().all(|&c| c == b'x' || c == b'\n'));
}

#[test]
fn stdin_programs_one_after_another_in_one_executor_each_read_their_own_input() {
    // C's `stdin` keeps an end-of-file flag and buffered bytes across the change of
    // descriptor 0; the second program must read its own input from its start.
    let dir = scratch();
    let src = dir.path().join("echo.c");
    std::fs::write(
        &src,
        "#include <stdio.h>\nint main(void) { char line[64]; while (fgets(line, sizeof line, stdin)) \
         printf(\"got %s\", line); return 0; }\n",
    )
    .unwrap();
    let (out, err) = (dir.path().join("exe.out"), dir.path().join("exe.err"));
    let (_exe, port) = start_listening_executor(&[], &out, &err);
    let args = [format!("--oop-executor-connect=127.0.0.1:{port}"), src.display().to_string()];
    for input in ["first\nsecond\n", "third\n"] {
        let path = dir.path().join("input");
        std::fs::write(&path, input).unwrap();
        let (code, merged) = repl_merged(&args, File::open(&path).unwrap().into(), dir.path());
        let want: String = input.lines().map(|l| format!("got {l}\n")).collect();
        assert_eq!((code, merged), (Some(0), want));
    }
}

#[test]
fn a_prompt_shows_on_a_terminal_before_the_program_reads() {
    // repl's stdout is a terminal: the executor's C stdout is made line-buffered, as natively,
    // so "Name: " arrives while the program waits for its input (the test types only then).
    let dir = scratch();
    let src = dir.path().join("ask.c");
    std::fs::write(
        &src,
        "#include <stdio.h>\nint main(void) { char name[32]; printf(\"Name: \"); \
         if (!fgets(name, sizeof name, stdin)) return 1; printf(\"hello %s\", name); return 0; }\n",
    )
    .unwrap();
    let (o, _, _) = ours(&[], dir.path(), |addr| {
        let mut repl = spawn_with_tty_stdout(
            Command::new(our_bin("repl"))
                .arg(format!("--oop-executor-connect={addr}"))
                .arg(&src)
                .stdin(Stdio::piped()),
        );
        repl.wait_for_stdout("Name: ", Duration::from_secs(60));
        let mut stdin = repl.take_stdin();
        std::io::Write::write_all(&mut stdin, b"Ada\n").unwrap();
        drop(stdin);
        repl.wait(Duration::from_secs(60))
    });
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert!(text(&o.stdout).replace('\r', "").ends_with("Name: hello Ada\n"), "{}", text(&o.stdout));
}

#[test]
fn an_executor_told_not_to_forward_keeps_its_output() {
    let dir = scratch();
    let (o, printed, _) = ours(&["--no-forward-stdio"], dir.path(), |addr| {
        run(
            Command::new(our_bin("repl")).arg(format!("--oop-executor-connect={addr}")).args([
                "-e",
                "#include <stdio.h>",
                "-e",
                "printf(\"kept\\n\");",
                "-e",
                "5",
            ]),
            60,
        )
    });
    assert_eq!(text(&o.stdout), "(int) 5\n", "{}", text(&o.stderr));
    assert_eq!(printed, "kept\n");
}
