//! A JIT session: an executor connection, the session's symbol table, its memory, and the
//! runtime, put together to load units and run code with few round trips.
//!
//! Loading a unit: plan the link; look up the symbols it needs from the executor process (one
//! batched `resolve`, only for names not seen before) at the same time as reserving a new slab
//! (only when the existing ones are full); finish the link on the host; send one `initialize`
//! carrying the segments and the alloc actions (EH-frame registration, and the unit's
//! initializers through the runtime). Steady state: one round trip per unit.
//!
//! A REPL input whose statements must run is loaded and run in that same round trip when the
//! executor offers orcbridge's `initialize_and_call`; LLVM's executor gets the initialize and
//! then the run call. [`Jit::send_input`] chooses.

use std::collections::HashMap;
use std::time::Instant;

use orc_rpc::info::names;
use std::borrow::Cow;

use bytes::Bytes;
use orc_rpc::services::{
    DylibOpen, DylibResolve, MemDeinitialize, MemInitialize, MemInitializeAndCall, MemReserve,
    TakeCrashReport, WrapperFunction, decode_ret,
};
use orc_rpc::sps::{SpsDecode, SpsError, SpsExpected, from_bytes};
use orc_rpc::types::{
    AllocActionCallPair, FinalizeRequest, RemoteAllocGroup, RemoteSymbolLookupSetElement, SegFinalizeRequest,
    WrapperFunctionCall,
};
use orc_rpc::{ExecutorAddr, ExecutorAddrRange, Raw};
use orcbridge_runtime as rt;

use crate::epc::{SentCall, Session, SessionError};
use crate::link::graph::SegmentKind;
use crate::link::{self, Input, JitDylib, LinkError, LinkOptions, LinkedUnit};
use crate::memmgr::RemoteMemory;

/// Slab size reserved at a time (bytes of executor address space, mapped read-write).
const SLAB_SIZE: u64 = 64 << 20;

/// Why loading or running failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JitError {
    /// The link failed.
    #[error(transparent)]
    Link(#[from] LinkError),
    /// Talking to the executor failed.
    #[error(transparent)]
    Session(#[from] SessionError),
    /// The executor refused a request.
    #[error("the executor refused {what}: {message}")]
    Executor {
        /// The request.
        what: &'static str,
        /// Its error.
        message: String,
    },
    /// The executor's architecture is one the linker does not handle.
    #[error("the executor's target {triple} is not supported (x86-64 and AArch64 are)")]
    UnsupportedTarget {
        /// The triple the executor announced.
        triple: String,
    },
    /// The session's runtime is missing something the host needs.
    #[error("{0}")]
    Runtime(String),
    /// JIT'd code crashed and the executor caught it (orc-executor's crash-report extension):
    /// the call failed, the session goes on.
    #[error("crashed with {description}")]
    Crashed {
        /// The POSIX signal number.
        signal: i32,
        /// The executor's description, e.g. `SIGSEGV (invalid memory access at 0x0)`.
        description: String,
    },
}

/// What one load did.
#[derive(Debug, Clone)]
pub struct LoadReport {
    /// The unit's number.
    pub unit: u64,
    /// Round trips the load waited for (concurrent calls count once).
    pub round_trips: u64,
    /// Calls made to the executor.
    pub calls: u64,
    /// Bytes of segment content sent.
    pub bytes: usize,
    /// Executor memory used (whole pages).
    pub memory: u64,
    /// Relocations applied, GOT slots, stubs.
    pub stats: link::LinkStats,
    /// Names looked up in the executor process.
    pub lookups: usize,
    /// Time spent, in milliseconds.
    pub millis: f64,
}

/// When a unit's initializers run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Initializers {
    /// Inside the initialize request, as an alloc action (no extra round trip).
    AtLoad,
    /// Later, by [`Jit::run_input`] or [`Jit::send_input`], which also return the value the
    /// input produced.
    Deferred,
    /// Never: a file reloaded into a running program (`repl --watch`), whose variables keep
    /// the values the program gave them ([`Jit::set_keep_data`]), so their initialisation,
    /// and the registration of their exit-time work, must not happen again.
    Skipped,
}

/// A value captured by the runtime while a REPL input ran (see `orcbridge_runtime::RUN_INPUT`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapturedValue {
    /// Value kind (0 int, 1 double, 2 long double, 3 pointer, 4 C string, 5 record, 6 bytes,
    /// 7 void).
    pub kind: u8,
    /// The host's type handle passed through the target.
    pub ty: u64,
    /// The value's bytes.
    pub data: Vec<u8>,
}

/// The result of running `main`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MainResult {
    /// `main`'s return value, or the argument of `exit()`.
    pub status: i64,
    /// The program called `exit()`.
    pub called_exit: bool,
}

/// A unit linked on the host whose code the executor has not received yet
/// ([`Jit::link_lazy`]); its memory is set aside. Load it with [`Jit::load_linked`], or, for a
/// REPL input, load and run it in one call with [`Jit::send_input`].
#[derive(Debug)]
pub struct PendingUnit {
    unit: LinkedUnit,
    init: Initializers,
    /// The memory set aside for it: from the low pool, base, size in bytes.
    low: bool,
    base: u64,
    size: u64,
    /// Round trips and calls so far (lookups and reserve), for the [`LoadReport`].
    round_trips: u64,
    calls_before: u64,
    lookups: usize,
    start: Instant,
}

