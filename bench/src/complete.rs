//! `bench complete`: how long Tab takes in the interactive REPL, against clang-repl.
//!
//! Both REPLs run on a pseudo-terminal, as a user has them, after `#include <vector>`,
//! `#include <string>`, `std::vector<int> v{1, 2, 3};` and `int original = 1;`. One
//! completion is timed from typing the line and Tab to the completed word appearing on the
//! terminal, then the line is erased (Ctrl-U) and the next one typed. The word `orig` →
//! `original` is the one clang-repl 22 completes too; for `std::vec` (qualified name) and
//! `v.push_b` (member) clang-repl completes nothing, so only repl's time is reported.
//! One unmeasured completion of each kind first: the first import of a namespace or class
//! into the completion parser is what a user pays once.

use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use device_tests::{llvm_tool, our_bin, scratch, spawn_interactive};

const SETUP: &[&str] =
    &["#include <vector>", "#include <string>", "std::vector<int> v{1, 2, 3};", "int original = 1;"];

/// (typed before Tab, what Tab adds). A line editor may redraw the whole line or only append,
/// so the completion is seen by the added text appearing once more.
const CASES: &[(&str, &str)] = &[("orig", "inal"), ("std::vec", "tor"), ("v.push_b", "ack")];

/// Medians per case for one REPL; `None` where a completion did not appear within a second.
fn measure(cmd: &mut Command, prompt: &str, runs: usize) -> Result<Vec<Option<Duration>>> {
    let p = spawn_interactive(cmd);
    let mut prompts = 1;
    if !p.stdout_count_reaches(prompt, prompts, Duration::from_secs(60)) {
        bail!("no prompt from {cmd:?}:\n{}", p.stderr_so_far());
    }
    for line in SETUP {
        p.type_keys(&format!("{line}\r"));
        prompts += 1;
        if !p.stdout_count_reaches(prompt, prompts, Duration::from_secs(60)) {
            bail!("{line:?} did not finish in {cmd:?}:\n{}", p.stderr_so_far());
        }
    }
    let mut medians = Vec::new();
    for (typed, shows) in CASES {
        let mut times = Vec::new();
        for run in 0..=runs {
            let seen = p.stdout_so_far().matches(shows).count();
            let start = Instant::now();
            p.type_keys(&format!("{typed}\t"));
            let appeared = p.stdout_count_reaches(shows, seen + 1, Duration::from_secs(1));
            let took = start.elapsed();
            p.type_keys("\x15"); // Ctrl-U: erase the line
            if !appeared {
                break;
            }
            if run > 0 {
                times.push(took);
            }
            // Let the terminal settle (the erased line's redraw) before the next one.
            std::thread::sleep(Duration::from_millis(20));
        }
        medians.push((times.len() == runs).then(|| crate::median(times)));
    }
    p.type_keys("\x04"); // Ctrl-D
    drop(p);
    Ok(medians)
}

pub fn run(runs: usize) -> Result<()> {
    let home = scratch(); // history files go here, not to the user's
    let mut ours = Command::new(our_bin("repl"));
    ours.env("XDG_DATA_HOME", home.path()).env("TERM", "xterm");
    let mut theirs = Command::new(llvm_tool("clang-repl"));
    theirs.env("HOME", home.path()).env("TERM", "xterm");
    let ours = measure(&mut ours, "repl> ", runs)?;
    let theirs = measure(&mut theirs, "clang-repl> ", runs)?;

    let ms =
        |d: &Option<Duration>| d.map_or("none".to_owned(), |d| format!("{:.1} ms", d.as_secs_f64() * 1e3));
    println!("{:<34}{:>14}{:>14}{:>14}", "Tab after", CASES[0].0, CASES[1].0, CASES[2].0);
    println!("{:<34}{:>14}{:>14}{:>14}", "repl (orc-executor)", ms(&ours[0]), ms(&ours[1]), ms(&ours[2]));
    println!("{:<34}{:>14}{:>14}{:>14}", "clang-repl", ms(&theirs[0]), ms(&theirs[1]), ms(&theirs[2]));
    let ratio = |a: &Option<Duration>, b: &Option<Duration>| match (a, b) {
        (Some(a), Some(b)) => format!("{:.2}", a.as_secs_f64() / b.as_secs_f64()),
        _ => "-".to_owned(),
    };
    println!(
        "{:<34}{:>14}{:>14}{:>14}",
        "ratio, repl / clang-repl",
        ratio(&ours[0], &theirs[0]),
        ratio(&ours[1], &theirs[1]),
        ratio(&ours[2], &theirs[2])
    );
    Ok(())
}
