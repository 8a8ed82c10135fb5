//! What the `repl` command line does (its flags are [`Cli`], in `repl_front`), run by
//! `repl-jit`.

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, bail};
pub use repl_front::args::Cli;
use repl_front::input::{each_input, edit_loop, line_editor, script};

use crate::compile::{self, FileKind, Lang};
use crate::completion::ReplHelper;
use crate::epc::{Session, Transport};
use crate::interrupt::Interrupts;
use crate::jit::{Initializers, Jit};
use crate::libs::Search;
use crate::link::Input;
use crate::repl::{InputLines, Outcome, Repl};
use crate::stdio::{Forwarding, OutputSink};

/// Runs the command line; the exit code is the program's (files) or 0/1 (REPL: whether every
/// input compiled and ran).
///
/// # Errors
/// Anything that stops the program from running, with context.
pub fn run(cli: Cli) -> Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    if let Some(name) = cli.session_serve.clone() {
        return crate::session_server::serve(&runtime, cli, &name);
    }
    let mut interrupts = {
        let _in_runtime = runtime.enter();
        Interrupts::new().context("cannot watch for Ctrl-C")?
    };
    if cli.files.is_empty() {
        return run_repl(&runtime, cli, interrupts);
    }
    if cli.watch {
        return runtime.block_on(crate::watch::run(cli, interrupts));
    }
    // A program run from files ends on Ctrl-C as a native one would; dropping the run kills
    // an executor we launched.
    runtime.block_on(async {
        tokio::select! {
            r = run_files(cli) => r,
            () = interrupts.since(0) => {
                eprintln!("repl: interrupted");
                Ok(ExitCode::from(128 + libc::SIGINT as u8))
            }
        }
    })
}

/// How long repl waits for an executor's Setup message.
const SETUP_TIMEOUT: Duration = Duration::from_secs(5);

/// Connects to the executor the options name, and asks for its stdio (not waiting for the
/// answer: [`Forwarding::wait`]). `interactive`: a launched executor gets a process group of
/// its own, so Ctrl-C at the terminal reaches only the REPL. `output`: where the executor's
/// output goes, whatever the transport (the session server); else over TCP it is printed here
/// and a launched executor shares our descriptors.
async fn connect(cli: &Cli, interactive: bool, output: Option<OutputSink>) -> Result<(Session, Forwarding)> {
    let transport = match (&cli.oop_executor_connect, &cli.oop_executor) {
        (Some(addr), _) => {
            let key = cli.key.as_deref().map(orc_rpc::secure::Key::load).transpose()?;
            Transport::connect(addr, Duration::from_secs(10), key.as_ref()).await?
        }
        (None, Some(path)) if !path.is_empty() => Transport::launch(Path::new(path), &[], interactive)?,
        // repl reports what goes wrong in its own words; the executor's log would repeat it.
        _ => {
            let quiet = if cli.verbose == 0 { vec!["-q".to_owned()] } else { vec![] };
            Transport::launch(&bundled_executor()?, &quiet, interactive)?
        }
    };
    let session = Session::start(transport, SETUP_TIMEOUT).await?;
    let forwarding = match output {
        _ if cli.no_forward_stdio => Forwarding::none(),
        Some(sink) => crate::stdio::forward_to(&session, false, false, sink).await?,
        // A program run from files reads our stdin (watched too, unless --no-main); REPL
        // inputs keep the executor's.
        None if cli.oop_executor_connect.is_some() => {
            let runs_main = !cli.files.is_empty() && !cli.no_main;
            crate::stdio::forward(&session, runs_main).await?
        }
        None => Forwarding::none(),
    };
    Ok((session, forwarding))
}

