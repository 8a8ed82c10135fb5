//! One SimpleRemoteEPC session: Setup, then frames until the controller leaves.
//!
//! The reader thread (the caller of [`run`]) decodes frames. CallWrappers run on worker threads
//! ([`crate::pool`]) and answer with a Result carrying the caller's sequence number; Results
//! complete our own jit-dispatch calls. Protocol violations end the session with a Hangup that
//! carries the reason, and a log line; unlike LLVM 22.1's executor the process survives them.
//!
//! Bounds: at most `max_calls` calls of one session run at once (calls waiting for the
//! controller in jit-dispatch do not count); beyond that the reader stops reading until one
//! ends, which pushes back on the controller instead of starting threads without limit. A
//! result too large for a frame is sent as an empty Result (an error) and logged.
//!
//! Ending a session (`docs/protocol.md`, "Ending a session"): Hangup or end of stream ends it
//! at once. LLVM 22.1 controllers close TCP sessions with a `close()` that sends no FIN and then
//! wait for our EOF forever; so on sockets, once the controller has released all memory it
//! initialized and nothing has happened for the idle period (8 periods if it never initialized
//! any), we close our side and the controller exits normally. At the end, pending jit-dispatch
//! calls fail and calls still running get a grace period to return. Then every slab is released
//! (running its dealloc actions); calls that are still running then (JIT'd code that never
//! returns, a controller that vanished while its code spins) are abandoned: the session ends
//! and is reported now, and its memory is released when the last of them returns, since it
//! still runs there. Threads cannot be cancelled.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use orc_rpc::frame::FrameReader;
use orc_rpc::sps::{SpsError, from_bytes};
use orc_rpc::{EncodedFrame, ExecutorAddr, ExecutorInfo, FRAME_HEADER_SIZE, Frame, FrameError, Opcode, Raw};

use crate::builtins;
use crate::dispatch::Outbox;
use crate::registry;
use crate::services::SessionServices;
use crate::transport::{Closer, Connection};
use crate::{Config, SessionEnd, SessionReport};

static NEXT_SESSION: AtomicU64 = AtomicU64::new(1);

type OnIdle = Box<dyn FnOnce() + Send>;

/// Counts calls that are running, lets the reader wait for a free slot and teardown for the
/// end of all of them, and runs deferred work once none runs.
#[derive(Default)]
struct InFlight {
    state: Mutex<(usize, Option<OnIdle>)>,
    changed: Condvar,
}

