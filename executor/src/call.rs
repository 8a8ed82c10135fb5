//! Calls into code in this process: the wrapper-function ABI and the run-as-main/void/int
//! shapes. This is the only module that jumps to addresses received from the controller, and
//! every such jump runs under [`guard::guarded`] (unless the application turned the guard off,
//! [`crate::ExecutorBuilder::crash_guard`]), so a crash in the callee is an error for the call
//! ("crashed: SIGSEGV (...)") rather than the end of the process.
//!
//! The ABI is LLVM's `CWrapperFunctionBuffer` (`llvm/include/llvm/ExecutionEngine/Orc/Shared/
//! WrapperFunctionUtils.h`, mirrored in `compiler-rt/lib/orc/wrapper_function_utils.h`):
//! a wrapper function is `CWrapperFunctionBuffer fn(const char *ArgData, size_t ArgSize)` and
//! returns 16 bytes by value — a union of a `char *` and `char[8]`, then a `size_t` size.
//! Results of up to 8 bytes sit inline; larger ones are `malloc`ed and freed by the receiver
//! with `free`; `Size == 0` with a non-null pointer is an out-of-band error whose pointer is a
//! `malloc`ed NUL-terminated message.

use std::ffi::{CStr, CString, c_char, c_int};
use std::ptr;

use orc_rpc::ExecutorAddr;

use crate::guard;

/// Runs `f` (a jump into received code) under the crash guard if `guard`, else plainly.
///
/// # Safety
/// As [`guard::guarded`].
unsafe fn jump<F: FnOnce() -> R + Copy, R: Copy>(guard: bool, f: F) -> Result<R, String> {
    if !guard {
        return Ok(f());
    }
    // SAFETY: as the caller guarantees.
    unsafe { guard::guarded(f) }.map_err(|crash| format!("crashed: {crash}"))
}

/// What a wrapper function produced: result bytes, or an out-of-band error message (which an
/// LLVM peer transmits as an empty Result payload).
pub type WrapperResult = Result<Vec<u8>, String>;

/// The data half of [`CWrapperFunctionBuffer`].
#[repr(C)]
#[derive(Clone, Copy)]
#[allow(missing_debug_implementations)]
pub union CWrapperFunctionBufferData {
    /// Out-of-line bytes (size > 8) or the error message (size == 0).
    pub value_ptr: *mut c_char,
    /// Inline bytes (size <= 8).
    pub value: [u8; 8],
}

/// LLVM's `CWrapperFunctionBuffer`, returned by value from every wrapper function.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct CWrapperFunctionBuffer {
    /// Inline bytes or a `malloc`ed pointer.
    pub data: CWrapperFunctionBufferData,
    /// Size of the result in bytes.
    pub size: usize,
}

impl std::fmt::Debug for CWrapperFunctionBuffer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CWrapperFunctionBuffer").field("size", &self.size).finish_non_exhaustive()
    }
}

/// `CWrapperFunctionBuffer fn(const char *ArgData, size_t ArgSize)`. `C-unwind`: a C++
/// exception JIT'd code lets escape unwinds to the crash guard ([`crate::guard`]).
pub(crate) type WrapperFn = unsafe extern "C-unwind" fn(*const c_char, usize) -> CWrapperFunctionBuffer;

impl CWrapperFunctionBuffer {
    /// The empty result (`Size == 0`, null pointer).
    pub const EMPTY: CWrapperFunctionBuffer =
        CWrapperFunctionBuffer { data: CWrapperFunctionBufferData { value_ptr: ptr::null_mut() }, size: 0 };

    /// Moves `result` into a buffer a C caller owns (allocated with `malloc` where needed).
    /// An allocation failure becomes the empty buffer.
    pub fn from_result(result: WrapperResult) -> CWrapperFunctionBuffer {
        match result {
            Ok(bytes) if bytes.len() <= 8 => {
                let mut value = [0u8; 8];
                value[..bytes.len()].copy_from_slice(&bytes);
                CWrapperFunctionBuffer { data: CWrapperFunctionBufferData { value }, size: bytes.len() }
            }
            Ok(bytes) => {
                // SAFETY: malloc with a non-zero size; the pointer is checked before use.
                let p = unsafe { libc::malloc(bytes.len()) }.cast::<c_char>();
                if p.is_null() {
                    return Self::EMPTY;
                }
                // SAFETY: `p` has room for `bytes.len()` bytes and cannot overlap `bytes`.
                unsafe { ptr::copy_nonoverlapping(bytes.as_ptr().cast::<c_char>(), p, bytes.len()) };
                CWrapperFunctionBuffer {
                    data: CWrapperFunctionBufferData { value_ptr: p },
                    size: bytes.len(),
                }
            }
            Err(msg) => {
                let msg = CString::new(msg.replace('\0', " ")).unwrap_or_default();
                // SAFETY: strdup copies a valid NUL-terminated string into malloc'ed memory.
                let p = unsafe { libc::strdup(msg.as_ptr()) };
                CWrapperFunctionBuffer { data: CWrapperFunctionBufferData { value_ptr: p }, size: 0 }
            }
        }
    }