/// A REPL input sent to the executor to be loaded and run ([`Jit::send_input`]). Wait for its
/// answer with [`answer`](Self::answer), then give the answer to [`Jit::finish_input`]; or, if
/// the wait is given up, hand it to [`Jit::abandon_input`].
#[derive(Debug)]
pub struct InputCall {
    state: InputState,
}

#[derive(Debug)]
enum InputState {
    /// One `initialize_and_call` sent: the executor loads the unit, then runs it, and answers
    /// for both.
    Fused { pending: PendingUnit, call: SentCall },
    /// Loaded by an `initialize` answered already; `run`, the call of the runtime's input
    /// runner, sent (`None`: the input has nothing to run).
    Loaded { unit: LinkedUnit, report: LoadReport, run: Option<SentCall> },
}

impl InputCall {
    /// Waits for the executor's answer (at once if nothing runs). A wait given up (dropped)
    /// may be started again.
    ///
    /// # Errors
    /// The session ended first.
    pub async fn answer(&mut self) -> Result<Bytes, SessionError> {
        match &mut self.state {
            InputState::Fused { call, .. } | InputState::Loaded { run: Some(call), .. } => {
                call.result().await
            }
            InputState::Loaded { run: None, .. } => Ok(Bytes::new()),
        }
    }
}

/// A JIT session.
#[derive(Debug)]
pub struct Jit {
    session: Session,
    dylib: JitDylib,
    memory: RemoteMemory,
    /// Slabs in the low 2 GiB, for code built without -fPIC (orcbridge extension).
    low_memory: RemoteMemory,
    cache: HashMap<String, Option<u64>>,
    process: ExecutorAddr,
    runtime: Option<Input>,
    link_options: LinkOptions,
    /// What the target's symbol tables put before C names ([`link::global_prefix`]).
    prefix: &'static str,
    units: Vec<LinkedUnit>,
    /// Archives offered to every unit from now on (see [`Jit::add_library_archive`]).
    library_archives: Vec<Input>,
    /// See [`Jit::keep_bindings`].
    keep_next: Vec<String>,
}

impl Jit {
    /// Starts on `session`; `runtime` (the compiled session runtime) is linked with the first
    /// unit.
    ///
    /// # Errors
    /// The executor lacks a required service or refuses to open its own process.
    pub async fn new(session: Session, runtime: Vec<u8>) -> Result<Jit, JitError> {
        let inst = session.symbol(names::DYLIB_MANAGER_INSTANCE)?;
        let open = session.symbol(names::DYLIB_MANAGER_OPEN)?;
        for name in
            [names::MEMORY_MANAGER_RESERVE, names::MEMORY_MANAGER_INITIALIZE, names::DYLIB_MANAGER_RESOLVE]
        {
            session.symbol(name)?;
        }
        let process = session.call::<DylibOpen, _>(open, &(inst, String::new(), 0), |r| r.0).await?.map_err(
            |message| JitError::Executor { what: "opening its own process for symbol lookup", message },
        )?;
        let page_size = session.info().page_size.max(1);
        let triple = &session.info().target_triple;
        let arch = link::Arch::from_triple(triple)
            .ok_or_else(|| JitError::UnsupportedTarget { triple: triple.clone() })?;
        let prefix = link::global_prefix(triple);
        // orc-executor's crash guard for JIT'd code is a Setup symbol, not a process symbol
        // (docs/protocol.md §11); the runtime refers to it weakly, so elsewhere it is 0.
        let cache = session
            .info()
            .symbol(names::ORCBRIDGE_GUARDED_CALL)
            .map(|a| (format!("{prefix}{}", names::ORCBRIDGE_GUARDED_CALL), Some(a.0)))
            .into_iter()
            .collect();
        Ok(Jit {
            session,
            dylib: JitDylib::default(),
            memory: RemoteMemory::default(),
            low_memory: RemoteMemory::default(),
            cache,
            process,
            runtime: Some(Input::Object { name: rt::SOURCE_NAME.to_owned(), bytes: runtime }),
            link_options: LinkOptions { page_size, arch, redefinable: false, keep_data: false },
            prefix,
            units: Vec::new(),
            library_archives: Vec::new(),
            keep_next: Vec::new(),
        })
    }

    /// Makes the strong global definitions of the units linked from now on redefinable
    /// ([`link::LinkOptions::redefinable`]): a later unit that defines a name again takes
    /// over every call and GOT load of it, in code linked before too (a REPL's
    /// redefinitions). The session runtime's units are linked before this is turned on.
    pub fn set_redefinable(&mut self, on: bool) {
        self.link_options.redefinable = on;
    }

    /// Makes the units linked from now on use the session's existing definitions of the
    /// variables they define again, instead of defining them anew
    /// ([`link::LinkOptions::keep_data`]): reloading an edited file into a running program
    /// keeps its state, while its functions are redefined.
    pub fn set_keep_data(&mut self, on: bool) {
        self.link_options.keep_data = on;
    }

    /// The units loaded into the executor and not unloaded (the session runtime's
    /// included), and the executor memory their segments take, in bytes (whole pages).
    pub fn footprint(&self) -> (usize, u64) {
        (self.units.len(), self.units.iter().flat_map(|u| &u.segments).map(|s| s.size).sum())
    }

    /// The executor session.
    pub fn session(&self) -> &Session {
        &self.session
    }

    /// The session's symbol table.
    pub fn dylib(&self) -> &JitDylib {
        &self.dylib
    }

    /// Address of the C function or variable `name` defined by a loaded unit (the target's
    /// symbol prefix is added here).
    pub fn lookup(&self, name: &str) -> Option<u64> {
        self.dylib.lookup(&self.symbol_name(name)).map(|s| s.addr)
    }

