//! Shared helpers for orcbridge's integration tests: locating the LLVM 22 tools and our
//! binaries, compiling test programs, running processes with time limits, reading captured
//! sessions and speaking the wire protocol as a test peer.

pub mod aarch64;
pub mod capture;
pub mod corpus;
pub mod darwin;
pub mod delay_proxy;
pub mod differential;
pub mod peer;
pub mod replay;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
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

/// Cargo's target directory: `CARGO_TARGET_DIR`, else `target/` in the workspace.
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| workspace_root().join("target"), PathBuf::from)
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
        // Usually a no-op: the test command builds the binaries first.
        let o = spawn(cmd.stdin(Stdio::null())).wait(Duration::from_secs(1800));
        assert!(
            o.status.success(),
            "building the workspace binaries failed:\n{}",
            String::from_utf8_lossy(&o.stderr)
        );
        target_dir().join(if release { "release" } else { "debug" })
    });
    dir.join(name)
}

/// Runs `work` on each of `items` on `workers` threads (at least one) and returns the
/// results in the items' order. The queue's lock is released before an item is worked on
/// (a `while let` on the lock would hold it, and the workers would take turns).
pub fn in_parallel<T: Send, R: Send>(items: Vec<T>, workers: usize, work: impl Fn(T) -> R + Sync) -> Vec<R> {
    let queue = Mutex::new(items.into_iter().enumerate().rev().collect::<Vec<_>>());
    let results = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..workers.max(1) {
            s.spawn(|| {
                loop {
                    let next = queue.lock().unwrap_or_else(|e| e.into_inner()).pop();
                    let Some((i, item)) = next else { break };
                    let r = work(item);
                    results.lock().unwrap_or_else(|e| e.into_inner()).push((i, r));
                }
            });
        }
    });
    let mut results = results.into_inner().unwrap_or_else(|e| e.into_inner());
    results.sort_by_key(|(i, _)| *i);
    results.into_iter().map(|(_, r)| r).collect()
}

/// How a run of a program differs from the reference run `want` (stdout and exit status), as
/// a report naming `what` ran, or `None` if it does not. `stdout` is what the program printed
/// (for a TCP executor, the executor's own stdout); `got` is the controller's process.
pub fn mismatch(what: &str, stdout: &[u8], got: &Output, want: &Output) -> Option<String> {
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (stdout != want.stdout.as_slice() || got.status.code() != want.status.code()).then(|| {
        format!(
            "{what}: status {:?} (native {:?})\n--- stdout\n{}--- native\n{}--- stderr\n{}",
            got.status.code(),
            want.status.code(),
            text(stdout),
            text(&want.stdout),
            text(&got.stderr)
        )
    })
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

/// Runs `cmd` to completion with stdout and stderr captured (stdin: nothing), killing its
/// process tree after `secs` seconds (which fails the test).
pub fn run(cmd: &mut Command, secs: u64) -> Output {
    spawn(cmd.stdin(Stdio::null())).wait(Duration::from_secs(secs))
}

/// Starts `cmd` as a [`Proc`]: in a process group of its own, stdout and stderr piped and read
/// on threads. Stdin is whatever `cmd` says (set `Stdio::piped()` to write to it).
pub fn spawn(cmd: &mut Command) -> Proc {
    let what = format!("{cmd:?}");
    std::os::unix::process::CommandExt::process_group(cmd, 0);
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
    let stdout = Pipe::read(child.stdout.take().expect("piped stdout"));
    let stderr = Pipe::read(child.stderr.take().expect("piped stderr"));
    Proc { child: Some(child), what, stdout, stderr, tty: None }
}

/// As [`spawn`], with stdout on a pseudo-terminal instead of a pipe (stderr still piped): the
/// process sees an interactive terminal for its output only, so C stdio is line-buffered and
/// LLVM's `outs()` unbuffered, and the interleaving of a program's output is what a user sees.
/// The terminal turns `\n` into `\r\n` on the way (see [`Proc::wait`]'s stdout).
///
/// # Panics
/// If no pseudo-terminal can be opened.
pub fn spawn_with_tty_stdout(cmd: &mut Command) -> Proc {
    spawn_on_tty(cmd, false, false)
}

/// As [`spawn_with_tty_stdout`], with stdin on the same terminal: the process is interactive
/// (line editing, raw mode) as in a user's terminal emulator; [`Proc::type_keys`] types.
///
/// # Panics
/// If no pseudo-terminal can be opened.
pub fn spawn_interactive(cmd: &mut Command) -> Proc {
    spawn_on_tty(cmd, true, false)
}

/// As [`spawn_interactive`], with the terminal as the process's controlling terminal in a
/// session of its own, as a shell in a terminal emulator sets it up: Ctrl-C typed with
/// [`Proc::type_keys`] (`"\x03"`) reaches it as `SIGINT` from the terminal's line discipline.
///
/// # Panics
/// If no pseudo-terminal can be opened.
pub fn spawn_in_terminal_session(cmd: &mut Command) -> Proc {
    spawn_on_tty(cmd, true, true)
}

/// A new pseudo-terminal: (master, slave), both opened close-on-exec, so that no process
/// another test thread starts meanwhile inherits them. (`openpty` opens them inheritable: a
/// process started in that window kept this terminal's slave open for its whole life, and a
/// wait for this terminal's end of output then lasted as long as that process.)
///
/// # Panics
/// If the system has no pseudo-terminal to give.
fn open_terminal() -> (std::os::fd::OwnedFd, std::os::fd::OwnedFd) {
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    let fail = |what: &str| -> ! { panic!("{what} failed: {}", std::io::Error::last_os_error()) };
    // SAFETY: posix_openpt returns a new descriptor or -1.
    let master = unsafe { libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC) };
    if master < 0 {
        fail("posix_openpt");
    }
    // SAFETY: a descriptor just opened for us.
    let master = unsafe { OwnedFd::from_raw_fd(master) };
    // SAFETY: grantpt and unlockpt on the master we own.
    if unsafe { libc::grantpt(master.as_raw_fd()) } != 0 || unsafe { libc::unlockpt(master.as_raw_fd()) } != 0
    {
        fail("grantpt/unlockpt");
    }
    let mut name = [0 as libc::c_char; 128];
    // SAFETY: ptsname_r writes at most `name.len()` bytes, NUL included.
    if unsafe { libc::ptsname_r(master.as_raw_fd(), name.as_mut_ptr(), name.len()) } != 0 {
        fail("ptsname_r");
    }
    // SAFETY: `name` is NUL-terminated by ptsname_r.
    let slave = unsafe { libc::open(name.as_ptr(), libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC) };
    if slave < 0 {
        fail("opening the terminal's slave");
    }
    // SAFETY: a descriptor just opened for us.
    (master, unsafe { OwnedFd::from_raw_fd(slave) })
}

