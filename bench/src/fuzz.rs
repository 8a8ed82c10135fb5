//! `bench fuzz`: a bounded mutation loop over everything that decodes peer or file bytes.
//!
//! Targets: `frames` (the blocking frame reader and the tokio codec on byte streams), `sps`
//! (the argument and result decoders of every LLVM 22.1 service and orcbridge extension),
//! `setup` (the Setup payload; what decodes must re-encode to the same bytes), `elf` (the JIT
//! linker planning and finishing a link of an object or an archive). Seeds are the captured
//! LLVM 22.1 sessions in `testdata/llvm22-captures` and objects clang 22 builds from the test
//! programs. Each input is a seed changed by a few random mutations (bit flips, interesting
//! integers at aligned offsets, where length fields live, inserted, deleted, repeated or
//! spliced ranges, truncation); inputs that produce an outcome not seen before (an error kind)
//! join the corpus. A panic, or a failed round trip, is a failure: its input is saved in
//! `target/fuzz-failures/` and the command exits non-zero. The generator is a seeded
//! xorshift, so a run is repeatable with `--seed`.

use std::collections::HashSet;
use std::io::Cursor;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use bytes::BytesMut;
use device_tests::capture;
use host_repl::link::{self, Input, JitDylib, LinkOptions};
use orc_rpc::frame::FrameReader;
use orc_rpc::services::{self as svc, WrapperFunction, decode_args, decode_ret};
use orc_rpc::{ExecutorInfo, FrameCodec};
use tokio_util::codec::Decoder;

/// A small, fast, repeatable generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Integers that tend to find bugs in length and count fields.
const INTERESTING: [u64; 14] =
    [0, 1, 2, 7, 8, 16, 31, 32, 0x7f, 0xff, 0xffff, 0x7fff_ffff, 0xffff_ffff, u64::MAX];

