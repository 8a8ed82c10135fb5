//! Authenticated, encrypted sessions: an orcbridge extension for executors reachable over a
//! network, with no I/O of its own (each side drives it with its own sockets).
//!
//! Both ends hold the same 32-byte pre-shared key ([`Key`], a file written by
//! `orc-executor keygen`). Before any SimpleRemoteEPC frame, the controller and the executor
//! run the Noise handshake `Noise_NNpsk0_25519_ChaChaPoly_BLAKE2s` (the Noise Protocol
//! Framework, revision 34, through the `snow` crate): fresh X25519 keys on both sides give
//! forward secrecy, and the pre-shared key, mixed in before the first message, authenticates
//! both ends. Then the controller sends one encrypted confirmation record, and only when it
//! decrypts does the executor send Setup, so a replayed or tampered first message, or a peer
//! without the key, gets nothing beyond the handshake reply. After that the byte stream of
//! frames travels in records.
//!
//! On the wire every handshake message and record is a 2-byte big-endian length followed by
//! that many bytes (at most 65535, the Noise message limit); a record is the ChaCha20-Poly1305
//! encryption of up to 65519 bytes of the stream with a 16-byte tag. Each direction numbers its
//! records from 0 (the Noise nonce), so a reordered, dropped or replayed record fails to
//! decrypt and ends the session.

use std::path::Path;
use std::sync::Arc;

use snow::{HandshakeState, StatelessTransportState};

/// The Noise protocol name.
pub const NOISE_PARAMS: &str = "Noise_NNpsk0_25519_ChaChaPoly_BLAKE2s";

/// Bound into the handshake hash: a peer speaking another version of this extension fails the
/// handshake instead of misreading it.
const PROLOGUE: &[u8] = b"orcbridge secure session v1";

/// Largest handshake message or record body, in bytes (the Noise limit).
pub const MAX_RECORD: usize = 65535;

/// Bytes of authentication tag in each record.
const TAG: usize = 16;

/// Most plaintext bytes in one record.
pub const MAX_PLAINTEXT: usize = MAX_RECORD - TAG;

/// The plaintext of the controller's confirmation record.
const CONFIRM: &[u8] = b"orcbridge: key confirmed";

/// The first line of a key file, before the key's hex digits.
const KEY_FILE_TAG: &str = "orcbridge-key-v1";

/// Why a key or a secure session failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SecureError {
    /// The key file is missing, malformed or readable by others.
    #[error("{0}")]
    Key(String),
    /// The peer does not hold the same key, tampered with the handshake, or does not speak this
    /// extension.
    #[error("the key exchange failed: {0}")]
    Handshake(String),
    /// A record did not decrypt (altered, reordered or replayed) or is malformed.
    #[error("a record failed to decrypt: {0}")]
    Record(String),
}

type Result<T> = std::result::Result<T, SecureError>;

/// A 32-byte pre-shared key.
#[derive(Clone, PartialEq, Eq)]
pub struct Key([u8; 32]);

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Key(..)")
    }
}

impl Key {
    /// A new random key from the operating system's generator.
    ///
    /// # Errors
    /// [`SecureError::Key`] if the generator fails.
    pub fn generate() -> Result<Key> {
        let mut k = [0u8; 32];
        getrandom::fill(&mut k).map_err(|e| SecureError::Key(format!("no random numbers: {e}")))?;
        Ok(Key(k))
    }

    /// The key in a key file's text: `orcbridge-key-v1` and 64 hex digits on one line.
    ///
    /// # Errors
    /// [`SecureError::Key`] saying what is wrong.
    pub fn parse(text: &str) -> Result<Key> {
        let bad = |why: &str| SecureError::Key(format!("not an orcbridge key: {why}"));
        let mut words = text.split_whitespace();
        if words.next() != Some(KEY_FILE_TAG) {
            return Err(bad(&format!("it does not start with {KEY_FILE_TAG}")));
        }
        let hex = words.next().ok_or_else(|| bad("the key is missing"))?;
        if words.next().is_some() || hex.len() != 64 {
            return Err(bad("expected 64 hex digits"));
        }
        let mut k = [0u8; 32];
        for (i, pair) in hex.as_bytes().chunks(2).enumerate() {
            let s = std::str::from_utf8(pair).map_err(|_| bad("expected 64 hex digits"))?;
            k[i] = u8::from_str_radix(s, 16).map_err(|_| bad("expected 64 hex digits"))?;
        }
        Ok(Key(k))
    }

