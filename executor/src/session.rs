//! One SimpleRemoteEPC session: Setup, then frames until the controller leaves.
//!
//! The reader thread (the caller of [`run`]) decodes frames. CallWrappers run on worker threads
//! ([`crate::pool`]) and answer with a Result carrying the caller's sequence number; Results
//! complete our own jit-dispatch calls. Protocol violations end the session with a Hangup that
//! carries the reason, and a log line; unlike LLVM 22.1's executor the process survives them.
//!
//! Ending a session (`docs/protocol.md` §8): Hangup or end of stream ends it at once. LLVM 22.1
//! controllers close TCP sessions with a `close()` that sends no FIN and then wait for our EOF
//! forever; so on sockets, once the controller has released all memory it initialized and
//! nothing has happened for the idle period (8 periods if it never initialized any), we close
//! our side and the controller exits normally. At the end, pending jit-dispatch calls fail,
//! calls still running are awaited, and every slab is released (running its dealloc actions).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use orc_rpc::frame::FrameReader;
use orc_rpc::sps::{SpsError, from_bytes};
use orc_rpc::{EncodedFrame, ExecutorAddr, ExecutorInfo, Frame, FrameError, Opcode, Raw};

use crate::builtins;
use crate::dispatch::Outbox;
use crate::registry;
use crate::services::SessionServices;
use crate::transport::{Closer, Connection};
use crate::{Config, SessionEnd, SessionReport};

static NEXT_SESSION: AtomicU64 = AtomicU64::new(1);

/// Counts calls that are running, and lets teardown wait for them.
#[derive(Default)]
struct InFlight {
    count: Mutex<usize>,
    idle: Condvar,
}

impl InFlight {
    fn begin(&self) {
        *self.count.lock().unwrap_or_else(|e| e.into_inner()) += 1;
    }
    fn end(&self) {
        let mut c = self.count.lock().unwrap_or_else(|e| e.into_inner());
        *c -= 1;
        if *c == 0 {
            self.idle.notify_all();
        }
    }
    fn get(&self) -> usize {
        *self.count.lock().unwrap_or_else(|e| e.into_inner())
    }
    /// Waits until no call runs, logging now and then if that takes long.
    fn wait_idle(&self, session: u64) {
        let mut c = self.count.lock().unwrap_or_else(|e| e.into_inner());
        while *c > 0 {
            let (g, t) = self.idle.wait_timeout(c, Duration::from_secs(5)).unwrap_or_else(|e| e.into_inner());
            c = g;
            if t.timed_out() && *c > 0 {
                tracing::warn!("session {session}: waiting for {} call(s) still running in JIT'd code", *c);
            }
        }
    }
}

/// What the idle-close watchdog looks at.
struct Activity {
    last: Mutex<Instant>,
}

impl Activity {
    fn touch(&self) {
        *self.last.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now();
    }
    fn quiet_for(&self) -> Duration {
        self.last.lock().unwrap_or_else(|e| e.into_inner()).elapsed()
    }
}

struct Shared {
    services: Arc<SessionServices>,
    outbox: Arc<Outbox>,
    in_flight: InFlight,
    activity: Activity,
    calls: AtomicU64,
}

/// Serves one session on `conn` until it ends.
pub fn run(conn: Connection, config: &Config) -> SessionReport {
    let id = NEXT_SESSION.fetch_add(1, Ordering::Relaxed);
    let Connection { reader, writer, closer, peer } = conn;
    tracing::info!("session {id}: controller connected ({peer})");
    let outbox = Arc::new(Outbox::new(writer, config.max_frame_size));
    let services =
        Arc::new(SessionServices::new(id, outbox.clone(), config.page_size, config.symbols.clone()));
    registry::register(&services);
    let shared = Arc::new(Shared {
        services,
        outbox,
        in_flight: InFlight::default(),
        activity: Activity { last: Mutex::new(Instant::now()) },
        calls: AtomicU64::new(0),
    });

    let info = ExecutorInfo {
        target_triple: config.triple.clone(),
        page_size: config.page_size as u64,
        bootstrap_map: config.values.clone(),
        bootstrap_symbols: shared.services.bootstrap_symbols(),
    };
    let idle_closed = Arc::new(AtomicBool::new(false));
    let end = match shared.outbox.send(&EncodedFrame::new(Opcode::Setup, 0, ExecutorAddr::NULL, &info)) {
        Err(e) => SessionEnd::TransportError(format!("cannot send Setup: {e}")),
        Ok(()) => {
            let watchdog = match (&closer, config.idle_close) {
                (Some(close), Some(after)) => {
                    Some(Watchdog::start(shared.clone(), after, idle_closed.clone(), close.clone()))
                }
                _ => None,
            };
            let end = serve(&shared, FrameReader::with_max_frame_size(reader, config.max_frame_size));
            drop(watchdog);
            end
        }
    };
    let end = if idle_closed.load(Ordering::Relaxed) && matches!(end, SessionEnd::Eof) {
        SessionEnd::IdleClose
    } else {
        end
    };
    teardown(&shared, id);
    if let Some(close) = &closer {
        close();
    }
    let calls = shared.calls.load(Ordering::Relaxed);
    match &end {
        SessionEnd::ProtocolError(e) | SessionEnd::TransportError(e) => {
            tracing::warn!("session {id} ended: {e} ({calls} calls)")
        }
        e => tracing::info!("session {id} ended: {e} ({calls} calls)"),
    }
    SessionReport { end, calls }
}

