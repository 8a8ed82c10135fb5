//! The controller side of SimpleRemoteEPC (LLVM's `SimpleRemoteEPC`): one session with one
//! executor, over TCP or over pipes to an executor we launched.
//!
//! After the executor's Setup, calls go out as CallWrapper frames numbered from 0 and their
//! Results come back in any order, matched by sequence number, so any number of calls can be
//! in flight. Calls from the executor (jit-dispatch) are answered by registered handlers,
//! which the reader runs in order with the frames around them; an unknown tag gets an empty
//! Result, as LLVM's controller answers, and a notification (its sequence number has
//! [`NOTIFICATION`] set, orcbridge's forwarded output) gets none. Frames are written whole
//! (one write each) and TCP sockets get `TCP_NODELAY`.

mod transport;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use orc_rpc::frame::NOTIFICATION;
use orc_rpc::services::{WrapperFunction, decode_ret};
use orc_rpc::sps::{DecodeError, SpsError};
use orc_rpc::{EncodedFrame, ExecutorAddr, ExecutorInfo, FrameCodec, Opcode, Raw};
use tokio::io::AsyncWriteExt;
use tokio::sync::oneshot;
use tokio_util::codec::FramedRead;

pub use transport::{ExecutorProcess, Transport};

/// Why a session or a call failed.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum SessionError {
    /// The connection could not be made.
    #[error("cannot reach the executor: {0}")]
    Connect(String),
    /// The executor's first message was not a valid Setup, or none came.
    #[error("{0}")]
    Setup(String),
    /// The session ended (the executor went away or hung up) before the call was answered.
    #[error("the executor disconnected: {0}")]
    Disconnected(String),
    /// The result did not decode for the called function (an empty result is how executors
    /// transmit an out-of-band error, whose message stays in the executor's log).
    #[error("the executor's answer to {function} does not decode: {error}")]
    BadResult {
        /// The function called.
        function: String,
        /// The decode error.
        error: DecodeError,
    },
    /// A bootstrap symbol the host needs is missing from Setup.
    #[error("the executor does not offer {0}")]
    MissingSymbol(String),
    /// The transport failed while sending.
    #[error("sending to the executor failed: {0}")]
    Send(String),
}

type Pending = Arc<Mutex<HashMap<u64, oneshot::Sender<Result<Bytes, SessionError>>>>>;
/// Frames are written whole with one `write_all` each; the mutex keeps them from interleaving.
type Writer = Arc<tokio::sync::Mutex<Box<dyn tokio::io::AsyncWrite + Send + Unpin>>>;

async fn send(writer: &Writer, frame: &EncodedFrame) -> std::io::Result<()> {
    let mut w = writer.lock().await;
    w.write_all(frame.as_bytes()).await?;
    w.flush().await
}

/// Serves one jit-dispatch call: argument bytes in, result bytes out.
pub type DispatchHandler = Arc<dyn Fn(&[u8]) -> Vec<u8> + Send + Sync>;

type Handlers = Arc<Mutex<HashMap<u64, DispatchHandler>>>;

/// A connected session.
pub struct Session {
    info: ExecutorInfo,
    writer: Writer,
    pending: Pending,
    closed: Arc<Mutex<Option<String>>>,
    next_seq: AtomicU64,
    calls: AtomicU64,
    process: Option<ExecutorProcess>,
    reader: tokio::task::JoinHandle<()>,
    handlers: Handlers,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session").field("triple", &self.info.target_triple).finish_non_exhaustive()
    }
}

