//! A thin client of the session server: `repl --session NAME [-e CODE]… [FILE]…`, or an
//! interactive or piped REPL whose inputs the server evaluates.
//!
//! Connecting: the client connects to the session's socket. If there is none, or it refuses
//! connections (its server crashed or was killed, leaving it behind), the client starts a new
//! server (this `repl`, detached, with this call's executor, language and library options)
//! and connects to it, retrying for up to [`START_LIMIT`]; the new server replaces a stale
//! socket once it holds the session's lock. A server replacing a dead one says so on stderr:
//! the earlier definitions are gone.
//!
//! Waiting: a request waits up to [`QUEUE_LIMIT`] for the server to take it up (another
//! client's request may run first), then as long as the input runs. Ctrl-C stops waiting
//! (the input goes on running in the server, its output dropped); a server that dies
//! mid-request is an error for that request, and the next call starts a new one.

use std::cell::RefCell;
use std::ffi::OsString;
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use tokio::net::UnixStream;

use super::Paths;
use super::wire::{Conn, Outcome, Status, Stream, ToClient, ToServer, VERSION, WireError};
use crate::args::{Cli, Lang};
use crate::input::{InputLines, each_input, edit_loop, line_editor, script};
use crate::interrupt::{self, Interrupts};

/// How long a new server may take to listen (it launches its executor and starts clang).
pub const START_LIMIT: Duration = Duration::from_secs(60);

/// How long a request waits for the server to take it up.
pub const QUEUE_LIMIT: Duration = Duration::from_secs(60);

/// How long the connect and the Hello exchange may take.
const HELLO_LIMIT: Duration = Duration::from_secs(10);

/// Runs `repl --session NAME …`: `--status`, or the inputs (FILEs as `%load FILE`, then the
/// `-e` inputs; or stdin) evaluated in the session. The exit code is as without `--session`:
/// 0 when every input ran, 1 otherwise.
///
/// # Errors
/// The session cannot be reached or started, or its server went away.
pub fn run(cli: Cli) -> Result<ExitCode> {
    // One thread: a client only waits for its server.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let mut interrupts = {
        let _in_runtime = rt.enter();
        Interrupts::new().context("cannot watch for Ctrl-C")?
    };
    let name = cli.session.as_deref().unwrap_or_default();
    let paths = Paths::new(name)?;
    if cli.status {
        return rt.block_on(status(&paths));
    }
    if !cli.args.is_empty() {
        bail!("--session runs no main, so it takes no ARGS after --: call main from -e instead");
    }
    let mut inputs = Vec::new();
    for file in &cli.files {
        let abs = std::fs::canonicalize(file).with_context(|| format!("{}", file.display()))?;
        inputs.push(format!("%load {}", abs.display()));
    }
    inputs.extend(cli.code.iter().cloned());
    let mut client =
        Client { conn: Some(rt.block_on(connect_or_start(&cli, &paths))?), cli: &cli, paths: &paths };
    let mut eval = |code: &str| rt.block_on(client.eval(code, &mut interrupts));
    let ok = if !inputs.is_empty() {
        each_input(inputs.iter().map(String::as_str), eval)?
    } else if std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        let lines = RefCell::new(InputLines::default());
        edit_loop(line_editor::<()>()?, &lines, eval)?
    } else {
        script(std::io::stdin().lock(), &mut eval)?
    };
    Ok(if ok { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// A connection to the session server, made again when needed.
struct Client<'a> {
    conn: Option<Conn>,
    cli: &'a Cli,
    paths: &'a Paths,
}

impl Client<'_> {
    /// Sends one input and shows its output as it comes.
    async fn eval(&mut self, code: &str, interrupts: &mut Interrupts) -> Result<crate::input::Outcome> {
        let mark = interrupt::mark();
        let name = &self.paths.name;
        let mut conn = match self.conn.take() {
            Some(c) => c,
            None => connect_or_start(self.cli, self.paths).await?,
        };
        let gone = |e: WireError| {
            anyhow::anyhow!(
                "the server of session {name} went away during the request ({e}): it crashed or was killed; \
                 the next call starts a new one"
            )
        };
        conn.send(&ToServer::Eval { code: code.to_owned() }).await.map_err(gone)?;
        let queued_until = Instant::now() + QUEUE_LIMIT;
        let mut started = false;
        loop {
            let msg = tokio::select! {
                m = conn.recv::<ToClient>() => m.map_err(gone)?,
                () = tokio::time::sleep_until(queued_until.into()), if !started => bail!(
                    "session {name} is busy: another client's request has kept it for over {}s; try again later",
                    QUEUE_LIMIT.as_secs()
                ),
                () = interrupts.since(mark) => {
                    // Closing the connection tells the server nobody waits for this input.
                    eprintln!("^C: stopped waiting; the input goes on running in session {name}");
                    return Ok(crate::input::Outcome::Failed);
                }
            };
            match msg {
                ToClient::Started => started = true,
                ToClient::Output(Stream::Stdout, bytes) => {
                    let mut out = std::io::stdout().lock();
                    let _ = out.write_all(&bytes);
                    let _ = out.flush();
                }
                ToClient::Output(Stream::Stderr, bytes) => {
                    let _ = std::io::stdout().flush();
                    let _ = std::io::stderr().write_all(&bytes);
                }
                ToClient::Done(outcome) => {
                    let outcome = match outcome {
                        Outcome::Done => crate::input::Outcome::Done,
                        Outcome::Failed => crate::input::Outcome::Failed,
                        Outcome::Quit => crate::input::Outcome::Quit,
                        Outcome::Ended(why) => bail!("the server of session {name} ended: {why}"),
                    };
                    self.conn = Some(conn);
                    return Ok(outcome);
                }
                other => bail!("the server of session {name} sent {other:?} in answer to an input"),
            }
        }
    }
}

