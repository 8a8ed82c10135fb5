//! Replays a captured LLVM 22.1 session against a live executor and checks that every answer
//! is equivalent to the one LLVM's executor gave, addresses aside.
//!
//! Addresses differ between runs, so the replay keeps a translation from the captured
//! executor's addresses to the live one's: bootstrap symbols by name, slabs by the base each
//! `reserve` returned (whole ranges, so segment addresses map by offset), handles and resolved
//! symbols by value. Requests are decoded with the typed service signatures, their addresses
//! translated (8-byte values inside segment contents and alloc-action arguments too, which is
//! how relocated pointers to libc or to other segments look), re-encoded and sent; results are
//! decoded on both sides and compared field by field.

use std::collections::HashMap;

use orc_rpc::info::names;
use orc_rpc::services::{self as svc, WrapperFunction, decode_args, decode_ret, encode_args};
use orc_rpc::sps::{SpsExpected, from_bytes};
use orc_rpc::types::{ExecutorSymbolDef, WrapperFunctionCall};
use orc_rpc::{ExecutorAddr, ExecutorAddrRange, ExecutorInfo, Opcode};

use crate::capture::{CapturedFrame, Dir};
use crate::peer::Peer;

/// Captured-executor addresses → live-executor addresses.
#[derive(Debug, Default)]
pub struct Translator {
    exact: HashMap<u64, u64>,
    /// (captured start, captured end, live start)
    ranges: Vec<(u64, u64, u64)>,
}

impl Translator {
    fn lookup(&self, a: u64) -> Option<u64> {
        if a == 0 {
            return None;
        }
        if let Some(&v) = self.exact.get(&a) {
            return Some(v);
        }
        self.ranges.iter().find(|&&(s, e, _)| s <= a && a < e).map(|&(s, _, l)| l + (a - s))
    }

    /// Translates one address (unknown addresses, such as made-up test values, stay as they are).
    pub fn addr(&self, a: ExecutorAddr) -> ExecutorAddr {
        ExecutorAddr(self.lookup(a.0).unwrap_or(a.0))
    }

    fn range(&self, r: ExecutorAddrRange) -> ExecutorAddrRange {
        let start = self.addr(r.start);
        ExecutorAddrRange { start, end: ExecutorAddr(start.0 + r.size()) }
    }

    /// Rewrites every 8-byte little-endian value in `bytes` that is a known captured address.
    pub fn content(&self, bytes: &[u8]) -> Vec<u8> {
        let mut out = bytes.to_vec();
        let mut i = 0;
        while i + 8 <= out.len() {
            let v = u64::from_le_bytes(out[i..i + 8].try_into().expect("8 bytes"));
            match self.lookup(v) {
                Some(n) => {
                    out[i..i + 8].copy_from_slice(&n.to_le_bytes());
                    i += 8;
                }
                None => i += 1,
            }
        }
        out
    }

    /// Rewrites 32-bit PC-relative displacements in code placed at captured address `at` that
    /// point at a known symbol (a direct `call rel32` to libc, say), for the code's live
    /// address. Only exact symbol addresses count, so stray bytes are not mistaken for them.
    pub fn pc_relative(&self, at: ExecutorAddr, code: &[u8]) -> Vec<u8> {
        let live_at = self.addr(at).0;
        let mut out = code.to_vec();
        let mut i = 0;
        while i + 4 <= out.len() {
            let v = i32::from_le_bytes(out[i..i + 4].try_into().expect("4 bytes"));
            let next = at.0.wrapping_add(i as u64 + 4);
            let target = next.wrapping_add(v as i64 as u64);
            let rewritten = self
                .exact
                .get(&target)
                .and_then(|&t| i32::try_from(t.wrapping_sub(live_at.wrapping_add(i as u64 + 4)) as i64).ok());
            match rewritten {
                Some(nv) => {
                    out[i..i + 4].copy_from_slice(&nv.to_le_bytes());
                    i += 4;
                }
                None => i += 1,
            }
        }
        out
    }

    fn learn(&mut self, captured: ExecutorAddr, live: ExecutorAddr) {
        if !captured.is_null() {
            self.exact.insert(captured.0, live.0);
        }
    }

