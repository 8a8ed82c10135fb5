//! orcbridge's secure sessions on the executor's side ([`orc_rpc::secure`]): the key exchange
//! on an accepted TCP connection, then blocking reader and writer halves that decrypt and
//! encrypt records.

use std::io::{self, Read, Write};
use std::net::TcpStream;

use crate::transport::{Connection, QuickAckReader};

/// How long a controller may take to complete the key exchange of a keyed listener.
pub(crate) const HANDSHAKE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// A TCP connection after the key exchange of orcbridge's secure sessions
/// ([`orc_rpc::secure`]): the controller's first message, our reply, its confirmation, each
/// read within [`HANDSHAKE_TIMEOUT`]; then frames travel in encrypted records.
///
/// # Errors
/// The handshake failed (a wrong key, a replayed or altered handshake, a controller without
/// the key that sends nothing), or the socket failed.
pub(crate) fn accept(stream: TcpStream, key: &orc_rpc::secure::Key) -> io::Result<Connection> {
    use orc_rpc::secure::Responder;
    let refused =
        |e: orc_rpc::secure::SecureError| io::Error::new(io::ErrorKind::PermissionDenied, e.to_string());
    stream.set_read_timeout(Some(HANDSHAKE_TIMEOUT))?;
    let mut reader = QuickAckReader(stream.try_clone()?);
    let first = read_record(&mut reader).map_err(|e| match e.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => io::Error::new(
            io::ErrorKind::TimedOut,
            format!(
                "no key exchange within {HANDSHAKE_TIMEOUT:?}: the controller has no key (an LLVM \
                 controller, or repl without --key)"
            ),
        ),
        io::ErrorKind::UnexpectedEof => io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the controller closed the connection before the key exchange (it has no key?)",
        ),
        _ => e,
    })?;
    let (pending, reply) = Responder::new(key).and_then(|r| r.answer(&first)).map_err(refused)?;
    (&stream).write_all(&reply)?;
    let confirm = read_record(&mut reader)?;
    let (sealer, opener) = pending.confirm(&confirm).map_err(refused)?;
    stream.set_read_timeout(None)?;
    let mut conn = Connection::tcp(stream)?;
    conn.reader = Box::new(SecureReader { inner: reader, opener, plain: Vec::new(), at: 0 });
    conn.writer = Box::new(SecureWriter { inner: conn.writer, sealer });
    conn.peer = format!("{} (key verified)", conn.peer);
    Ok(conn)
}

/// Reads one length-prefixed record or handshake message; `Ok(empty)` never: end of stream
/// before a record is `UnexpectedEof`.
fn read_record(r: &mut impl Read) -> io::Result<Vec<u8>> {
    let mut header = [0u8; 2];
    r.read_exact(&mut header)?;
    let mut body = vec![0u8; orc_rpc::secure::record_len(header)];
    r.read_exact(&mut body)?;
    Ok(body)
}

/// The read half of a secure session: records in, the frame stream out.
struct SecureReader<R> {
    inner: R,
    opener: orc_rpc::secure::Opener,
    plain: Vec<u8>,
    at: usize,
}

impl<R: Read> Read for SecureReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.at == self.plain.len() {
            let mut header = [0u8; 2];
            // End of stream between records is the end of the session.
            match self.inner.read(&mut header[..1])? {
                0 => return Ok(0),
                _ => self.inner.read_exact(&mut header[1..])?,
            }
            let mut body = vec![0u8; orc_rpc::secure::record_len(header)];
            self.inner.read_exact(&mut body)?;
            self.plain = self
                .opener
                .open(&body)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
            self.at = 0;
        }
        let n = buf.len().min(self.plain.len() - self.at);
        buf[..n].copy_from_slice(&self.plain[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

/// The write half of a secure session: each write becomes whole records, written at once.
struct SecureWriter {
    inner: Box<dyn Write + Send>,
    sealer: orc_rpc::secure::Sealer,
}

impl Write for SecureWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut out = Vec::with_capacity(buf.len() + 64);
        self.sealer.seal(buf, &mut out).map_err(|e| io::Error::other(e.to_string()))?;
        self.inner.write_all(&out)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}
