// Makes the `orc-executor` binary carry the C++ runtime and libm like llvm-jitlink-executor (a
// C++ program): JIT'd C++ and math code resolve `operator new`, `std::` and `sin` in the
// executor process without the controller preloading anything. Only the binary: an application
// that embeds the library decides what its process links.
fn main() {
    let target = std::env::var("TARGET").unwrap_or_default();
    println!("cargo:rerun-if-env-changed=TARGET");
    if target.contains("-linux-gnu") {
        println!("cargo:rustc-link-arg-bins=-Wl,--no-as-needed,-l:libstdc++.so.6,-l:libm.so.6,--as-needed");
    }
}
