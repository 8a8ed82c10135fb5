//! The session server of `repl --session NAME` ([`repl_front::session`]): one [`Repl`]
//! serving the clients of a Unix domain socket.
//!
//! The REPL lives on the main thread, in one loop that takes the clients' requests one at a
//! time from a queue (so the inputs of two clients never interleave inside the interpreter;
//! a client whose request waits is told when it is taken up, see
//! [`repl_front::session::client`] for how long it waits). Each connection has a task of its own that reads its requests, queues them and
//! writes their answers; the status is answered by that task from counters the loop keeps,
//! so it comes at once even while an input runs.
//!
//! The output of a request (values, diagnostics, and what the executor process writes while
//! it runs, forwarded by orc-executor's stdio extension) goes to the client that asked.
//! Forwarded output that arrives while no request runs goes to the log.

use std::collections::VecDeque;
use std::io::Write;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};

use crate::cli::Cli;
use crate::repl::Repl;
use crate::stdio::OutputSink;
use repl_front::session::Paths;
use repl_front::session::wire::{Conn, Outcome, Status, Stream, ToClient, ToServer, VERSION, WireError};

/// How long a connection may take to say Hello.
const HELLO_LIMIT: Duration = Duration::from_secs(10);

/// How long a starting server waits for the lock of a server that is exiting.
const LOCK_LIMIT: Duration = Duration::from_secs(5);

/// How often the loop looks at the idle time and the executor.
const TICK: Duration = Duration::from_millis(200);

/// Latencies kept for the percentiles (the latest requests).
const LATENCY_SAMPLES: usize = 1024;

/// Output bytes per message: well below the wire's frame limit, whatever one write holds.
const OUTPUT_CHUNK: usize = 64 * 1024;

/// Output bytes a client may leave unread for [`OUTPUT_STALL`] before more is dropped (as
/// orc-executor drops output a controller does not read; the executor outruns a reading
/// client for a while, so a full queue alone is not a client that stopped)...
const OUTPUT_QUEUE_LIMIT: u64 = 8 << 20;

/// ... how long that may last ...
const OUTPUT_STALL: Duration = Duration::from_secs(2);

/// ... and the bytes unread beyond which output is dropped at once: the server's memory
/// stays bounded.
const OUTPUT_QUEUE_MAX: u64 = 64 << 20;

/// Where a request's answers go (the connection's task writes them out), with the output
/// bytes queued and not yet written, and those dropped because too many were.
#[derive(Clone)]
struct Reply {
    tx: UnboundedSender<ToClient>,
    queued: Arc<AtomicU64>,
    dropped: Arc<AtomicU64>,
    /// Since when the queue has held more than [`OUTPUT_QUEUE_LIMIT`].
    full_since: Arc<Mutex<Option<Instant>>>,
}

impl Reply {
    fn new() -> (Reply, UnboundedReceiver<ToClient>) {
        let (tx, rx) = unbounded_channel();
        (Reply { tx, queued: Arc::default(), dropped: Arc::default(), full_since: Arc::default() }, rx)
    }

    /// True if output must be dropped now: the client left more than [`OUTPUT_QUEUE_MAX`]
    /// unread, or more than [`OUTPUT_QUEUE_LIMIT`] for [`OUTPUT_STALL`].
    fn stalled(&self, queued: u64) -> bool {
        let mut since = self.full_since.lock().unwrap_or_else(|e| e.into_inner());
        if queued <= OUTPUT_QUEUE_LIMIT {
            *since = None;
            return false;
        }
        queued > OUTPUT_QUEUE_MAX || since.get_or_insert_with(Instant::now).elapsed() >= OUTPUT_STALL
    }

