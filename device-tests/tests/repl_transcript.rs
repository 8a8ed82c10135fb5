//! The interactive REPL, driven by a transcript (`programs/repl_transcript.txt`): declarations
//! persist, functions, a struct, a class template, std::vector, %undo and redefinition, libm,
//! each builtin value type printed as clang-repl prints it, a compile error followed by a
//! working input, and printf output in order with values — against orc-executor over pipes and
//! TCP and against LLVM's llvm-jitlink-executor (values included: the capture runs in JIT'd
//! code), on piped stdin and on a pseudo-terminal.

use std::io::Write;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use device_tests::*;

/// Expected stdout, line by line; `None` matches any line starting with the given prefix.
const EXPECTED: &[(&str, bool)] = &[
    ("(int) 42", true),
    ("(int) 84", true),
    ("(int) 7", true),
    ("(double) 3.5000000", true),
    ("(long) 9", true),
    ("(unsigned long) 3", true),
    ("hello 42", true),
    ("(int) 42", true),
    ("(int) 2", true),
    ("(double) 1.4142136", true),
    ("(bool) true", true),
    ("(char) 'a'", true),
    ("(const char[3]) \"hi\"", true),
    ("(const char *) \"hi\"", true),
    ("(float) 3.50000f", true),
    ("(Color) (Green) : unsigned int 1", true),
    ("(int[3]) { 1, 2, 3 }", true),
    ("(Point &) @0x", false),
    ("(int) 43", true),
];

fn transcript() -> String {
    std::fs::read_to_string(programs_dir().join("repl_transcript.txt")).unwrap()
}

fn check_stdout(what: &str, stdout: &str) {
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), EXPECTED.len(), "{what}: stdout was\n{stdout}");
    for (line, (want, exact)) in lines.iter().zip(EXPECTED) {
        if *exact {
            assert_eq!(line, want, "{what}: stdout was\n{stdout}");
        } else {
            assert!(line.starts_with(want), "{what}: {line:?} should start with {want:?}");
        }
    }
}

fn check_stderr(what: &str, stderr: &str) {
    assert!(
        stderr.contains("error: use of undeclared identifier 'undeclared'") && stderr.contains("^~~~~~~~~~"),
        "{what}: the compile error should show clang's diagnostic with a caret:\n{stderr}"
    );
}

/// `repl ARGS` with stdin, stdout and stderr piped.
fn spawn_repl<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Proc {
    spawn(Command::new(our_bin("repl")).args(args).stdin(Stdio::piped()))
}

