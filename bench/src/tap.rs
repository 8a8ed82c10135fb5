//! A relay between a controller and an executor that counts the frames of the session.
//!
//! `llvm-jitlink -oop-executor=<this binary>` starts us as `<this binary> filedescs=IN,OUT`;
//! we start the real executor (from `ORCBRIDGE_TAP_EXEC`) on two pipes of our own, copy frames
//! both ways and, at the end, append `C2E_CALLS E2C_CALLS` to the file `ORCBRIDGE_TAP_LOG`.

use std::fs::File;
use std::io::Write;
use std::os::fd::{FromRawFd, OwnedFd};
use std::process::{Command, Stdio};

use command_fds::{CommandFdExt, FdMapping};
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Context, Result};
use orc_rpc::frame::{FrameReader, write_frame};
use orc_rpc::{EncodedFrame, Opcode, Raw};

const EXEC: &str = "ORCBRIDGE_TAP_EXEC";
const LOG: &str = "ORCBRIDGE_TAP_LOG";

/// True when started by a controller as its executor with the tap configured.
pub fn is_tap_invocation() -> bool {
    std::env::var_os(EXEC).is_some() && std::env::args().any(|a| a.starts_with("filedescs="))
}

/// The environment that makes a controller's executor launch go through the tap.
pub fn env(executor: &std::path::Path, log: &std::path::Path) -> [(&'static str, String); 2] {
    [(EXEC, executor.display().to_string()), (LOG, log.display().to_string())]
}

fn copy(from: impl std::io::Read, mut to: impl Write, calls: &AtomicU64) {
    let mut r = FrameReader::new(from);
    while let Ok(Some(f)) = r.read_frame() {
        if f.opcode == Opcode::CallWrapper {
            calls.fetch_add(1, Ordering::Relaxed);
        }
        if write_frame(&mut to, &EncodedFrame::new(f.opcode, f.seq_no, f.tag_addr, &Raw(&f.payload))).is_err()
        {
            break;
        }
    }
}

/// Relays one session.
pub fn run() -> Result<()> {
    let spec = std::env::args()
        .find_map(|a| a.strip_prefix("filedescs=").map(str::to_owned))
        .context("filedescs")?;
    let (i, o) = spec.split_once(',').context("filedescs=IN,OUT")?;
    let (i, o): (i32, i32) = (i.parse()?, o.parse()?);
    // SAFETY: the controller handed us these descriptors to own.
    let (ctl_in, ctl_out) =
        unsafe { (File::from(OwnedFd::from_raw_fd(i)), File::from(OwnedFd::from_raw_fd(o))) };
    let exec = std::env::var(EXEC)?;
    // The executor keeps our stdout for the program's output; the protocol gets pipes of its own.
    let (exec_in, to_exec) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)?;
    let (from_exec, exec_out) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)?;
    let mut cmd = Command::new(&exec);
    cmd.arg("filedescs=3,4").stdin(Stdio::inherit()).stdout(Stdio::inherit()).stderr(Stdio::inherit());
    cmd.fd_mappings(vec![
        FdMapping { parent_fd: exec_in, child_fd: 3 },
        FdMapping { parent_fd: exec_out, child_fd: 4 },
    ])?;
    let mut child = cmd.spawn().with_context(|| format!("starting {exec}"))?;
    drop(cmd);
    let (to_exec, from_exec) = (File::from(to_exec), File::from(from_exec));
    static C2E: AtomicU64 = AtomicU64::new(0);
    let e2c = AtomicU64::new(0);
    // The session is over when the executor's side ends; the controller may still hold its
    // side open while it waits for us to exit.
    std::thread::spawn(move || copy(ctl_in, to_exec, &C2E));
    copy(from_exec, ctl_out, &e2c);
    let c2e = &C2E;
    let _ = child.wait();
    if let Ok(log) = std::env::var(LOG) {
        let mut f = std::fs::OpenOptions::new().create(true).append(true).open(log)?;
        writeln!(f, "{} {}", c2e.load(Ordering::Relaxed), e2c.load(Ordering::Relaxed))?;
    }
    std::process::exit(0)
}
