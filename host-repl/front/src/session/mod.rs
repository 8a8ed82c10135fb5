//! `repl --session NAME`: a warm session server and its thin clients.
//!
//! The server (`host_repl::session_server`) is a detached `repl-jit` process that owns one
//! REPL (the interpreter, the JIT and the executor connection) and serves clients
//! ([`client`]) on a Unix domain socket, one request at a time. The first client starts it; it exits once no
//! client has been connected for its idle time, or when its executor goes away. The messages
//! are in [`wire`].
//!
//! Files of session `NAME`, in [`runtime_dir`] (mode 0700):
//! * `NAME.sock`: the socket (mode 0600);
//! * `NAME.lock`: held (`flock`) by the live server, so that two clients starting a server at
//!   once end up with one;
//! * `NAME.pid`: the server's process id;
//! * `NAME.log`: the server's log (its stderr and stdout: start-up errors, and the executor's
//!   output that arrives while no request runs).

pub mod client;
pub mod wire;

use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::PathBuf;

use anyhow::{Context, Result, bail};

/// The folder of the session files: `$XDG_RUNTIME_DIR/orcbridge` (the platform's runtime
/// directory), else `orcbridge-UID` in the temporary directory (`$TMPDIR`, `/tmp`); created
/// with mode 0700, and refused if it is a symbolic link.
///
/// # Errors
/// It cannot be created, or it exists but belongs to another user or others may enter it
/// (someone could then take over the socket).
pub fn runtime_dir() -> Result<PathBuf> {
    let uid = rustix::process::getuid().as_raw();
    let dir = match dirs::runtime_dir() {
        Some(d) => d.join("orcbridge"),
        None => std::env::temp_dir().join(format!("orcbridge-{uid}")),
    };
    match std::fs::DirBuilder::new().recursive(true).mode(0o700).create(&dir) {
        Ok(()) => {}
        Err(e) => return Err(e).with_context(|| format!("cannot create {}", dir.display())),
    }
    // Not followed: a symbolic link there (in a shared /tmp, someone else's) could be
    // pointed elsewhere after this check.
    let meta = std::fs::symlink_metadata(&dir).with_context(|| format!("cannot read {}", dir.display()))?;
    if !meta.is_dir() || meta.uid() != uid || meta.permissions().mode() & 0o077 != 0 {
        bail!(
            "{} is not a private folder of this user (owner uid {}, mode {:o}); remove it or set \
             XDG_RUNTIME_DIR",
            dir.display(),
            meta.uid(),
            meta.permissions().mode() & 0o777
        );
    }
    Ok(dir)
}

/// The paths of session `name`'s files.
#[derive(Debug, Clone)]
pub struct Paths {
    /// The session's name.
    pub name: String,
    /// `NAME.sock`.
    pub socket: PathBuf,
    /// `NAME.lock`.
    pub lock: PathBuf,
    /// `NAME.pid`.
    pub pid: PathBuf,
    /// `NAME.log`.
    pub log: PathBuf,
}

impl Paths {
    /// The files of session `name` in [`runtime_dir`].
    ///
    /// # Errors
    /// `name` is not 1-64 letters, digits, `.`, `_` or `-` (not starting with `.`), or the
    /// runtime directory is unusable.
    pub fn new(name: &str) -> Result<Paths> {
        let ok_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
        if name.is_empty() || name.len() > 64 || name.starts_with('.') || !name.chars().all(ok_char) {
            bail!(
                "bad session name {name:?}: use 1 to 64 letters, digits, '.', '_' or '-', not starting with '.'"
            );
        }
        let dir = runtime_dir()?;
        let file = |ext: &str| dir.join(format!("{name}.{ext}"));
        Ok(Paths {
            name: name.to_owned(),
            socket: file("sock"),
            lock: file("lock"),
            pid: file("pid"),
            log: file("log"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::Paths;

    #[test]
    fn session_names_cannot_leave_the_runtime_dir() {
        for bad in ["", "a/b", "..", ".hidden", "a b", &"x".repeat(65), "nul\0"] {
            let e = Paths::new(bad).expect_err(bad).to_string();
            assert!(e.contains("bad session name"), "{e}");
        }
    }
}
