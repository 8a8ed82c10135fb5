//! The session server's protocol: each message is one frame, a big-endian `u32` length
//! followed by that many bytes of the message encoded with `postcard` (tokio-util's
//! `LengthDelimitedCodec`); a frame is at most [`MAX_FRAME`] bytes.
//!
//! A connection starts with the client's [`ToServer::Hello`], answered by
//! [`ToClient::Hello`] or [`ToClient::Refused`] (another protocol version). Then the client
//! sends requests, one at a time: [`ToServer::Eval`] is answered by [`ToClient::Started`] once
//! the server takes it up (other clients' requests go first), any number of
//! [`ToClient::Output`], then [`ToClient::Done`]; [`ToServer::Status`] by [`ToClient::Status`].
//!
//! `Hello` is the first variant of both enums, with the version its first field, and
//! `Refused` the second of [`ToClient`], in every version, so that a mismatch is always
//! understood as one.

use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use serde::{Deserialize, Serialize};
use tokio::net::UnixStream;
use tokio_util::codec::{Framed, LengthDelimitedCodec};

/// The protocol version; a client and a server of different versions do not talk.
pub const VERSION: u32 = 2;

/// The largest frame either side sends or accepts, in bytes (a source file's worth of input
/// or output per frame; longer output travels in several).
pub const MAX_FRAME: usize = 8 << 20;

/// A client's message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ToServer {
    /// The first message: the client's protocol version.
    Hello {
        /// [`VERSION`] of the client.
        version: u32,
    },
    /// Evaluate one complete input (code or a `%` command) as the REPL does.
    Eval {
        /// The input.
        code: String,
    },
    /// Report the counters.
    Status,
}

/// Which of the client's streams output goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Stream {
    /// Values, and what the program writes to its stdout.
    Stdout,
    /// Diagnostics and errors, and what the program writes to its stderr.
    Stderr,
}

/// How an [`ToServer::Eval`] ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Outcome {
    /// It ran.
    Done,
    /// It did not compile, link or run; the session is as before.
    Failed,
    /// `%quit`: the client leaves (the session stays).
    Quit,
    /// The server ended (its executor went away) before or while it ran; why.
    Ended(String),
}

impl From<crate::input::Outcome> for Outcome {
    fn from(o: crate::input::Outcome) -> Outcome {
        match o {
            crate::input::Outcome::Done => Outcome::Done,
            crate::input::Outcome::Failed => Outcome::Failed,
            crate::input::Outcome::Quit => Outcome::Quit,
        }
    }
}

/// The server's counters ([`ToServer::Status`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Status {
    /// The server's process id.
    pub pid: u32,
    /// Inputs evaluated (`-e` inputs, lines of scripts, files loaded, commands).
    pub inputs: u64,
    /// Of those, the ones that failed.
    pub failed: u64,
    /// Units of code loaded in the executor and not unloaded (the start-up unit included).
    pub units: u64,
    /// Executor memory those units take, in bytes (whole pages).
    pub memory: u64,
    /// Compiled objects taken from the on-disk cache instead of compiled.
    pub cache_hits: u64,
    /// Server-side time of a request (from taking it up to its answer), in milliseconds:
    /// 50th, 90th and 99th percentile over the latest requests; `None` before the first.
    pub latency_ms: Option<[f64; 3]>,
    /// Seconds since the server started.
    pub uptime_secs: f64,
    /// The executor: how it was reached (launched program or address).
    pub executor: String,
    /// The triple the executor announced.
    pub triple: String,
    /// Clients connected now (this one included).
    pub clients: u64,
    /// A request is running.
    pub busy: bool,
}

