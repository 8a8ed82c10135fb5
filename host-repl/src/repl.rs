//! The interactive REPL: C and C++ inputs compiled by an in-process clang interpreter
//! (declarations persist across inputs, as in clang-repl), linked by our linker and run in the
//! executor; expressions without a trailing `;` print their value on the host.
//!
//! An input whose code must run costs one call to the executor when it offers orcbridge's
//! `initialize_and_call`: its segments and EH frames are loaded and its top-level statements
//! run, returning its value, in one round trip. LLVM's executor gets the two calls that
//! does: one initialize, then one call running the input.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

use orcbridge_clang::{Interpreter, Ptu, RemoteValue, ValueKind};

use crate::compile::{self, FileKind, Lang};
use crate::interrupt::{self, Interrupts};
use crate::jit::{CapturedValue, Initializers, Jit, JitError, PendingUnit};
use crate::link::Input;

pub use repl_front::input::{InputLines, Outcome, needs_more};

/// Definitions typed into the REPL that nothing has used yet: they are compiled and linked
/// only when a later input refers to them (most never are), then join that input's unit.
#[derive(Debug, Default)]
struct Deferred {
    /// Symbol → the inputs defining it, oldest first (the newest is in effect; an earlier one
    /// comes back when it is undone).
    by_name: HashMap<String, Vec<u64>>,
    /// Input → the symbols it defines and its object, once emitted (after its unit was undone).
    inputs: HashMap<u64, (Vec<String>, Option<Vec<u8>>)>,
}

impl Deferred {
    fn add(&mut self, input: u64, defines: Vec<String>, object: Option<Vec<u8>>) {
        for n in &defines {
            self.by_name.entry(n.clone()).or_default().push(input);
        }
        self.inputs.insert(input, (defines, object));
    }

    fn remove(&mut self, input: u64) -> Option<(Vec<String>, Option<Vec<u8>>)> {
        let entry = self.inputs.remove(&input)?;
        for n in &entry.0 {
            if let Some(inputs) = self.by_name.get_mut(n) {
                inputs.retain(|&i| i != input);
                if inputs.is_empty() {
                    self.by_name.remove(n);
                }
            }
        }
        Some(entry)
    }
}

/// A deferred input that joined a unit.
#[derive(Debug)]
struct Absorbed {
    input: u64,
    defines: Vec<String>,
    object: Vec<u8>,
}

/// An input that compiled, linked and ran.
#[derive(Debug)]
struct Ran {
    /// The interpreter's id of the input.
    input: u64,
    /// Its value, for an expression without a trailing `;`.
    value: Option<RemoteValue>,
    /// Ctrl-C stopped the waiting; the input goes on running in the executor.
    interrupted: bool,
    /// The value is the text of a class value made in the target (see
    /// `Repl::content_printing`); this is its type's header.
    shown_as: Option<String>,
}

/// How a class-type value prints (see `Repl::custom_rendering`).
enum Rendering {
    /// The user's printer's text.
    Custom(String),
    /// The address, as clang-repl prints it; `note`: why the user's printer did not work.
    Default { note: Option<String> },
}

/// A REPL session over a JIT session.
pub struct Repl {
    jit: Jit,
    interp: Interpreter,
    /// Input id (from the interpreter) → unit id (in the JIT).
    units: HashMap<u64, u64>,
    deferred: Deferred,
    /// Unit → the inputs whose code it holds (the one that loaded it and the deferred ones it
    /// pulled in) and the names each defines. A unit is unloaded when the last of them is
    /// undone; until then an undone input's names are forgotten but its code stays, so the
    /// state of the others (a variable's value) survives.
    members: HashMap<u64, Vec<(u64, Vec<String>)>>,
    lang: Lang,
    /// The interpreter's extra clang arguments, for IR files it loads.
    clang_args: Vec<String>,
    /// Some input mentioned `printValue`: class values are offered to it.
    printer_mentioned: bool,
    /// What ends the wait for a running input (Ctrl-C), if the caller gave one.
    interrupts: Option<Interrupts>,
    /// [`interrupt::mark`] when the current input began.
    interrupt_mark: u64,
    /// An input whose wait was interrupted may still be running in the executor.
    interrupted_running: bool,
}

impl std::fmt::Debug for Repl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Repl").field("inputs", &self.units.len()).finish_non_exhaustive()
    }
}

/// Help text for `%help`.
pub const HELP: &str = "\
Type C or C++ (declarations, statements, expressions). An expression without a trailing ';'
prints its type and value; declare `std::string printValue(const T *)` to print class T your
way. Input continues on the next line while a brace is open or a line ends with '\\'.
  %help          this text
  %quit          leave (also Ctrl-D)
  %undo [N]      forget the last N inputs (default 1): their definitions can be made again
  %lib PATH      load a shared library into the executor
  %load FILE     load a file: C/C++ as an input, or an object (.o), archive (.a) or IR (.ll/.bc)";