fn serve(shared: &Arc<Shared>, mut reader: FrameReader<Box<dyn std::io::Read + Send>>) -> SessionEnd {
    let id = shared.services.id;
    loop {
        let frame = match reader.read_frame() {
            Ok(Some(f)) => f,
            Ok(None) => return SessionEnd::Eof,
            Err(FrameError::Io(e)) => return SessionEnd::TransportError(format!("read failed: {e}")),
            Err(e @ FrameError::Truncated { .. }) => return SessionEnd::ProtocolError(e.to_string()),
            Err(e) => return hang_up(shared, e.to_string()),
        };
        shared.activity.touch();
        tracing::debug!(
            "session {id}: recv {:?} seq={} tag={}{} payload={}B",
            frame.opcode,
            frame.seq_no,
            frame.tag_addr,
            builtins::find(frame.tag_addr).map(|b| format!(" ({})", b.name)).unwrap_or_default(),
            frame.payload.len()
        );
        match frame.opcode {
            Opcode::CallWrapper => start_call(shared, frame),
            Opcode::Result => {
                if !shared.services.dispatch.complete(frame.seq_no, frame.payload.to_vec()) {
                    return hang_up(
                        shared,
                        format!("Result for sequence number {}, which has no call outstanding", frame.seq_no),
                    );
                }
            }
            Opcode::Hangup => {
                let message = match from_bytes::<SpsError>(&frame.payload) {
                    Ok(SpsError(Err(m))) => Some(m),
                    _ => None,
                };
                return SessionEnd::Hangup { message };
            }
            Opcode::Setup => return hang_up(shared, "unexpected Setup message from the controller".into()),
        }
    }
}

/// Ends the session because of a protocol error: tell the controller why, then stop.
fn hang_up(shared: &Shared, reason: String) -> SessionEnd {
    let frame = EncodedFrame::new(Opcode::Hangup, 0, ExecutorAddr::NULL, &SpsError::failure(reason.clone()));
    let _ = shared.outbox.send(&frame);
    SessionEnd::ProtocolError(reason)
}

fn start_call(shared: &Arc<Shared>, frame: Frame) {
    shared.in_flight.begin();
    shared.calls.fetch_add(1, Ordering::Relaxed);
    let shared = shared.clone();
    crate::pool::spawn(move || {
        let Frame { seq_no, tag_addr, payload, .. } = frame;
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            shared.services.call_for_controller(tag_addr, &payload)
        }))
        .unwrap_or_else(|_| Err(format!("the call to {tag_addr} panicked")));
        let bytes = result.unwrap_or_else(|e| {
            // No out-of-band channel exists on the wire: like LLVM, send an empty result.
            tracing::warn!("session {}: call {seq_no} to {tag_addr} failed: {e}", shared.services.id);
            Vec::new()
        });
        if let Err(e) =
            shared.outbox.send(&EncodedFrame::new(Opcode::Result, seq_no, ExecutorAddr::NULL, &Raw(&bytes)))
        {
            tracing::debug!("session {}: cannot send result {seq_no}: {e}", shared.services.id);
        }
        shared.activity.touch();
        shared.in_flight.end();
    });
}

fn teardown(shared: &Shared, id: u64) {
    shared.services.dispatch.disconnect();
    shared.in_flight.wait_idle(id);
    let s = &shared.services;
    if let Err(e) = s.memory.release_all(&|c| s.run_action(c)) {
        tracing::warn!("session {id}: releasing memory at the end of the session: {e}");
    }
    registry::unregister(s);
}

/// How many idle periods a socket session that never initialized memory must stay quiet
/// before the watchdog closes it.
const NEVER_LOADED_GRACE: u32 = 8;

/// Closes an idle socket session whose controller released everything (see the module docs).
struct Watchdog {
    stop: Arc<(Mutex<bool>, Condvar)>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Watchdog {
    fn start(shared: Arc<Shared>, after: Duration, fired: Arc<AtomicBool>, close: Closer) -> Watchdog {
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let stop2 = stop.clone();
        let poll = (after / 4).clamp(Duration::from_millis(5), Duration::from_millis(100));
        let thread = std::thread::Builder::new()
            .name("orc-idle-close".into())
            .spawn(move || {
                let (lock, cv) = &*stop2;
                let mut stopped = lock.lock().unwrap_or_else(|e| e.into_inner());
                while !*stopped {
                    let (g, _) = cv.wait_timeout(stopped, poll).unwrap_or_else(|e| e.into_inner());
                    stopped = g;
                    let s = &shared.services;
                    // A controller that never loaded anything (llvm-jitlink failing on a
                    // missing symbol before its first initialize) waits just the same; it
                    // gets a longer grace period, since it may also be one still getting ready.
                    let needed =
                        if s.memory.initialized_count() > 0 { after } else { after * NEVER_LOADED_GRACE };
                    let done = s.memory.live_regions() == 0
                        && shared.in_flight.get() == 0
                        && s.dispatch.outstanding() == 0
                        && shared.activity.quiet_for() >= needed;
                    if done && !*stopped {
                        tracing::info!(
                            "session {}: controller released all its memory and has been idle for {after:?}; \
                             closing (LLVM 22.1 controllers never end TCP sessions themselves)",
                            s.id
                        );
                        fired.store(true, Ordering::Relaxed);
                        close();
                        return;
                    }
                }
            })
            .ok();
        Watchdog { stop, thread }
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        let (lock, cv) = &*self.stop;
        *lock.lock().unwrap_or_else(|e| e.into_inner()) = true;
        cv.notify_all();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
