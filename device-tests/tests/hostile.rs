//! A listening `orc-executor` against controllers that are buggy, slow, concurrent or hostile,
//! with well-formed calls: several controllers at once, isolation between their sessions, a
//! write racing a release, a controller vanishing while its code spins, results nobody reads,
//! oversized reads, and the executor's own wrappers as run targets. Each case gets an error
//! result (or a refusal) and a log line, and the executor serves the next controller.
//!
//! JIT'd code here is a few bytes of x86-64 machine code placed by the test itself.
#![cfg(target_arch = "x86_64")]

use std::time::{Duration, Instant};

use device_tests::peer::Peer;
use device_tests::*;
use orc_rpc::info::names;
use orc_rpc::services::{self as svc, WrapperFunction, encode_args};
use orc_rpc::sps::{SpsError, SpsExpected, from_bytes};
use orc_rpc::types::{FinalizeRequest, RemoteAllocGroup, SegFinalizeRequest};
use orc_rpc::{ExecutorAddr, ExecutorAddrRange, ExecutorInfo, Opcode};

/// `xor eax, eax; ret`: `int f(void) { return 0; }`.
const RETURN_0: &[u8] = &[0x31, 0xc0, 0xc3];
/// `jmp .`: a function that never returns.
const SPIN: &[u8] = &[0xeb, 0xfe];

/// A test controller: a peer with the executor's Setup and its own sequence numbers.
struct Controller {
    peer: Peer,
    info: ExecutorInfo,
    seq: u64,
}

impl Controller {
    fn connect(port: u16) -> Controller {
        let mut peer = Peer::connect(port);
        let info = peer.read_setup();
        Controller { peer, info, seq: 0 }
    }

    fn sym(&self, name: &str) -> ExecutorAddr {
        self.info.symbol(name).unwrap_or_else(|| panic!("{name} not in Setup"))
    }

    fn inst(&self) -> ExecutorAddr {
        self.sym(names::MEMORY_MANAGER_INSTANCE)
    }

    /// Calls `F` (at its bootstrap symbol) and returns the raw result bytes.
    fn call<F: WrapperFunction>(&mut self, args: &F::Args<'_>) -> Vec<u8> {
        let tag = self.sym(F::NAME);
        self.call_at(tag, &encode_args::<F>(args))
    }

    fn call_at(&mut self, tag: ExecutorAddr, payload: &[u8]) -> Vec<u8> {
        self.seq += 1;
        self.peer.call(self.seq, tag, payload)
    }

    /// Sends a call without waiting for its result.
    fn send<F: WrapperFunction>(&mut self, args: &F::Args<'_>) -> u64 {
        self.seq += 1;
        let tag = self.sym(F::NAME);
        self.peer.send(Opcode::CallWrapper, self.seq, tag, &encode_args::<F>(args));
        self.seq
    }

    fn reserve(&mut self, size: u64) -> ExecutorAddr {
        let inst = self.inst();
        let r = self.call::<svc::MemReserve>(&(inst, size));
        from_bytes::<SpsExpected<ExecutorAddr>>(&r).unwrap().0.expect("reserve")
    }

    /// Places `code` (RX) at `base` and 8 bytes of data (RW) one page further.
    fn place(&mut self, base: ExecutorAddr, code: &[u8]) -> Result<ExecutorAddr, String> {
        let req = FinalizeRequest {
            segments: vec![
                SegFinalizeRequest { ag: RemoteAllocGroup::RX, addr: base, size: 16, content: code.into() },
                SegFinalizeRequest {
                    ag: RemoteAllocGroup::RW,
                    addr: ExecutorAddr(base.0 + 4096),
                    size: 8,
                    content: (&[42u8, 0, 0, 0, 0, 0, 0, 0][..]).into(),
                },
            ],
            actions: vec![],
        };
        let inst = self.inst();
        let r = self.call::<svc::MemInitialize>(&(inst, req));
        from_bytes::<SpsExpected<ExecutorAddr>>(&r).unwrap().0
    }

