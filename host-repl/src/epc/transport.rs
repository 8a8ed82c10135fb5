//! Connecting to an executor: over TCP, or by launching one with two pipes as
//! `EXECUTOR filedescs=IN,OUT` (what `llvm-jitlink -oop-executor=` does). A launched executor
//! inherits our stdin, stdout and stderr, so a program's output appears as for a native run.

use std::os::fd::OwnedFd;
use std::path::Path;
use std::process::ExitStatus;
use std::time::Duration;

use command_fds::{CommandFdExt, FdMapping};
use orc_rpc::secure::{Initiator, Key, MAX_PLAINTEXT, record_len};
use tokio::io::{AsyncRead, AsyncWrite};

use super::SessionError;

/// The descriptors the launched executor reads and writes (as `filedescs=3,4`).
const CHILD_IN: i32 = 3;
const CHILD_OUT: i32 = 4;

/// A byte stream to an executor, split in halves, and the executor process if we launched it.
pub struct Transport {
    pub(super) reader: Box<dyn AsyncRead + Send + Unpin>,
    pub(super) writer: Box<dyn AsyncWrite + Send + Unpin>,
    pub(super) process: Option<ExecutorProcess>,
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transport").field("launched", &self.process.is_some()).finish_non_exhaustive()
    }
}

impl Transport {
    /// Connects to an executor listening at `addr` (`HOST:PORT`), giving up after `timeout`.
    /// With `key`, runs orcbridge's key exchange first ([`orc_rpc::secure`]) and encrypts the
    /// session.
    ///
    /// # Errors
    /// [`SessionError::Connect`] with the address and the system's reason, or why the key
    /// exchange failed.
    pub async fn connect(
        addr: &str,
        timeout: Duration,
        key: Option<&Key>,
    ) -> Result<Transport, SessionError> {
        let stream = tokio::time::timeout(timeout, tokio::net::TcpStream::connect(addr))
            .await
            .map_err(|_| SessionError::Connect(format!("{addr}: no answer within {timeout:?}")))?
            .map_err(|e| SessionError::Connect(format!("{addr}: {e}")))?;
        stream.set_nodelay(true).map_err(|e| SessionError::Connect(format!("{addr}: {e}")))?;
        let (r, w) = stream.into_split();
        match key {
            None => Ok(Transport { reader: Box::new(r), writer: Box::new(w), process: None }),
            Some(key) => tokio::time::timeout(timeout, secure(r, w, key))
                .await
                .map_err(|_| {
                    SessionError::Connect(format!("{addr}: no answer to the key exchange within {timeout:?}"))
                })?
                .map_err(|e| SessionError::Connect(format!("{addr}: {e}"))),
        }
    }

    /// Launches `executor filedescs=3,4 ARGS…` connected to us by two pipes. With
    /// `own_process_group`, the executor does not get the terminal's Ctrl-C (an interactive
    /// session survives an interrupt); otherwise it stops with us, like a native program.
    ///
    /// # Errors
    /// [`SessionError::Connect`] if the pipes or the process cannot be created.
    pub fn launch(
        executor: &Path,
        args: &[String],
        own_process_group: bool,
    ) -> Result<Transport, SessionError> {
        let err = |e: std::io::Error| SessionError::Connect(format!("{}: {e}", executor.display()));
        let (child_in, to_child) =
            rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).map_err(|e| err(e.into()))?;
        let (from_child, child_out) =
            rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).map_err(|e| err(e.into()))?;
        let mut cmd = std::process::Command::new(executor);
        cmd.arg(format!("filedescs={CHILD_IN},{CHILD_OUT}")).args(args);
        if own_process_group {
            std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        }
        end_with_parent(&mut cmd);
        cmd.fd_mappings(vec![
            FdMapping { parent_fd: child_in, child_fd: CHILD_IN },
            FdMapping { parent_fd: child_out, child_fd: CHILD_OUT },
        ])
        .map_err(|e| SessionError::Connect(format!("cannot pass pipes to the executor: {e}")))?;
        let child = tokio::process::Command::from(cmd).kill_on_drop(true).spawn().map_err(err)?;
        // `cmd` is gone with the spawn, closing our copies of the child's ends, so EOF is seen
        // when the executor exits.
        let reader = pipe_reader(from_child).map_err(err)?;
        let writer = pipe_writer(to_child).map_err(err)?;
        Ok(Transport {
            reader: Box::new(reader),
            writer: Box::new(writer),
            process: Some(ExecutorProcess {
                child: tokio::sync::Mutex::new(child),
                path: executor.display().to_string(),
            }),
        })
    }
}

/// Makes the launched executor end when this process ends, however it ends (`kill -9`
/// included): on Linux the kernel sends it `SIGKILL` when we die (`PR_SET_PDEATHSIG`). The
/// signal follows the *thread* that spawned the child, so launch from a thread that lives as
/// long as the session (repl launches from its main thread). Elsewhere, and as a second line on
/// Linux, `orc-executor filedescs=` ends itself when its input pipe reaches end of file and the
/// calls still running do not return within a grace period.
fn end_with_parent(cmd: &mut std::process::Command) {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::process::CommandExt;
        let parent = std::process::id();
        // SAFETY: the closure runs in the forked child before exec and only makes the
        // async-signal-safe calls prctl and getppid.
        unsafe {
            cmd.pre_exec(move || {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                // We may have died between fork and prctl: then nobody would send the signal.
                if libc::getppid() as u32 != parent {
                    return Err(std::io::Error::other("the controller exited during the launch"));
                }
                Ok(())
            })
        };
    }
    #[cfg(not(target_os = "linux"))]
    let _ = cmd;
}

