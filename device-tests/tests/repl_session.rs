//! `repl --session NAME`: the warm session server and its thin clients, with real processes.
//! Each test has a session directory of its own (`XDG_RUNTIME_DIR` of the processes it
//! starts), so no two tests share a server; a guard kills every server a test saw, and its
//! executor, even when the test fails. The tests of this file run one at a time, so that the
//! timing test is not measuring the others' compiles.

use std::cell::RefCell;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use device_tests::*;

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A session for one test: its runtime directory, and the servers seen, killed on drop.
struct Session {
    dir: tempfile::TempDir,
    name: &'static str,
    servers: RefCell<Vec<u32>>,
    _one_at_a_time: MutexGuard<'static, ()>,
}

impl Session {
    fn new(name: &'static str) -> Session {
        static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
        // A test that failed holding it poisons it; the others still run.
        let turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
        Session { dir: scratch(), name, servers: RefCell::default(), _one_at_a_time: turn }
    }

    /// The command `repl --session NAME ARGS…` in this test's session directory.
    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(our_bin("repl"));
        cmd.arg(format!("--session={}", self.name))
            .args(args)
            .env("XDG_RUNTIME_DIR", self.dir.path())
            .current_dir(workspace_root());
        cmd
    }

    /// `repl --session NAME ARGS…` to completion (120 s at most).
    fn repl(&self, args: &[&str]) -> Output {
        let o = run(&mut self.command(args), 120);
        self.note_server();
        o
    }

    fn file(&self, ext: &str) -> PathBuf {
        self.dir.path().join("orcbridge").join(format!("{}.{ext}", self.name))
    }

    /// The running server's process id, from its pid file.
    fn server(&self) -> Option<u32> {
        std::fs::read_to_string(self.file("pid")).ok()?.trim().parse().ok()
    }

    fn note_server(&self) {
        if let Some(pid) = self.server()
            && !self.servers.borrow().contains(&pid)
        {
            self.servers.borrow_mut().push(pid);
        }
    }

    /// Waits until the server says an input runs; false if it did not within `limit`.
    fn wait_busy(&self, limit: Duration) -> bool {
        let start = Instant::now();
        while start.elapsed() < limit {
            let o = self.repl(&["--status"]);
            if text(&o.stdout).lines().any(|l| l == "busy: yes") {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }

    /// The executor the server `pid` launched.
    fn executor_of(pid: u32) -> Option<u32> {
        child_named(pid, "orc-executor")
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        for &pid in self.servers.borrow().iter() {
            // Only a server of this test: its command line names this test's session.
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            if text(&cmdline).contains(&format!("--session-serve={}", self.name)) {
                let executor = Session::executor_of(pid);
                // SAFETY: signalling a process id we just checked is our test's server.
                unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
                if let Some(e) = executor {
                    // SAFETY: the server's own child; SIGKILL ends it if PDEATHSIG did not yet.
                    unsafe { libc::kill(e as libc::pid_t, libc::SIGKILL) };
                }
            }
        }
    }
}

#[test]
fn a_later_call_sees_an_earlier_calls_definitions() {
    let s = Session::new("defs");
    let o = s.repl(&["-e", "int x = 41;"]);
    assert_eq!((text(&o.stdout).as_str(), o.status.code()), ("", Some(0)), "{}", text(&o.stderr));
    let o = s.repl(&["-e", "x + 1"]);
    assert_eq!((text(&o.stdout).as_str(), o.status.code()), ("(int) 42\n", Some(0)), "{}", text(&o.stderr));
    // The program's output, diagnostics and exit codes come back to the client that asked.
    let o = s.repl(&[
        "-e",
        "#include <cstdio>",
        "-e",
        "printf(\"x is %d\\n\", x);",
        "-e",
        "undeclared;",
        "-e",
        "x",
    ]);
    assert_eq!(text(&o.stdout), "x is 41\n(int) 41\n", "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("use of undeclared identifier 'undeclared'"), "{}", text(&o.stderr));
    assert_eq!(o.status.code(), Some(1));
    // Files are loaded as %load loads them; -e inputs follow.
    let src = s.dir.path().join("twice.c");
    std::fs::write(&src, "int twice(int a) { return 2 * a; }\n").unwrap();
    let o = s.repl(&[src.to_str().unwrap(), "-e", "twice(x)"]);
    assert_eq!((text(&o.stdout).as_str(), o.status.code()), ("(int) 82\n", Some(0)), "{}", text(&o.stderr));
    // A script on stdin, as in the REPL.
    let script = s.dir.path().join("script.txt");
    std::fs::write(&script, "int y = 3;\ny * x\n").unwrap();
    let o = spawn(s.command(&[]).stdin(std::fs::File::open(&script).unwrap())).wait(Duration::from_secs(120));
    assert_eq!((text(&o.stdout).as_str(), o.status.code()), ("(int) 123\n", Some(0)), "{}", text(&o.stderr));
}

/// The wall time of `cmd`, run to completion (stdout and stderr closed, the process reaped),
/// and its output. Waited for by a blocking wait on a thread of its own rather than by
/// [`run`], whose polling would add up to 5 ms to a call that takes 5 ms; 120 s at most, then
/// its process group is killed.
fn timed(cmd: &mut Command) -> (Duration, Output) {
    std::os::unix::process::CommandExt::process_group(cmd, 0);
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let start = Instant::now();
    let child = cmd.spawn().expect("cannot start repl");
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let o = child.wait_with_output();
        let _ = tx.send((start.elapsed(), o));
    });
    match rx.recv_timeout(Duration::from_secs(120)) {
        Ok((t, o)) => (t, o.expect("waiting for repl")),
        Err(_) => {
            // SAFETY: the group we created for this child, which has not been reaped.
            unsafe { libc::kill(-(pid as libc::pid_t), libc::SIGKILL) };
            panic!("{cmd:?} did not finish within 120 s");
        }
    }
}

