//! The target's stdio for controllers: orcbridge's stdio extension (`docs/protocol.md` §11).
//!
//! **Output.** The first controller that asks (`__orcbridge_stdio_forward_wrapper(tag)`)
//! makes this process's descriptors 1 and 2 the write ends of two pipes, for the rest of the
//! process's life. A pump thread reads them, writes a copy to the original descriptors (an
//! app's console, the executor's terminal, still shows everything) and queues the bytes for
//! every controller that asked; a sender thread per controller sends them as jit-dispatch
//! calls of its handler `tag` with `(fd, bytes)`, not waiting for the results. A descriptor
//! is process-wide, so every subscribed controller gets all output, whoever's code wrote it.
//!
//! **Order.** Before the executor answers a call of a subscribed controller, [`sync`] waits
//! until the output written before that point has been sent (it is in the pipes or the pump's
//! hands until then), so a REPL prints a `printf`'s text before the value of the input that
//! made it. Bounded by [`SYNC_LIMIT`]: code still running on other threads may write forever.
//! Between the two descriptors, order is kept only as far as the pump sees it: bytes waiting
//! in both pipes at once go stderr first (see `run_pump`).
//!
//! **Backpressure.** Output waits for a slow controller as a pipe would, but a controller
//! that stops reading is not allowed to hold up the process and the others: once its queue
//! ([`QUEUE_LIMIT`]) has stayed full for [`STALL_LIMIT`], output for it is dropped until it
//! catches up, and it is told how much on its stderr.
//!
//! **Input.** A controller that asks for it in the same call makes descriptor 0 a socket it
//! feeds with `__orcbridge_stdin_write_wrapper(bytes)` (one controller at a time), until it
//! sends empty bytes (end of file) or its session ends; then descriptor 0 is what it was
//! before. It is taken before the controller runs anything, so a program never reads the
//! process's own stdin by mistake.

use std::borrow::Cow;
use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::Duration;

use orc_rpc::ExecutorAddr;
use orc_rpc::services::StdioOutput;

use crate::dispatch::Dispatcher;

/// How long [`sync`] waits for output to reach the controller without seeing it progress
/// before a result goes anyway (a slow link that still moves is waited for).
pub(crate) const SYNC_LIMIT: Duration = Duration::from_secs(1);

/// How long the process's exit waits for the pump to copy what is left in the pipes to the
/// original descriptors.
const EXIT_DRAIN_LIMIT: Duration = Duration::from_millis(500);

/// Bytes of output queued for one controller beyond which new output for it is dropped.
pub(crate) const QUEUE_LIMIT: usize = 8 << 20;

/// How long output waits for room in a full queue before the controller counts as stalled.
pub(crate) const STALL_LIMIT: Duration = Duration::from_secs(2);

/// Largest chunk read from a pipe, and largest payload of one forwarded call.
const CHUNK: usize = 64 << 10;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Waits on `cv` until `done`, or until `progress` (a counter that only grows) has not moved
/// for `patience`.
fn wait_while_progressing<T>(
    cv: &Condvar,
    mut g: MutexGuard<'_, T>,
    patience: Duration,
    done: impl Fn(&T) -> bool,
    progress: impl Fn(&T) -> u64,
) {
    loop {
        let seen = progress(&g);
        let (next, waited) = cv
            .wait_timeout_while(g, patience, |t| !done(t) && progress(t) == seen)
            .unwrap_or_else(PoisonError::into_inner);
        g = next;
        if done(&g) || waited.timed_out() {
            return;
        }
    }
}

/// Output waiting for one controller.
#[derive(Default)]
struct Queue {
    chunks: VecDeque<(u8, Vec<u8>)>,
    bytes: usize,
    dropped: usize,
    /// The queue stayed full for [`STALL_LIMIT`]: output is dropped until it is half empty.
    stalled: bool,
    /// Bytes queued so far (dropped ones not counted).
    pushed: u64,
    /// Bytes of `pushed` sent so far.
    sent: u64,
    /// The session ended or its transport failed: nothing more is sent.
    closed: bool,
}

/// One controller that asked for the output.
struct Subscriber {
    session: u64,
    tag: ExecutorAddr,
    dispatch: Dispatcher,
    /// Largest payload of one forwarded call: what fits the session's frames.
    max_chunk: usize,
    queue: Mutex<Queue>,
    changed: Condvar,
}