/// How long a Tab may take before the REPL gives up on it (and kills the forked copy doing
/// it): a completion takes 2-25 ms (`bench complete`).
const COMPLETION_LIMIT: std::time::Duration = std::time::Duration::from_secs(2);

/// The `%` commands (without the `%`), as `%help` lists them.
pub const COMMANDS: &[&str] = &["help", "quit", "undo", "lib", "load"];

impl Repl {
    /// Starts a REPL for `lang` with extra clang arguments on `jit`'s executor; links the
    /// interpreter's start-up code with the session runtime.
    ///
    /// # Errors
    /// The interpreter cannot be created (bad arguments) or the start-up code does not load.
    pub async fn start(mut jit: Jit, lang: Lang, args: &[String]) -> Result<Repl, anyhow::Error> {
        let triple = jit.session().info().target_triple.clone();
        let opts = compile::clang::options(lang.into(), &triple, args);
        let mut interp = Interpreter::new(&opts)
            .map_err(|e| anyhow::anyhow!("cannot start the C/C++ interpreter: {e}"))?;
        let startup: Vec<Input> = interp
            .take_startup_objects()
            .into_iter()
            .filter(|p| !p.object.is_empty())
            .map(|p| Input::Object { name: format!("<startup {}>", p.id), bytes: p.object })
            .collect();
        jit.load(startup).await?;
        jit.set_redefinable(true);
        Ok(Repl {
            jit,
            interp,
            units: HashMap::new(),
            deferred: Deferred::default(),
            members: HashMap::new(),
            lang,
            clang_args: args.to_vec(),
            printer_mentioned: false,
            interrupts: None,
            interrupt_mark: 0,
            interrupted_running: false,
        })
    }

    /// Lets `interrupts` (Ctrl-C) end the wait for a running input: the input goes on running
    /// in the executor and the session stays usable. An interrupt that arrives while the
    /// input is compiled or loaded ends the wait as soon as it starts.
    pub fn set_interrupts(&mut self, interrupts: Interrupts) {
        self.interrupts = Some(interrupts);
    }

    /// The JIT session.
    pub fn jit(&self) -> &Jit {
        &self.jit
    }

    /// Ends the session as a program ends: runs the exit-time work of the inputs (`atexit`
    /// handlers and static destructors, newest first), whose output reaches the executor's
    /// stdout before this returns. Skipped while an interrupted input may still be running in
    /// the executor: its objects may be in use. Errors (a crashing destructor) go to `err`.
    ///
    /// # Errors
    /// The executor went away.
    pub async fn finish(&mut self, err: &mut dyn Write) -> Result<Outcome, JitError> {
        if self.interrupted_running {
            return Ok(Outcome::Done);
        }
        match self.jit.run_exit().await {
            Ok(()) => Ok(Outcome::Done),
            Err(JitError::Crashed { description, .. }) => {
                let _ = writeln!(err, "error: the exit-time work of the session crashed with {description}");
                Ok(Outcome::Failed)
            }
            Err(e @ (JitError::Executor { .. } | JitError::Runtime(_))) => {
                let _ = writeln!(err, "error: {e}");
                Ok(Outcome::Failed)
            }
            Err(e) => Err(e),
        }
    }

    /// Ends the session (call [`finish`](Self::finish) first for the exit-time work).
    pub async fn close(self) {
        self.jit.close().await;
    }

    /// Evaluates one complete input (code or a `%` command), writing values to `out` and
    /// errors to `err`.
    ///
    /// # Errors
    /// Only a lost executor; compile and link errors are reported to `err` and give
    /// [`Outcome::Failed`].
    pub async fn eval(
        &mut self,
        input: &str,
        out: &mut dyn Write,
        err: &mut dyn Write,
    ) -> Result<Outcome, JitError> {
        self.interrupt_mark = interrupt::mark();
        let trimmed = input.trim();
        if let Some(cmd) = trimmed.strip_prefix('%') {
            return self.command(cmd, out, err).await;
        }
        if trimmed.is_empty() {
            return Ok(Outcome::Done);
        }
        self.eval_code(input, out, err).await
    }

