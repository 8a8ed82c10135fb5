//! Libraries named on the command line (`-lNAME`, `--dlopen LIB`, `%lib LIB`), found as GNU
//! ld finds them.
//!
//! `-lNAME` searches the `-L` directories, then the system's library directories for the
//! executor's target (ld's `SEARCH_DIR`s on Debian: `/usr/local/lib/<tuple>`, `/lib/<tuple>`,
//! `/usr/lib/<tuple>`, then `lib64` and `lib` directories, or the cross sysroot
//! `/usr/<tuple>/lib` for another architecture), taking in each directory `libNAME.so` before
//! `libNAME.a`, as ld does without `-static`. A `.so` that is a GNU ld script (glibc's
//! `libm.so`, `libc.so`) is read: its `GROUP`, `INPUT` and `AS_NEEDED` entries are found in
//! turn (absolute paths, `=`-prefixed sysroot paths, `-lNAME`, or names in the script's folder
//! and the search path). What comes out is a list of shared objects for the executor to load and
//! archives or objects to link; `AS_NEEDED` shared objects are loaded too, but failing to load
//! one is not an error.
//!
//! Shared objects are named to the executor by path when it runs on this machine's
//! architecture, and by file name (their soname, e.g. `libm.so.6`) otherwise, so that its own
//! dynamic loader finds its own copy. Script grammar from the GNU ld manual, "File Commands".

use std::path::{Path, PathBuf};

/// Something a library name stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Library {
    /// A shared object for the executor's dynamic loader.
    Shared {
        /// What to pass to `dlopen` in the executor: a path, or a file name for a target of
        /// another architecture.
        load: String,
        /// Listed under `AS_NEEDED`: loading it may fail without failing the link.
        as_needed: bool,
    },
    /// A static archive to link; members are pulled in as needed.
    Archive(PathBuf),
    /// A relocatable object to link.
    Object(PathBuf),
}

/// Why a library could not be found or read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LibError {
    /// No `libNAME.so` or `libNAME.a` in any search directory.
    #[error(
        "cannot find -l{name}: no lib{name}.so or lib{name}.a in {}{}",
        dirs_list(.searched),
        if *.foreign {
            "; for an executor of another architecture, name the library as its loader knows it \
             (e.g. --dlopen libz.so.1)"
        } else {
            ""
        }
    )]
    NotFound {
        /// The NAME of `-lNAME`.
        name: String,
        /// The directories searched, in order.
        searched: Vec<PathBuf>,
        /// The executor is of another architecture, whose libraries this machine may not have.
        foreign: bool,
    },
    /// A file named by a linker script does not exist.
    #[error("{script}: cannot find {entry}")]
    ScriptEntryMissing {
        /// The script.
        script: PathBuf,
        /// The entry as written.
        entry: String,
    },
    /// A file that is neither a shared object, an archive, an object nor a linker script.
    #[error("{path}: {why}")]
    Unusable {
        /// The file.
        path: PathBuf,
        /// What it is not.
        why: String,
    },
}

fn dirs_list(dirs: &[PathBuf]) -> String {
    if dirs.is_empty() {
        return "no directories".into();
    }
    dirs.iter().map(|d| d.display().to_string()).collect::<Vec<_>>().join(", ")
}

/// Scripts naming scripts: deeper than this is a loop.
const MAX_SCRIPT_DEPTH: usize = 8;

/// Where and how libraries are looked up for one executor.
#[derive(Debug, Clone)]
pub struct Search {
    dirs: Vec<PathBuf>,
    /// Shared objects are loaded by file name rather than by path.
    by_name: bool,
}

