//! C and C++ through clang 22, as a separate process (`clang -c`).
//!
//! Objects are position-independent (`-fPIC`): external data and functions are reached
//! through the GOT, and thread-locals use the general-dynamic model, which is what JIT'd code
//! needs (its memory is not within 2 GiB of the libraries, and it cannot use the static TLS
//! block).

use std::path::{Path, PathBuf};
use std::process::Command;

use super::Lang;

/// Clang (`ORCBRIDGE_CLANG` overrides `/usr/lib/llvm-22/bin/clang`).
pub fn clang_path() -> PathBuf {
    std::env::var_os("ORCBRIDGE_CLANG")
        .map_or_else(|| PathBuf::from("/usr/lib/llvm-22/bin/clang"), PathBuf::from)
}

/// A failed compilation: clang's diagnostics.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{diagnostics}")]
pub struct CompileError {
    /// Clang's output, with source lines and carets.
    pub diagnostics: String,
}

/// Identity of the compiler binary for cache keys: its path, size and modification time.
fn compiler_identity() -> String {
    let p = clang_path();
    let meta = std::fs::metadata(&p).ok();
    let mtime = meta
        .as_ref()
        .and_then(|m| m.modified().ok())
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok());
    format!("{}:{}:{:?}", p.display(), meta.map_or(0, |m| m.len()), mtime)
}

/// As [`compile`] for source text, through the object cache: an unchanged input compiles once.
///
/// # Errors
/// As [`compile`].
pub fn compile_cached(
    name: &str,
    code: &str,
    lang: Lang,
    triple: &str,
    args: &[String],
) -> Result<Vec<u8>, CompileError> {
    let id = compiler_identity();
    let lang_tag = format!("{lang:?}");
    let joined = args.join("\0");
    let key = super::cache::key(&[
        id.as_bytes(),
        triple.as_bytes(),
        lang_tag.as_bytes(),
        joined.as_bytes(),
        code.as_bytes(),
    ]);
    super::cache::get_or_insert(&key, || compile(Path::new(name), Some(code), lang, triple, args))
}

/// Compiles `source` (a file, or the text `code` under the name `source`) for `triple` with
/// extra clang arguments `args` and returns the object bytes.
///
/// # Errors
/// [`CompileError`] with clang's diagnostics, or the reason clang could not run.
pub fn compile(
    source: &Path,
    code: Option<&str>,
    lang: Lang,
    triple: &str,
    args: &[String],
) -> Result<Vec<u8>, CompileError> {
    let out = tempfile::Builder::new()
        .suffix(".o")
        .tempfile()
        .map_err(|e| CompileError { diagnostics: e.to_string() })?;
    let mut cmd = Command::new(clang_path());
    cmd.args(["-c", "-fPIC", "-fno-color-diagnostics", &format!("--target={triple}")])
        .arg("-x")
        .arg(match lang {
            Lang::C => "c",
            Lang::Cxx => "c++",
        })
        .args(args)
        .arg("-o")
        .arg(out.path());
    let input = match code {
        Some(text) => {
            let mut f = tempfile::Builder::new()
                .suffix(&format!("-{}", source.display()))
                .tempfile()
                .map_err(|e| CompileError { diagnostics: e.to_string() })?;
            std::io::Write::write_all(&mut f, text.as_bytes())
                .map_err(|e| CompileError { diagnostics: e.to_string() })?;
            Some(f)
        }
        None => None,
    };
    cmd.arg(input.as_ref().map_or(source, |f| f.path()));
    let o = cmd
        .output()
        .map_err(|e| CompileError { diagnostics: format!("cannot run {}: {e}", clang_path().display()) })?;
    if !o.status.success() {
        return Err(CompileError { diagnostics: String::from_utf8_lossy(&o.stderr).into_owned() });
    }
    if !o.stderr.is_empty() {
        eprint!("{}", String::from_utf8_lossy(&o.stderr));
    }
    std::fs::read(out.path()).map_err(|e| CompileError { diagnostics: e.to_string() })
}
