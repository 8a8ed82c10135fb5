//! Malformed and hostile input to `orc-executor`: each case gets a clear error (a Hangup with
//! the reason, or an error result) and a log line, never a crash, and the executor goes on
//! serving the next controller.

use std::time::Duration;

use device_tests::peer::Peer;
use device_tests::*;
use orc_rpc::info::names;
use orc_rpc::services::{self as svc, encode_args};
use orc_rpc::sps::{SpsError, SpsExpected, from_bytes};
use orc_rpc::types::{FinalizeRequest, RemoteAllocGroup, SegFinalizeRequest};
use orc_rpc::{ExecutorAddr, Opcode};

fn header(size: u64, opcode: u64, seq: u64, tag: u64) -> Vec<u8> {
    [size, opcode, seq, tag].iter().flat_map(|w| w.to_le_bytes()).collect()
}

/// Reads until the executor ends the session; returns the Hangup reason it gave, if any.
fn hangup_reason(peer: &mut Peer) -> Option<String> {
    let mut reason = None;
    while let Ok(Some(f)) = peer.read() {
        if f.opcode == Opcode::Hangup {
            let SpsError(r) = from_bytes(&f.payload).expect("Hangup payload is an Error");
            reason = r.err();
        }
    }
    reason
}

fn wait_for_log(path: &std::path::Path, needle: &str) -> String {
    let start = std::time::Instant::now();
    loop {
        let log = std::fs::read_to_string(path).unwrap_or_default();
        if log.contains(needle) || start.elapsed() > Duration::from_secs(10) {
            return log;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn malformed_frames_end_the_session_with_a_reason_and_the_executor_survives() {
    let dir = scratch();
    let err = dir.path().join("err");
    let (_exe, port) =
        start_listening_executor(&["--max-frame-size", "65536"], &dir.path().join("out"), &err);

    let cases: [(&str, Vec<u8>, &str); 3] = [
        ("size below the header", header(8, 3, 0, 0), "smaller than the 32-byte header"),
        ("size above the limit", header(1 << 20, 3, 0, 0), "exceeds the maximum frame size of 65536"),
        ("unknown opcode", header(32, 9, 4, 0), "unknown opcode 0x9"),
    ];
    for (what, bytes, reason) in cases {
        let mut p = Peer::connect(port);
        p.read_setup();
        p.send_raw(&bytes);
        let got = hangup_reason(&mut p).unwrap_or_else(|| panic!("{what}: no Hangup"));
        assert!(got.contains(reason), "{what}: {got}");
        assert!(wait_for_log(&err, reason).contains(reason), "{what}: not logged");
    }

    // A frame cut short by the peer going away.
    let mut p = Peer::connect(port);
    p.read_setup();
    let mut truncated = header(100, 3, 0, 0);
    truncated.extend_from_slice(&[0; 10]);
    p.send_raw(&truncated);
    p.half_close();
    assert!(p.read().unwrap().is_none());
    let log = wait_for_log(&err, "inside a frame");
    assert!(log.contains("peer closed the connection inside a frame (42 of 100 bytes received)"), "{log}");

    // Still serving.
    let mut p = Peer::connect(port);
    let info = p.read_setup();
    let inst = info.symbol(names::MEMORY_MANAGER_INSTANCE).unwrap();
    let r = p.call(
        0,
        info.symbol(names::MEMORY_MANAGER_RESERVE).unwrap(),
        &encode_args::<svc::MemReserve>(&(inst, 4096)),
    );
    let SpsExpected(base) = from_bytes::<SpsExpected<ExecutorAddr>>(&r).unwrap();
    base.expect("reserve works after the bad sessions");
    assert!(!std::fs::read_to_string(&err).unwrap().contains("panicked"));
}

#[test]
fn bad_calls_get_error_results_and_the_session_goes_on() {
    let dir = scratch();
    let err = dir.path().join("err");
    let (_exe, port) = start_listening_executor(&[], &dir.path().join("out"), &err);
    let mut p = Peer::connect(port);
    let info = p.read_setup();
    let sym = |n: &str| info.symbol(n).unwrap();
    let inst = sym(names::MEMORY_MANAGER_INSTANCE);
    let mut seq = 0;
    let mut call = |p: &mut Peer, tag: ExecutorAddr, args: &[u8]| {
        seq += 1;
        p.call(seq, tag, args)
    };

    // A CallWrapper to an address that is not a published wrapper function: an empty Result
    // (how both LLVM peers carry an out-of-band error) and a log line, instead of a jump.
    assert!(call(&mut p, ExecutorAddr(0x1234_5678), b"").is_empty());
    assert!(wait_for_log(&err, "is not a wrapper function").contains("0x12345678 is not a wrapper function"));
    // Data is not code either.
    assert!(call(&mut p, inst, b"").is_empty());

    // Arguments that do not decode.
    assert!(call(&mut p, sym(names::MEMORY_MANAGER_RESERVE), &[1, 2, 3]).is_empty());
    assert!(wait_for_log(&err, "could not decode the arguments").contains(names::MEMORY_MANAGER_RESERVE));

    // An instance address that is not ours: an error result, not a dereference.
    let r = call(
        &mut p,
        sym(names::MEMORY_MANAGER_RESERVE),
        &encode_args::<svc::MemReserve>(&(ExecutorAddr(0xdead), 4096)),
    );
    let e = from_bytes::<SpsExpected<ExecutorAddr>>(&r).unwrap().0.unwrap_err();
    assert!(e.contains("not a memory manager instance"), "{e}");

    // Writes outside reserved memory are refused (here: the executor's own data).
    let target = sym(names::DYLIB_MANAGER_INSTANCE);
    let before =
        call(&mut p, sym(names::MEM_READ_UINT64S), &encode_args::<svc::MemReadUInt64s>(&(vec![target],)));
    assert!(
        call(
            &mut p,
            sym(names::MEM_WRITE_UINT64S),
            &encode_args::<svc::MemWriteUInt64s>(&(vec![(target, 0)],))
        )
        .is_empty()
    );
    let after =
        call(&mut p, sym(names::MEM_READ_UINT64S), &encode_args::<svc::MemReadUInt64s>(&(vec![target],)));
    assert_eq!(before, after, "refused write must not change memory");
    assert!(wait_for_log(&err, "refused memory write").contains("not inside memory reserved"));

    // Reads of unmapped memory fail instead of faulting.
    assert!(
        call(
            &mut p,
            sym(names::MEM_READ_UINT64S),
            &encode_args::<svc::MemReadUInt64s>(&(vec![ExecutorAddr(16)],))
        )
        .is_empty()
    );

    // Running something that is not code.
    assert!(
        call(&mut p, sym(names::RUN_AS_MAIN), &encode_args::<svc::RunAsMain>(&(inst, vec![]))).is_empty()
    );
    assert!(wait_for_log(&err, "refusing to call").contains("refusing to call"));

    // A segment outside any reservation.
    let req = FinalizeRequest {
        segments: vec![SegFinalizeRequest {
            ag: RemoteAllocGroup::RX,
            addr: ExecutorAddr(0x10000),
            size: 16,
            content: vec![0xc3].into(),
        }],
        actions: vec![],
    };
    let r =
        call(&mut p, sym(names::MEMORY_MANAGER_INITIALIZE), &encode_args::<svc::MemInitialize>(&(inst, req)));
    let e = from_bytes::<SpsExpected<ExecutorAddr>>(&r).unwrap().0.unwrap_err();
    assert!(e.contains("not inside memory reserved"), "{e}");

    // The session is still good: reserve, write into it, read back, release.
    let r = call(&mut p, sym(names::MEMORY_MANAGER_RESERVE), &encode_args::<svc::MemReserve>(&(inst, 4096)));
    let base = from_bytes::<SpsExpected<ExecutorAddr>>(&r).unwrap().0.unwrap();
    assert!(
        call(
            &mut p,
            sym(names::MEM_WRITE_UINT64S),
            &encode_args::<svc::MemWriteUInt64s>(&(vec![(base, 77)],))
        )
        .is_empty()
    );
    let r = call(&mut p, sym(names::MEM_READ_UINT64S), &encode_args::<svc::MemReadUInt64s>(&(vec![base],)));
    assert_eq!(from_bytes::<Vec<u64>>(&r).unwrap(), vec![77]);
    let r = call(
        &mut p,
        sym(names::MEMORY_MANAGER_RELEASE),
        &encode_args::<svc::MemRelease>(&(inst, vec![base])),
    );
    assert_eq!(from_bytes::<SpsError>(&r).unwrap(), SpsError::SUCCESS);
    assert!(!std::fs::read_to_string(&err).unwrap().contains("panicked"));
}