    fn call(&self, c: &WrapperFunctionCall<'_>) -> WrapperFunctionCall<'static> {
        WrapperFunctionCall { fn_addr: self.addr(c.fn_addr), arg_data: self.content(&c.arg_data).into() }
    }
}

/// What happened in a replay.
#[derive(Debug, Default)]
pub struct ReplayReport {
    /// Calls replayed and answered equivalently.
    pub calls: usize,
    /// The live executor's reaction to the capture's final, non-call frames (Hangup, EOF, a
    /// protocol violation): the frame it sent back, if any.
    pub final_frames: Vec<(Opcode, Vec<u8>)>,
}

fn expect<T: std::fmt::Debug + PartialEq>(what: &str, captured: T, live: T) -> Result<(), String> {
    if captured == live {
        Ok(())
    } else {
        Err(format!("{what}: LLVM answered {captured:?}, we answered {live:?}"))
    }
}

fn same_sense<T, U>(what: &str, captured: &SpsExpected<T>, live: &SpsExpected<U>) -> Result<(), String> {
    match (&captured.0, &live.0) {
        (Ok(_), Ok(_)) | (Err(_), Err(_)) => Ok(()),
        (c, l) => Err(format!(
            "{what}: LLVM answered {}, we answered {}",
            c.as_ref().map(|_| "success").unwrap_or_else(|e| e),
            l.as_ref().map(|_| "success").unwrap_or_else(|e| e)
        )),
    }
}

fn dec_ret<'a, F: WrapperFunction>(b: &'a [u8]) -> Result<F::Ret<'a>, String> {
    decode_ret::<F>(b).map_err(|e| format!("{}: result does not decode: {e}", F::NAME))
}

fn dec_args<'a, F: WrapperFunction>(b: &'a [u8]) -> Result<F::Args<'a>, String> {
    decode_args::<F>(b).map_err(|e| format!("{}: arguments do not decode: {e}", F::NAME))
}

