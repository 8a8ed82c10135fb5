//! The differential corpus: REPL scripts run through LLVM's `clang-repl` in process (the
//! reference for what a C/C++ REPL input means) and through `repl` against `orc-executor` and
//! against `llvm-jitlink-executor`, comparing stdout line by line.
//!
//! Scripts come from two places:
//! * hand-written, one feature each: `differential/c/*.repl` (run as C) and
//!   `differential/cxx/*.repl` (C++), in clang-repl's input format: one input per line, a
//!   trailing `\` joining the next line (without a newline, except after a preprocessor
//!   line);
//! * every C and C++ program of the test suite (`programs/repl/MANIFEST` and `programs/`),
//!   turned into a script mechanically: its text, comments removed and lines spliced, cut
//!   into top-level inputs, `main` renamed, then a call of it whose value prints.
//!
//! Stdout goes to a pseudo-terminal for all three, so values and program output interleave
//! as a user sees them (through a pipe clang-repl prints values late). Outputs are compared
//! after normalising line ends, addresses (`0x…`), trailing spaces and blank lines.
//!
//! Where clang-repl is wrong (it crashes, prints garbage, or cannot do what the script asks),
//! the script has a `NAME.expect` file beside it: a first line `# clang-repl: <what it gets
//! wrong>`, then the stdout we must print instead. Such a script passes when both our runs
//! print exactly that and clang-repl still prints something else (if clang-repl comes to
//! agree, the record is stale and the check fails).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::{llvm_tool, our_bin, programs_dir, spawn_with_tty_stdout};

/// The language a script is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// C (`clang-repl -Xcc -xc`, `repl -x c`).
    C,
    /// C++ (both tools' default).
    Cxx,
}

/// One script of the corpus.
#[derive(Debug, Clone)]
pub struct Script {
    /// `c/NAME`, `cxx/NAME` or `programs/NAME`.
    pub name: String,
    /// Its language.
    pub lang: Lang,
    /// The inputs, in clang-repl's format.
    pub text: String,
    /// Where a `.expect` record for it lives.
    pub expect_path: PathBuf,
}

/// The folder of the corpus.
pub fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("differential")
}

/// Every script: the hand-written ones and those made from the test programs, sorted by name.
///
/// # Panics
/// If the corpus folder cannot be read.
pub fn corpus() -> Vec<Script> {
    let mut v = Vec::new();
    for (sub, lang) in [("c", Lang::C), ("cxx", Lang::Cxx)] {
        let dir = corpus_dir().join(sub);
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for e in entries.flatten() {
            let path = e.path();
            if path.extension().is_some_and(|x| x == "repl") {
                let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
                let text = std::fs::read_to_string(&path).expect("script");
                v.push(Script {
                    name: format!("{sub}/{stem}"),
                    lang,
                    text,
                    expect_path: path.with_extension("expect"),
                });
            }
        }
    }
    v.extend(program_scripts());
    v.sort_by(|a, b| a.name.cmp(&b.name));
    v
}

/// The test programs as scripts. Left out: programs that end by calling `exit` (in
/// clang-repl, `exit` ends clang-repl itself), and programs of several translation units or
/// with an archive (a REPL session is one translation unit: their `static` names collide).
fn program_scripts() -> Vec<Script> {
    let dir = programs_dir().join("repl");
    let manifest = std::fs::read_to_string(dir.join("MANIFEST")).expect("MANIFEST");
    let mut out = Vec::new();
    for line in manifest.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()) {
        let c: Vec<&str> = line.split('\t').collect();
        let (name, sources, args, flags) = (c[0], c[1], c[2], c[4]);
        let flags: Vec<&str> = flags.split(',').collect();
        if flags.contains(&"exit") || flags.iter().any(|f| f.starts_with("archive:")) || sources.contains(',')
        {
            continue;
        }
        let lang = if flags.contains(&"cxx") { Lang::Cxx } else { Lang::C };
        let texts: Vec<String> =
            sources.split(',').map(|s| std::fs::read_to_string(dir.join(s)).expect("source")).collect();
        let args: Vec<&str> = if args == "-" { vec![] } else { args.split(' ').collect() };
        out.push(program_script(name, lang, &texts, &args));
    }
    for (file, lang) in
        [("hello.c", Lang::C), ("cprog.c", Lang::C), ("argv.c", Lang::C), ("cxx_exc.cpp", Lang::Cxx)]
    {
        let text = std::fs::read_to_string(programs_dir().join(file)).expect("program");
        let name = file.split('.').next().unwrap_or(file);
        out.push(program_script(name, lang, &[text], &["a", "b"]));
    }
    out
}

