//! The program corpus in `programs/repl/` (see its MANIFEST) run through `repl`: each program,
//! at -O0 and -O2, must print the same stdout and exit with the same status as the same
//! sources built natively with clang 22 — in orc-executor (launched over pipes, and over TCP)
//! and in LLVM's llvm-jitlink-executor (`filedescs=` launched by repl, and `listen=`).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use device_tests::corpus::{Program, manifest};
use device_tests::*;

fn clang(p: &Program) -> PathBuf {
    llvm_tool(if p.cxx { "clang++" } else { "clang" })
}

fn std_flag(p: &Program) -> &'static [&'static str] {
    if p.cxx { &["-std=c++17"] } else { &[] }
}

/// Objects (and the archive) for `p` at `opt`, compiled as repl compiles: -fPIC.
fn build_objects(p: &Program, opt: &str, dir: &Path) -> Vec<PathBuf> {
    let compile = |src: &Path| {
        let out = dir.join(format!("{}.o", src.file_stem().unwrap().to_string_lossy()));
        let o = run(
            Command::new(clang(p)).args(["-c", "-fPIC", opt]).args(std_flag(p)).arg(src).arg("-o").arg(&out),
            120,
        );
        assert!(o.status.success(), "{}: {}", p.name, String::from_utf8_lossy(&o.stderr));
        out
    };
    p.objects(dir, compile)
}

fn native(p: &Program, opt: &str, objs: &[PathBuf], dir: &Path) -> Output {
    let exe = dir.join("native");
    let mut cmd = Command::new(clang(p));
    cmd.args(objs).arg("-lm").arg("-o").arg(&exe);
    if p.threads {
        cmd.arg("-pthread");
    }
    let o = run(&mut cmd, 120);
    assert!(o.status.success(), "{} {opt}: native link: {}", p.name, String::from_utf8_lossy(&o.stderr));
    run(Command::new(&exe).args(&p.args), 60)
}

fn repl(args: &[String], files: &[PathBuf], prog_args: &[String]) -> Output {
    run(Command::new(our_bin("repl")).args(args).args(files).arg("--").args(prog_args), 120)
}

/// Runs `p` in every executor mode and returns the differences from native.
fn check(p: &Program) -> Vec<String> {
    let mut problems = Vec::new();
    for opt in ["-O0", "-O2"] {
        let dir = scratch();
        let objs = build_objects(p, opt, dir.path());
        let want = native(p, opt, &objs, dir.path());
        if let Some(m) = p.native_mismatch(opt, &want) {
            problems.push(m);
            continue;
        }
        let mut compare = |mode: &str, stdout: &[u8], o: &Output| {
            problems.extend(mismatch(&format!("{} {opt} [{mode}]", p.name), stdout, o, &want));
        };
        // orc-executor launched over pipes, from the sources (repl compiles them) …
        let mut xcc: Vec<String> = vec!["-Xcc".into(), opt.into()];
        if p.cxx {
            xcc.extend(["-Xcc".into(), "-std=c++17".into()]);
        }
        let mut inputs = p.sources.clone();
        if !p.archive.is_empty() {
            inputs.push(objs.last().unwrap().clone());
        }
        let o = repl(&xcc, &inputs, &p.args);
        compare("orc-executor, pipes, sources", &o.stdout, &o);
        // … and from the objects.
        let o = repl(&[], &objs, &p.args);
        compare("orc-executor, pipes", &o.stdout, &o);
        // LLVM's executor, launched by repl with filedescs=.
        let llvm = format!("--oop-executor={}", llvm_tool("llvm-jitlink-executor").display());
        let o = repl(&[llvm], &objs, &p.args);
        compare("llvm-jitlink-executor, pipes", &o.stdout, &o);
        // orc-executor listening on TCP: the program's output is forwarded to repl, and the
        // executor's stdout keeps a copy.
        let (out, err) = (dir.path().join("exe.out"), dir.path().join("exe.err"));
        let (exe, port) = start_listening_executor(&["--once"], &out, &err);
        let o = repl(&[format!("--oop-executor-connect=127.0.0.1:{port}")], &objs, &p.args);
        let _ = exe.wait(std::time::Duration::from_secs(30), "orc-executor --once");
        compare("orc-executor, tcp, forwarded", &o.stdout, &o);
        compare("orc-executor, tcp, executor's copy", &std::fs::read(&out).unwrap_or_default(), &o);
        // LLVM's executor listening on TCP: the output stays on the executor's stdout.
        let (exe, port) = start_llvm_executor_listening(&out, &err);
        let addr = format!("--oop-executor-connect=127.0.0.1:{port}");
        let mut o = repl(std::slice::from_ref(&addr), &objs, &p.args);
        for _ in 0..50 {
            // The executor may not be listening yet.
            if !String::from_utf8_lossy(&o.stderr).contains("Connection refused") {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
            o = repl(std::slice::from_ref(&addr), &objs, &p.args);
        }
        let _ = exe.wait(std::time::Duration::from_secs(30), "llvm-jitlink-executor");
        compare("llvm-jitlink-executor, tcp", &std::fs::read(&out).unwrap_or_default(), &o);
    }
    problems
}

#[test]
fn corpus_matches_native_in_every_executor() {
    let programs = manifest();
    assert!(programs.len() >= 30, "the corpus has {} programs", programs.len());
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get()).clamp(2, 4);
    let problems = in_parallel(programs, workers, |p| check(&p)).concat();
    assert!(problems.is_empty(), "{} mismatches:\n{}", problems.len(), problems.join("\n"));
}
