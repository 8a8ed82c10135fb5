//! `bench repl`: the REPL's per-input latency and cold start, with orc-executor over pipes and
//! TCP, against `clang-repl --oop-executor=llvm-jitlink-executor` on the same inputs; and over
//! TCP through a relay that delays each direction by 10 ms, the calls and round trips each
//! value input costs and its latency in round-trip times.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use device_tests::delay_proxy::DelayProxy;
use device_tests::{llvm_tool, orc_runtime, our_bin, start_listening_executor};

use crate::median;

/// Who evaluates the inputs.
enum Peer {
    Repl(Vec<String>),
    ClangRepl,
}

impl Peer {
    fn command(&self) -> Command {
        match self {
            Peer::Repl(args) => {
                let mut c = Command::new(our_bin("repl"));
                c.args(args);
                c
            }
            Peer::ClangRepl => {
                let mut c = Command::new(llvm_tool("clang-repl"));
                c.arg(format!("--oop-executor={}", llvm_tool("llvm-jitlink-executor").display()))
                    .arg(format!("--orc-runtime={}", orc_runtime().display()));
                c
            }
        }
    }
}

/// Runs `script` (ending in `%quit`); returns (time to the first output line, total time).
/// The script's output must contain "done" (over TCP too: repl forwards the executor's
/// output).
fn run_script(peer: &Peer, script: &str) -> Result<(Duration, Duration)> {
    let start = Instant::now();
    let mut child =
        peer.command().stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::null()).spawn()?;
    let mut stdin = child.stdin.take().context("stdin")?;
    let script = script.to_owned();
    let writer = std::thread::spawn(move || stdin.write_all(script.as_bytes()));
    let mut first = None;
    let mut lines = BufReader::new(child.stdout.take().context("stdout")?).lines();
    let mut out = String::new();
    while let Some(line) = lines.next().transpose()? {
        first.get_or_insert_with(|| start.elapsed());
        out.push_str(&line);
        out.push('\n');
    }
    let status = child.wait()?;
    let _ = writer.join();
    ensure!(status.success() && out.contains("done"), "the script failed: {status}\n{out}");
    let total = start.elapsed();
    Ok((first.unwrap_or(total), total))
}

/// The end of every script: a `printf` whose output says the script ran through.
const TAIL: &str = "extern \"C\" int printf(const char *, ...);\nprintf(\"done\\n\");\n%quit\n";

/// One-way delay the relay adds in each direction.
const DELAY: Duration = Duration::from_millis(10);

/// At most this many inputs per script through the relay (each costs a round trip).
const DELAYED_INPUTS: usize = 200;

/// What one input costs, from `runs` runs each of the empty script and of `inputs` (`count`
/// lines, one input each) then the empty script: (latency per input in ms, median cold start
/// in ms, and how much each of `probe`'s two counters grew per input, as a mean over the runs).
fn per_input(
    peer: &Peer,
    inputs: &str,
    count: usize,
    runs: usize,
    probe: impl Fn() -> (u64, u64),
) -> Result<(f64, f64, (f64, f64))> {
    let (mut base, mut full, mut cold, mut grew) = (Vec::new(), Vec::new(), Vec::new(), (0.0, 0.0));
    // One unmeasured run first, so every peer starts with warm page and object caches.
    run_script(peer, TAIL)?;
    for _ in 0..runs {
        let c0 = probe();
        let (first, total) = run_script(peer, TAIL)?;
        cold.push(first);
        base.push(total);
        let c1 = probe();
        full.push(run_script(peer, &format!("{inputs}{TAIL}"))?.1);
        let c2 = probe();
        let per = |a: u64, b: u64, c: u64| ((c - b) as f64 - (b - a) as f64) / count as f64;
        grew.0 += per(c0.0, c1.0, c2.0) / runs as f64;
        grew.1 += per(c0.1, c1.1, c2.1) / runs as f64;
    }
    let per = (median(full).as_secs_f64() - median(base).as_secs_f64()) * 1e3 / count as f64;
    Ok((per, median(cold).as_secs_f64() * 1e3, grew))
}

/// Nothing to count.
fn no_probe() -> (u64, u64) {
    (0, 0)
}

