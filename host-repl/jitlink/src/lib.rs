//! orcbridge's JIT linker: relocatable objects in, finalized segments for the executor out.
//!
//! A link turns a set of inputs (ELF objects and static archives) into one *unit*. It follows
//! LLVM JITLink's layering (`llvm/lib/ExecutionEngine/JITLink/`), as a pipeline of passes over
//! a format- and architecture-neutral [`graph::LinkGraph`]:
//!
//! 1. **build** ([`elf`], [`macho`], [`archive`]): a per-format builder reads each input into sections,
//!    blocks and symbols, and maps each relocation to its architecture's edge kind
//!    ([`arch::x86_64::EdgeKind`], [`arch::aarch64::EdgeKind`]);
//! 2. **tables** (`tables.rs`): the GOT entries and call stubs the edges need, and which names
//!    come from elsewhere — earlier units of the session (LLVM's JITDylib, here [`JitDylib`])
//!    or the executor process;
//! 3. **layout** (`layout.rs`): blocks, GOT, stubs, TLS image and `.eh_frame` into three
//!    page-aligned segments by protection;
//! 4. **allocate**: the caller reserves [`LinkPlan::size`] bytes in the executor and looks up
//!    [`LinkPlan::externals`] — in one round trip, which is why the link is split here;
//! 5. **fix up** (`fixup.rs`, [`LinkPlan::finish`]): each edge's formula and encoding, owned by
//!    its architecture ([`arch::EdgeKind::apply`]);
//! 6. **alloc actions**: the [`LinkedUnit`] lists `.eh_frame` to register and the initializers
//!    and finalizers to run. The executor then only copies bytes and sets protections.
//!
//! | format \ architecture | x86-64 | AArch64 |
//! |---|---|---|
//! | ELF | yes | yes |
//! | Mach-O | yes (macOS, iOS simulator) | yes (macOS, iOS, iOS simulator) |
//!
//! A new architecture is a module in [`arch`]; a new format is a builder next to [`elf`] and
//! [`macho`], chosen by `add_object` from the file's magic.
//!
//! Thread-local storage: each unit's `.tdata`/`.tbss` become one TLS block served by libgcc's
//! emutls (`__emutls_get_address`); on x86-64, general- and local-dynamic accesses
//! (`R_X86_64_TLSGD`/`TLSLD`, i.e. code built with `-fPIC`) get a GOT pair
//! `{emutls control object, offset}` and call `__tls_get_addr`, which the session runtime
//! implements on top of emutls. On AArch64, a TLS descriptor (`R_AARCH64_TLSDESC_*`, clang's
//! default for `-fPIC`) is a GOT pair `{__orcbridge_tlsdesc, &pair}`, the runtime's resolver
//! over the same emutls pair. Initial- and local-exec models are refused with advice.
//!
//! `.eh_frame` sections are placed contiguously with a zero terminator and registered whole;
//! FDEs of discarded COMDAT functions keep a zero PC offset, so they describe bytes of
//! `.eh_frame` itself, where no code runs.

pub mod arch;
pub mod archive;
mod compact_unwind;
pub mod elf;
mod fixup;
pub mod graph;
mod layout;
pub mod macho;
mod tables;

use std::collections::{HashMap, HashSet};

pub use arch::Arch;
pub use graph::SegmentKind;
pub use layout::{LinkPlan, LinkStats, LinkedSegment, LinkedUnit};

/// One input of a link.
#[derive(Debug, Clone)]
pub enum Input {
    /// A relocatable object.
    Object {
        /// Name for messages (file name).
        name: String,
        /// The object's bytes.
        bytes: Vec<u8>,
    },
    /// A static archive; members are loaded as needed.
    Archive {
        /// Name for messages.
        name: String,
        /// The archive's bytes.
        bytes: Vec<u8>,
    },
}

