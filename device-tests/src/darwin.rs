//! Darwin (Mach-O) C library names resolved to this Linux process, for the `darwin-sim-executor`
//! test binary: a stand-in for an iOS-simulator app that embeds the executor, so that Mach-O
//! code built for the simulator runs here (see README). Test-only: the mapping covers what
//! C code compiled by clang for the iOS simulator calls, not all of libSystem.
//!
//! Darwin's C symbols carry a leading `_` that Linux's do not. [`darwin_to_linux`] strips it,
//! maps the few names whose Darwin symbol differs from glibc's (a table below), provides the
//! Darwin-only routines in Rust or assembly, and otherwise returns what `dlsym` finds for the
//! stripped name.

use std::ffi::{CStr, CString, c_char, c_int, c_void};

use orc_rpc::ExecutorAddr;

/// The address the Darwin symbol `name` (Mach-O spelling, with its leading `_`) has in this
/// process, or `None` if there is none. A name without the leading `_` is never found (every
/// Darwin C symbol carries one).
pub fn darwin_to_linux(name: &[u8]) -> Option<ExecutorAddr> {
    let c_name = name.strip_prefix(b"_")?;
    let own = |p: *const ()| Some(ExecutorAddr::from_ptr(p));
    match c_name {
        // int *__error(void) returns the thread's errno, as glibc's __errno_location.
        b"__error" => dlsym(b"__errno_location"),
        // `FILE *__stdoutp` is a variable holding the stream, as glibc's `FILE *stdout`: the
        // address of one is the address of the other.
        b"__stdoutp" => dlsym(b"stdout"),
        b"__stderrp" => dlsym(b"stderr"),
        b"__stdinp" => dlsym(b"stdin"),
        b"__stack_chk_guard" => stack_chk_guard(),
        b"__bzero" => dlsym(b"bzero"),
        b"memset_pattern4" => own(memset_pattern::<4> as *const ()),
        b"memset_pattern8" => own(memset_pattern::<8> as *const ()),
        b"memset_pattern16" => own(memset_pattern::<16> as *const ()),
        b"__sincos_stret" => own(sincos_stret as *const ()),
        b"__sincosf_stret" => own(sincosf_stret as *const ()),
        b"__chkstk_darwin" => own(orcbridge_darwin_chkstk as *const ()),
        b"__assert_rtn" => own(assert_rtn as *const ()),
        b"_tlv_atexit" => own(tlv_atexit as *const ()),
        _ => dlsym(c_name),
    }
}

/// `dlsym(RTLD_DEFAULT, name)`.
fn dlsym(name: &[u8]) -> Option<ExecutorAddr> {
    let c = CString::new(name).ok()?;
    // SAFETY: RTLD_DEFAULT is a valid pseudo-handle and `c` a C string.
    let p = unsafe { libc::dlsym(libc::RTLD_DEFAULT, c.as_ptr()) };
    (!p.is_null()).then(|| ExecutorAddr::from_ptr(p))
}

/// Our stack-protector canary where glibc has none to share. Code compiled with
/// `-fstack-protector` only reads it (Darwin's is the first word of an array).
static STACK_CHK_GUARD: u64 = 0x5d2c_9be1_7a43_f600;

/// `__stack_chk_guard`: glibc on x86-64 keeps its canary in the thread block (`%fs:0x28`) and
/// exports no such symbol; glibc on aarch64 exports one.
fn stack_chk_guard() -> Option<ExecutorAddr> {
    let ours = Some(ExecutorAddr::from_ptr(&STACK_CHK_GUARD));
    if cfg!(target_arch = "aarch64") { dlsym(b"__stack_chk_guard").or(ours) } else { ours }
}

/// Darwin's `memset_pattern4/8/16(void *b, const void *pattern, size_t len)`: fills `len`
/// bytes at `b` with the `N`-byte pattern repeated, the last repetition cut short.
///
/// # Safety
/// `b` is valid for writing `len` bytes; `pattern` for reading `N`.
unsafe extern "C" fn memset_pattern<const N: usize>(b: *mut c_void, pattern: *const c_void, len: usize) {
    if len == 0 {
        return;
    }
    // SAFETY: per this function's contract.
    let (dst, pat) = unsafe {
        (
            std::slice::from_raw_parts_mut(b.cast::<u8>(), len),
            std::slice::from_raw_parts(pattern.cast::<u8>(), N),
        )
    };
    for chunk in dst.chunks_mut(N) {
        chunk.copy_from_slice(&pat[..chunk.len()]);
    }
}