    /// Sends `bytes` of `stream` in chunks, dropping them while the client does not read.
    fn output(&self, stream: Stream, bytes: &[u8]) {
        for chunk in bytes.chunks(OUTPUT_CHUNK) {
            let n = chunk.len() as u64;
            if self.stalled(self.queued.load(Ordering::SeqCst) + n) {
                self.dropped.fetch_add(n, Ordering::SeqCst);
                continue;
            }
            self.queued.fetch_add(n, Ordering::SeqCst);
            if self.tx.send(ToClient::Output(stream, chunk.to_vec())).is_err() {
                return; // the client left: its output goes nowhere
            }
        }
    }

    /// Sends the request's last answer, after a note of the output dropped, if any.
    fn done(&self, outcome: Outcome) {
        let dropped = self.dropped.swap(0, Ordering::SeqCst);
        if dropped > 0 {
            let note =
                format!("repl: {dropped} bytes of output dropped: this client did not read them in time\n");
            let _ = self.tx.send(ToClient::Output(Stream::Stderr, note.into_bytes()));
        }
        let _ = self.tx.send(ToClient::Done(outcome));
    }
}

/// One queued request.
struct Job {
    code: String,
    reply: Reply,
}

/// What the loop and the connections share.
struct Shared {
    /// When the server process began (its uptime counts from there).
    started: Instant,
    /// The options this server was started with, for [`ToClient::Hello`].
    options: Vec<String>,
    clients: AtomicU64,
    /// The counters as of the last request.
    status: Mutex<Status>,
}

impl Shared {
    fn status(&self) -> Status {
        let mut s = self.status.lock().unwrap_or_else(|e| e.into_inner()).clone();
        s.clients = self.clients.load(Ordering::SeqCst);
        s.uptime_secs = self.started.elapsed().as_secs_f64();
        s
    }

    fn update(&self, f: impl FnOnce(&mut Status)) {
        f(&mut self.status.lock().unwrap_or_else(|e| e.into_inner()));
    }
}

/// Where forwarded output goes now: the running request's client, or (`None`) the log.
type Route = Arc<Mutex<Option<Reply>>>;