impl Session {
    /// Starts a session on `transport`: reads Setup (waiting at most `timeout` for it), then
    /// serves frames in the background.
    ///
    /// # Errors
    /// [`SessionError::Setup`] if the first frame is not a valid Setup, the executor refused
    /// the session (a Hangup, e.g. a listener serving as many controllers as it may), or no
    /// Setup came within `timeout`.
    pub async fn start(transport: Transport, timeout: Duration) -> Result<Session, SessionError> {
        let Transport { reader, writer, process } = transport;
        let mut frames = FramedRead::new(reader, FrameCodec::default());
        let first = tokio::time::timeout(timeout, frames.next()).await.map_err(|_| {
            SessionError::Setup(format!(
                "no Setup message from the executor within {timeout:?} (is it busy, does it require a key \
                 (--key), or is it not an ORC executor?)"
            ))
        })?;
        let setup = match first {
            Some(Ok(f)) if f.opcode == Opcode::Setup => f,
            Some(Ok(f)) if f.opcode == Opcode::Hangup => {
                let why = match orc_rpc::sps::from_bytes::<SpsError>(&f.payload) {
                    Ok(SpsError(Err(m))) => m,
                    _ => "no reason given".into(),
                };
                return Err(SessionError::Setup(format!("the executor refused the session: {why}")));
            }
            Some(Ok(f)) => {
                return Err(SessionError::Setup(format!(
                    "bad Setup from the executor: its first message was {:?}",
                    f.opcode
                )));
            }
            Some(Err(e)) => return Err(SessionError::Setup(format!("bad Setup from the executor: {e}"))),
            None => {
                let why = match &process {
                    Some(p) => p.describe_exit().await,
                    None => "the connection closed before Setup".to_owned(),
                };
                return Err(SessionError::Setup(why));
            }
        };
        let info: ExecutorInfo = orc_rpc::sps::from_bytes(&setup.payload)
            .map_err(|e| SessionError::Setup(format!("bad Setup from the executor: {e}")))?;
        tracing::debug!(
            "Setup: {} page {} with {} bootstrap symbols",
            info.target_triple,
            info.page_size,
            info.bootstrap_symbols.len()
        );
        let pending: Pending = Arc::default();
        let closed = Arc::new(Mutex::new(None));
        let handlers: Handlers = Arc::default();
        let writer: Writer = Arc::new(tokio::sync::Mutex::new(writer));
        let reader = tokio::spawn(read_loop(
            frames,
            pending.clone(),
            closed.clone(),
            handlers.clone(),
            writer.clone(),
        ));
        Ok(Session {
            info,
            writer,
            pending,
            closed,
            next_seq: AtomicU64::new(0),
            calls: AtomicU64::new(0),
            process,
            reader,
            handlers,
        })
    }

    /// What the executor announced.
    pub fn info(&self) -> &ExecutorInfo {
        &self.info
    }

    /// The bootstrap symbol `name`.
    ///
    /// # Errors
    /// [`SessionError::MissingSymbol`].
    pub fn symbol(&self, name: &str) -> Result<ExecutorAddr, SessionError> {
        self.info.symbol(name).ok_or_else(|| SessionError::MissingSymbol(name.to_owned()))
    }