/// Runs the controller's side of the key exchange on a connected socket, then moves the
/// session's bytes through two tasks that encrypt and decrypt records, behind an in-memory
/// pipe that the session reads and writes like a plain socket.
async fn secure(
    mut r: tokio::net::tcp::OwnedReadHalf,
    mut w: tokio::net::tcp::OwnedWriteHalf,
    key: &Key,
) -> Result<Transport, String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (init, first) = Initiator::start(key).map_err(|e| e.to_string())?;
    w.write_all(&first).await.map_err(|e| e.to_string())?;
    let reply = read_record(&mut r).await.map_err(|e| {
        if e.kind() == std::io::ErrorKind::UnexpectedEof {
            "the executor ended the connection during the key exchange: it does not hold this key, or it \
             does not use one (start it with --key)"
                .to_owned()
        } else {
            e.to_string()
        }
    })?;
    let (mut sealer, mut opener, confirm) = init.finish(&reply).map_err(|e| e.to_string())?;
    w.write_all(&confirm).await.map_err(|e| e.to_string())?;

    let (session_side, pump_side) = tokio::io::duplex(4 * MAX_PLAINTEXT);
    let (mut plain_out, mut plain_in) = tokio::io::split(pump_side);
    tokio::spawn(async move {
        loop {
            let record = match read_record(&mut r).await {
                Ok(rec) => rec,
                Err(_) => break,
            };
            match opener.open(&record) {
                Ok(plain) => {
                    if plain_in.write_all(&plain).await.is_err() {
                        break;
                    }
                }
                Err(e) => {
                    tracing::warn!("ending the session: {e}");
                    break;
                }
            }
        }
        let _ = plain_in.shutdown().await;
    });
    tokio::spawn(async move {
        let mut buf = vec![0u8; MAX_PLAINTEXT];
        let mut records = Vec::new();
        loop {
            let n = match plain_out.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            records.clear();
            if sealer.seal(&buf[..n], &mut records).is_err() || w.write_all(&records).await.is_err() {
                break;
            }
        }
        let _ = w.shutdown().await;
    });
    let (reader, writer) = tokio::io::split(session_side);
    Ok(Transport { reader: Box::new(reader), writer: Box::new(writer), process: None })
}

/// Reads one length-prefixed record or handshake message.
async fn read_record(r: &mut (impl AsyncRead + Unpin)) -> std::io::Result<Vec<u8>> {
    use tokio::io::AsyncReadExt;
    let mut header = [0u8; 2];
    r.read_exact(&mut header).await?;
    let mut body = vec![0u8; record_len(header)];
    r.read_exact(&mut body).await?;
    Ok(body)
}

/// Pipe capacity we ask for: large segments then move in fewer, larger writes (the kernel may
/// give less; a failure only costs speed).
const PIPE_SIZE: usize = 1 << 20;

fn pipe_reader(fd: OwnedFd) -> std::io::Result<tokio::net::unix::pipe::Receiver> {
    #[cfg(target_os = "linux")]
    let _ = rustix::pipe::fcntl_setpipe_size(&fd, PIPE_SIZE);
    rustix::fs::fcntl_setfl(&fd, rustix::fs::OFlags::NONBLOCK)?;
    tokio::net::unix::pipe::Receiver::from_owned_fd(fd)
}

fn pipe_writer(fd: OwnedFd) -> std::io::Result<tokio::net::unix::pipe::Sender> {
    #[cfg(target_os = "linux")]
    let _ = rustix::pipe::fcntl_setpipe_size(&fd, PIPE_SIZE);
    rustix::fs::fcntl_setfl(&fd, rustix::fs::OFlags::NONBLOCK)?;
    tokio::net::unix::pipe::Sender::from_owned_fd(fd)
}

/// An executor process we launched.
#[derive(Debug)]
pub struct ExecutorProcess {
    child: tokio::sync::Mutex<tokio::process::Child>,
    path: String,
}

impl ExecutorProcess {
    /// Waits up to `limit` for the process to exit; its status if it did.
    pub async fn wait_exit(&self, limit: Duration) -> Option<ExitStatus> {
        let mut child = self.child.lock().await;
        tokio::time::timeout(limit, child.wait()).await.ok()?.ok()
    }

    /// Kills the process (SIGKILL) and reaps it.
    pub async fn kill(&self) {
        let _ = self.child.lock().await.kill().await;
    }

    /// A sentence on how the process ended (waiting up to a second for it).
    pub async fn describe_exit(&self) -> String {
        match self.wait_exit(Duration::from_secs(1)).await {
            Some(st) => format!("{} {}", self.path, describe_status(st)),
            None => format!("{} is still running", self.path),
        }
    }
}

/// "exited with status N" or "was killed by signal N (NAME)".
pub fn describe_status(st: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (st.code(), st.signal()) {
        (Some(c), _) => format!("exited with status {c}"),
        (None, Some(s)) => format!(
            "was killed by signal {s} ({})",
            orc_rpc::crash::signal_name(orc_rpc::crash::from_native(s))
        ),
        _ => format!("ended ({st})"),
    }
}
