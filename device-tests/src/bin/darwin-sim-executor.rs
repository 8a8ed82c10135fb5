//! `darwin-sim-executor`: exists only for tests. A stand-in for an iOS-simulator app that
//! embeds the executor (see README): an executor built on the `orc_executor` library that
//! announces an iOS-simulator triple (`x86_64-apple-ios14.0-simulator` or
//! `arm64-apple-ios14.0-simulator`, after the architecture it is built for), so controllers
//! compile and link Mach-O for it, and that resolves Darwin C library names (`_puts`,
//! `___stdoutp`, `___error`, ...) to this Linux process's symbols through
//! [`ExecutorBuilder::process_symbols`](orc_executor::ExecutorBuilder::process_symbols) and
//! [`device_tests::darwin`]. It is not an iOS runtime: what Darwin code calls by name is
//! served by this process's glibc, libm, libstdc++ and libgcc, plus the few Darwin-only
//! routines of `device_tests::darwin`.
//!
//! ```text
//! darwin-sim-executor listen=127.0.0.1:0 [--once]   # prints "darwin-sim-executor: listening on ADDR"
//! darwin-sim-executor filedescs=IN,OUT
//! ```

use std::io::Write;
use std::net::{SocketAddr, TcpListener};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use device_tests::darwin::darwin_to_linux;
use orc_executor::Executor;
use orc_executor_cli::process::{Mode, listen_addr, parse_mode_word, serve_inherited_fds};
use orc_rpc::ExecutorAddr;

#[cfg(target_arch = "x86_64")]
const TRIPLE: &str = "x86_64-apple-ios14.0-simulator";
#[cfg(target_arch = "aarch64")]
const TRIPLE: &str = "arm64-apple-ios14.0-simulator";
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
compile_error!("darwin-sim-executor stands in for the iOS simulator on x86_64 or aarch64 only");

const HELP: &str = "\
darwin-sim-executor: a test-only ORC executor that announces the iOS simulator triple
and resolves Darwin C library names to this Linux process (a stand-in for an iOS app).

USAGE:
  darwin-sim-executor listen=HOST:PORT [--once] [-q | -v]
  darwin-sim-executor filedescs=IN,OUT [-q | -v]

MODES (as orc-executor):
  listen=HOST:PORT   accept controllers on HOST:PORT (HOST defaults to 127.0.0.1, and must
                     be a loopback address: there is no key; PORT 0 picks a free port).
                     Prints \"darwin-sim-executor: listening on ADDR\" on stderr.
  filedescs=IN,OUT   serve one controller on inherited descriptors: read IN, write OUT.

OPTIONS:
  --once             with listen=, exit after the first session
  -q, --quiet        log errors only
  -v, --verbose      log the protocol (each frame and call); twice for more (RUST_LOG overrides)
  -h, --help         this text";

struct Cli {
    mode: Mode,
    once: bool,
    quiet: bool,
    verbose: u8,
}

/// The command line, or `None` for `--help`.
fn parse(args: impl IntoIterator<Item = String>) -> Result<Option<Cli>> {
    let (mut mode, mut once, mut quiet, mut verbose) = (None, false, false, 0u8);
    for w in args {
        if let Some(m) = parse_mode_word(&w) {
            mode = Some(m.map_err(anyhow::Error::msg)?);
        } else {
            match w.as_str() {
                "--once" => once = true,
                "-q" | "--quiet" => quiet = true,
                "-v" | "--verbose" => verbose = verbose.saturating_add(1),
                "-vv" => verbose = verbose.saturating_add(2),
                "-h" | "--help" => return Ok(None),
                _ => bail!(
                    "unknown argument {w:?} (expected listen=HOST:PORT or filedescs=IN,OUT, and --once, -q, -v)"
                ),
            }
        }
    }
    let mode = mode.context("no mode given: expected listen=HOST:PORT or filedescs=IN,OUT")?;
    if once && matches!(mode, Mode::Fds(..)) {
        bail!("--once applies to listen= (filedescs= serves one session anyway)");
    }
    if quiet && verbose > 0 {
        bail!("-q and -v contradict each other");
    }
    Ok(Some(Cli { mode, once, quiet, verbose }))
}

/// The loopback address of `listen=SPEC`: this test executor has no key, so it refuses to be
/// reachable from other hosts.
fn loopback_addr(spec: &str) -> Result<SocketAddr> {
    let addr = listen_addr(spec).map_err(anyhow::Error::msg)?;
    if !addr.ip().is_loopback() {
        bail!("listen={spec}: not a loopback address (this test executor has no key: anyone could run code)");
    }
    Ok(addr)
}

fn run(cli: Cli) -> Result<ExitCode> {
    let executor = Executor::builder()
        .target_triple(TRIPLE)
        // Every name is answered here: one the Darwin map does not know is not found, rather
        // than looked up by dlsym under its Mach-O spelling.
        .process_symbols(Arc::new(|name: &[u8]| Some(darwin_to_linux(name).unwrap_or(ExecutorAddr::NULL))))
        .build();
    match cli.mode {
        Mode::Fds(i, o) => serve_inherited_fds(&executor, i, o).map_err(anyhow::Error::msg),
        Mode::Listen(spec) => {
            let addr = loopback_addr(&spec)?;
            let listener = TcpListener::bind(addr).with_context(|| format!("cannot listen on {addr}"))?;
            eprintln!("darwin-sim-executor: listening on {}", listener.local_addr()?);
            executor.serve_listener(&listener, cli.once.then_some(1))?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn main() -> ExitCode {
    let cli = match parse(std::env::args().skip(1)) {
        Ok(Some(cli)) => cli,
        Ok(None) => {
            // Not println!: `--help | head` must not panic on a closed pipe.
            let _ = writeln!(std::io::stdout(), "{HELP}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("darwin-sim-executor: error: {e:#}\n(see darwin-sim-executor --help)");
            return ExitCode::from(2);
        }
    };
    let level = match cli.verbose {
        0 if cli.quiet => "error",
        0 => "warn",
        1 => "orc_executor=debug,warn",
        _ => "orc_executor=trace,warn",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(orc_executor_cli::process::stderr_for_logs())
        .with_target(false)
        .init();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("darwin-sim-executor: error: {e:#}");
            ExitCode::from(2)
        }
    }
}
