//! `orc-executor`: a drop-in for LLVM 22.1's `llvm-jitlink-executor`.

use std::net::TcpListener;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Parser;
use orc_executor::{Executor, Key};
use orc_executor_cli::process::{self, listen_addr, serve_inherited_fds};

/// An ORC executor that LLVM 22.1's controllers (llvm-jitlink, clang-repl) and orcbridge's
/// repl can drive. Takes the same mode words as llvm-jitlink-executor.
#[derive(Parser, Debug)]
#[command(
    version,
    after_help = "\
MODES (as llvm-jitlink-executor):
  listen=HOST:PORT     accept controllers on HOST:PORT (HOST defaults to 127.0.0.1; PORT 0 picks a
                       free port). Serves up to --max-sessions controllers at once, each in a
                       session of its own, until stopped (or after one with --once).
  filedescs=IN,OUT     serve one controller on inherited descriptors: read IN, write OUT
                       (what `llvm-jitlink -oop-executor=orc-executor` and
                       `clang-repl --oop-executor=orc-executor` pass). When IN reaches end of
                       file (the controller is gone) and JIT'd code is still running after
                       a grace period, the process exits with status 3.
  keygen FILE          write a new random key to FILE (mode 0600) for --key, and exit.

SECURITY:
  Whoever can connect to a listening executor can run code in its process. On a loopback
  address that is every local user; elsewhere, everyone on the network. With --key FILE,
  controllers must hold the same key (repl --oop-executor-connect=HOST:PORT --key FILE):
  sessions are authenticated and encrypted (Noise NNpsk0 with a pre-shared key), and others
  are refused. listen= on a non-loopback address requires --key, or --insecure to accept
  anyone. LLVM's controllers cannot use a key: serve them on loopback without one.

EXAMPLES:
  orc-executor listen=127.0.0.1:20000
  llvm-jitlink -oop-executor-connect=127.0.0.1:20000 hello.o
  orc-executor keygen ~/.orcbridge.key && orc-executor listen=0.0.0.0:20000 --key ~/.orcbridge.key
  llvm-jitlink -oop-executor=orc-executor hello.o -args a b
  clang-repl --oop-executor=orc-executor --orc-runtime=/usr/lib/llvm-22/lib/clang/22/lib/linux/liborc_rt-x86_64.a"
)]
struct Cli {
    /// Mode words: `listen=HOST:PORT` or `filedescs=IN,OUT`. The words `debug` and `test-*`
    /// that llvm-jitlink-executor accepts are ignored.
    #[arg(required = true, value_name = "MODE")]
    words: Vec<String>,

    /// Log the protocol (each frame and call); repeat for more detail. RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count)]
    verbose: u8,

    /// Log errors only (for a controller that reports failures itself, as repl does).
    #[arg(short, long, conflicts_with = "verbose")]
    quiet: bool,

    /// With listen=, exit after the first session instead of waiting for the next controller.
    #[arg(long)]
    once: bool,

    /// Milliseconds a TCP session may stay idle after its controller released all memory
    /// before it is closed (LLVM 22.1 controllers never close TCP sessions themselves).
    #[arg(long, value_name = "MS", default_value_t = orc_executor::DEFAULT_IDLE_CLOSE.as_millis() as u64, conflicts_with = "no_idle_close")]
    idle_close_ms: u64,

    /// Never close an idle TCP session; wait for the controller.
    #[arg(long)]
    no_idle_close: bool,

    /// Largest frame accepted or sent, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = orc_rpc::DEFAULT_MAX_FRAME_SIZE)]
    max_frame_size: u64,

    /// Require controllers to hold the key in FILE (see SECURITY).
    #[arg(long, value_name = "FILE")]
    key: Option<std::path::PathBuf>,

    /// Listen on a non-loopback address without a key: anyone who can connect runs code here.
    #[arg(long, conflicts_with = "key")]
    insecure: bool,

    /// With listen=, the most controllers served at once; one more is refused with a message.
    #[arg(long, value_name = "N", default_value_t = orc_executor::DEFAULT_MAX_SESSIONS)]
    max_sessions: usize,