/// A JIT session with the runtime compiled for the executor's target, and what of the
/// executor's stdio comes here (answered once a library was opened, else maybe not yet).
pub(crate) async fn start_jit(
    cli: &Cli,
    interactive: bool,
    output: Option<OutputSink>,
) -> Result<(Jit, Forwarding)> {
    let (session, mut forwarding) = connect(cli, interactive, output).await?;
    let triple = session.info().target_triple.clone();
    let runtime = compile::clang::compile_cached(
        orcbridge_runtime::SOURCE_NAME,
        orcbridge_runtime::SOURCE,
        compile::clang::Language::C,
        &triple,
        &["-O2".into(), "-ffreestanding".into()],
    )
    .map_err(|e| anyhow::anyhow!("compiling the session runtime failed:\n{e}"))?;
    let mut jit = Jit::new(session, runtime).await?;
    let search = Search::new(&cli.lib_dirs, &triple);
    for lib in &cli.dlopen {
        let found = search.find_dlopen(lib).with_context(|| format!("--dlopen {lib}"))?;
        // A library's constructors run when it is opened.
        forwarding.wait(jit.session()).await?;
        let linkable = jit.open_libraries(found).await.with_context(|| format!("--dlopen {lib}"))?;
        keep_for_session(&mut jit, linkable).await?;
    }
    Ok((jit, forwarding))
}

/// Links library objects into the session now, and offers library archives to every unit
/// from now on.
async fn keep_for_session(jit: &mut Jit, inputs: Vec<Input>) -> Result<()> {
    for input in inputs {
        match input {
            Input::Object { .. } => _ = jit.load(vec![input]).await?,
            Input::Archive { .. } => jit.add_library_archive(input),
        }
    }
    Ok(())
}

/// What each `-lNAME` stands for, shared objects loaded into the executor (once `forwarding`
/// is answered: their constructors run); returns the archives and objects to link.
async fn open_l_libraries(cli: &Cli, jit: &mut Jit, forwarding: &mut Forwarding) -> Result<Vec<Input>> {
    let search = Search::new(&cli.lib_dirs, &jit.session().info().target_triple.clone());
    let mut inputs = Vec::new();
    for lib in &cli.libs {
        let found = search.find_l(lib)?;
        forwarding.wait(jit.session()).await?;
        inputs.extend(jit.open_libraries(found).await.with_context(|| format!("-l{lib}"))?);
    }
    Ok(inputs)
}

/// Links the program, `inputs` and what `cli`'s `-l` options name, as one unit and loads it
/// (its initializers run). Returns whether the program reads our stdin (the executor's stdio
/// is forwarded with stdin).
///
/// # Errors
/// A library is not found, the link fails, the executor refuses the code or went away.
pub(crate) async fn load_program(
    cli: &Cli,
    jit: &mut Jit,
    forwarding: &mut Forwarding,
    mut inputs: Vec<Input>,
) -> Result<bool> {
    inputs.extend(open_l_libraries(cli, jit, forwarding).await?);
    // The forward request's answer has come by now, its round trip spent while the sources
    // compiled and the link looked up names: wait for it before anything runs.
    let pending = jit.link_lazy(inputs, Initializers::AtLoad, &mut |_| Vec::new()).await?;
    let stdin_is_ours = forwarding.wait(jit.session()).await?;
    jit.load_linked(pending).await?;
    Ok(stdin_is_ours)
}

/// The orc-executor installed next to this program.
fn bundled_executor() -> Result<PathBuf> {
    let exe = std::env::current_exe().context("cannot find this program's path")?;
    let path = exe.with_file_name("orc-executor");
    if !path.exists() {
        bail!(
            "no orc-executor next to {} (build it with `cargo build`), or pass --oop-executor=PATH or \
             --oop-executor-connect=HOST:PORT",
            exe.display()
        );
    }
    Ok(path)
}

