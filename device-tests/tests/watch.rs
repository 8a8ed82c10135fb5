//! `repl --watch` (issue 13, item 2): a running C program whose source is edited picks up the
//! new function at its next call, its state going on (no restart, variables keep their
//! values); a file that does not compile leaves the old code running; 20 reloads grow the
//! executor by the reloaded units (and its record of each) only; Ctrl-C ends the watch and
//! the executor. In orc-executor and in LLVM's llvm-jitlink-executor, both launched by `repl`
//! over pipes, and in orc-executor listening on TCP.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use device_tests::*;

/// What the executor may keep besides a unit's memory for each loaded unit, in bytes (measured:
/// 200 to 1400 in both executors). Resident memory moves by whole pages with whatever else the
/// process touches (its allocator, its output buffers), so the bound leaves room for that on a
/// busy machine; a leak of a page or more per reload still passes it.
const RECORD_PER_UNIT: u64 = 8192;

/// The program: `step` counts its calls in a global and in a `static` variable and returns
/// `value`; `main` calls it every 50 ms, forever, printing the tick, what `step` returned and
/// the counts.
fn program(value: &str) -> String {
    format!(
        "#include <stdio.h>\n#include <unistd.h>\n\
         int calls = 0;\n\
         static int mine = 0;\n\
         int step(void) {{ calls++; mine++; return {value}; }}\n\
         int mine_count(void) {{ return mine; }}\n\
         int main(void) {{\n\
           for (long tick = 0;; tick++) {{\n\
             int got = step();\n\
             printf(\"tick %ld got %d calls %d mine %d\\n\", tick, got, calls, mine_count());\n\
             fflush(stdout);\n\
             usleep(50000);\n\
           }}\n\
         }}\n"
    )
}

/// The `(tick, got, calls, mine)` of every complete line printed so far.
fn ticks(stdout: &str) -> Vec<(i64, i64, i64, i64)> {
    stdout
        .lines()
        .filter_map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            match w.as_slice() {
                ["tick", t, "got", g, "calls", c, "mine", m] => {
                    Some((t.parse().ok()?, g.parse().ok()?, c.parse().ok()?, m.parse().ok()?))
                }
                _ => None,
            }
        })
        .collect()
}

/// The resident memory of process `pid` in bytes (`VmRSS`).
fn resident(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kb = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .unwrap_or_else(|| panic!("no VmRSS for {pid}"));
    kb * 1024
}

/// The executor memory of each reloaded unit, from `-v`'s `unit N takes M bytes` lines.
fn reloaded_unit_sizes(stderr: &str) -> Vec<u64> {
    stderr.lines().filter_map(|l| l.split(" takes ").nth(1)?.split(' ').next()?.parse().ok()).collect()
}

