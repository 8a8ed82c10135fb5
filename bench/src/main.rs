//! `bench`: orcbridge measured against LLVM 22.1's own tools in the same run, on this machine.
//!
//! ```text
//! cargo run --release -p orcbridge-bench -- link     # repl + orc-executor vs llvm-jitlink + llvm-jitlink-executor
//! cargo run --release -p orcbridge-bench -- repl     # REPL inputs: repl vs clang-repl --oop-executor
//! cargo run --release -p orcbridge-bench -- complete # Tab in repl vs clang-repl, on a terminal
//! cargo run --release -p orcbridge-bench -- fuzz     # mutation loop over every decoder (no timing)
//! cargo run --release -p orcbridge-bench -- soak     # 10,000 REPL inputs, then 500 sessions: drift
//! ```
//! Times are wall-clock medians of several runs of whole commands (process start-up included);
//! round trips are counted on the wire by a relay between controller and executor (this same
//! binary, started by the controller as its executor).

mod complete;
mod fuzz;
mod link;
mod repl;
mod soak;
mod tap;

use std::time::Duration;

use anyhow::Result;
use clap::{Parser, Subcommand};

/// The median of `v` (the upper one of an even count); `v` is not empty.
fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

#[derive(Parser)]
#[command(about = "Benchmarks orcbridge against LLVM 22.1's tools in the same run")]
struct Cli {
    #[command(subcommand)]
    what: What,
}

#[derive(Subcommand)]
enum What {
    /// Link and run the same objects with `repl` + orc-executor and with `llvm-jitlink` +
    /// `llvm-jitlink-executor` (pipes), including a large (> 20 MB) input.
    Link {
        /// Runs per measurement (the median is reported).
        #[arg(long, default_value_t = 5)]
        runs: usize,
    },
    /// Per-input latency and cold start of the REPL (repl + orc-executor over pipes and TCP)
    /// against clang-repl --oop-executor=llvm-jitlink-executor; then, over TCP through a relay
    /// delaying each direction by 10 ms, calls and round trips per value input and its latency
    /// in round-trip times.
    Repl {
        /// Runs per measurement (the median is reported).
        #[arg(long, default_value_t = 3)]
        runs: usize,
        /// Inputs per script.
        #[arg(long, default_value_t = 1000)]
        inputs: usize,
    },
    /// Tab completion latency on a pseudo-terminal: repl against clang-repl (in process, the
    /// only one that completes), after `#include <vector>`.
    Complete {
        /// Completions per case (the median is reported).
        #[arg(long, default_value_t = 20)]
        runs: usize,
    },
    /// Mutated inputs for the frame reader and codec, the SPS decoders of every service, the
    /// Setup parser and the JIT linker; fails if any input panics.
    Fuzz {
        /// Inputs per target.
        #[arg(long, default_value_t = 1_000_000)]
        runs: u64,
        /// The generator's seed (a run is repeatable).
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Targets to run (frames, sps, setup, elf); all when none is given.
        targets: Vec<String>,
    },
    /// A long REPL session (10,000 inputs) and many short ones against one listening executor
    /// (500): latency drift, and memory and descriptors of both processes at start and end.
    Soak {
        /// Inputs in the long session.
        #[arg(long, default_value_t = 10_000)]
        inputs: usize,
        /// Sessions against the listening executor.
        #[arg(long, default_value_t = 500)]
        sessions: usize,
    },
}

fn main() -> Result<()> {
    // Started by a controller as its executor (`filedescs=IN,OUT`): relay and count.
    if tap::is_tap_invocation() {
        return tap::run();
    }
    match Cli::parse().what {
        What::Link { runs } => link::run(runs),
        What::Repl { runs, inputs } => repl::run(runs, inputs),
        What::Complete { runs } => complete::run(runs),
        What::Fuzz { runs, seed, targets } => fuzz::run(&targets, runs, seed),
        What::Soak { inputs, sessions } => soak::run(inputs, sessions),
    }
}
