//! The ORC executor's C API: what `include/orc_executor.h` declares, for apps in C, C++,
//! Objective-C or Swift that embed the executor ([`orc_executor`]).
//!
//! Every exported symbol starts with `orcx_`. Every entry point runs under
//! `error::boundary`: a Rust panic never crosses into C; failures return NULL or -1 and leave
//! a message for `orcx_last_error`. The header is the contract and its documentation; the
//! functions here say only what the Rust side adds. A test (`tests/c_api.rs`) compiles a C
//! program against the header and this library and runs it, so the two cannot drift.

#![deny(missing_docs)]

mod error;
mod log;

use std::collections::HashMap;
use std::ffi::{CStr, c_char, c_int, c_void};
use std::net::{TcpListener, TcpStream};
use std::os::fd::RawFd;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use orc_executor::{Executor, ExecutorAddr, ExecutorBuilder, ListenerHandle, SessionReport};

use crate::error::boundary;

/// `ORCX_NO_CRASH_GUARD`: calls into JIT'd code run without the crash guard.
pub const ORCX_NO_CRASH_GUARD: u32 = 1;
/// `ORCX_NO_GDB_JIT`: JIT'd code is not registered with the GDB JIT interface.
pub const ORCX_NO_GDB_JIT: u32 = 2;
/// `ORCX_NO_STDIO_FORWARDING`: the process's stdio is never forwarded to controllers.
pub const ORCX_NO_STDIO_FORWARDING: u32 = 4;

/// `orcx_options` (see the header for each field). `struct_size` says how many bytes of it
/// the app's header knows; fields beyond that take their defaults.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// `sizeof(orcx_options)` in the app's header, in bytes.
    pub struct_size: u32,
    /// Idle close in milliseconds; -1 never, 0 the default.
    pub idle_close_ms: i64,
    /// Largest frame in bytes; 0 the default.
    pub max_frame_size: u64,
    /// `ORCX_*` flags.
    pub flags: u32,
    /// Log callback, or NULL.
    pub log: Option<log::LogFn>,
    /// First argument of `log`.
    pub log_ctx: *mut c_void,
    /// Most detailed level passed to `log` (1 error .. 5 trace); 0 the default, 3.
    pub log_level: i32,
}

impl Default for Options {
    /// What `orcx_options_init` writes: every field at its default, for this header's size.
    fn default() -> Self {
        Options {
            struct_size: size_of::<Options>() as u32,
            idle_close_ms: 0,
            max_frame_size: 0,
            flags: 0,
            log: None,
            log_ctx: std::ptr::null_mut(),
            log_level: 0,
        }
    }
}

/// The bytes of [`Options`] every app's header has (through `log_ctx`).
const OPTIONS_V1_SIZE: usize = std::mem::offset_of!(Options, log_ctx) + size_of::<*mut c_void>();

/// `orcx_executor`: options and published symbols, from which each serve builds its executor.
#[derive(Debug)]
pub struct OrcxExecutor {
    id: u64,
    builder: ExecutorBuilder,
    symbols: Mutex<Vec<(String, ExecutorAddr)>>,
}

/// `orcx_listener`: a listener serving on a background thread.
#[derive(Debug)]
pub struct OrcxListener(ListenerHandle);

impl OrcxExecutor {
    /// The executor for a serve that starts now: the options, plus every symbol published so
    /// far, as bootstrap symbols and as answers to lookups in this process.
    fn executor(&self) -> Executor {
        let symbols = self.symbols.lock().unwrap_or_else(PoisonError::into_inner).clone();
        let by_name: HashMap<Vec<u8>, ExecutorAddr> =
            symbols.iter().map(|(n, a)| (n.as_bytes().to_vec(), *a)).collect();
        let mut builder = self.builder.clone().process_symbols(Arc::new(move |name: &[u8]| {
            // The app publishes C names; Mach-O names arrive with Darwin's leading `_`.
            by_name.get(orc_executor::c_symbol_name(name)?).copied()
        }));
        for (name, addr) in symbols {
            builder = builder.bootstrap_symbol(name, addr);
        }
        builder.build()
    }
}

fn builder_from(opts: &Options) -> Result<ExecutorBuilder, String> {
    let size = opts.struct_size as usize;
    if size < OPTIONS_V1_SIZE {
        return Err(format!(
            "orcx_options.struct_size is {size}, less than the {OPTIONS_V1_SIZE} bytes of every version: \
             initialize it with orcx_options_init"
        ));
    }
    let known = opts.flags & (ORCX_NO_CRASH_GUARD | ORCX_NO_GDB_JIT | ORCX_NO_STDIO_FORWARDING);
    if known != opts.flags {
        return Err(format!("unknown flags {:#x} in orcx_options.flags", opts.flags & !known));
    }
    let mut builder = Executor::builder()
        .crash_guard(opts.flags & ORCX_NO_CRASH_GUARD == 0)
        .gdb_jit_interface(opts.flags & ORCX_NO_GDB_JIT == 0)
        .forward_stdio(opts.flags & ORCX_NO_STDIO_FORWARDING == 0);
    builder = match opts.idle_close_ms {
        0 => builder,
        -1 => builder.idle_close(None),
        ms if ms > 0 => builder.idle_close(Some(Duration::from_millis(ms as u64))),
        ms => return Err(format!("orcx_options.idle_close_ms is {ms}: expected -1, 0 or a positive number")),
    };
    if opts.max_frame_size != 0 {
        builder = builder.max_frame_size(opts.max_frame_size);
    }
    Ok(builder)
}