impl Search {
    /// The search for an executor whose target triple is `triple`: the `lib_dirs` (`-L`)
    /// first, then the system directories for that target.
    pub fn new(lib_dirs: &[PathBuf], triple: &str) -> Search {
        let native = is_native(triple);
        let mut dirs = lib_dirs.to_vec();
        if let Some(tuple) = multiarch_tuple(triple) {
            for base in ["/usr/local/lib", "/lib", "/usr/lib"] {
                dirs.push(Path::new(base).join(&tuple));
            }
            if native {
                dirs.extend(
                    ["/usr/local/lib64", "/lib64", "/usr/lib64", "/usr/local/lib", "/lib", "/usr/lib"]
                        .map(PathBuf::from),
                );
            } else {
                dirs.push(Path::new("/usr").join(&tuple).join("lib"));
                dirs.push(Path::new("/usr").join(&tuple).join("lib64"));
            }
        }
        Search { dirs, by_name: !native }
    }

    /// The directories searched, in order.
    pub fn dirs(&self) -> &[PathBuf] {
        &self.dirs
    }

    /// What `-lNAME` stands for.
    ///
    /// # Errors
    /// [`LibError::NotFound`], or an error reading what was found.
    pub fn find_l(&self, name: &str) -> Result<Vec<Library>, LibError> {
        let path = self.lookup_l(name).ok_or_else(|| LibError::NotFound {
            name: name.to_owned(),
            searched: self.dirs.clone(),
            foreign: self.by_name,
        })?;
        self.expand(&path, false, 0)
    }

    /// What `--dlopen LIB` stands for: a path or a `.so` name that is a linker script is
    /// expanded; anything else is passed to the executor's loader as it is (it searches its own
    /// paths for a bare name such as `libz.so.1`).
    ///
    /// # Errors
    /// An unreadable script or one naming a missing file.
    pub fn find_dlopen(&self, lib: &str) -> Result<Vec<Library>, LibError> {
        let as_given = || vec![Library::Shared { load: lib.to_owned(), as_needed: false }];
        let path = if lib.contains('/') {
            PathBuf::from(lib)
        } else if lib.ends_with(".so") {
            // A development name like libm.so: the loader cannot use it if it is a script.
            match self.dirs.iter().map(|d| d.join(lib)).find(|p| p.is_file()) {
                Some(p) => p,
                None => return Ok(as_given()),
            }
        } else {
            return Ok(as_given());
        };
        match classify(&path) {
            Ok(Kind::Script(_)) | Ok(Kind::Archive) | Ok(Kind::Object) => self.expand(&path, false, 0),
            // A path that does not exist here may exist in the executor.
            _ => Ok(as_given()),
        }
    }

    fn lookup_l(&self, name: &str) -> Option<PathBuf> {
        // `-l:FILE` names a file exactly, as in ld.
        if let Some(file) = name.strip_prefix(':') {
            return self.dirs.iter().map(|d| d.join(file)).find(|p| p.is_file());
        }
        self.dirs.iter().find_map(|d| {
            [format!("lib{name}.so"), format!("lib{name}.a")]
                .into_iter()
                .map(|f| d.join(f))
                .find(|p| p.is_file())
        })
    }

    fn expand(&self, path: &Path, as_needed: bool, depth: usize) -> Result<Vec<Library>, LibError> {
        let unusable = |why: String| LibError::Unusable { path: path.to_owned(), why };
        match classify(path).map_err(|e| unusable(e.to_string()))? {
            Kind::Shared => Ok(vec![Library::Shared { load: self.load_name(path), as_needed }]),
            Kind::Archive => Ok(vec![Library::Archive(path.to_owned())]),
            Kind::Object => Ok(vec![Library::Object(path.to_owned())]),
            Kind::Script(text) => {
                if depth >= MAX_SCRIPT_DEPTH {
                    return Err(unusable("linker scripts nest too deeply (a loop?)".into()));
                }
                let entries = parse_script(&text).map_err(unusable)?;
                let mut out = Vec::new();
                for e in entries {
                    let found = if let Some(name) = e.name.strip_prefix("-l") {
                        self.lookup_l(name)
                    } else {
                        self.script_entry(path, &e.name)
                    };
                    let found = found.ok_or_else(|| LibError::ScriptEntryMissing {
                        script: path.to_owned(),
                        entry: e.name.clone(),
                    })?;
                    out.extend(self.expand(&found, as_needed || e.as_needed, depth + 1)?);
                }
                Ok(out)
            }
        }
    }

