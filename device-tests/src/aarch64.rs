//! The aarch64 Linux target under qemu-user: where `scripts/build-target.sh
//! aarch64-unknown-linux-gnu` puts LLVM 22's arm64 `llvm-jitlink-executor` and our
//! `orc-executor`, and how tests start them.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::target_dir;

/// The target triple clang compiles for.
pub const TRIPLE: &str = "aarch64-linux-gnu";

/// What the aarch64 tests need, if build-target.sh has provided it.
#[derive(Debug, Clone)]
pub struct Target {
    /// LLVM 22's arm64 `llvm-jitlink-executor`.
    pub llvm_executor: PathBuf,
    /// Our `orc-executor` built for aarch64.
    pub orc_executor: PathBuf,
}

impl Target {
    /// The target, or why it is not there.
    ///
    /// # Errors
    /// A line naming what is missing and the command that provides it.
    pub fn find() -> Result<Target, String> {
        let root = target_dir().join("aarch64-unknown-linux-gnu");
        let t = Target {
            llvm_executor: root.join("llvm-22/usr/lib/llvm-22/bin/llvm-jitlink-executor"),
            orc_executor: root.join("release/orc-executor"),
        };
        let works = |cmd: &str| Command::new(cmd).arg("--version").output().is_ok_and(|o| o.status.success());
        let missing: Vec<String> = [
            (!works("qemu-aarch64")).then(|| "qemu-aarch64".to_owned()),
            (!works("aarch64-linux-gnu-gcc")).then(|| "aarch64-linux-gnu-gcc".to_owned()),
            (!t.llvm_executor.is_file()).then(|| t.llvm_executor.display().to_string()),
            (!t.orc_executor.is_file()).then(|| t.orc_executor.display().to_string()),
        ]
        .into_iter()
        .flatten()
        .collect();
        if missing.is_empty() {
            Ok(t)
        } else {
            Err(format!(
                "SKIPPED: missing {}; run scripts/build-target.sh aarch64-unknown-linux-gnu",
                missing.join(", ")
            ))
        }
    }

    /// The target, or `None` after printing why the calling test is skipped.
    ///
    /// # Panics
    /// If it is missing and `ORCBRIDGE_REQUIRE_AARCH64` is set (the test command sets it, after
    /// build-target.sh provided everything), so a skip cannot hide there.
    pub fn for_test() -> Option<Target> {
        match Target::find() {
            Ok(t) => Some(t),
            Err(why) if std::env::var_os("ORCBRIDGE_REQUIRE_AARCH64").is_some() => panic!("{why}"),
            Err(why) => {
                eprintln!("{why}");
                None
            }
        }
    }

    /// Serves one controller with our aarch64 executor under qemu (`listen=`, `--once`):
    /// `controller` gets the address (`127.0.0.1:PORT`); returns its result with what the
    /// executor wrote to stdout and stderr (files in `dir`).
    pub fn serve_once<T>(&self, dir: &Path, controller: impl FnOnce(&str) -> T) -> (T, String, String) {
        crate::serve_once(&mut Target::qemu(&self.orc_executor), &[], dir, controller)
    }

    /// `qemu-aarch64 EXECUTOR`, ready for arguments.
    pub fn qemu(executor: &Path) -> Command {
        let mut c = Command::new("qemu-aarch64");
        c.arg(executor);
        c
    }

    /// A script in `dir` that runs `executor` under qemu with the arguments it is given, for
    /// controllers that launch an executor themselves (`repl --oop-executor=`, `llvm-jitlink
    /// -oop-executor=`).
    pub fn wrapper(executor: &Path, dir: &Path) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let path = dir.join(format!(
            "qemu-{}",
            executor.file_name().map_or("executor".into(), |n| n.to_string_lossy())
        ));
        std::fs::write(&path, format!("#!/bin/sh\nexec qemu-aarch64 '{}' \"$@\"\n", executor.display()))
            .expect("write wrapper");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod wrapper");
        path
    }
}