    async fn eval_code(
        &mut self,
        code: &str,
        out: &mut dyn Write,
        err: &mut dyn Write,
    ) -> Result<Outcome, JitError> {
        if needs_more(code) {
            // clang 22's incremental parser never returns from a class body the input ends in.
            let _ = writeln!(err, "error: the input ends inside an unclosed '{{' or comment");
            return Ok(Outcome::Failed);
        }
        let (ran, messages) = self.run_code(code).await?;
        if !messages.is_empty() {
            let _ = write!(err, "{}", with_newline(&messages));
        }
        let Some(ran) = ran.filter(|r| !r.interrupted) else { return Ok(Outcome::Failed) };
        if let Some(v) = ran.value {
            let mut text = self.interp.render_value(&v);
            if let Some(header) = ran.shown_as.filter(|_| v.kind == ValueKind::CString) {
                text = format!("({header}) {}", String::from_utf8_lossy(&v.data));
            } else if matches!(v.kind, ValueKind::Record | ValueKind::Pointer) {
                // Class-type values: rvalues are records, lvalues (`(T &)`) references.
                match self.custom_rendering(&text).await? {
                    Rendering::Custom(custom) => text = custom,
                    Rendering::Default { note: Some(note) } => {
                        let _ = writeln!(err, "{note}");
                    }
                    Rendering::Default { note: None } => {}
                }
            }
            if !text.is_empty() {
                let _ = writeln!(out, "{text}");
            }
        }
        let _ = out.flush();
        Ok(Outcome::Done)
    }

    /// Compiles, links and runs one input. Returns what ran (`None`: it did not compile or
    /// link, and the session is as before) and the messages for the user (diagnostics,
    /// warnings, link errors).
    async fn run_code(&mut self, code: &str) -> Result<(Option<Ran>, String), JitError> {
        let t0 = std::time::Instant::now();
        self.printer_mentioned |= code.contains("printValue");
        let parsed = self.interp.parse_deferrable(code);
        let t_parse = t0.elapsed();
        let mut ptu = match parsed {
            Ok(p) => p,
            Err(d) => return Ok((None, d.text)),
        };
        if ptu.has_value {
            ptu.warnings = without_unused_warnings(&ptu.warnings);
        }
        let formatter = self.content_formatter(code, &ptu);
        let done = Ran { input: ptu.id, value: None, interrupted: false, shown_as: None };
        if !ptu.retyped.is_empty()
            && let Err(e) = self.load_deferred().await
        {
            return self.load_failed(e, Vec::new(), &ptu.warnings);
        }
        if ptu.deferred {
            // A definition made again of a name in use is loaded now: code linked before
            // calls the new one from now on, not once something names it. So is one with
            // another type, which code linked before must not reach.
            let redefines =
                ptu.defines.iter().any(|n| self.jit.dylib().lookup(n).is_some_and(|d| d.redefinable));
            if !redefines && ptu.retyped.is_empty() {
                tracing::debug!("input {} deferred, defines {:?}", ptu.id, ptu.defines);
                self.deferred.add(ptu.id, ptu.defines, None);
                return Ok((Some(done), ptu.warnings));
            }
            match self.interp.emit(ptu.id) {
                Ok(object) => ptu.object = object,
                Err(e) => {
                    let _ = self.interp.undo(1);
                    return Ok((None, format!("{}error: {e}", with_newline_if_any(&ptu.warnings))));
                }
            }
        }
        if ptu.object.is_empty() {
            return Ok((Some(done), ptu.warnings));
        }
        let mut inputs = vec![Input::Object { name: format!("input_line_{}", ptu.id), bytes: ptu.object }];
        let shown_as = formatter.map(|(object, header)| {
            inputs.push(Input::Object { name: format!("input_line_{}_value", ptu.id), bytes: object });
            header
        });
        let (linked, absorbed) = self.link_input(&mut inputs, &ptu.retyped).await;
        let pending = match linked {
            Ok(p) => p,
            Err(e) => return self.load_failed(e, absorbed, &ptu.warnings),
        };
        let t_link = t0.elapsed();
        let run = match self.load_and_run(ptu.id, pending, absorbed).await {
            Ok(run) => run,
            Err((e, absorbed)) => return self.load_failed(e, absorbed, &ptu.warnings),
        };
        let Some(run) = run else {
            self.interrupted_running = true;
            let msg = "^C: stopped waiting; the input goes on running in the executor";
            let ran = Ran { input: ptu.id, value: None, interrupted: true, shown_as: None };
            return Ok((Some(ran), format!("{}{msg}", with_newline_if_any(&ptu.warnings))));
        };
        let value = match run {
            Ok(v) => v,
            Err(JitError::Crashed { description, .. }) => {
                // The executor survived; take the input back, as for a failed link.
                let _ = self.interp.undo(1);
                self.forget_input(ptu.id).await?;
                let msg = format!("error: the input crashed with {description}; it was undone");
                return Ok((None, format!("{}{msg}", with_newline_if_any(&ptu.warnings))));
            }
            Err(e) => return Err(e),
        };
        tracing::debug!(
            "input {}: compile {:.3} ms, link {:.3} ms, load and run {:.3} ms",
            ptu.id,
            t_parse.as_secs_f64() * 1e3,
            (t_link - t_parse).as_secs_f64() * 1e3,
            (t0.elapsed() - t_link).as_secs_f64() * 1e3
        );
        let value = value.filter(|_| ptu.has_value).map(|v| RemoteValue {
            kind: ValueKind::from_u32(u32::from(v.kind)).unwrap_or(ValueKind::Void),
            ty: v.ty,
            data: v.data,
        });
        Ok((Some(Ran { input: ptu.id, value, interrupted: false, shown_as }), ptu.warnings))
    }

