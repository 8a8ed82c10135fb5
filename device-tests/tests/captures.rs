//! Conformance against the captured LLVM 22.1.8 sessions in `testdata/llvm22-captures/`:
//! our SPS types decode and re-encode every captured frame byte for byte, our Setup offers
//! everything the 22.1 executor offers, and the sessions replayed against `orc-executor` get
//! answers equivalent to LLVM's (addresses aside).

use std::collections::HashMap;

use device_tests::capture::{self, Dir};
use device_tests::peer::Peer;
use device_tests::replay::{replay, replay_until};
use device_tests::{scratch, start_listening_executor};
use orc_rpc::frame::FrameReader;
use orc_rpc::info::names;
use orc_rpc::services::{self as svc, WrapperFunction, decode_args, decode_ret};
use orc_rpc::sps::{SpsEncode, from_bytes, to_bytes};
use orc_rpc::{ExecutorInfo, Opcode};

/// Decodes `bytes` as `F`'s arguments or result and checks that re-encoding gives them back.
fn round_trip<F: WrapperFunction>(args: &[u8], result: Option<&[u8]>) -> Result<(), String> {
    fn check<T: SpsEncode>(what: &str, v: &T, bytes: &[u8]) -> Result<(), String> {
        if to_bytes(v) == bytes { Ok(()) } else { Err(format!("{what} re-encodes differently")) }
    }
    let a = decode_args::<F>(args).map_err(|e| format!("{} args: {e}", F::NAME))?;
    check("args", &a, args)?;
    if let Some(r) = result.filter(|r| !r.is_empty()) {
        let v = decode_ret::<F>(r).map_err(|e| format!("{} result: {e}", F::NAME))?;
        check("result", &v, r)?;
    }
    Ok(())
}

fn round_trip_named(name: &str, args: &[u8], result: Option<&[u8]>) -> Result<bool, String> {
    macro_rules! by_name {
        ($($f:ty),*) => {
            $(if name == <$f>::NAME { return round_trip::<$f>(args, result).map(|()| true); })*
        };
    }
    by_name!(
        svc::MemReserve,
        svc::MemInitialize,
        svc::MemDeinitialize,
        svc::MemRelease,
        svc::ShmReserve,
        svc::ShmInitialize,
        svc::ShmDeinitialize,
        svc::ShmRelease,
        svc::DylibOpen,
        svc::DylibResolve,
        svc::RunAsMain,
        svc::RunAsVoidFunction,
        svc::RunAsIntFunction,
        svc::MemWriteUInt8s,
        svc::MemWriteUInt16s,
        svc::MemWriteUInt32s,
        svc::MemWriteUInt64s,
        svc::MemWritePointers,
        svc::MemWriteBuffers,
        svc::MemReadUInt8s,
        svc::MemReadUInt16s,
        svc::MemReadUInt32s,
        svc::MemReadUInt64s,
        svc::MemReadPointers,
        svc::MemReadBuffers,
        svc::MemReadStrings
    );
    Ok(false)
}

#[test]
fn every_captured_frame_decodes_and_reencodes_byte_for_byte() {
    let mut checked = 0;
    for name in capture::names() {
        let frames = capture::load(&name);
        // The frame layer reads each direction's byte stream back into the same frames.
        for dir in [Dir::C2E, Dir::E2C] {
            let stream: Vec<u8> =
                frames.iter().filter(|f| f.dir == dir).flat_map(|f| f.raw.clone()).collect();
            let mut r = FrameReader::new(stream.as_slice());
            for f in frames.iter().filter(|f| f.dir == dir) {
                match r.read_frame() {
                    Ok(Some(got)) => assert_eq!(&got.payload[..], &f.payload[..], "{name} #{}", f.index),
                    // Fault-injection captures send an opcode no executor accepts.
                    Err(orc_rpc::FrameError::UnknownOpcode { raw: 7, .. }) => {
                        assert_eq!(name, "pyctl_badopc")
                    }
                    other => panic!("{name} #{}: {other:?}", f.index),
                }
            }
        }
        let setup = frames.iter().find(|f| f.dir == Dir::E2C && f.header.opcode == 0).expect("Setup");
        let info: ExecutorInfo = from_bytes(&setup.payload).expect("Setup decodes");
        assert_eq!(to_bytes(&info), setup.payload, "{name}: Setup re-encodes");
        let tags: HashMap<u64, String> =
            info.bootstrap_symbols.iter().map(|(n, a)| (a.0, n.clone())).collect();
        let results: HashMap<u64, &[u8]> = frames
            .iter()
            .filter(|f| f.dir == Dir::E2C && f.header.opcode == Opcode::Result as u64)
            .map(|f| (f.header.seq_no, f.payload.as_slice()))
            .collect();
        for f in frames.iter().filter(|f| f.dir == Dir::C2E && f.header.opcode == Opcode::CallWrapper as u64)
        {
            let Some(fname) = tags.get(&f.header.tag_addr.0) else { continue };
            match round_trip_named(fname, &f.payload, results.get(&f.header.seq_no).copied()) {
                Ok(true) => checked += 1,
                Ok(false) => {}
                // pyctl's deliberately truncated reserve.
                Err(e) if name.starts_with("pyctl") && fname == names::MEMORY_MANAGER_RESERVE => {
                    assert!(e.contains("args"), "{e}")
                }
                Err(e) => panic!("{name} #{}: {e}", f.index),
            }
        }
    }
    assert!(checked > 300, "only {checked} calls were checked");
}

