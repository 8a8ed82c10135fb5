//! What a process whose job is to be an executor does with its command line: the mode words of
//! LLVM 22.1's `llvm-jitlink-executor` (`listen=HOST:PORT`, `filedescs=IN,OUT`, parsed as
//! `llvm/tools/llvm-jitlink/llvm-jitlink-executor/llvm-jitlink-executor.cpp` reads them), and
//! serving inherited descriptors the way a process launched for one controller must. Shared by
//! `orc-executor` and other binaries built on the executor library (the test executor
//! `darwin-sim-executor`), so they behave alike.

use std::net::{SocketAddr, ToSocketAddrs};
use std::os::fd::RawFd;
use std::process::ExitCode;

use orc_executor::Executor;

/// How an executor process serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// `listen=HOST:PORT`: the `HOST:PORT` text, resolved by [`listen_addr`].
    Listen(String),
    /// `filedescs=IN,OUT`: read IN, write OUT.
    Fds(RawFd, RawFd),
}

/// Exit status of a `filedescs=` process whose controller went away while JIT'd code kept
/// running: the code cannot be stopped, and the process exists only for that controller.
pub const EXIT_ABANDONED: i32 = 3;

/// Where an executor process writes its log: its descriptor 2 as it was at start, so that the
/// log stays on the terminal after a controller has the process's output forwarded to it
/// ([`orc_executor::ExecutorBuilder::forward_stdio`]); otherwise logging the frames that carry output
/// would make more output, without end. Call before serving; falls back to stderr.
pub fn stderr_for_logs() -> std::sync::Mutex<Box<dyn std::io::Write + Send>> {
    use std::os::fd::AsFd;
    let copy = std::io::stderr().as_fd().try_clone_to_owned().map(std::fs::File::from);
    std::sync::Mutex::new(match copy {
        Ok(file) => Box::new(file),
        Err(_) => Box::new(std::io::stderr()),
    })
}

/// Reads one command-line word: `Some(Ok(mode))` for a mode word, `Some(Err(why))` for a
/// malformed one, `None` for any other word.
pub fn parse_mode_word(word: &str) -> Option<Result<Mode, String>> {
    if let Some(addr) = word.strip_prefix("listen=") {
        return Some(Ok(Mode::Listen(addr.to_owned())));
    }
    let fds = word.strip_prefix("filedescs=")?;
    let Some((i, o)) = fds.split_once(',') else {
        return Some(Err(format!("{word}: expected filedescs=IN,OUT")));
    };
    let parse = |s: &str| s.trim().parse::<RawFd>().map_err(|_| format!("{word}: {s:?} is not a descriptor"));
    Some(parse(i).and_then(|i| Ok(Mode::Fds(i, parse(o)?))))
}

/// The socket address of a `listen=` spec `HOST:PORT` (`[v6]:PORT` too); an empty HOST is
/// 127.0.0.1, PORT 0 picks a free port when bound.
///
/// # Errors
/// No `:`, a PORT that is not a number below 65536, a HOST that does not resolve.
pub fn listen_addr(spec: &str) -> Result<SocketAddr, String> {
    let (host, port) = spec.rsplit_once(':').ok_or_else(|| format!("listen={spec}: expected HOST:PORT"))?;
    let host = match host.trim_start_matches('[').trim_end_matches(']') {
        "" => "127.0.0.1",
        h => h,
    };
    let port: u16 = port.parse().map_err(|_| format!("listen={spec}: {port:?} is not a port"))?;
    (host, port)
        .to_socket_addrs()
        .map_err(|e| format!("listen={spec}: cannot resolve {host}: {e}"))?
        .next()
        .ok_or_else(|| format!("listen={spec}: {host} has no address"))
}

/// Serves the one controller that launched this process, on descriptors `input` and `output`,
/// and returns the process's exit status: success unless the session broke the protocol or
/// its transport. If the controller went away while JIT'd code still runs, the process ends
/// here with [`EXIT_ABANDONED`] (not `exit`: static destructors and atexit handlers would run
/// under the code that is still running; its output so far is flushed where that is safe).
///
/// # Errors
/// A descriptor that is not open, or one given for both that cannot be duplicated
/// ([`orc_executor::take_fds`]).
pub fn serve_inherited_fds(executor: &Executor, input: RawFd, output: RawFd) -> Result<ExitCode, String> {
    // SAFETY: descriptors named on the command line were handed to this process to own for the
    // session; nothing else in it uses them.
    let (input, output) = unsafe { orc_executor::take_fds(input, output) }.map_err(|e| e.to_string())?;
    let report = executor.serve_fds(input, output);
    if report.abandoned_calls > 0 {
        tracing::warn!(
            "the controller is gone and JIT'd code still runs on {} thread(s); exiting",
            report.abandoned_calls
        );
        orc_executor::flush_stdio_if_free();
        // SAFETY: _exit ends the process at once; nothing here needs to run first.
        unsafe { libc::_exit(EXIT_ABANDONED) };
    }
    Ok(if report.end.is_error() { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mode_words_read_as_llvm_jitlink_executor_reads_them() {
        assert_eq!(parse_mode_word("listen=:0"), Some(Ok(Mode::Listen(":0".into()))));
        assert_eq!(parse_mode_word("filedescs=3, 4"), Some(Ok(Mode::Fds(3, 4))));
        assert!(parse_mode_word("filedescs=3").is_some_and(|r| r.is_err()));
        assert!(parse_mode_word("filedescs=a,4").is_some_and(|r| r.is_err()));
        assert_eq!(parse_mode_word("--once"), None);
        assert_eq!(listen_addr(":0"), Ok("127.0.0.1:0".parse().unwrap()));
        assert_eq!(listen_addr("[::1]:20000"), Ok("[::1]:20000".parse().unwrap()));
        assert!(listen_addr("localhost").is_err());
        assert!(listen_addr(":70000").is_err());
    }
}