/// Why a link failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LinkError {
    /// An input could not be read or is of a kind we do not link.
    #[error("{input}: {message}")]
    BadInput {
        /// The input.
        input: String,
        /// What is wrong.
        message: String,
    },
    /// A symbol is defined nowhere: not in this link, not in earlier links, not in the
    /// executor process.
    #[error("undefined symbol: {name} (referenced from {referenced_from})")]
    UndefinedSymbol {
        /// The symbol.
        name: String,
        /// The input whose relocation needs it.
        referenced_from: String,
    },
    /// Two inputs define the same strong symbol.
    #[error("duplicate symbol: {name} (defined in {first} and in {second})")]
    DuplicateSymbol {
        /// The symbol.
        name: String,
        /// First definer.
        first: String,
        /// Second definer.
        second: String,
    },
    /// A relocation type the linker does not handle.
    #[error("{input}: section {section} at offset {offset:#x}: {detail}")]
    UnsupportedRelocation {
        /// The input.
        input: String,
        /// The section holding the relocation.
        section: String,
        /// Its offset.
        offset: u64,
        /// The relocation and advice.
        detail: String,
    },
    /// An object for another architecture than the link's (the executor's).
    #[error("{input}: a {found:?} object cannot be linked for a {expected:?} executor")]
    WrongArchitecture {
        /// The input.
        input: String,
        /// Its architecture.
        found: Arch,
        /// The link's.
        expected: Arch,
    },
    /// A fix-up's value does not fit its field (or is misaligned for it).
    #[error("{0}")]
    OutOfRange(Box<RelocOutOfRange>),
    /// A block asks for more alignment than the executor's pages give.
    #[error(
        "{input}: section {section} needs {align}-byte alignment, more than the executor's page size ({page_size})"
    )]
    AlignmentAbovePageSize {
        /// The input.
        input: String,
        /// The section.
        section: String,
        /// Its alignment in bytes.
        align: u64,
        /// The executor's page size in bytes.
        page_size: u64,
    },
    /// Code refers to a symbol of a COMDAT group that an earlier input or unit provided, by a
    /// local name the kept group does not define.
    #[error("{input}: section {section} refers to {symbol} in a discarded COMDAT section")]
    DiscardedReference {
        /// The input.
        input: String,
        /// The referencing section.
        section: String,
        /// The symbol.
        symbol: String,
    },
    /// A thread-local that JIT'd code uses is defined by the executor's libraries.
    #[error(
        "thread-local variable {name} is not defined in JIT'd code; thread-locals of the executor's \
         libraries cannot be reached from JIT'd code"
    )]
    ThreadLocalOutsideJit {
        /// The variable.
        name: String,
    },
    /// A TLS access names a symbol that is not thread-local.
    #[error("{name} is used as a thread-local but is not one")]
    NotThreadLocal {
        /// The symbol.
        name: String,
    },
    /// A call stub cannot reach its GOT entry (the layout keeps them in one reservation, so
    /// this means a unit larger than the architecture's reach).
    #[error("the stub at {stub:#x} cannot reach its GOT entry at {entry:#x}")]
    GotOutOfReach {
        /// The stub's address.
        stub: u64,
        /// The entry's address.
        entry: u64,
    },
}

/// Details of [`LinkError::OutOfRange`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{input}: {reloc} against {symbol} in section {section} at offset {offset:#x} is out of range \
     (value {value:#x}){hint}"
)]
pub struct RelocOutOfRange {
    /// The input.
    pub input: String,
    /// Section name.
    pub section: String,
    /// Offset in the section.
    pub offset: u64,
    /// Relocation name, e.g. `R_X86_64_PC32` or `R_AARCH64_CALL26`.
    pub reloc: String,
    /// Target symbol.
    pub symbol: String,
    /// The value that did not fit.
    pub value: i128,
    /// Advice, if any.
    pub hint: String,
}

/// A symbol defined by an earlier unit of the session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DylibSymbol {
    /// Executor address (for thread-locals: unused, see `tls`).
    pub addr: u64,
    /// Weak definition (a later strong one replaces it).
    pub weak: bool,
    /// For thread-locals: (emutls control object, offset in the block).
    pub tls: Option<(u64, u64)>,
    /// The unit that defined it.
    pub unit: u64,
    /// A later unit may define the name again ([`LinkOptions::redefinable`]): code refers to
    /// it through GOT entries the session rewrites then.
    pub redefinable: bool,
}