    /// The symbol-table name of C name `name` on this target (`main` → `_main` on Darwin).
    pub fn symbol_name(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    /// Opens a shared library in the executor (its symbols become visible to later units).
    ///
    /// # Errors
    /// The executor's loader error.
    pub async fn open_library(&mut self, path: &str) -> Result<(), JitError> {
        let inst = self.session.symbol(names::DYLIB_MANAGER_INSTANCE)?;
        let open = self.session.symbol(names::DYLIB_MANAGER_OPEN)?;
        self.session
            .call::<DylibOpen, _>(open, &(inst, path.to_owned(), 0), |r| r.0)
            .await?
            .map_err(|message| JitError::Executor { what: "loading a library", message })?;
        // Names that were missing may exist now.
        self.cache.retain(|_, v| v.is_some());
        Ok(())
    }

    /// Makes `libs` available: opens the shared objects in the executor and returns the
    /// archives and objects for the caller to link. A shared object named by a path the
    /// executor cannot open (it runs elsewhere) is tried again by its file name; one listed
    /// `AS_NEEDED` may fail to load.
    ///
    /// # Errors
    /// The executor's loader error for a shared object that is needed; an unreadable file.
    pub async fn open_libraries(&mut self, libs: Vec<crate::libs::Library>) -> Result<Vec<Input>, JitError> {
        use crate::libs::Library;
        let mut inputs = Vec::new();
        let read = |p: &std::path::Path| {
            std::fs::read(p).map_err(|e| JitError::Runtime(format!("{}: {e}", p.display())))
        };
        for lib in libs {
            match lib {
                Library::Shared { load, as_needed } => {
                    tracing::debug!("loading {load} in the executor");
                    let mut r = self.open_library(&load).await;
                    if r.is_err()
                        && let Some(name) = load.contains('/').then(|| load.rsplit('/').next()).flatten()
                    {
                        r = self.open_library(name).await.or(r);
                    }
                    match r {
                        Err(e) if as_needed => tracing::debug!("not loading {load} (AS_NEEDED): {e}"),
                        r => r?,
                    }
                }
                Library::Archive(p) => {
                    inputs.push(Input::Archive { name: p.display().to_string(), bytes: read(&p)? })
                }
                Library::Object(p) => {
                    inputs.push(Input::Object { name: p.display().to_string(), bytes: read(&p)? })
                }
            }
        }
        Ok(inputs)
    }

    /// Offers archive `input` to every unit loaded from now on (a REPL session's `-lNAME`):
    /// members are linked into the first unit that needs them, as a static linker would pull
    /// them into a program. Archives without members (glibc's `libpthread.a`) are dropped, and
    /// so is an object (link it with [`load`](Self::load) instead).
    pub fn add_library_archive(&mut self, input: Input) {
        if let Input::Archive { bytes, .. } = &input
            && object::read::archive::ArchiveFile::parse(bytes.as_slice())
                .map_or(true, |a| a.members().next().is_some())
        {
            self.library_archives.push(input);
        }
    }

    /// Links `inputs` into a new unit and loads it, running its initializers.
    ///
    /// # Errors
    /// Link errors (undefined symbols name the referencing input), executor errors.
    pub async fn load(&mut self, inputs: Vec<Input>) -> Result<(LinkedUnit, LoadReport), JitError> {
        self.load_with(inputs, Initializers::AtLoad).await
    }

    /// As [`load`](Self::load), choosing when initializers run.
    ///
    /// # Errors
    /// As [`load`](Self::load).
    pub async fn load_with(
        &mut self,
        inputs: Vec<Input>,
        init: Initializers,
    ) -> Result<(LinkedUnit, LoadReport), JitError> {
        self.load_lazy(inputs, init, &mut |_| Vec::new()).await
    }

    /// As [`load_with`](Self::load_with); `provide` is asked, with the names the unit needs
    /// from outside, for more inputs defining some of them (definitions held back until
    /// used); they join the unit.
    ///
    /// # Errors
    /// As [`load`](Self::load).
    pub async fn load_lazy(
        &mut self,
        inputs: Vec<Input>,
        init: Initializers,
        provide: &mut dyn FnMut(&[String]) -> Vec<Input>,
    ) -> Result<(LinkedUnit, LoadReport), JitError> {
        let pending = self.link_lazy(inputs, init, provide).await?;
        self.load_linked(pending).await
    }

    /// The first half of [`load_lazy`](Self::load_lazy): links `inputs` (looking up what the
    /// executor process defines, and reserving memory, in one round trip when needed) but sends
    /// no code yet.
    ///
    /// # Errors
    /// As [`load`](Self::load).
    pub async fn link_lazy(
        &mut self,
        mut inputs: Vec<Input>,
        init: Initializers,
        provide: &mut dyn FnMut(&[String]) -> Vec<Input>,
    ) -> Result<PendingUnit, JitError> {
        let start = Instant::now();
        let trips0 = self.session.calls();
        if let Some(rt) = self.runtime.take() {
            inputs.insert(0, rt);
        }
        inputs.extend(self.library_archives.iter().cloned());
        let opts = self.link_options;
        let keep = std::mem::take(&mut self.keep_next);
        // Objects `provide` adds were held back: older than what the session defines now.
        let objects = |inputs: &[Input]| inputs.iter().filter(|i| matches!(i, Input::Object { .. })).count();
        let first_provided = objects(&inputs);
        let mut plan = loop {
            let plan = match link::plan(&inputs, &mut self.dylib, opts) {
                Ok(p) => p,
                Err(e) => {
                    self.restore_runtime(inputs);
                    return Err(e.into());
                }
            };
            let more = provide(plan.externals());
            if more.is_empty() {
                break plan;
            }
            inputs.extend(more);
        };
        plan.keep_bindings(&keep);
        plan.older_definitions(first_provided..objects(&inputs), &self.dylib);
        dump_objects(&inputs);
        let wanted: Vec<String> =
            plan.externals().iter().filter(|n| !self.cache.contains_key(*n)).cloned().collect();
        let size = plan.size();
        let low =
            plan.needs_low_memory() && self.session.info().symbol(names::ORCBRIDGE_RESERVE_LOW).is_some();
        let base = if size == 0 { Some(0) } else { self.pool(low).alloc(size) };

        // Look up and reserve concurrently: one round trip for both.
        let resolve = self.resolve(&wanted);
        let reserve = async {
            match base {
                Some(b) => Ok(b),
                None => self.reserve(size.max(SLAB_SIZE), low).await,
            }
        };
        let round_trips = u64::from(!wanted.is_empty() || base.is_none());
        let (found, reserved) = tokio::join!(resolve, reserve);
        for (name, addr) in wanted.iter().zip(found?) {
            self.cache.insert(name.clone(), addr);
        }
        let base = match base {
            Some(b) => b,
            None => {
                let slab = reserved?;
                let pool = self.pool(low);
                pool.add_slab(slab, size.max(SLAB_SIZE));
                pool.alloc(size).ok_or_else(|| JitError::Runtime("fresh slab too small".into()))?
            }
        };
        let cache = &self.cache;
        let unit = match plan.finish(base, &|n| cache.get(n).copied().flatten()) {
            Ok(u) => u,
            Err(e) => {
                self.pool(low).free(base, size);
                if inputs
                    .first()
                    .is_some_and(|i| matches!(i, Input::Object { name, .. } if name == rt::SOURCE_NAME))
                {
                    self.restore_runtime(inputs);
                }
                return Err(e.into());
            }
        };
        tracing::debug!("linked in {:.2} ms", start.elapsed().as_secs_f64() * 1e3);
        Ok(PendingUnit {
            unit,
            init,
            low,
            base,
            size,
            round_trips,
            calls_before: trips0,
            lookups: wanted.len(),
            start,
        })
    }

    /// The second half of [`load_lazy`](Self::load_lazy): sends the unit's code (one
    /// `initialize`, none for a unit without segments) and adds its symbols to the session.
    ///
    /// # Errors
    /// The executor refused the code or went away; the unit's memory is then reused.
    pub async fn load_linked(
        &mut self,
        mut pending: PendingUnit,
    ) -> Result<(LinkedUnit, LoadReport), JitError> {
        if !pending.unit.segments.is_empty() {
            if let Err(e) = self.initialize(&pending.unit, pending.init).await {
                self.discard_failed(&pending).await;
                return Err(e);
            }
            pending.round_trips += 1;
        }
        Ok(self.add_loaded(pending, ""))
    }

    /// Sends the REPL input `pending`, linked with [`Initializers::Deferred`], to be loaded and
    /// run; returns once the call that runs it is sent. When the executor offers orcbridge's
    /// `initialize_and_call`, that is one call: the executor initializes the unit's memory as
    /// `initialize` would, then runs its statements as [`run_input`](Self::run_input) would.
    /// Otherwise (LLVM's executor) the unit is loaded first, with one `initialize` waited for
    /// here, then the run call is sent. An input without statements is only loaded.
    ///
    /// # Errors
    /// The session runtime is missing or the executor refused the code (the unit's memory is
    /// then reused), or the executor went away.
    pub async fn send_input(&mut self, pending: PendingUnit) -> Result<InputCall, JitError> {
        let runs = pending.init == Initializers::Deferred && runs_code(&pending.unit);
        let run = match runs.then(|| self.runtime_symbol(&pending.unit, rt::RUN_INPUT)).transpose() {
            Ok(run) => run.map(ExecutorAddr),
            Err(e) => {
                self.discard(&pending);
                return Err(e);
            }
        };
        let fused = self.session.info().symbol(names::ORCBRIDGE_INITIALIZE_AND_CALL);
        if let (Some(f), Some(run), false) = (fused, run, pending.unit.segments.is_empty()) {
            let sent = async {
                let inst = self.session.symbol(names::MEMORY_MANAGER_INSTANCE)?;
                let req = self.finalize_request(&pending.unit, pending.init)?;
                let run_args = input_args(&pending.unit);
                let args: <MemInitializeAndCall as WrapperFunction>::Args<'_> =
                    (inst, req, run, Cow::Borrowed(run_args.as_slice()));
                Ok::<_, JitError>(self.session.send_call(f, &args).await?)
            }
            .await;
            return match sent {
                Ok(call) => Ok(InputCall { state: InputState::Fused { pending, call } }),
                Err(e) => {
                    self.discard(&pending);
                    Err(e)
                }
            };
        }
        let (unit, report) = self.load_linked(pending).await?;
        let run = match run {
            Some(run) => Some(self.session.send_call(run, &Raw(&input_args(&unit))).await?),
            None => None,
        };
        Ok(InputCall { state: InputState::Loaded { unit, report, run } })
    }

    /// Completes the REPL input `call` with the executor's `answer` ([`InputCall::answer`]):
    /// adds the loaded unit to the session (if [`send_input`](Self::send_input) has not) and
    /// returns it, its load report, and what running it gave (as
    /// [`run_input`](Self::run_input) returns it: a crash, with orc-executor's report taken,
    /// is [`JitError::Crashed`], and the unit stays loaded, in one call as with two).
    ///
    /// # Errors
    /// In one call: the executor refused the code (nothing ran; the unit's memory is reused)
    /// or went away, or its answer does not decode. With the unit loaded already, those of
    /// the run are in the run's result.
    pub async fn finish_input(
        &mut self,
        call: InputCall,
        answer: Result<Bytes, SessionError>,
    ) -> Result<(LinkedUnit, LoadReport, Result<Option<CapturedValue>, JitError>), JitError> {
        let mut pending = match call.state {
            InputState::Fused { pending, .. } => pending,
            InputState::Loaded { unit, report, run } => {
                let run = match (run, answer) {
                    (None, _) => Ok(None),
                    (Some(_), Ok(bytes)) => {
                        self.runtime_answer(&bytes, rt::RUN_INPUT).await.and_then(captured_value)
                    }
                    (Some(_), Err(e)) => Err(e.into()),
                };
                return Ok((unit, report, run));
            }
        };
        let loaded = answer.map_err(JitError::from).and_then(|bytes| {
            let SpsExpected(r) = decode_ret::<MemInitializeAndCall>(&bytes).map_err(|error| {
                SessionError::BadResult { function: MemInitializeAndCall::NAME.to_owned(), error }
            })?;
            r.map(|(_key, result)| result.map(Cow::into_owned))
                .map_err(|message| JitError::Executor { what: "loading code", message })
        });
        let result = match loaded {
            Ok(r) => r,
            Err(e) => {
                self.discard_failed(&pending).await;
                return Err(e);
            }
        };
        pending.round_trips += 1;
        let (unit, report) = self.add_loaded(pending, " (initialize and run in one call)");
        let run = match result {
            Some(bytes) => {
                from_bytes(&bytes).map_err(|error| bad_result(rt::RUN_INPUT, error)).and_then(captured_value)
            }
            // The run call failed out of band: a crash orc-executor caught, reported as after
            // a separate run call.
            None => self.runtime_answer(&[], rt::RUN_INPUT).await.and_then(captured_value),
        };
        Ok((unit, report, run))
    }

    /// Takes the REPL input `call` as loaded without its answer (the wait for it was given
    /// up, say by Ctrl-C): the executor loads an input before it runs it, so its unit joins
    /// the session as if the answer had come. Returns the unit.
    pub fn abandon_input(&mut self, call: InputCall) -> LinkedUnit {
        match call.state {
            InputState::Fused { mut pending, .. } => {
                pending.round_trips += 1;
                self.add_loaded(pending, " (initialize and run in one call, not waited for)").0
            }
            InputState::Loaded { unit, .. } => unit,
        }
    }

    /// As [`discard`](Self::discard), for a unit whose initialize failed in the executor: its
    /// rebind action may have run before a later action failed, pointing earlier units at
    /// memory that is given back now, so the entries are pointed at the definitions in effect
    /// again (if the executor still answers).
    async fn discard_failed(&mut self, pending: &PendingUnit) {
        self.discard(pending);
        let entries: Vec<u64> = pending.unit.rebinds.iter().map(|&(e, _)| e).collect();
        if !entries.is_empty() {
            let stores = self.dylib.current_values(&entries);
            if let Err(e) = self.rebind(&stores).await {
                tracing::warn!("cannot point rebind entries back after a failed load: {e}");
            }
        }
    }

    /// Gives back the memory set aside for `pending`, which the executor did not load.
    fn discard(&mut self, pending: &PendingUnit) {
        self.pool(pending.low).free(pending.base, pending.size);
    }

    /// Adds the unit of `pending`, loaded in the executor, to the session; logs its report,
    /// with `how` after the round trips.
    fn add_loaded(&mut self, pending: PendingUnit, how: &str) -> (LinkedUnit, LoadReport) {
        let PendingUnit { unit, size, round_trips, calls_before, lookups, start, .. } = pending;
        self.dylib.add_unit(&unit);
        let report = LoadReport {
            unit: unit.id,
            round_trips,
            calls: self.session.calls() - calls_before,
            bytes: unit.content_bytes(),
            memory: size,
            stats: unit.stats,
            lookups,
            millis: start.elapsed().as_secs_f64() * 1e3,
        };
        tracing::info!(
            "unit {}: {} round trip(s) ({} calls){how}, {} bytes sent, {} relocations, {} GOT slots, {} stubs, {} lookups, {:.2} ms",
            report.unit,
            report.round_trips,
            report.calls,
            report.bytes,
            report.stats.relocations,
            report.stats.got_slots,
            report.stats.stubs,
            report.lookups,
            report.millis
        );
        self.units.push(unit.clone());
        (unit, report)
    }

    /// Puts the runtime back so the next load links it (the first load failed).
    fn restore_runtime(&mut self, mut inputs: Vec<Input>) {
        if self.units.is_empty() && !inputs.is_empty() {
            self.runtime = Some(inputs.swap_remove(0));
        }
    }

    async fn resolve(&self, wanted: &[String]) -> Result<Vec<Option<u64>>, JitError> {
        if wanted.is_empty() {
            return Ok(Vec::new());
        }
        let resolve = self.session.symbol(names::DYLIB_MANAGER_RESOLVE)?;
        let set: Vec<RemoteSymbolLookupSetElement<'_>> = wanted
            .iter()
            .map(|n| RemoteSymbolLookupSetElement {
                name: match n.strip_prefix(self.prefix).and_then(|c| c.strip_prefix(rt::LIBC_ALIAS_PREFIX)) {
                    Some(libc) => self.symbol_name(libc).into_bytes().into(),
                    None => n.as_bytes().into(),
                },
                required: false,
            })
            .collect();
        let defs = self
            .session
            .call::<DylibResolve, _>(resolve, &(self.process, set), |r| r.0)
            .await?
            .map_err(|message| JitError::Executor { what: "a symbol lookup", message })?;
        if defs.len() != wanted.len() {
            return Err(JitError::Executor {
                what: "a symbol lookup",
                message: "wrong number of answers".into(),
            });
        }
        // LLVM 22.1 executors answer a missing non-required name with address 0.
        Ok(defs.into_iter().map(|d| d.map(|d| d.addr.0).filter(|&a| a != 0)).collect())
    }

    fn pool(&mut self, low: bool) -> &mut RemoteMemory {
        if low { &mut self.low_memory } else { &mut self.memory }
    }

    async fn reserve(&self, size: u64, low: bool) -> Result<u64, JitError> {
        let inst = self.session.symbol(names::MEMORY_MANAGER_INSTANCE)?;
        let f = self.session.symbol(if low {
            names::ORCBRIDGE_RESERVE_LOW
        } else {
            names::MEMORY_MANAGER_RESERVE
        })?;
        let base = self
            .session
            .call::<MemReserve, _>(f, &(inst, size), |r| r.0)
            .await?
            .map_err(|message| JitError::Executor { what: "reserving memory", message })?;
        Ok(base.0)
    }

    async fn initialize(&self, unit: &LinkedUnit, init: Initializers) -> Result<(), JitError> {
        let inst = self.session.symbol(names::MEMORY_MANAGER_INSTANCE)?;
        let f = self.session.symbol(names::MEMORY_MANAGER_INITIALIZE)?;
        let req = self.finalize_request(unit, init)?;
        self.session
            .call::<MemInitialize, _>(f, &(inst, req), |r| r.0)
            .await?
            .map_err(|message| JitError::Executor { what: "loading code", message })?;
        Ok(())
    }

    /// The `initialize` request for `unit`: its segments, and alloc actions registering its
    /// EH frames, telling the runtime when it is unloaded and (`AtLoad`) running its
    /// initializers.
    fn finalize_request<'a>(
        &self,
        unit: &'a LinkedUnit,
        init: Initializers,
    ) -> Result<FinalizeRequest<'a>, JitError> {
        let segments = unit
            .segments
            .iter()
            .map(|s| SegFinalizeRequest {
                ag: match s.kind {
                    SegmentKind::R => RemoteAllocGroup::R,
                    SegmentKind::RW => RemoteAllocGroup::RW,
                    SegmentKind::RX => RemoteAllocGroup::RX,
                },
                addr: ExecutorAddr(s.addr),
                size: s.size,
                content: s.content.as_slice().into(),
            })
            .collect();
        let mut actions = Vec::new();
        // First: the unit's initializers may call what it defines again.
        if !unit.rebinds.is_empty() {
            actions.push(AllocActionCallPair {
                finalize: WrapperFunctionCall {
                    fn_addr: ExecutorAddr(self.runtime_symbol(unit, rt::REBIND)?),
                    arg_data: rebind_args(&unit.rebinds).into(),
                },
                dealloc: WrapperFunctionCall::default(),
            });
        }
        if let Some((start, end)) = unit.eh_frame {
            let range = ExecutorAddrRange { start: ExecutorAddr(start), end: ExecutorAddr(end) };
            let args = orc_rpc::sps::to_bytes(&(range,));
            actions.push(AllocActionCallPair {
                finalize: WrapperFunctionCall {
                    fn_addr: self.session.symbol(names::REGISTER_EH_FRAME)?,
                    arg_data: args.clone().into(),
                },
                dealloc: WrapperFunctionCall {
                    fn_addr: self.session.symbol(names::DEREGISTER_EH_FRAME)?,
                    arg_data: args.into(),
                },
            });
        }
        // Dealloc actions run in reverse: exit-time work living in the unit runs before its
        // EH frames are deregistered (a destructor may throw and catch).
        if let Some((start, end)) = unit.span() {
            let unloaded = self.runtime_symbol(unit, rt::UNIT_UNLOADED)?;
            actions.push(AllocActionCallPair {
                finalize: WrapperFunctionCall::default(),
                dealloc: WrapperFunctionCall {
                    fn_addr: ExecutorAddr(unloaded),
                    arg_data: orc_rpc::sps::to_bytes(&(start, end)).into(),
                },
            });
        }
        if init == Initializers::AtLoad && (!unit.initializers.is_empty() || !unit.finalizers.is_empty()) {
            let run = self.runtime_symbol(unit, rt::RUN_INITIALIZERS)?;
            let to_addrs = |v: &[u64]| v.iter().map(|&a| ExecutorAddr(a)).collect::<Vec<_>>();
            let args = orc_rpc::sps::to_bytes(&(to_addrs(&unit.initializers), to_addrs(&unit.finalizers)));
            actions.push(AllocActionCallPair {
                finalize: WrapperFunctionCall { fn_addr: ExecutorAddr(run), arg_data: args.into() },
                dealloc: WrapperFunctionCall::default(),
            });
        }
        Ok(FinalizeRequest { segments, actions })
    }

    /// A runtime entry point: from the unit being loaded (the first unit contains the
    /// runtime) or from the session.
    fn runtime_symbol(&self, unit: &LinkedUnit, name: &str) -> Result<u64, JitError> {
        unit.symbol(&self.symbol_name(name))
            .or_else(|| self.lookup(name))
            .ok_or_else(|| JitError::Runtime(format!("the session runtime does not define {name}")))
    }

    /// Runs the initializers of `unit` (loaded with [`Initializers::Deferred`]): a REPL input's
    /// top-level statements. Returns the value it captured, if any.
    ///
    /// # Errors
    /// The executor went away, the input crashed ([`JitError::Crashed`]), or the runtime's
    /// answer does not decode.
    pub async fn run_input(&self, unit: &LinkedUnit) -> Result<Option<CapturedValue>, JitError> {
        if !runs_code(unit) {
            return Ok(None);
        }
        let run = self.runtime_symbol(unit, rt::RUN_INPUT)?;
        let args = input_args(unit);
        captured_value(self.call_runtime(run, rt::RUN_INPUT, &args).await?)
    }

    /// Forgets the definitions `names` that unit `unit` made (an undone input's), so they can
    /// be made again; the unit's code stays loaded for its other definitions. Names defined
    /// before fall back to those definitions, in code linked since too.
    ///
    /// # Errors
    /// The executor went away, or the runtime failed to rewrite GOT entries.
    pub async fn forget_names(&mut self, unit: u64, names: &[String]) -> Result<(), JitError> {
        let stores = self.dylib.remove_names(unit, names);
        self.rebind(&stores).await
    }

    /// Makes the code loaded so far keep its definitions of `names` while the unit linked
    /// next by [`link_lazy`](Self::link_lazy) is loaded, though that unit defines them again
    /// ([`link::LinkPlan::keep_bindings`]): for redefinitions with another type or kind.
    pub fn keep_bindings(&mut self, names: Vec<String>) {
        self.keep_next = names;
    }

    /// Carries out `stores` into rebind entries with the runtime's [`rt::REBIND`].
    async fn rebind(&self, stores: &[link::Rebind]) -> Result<(), JitError> {
        if stores.is_empty() {
            return Ok(());
        }
        let f =
            self.lookup(rt::REBIND).ok_or_else(|| JitError::Runtime("the runtime is not loaded".into()))?;
        let SpsError(r) = self.call_runtime(f, rt::REBIND, &rebind_args(stores)).await?;
        r.map_err(|message| JitError::Executor { what: "rebinding redefined names", message })
    }

    /// Unloads unit `id`: runs its dealloc actions in the executor (deinitialize), forgets
    /// its symbols and reuses its memory.
    ///
    /// # Errors
    /// The executor refused or went away.
    pub async fn unload(&mut self, id: u64) -> Result<(), JitError> {
        let Some(pos) = self.units.iter().position(|u| u.id == id) else { return Ok(()) };
        let unit = self.units.remove(pos);
        // Before the code goes: nothing may call into it through a rewritten entry after. (If
        // the executor is gone, so is the session: its memory need not be given back.)
        let stores = self.dylib.remove_unit(id);
        self.rebind(&stores).await?;
        let Some(first) = unit.segments.first() else { return Ok(()) };
        let key = ExecutorAddr(first.addr);
        let size: u64 = unit.segments.iter().map(|s| s.size).sum();
        let inst = self.session.symbol(names::MEMORY_MANAGER_INSTANCE)?;
        let f = self.session.symbol(names::MEMORY_MANAGER_DEINITIALIZE)?;
        self.session
            .call::<MemDeinitialize, _>(f, &(inst, vec![key]), |r| r.0)
            .await?
            .map_err(|message| JitError::Executor { what: "unloading code", message })?;
        // LLVM 22.1's executor keeps the record of a deinitialized region and refuses to
        // initialize over it, so its memory is only reused where orc-executor manages it.
        if self.session.info().value(orc_rpc::info::ORCBRIDGE_EXECUTOR_KEY).is_some() {
            let low = self.low_memory.slabs().iter().any(|&(b, s)| b <= key.0 && key.0 < b + s);
            self.pool(low).free(key.0, size);
        }
        Ok(())
    }

    /// Runs `int main(int, char**)` of the loaded units with `argv` (the program name first),
    /// then the program's exit-time work (atexit handlers, static destructors).
    ///
    /// # Errors
    /// No `main`; the program crashed and orc-executor caught it ([`JitError::Crashed`]); the
    /// executor went away (a crash in an executor that does not catch them).
    pub async fn run_main(&self, argv: &[String]) -> Result<MainResult, JitError> {
        let answer = self.start_main(argv).await?.result().await;
        self.main_result(answer).await
    }

    /// Sends the call that runs `main` as [`run_main`](Self::run_main) does and returns
    /// without waiting for it: the session can load units and make other calls while the
    /// program runs (executors run each call on a thread of its own). Give the call's answer
    /// to [`main_result`](Self::main_result).
    ///
    /// # Errors
    /// No `main`; the executor went away.
    pub async fn start_main(&self, argv: &[String]) -> Result<SentCall, JitError> {
        let main =
            self.lookup("main").ok_or_else(|| JitError::Runtime("no function main is defined".into()))?;
        let run =
            self.lookup(rt::RUN_MAIN).ok_or_else(|| JitError::Runtime("the runtime is not loaded".into()))?;
        let args = orc_rpc::sps::to_bytes(&(ExecutorAddr(main), argv.to_vec()));
        Ok(self.session.send_call(ExecutorAddr(run), &Raw(&args)).await?)
    }

    /// What the call [`start_main`](Self::start_main) sent answered.
    ///
    /// # Errors
    /// As [`run_main`](Self::run_main).
    pub async fn main_result(&self, answer: Result<Bytes, SessionError>) -> Result<MainResult, JitError> {
        let (status, called_exit, signal, address): (i64, bool, i32, u64) =
            self.runtime_answer(&answer?, rt::RUN_MAIN).await?;
        if signal != 0 {
            // main crashed on its thread and orc-executor's guard caught it.
            let description = orc_rpc::crash::describe(signal, address);
            return Err(JitError::Crashed { signal, description });
        }
        Ok(MainResult { status, called_exit })
    }

    /// Calls the runtime's wrapper function `name` at `addr` with SPS `args` and decodes its
    /// result. The runtime always answers with bytes, so an empty result is how LLVM 22.1's
    /// protocol carries an error out of the call: if the executor reports a crash for it
    /// (orc-executor's crash-report extension), that crash.
    async fn call_runtime<T>(&self, addr: u64, name: &str, args: &[u8]) -> Result<T, JitError>
    where
        T: for<'a> SpsDecode<'a>,
    {
        let bytes = self.session.call_raw(ExecutorAddr(addr), args).await?;
        self.runtime_answer(&bytes, name).await
    }

    /// Decodes `bytes`, the answer of the runtime's wrapper function `name`; if they are
    /// empty (the call failed out of band), the crash the executor reports for it, if any.
    async fn runtime_answer<T>(&self, bytes: &[u8], name: &str) -> Result<T, JitError>
    where
        T: for<'a> SpsDecode<'a>,
    {
        if bytes.is_empty()
            && let Some(take) = self.session.info().symbol(names::ORCBRIDGE_TAKE_CRASH_REPORT)
        {
            let inst = self.session.symbol(names::MEMORY_MANAGER_INSTANCE)?;
            if let Some((signal, _address, description)) =
                self.session.call::<TakeCrashReport, _>(take, &(inst,), |r| r).await?
            {
                return Err(JitError::Crashed { signal, description });
            }
        }
        from_bytes(bytes).map_err(|error| bad_result(name, error))
    }

    /// Runs exit-time work registered so far (atexit handlers, static destructors).
    ///
    /// # Errors
    /// The executor went away.
    pub async fn run_exit(&self) -> Result<(), JitError> {
        let Some(run) = self.lookup(rt::RUN_EXIT) else { return Ok(()) };
        let SpsError(r) = self.call_runtime(run, rt::RUN_EXIT, &[]).await?;
        r.map_err(|message| JitError::Executor { what: "running exit handlers", message })
    }

    /// Ends the session (Hangup); a launched executor exits.
    pub async fn close(self) {
        self.session.close().await;
    }
}

