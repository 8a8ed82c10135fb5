//! The target's stdio here: the controller side of orcbridge's stdio extension
//! (`docs/protocol.md` §11).
//!
//! An executor reached over the network writes its output on its own terminal, or on none (an
//! app on a device). When it offers the extension, [`forward`] asks for what the
//! executor process writes to its descriptors 1 and 2 and prints it on ours, in order with the
//! REPL's own output: the executor sends the output of a call before the call's result, and
//! the session's reader prints it before it looks at the result. [`feed_stdin`] (or a
//! [`StdinFeed`] driven by the caller) gives a program our stdin.
//!
//! The request goes out when the session starts and its answer is awaited only before code
//! runs ([`Forwarding::wait`]): on a slow link its round trip overlaps the compiles and the
//! first load's lookups instead of adding to the cold start.

use std::borrow::Cow;
use std::io::{IsTerminal, Read, Write};

use orc_rpc::ExecutorAddr;
use orc_rpc::info::names;
use orc_rpc::services::{
    STDIO_LINE_BUFFERED, STDIO_STDIN, StdinWrite, StdioForward, StdioOutput, WrapperFunction, decode_args,
    decode_ret,
};
use orc_rpc::sps::SpsError;

use crate::epc::{SentCall, Session, SessionError};

/// The jit-dispatch tag of our output handler (any number is ours to choose; this one spells
/// "stdio" in ASCII, for logs).
pub const OUTPUT_TAG: ExecutorAddr = ExecutorAddr(0x73_7464_696f);

/// Bytes read from our stdin and sent in one call.
const STDIN_CHUNK: usize = 64 << 10;

/// Where forwarded output goes: called with the executor's descriptor (1 or 2) and the bytes
/// its process wrote there. It runs on the session's reader and must be quick.
pub type OutputSink = std::sync::Arc<dyn Fn(u8, &[u8]) + Send + Sync>;

/// Handles one forwarded chunk, `args` of [`StdioOutput`]: hands it to `sink`. Answers as a
/// void wrapper function does, whatever `args` are.
fn print_output(args: &[u8], sink: &dyn Fn(u8, &[u8])) -> Vec<u8> {
    match decode_args::<StdioOutput>(args) {
        Ok((fd, bytes)) => sink(fd, &bytes),
        Err(e) => tracing::warn!("forwarded output from the executor does not decode: {e}"),
    }
    orc_rpc::sps::to_bytes(&())
}

/// Writes `bytes`, which the executor process wrote to its descriptor `fd`, to `err` for
/// descriptor 2, else to `out`. `out` is flushed first, so that our own buffered output comes
/// before it and the two streams keep the executor's order when they share a terminal or a
/// file.
fn write_output(fd: u8, bytes: &[u8], out: &mut impl Write, err: &mut impl Write) {
    let _ = out.flush();
    let to = if fd == 2 { err as &mut dyn Write } else { out };
    let _ = to.write_all(bytes);
    let _ = to.flush();
}

/// The executor's stdio forwarding asked for by [`forward`], answered or not yet.
#[derive(Debug)]
pub struct Forwarding {
    state: State,
}

#[derive(Debug)]
enum State {
    /// Answered (or never asked): whether the executor's stdin is ours to feed.
    Done { stdin: bool },
    /// Sent; `flags` are the request's other than [`STDIO_STDIN`].
    Asked { call: SentCall, forward: ExecutorAddr, flags: u32, stdin: bool },
}

impl Forwarding {
    /// Nothing forwarded (a launched executor shares our terminal, or we were told not to).
    pub fn none() -> Forwarding {
        Forwarding { state: State::Done { stdin: false } }
    }

    /// Waits, the first time, for the executor's answer to [`forward`]; returns whether the
    /// executor's stdin is ours to feed ([`feed_stdin`]). Call it before anything that may
    /// write output or read stdin runs in the executor. If the executor cannot give us its
    /// stdin (another controller feeds it), says so and asks again for the output only.
    ///
    /// # Errors
    /// The call failed, or the executor could not capture its descriptors (its message).
    pub async fn wait(&mut self, session: &Session) -> Result<bool, SessionError> {
        let (call, forward, flags, stdin) = match &mut self.state {
            State::Done { stdin } => return Ok(*stdin),
            State::Asked { call, forward, flags, stdin } => (call, *forward, *flags, *stdin),
        };
        let stdin = match (answer(call.result().await?)?, stdin) {
            (Ok(()), stdin) => stdin,
            // Most likely another controller feeds the executor's stdin; the output is still
            // ours.
            (Err(e), true) => {
                eprintln!(
                    "repl: warning: the program does not get this stdin ({e}); what it reads comes from \
                     the executor's"
                );
                let output_only = session.send_call(forward, &(OUTPUT_TAG, flags)).await?.result().await?;
                answer(output_only)?.map_err(refused)?;
                false
            }
            (Err(e), false) => return Err(refused(e)),
        };
        self.state = State::Done { stdin };
        Ok(stdin)
    }
}

