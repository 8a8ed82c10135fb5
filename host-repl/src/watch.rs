//! `repl --watch FILE...`: runs a program and reloads each file into it when the file is
//! saved (hot reload).
//!
//! The files are linked as one unit and `main` runs as with `repl FILE...`, except that the
//! call that runs it is not waited for: the session goes on while the program runs (the
//! executor runs each call on a thread of its own). The files' strong global definitions are
//! redefinable ([`Jit::set_redefinable`]): every call and GOT load of such a name goes
//! through a rebind entry. A saved file is compiled again (through the object cache: going
//! back to an earlier version compiles nothing) and loaded as a unit of its own that
//! redefines its functions, whose finalize request first points every rebind entry at the new
//! definitions, so a running loop calls the new code at its next call. Its variables that the
//! session has already are not defined again ([`Jit::set_keep_data`]): the new code uses the
//! existing storage and values (for `static` variables, while their data section keeps its
//! layout); variables new to the file are added, with their static initial values. Static constructors of a reloaded file do not run
//! ([`Initializers::Skipped`]): they would initialise kept variables again and register their
//! destructors twice.
//!
//! A replaced unit stays loaded: a thread may be inside one of its functions (the program's
//! loop is, for the whole run, in the first unit), and nothing tells when none is. So the
//! executor memory of a watch grows by the size of each reloaded file's unit, and by nothing
//! else (`-v` logs each unit's size).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use notify::event::{AccessKind, AccessMode};
use notify::{EventKind, RecursiveMode, Watcher};
use repl_front::interrupt::{self, Interrupts};

use crate::cli::{Cli, exit_code_of_main, load_program, main_argv, read_input, start_jit};
use crate::compile::Lang;
use crate::epc::{SentCall, SessionError};
use crate::jit::{Initializers, Jit, JitError};
use crate::link::{Input, LinkedUnit, SegmentKind};
use crate::stdio::StdinFeed;

/// How long the files must stay quiet after a change before they are reloaded: a save is a
/// burst of events (truncate, writes, close; or a new file renamed over the old one).
const DEBOUNCE: Duration = Duration::from_millis(50);

/// A file being watched.
#[derive(Debug)]
struct Watched {
    /// As given on the command line (compiled and named in messages this way).
    path: PathBuf,
    /// The canonical folder joined with the file name: what the folder's events name.
    key: PathBuf,
    /// The content of the version loaded, to skip events that changed nothing.
    loaded: Vec<u8>,
}

