//! Builds the C++ shim (`cxx/shim.cpp`, `cxx/complete.cpp`) against LLVM/Clang 22 into a
//! shared library, `$OUT_DIR/liborcbridge_clang.so`, that needs `libclang-cpp` and `libLLVM`
//! (with an rpath to LLVM's libdir) and exports only the `ojit_*` functions of `cxx/shim.h`.
//! The crate embeds that file and loads it on first use (`src/ffi.rs`), so a program using
//! this crate maps LLVM only when it compiles. Every flag comes from `llvm-config`, the way
//! `rustc_llvm`'s build script does; every environment variable read is tracked.
//!
//! Environment:
//! * `LLVM_CONFIG`: path of `llvm-config` (default `/usr/lib/llvm-22/bin/llvm-config`).
//!   It must report LLVM 22.x; anything else is a build error.
//!
//! Emitted for the crate: `ORCBRIDGE_CLANG_RESOURCE_DIR` (clang's resource directory, with
//! `stddef.h` and friends), `ORCBRIDGE_CLANG_EXE` (the `clang` binary path the driver uses
//! as argv[0]) and `ORCBRIDGE_CLANG_SHIM_HASH` (a hash of the linked library).

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The only LLVM major version the shim is written against (clang::Interpreter's API changes
/// between releases; `Value::setRawBits` even changed units after 22).
const LLVM_MAJOR: u32 = 22;
const DEFAULT_LLVM_CONFIG: &str = "/usr/lib/llvm-22/bin/llvm-config";

fn llvm_config(tool: &Path, arg: &str) -> String {
    match Command::new(tool).arg(arg).output() {
        Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout).trim().to_owned(),
        Ok(out) => panic!(
            "`{} {arg}` failed ({}): {}",
            tool.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ),
        Err(e) => panic!(
            "cannot run llvm-config at `{}`: {e}.\n\
             orcbridge-clang needs LLVM/Clang {LLVM_MAJOR} (Debian: llvm-{LLVM_MAJOR}-dev \
             libclang-cpp{LLVM_MAJOR}-dev libclang-{LLVM_MAJOR}-dev); set LLVM_CONFIG to its \
             llvm-config.",
            tool.display()
        ),
    }
}

/// 64-bit FNV-1a: enough to tell builds of the shim apart (not a defence against anyone).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

fn main() {
    println!("cargo:rerun-if-env-changed=LLVM_CONFIG");
    for file in ["shim.cpp", "shim.h", "complete.cpp", "complete.h", "value_printer.hpp", "exports.map"] {
        println!("cargo:rerun-if-changed=cxx/{file}");
    }
    println!("cargo:rerun-if-changed=build.rs");

    let tool = PathBuf::from(env::var("LLVM_CONFIG").unwrap_or_else(|_| DEFAULT_LLVM_CONFIG.to_owned()));
    let version = llvm_config(&tool, "--version");
    let major: Option<u32> = version.split('.').next().and_then(|m| m.parse().ok());
    if major != Some(LLVM_MAJOR) {
        panic!(
            "orcbridge-clang needs LLVM/Clang {LLVM_MAJOR}.x, but `{} --version` reports `{version}`. \
             Set LLVM_CONFIG to the llvm-config of an LLVM {LLVM_MAJOR} installation.",
            tool.display()
        );
    }
    println!("cargo:rustc-env=ORCBRIDGE_CLANG_VERSION={version}");
    let cxxflags = llvm_config(&tool, "--cxxflags");
    let includedir = llvm_config(&tool, "--includedir");
    let libdir = llvm_config(&tool, "--libdir");
    let bindir = llvm_config(&tool, "--bindir");
    let has_rtti = llvm_config(&tool, "--has-rtti");

    let mut build = cc::Build::new();
    build
        .cpp(true)
        // For a shared library, whatever CRATE_CC_NO_DEFAULTS says.
        .pic(true)
        .std("c++17")
        .file("cxx/shim.cpp")
        .file("cxx/complete.cpp")
        .include("cxx")
        .include(&includedir);
    for flag in cxxflags.split_whitespace() {
        // -std and -I are set above; -fno-exceptions is dropped on purpose: the shim's C
        // entry points catch C++ exceptions (libstdc++ may throw even when LLVM does not).
        if flag.starts_with("-std=") || flag.starts_with("-I") || flag == "-fno-exceptions" {
            continue;
        }
        build.flag(flag);
    }
    build.flag("-fexceptions");
    if has_rtti != "YES" {
        // The shim subclasses clang::IncrementalExecutor; its typeinfo exists only with RTTI.
        build.flag("-fno-rtti");
    }
    // LLVM's headers are not -Wextra clean; keep -Wall for the shim itself.
    build.warnings(false).flag_if_supported("-Wall").flag_if_supported("-Wno-unused-parameter");
    let objects = build.compile_intermediates();

    // Linked by the C++ compiler cc chose, with cc's flags (-fPIC, -m64, ...). Only the entry
    // points are exported (fewer dynamic symbols to bind at load); debug information is
    // dropped (the library is embedded in every program using the crate), symbols are kept.
    let out_dir = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let library = out_dir.join("liborcbridge_clang.so");
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let mut link = build.get_compiler().to_command();
    link.arg("-shared")
        .arg("-o")
        .arg(&library)
        .args(&objects)
        .arg(format!("-Wl,--version-script={}", manifest.join("cxx/exports.map").display()))
        .args(["-Wl,--strip-debug", "-Wl,--gc-sections", "-Wl,--no-undefined", "-Wl,-O1"])
        .arg(format!("-L{libdir}"))
        .args(["-lclang-cpp", "-lLLVM"])
        .arg(format!("-Wl,-rpath,{libdir}"));
    match link.status() {
        Ok(status) if status.success() => {}
        Ok(status) => panic!("linking {} failed ({status}): {link:?}", library.display()),
        Err(e) => panic!("cannot run the linker {link:?}: {e}"),
    }
    // What identifies this shim in object caches: a change to it may change the objects.
    let bytes = std::fs::read(&library).expect("reading the linked shim");
    println!("cargo:rustc-env=ORCBRIDGE_CLANG_SHIM_HASH={:016x}", fnv1a(&bytes));
    // A new LLVM 22.1.x under the same names: link (and key) again.
    for lib in ["libclang-cpp.so", "libLLVM.so"] {
        println!("cargo:rerun-if-changed={}", Path::new(&libdir).join(lib).display());
    }

    let resource_dir = Path::new(&libdir).join("clang").join(LLVM_MAJOR.to_string());
    if !resource_dir.join("include").join("stddef.h").exists() {
        println!(
            "cargo:warning=clang resource directory {} has no include/stddef.h; \
             builtin headers may not be found (pass -resource-dir in Options::args)",
            resource_dir.display()
        );
    }
    println!("cargo:rustc-env=ORCBRIDGE_CLANG_RESOURCE_DIR={}", resource_dir.display());
    println!("cargo:rustc-env=ORCBRIDGE_CLANG_EXE={}", Path::new(&bindir).join("clang").display());
}
