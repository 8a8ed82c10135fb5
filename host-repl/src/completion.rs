//! Tab completion for the interactive REPL: `%` commands and their file arguments here, code
//! through clang's code completion ([`Repl::complete`]), which runs in a forked copy of the
//! REPL (`in_child_process`).

use std::cell::RefCell;
use std::os::fd::{AsFd, OwnedFd};
use std::time::{Duration, Instant};

use rustyline::completion::{Completer, FilenameCompleter, Pair};
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::validate::Validator;
use rustyline::{Context, Helper};

use crate::repl::{COMMANDS, InputLines, Repl};

/// The line editor's view of the session: the REPL (borrowed only while a completion runs,
/// never while an input is evaluated) and the unfinished input's earlier lines.
pub struct ReplHelper<'a, 'r> {
    repl: &'a RefCell<&'r mut Repl>,
    lines: &'a RefCell<InputLines>,
    files: FilenameCompleter,
}

impl std::fmt::Debug for ReplHelper<'_, '_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReplHelper").finish_non_exhaustive()
    }
}

impl<'a, 'r> ReplHelper<'a, 'r> {
    /// A helper completing against `repl`, with `lines` the input being assembled.
    pub fn new(repl: &'a RefCell<&'r mut Repl>, lines: &'a RefCell<InputLines>) -> Self {
        ReplHelper { repl, lines, files: FilenameCompleter::new() }
    }
}

impl Completer for ReplHelper<'_, '_> {
    type Candidate = Pair;

    fn complete(&self, line: &str, pos: usize, ctx: &Context<'_>) -> rustyline::Result<(usize, Vec<Pair>)> {
        let Ok(lines) = self.lines.try_borrow() else { return Ok((pos, Vec::new())) };
        let before = &line[..pos];
        if !lines.is_pending()
            && let Some(command) = before.trim_start().strip_prefix('%')
        {
            return match command.split_once(char::is_whitespace) {
                None => {
                    let start = pos - command.len();
                    let names = COMMANDS.iter().filter(|c| c.starts_with(command));
                    Ok((start, names.map(|c| pair(format!("{c} "), c)).collect()))
                }
                Some(("load" | "lib", _)) => self.files.complete(line, pos, ctx),
                Some(_) => Ok((pos, Vec::new())),
            };
        }
        let Ok(mut repl) = self.repl.try_borrow_mut() else { return Ok((pos, Vec::new())) };
        let (start, found) = repl.complete(lines.pending(), line, pos);
        Ok((start, found.into_iter().map(|c| pair(c.clone(), &c)).collect()))
    }
}

fn pair(replacement: String, display: &str) -> Pair {
    Pair { display: display.to_owned(), replacement }
}

impl Hinter for ReplHelper<'_, '_> {
    type Hint = String;
}

impl Highlighter for ReplHelper<'_, '_> {}

impl Validator for ReplHelper<'_, '_> {}

impl Helper for ReplHelper<'_, '_> {}

/// Runs `work` in a forked copy of this process and returns what it produced, or `None` if
/// the copy crashed, exceeded `limit` or could not be started. The copy is killed at the
/// deadline and reaped before returning.
///
/// Code completion parses whatever half-typed line the user has, with clang code (the AST
/// importer, the parser at a completion point) that the REPL otherwise never runs; in a copy,
/// a crash or an endless loop there costs one completion instead of the session, and nothing
/// the copy does can change the session's interpreter. Forking copies page tables only (a
/// few milliseconds for the REPL); only the calling thread exists in the copy, which never
/// touches the session's runtime or executor and leaves with `_exit`.
pub(crate) fn in_child_process(limit: Duration, work: impl FnOnce() -> Vec<u8>) -> Option<Vec<u8>> {
    let (read_end, write_end) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).ok()?;
    // SAFETY: the child runs `work` and writes to the pipe, then `_exit`s: it never returns
    // into the caller's frames, runs no atexit handlers and does not unwind past this call.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return None;
    }
    if pid == 0 {
        drop(read_end);
        // SAFETY: prctl with PR_SET_PDEATHSIG only sets this process's parent-death signal.
        unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) };
        let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(work));
        let status = match out {
            Ok(bytes) if std::io::Write::write_all(&mut std::fs::File::from(write_end), &bytes).is_ok() => 0,
            _ => 1,
        };
        // SAFETY: ends the child without running the parent's exit-time work.
        unsafe { libc::_exit(status) };
    }
    drop(write_end);
    let out = read_until(&read_end, Instant::now() + limit);
    if out.is_none() {
        // SAFETY: `pid` is our child, not reaped yet.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
    let mut status = 0;
    // SAFETY: reaps our own child; `status` is a valid out-pointer.
    let reaped = unsafe { libc::waitpid(pid, &mut status, 0) } == pid;
    out.filter(|_| reaped && libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0)
}

/// Everything until the write end closes, or `None` at the deadline.
fn read_until(fd: &OwnedFd, deadline: Instant) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        let left = deadline.checked_duration_since(Instant::now())?;
        let mut fds = [rustix::event::PollFd::new(fd, rustix::event::PollFlags::IN)];
        let timeout = rustix::event::Timespec::try_from(left).ok()?;
        match rustix::event::poll(&mut fds, Some(&timeout)) {
            Ok(0) => return None,
            Ok(_) => {}
            Err(rustix::io::Errno::INTR) => continue,
            Err(_) => return None,
        }
        match rustix::io::read(fd.as_fd(), &mut buf) {
            Ok(0) => return Some(out),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(rustix::io::Errno::INTR | rustix::io::Errno::AGAIN) => {}
            Err(_) => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LONG: Duration = Duration::from_secs(30);

    #[test]
    fn a_copy_returns_what_it_produced_and_changes_nothing_here() {
        let mut n = 1;
        let out = in_child_process(LONG, || {
            n = 2;
            vec![7; 100_000] // more than a pipe holds at once
        });
        assert_eq!(out, Some(vec![7; 100_000]));
        assert_eq!(n, 1);
    }

    #[test]
    fn a_copy_that_crashes_panics_or_hangs_yields_nothing() {
        // SAFETY: abort only ends the forked copy.
        assert_eq!(in_child_process(LONG, || unsafe { libc::abort() }), None);
        assert_eq!(in_child_process(LONG, || panic!("in the copy")), None);
        let start = Instant::now();
        assert_eq!(
            in_child_process(Duration::from_millis(300), || loop {
                std::hint::spin_loop()
            }),
            None
        );
        assert!(start.elapsed() < LONG, "the deadline was not kept");
    }
}