async fn run_files(cli: Cli) -> Result<ExitCode> {
    let (mut jit, mut forwarding) = start_jit(&cli, false, None).await?;
    let triple = jit.session().info().target_triple.clone();
    let mut inputs = Vec::new();
    for (i, code) in cli.code.iter().enumerate() {
        let lang = cli.lang.unwrap_or(Lang::Cxx);
        let name = format!("-e{}", i + 1);
        let source = compile::clang::Source::Text { name: &name, code };
        let obj = compile::clang::compile_cached_with_deps(source, lang.into(), &triple, &cli.xcc)
            .map_err(|e| anyhow::anyhow!("{}", e.diagnostics.trim_end()))?;
        inputs.push(Input::Object { name, bytes: obj });
    }
    for file in &cli.files {
        inputs.push(read_input(file, cli.lang, &triple, &cli.xcc)?);
    }
    let stdin_is_ours = load_program(&cli, &mut jit, &mut forwarding, inputs).await?;
    let argv = main_argv(&cli);
    let result = if stdin_is_ours {
        tokio::select! {
            r = jit.run_main(&argv) => r,
            never = crate::stdio::feed_stdin(jit.session()) => match never {},
        }
    } else {
        jit.run_main(&argv).await
    };
    exit_code_of_main(jit, result).await
}

/// The exit code for what running `main` gave (reporting a crash or a lost executor), after
/// ending the session.
///
/// # Errors
/// A failure that is neither the program's end nor the executor's.
pub(crate) async fn exit_code_of_main(
    jit: Jit,
    result: Result<crate::jit::MainResult, crate::jit::JitError>,
) -> Result<ExitCode> {
    let code = match result {
        Ok(r) => {
            tracing::info!(
                "main returned {} after {} calls to the executor",
                r.status,
                jit.session().calls()
            );
            jit.close().await;
            ExitCode::from(r.status as u8)
        }
        Err(crate::jit::JitError::Crashed { signal, description }) => {
            eprintln!("repl: the program did not finish: it crashed with {description}");
            jit.close().await;
            // As a shell reports a program killed by a signal.
            ExitCode::from(128u8.saturating_add(u8::try_from(signal).unwrap_or(0)))
        }
        Err(crate::jit::JitError::Session(e)) => {
            let why = jit.session().end_reason().await.unwrap_or_else(|| e.to_string());
            eprintln!("repl: the program did not finish: {why}");
            let status = jit.session().executor_exit_code(Duration::from_secs(1)).await;
            ExitCode::from(exit_code_for(status))
        }
        Err(e) => return Err(e.into()),
    };
    Ok(code)
}

/// `main`'s argv: the first file's name (the program's), then the ARGS after `--`.
pub(crate) fn main_argv(cli: &Cli) -> Vec<String> {
    let program = cli.files.first().map_or_else(|| "repl-program".to_owned(), |f| f.display().to_string());
    std::iter::once(program).chain(cli.args.iter().cloned()).collect()
}

/// Exit code for an executor that died: its own exit code, or 128 + signal as shells report.
fn exit_code_for(status: Option<std::process::ExitStatus>) -> u8 {
    use std::os::unix::process::ExitStatusExt;
    match status {
        Some(st) => match (st.code(), st.signal()) {
            (Some(c), _) if c != 0 => c as u8,
            (_, Some(s)) => (128 + s) as u8,
            _ => 1,
        },
        None => 1,
    }
}

/// The input `file` stands for: a C or C++ source compiled (through the object cache), IR
/// compiled, an object or archive read.
///
/// # Errors
/// An unknown kind, a missing or unreadable file, clang's diagnostics.
pub(crate) fn read_input(file: &Path, lang: Option<Lang>, triple: &str, xcc: &[String]) -> Result<Input> {
    let name = file.display().to_string();
    let kind = FileKind::of(file, lang)
        .with_context(|| format!("{name}: unknown kind of input (by its extension)"))?;
    Ok(match kind {
        FileKind::Source(_) | FileKind::Ir => {
            if !file.exists() {
                bail!("{name}: no such file");
            }
            let language = match kind {
                FileKind::Source(lang) => lang.into(),
                _ => compile::clang::Language::Ir,
            };
            let obj = compile::clang::compile_cached_with_deps(
                compile::clang::Source::File(file),
                language,
                triple,
                xcc,
            )
            .map_err(|e| anyhow::anyhow!("{}", e.diagnostics.trim_end()))?;
            Input::Object { name, bytes: obj }
        }
        FileKind::Object => {
            Input::Object { bytes: std::fs::read(file).with_context(|| format!("reading {name}"))?, name }
        }
        FileKind::Archive => {
            Input::Archive { bytes: std::fs::read(file).with_context(|| format!("reading {name}"))?, name }
        }
    })
}