    /// A file named in a script: absolute (with `=` meaning the sysroot, here `/`), else in
    /// the script's folder, else in the search directories.
    fn script_entry(&self, script: &Path, name: &str) -> Option<PathBuf> {
        let name = name.strip_prefix('=').unwrap_or(name);
        let p = Path::new(name);
        if p.is_absolute() {
            return p.is_file().then(|| p.to_owned());
        }
        script
            .parent()
            .map(|d| d.join(p))
            .into_iter()
            .chain(self.dirs.iter().map(|d| d.join(p)))
            .find(|c| c.is_file())
    }

    /// What the executor's `dlopen` gets for the shared object at `path`: the path itself on
    /// this machine's architecture; otherwise the object's `DT_SONAME` (a development name
    /// such as `libm.so` is a symlink the target may not have, its soname `libm.so.6` is
    /// what the target's loader knows), or its file name without one.
    fn load_name(&self, path: &Path) -> String {
        if !self.by_name {
            return path.display().to_string();
        }
        soname(path).unwrap_or_else(|| {
            path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned())
        })
    }
}

/// The `DT_SONAME` of the 64-bit ELF shared object at `path`, if it has one.
fn soname(path: &Path) -> Option<String> {
    use object::read::elf::{Dyn, ElfFile64};
    let data = std::fs::read(path).ok()?;
    let file = ElfFile64::<object::Endianness>::parse(&*data).ok()?;
    let endian = file.endian();
    let sections = file.elf_section_table();
    let (dynamic, strings_index) = sections.dynamic(endian, &*data).ok().flatten()?;
    let strings = sections.strings(endian, &*data, strings_index).ok()?;
    let entry = dynamic.iter().find(|d| d.d_tag(endian) == object::elf::DT_SONAME)?;
    entry.string(endian, strings).ok().map(|b| String::from_utf8_lossy(b).into_owned())
}

/// What a file found for a library is.
#[derive(Debug)]
enum Kind {
    Shared,
    Archive,
    Object,
    Script(String),
}

fn classify(path: &Path) -> std::io::Result<Kind> {
    use std::io::Read;
    let mut head = [0u8; 18];
    let mut f = std::fs::File::open(path)?;
    let n = f.read(&mut head)?;
    if n >= 18 && head.starts_with(b"\x7fELF") {
        // e_type, in the file's byte order (EI_DATA: 1 little, 2 big).
        let e_type = if head[5] == 2 {
            u16::from_be_bytes([head[16], head[17]])
        } else {
            u16::from_le_bytes([head[16], head[17]])
        };
        return match e_type {
            3 => Ok(Kind::Shared),
            1 => Ok(Kind::Object),
            t => Err(std::io::Error::other(format!(
                "an ELF file of type {t}, not a shared object or an object"
            ))),
        };
    }
    if head[..n].starts_with(b"!<arch>\n") || head[..n].starts_with(b"!<thin>\n") {
        return Ok(Kind::Archive);
    }
    let mut text = head[..n].to_vec();
    f.take(1 << 20).read_to_end(&mut text)?;
    match String::from_utf8(text) {
        Ok(t) if !t.contains('\0') => Ok(Kind::Script(t)),
        _ => Err(std::io::Error::other("neither a shared object, an archive, an object nor a linker script")),
    }
}

/// One input a linker script names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptEntry {
    /// A path or `-lNAME`, as written.
    pub name: String,
    /// Inside `AS_NEEDED ( … )`.
    pub as_needed: bool,
}

