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
//! // Serve controllers, several at once, on a background thread until `shutdown`.
//! let listener = executor.spawn_listener(TcpListener::bind("127.0.0.1:0")?)?;
//! println!("executor on port {}", listener.local_addr().port());
//! // ... the application's own work ...
//! listener.shutdown()?;
//! # Ok::<(), std::io::Error>(())
//! ```
//! Applications can publish their own functions and data to JIT'd code: by name in the
//! Setup message with [`ExecutorBuilder::bootstrap_symbol`] (a function with the
//! wrapper-function ABI, [`CWrapperFunctionBuffer`], may then be called by the controller),
//! and to symbol lookups in this process with [`ExecutorBuilder::process_symbols`] (for JIT'd
//! code that calls them by name). Processes that embed the executor should ignore `SIGPIPE`
//! (Rust binaries do by default) so that a controller vanishing mid-write is an error rather
//! than a signal. The executor changes process-wide state in three places, each of which an
//! application can turn off: crash handlers ([`ExecutorBuilder::crash_guard`]), the GDB JIT
//! interface ([`ExecutorBuilder::gdb_jit_interface`]) and, once a controller asks for them,
//! descriptors 0, 1 and 2 ([`ExecutorBuilder::forward_stdio`]). It logs through [`tracing`] and never
//! prints; the `orc-executor` binary (package `orc-executor-cli`) and the C API (package
//! `orc-executor-capi`, `include/orc_executor.h`) are built on this crate.
//!
//! Module map (private modules): `session` runs the protocol for one controller; `services`
//! is one session's state, which every handler receives, so a controller reaches only its own
//! session; `builtins` are the published wrapper functions; `memory` manages executor memory
//! (OS calls in `memory/sys_unix.rs`); `dylib` talks to the dynamic loader; `call` is the
//! only place that jumps into received addresses, under the crash guard of `guard`; `cstdio`
//! flushes and adjusts C's stdio streams;
//! `dispatch` sends calls to the controller; `stdio` forwards the process's stdio to
//! controllers; `transport` wraps sockets and pipes; `listener` accepts controllers;
//! `registry` knows the live sessions for JIT'd code that calls in without one.

#![deny(missing_docs)]

mod builtins;
mod call;
mod cstdio;
mod dispatch;
mod dylib;
mod guard;
mod listener;
mod memory;
mod pool;
mod registry;
#[cfg(feature = "secure")]
mod secure;
mod services;
mod session;
mod stdio;
mod transport;

use std::fmt;
use std::io;
use std::net::TcpListener;
use std::os::fd::OwnedFd;
use std::sync::Arc;
use std::time::Duration;

pub use call::{CWrapperFunctionBuffer, CWrapperFunctionBufferData, WrapperResult};
pub use cstdio::flush_stdio_if_free;
pub use dylib::c_symbol_name;
pub use listener::ListenerHandle;
pub use orc_rpc::ExecutorAddr;
pub use transport::{Connection, take_fd, take_fds};

/// The default time a socket session may sit idle, after its controller released all memory
/// it initialized, before the executor closes it.
pub const DEFAULT_IDLE_CLOSE: Duration = Duration::from_millis(250);

/// The default number of controllers a listener serves at once ([`ExecutorBuilder::max_sessions`]).
pub const DEFAULT_MAX_SESSIONS: usize = 16;

/// The default number of calls one session may run at once ([`ExecutorBuilder::max_calls`]).
pub const DEFAULT_MAX_CALLS: usize = 64;

/// The default time calls still running when a session ends get to return before they are
/// abandoned ([`ExecutorBuilder::call_grace`]).
pub const DEFAULT_CALL_GRACE: Duration = Duration::from_secs(1);

pub use orc_rpc::info::ORCBRIDGE_EXECUTOR_KEY;

/// Settings shared by every session an [`Executor`] serves.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub(crate) triple: String,
    pub(crate) page_size: usize,
    pub(crate) max_frame_size: u64,
    pub(crate) idle_close: Option<Duration>,
    pub(crate) max_sessions: usize,
    pub(crate) max_calls: usize,
    pub(crate) call_grace: Duration,
    pub(crate) symbols: Vec<(String, ExecutorAddr)>,
    pub(crate) values: Vec<(String, Vec<u8>)>,
    pub(crate) process_symbols: Option<dylib::ProcessResolver>,
    pub(crate) forward_stdio: bool,
    pub(crate) crash_guard: bool,
    pub(crate) gdb_jit_interface: bool,
    #[cfg(feature = "secure")]
    pub(crate) key: Option<orc_rpc::secure::Key>,
}