    /// The key file's text for this key.
    pub fn to_file_text(&self) -> String {
        let hex: String = self.0.iter().map(|b| format!("{b:02x}")).collect();
        format!("{KEY_FILE_TAG} {hex}\n")
    }

    /// Reads a key file. On Unix the file must not be readable or writable by group or others
    /// (as ssh requires of private keys).
    ///
    /// # Errors
    /// [`SecureError::Key`] naming the file and the problem.
    pub fn load(path: &Path) -> Result<Key> {
        let name = path.display();
        let text = std::fs::read_to_string(path).map_err(|e| SecureError::Key(format!("{name}: {e}")))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(path)
                .map_err(|e| SecureError::Key(format!("{name}: {e}")))?
                .permissions()
                .mode();
            if mode & 0o077 != 0 {
                return Err(SecureError::Key(format!(
                    "{name}: the key file can be read or changed by others (mode {:o}); run chmod 600 {name}",
                    mode & 0o777
                )));
            }
        }
        Key::parse(&text).map_err(|e| SecureError::Key(format!("{name}: {e}")))
    }

    /// Writes a new random key to a new file at `path`, readable only by its owner (mode 0600
    /// on Unix). An existing file is not overwritten.
    ///
    /// # Errors
    /// [`SecureError::Key`] naming the file (it exists, or cannot be written).
    pub fn create_file(path: &Path) -> Result<Key> {
        use std::io::Write;
        let key = Key::generate()?;
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        let name = path.display();
        let mut f = opts.open(path).map_err(|e| SecureError::Key(format!("{name}: {e}")))?;
        f.write_all(key.to_file_text().as_bytes()).map_err(|e| SecureError::Key(format!("{name}: {e}")))?;
        Ok(key)
    }

    fn builder(&self) -> Result<snow::Builder<'_>> {
        let params = NOISE_PARAMS.parse().map_err(|e| SecureError::Handshake(format!("{e}")))?;
        snow::Builder::new(params)
            .psk(0, &self.0)
            .and_then(|b| b.prologue(PROLOGUE))
            .map_err(|e| SecureError::Handshake(e.to_string()))
    }
}

/// Prefixes `body` with its 2-byte big-endian length.
fn framed(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(2 + body.len());
    out.extend_from_slice(&(body.len() as u16).to_be_bytes());
    out.extend_from_slice(body);
    out
}

/// The length of the record or handshake message whose 2-byte header is `header`.
pub fn record_len(header: [u8; 2]) -> usize {
    usize::from(u16::from_be_bytes(header))
}

fn handshake_err(e: snow::Error) -> SecureError {
    SecureError::Handshake(match e {
        snow::Error::Decrypt => "the peer does not hold this key, or the message was altered".into(),
        e => e.to_string(),
    })
}

/// The controller's side of the handshake.
pub struct Initiator(HandshakeState);

impl std::fmt::Debug for Initiator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Initiator")
    }
}

impl Initiator {
    /// Starts the handshake; returns the framed first message to send.
    ///
    /// # Errors
    /// [`SecureError::Handshake`] if the Noise state cannot be built.
    pub fn start(key: &Key) -> Result<(Initiator, Vec<u8>)> {
        let mut hs = key.builder()?.build_initiator().map_err(handshake_err)?;
        let mut msg = vec![0u8; MAX_RECORD];
        let n = hs.write_message(&[], &mut msg).map_err(handshake_err)?;
        Ok((Initiator(hs), framed(&msg[..n])))
    }

