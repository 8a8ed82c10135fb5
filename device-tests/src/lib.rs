//! Shared helpers for orcbridge's integration tests: locating the LLVM 22 tools and our
//! binaries, compiling test programs, running processes with time limits, reading captured
//! sessions and speaking the wire protocol as a test peer.

pub mod capture;
pub mod peer;
pub mod replay;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Directory of the LLVM 22 tools (`LLVM22_BIN` overrides `/usr/lib/llvm-22/bin`).
pub fn llvm_bin() -> PathBuf {
    std::env::var_os("LLVM22_BIN").map_or_else(|| PathBuf::from("/usr/lib/llvm-22/bin"), PathBuf::from)
}

/// Path of an LLVM 22 tool, e.g. `llvm-jitlink`; panics with a set-up hint if missing.
pub fn llvm_tool(name: &str) -> PathBuf {
    let p = llvm_bin().join(name);
    assert!(p.exists(), "{} not found: run scripts/setup.sh (installs LLVM 22 from Debian)", p.display());
    p
}

/// LLVM 22's ORC runtime archive for x86-64 Linux.
pub fn orc_runtime() -> PathBuf {
    let p = llvm_bin().join("../lib/clang/22/lib/linux/liborc_rt-x86_64.a");
    assert!(p.exists(), "{} not found: install libclang-rt-22-dev", p.display());
    p
}

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace root").to_path_buf()
}

/// Path of one of this workspace's binaries, built (once per test process) with the same
/// profile as the running test.
pub fn our_bin(name: &str) -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    let dir = BUILT.get_or_init(|| {
        let release = !cfg!(debug_assertions);
        let mut cmd = Command::new(env!("CARGO"));
        cmd.args(["build", "--workspace", "--bins", "--quiet"]).current_dir(workspace_root());
        if release {
            cmd.arg("--release");
        }
        let st = cmd.status().expect("cannot run cargo to build the binaries");
        assert!(st.success(), "building the workspace binaries failed");
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map_or_else(|| workspace_root().join("target"), PathBuf::from);
        target.join(if release { "release" } else { "debug" })
    });
    dir.join(name)
}

/// A scratch directory for one test.
pub fn scratch() -> tempfile::TempDir {
    tempfile::Builder::new().prefix("orcbridge-test-").tempdir().expect("tempdir")
}

/// The test programs' source directory.
pub fn programs_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("programs")
}

/// Compiles `src` (from [`programs_dir`]) to an object in `dir` with clang 22 and `flags`.
pub fn compile(src: &str, dir: &Path, flags: &[&str]) -> PathBuf {
    let input = programs_dir().join(src);
    let tag: String = flags.iter().map(|f| f.replace(['-', '='], "")).collect::<Vec<_>>().join("_");
    let out = dir.join(format!("{}.{tag}.o", src.replace('.', "_")));
    let clang = if src.ends_with(".c") { "clang" } else { "clang++" };
    let o = run(Command::new(llvm_tool(clang)).arg("-c").args(flags).arg(&input).arg("-o").arg(&out), 60);
    assert!(o.status.success(), "compiling {src} failed:\n{}", String::from_utf8_lossy(&o.stderr));
    out
}

/// Builds `src` as a native executable with clang 22 and `flags`.
pub fn compile_native(src: &str, dir: &Path, flags: &[&str]) -> PathBuf {
    let input = programs_dir().join(src);
    let out = dir.join(format!("{}.native", src.replace('.', "_")));
    let clang = if src.ends_with(".c") { "clang" } else { "clang++" };
    let o = run(Command::new(llvm_tool(clang)).args(flags).arg(&input).arg("-lm").arg("-o").arg(&out), 60);
    assert!(o.status.success(), "building {src} failed:\n{}", String::from_utf8_lossy(&o.stderr));
    out
}

/// Runs `cmd` to completion with stdout and stderr captured, killing it after `secs` seconds
/// (which fails the test).
pub fn run(cmd: &mut Command, secs: u64) -> Output {
    let child = cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn();
    let child = child.unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
    wait_output(child, Duration::from_secs(secs), &format!("{cmd:?}"))
}

/// Waits for `child` (with piped output) at most `limit`, then kills it and panics.
pub fn wait_output(mut child: Child, limit: Duration, what: &str) -> Output {
    let start = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(_)) => return child.wait_with_output().expect("collect output"),
            Ok(None) if start.elapsed() < limit => std::thread::sleep(Duration::from_millis(5)),
            _ => {
                let _ = child.kill();
                let out = child.wait_with_output().expect("collect output");
                panic!(
                    "{what} did not finish within {limit:?}\nstdout:\n{}\nstderr:\n{}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                );
            }
        }
    }
}

/// A process killed when dropped (for servers started by a test).
#[derive(Debug)]
pub struct KillOnDrop(Option<Child>);

impl KillOnDrop {
    /// Takes ownership of `child`.
    pub fn new(child: Child) -> Self {
        KillOnDrop(Some(child))
    }

    /// Takes the process back (it will no longer be killed on drop).
    pub fn into_child(mut self) -> Child {
        self.0.take().expect("child present until dropped")
    }

    /// The process id.
    pub fn id(&self) -> u32 {
        self.0.as_ref().map_or(0, Child::id)
    }
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Some(c) = &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Starts `orc-executor listen=127.0.0.1:0 ARGS…` with stdout going to `stdout_file` and
/// stderr captured, and returns it with the port it reported.
pub fn start_listening_executor(args: &[&str], stdout_file: &Path, stderr_file: &Path) -> (KillOnDrop, u16) {
    let child = Command::new(our_bin("orc-executor"))
        .arg("listen=127.0.0.1:0")
        .args(args)
        .args(std::env::var_os("ORC_TEST_VERBOSE").map(|_| "-v"))
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(stdout_file).expect("stdout file"))
        .stderr(std::fs::File::create(stderr_file).expect("stderr file"))
        .spawn()
        .expect("start orc-executor");
    let guard = KillOnDrop::new(child);
    let start = Instant::now();
    loop {
        let text = std::fs::read_to_string(stderr_file).unwrap_or_default();
        // Only a whole line: the banner may be half written when we read it.
        if let Some((addr, _)) = text.split("listening on ").nth(1).and_then(|rest| rest.split_once('\n')) {
            let port = addr.rsplit(':').next().and_then(|p| p.trim().parse().ok()).expect("port in banner");
            return (guard, port);
        }
        assert!(start.elapsed() < Duration::from_secs(10), "orc-executor did not start listening:\n{text}");
        std::thread::sleep(Duration::from_millis(5));
    }
}