/// What a value input costs through a relay delaying each direction by [`DELAY`], with the
/// orc-executor listening on `port`: (calls per input, round trips per input, latency in ms).
/// Calls and round trips are counted on the wire by the relay, over the empty script's.
fn through_delay(port: u16, exprs: &str, count: usize, runs: usize) -> Result<(f64, f64, f64)> {
    let proxy = DelayProxy::start(port, DELAY);
    let peer = Peer::Repl(vec![format!("--oop-executor-connect=127.0.0.1:{}", proxy.port())]);
    let (per, _, (calls, trips)) =
        per_input(&peer, exprs, count, runs, || (proxy.calls(), proxy.round_trips()))?;
    Ok((calls, trips, per))
}

pub fn run(runs: usize, count: usize) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let (_exe, port) = start_listening_executor(&[], &dir.path().join("out"), &dir.path().join("err"));
    let peers = [
        ("repl, orc-executor (pipes)", Peer::Repl(vec![])),
        ("repl, orc-executor (TCP)", Peer::Repl(vec![format!("--oop-executor-connect=127.0.0.1:{port}")])),
        ("clang-repl, llvm-jitlink-executor", Peer::ClangRepl),
    ];
    let decls: String = (0..count).map(|i| format!("int v{i} = {i} * 2;\n")).collect();
    // clang-repl 22.1 cannot print values out of process (every expression fails with "Symbols
    // not found: __clang_Interpreter_SetValueNoAlloc", and after a few hundred such failures it
    // stops answering), so it prints the same values with printf.
    let exprs: String = (0..count).map(|i| format!("{i} * 2\n")).collect();
    let printfs: String = std::iter::once("extern \"C\" int printf(const char *, ...);\n".to_owned())
        .chain((0..count).map(|i| format!("printf(\"(int) %d\\n\", {i} * 2);\n")))
        .collect();
    println!(
        "bench repl: {count} inputs per script, {runs} runs, medians; per input = (script - empty script) / {count}"
    );
    println!("{:<36} {:>16} {:>18} {:>16}", "", "declarations", "printed values", "cold start");
    let mut rows = Vec::new();
    for (name, peer) in &peers {
        let (d, cold, _) = per_input(peer, &decls, count, runs, no_probe)?;
        let values = if matches!(peer, Peer::ClangRepl) { &printfs } else { &exprs };
        let (e, _, _) = per_input(peer, values, count, runs, no_probe)?;
        println!("{name:<36} {:>13.3} ms {:>15.3} ms {:>13.1} ms", d, e, cold);
        rows.push((d, e, cold));
    }
    let (base_d, base_e, base_c) = rows[2];
    for (i, (name, _)) in peers.iter().enumerate().take(2) {
        let (d, e, c) = rows[i];
        println!(
            "{:<36} {:>16.2} {:>18.2} {:>16.2}",
            format!("ratio, {name}"),
            d / base_d,
            e / base_e,
            c / base_c
        );
    }
    println!(
        "ratios are repl / clang-repl (below 1: orcbridge is faster); goal: 0.17 ms per input, 40 ms cold start."
    );
    println!("cold start: from starting the command to its first line of output.");
    println!(
        "clang-repl cannot print values out of process: its 'printed values' inputs are printf(\"(int) %d\\n\", N * 2); instead."
    );

    let n = count.min(DELAYED_INPUTS);
    let rtt = 2.0 * DELAY.as_secs_f64() * 1e3;
    let exprs: String = (0..n).map(|i| format!("{i} * 2\n")).collect();
    let (calls, trips, per) = through_delay(port, &exprs, n, runs)?;
    // Compile, link and a loopback round trip: the same inputs over TCP without the delay.
    let direct = rows[1].1;
    println!();
    println!(
        "repl over TCP through a relay adding {} ms each way (round-trip time {rtt:.0} ms), {n} printed values per script:",
        DELAY.as_millis()
    );
    println!(
        "{:<36} {:>12} {:>12} {:>13} {:>9} {:>15}",
        "", "calls/input", "trips/input", "per input", "/ RTT", "(- TCP) / RTT"
    );
    println!(
        "{:<36} {calls:>12.2} {trips:>12.2} {per:>10.3} ms {:>9.2} {:>15.2}",
        "repl, orc-executor (TCP, delayed)",
        per / rtt,
        (per - direct) / rtt
    );
    println!(
        "calls and round trips are counted on the wire by the relay; (- TCP): less the per-input time over TCP \
         without the delay (compile, link, loopback); goal: at most 1.2 round-trip times plus compile."
    );
    Ok(())
}
