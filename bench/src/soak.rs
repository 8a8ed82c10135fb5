//! `bench soak`: does anything grow or slow down over a long session, or over many sessions?
//!
//! 1. One REPL session (`repl -x c`, launched orc-executor) evaluates `inputs` inputs: pairs of
//!    a declaration `int vN = N;` and an expression `vN * 2`, each pair timed from writing it to
//!    its value's line. The pairs after a warm-up are cut into ten windows; latency drift
//!    compares the median of the last window with that of the first (medians: a pause of the
//!    machine in one pair says nothing about the REPL). Resident memory (VmRSS) and open
//!    descriptors of both processes are read from /proc after the warm-up and at the end.
//! 2. One listening orc-executor serves `sessions` runs of `repl --oop-executor-connect -e …`,
//!    one after another; its VmRSS, descriptors and threads after the first few sessions and
//!    after the last show whether sessions leave anything behind.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use device_tests::{our_bin, start_listening_executor};

/// Memory and descriptors of a process, from /proc.
#[derive(Debug, Clone, Copy)]
struct Usage {
    rss_kib: u64,
    fds: usize,
    threads: usize,
}

fn usage(pid: u32) -> Result<Usage> {
    let status =
        std::fs::read_to_string(format!("/proc/{pid}/status")).with_context(|| format!("process {pid}"))?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
            .unwrap_or(0)
    };
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count());
    Ok(Usage { rss_kib: field("VmRSS:"), fds, threads: field("Threads:") as usize })
}

/// The process named `name` whose parent is `parent`.
fn child_named(parent: u32, name: &str) -> Option<u32> {
    std::fs::read_dir("/proc").ok()?.flatten().find_map(|e| {
        let pid: u32 = e.file_name().to_str()?.parse().ok()?;
        let stat = std::fs::read_to_string(e.path().join("stat")).ok()?;
        let (comm, rest) = stat.split_once(" (")?.1.rsplit_once(") ")?;
        let ppid: u32 = rest.split_whitespace().nth(1)?.parse().ok()?;
        (ppid == parent && comm == name).then_some(pid)
    })
}

fn mean_ms(v: &[Duration]) -> f64 {
    v.iter().map(Duration::as_secs_f64).sum::<f64>() * 1e3 / v.len().max(1) as f64
}

fn median_ms(v: &[Duration]) -> f64 {
    crate::median(v.to_vec()).as_secs_f64() * 1e3
}

fn show(what: &str, a: Usage, b: Usage) {
    println!(
        "  {what:<22} RSS {:>7} KiB -> {:>7} KiB   fds {:>3} -> {:>3}   threads {:>3} -> {:>3}",
        a.rss_kib, b.rss_kib, a.fds, b.fds, a.threads, b.threads
    );
}

fn long_session(inputs: usize) -> Result<()> {
    let pairs = (inputs / 2).max(200);
    let warmup = 100;
    let window = ((pairs - warmup) / 10).max(10);
    let mut repl = Command::new(our_bin("repl"))
        .args(["-x", "c"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .context("starting repl")?;
    let mut stdin = repl.stdin.take().context("stdin")?;
    let stdout = repl.stdout.take().context("stdout")?;
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(std::io::Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    let mut times = Vec::with_capacity(pairs);
    let mut at_warmup = None;
    let mut executor = None;
    for i in 0..pairs {
        let t = Instant::now();
        stdin.write_all(format!("int v{i} = {i};\nv{i} * 2\n").as_bytes())?;
        stdin.flush()?;
        let line = rx.recv_timeout(Duration::from_secs(60)).context("no answer within 60 s")?;
        ensure!(line == format!("(int) {}", 2 * i), "input {i}: unexpected output {line:?}");
        times.push(t.elapsed());
        if i + 1 == warmup {
            let exe = child_named(repl.id(), "orc-executor").context("repl launched no orc-executor")?;
            executor = Some(exe);
            at_warmup = Some((usage(repl.id())?, usage(exe)?));
        }
    }
    let exe = executor.context("no warm-up")?;
    let at_end = (usage(repl.id())?, usage(exe)?);
    stdin.write_all(b"%quit\n")?;
    drop(stdin);
    let deadline = Instant::now() + Duration::from_secs(30);
    while repl.try_wait()?.is_none() {
        if Instant::now() > deadline {
            let _ = repl.kill();
            bail!("repl did not exit after %quit");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let windows: Vec<f64> =
        times[warmup..].chunks(window).filter(|w| w.len() == window).map(median_ms).collect();
    let (first, last) = (windows[0], windows[windows.len() - 1]);
    println!("long session: {} inputs ({pairs} pairs of a declaration and a printed expression)", 2 * pairs);
    println!(
        "  per pair, median of each window of {window} after {warmup} of warm-up (ms): {}",
        windows.iter().map(|m| format!("{m:.3}")).collect::<Vec<_>>().join(" ")
    );
    println!(
        "  drift, last window against the first: {:+.1} % (means {:.3} -> {:.3} ms)",
        (last / first - 1.0) * 100.0,
        mean_ms(&times[warmup..warmup + window]),
        mean_ms(&times[pairs - window..])
    );
    let (w, e) = at_warmup.context("no warm-up sample")?;
    show("repl", w, at_end.0);
    show("orc-executor", e, at_end.1);
    Ok(())
}

fn many_sessions(sessions: usize) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let (exe, port) = start_listening_executor(&[], &dir.path().join("out"), &dir.path().join("err"));
    let addr = format!("--oop-executor-connect=127.0.0.1:{port}");
    let mut times = Vec::with_capacity(sessions);
    let settle = 10.min(sessions);
    let mut early = None;
    for s in 0..sessions {
        let t = Instant::now();
        let o = device_tests::run(
            Command::new(our_bin("repl")).arg(&addr).args(["-x", "c", "-e", "int x = 41;", "-e", "x + 1"]),
            60,
        );
        ensure!(
            o.status.success() && o.stdout == b"(int) 42\n",
            "session {s} failed: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        times.push(t.elapsed());
        if s + 1 == settle {
            std::thread::sleep(Duration::from_millis(300));
            early = Some(usage(exe.id())?);
        }
    }
    // Let the last session's teardown finish.
    std::thread::sleep(Duration::from_millis(300));
    let end = usage(exe.id())?;
    let window = (sessions / 10).max(1);
    println!("many sessions: {sessions} runs of `repl --oop-executor-connect -e …` against one orc-executor");
    println!(
        "  per session, first {window}: {:.1} ms; last {window}: {:.1} ms",
        mean_ms(&times[..window]),
        mean_ms(&times[sessions - window..])
    );
    show(&format!("orc-executor (after {settle})"), early.context("no early sample")?, end);
    Ok(())
}

/// Runs both parts and prints the report.
pub fn run(inputs: usize, sessions: usize) -> Result<()> {
    long_session(inputs)?;
    if sessions > 0 {
        many_sessions(sessions)?;
    }
    Ok(())
}