    /// Reads the executor's reply (the body after its length header); returns the channel and
    /// the framed confirmation record to send before anything else.
    ///
    /// # Errors
    /// [`SecureError::Handshake`]: the executor does not hold the key or does not speak this
    /// extension.
    pub fn finish(mut self, reply: &[u8]) -> Result<(Sealer, Opener, Vec<u8>)> {
        let mut payload = vec![0u8; MAX_RECORD];
        self.0.read_message(reply, &mut payload).map_err(handshake_err)?;
        let state = Arc::new(self.0.into_stateless_transport_mode().map_err(handshake_err)?);
        let mut sealer = Sealer { state: state.clone(), nonce: 0 };
        let mut confirm = Vec::new();
        sealer.seal(CONFIRM, &mut confirm)?;
        Ok((sealer, Opener { state, nonce: 0 }, confirm))
    }
}

/// The executor's side of the handshake.
pub struct Responder(HandshakeState);

impl std::fmt::Debug for Responder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Responder")
    }
}

impl Responder {
    /// Ready to read the controller's first message.
    ///
    /// # Errors
    /// [`SecureError::Handshake`] if the Noise state cannot be built.
    pub fn new(key: &Key) -> Result<Responder> {
        Ok(Responder(key.builder()?.build_responder().map_err(handshake_err)?))
    }

    /// Reads the controller's first message (the body after its length header); returns the
    /// framed reply to send and the channel, usable once the confirmation record decrypts.
    ///
    /// # Errors
    /// [`SecureError::Handshake`]: the controller does not hold the key, or the message was
    /// altered.
    pub fn answer(mut self, first: &[u8]) -> Result<(Unconfirmed, Vec<u8>)> {
        let mut payload = vec![0u8; MAX_RECORD];
        self.0.read_message(first, &mut payload).map_err(handshake_err)?;
        let mut reply = vec![0u8; MAX_RECORD];
        let n = self.0.write_message(&[], &mut reply).map_err(handshake_err)?;
        let state = Arc::new(self.0.into_stateless_transport_mode().map_err(handshake_err)?);
        Ok((Unconfirmed { state }, framed(&reply[..n])))
    }
}

/// The executor's channel before the controller proved it completed the handshake.
pub struct Unconfirmed {
    state: Arc<StatelessTransportState>,
}

impl std::fmt::Debug for Unconfirmed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Unconfirmed")
    }
}

impl Unconfirmed {
    /// Checks the controller's confirmation record (the body after its length header).
    ///
    /// # Errors
    /// [`SecureError::Handshake`]: a replayed first message (whose sender cannot complete the
    /// exchange) or an altered record.
    pub fn confirm(self, record: &[u8]) -> Result<(Sealer, Opener)> {
        let mut opener = Opener { state: self.state.clone(), nonce: 0 };
        match opener.open(record) {
            Ok(p) if p == CONFIRM => Ok((Sealer { state: self.state, nonce: 0 }, opener)),
            Ok(_) => Err(SecureError::Handshake("the confirmation record is wrong".into())),
            Err(_) => Err(SecureError::Handshake(
                "the confirmation did not decrypt: a replayed or altered handshake".into(),
            )),
        }
    }
}

/// Encrypts the outgoing byte stream into records.
pub struct Sealer {
    state: Arc<StatelessTransportState>,
    nonce: u64,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sealer").field("nonce", &self.nonce).finish_non_exhaustive()
    }
}

impl Sealer {
    /// Appends `plaintext` to `out` as framed records (as many as it takes).
    ///
    /// # Errors
    /// [`SecureError::Record`] if encryption fails (it does not, short of nonce exhaustion).
    pub fn seal(&mut self, plaintext: &[u8], out: &mut Vec<u8>) -> Result<()> {
        let mut body = vec![0u8; MAX_RECORD];
        for chunk in plaintext.chunks(MAX_PLAINTEXT) {
            let n = self
                .state
                .write_message(self.nonce, chunk, &mut body)
                .map_err(|e| SecureError::Record(e.to_string()))?;
            self.nonce += 1;
            out.extend_from_slice(&(n as u16).to_be_bytes());
            out.extend_from_slice(&body[..n]);
        }
        Ok(())
    }
}

/// Decrypts incoming records.
pub struct Opener {
    state: Arc<StatelessTransportState>,
    nonce: u64,
}

impl std::fmt::Debug for Opener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Opener").field("nonce", &self.nonce).finish_non_exhaustive()
    }
}

