//! The `repl` command line.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Parser;

use crate::compile::{self, FileKind, Lang};
use crate::epc::{Session, Transport};
use crate::jit::Jit;
use crate::link::Input;

/// orcbridge's REPL and runner: compiles and links C, C++, LLVM IR and objects on this host
/// and runs them in an ORC executor (a local orc-executor by default, or any executor that
/// speaks LLVM 22.1's protocol).
#[derive(Parser, Debug)]
#[command(
    name = "repl",
    version,
    after_help = "\
EXAMPLES:
  repl hello.c                          run main of hello.c in a local orc-executor
  repl a.c b.o libfoo.a -- x y          link several inputs, run main with argv x y
  repl -e 'int main(){return 3;}' -x c  code from the command line
  repl --oop-executor-connect=127.0.0.1:20000 prog.cpp
                                        run in an executor listening elsewhere
  repl --oop-executor=/usr/lib/llvm-22/bin/llvm-jitlink-executor prog.c
                                        run in LLVM's own executor"
)]
pub struct Cli {
    /// Inputs: C (.c), C++ (.cc .cpp .cxx), LLVM IR (.ll .bc), objects (.o), archives (.a).
    #[arg(value_name = "FILE")]
    pub files: Vec<PathBuf>,

    /// Arguments for the program's main (after --).
    #[arg(last = true, value_name = "ARGS")]
    pub args: Vec<String>,

    /// Source code to compile (repeatable); combined with --lang.
    #[arg(short = 'e', value_name = "CODE")]
    pub code: Vec<String>,

    /// Language of -e code and of sources whose extension does not say.
    #[arg(short = 'x', long = "lang", value_enum)]
    pub lang: Option<Lang>,

    /// Pass an argument to clang (e.g. -Xcc -O2 -Xcc -DNDEBUG).
    #[arg(long = "Xcc", value_name = "ARG", allow_hyphen_values = true)]
    pub xcc: Vec<String>,

    /// Launch the executor at PATH (default: orc-executor next to this program) and talk to it
    /// over pipes.
    #[arg(long = "oop-executor", value_name = "PATH", num_args = 0..=1, require_equals = true, default_missing_value = "")]
    pub oop_executor: Option<String>,

    /// Connect to an executor listening at HOST:PORT.
    #[arg(
        long = "oop-executor-connect",
        value_name = "HOST:PORT",
        require_equals = true,
        conflicts_with = "oop_executor"
    )]
    pub oop_executor_connect: Option<String>,

    /// Search DIR for -l libraries.
    #[arg(short = 'L', value_name = "DIR")]
    pub lib_dirs: Vec<PathBuf>,

    /// Link libNAME: a static archive from -L directories, else a shared library loaded into
    /// the executor.
    #[arg(short = 'l', value_name = "NAME")]
    pub libs: Vec<String>,

    /// Load a shared library into the executor before linking.
    #[arg(long = "dlopen", value_name = "LIB")]
    pub dlopen: Vec<String>,

    /// Accepted for clang-repl compatibility; orcbridge brings its own runtime.
    #[arg(long = "orc-runtime", value_name = "PATH", require_equals = true, hide = true)]
    pub orc_runtime: Option<String>,

    /// Log the protocol and the round trips of each link (-vv: more).
    #[arg(short, long, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

/// Runs the command line; the exit code is the program's.
///
/// # Errors
/// Anything that stops the program from running, with context.
pub fn run(cli: Cli) -> Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(run_async(cli))
}

