//! `bench link`: the same objects linked and run by `repl` (our linker, orc-executor over
//! pipes) and by `llvm-jitlink -oop-executor=llvm-jitlink-executor` (LLVM's JITLink and
//! executor over pipes).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use device_tests::{llvm_tool, our_bin, programs_dir};

use crate::{median, tap};

struct Case {
    name: &'static str,
    objects: Vec<PathBuf>,
}

fn clang(src: &Path, out: &Path) -> Result<()> {
    let cxx = src.extension().is_some_and(|e| e == "cpp");
    let o = Command::new(llvm_tool(if cxx { "clang++" } else { "clang" }))
        .args(["-c", "-O2", "-fPIC"])
        .arg(src)
        .arg("-o")
        .arg(out)
        .output()?;
    ensure!(o.status.success(), "compiling {}: {}", src.display(), String::from_utf8_lossy(&o.stderr));
    Ok(())
}

/// A program with ~2 MB of code and a 20 MiB data blob, in two objects.
fn large(dir: &Path) -> Result<Vec<PathBuf>> {
    const FUNCS: usize = 20_000;
    let mut c = String::from("#include <stdio.h>\nextern const unsigned char blob[], blob_end[];\n");
    for i in 0..FUNCS {
        writeln!(c, "int f{i}(int x) {{ return x * {} + {}; }}", i % 97 + 1, i % 13)?;
    }
    c.push_str("int (*const table[])(int) = {");
    for i in 0..FUNCS {
        write!(c, "f{i},")?;
    }
    c.push_str(
        "};\nint main(void) {\n  unsigned long sum = 0;\n  for (const unsigned char *p = blob; p < blob_end; p += 4096) sum += *p;\n  \
         long t = 0;\n  for (unsigned i = 0; i < sizeof table / sizeof table[0]; i++) t += table[i](i);\n  \
         printf(\"blob %lu bytes, sum %lu, table %ld\\n\", (unsigned long)(blob_end - blob), sum, t);\n  return 0;\n}\n",
    );
    let src = dir.join("large_main.c");
    std::fs::write(&src, c)?;
    let blob = dir.join("blob.bin");
    let mut bytes = vec![0u8; 20 << 20];
    let mut x = 0x2545_f491_4f6c_dd1du64;
    for b in &mut bytes {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = x as u8;
    }
    std::fs::write(&blob, bytes)?;
    let asm = dir.join("blob.s");
    std::fs::write(
        &asm,
        format!(
            ".section .rodata\n.globl blob\n.globl blob_end\n.p2align 4\nblob:\n.incbin \"{}\"\nblob_end:\n\
             .section .note.GNU-stack,\"\",@progbits\n",
            blob.display()
        ),
    )?;
    let (main_o, blob_o) = (dir.join("large_main.o"), dir.join("blob.o"));
    clang(&src, &main_o)?;
    let o = Command::new(llvm_tool("clang")).arg("-c").arg(&asm).arg("-o").arg(&blob_o).output()?;
    ensure!(o.status.success(), "assembling the blob: {}", String::from_utf8_lossy(&o.stderr));
    Ok(vec![main_o, blob_o])
}

fn timed(mut cmd: Command) -> Result<(Duration, Output)> {
    let start = Instant::now();
    let o = cmd.output().with_context(|| format!("running {cmd:?}"))?;
    Ok((start.elapsed(), o))
}

/// Median wall time over `runs` in ms, and the output of the first run.
fn measure(runs: usize, make: &dyn Fn() -> Command) -> Result<(f64, Output)> {
    let (first_time, first) = timed(make())?;
    let mut times = vec![first_time];
    for _ in 1..runs {
        times.push(timed(make())?.0);
    }
    Ok((median(times).as_secs_f64() * 1e3, first))
}

