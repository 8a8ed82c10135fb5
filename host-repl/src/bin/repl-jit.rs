//! `repl-jit`: the JIT `repl` runs for everything but a session client (see `repl --help`).

use std::process::ExitCode;

fn main() -> ExitCode {
    // Before anything else: no moment in which Ctrl-C kills repl and strands its executor.
    host_repl::interrupt::install();
    let cli = host_repl::cli::Cli::from_args(std::env::args_os());
    let level = match cli.verbose {
        0 => "warn",
        1 => "info,host_repl=debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .without_time()
        .init();
    match host_repl::cli::run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("repl: error: {e:#}");
            ExitCode::from(2)
        }
    }
}
