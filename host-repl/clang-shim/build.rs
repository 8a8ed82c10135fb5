//! Builds the C++ shim (`cxx/shim.cpp`, `cxx/complete.cpp`) against LLVM/Clang 22 and links `libclang-cpp` and
//! `libLLVM` dynamically, the way `rustc_llvm`'s build script does: every flag comes from
//! `llvm-config`, every environment variable read is tracked.
//!
//! Environment:
//! * `LLVM_CONFIG`: path of `llvm-config` (default `/usr/lib/llvm-22/bin/llvm-config`).
//!   It must report LLVM 22.x; anything else is a build error.
//!
//! Emitted for the crate: `ORCBRIDGE_CLANG_RESOURCE_DIR` (clang's resource directory, with
//! `stddef.h` and friends) and `ORCBRIDGE_CLANG_EXE` (the `clang` binary path the driver uses
//! as argv[0]), and the links metadata `DEP_ORCBRIDGE_CLANG_LIBDIR` for dependents.

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

fn main() {
    println!("cargo:rerun-if-env-changed=LLVM_CONFIG");
    for file in ["shim.cpp", "shim.h", "complete.cpp", "complete.h"] {
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
    build.compile("orcbridge_clang_shim");

    // After cc's own link lines so the static shim comes before the libraries it needs.
    println!("cargo:rustc-link-search=native={libdir}");
    println!("cargo:rustc-link-lib=dylib=clang-cpp");
    println!("cargo:rustc-link-lib=dylib=LLVM");
    // For this package's tests and examples; dependents add their own (see `links`).
    println!("cargo:rustc-link-arg=-Wl,-rpath,{libdir}");
    println!("cargo:libdir={libdir}");

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
