//! Declarations of the C ABI in `cxx/shim.h` (keep the two in sync), and [`Sink`], the
//! Rust-owned byte buffer the shim writes its output into.

use std::ffi::{c_char, c_int, c_void};
use std::marker::PhantomData;

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

unsafe extern "C" {
    pub(crate) fn ojit_compile(
        argv: *const *const c_char,
        argc: usize,
        buffer_name: *const c_char,
        buffer: *const c_char,
        buffer_len: usize,
        object: *mut Sink<'_>,
        diagnostics: *mut Sink<'_>,
        num_errors: *mut usize,
    ) -> Status;

    pub(crate) fn ojit_interp_create(
        triple: *const c_char,
        argv: *const *const c_char,
        argc: usize,
        out: *mut *mut OjitInterp,
        error: *mut Sink<'_>,
    ) -> Status;

    pub(crate) fn ojit_interp_dispose(interp: *mut OjitInterp);

    pub(crate) fn ojit_interp_next_startup(
        interp: *mut OjitInterp,
        id: *mut u64,
        object: *mut Sink<'_>,
    ) -> c_int;

    pub(crate) fn ojit_interp_parse(
        interp: *mut OjitInterp,
        code: *const c_char,
        len: usize,
        allow_defer: c_int,
        attach: c_int,
        id: *mut u64,
        deferred: *mut c_int,
        object: *mut Sink<'_>,
        defines: *mut Sink<'_>,
        retyped: *mut Sink<'_>,
        captures: *mut Sink<'_>,
        value_range: *mut u64,
        diagnostics: *mut Sink<'_>,
        num_errors: *mut usize,
    ) -> Status;

    pub(crate) fn ojit_interp_emit(
        interp: *mut OjitInterp,
        id: u64,
        object: *mut Sink<'_>,
        error: *mut Sink<'_>,
    ) -> Status;

    pub(crate) fn ojit_interp_undo(
        interp: *mut OjitInterp,
        n: u32,
        ids: *mut Sink<'_>,
        error: *mut Sink<'_>,
    ) -> Status;

    pub(crate) fn ojit_interp_complete(
        interp: *mut OjitInterp,
        code: *const c_char,
        len: usize,
        pos: usize,
        prefix: *mut Sink<'_>,
        results: *mut Sink<'_>,
        error: *mut Sink<'_>,
    ) -> Status;

    pub(crate) fn ojit_structor_instantiation(symbol: *const c_char, code: *mut Sink<'_>) -> Status;

    pub(crate) fn ojit_interp_value_class(
        interp: *mut OjitInterp,
        ty: u64,
        header: *mut Sink<'_>,
        std_template: *mut Sink<'_>,
        canonical: *mut Sink<'_>,
    ) -> Status;

    pub(crate) fn ojit_interp_render(
        interp: *mut OjitInterp,
        ty: u64,
        kind: u32,
        data: *const u8,
        len: usize,
        out: *mut Sink<'_>,
    ) -> Status;
}