    /// Loads every deferred input now, in one unit: before a definition with another type
    /// comes in, code compiled against the earlier type must be linked to the earlier
    /// definition (and then keeps it, [`Jit::keep_bindings`]). Their definitions of names
    /// loaded since are older and do not take over ([`crate::link::LinkPlan::older_definitions`]).
    ///
    /// # Errors
    /// The link or the load failed (the inputs stay deferred), or the executor went away.
    async fn load_deferred(&mut self) -> Result<(), JitError> {
        let names: Vec<String> = self.deferred.by_name.keys().cloned().collect();
        if names.is_empty() {
            return Ok(());
        }
        let mut absorbed = Vec::new();
        let loaded = {
            let (interp, deferred) = (&mut self.interp, &mut self.deferred);
            let mut all = Some(names);
            let mut provide = |_: &[String]| match all.take() {
                Some(names) => take_deferred(interp, deferred, &names, &mut absorbed),
                None => Vec::new(),
            };
            self.jit.load_lazy(Vec::new(), Initializers::AtLoad, &mut provide).await
        };
        match loaded {
            Ok((unit, _)) if !absorbed.is_empty() => {
                let first = absorbed.remove(0);
                self.record_unit(first.input, &unit, absorbed);
                Ok(())
            }
            Ok(_) => Ok(()),
            Err(e) => {
                for a in absorbed {
                    self.deferred.add(a.input, a.defines, Some(a.object));
                }
                Err(e)
            }
        }
    }

    /// Takes back input `ptu` whose load failed (`e`: a link error, or the executor refused
    /// the code) so that its declarations do not refer to nothing; the deferred inputs it
    /// pulled in (`absorbed`) wait again. Other errors (a lost executor) are returned.
    fn load_failed(
        &mut self,
        e: JitError,
        absorbed: Vec<Absorbed>,
        warnings: &str,
    ) -> Result<(Option<Ran>, String), JitError> {
        if !matches!(e, JitError::Link(_) | JitError::Executor { .. } | JitError::Runtime(_)) {
            return Err(e);
        }
        let _ = self.interp.undo(1);
        for a in absorbed {
            self.deferred.add(a.input, a.defines, Some(a.object));
        }
        Ok((None, format!("{}error: {e}", with_newline_if_any(warnings))))
    }

    /// Loads and runs the linked input `input` (`pending`, holding the deferred inputs
    /// `absorbed`), [`Jit::send_input`]: one call with orc-executor, an `initialize` and then
    /// the run call with LLVM's executor. Records its unit before what running it gave is
    /// used, and returns that, or `None` if Ctrl-C ended the wait for it; the load's error
    /// with `absorbed` if it failed.
    async fn load_and_run(
        &mut self,
        input: u64,
        pending: PendingUnit,
        absorbed: Vec<Absorbed>,
    ) -> Result<Option<Result<Option<CapturedValue>, JitError>>, (JitError, Vec<Absorbed>)> {
        let mut call = match self.jit.send_input(pending).await {
            Ok(call) => call,
            Err(e) => return Err((e, absorbed)),
        };
        // Only the wait for the answer can be interrupted (with LLVM's executor, not the load
        // before it): the requests went out whole, and the executor loads the input before it
        // runs it, so it is recorded as loaded and goes on running.
        let answer = tokio::select! {
            a = call.answer() => a,
            () = interrupted(&mut self.interrupts, self.interrupt_mark) => {
                let unit = self.jit.abandon_input(call);
                self.record_unit(input, &unit, absorbed);
                return Ok(None);
            }
        };
        match self.jit.finish_input(call, answer).await {
            Ok((unit, _, run)) => {
                self.record_unit(input, &unit, absorbed);
                Ok(Some(run))
            }
            Err(e) => Err((e, absorbed)),
        }
    }

