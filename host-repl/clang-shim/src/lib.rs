//! orcbridge's in-process C/C++ front end: clang 22 used as a *compiler* only. It produces
//! relocatable objects for the executor's target; linking and running them is the host's and
//! the executor's job. In ORC terms this is the layer above the JIT linker (what
//! `clang::Interpreter` hands to its `IncrementalExecutor`), with no execution session of its
//! own.
//!
//! Entry points:
//! * [`compile_file`] / [`compile_source`]: a whole translation unit to one object, as
//!   `clang -c -fPIC --target=<triple>` would (the clang driver runs in process to build the
//!   cc1 invocation; no subprocess).
//! * [`Interpreter`]: clang-repl semantics (declarations persist across inputs,
//!   [`Interpreter::undo`]), one object per input ([`Ptu`]), and value capture for inputs that
//!   are expressions without a trailing `;` ([`Interpreter::render_value`] prints what the
//!   target reported, as clang-repl would).
//!
//! # clang and LLVM are loaded on first use
//! The C++ shim is a shared library embedded in this crate and loaded by the first call that
//! needs it (`src/ffi.rs` says how), so a program that links this crate maps `libclang-cpp`
//! and `libLLVM` only once it compiles: [`CLANG_VERSION`] and [`compile_args`] do not load
//! them. A failure to load them is an error of that call.
//!
//! # Nothing runs in the host
//! [`Interpreter::new`] creates `clang::Interpreter` with the shim's own
//! `clang::IncrementalExecutor` (`Interpreter::create(CI, IEB)` with `IEB->IE` set), so clang
//! never builds an `LLJIT` or `ExecutorProcessControl`: every module goes to that executor,
//! which only takes it. The shim checks at creation that the executor clang uses is that one.
//! When clang asks the executor for a symbol address (e.g. a destructor while holding a
//! value), it gets an error, never an address: all code lives in the target.
//!
//! # What an object contains (for the host and runtime)
//! * ELF for ELF triples, Mach-O for Apple triples; PIC, the interpreter's `-O` level, TLS
//!   model and CPU features. Top-level statements and dynamic initialisers run from
//!   `.init_array` (ELF, via `_GLOBAL__sub_I_incr_module_N`, local symbols) or
//!   `__mod_init_func` (Mach-O): **after linking each object the host must run its
//!   initialisers, in priority order**. C++ static destructors are registered at run time
//!   with `__cxa_atexit(dtor, obj, &__dso_handle)`.
//! * The runtime prelude ([`Interpreter::take_startup_objects`]) defines `__ci_newtag` (C++)
//!   or `__clang_Interpreter_SetValueCopyArr` (C, a `memcpy` wrapper); link it before any
//!   input.
//! * Value capture references the `__orcbridge_value_*` hooks (see [`ValueKind`]) and, for
//!   C++ record and array values, possibly `_ZnwmPv26__clang_Interpreter_NewTag` (placement
//!   new with clang's tag: returns its pointer argument); the target runtime defines them.
//!   No object references `__clang_Interpreter_SetValue{NoAlloc,WithAlloc,CopyArr}` (except
//!   the C prelude, which defines `CopyArr`) or contains a host address other than `ty`.
//!
//! # Value capture contract
//! In every module the interpreter produces, clang's value-printing calls are rewritten
//! before the object is emitted (`This` and `OutVal`, host pointers, are dropped; `ty` is
//! clang's `OpaqueType`, a host `QualType` handle passed as a 64-bit integer even on 32-bit
//! targets, to be sent back unchanged in [`RemoteValue::ty`]):
//!
//! ```c
//! void  __orcbridge_value_int(uint64_t ty, uint64_t bits);
//! void  __orcbridge_value_double(uint64_t ty, double v);
//! void  __orcbridge_value_long_double(uint64_t ty, long double v);
//! void  __orcbridge_value_ptr(uint64_t ty, const void *p);
//! void  __orcbridge_value_cstr(uint64_t ty, const char *s);
//! void *__orcbridge_value_alloc(uint64_t ty, uint64_t size);
//! void  __orcbridge_value_bytes(uint64_t ty, const void *p, uint64_t size);
//! void  __orcbridge_value_void(uint64_t ty);
//! ```
//!
//! An input's value is the last hook called while its object's initialisers run. Which hook
//! an expression uses is decided at rewrite time from its clang type; [`ValueKind`] gives
//! the table and the bytes the runtime reports for each.

#![deny(missing_docs)]
// Nothing here may panic on user input or on what the shim returns.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing,
        clippy::unreachable
    )
)]

mod ffi;

use std::collections::HashMap;
use std::ffi::{CString, c_char};
use std::fmt;
use std::path::Path;
use std::ptr::{self, NonNull};

use ffi::Sink;

