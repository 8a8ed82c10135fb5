//! The program corpus in `programs/repl/` (see its MANIFEST): C and C++ programs with their
//! arguments and expected exit status, run by the program tests of every target.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::{llvm_tool, programs_dir, run};

/// One program of the corpus.
#[derive(Debug, Clone)]
pub struct Program {
    /// Its name in the MANIFEST.
    pub name: String,
    /// Source files.
    pub sources: Vec<PathBuf>,
    /// Arguments of `main`.
    pub args: Vec<String>,
    /// Expected exit status.
    pub exit: i32,
    /// C++ (else C).
    pub cxx: bool,
    /// Uses threads (`-pthread` when linked natively).
    pub threads: bool,
    /// Sources of a static archive linked with it.
    pub archive: Vec<PathBuf>,
}

/// Reads `programs/repl/MANIFEST` (tab-separated: name, sources, arguments or `-`, exit
/// status, flags `cxx`, `threads`, `archive:a.c+b.c`).
///
/// # Panics
/// If the MANIFEST is missing or malformed.
pub fn manifest() -> Vec<Program> {
    let dir = programs_dir().join("repl");
    let text = std::fs::read_to_string(dir.join("MANIFEST")).expect("MANIFEST");
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let c: Vec<&str> = l.split('\t').collect();
            let sources: Vec<PathBuf> = c[1].split(',').map(|s| dir.join(s)).collect();
            let flags: Vec<&str> = c[4].split(',').collect();
            let archive = flags
                .iter()
                .find_map(|f| f.strip_prefix("archive:"))
                .map(|m| {
                    let base = sources[0].parent().expect("dir").to_path_buf();
                    m.split('+').map(|x| base.join(x)).collect()
                })
                .unwrap_or_default();
            Program {
                name: c[0].to_owned(),
                args: if c[2] == "-" { vec![] } else { c[2].split(' ').map(str::to_owned).collect() },
                exit: c[3].parse().expect("exit status"),
                cxx: flags.contains(&"cxx"),
                threads: flags.contains(&"threads"),
                sources,
                archive,
            }
        })
        .collect()
}

impl Program {
    /// The objects of the program, each source compiled by `compile` into `dir`, then the
    /// archive of its `archive` sources (`libmembers.a`, by llvm-ar), last.
    ///
    /// # Panics
    /// If llvm-ar fails.
    pub fn objects(&self, dir: &Path, compile: impl Fn(&Path) -> PathBuf) -> Vec<PathBuf> {
        let mut objs: Vec<PathBuf> = self.sources.iter().map(|s| compile(s)).collect();
        if !self.archive.is_empty() {
            let members: Vec<PathBuf> = self.archive.iter().map(|s| compile(s)).collect();
            let lib = dir.join("libmembers.a");
            let o = run(Command::new(llvm_tool("llvm-ar")).arg("rcs").arg(&lib).args(&members), 60);
            assert!(o.status.success(), "llvm-ar: {}", String::from_utf8_lossy(&o.stderr));
            objs.push(lib);
        }
        objs
    }

    /// A problem report if the native build's run did not exit as the MANIFEST says (the
    /// reference itself is wrong, so comparing with it means nothing).
    pub fn native_mismatch(&self, opt: &str, native: &Output) -> Option<String> {
        (native.status.code() != Some(self.exit)).then(|| {
            format!("{} {opt}: native exit {:?} != MANIFEST {}", self.name, native.status.code(), self.exit)
        })
    }
}
