//! The app's log callback as `tracing`'s global subscriber: the executor logs through
//! `tracing`, which needs one subscriber per process. Installed when the first executor with
//! a callback is created, unless the process already has a global subscriber (then the events
//! go there and the callback is never called). The callback is process-wide: the most recent
//! executor created with one owns it, until it is freed.
//!
//! The callback runs under the read lock of [`SINK`], so [`release`] (`orcx_executor_free`)
//! waits for calls in progress: once it returns the app may free the context. Hence the
//! callback must not call `orcx_executor_new` or `orcx_executor_free` (`orc_executor.h`).

use std::ffi::{CString, c_char, c_int, c_void};
use std::fmt::Write as _;
use std::sync::{Once, RwLock};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::subscriber::Interest;
use tracing::{Event, Level, Metadata, Subscriber};

/// `orcx_log_fn`: `void (*)(void *ctx, int level, const char *message)`.
pub(crate) type LogFn = unsafe extern "C" fn(*mut c_void, c_int, *const c_char);

/// Where events go: the callback, its context and the most detailed level it wants.
#[derive(Clone, Copy)]
struct Sink {
    owner: u64,
    log: LogFn,
    /// The app's context pointer, as an integer so the sink can be shared between threads;
    /// the app promises it may be used from any thread (`orc_executor.h`).
    ctx: usize,
    max: Level,
}

static SINK: RwLock<Option<Sink>> = RwLock::new(None);

/// The level number of the C API: 1 error, 2 warn, 3 info, 4 debug, 5 trace.
fn level_number(level: Level) -> c_int {
    match level {
        Level::ERROR => 1,
        Level::WARN => 2,
        Level::INFO => 3,
        Level::DEBUG => 4,
        Level::TRACE => 5,
    }
}

/// The level of C API number `n` (1..=5).
pub(crate) fn level_from_number(n: i32) -> Option<Level> {
    [Level::ERROR, Level::WARN, Level::INFO, Level::DEBUG, Level::TRACE]
        .into_iter()
        .find(|l| level_number(*l) == n)
}

/// Sends events up to `max` to `log(ctx, ...)` from now on, on behalf of executor `owner`.
pub(crate) fn set(owner: u64, log: LogFn, ctx: *mut c_void, max: Level) {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        // Fails if the process has its own subscriber: then its events go there.
        let _ = tracing::subscriber::set_global_default(Callback);
    });
    *SINK.write().unwrap_or_else(|e| e.into_inner()) = Some(Sink { owner, log, ctx: ctx as usize, max });
    tracing::callsite::rebuild_interest_cache();
}

/// Stops calling the callback of executor `owner` (being freed), if it still has it. Returns
/// after every call of the callback in progress has returned.
pub(crate) fn release(owner: u64) {
    let mut sink = SINK.write().unwrap_or_else(|e| e.into_inner());
    if sink.is_some_and(|s| s.owner == owner) {
        *sink = None;
    }
}

fn sink() -> Option<Sink> {
    *SINK.read().unwrap_or_else(|e| e.into_inner())
}

/// Formats an event as `message key=value ...`.
#[derive(Default)]
struct Text(String);

impl Visit for Text {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let sep = if self.0.is_empty() { "" } else { " " };
        let _ = match field.name() {
            "message" => write!(self.0, "{sep}{value:?}"),
            name => write!(self.0, "{sep}{name}={value:?}"),
        };
    }
}

/// The subscriber: events to the sink, spans ignored (the executor uses none).
struct Callback;

impl Subscriber for Callback {
    fn register_callsite(&self, _: &'static Metadata<'static>) -> Interest {
        // The sink changes at run time: ask `enabled` each time.
        Interest::sometimes()
    }

    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        sink().is_some_and(|s| *metadata.level() <= s.max)
    }

    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }

    fn record(&self, _: &Id, _: &Record<'_>) {}

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let mut text = Text::default();
        event.record(&mut text);
        let message = CString::new(text.0.replace('\0', " ")).unwrap_or_default();
        let level = level_number(*event.metadata().level());
        // Held across the call, so that `release` waits for it: the app frees the context
        // once orcx_executor_free returns.
        let sink = SINK.read().unwrap_or_else(|e| e.into_inner());
        let Some(s) = *sink else { return };
        if *event.metadata().level() > s.max {
            return; // the sink changed since `enabled`
        }
        // SAFETY: the app gave a callback that takes its own context, a level and a
        // NUL-terminated message valid for the call, from any thread (orc_executor.h); the
        // context stays valid while the sink is set, which the read lock guarantees.
        unsafe { (s.log)(s.ctx as *mut c_void, level, message.as_ptr()) };
        drop(sink);
    }

    fn enter(&self, _: &Id) {}

    fn exit(&self, _: &Id) {}
}
