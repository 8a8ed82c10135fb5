//! Front ends: turning sources into relocatable objects for the executor's target.
//!
//! C, C++ and LLVM IR files go through clang (in process, loaded on the first compile).
//! Objects and archives are taken as they are, without loading clang or LLVM. The input kind
//! is decided by the file extension.

pub mod cache;
pub mod clang;

use std::path::Path;

pub use repl_front::args::Lang;

/// What a file on the command line is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// C or C++ source.
    Source(Lang),
    /// LLVM IR, text (`.ll`) or bitcode (`.bc`).
    Ir,
    /// A relocatable object.
    Object,
    /// A static archive.
    Archive,
}

impl FileKind {
    /// Classifies `path` by extension (`lang` overrides the language of sources).
    pub fn of(path: &Path, lang: Option<Lang>) -> Option<FileKind> {
        let ext = path.extension()?.to_str()?;
        Some(match ext {
            "c" => FileKind::Source(lang.unwrap_or(Lang::C)),
            "cc" | "cpp" | "cxx" | "c++" | "C" => FileKind::Source(lang.unwrap_or(Lang::Cxx)),
            "ll" | "bc" => FileKind::Ir,
            "o" | "obj" => FileKind::Object,
            "a" => FileKind::Archive,
            _ => return None,
        })
    }
}