/// A writable data section of a unit (ELF `.data`, `.bss`, ...: one block), as a later link
/// with [`LinkOptions::keep_data`] may keep it: an unchanged section of a new version of the
/// same input is not placed again, its symbols (`static` variables too, which have no name
/// outside their file) resolve to this one's storage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataSection {
    /// The input that defined it, and its section name: what a new version must match.
    pub input: String,
    /// The section's name.
    pub section: String,
    /// Executor address.
    pub addr: u64,
    /// Size in bytes.
    pub size: u64,
    /// Its layout: every symbol defined in it (`(offset, name)`, sorted), the section's own
    /// included.
    pub layout: Vec<(u64, String)>,
}

/// One 8-byte store into executor memory: `(address, value)`. Redefinitions are carried out
/// as such stores into GOT entries (the session runtime's `__orcbridge_rebind_wrapper`).
pub type Rebind = (u64, u64);

/// A rebind entry: (unit, address of the GOT entry).
type UnitEntry = (u64, u64);

/// The symbols and COMDAT groups of the units linked so far in a session (LLVM's JITDylib).
///
/// A name may have several definitions, one per unit that made it, of which the newest is
/// in effect: a redefinition, and after the newest one's unit is unloaded, the one before
/// comes back. The GOT entries through which units reach redefinable names are kept per
/// name, so that a change of definition can be written into all of them.
#[derive(Debug, Default, Clone)]
pub struct JitDylib {
    /// Name → its definitions, oldest first.
    symbols: HashMap<String, Vec<DylibSymbol>>,
    /// Name → (unit, address) of the GOT entries that hold its address and are rewritten
    /// when it is defined again.
    entries: HashMap<String, Vec<UnitEntry>>,
    /// Unit → rebind entries set aside while it is loaded (see [`LinkPlan::keep_bindings`]),
    /// by name.
    kept: HashMap<u64, Vec<(String, Vec<UnitEntry>)>>,
    comdats: HashMap<String, u64>,
    /// (input, section) → the newest unit's writable data section of that name.
    data_sections: HashMap<(String, String), (u64, DataSection)>,
    next_unit: u64,
}

impl JitDylib {
    /// The definition of `name` in effect, if an earlier unit has one.
    pub fn lookup(&self, name: &str) -> Option<&DylibSymbol> {
        self.symbols.get(name).and_then(|defs| defs.last())
    }

    /// Every definition of `name` that loaded units made, oldest first; the last is in effect.
    pub fn definitions(&self, name: &str) -> &[DylibSymbol] {
        self.symbols.get(name).map_or(&[], Vec::as_slice)
    }

