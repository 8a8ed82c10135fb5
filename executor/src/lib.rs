//! An ORC executor: the process side of LLVM's out-of-process JIT, compatible with LLVM 22.1's
//! `llvm-jitlink-executor`.
//!
//! This crate corresponds to LLVM's `llvm/ExecutionEngine/Orc/TargetProcess/` layer. A
//! controller (`llvm-jitlink`, `clang-repl`, orcbridge's `repl`) connects, receives the Setup
//! message with the bootstrap symbols, and then calls the services published here over the
//! SimpleRemoteEPC protocol ([`orc_rpc`]): memory management, memory access, dynamic
//! libraries, running code, EH-frame and debugger registration, and jit-dispatch calls from
//! JIT'd code back to the controller.
//!
//! # Embedding
//! ```no_run
//! use std::net::TcpListener;
//! use orc_executor::Executor;
//!
//! let executor = Executor::builder().build();
//! let listener = TcpListener::bind("127.0.0.1:20000")?;
//! // Serve controllers one after another, forever.
//! executor.serve_listener(&listener, None)?;
//! # Ok::<(), std::io::Error>(())
//! ```
//! Applications can publish their own functions to JIT'd code with
//! [`ExecutorBuilder::bootstrap_symbol`]. Processes that embed the executor should ignore
//! `SIGPIPE` (Rust binaries do by default) so that a controller vanishing mid-write is an error
//! rather than a signal.
//!
//! Module map: [`session`] runs the protocol; [`builtins`] are the published wrapper
//! functions; [`memory`] manages executor memory (OS calls in [`memory::sys_unix`]); [`dylib`]
//! talks to the dynamic loader; [`call`] is the only place that jumps into received addresses;
//! [`dispatch`] sends calls to the controller; [`transport`] wraps sockets and pipes.

#![deny(missing_docs)]

pub mod builtins;
pub mod call;
pub mod dispatch;
pub mod dylib;
pub mod guard;
pub mod memory;
mod pool;
pub mod registry;
pub mod services;
pub mod session;
pub mod transport;

use std::fmt;
use std::io;
use std::net::TcpListener;
use std::os::fd::OwnedFd;
use std::time::Duration;

use orc_rpc::ExecutorAddr;
pub use transport::Connection;

/// The default time a socket session may sit idle, after its controller released all memory
/// it initialized, before the executor closes it.
pub const DEFAULT_IDLE_CLOSE: Duration = Duration::from_millis(250);

pub use orc_rpc::info::ORCBRIDGE_EXECUTOR_KEY;

/// Settings shared by every session an [`Executor`] serves.
#[derive(Debug, Clone)]
pub struct Config {
    pub(crate) triple: String,
    pub(crate) page_size: usize,
    pub(crate) max_frame_size: u64,
    pub(crate) idle_close: Option<Duration>,
    pub(crate) symbols: Vec<(String, ExecutorAddr)>,
    pub(crate) values: Vec<(String, Vec<u8>)>,
}

/// Builds an [`Executor`].
#[derive(Debug, Clone)]
pub struct ExecutorBuilder {
    config: Config,
}

impl ExecutorBuilder {
    /// Publishes `addr` (an address in this process) to controllers as bootstrap symbol
    /// `name`. If the address is a function with the wrapper-function ABI, controllers may
    /// call it.
    pub fn bootstrap_symbol(mut self, name: impl Into<String>, addr: ExecutorAddr) -> Self {
        self.config.symbols.push((name.into(), addr));
        self
    }

    /// Adds a bootstrap value (a named byte string in the Setup message).
    pub fn bootstrap_value(mut self, key: impl Into<String>, value: impl Into<Vec<u8>>) -> Self {
        self.config.values.push((key.into(), value.into()));
        self
    }

    /// Refuses frames larger than `bytes` (header included) in both directions. Default
    /// [`orc_rpc::DEFAULT_MAX_FRAME_SIZE`].
    pub fn max_frame_size(mut self, bytes: u64) -> Self {
        self.config.max_frame_size = bytes;
        self
    }

    /// How long a socket session may be idle after its controller released all memory before
    /// the executor closes it (`None`: never). Needed for LLVM 22.1 controllers, which do not
    /// end TCP sessions themselves. Default [`DEFAULT_IDLE_CLOSE`].
    pub fn idle_close(mut self, after: Option<Duration>) -> Self {
        self.config.idle_close = after;
        self
    }

    /// Overrides the target triple reported in Setup (default: this process's triple, e.g.
    /// `x86_64-pc-linux-gnu`).
    pub fn target_triple(mut self, triple: impl Into<String>) -> Self {
        self.config.triple = triple.into();
        self
    }

    /// The executor.
    pub fn build(self) -> Executor {
        Executor { config: self.config }
    }
}

/// Serves SimpleRemoteEPC sessions. Cheap to clone; sessions may run concurrently.
#[derive(Debug, Clone)]
pub struct Executor {
    config: Config,
}