async fn connect(cli: &Cli) -> Result<Session> {
    let transport = match (&cli.oop_executor_connect, &cli.oop_executor) {
        (Some(addr), _) => Transport::connect(addr, Duration::from_secs(10)).await?,
        (None, Some(path)) if !path.is_empty() => Transport::launch(Path::new(path), &[])?,
        _ => Transport::launch(&bundled_executor()?, &[])?,
    };
    Ok(Session::start(transport).await?)
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

async fn run_async(cli: Cli) -> Result<ExitCode> {
    if cli.files.is_empty() && cli.code.is_empty() {
        bail!("the interactive REPL is not available yet; give files to run or -e CODE (see --help)");
    }
    let session = connect(&cli).await?;
    let triple = session.info().target_triple.clone();
    let runtime = compile::clang::compile_cached(
        orcbridge_runtime::SOURCE_NAME,
        orcbridge_runtime::SOURCE,
        Lang::C,
        &triple,
        &["-O2".into(), "-ffreestanding".into()],
    )
    .map_err(|e| anyhow::anyhow!("compiling the session runtime failed:\n{e}"))?;
    let mut jit = Jit::new(session, runtime).await?;

    for lib in &cli.dlopen {
        jit.open_library(lib).await.with_context(|| format!("--dlopen {lib}"))?;
    }
    let mut inputs = Vec::new();
    for (i, code) in cli.code.iter().enumerate() {
        let lang = cli.lang.unwrap_or(Lang::Cxx);
        let name = format!("-e{}", i + 1);
        let obj = compile::clang::compile(Path::new(&name), Some(code), lang, &triple, &cli.xcc)
            .map_err(|e| anyhow::anyhow!("{}", e.diagnostics.trim_end()))?;
        inputs.push(Input::Object { name, bytes: obj });
    }
    for file in &cli.files {
        inputs.push(read_input(file, cli.lang, &triple, &cli.xcc)?);
    }
    for lib in &cli.libs {
        match find_archive(lib, &cli.lib_dirs) {
            Some(path) => inputs.push(Input::Archive {
                name: path.display().to_string(),
                bytes: std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?,
            }),
            None => {
                let shared = find_shared(lib, &cli.lib_dirs).unwrap_or_else(|| format!("lib{lib}.so"));
                jit.open_library(&shared).await.with_context(|| format!("-l{lib}"))?;
            }
        }
    }

    jit.load(inputs).await?;
    let program = cli.files.first().map_or_else(|| "repl-program".to_owned(), |f| f.display().to_string());
    let argv: Vec<String> = std::iter::once(program).chain(cli.args.iter().cloned()).collect();
    let result = jit.run_main(&argv).await;
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

fn read_input(file: &Path, lang: Option<Lang>, triple: &str, xcc: &[String]) -> Result<Input> {
    let name = file.display().to_string();
    let kind = FileKind::of(file, lang)
        .with_context(|| format!("{name}: unknown kind of input (by its extension)"))?;
    Ok(match kind {
        FileKind::Source(lang) => {
            if !file.exists() {
                bail!("{name}: no such file");
            }
            let obj = compile::clang::compile(file, None, lang, triple, xcc)
                .map_err(|e| anyhow::anyhow!("{}", e.diagnostics.trim_end()))?;
            Input::Object { name, bytes: obj }
        }
        FileKind::Ir => Input::Object {
            bytes: compile::ir::compile(file, triple, opt_level(xcc)).map_err(anyhow::Error::msg)?,
            name,
        },
        FileKind::Object => {
            Input::Object { bytes: std::fs::read(file).with_context(|| format!("reading {name}"))?, name }
        }
        FileKind::Archive => {
            Input::Archive { bytes: std::fs::read(file).with_context(|| format!("reading {name}"))?, name }
        }
    })
}

/// The `-O` level among the clang arguments (the last one wins, as in clang).
fn opt_level(xcc: &[String]) -> u8 {
    xcc.iter()
        .filter_map(|a| a.strip_prefix("-O"))
        .map(|l| match l {
            "0" => 0,
            "1" | "g" => 1,
            "" | "2" | "s" | "z" => 2,
            _ => 3,
        })
        .next_back()
        .unwrap_or(0)
}

fn find_archive(lib: &str, dirs: &[PathBuf]) -> Option<PathBuf> {
    dirs.iter().map(|d| d.join(format!("lib{lib}.a"))).find(|p| p.exists())
}

fn find_shared(lib: &str, dirs: &[PathBuf]) -> Option<String> {
    dirs.iter().map(|d| d.join(format!("lib{lib}.so"))).find(|p| p.exists()).map(|p| p.display().to_string())
}