/// A program's sources as REPL inputs, then a call of its `main` (renamed, as REPL inputs
/// cannot call `main` in C++).
pub fn program_script(name: &str, lang: Lang, sources: &[String], args: &[&str]) -> Script {
    let mut inputs = Vec::new();
    let mut takes_args = false;
    for src in sources {
        let text = splice_lines(&strip_comments(src));
        for chunk in top_level_chunks(&text) {
            let chunk = match chunk.find("main(").or_else(|| chunk.find("main (")) {
                Some(at) if is_main_definition(&chunk, at) => {
                    takes_args = !chunk[at..].starts_with("main(void)") && !chunk[at..].starts_with("main()");
                    format!("{}__prog_main{}", &chunk[..at], &chunk[at + 4..])
                }
                _ => chunk,
            };
            inputs.push(chunk.lines().map(str::trim).collect::<Vec<_>>().join("\\\n"));
        }
    }
    if takes_args {
        let argv: Vec<String> =
            std::iter::once("prog").chain(args.iter().copied()).map(|a| format!("\"{a}\"")).collect();
        inputs.push(format!("const char *__prog_argv[] = {{ {}, 0 }};", argv.join(", ")));
        inputs.push(format!("__prog_main({}, (char **)__prog_argv)", args.len() + 1));
    } else {
        inputs.push("__prog_main()".into());
    }
    let dir = corpus_dir().join("programs");
    Script {
        name: format!("programs/{name}"),
        lang,
        text: inputs.join("\n") + "\n",
        expect_path: dir.join(format!("{name}.expect")),
    }
}

/// True if `main(` at `at` in `chunk` is a function definition's name: at the start of the
/// chunk's declarator (`int main(`), not a call.
fn is_main_definition(chunk: &str, at: usize) -> bool {
    let before = chunk[..at].trim_end();
    (before.ends_with("int") || before.ends_with("auto")) && chunk.trim_end().ends_with('}')
}

/// `src` with comments replaced by a space (newlines inside block comments kept), strings and
/// character literals left alone.
pub fn strip_comments(src: &str) -> String {
    let mut out = String::with_capacity(src.len());
    let mut chars = src.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '/' if chars.peek() == Some(&'/') => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        out.push('\n');
                        break;
                    }
                }
            }
            '/' if chars.peek() == Some(&'*') => {
                chars.next();
                let mut prev = ' ';
                out.push(' ');
                for c in chars.by_ref() {
                    if c == '\n' {
                        out.push('\n');
                    }
                    if prev == '*' && c == '/' {
                        break;
                    }
                    prev = c;
                }
            }
            '"' | '\'' => {
                out.push(c);
                while let Some(d) = chars.next() {
                    out.push(d);
                    if d == '\\' {
                        if let Some(e) = chars.next() {
                            out.push(e);
                        }
                    } else if d == c || d == '\n' {
                        break;
                    }
                }
            }
            c => out.push(c),
        }
    }
    out
}

/// Joins lines that end in a backslash, as the preprocessor's line splicing does.
fn splice_lines(src: &str) -> String {
    src.replace("\\\n", "")
}

/// Cuts a translation unit into top-level items: each preprocessor line alone, and each
/// declaration or definition up to the `;` or `}` that ends it at bracket depth 0. Blank
/// lines are dropped.
fn top_level_chunks(src: &str) -> Vec<String> {
    let mut chunks = Vec::new();
    let mut cur = String::new();
    for line in src.lines() {
        let t = line.trim();
        if t.is_empty() {
            continue;
        }
        if cur.is_empty() && t.starts_with('#') {
            chunks.push(t.to_owned());
            continue;
        }
        cur.push_str(t);
        cur.push('\n');
        if depth(&cur) <= 0 && (t.ends_with(';') || t.ends_with('}')) && !continues(&cur) {
            chunks.push(std::mem::take(&mut cur).trim_end().to_owned());
        }
    }
    if !cur.trim().is_empty() {
        chunks.push(cur.trim_end().to_owned());
    }
    chunks
}