/// The executor's answer to a forward request.
fn answer(bytes: bytes::Bytes) -> Result<Result<(), String>, SessionError> {
    let SpsError(r) = decode_ret::<StdioForward>(&bytes)
        .map_err(|error| SessionError::BadResult { function: StdioForward::NAME.to_owned(), error })?;
    Ok(r)
}

fn refused(e: String) -> SessionError {
    SessionError::Setup(format!("the executor cannot forward its output: {e}"))
}

/// Asks the executor to send what its process writes to descriptors 1 and 2, and prints it on
/// ours from now on; with `stdin`, its descriptor 0 waits for [`feed_stdin`]. Returns once the
/// request is sent: [`Forwarding::wait`] for its answer before running anything. Without the
/// extension (LLVM's executor), asks nothing.
///
/// # Errors
/// The request could not be sent.
pub async fn forward(session: &Session, stdin: bool) -> Result<Forwarding, SessionError> {
    // What we print goes to a terminal: C stdio there would be line-buffered, so a program's
    // prompt shows before it reads.
    let line_buffered = std::io::stdout().is_terminal();
    let sink: OutputSink = std::sync::Arc::new(|fd, bytes| {
        write_output(fd, bytes, &mut std::io::stdout().lock(), &mut std::io::stderr().lock())
    });
    forward_to(session, stdin, line_buffered, sink).await
}

/// As [`forward`], handing the output to `sink` instead of printing it (the session server
/// routes it to the client whose request runs); `line_buffered` asks the target's C stdio to
/// flush stdout at each newline.
///
/// # Errors
/// The request could not be sent.
pub async fn forward_to(
    session: &Session,
    stdin: bool,
    line_buffered: bool,
    sink: OutputSink,
) -> Result<Forwarding, SessionError> {
    let Some(forward) = session.info().symbol(names::ORCBRIDGE_STDIO_FORWARD) else {
        return Ok(Forwarding::none());
    };
    session.on_dispatch(OUTPUT_TAG, std::sync::Arc::new(move |args| print_output(args, &*sink)));
    let flags = if line_buffered { STDIO_LINE_BUFFERED } else { 0 };
    let ask = flags | if stdin { STDIO_STDIN } else { 0 };
    let call = session.send_call(forward, &(OUTPUT_TAG, ask)).await?;
    Ok(Forwarding { state: State::Asked { call, forward, flags, stdin } })
}

/// Feeds our stdin to the executor's descriptor 0, which [`forward`] obtained, until our stdin
/// ends, then ends the executor's (a program reading it sees end of file). Never returns once
/// the input has ended: run it beside the program (`select!`), which decides when the run is
/// over. A failure is reported and stops the feeding only; the program goes on. (A caller
/// that must use the session meanwhile drives a [`StdinFeed`] itself.)
pub async fn feed_stdin(session: &Session) -> std::convert::Infallible {
    let mut feed = StdinFeed::start(session);
    loop {
        let chunk = feed.next().await;
        feed.send(session, chunk).await;
    }
}

/// Our stdin on its way to the executor's descriptor 0: read on a thread of its own (a read
/// of a terminal cannot be cancelled, and must not keep the async runtime from shutting
/// down), in chunks of up to 64 KiB, each sent with one call of the runtime's
/// `__orcbridge_stdin_write`, one call at a time; an empty chunk, our end of file, closes the
/// executor's end. A program that stops reading its stdin leaves a write unanswered: that
/// holds back the next chunk, never the caller (the answer is awaited in [`next`](Self::next),
/// which a `select!` may give up).
#[derive(Debug)]
pub struct StdinFeed {
    /// The write function and the chunks read; `None` once feeding has stopped (the input
    /// ended, or a failure was reported) or when the runtime has no write function.
    live: Option<(ExecutorAddr, tokio::sync::mpsc::Receiver<Vec<u8>>)>,
    /// The write sent last and not yet answered, and whether it was the end.
    in_flight: Option<(SentCall, bool)>,
}