/// Rewrites a captured call's arguments for the live executor.
fn translate_args(name: &str, payload: &[u8], tr: &Translator) -> Result<Vec<u8>, String> {
    macro_rules! addrs_list {
        ($f:ty) => {{
            let (inst, v) = dec_args::<$f>(payload)?;
            Ok(encode_args::<$f>(&(tr.addr(inst), v.into_iter().map(|a| tr.addr(a)).collect())))
        }};
    }
    macro_rules! writes {
        ($f:ty, $map:expr) => {{
            let (v,) = dec_args::<$f>(payload)?;
            let f = $map;
            Ok(encode_args::<$f>(&(v.into_iter().map(|(a, x)| (tr.addr(a), f(x))).collect(),)))
        }};
    }
    macro_rules! reads {
        ($f:ty) => {{
            let (v,) = dec_args::<$f>(payload)?;
            Ok(encode_args::<$f>(&(v.into_iter().map(|a| tr.addr(a)).collect(),)))
        }};
    }
    match name {
        names::MEMORY_MANAGER_RESERVE => {
            let (inst, size) = dec_args::<svc::MemReserve>(payload)?;
            Ok(encode_args::<svc::MemReserve>(&(tr.addr(inst), size)))
        }
        names::MEMORY_MANAGER_INITIALIZE => {
            let (inst, mut req) = dec_args::<svc::MemInitialize>(payload)?;
            for s in &mut req.segments {
                let mut content = tr.content(&s.content);
                if s.ag.exec() {
                    content = tr.pc_relative(s.addr, &content);
                }
                s.addr = tr.addr(s.addr);
                s.content = content.into();
            }
            for a in &mut req.actions {
                a.finalize = tr.call(&a.finalize);
                a.dealloc = tr.call(&a.dealloc);
            }
            Ok(encode_args::<svc::MemInitialize>(&(tr.addr(inst), req)))
        }
        names::MEMORY_MANAGER_DEINITIALIZE => addrs_list!(svc::MemDeinitialize),
        names::MEMORY_MANAGER_RELEASE => addrs_list!(svc::MemRelease),
        names::SHM_RESERVE => {
            let (inst, size) = dec_args::<svc::ShmReserve>(payload)?;
            Ok(encode_args::<svc::ShmReserve>(&(tr.addr(inst), size)))
        }
        names::SHM_INITIALIZE => {
            let (inst, res, mut req) = dec_args::<svc::ShmInitialize>(payload)?;
            for s in &mut req.segments {
                s.addr = tr.addr(s.addr);
            }
            for a in &mut req.actions {
                a.finalize = tr.call(&a.finalize);
                a.dealloc = tr.call(&a.dealloc);
            }
            Ok(encode_args::<svc::ShmInitialize>(&(tr.addr(inst), tr.addr(res), req)))
        }
        names::SHM_DEINITIALIZE => addrs_list!(svc::ShmDeinitialize),
        names::SHM_RELEASE => addrs_list!(svc::ShmRelease),
        names::DYLIB_MANAGER_OPEN => {
            let (inst, path, mode) = dec_args::<svc::DylibOpen>(payload)?;
            Ok(encode_args::<svc::DylibOpen>(&(tr.addr(inst), path, mode)))
        }
        names::DYLIB_MANAGER_RESOLVE => {
            let (h, set) = dec_args::<svc::DylibResolve>(payload)?;
            Ok(encode_args::<svc::DylibResolve>(&(tr.addr(h), set)))
        }
        names::RUN_AS_MAIN => {
            let (f, args) = dec_args::<svc::RunAsMain>(payload)?;
            Ok(encode_args::<svc::RunAsMain>(&(tr.addr(f), args)))
        }
        names::RUN_AS_VOID_FUNCTION => {
            let (f,) = dec_args::<svc::RunAsVoidFunction>(payload)?;
            Ok(encode_args::<svc::RunAsVoidFunction>(&(tr.addr(f),)))
        }
        names::RUN_AS_INT_FUNCTION => {
            let (f, x) = dec_args::<svc::RunAsIntFunction>(payload)?;
            Ok(encode_args::<svc::RunAsIntFunction>(&(tr.addr(f), x)))
        }
        names::MEM_WRITE_UINT8S => writes!(svc::MemWriteUInt8s, |x| x),
        names::MEM_WRITE_UINT16S => writes!(svc::MemWriteUInt16s, |x| x),
        names::MEM_WRITE_UINT32S => writes!(svc::MemWriteUInt32s, |x| x),
        names::MEM_WRITE_UINT64S => writes!(svc::MemWriteUInt64s, |x| x),
        names::MEM_WRITE_POINTERS => writes!(svc::MemWritePointers, |x| tr.addr(x)),
        names::MEM_WRITE_BUFFERS => writes!(svc::MemWriteBuffers, |x| x),
        names::MEM_READ_UINT8S => reads!(svc::MemReadUInt8s),
        names::MEM_READ_UINT16S => reads!(svc::MemReadUInt16s),
        names::MEM_READ_UINT32S => reads!(svc::MemReadUInt32s),
        names::MEM_READ_UINT64S => reads!(svc::MemReadUInt64s),
        names::MEM_READ_POINTERS => reads!(svc::MemReadPointers),
        names::MEM_READ_STRINGS => reads!(svc::MemReadStrings),
        names::MEM_READ_BUFFERS => {
            let (v,) = dec_args::<svc::MemReadBuffers>(payload)?;
            Ok(encode_args::<svc::MemReadBuffers>(&(v.into_iter().map(|r| tr.range(r)).collect(),)))
        }
        names::REGISTER_EH_FRAME | names::DEREGISTER_EH_FRAME => {
            let (r,) = dec_args::<svc::RegisterEhFrame>(payload)?;
            Ok(encode_args::<svc::RegisterEhFrame>(&(tr.range(r),)))
        }
        other => Err(format!("replaying calls to {other} is not supported")),
    }
}