fn piped(args: &[String]) -> Output {
    let mut child = spawn_repl(args);
    child.take_stdin().write_all(transcript().as_bytes()).unwrap();
    child.wait(Duration::from_secs(120))
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn transcript_on_piped_stdin_in_every_executor() {
    let dir = scratch();
    // orc-executor, launched over pipes (the default).
    let o = piped(&[]);
    check_stdout("orc-executor, pipes", &text(&o.stdout));
    check_stderr("orc-executor, pipes", &text(&o.stderr));
    assert_eq!(o.status.code(), Some(1), "one input failed to compile");

    // orc-executor over TCP: program output (printf) is forwarded to repl, in order with the
    // values; the executor's stdout keeps a copy.
    let ours = || Command::new(our_bin("orc-executor"));
    let (o, printed, _) =
        serve_once(&mut ours(), &[], dir.path(), |addr| piped(&[format!("--oop-executor-connect={addr}")]));
    assert_eq!(printed, "hello 42\n");
    check_stdout("orc-executor, tcp", &text(&o.stdout));
    check_stderr("orc-executor, tcp", &text(&o.stderr));

    // … unless told not to: then only the executor prints it.
    let (o, printed, _) = serve_once(&mut ours(), &[], dir.path(), |addr| {
        piped(&["--no-forward-stdio".into(), format!("--oop-executor-connect={addr}")])
    });
    assert_eq!(printed, "hello 42\n");
    let values: String = text(&o.stdout);
    assert!(!values.contains("hello") && values.contains("(int) 42"), "{values}");

    // LLVM's executor, launched by repl.
    let o = piped(&[format!("--oop-executor={}", llvm_tool("llvm-jitlink-executor").display())]);
    check_stdout("llvm-jitlink-executor, pipes", &text(&o.stdout));
    check_stderr("llvm-jitlink-executor, pipes", &text(&o.stderr));
}

#[test]
fn interactive_session_on_a_terminal_over_tcp() {
    // clang-repl 22.1 cannot connect to a remote executor; repl can. `script` gives repl a
    // pseudo-terminal, so line editing and prompts are live.
    let dir = scratch();
    let (out, err) = (dir.path().join("out"), dir.path().join("err"));
    let (exe, port) = start_listening_executor(&["--once"], &out, &err);
    let cmd = format!("{} --oop-executor-connect=127.0.0.1:{port}", our_bin("repl").display());
    let mut child = spawn(
        Command::new("script")
            .args(["-q", "-e", "-c", &cmd, "/dev/null"])
            .env("HOME", dir.path())
            .env("TERM", "dumb")
            .stdin(Stdio::piped()),
    );
    let mut stdin = child.take_stdin();
    for line in transcript().lines() {
        // One line at a time, as typed.
        stdin.write_all(format!("{line}\n").as_bytes()).unwrap();
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(stdin);
    let o = child.wait(Duration::from_secs(120));
    let _ = exe.wait(Duration::from_secs(30), "orc-executor --once");
    let screen = text(&o.stdout).replace('\r', "");
    assert!(screen.contains("repl> "), "prompt missing:\n{screen}");
    assert!(screen.contains("  ...> "), "continuation prompt missing:\n{screen}");
    for (want, exact) in EXPECTED {
        let found = if *exact { screen.lines().any(|l| l.ends_with(want)) } else { screen.contains(want) };
        assert!(found, "{want:?} missing from the terminal:\n{screen}");
    }
    assert!(screen.contains("use of undeclared identifier 'undeclared'"), "{screen}");
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "hello 42\n");
}

fn eval(args: &[&str], inputs: &str) -> Output {
    let mut child = spawn_repl(args);
    child.take_stdin().write_all(inputs.as_bytes()).unwrap();
    child.wait(Duration::from_secs(60))
}

#[test]
fn undo_unloads_and_definitions_come_back_when_used_again() {
    // Definitions wait until used; undoing the input that used one puts it back, and undoing
    // the definition itself lets the name be defined again.
    let inputs = "int a = 1;\na\n%undo\na + 1\nint b = 5;\nb\n%undo 2\nint b = 7;\nb\nint f(void) { return 3; }\nf()\n";
    for lang in ["c", "c++"] {
        let o = eval(&["-x", lang], inputs);
        assert_eq!(
            text(&o.stdout),
            "(int) 1\n(int) 2\n(int) 5\n(int) 7\n(int) 3\n",
            "{lang}: {}",
            text(&o.stderr)
        );
        assert_eq!(o.status.code(), Some(0), "{lang}: {}", text(&o.stderr));
    }
}

#[test]
fn a_crash_in_an_input_is_undone_and_the_session_goes_on_in_orc_executor() {
    // orc-executor catches the fault, the REPL undoes the input and the next ones work:
    // earlier definitions survive, the crashed input's name can be defined again, and an
    // assert() failing (SIGABRT) is survived the same way.
    let inputs = "int x = 1;\n*(volatile int *)0 = x;\nx\nint y = *(int *)8;\nint y = 5;\ny\n\
                  #include <cassert>\nassert(x == 2);\nthrow 1;\n\
                  void rec(int n) { volatile char b[1024]; b[0] = n; rec(n + 1); }\nrec(0);\nx + 1\n";
    let o = eval(&[], inputs);
    let err = text(&o.stderr);
    assert_eq!(text(&o.stdout), "(int) 1\n(int) 5\n(int) 2\n", "{err}");
    assert!(err.contains("error: the input crashed with SIGSEGV (invalid memory access at 0x0)"), "{err}");
    assert!(err.contains("SIGSEGV (invalid memory access at 0x8)"), "{err}");
    assert!(err.contains("error: the input crashed with SIGABRT"), "{err}");
    // The thrown exception reaches std::terminate (SIGABRT); the recursion overflows the stack.
    assert_eq!(err.matches("error: the input crashed with SIGABRT").count(), 2, "{err}");
    assert_eq!(err.matches("error: the input crashed with SIGSEGV").count(), 3, "{err}");
    assert_eq!(o.status.code(), Some(1), "a failed input makes the exit status 1: {err}");

    // LLVM's executor dies with the input; the REPL says so and stops.
    let llvm = format!("--oop-executor={}", llvm_tool("llvm-jitlink-executor").display());
    let o = eval(&["-x", "c", &llvm], "int x = 1;\n*(volatile int *)0 = x;\nx\n");
    assert_ne!(o.status.code(), Some(0));
    assert!(
        text(&o.stderr).contains("the executor is gone") && text(&o.stderr).contains("SIGSEGV"),
        "{}",
        text(&o.stderr)
    );
}

#[test]
fn class_values_use_the_users_print_value_and_the_probe_is_not_an_input() {
    // Without a printer a class value shows its address; with `std::string printValue(const
    // T *)` declared, its text. The probe that calls the printer is undone, so `%undo` still
    // counts the user's inputs only, in our executor and in LLVM's.
    // The printer's own state persists from call to call.
    let inputs = "#include <string>\nstruct P { int x; };\nP p{3};\np\nint calls = 0;\n\
                  std::string printValue(const P *v) { ++calls; return \"P:\" + std::to_string(v->x); }\n\
                  p\nP{4}\nint k = 1;\nP{5}\n%undo\n%undo\nint k = 2;\nk\ncalls\n";
    let llvm = format!("--oop-executor={}", llvm_tool("llvm-jitlink-executor").display());
    for args in [vec![], vec![llvm.as_str()]] {
        let o = eval(&args, inputs);
        let stdout = text(&o.stdout);
        let lines: Vec<&str> = stdout.lines().collect();
        assert_eq!(lines.len(), 6, "{args:?}: {stdout}\n{}", text(&o.stderr));
        assert!(lines[0].starts_with("(P &) @0x"), "{args:?}: {stdout}");
        assert_eq!(
            lines[1..],
            ["(P &) P:3", "(P) P:4", "(P) P:5", "(int) 2", "(int) 3"],
            "{args:?}: {}",
            text(&o.stderr)
        );
        assert_eq!(o.status.code(), Some(0), "{args:?}: {}", text(&o.stderr));
    }
}

#[test]
fn ctrl_c_stops_the_waiting_and_quit_ends_the_busy_executor() {
    let mut child = spawn_repl(&["-x", "c"]);
    let mut stdin = child.take_stdin();
    stdin
        .write_all(b"#include <stdio.h>\nint x = 5;\nprintf(\"spinning\\n\"); fflush(stdout); for (;;) {}\n")
        .unwrap();
    stdin.flush().unwrap();
    // The executor shares our stdout pipe: once this line is there, the input is running.
    child.wait_for_stdout("spinning\n", Duration::from_secs(60));
    child.signal(libc::SIGINT);
    stdin.write_all(b"x\n%quit\n").unwrap();
    drop(stdin);
    let start = std::time::Instant::now();
    // The output ends only when the executor is gone too (it shares the pipes).
    let o = child.wait(Duration::from_secs(30));
    let err = text(&o.stderr);
    assert_eq!(text(&o.stdout), "spinning\n(int) 5\n", "{err}");
    assert!(err.contains("^C: stopped waiting; the input goes on running in the executor"), "{err}");
    // The interrupted input did not finish, which counts as a failed input.
    assert_eq!(o.status.code(), Some(1), "{err}");
    // %quit does not wait forever for the spinning input: the launched executor is killed.
    assert!(start.elapsed() < Duration::from_secs(10));
}

#[test]
fn the_end_of_a_session_runs_exit_time_work_like_a_program_exit() {
    // Static destructors and atexit handlers run newest first when the session ends, by
    // %quit, end of input or after -e; an undone input's destructor runs when it is undone
    // (as dlclose would), never afterwards on freed memory.
    let inputs = "#include <cstdio>\n#include <cstdlib>\n\
                  struct S { int n; ~S() { std::printf(\"dtor %d\\n\", n); } };\nS a{1};\n\
                  void bye() { std::puts(\"atexit handler\"); }\nint r = std::atexit(bye);\n\
                  S b{2};\nS c{3};\n%undo\nstd::puts(\"last input\");\n";
    let want = "dtor 3\nlast input\ndtor 2\natexit handler\ndtor 1\n";
    let llvm = format!("--oop-executor={}", llvm_tool("llvm-jitlink-executor").display());
    for args in [vec![], vec![llvm.as_str()]] {
        for ending in ["", "%quit\n"] {
            let o = eval(&args, &format!("{inputs}{ending}"));
            assert_eq!(text(&o.stdout), want, "{args:?} {ending:?}: {}", text(&o.stderr));
            assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
        }
    }
    let o = spawn_repl(&[
        "-x",
        "c",
        "-e",
        "#include <stdio.h>",
        "-e",
        "#include <stdlib.h>",
        "-e",
        "void bye(void) { puts(\"bye\"); }",
        "-e",
        "atexit(bye);",
        "-e",
        "puts(\"hi\");",
    ])
    .wait(Duration::from_secs(60));
    assert_eq!(text(&o.stdout), "hi\nbye\n", "{}", text(&o.stderr));
}

#[test]
fn terminal_input_is_never_dropped() {
    // Lines pasted at once, and lines typed while an input runs, are all evaluated in order,
    // as in clang-repl. (TERM=xterm: with a dumb terminal the line editor reads plain lines.)
    let dir = scratch();
    let cmd = format!("{} -x c", our_bin("repl").display());
    let mut child = spawn(
        Command::new("script")
            .args(["-q", "-e", "-c", &cmd, "/dev/null"])
            .env("HOME", dir.path())
            .env("TERM", "xterm")
            .stdin(Stdio::piped()),
    );
    let mut stdin = child.take_stdin();
    // Pasted while the line editor is reading (raw mode): one read returns all three lines.
    child.wait_for_stdout("repl> ", Duration::from_secs(60));
    stdin.write_all(b"int a = 1;\nint b = 2;\na + b\n").unwrap();
    child.wait_for_stdout("(int) 3", Duration::from_secs(60));
    stdin.write_all(b"for (volatile long i = 0; i < 200000000; i++) {}\n").unwrap();
    std::thread::sleep(Duration::from_millis(50));
    stdin.write_all(b"a * 10\n").unwrap();
    std::thread::sleep(Duration::from_millis(50));
    stdin.write_all(b"b * 10\n%quit\n").unwrap();
    let o = child.wait(Duration::from_secs(120));
    let screen = text(&o.stdout).replace('\r', "");
    // Values follow the prompts of the lines that were already read ahead.
    let values: Vec<&str> = screen.lines().filter_map(|l| l.rfind("(int) ").map(|i| &l[i..])).collect();
    assert_eq!(values, ["(int) 3", "(int) 10", "(int) 20"], "{screen}");
}

#[test]
fn thread_locals_statics_and_lambdas_behave_as_in_one_program() {
    // Found by the differential corpus (device-tests/differential): thread_local variables in
    // inputs (they needed the static TLS block), their state from input to input (every input
    // runs on the session's one input thread) and their destructors at the end; a `static`
    // variable is one variable for all inputs; lambdas in top-level statements.
    let inputs = "#include <cstdio>\nthread_local int tl = 7;\nprintf(\"tl=%d\\n\", tl);\ntl = 9;\ntl\n\
                  struct T { ~T() { std::puts(\"tls dtor\"); } };\nthread_local T t;\n(void)&t;\n\
                  static int s = 5;\ns = 7;\ns\n\
                  #include <vector>\n#include <algorithm>\nstd::vector<int> v{3, 1, 2};\n\
                  std::sort(v.begin(), v.end(), [](int a, int b) { return a > b; });\nv[0]\n\
                  [x = 6, y = 7] { return x * y; }()\n";
    let llvm = format!("--oop-executor={}", llvm_tool("llvm-jitlink-executor").display());
    for args in [vec![], vec![llvm.as_str()]] {
        let o = eval(&args, inputs);
        assert_eq!(
            text(&o.stdout),
            "tl=7\n(int) 9\n(int) 7\n(int) 3\n(int) 42\ntls dtor\n",
            "{args:?}: {}",
            text(&o.stderr)
        );
        assert_eq!(o.status.code(), Some(0), "{args:?}: {}", text(&o.stderr));
    }
    let c = eval(&["-x", "c"], "_Thread_local int n = 3;\nn += 1;\nn\n");
    assert_eq!(text(&c.stdout), "(int) 4\n", "{}", text(&c.stderr));
}

#[test]
fn c_values_are_spelled_as_c_and_structs_print_their_fields() {
    let inputs = "struct P { int x; double y; char name[4]; unsigned b : 3; };\n\
                  struct P p = {1, 2.5, \"ab\", 5};\np\nenum E { A, B };\nenum E e = B;\ne\n\
                  struct P *pp = &p;\npp->x\n";
    let o = eval(&["-x", "c"], inputs);
    assert_eq!(
        text(&o.stdout),
        "(struct P) { .x = 1, .y = 2.5000000, .name = \"ab\", .b = 5 }\n(enum E) (B) : unsigned int 1\n(int) 1\n",
        "{}",
        text(&o.stderr)
    );
}

#[test]
fn load_finds_quoted_includes_beside_the_loaded_file() {
    let dir = scratch();
    let sub = dir.path().join("lib");
    std::fs::create_dir_all(&sub).unwrap();
    std::fs::write(sub.join("helper.h"), "static int helper(void) { return 21; }\n").unwrap();
    std::fs::write(sub.join("file.c"), "#include \"helper.h\"\nint loaded(void) { return helper() * 2; }\n")
        .unwrap();
    // From another directory: the include is found beside the file, not the working directory.
    let o = eval(&["-x", "c"], &format!("%load {}\nloaded()\n", sub.join("file.c").display()));
    assert_eq!(text(&o.stdout), "(int) 42\n", "{}", text(&o.stderr));
}

#[test]
fn standard_library_values_print_by_content_in_every_executor_at_no_extra_round_trip() {
    // Made in the target by the value printer every C++ session has; the user's printValue
    // prints the elements it knows; an input with its formatter undoes as one input.
    let inputs = "#include <vector>\n#include <string>\n#include <map>\n#include <optional>\n\
                  std::vector<int>{1,2,3}\nstd::string(\"abc\")\nstd::map<int,int>{{1,2}}\n\
                  std::optional<int>(7)\nstd::vector<std::vector<int>>{{1,2},{3}}\n\
                  std::vector<int> big(150, 1);\nbig\nstruct P { int x; };\n\
                  std::string printValue(const P *p) { return \"P\" + std::to_string(p->x); }\n\
                  std::vector<P>{{1},{2}}\nstd::vector<int> w{5}; w\n%undo\nint w = 3;\nw\n\
                  std::vector<int>{4}\n1 + 1\nstd::vector<int>{6}\n";
    let ones = vec!["1"; 100].join(", ");
    let expected = [
        "(std::vector<int, std::allocator<int> >) { 1, 2, 3 }".to_owned(),
        "(std::basic_string<char, std::char_traits<char>, std::allocator<char> >) \"abc\"".to_owned(),
        "(std::map<int, int, std::less<int>, std::allocator<std::pair<const int, int> > >) { 1 => 2 }"
            .to_owned(),
        "(std::optional<int>) 7".to_owned(),
        "(std::vector<std::vector<int, std::allocator<int> >, std::allocator<std::vector<int, \
         std::allocator<int> > > >) { { 1, 2 }, { 3 } }"
            .to_owned(),
        format!("(std::vector<int, std::allocator<int> > &) {{ {ones}, ... }}"),
        "(std::vector<P, std::allocator<P> >) { P1, P2 }".to_owned(),
        "(std::vector<int, std::allocator<int> > &) { 5 }".to_owned(),
        "(int) 3".to_owned(),
        "(std::vector<int, std::allocator<int> >) { 4 }".to_owned(),
        "(int) 2".to_owned(),
        "(std::vector<int, std::allocator<int> >) { 6 }".to_owned(),
    ];
    let llvm = format!("--oop-executor={}", llvm_tool("llvm-jitlink-executor").display());
    for args in [vec!["-v"], vec!["-v", llvm.as_str()]] {
        let o = eval(&args, inputs);
        let (stdout, stderr) = (text(&o.stdout), text(&o.stderr));
        assert_eq!(stdout.lines().collect::<Vec<_>>(), expected, "{args:?}: {stderr}");
        assert_eq!(o.status.code(), Some(0), "{args:?}: {stderr}");
        // Once the formatter's few C functions are looked up, a vector costs what an int
        // does: one call loading the input (and its formatter) and running it in
        // orc-executor; in LLVM's, that load, then the run call.
        let units: Vec<&str> = stderr.lines().filter(|l| l.contains(" round trip(s) ")).collect();
        let last = &units[units.len().saturating_sub(3)..];
        // (The unit report counts the load; the suffix says whether the run went with it.)
        let fused = !args.contains(&llvm.as_str());
        assert!(
            last.len() == 3
                && last.iter().all(|l| l.contains(": 1 round trip(s) (1 calls)")
                    && l.contains("(initialize and run in one call)") == fused),
            "{args:?}: {last:?}"
        );
    }
}

/// Feeds `repl --oop-executor-connect` (through a relay adding 10 ms each way to `port`) a
/// definition, one input that pulls it in, then `steady` value inputs; returns the calls and
/// round trips each of those cost, counted by the relay on the wire.
fn wire_cost_of_steady_inputs(port: u16, steady: i32) -> Vec<(u64, u64)> {
    let proxy = device_tests::delay_proxy::DelayProxy::start(port, Duration::from_millis(10));
    let mut repl = spawn_repl(&[format!("--oop-executor-connect=127.0.0.1:{}", proxy.port())]);
    let mut stdin = repl.take_stdin();
    stdin.write_all(b"int x = 1;\nx + 1\n").unwrap();
    repl.wait_for_stdout("(int) 2\n", Duration::from_secs(60));
    let mut costs = Vec::new();
    for i in 2..2 + steady {
        let before = (proxy.calls(), proxy.round_trips());
        writeln!(stdin, "x + {i}").unwrap();
        // The Result the value comes in follows every call the input made.
        repl.wait_for_stdout(&format!("(int) {}\n", i + 1), Duration::from_secs(60));
        costs.push((proxy.calls() - before.0, proxy.round_trips() - before.1));
    }
    drop(stdin);
    let o = repl.wait(Duration::from_secs(60));
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    costs
}

#[test]
fn a_steady_state_input_costs_one_round_trip_in_orc_executor_and_two_in_llvms() {
    // Initialize and run fused in orcbridge's initialize_and_call; LLVM's executor lacks it
    // and gets an initialize, then the run call. Counted on the wire, not timed.
    let dir = scratch();
    let (out, err) = (dir.path().join("exe.out"), dir.path().join("exe.err"));
    let (_exe, port) = start_listening_executor(&["--once"], &out, &err);
    assert_eq!(wire_cost_of_steady_inputs(port, 4), vec![(1, 1); 4], "orc-executor (calls, round trips)");

    let (_exe, port) = start_llvm_executor_listening(&out, &err);
    // The relay waits for the executor to listen.
    assert_eq!(
        wire_cost_of_steady_inputs(port, 4),
        vec![(2, 2); 4],
        "llvm-jitlink-executor (calls, round trips)"
    );
}