impl StdinFeed {
    /// Starts reading our stdin for `session`'s executor (whose forwarding was granted).
    /// Feeds nothing if the session runtime has no stdin function, and says why if no thread
    /// can read stdin.
    pub fn start(session: &Session) -> StdinFeed {
        let Some(write) = session.info().symbol(names::ORCBRIDGE_STDIN_WRITE) else {
            return StdinFeed::off();
        };
        let (tx, rx) = tokio::sync::mpsc::channel::<Vec<u8>>(2);
        let reader = std::thread::Builder::new().name("repl-stdin".into()).spawn(move || {
            let mut stdin = std::io::stdin().lock();
            loop {
                let mut buf = vec![0u8; STDIN_CHUNK];
                let n = match stdin.read(&mut buf) {
                    Ok(n) => n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(_) => 0,
                };
                buf.truncate(n);
                if tx.blocking_send(buf).is_err() || n == 0 {
                    return;
                }
            }
        });
        match reader {
            Ok(_) => StdinFeed { live: Some((write, rx)), in_flight: None },
            Err(e) => {
                eprintln!(
                    "repl: warning: stdin is not forwarded to the program: cannot start reading it: {e}"
                );
                StdinFeed::off()
            }
        }
    }

    /// A feed that feeds nothing.
    pub fn off() -> StdinFeed {
        StdinFeed { live: None, in_flight: None }
    }

    /// The next chunk to [`send`](Self::send) (empty: the end of our stdin), once the write
    /// sent before it is answered; never, once feeding has stopped. Cancel-safe: a chunk is
    /// taken, and an answer handled, only when this returns or moves past it.
    pub async fn next(&mut self) -> Vec<u8> {
        if let Some((call, end)) = &mut self.in_flight {
            let end = *end;
            let answer = call.result().await;
            self.in_flight = None;
            let failure = match answer {
                Err(e) => Some(e.to_string()),
                Ok(bytes) => match decode_ret::<StdinWrite>(&bytes) {
                    Err(e) => Some(format!("a bad answer from the executor: {e}")),
                    Ok(SpsError(Err(e))) => Some(e),
                    Ok(SpsError(Ok(()))) => None,
                },
            };
            match failure {
                Some(e) => self.stop(&e),
                None if end => self.live = None,
                None => {}
            }
        }
        match &mut self.live {
            Some((_, rx)) => rx.recv().await.unwrap_or_default(),
            None => std::future::pending().await,
        }
    }

    /// Sends `chunk` (from [`next`](Self::next)) to the executor's descriptor 0, without
    /// waiting for the answer. A failure to send is reported on stderr (the program goes on)
    /// and stops the feeding.
    pub async fn send(&mut self, session: &Session, chunk: Vec<u8>) {
        let Some((write, _)) = &self.live else { return };
        let end = chunk.is_empty();
        match session.send_call(*write, &(Cow::Owned(chunk),)).await {
            Ok(call) => self.in_flight = Some((call, end)),
            Err(e) => self.stop(&e.to_string()),
        }
    }

    /// Stops feeding after a failure, saying so (the program goes on).
    fn stop(&mut self, why: &str) {
        eprintln!("repl: warning: stdin is not forwarded to the program any more: {why}");
        self.live = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn print(args: &[u8]) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
        let (out, err) = (std::cell::RefCell::new(Vec::new()), std::cell::RefCell::new(Vec::new()));
        let answer = print_output(args, &|fd, bytes| {
            write_output(fd, bytes, &mut *out.borrow_mut(), &mut *err.borrow_mut())
        });
        (answer, out.into_inner(), err.into_inner())
    }

    #[test]
    fn output_goes_to_out_or_err_by_descriptor_and_garbage_writes_nothing() {
        let chunk = |fd: u8, bytes: &'static [u8]| {
            orc_rpc::services::encode_args::<StdioOutput>(&(fd, Cow::Borrowed(bytes)))
        };
        assert_eq!(print(&chunk(1, b"to stdout\n")), (vec![], b"to stdout\n".to_vec(), vec![]));
        assert_eq!(print(&chunk(2, b"to stderr\n")), (vec![], vec![], b"to stderr\n".to_vec()));
        // Answered as a void wrapper function is, with nothing written.
        assert_eq!(print(&[0xff, 0x01]), (vec![], vec![], vec![]));
    }
}