    /// The rewritable GOT entries (addresses) of loaded units that hold `name`'s address.
    pub fn entries(&self, name: &str) -> impl Iterator<Item = u64> + '_ {
        self.entries.get(name).into_iter().flatten().map(|&(_, addr)| addr)
    }

    /// Number of symbols defined.
    pub fn len(&self) -> usize {
        self.symbols.len()
    }

    /// True if nothing is defined yet.
    pub fn is_empty(&self) -> bool {
        self.symbols.is_empty()
    }

    fn comdat_set(&self) -> HashSet<String> {
        self.comdats.keys().cloned().collect()
    }

    /// Records the definitions and rewritable GOT entries of a unit that was loaded. A weak
    /// definition does not replace a strong one in effect.
    pub fn add_unit(&mut self, unit: &LinkedUnit) {
        for (name, sym) in &unit.symbols {
            let defs = self.symbols.entry(name.clone()).or_default();
            if unit.older.contains(name) && !defs.is_empty() {
                defs.insert(defs.len() - 1, *sym);
            } else if !(sym.weak && defs.last().is_some_and(|old| !old.weak)) {
                defs.push(*sym);
            }
        }
        let kept: Vec<_> =
            unit.kept.iter().filter_map(|n| self.entries.remove(n).map(|e| (n.clone(), e))).collect();
        if !kept.is_empty() {
            self.kept.insert(unit.id, kept);
        }
        for (name, addr) in &unit.rebind_entries {
            self.entries.entry(name.clone()).or_default().push((unit.id, *addr));
        }
        for c in &unit.comdats {
            self.comdats.insert(c.clone(), unit.id);
        }
        for d in &unit.data_sections {
            self.data_sections.insert((d.input.clone(), d.section.clone()), (unit.id, d.clone()));
        }
    }

    /// The writable data section `section` of input `input` that the newest unit with one
    /// placed ([`LinkOptions::keep_data`]).
    pub fn data_section(&self, input: &str, section: &str) -> Option<&DataSection> {
        self.data_sections.get(&(input.to_owned(), section.to_owned())).map(|(_, d)| d)
    }

    /// Forgets every definition and GOT entry of unit `id` (being unloaded). Names it had
    /// defined again fall back to their earlier definitions; returns the stores that point
    /// the other units' GOT entries at them.
    pub fn remove_unit(&mut self, id: u64) -> Vec<Rebind> {
        let names: Vec<String> = self
            .symbols
            .iter()
            .filter(|(_, d)| d.iter().any(|s| s.unit == id))
            .map(|(n, _)| n.clone())
            .collect();
        let mut stores = self.remove_definitions(id, &names, false);
        let kept = self.kept.remove(&id).unwrap_or_default();
        stores.extend(self.take_back(kept));
        // The unit's memory is reused: nothing may be written into its entries later, also
        // not where another unit set them aside.
        self.entries.retain(|_, list| {
            list.retain(|&(unit, _)| unit != id);
            !list.is_empty()
        });
        for lists in self.kept.values_mut() {
            for (_, list) in lists.iter_mut() {
                list.retain(|&(unit, _)| unit != id);
            }
        }
        self.comdats.retain(|_, u| *u != id);
        self.data_sections.retain(|_, (u, _)| *u != id);
        stores
    }

    /// Forgets the definitions of `names` made by unit `unit`, and COMDAT groups of those
    /// names (the rest of the unit stays loaded). Returns the stores that point GOT entries
    /// at the definitions in effect again, as [`remove_unit`](Self::remove_unit) does.
    pub fn remove_names(&mut self, unit: u64, names: &[String]) -> Vec<Rebind> {
        for n in names {
            if self.comdats.get(n) == Some(&unit) {
                self.comdats.remove(n);
            }
        }
        // The unit stays loaded: its own entries follow too.
        let mut stores = self.remove_definitions(unit, names, true);
        if let Some(lists) = self.kept.get_mut(&unit) {
            let (back, still): (Vec<_>, Vec<_>) = lists.drain(..).partition(|(n, _)| names.contains(n));
            *lists = still;
            stores.extend(self.take_back(back));
        }
        stores
    }

    /// The stores that point `entries` (rebind entries of loaded units) at the definitions in
    /// effect: to undo the rebinds of a unit whose load failed after they were carried out.
    pub fn current_values(&self, entries: &[u64]) -> Vec<Rebind> {
        let mut stores = Vec::new();
        for (name, list) in &self.entries {
            let Some(def) = self.lookup(name) else { continue };
            stores.extend(list.iter().filter(|(_, e)| entries.contains(e)).map(|&(_, e)| (e, def.addr)));
        }
        stores
    }

    /// Puts rebind entries set aside back, with the stores that point them at the definitions
    /// in effect.
    fn take_back(&mut self, lists: Vec<(String, Vec<UnitEntry>)>) -> Vec<Rebind> {
        let mut stores = Vec::new();
        for (name, list) in lists {
            if let Some(def) = self.lookup(&name) {
                stores.extend(list.iter().map(|&(_, entry)| (entry, def.addr)));
            }
            self.entries.entry(name).or_default().extend(list);
        }
        stores
    }

    /// Drops `unit`'s definitions of `names`; returns the stores that point the rebind
    /// entries (`own`: the unit's as well) at the definitions in effect after.
    fn remove_definitions(&mut self, unit: u64, names: &[String], own: bool) -> Vec<Rebind> {
        let mut stores = Vec::new();
        for n in names {
            let Some(defs) = self.symbols.get_mut(n) else { continue };
            let before = defs.last().map(|d| d.addr);
            defs.retain(|d| d.unit != unit);
            let after = defs.last().map(|d| d.addr);
            if defs.is_empty() {
                self.symbols.remove(n);
            }
            if let Some(addr) = after.filter(|&a| Some(a) != before) {
                let theirs = self.entries.get(n).into_iter().flatten().filter(|&&(u, _)| own || u != unit);
                stores.extend(theirs.map(|&(_, entry)| (entry, addr)));
            }
        }
        stores
    }

    fn next_unit_id(&mut self) -> u64 {
        self.next_unit += 1;
        self.next_unit
    }
}

