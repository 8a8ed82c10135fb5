//! The C embedding example (examples/embed-c, built here with its Makefile): a C program that
//! embeds the executor through the C API, publishes `app_add` and `app_count` without
//! exporting them, and serves on loopback. Our repl and LLVM's llvm-jitlink run code in it
//! that calls those functions by name.

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use device_tests::*;

/// Builds embed-c once per test run, with `make -C examples/embed-c`, into a directory of its
/// own (a test run leaves nothing in the source tree).
fn embed_c() -> PathBuf {
    static BUILT: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    let (_, exe) = BUILT.get_or_init(|| {
        let dir = scratch();
        let exe = dir.path().join("embed-c");
        let o = run(
            Command::new("make")
                .arg("-C")
                .arg(workspace_root().join("examples/embed-c"))
                .arg(format!("OUT={}", exe.display()))
                .arg(format!("CARGO={}", env!("CARGO")))
                .arg(format!("TARGET_DIR={}", target_dir().display())),
            1800,
        );
        assert!(o.status.success(), "make failed:\n{}", String::from_utf8_lossy(&o.stderr));
        (dir, exe)
    });
    exe.clone()
}

/// Starts embed-c on a free port; returns it and the port it printed.
fn start() -> (Proc, u16) {
    let app = spawn(Command::new(embed_c()).arg("0"));
    app.wait_for_stdout("\n", Duration::from_secs(30));
    let text = app.stdout_so_far();
    let port = text
        .lines()
        .find_map(|l| l.strip_prefix("embed-c: listening on port "))
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or_else(|| panic!("no port in embed-c's output: {text:?}"));
    (app, port)
}

#[test]
fn repl_calls_a_function_the_c_app_published() {
    let (app, port) = start();
    let o = run(
        Command::new(our_bin("repl")).arg(format!("--oop-executor-connect=127.0.0.1:{port}")).args([
            "-x",
            "c",
            "-e",
            "#include <stdio.h>",
            "-e",
            "int app_add(int, int);",
            "-e",
            "printf(\"app_add says %d\\n\", app_add(1, 2));",
            "-e",
            "app_add(40, 2)",
        ]),
        60,
    );
    // The app's output comes to repl, in order with the value, and stays on its own stdout.
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success() && out == "app_add says 3\n(int) 42\n",
        "{out}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    app.wait_for_stdout("app_add says 3\n", Duration::from_secs(30));
    // Its last words, written after its stdout was handed to repl, still reach its stdout.
    app.signal(libc::SIGTERM);
    let o = app.wait(Duration::from_secs(30));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success() && out.contains("embed-c: stopped (0 calls of app_count)"), "{out}");
}

#[test]
fn llvm_jitlink_links_a_program_against_the_c_apps_functions() {
    let dir = scratch();
    let obj = compile("calls_embedding_app.c", dir.path(), &["-O1"]);
    let (app, port) = start();
    // main returns app_add(second app_count(), 40); the counter lives in the app, so the
    // second run counts on from the first.
    for expected in [42, 44] {
        let o = run(
            Command::new(llvm_tool("llvm-jitlink"))
                .arg(format!("-oop-executor-connect=127.0.0.1:{port}"))
                .arg(&obj),
            60,
        );
        assert_eq!(o.status.code(), Some(expected), "{}", String::from_utf8_lossy(&o.stderr));
    }
    // SIGTERM: the app stops its listener and exits cleanly, having counted 4 calls.
    app.signal(libc::SIGTERM);
    let o = app.wait(Duration::from_secs(30));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success() && out.contains("stopped (4 calls of app_count)"), "{out}");
}