/// What Darwin's `__sincos_stret` returns (in xmm0/xmm1 on x86-64, d0/d1 on arm64: the C
/// ABI of this struct on Linux too).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SinCos {
    /// The sine.
    pub sin: f64,
    /// The cosine.
    pub cos: f64,
}

/// The `float` version (`__sincosf_stret`).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SinCosF {
    /// The sine.
    pub sin: f32,
    /// The cosine.
    pub cos: f32,
}

/// Darwin's `__sincos_stret(double)`, which clang calls for `sin(x)` and `cos(x)` together.
extern "C" fn sincos_stret(x: f64) -> SinCos {
    let (sin, cos) = x.sin_cos();
    SinCos { sin, cos }
}

/// Darwin's `__sincosf_stret(float)`.
extern "C" fn sincosf_stret(x: f32) -> SinCosF {
    let (sin, cos) = x.sin_cos();
    SinCosF { sin, cos }
}

/// Darwin's `__assert_rtn(func, file, line, expr)`, which `assert` calls: prints what Darwin's
/// libc prints and aborts.
///
/// # Safety
/// `file` and `expr` are C strings; `func` is one or null.
unsafe extern "C" fn assert_rtn(func: *const c_char, file: *const c_char, line: c_int, expr: *const c_char) {
    let text = |p: *const c_char| {
        // SAFETY: per this function's contract, non-null pointers are C strings.
        (!p.is_null()).then(|| unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned())
    };
    let (expr, file) = (text(expr).unwrap_or_default(), text(file).unwrap_or_default());
    match text(func) {
        Some(func) => eprintln!("Assertion failed: ({expr}), function {func}, file {file}, line {line}."),
        None => eprintln!("Assertion failed: ({expr}), file {file}, line {line}."),
    }
    // SAFETY: abort ends the process (or, in JIT'd code, the executor's guard fails the call).
    unsafe { libc::abort() };
}

unsafe extern "C" {
    /// glibc's registration of a destructor for the calling thread's copy of a thread-local
    /// (what `__cxa_thread_atexit` calls), GLIBC_2.18.
    fn __cxa_thread_atexit_impl(
        dtor: unsafe extern "C" fn(*mut c_void),
        obj: *mut c_void,
        dso: *mut c_void,
    ) -> c_int;
}

/// Darwin's `_tlv_atexit(dtor, obj)`, which C++ code calls to destroy a `thread_local` object
/// when its thread exits: glibc's equivalent, on behalf of this executable (JIT'd code is not a
/// library glibc could keep loaded).
///
/// # Safety
/// As `__cxa_thread_atexit_impl`: `dtor` may be called with `obj` when the thread exits.
unsafe extern "C" fn tlv_atexit(dtor: unsafe extern "C" fn(*mut c_void), obj: *mut c_void) {
    // Any address in this executable names it as the DSO (glibc keeps it loaded while the
    // destructor is pending); a null one would leave glibc without a link map.
    static DSO: u8 = 0;
    // SAFETY: per this function's contract.
    unsafe { __cxa_thread_atexit_impl(dtor, obj, (&raw const DSO).cast_mut().cast()) };
}

// Darwin's `__chkstk_darwin` probes each page of a large stack frame before the caller moves
// the stack pointer (size in %rax on x86-64, x15 on arm64) and preserves every register. On
// Linux the kernel grows the main thread's stack on access and thread stacks are mapped whole,
// so skipping the probes is acceptable for tests: this one only returns (touching no register).
#[cfg(target_arch = "x86_64")]
core::arch::global_asm!(
    ".text",
    ".p2align 4",
    ".globl orcbridge_darwin_chkstk",
    ".hidden orcbridge_darwin_chkstk",
    ".type orcbridge_darwin_chkstk, @function",
    "orcbridge_darwin_chkstk:",
    "ret",
    ".size orcbridge_darwin_chkstk, . - orcbridge_darwin_chkstk",
);
#[cfg(target_arch = "aarch64")]
core::arch::global_asm!(
    ".text",
    ".p2align 2",
    ".globl orcbridge_darwin_chkstk",
    ".hidden orcbridge_darwin_chkstk",
    ".type orcbridge_darwin_chkstk, %function",
    "orcbridge_darwin_chkstk:",
    "hint #34", // bti c: a valid branch target where BTI is enforced, a no-op elsewhere
    "ret",
    ".size orcbridge_darwin_chkstk, . - orcbridge_darwin_chkstk",
);

unsafe extern "C" {
    /// The assembly routine above; never called from Rust.
    fn orcbridge_darwin_chkstk();
}

