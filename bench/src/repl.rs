//! `bench repl`: the REPL's per-input latency and cold start, with orc-executor over pipes and
//! TCP, against `clang-repl --oop-executor=llvm-jitlink-executor` on the same inputs.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
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

/// Per-input latency in ms from `inputs` lines (each costing one input) over an empty baseline.
fn per_input(peer: &Peer, inputs: &str, count: usize, runs: usize) -> Result<(f64, f64)> {
    let tail = "extern \"C\" int printf(const char *, ...);\nprintf(\"done\\n\");\n%quit\n";
    let mut base = Vec::new();
    let mut full = Vec::new();
    let mut cold = Vec::new();
    // One unmeasured run first, so every peer starts with warm page and object caches.
    run_script(peer, tail)?;
    for _ in 0..runs {
        let (first, total) = run_script(peer, tail)?;
        cold.push(first);
        base.push(total);
        full.push(run_script(peer, &format!("{inputs}{tail}"))?.1);
    }
    let per = (median(full).as_secs_f64() - median(base).as_secs_f64()) * 1e3 / count as f64;
    Ok((per, median(cold).as_secs_f64() * 1e3))
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
        let (d, cold) = per_input(peer, &decls, count, runs)?;
        let values = if matches!(peer, Peer::ClangRepl) { &printfs } else { &exprs };
        let (e, _) = per_input(peer, values, count, runs)?;
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
    Ok(())
}
