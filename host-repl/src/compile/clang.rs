//! C and C++ through clang 22 in process (the `orcbridge-clang` shim), for the executor's
//! target triple.
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

fn options(lang: Lang, triple: &str, args: &[String]) -> Options {
    let lang = match lang {
        Lang::C => orcbridge_clang::Lang::C,
        Lang::Cxx => orcbridge_clang::Lang::Cxx,
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
///
/// # Errors
/// [`CompileError`] with clang's diagnostics.
pub fn compile(path: &Path, lang: Lang, triple: &str, args: &[String]) -> Result<Vec<u8>, CompileError> {
    finish(compile_file(path, &options(lang, triple, args)))
}

/// Compiles source text `code`, named `name` in diagnostics.
///
/// # Errors
/// As [`compile`].
pub fn compile_text(
    name: &str,
    code: &str,
    lang: Lang,
    triple: &str,
    args: &[String],
) -> Result<Vec<u8>, CompileError> {
    finish(compile_source(name, code, &options(lang, triple, args)))
}

/// As [`compile_text`], through the object cache, so an
/// unchanged input compiles once (the session runtime above all).
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
    // The whole command line, so a changed default of the compiler changes the key.
    let command = orcbridge_clang::compile_args(&options(lang, triple, args), name).join("\0");
    let key = super::cache::key(&[
        env!("CARGO_PKG_VERSION").as_bytes(),
        orcbridge_clang::CLANG_VERSION.as_bytes(),
        command.as_bytes(),
        code.as_bytes(),
    ]);
    super::cache::get_or_insert(&key, || compile_text(name, code, lang, triple, args))
}