/// The LLVM/Clang version the shim was built against (`llvm-config --version`), e.g. `22.1.8`.
pub const CLANG_VERSION: &str = env!("ORCBRIDGE_CLANG_VERSION");

/// Identifies the shim library this crate embeds (a hash of its bytes, 16 hex digits): a
/// rebuilt shim may emit other objects, so object caches put it in their keys.
pub const SHIM_BUILD: &str = env!("ORCBRIDGE_CLANG_SHIM_HASH");

/// Loads clang and LLVM now, if no call has yet: a program that will compile calls this on a
/// thread of its own early (while it starts its executor, say), so its first compile does not
/// wait the ~20 ms that mapping and initialising `libclang-cpp` and `libLLVM` take. Calls made
/// meanwhile wait for the load to finish; it happens once per process.
///
/// # Errors
/// The libraries cannot be loaded (the message every compiling call then returns).
pub fn preload() -> Result<(), String> {
    ffi::shim().map(|_| ())
}

/// Source language of an input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Lang {
    /// C (`-x c`; clang's default C standard unless `Options::args` has `-std=`).
    C,
    /// C++ (`-x c++`). [`compile_file`]/[`compile_source`] add `-std=c++17` unless
    /// `Options::args` has a `-std=`; the [`Interpreter`] uses clang-repl's default.
    Cxx,
    /// LLVM IR, text or bitcode (`-x ir`), for [`compile_file`]/[`compile_source`] only: as
    /// `clang -c x.ll`, the module's triple is replaced by the target's and `-O` levels above 0
    /// run LLVM's optimisation pipeline on it before code generation. Silently: the defaults
    /// add `-Wno-override-module -Wno-unused-command-line-argument` (for `-I` and `-D`, which
    /// mean nothing to IR), unless `Options::args` says otherwise.
    Ir,
}

/// How to compile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// Target triple of the executor, e.g. `x86_64-pc-linux-gnu`, `aarch64-unknown-linux-gnu`,
    /// `arm64-apple-ios14.0`. Empty: the host's triple. Headers for foreign triples need a
    /// `--sysroot`/`-isystem` in `args`.
    pub triple: String,
    /// Source language.
    pub lang: Lang,
    /// Extra clang driver arguments: `-I`, `-D`, `-std=`, `-O2`, `-g`, `--sysroot=`, ...
    /// They come after the crate's defaults, so they win (e.g. `-fno-pic`, `-std=c++20`).
    pub args: Vec<String>,
}

impl Options {
    /// Options for `triple` and `lang` with no extra arguments.
    pub fn new(triple: impl Into<String>, lang: Lang) -> Self {
        Options { triple: triple.into(), lang, args: Vec::new() }
    }
}

/// Compile errors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostics {
    /// clang's rendered diagnostics (errors, warnings and notes) as clang prints them, with
    /// the source line and caret; no colours.
    pub text: String,
    /// Number of error and fatal diagnostics (at least 1).
    pub errors: usize,
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.text.trim_end())
    }
}

impl std::error::Error for Diagnostics {}

/// A relocatable object from [`compile_file`]/[`compile_source`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Object {
    /// The object file: ELF, or Mach-O for Apple triples (what `clang -c` emits for the
    /// triple; LLVM bitcode if `args` asked for `-flto`).
    pub bytes: Vec<u8>,
    /// Warnings clang printed, rendered as clang prints them (empty if none).
    pub warnings: String,
}

/// `args` already set `flag` (as `flag`, `flag=...` or `flag...`)?
fn has_arg(args: &[String], flags: &[&str]) -> bool {
    args.iter().any(|a| flags.iter().any(|f| a.starts_with(f)))
}

/// Defaults shared by both front ends: clang's resource directory (builtin headers such as
/// `stddef.h`), found at build time, since clang would look for it next to the running
/// executable.
fn push_resource_dir(out: &mut Vec<String>, user: &[String]) {
    if !has_arg(user, &["-resource-dir", "--resource-dir"]) {
        out.push("-resource-dir".into());
        out.push(env!("ORCBRIDGE_CLANG_RESOURCE_DIR").into());
    }
}

/// Defaults that depend on the target, each overridden by its opposite in `user`. On AArch64:
/// atomics inline (`-mno-outline-atomics`), because the outlined helpers
/// (`__aarch64_swp4_acq`, ...) live in `libgcc.a`, which no executor process exports.
fn push_target_defaults(out: &mut Vec<String>, triple: &str, user: &[String]) {
    let aarch64 = triple.starts_with("aarch64") || triple.starts_with("arm64");
    if aarch64 && !has_arg(user, &["-moutline-atomics", "-mno-outline-atomics"]) {
        out.push("-mno-outline-atomics".into());
    }
}

