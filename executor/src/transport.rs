//! Byte streams a session runs over: a TCP or Unix-domain socket, or a pair of inherited file
//! descriptors (`filedescs=IN,OUT`, pipes from a controller that launched us).

use std::fs::File;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

/// Ends a connection from any thread: makes its reader see end of file and its peer too.
pub type Closer = Arc<dyn Fn() + Send + Sync>;

/// A connected transport, split into a read half, a write half and a way to end it.
pub struct Connection {
    pub(crate) reader: Box<dyn Read + Send>,
    pub(crate) writer: Box<dyn Write + Send>,
    /// Shuts the stream down in both directions (sockets only). Makes a blocked reader see EOF
    /// and the peer see EOF, even while other handles to the socket stay open.
    pub(crate) closer: Option<Closer>,
    /// Set by whoever ends the session from outside (a listener shutting down) before it
    /// shuts the socket down: the session then stops waiting for a free call slot, which it
    /// would otherwise do for as long as `max_calls` calls run, and ends as on end of file.
    pub(crate) closing: Arc<AtomicBool>,
    pub(crate) peer: String,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection").field("peer", &self.peer).finish_non_exhaustive()
    }
}

impl Connection {
    /// A TCP connection. Sets `TCP_NODELAY`: frames are written whole, so Nagle's algorithm
    /// would only add delay (about 44 ms per message against LLVM 22.1 peers, which write
    /// header and payload separately).
    ///
    /// # Errors
    /// Socket option or `dup` failures.
    pub fn tcp(stream: TcpStream) -> io::Result<Connection> {
        stream.set_nodelay(true)?;
        let peer = stream.peer_addr().map(|a| a.to_string()).unwrap_or_else(|_| "tcp peer".into());
        let reader = QuickAckReader(stream.try_clone()?);
        let closer = stream.try_clone()?;
        Ok(Connection {
            reader: Box::new(reader),
            writer: Box::new(stream),
            closer: Some(Arc::new(move || {
                let _ = closer.shutdown(Shutdown::Both);
            })),
            closing: Arc::default(),
            peer,
        })
    }

    /// A Unix-domain stream socket.
    ///
    /// # Errors
    /// `dup` failures.
    pub fn unix(stream: UnixStream) -> io::Result<Connection> {
        let reader = stream.try_clone()?;
        let closer = stream.try_clone()?;
        Ok(Connection {
            reader: Box::new(reader),
            writer: Box::new(stream),
            closer: Some(Arc::new(move || {
                let _ = closer.shutdown(Shutdown::Both);
            })),
            closing: Arc::default(),
            peer: "unix socket".into(),
        })
    }

    /// Two unidirectional descriptors: `input` is read, `output` written (LLVM's
    /// `filedescs=IN,OUT`). The session ends when `input` reaches end of file.
    pub fn fds(input: OwnedFd, output: OwnedFd) -> Connection {
        Connection {
            reader: Box::new(File::from(input)),
            writer: Box::new(File::from(output)),
            closer: None,
            closing: Arc::default(),
            peer: "file descriptors".into(),
        }
    }

    /// Any pair of streams, e.g. for tests or an application's own transport. `closer`, when
    /// given, must make `reader` return end of file.
    pub fn from_parts(
        reader: Box<dyn Read + Send>,
        writer: Box<dyn Write + Send>,
        closer: Option<Closer>,
        peer: impl Into<String>,
    ) -> Connection {
        Connection { reader, writer, closer, closing: Arc::default(), peer: peer.into() }
    }

    /// The same connection, ending early once `closing` is set (see the field).
    pub(crate) fn closing_on(mut self, closing: Arc<AtomicBool>) -> Connection {
        self.closing = closing;
        self
    }

    /// A description of the peer, for logs.
    pub fn peer(&self) -> &str {
        &self.peer
    }
}

/// Takes ownership of descriptor `fd`, e.g. one a C caller hands over or one inherited from
/// the process that launched this one.
///
/// # Errors
/// `fd` is negative or not open (`InvalidInput`).
///
/// # Safety
/// If `fd` is open, it is the caller's to give away: nothing else owns it or closes it from
/// now on. The returned [`OwnedFd`] closes it.
pub unsafe fn take_fd(fd: RawFd) -> io::Result<OwnedFd> {
    // SAFETY: fcntl(F_GETFD) only queries the descriptor.
    if fd < 0 || unsafe { libc::fcntl(fd, libc::F_GETFD) } < 0 {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("descriptor {fd} is not open")));
    }
    // SAFETY: the descriptor is open and, as the caller guarantees, ours from now on.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Takes ownership of descriptors `input` and `output` for [`Connection::fds`] (or
/// [`Executor::serve_fds`](crate::Executor::serve_fds)), as [`take_fd`] does. One descriptor
/// given for both (`filedescs=3,3`, a socket) is owned once and duplicated, so that each half
/// closes its own. On failure neither is left open: the one that was open is closed.
///
/// # Errors
/// A descriptor is negative or not open (`InvalidInput`), or duplicating the one descriptor
/// failed.
///
/// # Safety
/// As [`take_fd`], for each of the two.
pub unsafe fn take_fds(input: RawFd, output: RawFd) -> io::Result<(OwnedFd, OwnedFd)> {
    // SAFETY: as the caller guarantees. Both are taken before either can fail, so that an
    // error closes the other.
    let (owned_input, owned_output) = unsafe { (take_fd(input), (output != input).then(|| take_fd(output))) };
    let owned_input = owned_input?;
    let owned_output = match owned_output {
        Some(o) => o?,
        None => owned_input
            .try_clone()
            .map_err(|e| io::Error::new(e.kind(), format!("cannot duplicate descriptor {input}: {e}")))?,
    };
    Ok((owned_input, owned_output))
}

/// Reads a TCP stream with `TCP_QUICKACK` re-armed before every read (Linux), so that LLVM
/// 22.1 peers, which send a frame's header and payload in two writes without `TCP_NODELAY`,
/// do not wait for our delayed ACK (about 40 ms) before their payload leaves.
pub(crate) struct QuickAckReader(pub(crate) TcpStream);

impl Read for QuickAckReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        #[cfg(target_os = "linux")]
        {
            use std::os::fd::AsRawFd;
            let one: libc::c_int = 1;
            // SAFETY: setsockopt on our own socket with a correctly sized int option. A failure
            // only costs latency, so it is ignored.
            unsafe {
                libc::setsockopt(
                    self.0.as_raw_fd(),
                    libc::IPPROTO_TCP,
                    libc::TCP_QUICKACK,
                    (&raw const one).cast(),
                    size_of::<libc::c_int>() as libc::socklen_t,
                )
            };
        }
        self.0.read(buf)
    }
}

#[cfg(test)]
mod tests {
    use std::os::fd::{AsRawFd, IntoRawFd};

    use super::*;

    #[test]
    fn descriptors_are_taken_once_each() {
        // SAFETY: -1 is never open.
        assert!(unsafe { take_fd(-1) }.is_err());
        let (r, w) = io::pipe().unwrap();
        let (r, w) = (r.into_raw_fd(), w.into_raw_fd());
        // SAFETY: fresh descriptors this test gives away.
        let (input, output) = unsafe { take_fds(r, r) }.unwrap();
        assert_eq!(input.as_raw_fd(), r);
        assert_ne!(output.as_raw_fd(), r, "one descriptor for both halves is duplicated");
        // SAFETY: as above (the failure closes `w`).
        assert!(unsafe { take_fds(w, -1) }.is_err());
    }
}
