//! AArch64 Linux end to end, under qemu-user, with the executors `scripts/build-target.sh
//! aarch64-unknown-linux-gnu` provides (the README's test command runs it; without them each
//! test says what is missing and passes):
//!
//! * the program corpus (`programs/repl/`) through `repl`, at -O0 and -O2, against LLVM 22's
//!   own arm64 `llvm-jitlink-executor` (launched by repl over pipes; from the sources, which
//!   repl compiles for the triple the executor announces, and from aarch64 objects) and
//!   against our `orc-executor` built for aarch64 (TCP), must print the same stdout and exit
//!   with the same status as the same sources built natively for aarch64
//!   (`clang-22 --target=aarch64-linux-gnu`, linked with `aarch64-linux-gnu-gcc`) under qemu:
//!   our JIT linker's aarch64 side (fix-ups, stubs, GOT, `.eh_frame`, initializers), and our
//!   executor on aarch64;
//! * LLVM's `llvm-jitlink` (this x86-64 host) runs aarch64 objects in our aarch64 executor as
//!   in LLVM's;
//! * the REPL transcript and crash survival in our aarch64 executor.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use device_tests::aarch64::{TRIPLE, Target};
use device_tests::corpus::{Program, manifest};
use device_tests::*;

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// How thread-locals are compiled.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Tls {
    /// clang's default for `-fPIC`, as repl compiles: TLS descriptors, which the linker points
    /// at the session runtime's resolver.
    Descriptors,
    /// `-femulated-tls`: plain data and calls of `__emutls_get_address`.
    Emulated,
}

/// True if `p` has thread-locals.
fn uses_tls(p: &Program) -> bool {
    p.sources.iter().chain(&p.archive).any(|s| {
        let text = std::fs::read_to_string(s).unwrap_or_default();
        ["thread_local", "__thread", "_Thread_local"].iter().any(|k| text.contains(k))
    })
}