#[cfg(test)]
mod tests {
    use super::*;

    unsafe extern "C" {
        static stdout: *mut libc::FILE;
        fn bzero(s: *mut c_void, n: usize);
        fn __stack_chk_fail() -> !;
    }

    fn resolve(name: &str) -> usize {
        darwin_to_linux(name.as_bytes()).unwrap_or_else(|| panic!("{name} not found")).0 as usize
    }

    #[test]
    fn c_library_names() {
        assert_eq!(resolve("_puts"), libc::puts as *const () as usize);
        assert_eq!(darwin_to_linux(b"puts"), None, "Darwin C symbols carry a leading _");
        assert_eq!(darwin_to_linux(b"_no_such_symbol_xyz"), None);
        assert_eq!(darwin_to_linux(b""), None);
        assert_eq!(resolve("___stdoutp"), &raw const stdout as usize);
        // SAFETY: the address is that of glibc's `FILE *stdout`, per the assertion above.
        assert_eq!(unsafe { *(resolve("___stdoutp") as *const *mut libc::FILE) }, unsafe { stdout });
        assert_ne!(resolve("___stderrp"), resolve("___stdoutp"));
        assert_ne!(resolve("___stdinp"), resolve("___stdoutp"));
        // SAFETY: __errno_location takes nothing and returns this thread's errno.
        let error: extern "C" fn() -> *mut c_int = unsafe { std::mem::transmute(resolve("___error")) };
        // SAFETY: as above.
        assert_eq!(error(), unsafe { libc::__errno_location() });
        assert_ne!(resolve("___stack_chk_guard"), 0);
        assert_eq!(resolve("___bzero"), bzero as *const () as usize);
        assert_eq!(resolve("___chkstk_darwin"), orcbridge_darwin_chkstk as *const () as usize);
        // SAFETY: the routine takes nothing and only returns.
        let chkstk: extern "C" fn() = unsafe { std::mem::transmute(resolve("___chkstk_darwin")) };
        chkstk();
        assert_eq!(resolve("___assert_rtn"), assert_rtn as *const () as usize);
        assert_eq!(resolve("__tlv_atexit"), tlv_atexit as *const () as usize);
        // Names that are the same on both sides once stripped.
        assert_eq!(resolve("___stack_chk_fail"), __stack_chk_fail as *const () as usize);
        assert_eq!(resolve("__exit"), libc::_exit as *const () as usize);
    }

    #[test]
    fn memset_patterns() {
        type Fill = unsafe extern "C" fn(*mut c_void, *const c_void, usize);
        let pattern: Vec<u8> = (1..=16).collect();
        for (name, n) in [("_memset_pattern4", 4), ("_memset_pattern8", 8), ("_memset_pattern16", 16)] {
            // SAFETY: the address is memset_pattern::<n>, of this type.
            let fill: Fill = unsafe { std::mem::transmute(resolve(name)) };
            for len in [0, 1, n - 1, n, 2 * n + 5, 37] {
                let mut buf = vec![0xeeu8; len + 3];
                // SAFETY: buf holds len + 3 bytes, pattern at least n.
                unsafe { fill(buf.as_mut_ptr().cast(), pattern.as_ptr().cast(), len) };
                let want: Vec<u8> = (0..len).map(|i| pattern[i % n]).chain([0xee; 3]).collect();
                assert_eq!(buf, want, "{name}, {len} bytes");
            }
        }
    }

    #[test]
    fn sincos_stret() {
        type Stret = extern "C" fn(f64) -> SinCos;
        type StretF = extern "C" fn(f32) -> SinCosF;
        // SAFETY: the address is sincos_stret, of this type.
        let f = unsafe { std::mem::transmute::<usize, Stret>(resolve("___sincos_stret")) };
        // SAFETY: the address is sincosf_stret, of this type.
        let ff = unsafe { std::mem::transmute::<usize, StretF>(resolve("___sincosf_stret")) };
        assert_eq!(f(0.0), SinCos { sin: 0.0, cos: 1.0 });
        let r = f(0.5);
        assert!(
            (r.sin - 0.479_425_538_604_203).abs() < 1e-15 && (r.cos - 0.877_582_561_890_372_8).abs() < 1e-15
        );
        let r = ff(0.5);
        assert!((r.sin - 0.479_425_55).abs() < 1e-6 && (r.cos - 0.877_582_56).abs() < 1e-6);
        let r = f(std::f64::consts::FRAC_PI_2);
        assert!((r.sin - 1.0).abs() < 1e-15 && r.cos.abs() < 1e-15);
    }
}