/// The REPL: `-e` inputs, a script on stdin, or an interactive terminal.
fn run_repl(rt: &tokio::runtime::Runtime, cli: Cli, interrupts: Interrupts) -> Result<ExitCode> {
    use std::io::IsTerminal;
    let interactive = cli.code.is_empty() && std::io::stdin().is_terminal();
    let mut repl = rt.block_on(start_repl(&cli, interactive, None))?;
    repl.set_interrupts(interrupts);
    let ok = if !cli.code.is_empty() {
        each_input(cli.code.iter().map(String::as_str), |code| rt.block_on(eval(&mut repl, code)))?
    } else if interactive {
        interact(rt, &mut repl)?
    } else {
        script(std::io::stdin().lock(), |text| rt.block_on(eval(&mut repl, text)))?
    };
    // The session ends as a program does: its exit-time work runs (atexit handlers, static
    // destructors), however the inputs ended (%quit, end of input, -e done).
    let finished = rt.block_on(async {
        let outcome = repl.finish(&mut std::io::stderr()).await;
        let why = match &outcome {
            Err(e) => Some(repl.jit().session().end_reason().await.unwrap_or_else(|| e.to_string())),
            Ok(_) => None,
        };
        (outcome, why)
    });
    let ok = match finished {
        (Ok(o), _) => ok && o != Outcome::Failed,
        (Err(_), why) => {
            eprintln!("repl: error: the executor is gone: {}", why.unwrap_or_default());
            false
        }
    };
    rt.block_on(repl.close());
    Ok(if ok { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// The REPL on the executor the options name, with their libraries and language; `output`
/// as for [`connect`].
pub(crate) async fn start_repl(cli: &Cli, interactive: bool, output: Option<OutputSink>) -> Result<Repl> {
    // The interpreter needs clang and LLVM: they load while the executor starts. (A failure
    // is reported when the interpreter is created.)
    std::thread::spawn(orcbridge_clang::preload);
    let (mut jit, mut forwarding) = start_jit(cli, interactive, output).await?;
    // Before anything runs: the output of every unit and input comes here.
    forwarding.wait(jit.session()).await?;
    let linkable = open_l_libraries(cli, &mut jit, &mut forwarding).await?;
    keep_for_session(&mut jit, linkable).await?;
    Repl::start(jit, cli.lang.unwrap_or(Lang::Cxx), &cli.xcc).await
}

/// Evaluates one input. Ctrl-C while it runs stops the waiting (the input goes on running in
/// the executor) instead of killing the REPL; the REPL handles it where the session stays
/// consistent.
async fn eval(repl: &mut Repl, input: &str) -> Result<Outcome> {
    let (mut out, mut err) = (std::io::stdout(), std::io::stderr());
    match repl.eval(input, &mut out, &mut err).await {
        Ok(o) => Ok(o),
        Err(e) => {
            let why = repl.jit().session().end_reason().await.unwrap_or_else(|| e.to_string());
            bail!("the executor is gone: {why}")
        }
    }
}

/// Line editing with history (in the user's data directory) and tab completion.
fn interact(rt: &tokio::runtime::Runtime, repl: &mut Repl) -> Result<bool> {
    let (repl, lines) = (RefCell::new(repl), RefCell::new(InputLines::default()));
    let mut editor = line_editor()?;
    editor.set_helper(Some(ReplHelper::new(&repl, &lines)));
    edit_loop(editor, &lines, |text| rt.block_on(eval(&mut repl.borrow_mut(), text)))
}