/// Writes `text` to `path` and waits (up to `limit`) for a line whose `got` is `want`;
/// returns how long it took.
fn edit_and_wait(repl: &Proc, path: &Path, text: &str, want: i64, limit: Duration) -> Duration {
    let start = Instant::now();
    std::fs::write(path, text).unwrap();
    while !ticks(&repl.stdout_so_far()).iter().any(|&(_, got, ..)| got == want) {
        assert!(
            start.elapsed() < limit,
            "step() did not return {want} within {limit:?} of the edit\nstdout:\n{}\nstderr:\n{}",
            repl.stdout_so_far(),
            repl.stderr_so_far()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    start.elapsed()
}

/// Every line follows the one before: one tick later, `step` called once more (the program
/// never restarted, and `calls` and the `static` `mine` kept their storage through every
/// reload).
fn assert_continuous(stdout: &str) {
    let lines = ticks(stdout);
    for (i, &(tick, _, calls, mine)) in lines.iter().enumerate() {
        let n = i as i64;
        assert_eq!((tick, calls, mine), (n, n + 1, n + 1), "line {i} breaks the run:\n{stdout}");
    }
}

/// The executor a watch runs in.
#[derive(Debug, Clone, Copy)]
enum Executor<'a> {
    /// Launched by `repl` over pipes: this program (default: orc-executor), known by its
    /// command name.
    Launched { path: Option<&'a Path>, comm: &'a str },
    /// orc-executor listening on TCP, the program's output forwarded to `repl`.
    Listening,
}

/// `repl` run in `dir`, with an object cache of its own there.
fn repl_in(dir: &Path) -> Command {
    let mut cmd = Command::new(our_bin("repl"));
    cmd.current_dir(dir).env("XDG_CACHE_HOME", dir.join("cache"));
    cmd
}

/// orc-executor listening on a free loopback port, its output in `dir`; killed on drop.
fn listening_executor(dir: &Path) -> (KillOnDrop, u16) {
    start_listening_executor(&[], &dir.join("executor.out"), &dir.join("executor.err"))
}

fn watch_in(how: Executor<'_>) {
    let dir = scratch();
    let src = dir.path().join("step.c");
    std::fs::write(&src, program("1")).unwrap();
    let mut cmd = repl_in(dir.path());
    cmd.arg("-v");
    let mut listening = None;
    let comm = match how {
        Executor::Launched { path, comm } => {
            if let Some(path) = path {
                cmd.arg(format!("--oop-executor={}", path.display()));
            }
            comm
        }
        Executor::Listening => {
            let (executor, port) = listening_executor(dir.path());
            cmd.arg(format!("--oop-executor-connect=127.0.0.1:{port}"));
            listening = Some(executor);
            "orc-executor over TCP"
        }
    };
    // Dropping `repl` (a failed assertion too) kills its process group, a launched executor
    // with it; a listening one is killed when `listening` is dropped.
    let repl = spawn(cmd.args(["--watch", "step.c"]));
    repl.wait_for_stdout("got 1 ", Duration::from_secs(60));
    let executor = match &listening {
        Some(executor) => executor.id(),
        None => wait_for_child_named(repl.id(), comm),
    };

    // A new body, called by the loop that runs on.
    let took = edit_and_wait(&repl, &src, &program("100"), 100, Duration::from_secs(1));
    repl.wait_for_stderr("repl: reloaded step.c in ", Duration::from_secs(1));
    assert!(repl.stderr_so_far().contains("(3 functions redefined)"), "{}", repl.stderr_so_far());
    repl.wait_for_stderr("variables kept: calls", Duration::from_secs(1));
    eprintln!("{comm}: the new step() ran {took:?} after the edit");

    // A syntax error: clang's diagnostics, the old code goes on.
    std::fs::write(&src, program("100 +")).unwrap();
    repl.wait_for_stderr(
        "repl: step.c does not compile; the code loaded before runs on",
        Duration::from_secs(10),
    );
    assert!(repl.stderr_so_far().contains("error: expected expression"), "{}", repl.stderr_so_far());
    let lines = ticks(&repl.stdout_so_far()).len();
    assert!(
        repl.stdout_count_reaches("got 100 ", lines + 5, Duration::from_secs(5)),
        "{}",
        repl.stdout_so_far()
    );

    // 20 reloads, after 5 that warm up what the executor allocates once (threads of its
    // pool, the allocator's arenas): its resident memory grows by the 20 units, plus the
    // record it keeps of each (the region and its dealloc actions, the unwinder's
    // registration of its EH frames: some hundred bytes), and nothing else.
    for k in 0..5 {
        let value = 200 + k;
        edit_and_wait(&repl, &src, &program(&value.to_string()), value, Duration::from_secs(10));
    }
    let before_units = reloaded_unit_sizes(&repl.stderr_so_far()).len();
    let rss_before = resident(executor);
    for k in 0..20 {
        let value = 300 + k;
        edit_and_wait(&repl, &src, &program(&value.to_string()), value, Duration::from_secs(10));
    }
    // The log line of the last unit follows its load.
    let deadline = Instant::now() + Duration::from_secs(5);
    let sizes = loop {
        let sizes = reloaded_unit_sizes(&repl.stderr_so_far());
        if sizes.len() >= before_units + 20 || Instant::now() > deadline {
            break sizes;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let units = &sizes[before_units..];
    assert_eq!(units.len(), 20, "{}", repl.stderr_so_far());
    assert!(units.iter().all(|&s| s == units[0]), "every reload of the same file takes as much: {units:?}");
    let grown = resident(executor).saturating_sub(rss_before);
    let loaded: u64 = units.iter().sum();
    eprintln!(
        "{comm}: 20 reloads, units of {} bytes each ({loaded} in all); executor resident memory +{grown}",
        units[0]
    );
    assert!(
        grown <= loaded + 20 * RECORD_PER_UNIT,
        "the executor grew by {grown} bytes, more than the {loaded} bytes of the 20 units and their records"
    );
    assert_continuous(&repl.stdout_so_far());

    // Ctrl-C ends the watch, the program and the executor.
    repl.signal(libc::SIGINT);
    let out = repl.wait(Duration::from_secs(10));
    assert_eq!(out.status.code(), Some(130), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("repl: interrupted"));
    // A listening executor serves on; the program, which never returns, runs on in it too,
    // as after Ctrl-C of `repl FILE`.
    if listening.is_none() {
        assert!(wait_gone(executor, Duration::from_secs(5)), "the executor {executor} outlived repl");
    }
    assert_continuous(&String::from_utf8_lossy(&out.stdout));
}

#[test]
fn watch_reloads_a_running_program_in_orc_executor() {
    watch_in(Executor::Launched { path: None, comm: "orc-executor" });
}

#[test]
fn watch_reloads_a_running_program_in_llvm_jitlink_executor() {
    watch_in(Executor::Launched { path: Some(&llvm_tool("llvm-jitlink-executor")), comm: "llvm-jitlink-ex" });
}

#[test]
fn watch_reloads_a_running_program_in_orc_executor_over_tcp() {
    watch_in(Executor::Listening);
}

#[test]
fn watch_with_no_main_loads_definitions_and_ends_on_sigterm() {
    let dir = scratch();
    let src = dir.path().join("lib.c");
    std::fs::write(&src, "int counter = 5;\nint f(void) { return counter; }\n").unwrap();
    let repl = spawn(repl_in(dir.path()).args(["-v", "--watch", "--no-main", "lib.c"]));
    // The files' unit (the runtime's is the first) is loaded; the watch starts right after,
    // so the edit is written again until a reload says what changed: one function redefined,
    // one function and one variable added, counter kept.
    repl.wait_for_stderr("unit 2: ", Duration::from_secs(60));
    let deadline = Instant::now() + Duration::from_secs(10);
    let text = "int counter = 5;\nint more = 1;\nint f(void) { return counter + more; }\nint g(void) { return 2; }\n";
    while !repl.stderr_so_far().contains("repl: reloaded") {
        assert!(Instant::now() < deadline, "no reload\n{}", repl.stderr_so_far());
        std::fs::write(&src, text).unwrap();
        std::thread::sleep(Duration::from_millis(200));
    }
    repl.wait_for_stderr("(1 function redefined, 1 new function, 1 new variable)", Duration::from_secs(1));
    repl.wait_for_stderr("variables kept: counter", Duration::from_secs(1));
    let executor = wait_for_child_named(repl.id(), "orc-executor");
    repl.signal(libc::SIGTERM);
    let out = repl.wait(Duration::from_secs(10));
    assert_eq!(out.status.code(), Some(128 + libc::SIGTERM), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("repl: terminated"));
    assert!(out.stdout.is_empty());
    assert!(wait_gone(executor, Duration::from_secs(5)), "the executor {executor} outlived repl");
}

#[test]
fn watch_reloads_optimized_files_saved_together_each_as_a_unit() {
    let dir = scratch();
    let main_c = |scale: &str| {
        format!(
            "#include <stdio.h>\n#include <unistd.h>\nint step(void);\n\
             int scaled(int v) {{ return v * {scale}; }}\n\
             int main(void) {{\n\
               for (long tick = 0;; tick++) {{\n\
                 printf(\"tick %ld got %d\\n\", tick, scaled(step()));\n\
                 fflush(stdout);\n\
                 usleep(50000);\n\
               }}\n\
             }}\n"
        )
    };
    let step_c = |value: &str| format!("int step(void) {{ return {value}; }}\n");
    std::fs::write(dir.path().join("main.c"), main_c("1")).unwrap();
    std::fs::write(dir.path().join("step.c"), step_c("2")).unwrap();
    let repl = spawn(
        // Optimized: scaled() is called by main in its file, where clang would inline it
        // but for the -fsemantic-interposition that --watch adds.
        repl_in(dir.path()).args(["-Xcc", "-O2", "--watch", "main.c", "step.c"]),
    );
    repl.wait_for_stdout("got 2\n", Duration::from_secs(60));
    // Both saved at once: compiled together, loaded one after the other.
    std::fs::write(dir.path().join("main.c"), main_c("10")).unwrap();
    std::fs::write(dir.path().join("step.c"), step_c("3")).unwrap();
    repl.wait_for_stdout("got 30\n", Duration::from_secs(10));
    repl.wait_for_stderr("repl: reloaded main.c in ", Duration::from_secs(1));
    repl.wait_for_stderr("repl: reloaded step.c in ", Duration::from_secs(1));
    // main.c's unit redefines main and scaled; step.c's redefines step.
    let stderr = repl.stderr_so_far();
    assert!(
        stderr.contains("(2 functions redefined)") && stderr.contains("(1 function redefined)"),
        "{stderr}"
    );
    repl.signal(libc::SIGINT);
    let out = repl.wait(Duration::from_secs(10));
    assert_eq!(out.status.code(), Some(130), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn a_watched_program_reads_stdin_and_its_main_ends_the_watch() {
    // The program echoes lines until "quit", then returns 3: the watch ends with that status
    // and no executor left. Launched over pipes the executor reads our stdin itself; over TCP
    // its stdio is forwarded and repl feeds it.
    let dir = scratch();
    std::fs::write(
        dir.path().join("echo.c"),
        "#include <stdio.h>\n#include <string.h>\n\
         int main(void) {\n  char line[64];\n  puts(\"ready\");\n  fflush(stdout);\n\
           while (fgets(line, sizeof line, stdin)) {\n\
             if (strcmp(line, \"quit\\n\") == 0) return 3;\n\
             printf(\"echo %s\", line);\n    fflush(stdout);\n  }\n  return 4;\n}\n",
    )
    .unwrap();
    for tcp in [false, true] {
        let mut cmd = repl_in(dir.path());
        let _listening = tcp.then(|| {
            let (executor, port) = listening_executor(dir.path());
            cmd.arg(format!("--oop-executor-connect=127.0.0.1:{port}"));
            executor
        });
        let mut repl = spawn(cmd.args(["--watch", "echo.c"]).stdin(std::process::Stdio::piped()));
        let mut stdin = repl.take_stdin();
        repl.wait_for_stdout("ready\n", Duration::from_secs(60));
        let executor = (!tcp).then(|| wait_for_child_named(repl.id(), "orc-executor"));
        std::io::Write::write_all(&mut stdin, b"hi\n").unwrap();
        repl.wait_for_stdout("echo hi\n", Duration::from_secs(10));
        std::io::Write::write_all(&mut stdin, b"quit\n").unwrap();
        let out = repl.wait(Duration::from_secs(10));
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "tcp: {tcp}\n{err}");
        assert_eq!(String::from_utf8_lossy(&out.stdout), "ready\necho hi\n", "tcp: {tcp}\n{err}");
        if let Some(executor) = executor {
            assert!(wait_gone(executor, Duration::from_secs(5)), "the executor {executor} outlived repl");
        }
    }
}

#[test]
fn a_watched_program_that_does_not_read_its_stdin_holds_nothing_up() {
    // Over TCP repl feeds the program's stdin; a program that never reads it leaves a write
    // unanswered once the executor's buffers are full. The watch still ends with main's
    // status, and on Ctrl-C.
    let dir = scratch();
    let program = |end: &str| {
        format!(
            "#include <stdio.h>\n#include <unistd.h>\n\
             int main(void) {{\n  puts(\"ready\");\n  fflush(stdout);\n  usleep(1000000);\n  {end}\n}}\n"
        )
    };
    std::fs::write(dir.path().join("returns.c"), program("return 5;")).unwrap();
    std::fs::write(dir.path().join("spins.c"), program("for (;;) usleep(10000);")).unwrap();
    for (file, want) in [("returns.c", 5), ("spins.c", 128 + libc::SIGINT)] {
        let (_executor, port) = listening_executor(dir.path());
        let mut repl = spawn(
            repl_in(dir.path())
                .arg(format!("--oop-executor-connect=127.0.0.1:{port}"))
                .args(["--watch", file])
                .stdin(std::process::Stdio::piped()),
        );
        let mut stdin = repl.take_stdin();
        // 4 MiB: more than the pipes and sockets on the way hold. The writer ends when repl
        // does (a broken pipe).
        let writer = std::thread::spawn(move || std::io::Write::write_all(&mut stdin, &vec![b'x'; 4 << 20]));
        repl.wait_for_stdout("ready\n", Duration::from_secs(60));
        if file == "spins.c" {
            // Past the program's first second: the feed is stuck by then.
            std::thread::sleep(Duration::from_millis(1500));
            repl.signal(libc::SIGINT);
        }
        let out = repl.wait(Duration::from_secs(20));
        assert_eq!(out.status.code(), Some(want), "{file}: {}", String::from_utf8_lossy(&out.stderr));
        let _ = writer.join();
    }
}