/// An application's lookup of symbols in its own process, by the name the controller asks
/// for ([`ExecutorBuilder::process_symbols`]).
pub type ProcessSymbols = Arc<dyn Fn(&[u8]) -> Option<ExecutorAddr> + Send + Sync>;

#[cfg(feature = "secure")]
pub use orc_rpc::secure::Key;

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

    /// How many controllers [`Executor::serve_listener`] serves at once (at least 1); one
    /// more is refused with a Hangup that says why. Default [`DEFAULT_MAX_SESSIONS`].
    pub fn max_sessions(mut self, n: usize) -> Self {
        self.config.max_sessions = n.max(1);
        self
    }

    /// How many calls of one session run at once (at least 1; calls waiting for the
    /// controller in jit-dispatch do not count). Beyond that the session stops reading from
    /// its controller until a call ends. Default [`DEFAULT_MAX_CALLS`].
    pub fn max_calls(mut self, n: usize) -> Self {
        self.config.max_calls = n.max(1);
        self
    }

    /// How long calls still running when a session ends (JIT'd code that has not returned)
    /// may take before the session is reported ended with them abandoned; their memory is
    /// released when they return. Default [`DEFAULT_CALL_GRACE`].
    pub fn call_grace(mut self, grace: Duration) -> Self {
        self.config.call_grace = grace;
        self
    }

    /// Requires every TCP controller to hold `key` (orcbridge's secure sessions,
    /// `docs/protocol.md`): sessions are authenticated and encrypted, and a controller
    /// without the key (LLVM's, or a wrong key) is refused after at most 5 s, with a log line.
    #[cfg(feature = "secure")]
    pub fn key(mut self, key: Key) -> Self {
        self.config.key = Some(key);
        self
    }

    /// Answers lookups in the executor's own process before `dlsym` does.
    ///
    /// When a controller resolves names in the handle that the dylib manager's `open("")`
    /// returns (the executor process; `llvm-jitlink` and `repl` look up every external symbol
    /// there), `resolver` is called with each name exactly as the controller sent it (bytes,
    /// not necessarily UTF-8, never empty; Mach-O names keep their leading `_`):
    /// * `Some(addr)` is the answer: `addr` is what the controller gets, and the controller
    ///   may then call it as a wrapper function, as any resolved address. Return only
    ///   addresses of real functions and data in this process.
    /// * `Some(ExecutorAddr::NULL)` means the symbol does not exist here, without asking
    ///   `dlsym` (the controller gets "not found": an error if the symbol is required).
    /// * `None` lets the ordinary lookup go on: `dlsym` of the name's C name in the process
    ///   ([`c_symbol_name`]: on Apple platforms without the Mach-O `_`, as LLVM's executor
    ///   does).
    ///
    /// Lookups in libraries the controller opened by path are not affected. The resolver runs
    /// on the session's call threads, possibly on several at once; it cannot fail other than
    /// by answering "not found", and a panic in it fails that one resolve call (the controller
    /// sees a failed call; the session goes on).
    ///
    /// Why: an application that embeds the executor may publish its functions and data by
    /// name without exporting them from its binary (`dlsym` sees only the dynamic symbol
    /// table), or serve names of another platform: orcbridge's Darwin test executor maps
    /// Darwin's C library names (`___stdoutp`, `___error`, ...) to this Linux process's.
    pub fn process_symbols(mut self, resolver: ProcessSymbols) -> Self {
        self.config.process_symbols = Some(dylib::ProcessResolver(resolver));
        self
    }

    /// Offers controllers the process's stdio (orcbridge's stdio extension,
    /// `docs/protocol.md` §11). Default on.
    ///
    /// A controller that asks (orcbridge's `repl` does over TCP) receives everything the
    /// process writes to descriptors 1 and 2 from then on, and may feed descriptor 0. The
    /// first such controller makes descriptors 1 and 2 pipes for the rest of the process's
    /// life; what is written there still reaches the original descriptors too (an app's
    /// console still shows it), through a thread of the executor. Controllers that do not ask
    /// (LLVM's) change nothing. Turn off to keep the process's descriptors untouched whatever
    /// controllers ask.
    pub fn forward_stdio(mut self, on: bool) -> Self {
        self.config.forward_stdio = on;
        self
    }

    /// Whether calls into JIT'd code run under the crash guard (default: yes).
    ///
    /// With the guard, a fault in JIT'd code (`SIGSEGV`, `SIGBUS`, `SIGILL`, `SIGFPE`,
    /// `SIGTRAP`, `SIGABRT`, an uncaught C++ exception) fails that call and the process goes
    /// on; to do that, the first guarded call installs process-wide handlers for those signals,
    /// which pass signals outside guarded calls on to the handlers installed before them.
    /// Without it, no handler is installed by this executor, the crash-guard bootstrap symbol
    /// (`__orcbridge_guarded_call`) is not published, and a fault in JIT'd code is a fault of
    /// the application: the process dies (or the application's own crash handler runs), as
    /// with LLVM's `llvm-jitlink-executor`.
    pub fn crash_guard(mut self, on: bool) -> Self {
        self.config.crash_guard = on;
        self
    }

    /// Whether to register JIT'd debug objects with the GDB JIT interface (default: yes when
    /// the `gdb-jit-interface` feature is on, which it is by default).
    ///
    /// The interface is process-wide: a linked list that debuggers read from the global
    /// `__jit_debug_descriptor`. Off, the registration service
    /// (`llvm_orc_registerJITLoaderGDBAllocAction`) is not published, as when the feature is
    /// off, so debuggers do not see JIT'd code and nothing is added to the list (the symbols
    /// stay defined while the feature is on). Turning it on without the feature has no effect.
    pub fn gdb_jit_interface(mut self, on: bool) -> Self {
        self.config.gdb_jit_interface = on && cfg!(feature = "gdb-jit-interface");
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

impl SessionEnd {
    /// True if the session ended because something failed: the controller broke the protocol
    /// ([`ProtocolError`](Self::ProtocolError)) or the transport failed
    /// ([`TransportError`](Self::TransportError)). The other ends are a controller finishing.
    pub fn is_error(&self) -> bool {
        matches!(self, SessionEnd::ProtocolError(_) | SessionEnd::TransportError(_))
    }
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
#[non_exhaustive]
pub struct SessionReport {
    /// Why it ended.
    pub end: SessionEnd,
    /// CallWrapper requests served.
    pub calls: u64,
    /// Calls still running in JIT'd code when the session ended, after the grace period
    /// ([`ExecutorBuilder::call_grace`]): their threads go on until the code returns.
    pub abandoned_calls: usize,
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
                max_sessions: DEFAULT_MAX_SESSIONS,
                max_calls: DEFAULT_MAX_CALLS,
                call_grace: DEFAULT_CALL_GRACE,
                #[cfg(feature = "secure")]
                key: None,
                symbols: Vec::new(),
                process_symbols: None,
                forward_stdio: true,
                crash_guard: true,
                gdb_jit_interface: cfg!(feature = "gdb-jit-interface"),
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

    /// Serves one session on an accepted TCP stream (after the key exchange, if the executor
    /// has a key).
    ///
    /// # Errors
    /// Failure to set up the socket; with a key, a controller that does not complete the key
    /// exchange (`PermissionDenied` for a wrong key or a replayed or altered handshake,
    /// `TimedOut` for one that sends nothing, as LLVM's controllers do).
    pub fn serve_tcp_stream(&self, stream: std::net::TcpStream) -> io::Result<SessionReport> {
        Ok(self.serve_connection(self.tcp_connection(stream)?))
    }

    /// The connection over an accepted TCP stream, after the key exchange if the executor has
    /// a key ([`serve_tcp_stream`](Self::serve_tcp_stream)).
    pub(crate) fn tcp_connection(&self, stream: std::net::TcpStream) -> io::Result<Connection> {
        #[cfg(feature = "secure")]
        if let Some(key) = &self.config.key {
            return secure::accept(stream, key);
        }
        Connection::tcp(stream)
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

    /// Accepts controllers on `listener` and serves each in a session on a thread of its
    /// own, up to [`ExecutorBuilder::max_sessions`] at once; a controller beyond that gets a
    /// Hangup saying why and is closed. With `max_sessions` (a total), stops accepting after
    /// that many sessions and returns when they have ended. A failed session is logged; the
    /// others go on.
    ///
    /// # Errors
    /// A failing `accept` (other than for a shortage of descriptors or memory, which is
    /// logged and retried after 50 ms).
    pub fn serve_listener(&self, listener: &TcpListener, max_sessions: Option<u64>) -> io::Result<()> {
        listener::serve(self, listener, max_sessions)
    }

    /// Serves controllers on `listener` as [`serve_listener`](Self::serve_listener) does
    /// (without a total), on a background thread, for applications that embed the executor.
    /// The returned handle stops it ([`ListenerHandle::shutdown`], also on drop).
    ///
    /// # Errors
    /// Failure to read the listener's address, make it non-blocking, or start the thread.
    pub fn spawn_listener(&self, listener: TcpListener) -> io::Result<ListenerHandle> {
        listener::spawn(self, listener)
    }
}

/// This process's target triple as LLVM spells it: `x86_64-pc-linux-gnu` rather than Rust's
/// `x86_64-unknown-linux-gnu`; on Apple platforms with the OS and its version as clang wants
/// them (`arm64-apple-ios14.0-simulator` for Rust's `aarch64-apple-ios-sim`, see
/// `llvm_triple`). The version is the build's `IPHONEOS_DEPLOYMENT_TARGET` or
/// `MACOSX_DEPLOYMENT_TARGET`, else iOS 14.0 and macOS 11.0.
pub fn process_triple() -> String {
    llvm_triple(
        env!("ORC_EXECUTOR_TARGET"),
        option_env!("ORC_EXECUTOR_IPHONEOS_DEPLOYMENT_TARGET").unwrap_or("14.0"),
        option_env!("ORC_EXECUTOR_MACOSX_DEPLOYMENT_TARGET").unwrap_or("11.0"),
    )
}

/// Rust's target name `rust` as an LLVM triple (see [`process_triple`]); `ios` and `macos`
/// are the OS versions for Apple targets. Rust's `x86_64-apple-ios` is the simulator, as its
/// `-sim` targets are; clang wants `arm64` and `macosx` in Apple triples.
fn llvm_triple(rust: &str, ios: &str, macos: &str) -> String {
    let mut parts: Vec<&str> = rust.split('-').collect();
    if parts.len() >= 3 && parts[1] == "unknown" && matches!(parts[0], "x86_64" | "i686" | "i586" | "i386") {
        parts[1] = "pc";
    }
    if parts.get(1) != Some(&"apple") {
        return parts.join("-");
    }
    let arch = if parts[0] == "aarch64" { "arm64" } else { parts[0] };
    match &parts[2..] {
        ["ios"] if arch == "x86_64" => format!("{arch}-apple-ios{ios}-simulator"),
        ["ios"] => format!("{arch}-apple-ios{ios}"),
        ["ios", "sim"] => format!("{arch}-apple-ios{ios}-simulator"),
        ["darwin"] => format!("{arch}-apple-macosx{macos}"),
        _ => parts.join("-"),
    }
}

#[cfg(test)]
mod tests {
    use super::llvm_triple;

    #[test]
    fn rust_targets_become_the_triples_clang_and_the_host_expect() {
        let t = |rust| llvm_triple(rust, "14.0", "11.0");
        assert_eq!(t("x86_64-unknown-linux-gnu"), "x86_64-pc-linux-gnu");
        assert_eq!(t("aarch64-unknown-linux-gnu"), "aarch64-unknown-linux-gnu");
        assert_eq!(t("aarch64-apple-ios"), "arm64-apple-ios14.0");
        assert_eq!(t("aarch64-apple-ios-sim"), "arm64-apple-ios14.0-simulator");
        assert_eq!(t("x86_64-apple-ios"), "x86_64-apple-ios14.0-simulator");
        assert_eq!(t("aarch64-apple-darwin"), "arm64-apple-macosx11.0");
        assert_eq!(t("x86_64-apple-darwin"), "x86_64-apple-macosx11.0");
        assert_eq!(llvm_triple("aarch64-apple-ios", "17.2", "11.0"), "arm64-apple-ios17.2");
        // Other Apple targets pass through as Rust names them.
        assert_eq!(t("aarch64-apple-ios-macabi"), "aarch64-apple-ios-macabi");
    }
}