/// The clang driver command line [`compile_file`] and [`compile_source`] run for `input`:
/// `opts` with every default this crate adds (for keys of object caches, which must change
/// when a default does).
pub fn compile_args(opts: &Options, input: &str) -> Vec<String> {
    let mut a = vec![env!("ORCBRIDGE_CLANG_EXE").to_owned()];
    if !opts.triple.is_empty() {
        a.push(format!("--target={}", opts.triple));
    }
    a.extend(["-c".to_owned(), "-fPIC".to_owned()]);
    push_resource_dir(&mut a, &opts.args);
    push_target_defaults(&mut a, &opts.triple, &opts.args);
    a.push("-x".into());
    a.push(match opts.lang {
        Lang::C => "c".into(),
        Lang::Cxx => "c++".into(),
        Lang::Ir => "ir".into(),
    });
    match opts.lang {
        Lang::Cxx if !has_arg(&opts.args, &["-std", "--std"]) => a.push("-std=c++17".into()),
        // IR written by hand or by another front end often has no triple or another one;
        // taking the target's is the point, not news.
        // Include paths and macros (`-I`, `-D`, which the same options bring to C files)
        // mean nothing to IR.
        Lang::Ir => a.extend(["-Wno-override-module".into(), "-Wno-unused-command-line-argument".into()]),
        _ => {}
    }
    a.extend(opts.args.iter().cloned());
    a.push("--".into());
    a.push(input.into());
    a
}

/// Driver arguments (no program name) for the interpreter.
fn interpreter_args(opts: &Options) -> Vec<String> {
    let mut a = Vec::new();
    if opts.lang == Lang::C {
        a.push("-xc".to_owned()); // CreateCpp's -xc++ comes first; the last -x wins
    }
    push_resource_dir(&mut a, &opts.args);
    push_target_defaults(&mut a, &opts.triple, &opts.args);
    if opts.triple.contains("-apple-") {
        // clang's Darwin driver reads the deployment target (which decides, e.g., whether
        // thread-locals exist) from --target, not from the default triple the interpreter's
        // builder sets.
        a.push(format!("--target={}", opts.triple));
    }
    a.extend(opts.args.iter().cloned());
    a
}

fn c_strings(args: &[String]) -> Result<Vec<CString>, String> {
    args.iter()
        .map(|a| CString::new(a.as_str()).map_err(|_| format!("argument {a:?} contains a NUL byte")))
        .collect()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn le_u64(b: &[u8]) -> u64 {
    u64::from_le_bytes(std::array::from_fn(|i| b.get(i).copied().unwrap_or(0)))
}

fn internal(message: String) -> Diagnostics {
    Diagnostics { text: format!("error: {message}\n"), errors: 1 }
}

/// `input` named `name` in `buffer` (or read from disk when `buffer` is `None`).
fn compile(input: &str, buffer: Option<&str>, opts: &Options) -> Result<Object, Diagnostics> {
    let args = c_strings(&compile_args(opts, input)).map_err(internal)?;
    let name =
        CString::new(input).map_err(|_| internal(format!("file name {input:?} contains a NUL byte")))?;
    let argv: Vec<*const c_char> = args.iter().map(|a| a.as_ptr()).collect();
    let shim = ffi::shim().map_err(internal)?;
    let (mut object, mut diags, mut errors) = (Vec::new(), Vec::new(), 0usize);
    let status = {
        let (mut o, mut d) = (Sink::new(&mut object), Sink::new(&mut diags));
        let (buf_ptr, buf_len) = buffer.map_or((ptr::null(), 0), |b| (b.as_ptr().cast::<c_char>(), b.len()));
        // SAFETY: argv points to `argv.len()` NUL-terminated strings kept alive by `args`;
        // `name` is NUL-terminated; the buffer is `buf_len` readable bytes or null; the sinks
        // borrow live vectors for the duration of the call; `errors` is a valid out pointer.
        unsafe {
            (shim.ojit_compile)(
                argv.as_ptr(),
                argv.len(),
                name.as_ptr(),
                buf_ptr,
                buf_len,
                &mut o,
                &mut d,
                &mut errors,
            )
        }
    };
    if status != ffi::OJIT_OK {
        return Err(Diagnostics { text: text(&diags), errors: errors.max(1) });
    }
    Ok(Object { bytes: object, warnings: text(&diags) })
}

/// Compiles the C, C++ or LLVM IR file at `path` (and what it includes) into one relocatable
/// object for `opts.triple`, with the semantics of `clang -c -fPIC --target=<triple> <args> path`.
///
/// # Errors
/// [`Diagnostics`] if clang reports an error (including a missing file or an unknown
/// argument), or if the arguments do not amount to exactly one compile job.
pub fn compile_file(path: &Path, opts: &Options) -> Result<Object, Diagnostics> {
    let input =
        path.to_str().ok_or_else(|| internal(format!("path {} is not valid UTF-8", path.display())))?;
    compile(input, None, opts)
}

/// Like [`compile_file`] for `source` held in memory. `name` is the file name used in
/// diagnostics and for resolving `#include "..."` (relative to the current directory; empty:
/// `input.c` or `input.cpp`).
///
/// # Errors
/// As [`compile_file`].
pub fn compile_source(name: &str, source: &str, opts: &Options) -> Result<Object, Diagnostics> {
    let default = match opts.lang {
        Lang::C => "input.c",
        Lang::Cxx => "input.cpp",
        Lang::Ir => "input.ll",
    };
    compile(if name.is_empty() { default } else { name }, Some(source), opts)
}

/// How a captured value travels from the target back to the host: which hook the rewritten
/// code calls, hence what the runtime reports in [`RemoteValue::data`]. The discriminants are
/// the wire values.
///
/// | expression type (as clang's value printing sees it) | hook | `data` (little-endian) |
/// |---|---|---|
/// | integers, `bool`, character types, enums | `__orcbridge_value_int(ty, bits)` | `bits`, 8 bytes |
/// | `float`, `double` (and `_Float16`, widened) | `__orcbridge_value_double` | the `double`, 8 bytes |
/// | `long double` wider than `double` (x87, IEEE quad) | `__orcbridge_value_long_double` | the target's `long double` bytes as in memory (x86: 16, of which 10 count) |
/// | pointer to `char`, `signed char`, `unsigned char` | `__orcbridge_value_cstr` | the string's bytes, NUL optional; a null pointer is reported as [`Pointer`](Self::Pointer) 0 |
/// | other pointers, functions, `nullptr`, lvalue records (as `T &`) | `__orcbridge_value_ptr` | the address, 8 bytes (4 accepted) |
/// | record and member-pointer rvalues | `__orcbridge_value_alloc(ty, sizeof(T))`: the object is constructed in the returned storage | the storage address, 8 bytes (4 accepted) |
/// | constant arrays (e.g. `int[3]`, `"hi"`) | `__orcbridge_value_bytes(ty, p, sizeof(T))` | the `sizeof(T)` bytes |
/// | `void` | `__orcbridge_value_void` | empty |
///
/// `long double` that is `double` (Apple arm64) uses the `double` hook. Types clang cannot
/// capture (e.g. `_Complex`) call `__orcbridge_value_void` and render as `<no value>`.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ValueKind {
    /// `__orcbridge_value_int`.
    Int = 0,
    /// `__orcbridge_value_double`.
    Double = 1,
    /// `__orcbridge_value_long_double`.
    LongDouble = 2,
    /// `__orcbridge_value_ptr` (and null `char` pointers).
    Pointer = 3,
    /// `__orcbridge_value_cstr`.
    CString = 4,
    /// `__orcbridge_value_alloc`.
    Record = 5,
    /// `__orcbridge_value_bytes`.
    Bytes = 6,
    /// `__orcbridge_value_void`.
    Void = 7,
}

