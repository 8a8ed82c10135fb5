//! Accepting controllers on a TCP listener: the sessions one listener runs (at most
//! `max_sessions` at once), the blocking accept loop of [`Executor::serve_listener`], and the
//! background listener of [`Executor::spawn_listener`], which a [`ListenerHandle`] stops.

use std::io::{self, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use orc_rpc::ExecutorAddr;

use crate::Executor;

/// The sessions a listener started.
struct Sessions {
    executor: Executor,
    /// Every session whose thread had not finished when last looked at ([`admit`](Self::admit)
    /// drops the finished ones first, so its length is the number running).
    running: Vec<Running>,
}

/// A session's thread, and what ends the session from outside: its closing flag
/// ([`crate::Connection`]'s `closing`) and a handle on its socket.
struct Running {
    thread: JoinHandle<()>,
    closing: Arc<AtomicBool>,
    socket: Option<Arc<TcpStream>>,
}

/// How long after the call grace a stopping listener still waits for its sessions' threads
/// (each normally ends within the grace) before it leaves them to finish on their own.
const JOIN_SLACK: Duration = Duration::from_secs(1);

impl Sessions {
    fn new(executor: Executor) -> Sessions {
        Sessions { executor, running: Vec::new() }
    }

    /// Serves `stream` on a thread of its own, or refuses it with a Hangup when
    /// `max_sessions` are running. Returns whether a session was started.
    fn admit(&mut self, stream: TcpStream, peer: SocketAddr) -> bool {
        self.running.retain(|r| !r.thread.is_finished());
        let limit = self.executor.config.max_sessions;
        if self.running.len() >= limit {
            refuse(
                stream,
                &format!("orc-executor is serving {limit} controllers, its limit; try again later"),
            );
            tracing::warn!("refused a controller from {peer}: {limit} sessions already running");
            return false;
        }
        // A second handle on the socket, to end the session from `end_all`. It keeps the
        // socket open after the session drops its own, so the session's thread shuts the
        // socket down when it is done: a controller refused in the key exchange must see the
        // connection close, not wait for a reply.
        let closer = stream.try_clone().ok().map(Arc::new);
        let closing = Arc::new(AtomicBool::new(false));
        let (this, done, flag) = (self.executor.clone(), closer.clone(), closing.clone());
        let spawned = std::thread::Builder::new().name("orc-session".into()).spawn(move || {
            match this.tcp_connection(stream) {
                Ok(conn) => {
                    this.serve_connection(conn.closing_on(flag));
                }
                Err(e) => tracing::warn!("refused the controller from {peer}: {e}"),
            }
            if let Some(s) = done {
                let _ = s.shutdown(Shutdown::Both);
            }
        });
        match spawned {
            Ok(thread) => {
                self.running.push(Running { thread, closing, socket: closer });
                true
            }
            Err(e) => {
                tracing::error!("cannot start a session thread for {peer}: {e}");
                false
            }
        }
    }

    /// Ends every session: sets its closing flag (a session waiting for a free call slot
    /// stops waiting) and shuts its socket down (its controller sees the connection close;
    /// the session ends as on end of file, giving running calls the call grace).
    fn end_all(&self) {
        for r in &self.running {
            r.closing.store(true, Ordering::SeqCst);
            if let Some(s) = &r.socket {
                let _ = s.shutdown(Shutdown::Both);
            }
        }
    }

    /// Waits for every session to end.
    fn join_all(self) {
        for r in self.running {
            let _ = r.thread.join();
        }
    }

    /// Waits for every session to end, for at most `limit`; the threads of sessions still
    /// running then are left to finish on their own (logged).
    fn join_within(self, limit: Duration) {
        let deadline = Instant::now() + limit;
        let mut left = self.running;
        while !left.is_empty() && Instant::now() < deadline {
            left.retain(|r| !r.thread.is_finished());
            if !left.is_empty() {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        if !left.is_empty() {
            tracing::warn!(
                "{} session(s) still ending after {limit:?}; left to finish on their own",
                left.len()
            );
        }
        // Dropping a JoinHandle detaches its thread.
    }
}

/// What to do after a failed `accept`: go on (after a pause for a shortage of descriptors or
/// memory, which a session ending may cure), or give up with the error.
fn after_accept_error(e: io::Error) -> io::Result<()> {
    match e.kind() {
        io::ErrorKind::Interrupted | io::ErrorKind::WouldBlock => Ok(()),
        _ if is_transient_accept_error(&e) => {
            tracing::warn!("accept failed: {e}; retrying");
            std::thread::sleep(Duration::from_millis(50));
            Ok(())
        }
        _ => Err(e),
    }
}

fn is_transient_accept_error(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM | libc::ECONNABORTED)
    )
}

/// [`Executor::serve_listener`]: accepts (blocking) until `max_sessions` sessions were
/// started, then waits for them.
pub(crate) fn serve(
    executor: &Executor,
    listener: &TcpListener,
    max_sessions: Option<u64>,
) -> io::Result<()> {
    let mut sessions = Sessions::new(executor.clone());
    let mut accepted = 0u64;
    while max_sessions.is_none_or(|m| accepted < m) {
        match listener.accept() {
            Ok((stream, peer)) => accepted += u64::from(sessions.admit(stream, peer)),
            Err(e) => after_accept_error(e)?,
        }
    }
    sessions.join_all();
    Ok(())
}

/// A listener serving controllers on a background thread ([`Executor::spawn_listener`]).
///
/// [`shutdown`](Self::shutdown) (or dropping the handle) stops it: the listening socket is
/// closed at once, so new controllers are refused by the system; every session still running
/// is ended as if its controller had closed the connection (the controller sees its connection
/// close, and a session that was waiting for one of its `max_calls` calls to end stops
/// waiting), JIT'd code still running in it gets the call grace
/// ([`ExecutorBuilder::call_grace`](crate::ExecutorBuilder::call_grace)) to return and is
/// abandoned after that (its thread goes on until the code returns). So stopping takes at
/// most about the call grace (a session thread still busy a second after it, which should
/// not happen, is left to finish on its own).
#[derive(Debug)]
pub struct ListenerHandle {
    local_addr: SocketAddr,
    wake: Option<UnixStream>,
    thread: Option<JoinHandle<io::Result<()>>>,
}

impl ListenerHandle {
    /// The address the listener is bound to (with the port the system picked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stops accepting, ends the running sessions (see [`ListenerHandle`]) and waits for the
    /// listener's thread.
    ///
    /// # Errors
    /// The error that had stopped the listener already (a failing `accept`, or a panic in it
    /// as `ErrorKind::Other`).
    pub fn shutdown(mut self) -> io::Result<()> {
        self.stop()
    }

    fn stop(&mut self) -> io::Result<()> {
        // Closing our end of the wake pair makes the accept thread's poll return.
        drop(self.wake.take());
        match self.thread.take().map(JoinHandle::join) {
            None => Ok(()),
            Some(Ok(result)) => result,
            Some(Err(_)) => Err(io::Error::other("the listener thread panicked")),
        }
    }
}

impl Drop for ListenerHandle {
    /// As [`shutdown`](ListenerHandle::shutdown), ignoring its error.
    fn drop(&mut self) {
        let _ = self.stop();
    }
}

/// [`Executor::spawn_listener`].
pub(crate) fn spawn(executor: &Executor, listener: TcpListener) -> io::Result<ListenerHandle> {
    let local_addr = listener.local_addr()?;
    listener.set_nonblocking(true)?;
    let (wake, woken) = UnixStream::pair()?;
    let executor = executor.clone();
    let thread = std::thread::Builder::new()
        .name("orc-executor".into())
        .spawn(move || accept_until_woken(executor, listener, &woken))?;
    Ok(ListenerHandle { local_addr, wake: Some(wake), thread: Some(thread) })
}

/// Waits for a controller on (non-blocking) `listener` or for `woken` to become readable (its
/// other end closed); serves the former, and after the latter closes the listener and ends
/// the sessions.
fn accept_until_woken(executor: Executor, listener: TcpListener, woken: &UnixStream) -> io::Result<()> {
    let grace = executor.config.call_grace;
    let mut sessions = Sessions::new(executor);
    let result = loop {
        match wait_readable(&listener, woken) {
            Err(e) => break Err(e),
            Ok(Readable::Woken) => break Ok(()),
            Ok(Readable::Listener) => {}
        }
        match listener.accept() {
            // Sockets accepted from a non-blocking listener are non-blocking on some systems.
            Ok((stream, peer)) => match stream.set_nonblocking(false) {
                Ok(()) => {
                    sessions.admit(stream, peer);
                }
                Err(e) => tracing::warn!("cannot serve the controller from {peer}: {e}"),
            },
            Err(e) => {
                if let Err(e) = after_accept_error(e) {
                    break Err(e);
                }
            }
        }
    };
    // Closed first: controllers connecting while the sessions end are refused at once.
    drop(listener);
    sessions.end_all();
    sessions.join_within(grace + JOIN_SLACK);
    result
}

enum Readable {
    Listener,
    Woken,
}

/// Blocks until `listener` has a connection waiting or `woken` is readable (preferring the
/// latter), without a timeout: the listener thread sleeps while nothing happens.
fn wait_readable(listener: &TcpListener, woken: &UnixStream) -> io::Result<Readable> {
    let mut fds = [
        libc::pollfd { fd: listener.as_raw_fd(), events: libc::POLLIN, revents: 0 },
        libc::pollfd { fd: woken.as_raw_fd(), events: libc::POLLIN, revents: 0 },
    ];
    loop {
        // SAFETY: `fds` is a valid array of two pollfd for the length given; both descriptors
        // are open for the duration of the call (borrowed above).
        let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, -1) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        if fds[1].revents != 0 {
            return Ok(Readable::Woken);
        }
        if fds[0].revents != 0 {
            return Ok(Readable::Listener);
        }
    }
}

/// Tells a controller we will not serve it: a Hangup with `why`, then close. Bounded: a
/// controller that does not read cannot hold the accept loop.
fn refuse(mut stream: TcpStream, why: &str) {
    let _ = stream.set_write_timeout(Some(Duration::from_secs(1)));
    let frame = orc_rpc::EncodedFrame::new(
        orc_rpc::Opcode::Hangup,
        0,
        ExecutorAddr::NULL,
        &orc_rpc::SpsError::failure(why.to_owned()),
    );
    let _ = stream.write_all(frame.as_bytes());
    let _ = stream.shutdown(Shutdown::Both);
}