/// True if running `unit` as a REPL input calls anything: it has top-level statements
/// (initializers) or exit-time work (finalizers).
fn runs_code(unit: &LinkedUnit) -> bool {
    !unit.initializers.is_empty() || !unit.finalizers.is_empty()
}

/// The SPS arguments of [`rt::REBIND`]: `Sequence<(Addr entry, u64 value)>`.
fn rebind_args(stores: &[link::Rebind]) -> Vec<u8> {
    let stores: Vec<(ExecutorAddr, u64)> = stores.iter().map(|&(e, v)| (ExecutorAddr(e), v)).collect();
    orc_rpc::sps::to_bytes(&(stores,))
}

/// The arguments of the runtime's `RUN_INPUT` for `unit`: its initializers and finalizers.
fn input_args(unit: &LinkedUnit) -> Vec<u8> {
    let to_addrs = |v: &[u64]| v.iter().map(|&a| ExecutorAddr(a)).collect::<Vec<_>>();
    orc_rpc::sps::to_bytes(&(to_addrs(&unit.initializers), to_addrs(&unit.finalizers)))
}

/// What the runtime's `RUN_INPUT` answered: `(has value, kind, type, bytes, signal, fault
/// address)`.
type InputAnswer = (bool, u8, u64, Vec<u8>, i32, u64);

