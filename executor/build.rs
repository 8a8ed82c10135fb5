// Compiles the crash guard (c/guard.cpp, see src/guard.rs). Records the Rust target triple so
// the executor can report the process triple in Setup, and makes the `orc-executor` binary
// carry the C++ runtime and libm like llvm-jitlink-executor (a C++ program): JIT'd C++ and
// math code resolve `operator new`, `std::` and `sin` in the executor process without the
// controller preloading anything.
fn main() {
    let target = std::env::var("TARGET").unwrap_or_default();
    println!("cargo:rustc-env=ORC_EXECUTOR_TARGET={target}");
    println!("cargo:rerun-if-env-changed=TARGET");
    cc::Build::new().cpp(true).file("c/guard.cpp").flag("-std=c++17").warnings(true).compile("orcx_guard");
    println!("cargo:rerun-if-changed=c/guard.cpp");
    if target.contains("-linux-gnu") {
        println!("cargo:rustc-link-arg-bins=-Wl,--no-as-needed,-l:libstdc++.so.6,-l:libm.so.6,--as-needed");
    }
}