/// The inputs a GNU ld script names in `GROUP`, `INPUT` and `AS_NEEDED`, in order. Other
/// commands (`OUTPUT_FORMAT`, `SEARCH_DIR`, …) are skipped; comments and quotes are
/// understood.
///
/// # Errors
/// Unbalanced parentheses or an unterminated comment or quote: not a linker script.
pub fn parse_script(text: &str) -> Result<Vec<ScriptEntry>, String> {
    let tokens = tokenize(text)?;
    let mut out = Vec::new();
    let mut i = 0;
    // (command name, as_needed) for each open parenthesis.
    let mut stack: Vec<(String, bool)> = Vec::new();
    let mut last_word = String::new();
    while i < tokens.len() {
        let t = &tokens[i];
        match t.as_str() {
            "(" => {
                let outer_needed = stack.last().is_some_and(|(_, n)| *n);
                stack.push((last_word.clone(), outer_needed || last_word == "AS_NEEDED"));
                last_word.clear();
            }
            ")" => {
                stack.pop().ok_or("unbalanced ')'")?;
                last_word.clear();
            }
            "," | ";" => {}
            word => {
                let inside_inputs = stack.iter().any(|(cmd, _)| matches!(cmd.as_str(), "GROUP" | "INPUT"));
                let is_command = tokens.get(i + 1).is_some_and(|n| n == "(");
                if inside_inputs && !is_command {
                    out.push(ScriptEntry {
                        name: word.to_owned(),
                        as_needed: stack.last().is_some_and(|(_, n)| *n),
                    });
                }
                last_word = word.to_owned();
            }
        }
        i += 1;
    }
    if !stack.is_empty() {
        return Err("unbalanced '('".into());
    }
    if out.is_empty() && !tokens.iter().any(|t| t == "GROUP" || t == "INPUT") {
        return Err("not a linker script naming any input (no GROUP or INPUT)".into());
    }
    Ok(out)
}

fn tokenize(text: &str) -> Result<Vec<String>, String> {
    let mut tokens = Vec::new();
    let mut chars = text.chars().peekable();
    let mut word = String::new();
    let flush = |word: &mut String, tokens: &mut Vec<String>| {
        if !word.is_empty() {
            tokens.push(std::mem::take(word));
        }
    };
    while let Some(c) = chars.next() {
        match c {
            '/' if chars.peek() == Some(&'*') => {
                flush(&mut word, &mut tokens);
                chars.next();
                let mut prev = ' ';
                loop {
                    let Some(c) = chars.next() else { return Err("unterminated comment".into()) };
                    if prev == '*' && c == '/' {
                        break;
                    }
                    prev = c;
                }
            }
            '"' => {
                flush(&mut word, &mut tokens);
                let mut quoted = String::new();
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some(c) => quoted.push(c),
                        None => return Err("unterminated quote".into()),
                    }
                }
                tokens.push(quoted);
            }
            '(' | ')' | ',' | ';' => {
                flush(&mut word, &mut tokens);
                tokens.push(c.to_string());
            }
            c if c.is_whitespace() => flush(&mut word, &mut tokens),
            c => word.push(c),
        }
    }
    flush(&mut word, &mut tokens);
    Ok(tokens)
}

/// Debian's multiarch tuple for an LLVM triple (`x86_64-pc-linux-gnu` → `x86_64-linux-gnu`),
/// for Linux targets.
fn multiarch_tuple(triple: &str) -> Option<String> {
    let parts: Vec<&str> = triple.split('-').collect();
    let arch = match *parts.first()? {
        "arm64" => "aarch64",
        a => a,
    };
    let os_pos = parts.iter().position(|p| *p == "linux")?;
    let env = parts.get(os_pos + 1).copied().unwrap_or("gnu");
    Some(format!("{arch}-linux-{env}"))
}