    /// The most calls one controller may have running at once.
    #[arg(long, value_name = "N", default_value_t = orc_executor::DEFAULT_MAX_CALLS)]
    max_calls: usize,

    /// Never give a controller this process's stdout, stderr and stdin. By default repl, when
    /// connected over TCP, asks for them and shows the output of JIT'd code in its terminal
    /// (a copy still appears here).
    #[arg(long)]
    no_forward_stdio: bool,
}

enum Mode {
    Serve(process::Mode),
    Keygen(std::path::PathBuf),
}

fn parse_mode(words: &[String]) -> Result<Mode> {
    if words.first().is_some_and(|w| w == "keygen") {
        return match words {
            [_, file] => Ok(Mode::Keygen(file.into())),
            _ => bail!("usage: orc-executor keygen FILE"),
        };
    }
    let mut mode = None;
    for w in words {
        if let Some(m) = process::parse_mode_word(w) {
            mode = Some(Mode::Serve(m.map_err(anyhow::Error::msg)?));
        } else if w == "debug" || w.starts_with("test-") {
            tracing::debug!("ignoring llvm-jitlink-executor word {w:?}");
        } else {
            bail!("unknown argument {w:?} (expected listen=HOST:PORT or filedescs=IN,OUT)");
        }
    }
    mode.context("no mode given: expected listen=HOST:PORT or filedescs=IN,OUT")
}

fn run(cli: Cli) -> Result<ExitCode> {
    let mode = parse_mode(&cli.words)?;
    if let Mode::Keygen(file) = &mode {
        Key::create_file(file)?;
        eprintln!(
            "orc-executor: wrote a new key to {} (keep it secret; copy it to the controller)",
            file.display()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let mut builder = Executor::builder()
        .idle_close((!cli.no_idle_close).then(|| Duration::from_millis(cli.idle_close_ms)))
        .max_frame_size(cli.max_frame_size)
        .max_sessions(cli.max_sessions)
        .max_calls(cli.max_calls)
        .forward_stdio(!cli.no_forward_stdio);
    if let Some(file) = &cli.key {
        if !matches!(mode, Mode::Serve(process::Mode::Listen(_))) {
            bail!("--key applies to listen= (over filedescs= the controller launched this executor)");
        }
        builder = builder.key(Key::load(file)?);
    }
    let executor = builder.build();
    match mode {
        Mode::Keygen(_) => unreachable!("handled above"),
        Mode::Serve(process::Mode::Fds(i, o)) => {
            serve_inherited_fds(&executor, i, o).map_err(anyhow::Error::msg)
        }
        Mode::Serve(process::Mode::Listen(spec)) => {
            let addr = listen_addr(&spec).map_err(anyhow::Error::msg)?;
            let open_to_all = !addr.ip().is_loopback() && cli.key.is_none();
            if open_to_all && !cli.insecure {
                bail!(
                    "listen={spec} is reachable from other hosts, and anyone who connects could run code \
                     here: give --key FILE (create one with `orc-executor keygen FILE`), or --insecure to \
                     accept anyone"
                );
            }
            let listener = TcpListener::bind(addr).with_context(|| format!("cannot listen on {addr}"))?;
            let bound = listener.local_addr()?;
            if open_to_all {
                eprintln!(
                    "orc-executor: warning: no key (--insecure): anyone who can connect to {bound} can run \
                     code here"
                );
            }
            eprintln!("orc-executor: listening on {bound}");
            if let Some(file) = &cli.key {
                eprintln!("orc-executor: controllers must hold the key in {}", file.display());
            }
            executor.serve_listener(&listener, cli.once.then_some(1))?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let default = match cli.verbose {
        0 if cli.quiet => "error",
        0 => "warn",
        1 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(format!(
            "orc_executor={default},{}",
            if cli.quiet { "error" } else { "warn" }
        ))
    });
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(process::stderr_for_logs())
        .with_target(false)
        .init();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("orc-executor: error: {e:#}");
            ExitCode::from(2)
        }
    }
}