/// Runs the server of session `name` with the executor, language and libraries of `cli`
/// until it has had no client for `cli.session_idle` seconds or its executor went away.
/// Returns at once (success) if another server holds the session.
///
/// # Errors
/// The session's files cannot be set up, or the REPL does not start (both end up in the log,
/// which the client that started the server shows).
pub fn serve(rt: &tokio::runtime::Runtime, cli: Cli, name: &str) -> Result<ExitCode> {
    let started = Instant::now();
    let paths = Paths::new(name)?;
    // A session of our own: the terminal of the client that started us (its Ctrl-C, its
    // hang-up) is not ours. Fails only if we lead a group already, and then we are detached.
    let _ = rustix::process::setsid();
    let Some(_lock) = lock(&paths)? else { return Ok(ExitCode::SUCCESS) };
    let log = std::fs::File::create(&paths.log)
        .with_context(|| format!("cannot create {}", paths.log.display()))?;
    // stdout goes nowhere: a launched executor keeps a copy of the program's output there,
    // which would grow the log (in a small runtime directory) without end.
    let null = std::fs::File::options().write(true).open("/dev/null").context("cannot open /dev/null")?;
    rustix::stdio::dup2_stdout(&null).context("cannot detach stdout")?;
    rustix::stdio::dup2_stderr(&log).context("cannot log to the session's log")?;
    drop((log, null));
    eprintln!("repl: session {name}: server {} starting", std::process::id());

    let route: Route = Arc::default();
    let sink: OutputSink = {
        let route = route.clone();
        Arc::new(move |fd, bytes| {
            let stream = if fd == 2 { Stream::Stderr } else { Stream::Stdout };
            match route.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
                Some(client) => client.output(stream, bytes),
                None => _ = std::io::stderr().write_all(bytes),
            }
        })
    };
    let mut repl = rt.block_on(crate::cli::start_repl(&cli, false, Some(sink)))?;
    let (units, memory) = repl.jit().footprint();
    let shared = Arc::new(Shared {
        started,
        // Our command line as the starting client wrote it, less what is not the session's.
        options: std::env::args_os()
            .skip(1)
            .map(|a| a.to_string_lossy().into_owned())
            .filter(|a| !a.starts_with("--session-serve=") && a != "-v")
            .collect(),
        clients: AtomicU64::new(0),
        status: Mutex::new(Status {
            pid: std::process::id(),
            inputs: 0,
            failed: 0,
            units: units as u64,
            memory,
            cache_hits: crate::compile::cache::hits(),
            latency_ms: None,
            uptime_secs: 0.0,
            executor: executor_kind(&cli),
            triple: repl.jit().session().info().target_triple.clone(),
            clients: 0,
            busy: false,
        }),
    });

    // We hold the lock: a socket left there is a dead server's.
    let _ = std::fs::remove_file(&paths.socket);
    let listener = {
        let _in_runtime = rt.enter();
        UnixListener::bind(&paths.socket)
            .with_context(|| format!("cannot listen on {}", paths.socket.display()))?
    };
    std::fs::set_permissions(&paths.socket, std::os::unix::fs::PermissionsExt::from_mode(0o600))
        .context("cannot make the socket private")?;
    std::fs::write(&paths.pid, format!("{}\n", std::process::id())).context("cannot write the pid file")?;

    let (jobs, mut queue) = unbounded_channel::<Job>();
    let accept = rt.spawn(accept_loop(listener, jobs, shared.clone()));
    let idle = Duration::from_secs(cli.session_idle);
    watch_abandoned_input(shared.clone(), paths.clone(), idle);
    let why = rt.block_on(async {
        let mut latencies = VecDeque::with_capacity(LATENCY_SAMPLES);
        let mut quiet_since = Instant::now();
        let mut tick = tokio::time::interval(TICK);
        loop {
            tokio::select! {
                job = queue.recv() => {
                    let Some(job) = job else { break "the listener failed".to_owned() };
                    // Its client left while it waited: nobody wants it run.
                    if job.reply.tx.is_closed() {
                        continue;
                    }
                    if let Err(why) = run_job(&mut repl, job, &route, &shared, &mut latencies).await {
                        break why;
                    }
                }
                _ = tick.tick() => {
                    if shared.clients.load(Ordering::SeqCst) > 0 {
                        quiet_since = Instant::now();
                    } else if quiet_since.elapsed() >= idle {
                        break format!("no client for {}s", idle.as_secs());
                    }
                    if let Some(why) = repl.jit().session().end_reason().await {
                        break format!("the executor went away: {why}");
                    }
                }
            }
        }
    });
    eprintln!("repl: session {name}: ending: {why}");
    // New clients start a new server from now on; the ones waiting hear why.
    accept.abort();
    let _ = std::fs::remove_file(&paths.socket);
    queue.close();
    while let Ok(job) = queue.try_recv() {
        job.reply.done(Outcome::Ended(why.clone()));
    }
    rt.block_on(async {
        // The end of the session is the end of a program: its exit-time work runs (into the log).
        let _ = repl.finish(&mut std::io::stderr()).await;
        repl.close().await;
    });
    // Last: its absence says the server (and the executor it launched) is done.
    let _ = std::fs::remove_file(&paths.pid);
    Ok(ExitCode::SUCCESS)
}

/// Ends the server when an input has run with no client connected for `idle` (its client
/// left or was killed while it ran, say an endless loop): the loop cannot look while it waits
/// for the input, and nothing else would end it. The launched executor, busy in that input,
/// exits when the server's end of its pipes closes.
fn watch_abandoned_input(shared: Arc<Shared>, paths: Paths, idle: Duration) {
    std::thread::spawn(move || {
        let mut abandoned_since: Option<Instant> = None;
        loop {
            std::thread::sleep(TICK);
            let busy = shared.status.lock().unwrap_or_else(|e| e.into_inner()).busy;
            if !busy || shared.clients.load(Ordering::SeqCst) > 0 {
                abandoned_since = None;
                continue;
            }
            let since = *abandoned_since.get_or_insert_with(Instant::now);
            if since.elapsed() >= idle {
                eprintln!(
                    "repl: session {}: ending: an input ran for {}s with no client",
                    paths.name,
                    idle.as_secs()
                );
                let _ = std::fs::remove_file(&paths.socket);
                let _ = std::fs::remove_file(&paths.pid);
                std::process::exit(3);
            }
        }
    });
}