/// How a session ended.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SessionEnd {
    /// The controller closed its side at a frame boundary.
    Eof,
    /// The controller sent Hangup (with its error message, if any).
    Hangup {
        /// The error the controller gave, if it gave one.
        message: Option<String>,
    },
    /// The controller released everything and went idle on a socket; we closed.
    IdleClose,
    /// The controller broke the protocol; it was sent a Hangup with this reason.
    ProtocolError(String),
    /// The transport failed.
    TransportError(String),
}

impl fmt::Display for SessionEnd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SessionEnd::Eof => write!(f, "controller closed the connection"),
            SessionEnd::Hangup { message: None } => write!(f, "controller hung up"),
            SessionEnd::Hangup { message: Some(m) } => write!(f, "controller hung up: {m}"),
            SessionEnd::IdleClose => write!(f, "controller finished and went idle; closed"),
            SessionEnd::ProtocolError(e) => write!(f, "protocol error: {e}"),
            SessionEnd::TransportError(e) => write!(f, "transport error: {e}"),
        }
    }
}

/// The outcome of one session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionReport {
    /// Why it ended.
    pub end: SessionEnd,
    /// CallWrapper requests served.
    pub calls: u64,
}

impl Executor {
    /// A builder with the defaults.
    pub fn builder() -> ExecutorBuilder {
        ExecutorBuilder {
            config: Config {
                triple: process_triple(),
                page_size: memory::sys_unix::page_size(),
                max_frame_size: orc_rpc::DEFAULT_MAX_FRAME_SIZE,
                idle_close: Some(DEFAULT_IDLE_CLOSE),
                symbols: Vec::new(),
                values: vec![(
                    ORCBRIDGE_EXECUTOR_KEY.to_owned(),
                    env!("CARGO_PKG_VERSION").as_bytes().to_vec(),
                )],
            },
        }
    }

    /// Serves one session on `conn`, blocking until it ends.
    pub fn serve_connection(&self, conn: Connection) -> SessionReport {
        session::run(conn, &self.config)
    }

    /// Serves one session on an accepted TCP stream.
    ///
    /// # Errors
    /// Failure to set up the socket.
    pub fn serve_tcp_stream(&self, stream: std::net::TcpStream) -> io::Result<SessionReport> {
        Ok(self.serve_connection(Connection::tcp(stream)?))
    }

    /// Serves one session on a Unix-domain stream socket.
    ///
    /// # Errors
    /// Failure to set up the socket.
    pub fn serve_unix_stream(&self, stream: std::os::unix::net::UnixStream) -> io::Result<SessionReport> {
        Ok(self.serve_connection(Connection::unix(stream)?))
    }

    /// Serves one session over two descriptors (`input` read, `output` written), as
    /// `llvm-jitlink-executor filedescs=IN,OUT`.
    pub fn serve_fds(&self, input: OwnedFd, output: OwnedFd) -> SessionReport {
        self.serve_connection(Connection::fds(input, output))
    }

    /// Accepts controllers on `listener` and serves them one after another; stops after
    /// `max_sessions` sessions if given. A failed session is logged and the next one served.
    ///
    /// # Errors
    /// A failing `accept`.
    pub fn serve_listener(&self, listener: &TcpListener, max_sessions: Option<u64>) -> io::Result<()> {
        let mut served = 0u64;
        while max_sessions.is_none_or(|m| served < m) {
            let (stream, _) = match listener.accept() {
                Ok(s) => s,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if is_transient_accept_error(&e) => {
                    tracing::warn!("accept failed: {e}; retrying");
                    std::thread::sleep(Duration::from_millis(50));
                    continue;
                }
                Err(e) => return Err(e),
            };
            served += 1;
            if let Err(e) = self.serve_tcp_stream(stream) {
                tracing::warn!("cannot serve connection: {e}");
            }
        }
        Ok(())
    }

    /// Starts [`serve_listener`](Self::serve_listener) (without a session limit) on a
    /// background thread, for applications that embed the executor.
    ///
    /// # Errors
    /// Failure to start the thread.
    pub fn spawn_listener(
        &self,
        listener: TcpListener,
    ) -> io::Result<std::thread::JoinHandle<io::Result<()>>> {
        let this = self.clone();
        std::thread::Builder::new()
            .name("orc-executor".into())
            .spawn(move || this.serve_listener(&listener, None))
    }
}

fn is_transient_accept_error(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM | libc::ECONNABORTED)
    )
}

/// This process's target triple as LLVM spells it (`x86_64-pc-linux-gnu` rather than Rust's
/// `x86_64-unknown-linux-gnu`).
pub fn process_triple() -> String {
    let rust = env!("ORC_EXECUTOR_TARGET");
    let mut parts: Vec<&str> = rust.split('-').collect();
    if parts.len() >= 3 && parts[1] == "unknown" && matches!(parts[0], "x86_64" | "i686" | "i586" | "i386") {
        parts[1] = "pc";
    }
    parts.join("-")
}