    /// Calls made to the executor so far (concurrent calls share a round trip).
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }

    /// Registers `handler` for jit-dispatch calls with tag `tag`, run by the session's reader
    /// before it looks at the next frame: its effects come before those of the Results that
    /// follow the call on the wire (forwarded output before the value it precedes). It must
    /// be quick. Its result is sent from a task of its own, unless the call is a notification
    /// ([`NOTIFICATION`]), which gets no Result.
    pub fn on_dispatch(&self, tag: ExecutorAddr, handler: DispatchHandler) {
        self.handlers.lock().unwrap_or_else(|e| e.into_inner()).insert(tag.0, handler);
    }

    /// Calls the wrapper function at `tag` with SPS-encoded `args`; returns the result bytes.
    ///
    /// # Errors
    /// [`SessionError::Disconnected`] or [`SessionError::Send`].
    pub async fn call_raw(&self, tag: ExecutorAddr, args: &[u8]) -> Result<Bytes, SessionError> {
        self.call_encoded(tag, &Raw(args)).await
    }

    /// Calls the wrapper function at `tag`, encoding `args` straight into the frame.
    async fn call_encoded(
        &self,
        tag: ExecutorAddr,
        args: &impl orc_rpc::SpsEncode,
    ) -> Result<Bytes, SessionError> {
        self.send_call(tag, args).await?.result().await
    }

    /// Sends a call of the wrapper function at `tag` with `args` (encoded straight into the
    /// frame) and returns once the whole frame is written, without waiting for the Result:
    /// [`SentCall::result`] does. A wait for the result that is given up (dropped) leaves
    /// the call running in the executor, and its Result is dropped when it comes; the frame
    /// itself is never cut short.
    ///
    /// # Errors
    /// [`SessionError::Disconnected`] or [`SessionError::Send`].
    pub async fn send_call(
        &self,
        tag: ExecutorAddr,
        args: &impl orc_rpc::SpsEncode,
    ) -> Result<SentCall, SessionError> {
        if let Some(why) = self.closed.lock().unwrap_or_else(|e| e.into_inner()).clone() {
            return Err(SessionError::Disconnected(why));
        }
        let seq = self.next_seq.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        self.pending.lock().unwrap_or_else(|e| e.into_inner()).insert(seq, tx);
        self.calls.fetch_add(1, Ordering::Relaxed);
        let frame = EncodedFrame::new(Opcode::CallWrapper, seq, tag, args);
        tracing::trace!(
            "call seq={seq} tag={tag} ({}) payload={}B",
            self.tag_name(tag),
            frame.payload().len()
        );
        if let Err(e) = send(&self.writer, &frame).await {
            self.pending.lock().unwrap_or_else(|e| e.into_inner()).remove(&seq);
            return Err(SessionError::Send(e.to_string()));
        }
        Ok(SentCall { rx: Some(rx), closed: self.closed.clone() })
    }

    /// Calls `F` at `tag` and decodes its result with `f`.
    ///
    /// # Errors
    /// As [`call_raw`](Self::call_raw), or [`SessionError::BadResult`].
    pub async fn call<F: WrapperFunction, R>(
        &self,
        tag: ExecutorAddr,
        args: &F::Args<'_>,
        f: impl FnOnce(F::Ret<'_>) -> R,
    ) -> Result<R, SessionError> {
        let bytes = self.call_encoded(tag, args).await?;
        let ret = decode_ret::<F>(&bytes)
            .map_err(|error| SessionError::BadResult { function: F::NAME.to_owned(), error })?;
        Ok(f(ret))
    }

    /// The bootstrap name of `tag`, for logs.
    fn tag_name(&self, tag: ExecutorAddr) -> &str {
        self.info.bootstrap_symbols.iter().find(|(_, a)| *a == tag).map_or("JIT'd code", |(n, _)| n.as_str())
    }

    /// Why the session ended, if it has; for a launched executor, with its exit status.
    pub async fn end_reason(&self) -> Option<String> {
        let why = self.closed.lock().unwrap_or_else(|e| e.into_inner()).clone()?;
        match &self.process {
            Some(p) => Some(format!("{why}; {}", p.describe_exit().await)),
            None => Some(why),
        }
    }

    /// The launched executor's exit code once it has exited (waits up to `limit`).
    pub async fn executor_exit_code(&self, limit: std::time::Duration) -> Option<std::process::ExitStatus> {
        self.process.as_ref()?.wait_exit(limit).await
    }

    /// Ends the session: sends Hangup (success), then waits briefly for the executor to close.
    /// An executor we launched that is still busy after 2 s (JIT'd code still running, e.g.
    /// an input whose waiting was interrupted) is killed: it was started for this session.
    pub async fn close(self) {
        let frame = EncodedFrame::new(Opcode::Hangup, 0, ExecutorAddr::NULL, &SpsError::SUCCESS);
        let _ = send(&self.writer, &frame).await;
        let _ = self.writer.lock().await.shutdown().await;
        if let Some(p) = &self.process
            && p.wait_exit(std::time::Duration::from_secs(2)).await.is_none()
        {
            tracing::debug!("the executor did not exit after Hangup; killing it");
            p.kill().await;
        }
        self.reader.abort();
    }
}