impl ValueKind {
    /// The kind with wire value `v`, if any.
    pub fn from_u32(v: u32) -> Option<ValueKind> {
        Some(match v {
            0 => ValueKind::Int,
            1 => ValueKind::Double,
            2 => ValueKind::LongDouble,
            3 => ValueKind::Pointer,
            4 => ValueKind::CString,
            5 => ValueKind::Record,
            6 => ValueKind::Bytes,
            7 => ValueKind::Void,
            _ => return None,
        })
    }
}

/// The value capture an input's object performs (at most one per input).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ValueCapture {
    /// The `ty` argument the hook receives (a host type handle; opaque to the target).
    pub ty: u64,
    /// The hook called, i.e. the kind the runtime should report.
    pub kind: ValueKind,
    /// `sizeof` the value's type in the target, in bytes (for lvalue records: the record's
    /// size; 0 for `void` and functions).
    pub size: u64,
}

/// The type of a value of class type ([`Interpreter::class_value`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClassValue {
    /// The type as the value's header spells it, without the parentheses:
    /// `std::vector<int> &` for an lvalue, `Point` for a temporary.
    pub header: String,
    /// `std::NAME` if the type is a specialization of a class template of namespace `std`
    /// (inline namespaces such as libstdc++'s `__cxx11` and libc++'s `__1` skipped):
    /// `std::vector`, `std::basic_string`, `std::map`.
    pub std_template: Option<String>,
    /// The canonical type, every alias resolved: `std::vector<std::tuple<int, int>>`.
    pub canonical: String,
}

