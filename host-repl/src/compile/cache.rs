//! An on-disk cache of compiled objects, keyed by a hash of everything that determines the
//! output (compiler identity, target, arguments, source text), so that unchanged sources — the
//! session runtime above all — are not compiled again by later `repl` runs.
//!
//! Location: `$XDG_CACHE_HOME/orcbridge/objects` (or the platform's cache directory);
//! `ORCBRIDGE_CACHE=off` disables it. Entries are written to a temporary file and renamed, so
//! concurrent runs never see a partial object.

use std::path::PathBuf;

fn dir() -> Option<PathBuf> {
    if std::env::var_os("ORCBRIDGE_CACHE").is_some_and(|v| v == "off") {
        return None;
    }
    Some(dirs::cache_dir()?.join("orcbridge").join("objects"))
}

/// The hex key for `parts`.
pub fn key(parts: &[&[u8]]) -> String {
    let mut h = blake3::Hasher::new();
    for p in parts {
        h.update(&(p.len() as u64).to_le_bytes());
        h.update(p);
    }
    h.finalize().to_hex().to_string()
}

/// The object cached under `key`, or `produce`'s output, stored for next time.
///
/// # Errors
/// `produce`'s error; cache I/O problems are not errors (the cache is skipped).
pub fn get_or_insert<E>(key: &str, produce: impl FnOnce() -> Result<Vec<u8>, E>) -> Result<Vec<u8>, E> {
    let Some(dir) = dir() else { return produce() };
    let path = dir.join(format!("{key}.o"));
    if let Ok(bytes) = std::fs::read(&path) {
        return Ok(bytes);
    }
    let bytes = produce()?;
    if std::fs::create_dir_all(&dir).is_ok()
        && let Ok(mut tmp) = tempfile::NamedTempFile::new_in(&dir)
        && std::io::Write::write_all(&mut tmp, &bytes).is_ok()
    {
        let _ = tmp.persist(&path);
    }
    Ok(bytes)
}
