//! AArch64 Linux end to end, under qemu: the program corpus (`programs/repl/`) through `repl`
//! against LLVM 22's own aarch64 `llvm-jitlink-executor` (launched by repl over pipes), at -O0
//! and -O2, from the sources (repl compiles them for the triple the executor announces) and
//! from aarch64 objects, must print the same stdout and exit with the same status as the same
//! sources built natively for aarch64 (`clang-22 --target=aarch64-linux-gnu`, linked with
//! `aarch64-linux-gnu-gcc`) and run under qemu. This is our JIT linker's aarch64 side, its
//! fix-ups, stubs, GOT, `.eh_frame` and initializers, proven by running the code.
//!
//! Needs what `scripts/build-target.sh aarch64-unknown-linux-gnu` installs (the README's test
//! command runs it); without it the test says so and passes.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Mutex;

use device_tests::corpus::{Program, manifest};
use device_tests::*;

const TRIPLE: &str = "aarch64-linux-gnu";

/// LLVM's aarch64 executor, where build-target.sh extracts it, if it and qemu are there.
fn llvm_executor() -> Option<PathBuf> {
    let exe = workspace_root()
        .join("target/aarch64-unknown-linux-gnu/llvm-22/usr/lib/llvm-22/bin/llvm-jitlink-executor");
    let qemu = Command::new("qemu-aarch64").arg("--version").output().is_ok_and(|o| o.status.success());
    let cross =
        Command::new("aarch64-linux-gnu-gcc").arg("--version").output().is_ok_and(|o| o.status.success());
    (exe.is_file() && qemu && cross).then_some(exe)
}

/// A script that runs `exe` under qemu with the arguments repl gives an executor.
fn qemu_wrapper(exe: &Path, dir: &Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join("aarch64-executor");
    std::fs::write(&path, format!("#!/bin/sh\nexec qemu-aarch64 '{}' \"$@\"\n", exe.display())).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// aarch64 objects (and archive) for `p` at `opt`, compiled as repl compiles for aarch64.
fn build_objects(p: &Program, opt: &str, dir: &Path) -> Vec<PathBuf> {
    let compile = |src: &Path| {
        let out = dir.join(format!("{}.o", src.file_stem().unwrap().to_string_lossy()));
        let mut cmd = Command::new(llvm_tool(if p.cxx { "clang++" } else { "clang" }));
        cmd.arg(format!("--target={TRIPLE}"))
            .args(["-c", "-fPIC", "-femulated-tls", "-mno-outline-atomics", opt])
            .args(if p.cxx { &["-std=c++17"][..] } else { &[] })
            .arg(src)
            .arg("-o")
            .arg(&out);
        let o = run(&mut cmd, 120);
        assert!(o.status.success(), "{}: {}", p.name, String::from_utf8_lossy(&o.stderr));
        out
    };
    p.objects(dir, compile)
}

/// The native aarch64 program, run under qemu.
fn native(p: &Program, objs: &[PathBuf], dir: &Path) -> Output {
    let exe = dir.join("native");
    let mut cmd = Command::new(if p.cxx { "aarch64-linux-gnu-g++" } else { "aarch64-linux-gnu-gcc" });
    cmd.args(objs).arg("-lm").arg("-o").arg(&exe);
    if p.threads {
        cmd.arg("-pthread");
    }
    let o = run(&mut cmd, 120);
    assert!(o.status.success(), "{}: native link: {}", p.name, String::from_utf8_lossy(&o.stderr));
    run(Command::new("qemu-aarch64").arg(&exe).args(&p.args), 120)
}

fn check(p: &Program, executor: &Path) -> Vec<String> {
    let mut problems = Vec::new();
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    for opt in ["-O0", "-O2"] {
        let dir = scratch();
        let wrapper = qemu_wrapper(executor, dir.path());
        let objs = build_objects(p, opt, dir.path());
        let want = native(p, &objs, dir.path());
        if let Some(m) = p.native_mismatch(opt, &want) {
            problems.push(m);
            continue;
        }
        let mut xcc: Vec<String> =
            vec![format!("--oop-executor={}", wrapper.display()), "-Xcc".into(), opt.into()];
        if p.cxx {
            xcc.extend(["-Xcc".into(), "-std=c++17".into()]);
        }
        let mut from_sources = p.sources.clone();
        if !p.archive.is_empty() {
            from_sources.push(objs.last().unwrap().clone());
        }
        for (mode, args, inputs) in [
            ("sources", xcc.clone(), &from_sources),
            ("objects", vec![format!("--oop-executor={}", wrapper.display())], &objs),
        ] {
            let o = run(Command::new(our_bin("repl")).args(&args).args(inputs).arg("--").args(&p.args), 300);
            if o.stdout != want.stdout || o.status.code() != want.status.code() {
                problems.push(format!(
                    "{} {opt} [{mode}]: status {:?} (native {:?})\n--- stdout\n{}--- native\n{}--- stderr\n{}",
                    p.name,
                    o.status.code(),
                    want.status.code(),
                    text(&o.stdout),
                    text(&want.stdout),
                    text(&o.stderr)
                ));
            }
        }
    }
    problems
}

#[test]
fn corpus_matches_native_aarch64_in_llvms_aarch64_executor() {
    let Some(executor) = llvm_executor() else {
        eprintln!(
            "SKIPPED: qemu-aarch64, the aarch64 cross toolchain or LLVM's aarch64 executor is missing; \
             run scripts/build-target.sh aarch64-unknown-linux-gnu"
        );
        return;
    };
    let programs = manifest();
    assert!(programs.len() >= 30, "the corpus has {} programs", programs.len());
    let queue = Mutex::new(programs);
    let problems = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                while let Some(p) = queue.lock().unwrap().pop() {
                    let found = check(&p, &executor);
                    problems.lock().unwrap().extend(found);
                }
            });
        }
    });
    let problems = problems.into_inner().unwrap();
    assert!(problems.is_empty(), "{} mismatches:\n{}", problems.len(), problems.join("\n"));
}