/// One parsed input (a partial translation unit), ready to link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ptu {
    /// Identifies the input for [`Interpreter::undo`]; increasing, never reused.
    pub id: u64,
    /// The relocatable object for the interpreter's triple (ELF, or Mach-O for Apple
    /// triples), PIC; empty if the input produced no module.
    pub object: Vec<u8>,
    /// The input was an expression without a trailing `;` whose value the object captures
    /// (`value` says how; a `void` expression counts, and renders as nothing).
    pub has_value: bool,
    /// How the value is captured, when `has_value`.
    pub value: Option<ValueCapture>,
    /// Where the expression whose value is captured is in the input text, as a byte range
    /// (`None` if there is no value or the expression is not spelled in the input, e.g. it
    /// comes from a macro defined in an earlier input).
    pub value_span: Option<std::ops::Range<usize>>,
    /// Warnings clang printed for the input (empty if none).
    pub warnings: String,
    /// The object was not emitted yet ([`Interpreter::parse_deferrable`]).
    pub deferred: bool,
    /// For a deferred input: the linker names of the symbols it defines.
    pub defines: Vec<String>,
    /// Linker names of definitions that redefine a name with another type or kind (`double
    /// f()` after `int f()`): code compiled against the earlier declaration must keep the
    /// earlier definition. (Any definition of a name of file scope that an earlier input
    /// declared is accepted: the earlier declaration is shadowed until this input is undone.)
    pub retyped: Vec<String>,
}

/// A value captured in the target and sent back to the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteValue {
    /// The hook the target saw called.
    pub kind: ValueKind,
    /// The `ty` argument of that call, unchanged.
    pub ty: u64,
    /// The payload; see [`ValueKind`] for its layout per kind.
    pub data: Vec<u8>,
}

/// clang-repl for an executor: declarations persist across inputs, each input becomes one
/// object ([`Ptu`]). `Send` (it may move to another thread) but not `Sync`.
pub struct Interpreter {
    raw: NonNull<ffi::OjitInterp>,
    /// The loaded shim `raw` belongs to.
    shim: &'static ffi::Shim,
    triple: String,
    startup: Vec<Ptu>,
    /// Every capture the shim emitted, by type handle: `render_value` only hands the shim
    /// handles it produced (a handle is a host pointer; the target's word is not trusted).
    captures: HashMap<u64, ValueCapture>,
    /// The input (PTU id) that brought in the value printer, while it is not undone.
    value_printer: Option<u64>,
}

/// The value printer for C++ class values (`cxx/value_printer.hpp`): target code, parsed into
/// a session by [`Interpreter::parse_value_formatter`].
const VALUE_PRINTER: &str = include_str!("../cxx/value_printer.hpp");

// SAFETY: the shim's interpreter (clang::Interpreter, its LLVMContext, TargetMachine and
// executor) is self-contained: no thread-local state is kept between calls, so it may be used
// from another thread as long as only one thread uses it at a time, which `!Sync` (the raw
// pointer) and `&mut self` guarantee.
unsafe impl Send for Interpreter {}

impl fmt::Debug for Interpreter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Interpreter")
            .field("triple", &self.triple)
            .field("captures", &self.captures.len())
            .finish()
    }
}

impl Interpreter {
    /// Creates a `clang::Interpreter` for `opts` whose executor only collects modules:
    /// nothing is JIT-linked or executed in this process. Takes 5–15 ms (it parses the
    /// runtime prelude).
    ///
    /// # Errors
    /// The reason, if the arguments are invalid (rendered driver diagnostics), the triple is
    /// unknown to LLVM, the language is [`Lang::Ir`], clang fails to start, or the shim cannot
    /// be loaded.
    pub fn new(opts: &Options) -> Result<Interpreter, String> {
        if opts.lang == Lang::Ir {
            return Err("an interpreter takes C or C++, not LLVM IR".into());
        }
        let args = c_strings(&interpreter_args(opts))?;
        let triple =
            CString::new(opts.triple.as_str()).map_err(|_| "triple contains a NUL byte".to_owned())?;
        let argv: Vec<*const c_char> = args.iter().map(|a| a.as_ptr()).collect();
        let shim = ffi::shim()?;
        let (mut raw, mut error) = (ptr::null_mut(), Vec::new());
        let status = {
            let mut e = Sink::new(&mut error);
            // SAFETY: NUL-terminated strings kept alive by `triple`/`args`; `raw` and the sink
            // are valid for the call.
            unsafe { (shim.ojit_interp_create)(triple.as_ptr(), argv.as_ptr(), argv.len(), &mut raw, &mut e) }
        };
        let raw = match NonNull::new(raw) {
            Some(raw) if status == ffi::OJIT_OK => raw,
            other => {
                if let Some(raw) = other {
                    // SAFETY: a handle from ojit_interp_create, disposed once.
                    unsafe { (shim.ojit_interp_dispose)(raw.as_ptr()) };
                }
                let msg = text(&error);
                return Err(if msg.trim().is_empty() {
                    "clang::Interpreter creation failed".into()
                } else {
                    msg
                });
            }
        };
        let mut interp = Interpreter {
            raw,
            shim,
            triple: opts.triple.clone(),
            startup: Vec::new(),
            captures: HashMap::new(),
            value_printer: None,
        };
        loop {
            let (mut id, mut object) = (0u64, Vec::new());
            let more = {
                let mut o = Sink::new(&mut object);
                // SAFETY: live handle; valid out pointer and sink.
                unsafe { (interp.shim.ojit_interp_next_startup)(interp.raw.as_ptr(), &mut id, &mut o) }
            };
            if more == 0 {
                break;
            }
            interp.startup.push(Ptu {
                id,
                object,
                has_value: false,
                value: None,
                value_span: None,
                warnings: String::new(),
                deferred: false,
                defines: Vec::new(),
                retyped: Vec::new(),
            });
        }
        Ok(interp)
    }

