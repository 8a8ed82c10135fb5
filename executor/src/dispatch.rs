//! Frames going to the controller: one writer shared by all threads, and jit-dispatch calls
//! (executor → controller CallWrappers) waiting for their Results.
//!
//! JIT'd code reaches the controller through the bootstrap symbol
//! `__llvm_orc_SimpleRemoteEPC_dispatch_fn` with the context `…_dispatch_ctx`
//! (`docs/protocol.md` §10): the calling thread sends a CallWrapper with the next sequence
//! number of the executor's own numbering and blocks until the matching Result arrives. When
//! the session ends, waiting calls fail with "disconnecting" and new ones with LLVM's "jit_dispatch
//! not available (EPC server shut down)".

use std::collections::HashMap;
use std::ffi::{c_char, c_void};
use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};

use orc_rpc::frame::write_frame;
use orc_rpc::services::WrapperFunction;
use orc_rpc::{EncodedFrame, ExecutorAddr, Opcode, Raw};

use crate::call::{CWrapperFunctionBuffer, WrapperResult};
use crate::registry;

/// The sending half of a session: frames are written whole, one at a time.
pub struct Outbox {
    writer: Mutex<Box<dyn Write + Send>>,
    max_frame_size: u64,
    broken: AtomicBool,
}

impl std::fmt::Debug for Outbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbox").field("broken", &self.broken).finish_non_exhaustive()
    }
}

impl Outbox {
    /// Wraps the transport's write half.
    pub fn new(writer: Box<dyn Write + Send>, max_frame_size: u64) -> Self {
        Outbox { writer: Mutex::new(writer), max_frame_size, broken: AtomicBool::new(false) }
    }

    /// Sends one frame with a single write.
    ///
    /// # Errors
    /// The transport's error, or a frame above the size limit (the peer would refuse it).
    pub fn send(&self, frame: &EncodedFrame) -> io::Result<()> {
        let h = frame.header();
        let opcode = Opcode::from_wire(h.opcode);
        // Notifications (forwarded output) are not logged: a log on the forwarded stderr would
        // make more output, and more notifications, without end.
        if !(opcode == Some(Opcode::CallWrapper) && is_notification(h.seq_no)) {
            tracing::debug!(
                "send {opcode:?} seq={} tag={} payload={}B",
                h.seq_no,
                h.tag_addr,
                frame.payload().len()
            );
        }
        if frame.len() as u64 > self.max_frame_size {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "frame of {} bytes exceeds the maximum frame size of {}",
                    frame.len(),
                    self.max_frame_size
                ),
            ));
        }
        let mut w = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        let r = write_frame(&mut *w, frame);
        if r.is_err() {
            self.broken.store(true, Ordering::Relaxed);
        }
        r
    }
}

/// Executor → controller calls of one session. Clones share the session's numbering.
#[derive(Debug, Clone)]
pub struct Dispatcher {
    inner: Arc<DispatchState>,
}

#[derive(Debug)]
struct DispatchState {
    outbox: Arc<Outbox>,
    next_seq: AtomicU64,
    /// Calls waiting for their Result.
    pending: Mutex<HashMap<u64, mpsc::SyncSender<WrapperResult>>>,
    closed: AtomicBool,
}

const SHUT_DOWN: &str = "jit_dispatch not available (EPC server shut down)";

/// The bit that marks a notification's sequence number. Nothing waits for a notification's
/// Result, so none is remembered: a Result with this bit is accepted and dropped, and a
/// controller that never answers notifications costs no memory.
pub use orc_rpc::frame::NOTIFICATION;

impl Dispatcher {
    /// A dispatcher sending through `outbox`.
    pub fn new(outbox: Arc<Outbox>) -> Self {
        Dispatcher {
            inner: Arc::new(DispatchState {
                outbox,
                next_seq: AtomicU64::new(0),
                pending: Mutex::default(),
                closed: AtomicBool::new(false),
            }),
        }
    }