    /// Links an input's objects (`inputs`), pulling in the deferred inputs they need; sends
    /// no code yet. A constructor or destructor that clang's incremental code generation
    /// refers to but never emitted (the destructor of a temporary in a top-level statement, in
    /// clang-repl too) is defined by an explicit instantiation attached to the input, and the
    /// link tried again: at most `MAX_INSTANTIATIONS` times. Returns the result and the
    /// deferred inputs pulled in (to put back if the link or the load fails). Code linked
    /// before keeps its definitions of `retyped`, names the input defines again with another
    /// type ([`Jit::keep_bindings`]).
    async fn link_input(
        &mut self,
        inputs: &mut Vec<Input>,
        retyped: &[String],
    ) -> (Result<PendingUnit, JitError>, Vec<Absorbed>) {
        const MAX_INSTANTIATIONS: usize = 8;
        let mut added = 0;
        loop {
            let mut absorbed = Vec::new();
            self.jit.keep_bindings(retyped.to_vec());
            let loaded = {
                let (interp, deferred) = (&mut self.interp, &mut self.deferred);
                let mut provide = |needed: &[String]| take_deferred(interp, deferred, needed, &mut absorbed);
                self.jit.link_lazy(inputs.clone(), Initializers::Deferred, &mut provide).await
            };
            let missing = match &loaded {
                Err(JitError::Link(crate::link::LinkError::UndefinedSymbol { name, .. }))
                    if added < MAX_INSTANTIATIONS =>
                {
                    Interpreter::structor_instantiation(name)
                }
                _ => None,
            };
            let Some(code) = missing else { return (loaded, absorbed) };
            let Ok(ptu) = self.interp.parse_attached(&code) else { return (loaded, absorbed) };
            tracing::debug!("defining what clang did not emit: {code}");
            for a in absorbed {
                self.deferred.add(a.input, a.defines, Some(a.object));
            }
            inputs.push(Input::Object { name: format!("input_line_{}", ptu.id), bytes: ptu.object });
            added += 1;
        }
    }

    /// Values of the standard library's containers, strings, optionals, pairs, tuples and
    /// smart pointers print by content, made in the target in the same run as any value: a
    /// statement attached to the input (`ptu`, parsed from `code`) hands the runtime a
    /// formatter for the value's type (`__orcbridge::show` of the value printer,
    /// `clang-shim/cxx/value_printer.hpp`, parsed with the first one), which turns the captured object
    /// into its text right after the input ran. The user's printValue for a type still wins,
    /// inside containers too. Returns the formatter's object and the header to print the
    /// text under; `None` for other values, or if the formatter does not compile (the value
    /// then prints as before).
    fn content_formatter(&mut self, code: &str, ptu: &Ptu) -> Option<(Vec<u8>, String)> {
        /// Class templates of `std` printed by content ([`Interpreter::class_value`]).
        const BY_CONTENT: &[&str] = &[
            "std::basic_string",
            "std::basic_string_view",
            "std::vector",
            "std::array",
            "std::deque",
            "std::list",
            "std::forward_list",
            "std::set",
            "std::multiset",
            "std::unordered_set",
            "std::unordered_multiset",
            "std::map",
            "std::multimap",
            "std::unordered_map",
            "std::unordered_multimap",
            "std::optional",
            "std::pair",
            "std::tuple",
            "std::unique_ptr",
            "std::shared_ptr",
            "std::span",
            "std::initializer_list",
        ];
        if self.lang != Lang::Cxx || ptu.deferred {
            return None;
        }
        let capture = ptu.value.filter(|v| matches!(v.kind, ValueKind::Record | ValueKind::Pointer))?;
        let span = ptu.value_span.clone()?;
        let class = self.interp.class_value(capture.ty)?;
        if !BY_CONTENT.contains(&class.std_template.as_deref()?) {
            return None;
        }
        // The type as the expression has it, unevaluated (nothing runs or is instantiated
        // twice). The hooks need names of the user's headers, so they are spelled here: the
        // user's printValue, found from the input as the user's own call would find it, and
        // std::apply for tuples, whose <tuple> is included if the value holds one.
        let expr = &code[span];
        let printer = if self.printer_mentioned {
            "[](const auto *p) -> decltype(printValue(p)) { return printValue(p); }"
        } else {
            "__orcbridge::show_detail::no_hook()"
        };
        let tuple = if class.canonical.contains("tuple<") {
            ", [](const auto &t, auto &each) -> decltype(void(std::tuple_size<std::decay_t<decltype(t)>>::value)) \
             { std::apply([&](const auto &...e) { (each(e), ...); }, t); }"
        } else {
            ""
        };
        let formatter = format!(
            "__orcbridge_value_format([](const void *p) -> const char * {{ return __orcbridge::show(\
             *static_cast<const __remove_cvref(decltype(({expr}))) *>(p), {printer}{tuple}); }});"
        );
        match self.interp.parse_value_formatter(&formatter) {
            Ok(f) => Some((f.object, class.header)),
            Err(d) => {
                tracing::debug!("no value formatter for {}: {}", class.header, d.text);
                None
            }
        }
    }