    /// Takes the bytes or error out of a buffer returned by C code and frees it.
    ///
    /// # Safety
    /// `self` must follow the ABI above: for `size > 8` or an error, the pointer must come from
    /// `malloc` and not be used again by anyone else.
    pub unsafe fn into_result(self) -> WrapperResult {
        if self.size == 0 {
            // SAFETY: reading the pointer member of a union initialised either way is fine:
            // both members are plain bytes.
            let p = unsafe { self.data.value_ptr };
            if p.is_null() {
                return Ok(Vec::new());
            }
            // SAFETY: the ABI says a non-null pointer with size 0 is a malloc'ed C string.
            let msg = unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned();
            // SAFETY: allocated with malloc by the callee, owned by us now.
            unsafe { libc::free(p.cast()) };
            return Err(msg);
        }
        if self.size <= 8 {
            // SAFETY: inline data; the union's byte array is always initialised.
            let value = unsafe { self.data.value };
            return Ok(value[..self.size].to_vec());
        }
        // SAFETY: per the ABI, `value_ptr` points to `size` malloc'ed bytes that we now own.
        let (p, bytes) = unsafe {
            let p = self.data.value_ptr;
            (p, std::slice::from_raw_parts(p.cast::<u8>(), self.size).to_vec())
        };
        // SAFETY: as above; freed exactly once.
        unsafe { libc::free(p.cast()) };
        Ok(bytes)
    }
}

/// Calls the wrapper function at `addr` with `args` and takes its result; with `guard`, a crash
/// in it is an out-of-band error.
///
/// # Safety
/// `addr` must be a function with the wrapper-function ABI, callable from this thread.
pub(crate) unsafe fn call_wrapper(addr: ExecutorAddr, args: &[u8], guard: bool) -> WrapperResult {
    // SAFETY: the caller guarantees `addr` is a wrapper function.
    let f: WrapperFn = unsafe { std::mem::transmute::<usize, WrapperFn>(addr.0 as usize) };
    let (data, len) = (args.as_ptr(), args.len());
    // SAFETY: `args` is valid for `len` bytes for the duration of the call; the closure owns
    // nothing (a crash abandons its frame).
    let buf = unsafe { jump(guard, || f(data.cast(), len)) }?;
    // SAFETY: the callee follows the ABI.
    unsafe { buf.into_result() }
}

/// Calls `int main(int argc, char **argv)` at `addr` with `args` as argv (NULL-terminated, no
/// program name added, as LLVM's `runAsMain` without a program name).
///
/// # Errors
/// An argument containing a NUL byte cannot be passed to C; `main` crashed (with `guard`).
///
/// # Safety
/// `addr` must be a function of that type.
pub(crate) unsafe fn run_as_main(addr: ExecutorAddr, args: &[String], guard: bool) -> Result<i64, String> {
    let owned: Vec<CString> = args
        .iter()
        .map(|a| CString::new(a.as_bytes()).map_err(|_| format!("argument {a:?} contains a NUL byte")))
        .collect::<Result<_, _>>()?;
    let mut argv: Vec<*mut c_char> = owned.iter().map(|a| a.as_ptr().cast_mut()).collect();
    argv.push(ptr::null_mut());
    type MainFn = unsafe extern "C-unwind" fn(c_int, *mut *mut c_char) -> c_int;
    // SAFETY: the caller guarantees the type.
    let f: MainFn = unsafe { std::mem::transmute::<usize, MainFn>(addr.0 as usize) };
    let (argc, argv) = (owned.len() as c_int, argv.as_mut_ptr());
    // SAFETY: argv holds `argc` valid C strings and a NULL, alive across the call.
    let rc = unsafe { jump(guard, || f(argc, argv)) }?;
    Ok(i64::from(rc))
}

/// Calls `int32_t fn(void)` at `addr` (LLVM's `runAsVoidFunction`, which despite its name
/// returns an int).
///
/// # Errors
/// The function crashed (with `guard`).
///
/// # Safety
/// `addr` must be a function of that type.
pub(crate) unsafe fn run_as_void_function(addr: ExecutorAddr, guard: bool) -> Result<i32, String> {
    type VoidFn = unsafe extern "C-unwind" fn() -> c_int;
    // SAFETY: the caller guarantees the type.
    let f: VoidFn = unsafe { std::mem::transmute::<usize, VoidFn>(addr.0 as usize) };
    // SAFETY: as above; the closure owns nothing.
    unsafe { jump(guard, || f()) }
}

/// Calls `int32_t fn(int32_t)` at `addr`.
///
/// # Errors
/// The function crashed (with `guard`).
///
/// # Safety
/// `addr` must be a function of that type.
pub(crate) unsafe fn run_as_int_function(addr: ExecutorAddr, arg: i32, guard: bool) -> Result<i32, String> {
    type IntFn = unsafe extern "C-unwind" fn(c_int) -> c_int;
    // SAFETY: the caller guarantees the type.
    let f: IntFn = unsafe { std::mem::transmute::<usize, IntFn>(addr.0 as usize) };
    // SAFETY: as above; the closure owns nothing.
    unsafe { jump(guard, || f(arg)) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_round_trip_inline_heap_and_error() {
        for case in [Ok(vec![]), Ok(vec![1, 2, 3]), Ok(vec![7; 8]), Ok(vec![9; 100]), Err("boom".to_string())]
        {
            let buf = CWrapperFunctionBuffer::from_result(case.clone());
            // SAFETY: produced by from_result just above.
            assert_eq!(unsafe { buf.into_result() }, case);
        }
    }

    extern "C" fn echo(data: *const c_char, size: usize) -> CWrapperFunctionBuffer {
        // SAFETY: the caller passes a valid buffer.
        let args = unsafe { std::slice::from_raw_parts(data.cast::<u8>(), size) };
        CWrapperFunctionBuffer::from_result(Ok(args.iter().rev().copied().collect()))
    }

    #[test]
    fn call_wrapper_uses_the_c_abi() {
        let addr = ExecutorAddr(echo as *const () as usize as u64);
        let args: Vec<u8> = (0..40).collect();
        // SAFETY: `echo` is a wrapper function.
        let out = unsafe { call_wrapper(addr, &args, true) }.unwrap();
        assert_eq!(out, args.iter().rev().copied().collect::<Vec<_>>());
    }
}