/// Compares a captured and a live result of `name`, learning address correspondences.
fn compare(name: &str, args: &[u8], captured: &[u8], live: &[u8], tr: &mut Translator) -> Result<(), String> {
    if captured.is_empty() || live.is_empty() {
        // An out-of-band error travels as an empty payload (and void results are empty).
        return expect(&format!("{name}: result size"), captured.len(), live.len()).map_err(|e| {
            format!("{e} (an empty Result is how both executors send an out-of-band error or void)")
        });
    }
    match name {
        names::MEMORY_MANAGER_RESERVE => {
            let (c, l) = (dec_ret::<svc::MemReserve>(captured)?, dec_ret::<svc::MemReserve>(live)?);
            same_sense(name, &c, &l)?;
            if let (Ok(cb), Ok(lb)) = (&c.0, &l.0) {
                let (_, size) = dec_args::<svc::MemReserve>(args)?;
                tr.ranges.push((cb.0, cb.0 + size, lb.0));
            }
            Ok(())
        }
        names::SHM_RESERVE => {
            let (c, l) = (dec_ret::<svc::ShmReserve>(captured)?, dec_ret::<svc::ShmReserve>(live)?);
            same_sense(name, &c, &l)?;
            if let (Ok((cb, _)), Ok((lb, _))) = (&c.0, &l.0) {
                let (_, size) = dec_args::<svc::ShmReserve>(args)?;
                tr.ranges.push((cb.0, cb.0 + size, lb.0));
            }
            Ok(())
        }
        names::MEMORY_MANAGER_INITIALIZE | names::SHM_INITIALIZE => {
            let (c, l) = (dec_ret::<svc::MemInitialize>(captured)?, dec_ret::<svc::MemInitialize>(live)?);
            same_sense(name, &c, &l)?;
            match (c.0, l.0) {
                (Ok(ck), Ok(lk)) => expect(&format!("{name}: key"), tr.addr(ck), lk),
                _ => Ok(()),
            }
        }
        names::MEMORY_MANAGER_DEINITIALIZE
        | names::MEMORY_MANAGER_RELEASE
        | names::SHM_DEINITIALIZE
        | names::SHM_RELEASE
        | names::REGISTER_EH_FRAME
        | names::DEREGISTER_EH_FRAME => {
            let (c, l) = (dec_ret::<svc::MemRelease>(captured)?, dec_ret::<svc::MemRelease>(live)?);
            expect(name, c.0.is_ok(), l.0.is_ok())
        }
        names::DYLIB_MANAGER_OPEN => {
            let (c, l) = (dec_ret::<svc::DylibOpen>(captured)?, dec_ret::<svc::DylibOpen>(live)?);
            same_sense(name, &c, &l)?;
            if let (Ok(ch), Ok(lh)) = (c.0, l.0) {
                tr.learn(ch, lh);
            }
            Ok(())
        }
        names::DYLIB_MANAGER_RESOLVE => {
            let (c, l) = (dec_ret::<svc::DylibResolve>(captured)?, dec_ret::<svc::DylibResolve>(live)?);
            same_sense(name, &c, &l)?;
            let (Ok(c), Ok(l)) = (c.0, l.0) else { return Ok(()) };
            expect(&format!("{name}: number of answers"), c.len(), l.len())?;
            for (i, (c, l)) in c.iter().zip(&l).enumerate() {
                let shape = |d: &Option<ExecutorSymbolDef>| d.map(|d| (d.addr.is_null(), d.flags));
                expect(&format!("{name}: answer {i} (null?, flags)"), shape(c), shape(l))?;
                if let (Some(c), Some(l)) = (c, l) {
                    tr.learn(c.addr, l.addr);
                }
            }
            Ok(())
        }
        names::RUN_AS_MAIN => {
            expect(name, dec_ret::<svc::RunAsMain>(captured)?, dec_ret::<svc::RunAsMain>(live)?)
        }
        names::RUN_AS_INT_FUNCTION => {
            expect(name, dec_ret::<svc::RunAsIntFunction>(captured)?, dec_ret::<svc::RunAsIntFunction>(live)?)
        }
        // The captured sessions call getpid() this way: compare that an int came back.
        names::RUN_AS_VOID_FUNCTION => {
            dec_ret::<svc::RunAsVoidFunction>(captured)?;
            dec_ret::<svc::RunAsVoidFunction>(live)?;
            Ok(())
        }
        names::MEM_READ_UINT8S => expect(name, captured, live),
        names::MEM_READ_UINT16S => expect(name, captured, live),
        names::MEM_READ_UINT32S => expect(name, captured, live),
        names::MEM_READ_UINT64S => expect(name, captured, live),
        names::MEM_READ_BUFFERS => expect(name, captured, live),
        names::MEM_READ_STRINGS => expect(name, captured, live),
        names::MEM_READ_POINTERS => {
            let c: Vec<ExecutorAddr> =
                dec_ret::<svc::MemReadPointers>(captured)?.into_iter().map(|a| tr.addr(a)).collect();
            expect(name, c, dec_ret::<svc::MemReadPointers>(live)?)
        }
        other => Err(format!("comparing results of {other} is not supported")),
    }
}