/// A `}` that closes a class or enum body, or a `= {…}` initializer, needs its `;` still.
fn continues(chunk: &str) -> bool {
    let t = chunk.trim_end();
    if !t.ends_with('}') {
        return false;
    }
    let head = chunk.split('{').next().unwrap_or("");
    let words: Vec<&str> = head.split(|c: char| !c.is_alphanumeric() && c != '_').collect();
    let is_type =
        words.iter().any(|w| matches!(*w, "struct" | "class" | "union" | "enum")) && !head.contains('(');
    is_type || head.trim_end().ends_with('=')
}

fn depth(text: &str) -> i32 {
    let mut d = 0;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' | '\'' => {
                while let Some(e) = chars.next() {
                    if e == '\\' {
                        chars.next();
                    } else if e == c {
                        break;
                    }
                }
            }
            '{' | '(' | '[' => d += 1,
            '}' | ')' | ']' => d -= 1,
            _ => {}
        }
    }
    d
}

/// Who runs a script.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Runner {
    /// `clang-repl`, in process: the reference.
    ClangRepl,
    /// `repl` with its bundled `orc-executor`.
    ReplOrcExecutor,
    /// `repl --oop-executor=llvm-jitlink-executor`.
    ReplLlvmExecutor,
}

impl Runner {
    /// All three, reference first.
    pub const ALL: [Runner; 3] = [Runner::ClangRepl, Runner::ReplOrcExecutor, Runner::ReplLlvmExecutor];

    fn command(self, lang: Lang) -> Command {
        let mut c = match self {
            Runner::ClangRepl => {
                let mut c = Command::new(llvm_tool("clang-repl"));
                if lang == Lang::C {
                    c.args(["-Xcc", "-xc"]);
                }
                c
            }
            Runner::ReplOrcExecutor | Runner::ReplLlvmExecutor => {
                let mut c = Command::new(our_bin("repl"));
                if lang == Lang::C {
                    c.args(["-x", "c"]);
                }
                if self == Runner::ReplLlvmExecutor {
                    c.arg(format!("--oop-executor={}", llvm_tool("llvm-jitlink-executor").display()));
                }
                c
            }
        };
        c.current_dir(corpus_dir());
        c
    }

    /// A short name for reports.
    pub fn label(self) -> &'static str {
        match self {
            Runner::ClangRepl => "clang-repl",
            Runner::ReplOrcExecutor => "repl+orc-executor",
            Runner::ReplLlvmExecutor => "repl+llvm-jitlink-executor",
        }
    }
}

/// What one run printed.
#[derive(Debug, Clone)]
pub struct RunOutput {
    /// Stdout, normalised ([`normalize`]).
    pub stdout: String,
    /// Stderr as it was.
    pub stderr: String,
    /// Exit status, if the process exited normally.
    pub status: Option<i32>,
}

/// Runs `script` with `runner`, giving up after 20 s (clang-repl hangs on some inputs):
/// then the output is empty, `status` is `None` and `stderr` says why.
pub fn run(script: &Script, runner: Runner) -> RunOutput {
    let mut cmd = runner.command(script.lang);
    let mut p = spawn_with_tty_stdout(cmd.stdin(Stdio::piped()));
    let mut stdin = p.take_stdin();
    let text = script.text.clone();
    let writer = std::thread::spawn(move || std::io::Write::write_all(&mut stdin, text.as_bytes()));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| p.wait(Duration::from_secs(20))));
    let _ = writer.join();
    match result {
        Ok(o) => RunOutput {
            stdout: normalize(&String::from_utf8_lossy(&o.stdout)),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
            status: o.status.code(),
        },
        Err(e) => {
            let why = e.downcast_ref::<String>().cloned().unwrap_or_else(|| "timed out".into());
            RunOutput { stdout: String::new(), stderr: why, status: None }
        }
    }
}

/// Line ends as `\n`, addresses (`0x` and hex digits) as `0x…`, no trailing spaces, no
/// blank lines (clang-repl prints one when its input ends, before the exit-time output).
pub fn normalize(out: &str) -> String {
    let out = out.replace("\r\n", "\n").replace('\r', "");
    let mut s = String::with_capacity(out.len());
    let mut chars = out.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '0' && chars.peek() == Some(&'x') {
            let mut probe = chars.clone();
            probe.next();
            if probe.peek().is_some_and(char::is_ascii_hexdigit) {
                chars.next();
                while chars.peek().is_some_and(char::is_ascii_hexdigit) {
                    chars.next();
                }
                s.push_str("0x…");
                continue;
            }
        }
        s.push(c);
    }
    s.lines().map(str::trim_end).filter(|l| !l.is_empty()).map(|l| format!("{l}\n")).collect()
}

