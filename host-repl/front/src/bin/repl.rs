//! `repl`: see `repl --help`. A session client runs here; everything else in `repl-jit`.

use std::ffi::OsString;
use std::process::ExitCode;

fn main() -> ExitCode {
    // Before anything else: no moment in which Ctrl-C kills repl (and, in repl-jit, strands
    // its executor).
    repl_front::interrupt::install();
    let args: Vec<OsString> = std::env::args_os().collect();
    let cli = repl_front::args::Cli::from_args(args.iter().cloned());
    let result = if cli.session.is_some() { repl_front::session::client::run(cli) } else { exec_jit(&args) };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("repl: error: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// Replaces this process with `repl-jit` and the same arguments (same process id, so Ctrl-C,
/// `kill` and a parent's wait reach the JIT as they reached `repl`); returns only on failure.
fn exec_jit(args: &[OsString]) -> anyhow::Result<ExitCode> {
    use std::os::unix::process::CommandExt;
    let jit = repl_front::jit_program()?;
    let mut cmd = std::process::Command::new(&jit);
    cmd.args(args.iter().skip(1));
    if let Some(argv0) = args.first() {
        cmd.arg0(argv0);
    }
    Err(anyhow::Error::from(cmd.exec()).context(format!("cannot run {}", jit.display())))
}