/// Replays the controller side of `frames` through `peer` (already past Setup; `live` is the
/// Setup it received). Stops at the end of the capture or when the live executor ends the
/// session.
///
/// # Errors
/// The first answer that is not equivalent, or a live executor that misbehaves.
pub fn replay(
    frames: &[CapturedFrame],
    peer: &mut Peer,
    live: &ExecutorInfo,
) -> Result<ReplayReport, String> {
    replay_until(frames, peer, live, |_| false)
}

/// As [`replay`], stopping before the first call to a function for which `stop` is true.
///
/// # Errors
/// As [`replay`].
pub fn replay_until(
    frames: &[CapturedFrame],
    peer: &mut Peer,
    live: &ExecutorInfo,
    stop: impl Fn(&str) -> bool,
) -> Result<ReplayReport, String> {
    let setup =
        frames.iter().find(|f| f.dir == Dir::E2C && f.header.opcode == 0).ok_or("capture has no Setup")?;
    let captured_info: ExecutorInfo =
        from_bytes(&setup.payload).map_err(|e| format!("captured Setup: {e}"))?;
    let mut tr = Translator::default();
    let mut tag_names = HashMap::new();
    for (name, addr) in &captured_info.bootstrap_symbols {
        if let Some(ours) = live.symbol(name) {
            tr.exact.insert(addr.0, ours.0);
            tag_names.insert(addr.0, name.clone());
        }
    }
    let results: HashMap<u64, &CapturedFrame> = frames
        .iter()
        .filter(|f| f.dir == Dir::E2C && Opcode::from_wire(f.header.opcode) == Some(Opcode::Result))
        .map(|f| (f.header.seq_no, f))
        .collect();
    let mut report = ReplayReport::default();
    for f in frames.iter().filter(|f| f.dir == Dir::C2E) {
        let h = f.header;
        if Opcode::from_wire(h.opcode) != Some(Opcode::CallWrapper) {
            // Hangup, a stray Result, Setup or an unknown opcode: send as captured; the live
            // executor must end the session, telling us why if it is an error.
            peer.send_raw(&f.raw);
            while let Ok(Some(reply)) = peer.read() {
                report.final_frames.push((reply.opcode, reply.payload.to_vec()));
            }
            return Ok(report);
        }
        let name =
            tag_names.get(&h.tag_addr.0).ok_or_else(|| format!("frame {}: call to unknown tag", f.index))?;
        if stop(name) {
            return Ok(report);
        }
        let tag = live.symbol(name).ok_or_else(|| format!("live executor lacks {name}"))?;
        let args = match translate_args(name, &f.payload, &tr) {
            Ok(a) => a,
            // Undecodable arguments (a fault-injection frame) go as captured.
            Err(_) if decode_fails(name, &f.payload) => f.payload.clone(),
            Err(e) => return Err(format!("frame {}: {e}", f.index)),
        };
        let ours = peer.call(h.seq_no, tag, &args);
        match results.get(&h.seq_no) {
            Some(c) => compare(name, &f.payload, &c.payload, &ours, &mut tr)
                .map_err(|e| format!("frame {}: {e}", f.index))?,
            // LLVM's executor died on this call (e.g. resolve of an empty required name).
            None => report.final_frames.push((Opcode::Result, ours)),
        }
        report.calls += 1;
    }
    Ok(report)
}

fn decode_fails(name: &str, payload: &[u8]) -> bool {
    match name {
        names::MEMORY_MANAGER_RESERVE => decode_args::<svc::MemReserve>(payload).is_err(),
        _ => false,
    }
}