    /// Calls the controller's handler for `tag` with `args` and waits for its result.
    ///
    /// # Errors
    /// Out-of-band errors: the session has ended, the transport failed, or the controller went
    /// away while the call was pending.
    pub fn call(&self, tag: ExecutorAddr, args: &[u8]) -> WrapperResult {
        let s = &*self.inner;
        if s.closed.load(Ordering::Acquire) {
            return Err(SHUT_DOWN.into());
        }
        let seq = s.next_seq.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = mpsc::sync_channel(1);
        self.pending().insert(seq, tx);
        // Re-check after registering: disconnect() may have drained the table in between.
        if s.closed.load(Ordering::Acquire) {
            self.pending().remove(&seq);
            return Err(SHUT_DOWN.into());
        }
        let frame = EncodedFrame::new(Opcode::CallWrapper, seq, tag, &Raw(args));
        if let Err(e) = s.outbox.send(&frame) {
            self.pending().remove(&seq);
            return Err(format!("jit-dispatch to tag {tag} failed: {e}"));
        }
        rx.recv().unwrap_or_else(|_| Err("disconnecting".into()))
    }

    /// Calls the controller's handler for `tag`, of signature `F`, with `args` without waiting
    /// for the result,
    /// which is ignored when it comes. The frame is written (in order with every other frame
    /// of the session) when this returns. Not logged ([`Outbox::send`]), so that forwarding
    /// the process's stderr cannot feed on its own log lines.
    ///
    /// # Errors
    /// The session has ended, or the transport failed.
    pub fn notify<F: WrapperFunction>(&self, tag: ExecutorAddr, args: &F::Args<'_>) -> io::Result<()> {
        let s = &*self.inner;
        if s.closed.load(Ordering::Acquire) {
            return Err(io::Error::new(io::ErrorKind::NotConnected, SHUT_DOWN));
        }
        let seq = NOTIFICATION | s.next_seq.fetch_add(1, Ordering::Relaxed);
        let frame = EncodedFrame::new(Opcode::CallWrapper, seq, tag, args);
        s.outbox.send(&frame)
    }

    /// Delivers the Result for `seq`. Returns false if no call with that number is waiting
    /// (a notification's Result is accepted and dropped).
    pub fn complete(&self, seq: u64, payload: Vec<u8>) -> bool {
        if is_notification(seq) {
            return true;
        }
        match self.pending().remove(&seq) {
            Some(tx) => {
                let _ = tx.send(Ok(payload));
                true
            }
            None => false,
        }
    }

    /// Number of calls waiting for the controller (notifications do not count: nothing waits
    /// for them).
    pub fn outstanding(&self) -> usize {
        self.pending().len()
    }

    /// Ends the session for dispatch: waiting calls fail with "disconnecting".
    pub fn disconnect(&self) {
        self.inner.closed.store(true, Ordering::Release);
        for (_, tx) in self.pending().drain() {
            let _ = tx.send(Err("disconnecting".into()));
        }
    }

    fn pending(&self) -> std::sync::MutexGuard<'_, HashMap<u64, mpsc::SyncSender<WrapperResult>>> {
        self.inner.pending.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// True if `seq` numbers a notification ([`NOTIFICATION`]).
pub fn is_notification(seq: u64) -> bool {
    seq & NOTIFICATION != 0
}

/// The jit-dispatch entry published as `__llvm_orc_SimpleRemoteEPC_dispatch_fn`:
/// `CWrapperFunctionBuffer (void *ctx, const void *tag, const char *data, size_t size)`.
///
/// # Safety
/// `data` must be valid for `size` bytes (or `size` must be 0). `ctx` is checked against the
/// live sessions before use.
pub unsafe extern "C" fn dispatch_fn(
    ctx: *mut c_void,
    tag: *const c_void,
    data: *const c_char,
    size: usize,
) -> CWrapperFunctionBuffer {
    let args: &[u8] = if size == 0 || data.is_null() {
        &[]
    } else {
        // SAFETY: per this function's contract.
        unsafe { std::slice::from_raw_parts(data.cast(), size) }
    };
    let result = std::panic::catch_unwind(|| match registry::by_dispatch_ctx(ExecutorAddr::from_ptr(ctx)) {
        Some(s) => s.dispatch.call(ExecutorAddr::from_ptr(tag), args),
        None => Err(format!("jit-dispatch with unknown context {ctx:p}")),
    })
    .unwrap_or_else(|_| Err("jit-dispatch panicked".into()));
    CWrapperFunctionBuffer::from_result(result)
}
