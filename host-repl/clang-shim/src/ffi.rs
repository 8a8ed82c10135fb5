//! The C ABI of `cxx/shim.h` (keep the two in sync): [`shim`] loads the shim library on first
//! use and resolves its entry points; [`Sink`] is the Rust-owned byte buffer the shim writes
//! its output into.
//!
//! # Why the shim is loaded, not linked
//! `libclang-cpp` and `libLLVM` take most of a program's start-up (their relocation and
//! initialisers: `repl-jit --version` took 16.6 ms here while it linked them, 2.6 ms since),
//! and a program that only links objects never needs them. So the build script links the shim into a shared
//! library that needs them, and this crate embeds its bytes: the first compile writes them to
//! an anonymous file (`memfd_create`; a deleted temporary file where that fails) and
//! `dlopen`s it, which maps clang and LLVM then. Embedding keeps a built or installed program
//! self-contained, and the library can never come from another build than its declarations
//! here.

use std::ffi::{c_char, c_int, c_void};
use std::io::Write as _;
use std::marker::PhantomData;
use std::sync::OnceLock;

use libloading::os::unix::{Library, RTLD_LAZY, RTLD_LOCAL};

/// `liborcbridge_clang.so`, as the build script linked it.
static LIBRARY: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/liborcbridge_clang.so"));

/// The shim, loaded on the first call (and only then, mapping libclang-cpp and libLLVM).
///
/// # Errors
/// The library could not be written or loaded (e.g. LLVM 22's libraries are missing), with
/// the loader's message; every later call returns the same error.
pub(crate) fn shim() -> Result<&'static Shim, String> {
    static SHIM: OnceLock<Result<Shim, String>> = OnceLock::new();
    SHIM.get_or_init(|| load().map_err(|e| format!("cannot load the compiler (clang and LLVM 22): {e}")))
        .as_ref()
        .map_err(Clone::clone)
}

fn load() -> Result<Shim, String> {
    let library = match from_memfd() {
        Ok(library) => library,
        // No memfd, no /proc, or memfds that may not be executed: a file then. When both
        // fail alike (a missing libclang-cpp), the reason is said once.
        Err(memfd) => match from_temp_file() {
            Ok(library) => library,
            Err(file) if file == memfd => return Err(memfd),
            Err(file) => return Err(format!("{memfd}; from a temporary file: {file}")),
        },
    };
    // SAFETY: the library is the one built from `cxx/shim.h`, whose prototypes
    // `entry_points!` below repeats.
    unsafe { Shim::resolve(library) }.map_err(|e| describe(&e))
}

/// The library from an anonymous file (`memfd_create`, `/proc/self/fd/N`).
fn from_memfd() -> Result<Library, String> {
    let fd = rustix::fs::memfd_create("liborcbridge_clang.so", rustix::fs::MemfdFlags::CLOEXEC)
        .map_err(|e| format!("memfd_create: {e}"))?;
    let mut file = std::fs::File::from(fd);
    file.write_all(LIBRARY).map_err(|e| format!("writing the shim library: {e}"))?;
    // SAFETY: the library is the shim this crate was built with; its initialisers (LLVM's
    // and clang's static constructors) have no preconditions. `file` closes after the
    // call; the mapping keeps the memory.
    unsafe { open(&format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&file))) }
}

/// The library from a temporary file, removed once it is mapped.
fn from_temp_file() -> Result<Library, String> {
    let mut file = tempfile::Builder::new()
        .prefix("liborcbridge_clang")
        .suffix(".so")
        .tempfile()
        .map_err(|e| format!("creating a file for the shim library: {e}"))?;
    file.write_all(LIBRARY).map_err(|e| format!("writing the shim library: {e}"))?;
    // SAFETY: as in `from_memfd`. The file is removed when `file` drops, after the mapping.
    unsafe { open(&file.path().display().to_string()) }
}

/// A loader error with its cause: libloading says only "dlopen failed"; `dlerror`'s text
/// (which library is missing, say) is the error's source.
fn describe(e: &libloading::Error) -> String {
    match std::error::Error::source(e) {
        Some(cause) => format!("{e}: {cause}"),
        None => e.to_string(),
    }
}

/// `dlopen(path, RTLD_LAZY | RTLD_LOCAL)`: none of its symbols visible to other libraries;
/// functions bound on first call, as the dynamic loader binds a program's libraries
/// (`RTLD_NOW` would bind all of `libclang-cpp`'s now, about 2 ms more; the build links the
/// shim with `--no-undefined`, so nothing it calls can be missing from LLVM 22's libraries).
///
/// # Safety
/// As [`Library::open`]: the library's initialisers run.
unsafe fn open(path: &str) -> Result<Library, String> {
    // SAFETY: the caller's.
    unsafe { Library::open(Some(path), RTLD_LAZY | RTLD_LOCAL) }.map_err(|e| describe(&e))
}

/// `ojit_status`.
pub(crate) type Status = u32;
/// `OJIT_OK`.
pub(crate) const OJIT_OK: Status = 0;
// OJIT_FAILURE (1) and OJIT_COMPILE_ERROR (2) both come with text in the named sink; the
// Rust API reports them alike.