impl Subscriber {
    /// Queues `bytes` written to `fd`. When the queue is full, waits for room up to
    /// [`STALL_LIMIT`] (a slow controller slows the writers, as a pipe would), then drops
    /// output without waiting until the controller has caught up (a controller that stopped
    /// reading must not hold up the process and the other controllers).
    fn push(&self, fd: u8, bytes: &[u8]) {
        for piece in bytes.chunks(self.max_chunk) {
            self.push_piece(fd, piece);
        }
    }

    fn push_piece(&self, fd: u8, bytes: &[u8]) {
        let (mut q, waited) = self
            .changed
            .wait_timeout_while(lock(&self.queue), STALL_LIMIT, |q| {
                !q.closed && !q.stalled && q.bytes + bytes.len() > QUEUE_LIMIT
            })
            .unwrap_or_else(PoisonError::into_inner);
        if waited.timed_out() {
            q.stalled = true;
        }
        if q.closed {
            return;
        }
        if q.bytes + bytes.len() > QUEUE_LIMIT {
            q.dropped += bytes.len();
            return;
        }
        q.bytes += bytes.len();
        q.pushed += bytes.len() as u64;
        match q.chunks.back_mut() {
            Some((last_fd, last)) if *last_fd == fd && last.len() + bytes.len() <= self.max_chunk => {
                last.extend_from_slice(bytes)
            }
            _ => q.chunks.push_back((fd, bytes.to_vec())),
        }
        drop(q);
        self.changed.notify_all();
    }

    /// Sends queued output until the session ends.
    fn run_sender(&self) {
        loop {
            let mut q = self
                .changed
                .wait_while(lock(&self.queue), |q| q.chunks.is_empty() && q.dropped == 0 && !q.closed)
                .unwrap_or_else(PoisonError::into_inner);
            if q.closed {
                return;
            }
            // (fd, bytes, how many of them count as pushed)
            let (fd, bytes, counted) = match q.chunks.pop_front() {
                Some((fd, bytes)) => {
                    q.bytes -= bytes.len();
                    if q.bytes <= QUEUE_LIMIT / 2 {
                        q.stalled = false;
                    }
                    let n = bytes.len() as u64;
                    (fd, bytes, n)
                }
                None => {
                    let n = std::mem::take(&mut q.dropped);
                    let mut note = format!(
                        "\n[orc-executor: {n} bytes of output dropped: the controller did not keep up]\n"
                    )
                    .into_bytes();
                    note.truncate(self.max_chunk);
                    (2, note, 0)
                }
            };
            drop(q);
            let sent = self.dispatch.notify::<StdioOutput>(self.tag, &(fd, Cow::Borrowed(&bytes[..])));
            let mut q = lock(&self.queue);
            q.sent += counted;
            if sent.is_err() {
                q.closed = true;
            }
            drop(q);
            self.changed.notify_all();
        }
    }

    fn close(&self) {
        lock(&self.queue).closed = true;
        self.changed.notify_all();
    }

    /// Waits until everything queued before this call has been sent, or until sending has
    /// not progressed for `patience`.
    fn wait_sent(&self, patience: Duration) {
        let q = lock(&self.queue);
        let target = q.pushed;
        wait_while_progressing(&self.changed, q, patience, |q| q.closed || q.sent >= target, |q| q.sent);
    }
}

/// The captured descriptors 1 and 2 of this process.
struct Capture {
    /// Read ends of the pipes now behind descriptors 1 and 2.
    pipes: [OwnedFd; 2],
    /// The descriptors 1 and 2 had before (none if they were closed).
    originals: [Option<File>; 2],
    state: Mutex<PumpState>,
    changed: Condvar,
}

#[derive(Default)]
struct PumpState {
    /// Bytes read from each pipe so far.
    read: [u64; 2],
    /// Bytes of `read` handed to the subscribers so far.
    queued: [u64; 2],
    subscribers: Vec<Arc<Subscriber>>,
}

impl PumpState {
    /// Stops sending output to `session`, if it was subscribed.
    fn unsubscribe(&mut self, session: u64) {
        self.subscribers.retain(|s| {
            let keep = s.session != session;
            if !keep {
                s.close();
            }
            keep
        });
    }
}

static CAPTURE: OnceLock<Result<Arc<Capture>, String>> = OnceLock::new();

/// A close-on-exec duplicate of standard descriptor `fd` (above 2), or None if it is not
/// open.
fn duplicate(fd: BorrowedFd<'_>) -> Option<File> {
    fd.try_clone_to_owned().ok().map(File::from)
}