/// Why there is no server to talk to.
enum Absent {
    /// No socket.
    NoSocket,
    /// A socket nobody listens on: its server died.
    Stale,
}

/// Connects to session `paths.name`'s server and exchanges Hello; the connection and the
/// options the server was started with.
async fn connect(paths: &Paths) -> Result<Result<(Conn, Vec<String>), Absent>> {
    let name = &paths.name;
    let stream = match tokio::time::timeout(HELLO_LIMIT, UnixStream::connect(&paths.socket)).await {
        Err(_) => {
            bail!("the server of session {name} does not accept connections ({})", paths.socket.display())
        }
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Err(Absent::NoSocket)),
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => return Ok(Err(Absent::Stale)),
        Ok(Err(e)) => return Err(e).with_context(|| format!("cannot connect to {}", paths.socket.display())),
        Ok(Ok(s)) => s,
    };
    let mut conn = Conn::new(stream);
    let hello = async {
        conn.send(&ToServer::Hello { version: VERSION }).await?;
        conn.recv::<ToClient>().await
    };
    match tokio::time::timeout(HELLO_LIMIT, hello).await {
        Err(_) => bail!("the server of session {name} did not answer within {}s", HELLO_LIMIT.as_secs()),
        // It is ending (it removes its socket first, so this is a narrow window), or it died
        // with this connection still in its listening queue (reset).
        Ok(Err(WireError::Closed)) => Ok(Err(Absent::Stale)),
        Ok(Err(WireError::Io(e))) if e.kind() == std::io::ErrorKind::ConnectionReset => {
            Ok(Err(Absent::Stale))
        }
        Ok(Err(e @ WireError::Decode(_))) => {
            bail!("the server of session {name} speaks another protocol (version {VERSION} here): {e}")
        }
        Ok(Err(e)) => Err(e).with_context(|| format!("talking to the server of session {name}")),
        Ok(Ok(ToClient::Hello { version, options, .. })) if version == VERSION => Ok(Ok((conn, options))),
        Ok(Ok(ToClient::Refused(why))) => bail!("the server of session {name} refused this client: {why}"),
        Ok(Ok(other)) => bail!("the server of session {name} answered Hello with {other:?}"),
    }
}