fn why_closed(closed: &Mutex<Option<String>>) -> String {
    closed.lock().unwrap_or_else(|e| e.into_inner()).clone().unwrap_or_else(|| "session closed".into())
}

/// A call sent to the executor ([`Session::send_call`]) whose Result may not have come yet.
#[derive(Debug)]
pub struct SentCall {
    /// `None` once the Result was taken.
    rx: Option<oneshot::Receiver<Result<Bytes, SessionError>>>,
    closed: Arc<Mutex<Option<String>>>,
}

impl SentCall {
    /// Waits for the call's Result and returns its bytes. A wait given up before the Result
    /// came may be started again.
    ///
    /// # Errors
    /// [`SessionError::Disconnected`] if the session ended first (or the Result was taken
    /// already).
    pub async fn result(&mut self) -> Result<Bytes, SessionError> {
        let Some(rx) = self.rx.as_mut() else {
            return Err(SessionError::Disconnected("the result of this call was taken already".into()));
        };
        let r = rx.await;
        self.rx = None;
        r.unwrap_or_else(|_| Err(SessionError::Disconnected(why_closed(&self.closed))))
    }
}

async fn read_loop(
    mut frames: FramedRead<Box<dyn tokio::io::AsyncRead + Send + Unpin>, FrameCodec>,
    pending: Pending,
    closed: Arc<Mutex<Option<String>>>,
    handlers: Handlers,
    writer: Writer,
) {
    let reason = loop {
        let f = match frames.next().await {
            Some(Ok(f)) => f,
            Some(Err(e)) => break format!("protocol error from the executor: {e}"),
            None => break "the executor closed the connection".to_owned(),
        };
        match f.opcode {
            Opcode::Result => {
                tracing::trace!("result seq={} payload={}B", f.seq_no, f.payload.len());
                let tx = pending.lock().unwrap_or_else(|e| e.into_inner()).remove(&f.seq_no);
                match tx {
                    Some(tx) => {
                        let _ = tx.send(Ok(f.payload));
                    }
                    None => break format!("the executor answered call {}, which was not made", f.seq_no),
                }
            }
            Opcode::CallWrapper => {
                let handler = handlers.lock().unwrap_or_else(|e| e.into_inner()).get(&f.tag_addr.0).cloned();
                let notification = f.seq_no & NOTIFICATION != 0;
                let result = match handler {
                    Some(serve) => serve(&f.payload),
                    None => {
                        tracing::warn!(
                            "jit-dispatch to unknown tag {}; {}",
                            f.tag_addr,
                            if notification {
                                "ignored (a notification)"
                            } else {
                                "answering with an empty result"
                            }
                        );
                        Vec::new()
                    }
                };
                // Nothing in the executor waits for a notification's Result.
                if notification {
                    continue;
                }
                // Sent from a task of its own, so the reader never waits for the writer.
                let writer = writer.clone();
                tokio::spawn(async move {
                    let frame =
                        EncodedFrame::new(Opcode::Result, f.seq_no, ExecutorAddr::NULL, &Raw(&result));
                    let _ = send(&writer, &frame).await;
                });
            }
            Opcode::Hangup => {
                let msg = match orc_rpc::sps::from_bytes::<SpsError>(&f.payload) {
                    Ok(SpsError(Err(m))) => m,
                    _ => "no reason given".into(),
                };
                break format!("the executor hung up: {msg}");
            }
            Opcode::Setup => break "the executor sent a second Setup".to_owned(),
        }
    };
    tracing::debug!("session ended: {reason}");
    *closed.lock().unwrap_or_else(|e| e.into_inner()) = Some(reason.clone());
    for (_, tx) in pending.lock().unwrap_or_else(|e| e.into_inner()).drain() {
        let _ = tx.send(Err(SessionError::Disconnected(reason.clone())));
    }
}