/// Changes `input` by one to four mutations; `other` is another seed for splicing.
fn mutate(rng: &mut Rng, input: &mut Vec<u8>, other: &[u8], max_len: usize) {
    for _ in 0..1 + rng.below(4) {
        let len = input.len();
        match rng.below(9) {
            0 if len > 0 => {
                let i = rng.below(len);
                input[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let i = rng.below(len);
                input[i] = rng.next() as u8;
            }
            2 if len >= 8 => {
                // A u64 at an aligned offset: frame header fields, SPS lengths and counts.
                let at = rng.below(len / 8) * 8;
                let v = match rng.below(3) {
                    0 => INTERESTING[rng.below(INTERESTING.len())],
                    1 => (len - at) as u64 + rng.below(17) as u64 - 8,
                    _ => rng.next() >> rng.below(64),
                };
                input[at..at + 8].copy_from_slice(&v.to_le_bytes());
            }
            3 if len < max_len => {
                let at = rng.below(len + 1);
                let n = 1 + rng.below(16);
                let bytes: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
                input.splice(at..at, bytes);
            }
            4 if len > 0 => {
                let at = rng.below(len);
                let n = 1 + rng.below((len - at).min(64));
                input.drain(at..at + n);
            }
            5 if len > 0 && len < max_len => {
                let at = rng.below(len);
                let n = 1 + rng.below((len - at).min(256));
                let chunk = input[at..at + n].to_vec();
                let to = rng.below(len + 1);
                input.splice(to..to, chunk);
            }
            6 if !other.is_empty() => {
                let from = rng.below(other.len());
                let n = 1 + rng.below((other.len() - from).min(512));
                let to = rng.below(len + 1);
                let end = (to + n).min(len);
                input.splice(to..end, other[from..from + n].iter().copied());
            }
            7 if len > 0 => input.truncate(rng.below(len)),
            _ => {
                if len > 0 {
                    let i = rng.below(len);
                    input[i] = INTERESTING[rng.below(INTERESTING.len())] as u8;
                }
            }
        }
        input.truncate(max_len);
    }
}

/// What one input did: an outcome label (new labels grow the corpus; labels starting with
/// `ok` mean the input was accepted all the way), or a failure.
type Outcome = std::result::Result<String, String>;

/// Error texts up to the first digit: a coarse kind, so the same error at another offset is
/// not "new".
fn kind(e: impl std::fmt::Display) -> String {
    e.to_string().chars().take_while(|c| !c.is_ascii_digit()).take(60).collect()
}

fn frames(input: &[u8]) -> Outcome {
    let mut reader = FrameReader::with_max_frame_size(Cursor::new(input), 1 << 20);
    let mut label = String::from("ok:");
    loop {
        match reader.read_frame() {
            Ok(Some(f)) => label.push_str(&format!("{:?},", f.opcode)),
            Ok(None) => break,
            Err(e) => {
                label = format!("reader:{}", kind(e));
                break;
            }
        }
    }
    // The codec sees the same bytes in odd-sized pieces, as a socket delivers them.
    let mut codec = FrameCodec::default();
    let mut buf = BytesMut::new();
    for chunk in input.chunks(7) {
        buf.extend_from_slice(chunk);
        loop {
            match codec.decode(&mut buf) {
                Ok(Some(_)) => continue,
                Ok(None) => break,
                Err(e) => return Ok(format!("{label} codec:{}", kind(e))),
            }
        }
    }
    Ok(label)
}

fn decode_both<F: WrapperFunction>(input: &[u8]) -> String {
    let a = decode_args::<F>(input).map(|_| ()).map_err(kind);
    let r = decode_ret::<F>(input).map(|_| ()).map_err(kind);
    let ok = if a.is_ok() || r.is_ok() { "ok" } else { "no" };
    format!("{ok}:{}:{a:?}/{r:?}", F::NAME)
}

/// Every service descriptor, by number.
fn sps(input: &[u8]) -> Outcome {
    let Some((&which, payload)) = input.split_first() else { return Ok("empty".into()) };
    macro_rules! each {
        ($($t:ty),* $(,)?) => {{
            let all: &[fn(&[u8]) -> String] = &[$(decode_both::<$t>),*];
            all[usize::from(which) % all.len()](payload)
        }};
    }
    Ok(each!(
        svc::MemReserve,
        svc::MemReserveLow,
        svc::TakeCrashReport,
        svc::MemInitialize,
        svc::MemDeinitialize,
        svc::MemRelease,
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
        svc::MemReadStrings,
        svc::RegisterEhFrame,
        svc::DeregisterEhFrame,
        svc::RegisterJitLoaderGdb,
        svc::ShmReserve,
        svc::ShmInitialize,
        svc::ShmDeinitialize,
        svc::ShmRelease,
        svc::OrcRtRunProgram,
        svc::OrcRtJitDlopen,
        svc::OrcRtJitDlupdate,
        svc::OrcRtJitDlclose,
        svc::ElfNixPushInitializers,
        svc::ElfNixSymbolLookup,
        svc::MemInitializeAndCall,
    ))
}

fn setup(input: &[u8]) -> Outcome {
    match orc_rpc::sps::from_bytes::<ExecutorInfo>(input) {
        Ok(info) => {
            let again = orc_rpc::sps::to_bytes(&info);
            if again != input {
                return Err(format!(
                    "decoded Setup re-encodes differently ({} vs {} bytes)",
                    again.len(),
                    input.len()
                ));
            }
            Ok(format!("ok:{}", info.bootstrap_symbols.len().min(40)))
        }
        Err(e) => Ok(kind(e)),
    }
}

fn elf(input: &[u8]) -> Outcome {
    let is_archive = input.starts_with(b"!<arch>\n");
    let inputs = vec![if is_archive {
        // An archive's members are pulled by an object that needs them.
        Input::Archive { name: "fuzz.a".into(), bytes: input.to_vec() }
    } else {
        Input::Object { name: "fuzz.o".into(), bytes: input.to_vec() }
    }];
    let mut dylib = JitDylib::default();
    let plan = match link::plan(
        &inputs,
        &mut dylib,
        LinkOptions { page_size: 4096, arch: link::Arch::X86_64, redefinable: false, keep_data: false },
    ) {
        Ok(p) => p,
        Err(e) => return Ok(format!("plan:{}", kind(e))),
    };
    if plan.size() > 1 << 32 {
        return Ok("plan:huge".into());
    }
    match plan.finish(0x7f00_0000_0000, &|_| Some(0x7f10_0000_0000)) {
        Ok(u) => Ok(format!("ok:{}", u.segments.len())),
        Err(e) => Ok(format!("finish:{}", kind(e))),
    }
}

struct Target {
    name: &'static str,
    run: fn(&[u8]) -> Outcome,
    max_len: usize,
}

const TARGETS: [Target; 4] = [
    Target { name: "frames", run: frames, max_len: 1 << 16 },
    Target { name: "sps", run: sps, max_len: 1 << 14 },
    Target { name: "setup", run: setup, max_len: 1 << 14 },
    Target { name: "elf", run: elf, max_len: 1 << 18 },
];

fn seeds(target: &str, scratch: &std::path::Path) -> Result<Vec<Vec<u8>>> {
    let captures: Vec<Vec<capture::CapturedFrame>> =
        capture::names().iter().map(|n| capture::load(n)).collect();
    let mut seeds = Vec::new();
    match target {
        "frames" => {
            for frames in &captures {
                for dir in [capture::Dir::C2E, capture::Dir::E2C] {
                    let stream: Vec<u8> =
                        frames.iter().filter(|f| f.dir == dir).take(12).flat_map(|f| f.raw.clone()).collect();
                    seeds.push(stream);
                }
            }
        }
        "sps" => {
            for f in captures.iter().flatten().filter(|f| f.payload.len() < 1 << 14) {
                for which in 0..37u8 {
                    seeds.push(std::iter::once(which).chain(f.payload.iter().copied()).collect());
                }
            }
        }
        "setup" => {
            for f in captures.iter().flatten().filter(|f| f.header.opcode == 0) {
                seeds.push(f.payload.clone());
            }
        }
        "elf" => {
            for (src, flags) in [
                ("hello.c", &["-O0", "-fPIC"][..]),
                ("cprog.c", &["-O2", "-fPIC"]),
                ("cxx_exc.cpp", &["-O0", "-fPIC"]),
                ("cxx_init.cpp", &["-O2", "-fPIC"]),
                ("cprog.c", &["-O1", "-fno-pic"]),
            ] {
                let obj = device_tests::compile(src, scratch, flags);
                seeds.push(std::fs::read(&obj)?);
            }
            let obj = device_tests::compile("cprog.c", scratch, &["-O0", "-fPIC"]);
            let lib = scratch.join("libseed.a");
            let o = device_tests::run(
                std::process::Command::new(device_tests::llvm_tool("llvm-ar")).arg("rcs").arg(&lib).arg(&obj),
                60,
            );
            anyhow::ensure!(o.status.success(), "llvm-ar failed");
            seeds.push(std::fs::read(&lib)?);
        }
        _ => bail!("unknown target {target}"),
    }
    anyhow::ensure!(!seeds.is_empty(), "no seeds for {target}");
    Ok(seeds)
}

/// The message of the last panic, for the report (the hook keeps the output quiet).
static LAST_PANIC: Mutex<String> = Mutex::new(String::new());

/// Runs `runs` inputs on each of `targets` (all when empty); fails if any input panicked.
pub fn run(targets: &[String], runs: u64, seed: u64) -> Result<()> {
    let scratch = tempfile::tempdir()?;
    let out_dir = device_tests::workspace_root().join("target/fuzz-failures");
    std::panic::set_hook(Box::new(|info| {
        *LAST_PANIC.lock().unwrap_or_else(|e| e.into_inner()) = info.to_string();
    }));
    let mut failures = 0u64;
    println!(
        "{:<8} {:>10} {:>8} {:>8} {:>9} {:>10} {:>9}  corpus",
        "target", "inputs", "panics", "other", "accepted", "inputs/s", "max (ms)"
    );
    for t in TARGETS.iter().filter(|t| targets.is_empty() || targets.iter().any(|n| n == t.name)) {
        let mut corpus = seeds(t.name, scratch.path()).with_context(|| format!("seeds for {}", t.name))?;
        let mut seen: HashSet<String> = HashSet::new();
        let mut rng = Rng(seed ^ 0x9e37_79b9_7f4a_7c15 ^ t.name.len() as u64);
        let (mut panics, mut other, mut accepted, mut slowest) = (0u64, 0u64, 0u64, 0f64);
        let start = Instant::now();
        for i in 0..runs {
            let base = corpus[rng.below(corpus.len())].clone();
            let other_seed = &corpus[rng.below(corpus.len())];
            let mut input = base;
            mutate(&mut rng, &mut input, other_seed, t.max_len);
            let t0 = Instant::now();
            let outcome = catch_unwind(AssertUnwindSafe(|| (t.run)(&input)));
            slowest = slowest.max(t0.elapsed().as_secs_f64() * 1e3);
            let failure = match outcome {
                Ok(Ok(label)) => {
                    accepted += u64::from(label.starts_with("ok"));
                    if corpus.len() < 2000 && seen.insert(label) {
                        corpus.push(input);
                    }
                    continue;
                }
                Ok(Err(e)) => {
                    other += 1;
                    e
                }
                Err(_) => {
                    panics += 1;
                    LAST_PANIC.lock().unwrap_or_else(|e| e.into_inner()).clone()
                }
            };
            failures += 1;
            std::fs::create_dir_all(&out_dir)?;
            let file: PathBuf = out_dir.join(format!("{}-{i}.bin", t.name));
            std::fs::write(&file, &input)?;
            eprintln!("{}: input {i} failed ({}): {failure}", t.name, file.display());
        }
        let secs = start.elapsed().as_secs_f64();
        println!(
            "{:<8} {:>10} {:>8} {:>8} {:>8.1}% {:>10.0} {:>9.2}  {}",
            t.name,
            runs,
            panics,
            other,
            accepted as f64 * 100.0 / runs.max(1) as f64,
            runs as f64 / secs,
            slowest,
            corpus.len()
        );
    }
    let _ = std::panic::take_hook();
    if failures > 0 {
        bail!("{failures} input(s) failed; they are saved in {}", out_dir.display());
    }
    Ok(())
}
