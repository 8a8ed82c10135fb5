//! `differential`: runs the REPL corpus (`device-tests/differential/`, and the test programs
//! turned into scripts) through clang-repl in process, repl + orc-executor and repl +
//! llvm-jitlink-executor, and prints how many agree.
//!
//! ```text
//! cargo run --release -p device-tests --bin differential [-- [-v] [--jobs N] [FILTER]]
//! ```
//! `FILTER` keeps scripts whose name contains it (`c/`, `cxx/tls`, `programs/`); `-v` prints
//! every script's verdict. Exits 1 if any script differs.
//!
//! `differential --record NAME 'what clang-repl gets wrong'` writes NAME's `.expect` record
//! from what repl + orc-executor prints now (check it by hand before committing it).

use std::process::ExitCode;

use device_tests::differential::{Runner, Verdict, check_all, corpus, run};

fn record(name: Option<String>, why: Option<String>) -> ExitCode {
    let (Some(name), Some(why)) = (name, why) else {
        eprintln!("usage: differential --record NAME 'what clang-repl gets wrong'");
        return ExitCode::FAILURE;
    };
    let Some(script) = corpus().into_iter().find(|s| s.name == name) else {
        eprintln!("no script named {name}");
        return ExitCode::FAILURE;
    };
    let ours = run(&script, Runner::ReplOrcExecutor);
    let text = format!("# clang-repl: {why}\n{}", ours.stdout);
    if let Err(e) = std::fs::write(&script.expect_path, text) {
        eprintln!("{}: {e}", script.expect_path.display());
        return ExitCode::FAILURE;
    }
    print!("{}", ours.stdout);
    ExitCode::SUCCESS
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    if std::env::args().nth(1).as_deref() == Some("--record") {
        return record(std::env::args().nth(2), std::env::args().nth(3));
    }
    let (mut filter, mut verbose) = (String::new(), false);
    let mut jobs = std::thread::available_parallelism().map_or(2, |n| n.get()).clamp(2, 8);
    while let Some(a) = args.next() {
        match a.as_str() {
            "-v" => verbose = true,
            "--jobs" => jobs = args.next().and_then(|n| n.parse().ok()).unwrap_or(jobs),
            "-h" | "--help" => {
                println!("usage: differential [-v] [--jobs N] [FILTER]");
                return ExitCode::SUCCESS;
            }
            f => filter = f.to_owned(),
        }
    }
    let start = std::time::Instant::now();
    let results = check_all(&filter, jobs);
    let (mut agree, mut known, mut hang, mut differ) = (0, 0, 0, 0);
    for (script, verdict) in &results {
        match verdict {
            Verdict::Agree => {
                agree += 1;
                if verbose {
                    println!("agree  {}", script.name);
                }
            }
            Verdict::KnownReferenceBug(why) => {
                known += 1;
                if verbose {
                    println!("known  {} (clang-repl: {why})", script.name);
                }
            }
            Verdict::BothHang => {
                hang += 1;
                println!("HANG   {} (clang-repl and repl alike)", script.name);
            }
            Verdict::Differ(what) => {
                differ += 1;
                println!("DIFFER {}\n{what}", script.name);
            }
        }
    }
    println!(
        "{} scripts in {:.0} s: {agree} agree with clang-repl, {known} differ where clang-repl is wrong (recorded), \
         {hang} hang in clang-repl and repl alike, {differ} differ",
        results.len(),
        start.elapsed().as_secs_f64()
    );
    if differ == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}