fn live_setup(port: u16) -> (Peer, ExecutorInfo) {
    let mut p = Peer::connect(port);
    let info = p.read_setup();
    (p, info)
}

#[test]
fn our_setup_offers_everything_llvm_22_offers() {
    let dir = scratch();
    let (_exe, port) =
        start_listening_executor(&["--no-idle-close"], &dir.path().join("out"), &dir.path().join("err"));
    let (_peer, ours) = live_setup(port);
    let frames = capture::load("hello_pipe");
    let theirs: ExecutorInfo = from_bytes(&frames[0].payload).unwrap();
    assert_eq!(ours.target_triple, theirs.target_triple);
    assert_eq!(ours.page_size, theirs.page_size);
    for (name, _) in &theirs.bootstrap_symbols {
        assert!(ours.symbol(name).is_some(), "our Setup lacks {name}");
    }
    for name in names::LLVM22_EXECUTOR_SYMBOLS {
        assert!(ours.symbol(name).is_some(), "our Setup lacks {name}");
    }
    // No two services share an address.
    let mut addrs: Vec<u64> = ours.bootstrap_symbols.iter().map(|(_, a)| a.0).collect();
    addrs.sort();
    addrs.dedup();
    assert_eq!(addrs.len(), ours.bootstrap_symbols.len());
}

/// One executor serves every replay in turn, which also shows that it survives sessions that
/// end in protocol errors.
#[test]
fn captured_sessions_replayed_against_orc_executor() {
    let dir = scratch();
    let out = dir.path().join("out");
    let err = dir.path().join("err");
    let (_exe, port) = start_listening_executor(&["--no-idle-close"], &out, &err);

    let run = |name: &str| {
        eprintln!("replaying {name}");
        let (mut peer, info) = live_setup(port);
        let frames = capture::load(name);
        let report =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| replay(&frames, &mut peer, &info)))
                .unwrap_or_else(|_| {
                    panic!(
                        "{name}: replay panicked; executor log:\n{}",
                        std::fs::read_to_string(&err).unwrap()
                    )
                })
                .unwrap_or_else(|e| panic!("{name}: {e}"));
        (peer, report)
    };

    // Real controller sessions (llvm-jitlink 22.1.8 without the ORC runtime).
    for name in [
        "hello_pipe",
        "hello_tcp",
        "hello_g_pipe",
        "hello_simpleremote_pipe",
        "exc_pipe",
        "exc_tcp",
        "exc_preload_pipe",
    ] {
        let (mut peer, report) = run(name);
        assert!(report.calls >= 6, "{name}: {} calls", report.calls);
        peer.half_close();
        assert!(peer.read().unwrap().is_none(), "{name}: executor must end the session at EOF");
    }

    // Shared memory: segment contents travel outside the protocol, so stop before running.
    {
        let (mut peer, info) = live_setup(port);
        let frames = capture::load("hello_shared_pipe");
        let report =
            replay_until(&frames, &mut peer, &info, |n| n == names::RUN_AS_MAIN).expect("hello_shared_pipe");
        assert!(report.calls >= 4);
    }

    // The Python test controller's sessions exercise every service, then end in various ways.
    for name in ["pyctl_hangup", "pyctl_hangup_err", "pyctl_hangup_opc257"] {
        let (_, report) = run(name);
        assert_eq!(report.calls, 30, "{name}");
        assert!(report.final_frames.is_empty(), "{name}: a Hangup gets no answer, only EOF");
    }
    {
        let (mut peer, report) = run("pyctl_eof");
        assert_eq!(report.calls, 30);
        peer.half_close();
        assert!(peer.read().unwrap().is_none());
    }
    for (name, why) in [
        ("pyctl_badopc", "unknown opcode 0x7"),
        ("pyctl_badresult", "Result for sequence number 999"),
        ("pyctl_setup", "unexpected Setup"),
    ] {
        // LLVM's executor exits with status 1 here; ours tells the controller and goes on.
        let (_, report) = run(name);
        let [(Opcode::Hangup, payload)] = report.final_frames.as_slice() else {
            panic!("{name}: expected one Hangup, got {:?}", report.final_frames)
        };
        let orc_rpc::SpsError(r) = from_bytes(payload).expect("Hangup carries an Error");
        assert!(r.unwrap_err().contains(why), "{name}");
    }
    {
        // LLVM's executor aborts on a required empty name; ours answers with an error.
        let (_, report) = run("pyctl_crash");
        let (op, payload) = &report.final_frames[0];
        assert_eq!(*op, Opcode::Result);
        let v: orc_rpc::SpsExpected<Vec<Option<orc_rpc::types::ExecutorSymbolDef>>> =
            from_bytes(payload).unwrap();
        assert!(v.0.unwrap_err().contains("empty name"));
    }

    // Programs really ran: their output is on the executor's stdout.
    let stdout = std::fs::read_to_string(&out).unwrap();
    // hello_pipe and hello_tcp pass two arguments; hello_g and hello_simpleremote none.
    assert_eq!(stdout.matches("hello, world (argc=2)").count(), 2, "{stdout}");
    assert_eq!(stdout.matches("hello, world (argc=0)").count(), 2, "{stdout}");
    assert_eq!(stdout.matches("caught: boom").count(), 3, "{stdout}");
    // And each protocol error was logged.
    let log = std::fs::read_to_string(&err).unwrap();
    for why in ["unknown opcode", "sequence number 999", "unexpected Setup"] {
        assert!(log.contains(why), "no log line for {why}:\n{log}");
    }
}