/// Connects to the session's server, starting one if there is none (or only a dead one's
/// socket); waits up to [`START_LIMIT`] for it, retrying with growing pauses.
async fn connect_or_start(cli: &Cli, paths: &Paths) -> Result<Conn> {
    let name = &paths.name;
    match connect(paths).await? {
        Ok((conn, options)) => {
            note_other_options(cli, name, &options);
            return Ok(conn);
        }
        Err(Absent::NoSocket) => {}
        Err(Absent::Stale) => eprintln!(
            "repl: note: the server of session {name} is gone (it crashed or was killed); starting a new one, \
             without the earlier definitions"
        ),
    }
    let mut server = start_server(cli, paths)?;
    let deadline = Instant::now() + START_LIMIT;
    let mut pause = Duration::from_millis(5);
    loop {
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(100));
        // Another call's server may have won the race to start, with its options.
        if let Ok((conn, options)) = connect(paths).await? {
            note_other_options(cli, name, &options);
            return Ok(conn);
        }
        // Status 0 without a socket: another server holds the session, and its socket comes.
        if let Some(status) = server.try_wait().context("waiting for the session server")?
            && !status.success()
        {
            let log = std::fs::read_to_string(&paths.log).unwrap_or_default();
            bail!("the server of session {name} did not start:\n{}", log.trim_end());
        }
        if Instant::now() >= deadline {
            bail!(
                "the server of session {name} did not listen within {}s (its log: {})",
                START_LIMIT.as_secs(),
                paths.log.display()
            );
        }
    }
}

/// What of this call's options a server started for it takes (as `repl-jit` arguments, one
/// word each): the executor, language, clang and library options and the idle time, paths
/// made absolute (calls from other folders compare alike). Not `-v`, which only decides what
/// goes to the server's log.
pub(crate) fn server_options(cli: &Cli) -> Vec<OsString> {
    let flag_path = |flag: &str, path: &Path| {
        let mut word = OsString::from(flag);
        word.push(std::path::absolute(path).unwrap_or_else(|_| path.to_owned()));
        word
    };
    // A name (`libz.so.1`, an executor on PATH) stays a name.
    let flag_name_or_path = |flag: &str, value: &str| {
        if value.contains('/') { flag_path(flag, Path::new(value)) } else { format!("{flag}{value}").into() }
    };
    let mut o: Vec<OsString> = vec![format!("--session-idle={}", cli.session_idle).into()];
    if let Some(lang) = cli.lang {
        o.push(
            match lang {
                Lang::C => "-x=c",
                Lang::Cxx => "-x=c++",
            }
            .into(),
        );
    }
    o.extend(cli.xcc.iter().map(|a| format!("--Xcc={a}").into()));
    match (&cli.oop_executor_connect, &cli.oop_executor) {
        (Some(addr), _) => o.push(format!("--oop-executor-connect={addr}").into()),
        (None, Some(path)) => o.push(flag_name_or_path("--oop-executor=", path)),
        (None, None) => {}
    }
    if let Some(key) = &cli.key {
        o.push(flag_path("--key=", key));
    }
    if cli.no_forward_stdio {
        o.push("--no-forward-stdio".into());
    }
    o.extend(cli.lib_dirs.iter().map(|dir| flag_path("-L", dir)));
    o.extend(cli.libs.iter().map(|l| format!("-l{l}").into()));
    o.extend(cli.dlopen.iter().map(|l| flag_name_or_path("--dlopen=", l)));
    o
}