/// Runs `cli.files` in the executor, reloading each one on every save, until `main` returns
/// (the exit code is then its status, as with `repl FILE`), or until Ctrl-C or SIGTERM
/// (128 + the signal) ends the watch and the session; with `--no-main`, only the latter.
///
/// # Errors
/// The files do not compile or link at the start, there is no `main` (without
/// `--no-main`), the files cannot be watched, the executor cannot be reached.
pub async fn run(cli: Cli, mut interrupts: Interrupts) -> Result<ExitCode> {
    let mark = interrupt::mark();
    let mut sigterm = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("cannot watch for SIGTERM")?;
    let (mut jit, mut forwarding) = start_jit(&cli, false, None).await?;
    let triple = jit.session().info().target_triple.clone();
    let mut files = Vec::new();
    for path in &cli.files {
        files.push(Watched {
            key: watch_key(path)?,
            loaded: std::fs::read(path).with_context(|| format!("{}: cannot read it", path.display()))?,
            path: path.clone(),
        });
    }
    // Watched from before their first compile: an edit made meanwhile is reloaded at once.
    let (tx, mut events) = tokio::sync::mpsc::unbounded_channel();
    let mut watcher = notify::recommended_watcher(move |e| _ = tx.send(e)).context("cannot watch files")?;
    let folders: BTreeSet<&Path> = files.iter().filter_map(|f| f.key.parent()).collect();
    for folder in folders {
        watcher
            .watch(folder, RecursiveMode::NonRecursive)
            .with_context(|| format!("cannot watch {}", folder.display()))?;
    }
    let compiler = Compiler::new(&cli, triple);
    let paths: Vec<&Path> = files.iter().map(|f| f.path.as_path()).collect();
    let inputs = tokio::task::block_in_place(|| compiler.compile_all(&paths))
        .into_iter()
        .collect::<Result<Vec<Input>>>()?;
    // The session runtime in a unit of its own, which the files cannot redefine.
    jit.load(Vec::new()).await?;
    jit.set_redefinable(true);
    let stdin_is_ours = load_program(&cli, &mut jit, &mut forwarding, inputs).await?;
    jit.set_keep_data(true);
    let mut main = if cli.no_main {
        None
    } else {
        if jit.lookup("main").is_none() {
            bail!("no function main is defined in the files (--no-main loads their definitions only)");
        }
        Some(jit.start_main(&main_argv(&cli)).await?)
    };
    // As with `repl FILE`: a program whose executor's stdio is forwarded reads our stdin
    // (never asked for with --no-main).
    let mut stdin = if stdin_is_ours { StdinFeed::start(jit.session()) } else { StdinFeed::off() };

    // Changed files wait until their events have stopped for DEBOUNCE; events of other
    // files in the same folders (a log being written there) do not hold them back.
    let mut changed = BTreeSet::new();
    let mut quiet_at: Option<tokio::time::Instant> = None;
    loop {
        tokio::select! {
            answer = main_answer(&mut main) => {
                let result = jit.main_result(answer).await;
                return exit_code_of_main(jit, result).await;
            }
            chunk = stdin.next() => stdin.send(jit.session(), chunk).await,
            Some(event) = events.recv() => {
                if note(&files, event, &mut changed) {
                    quiet_at = Some(tokio::time::Instant::now() + DEBOUNCE);
                }
            }
            () = tokio::time::sleep_until(quiet_at.unwrap_or_else(tokio::time::Instant::now)), if quiet_at.is_some() => {
                quiet_at = None;
                let batch = std::mem::take(&mut changed);
                if let Err(e) = reload(&mut jit, &mut files, &batch, &compiler).await {
                    let why = jit.session().end_reason().await.unwrap_or_else(|| e.to_string());
                    bail!("the executor is gone: {why}");
                }
            }
            () = interrupts.since(mark) => return end(jit, "interrupted", libc::SIGINT).await,
            _ = sigterm.recv() => return end(jit, "terminated", libc::SIGTERM).await,
        }
    }
}

/// The answer of the call running `main`; never, with none.
async fn main_answer(call: &mut Option<SentCall>) -> Result<Bytes, SessionError> {
    match call {
        Some(call) => call.result().await,
        None => std::future::pending().await,
    }
}

/// Ends the watch on signal `signal`: the session ends (an executor we launched exits, and
/// is killed if the program does not let it), and the exit code is 128 + the signal, as
/// shells report.
async fn end(jit: Jit, how: &str, signal: i32) -> Result<ExitCode> {
    eprintln!("repl: {how}");
    jit.close().await;
    Ok(ExitCode::from(128 + signal as u8))
}

/// Where `path`'s changes are reported: its canonical folder joined with its name.
fn watch_key(path: &Path) -> Result<PathBuf> {
    let name = path.file_name().with_context(|| format!("{}: not a file", path.display()))?;
    let folder = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let folder = folder.canonicalize().with_context(|| format!("{}: no such folder", folder.display()))?;
    Ok(folder.join(name))
}

/// Adds to `changed` the indices of the watched files that `event` may have changed; true if
/// there were any.
fn note(files: &[Watched], event: notify::Result<notify::Event>, changed: &mut BTreeSet<usize>) -> bool {
    let event = match event {
        Ok(e) => e,
        Err(e) => {
            tracing::warn!("watching files: {e}");
            return false;
        }
    };
    // Reading a file (ours, to compile it) changes nothing; closing one written may.
    if matches!(event.kind, EventKind::Access(a) if a != AccessKind::Close(AccessMode::Write)) {
        return false;
    }
    let mut ours = false;
    for i in event.paths.iter().filter_map(|p| files.iter().position(|f| &f.key == p)) {
        changed.insert(i);
        ours = true;
    }
    ours
}

/// How the watched files are compiled.
#[derive(Debug)]
struct Compiler {
    lang: Option<Lang>,
    triple: String,
    /// clang's arguments: `-fsemantic-interposition`, then the user's (`-Xcc`, which can
    /// turn it off).
    args: Vec<String>,
}