/// True if an executor for `triple` can load this machine's libraries: the same architecture
/// and Linux.
fn is_native(triple: &str) -> bool {
    let arch = triple.split('-').next().unwrap_or("");
    let arch = if arch == "arm64" { "aarch64" } else { arch };
    cfg!(target_os = "linux") && arch == std::env::consts::ARCH && triple.contains("linux")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str, as_needed: bool) -> ScriptEntry {
        ScriptEntry { name: name.into(), as_needed }
    }

    #[test]
    fn glibc_scripts_parse() {
        let libc = "/* GNU ld script\n   Use the shared library, but some functions are only in\n   \
                    the static library, so try that secondarily.  */\nOUTPUT_FORMAT(elf64-x86-64)\n\
                    GROUP ( /lib/x86_64-linux-gnu/libc.so.6 /usr/lib/x86_64-linux-gnu/libc_nonshared.a  \
                    AS_NEEDED ( /lib64/ld-linux-x86-64.so.2 ) )\n";
        assert_eq!(
            parse_script(libc).unwrap(),
            [
                entry("/lib/x86_64-linux-gnu/libc.so.6", false),
                entry("/usr/lib/x86_64-linux-gnu/libc_nonshared.a", false),
                entry("/lib64/ld-linux-x86-64.so.2", true),
            ]
        );
        assert_eq!(
            parse_script("INPUT(-lfoo, \"bar baz.a\")\nSEARCH_DIR(/opt)").unwrap(),
            [entry("-lfoo", false), entry("bar baz.a", false)]
        );
        assert!(parse_script("GROUP ( a").is_err());
        assert!(parse_script("/* open").is_err());
        assert!(parse_script("just some text").is_err());
    }

    #[test]
    fn libm_is_found_through_its_script_as_ld_finds_it() {
        let search = Search::new(&[], "x86_64-pc-linux-gnu");
        if !Path::new("/usr/lib/x86_64-linux-gnu/libm.so").exists() {
            return; // Not a Debian x86-64 machine.
        }
        let libs = search.find_l("m").unwrap();
        assert!(
            libs.iter().any(
                |l| matches!(l, Library::Shared { load, as_needed: false } if load.ends_with("libm.so.6"))
            ),
            "{libs:?}"
        );
        // glibc 2.34+ keeps empty libpthread.a/libdl.a for old build scripts: ld takes those.
        for name in ["pthread", "dl", "rt"] {
            let found = search.find_l(name).unwrap();
            assert!(
                matches!(&found[..], [Library::Archive(_)] | [Library::Shared { .. }]),
                "{name}: {found:?}"
            );
        }
        let err = search.find_l("surely_not_a_library").unwrap_err().to_string();
        assert!(
            err.starts_with("cannot find -lsurely_not_a_library: no libsurely_not_a_library.so"),
            "{err}"
        );
        assert!(err.contains("/usr/lib/x86_64-linux-gnu"), "{err}");
        // For an aarch64 executor, the same script names libm.so.6 by file name.
        let cross = Search::new(&[], "aarch64-unknown-linux-gnu");
        assert!(cross.dirs().iter().any(|d| d.ends_with("aarch64-linux-gnu/lib")));
        assert_eq!(cross.load_name(Path::new("/usr/aarch64-linux-gnu/lib/libm.so.6")), "libm.so.6");
        if Path::new("/usr/aarch64-linux-gnu/lib/libm.so").exists() {
            // The cross sysroot's development symlink, named by its soname.
            assert_eq!(
                cross.find_l("m").unwrap(),
                [Library::Shared { load: "libm.so.6".into(), as_needed: false }]
            );
        }
        assert_eq!(
            search.find_dlopen("libz.so.1").unwrap(),
            [Library::Shared { load: "libz.so.1".into(), as_needed: false }]
        );
        let libm = search.find_dlopen("libm.so").unwrap();
        assert!(matches!(&libm[0], Library::Shared { load, .. } if load.ends_with("libm.so.6")), "{libm:?}");
    }

    #[test]
    fn multiarch_tuples() {
        assert_eq!(multiarch_tuple("x86_64-pc-linux-gnu").as_deref(), Some("x86_64-linux-gnu"));
        assert_eq!(multiarch_tuple("aarch64-unknown-linux-gnu").as_deref(), Some("aarch64-linux-gnu"));
        assert_eq!(multiarch_tuple("arm64-apple-ios14.0"), None);
    }
}