    /// The user's printer for a class-type value rendered as `(T) @0xADDR` / `(T &) @0xADDR`:
    /// if `printValue((const T *)ADDR).c_str()` compiles and runs (cling's convention: a
    /// `std::string printValue(const T *)` overload, found as C++ finds any call), its text
    /// replaces the address. Tried only once some input mentioned `printValue`, so sessions
    /// without a printer pay nothing.
    ///
    async fn custom_rendering(&mut self, text: &str) -> Result<Rendering, JitError> {
        const PLAIN: Rendering = Rendering::Default { note: None };
        if self.lang != Lang::Cxx || !self.printer_mentioned {
            return Ok(PLAIN);
        }
        let Some((shown, addr)) = text.rsplit_once(" @0x") else { return Ok(PLAIN) };
        let Some(ty) = shown.strip_prefix('(').and_then(|t| t.strip_suffix(')')) else { return Ok(PLAIN) };
        let ty = ty.strip_suffix(" &").unwrap_or(ty);
        let ty = ty.strip_prefix("const ").unwrap_or(ty);
        if !addr.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(PLAIN);
        }
        let (ran, messages) = self.run_code(&format!("printValue((const {ty} *)0x{addr}).c_str()")).await?;
        let Some(ran) = ran else {
            // No overload for T is the usual case; anything else (an ambiguous call, a
            // printer declared but not defined) the user should hear about.
            let quiet = messages.contains("no matching function for call to 'printValue'")
                || messages.contains("undeclared identifier 'printValue'");
            let first = messages.lines().find(|l| l.contains("error")).unwrap_or("").trim();
            return Ok(Rendering::Default {
                note: (!quiet).then(|| format!("note: printValue for {ty} failed: {first}")),
            });
        };
        let printed = ran.value.filter(|v| v.kind == ValueKind::CString);
        match self.interp.undo(1) {
            Ok(ids) => {
                for id in ids {
                    self.forget_probe(id, ran.interrupted).await?;
                }
            }
            Err(e) => tracing::warn!("cannot undo the printValue probe (input {}): {e}", ran.input),
        }
        Ok(printed
            .map_or(PLAIN, |v| Rendering::Custom(format!("{shown} {}", String::from_utf8_lossy(&v.data)))))
    }

    /// Records that `unit` holds input `input` and the deferred inputs it pulled in.
    fn record_unit(&mut self, input: u64, unit: &crate::link::LinkedUnit, absorbed: Vec<Absorbed>) {
        let theirs: std::collections::HashSet<&str> =
            absorbed.iter().flat_map(|a| a.defines.iter().map(String::as_str)).collect();
        let own: Vec<String> =
            unit.symbols.iter().map(|(n, _)| n).filter(|n| !theirs.contains(n.as_str())).cloned().collect();
        let mut members = vec![(input, own)];
        for a in absorbed {
            self.units.insert(a.input, unit.id);
            members.push((a.input, a.defines));
        }
        self.units.insert(input, unit.id);
        self.members.insert(unit.id, members);
    }

    /// Drops the printValue probe `id` (just undone in the interpreter) as any undone input;
    /// a probe still `running` (interrupted) keeps its code loaded.
    async fn forget_probe(&mut self, id: u64, running: bool) -> Result<(), JitError> {
        if running {
            if let Some(unit) = self.units.remove(&id) {
                self.forget_member(unit, id).await?;
            }
            return Ok(());
        }
        self.forget_input(id).await
    }

    /// Removes `input` from `unit`'s members and its names from the session; true if no
    /// member is left.
    ///
    /// # Errors
    /// The executor went away (names that fall back to earlier definitions are rebound there).
    async fn forget_member(&mut self, unit: u64, input: u64) -> Result<bool, JitError> {
        let Some(members) = self.members.get_mut(&unit) else { return Ok(true) };
        let names = members.iter().position(|(i, _)| *i == input).map(|pos| members.remove(pos).1);
        let empty = members.is_empty();
        if empty {
            self.members.remove(&unit);
        }
        if let Some(names) = names {
            self.jit.forget_names(unit, &names).await?;
        }
        Ok(empty)
    }

    /// Completions for the code identifier that ends at byte `pos` of `line`, the line being
    /// typed after `pending` (the earlier lines of an unfinished input, as [`InputLines`] holds
    /// them): clang's code completion sees names of earlier inputs and headers, members after
    /// `.` and `->`, scopes after `::`, keywords and macros. Returns where the identifier
    /// starts in `line` and the whole identifiers that may replace it, sorted; nothing when
    /// clang cannot complete there. The session is not changed.
    pub fn complete(&mut self, pending: &str, line: &str, pos: usize) -> (usize, Vec<String>) {
        let code = format!("{pending}{line}");
        let interp = &mut self.interp;
        // The reply: the prefix, then each candidate, each NUL-terminated.
        let reply = crate::completion::in_child_process(COMPLETION_LIMIT, || {
            let Ok((prefix, found)) = interp.complete(&code, pending.len() + pos) else { return Vec::new() };
            let mut out = Vec::new();
            for s in std::iter::once(&prefix).chain(&found) {
                out.extend_from_slice(s.as_bytes());
                out.push(0);
            }
            out
        });
        let Some(reply) = reply else {
            tracing::debug!("completion at {pos} of {line:?} failed or took over {COMPLETION_LIMIT:?}");
            return (pos, Vec::new());
        };
        let mut parts = reply.split(|&b| b == 0).map(|p| String::from_utf8_lossy(p).into_owned());
        let prefix = parts.next().unwrap_or_default();
        let found: Vec<String> = parts.filter(|p| !p.is_empty()).collect();
        match pos.checked_sub(prefix.len()) {
            Some(start) if line.is_char_boundary(start) => (start, found),
            _ => (pos, Vec::new()),
        }
    }

    async fn command(
        &mut self,
        cmd: &str,
        out: &mut dyn Write,
        err: &mut dyn Write,
    ) -> Result<Outcome, JitError> {
        let (name, arg) = cmd.split_once(char::is_whitespace).map_or((cmd, ""), |(n, a)| (n, a.trim()));
        match name {
            "quit" | "q" => return Ok(Outcome::Quit),
            "help" => {
                let _ = writeln!(out, "{HELP}");
            }
            "undo" => {
                let n = if arg.is_empty() { Ok(1) } else { arg.parse::<u32>() };
                let Ok(n) = n else {
                    let _ = writeln!(err, "error: %undo takes a number of inputs");
                    return Ok(Outcome::Failed);
                };
                match self.interp.undo(n) {
                    Ok(ids) => {
                        for id in ids {
                            self.forget_input(id).await?;
                        }
                    }
                    Err(e) => {
                        let _ = writeln!(err, "error: {e}");
                        return Ok(Outcome::Failed);
                    }
                }
            }
            "lib" => {
                let triple = self.jit.session().info().target_triple.clone();
                let found = match crate::libs::Search::new(&[], &triple).find_dlopen(arg) {
                    Ok(f) => f,
                    Err(e) => {
                        let _ = writeln!(err, "error: {e}");
                        return Ok(Outcome::Failed);
                    }
                };
                match self.jit.open_libraries(found).await {
                    Ok(linkable) => linkable.into_iter().for_each(|i| self.jit.add_library_archive(i)),
                    Err(e @ (JitError::Executor { .. } | JitError::Runtime(_))) => {
                        let _ = writeln!(err, "error: {e}");
                        return Ok(Outcome::Failed);
                    }
                    Err(e) => return Err(e),
                }
            }
            "load" => return self.load_file(Path::new(arg), out, err).await,
            _ => {
                let _ = writeln!(err, "error: unknown command %{name} (try %help)");
                return Ok(Outcome::Failed);
            }
        }
        Ok(Outcome::Done)
    }

    /// Drops what input `id` (just undone) left in the session.
    async fn forget_input(&mut self, id: u64) -> Result<(), JitError> {
        if self.deferred.remove(id).is_some() {
            return Ok(());
        }
        if let Some(unit) = self.units.remove(&id)
            && self.forget_member(unit, id).await?
        {
            self.jit.unload(unit).await?;
        }
        Ok(())
    }

    async fn load_file(
        &mut self,
        path: &Path,
        out: &mut dyn Write,
        err: &mut dyn Write,
    ) -> Result<Outcome, JitError> {
        let fail = |err: &mut dyn Write, msg: String| {
            let _ = writeln!(err, "error: {msg}");
            Ok(Outcome::Failed)
        };
        let Some(kind) = FileKind::of(path, Some(self.lang)) else {
            return fail(err, format!("{}: unknown kind of file", path.display()));
        };
        let triple = self.jit.session().info().target_triple.clone();
        let name = path.display().to_string();
        let input = match kind {
            // Sources go through the interpreter, so their declarations are known afterwards,
            // as an #include of the file: its quoted includes are found beside it, and
            // diagnostics name its lines.
            FileKind::Source(_) => match std::fs::canonicalize(path) {
                Ok(abs) if std::fs::read_to_string(&abs).is_ok_and(|text| needs_more(&text)) => {
                    // As for an input: clang would never finish parsing it.
                    return fail(err, format!("{name} ends inside an unclosed '{{' or comment"));
                }
                Ok(abs) => {
                    let quoted = abs.display().to_string().replace('\\', "\\\\").replace('"', "\\\"");
                    return self.eval_code(&format!("#include \"{quoted}\""), out, err).await;
                }
                Err(e) => return fail(err, format!("{name}: {e}")),
            },
            // With the interpreter's clang arguments (its -O level, for one), through the cache.
            FileKind::Ir => match compile::clang::compile_cached_with_deps(
                compile::clang::Source::File(path),
                compile::clang::Language::Ir,
                &triple,
                &self.clang_args,
            ) {
                Ok(bytes) => Input::Object { name, bytes },
                Err(e) => {
                    let _ = writeln!(err, "{}", e.diagnostics.trim_end());
                    return Ok(Outcome::Failed);
                }
            },
            FileKind::Object | FileKind::Archive => match std::fs::read(path) {
                Ok(bytes) if kind == FileKind::Object => Input::Object { name, bytes },
                Ok(bytes) => Input::Archive { name, bytes },
                Err(e) => return fail(err, format!("{name}: {e}")),
            },
        };
        match self.jit.load(vec![input]).await {
            Ok(_) => Ok(Outcome::Done),
            Err(JitError::Link(e)) => fail(err, e.to_string()),
            Err(e) => Err(e),
        }
    }
}