impl Compiler {
    /// Compiles as the command line says, for `triple`. Every function of a watched file may
    /// be replaced, as a shared library's may be interposed: so clang must not inline one
    /// into another, or bind a call in the same file to it (which `-O1` and above do with
    /// `-fPIC` alone), or a reload would not reach those callers.
    fn new(cli: &Cli, triple: String) -> Compiler {
        let args =
            std::iter::once("-fsemantic-interposition".to_owned()).chain(cli.xcc.iter().cloned()).collect();
        Compiler { lang: cli.lang, triple, args }
    }

    /// Compiles (or reads) each of `paths`, on a thread each.
    fn compile_all(&self, paths: &[&Path]) -> Vec<Result<Input>> {
        std::thread::scope(|s| {
            let threads: Vec<_> = paths
                .iter()
                .map(|&p| s.spawn(move || read_input(p, self.lang, &self.triple, &self.args)))
                .collect();
            threads
                .into_iter()
                .map(|t| t.join().unwrap_or_else(|_| Err(anyhow::anyhow!("compiling panicked"))))
                .collect()
        })
    }
}

/// Reloads the files `changed` whose content differs from the version loaded: compiles them
/// in parallel, then loads each as a unit of its own and prints what changed. A file that
/// does not compile or link is reported, and its loaded version runs on.
///
/// # Errors
/// Only when the session is lost.
async fn reload(
    jit: &mut Jit,
    files: &mut [Watched],
    changed: &BTreeSet<usize>,
    compiler: &Compiler,
) -> Result<(), JitError> {
    let start = Instant::now();
    // A file being replaced may be missing for a moment: its next event brings it back.
    let edited: Vec<(usize, Vec<u8>)> = changed
        .iter()
        .filter_map(|&i| std::fs::read(&files[i].path).ok().map(|text| (i, text)))
        .filter(|(i, text)| *text != files[*i].loaded)
        .collect();
    if edited.is_empty() {
        return Ok(());
    }
    let paths: Vec<&Path> = edited.iter().map(|&(i, _)| files[i].path.as_path()).collect();
    let compiled = tokio::task::block_in_place(|| compiler.compile_all(&paths));
    for ((i, text), object) in edited.into_iter().zip(compiled) {
        let name = files[i].path.display().to_string();
        let input = match object {
            Ok(input) => input,
            Err(e) => {
                eprintln!("{e:#}");
                eprintln!("repl: {name} does not compile; the code loaded before runs on");
                continue;
            }
        };
        match jit.load_with(vec![input], Initializers::Skipped).await {
            Ok((unit, report)) => {
                files[i].loaded = text;
                eprintln!(
                    "repl: reloaded {name} in {} ms ({})",
                    start.elapsed().as_millis(),
                    what_changed(jit, &unit)
                );
                tracing::info!(
                    "{name}: unit {} takes {} bytes of executor memory; variables kept: {}",
                    unit.id,
                    report.memory,
                    unit.kept_data.join(", ")
                );
            }
            Err(JitError::Session(e)) => return Err(JitError::Session(e)),
            Err(e) => eprintln!("repl: {name} was not reloaded: {e}; the code loaded before runs on"),
        }
    }
    Ok(())
}

/// What loading `unit` changed in the session, in words: functions and constants it defined
/// again, and functions and variables it added.
fn what_changed(jit: &Jit, unit: &LinkedUnit) -> String {
    let in_code = |a: u64| {
        unit.segments.iter().any(|s| s.kind == SegmentKind::RX && s.addr <= a && a < s.addr + s.size)
    };
    // (redefined, new) functions, (redefined, new) variables: those redefined are constants,
    // the others are kept.
    let mut counts = [[0; 2]; 2];
    for (name, sym) in &unit.symbols {
        let defs = jit.dylib().definitions(name);
        // A weak definition the session had a strong one of was not taken.
        if defs.last().is_none_or(|d| d.unit != unit.id) {
            continue;
        }
        let code = sym.tls.is_none() && in_code(sym.addr);
        counts[usize::from(!code)][usize::from(defs.len() == 1)] += 1;
    }
    let [[functions, new_functions], [constants, new_variables]] = counts;
    let parts: Vec<String> = [
        (functions, "function", " redefined"),
        (new_functions, "new function", ""),
        (constants, "constant", " redefined"),
        (new_variables, "new variable", ""),
    ]
    .into_iter()
    .filter(|&(n, ..)| n > 0)
    .map(|(n, what, how)| format!("{n} {what}{}{how}", if n == 1 { "" } else { "s" }))
    .collect();
    if parts.is_empty() { "no function or variable changed".to_owned() } else { parts.join(", ") }
}
