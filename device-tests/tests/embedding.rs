//! The embedding example: an application serving controllers from a background thread, with
//! its own bootstrap symbols.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use device_tests::peer::Peer;
use device_tests::*;
use orc_rpc::sps::from_bytes;

#[test]
fn llvm_jitlink_runs_code_inside_an_embedding_application() {
    let dir = scratch();
    let (out, err) = (dir.path().join("out"), dir.path().join("err"));
    let app = KillOnDrop::spawn(
        Command::new(our_bin("embedded-app"))
            .stdout(std::fs::File::create(&out).unwrap())
            .stderr(std::fs::File::create(&err).unwrap())
            .stdin(Stdio::null()),
    );
    let start = Instant::now();
    let port: u16 = loop {
        let log = std::fs::read_to_string(&err).unwrap_or_default();
        // Only a whole line: a half-written port would parse as another number.
        let line = log.split("listening on 127.0.0.1:").nth(1).and_then(|r| r.split_once('\n'));
        if let Some(p) = line.and_then(|(port, _)| port.trim().parse().ok()) {
            break p;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "app did not start: {log}");
        std::thread::sleep(Duration::from_millis(10));
    };

    // The application's own symbols are offered next to LLVM's, and its wrapper is callable.
    let mut peer = Peer::connect(port);
    let info = peer.read_setup();
    let status = peer.call(0, info.symbol("app_status_wrapper").expect("custom symbol"), &[]);
    let status: String = from_bytes(&status).unwrap();
    assert!(status.starts_with("embedded-app alive"), "{status}");
    assert!(info.symbol("app_ticks").is_some());
    peer.half_close();
    drop(peer);

    // A real controller runs a program in the application's process, twice in a row.
    let obj = compile("hello.c", dir.path(), &["-O1"]);
    for _ in 0..2 {
        let o = run(
            Command::new(llvm_tool("llvm-jitlink"))
                .arg(format!("-oop-executor-connect=127.0.0.1:{port}"))
                .arg(&obj),
            30,
        );
        assert_eq!(o.status.code(), Some(7), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let start = Instant::now();
    while std::fs::read_to_string(&out).unwrap_or_default().matches("hello, world").count() < 2 {
        assert!(start.elapsed() < Duration::from_secs(10), "program output missing");
        std::thread::sleep(Duration::from_millis(10));
    }
    drop(app);
}