/// aarch64 objects (and archive) for `p` at `opt`, compiled as repl compiles for aarch64,
/// thread-locals as `tls` says.
fn build_objects(p: &Program, opt: &str, tls: Tls, dir: &Path) -> Vec<PathBuf> {
    let compile = |src: &Path| {
        let out = dir.join(format!("{}.o", src.file_stem().unwrap().to_string_lossy()));
        let mut cmd = Command::new(llvm_tool(if p.cxx { "clang++" } else { "clang" }));
        cmd.arg(format!("--target={TRIPLE}"))
            .args(["-c", "-fPIC", "-mno-outline-atomics", opt])
            .args((tls == Tls::Emulated).then_some("-femulated-tls"))
            .args(if p.cxx { &["-std=c++17"][..] } else { &[] })
            .arg(src)
            .arg("-o")
            .arg(&out);
        let o = run(&mut cmd, 120);
        assert!(o.status.success(), "{}: {}", p.name, text(&o.stderr));
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
    assert!(o.status.success(), "{}: native link: {}", p.name, text(&o.stderr));
    run(Command::new("qemu-aarch64").arg(&exe).args(&p.args), 120)
}

fn repl(args: &[String], inputs: &[PathBuf], prog_args: &[String]) -> Output {
    run(Command::new(our_bin("repl")).args(args).args(inputs).arg("--").args(prog_args), 300)
}

fn check(p: &Program, t: &Target) -> Vec<String> {
    let mut problems = Vec::new();
    for opt in ["-O0", "-O2"] {
        let dir = scratch();
        let llvm = format!("--oop-executor={}", Target::wrapper(&t.llvm_executor, dir.path()).display());
        let objs = build_objects(p, opt, Tls::Descriptors, dir.path());
        let want = native(p, &objs, dir.path());
        if let Some(m) = p.native_mismatch(opt, &want) {
            problems.push(m);
            continue;
        }
        let mut compare = |mode: &str, stdout: &[u8], o: &Output| {
            problems.extend(mismatch(&format!("{} {opt} [{mode}]", p.name), stdout, o, &want));
        };
        let mut from_sources = p.sources.clone();
        if !p.archive.is_empty() {
            from_sources.push(objs.last().unwrap().clone());
        }
        let mut xcc = vec![llvm.clone(), "-Xcc".into(), opt.into()];
        if p.cxx {
            xcc.extend(["-Xcc".into(), "-std=c++17".into()]);
        }
        let o = repl(&xcc, &from_sources, &p.args);
        compare("llvm-jitlink-executor, pipes, sources", &o.stdout, &o);
        let o = repl(std::slice::from_ref(&llvm), &objs, &p.args);
        compare("llvm-jitlink-executor, pipes", &o.stdout, &o);
        if uses_tls(p) {
            let emu_dir = dir.path().join("emutls");
            std::fs::create_dir(&emu_dir).unwrap();
            let emulated = build_objects(p, opt, Tls::Emulated, &emu_dir);
            let o = repl(std::slice::from_ref(&llvm), &emulated, &p.args);
            compare("llvm-jitlink-executor, pipes, emulated TLS", &o.stdout, &o);
        }
        // Our executor on TCP: the program's output is forwarded to repl, and the executor's
        // stdout keeps a copy.
        let (o, printed, _) = t
            .serve_once(dir.path(), |addr| repl(&[format!("--oop-executor-connect={addr}")], &objs, &p.args));
        compare("orc-executor, tcp, forwarded", &o.stdout, &o);
        compare("orc-executor, tcp, executor's copy", printed.as_bytes(), &o);
    }
    problems
}

#[test]
fn corpus_matches_native_aarch64_in_both_aarch64_executors() {
    let Some(t) = Target::for_test() else { return };
    let programs = manifest();
    assert!(programs.len() >= 30, "the corpus has {} programs", programs.len());
    let problems = in_parallel(programs, 2, |p| check(&p, &t)).concat();
    assert!(problems.is_empty(), "{} mismatches:\n{}", problems.len(), problems.join("\n"));
}

#[test]
fn llvm_jitlink_runs_aarch64_objects_in_our_executor_as_in_llvms() {
    let Some(t) = Target::for_test() else { return };
    // The C programs (llvm-jitlink runs C++ static initialisers only with LLVM's ORC runtime).
    let programs: Vec<Program> = manifest().into_iter().filter(|p| !p.cxx && p.archive.is_empty()).collect();
    assert!(programs.len() >= 15, "{} C programs", programs.len());
    let mut problems = Vec::new();
    for p in &programs {
        let dir = scratch();
        let objs = build_objects(p, "-O2", Tls::Descriptors, dir.path());
        let jitlink = |flag: String| {
            let mut cmd = Command::new(llvm_tool("llvm-jitlink"));
            cmd.arg(flag).args(&objs);
            if !p.args.is_empty() {
                cmd.arg("-args").args(&p.args);
            }
            run(&mut cmd, 300)
        };
        let llvm =
            jitlink(format!("-oop-executor={}", Target::wrapper(&t.llvm_executor, dir.path()).display()));
        let (ours, ours_stdout, ours_stderr) =
            t.serve_once(dir.path(), |addr| jitlink(format!("-oop-executor-connect={addr}")));
        if ours_stdout != text(&llvm.stdout) || ours.status.code() != llvm.status.code() {
            problems.push(format!(
                "{}: ours {:?}, LLVM's {:?}\n--- ours\n{ours_stdout}--- LLVM's\n{}--- stderr\n{}{}",
                p.name,
                ours.status.code(),
                llvm.status.code(),
                text(&llvm.stdout),
                text(&ours.stderr),
                ours_stderr
            ));
        }
    }
    assert!(problems.is_empty(), "{} mismatches:\n{}", problems.len(), problems.join("\n"));
}

/// Replaces every `@0x…` address with `@0x` (addresses differ between runs and executors).
fn without_addresses(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find("@0x") {
        out.push_str(&rest[..i + 3]);
        rest = rest[i + 3..].trim_start_matches(|c: char| c.is_ascii_hexdigit());
    }
    out.push_str(rest);
    out
}

fn transcript(args: &[String], input: &str) -> Output {
    let mut child = spawn(Command::new(our_bin("repl")).args(args).stdin(Stdio::piped()));
    child.take_stdin().write_all(input.as_bytes()).unwrap();
    child.wait(Duration::from_secs(300))
}

#[test]
fn the_repl_transcript_and_crash_survival_in_our_aarch64_executor() {
    let Some(t) = Target::for_test() else { return };
    let input = std::fs::read_to_string(programs_dir().join("repl_transcript.txt")).unwrap();
    // The reference: the same transcript in LLVM's x86-64 executor on this host.
    let want =
        transcript(&[format!("--oop-executor={}", llvm_tool("llvm-jitlink-executor").display())], &input);
    assert!(text(&want.stdout).contains("(int) 42"), "{}", text(&want.stderr));
    let dir = scratch();

    // LLVM's aarch64 executor over pipes: everything on repl's stdout.
    let llvm = format!("--oop-executor={}", Target::wrapper(&t.llvm_executor, dir.path()).display());
    let o = transcript(std::slice::from_ref(&llvm), &input);
    assert_eq!(
        without_addresses(&text(&o.stdout)),
        without_addresses(&text(&want.stdout)),
        "{}",
        text(&o.stderr)
    );
    assert_eq!(o.status.code(), want.status.code());

    // Ours over TCP: printf forwarded to repl's stdout in order with the values, and a copy on
    // the executor's.
    let (o, printed, _) =
        t.serve_once(dir.path(), |addr| transcript(&[format!("--oop-executor-connect={addr}")], &input));
    assert_eq!(printed, "hello 42\n");
    assert_eq!(
        without_addresses(&text(&o.stdout)),
        without_addresses(&text(&want.stdout)),
        "{}",
        text(&o.stderr)
    );
    assert!(text(&o.stderr).contains("use of undeclared identifier 'undeclared'"), "{}", text(&o.stderr));

    // A crash is survived: the input is undone, the session goes on.
    let (o, _, _) = t.serve_once(dir.path(), |addr| {
        transcript(
            &["-x".into(), "c".into(), format!("--oop-executor-connect={addr}")],
            "int x = 1;\n*(volatile int *)0 = x;\nint *p = 0;\nx + 1\n",
        )
    });
    assert_eq!(text(&o.stdout), "(int) 2\n", "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("error: the input crashed with SIGSEGV (invalid memory access at 0x0)"),
        "{}",
        text(&o.stderr)
    );
}

#[test]
fn dash_l_loads_the_targets_library_by_its_soname() {
    let Some(t) = Target::for_test() else { return };
    let dir = scratch();
    let llvm = format!("--oop-executor={}", Target::wrapper(&t.llvm_executor, dir.path()).display());
    let math = manifest().into_iter().find(|p| p.name == "math_lib").expect("math_lib in the MANIFEST");
    let prog = &math.sources[0];
    // libm.so of the cross sysroot is a symlink to libm.so.6: the executor loads "libm.so.6".
    let o = run(Command::new(our_bin("repl")).args(["-v", "-lm", &llvm]).arg(prog), 300);
    assert_eq!(o.status.code(), Some(math.exit), "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("libm.so.6"), "{}", text(&o.stderr));
    assert!(
        !text(&o.stderr).contains("/usr/aarch64-linux-gnu"),
        "a host path went to the target: {}",
        text(&o.stderr)
    );
    // A library this machine has no development file of, for that architecture: advice.
    let o = run(Command::new(our_bin("repl")).args(["-lsurely_not_a_library", &llvm]).arg(prog), 300);
    assert!(text(&o.stderr).contains("--dlopen"), "{}", text(&o.stderr));
}
