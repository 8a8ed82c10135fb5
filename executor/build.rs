// Compiles the crash guard (c/guard.cpp, see src/guard.rs) and records the Rust target triple
// so the executor can report the process triple in Setup. What the `orc-executor` binary links
// besides is decided in its own package (executor/cli/build.rs).
//
// Apple targets link libc++ (the only C++ library Apple ships). Built on a machine without an
// Apple SDK (scripts/check-apple.sh type-checks Apple targets on Linux), the guard is compiled
// without one: guard.cpp declares the few Darwin types and functions it uses itself, so it
// needs no headers, and `cc` is given an empty stand-in for SDKROOT (it would otherwise run
// `xcrun`, which only exists on macOS) and a clang that can target Darwin. The object is then
// good for `cargo check` and a `staticlib`; linking a program needs a Mac anyway.
use std::path::PathBuf;

fn main() {
    let target = std::env::var("TARGET").unwrap_or_default();
    println!("cargo:rustc-env=ORC_EXECUTOR_TARGET={target}");
    println!("cargo:rerun-if-env-changed=TARGET");
    println!("cargo:rerun-if-changed=c/guard.cpp");
    // The OS version an Apple build is for (the setting Apple's tools and rustc read), so the
    // triple in Setup carries it: clang decides from it, e.g., whether thread-locals exist.
    for var in ["IPHONEOS_DEPLOYMENT_TARGET", "MACOSX_DEPLOYMENT_TARGET"] {
        println!("cargo:rerun-if-env-changed={var}");
        if let Ok(v) = std::env::var(var) {
            println!("cargo:rustc-env=ORC_EXECUTOR_{var}={v}");
        }
    }

    let mut build = cc::Build::new();
    build.cpp(true).file("c/guard.cpp").flag("-std=c++17").warnings(true);
    if target.contains("-apple-") {
        build.cpp_link_stdlib("c++");
        if !host_has_apple_sdk() {
            without_apple_sdk(&mut build, &target);
        }
    }
    build.compile("orcx_guard");
}

/// True when `cc` can find an Apple SDK by itself: on macOS (through `xcrun`) or with SDKROOT.
fn host_has_apple_sdk() -> bool {
    println!("cargo:rerun-if-env-changed=SDKROOT");
    std::env::var_os("SDKROOT").is_some_and(|s| !s.is_empty()) || cfg!(target_os = "macos")
}

/// Compiles for an Apple target with no SDK: an empty folder as SDKROOT (so `cc` does not run
/// `xcrun`; guard.cpp includes no headers on Darwin) and clang as the compiler unless CXX says
/// otherwise (the host's g++ cannot target Darwin).
fn without_apple_sdk(build: &mut cc::Build, target: &str) {
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let stand_in = out.join("no-apple-sdk");
    std::fs::create_dir_all(&stand_in).expect("cannot create the SDK stand-in folder");
    build.env("SDKROOT", &stand_in);
    // Without an SDK, `cc` falls back to iOS 7, which has no thread-locals (the guard uses
    // one); orcbridge's Darwin triples say iOS 14 and macOS 11.
    let (var, version) = if target.contains("-darwin") {
        ("MACOSX_DEPLOYMENT_TARGET", "11.0")
    } else {
        ("IPHONEOS_DEPLOYMENT_TARGET", "14.0")
    };
    println!("cargo:rerun-if-env-changed={var}");
    if std::env::var_os(var).is_none() {
        build.env(var, version);
    }
    let cxx_vars = ["CXX".to_owned(), format!("CXX_{target}"), format!("CXX_{}", target.replace('-', "_"))];
    for v in &cxx_vars {
        println!("cargo:rerun-if-env-changed={v}");
    }
    if cxx_vars.iter().any(|v| std::env::var_os(v).is_some()) {
        return;
    }
    if let Some(clang) = ["clang++", "clang++-22", "clang-22", "clang"].into_iter().find(|c| on_path(c)) {
        build.compiler(clang);
    }
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|p| std::env::split_paths(&p).any(|dir| dir.join(program).is_file()))
}