/// Completes once Ctrl-C arrived after `mark` ([`interrupt::mark`]); never without
/// `interrupts`.
async fn interrupted(interrupts: &mut Option<Interrupts>, mark: u64) {
    match interrupts {
        Some(i) => i.since(mark).await,
        None => std::future::pending().await,
    }
}

/// The deferred inputs defining some of `needed`, emitted (they join the unit being linked).
fn take_deferred(
    interp: &mut Interpreter,
    deferred: &mut Deferred,
    needed: &[String],
    absorbed: &mut Vec<Absorbed>,
) -> Vec<Input> {
    let mut ids: Vec<u64> =
        needed.iter().filter_map(|n| deferred.by_name.get(n).and_then(|i| i.last()).copied()).collect();
    ids.sort_unstable();
    ids.dedup();
    let mut inputs = Vec::new();
    for id in ids {
        let Some((defines, object)) = deferred.remove(id) else { continue };
        let object = match object {
            Some(o) => o,
            None => match interp.emit(id) {
                Ok(o) => o,
                Err(e) => {
                    tracing::warn!("cannot emit input {id}: {e}");
                    continue;
                }
            },
        };
        inputs.push(Input::Object { name: format!("input_line_{id}"), bytes: object.clone() });
        absorbed.push(Absorbed { input: id, defines, object });
    }
    inputs
}