/// Calls from controller to executor in one run of `make` through the tap.
fn count_calls(
    dir: &Path,
    me: &Path,
    executor: &Path,
    expected: Option<i32>,
    make: &dyn Fn(&Path) -> Command,
) -> Result<u64> {
    let log = dir.join("tap.log");
    let _ = std::fs::remove_file(&log);
    let mut cmd = make(me);
    cmd.envs(tap::env(executor, &log));
    let o = cmd.output()?;
    ensure!(
        o.status.code() == expected,
        "the tapped run ended with {:?}, the timed one with {expected:?}: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stderr)
    );
    let text = std::fs::read_to_string(&log).with_context(|| {
        format!("the tap wrote no log; the command said: {}", String::from_utf8_lossy(&o.stderr))
    })?;
    let c2e: u64 = text.split_whitespace().next().context("empty tap log")?.parse()?;
    Ok(c2e)
}

pub fn run(runs: usize) -> Result<()> {
    // Taken before `our_bin` builds the workspace, which may relink this very binary: then
    // the running image is deleted and only its path leads to a tap.
    let me = std::env::current_exe()?;
    let dir = tempfile::tempdir()?;
    let progs = programs_dir();
    let mut cases = Vec::new();
    for (name, src) in [("hello", "hello.c"), ("c program", "cprog.c"), ("C++ exceptions", "cxx_exc.cpp")] {
        let obj = dir.path().join(format!("{src}.o"));
        clang(&progs.join(src), &obj)?;
        cases.push(Case { name, objects: vec![obj] });
    }
    cases.push(Case { name: "large (22 MB)", objects: large(dir.path())? });

    let repl = our_bin("repl");
    let orc_executor = our_bin("orc-executor");
    let jitlink = llvm_tool("llvm-jitlink");
    let llvm_executor = llvm_tool("llvm-jitlink-executor");
    println!("bench link: {runs} runs each, median wall time of the whole command, same objects (-O2 -fPIC)");
    println!(
        "{:<16} {:>12} {:>14} {:>7} {:>14} {:>16}",
        "program", "repl (ms)", "llvm-jitlink", "ratio", "calls (ours)", "calls (llvm)"
    );
    for case in &cases {
        let ours = || {
            let mut c = Command::new(&repl);
            c.args(&case.objects);
            c
        };
        // llvm-jitlink passes no program name; give it the one repl passes (argv[0]).
        let theirs = || {
            let mut c = Command::new(&jitlink);
            c.arg(format!("-oop-executor={}", llvm_executor.display()))
                .args(&case.objects)
                .arg("-args")
                .arg(&case.objects[0]);
            c
        };
        let (ours_ms, ours_out) = measure(runs, &ours)?;
        let (theirs_ms, theirs_out) = measure(runs, &theirs)?;
        if ours_out.stdout != theirs_out.stdout || ours_out.status.code() != theirs_out.status.code() {
            bail!(
                "{}: outputs differ\nrepl: {:?} {}\nllvm-jitlink: {:?} {}",
                case.name,
                ours_out.status.code(),
                String::from_utf8_lossy(&ours_out.stdout),
                theirs_out.status.code(),
                String::from_utf8_lossy(&theirs_out.stdout)
            );
        }
        let ours_calls = count_calls(dir.path(), &me, &orc_executor, ours_out.status.code(), &|me| {
            let mut c = Command::new(&repl);
            c.arg(format!("--oop-executor={}", me.display())).args(&case.objects);
            c
        })?;
        let theirs_calls = count_calls(dir.path(), &me, &llvm_executor, theirs_out.status.code(), &|me| {
            let mut c = Command::new(&jitlink);
            c.arg(format!("-oop-executor={}", me.display()))
                .args(&case.objects)
                .arg("-args")
                .arg(&case.objects[0]);
            c
        })?;
        println!(
            "{:<16} {:>12.1} {:>14.1} {:>7.2} {:>14} {:>16}",
            case.name,
            ours_ms,
            theirs_ms,
            ours_ms / theirs_ms,
            ours_calls,
            theirs_calls
        );
    }
    println!(
        "ratio = repl / llvm-jitlink (below 1: orcbridge is faster). Calls are controller→executor CallWrappers,"
    );
    println!(
        "counted on the wire; orcbridge issues its lookup and reserve concurrently, so its round trips are fewer."
    );
    Ok(())
}