/// A recorded reference bug: what clang-repl gets wrong, and what we print instead.
#[derive(Debug, Clone)]
pub struct Expectation {
    /// The `# clang-repl: …` line, without the prefix.
    pub reference_bug: String,
    /// Our stdout, normalised.
    pub ours: String,
}

/// The `.expect` record of `script`, if it has one.
pub fn expectation(script: &Script) -> Option<Expectation> {
    let text = std::fs::read_to_string(&script.expect_path).ok()?;
    let (first, rest) = text.split_once('\n').unwrap_or((&text, ""));
    let reference_bug = first.strip_prefix("# clang-repl:").unwrap_or(first).trim().to_owned();
    Some(Expectation { reference_bug, ours: normalize(rest) })
}

/// How one script came out.
#[derive(Debug, Clone)]
pub enum Verdict {
    /// All three printed the same.
    Agree,
    /// clang-repl is recorded as wrong here, and we print what the record says.
    KnownReferenceBug(String),
    /// clang-repl and repl (in every executor) both did not finish: a hang of clang's
    /// incremental parser that repl cannot avoid yet. Counted apart, never as agreement.
    BothHang,
    /// Something differs; the text says what.
    Differ(String),
}

/// Runs `script` three ways and compares.
pub fn check(script: &Script) -> Verdict {
    let outs: Vec<RunOutput> = Runner::ALL.iter().map(|&r| run(script, r)).collect();
    let reference = &outs[0];
    let expected = expectation(script);
    if reference.status.is_none() && outs[1..].iter().all(|o| o.status.is_none()) {
        return Verdict::BothHang;
    }
    let want = expected.as_ref().map_or(&reference.stdout, |e| &e.ours);
    let mut problems = Vec::new();
    for (runner, out) in Runner::ALL.iter().zip(&outs).skip(1) {
        // A repl that hangs or dies prints nothing, which would agree with a silent script.
        if out.status.is_none() {
            problems.push(format!(
                "{}: did not finish (timed out or killed by a signal)\n--- stderr ---\n{}",
                runner.label(),
                out.stderr.trim_end()
            ));
        } else if &out.stdout != want {
            problems.push(format!(
                "{}: stdout differs from {}\n{}\n--- stderr ---\n{}",
                runner.label(),
                if expected.is_some() { "the .expect record" } else { "clang-repl" },
                diff(want, &out.stdout),
                out.stderr.trim_end()
            ));
        }
    }
    if let Some(e) = &expected
        && reference.stdout == e.ours
    {
        problems.push(format!(
            "clang-repl now prints what {} records as our output: the record is stale",
            script.expect_path.display()
        ));
    }
    match (problems.is_empty(), expected) {
        (true, None) => Verdict::Agree,
        (true, Some(e)) => Verdict::KnownReferenceBug(e.reference_bug),
        (false, _) => Verdict::Differ(problems.join("\n")),
    }
}

/// A line-by-line account of where `got` leaves `want`.
fn diff(want: &str, got: &str) -> String {
    let (w, g): (Vec<&str>, Vec<&str>) = (want.lines().collect(), got.lines().collect());
    let mut out = String::new();
    for i in 0..w.len().max(g.len()) {
        let (a, b) = (w.get(i), g.get(i));
        if a != b {
            out.push_str(&format!(
                "  line {}: want {:?}, got {:?}\n",
                i + 1,
                a.copied().unwrap_or("<none>"),
                b.copied().unwrap_or("<none>")
            ));
        }
    }
    out
}

/// The verdicts of every script matching `filter` (all when empty), run on `workers`
/// threads, in corpus order.
pub fn check_all(filter: &str, workers: usize) -> Vec<(Script, Verdict)> {
    let scripts: Vec<Script> = corpus().into_iter().filter(|s| s.name.contains(filter)).collect();
    let verdicts = crate::in_parallel(scripts.iter().collect(), workers, check);
    scripts.into_iter().zip(verdicts).collect()
}