/// Takes the session's lock, waiting up to [`LOCK_LIMIT`] for a server that is exiting to
/// let it go; `None` if a live server keeps it (its socket serves the clients).
fn lock(paths: &Paths) -> Result<Option<std::fs::File>> {
    use rustix::fs::{FlockOperation, flock};
    let file = std::fs::File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&paths.lock)
        .with_context(|| format!("cannot open {}", paths.lock.display()))?;
    let deadline = Instant::now() + LOCK_LIMIT;
    loop {
        match flock(&file, FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => return Ok(Some(file)),
            Err(rustix::io::Errno::WOULDBLOCK) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(rustix::io::Errno::WOULDBLOCK) => return Ok(None),
            Err(e) => bail!("cannot lock {}: {e}", paths.lock.display()),
        }
    }
}

/// How the options reach the executor, for the status.
fn executor_kind(cli: &Cli) -> String {
    match (&cli.oop_executor_connect, &cli.oop_executor) {
        (Some(addr), _) => format!("{addr} (TCP)"),
        (None, Some(path)) if !path.is_empty() => format!("{path} (launched, pipes)"),
        _ => "orc-executor (launched, pipes)".to_owned(),
    }
}

/// Runs `job` in `repl`, its output going to its client, and updates the counters. `Err`
/// with why the server must end (the executor went away).
async fn run_job(
    repl: &mut Repl,
    job: Job,
    route: &Route,
    shared: &Shared,
    latencies: &mut VecDeque<f64>,
) -> Result<(), String> {
    let _ = job.reply.tx.send(ToClient::Started);
    shared.update(|s| s.busy = true);
    *route.lock().unwrap_or_else(|e| e.into_inner()) = Some(job.reply.clone());
    let t0 = Instant::now();
    let (mut out, mut err) =
        (ClientWriter(Stream::Stdout, &job.reply), ClientWriter(Stream::Stderr, &job.reply));
    let result = repl.eval(&job.code, &mut out, &mut err).await;
    // The executor sends a call's output before its result, and the session's reader hands it
    // over before it wakes us: all of this request's output has been routed.
    *route.lock().unwrap_or_else(|e| e.into_inner()) = None;
    if latencies.len() == LATENCY_SAMPLES {
        latencies.pop_front();
    }
    latencies.push_back(t0.elapsed().as_secs_f64() * 1e3);
    let outcome = match result {
        Ok(outcome) => outcome.into(),
        Err(e) => {
            let why = repl.jit().session().end_reason().await.unwrap_or_else(|| e.to_string());
            let why = format!("the executor went away: {why}");
            job.reply.done(Outcome::Ended(why.clone()));
            return Err(why);
        }
    };
    let (units, memory) = repl.jit().footprint();
    shared.update(|s| {
        s.inputs += 1;
        s.failed += u64::from(outcome == Outcome::Failed);
        s.units = units as u64;
        s.memory = memory;
        s.cache_hits = crate::compile::cache::hits();
        s.latency_ms = percentiles(latencies);
        s.busy = false;
    });
    job.reply.done(outcome);
    Ok(())
}

/// The 50th, 90th and 99th percentiles (nearest rank) of `samples`; `None` if there are none.
fn percentiles(samples: &VecDeque<f64>) -> Option<[f64; 3]> {
    let mut sorted: Vec<f64> = samples.iter().copied().collect();
    sorted.sort_by(f64::total_cmp);
    let rank = |p: f64| {
        let i = (p * sorted.len() as f64).ceil() as usize;
        sorted.get(i.saturating_sub(1)).copied()
    };
    Some([rank(0.5)?, rank(0.9)?, rank(0.99)?])
}