impl Opener {
    /// Decrypts the next record (the body after its length header).
    ///
    /// # Errors
    /// [`SecureError::Record`]: altered, reordered, replayed or truncated.
    pub fn open(&mut self, record: &[u8]) -> Result<Vec<u8>> {
        if record.len() < TAG {
            return Err(SecureError::Record(format!("a record of {} bytes is too short", record.len())));
        }
        let mut out = vec![0u8; record.len()];
        let n = self
            .state
            .read_message(self.nonce, record, &mut out)
            .map_err(|_| SecureError::Record("altered, reordered or replayed".into()))?;
        self.nonce += 1;
        out.truncate(n);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(framed: &[u8]) -> &[u8] {
        let n = record_len([framed[0], framed[1]]);
        assert_eq!(framed.len(), 2 + n);
        &framed[2..]
    }

    fn connect(ck: &Key, ek: &Key) -> Result<((Sealer, Opener), (Sealer, Opener))> {
        let (init, m1) = Initiator::start(ck)?;
        let (pending, m2) = Responder::new(ek)?.answer(body(&m1))?;
        let (cs, co, confirm) = init.finish(body(&m2))?;
        let (es, eo) = pending.confirm(body(&confirm))?;
        Ok(((cs, co), (es, eo)))
    }

    #[test]
    fn the_same_key_gives_a_channel_both_ways() {
        let k = Key::generate().unwrap();
        let ((mut cs, mut co), (mut es, mut eo)) = connect(&k, &k).unwrap();
        let big: Vec<u8> = (0..200_000u32).map(|i| i as u8).collect();
        let mut wire = Vec::new();
        cs.seal(&big, &mut wire).unwrap();
        let mut got = Vec::new();
        let mut rest = &wire[..];
        while !rest.is_empty() {
            let n = record_len([rest[0], rest[1]]);
            got.extend(eo.open(&rest[2..2 + n]).unwrap());
            rest = &rest[2 + n..];
        }
        assert_eq!(got, big);
        let mut back = Vec::new();
        es.seal(b"setup", &mut back).unwrap();
        assert_eq!(co.open(body(&back)).unwrap(), b"setup");
    }

    #[test]
    fn a_wrong_key_a_replay_and_tampering_are_refused() {
        let (k, other) = (Key::generate().unwrap(), Key::generate().unwrap());
        assert!(matches!(connect(&k, &other), Err(SecureError::Handshake(_))));

        // A replayed first message gets a reply, but its sender cannot confirm.
        let (init, m1) = Initiator::start(&k).unwrap();
        let (pending, m2) = Responder::new(&k).unwrap().answer(body(&m1)).unwrap();
        let (_, _, confirm) = init.finish(body(&m2)).unwrap();
        pending.confirm(body(&confirm)).unwrap();
        let (replayed, _) = Responder::new(&k).unwrap().answer(body(&m1)).unwrap();
        assert!(matches!(replayed.confirm(body(&confirm)), Err(SecureError::Handshake(_))));

        // A flipped bit in the first message.
        let (_, mut m1) = Initiator::start(&k).unwrap();
        let last = m1.len() - 1;
        m1[last] ^= 1;
        assert!(Responder::new(&k).unwrap().answer(body(&m1)).is_err());

        // A flipped bit, a replayed or a dropped record.
        let ((mut cs, _), (_, mut eo)) = connect(&k, &k).unwrap();
        let (mut a, mut b) = (Vec::new(), Vec::new());
        cs.seal(b"one", &mut a).unwrap();
        cs.seal(b"two", &mut b).unwrap();
        let mut bad = a.clone();
        bad[4] ^= 0x80;
        assert!(eo.open(body(&bad)).is_err());
        assert_eq!(eo.open(body(&a)).unwrap(), b"one");
        assert!(eo.open(body(&a)).is_err(), "replayed");
        assert_eq!(eo.open(body(&b)).unwrap(), b"two");
    }

    #[test]
    fn key_files() {
        let k = Key::generate().unwrap();
        assert_eq!(Key::parse(&k.to_file_text()).unwrap(), k);
        assert!(Key::parse("orcbridge-key-v1 abcd").is_err());
        assert!(Key::parse(&k.to_file_text().replace("orcbridge-key-v1", "other")).is_err());
        assert_eq!(format!("{k:?}"), "Key(..)");
    }
}
