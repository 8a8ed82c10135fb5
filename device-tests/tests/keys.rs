//! Authenticated, encrypted sessions: `orc-executor keygen`, `listen=… --key FILE` and
//! `repl --key FILE`. A wrong key, a replayed or altered handshake, and a plain LLVM controller
//! are each refused with a log line and cost nothing else; a non-loopback listener refuses to
//! start without a key.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

use device_tests::*;
use orc_rpc::secure::{Initiator, Key, record_len};

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn keygen(path: &std::path::Path) {
    let o = run(Command::new(our_bin("orc-executor")).arg("keygen").arg(path), 30);
    assert!(o.status.success(), "{}", text(&o.stderr));
}

fn wait_for_log(path: &std::path::Path, needle: &str, count: usize) -> String {
    let start = Instant::now();
    loop {
        let log = std::fs::read_to_string(path).unwrap_or_default();
        if log.matches(needle).count() >= count || start.elapsed() > Duration::from_secs(15) {
            return log;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn read_record(s: &mut TcpStream) -> std::io::Result<Vec<u8>> {
    let mut h = [0u8; 2];
    s.read_exact(&mut h)?;
    let mut body = vec![0u8; record_len(h)];
    s.read_exact(&mut body)?;
    Ok(body)
}

#[test]
fn keygen_writes_a_private_file_and_never_overwrites() {
    use std::os::unix::fs::PermissionsExt;
    let dir = scratch();
    let key = dir.path().join("key");
    keygen(&key);
    let mode = std::fs::metadata(&key).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let before = std::fs::read(&key).unwrap();
    let o = run(Command::new(our_bin("orc-executor")).arg("keygen").arg(&key), 30);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(std::fs::read(&key).unwrap(), before);
    // A key file others can read is refused, as ssh refuses such private keys.
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let o = run(Command::new(our_bin("orc-executor")).arg("listen=127.0.0.1:0").arg("--key").arg(&key), 30);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains("chmod 600"), "{}", text(&o.stderr));
}

#[test]
fn a_non_loopback_listener_needs_a_key_or_insecure() {
    let o = run(Command::new(our_bin("orc-executor")).arg("listen=0.0.0.0:0"), 30);
    assert_eq!(o.status.code(), Some(2));
    let err = text(&o.stderr);
    assert!(err.contains("reachable from other hosts") && err.contains("--key FILE"), "{err}");
    // With --insecure it starts, with a warning: only inside a network namespace of the
    // test's own (nothing but loopback in it), so nothing is exposed.
    let probe = run(Command::new("unshare").args(["-n", "true"]), 30);
    if !probe.status.success() {
        eprintln!(
            "skipping the --insecure start: cannot create a network namespace ({})",
            text(&probe.stderr)
        );
        return;
    }
    let dir = scratch();
    let err = dir.path().join("err");
    let exe = KillOnDrop::spawn(
        Command::new("unshare")
            .args(["-n", "--"])
            .arg(our_bin("orc-executor"))
            .args(["listen=0.0.0.0:0", "--insecure"])
            .stdin(std::process::Stdio::null())
            .stdout(std::fs::File::create(dir.path().join("out")).unwrap())
            .stderr(std::fs::File::create(&err).unwrap()),
    );
    let log = wait_for_log(&err, "listening on 0.0.0.0:", 1);
    assert!(log.contains("warning: no key (--insecure)") && log.contains("listening on 0.0.0.0:"), "{log}");
    drop(exe);
}

#[test]
fn keyed_sessions_work_and_everyone_else_is_refused() {
    let dir = scratch();
    let (key, other) = (dir.path().join("key"), dir.path().join("other"));
    keygen(&key);
    keygen(&other);
    let err = dir.path().join("err");
    let key_arg = key.to_str().unwrap();
    let (exe, port) = start_listening_executor(&["--key", key_arg], &dir.path().join("out"), &err);
    let addr = format!("--oop-executor-connect=127.0.0.1:{port}");
    let repl = |key: &std::path::Path| {
        run(
            Command::new(our_bin("repl")).arg(&addr).arg("--key").arg(key).args([
                "-e",
                "int x = 6 * 7;",
                "-e",
                "x",
            ]),
            60,
        )
    };

    // The right key: values come back as usual.
    let o = repl(&key);
    assert_eq!(text(&o.stdout), "(int) 42\n", "{}", text(&o.stderr));
    assert_eq!(o.status.code(), Some(0));

    // A wrong key.
    let o = repl(&other);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains("does not hold this key"), "{}", text(&o.stderr));
    assert!(wait_for_log(&err, "does not hold this key", 1).contains("refused the controller"));

    // A replayed first message: the executor answers, but the replayer cannot confirm.
    let k = Key::load(&key).unwrap();
    let (init, first) = Initiator::start(&k).unwrap();
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.write_all(&first).unwrap();
    let reply = read_record(&mut s).unwrap();
    let (_, _, confirm) = init.finish(&reply).unwrap();
    drop(s);
    let mut replay = TcpStream::connect(("127.0.0.1", port)).unwrap();
    replay.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    replay.write_all(&first).unwrap();
    read_record(&mut replay).expect("the replayed first message gets a reply");
    replay.write_all(&confirm).unwrap();
    let mut rest = Vec::new();
    let _ = replay.read_to_end(&mut rest);
    assert!(rest.is_empty(), "a replayer received {} bytes after the handshake", rest.len());
    assert!(wait_for_log(&err, "replayed or altered handshake", 1).contains("refused the controller"));

    // An altered first message.
    let (_, mut first) = Initiator::start(&k).unwrap();
    let last = first.len() - 1;
    first[last] ^= 1;
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.write_all(&first).unwrap();
    let mut rest = Vec::new();
    let _ = s.read_to_end(&mut rest);
    assert!(rest.is_empty(), "an altered handshake got an answer");
    assert_eq!(wait_for_log(&err, "does not hold this key", 2).matches("does not hold this key").count(), 2);

    // LLVM's controller knows nothing of keys: refused after the handshake timeout, with a
    // log line, and it fails instead of hanging.
    let obj = compile("hello.c", dir.path(), &["-O1"]);
    let o = run(
        Command::new(llvm_tool("llvm-jitlink"))
            .arg(format!("-oop-executor-connect=127.0.0.1:{port}"))
            .arg(&obj),
        60,
    );
    assert_ne!(o.status.code(), Some(0));
    assert!(wait_for_log(&err, "no key exchange within", 1).contains("an LLVM controller"));

    // None of this cost anything: the right key still works, and nobody got in.
    let o = repl(&key);
    assert_eq!(text(&o.stdout), "(int) 42\n", "{}", text(&o.stderr));
    assert!(std::fs::metadata(format!("/proc/{}", exe.id())).is_ok());
    assert!(!std::fs::read_to_string(dir.path().join("out")).unwrap().contains("hello"));
}