fn spawn_on_tty(cmd: &mut Command, with_stdin: bool, session: bool) -> Proc {
    let (master, slave) = open_terminal();
    let what = format!("{cmd:?}");
    if session {
        // SAFETY: setsid and ioctl are async-signal-safe; stdin is the terminal's slave.
        unsafe {
            std::os::unix::process::CommandExt::pre_exec(cmd, || {
                if libc::setsid() < 0 || libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    } else {
        std::os::unix::process::CommandExt::process_group(cmd, 0);
    }
    // We keep a slave descriptor of our own until the output is read: when the last one closes,
    // Linux hangs the terminal up and may drop output not yet read from the master.
    let keep =
        (slave.try_clone().expect("dup of the terminal"), master.try_clone().expect("dup of the terminal"));
    if with_stdin {
        cmd.stdin(Stdio::from(slave.try_clone().expect("dup of the terminal")));
    }
    let mut child = cmd
        .stdout(Stdio::from(slave))
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
    // Drop the command's copies of the slave.
    cmd.stdout(Stdio::null());
    if with_stdin {
        cmd.stdin(Stdio::null());
    }
    let stderr = Pipe::read(child.stderr.take().expect("piped stderr"));
    let stdout = Pipe::read(std::fs::File::from(master));
    Proc { child: Some(child), what, stdout, stderr, tty: Some(keep) }
}

/// Output of a pipe, read by a thread of its own so that no wait depends on who else holds the
/// pipe's write end.
#[derive(Debug, Clone)]
struct Pipe(Arc<(Mutex<PipeState>, Condvar)>);

/// Bytes received so far, and whether the pipe has ended.
type PipeState = (Vec<u8>, bool);

impl Pipe {
    fn read(mut src: impl Read + Send + 'static) -> Pipe {
        let pipe = Pipe(Arc::default());
        let shared = pipe.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            loop {
                let n = src.read(&mut buf).unwrap_or(0);
                let (lock, cv) = &*shared.0;
                let mut st = lock.lock().unwrap_or_else(|e| e.into_inner());
                if n == 0 {
                    st.1 = true;
                } else {
                    st.0.extend_from_slice(&buf[..n]);
                }
                cv.notify_all();
                if n == 0 {
                    return;
                }
            }
        });
        pipe
    }

    /// What has arrived so far.
    fn text(&self) -> Vec<u8> {
        self.0.0.lock().unwrap_or_else(|e| e.into_inner()).0.clone()
    }

    /// Waits until `done(bytes so far, eof)` or `deadline`; returns whether `done` held.
    fn wait_until(&self, deadline: Instant, done: impl Fn(&[u8], bool) -> bool) -> bool {
        let (lock, cv) = &*self.0;
        let mut st = lock.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if done(&st.0, st.1) {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            st = cv.wait_timeout(st, deadline - now).unwrap_or_else(|e| e.into_inner()).0;
        }
    }
}

/// A process under test and everything it starts: it runs in a process group of its own,
/// which is killed when the test gives up on it or drops it, and its output is read on
/// threads, so a grandchild that keeps the pipes open cannot make a wait last forever.
#[derive(Debug)]
pub struct Proc {
    child: Option<Child>,
    what: String,
    stdout: Pipe,
    stderr: Pipe,
    /// Our own descriptors of the terminal stdout is on, slave and master
    /// ([`spawn_with_tty_stdout`], [`spawn_interactive`]).
    tty: Option<(std::os::fd::OwnedFd, std::os::fd::OwnedFd)>,
}

impl Proc {
    /// The process id (also its process group id).
    pub fn id(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// Takes the process's stdin (spawned with `Stdio::piped()`).
    pub fn take_stdin(&mut self) -> std::process::ChildStdin {
        self.child.as_mut().and_then(|c| c.stdin.take()).expect("stdin was piped")
    }

    /// Writes `keys` to the terminal the process reads ([`spawn_interactive`]), as typed.
    ///
    /// # Panics
    /// If the process has no terminal or the write fails.
    pub fn type_keys(&self, keys: &str) {
        let (_, master) = self.tty.as_ref().expect("the process has a terminal");
        let mut terminal = std::fs::File::from(master.try_clone().expect("dup of the terminal"));
        terminal.write_all(keys.as_bytes()).expect("typing into the terminal");
    }

    /// Stdout received so far.
    pub fn stdout_so_far(&self) -> String {
        String::from_utf8_lossy(&self.stdout.text()).into_owned()
    }

    /// Stderr received so far.
    pub fn stderr_so_far(&self) -> String {
        String::from_utf8_lossy(&self.stderr.text()).into_owned()
    }

    /// Waits up to `limit` until stdout contains `needle`; panics with the output so far if
    /// it does not (or if stdout ends without it).
    pub fn wait_for_stdout(&self, needle: &str, limit: Duration) {
        self.wait_for(&self.stdout, "stdout", needle, limit);
    }

    /// Waits up to `limit` until stderr contains `needle`; panics with the output so far if
    /// it does not (or if stderr ends without it).
    pub fn wait_for_stderr(&self, needle: &str, limit: Duration) {
        self.wait_for(&self.stderr, "stderr", needle, limit);
    }

    fn wait_for(&self, pipe: &Pipe, which: &str, needle: &str, limit: Duration) {
        let found = pipe
            .wait_until(Instant::now() + limit, |b, eof| String::from_utf8_lossy(b).contains(needle) || eof);
        assert!(
            found && String::from_utf8_lossy(&pipe.text()).contains(needle),
            "{}: {needle:?} did not appear on {which} within {limit:?}\nstdout:\n{}\nstderr:\n{}",
            self.what,
            self.stdout_so_far(),
            self.stderr_so_far()
        );
    }

    /// Waits up to `limit` until `needle` occurs at least `times` times on stdout; returns
    /// whether it did (without panicking: for measurements that report a miss themselves).
    pub fn stdout_count_reaches(&self, needle: &str, times: usize, limit: Duration) -> bool {
        self.stdout.wait_until(Instant::now() + limit, |b, eof| {
            eof || String::from_utf8_lossy(b).matches(needle).count() >= times
        }) && self.stdout_so_far().matches(needle).count() >= times
    }

    /// Sends `sig` to the process (not its group).
    pub fn signal(&self, sig: i32) {
        // SAFETY: signalling our own child, which has not been reaped yet.
        unsafe { libc::kill(self.id() as libc::pid_t, sig) };
    }

    /// Kills the whole process group.
    pub fn kill_group(&self) {
        if self.id() != 0 {
            // SAFETY: the group was created for this process; killing it affects only its tree.
            unsafe { libc::kill(-(self.id() as libc::pid_t), libc::SIGKILL) };
        }
    }

    /// Waits up to `limit` for the process to exit and for its stdout and stderr to end. If
    /// either takes longer, kills the process group and panics with the output so far: a
    /// process left holding the pipes after the test's process exited is a defect too.
    pub fn wait(mut self, limit: Duration) -> Output {
        let deadline = Instant::now() + limit;
        let mut child = self.child.take().expect("not waited yet");
        let status = loop {
            match child.try_wait() {
                Ok(Some(st)) => break Some(st),
                Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(5)),
                _ => break None,
            }
        };
        if status.is_some()
            && let Some((slave, master)) = self.tty.take()
        {
            // Let the reader take what is still in the terminal, then let it hang up (see
            // spawn_with_tty_stdout).
            use std::os::fd::AsRawFd;
            while Instant::now() < deadline {
                let mut pending: libc::c_int = 0;
                // SAFETY: FIONREAD writes one int, the number of bytes waiting on the master.
                let rc = unsafe { libc::ioctl(master.as_raw_fd(), libc::FIONREAD, &mut pending) };
                if rc != 0 || pending == 0 {
                    break;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            drop(slave);
        }
        let ended = status.is_some()
            && self.stdout.wait_until(deadline, |_, eof| eof)
            && self.stderr.wait_until(deadline, |_, eof| eof);
        if !ended {
            // SAFETY: as in kill_group; the child is not reaped yet, so its pid names its group.
            unsafe { libc::kill(-(child.id() as libc::pid_t), libc::SIGKILL) };
            let _ = child.kill();
            let _ = child.wait();
            let why = if status.is_none() {
                "did not finish"
            } else {
                "exited, but something it started still held its stdout or stderr"
            };
            panic!(
                "{} {why} within {limit:?}\nstdout:\n{}\nstderr:\n{}",
                self.what,
                self.stdout_so_far(),
                self.stderr_so_far()
            );
        }
        Output {
            status: status.expect("checked above"),
            stdout: self.stdout.text(),
            stderr: self.stderr.text(),
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            // SAFETY: as in kill_group.
            unsafe { libc::kill(-(c.id() as libc::pid_t), libc::SIGKILL) };
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// The child of `pid` whose command name (`/proc/PID/comm`, 15 characters at most) is
/// `comm`, if there is one.
pub fn child_named(pid: u32, comm: &str) -> Option<u32> {
    children_of(pid)
        .into_iter()
        .find(|&c| std::fs::read_to_string(format!("/proc/{c}/comm")).is_ok_and(|n| n.trim() == comm))
}

/// The child of `pid` named `comm` ([`child_named`]), once it exists; panics after 30 s.
pub fn wait_for_child_named(pid: u32, comm: &str) -> u32 {
    let start = Instant::now();
    loop {
        if let Some(child) = child_named(pid, comm) {
            return child;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "{pid} started no {comm}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Process ids whose parent is `pid`.
pub fn children_of(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(child) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else { continue };
        let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        // pid (comm) state ppid ...: comm may contain spaces, so parse after the last ')'.
        let ppid = stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().nth(1));
        if ppid.and_then(|p| p.parse::<u32>().ok()) == Some(pid) {
            out.push(child);
        }
    }
    out
}

/// True while `pid` exists and is not a zombie: while any of its threads is alive. (The
/// main thread of a killed process may be a zombie while other threads still exit, holding
/// the process's descriptors, a listening socket say.)
pub fn running(pid: u32) -> bool {
    let alive = |stat: String| {
        let state = stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().next());
        matches!(state, Some(s) if s != "Z" && s != "X")
    };
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return alive(std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default());
    };
    tasks.flatten().any(|t| alive(std::fs::read_to_string(t.path().join("stat")).unwrap_or_default()))
}

/// Waits up to `limit` for `pid` to end (or become a zombie); returns whether it did.
pub fn wait_gone(pid: u32, limit: Duration) -> bool {
    let start = Instant::now();
    while running(pid) {
        if start.elapsed() > limit {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    true
}

/// A server process started by a test (stdout and stderr to files), in a process group of its
/// own that is killed when this is dropped.
#[derive(Debug)]
pub struct KillOnDrop(Option<Child>);

impl KillOnDrop {
    /// Starts `cmd` in a new process group and takes ownership of it.
    pub fn spawn(cmd: &mut Command) -> Self {
        std::os::unix::process::CommandExt::process_group(cmd, 0);
        KillOnDrop(Some(cmd.spawn().unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"))))
    }

    /// The process id.
    pub fn id(&self) -> u32 {
        self.0.as_ref().map_or(0, Child::id)
    }

    /// Waits up to `limit` for the process to exit by itself; kills its group and panics if
    /// it does not.
    pub fn wait(mut self, limit: Duration, what: &str) -> std::process::ExitStatus {
        let mut c = self.0.take().expect("present until dropped");
        let deadline = Instant::now() + limit;
        loop {
            match c.try_wait() {
                Ok(Some(st)) => return st,
                Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(5)),
                _ => {
                    // SAFETY: not reaped yet, so the pid names the group we created.
                    unsafe { libc::kill(-(c.id() as libc::pid_t), libc::SIGKILL) };
                    let _ = c.kill();
                    let _ = c.wait();
                    panic!("{what} did not exit within {limit:?}");
                }
            }
        }
    }
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Some(c) = &mut self.0 {
            // SAFETY: not reaped yet, so the pid names the group we created.
            unsafe { libc::kill(-(c.id() as libc::pid_t), libc::SIGKILL) };
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Starts `orc-executor listen=127.0.0.1:0 ARGS…` with stdout going to `stdout_file` and
/// stderr captured, and returns it with the port it reported.
pub fn start_listening_executor(args: &[&str], stdout_file: &Path, stderr_file: &Path) -> (KillOnDrop, u16) {
    start_listening(&mut Command::new(our_bin("orc-executor")), args, stdout_file, stderr_file)
}

/// Starts LLVM's `llvm-jitlink-executor listen=127.0.0.1:PORT` on a free port, its stdout and
/// stderr going to the files `stdout_file` and `stderr_file`; returns it and the port. It
/// prints nothing when it listens: a controller may have to try again until it is.
pub fn start_llvm_executor_listening(stdout_file: &Path, stderr_file: &Path) -> (KillOnDrop, u16) {
    let port = free_port();
    let exe = KillOnDrop::spawn(
        Command::new(llvm_tool("llvm-jitlink-executor"))
            .arg(format!("listen=127.0.0.1:{port}"))
            .stdout(std::fs::File::create(stdout_file).expect("stdout file"))
            .stderr(std::fs::File::create(stderr_file).expect("stderr file")),
    );
    (exe, port)
}

/// A free loopback port (bound and released: another process may take it before it is used,
/// good enough for a test; executors we start pick their own with `listen=127.0.0.1:0`).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind a loopback port")
        .local_addr()
        .expect("its address")
        .port()
}

/// Serves one controller with `executor listen=127.0.0.1:0 --once ARGS…` (as
/// [`start_listening`]): `controller` gets the address (`127.0.0.1:PORT`); returns its result
/// with what the executor wrote to stdout and stderr (files in `dir`), once it has exited.
pub fn serve_once<T>(
    executor: &mut Command,
    args: &[&str],
    dir: &Path,
    controller: impl FnOnce(&str) -> T,
) -> (T, String, String) {
    let (out, err) = (dir.join("exe.out"), dir.join("exe.err"));
    let once: Vec<&str> = std::iter::once("--once").chain(args.iter().copied()).collect();
    let (exe, port) = start_listening(executor, &once, &out, &err);
    let result = controller(&format!("127.0.0.1:{port}"));
    let _ = exe.wait(Duration::from_secs(60), "executor --once");
    let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
    (result, read(&out), read(&err))
}

/// As [`start_listening_executor`], for the orc-executor that `executor` runs (for instance
/// `qemu-aarch64 PATH`).
pub fn start_listening(
    executor: &mut Command,
    args: &[&str],
    stdout_file: &Path,
    stderr_file: &Path,
) -> (KillOnDrop, u16) {
    let guard = KillOnDrop::spawn(
        executor
            .arg("listen=127.0.0.1:0")
            .args(args)
            .args(std::env::var_os("ORC_TEST_VERBOSE").map(|_| "-v"))
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(stdout_file).expect("stdout file"))
            .stderr(std::fs::File::create(stderr_file).expect("stderr file")),
    );
    let start = Instant::now();
    loop {
        let text = std::fs::read_to_string(stderr_file).unwrap_or_default();
        // Only a whole line: the banner may be half written when we read it.
        if let Some((addr, _)) = text.split("listening on ").nth(1).and_then(|rest| rest.split_once('\n')) {
            let port = addr.rsplit(':').next().and_then(|p| p.trim().parse().ok()).expect("port in banner");
            return (guard, port);
        }
        assert!(start.elapsed() < Duration::from_secs(30), "orc-executor did not start listening:\n{text}");
        std::thread::sleep(Duration::from_millis(5));
    }
}