    /// The objects produced while creating the interpreter (the runtime prelude, defining
    /// `__ci_newtag` in C++), to be linked and initialised before any input. Returns them
    /// once; later calls return an empty vector.
    pub fn take_startup_objects(&mut self) -> Vec<Ptu> {
        std::mem::take(&mut self.startup)
    }

    /// Parses one input (one or more lines of C or C++), then emits its object.
    ///
    /// # Errors
    /// The diagnostics, if the input does not compile (or its code generation fails, e.g.
    /// invalid inline assembly); the interpreter is then unchanged and still usable.
    pub fn parse(&mut self, input: &str) -> Result<Ptu, Diagnostics> {
        self.parse_with(input, false, false)
    }

    /// As [`parse`](Self::parse), as part of the previous input: [`undo`](Self::undo) counts
    /// them as one input and removes them together. For code a host adds to a user's input
    /// (the REPL's value formatter).
    ///
    /// # Errors
    /// As [`parse`](Self::parse); also if nothing was parsed before.
    pub fn parse_attached(&mut self, input: &str) -> Result<Ptu, Diagnostics> {
        self.parse_with(input, false, true)
    }

    /// As [`parse`](Self::parse), but an input that runs no code when loaded (no top-level
    /// statements, no dynamic initialisation) and captures no value is not emitted yet: its
    /// [`Ptu::deferred`] is set, its object is empty and [`Ptu::defines`] lists the symbols
    /// it defines. Emit it with [`emit`](Self::emit) when something refers to them — most
    /// definitions typed into a REPL are never used, and this skips their code generation.
    ///
    /// # Errors
    /// As [`parse`](Self::parse).
    pub fn parse_deferrable(&mut self, input: &str) -> Result<Ptu, Diagnostics> {
        self.parse_with(input, true, false)
    }

    /// The object of deferred input `id` (once).
    ///
    /// # Errors
    /// The input was not deferred, was emitted already or was undone, or code generation
    /// failed.
    pub fn emit(&mut self, id: u64) -> Result<Vec<u8>, String> {
        let (mut object, mut error) = (Vec::new(), Vec::new());
        let status = {
            let (mut o, mut e) = (Sink::new(&mut object), Sink::new(&mut error));
            // SAFETY: live handle; sinks are valid for the call.
            unsafe { (self.shim.ojit_interp_emit)(self.raw.as_ptr(), id, &mut o, &mut e) }
        };
        if status == ffi::OJIT_OK { Ok(object) } else { Err(text(&error)) }
    }

    fn parse_with(&mut self, input: &str, allow_defer: bool, attach: bool) -> Result<Ptu, Diagnostics> {
        let (mut object, mut defines, mut retyped, mut captures, mut diags) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let (mut id, mut errors, mut deferred) = (0u64, 0usize, 0);
        let mut range = [u64::MAX; 2];
        let status = {
            let (mut o, mut n, mut r, mut c, mut d) = (
                Sink::new(&mut object),
                Sink::new(&mut defines),
                Sink::new(&mut retyped),
                Sink::new(&mut captures),
                Sink::new(&mut diags),
            );
            // SAFETY: live handle; `input` is `input.len()` readable bytes; out pointers and
            // sinks are valid for the call.
            unsafe {
                (self.shim.ojit_interp_parse)(
                    self.raw.as_ptr(),
                    input.as_ptr().cast(),
                    input.len(),
                    i32::from(allow_defer),
                    i32::from(attach),
                    &mut id,
                    &mut deferred,
                    &mut o,
                    &mut n,
                    &mut r,
                    &mut c,
                    range.as_mut_ptr(),
                    &mut d,
                    &mut errors,
                )
            }
        };
        if status != ffi::OJIT_OK {
            return Err(Diagnostics { text: text(&diags), errors: errors.max(1) });
        }
        let mut value = None;
        for rec in captures.chunks_exact(ffi::CAPTURE_RECORD_SIZE) {
            let field = |at: usize| le_u64(rec.get(at..).unwrap_or_default());
            let (ty, kind, size) = (field(0), field(8), field(16));
            // Kinds come from the shim's own enum; an unknown one would be a shim bug.
            if let Some(kind) = u32::try_from(kind).ok().and_then(ValueKind::from_u32) {
                let capture = ValueCapture { ty, kind, size };
                self.captures.insert(ty, capture);
                value = Some(capture);
            }
        }
        let names = |list: &[u8]| {
            list.split(|&b| b == 0)
                .filter(|n| !n.is_empty())
                .map(|n| String::from_utf8_lossy(n).into_owned())
                .collect::<Vec<_>>()
        };
        let (defines, retyped) = (names(&defines), names(&retyped));
        let value_span = match range.map(usize::try_from) {
            [Ok(b), Ok(e)]
                if b < e && e <= input.len() && input.is_char_boundary(b) && input.is_char_boundary(e) =>
            {
                Some(b..e)
            }
            _ => None,
        };
        Ok(Ptu {
            id,
            object,
            has_value: value.is_some(),
            value,
            value_span,
            warnings: text(&diags),
            deferred: deferred != 0,
            defines,
            retyped,
        })
    }

