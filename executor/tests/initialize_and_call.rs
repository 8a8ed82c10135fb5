//! orcbridge's `initialize_and_call` over a real loopback session: the region is initialized
//! as `initialize` would do it, then the function is called as a CallWrapper would call it;
//! a failed initialize calls nothing, and a failed call leaves the region initialized with
//! its crash kept for `take_crash_report`.

use std::borrow::Cow;
use std::ffi::c_char;
use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use orc_executor::{CWrapperFunctionBuffer, Executor, ExecutorAddr};
use orc_rpc::frame::{EncodedFrame, FrameReader, Opcode};
use orc_rpc::info::names;
use orc_rpc::services::{
    MemInitializeAndCall, MemReadUInt8s, MemReserve, TakeCrashReport, WrapperFunction, decode_ret,
    encode_args,
};
use orc_rpc::sps::SpsExpected;
use orc_rpc::types::{FinalizeRequest, RemoteAllocGroup, SegFinalizeRequest};
use orc_rpc::{ExecutorInfo, Raw};

static ANSWERED: AtomicUsize = AtomicUsize::new(0);

/// A wrapper function that answers `got:` and its argument bytes.
extern "C" fn answer(data: *const c_char, size: usize) -> CWrapperFunctionBuffer {
    ANSWERED.fetch_add(1, Ordering::SeqCst);
    let args = if size == 0 {
        &[][..]
    } else {
        // SAFETY: the executor passes its argument buffer, valid for `size` bytes.
        unsafe { std::slice::from_raw_parts(data.cast::<u8>(), size) }
    };
    CWrapperFunctionBuffer::from_result(Ok([b"got:", args].concat()))
}

/// A wrapper function that faults (the executor's crash guard ends the call).
extern "C" fn crash(_: *const c_char, _: usize) -> CWrapperFunctionBuffer {
    // SAFETY: none; the read faults on purpose, at an address nothing maps.
    let _ = unsafe { std::ptr::read_volatile(8 as *const u8) };
    CWrapperFunctionBuffer::from_result(Ok(Vec::new()))
}

/// A controller speaking the protocol by hand.
struct Controller {
    stream: TcpStream,
    reader: FrameReader<TcpStream>,
    info: ExecutorInfo,
    seq: u64,
}

impl Controller {
    fn connect(port: u16) -> Controller {
        let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        stream.set_read_timeout(Some(Duration::from_secs(20))).expect("timeout");
        let mut reader = FrameReader::new(stream.try_clone().expect("clone"));
        let setup = reader.read_frame().expect("a frame").expect("not end of stream");
        assert_eq!(setup.opcode, Opcode::Setup);
        let info = orc_rpc::sps::from_bytes::<ExecutorInfo>(&setup.payload).expect("Setup decodes");
        Controller { stream, reader, info, seq: 0 }
    }

    fn symbol(&self, name: &str) -> ExecutorAddr {
        self.info.symbol(name).unwrap_or_else(|| panic!("{name} not in Setup"))
    }

    /// Calls `F` (a bootstrap symbol) and returns the Result's payload.
    fn call<F: WrapperFunction>(&mut self, args: &F::Args<'_>) -> Vec<u8> {
        self.seq += 1;
        let frame = EncodedFrame::new(
            Opcode::CallWrapper,
            self.seq,
            self.symbol(F::NAME),
            &Raw(&encode_args::<F>(args)),
        );
        self.stream.write_all(frame.as_bytes()).expect("send");
        loop {
            let f = self.reader.read_frame().expect("a frame").expect("not end of stream");
            if f.opcode == Opcode::Result && f.seq_no == self.seq {
                return f.payload.to_vec();
            }
        }
    }
}

fn segment(addr: ExecutorAddr, size: u64, content: &[u8]) -> FinalizeRequest<'_> {
    FinalizeRequest {
        segments: vec![SegFinalizeRequest {
            ag: RemoteAllocGroup::RW,
            addr,
            size,
            content: Cow::Borrowed(content),
        }],
        actions: Vec::new(),
    }
}