/// Starts `repl-jit --session-serve=NAME` with this call's [`server_options`], detached (it
/// makes a session of its own and logs to the session's log).
fn start_server(cli: &Cli, paths: &Paths) -> Result<std::process::Child> {
    let mut cmd = std::process::Command::new(crate::jit_program()?);
    cmd.arg(format!("--session-serve={}", paths.name)).args(server_options(cli));
    cmd.args(std::iter::repeat_n("-v", cli.verbose.into()));
    cmd.stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    // Out of the terminal's foreground process group from the start: a Ctrl-C or Ctrl-Z at
    // this client's terminal while the server loads LLVM does not reach it (it makes a
    // session of its own once it runs).
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    cmd.spawn().context("cannot start the session server")
}

/// Tells the user when the session runs with other options than this call gives (a server
/// another call started): those of this call are not used. Silent when this call gives none
/// but the defaults.
fn note_other_options(cli: &Cli, name: &str, theirs: &[String]) {
    let words = |cli: &Cli| -> Vec<String> {
        server_options(cli).iter().map(|o| o.to_string_lossy().into_owned()).collect()
    };
    let ours = words(cli);
    let defaults = <Cli as clap::Parser>::try_parse_from(["repl"]).map(|d| words(&d)).unwrap_or_default();
    if ours != theirs && ours != defaults {
        eprintln!(
            "repl: note: session {name} was started with other options ({}); this call's ({}) are not used: \
             a session keeps its options until its server ends",
            shown(theirs),
            shown(&ours)
        );
    }
}

fn shown(options: &[String]) -> String {
    if options.is_empty() { "none".to_owned() } else { options.join(" ") }
}

/// Prints the server's counters; exit code 1 if no server runs (none is started for this).
async fn status(paths: &Paths) -> Result<ExitCode> {
    let name = &paths.name;
    let mut conn = match connect(paths).await? {
        Ok((conn, _)) => conn,
        Err(_) => {
            eprintln!("repl: session {name}: no server is running");
            return Ok(ExitCode::FAILURE);
        }
    };
    conn.send(&ToServer::Status).await?;
    let s = match conn.recv::<ToClient>().await? {
        ToClient::Status(s) => s,
        other => bail!("the server of session {name} answered the status request with {other:?}"),
    };
    print!("{}", render_status(name, &s));
    Ok(ExitCode::SUCCESS)
}

/// The status as `--status` prints it: one `key: value` line each.
fn render_status(name: &str, s: &Status) -> String {
    let latency = s.latency_ms.map_or_else(
        || "none yet".to_owned(),
        |[p50, p90, p99]| format!("p50 {p50:.2} ms, p90 {p90:.2} ms, p99 {p99:.2} ms"),
    );
    format!(
        "session: {name}\nserver pid: {}\nuptime: {:.3} s\nexecutor: {}\ntriple: {}\ninputs evaluated: {} ({} \
         failed)\nunits loaded: {}\ntarget memory of loaded units: {} bytes\ncache hits: {}\nlatency: {latency}\n\
         clients: {}\nbusy: {}\n",
        s.pid,
        s.uptime_secs,
        s.executor,
        s.triple,
        s.inputs,
        s.failed,
        s.units,
        s.memory,
        s.cache_hits,
        s.clients,
        if s.busy { "yes" } else { "no" },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lines_are_key_value() {
        let s = Status {
            pid: 7,
            inputs: 3,
            failed: 1,
            units: 2,
            memory: 8192,
            cache_hits: 1,
            latency_ms: Some([1.0, 2.0, 3.5]),
            uptime_secs: 1.25,
            executor: "orc-executor (launched, pipes)".into(),
            triple: "x86_64-unknown-linux-gnu".into(),
            clients: 1,
            busy: false,
        };
        let text = render_status("t", &s);
        assert!(text.contains("inputs evaluated: 3 (1 failed)\n"), "{text}");
        assert!(text.contains("target memory of loaded units: 8192 bytes\n"), "{text}");
        assert!(text.contains("latency: p50 1.00 ms, p90 2.00 ms, p99 3.50 ms\n"), "{text}");
        assert!(text.lines().all(|l| l.contains(": ")), "{text}");
    }
}