    fn read_u64(&mut self, at: ExecutorAddr) -> Option<u64> {
        let r = self.call::<svc::MemReadUInt64s>(&(vec![at],));
        from_bytes::<Vec<u64>>(&r).ok().map(|v| v[0])
    }
}

fn wait_for_log(path: &std::path::Path, needle: &str) -> String {
    let start = Instant::now();
    loop {
        let log = std::fs::read_to_string(path).unwrap_or_default();
        if log.contains(needle) || start.elapsed() > Duration::from_secs(10) {
            return log;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn threads_of(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/task")).map_or(0, |d| d.count())
}

#[test]
fn controllers_are_served_at_once_and_cannot_reach_each_others_sessions() {
    let dir = scratch();
    let err = dir.path().join("err");
    let (_exe, port) = start_listening_executor(&[], &dir.path().join("out"), &err);

    // A loads code and data and then sits idle with live memory: before sessions ran
    // concurrently, this locked every other controller out.
    let mut a = Controller::connect(port);
    let base = a.reserve(2 * 4096);
    let key = a.place(base, RETURN_0).expect("A places its code");
    let data = ExecutorAddr(base.0 + 4096);
    assert_eq!(a.read_u64(data), Some(42));

    // B is served while A is connected.
    let start = Instant::now();
    let mut b = Controller::connect(port);
    assert!(start.elapsed() < Duration::from_secs(3), "B waited for Setup");
    let b_base = b.reserve(4096);

    // B cannot read, write, finalize into, deinitialize, release or run A's memory, nor use
    // A's instances; each attempt is an error result.
    assert_eq!(b.read_u64(data), None, "B read A's memory");
    assert!(b.call::<svc::MemWriteUInt64s>(&(vec![(data, 7)],)).is_empty());
    assert_eq!(a.read_u64(data), Some(42), "B's write changed A's memory");
    assert!(b.place(base, SPIN).unwrap_err().contains("not inside memory reserved in this session"));
    let b_inst = b.inst();
    let r = b.call::<svc::MemDeinitialize>(&(b_inst, vec![key]));
    assert!(from_bytes::<SpsError>(&r).unwrap().0.is_err(), "B deinitialized A's code");
    let r = b.call::<svc::MemRelease>(&(b_inst, vec![base]));
    assert!(from_bytes::<SpsError>(&r).unwrap().0.is_err(), "B released A's slab");
    // A's instance numbers are A's alone.
    let a_inst = a.inst();
    for r in [
        b.call::<svc::MemRelease>(&(a_inst, vec![base])),
        b.call::<svc::MemDeinitialize>(&(a_inst, vec![key])),
    ] {
        let e = from_bytes::<SpsError>(&r).unwrap().0.unwrap_err();
        assert!(e.contains("not a memory manager instance of this session"), "{e}");
    }
    let r = b.call::<svc::MemReserve>(&(a_inst, 4096));
    assert!(from_bytes::<SpsExpected<ExecutorAddr>>(&r).unwrap().0.is_err());
    assert!(b.call::<svc::TakeCrashReport>(&(a_inst,)).is_empty());
    let a_dylibs = a.sym(names::DYLIB_MANAGER_INSTANCE);
    let r = b.call::<svc::DylibOpen>(&(a_dylibs, String::new(), 0));
    assert!(from_bytes::<SpsExpected<ExecutorAddr>>(&r).unwrap().0.is_err(), "B used A's dylib manager");
    let a_process = {
        let r = a.call::<svc::DylibOpen>(&(a_dylibs, String::new(), 0));
        from_bytes::<SpsExpected<ExecutorAddr>>(&r).unwrap().0.unwrap()
    };
    let r = b.call::<svc::DylibResolve>(&(a_process, vec![]));
    assert!(
        from_bytes::<SpsExpected<Vec<Option<orc_rpc::types::ExecutorSymbolDef>>>>(&r).unwrap().0.is_err()
    );
    // Running A's code: refused, as a CallWrapper or as a program.
    assert!(b.call::<svc::RunAsVoidFunction>(&(base,)).is_empty());
    assert!(b.call_at(base, b"").is_empty());
    assert!(wait_for_log(&err, "refusing to call").contains("refusing to call"));

    // A is unaffected and keeps running; B's own memory works.
    let r = a.call::<svc::RunAsVoidFunction>(&(base,));
    assert_eq!(from_bytes::<i32>(&r).unwrap(), 0, "A's code runs");
    assert_eq!(a.read_u64(data), Some(42));
    b.place(b_base, RETURN_0).expect_err("B's slab is one page: the data page is outside");
    let log = std::fs::read_to_string(&err).unwrap();
    assert!(!log.contains("panicked"), "{log}");
}

#[test]
fn the_executors_own_wrappers_are_not_run_targets() {
    let dir = scratch();
    let err = dir.path().join("err");
    let (_exe, port) = start_listening_executor(&[], &dir.path().join("out"), &err);
    let mut c = Controller::connect(port);
    for name in [names::MEMORY_MANAGER_RESERVE, names::RUN_AS_INT_FUNCTION, names::DISPATCH_FN] {
        let target = c.sym(name);
        assert!(c.call::<svc::RunAsIntFunction>(&(target, 1)).is_empty(), "{name} was run");
        assert!(c.call::<svc::RunAsVoidFunction>(&(target,)).is_empty(), "{name} was run");
        assert!(c.call::<svc::RunAsMain>(&(target, vec![])).is_empty(), "{name} was run");
    }
    assert!(wait_for_log(&err, "refusing to call").contains("cannot be run as programs"));
    // Still fine.
    let base = c.reserve(2 * 4096);
    c.place(base, RETURN_0).unwrap();
    assert_eq!(from_bytes::<i32>(&c.call::<svc::RunAsVoidFunction>(&(base,))).unwrap(), 0);
}

#[test]
fn writes_racing_a_release_of_the_same_slab_never_crash_the_executor() {
    let dir = scratch();
    let err = dir.path().join("err");
    let (exe, port) = start_listening_executor(&[], &dir.path().join("out"), &err);
    let mut c = Controller::connect(port);
    let inst = c.inst();
    let big = vec![0x5au8; 1 << 20];
    for round in 0..100 {
        let base = c.reserve(1 << 20);
        // Both in flight at once: the write may land before the release or be refused after
        // it, but never write into memory that is being unmapped.
        let w = c.send::<svc::MemWriteBuffers>(&(vec![(base, big.as_slice().into())],));
        let r = c.send::<svc::MemRelease>(&(inst, vec![base]));
        let mut answered = 0;
        while answered < 2 {
            let f = c.peer.read().expect("read").unwrap_or_else(|| panic!("round {round}: executor gone"));
            assert_eq!(f.opcode, Opcode::Result);
            assert!(f.seq_no == w || f.seq_no == r);
            if f.seq_no == r {
                assert_eq!(from_bytes::<SpsError>(&f.payload).unwrap(), SpsError::SUCCESS, "round {round}");
            }
            answered += 1;
        }
    }
    assert!(std::fs::metadata(format!("/proc/{}", exe.id())).is_ok());
    assert!(!std::fs::read_to_string(&err).unwrap().contains("panicked"));
}

#[test]
fn a_controller_that_vanishes_while_its_code_spins_costs_the_others_nothing() {
    let dir = scratch();
    let err = dir.path().join("err");
    let (_exe, port) = start_listening_executor(&[], &dir.path().join("out"), &err);
    let mut a = Controller::connect(port);
    let base = a.reserve(2 * 4096);
    a.place(base, SPIN).unwrap();
    a.send::<svc::RunAsVoidFunction>(&(base,));
    std::thread::sleep(Duration::from_millis(100));
    drop(a);
    // The session ends within the grace period and says so; another controller is served at
    // once.
    let start = Instant::now();
    let mut b = Controller::connect(port);
    let b_base = b.reserve(2 * 4096);
    b.place(b_base, RETURN_0).unwrap();
    assert_eq!(from_bytes::<i32>(&b.call::<svc::RunAsVoidFunction>(&(b_base,))).unwrap(), 0);
    assert!(start.elapsed() < Duration::from_secs(3));
    let log = wait_for_log(&err, "abandoned");
    assert!(
        log.contains("1 call(s) still running in JIT'd code after the session ended; abandoned"),
        "{log}"
    );
}

#[test]
fn results_nobody_reads_do_not_grow_threads_without_bound() {
    let dir = scratch();
    let err = dir.path().join("err");
    let (exe, port) = start_listening_executor(&["--max-calls", "16"], &dir.path().join("out"), &err);
    let mut c = Controller::connect(port);
    let base = c.reserve(1 << 20);
    // Each call answers 1 MiB; nothing is read, so results pile up in the socket and workers
    // block writing them. The executor must stop taking calls instead of starting threads.
    let writer = std::thread::spawn(move || {
        for _ in 0..2000 {
            let range = ExecutorAddrRange::from_start_size(base, 1 << 20).unwrap();
            c.send::<svc::MemReadBuffers>(&(vec![range],));
        }
        c
    });
    std::thread::sleep(Duration::from_secs(2));
    let threads = threads_of(exe.id());
    assert!(threads > 0 && threads < 16 + 12, "{threads} threads");
    // Another controller is still served.
    let mut other = Controller::connect(port);
    let b = other.reserve(4096);
    assert_eq!(other.read_u64(b), Some(0));
    drop(other);
    drop(exe);
    let _ = writer.join();
}

#[test]
fn oversized_requests_get_errors_before_any_allocation() {
    let dir = scratch();
    let err = dir.path().join("err");
    let (exe, port) = start_listening_executor(&[], &dir.path().join("out"), &err);
    let mut c = Controller::connect(port);
    // 56 bytes of request asking for 3 x 1 TiB: refused as a whole.
    let huge = ExecutorAddrRange::from_start_size(ExecutorAddr(0x1000), 1 << 40).unwrap();
    assert!(c.call::<svc::MemReadBuffers>(&(vec![huge; 3],)).is_empty());
    assert!(wait_for_log(&err, "does not fit in one frame").contains("does not fit in one frame"));
    let rss_kib: u64 = std::fs::read_to_string(format!("/proc/{}/status", exe.id()))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").parse().ok())
        .unwrap();
    assert!(rss_kib < 200 * 1024, "peak RSS {rss_kib} KiB");
    let b = c.reserve(4096);
    assert_eq!(c.read_u64(b), Some(0));
}

#[test]
fn a_listener_at_its_session_limit_refuses_with_a_reason() {
    let dir = scratch();
    let err = dir.path().join("err");
    let (_exe, port) = start_listening_executor(&["--max-sessions", "1"], &dir.path().join("out"), &err);
    let mut a = Controller::connect(port);
    a.reserve(4096);
    let mut b = Peer::connect(port);
    let f = b.read().expect("a frame").expect("a Hangup, not EOF");
    assert_eq!(f.opcode, Opcode::Hangup);
    let SpsError(r) = from_bytes(&f.payload).unwrap();
    assert!(r.unwrap_err().contains("limit"));
    // repl says so too.
    let o = run(
        Command::new(our_bin("repl"))
            .arg(format!("--oop-executor-connect=127.0.0.1:{port}"))
            .args(["-e", "1"]),
        30,
    );
    let text = String::from_utf8_lossy(&o.stderr);
    assert!(text.contains("the executor refused the session") && text.contains("limit"), "{text}");
    drop(a);
}

#[test]
fn repl_gives_up_on_a_peer_that_never_sends_setup() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let holder = std::thread::spawn(move || listener.accept().map(|(s, _)| s));
    let start = Instant::now();
    let o = run(
        Command::new(our_bin("repl"))
            .arg(format!("--oop-executor-connect=127.0.0.1:{port}"))
            .args(["-e", "1"]),
        30,
    );
    let text = String::from_utf8_lossy(&o.stderr);
    assert!(text.contains("no Setup message from the executor within"), "{text}");
    assert_eq!(o.status.code(), Some(2));
    assert!(start.elapsed() < Duration::from_secs(15));
    drop(holder.join());
}

use std::process::Command;