/// The prefix a target's object format puts before C-level names in symbol tables: `_` for
/// Mach-O (Darwin: macOS, iOS, their simulators; `<mach-o/nlist.h>`), none for ELF. Symbols
/// keep it throughout the link and on the wire, as in LLVM (an Apple executor strips it
/// before `dlsym`); only code that names a C function or variable adds it, through this.
pub fn global_prefix(triple: &str) -> &'static str {
    let darwin = triple
        .split('-')
        .skip(1)
        .any(|c| c == "apple" || c.starts_with("darwin") || c.starts_with("macos") || c.starts_with("ios"));
    if darwin { "_" } else { "" }
}

/// Settings of a link.
#[derive(Debug, Clone, Copy)]
pub struct LinkOptions {
    /// The executor's page size in bytes (segments are page-aligned and page-sized).
    pub page_size: u64,
    /// The executor's architecture; every input must be for it.
    pub arch: Arch,
    /// The strong global definitions of the link's objects (not of archive members) may be
    /// made again by later links, as in a REPL: every call and GOT load that reaches one, in
    /// this link or a later one, goes through a GOT entry in writable memory that the session
    /// rewrites when the name gets a new definition ([`LinkedUnit::rebinds`]).
    pub redefinable: bool,
    /// A global variable (writable data, thread-locals and commons included; not constants,
    /// which are replaced like functions) that the session defines already is not defined again: the link's
    /// definition becomes a reference to the existing one, which keeps its storage and value
    /// ([`LinkedUnit::kept_data`]). A writable data section that an earlier link of the same
    /// input placed with the same size and symbol layout ([`DataSection`]) is not placed
    /// again either: its symbols, `static` variables included, are the earlier ones.
    /// Functions are defined again as usual. For reloading an edited file into a running
    /// program (`repl --watch`).
    pub keep_data: bool,
}

/// Reads `inputs` and plans the link against the session's `dylib`.
///
/// # Errors
/// Unreadable or unsupported inputs, inputs for another architecture, unsupported
/// relocations, duplicate definitions.
pub fn plan(inputs: &[Input], dylib: &mut JitDylib, opts: LinkOptions) -> Result<LinkPlan, LinkError> {
    let mut g = graph::LinkGraph::new(opts.arch);
    let earlier = Earlier { comdats: dylib.comdat_set(), dylib };
    for input in inputs {
        if let Input::Object { name, bytes } = input {
            add_object(&mut g, name, bytes, &earlier)?;
        }
    }
    if opts.redefinable {
        g.redefinable_inputs = g.inputs.len();
    }
    let kept_data = if opts.keep_data {
        let mut kept = g.keep_data_sections(|input, section| earlier.dylib.data_section(input, section));
        kept.extend(g.keep_existing_data(|n| earlier.dylib.lookup(n).is_some()));
        kept.sort();
        kept
    } else {
        Vec::new()
    };
    for input in inputs {
        if let Input::Archive { name, bytes } = input {
            archive::add_archive(&mut g, name, bytes, &earlier)?;
        }
    }
    let unit = dylib.next_unit_id();
    let mut plan = LinkPlan::new(g, dylib, unit, opts)?;
    plan.kept_data = kept_data;
    Ok(plan)
}

/// What earlier links of the session provide, as the graph builders need it.
pub(crate) struct Earlier<'a> {
    /// ELF COMDAT groups kept by earlier units.
    pub comdats: HashSet<String>,
    /// The session's definitions.
    pub dylib: &'a JitDylib,
}

/// Adds one relocatable object to `g` with the builder of its format (ELF or Mach-O).
pub(crate) fn add_object(
    g: &mut graph::LinkGraph,
    name: &str,
    bytes: &[u8],
    earlier: &Earlier<'_>,
) -> Result<(), LinkError> {
    match object::FileKind::parse(bytes) {
        Ok(object::FileKind::MachO64) => {
            macho::add_object(g, name, bytes, &|n| earlier.dylib.lookup(n).is_some())
        }
        _ => elf::add_object(g, name, bytes, &earlier.comdats),
    }
}

#[cfg(test)]
mod tests;