impl InFlight {
    fn lock(&self) -> std::sync::MutexGuard<'_, (usize, Option<OnIdle>)> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn begin(&self) {
        self.lock().0 += 1;
    }

    fn end(&self) {
        let on_idle = {
            let mut st = self.lock();
            st.0 -= 1;
            if st.0 == 0 { st.1.take() } else { None }
        };
        self.changed.notify_all();
        if let Some(f) = on_idle {
            f();
        }
    }

    fn get(&self) -> usize {
        self.lock().0
    }

    /// Waits until fewer than `cap` calls run, not counting `waiting` ones (calls blocked in
    /// jit-dispatch, which wait for the controller rather than use the executor). Returns
    /// false, at once or within 20 ms, once `closing` is set (the session is being ended from
    /// outside: its calls may never return).
    fn wait_for_slot(&self, cap: usize, waiting: impl Fn() -> usize, closing: &AtomicBool) -> bool {
        let mut st = self.lock();
        loop {
            if closing.load(Ordering::SeqCst) {
                return false;
            }
            if st.0.saturating_sub(waiting()) < cap {
                return true;
            }
            // Dispatch waits end without notifying this condition: look again now and then.
            st =
                self.changed.wait_timeout(st, Duration::from_millis(20)).unwrap_or_else(|e| e.into_inner()).0;
        }
    }

    /// Waits up to `limit` until no call runs; returns how many still do.
    fn wait_idle_for(&self, limit: Duration) -> usize {
        let deadline = Instant::now() + limit;
        let mut st = self.lock();
        while st.0 > 0 {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            st = self.changed.wait_timeout(st, deadline - now).unwrap_or_else(|e| e.into_inner()).0;
        }
        st.0
    }

    /// Runs `f` now if no call runs, else when the last running call ends.
    fn on_idle(&self, f: OnIdle) {
        let mut st = self.lock();
        if st.0 == 0 {
            drop(st);
            f();
        } else {
            st.1 = Some(f);
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
    max_frame_size: u64,
    closing: Arc<AtomicBool>,
}

impl Shared {
    /// [`InFlight::wait_for_slot`] for this session: false if it is being ended from outside.
    fn wait_for_slot(&self, max_calls: usize) -> bool {
        self.in_flight.wait_for_slot(max_calls, || self.services.dispatch.outstanding(), &self.closing)
    }
}

/// Serves one session on `conn` until it ends.
pub(crate) fn run(conn: Connection, config: &Config) -> SessionReport {
    let id = NEXT_SESSION.fetch_add(1, Ordering::Relaxed);
    let Connection { reader, writer, closer, closing, peer } = conn;
    tracing::info!("session {id}: controller connected ({peer})");
    let outbox = Arc::new(Outbox::new(writer, config.max_frame_size));
    let services = Arc::new(SessionServices::new(id, outbox.clone(), config));
    registry::register(&services);
    let shared = Arc::new(Shared {
        services,
        outbox,
        in_flight: InFlight::default(),
        activity: Activity { last: Mutex::new(Instant::now()) },
        calls: AtomicU64::new(0),
        max_frame_size: config.max_frame_size,
        closing,
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
            let end = serve(
                &shared,
                FrameReader::with_max_frame_size(reader, config.max_frame_size),
                config.max_calls,
            );
            drop(watchdog);
            end
        }
    };
    let end = if idle_closed.load(Ordering::Relaxed) && matches!(end, SessionEnd::Eof) {
        SessionEnd::IdleClose
    } else {
        end
    };
    let abandoned_calls = teardown(&shared, config.call_grace);
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
    SessionReport { end, calls, abandoned_calls }
}

fn serve(
    shared: &Arc<Shared>,
    mut reader: FrameReader<Box<dyn std::io::Read + Send>>,
    max_calls: usize,
) -> SessionEnd {
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
        // The Results of output notifications are not logged: a log on the forwarded stderr
        // would make more output, and more Results, without end.
        if !(frame.opcode == Opcode::Result && crate::dispatch::is_notification(frame.seq_no)) {
            tracing::debug!(
                "session {id}: recv {:?} seq={} tag={}{} payload={}B",
                frame.opcode,
                frame.seq_no,
                frame.tag_addr,
                builtins::find(frame.tag_addr).map(|b| format!(" ({})", b.name)).unwrap_or_default(),
                frame.payload.len()
            );
        }
        match frame.opcode {
            Opcode::CallWrapper => {
                if !shared.wait_for_slot(max_calls) {
                    return SessionEnd::Eof;
                }
                start_call(shared, frame)
            }
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
        let id = shared.services.id;
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            shared.services.call_for_controller(tag_addr, &payload)
        }))
        .unwrap_or_else(|_| Err(format!("the call to {tag_addr} panicked")));
        let result = result.and_then(|bytes| {
            let size = FRAME_HEADER_SIZE as u64 + bytes.len() as u64;
            if size > shared.max_frame_size {
                Err(format!(
                    "its result of {} bytes does not fit in a frame of at most {} bytes",
                    bytes.len(),
                    shared.max_frame_size
                ))
            } else {
                Ok(bytes)
            }
        });
        // Output the call made goes out before its result (a REPL prints it first).
        crate::stdio::sync(id);
        let bytes = result.unwrap_or_else(|e| {
            // No out-of-band channel exists on the wire: like LLVM, send an empty result.
            tracing::warn!("session {id}: call {seq_no} to {tag_addr} failed: {e}");
            Vec::new()
        });
        if let Err(e) =
            shared.outbox.send(&EncodedFrame::new(Opcode::Result, seq_no, ExecutorAddr::NULL, &Raw(&bytes)))
        {
            tracing::debug!("session {id}: cannot send result {seq_no}: {e}");
        }
        shared.activity.touch();
        shared.in_flight.end();
    });
}

/// Ends the session's services: fails pending jit-dispatch calls, gives running calls `grace`
/// to return, then releases all memory, or, if calls are still running, leaves the release to
/// the last of them. Returns how many calls were abandoned.
fn teardown(shared: &Arc<Shared>, grace: Duration) -> usize {
    let id = shared.services.id;
    shared.services.dispatch.disconnect();
    crate::stdio::session_ended(id);
    let running = shared.in_flight.wait_idle_for(grace);
    if running > 0 {
        tracing::warn!(
            "session {id}: {running} call(s) still running in JIT'd code after the session ended; \
             abandoned (their memory is released when they return)"
        );
    }
    let services = shared.services.clone();
    shared.in_flight.on_idle(Box::new(move || {
        let s = &services;
        if let Err(e) = s.memory.release_all(&|c| s.run_action(c)) {
            tracing::warn!("session {id}: releasing memory at the end of the session: {e}");
        }
        registry::unregister(s);
    }));
    running
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