/// A server's message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ToClient {
    /// The answer to [`ToServer::Hello`]: the server's version (equal to the client's),
    /// process id, and the options it was started with.
    Hello {
        /// [`VERSION`] of the server.
        version: u32,
        /// The server's process id.
        pid: u32,
        /// The session's options, as the client that started the server passed them
        /// (`client::server_options`: executor, language, clang and library options, idle
        /// time; not `-v`): a client whose own differ is told that they are not used.
        options: Vec<String>,
    },
    /// The server will not talk to this client; why.
    Refused(String),
    /// The server took up the request.
    Started,
    /// Output of the request.
    Output(Stream, Vec<u8>),
    /// The request ended.
    Done(Outcome),
    /// The answer to [`ToServer::Status`].
    Status(Status),
}

/// A connection carrying [`ToServer`] one way and [`ToClient`] the other.
#[derive(Debug)]
pub struct Conn {
    framed: Framed<UnixStream, LengthDelimitedCodec>,
}

/// Why a message could not be read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WireError {
    /// The peer closed the connection at a message boundary.
    #[error("the connection closed")]
    Closed,
    /// Reading or writing failed (including a frame over [`MAX_FRAME`]).
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// A frame that is not a message of this protocol version.
    #[error("a message that does not decode: {0}")]
    Decode(#[from] postcard::Error),
}

impl Conn {
    /// Frames `stream`.
    pub fn new(stream: UnixStream) -> Conn {
        let codec = LengthDelimitedCodec::builder().max_frame_length(MAX_FRAME).new_codec();
        Conn { framed: Framed::new(stream, codec) }
    }

    /// Sends `msg`.
    ///
    /// # Errors
    /// The connection failed, or `msg` is larger than [`MAX_FRAME`].
    pub async fn send<T: Serialize>(&mut self, msg: &T) -> Result<(), WireError> {
        let bytes = postcard::to_stdvec(msg)?;
        self.framed.send(Bytes::from(bytes)).await?;
        Ok(())
    }

    /// Receives the next message.
    ///
    /// # Errors
    /// [`WireError::Closed`] at the end of the stream, else a failure or an undecodable frame.
    pub async fn recv<T: for<'de> Deserialize<'de>>(&mut self) -> Result<T, WireError> {
        let frame = self.framed.next().await.ok_or(WireError::Closed)??;
        Ok(postcard::from_bytes(&frame)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hello_and_refused_keep_their_encoding_across_versions() {
        // Variant index 0, then the version as a varint: what every version's client sends.
        assert_eq!(postcard::to_stdvec(&ToServer::Hello { version: 1 }).unwrap(), [0, 1]);
        // The server's Hello grew fields after the version (version 2: its options); the
        // variant and the version come first in every version.
        let hello = postcard::to_stdvec(&ToClient::Hello { version: 1, pid: 2, options: vec![] }).unwrap();
        assert_eq!(hello.get(..2), Some(&[0, 1][..]));
        assert_eq!(postcard::to_stdvec(&ToClient::Refused("x".into())).unwrap(), [1, 1, b'x']);
    }

    #[tokio::test]
    async fn messages_round_trip_and_garbage_is_an_error() {
        let (a, b) = UnixStream::pair().unwrap();
        let (mut a, mut b) = (Conn::new(a), Conn::new(b));
        let msg = ToClient::Output(Stream::Stderr, b"diag\n".to_vec());
        a.send(&msg).await.unwrap();
        assert_eq!(b.recv::<ToClient>().await.unwrap(), msg);
        // A frame whose bytes are no message.
        a.framed.send(Bytes::from_static(&[0xff, 0xff, 0xff])).await.unwrap();
        assert!(matches!(b.recv::<ToClient>().await, Err(WireError::Decode(_))));
        // Over the limit: refused before it is read into memory.
        let mut raw = b.framed.into_inner();
        tokio::io::AsyncWriteExt::write_all(&mut raw, &(MAX_FRAME as u32 + 1).to_be_bytes()).await.unwrap();
        assert!(matches!(a.recv::<ToServer>().await, Err(WireError::Io(_))));
        drop(raw);
    }
}