#[test]
fn initializes_then_calls_as_a_call_wrapper_would() {
    let executor = Executor::builder()
        .bootstrap_symbol("test_answer", ExecutorAddr(answer as *const () as usize as u64))
        .bootstrap_symbol("test_crash", ExecutorAddr(crash as *const () as usize as u64))
        .build();
    let listener = executor.spawn_listener(TcpListener::bind("127.0.0.1:0").expect("bind")).expect("spawn");
    let mut c = Controller::connect(listener.local_addr().port());
    let inst = c.symbol(names::MEMORY_MANAGER_INSTANCE);
    let (answer_at, crash_at) = (c.symbol("test_answer"), c.symbol("test_crash"));
    let page = c.info.page_size;
    let bytes = c.call::<MemReserve>(&(inst, 4 * page));
    let base = decode_ret::<MemReserve>(&bytes).expect("reserve answers").0.expect("reserved");

    // Initialized, then called with the arguments given: the key and the call's result.
    let bytes =
        c.call::<MemInitializeAndCall>(&(inst, segment(base, page, b"one"), answer_at, Cow::Borrowed(b"x")));
    let SpsExpected(r) = decode_ret::<MemInitializeAndCall>(&bytes).expect("decodes");
    assert_eq!(r, Ok((base, Some(Cow::Borrowed(&b"got:x"[..])))));
    assert_eq!(ANSWERED.load(Ordering::SeqCst), 1);

    // A failed initialize (memory nobody reserved) is the error, and nothing is called.
    let nowhere = ExecutorAddr(page);
    let bytes =
        c.call::<MemInitializeAndCall>(&(inst, segment(nowhere, page, b""), answer_at, Cow::Borrowed(b"")));
    let SpsExpected(r) = decode_ret::<MemInitializeAndCall>(&bytes).expect("decodes");
    assert!(r.is_err(), "{r:?}");
    assert_eq!(ANSWERED.load(Ordering::SeqCst), 1, "called after a failed initialize");

    // A call that may not be made fails out of band: no result, no crash, region initialized.
    let second = ExecutorAddr(base.0 + page);
    let bytes = c.call::<MemInitializeAndCall>(&(
        inst,
        segment(second, page, b"two"),
        ExecutorAddr(8),
        Cow::Borrowed(b""),
    ));
    let SpsExpected(r) = decode_ret::<MemInitializeAndCall>(&bytes).expect("decodes");
    assert_eq!(r, Ok((second, None)));
    assert_eq!(decode_ret::<TakeCrashReport>(&c.call::<TakeCrashReport>(&(inst,))).expect("decodes"), None);
    let read = c.call::<MemReadUInt8s>(&(vec![second, ExecutorAddr(second.0 + 2)],));
    assert_eq!(decode_ret::<MemReadUInt8s>(&read).expect("decodes"), b"to");

    // A call that crashes: no result, the crash kept for take_crash_report, region initialized.
    let third = ExecutorAddr(base.0 + 2 * page);
    let bytes =
        c.call::<MemInitializeAndCall>(&(inst, segment(third, page, b"3"), crash_at, Cow::Borrowed(b"")));
    let SpsExpected(r) = decode_ret::<MemInitializeAndCall>(&bytes).expect("decodes");
    assert_eq!(r, Ok((third, None)));
    let report = decode_ret::<TakeCrashReport>(&c.call::<TakeCrashReport>(&(inst,))).expect("decodes");
    let (signal, address, text) = report.expect("a crash report");
    assert_eq!((signal, address), (orc_rpc::crash::SIGSEGV, 8), "{text}");
    assert!(text.contains("SIGSEGV"), "{text}");
    let read = c.call::<MemReadUInt8s>(&(vec![third],));
    assert_eq!(decode_ret::<MemReadUInt8s>(&read).expect("decodes"), b"3");
    listener.shutdown().expect("shutdown");
}
