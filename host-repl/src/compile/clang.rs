//! C, C++ and LLVM IR through clang 22 in process (the `orcbridge-clang` shim), for the
//! executor's target triple.
//!
//! Objects are position-independent (`-fPIC`): external data and functions are reached
//! through the GOT, and thread-locals use the general-dynamic model, which is what JIT'd code
//! needs (its memory is not within 2 GiB of the libraries, and it cannot use the static TLS
//! block).

use std::path::Path;

use orcbridge_clang::{Options, compile_file, compile_source};

use super::Lang;

/// A failed compilation: clang's diagnostics.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{diagnostics}")]
pub struct CompileError {
    /// Clang's output, with source lines and carets.
    pub diagnostics: String,
}

/// What clang takes a source as: a source language of the REPL, or LLVM IR (text or bitcode;
/// as `clang -c x.ll`, `-O` above 0 optimises the module before code generation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Language {
    /// C.
    C,
    /// C++.
    Cxx,
    /// LLVM IR.
    Ir,
}

impl From<Lang> for Language {
    fn from(lang: Lang) -> Language {
        match lang {
            Lang::C => Language::C,
            Lang::Cxx => Language::Cxx,
        }
    }
}

/// The shim's options for compiling `language` for `triple` with extra clang arguments `args`.
pub(crate) fn options(language: Language, triple: &str, args: &[String]) -> Options {
    let lang = match language {
        Language::C => orcbridge_clang::Lang::C,
        Language::Cxx => orcbridge_clang::Lang::Cxx,
        Language::Ir => orcbridge_clang::Lang::Ir,
    };
    Options { triple: triple.to_owned(), lang, args: args.to_vec() }
}

fn finish(r: Result<orcbridge_clang::Object, orcbridge_clang::Diagnostics>) -> Result<Vec<u8>, CompileError> {
    match r {
        Ok(obj) => {
            if !obj.warnings.is_empty() {
                eprint!("{}", obj.warnings);
            }
            Ok(obj.bytes)
        }
        Err(d) => Err(CompileError { diagnostics: d.text }),
    }
}

/// Compiles the file `path` for `triple` with extra clang arguments `args`.
fn compile(path: &Path, lang: Language, triple: &str, args: &[String]) -> Result<Vec<u8>, CompileError> {
    finish(compile_file(path, &options(lang, triple, args)))
}

/// Compiles source text `code`, named `name` in diagnostics.
fn compile_text(
    name: &str,
    code: &str,
    lang: Language,
    triple: &str,
    args: &[String],
) -> Result<Vec<u8>, CompileError> {
    finish(compile_source(name, code, &options(lang, triple, args)))
}

/// Compiles source text `code`, named `name` in diagnostics, through the object cache, so an
/// unchanged input compiles once (the session runtime above all).
///
/// # Errors
/// [`CompileError`] with clang's diagnostics.
pub fn compile_cached(
    name: &str,
    code: &str,
    lang: Language,
    triple: &str,
    args: &[String],
) -> Result<Vec<u8>, CompileError> {
    let key = cache_key(name, lang, triple, args, &[code.as_bytes()]);
    super::cache::get_or_insert(&key, || compile_text(name, code, lang, triple, args))
}

/// The object cache's key for compiling `name` with these options: this program's, clang's
/// and the shim's versions, the whole command line (so a changed default of the compiler changes the key),
/// then `rest`, what else decides the object (the source).
fn cache_key(name: &str, lang: Language, triple: &str, args: &[String], rest: &[&[u8]]) -> String {
    let command = orcbridge_clang::compile_args(&options(lang, triple, args), name).join("\0");
    let mut parts: Vec<&[u8]> = vec![
        env!("CARGO_PKG_VERSION").as_bytes(),
        orcbridge_clang::CLANG_VERSION.as_bytes(),
        orcbridge_clang::SHIM_BUILD.as_bytes(),
        command.as_bytes(),
    ];
    parts.extend_from_slice(rest);
    super::cache::key(&parts)
}

/// What [`compile_cached_with_deps`] compiles.
#[derive(Debug, Clone, Copy)]
pub enum Source<'a> {
    /// A file on disk.
    File(&'a Path),
    /// Source text, named `name` in diagnostics (`-e` code).
    Text {
        /// The name.
        name: &'a str,
        /// The text.
        code: &'a str,
    },
}

/// Compiles a file or source text, through the object cache, keyed by the command, the
/// current directory, the source, and the content of every file clang read for it (headers,
/// including system ones): an unchanged source whose headers did not change is not compiled
/// again, and an edited header makes every source that includes it compile again
/// (the cache's manifests, [`super::cache`]). Warnings show when the source is compiled,
/// not when its object comes from the cache.
///
/// # Errors
/// [`CompileError`] with clang's diagnostics.
pub fn compile_cached_with_deps(
    source: Source<'_>,
    lang: Language,
    triple: &str,
    args: &[String],
) -> Result<Vec<u8>, CompileError> {
    let (name, text) = match source {
        Source::File(path) => match (path.to_str(), std::fs::read(path)) {
            (Some(name), Ok(text)) => (name.to_owned(), text),
            // Unreadable or not UTF-8 named: clang says what is wrong.
            _ => return compile(path, lang, triple, args),
        },
        Source::Text { name, code } => (name.to_owned(), code.as_bytes().to_vec()),
    };
    let cwd = std::env::current_dir().unwrap_or_default();
    let key = cache_key(&name, lang, triple, args, &[cwd.as_os_str().as_encoded_bytes(), &text]);
    super::cache::get_or_insert_with_deps(&key, || {
        let started = std::time::Instant::now();
        // clang writes the files it read as a Makefile rule (-MD: system headers too). IR
        // includes nothing (and clang warns that -MD goes unused).
        let depdir =
            tempfile::tempdir().map_err(|e| CompileError { diagnostics: format!("error: {e}\n") })?;
        let depfile = depdir.path().join("deps.d");
        let mut with_deps = args.to_vec();
        if lang != Language::Ir {
            with_deps.extend(["-MD".to_owned(), "-MF".to_owned(), depfile.display().to_string()]);
        }
        let object = match source {
            Source::File(path) => compile(path, lang, triple, &with_deps)?,
            Source::Text { name, code } => compile_text(name, code, lang, triple, &with_deps)?,
        };
        tracing::info!("{name}: compiled in {} ms", started.elapsed().as_millis());
        // The source itself is in the key already (text has no file).
        let deps =
            std::fs::read_to_string(&depfile).map(|d| super::cache::parse_depfile(&d)).unwrap_or_default();
        let deps = deps.into_iter().filter(|d| d.as_os_str() != name.as_str()).collect();
        Ok((object, deps))
    })
    .map(|(object, origin)| {
        if origin == super::cache::Origin::Cache {
            tracing::info!("{name}: unchanged, with the files it includes; nothing compiled (object cache)");
        }
        object
    })
}
