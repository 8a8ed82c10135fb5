//! The target's stdio here: the controller side of orcbridge's stdio extension
//! (`docs/protocol.md` §11).
//!
//! An executor reached over the network writes its output on its own terminal, or on none (an
//! app on a device). When it offers the extension, [`forward`] asks for what the
//! executor process writes to its descriptors 1 and 2 and prints it on ours, in order with the
//! REPL's own output: the executor sends the output of a call before the call's result, and
//! the session's reader prints it before it looks at the result. [`feed_stdin`] gives a
//! program our stdin.

use std::borrow::Cow;
use std::io::{IsTerminal, Read, Write};

use orc_rpc::ExecutorAddr;
use orc_rpc::info::names;
use orc_rpc::services::{
    STDIO_LINE_BUFFERED, STDIO_STDIN, StdinWrite, StdioForward, StdioOutput, decode_args,
};
use orc_rpc::sps::SpsError;

use crate::epc::{Session, SessionError};

/// The jit-dispatch tag of our output handler (any number is ours to choose; this one spells
/// "stdio" in ASCII, for logs).
pub const OUTPUT_TAG: ExecutorAddr = ExecutorAddr(0x73_7464_696f);

/// Bytes read from our stdin and sent in one call.
const STDIN_CHUNK: usize = 64 << 10;

/// Prints one forwarded chunk: `(fd, bytes)` of [`StdioOutput`].
fn print_output(args: &[u8]) -> Vec<u8> {
    match decode_args::<StdioOutput>(args) {
        Ok((fd, bytes)) => {
            // Our own buffered stdout goes first, so the two streams keep the executor's order
            // when they share a terminal or a file.
            let mut out = std::io::stdout().lock();
            let _ = out.flush();
            if fd == 2 {
                let mut err = std::io::stderr().lock();
                let _ = err.write_all(&bytes);
                let _ = err.flush();
            } else {
                let _ = out.write_all(&bytes);
                let _ = out.flush();
            }
        }
        Err(e) => tracing::warn!("forwarded output from the executor does not decode: {e}"),
    }
    orc_rpc::sps::to_bytes(&())
}

/// What [`forward`] obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forwarding {
    /// Nothing: the executor does not offer the extension (LLVM's executor).
    None,
    /// The executor's output.
    Output,
    /// The executor's output, and its stdin is ours to feed ([`feed_stdin`]).
    OutputAndStdin,
}

/// Asks the executor to send what its process writes to descriptors 1 and 2, and prints it on
/// ours from now on; with `stdin`, its descriptor 0 waits for [`feed_stdin`] (call this before
/// running anything that reads it). If the executor cannot give us its stdin (another
/// controller feeds it), says so and forwards the output only.
///
/// # Errors
/// The call failed, or the executor could not capture its descriptors (its message).
pub async fn forward(session: &Session, stdin: bool) -> Result<Forwarding, SessionError> {
    let Some(forward) = session.info().symbol(names::ORCBRIDGE_STDIO_FORWARD) else {
        return Ok(Forwarding::None);
    };
    session.on_dispatch(OUTPUT_TAG, std::sync::Arc::new(print_output));
    // What we print goes to a terminal: C stdio there would be line-buffered, so a program's
    // prompt shows before it reads.
    let line_buffered = if std::io::stdout().is_terminal() { STDIO_LINE_BUFFERED } else { 0 };
    let ask = async |flags: u32| {
        session.call::<StdioForward, _>(forward, &(OUTPUT_TAG, flags | line_buffered), |SpsError(r)| r).await
    };
    if stdin {
        match ask(STDIO_STDIN).await? {
            Ok(()) => return Ok(Forwarding::OutputAndStdin),
            // Most likely another controller feeds the executor's stdin; the output is still
            // ours.
            Err(e) => eprintln!(
                "repl: warning: the program does not get this stdin ({e}); what it reads comes from the \
                 executor's"
            ),
        }
    }
    ask(0).await?.map_err(|e| SessionError::Setup(format!("the executor cannot forward its output: {e}")))?;
    Ok(Forwarding::Output)
}

/// Feeds our stdin to the executor's descriptor 0, which [`forward`] obtained, until our stdin
/// ends, then ends the executor's (a program reading it sees end of file). Never returns once
/// the input has ended: run it beside the program (`select!`), which decides when the run is
/// over. A failure is reported and stops the feeding only; the program goes on.
pub async fn feed_stdin(session: &Session) -> std::convert::Infallible {
    if let Some(write) = session.info().symbol(names::ORCBRIDGE_STDIN_WRITE)
        && let Err(e) = feed(session, write).await
    {
        eprintln!("repl: warning: stdin is not forwarded to the program any more: {e}");
    }
    std::future::pending().await
}

async fn feed(session: &Session, write: ExecutorAddr) -> Result<(), String> {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<u8>>(2);
    // A thread of its own: a read of a terminal cannot be cancelled, and must not keep the
    // async runtime from shutting down.
    std::thread::Builder::new()
        .name("repl-stdin".into())
        .spawn(move || {
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
        })
        .map_err(|e| format!("cannot start reading stdin: {e}"))?;
    while let Some(chunk) = rx.recv().await {
        let end = chunk.is_empty();
        session
            .call::<StdinWrite, _>(write, &(Cow::Owned(chunk),), |SpsError(r)| r)
            .await
            .map_err(|e| e.to_string())??;
        if end {
            break;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use orc_rpc::services::WrapperFunction;

    #[test]
    fn output_handler_answers_like_a_void_wrapper_and_survives_garbage() {
        let args = orc_rpc::services::encode_args::<StdioOutput>(&(1u8, Cow::Borrowed(&b""[..])));
        assert_eq!(print_output(&args), Vec::<u8>::new());
        assert_eq!(print_output(&[0xff, 0x01]), Vec::<u8>::new());
        assert_eq!(StdioOutput::NAME, names::ORCBRIDGE_STDIO_OUTPUT);
    }
}