    /// As [`parse_attached`](Self::parse_attached), for code that uses the value printer
    /// (`__orcbridge::show` and the runtime's `__orcbridge_value_format`; C++ only): the
    /// printer comes with the first such code, and again after the input it came with is
    /// undone. Parsing it only when needed leaves a session that prints no class value as
    /// clang-repl's, down to the input numbers in `__FILE__` and diagnostics.
    ///
    /// # Errors
    /// As [`parse_attached`](Self::parse_attached).
    pub fn parse_value_formatter(&mut self, code: &str) -> Result<Ptu, Diagnostics> {
        if self.value_printer.is_some() {
            return self.parse_attached(code);
        }
        let ptu = self.parse_attached(&format!("{VALUE_PRINTER}\n{code}"))?;
        self.value_printer = Some(ptu.id);
        Ok(ptu)
    }

    /// Undoes the last `n` inputs (`clang::Interpreter::Undo`; an input's attached parts
    /// count with it, see [`parse_attached`](Self::parse_attached)): their declarations are
    /// forgotten, so names can be defined again. The host should unload their objects.
    /// Returns the ids of the [`Ptu`]s removed, newest first. `n == 0` does nothing.
    ///
    /// # Errors
    /// clang's message if there are fewer than `n` inputs (the prelude cannot be undone);
    /// nothing is undone then.
    pub fn undo(&mut self, n: u32) -> Result<Vec<u64>, String> {
        if n == 0 {
            return Ok(Vec::new());
        }
        let (mut ids, mut error) = (Vec::new(), Vec::new());
        let status = {
            let (mut i, mut e) = (Sink::new(&mut ids), Sink::new(&mut error));
            // SAFETY: live handle; sinks valid for the call.
            unsafe { (self.shim.ojit_interp_undo)(self.raw.as_ptr(), n, &mut i, &mut e) }
        };
        if status != ffi::OJIT_OK {
            let msg = text(&error);
            return Err(if msg.is_empty() { format!("undo of {n} inputs failed") } else { msg });
        }
        let ids: Vec<u64> = ids.chunks_exact(8).map(le_u64).collect();
        if self.value_printer.is_some_and(|p| ids.contains(&p)) {
            self.value_printer = None;
        }
        Ok(ids)
    }

    /// Completions for the identifier that ends at byte `pos` of `line` (one line of input),
    /// through clang's code completion as clang-repl completes: names declared by earlier
    /// inputs and headers, members after `.` and `->`, scopes after `::`, keywords. Returns
    /// the prefix being completed (the identifier characters before `pos`) and the
    /// candidates, each a whole identifier that starts with it, sorted and without repeats.
    /// The interpreter is not changed.
    ///
    /// # Errors
    /// `pos` is not inside `line`, or clang could not set up the completion.
    pub fn complete(&mut self, line: &str, pos: usize) -> Result<(String, Vec<String>), String> {
        if pos > line.len() || !line.is_char_boundary(pos) {
            return Err(format!("position {pos} is not in the line"));
        }
        let (mut prefix, mut results, mut error) = (Vec::new(), Vec::new(), Vec::new());
        let status = {
            let (mut p, mut r, mut e) =
                (Sink::new(&mut prefix), Sink::new(&mut results), Sink::new(&mut error));
            // SAFETY: live handle; `line` is `line.len()` readable bytes; sinks are valid for the
            // call.
            unsafe {
                (self.shim.ojit_interp_complete)(
                    self.raw.as_ptr(),
                    line.as_ptr().cast(),
                    line.len(),
                    pos,
                    &mut p,
                    &mut r,
                    &mut e,
                )
            }
        };
        if status != ffi::OJIT_OK {
            return Err(text(&error));
        }
        let mut found: Vec<String> = results
            .split(|&b| b == 0)
            .filter(|c| !c.is_empty())
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect();
        found.sort();
        found.dedup();
        Ok((text(&prefix), found))
    }

