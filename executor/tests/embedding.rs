//! The embedding API on real loopback sockets: a background listener that stops promptly and
//! ends its sessions, and the opt-outs of process-wide effects as a controller sees them in
//! Setup.

use std::ffi::c_char;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use orc_executor::{CWrapperFunctionBuffer, Executor, ExecutorAddr, ExecutorBuilder};
use orc_rpc::frame::{EncodedFrame, FrameReader, Opcode};
use orc_rpc::info::names;
use orc_rpc::{ExecutorInfo, Raw};

/// Connects to `executor`'s listener and reads its Setup message.
fn connect_and_read_setup(port: u16) -> (TcpStream, ExecutorInfo) {
    let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    let mut reader = FrameReader::new(stream.try_clone().expect("clone"));
    let frame = reader.read_frame().expect("a frame").expect("not end of stream");
    assert_eq!(frame.opcode, Opcode::Setup);
    let info = orc_rpc::sps::from_bytes::<ExecutorInfo>(&frame.payload).expect("Setup decodes");
    (stream, info)
}

fn setup_of(builder: ExecutorBuilder) -> ExecutorInfo {
    let listener =
        builder.build().spawn_listener(TcpListener::bind("127.0.0.1:0").expect("bind")).expect("spawn");
    let (_stream, info) = connect_and_read_setup(listener.local_addr().port());
    listener.shutdown().expect("shutdown");
    info
}

#[test]
fn shutdown_stops_accepting_and_ends_running_sessions_promptly() {
    let executor = Executor::builder().idle_close(None).call_grace(Duration::from_millis(200)).build();
    let listener = executor.spawn_listener(TcpListener::bind("127.0.0.1:0").expect("bind")).expect("spawn");
    let addr = listener.local_addr();
    assert!(addr.ip().is_loopback() && addr.port() != 0, "{addr}");
    // Two controllers in sessions that would otherwise never end (no idle close).
    let (mut a, _) = connect_and_read_setup(addr.port());
    let (mut b, _) = connect_and_read_setup(addr.port());

    let start = Instant::now();
    listener.shutdown().expect("shutdown");
    // Bounds that tell "promptly" from "never" on a loaded machine, not speed targets.
    assert!(start.elapsed() < Duration::from_secs(10), "shutdown took {:?}", start.elapsed());
    // Each controller sees its connection closed (end of file, or a reset).
    for s in [&mut a, &mut b] {
        let mut rest = Vec::new();
        let _ = s.read_to_end(&mut rest);
        assert!(rest.is_empty(), "unexpected bytes after Setup: {rest:?}");
    }
    // Nobody accepts any more.
    assert!(TcpStream::connect(addr).is_err(), "{addr} still accepts after shutdown");
}

#[test]
fn a_listener_without_sessions_stops_at_once_and_on_drop() {
    let executor = Executor::builder().build();
    let listener = executor.spawn_listener(TcpListener::bind("127.0.0.1:0").expect("bind")).expect("spawn");
    let addr = listener.local_addr();
    let start = Instant::now();
    drop(listener);
    assert!(start.elapsed() < Duration::from_secs(10), "drop took {:?}", start.elapsed());
    assert!(TcpStream::connect(addr).is_err());
}

#[test]
fn crash_guard_and_gdb_jit_interface_can_be_turned_off() {
    let on = setup_of(Executor::builder());
    assert!(on.symbol(names::ORCBRIDGE_GUARDED_CALL).is_some());
    assert_eq!(on.symbol(names::REGISTER_JIT_LOADER_GDB).is_some(), cfg!(feature = "gdb-jit-interface"));

    let off = setup_of(Executor::builder().crash_guard(false).gdb_jit_interface(false));
    assert!(off.symbol(names::ORCBRIDGE_GUARDED_CALL).is_none());
    assert!(off.symbol(names::REGISTER_JIT_LOADER_GDB).is_none());
    // Everything else is still there.
    assert_eq!(
        off.bootstrap_symbols.len() + 1 + usize::from(cfg!(feature = "gdb-jit-interface")),
        on.bootstrap_symbols.len()
    );
}

static STUCK_RELEASED: AtomicBool = AtomicBool::new(false);
static STUCK_ENTERED: AtomicUsize = AtomicUsize::new(0);

/// A wrapper function that does not return until the test lets it (as JIT'd code stuck in a
/// loop would not return at all).
extern "C" fn stuck(_: *const c_char, _: usize) -> CWrapperFunctionBuffer {
    STUCK_ENTERED.fetch_add(1, Ordering::SeqCst);
    while !STUCK_RELEASED.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(5));
    }
    CWrapperFunctionBuffer::from_result(Ok(Vec::new()))
}

/// Lets every `stuck` call return when dropped, so a failing test does not leave them behind.
struct ReleaseStuck;

impl Drop for ReleaseStuck {
    fn drop(&mut self) {
        STUCK_RELEASED.store(true, Ordering::SeqCst);
    }
}

#[test]
fn shutdown_is_bounded_when_a_session_waits_for_a_call_slot() {
    let _release = ReleaseStuck;
    // Long enough that the checks below happen within it even on a loaded machine.
    let grace = Duration::from_secs(3);
    let executor = Executor::builder()
        .idle_close(None)
        .call_grace(grace)
        .max_calls(1)
        .bootstrap_symbol("test_stuck", ExecutorAddr(stuck as *const () as usize as u64))
        .build();
    let listener = executor.spawn_listener(TcpListener::bind("127.0.0.1:0").expect("bind")).expect("spawn");
    let addr = listener.local_addr();
    let (mut controller, info) = connect_and_read_setup(addr.port());
    let target = info.symbol("test_stuck").expect("test_stuck in Setup");

    // The only call slot is taken by a call that never returns; the second call makes the
    // session's reader wait for a slot.
    for seq in 1..=2 {
        let call = EncodedFrame::new(Opcode::CallWrapper, seq, target, &Raw(&[]));
        controller.write_all(call.as_bytes()).expect("send CallWrapper");
    }
    let start = Instant::now();
    while STUCK_ENTERED.load(Ordering::SeqCst) == 0 {
        assert!(start.elapsed() < Duration::from_secs(10), "the first call did not start");
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(STUCK_ENTERED.load(Ordering::SeqCst), 1, "max_calls(1) let a second call start");

    let (done, stopped) = mpsc::channel();
    let start = Instant::now();
    std::thread::spawn(move || {
        let _ = done.send(listener.shutdown());
    });
    // The listening socket is closed at once, before the sessions have ended (which takes the
    // call grace here): new controllers are refused by the system.
    loop {
        if TcpStream::connect(addr).is_err() {
            break;
        }
        assert!(start.elapsed() < grace, "{addr} still accepted {:?} into shutdown", start.elapsed());
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(stopped.try_recv().is_err(), "shutdown finished before the call grace");
    let result = stopped.recv_timeout(Duration::from_secs(30)).expect("shutdown did not return within 30 s");
    result.expect("shutdown");
    let took = start.elapsed();
    // The call grace plus the listener's own 1 s backstop, with room for a loaded machine.
    assert!(took < grace + Duration::from_secs(5), "shutdown took {took:?} (call grace {grace:?})");
    // The controller sees its connection close, without a result for either call.
    let mut rest = Vec::new();
    let _ = controller.read_to_end(&mut rest);
    assert!(rest.is_empty(), "unexpected bytes: {rest:?}");
    assert_eq!(STUCK_ENTERED.load(Ordering::SeqCst), 1, "the waiting call ran after shutdown");
}