/// Size of one capture record appended by `ojit_interp_parse` (`OJIT_CAPTURE_RECORD_SIZE`):
/// u64 type handle, u32 kind, u32 zero, u64 size; little-endian.
pub(crate) const CAPTURE_RECORD_SIZE: usize = 24;

/// Opaque `ojit_interp_t`.
#[repr(C)]
pub(crate) struct OjitInterp {
    _private: [u8; 0],
}

/// `ojit_sink`: a borrowed `Vec<u8>` the shim appends to through `write`.
#[repr(C)]
pub(crate) struct Sink<'a> {
    ctx: *mut c_void,
    write: unsafe extern "C" fn(*mut c_void, *const c_char, usize),
    _buf: PhantomData<&'a mut Vec<u8>>,
}

impl<'a> Sink<'a> {
    /// A sink appending to `buf` for as long as the borrow lasts.
    pub(crate) fn new(buf: &'a mut Vec<u8>) -> Self {
        Sink { ctx: (buf as *mut Vec<u8>).cast(), write: sink_write, _buf: PhantomData }
    }
}

/// `ojit_sink::write`. Called by the shim only with `ctx` from [`Sink::new`].
unsafe extern "C" fn sink_write(ctx: *mut c_void, data: *const c_char, len: usize) {
    if ctx.is_null() || data.is_null() || len == 0 {
        return;
    }
    // SAFETY: `ctx` is the `&mut Vec<u8>` of a live `Sink` (the shim only writes during the
    // call the sink was passed to, while the borrow is held), and the shim passes `len`
    // readable bytes at `data`.
    let (buf, bytes) =
        unsafe { (&mut *ctx.cast::<Vec<u8>>(), std::slice::from_raw_parts(data.cast::<u8>(), len)) };
    // A panic must not unwind into C++ (capacity overflow is the only possible one).
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| buf.extend_from_slice(bytes)));
}

/// Declares [`Shim`], one field per entry point of `cxx/shim.h` (the same name and C signature),
/// and its loader, so each signature is written once.
macro_rules! entry_points {
    ($($name:ident: fn($($arg:ident: $ty:ty),* $(,)?) -> $ret:ty;)*) => {
        /// The shim's entry points, resolved in the loaded library (which stays loaded: a
        /// `Shim` lives in a `static`).
        pub(crate) struct Shim {
            $(pub(crate) $name: unsafe extern "C" fn($($arg: $ty),*) -> $ret,)*
            _library: Library,
        }

        impl Shim {
            /// Resolves every entry point in `library`.
            ///
            /// # Safety
            /// `library` must be the shim built with this crate's `cxx/shim.h`.
            unsafe fn resolve(library: Library) -> Result<Shim, libloading::Error> {
                // SAFETY: the caller vouches that each symbol has the declared signature.
                unsafe {
                    Ok(Shim {
                        $($name: *library.get::<unsafe extern "C" fn($($ty),*) -> $ret>(stringify!($name))?,)*
                        _library: library,
                    })
                }
            }
        }
    };
}

entry_points! {
    ojit_compile: fn(argv: *const *const c_char, argc: usize, buffer_name: *const c_char, buffer: *const c_char, buffer_len: usize, object: *mut Sink<'_>, diagnostics: *mut Sink<'_>, num_errors: *mut usize) -> Status;
    ojit_interp_create: fn(triple: *const c_char, argv: *const *const c_char, argc: usize, out: *mut *mut OjitInterp, error: *mut Sink<'_>) -> Status;
    ojit_interp_dispose: fn(interp: *mut OjitInterp) -> ();
    ojit_interp_next_startup: fn(interp: *mut OjitInterp, id: *mut u64, object: *mut Sink<'_>) -> c_int;
    ojit_interp_parse: fn(interp: *mut OjitInterp, code: *const c_char, len: usize, allow_defer: c_int, attach: c_int, id: *mut u64, deferred: *mut c_int, object: *mut Sink<'_>, defines: *mut Sink<'_>, retyped: *mut Sink<'_>, captures: *mut Sink<'_>, value_range: *mut u64, diagnostics: *mut Sink<'_>, num_errors: *mut usize) -> Status;
    ojit_interp_emit: fn(interp: *mut OjitInterp, id: u64, object: *mut Sink<'_>, error: *mut Sink<'_>) -> Status;
    ojit_interp_undo: fn(interp: *mut OjitInterp, n: u32, ids: *mut Sink<'_>, error: *mut Sink<'_>) -> Status;
    ojit_interp_complete: fn(interp: *mut OjitInterp, code: *const c_char, len: usize, pos: usize, prefix: *mut Sink<'_>, results: *mut Sink<'_>, error: *mut Sink<'_>) -> Status;
    ojit_structor_instantiation: fn(symbol: *const c_char, code: *mut Sink<'_>) -> Status;
    ojit_interp_value_class: fn(interp: *mut OjitInterp, ty: u64, header: *mut Sink<'_>, std_template: *mut Sink<'_>, canonical: *mut Sink<'_>) -> Status;
    ojit_interp_render: fn(interp: *mut OjitInterp, ty: u64, kind: u32, data: *const u8, len: usize, out: *mut Sink<'_>) -> Status;
}