    /// For the mangled name of a complete-object destructor (`_ZN1TD1Ev`), or of a
    /// constructor or destructor of a class template specialization, C++ that makes clang
    /// emit it when parsed (a `used` function calling the destructor, or an explicit
    /// instantiation such as `template std::vector<int>::vector();`); `None` for other
    /// names. clang's
    /// incremental code generation can refer to one from a top-level statement (the
    /// destructor of a temporary) without ever emitting it; parse this
    /// ([`parse_attached`](Self::parse_attached)) and link it with the input.
    pub fn structor_instantiation(symbol: &str) -> Option<String> {
        let symbol = CString::new(symbol).ok()?;
        let shim = ffi::shim().ok()?;
        let mut code = Vec::new();
        let status = {
            let mut c = Sink::new(&mut code);
            // SAFETY: a NUL-terminated string and a sink valid for the call.
            unsafe { (shim.ojit_structor_instantiation)(symbol.as_ptr(), &mut c) }
        };
        (status == ffi::OJIT_OK).then(|| text(&code))
    }

    /// For a value captured as a C++ class (a record, or a reference to one): how its type is
    /// spelled in the value's header, and what it is. `None` for other values and for
    /// handles this interpreter did not report.
    pub fn class_value(&self, ty: u64) -> Option<ClassValue> {
        self.captures.get(&ty)?;
        let (mut header, mut template, mut canonical) = (Vec::new(), Vec::new(), Vec::new());
        let status = {
            let (mut h, mut t, mut c) =
                (Sink::new(&mut header), Sink::new(&mut template), Sink::new(&mut canonical));
            // SAFETY: live handle; `ty` is a handle this interpreter reported (checked above);
            // sinks are valid for the call.
            unsafe { (self.shim.ojit_interp_value_class)(self.raw.as_ptr(), ty, &mut h, &mut t, &mut c) }
        };
        (status == ffi::OJIT_OK).then(|| ClassValue {
            header: text(&header),
            std_template: (!template.is_empty()).then(|| text(&template)),
            canonical: text(&canonical),
        })
    }

    /// Renders a value captured in the target the way clang-repl prints in-process values
    /// (without the trailing newline): `(int) 42`, `(double) 3.5000000`, `(bool) true`,
    /// `(char) 'a'`, `(const char *) "hi"`, `(int *) 0x7f00..`, `(E) (B) : unsigned int 5`,
    /// `(int[3]) { 1, 2, 3 }`, `(S) @0x7f..` (record rvalue: its target address),
    /// `(S &) @0x7f..` (lvalue record). `void` values render as the empty string, as
    /// clang-repl prints nothing for them.
    ///
    /// Builtin, enum and pointer values go through `clang::Value::print`; no target address
    /// is ever dereferenced (strings are printed from the copied bytes, records and
    /// non-string pointers as addresses, array elements from `data`).
    ///
    /// A value this interpreter did not ask for (unknown `ty`), a kind that does not match
    /// the capture, or a payload of the wrong size renders as a `<...>` explanation; this
    /// never fails.
    pub fn render_value(&self, v: &RemoteValue) -> String {
        let Some(capture) = self.captures.get(&v.ty) else {
            return format!("<value with unknown type handle {:#x}>", v.ty);
        };
        let kind_ok =
            v.kind == capture.kind || (capture.kind == ValueKind::CString && v.kind == ValueKind::Pointer);
        if !kind_ok {
            return format!("<{:?} value reported for a {:?} capture>", v.kind, capture.kind);
        }
        let len = v.data.len();
        let len_ok = match v.kind {
            ValueKind::Int | ValueKind::Double => len == 8,
            ValueKind::Pointer | ValueKind::Record => len == 8 || len == 4,
            ValueKind::Bytes => len as u64 == capture.size,
            ValueKind::LongDouble | ValueKind::CString | ValueKind::Void => true,
        };
        if !len_ok {
            return format!("<{:?} value with {len} bytes of payload>", v.kind);
        }
        let mut out = Vec::new();
        let status = {
            let mut o = Sink::new(&mut out);
            // SAFETY: live handle; `ty` is a type handle this interpreter emitted (checked
            // above) and the AST it points into lives as long as the interpreter; `data` is
            // `len` readable bytes; the sink is valid for the call.
            unsafe {
                (self.shim.ojit_interp_render)(
                    self.raw.as_ptr(),
                    v.ty,
                    v.kind as u32,
                    v.data.as_ptr(),
                    len,
                    &mut o,
                )
            }
        };
        let s = text(&out);
        if status != ffi::OJIT_OK {
            return format!("<rendering failed: {}>", s.trim());
        }
        s
    }
}

impl Drop for Interpreter {
    fn drop(&mut self) {
        // SAFETY: the handle came from ojit_interp_create and is disposed exactly once.
        unsafe { (self.shim.ojit_interp_dispose)(self.raw.as_ptr()) }
    }
}

#[cfg(test)]
mod tests;