/// `diagnostics` without its warnings that a result is unused (`-Wunused-result`,
/// `-Wunused-value`, `-Wunused-comparison`). clang (clang-repl 22.1 too) warns that the result
/// of a `[[nodiscard]]` or `const` function call, or of `x == 1`, is ignored when the input is
/// an expression whose value the REPL prints, i.e. uses. A diagnostic is a block of lines
/// starting with its "In file included from" line, if any, or its "file:line:col:" line;
/// notes belong to the diagnostic before them.
fn without_unused_warnings(diagnostics: &str) -> String {
    let mut blocks: Vec<String> = Vec::new();
    let mut included = false;
    for line in diagnostics.lines() {
        let is_diag = line.contains(": warning: ") || line.contains(": error: ");
        let starts = line.starts_with("In file included from ") || (is_diag && !included);
        if starts || blocks.is_empty() {
            blocks.push(String::new());
        }
        included = line.starts_with("In file included from ");
        if let Some(b) = blocks.last_mut() {
            b.push_str(line);
            b.push('\n');
        }
    }
    const UNUSED: [&str; 3] = ["[-Wunused-result]", "[-Wunused-value]", "[-Wunused-comparison]"];
    blocks.retain(|b| !UNUSED.iter().any(|flag| b.contains(flag)));
    blocks.concat()
}

/// `s` followed by a newline, or nothing when `s` is empty.
fn with_newline_if_any(s: &str) -> String {
    if s.is_empty() { String::new() } else { with_newline(s) }
}

fn with_newline(s: &str) -> String {
    if s.ends_with('\n') { s.to_owned() } else { format!("{s}\n") }
}

#[cfg(test)]
mod tests {
    #[test]
    fn printed_values_drop_only_unused_result_warnings() {
        let text = "In file included from <<< inputs >>>:1:\n\
                    input_line_3:1:1: warning: ignoring return value of function declared with 'nodiscard' \
                    attribute [-Wunused-result]\n    1 | v.size()\n      | ^~~~~~~~\n\
                    In file included from <<< inputs >>>:1:\n\
                    input_line_3:1:5: warning: implicit conversion [-Wconversion]\n    1 | v.size()\n";
        let kept = super::without_unused_warnings(text);
        assert!(!kept.contains("nodiscard") && kept.contains("[-Wconversion]"), "{kept}");
        assert!(kept.starts_with("In file included from") && kept.ends_with("    1 | v.size()\n"), "{kept}");
        assert_eq!(super::without_unused_warnings(""), "");
        let eq = "input_line_2:1:3: warning: equality comparison result unused [-Wunused-comparison]
    1 |                   x == 1
input_line_2:1:3: note: use '=' to turn this equality comparison into an                   assignment
";
        assert_eq!(super::without_unused_warnings(eq), "");
    }
}