/// A session's outcome as a C status: 0 unless it broke the protocol or its transport.
fn status(report: SessionReport) -> Result<c_int, String> {
    if report.end.is_error() { Err(format!("the session ended with a {}", report.end)) } else { Ok(0) }
}

/// The address family of socket `fd` (`AF_UNIX`, `AF_INET`, ...).
fn socket_family(fd: RawFd) -> Result<c_int, String> {
    // SAFETY: sockaddr_storage is plain data; all zeros is a valid value.
    let mut addr: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let mut len = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    // SAFETY: `addr` has room for `len` bytes, which getsockname does not exceed.
    if unsafe { libc::getsockname(fd, (&raw mut addr).cast(), &mut len) } != 0 {
        return Err(format!("descriptor {fd} is not a socket: {}", std::io::Error::last_os_error()));
    }
    Ok(c_int::from(addr.ss_family))
}

/// The executor argument of an entry point.
///
/// # Errors
/// `ex` is NULL.
///
/// # Safety
/// `ex` is null or from `orcx_executor_new` and not freed.
unsafe fn executor<'a>(ex: *const OrcxExecutor) -> Result<&'a OrcxExecutor, String> {
    // SAFETY: as the caller guarantees.
    unsafe { ex.as_ref() }.ok_or_else(|| "the executor is NULL".into())
}

/// Reads a C string argument.
///
/// # Safety
/// `s` is null or a NUL-terminated string.
unsafe fn text<'a>(s: *const c_char, what: &str) -> Result<&'a str, String> {
    if s.is_null() {
        return Err(format!("{what} is NULL"));
    }
    // SAFETY: as the caller guarantees.
    unsafe { CStr::from_ptr(s) }.to_str().map_err(|_| format!("{what} is not UTF-8"))
}

/// Fills `opts` with the defaults (`orcx_options_init`).
///
/// # Safety
/// `opts` is null or points to writable memory for an `orcx_options`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn orcx_options_init(opts: *mut Options) {
    if opts.is_null() {
        return;
    }
    // SAFETY: as the caller guarantees; `write` does not read the old contents.
    unsafe { opts.write(Options::default()) };
}

/// Creates an executor (`orcx_executor_new`).
///
/// # Safety
/// `opts` is null or points to an `orcx_options` at least `struct_size` bytes long.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn orcx_executor_new(opts: *const Options) -> *mut OrcxExecutor {
    static NEXT_ID: AtomicU64 = AtomicU64::new(1);
    boundary(std::ptr::null_mut(), || {
        // NULL: the defaults; otherwise the fields the caller's header has over them.
        let mut o = Options::default();
        if !opts.is_null() {
            // SAFETY: the caller's struct has `struct_size` bytes, and at least the version-1
            // fields (checked before they are used by `builder_from`); copy what both know.
            unsafe {
                let size = (*opts).struct_size as usize;
                let n = size.min(size_of::<Options>());
                if size >= OPTIONS_V1_SIZE {
                    std::ptr::copy_nonoverlapping(opts.cast::<u8>(), (&raw mut o).cast::<u8>(), n);
                }
                o.struct_size = (*opts).struct_size;
            }
        }
        let builder = builder_from(&o)?;
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        if let Some(f) = o.log {
            let level = match o.log_level {
                0 => tracing::Level::INFO,
                n => log::level_from_number(n).ok_or_else(|| {
                    format!("orcx_options.log_level is {n}: expected 0 or 1 (error) .. 5 (trace)")
                })?,
            };
            log::set(id, f, o.log_ctx, level);
        }
        Ok(Box::into_raw(Box::new(OrcxExecutor { id, builder, symbols: Mutex::new(Vec::new()) })))
    })
}

/// Publishes `addr` as `name` (`orcx_executor_add_symbol`).
///
/// # Safety
/// `ex` is null or from `orcx_executor_new` and not freed; `name` is null or a NUL-terminated
/// string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn orcx_executor_add_symbol(
    ex: *mut OrcxExecutor,
    name: *const c_char,
    addr: *const c_void,
) -> c_int {
    boundary(-1, || {
        // SAFETY: as the caller guarantees.
        let ex = unsafe { executor(ex) }?;
        // SAFETY: as the caller guarantees.
        let name = unsafe { text(name, "the symbol name") }?;
        if name.is_empty() {
            return Err("the symbol name is empty".into());
        }
        if addr.is_null() {
            return Err(format!("the address of {name} is NULL"));
        }
        let mut symbols = ex.symbols.lock().unwrap_or_else(PoisonError::into_inner);
        if symbols.iter().any(|(n, _)| n == name) {
            return Err(format!("{name} is already published"));
        }
        symbols.push((name.to_owned(), ExecutorAddr::from_ptr(addr)));
        Ok(0)
    })
}

