//! An on-disk cache of compiled objects, keyed by a hash of everything that determines the
//! output (compiler identity, target, arguments, source text), so that unchanged sources — the
//! session runtime, files and `-e` code — are not compiled again by later `repl` runs.
//!
//! Sources that include files are cached the way ccache's direct mode does it: the key of the
//! command and source names a manifest that lists every file the compiler read with a hash of
//! its content, and the object's own key covers those hashes. A lookup hashes the listed files
//! again; any change (a header edited, removed or replaced) is a miss, and the compile that
//! follows writes a new manifest.
//!
//! Location: `$XDG_CACHE_HOME/orcbridge/objects` (or the platform's cache directory);
//! `ORCBRIDGE_CACHE=off` disables it. Entries are written to a temporary file and renamed, so
//! concurrent runs never see a partial object or manifest.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Lookups this process answered from the cache (for `repl --session NAME --status`).
static HITS: AtomicU64 = AtomicU64::new(0);

/// How many objects this process took from the cache instead of compiling them.
pub fn hits() -> u64 {
    HITS.load(Ordering::Relaxed)
}

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
        HITS.fetch_add(1, Ordering::Relaxed);
        return Ok(bytes);
    }
    let bytes = produce()?;
    store(&dir, &path, &bytes);
    Ok(bytes)
}

/// Where an object came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Origin {
    /// The cache: nothing was compiled.
    Cache,
    /// The compiler (and it is cached now, if the cache is on).
    Compiled,
}

/// The hash of the file at `path`'s content, or `None` if it cannot be read.
fn file_hash(path: &Path) -> Option<String> {
    let bytes = std::fs::read(path).ok()?;
    Some(blake3::hash(&bytes).to_hex().to_string())
}

/// Writes `bytes` to `path` atomically (temporary file, then rename); failures are ignored.
fn store(dir: &Path, path: &Path, bytes: &[u8]) {
    if std::fs::create_dir_all(dir).is_ok()
        && let Ok(mut tmp) = tempfile::NamedTempFile::new_in(dir)
        && std::io::Write::write_all(&mut tmp, bytes).is_ok()
    {
        let _ = tmp.persist(path);
    }
}

/// The object of the manifest under `key` if every file it lists still has the content it
/// had when the object was compiled.
fn lookup_with_deps(dir: &Path, key: &str) -> Option<Vec<u8>> {
    let manifest = std::fs::read_to_string(dir.join(format!("{key}.deps"))).ok()?;
    let mut lines = manifest.lines();
    let object = lines.next()?.strip_prefix("object ")?;
    for line in lines {
        let (hash, path) = line.split_once(' ')?;
        if file_hash(Path::new(path))? != hash {
            return None;
        }
    }
    std::fs::read(dir.join(format!("{object}.o"))).ok()
}

/// The object for `key` and the files it depends on: from the cache if none of the files the
/// last compile read has changed since, else `produce`'s output (the object and the paths of
/// the files the compiler read), stored for next time.
///
/// # Errors
/// `produce`'s error; cache I/O problems are not errors (the cache is skipped).
pub(crate) fn get_or_insert_with_deps<E>(
    key: &str,
    produce: impl FnOnce() -> Result<(Vec<u8>, Vec<PathBuf>), E>,
) -> Result<(Vec<u8>, Origin), E> {
    let Some(dir) = dir() else { return produce().map(|(bytes, _)| (bytes, Origin::Compiled)) };
    if let Some(bytes) = lookup_with_deps(&dir, key) {
        HITS.fetch_add(1, Ordering::Relaxed);
        return Ok((bytes, Origin::Cache));
    }
    let (bytes, deps) = produce()?;
    // A file that cannot be hashed, or whose name cannot be written on one line, cannot be
    // checked next time: then the object is not cached.
    let hashed: Option<Vec<(String, String)>> = deps
        .iter()
        .map(|p| {
            let name = p.to_str().filter(|n| !n.contains('\n'))?;
            Some((file_hash(p)?, name.to_owned()))
        })
        .collect();
    if let Some(hashed) = hashed {
        let mut parts: Vec<&[u8]> = vec![key.as_bytes()];
        for (hash, name) in &hashed {
            parts.extend([hash.as_bytes(), name.as_bytes()]);
        }
        let object = self::key(&parts);
        store(&dir, &dir.join(format!("{object}.o")), &bytes);
        let mut manifest = format!("object {object}\n");
        for (hash, name) in &hashed {
            manifest.push_str(&format!("{hash} {name}\n"));
        }
        store(&dir, &dir.join(format!("{key}.deps")), manifest.as_bytes());
    }
    Ok((bytes, Origin::Compiled))
}

/// The files a Makefile dependency rule (`clang -MD -MF`'s output) names after its target:
/// whitespace separates them, `\` before a newline continues the line, `\ ` is a space in a
/// name and `$$` a `$`.
pub fn parse_depfile(text: &str) -> Vec<PathBuf> {
    let Some((_, deps)) = text.split_once(": ") else { return Vec::new() };
    let mut files = Vec::new();
    let mut name = String::new();
    let mut chars = deps.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&' ') => {
                name.push(' ');
                chars.next();
            }
            '\\' if matches!(chars.peek(), Some('\n' | '\r')) => {}
            '$' if chars.peek() == Some(&'$') => {
                name.push('$');
                chars.next();
            }
            c if c.is_whitespace() => {
                if !name.is_empty() {
                    files.push(PathBuf::from(std::mem::take(&mut name)));
                }
            }
            c => name.push(c),
        }
    }
    if !name.is_empty() {
        files.push(PathBuf::from(name));
    }
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depfiles_with_continuations_escaped_spaces_and_dollars() {
        let text = "a.o: a.c /usr/include/stdio.h \\\n  dir\\ with\\ spaces/b.h \\\n  cost$$.h\n";
        assert_eq!(
            parse_depfile(text),
            ["a.c", "/usr/include/stdio.h", "dir with spaces/b.h", "cost$.h"].map(PathBuf::from)
        );
        assert!(parse_depfile("no rule here").is_empty());
    }
}
