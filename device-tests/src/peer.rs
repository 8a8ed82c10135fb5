//! A blocking protocol peer for tests: speaks frames over any byte stream, as a controller
//! would, without interpreting calls. Used to replay captured sessions and to send malformed
//! input; conformance itself is tested against LLVM's real controllers.

use std::io::{Read, Write};
use std::time::Duration;

use orc_rpc::frame::{FrameReader, write_frame};
use orc_rpc::sps::from_bytes;
use orc_rpc::{EncodedFrame, ExecutorAddr, ExecutorInfo, Frame, FrameError, Opcode, Raw};

/// One end of a session.
pub struct Peer {
    reader: FrameReader<Box<dyn Read + Send>>,
    writer: Box<dyn Write + Send>,
    socket: Option<std::net::TcpStream>,
}

impl std::fmt::Debug for Peer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Peer")
    }
}

impl Peer {
    /// A peer over separate read and write halves.
    pub fn new(reader: Box<dyn Read + Send>, writer: Box<dyn Write + Send>) -> Peer {
        Peer { reader: FrameReader::new(reader), writer, socket: None }
    }

    /// A peer on a TCP connection to `port` on loopback, with a read timeout so a test cannot
    /// hang.
    pub fn connect(port: u16) -> Peer {
        let s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect to executor");
        s.set_read_timeout(Some(Duration::from_secs(20))).expect("timeout");
        s.set_nodelay(true).expect("nodelay");
        let mut p =
            Peer::new(Box::new(s.try_clone().expect("clone")), Box::new(s.try_clone().expect("clone")));
        p.socket = Some(s);
        p
    }

    /// Reads the Setup message.
    pub fn read_setup(&mut self) -> ExecutorInfo {
        let f = self.read().expect("a frame").expect("Setup, not EOF");
        assert_eq!(f.opcode, Opcode::Setup, "first frame must be Setup");
        from_bytes(&f.payload).expect("Setup payload decodes")
    }

    /// Reads the next frame.
    ///
    /// # Errors
    /// As [`FrameReader::read_frame`].
    pub fn read(&mut self) -> Result<Option<Frame>, FrameError> {
        self.reader.read_frame()
    }

    /// Writes raw bytes (possibly not a valid frame).
    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).expect("write");
        self.writer.flush().expect("flush");
    }

    /// Writes one frame.
    pub fn send(&mut self, opcode: Opcode, seq_no: u64, tag: ExecutorAddr, payload: &[u8]) {
        write_frame(&mut self.writer, &EncodedFrame::new(opcode, seq_no, tag, &Raw(payload)))
            .expect("write frame");
    }

    /// Calls `tag` with `payload` as sequence number `seq_no` and returns the Result payload
    /// (answering nothing else; fails on any other frame).
    pub fn call(&mut self, seq_no: u64, tag: ExecutorAddr, payload: &[u8]) -> Vec<u8> {
        self.send(Opcode::CallWrapper, seq_no, tag, payload);
        let f = self.read().expect("read result").expect("result, not EOF");
        assert_eq!((f.opcode, f.seq_no), (Opcode::Result, seq_no), "expected the Result of call {seq_no}");
        f.payload.to_vec()
    }

    /// Half-closes a TCP peer: the executor reads end of file, we can still read.
    pub fn half_close(&mut self) {
        if let Some(s) = &self.socket {
            s.shutdown(std::net::Shutdown::Write).expect("shutdown");
        }
    }
}