/// Serves one session on two descriptors (`orcx_executor_serve_fds`). Owns them from entry:
/// every return closes them, on failure too.
///
/// # Safety
/// `ex` is null or from `orcx_executor_new` and not freed; the descriptors are the caller's to
/// hand over.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn orcx_executor_serve_fds(
    ex: *const OrcxExecutor,
    in_fd: c_int,
    out_fd: c_int,
) -> c_int {
    boundary(-1, || {
        // Owned before anything can fail, so that every return closes them (orc_executor.h).
        // SAFETY: the caller hands them over.
        let fds = unsafe { orc_executor::take_fds(in_fd, out_fd) };
        // SAFETY: as the caller guarantees.
        let ex = unsafe { executor(ex) }?;
        let (input, output) = fds.map_err(|e| e.to_string())?;
        status(ex.executor().serve_fds(input, output))
    })
}

/// Serves one session on a connected stream socket (`orcx_executor_serve_socket`). Owns it
/// from entry: every return closes it, on failure too.
///
/// # Safety
/// `ex` is null or from `orcx_executor_new` and not freed; `fd` is the caller's to hand over.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn orcx_executor_serve_socket(ex: *const OrcxExecutor, fd: c_int) -> c_int {
    boundary(-1, || {
        // Owned before anything can fail, so that every return closes it (orc_executor.h).
        // SAFETY: the caller hands it over.
        let owned = unsafe { orc_executor::take_fd(fd) };
        // SAFETY: as the caller guarantees.
        let ex = unsafe { executor(ex) }?;
        let owned = owned.map_err(|e| e.to_string())?;
        let family = socket_family(fd)?;
        let report = match family {
            libc::AF_UNIX => ex.executor().serve_unix_stream(UnixStream::from(owned)),
            libc::AF_INET | libc::AF_INET6 => ex.executor().serve_tcp_stream(TcpStream::from(owned)),
            f => return Err(format!("descriptor {fd} is a socket of family {f}, not a Unix or TCP socket")),
        };
        status(report.map_err(|e| format!("cannot serve socket {fd}: {e}"))?)
    })
}

/// Listens on `host_port` and serves on a background thread (`orcx_executor_listen`).
///
/// # Safety
/// `ex` is null or from `orcx_executor_new` and not freed; `host_port` is null or a
/// NUL-terminated string; `bound_port` is null or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn orcx_executor_listen(
    ex: *const OrcxExecutor,
    host_port: *const c_char,
    bound_port: *mut u16,
) -> *mut OrcxListener {
    boundary(std::ptr::null_mut(), || {
        // SAFETY: as the caller guarantees.
        let ex = unsafe { executor(ex) }?;
        // SAFETY: as the caller guarantees.
        let spec = unsafe { text(host_port, "the address") }?;
        let listener = TcpListener::bind(spec).map_err(|e| format!("cannot listen on {spec}: {e}"))?;
        let handle =
            ex.executor().spawn_listener(listener).map_err(|e| format!("cannot serve on {spec}: {e}"))?;
        if !bound_port.is_null() {
            // SAFETY: as the caller guarantees.
            unsafe { bound_port.write(handle.local_addr().port()) };
        }
        Ok(Box::into_raw(Box::new(OrcxListener(handle))))
    })
}

/// Stops a listener and frees it (`orcx_listener_shutdown`).
///
/// # Safety
/// `l` is null or from `orcx_executor_listen` and not shut down yet.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn orcx_listener_shutdown(l: *mut OrcxListener) -> c_int {
    boundary(-1, || {
        if l.is_null() {
            return Err("the listener is NULL".into());
        }
        // SAFETY: from orcx_executor_listen's Box, given back once, as the caller guarantees.
        let OrcxListener(handle) = *unsafe { Box::from_raw(l) };
        handle.shutdown().map_err(|e| format!("the listener had stopped: {e}"))?;
        Ok(0)
    })
}

/// Frees an executor (`orcx_executor_free`).
///
/// # Safety
/// `ex` is null or from `orcx_executor_new`, not freed yet, and no other thread uses it.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn orcx_executor_free(ex: *mut OrcxExecutor) {
    boundary((), || {
        if !ex.is_null() {
            // SAFETY: from orcx_executor_new's Box, given back once, as the caller guarantees.
            let ex = unsafe { Box::from_raw(ex) };
            log::release(ex.id);
        }
        Ok(())
    })
}

/// This thread's last error message, or NULL (`orcx_last_error`).
#[unsafe(no_mangle)]
pub extern "C" fn orcx_last_error() -> *const c_char {
    error::last_error()
}

/// The library's version, e.g. `"0.1.0"` (`orcx_version`).
#[unsafe(no_mangle)]
pub extern "C" fn orcx_version() -> *const c_char {
    const VERSION: &CStr =
        match CStr::from_bytes_with_nul(concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes()) {
            Ok(v) => v,
            Err(_) => panic!("the package version contains a NUL byte"),
        };
    VERSION.as_ptr()
}
