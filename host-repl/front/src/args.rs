//! The `repl` command line: its flags (one definition for the thin front and the JIT behind
//! it, which parses the same arguments again).

use std::ffi::OsString;
use std::path::PathBuf;

use clap::Parser;

/// Source languages the C front end accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Lang {
    /// C (C17 with GNU extensions, clang's default).
    C,
    /// C++ (C++17 with GNU extensions, clang's default).
    #[value(name = "c++", alias = "cxx", alias = "cpp")]
    Cxx,
}

/// orcbridge's REPL and runner: compiles and links C, C++, LLVM IR and objects on this host
/// and runs them in an ORC executor (a local orc-executor by default, or any executor that
/// speaks LLVM 22.1's protocol). Without FILEs it is an interactive C/C++ REPL (a script when
/// stdin is not a terminal); with FILEs it links them and runs main.
#[derive(Parser, Debug)]
#[command(
    name = "repl",
    version,
    after_help = "\
EXAMPLES:
  repl                                  interactive C++ REPL in a local orc-executor
  repl -x c                             interactive C REPL
  repl -e 'int x = 6 * 7;' -e x         evaluate inputs, printing values: (int) 42
  repl < script.txt                     one input per line (continued while braces are open)
  repl hello.c                          run main of hello.c in a local orc-executor
  repl a.c b.o libfoo.a -- x y          link several inputs, run main with argv x y
  repl --oop-executor-connect=127.0.0.1:20000 prog.cpp
                                        run in an executor listening elsewhere
  repl --oop-executor=/usr/lib/llvm-22/bin/llvm-jitlink-executor prog.c
                                        run in LLVM's own executor
  repl --session s -e 'int x = 41;'     evaluate in the warm session s (started on demand)
  repl --session s -e 'x + 1'           ... a later call sees x: (int) 42
  repl --session s --status             the session server's counters
  repl --watch loop.c                   run loop.c, reloading its functions on every save"
)]
pub struct Cli {
    /// Inputs: C (.c), C++ (.cc .cpp .cxx), LLVM IR (.ll .bc), objects (.o), archives (.a).
    #[arg(value_name = "FILE")]
    pub files: Vec<PathBuf>,

    /// Arguments for the program's main (after --).
    #[arg(last = true, value_name = "ARGS")]
    pub args: Vec<String>,

    /// An input to evaluate as in the REPL (repeatable, in order); with FILEs, a source
    /// compiled with them instead.
    #[arg(short = 'e', value_name = "CODE")]
    pub code: Vec<String>,

    /// Language of the REPL, of -e code and of sources whose extension does not say
    /// (default C++, as clang-repl).
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

    /// With --oop-executor-connect: the executor requires this key (`orc-executor keygen`,
    /// `orc-executor listen=… --key FILE`); the session is authenticated and encrypted.
    #[arg(long, value_name = "FILE", requires = "oop_executor_connect")]
    pub key: Option<PathBuf>,

    /// With --oop-executor-connect: leave the executor's stdin, stdout and stderr alone. By
    /// default what the executor process writes to them is shown here, in order with values,
    /// and a program run from FILEs reads this stdin, when the executor offers it (orc-executor
    /// does; LLVM's executor does not). A launched executor shares this terminal anyway.
    #[arg(long = "no-forward-stdio")]
    pub no_forward_stdio: bool,

    /// Search DIR for -l libraries.
    #[arg(short = 'L', value_name = "DIR")]
    pub lib_dirs: Vec<PathBuf>,

    /// Link libNAME as GNU ld finds it: libNAME.so, then libNAME.a, in the -L directories and
    /// then the system's (a .so that is a linker script, like glibc's libm.so, is followed).
    /// Shared objects are loaded into the executor; archives are linked.
    #[arg(short = 'l', value_name = "NAME")]
    pub libs: Vec<String>,

    /// Load a shared library into the executor before linking (a path, or a name the
    /// executor's loader finds, e.g. libz.so.1).
    #[arg(long = "dlopen", value_name = "LIB")]
    pub dlopen: Vec<String>,

    /// Accepted for clang-repl compatibility; orcbridge brings its own runtime.
    #[arg(long = "orc-runtime", value_name = "PATH", require_equals = true, hide = true)]
    pub orc_runtime: Option<String>,

    /// Log the protocol and the round trips of each link (-vv: more).
    #[arg(short, long, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// Be a thin client of the warm session server NAME, which keeps the interpreter, the JIT
    /// and the executor between calls; the first call starts it (with this call's executor,
    /// -x, -Xcc and library options). -e inputs, FILEs (loaded as %load does) and an
    /// interactive or piped REPL are evaluated there.
    #[arg(long, value_name = "NAME")]
    pub session: Option<String>,

    /// With --session: print the session server's counters (it is not started for this).
    #[arg(long, requires = "session")]
    pub status: bool,

    /// With --session: a server this call starts exits after SECS seconds with no client
    /// connected.
    #[arg(long = "session-idle", value_name = "SECS", default_value_t = 600)]
    pub session_idle: u64,

    /// Run FILEs and reload each one into the running program when it is saved: its
    /// functions are replaced (running loops call the new code at their next call), its
    /// variables keep their values, new ones are added. main runs on a thread of its own;
    /// Ctrl-C ends the watch and the program.
    #[arg(long, requires = "files", conflicts_with_all = ["session", "code"])]
    pub watch: bool,

    /// With --watch: run no main, only load the FILEs' definitions and keep them up to date
    /// until Ctrl-C.
    #[arg(long = "no-main", requires = "watch")]
    pub no_main: bool,

    /// Be the session server NAME (what --session starts, detached).
    #[arg(long = "session-serve", value_name = "NAME", hide = true, conflicts_with = "session")]
    pub session_serve: Option<String>,
}

impl Cli {
    /// Parses `args` (the program's name first) as clap does, exiting with a message on bad
    /// arguments; `-Xcc`, clang-repl's spelling with one dash, is taken as `--Xcc`.
    pub fn from_args(args: impl IntoIterator<Item = OsString>) -> Cli {
        Cli::parse_from(args.into_iter().map(|a| if a == "-Xcc" { "--Xcc".into() } else { a }))
    }
}