#[test]
fn a_warm_call_is_at_least_5x_faster_than_a_cold_run() {
    // Why this holds on a loaded 2-core machine: a cold run launches an executor, loads LLVM
    // and clang, starts the interpreter and links the session runtime (about 40 ms here); a
    // warm call is the start of the thin `repl`, which links no LLVM (about 3 ms), and one
    // small input in a live session (about 2 ms in a debug build), so the margin is about 8x;
    // the wait for each run is exact (see `timed`).
    // Cold and warm runs alternate, so that a period of load slows both kinds alike, and each
    // kind's best of 10 is compared, so that a run another process slowed down does not count;
    // the other tests of this file do not run meanwhile (see `Session::new`).
    let s = Session::new("speed");
    let o = s.repl(&["-e", "int x = 41;"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let (mut cold, mut warm) = (Duration::MAX, Duration::MAX);
    for _ in 0..10 {
        let (t, o) = timed(Command::new(our_bin("repl")).args(["-e", "int x = 41;", "-e", "x + 1"]));
        assert_eq!(text(&o.stdout), "(int) 42\n", "{}", text(&o.stderr));
        cold = cold.min(t);
        let (t, o) = timed(&mut s.command(&["-e", "x + 1"]));
        assert_eq!(text(&o.stdout), "(int) 42\n", "{}", text(&o.stderr));
        warm = warm.min(t);
    }
    let ratio = cold.as_secs_f64() / warm.as_secs_f64();
    eprintln!("cold {cold:?}, warm {warm:?}: {ratio:.1}x");
    assert!(ratio >= 5.0, "a warm call took {warm:?}, a cold run {cold:?}: only {ratio:.1}x faster");
}

#[test]
fn the_server_exits_when_idle_and_leaves_no_process() {
    let s = Session::new("idle");
    let o = s.repl(&["--session-idle=2", "-e", "int x = 1;"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let server = s.server().expect("the server wrote its pid");
    let executor = Session::executor_of(server).expect("the server launched an executor");
    assert!(wait_gone(server, Duration::from_secs(30)), "the server {server} did not exit after 2 s idle");
    assert!(wait_gone(executor, Duration::from_secs(10)), "its executor {executor} outlived it");
    assert!(!s.file("sock").exists() && !s.file("pid").exists(), "the server left its socket or pid file");
    let log = std::fs::read_to_string(s.file("log")).unwrap_or_default();
    assert!(log.contains("ending: no client for 2s"), "{log}");
    // Not started again by --status.
    let o = s.repl(&["--status"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("no server is running"), "{}", text(&o.stderr));
}

/// The value of `key: VALUE…` in `--status` output, up to the first space.
fn field<'a>(status: &'a str, key: &str) -> &'a str {
    status
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(": "))
        .and_then(|v| v.split(' ').next())
        .unwrap_or_else(|| panic!("no {key:?} in:\n{status}"))
}

#[test]
fn status_reports_real_counts() {
    let s = Session::new("status");
    for code in ["int a = 1;", "int b = a + 1;", "a + b"] {
        let o = s.repl(&["-e", code]);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    }
    let o = s.repl(&["--status"]);
    let status = text(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{status}{}", text(&o.stderr));
    let num = |key| field(&status, key).parse::<f64>().unwrap_or_else(|e| panic!("{key}: {e}\n{status}"));
    assert!(num("inputs evaluated") >= 3.0, "{status}");
    assert!(num("units loaded") > 0.0, "{status}");
    assert!(num("target memory of loaded units") > 0.0, "{status}");
    assert_eq!(num("server pid") as u32, s.server().unwrap(), "{status}");
    assert!(num("uptime") > 0.0, "{status}");
    assert!(status.contains("latency: p50 ") && status.contains(" p99 "), "{status}");
    assert_eq!(field(&status, "executor"), "orc-executor", "{status}");
    assert!(field(&status, "triple").starts_with("x86_64"), "{status}");
    assert_eq!(field(&status, "busy"), "no", "{status}");

    // One more input that loads code: one more input, one more unit, more memory.
    let (inputs, units, memory) =
        (num("inputs evaluated"), num("units loaded"), num("target memory of loaded units"));
    let o = s.repl(&["-e", "int twice(int v) { return 2 * v; }", "-e", "twice(a)"]);
    assert_eq!(text(&o.stdout), "(int) 2\n", "{}", text(&o.stderr));
    let status = text(&s.repl(&["--status"]).stdout);
    let num = |key| field(&status, key).parse::<f64>().unwrap_or_else(|e| panic!("{key}: {e}\n{status}"));
    assert_eq!(num("inputs evaluated"), inputs + 2.0, "{status}");
    assert!(num("units loaded") > units, "{status}");
    assert!(num("target memory of loaded units") > memory, "{status}");

    // The status answers while an input runs, and says so.
    let sleeper =
        spawn(s.command(&["-e", "#include <unistd.h>", "-e", "usleep(3000000);"]).stdin(Stdio::null()));
    assert!(s.wait_busy(Duration::from_secs(30)), "the status never said busy while an input ran");
    let o = sleeper.wait(Duration::from_secs(60));
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
}

#[test]
fn a_killed_server_is_replaced_by_the_next_call() {
    let s = Session::new("killed");
    let o = s.repl(&["-e", "int x = 41;"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let server = s.server().expect("the server wrote its pid");
    let executor = Session::executor_of(server).expect("the server launched an executor");
    // SAFETY: signalling the server of this test's session.
    unsafe { libc::kill(server as libc::pid_t, libc::SIGKILL) };
    assert!(wait_gone(server, Duration::from_secs(10)));
    assert!(wait_gone(executor, Duration::from_secs(10)), "the executor outlived its killed server");
    // The next call starts a fresh server over the stale socket and says the state is gone:
    // `x` is no more.
    let o = s.repl(&["-e", "x + 1"]);
    let err = text(&o.stderr);
    assert!(
        err.contains("the server of session killed is gone") && err.contains("starting a new one"),
        "{err}"
    );
    assert!(err.contains("undeclared identifier 'x'"), "{err}");
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert_ne!(s.server(), Some(server));
    let o = s.repl(&["-e", "int x = 1;", "-e", "x + 1"]);
    assert_eq!((text(&o.stdout).as_str(), o.status.code()), ("(int) 2\n", Some(0)), "{}", text(&o.stderr));
}

#[test]
fn clients_take_turns_and_one_that_leaves_mid_input_does_not_end_the_server() {
    let s = Session::new("turns");
    let o = s.repl(&["-e", "#include <unistd.h>", "-e", "int x = 1;"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let client = |code: &str| spawn(s.command(&["-e", code]).stdin(Stdio::null()));
    // The second client's input waits for the first's, which takes 1 s.
    let first = client("usleep(1000000); x = 2;");
    assert!(s.wait_busy(Duration::from_secs(30)), "the first input never ran");
    let second = client("x");
    let (second, first) = (second.wait(Duration::from_secs(60)), first.wait(Duration::from_secs(60)));
    assert_eq!(first.status.code(), Some(0), "{}", text(&first.stderr));
    assert_eq!((text(&second.stdout).as_str(), second.status.code()), ("(int) 2\n", Some(0)));
    // A client killed while its input runs: the input finishes in the server, which serves on.
    let leaving = client("usleep(500000); x = 3;");
    assert!(s.wait_busy(Duration::from_secs(30)), "the leaving client's input never ran");
    leaving.kill_group();
    drop(leaving);
    let o = s.repl(&["-e", "x"]);
    assert_eq!((text(&o.stdout).as_str(), o.status.code()), ("(int) 3\n", Some(0)), "{}", text(&o.stderr));
}

#[test]
fn an_interactive_client_edits_lines_here_and_evaluates_there() {
    let s = Session::new("tty");
    let p = spawn_interactive(&mut s.command(&[]));
    p.type_keys("int twice(int a) {\r");
    p.type_keys("  return 2 * a;\r}\r");
    p.type_keys("twice(21)\r");
    p.wait_for_stdout("(int) 42", Duration::from_secs(60));
    p.type_keys("%quit\r");
    let o = p.wait(Duration::from_secs(30));
    s.note_server();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    // The session outlives the client.
    let o = s.repl(&["-e", "twice(2)"]);
    assert_eq!((text(&o.stdout).as_str(), o.status.code()), ("(int) 4\n", Some(0)), "{}", text(&o.stderr));
}

#[test]
fn the_server_ends_with_its_executor_and_a_bad_start_is_reported() {
    let s = Session::new("exe");
    let o = s.repl(&["-e", "int x = 1;"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let server = s.server().expect("the server wrote its pid");
    let executor = Session::executor_of(server).expect("the server launched an executor");
    // SAFETY: the executor of this test's server.
    unsafe { libc::kill(executor as libc::pid_t, libc::SIGKILL) };
    assert!(wait_gone(server, Duration::from_secs(30)), "the server outlived its executor");
    let log = std::fs::read_to_string(s.file("log")).unwrap_or_default();
    assert!(log.contains("ending: the executor went away"), "{log}");
    // A server that cannot start: the call shows why.
    let o = s.repl(&["--oop-executor=/nonexistent/executor", "-e", "1"]);
    assert_eq!(o.status.code(), Some(2));
    let err = text(&o.stderr);
    assert!(
        err.contains("the server of session exe did not start") && err.contains("/nonexistent/executor"),
        "{err}"
    );
}

#[test]
fn large_output_reaches_the_client_whole() {
    // 10 MB in one input: more than one message of the wire holds.
    let s = Session::new("large");
    let o = s.repl(&[
        "-x",
        "c",
        "-e",
        "#include <stdio.h>",
        "-e",
        "for (int i = 0; i < 200000; i++) printf(\"%049d\\n\", i);",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert_eq!(o.stdout.len(), 10_000_000, "{}", text(&o.stderr));
    assert!(text(&o.stdout).ends_with(&format!("{:049}\n", 199_999)));
}

#[test]
fn an_input_left_running_by_its_client_ends_the_server_after_the_idle_time() {
    let s = Session::new("abandoned");
    let o = s.repl(&["--session-idle=2", "-e", "int spin() { for (;;) {} }"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let server = s.server().expect("the server wrote its pid");
    let executor = Session::executor_of(server).expect("the server launched an executor");
    let client = spawn(s.command(&["-e", "spin()"]).stdin(Stdio::null()));
    assert!(s.wait_busy(Duration::from_secs(30)), "the endless input never ran");
    client.kill_group();
    drop(client);
    assert!(wait_gone(server, Duration::from_secs(60)), "the server {server} outlived its abandoned input");
    assert!(wait_gone(executor, Duration::from_secs(10)), "its executor {executor} outlived it");
    let log = std::fs::read_to_string(s.file("log")).unwrap_or_default();
    assert!(log.contains("with no client"), "{log}");
    // The next call starts a fresh server.
    let o = s.repl(&["-e", "1 + 1"]);
    assert_eq!((text(&o.stdout).as_str(), o.status.code()), ("(int) 2\n", Some(0)), "{}", text(&o.stderr));
}

/// Process ids of the running servers of `s` (by their command lines and their runtime
/// directory: another run of these tests has its own).
fn servers_of(s: &Session) -> Vec<u32> {
    let want = format!("--session-serve={}", s.name);
    let dir = format!("XDG_RUNTIME_DIR={}", s.dir.path().display());
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
            cmdline.split(|&b| b == 0).any(|arg| arg == want.as_bytes())
                && environ.split(|&b| b == 0).any(|var| var == dir.as_bytes())
        })
        .collect()
}

#[test]
fn clients_that_start_the_server_at_once_share_one() {
    // Three first calls at the same moment: each may start a server, one server takes the
    // session and the others leave; every call is evaluated in that one.
    let s = Session::new("race");
    let clients: Vec<Proc> = (1..=3)
        .map(|k| spawn(s.command(&["-e", &format!("int a{k} = {k};")]).stdin(Stdio::null())))
        .collect();
    for c in clients {
        let o = c.wait(Duration::from_secs(120));
        assert_eq!((text(&o.stdout).as_str(), o.status.code()), ("", Some(0)), "{}", text(&o.stderr));
    }
    s.note_server();
    let o = s.repl(&["-e", "a1 + a2 + a3"]);
    assert_eq!((text(&o.stdout).as_str(), o.status.code()), ("(int) 6\n", Some(0)), "{}", text(&o.stderr));
    // The servers that lost have gone (they leave at once; allow a slow machine 10 s).
    let deadline = Instant::now() + Duration::from_secs(10);
    while servers_of(&s).len() > 1 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(servers_of(&s), vec![s.server().expect("the server wrote its pid")]);
}

#[test]
fn ctrl_c_in_a_client_stops_its_wait_and_the_input_runs_on() {
    let s = Session::new("ctrlc");
    // The input runs until the test creates a file, after the Ctrl-C.
    let go = s.dir.path().join("go");
    let o = s.repl(&[
        "-e",
        "#include <unistd.h>",
        "-e",
        "int when_there(const char *p) { while (access(p, F_OK) != 0) usleep(10000); return 7; }",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let input = format!("int done = when_there(\"{}\");", go.display());
    let client = spawn(s.command(&["-e", &input]).stdin(Stdio::null()));
    assert!(s.wait_busy(Duration::from_secs(30)), "the input never ran");
    client.signal(libc::SIGINT);
    let o = client.wait(Duration::from_secs(10));
    let err = text(&o.stderr);
    assert!(err.contains("^C: stopped waiting; the input goes on running in session ctrlc"), "{err}");
    assert_eq!(o.status.code(), Some(1), "{err}");
    std::fs::write(&go, "").unwrap();
    // The input finished in the server: the next call (queued behind it) sees its definition.
    let o = s.repl(&["-e", "done"]);
    assert_eq!((text(&o.stdout).as_str(), o.status.code()), ("(int) 7\n", Some(0)), "{}", text(&o.stderr));
}

#[test]
fn a_call_with_other_options_is_told_they_are_not_used() {
    let s = Session::new("opts");
    let o = s.repl(&["-x", "c", "-e", "int x = 1;"]);
    assert_eq!((text(&o.stderr).as_str(), o.status.code()), ("", Some(0)), "the first call");
    // The same options, or none: nothing to say.
    for args in [&["-x", "c", "-e", "x"][..], &["-e", "x"]] {
        let o = s.repl(args);
        assert_eq!((text(&o.stdout).as_str(), text(&o.stderr).as_str()), ("(int) 1\n", ""), "{args:?}");
    }
    // Others: said, and the session goes on as it was.
    let o = s.repl(&["-x", "c++", "-e", "x + 1"]);
    let err = text(&o.stderr);
    assert!(
        err.contains(
            "repl: note: session opts was started with other options (--session-idle=600 -x=c); \
             this call's (--session-idle=600 -x=c++) are not used"
        ),
        "{err}"
    );
    assert_eq!((text(&o.stdout).as_str(), o.status.code()), ("(int) 2\n", Some(0)), "{err}");
}
