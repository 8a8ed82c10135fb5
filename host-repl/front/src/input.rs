//! Inputs as the REPL reads them: lines assembled into complete inputs ([`InputLines`]), and
//! the loops over `-e` inputs, a script on stdin and a line editor on a terminal, each handing
//! complete inputs to an evaluator (the REPL in this process, or a session server).

use std::cell::RefCell;

use anyhow::{Context, Result};

use crate::interrupt;

/// What an evaluation did, for the caller's exit status and prompts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The input ran (and printed its value, if any).
    Done,
    /// The input did not compile or link; the session is unchanged.
    Failed,
    /// `%quit`.
    Quit,
}

/// Evaluates `inputs` in order with `eval` until one is `%quit`; returns whether none failed.
///
/// # Errors
/// `eval`'s (the evaluation could not go on).
pub fn each_input<'a>(
    inputs: impl IntoIterator<Item = &'a str>,
    mut eval: impl FnMut(&str) -> Result<Outcome>,
) -> Result<bool> {
    let mut ok = true;
    for code in inputs {
        match eval(code)? {
            Outcome::Quit => break,
            Outcome::Failed => ok = false,
            Outcome::Done => {}
        }
    }
    Ok(ok)
}

/// Reads inputs from a non-terminal (one per line, continued while braces are open) and
/// evaluates each with `eval`; returns whether none failed.
pub fn script(input: impl std::io::BufRead, mut eval: impl FnMut(&str) -> Result<Outcome>) -> Result<bool> {
    let mut ok = true;
    let mut lines = InputLines::default();
    for line in input.lines() {
        let line = line.context("reading stdin")?;
        let Some(text) = lines.push(&line) else { continue };
        match eval(&text)? {
            Outcome::Quit => return Ok(ok),
            Outcome::Failed => ok = false,
            Outcome::Done => {}
        }
    }
    match lines.finish() {
        Some(Ok(text)) => ok &= eval(&text)? != Outcome::Failed,
        Some(Err(text)) => {
            let first = text.lines().next().unwrap_or_default();
            eprintln!("error: the input ends inside an unclosed '{{' or comment (from: {first})");
            ok = false;
        }
        None => {}
    }
    Ok(ok)
}

/// A line editor as the REPL configures it (completions listed), without a helper yet.
pub fn line_editor<H: rustyline::Helper>() -> Result<rustyline::Editor<H, rustyline::history::DefaultHistory>>
{
    let config = rustyline::Config::builder().completion_type(rustyline::CompletionType::List).build();
    rustyline::Editor::with_config(config).context("cannot set up line editing")
}

/// Reads inputs with `editor` (prompts, history in the user's data directory) into `lines`
/// and evaluates each complete one with `eval`, Ctrl-C interrupting the evaluation rather
/// than ending the process; returns whether none failed.
pub fn edit_loop<H: rustyline::Helper>(
    mut editor: rustyline::Editor<H, rustyline::history::DefaultHistory>,
    lines: &RefCell<InputLines>,
    mut eval: impl FnMut(&str) -> Result<Outcome>,
) -> Result<bool> {
    use rustyline::error::ReadlineError;
    let history = dirs::data_dir().map(|d| d.join("orcbridge").join("history"));
    if let Some(h) = &history {
        let _ = editor.load_history(h);
    }
    let mut ok = true;
    loop {
        let prompt = if lines.borrow().is_pending() { "  ...> " } else { "repl> " };
        match editor.readline(prompt) {
            Ok(line) => {
                let Some(text) = lines.borrow_mut().push(&line) else { continue };
                if !text.trim().is_empty() {
                    let _ = editor.add_history_entry(text.as_str());
                }
                let outcome = interrupt::while_handled(|| eval(&text))?;
                match outcome {
                    Outcome::Quit => break,
                    Outcome::Failed => ok = false,
                    Outcome::Done => {}
                }
            }
            Err(ReadlineError::Interrupted) => lines.borrow_mut().clear(),
            Err(ReadlineError::Eof) => break,
            Err(e) => return Err(e).context("reading input"),
        }
    }
    if let Some(h) = &history {
        let _ = h.parent().map(std::fs::create_dir_all);
        let _ = editor.save_history(h);
    }
    Ok(ok)
}
/// Assembles lines into inputs: a line ending in `\` continues on the next, as in clang-repl
/// (the line is trimmed, the backslash dropped, and the next line joined without a newline,
/// except after a preprocessor line); beyond clang-repl, an input also continues while a brace
/// or a comment is open (only braces: a stray `(` in a mistyped line must not swallow the
/// lines after it). A line starting with `%` is a command.
#[derive(Debug, Default)]
pub struct InputLines {
    pending: String,
}

