//! Compiles a C program against `include/orc_executor.h` and this package's static library,
//! and runs it (`tests/c/api_test.c`): the header and the library cannot drift apart.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The directory cargo built this package's libraries in for this test (`target/<profile>/deps`,
/// where the test itself is).
fn library_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test's path");
    exe.parent().expect("target/<profile>/deps").to_path_buf()
}

#[test]
fn a_c_program_uses_every_function_of_the_header() {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let lib = library_dir().join("liborcx.a");
    assert!(lib.is_file(), "{} was not built", lib.display());
    let dir = tempfile::tempdir().expect("a temporary directory");
    let program = dir.path().join("api_test");
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let o = Command::new(&cc)
        .args(["-std=c11", "-D_POSIX_C_SOURCE=200809L", "-Wall", "-Wextra", "-Werror", "-I"])
        .arg(manifest.join("include"))
        .arg(manifest.join("tests/c/api_test.c"))
        .arg(&lib)
        .args(["-lstdc++", "-lpthread", "-ldl", "-lm", "-o"])
        .arg(&program)
        .output()
        .expect("running the C compiler");
    assert!(o.status.success(), "{cc} failed:\n{}", String::from_utf8_lossy(&o.stderr));

    let mut child =
        Command::new(&program).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn");
    let start = Instant::now();
    while child.try_wait().expect("wait").is_none() {
        if start.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("api_test did not finish within 60 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let o = child.wait_with_output().expect("output");
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "api_test failed:\n{out}\n{}", String::from_utf8_lossy(&o.stderr));
    assert!(out.contains("all checks passed"), "{out}");
}