/// Makes `target` refer to what `fd` refers to.
fn dup_onto(fd: RawFd, target: RawFd) -> io::Result<()> {
    loop {
        // SAFETY: dup2 between descriptors; `target` is one of 0, 1, 2, which this module owns
        // once it has taken them over.
        if unsafe { libc::dup2(fd, target) } >= 0 {
            return Ok(());
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// Bytes waiting in pipe `fd`.
fn pending_bytes(fd: RawFd) -> usize {
    let mut n: libc::c_int = 0;
    // SAFETY: FIONREAD stores an int at the pointer.
    if unsafe { libc::ioctl(fd, libc::FIONREAD, &mut n) } != 0 {
        return 0;
    }
    usize::try_from(n).unwrap_or(0)
}

/// `fd` moved above descriptor 2 if it is one of 0, 1, 2 (which were closed, so a new
/// descriptor took their place): the standard descriptors are about to be replaced.
fn above_stdio(fd: OwnedFd) -> io::Result<OwnedFd> {
    // `try_clone` duplicates to the lowest free descriptor from 3 on, close-on-exec.
    if fd.as_raw_fd() > 2 { Ok(fd) } else { fd.try_clone() }
}

/// Makes standard descriptor `target` what it was before we took it over: a duplicate of
/// `original`, or closed if it was closed (`original` is None).
fn put_back(original: Option<BorrowedFd<'_>>, target: RawFd) {
    match original {
        Some(o) => _ = dup_onto(o.as_raw_fd(), target),
        // SAFETY: closing a standard descriptor that was closed before we took it over.
        None => _ = unsafe { libc::close(target) },
    }
}

/// Puts the original descriptors 1 and 2 back (closing those that were closed).
fn restore(originals: &[Option<File>; 2]) {
    for (target, original) in [1, 2].into_iter().zip(originals) {
        put_back(original.as_ref().map(AsFd::as_fd), target);
    }
}

impl Capture {
    fn start() -> io::Result<Arc<Capture>> {
        // What C stdio holds now belongs to the old descriptors.
        crate::cstdio::flush_stdio_if_free();
        let originals = [duplicate(io::stdout().as_fd()), duplicate(io::stderr().as_fd())];
        // Both ends close-on-exec.
        let (out_r, out_w) = io::pipe()?;
        let (err_r, err_w) = io::pipe()?;
        let [out_r, out_w, err_r, err_w] =
            [out_r.into(), out_w.into(), err_r.into(), err_w.into()].map(above_stdio);
        let (out_r, out_w, err_r, err_w) = (out_r?, out_w?, err_r?, err_w?);
        if let Err(e) = dup_onto(out_w.as_raw_fd(), 1).and_then(|()| dup_onto(err_w.as_raw_fd(), 2)) {
            restore(&originals);
            return Err(e);
        }
        let capture = Arc::new(Capture {
            pipes: [out_r, err_r],
            originals,
            state: Mutex::default(),
            changed: Condvar::new(),
        });
        let pump = capture.clone();
        if let Err(e) = std::thread::Builder::new().name("orc-stdio".into()).spawn(move || pump.run_pump()) {
            // Nobody would read the pipes: writers would block once they are full.
            restore(&capture.originals);
            return Err(e);
        }
        // SAFETY: registering a function that takes nothing and never unwinds.
        unsafe { libc::atexit(drain_at_exit) };
        Ok(capture)
    }

    fn run_pump(&self) {
        let mut buf = vec![0u8; CHUNK];
        let mut polls = self.pipes.each_ref().map(|p| libc::pollfd {
            fd: p.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        });
        // A pipe whose every write end is closed (the process closed descriptor 1 or 2) is
        // left out (poll skips negative descriptors); with both gone there is nothing to do.
        while polls.iter().any(|p| p.fd >= 0) {
            // SAFETY: polling two valid descriptors.
            let n = unsafe { libc::poll(polls.as_mut_ptr(), 2, -1) };
            if n < 0 {
                if io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return;
            }
            // Two pipes cannot tell which of two writes came first. When both have bytes,
            // stderr's go first: C stdio writes stderr at once and holds stdout back, so what
            // waits in stdout's pipe was most likely written later.
            for (i, p) in polls.iter_mut().enumerate().rev() {
                if p.revents == 0 || p.fd < 0 {
                    continue;
                }
                let got = {
                    // Read and count in one step, so that `wait_drained` sees every byte
                    // either in the pipe or counted. poll said the read will not block.
                    let mut st = lock(&self.state);
                    // SAFETY: reading into our buffer from a descriptor we own.
                    let got = unsafe { libc::read(p.fd, buf.as_mut_ptr().cast(), buf.len()) };
                    let Ok(got) = usize::try_from(got) else { continue };
                    st.read[i] += got as u64;
                    got
                };
                if got == 0 {
                    p.fd = -1;
                    continue;
                }
                let bytes = &buf[..got];
                // A copy nobody reads is not ours to report.
                if let Some(mut o) = self.originals[i].as_ref() {
                    _ = o.write_all(bytes);
                }
                let fd = if i == 0 { 1 } else { 2 };
                let subscribers = lock(&self.state).subscribers.clone();
                for s in subscribers {
                    s.push(fd, bytes);
                }
                lock(&self.state).queued[i] += got as u64;
                self.changed.notify_all();
            }
        }
    }

    /// Waits until what is in the pipes now has been queued for the subscribers (and copied
    /// to the original descriptors), or until the pump has not progressed for `patience`.
    /// Later output does not count: code writing without end on another thread does not hold
    /// this up.
    fn wait_drained(&self, patience: Duration) {
        let st = lock(&self.state);
        let target: [u64; 2] =
            std::array::from_fn(|i| st.read[i] + pending_bytes(self.pipes[i].as_raw_fd()) as u64);
        wait_while_progressing(
            &self.changed,
            st,
            patience,
            |st| st.queued.iter().zip(&target).all(|(q, t)| q >= t),
            |st| st.queued.iter().sum(),
        );
    }

    fn subscriber(&self, session: u64) -> Option<Arc<Subscriber>> {
        lock(&self.state).subscribers.iter().find(|s| s.session == session).cloned()
    }
}

/// Sends this process's output to the controller of `session`, through its handler `tag`, in
/// frames of at most `max_frame_size` bytes.
///
/// # Errors
/// The frames are too small to carry output, the descriptors could not be captured (the
/// error is kept: later calls fail the same way), or the sender thread could not start.
pub(crate) fn forward(
    session: u64,
    tag: ExecutorAddr,
    dispatch: &Dispatcher,
    max_frame_size: u64,
) -> Result<(), String> {
    // A frame carries the header, then (u8 fd, u64 length, bytes).
    let overhead = orc_rpc::FRAME_HEADER_SIZE as u64 + 9;
    let max_chunk = usize::try_from(max_frame_size.saturating_sub(overhead)).unwrap_or(usize::MAX).min(CHUNK);
    if max_chunk < 64 {
        return Err(format!("frames of at most {max_frame_size} bytes are too small to carry output"));
    }
    let capture = CAPTURE
        .get_or_init(|| Capture::start().map_err(|e| format!("cannot capture descriptors 1 and 2: {e}")))
        .clone()?;
    let sub = Arc::new(Subscriber {
        session,
        tag,
        dispatch: dispatch.clone(),
        max_chunk,
        queue: Mutex::default(),
        changed: Condvar::new(),
    });
    {
        let mut st = lock(&capture.state);
        st.unsubscribe(session);
        st.subscribers.push(sub.clone());
    }
    let sender = sub.clone();
    let started =
        std::thread::Builder::new().name("orc-stdio-send".into()).spawn(move || sender.run_sender());
    if let Err(e) = started {
        lock(&capture.state).subscribers.retain(|s| !Arc::ptr_eq(s, &sub));
        return Err(format!("cannot start the output sender: {e}"));
    }
    Ok(())
}

/// Waits until what this process wrote to descriptors 1 and 2 so far has been sent to the
/// controller of `session`, if it asked for it; gives up when that stops progressing for
/// [`SYNC_LIMIT`].
pub(crate) fn sync(session: u64) {
    let Some(Ok(capture)) = CAPTURE.get() else { return };
    let Some(sub) = capture.subscriber(session) else { return };
    crate::cstdio::flush_stdio_if_free();
    capture.wait_drained(SYNC_LIMIT);
    sub.wait_sent(SYNC_LIMIT);
}

/// At the process's exit (`atexit`), with the pump still running: flushes C stdio and lets
/// the pump copy what is left in the pipes to the original descriptors, so the last words of
/// the process (an app's shutdown message) still reach its console.
extern "C" fn drain_at_exit() {
    if let Some(Ok(capture)) = CAPTURE.get() {
        crate::cstdio::flush_stdio_if_free();
        capture.wait_drained(EXIT_DRAIN_LIMIT);
    }
}

/// Descriptor 0 fed by one controller.
struct Stdin {
    session: u64,
    /// Our end of the socket behind descriptor 0.
    feed: Arc<OwnedFd>,
    /// What descriptor 0 was before (none if it was closed).
    original: Option<File>,
    ended: bool,
}

static STDIN: Mutex<Option<Stdin>> = Mutex::new(None);

/// A connected pair of stream sockets, both close-on-exec and above descriptor 2; on Apple
/// platforms, writes to the first never raise `SIGPIPE` (elsewhere [`SEND_FLAGS`] sees to
/// that).
fn stream_pair() -> io::Result<(OwnedFd, OwnedFd)> {
    let (a, b) = std::os::unix::net::UnixStream::pair()?;
    let (a, b) = (above_stdio(a.into())?, above_stdio(b.into())?);
    #[cfg(target_vendor = "apple")]
    {
        let one: libc::c_int = 1;
        // SAFETY: setsockopt on our own socket with a correctly sized int option.
        let r = unsafe {
            libc::setsockopt(
                a.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_NOSIGPIPE,
                (&raw const one).cast(),
                size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        if r != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok((a, b))
}

#[cfg(target_vendor = "apple")]
const SEND_FLAGS: libc::c_int = 0;
#[cfg(not(target_vendor = "apple"))]
const SEND_FLAGS: libc::c_int = libc::MSG_NOSIGNAL;

/// Makes descriptor 0 of this process a socket that `session` feeds ([`write_stdin`]); until
/// it writes, readers wait.
///
/// # Errors
/// Another session feeds descriptor 0 already, or the socket could not be made.
pub(crate) fn take_stdin(session: u64) -> Result<(), String> {
    let mut slot = lock(&STDIN);
    match &*slot {
        Some(s) if s.session == session => Ok(()),
        Some(_) => Err("another controller feeds this process's stdin".into()),
        None => {
            let (ours, theirs) = stream_pair().map_err(|e| format!("cannot make a socket for stdin: {e}"))?;
            let original = duplicate(io::stdin().as_fd());
            dup_onto(theirs.as_raw_fd(), 0).map_err(|e| format!("cannot replace stdin: {e}"))?;
            crate::cstdio::reset_stdin_stream();
            *slot = Some(Stdin { session, feed: Arc::new(ours), original, ended: false });
            Ok(())
        }
    }
}

/// Writes `bytes` to descriptor 0 of this process for `session`, which took it
/// ([`take_stdin`]); empty `bytes` ends the input. Blocks until the bytes are in the socket's
/// buffer, which fills when nobody reads.
///
/// # Errors
/// This session does not feed descriptor 0, already ended its input, or the socket failed
/// (the session ended meanwhile).
pub(crate) fn write_stdin(session: u64, bytes: &[u8]) -> Result<(), String> {
    let feed = {
        let mut slot = lock(&STDIN);
        let Some(s) = slot.as_mut().filter(|s| s.session == session) else {
            return Err("this controller does not feed this process's stdin (it did not ask for it in \
                        stdio_forward, or another controller does)"
                .into());
        };
        if s.ended {
            return Err("this controller already ended stdin".into());
        }
        if bytes.is_empty() {
            s.ended = true;
            // SAFETY: shutting down the write side of our own socket.
            unsafe { libc::shutdown(s.feed.as_raw_fd(), libc::SHUT_WR) };
            return Ok(());
        }
        s.feed.clone()
    };
    let mut rest = bytes;
    while !rest.is_empty() {
        // SAFETY: sending from a valid slice on our own socket.
        let n = unsafe { libc::send(feed.as_raw_fd(), rest.as_ptr().cast(), rest.len(), SEND_FLAGS) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(format!("writing to stdin failed: {e}"));
        }
        rest = &rest[usize::try_from(n).unwrap_or(rest.len()).min(rest.len())..];
    }
    Ok(())
}

/// Forgets `session`: no more output goes to it, and if it fed descriptor 0, readers see end
/// of file (a write of it still blocked fails) and descriptor 0 is what it was before.
pub(crate) fn session_ended(session: u64) {
    if let Some(Ok(capture)) = CAPTURE.get() {
        lock(&capture.state).unsubscribe(session);
    }
    let mut slot = lock(&STDIN);
    if slot.as_ref().is_some_and(|s| s.session == session)
        && let Some(s) = slot.take()
    {
        // SAFETY: shutting down our own socket wakes a send blocked on it.
        unsafe { libc::shutdown(s.feed.as_raw_fd(), libc::SHUT_RDWR) };
        put_back(s.original.as_ref().map(AsFd::as_fd), 0);
        crate::cstdio::reset_stdin_stream();
    }
}