impl InputLines {
    /// Takes one line (without its newline); returns the input it completes, if it does.
    pub fn push(&mut self, line: &str) -> Option<String> {
        let trimmed = line.trim();
        if let Some(body) = trimmed.strip_suffix('\\') {
            self.pending.push_str(body);
            if trimmed.starts_with('#') {
                self.pending.push('\n');
            }
            return None;
        }
        self.pending.push_str(line);
        self.pending.push('\n');
        if self.pending.trim_start().starts_with('%') || !needs_more(&self.pending) {
            let text = std::mem::take(&mut self.pending);
            return Some(text.trim_end_matches('\n').to_owned());
        }
        None
    }

    /// True while an input is incomplete (for a continuation prompt).
    pub fn is_pending(&self) -> bool {
        !self.pending.is_empty()
    }

    /// The lines of the incomplete input so far, joined as the input will be.
    pub fn pending(&self) -> &str {
        &self.pending
    }

    /// Drops the incomplete input (Ctrl-C at a prompt).
    pub fn clear(&mut self) {
        self.pending.clear();
    }

    /// What is left at the end of the input, if anything but blanks: `Err` with it if a brace
    /// or comment is still open (clang's parser would wait for the rest forever).
    pub fn finish(&mut self) -> Option<Result<String, String>> {
        let text = std::mem::take(&mut self.pending);
        if text.trim().is_empty() {
            return None;
        }
        Some(if needs_more(&text) { Err(text) } else { Ok(text) })
    }
}

/// True if `text` is not a complete input yet: a brace or a block comment is open (outside
/// strings, character literals and comments).
pub fn needs_more(text: &str) -> bool {
    let mut depth = 0i32;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '/' if chars.peek() == Some(&'/') => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        break;
                    }
                }
            }
            '/' if chars.peek() == Some(&'*') => {
                chars.next();
                let mut prev = ' ';
                let mut closed = false;
                for c in chars.by_ref() {
                    if prev == '*' && c == '/' {
                        closed = true;
                        break;
                    }
                    prev = c;
                }
                if !closed {
                    return true;
                }
            }
            '"' | '\'' => {
                while let Some(d) = chars.next() {
                    if d == '\\' {
                        chars.next();
                    } else if d == c || d == '\n' {
                        break;
                    }
                }
            }
            '{' => depth += 1,
            '}' => depth -= 1,
            _ => {}
        }
    }
    depth > 0
}

#[cfg(test)]
mod tests {
    use super::needs_more;

    #[test]
    fn inputs_continue_while_brackets_are_open() {
        assert!(needs_more("int f(int a) {"));
        assert!(needs_more("int f(int a) {\n  return a;"));
        assert!(!needs_more("int f(int a) {\n  return a;\n}"));
        assert!(!needs_more("const char *s = \"{(\";"));
        assert!(!needs_more("char c = '{';"));
        assert!(!needs_more("int x; // {"));
        assert!(needs_more("int x; /* {"));
        assert!(!needs_more("x = v[(1)]"));
        assert!(!needs_more("f(1,"), "only braces continue an input");
    }

    #[test]
    fn backslashes_join_lines_as_in_clang_repl() {
        let mut lines = super::InputLines::default();
        assert_eq!(lines.push("#define TWICE(x) \\"), None);
        assert_eq!(lines.push("  int f() {\\"), None);
        assert_eq!(lines.push("  return 2;\\"), None);
        assert_eq!(lines.push("}").as_deref(), Some("#define TWICE(x) \nint f() {return 2;}"));
        assert_eq!(lines.push("int g() {"), None);
        assert!(lines.is_pending());
        assert_eq!(lines.push("  return 3;"), None);
        assert_eq!(lines.push("}").as_deref(), Some("int g() {\n  return 3;\n}"));
        assert_eq!(lines.push("%undo").as_deref(), Some("%undo"));
        assert_eq!(lines.push("int h(\\"), None);
        assert_eq!(lines.finish(), Some(Ok("int h(".to_owned())));
        assert_eq!(lines.push("int k() {"), None);
        assert_eq!(lines.finish(), Some(Err("int k() {\n".to_owned())));
    }
}
