// Compiles the crash guard (c/guard.cpp, see src/guard.rs) and records the Rust target triple
// so the executor can report the process triple in Setup. What the `orc-executor` binary links
// besides is decided in its own package (executor/cli/build.rs).
fn main() {
    let target = std::env::var("TARGET").unwrap_or_default();
    println!("cargo:rustc-env=ORC_EXECUTOR_TARGET={target}");
    println!("cargo:rerun-if-env-changed=TARGET");
    cc::Build::new().cpp(true).file("c/guard.cpp").flag("-std=c++17").warnings(true).compile("orcx_guard");
    println!("cargo:rerun-if-changed=c/guard.cpp");
}