/// The value of an input from the runtime's answer, or the crash it reports.
fn captured_value(
    (has, kind, ty, data, signal, address): InputAnswer,
) -> Result<Option<CapturedValue>, JitError> {
    if signal != 0 {
        // The input crashed on the runtime's input thread and orc-executor's guard caught it.
        return Err(JitError::Crashed { signal, description: orc_rpc::crash::describe(signal, address) });
    }
    Ok(has.then_some(CapturedValue { kind, ty, data }))
}

fn bad_result(function: &str, error: orc_rpc::sps::DecodeError) -> JitError {
    SessionError::BadResult { function: function.to_owned(), error }.into()
}

/// With `ORCBRIDGE_DUMP_DIR` set, writes every object linked into a unit to that folder (as
/// `<name>.o`, the name made file-safe), for looking at what the compiler produced
/// (`readelf`, `objdump`). Failures to write are logged, never fatal.
fn dump_objects(inputs: &[Input]) {
    let Some(dir) = std::env::var_os("ORCBRIDGE_DUMP_DIR") else { return };
    let dir = std::path::PathBuf::from(dir);
    for input in inputs {
        if let Input::Object { name, bytes } = input {
            let file: String = name
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() || c == '.' || c == '_' { c } else { '_' })
                .collect();
            let path = dir.join(format!("{file}.o"));
            if let Err(e) = std::fs::create_dir_all(&dir).and_then(|()| std::fs::write(&path, bytes)) {
                tracing::warn!("ORCBRIDGE_DUMP_DIR: cannot write {}: {e}", path.display());
            }
        }
    }
}