/// Output of a request, sent to its client as it is written.
struct ClientWriter<'a>(Stream, &'a Reply);

impl Write for ClientWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        // A client that left loses its output; the input still runs to its end.
        self.1.output(self.0, buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

async fn accept_loop(listener: UnixListener, jobs: UnboundedSender<Job>, shared: Arc<Shared>) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                shared.clients.fetch_add(1, Ordering::SeqCst);
                let (jobs, shared) = (jobs.clone(), shared.clone());
                tokio::spawn(async move {
                    if let Err(e) = serve_client(stream, &jobs, &shared).await {
                        tracing::info!("a client's connection ended: {e}");
                    }
                    shared.clients.fetch_sub(1, Ordering::SeqCst);
                });
            }
            Err(e) => {
                // Out of descriptors, say: try again shortly rather than spin.
                tracing::warn!("accepting a client failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// One client's connection: Hello, then its requests until it closes.
async fn serve_client(
    stream: UnixStream,
    jobs: &UnboundedSender<Job>,
    shared: &Shared,
) -> Result<(), WireError> {
    let mut conn = Conn::new(stream);
    let hello = tokio::time::timeout(HELLO_LIMIT, conn.recv::<ToServer>())
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "no Hello"))??;
    match hello {
        ToServer::Hello { version } if version == VERSION => {
            let options = shared.options.clone();
            conn.send(&ToClient::Hello { version: VERSION, pid: std::process::id(), options }).await?;
        }
        ToServer::Hello { version } => {
            let why = format!(
                "the session server speaks protocol version {VERSION} and this repl version {version}: end the \
                 server (kill {}) or use another session name",
                std::process::id()
            );
            return conn.send(&ToClient::Refused(why)).await;
        }
        _ => return conn.send(&ToClient::Refused("the first message must be Hello".into())).await,
    }
    loop {
        match conn.recv::<ToServer>().await {
            Err(WireError::Closed) => return Ok(()),
            Err(e) => return Err(e),
            Ok(ToServer::Status) => {
                conn.send(&ToClient::Status(shared.status())).await?;
            }
            Ok(ToServer::Eval { code }) => {
                let (reply, mut answers) = Reply::new();
                let queued = reply.queued.clone();
                if jobs.send(Job { code, reply }).is_err() {
                    return conn.send(&ToClient::Done(Outcome::Ended("the server is ending".into()))).await;
                }
                forward_answers(&mut conn, &mut answers, &queued).await?;
            }
            Ok(ToServer::Hello { .. }) => {
                return conn.send(&ToClient::Refused("Hello twice".into())).await;
            }
        }
    }
}

/// Writes a request's answers to its client until the last one. A client that closes its
/// connection meanwhile (it sends nothing while it waits) ends this, dropping `answers`: the
/// loop then skips the request if it has not started it, and drops its output if it has.
async fn forward_answers(
    conn: &mut Conn,
    answers: &mut UnboundedReceiver<ToClient>,
    queued: &AtomicU64,
) -> Result<(), WireError> {
    loop {
        let msg = tokio::select! {
            msg = answers.recv() => msg,
            // Anything but the end of the connection is out of turn as well.
            _ = conn.recv::<ToServer>() => return Err(WireError::Closed),
        };
        // The loop dropped the request without an answer: the server is ending.
        let Some(msg) = msg else { return Err(WireError::Closed) };
        let last = matches!(msg, ToClient::Done(_));
        conn.send(&msg).await?;
        if let ToClient::Output(_, bytes) = &msg {
            queued.fetch_sub(bytes.len() as u64, Ordering::SeqCst);
        }
        if last {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_by_nearest_rank() {
        assert_eq!(percentiles(&VecDeque::new()), None);
        let samples: VecDeque<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentiles(&samples), Some([50.0, 90.0, 99.0]));
        assert_eq!(percentiles(&VecDeque::from([7.0])), Some([7.0, 7.0, 7.0]));
    }
}
