//! The JIT linker: relocatable objects in, finalized segments for the executor out.
//!
//! A link turns a set of inputs (ELF x86-64 objects and static archives) into one *unit*:
//! read every input into a [`graph::Graph`] ([`elf`], [`archive`]), resolve symbols (this
//! link first, then units linked earlier in the session — LLVM's JITDylib, here [`JitDylib`] —
//! then the executor process), build GOT entries and jump stubs, lay sections out in three
//! page-aligned segments by protection, and apply relocations on the host. The executor then
//! only copies bytes and sets protections, so loading a unit costs one initialize request.
//!
//! The link runs in two steps so the host can batch its round trips: [`plan`] needs no
//! executor and tells which symbols to look up and how much memory to reserve;
//! [`LinkPlan::finish`] takes the addresses and produces the [`LinkedUnit`].
//!
//! Thread-local storage: each unit's `.tdata`/`.tbss` become one TLS block served by libgcc's
//! emutls (`__emutls_get_address`); general- and local-dynamic accesses
//! (`R_X86_64_TLSGD`/`TLSLD`, i.e. code built with `-fPIC`) get a GOT pair
//! `{emutls control object, offset}` and call `__tls_get_addr`, which the session runtime
//! implements on top of emutls. Initial- and local-exec models are refused with advice.
//!
//! `.eh_frame` sections are placed contiguously with a zero terminator and registered whole;
//! FDEs of discarded COMDAT functions keep a zero PC offset, so they describe bytes of
//! `.eh_frame` itself, where no code runs.

pub mod archive;
pub mod elf;
pub mod graph;
mod layout;

use std::collections::{HashMap, HashSet};

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
    /// A relocation's value does not fit its field.
    #[error("{0}")]
    OutOfRange(Box<RelocOutOfRange>),
    /// Anything else about the inputs that cannot be linked.
    #[error("{0}")]
    Other(String),
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
    /// Relocation name, e.g. `R_X86_64_PC32`.
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
}

/// The symbols and COMDAT groups of the units linked so far in a session (LLVM's JITDylib).
#[derive(Debug, Default, Clone)]
pub struct JitDylib {
    symbols: HashMap<String, DylibSymbol>,
    comdats: HashMap<String, u64>,
    next_unit: u64,
}

impl JitDylib {
    /// The definition of `name`, if an earlier unit has one.
    pub fn lookup(&self, name: &str) -> Option<&DylibSymbol> {
        self.symbols.get(name)
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

    /// Records the definitions of a unit that was loaded. A weak definition does not replace
    /// an existing strong one.
    pub fn add_unit(&mut self, unit: &LinkedUnit) {
        for (name, sym) in &unit.symbols {
            match self.symbols.get(name) {
                Some(old) if sym.weak && !old.weak => {}
                _ => {
                    self.symbols.insert(name.clone(), *sym);
                }
            }
        }
        for c in &unit.comdats {
            self.comdats.insert(c.clone(), unit.id);
        }
    }

    /// Forgets every definition made by unit `id` (after it was unloaded), so the names can
    /// be defined again.
    pub fn remove_unit(&mut self, id: u64) {
        self.symbols.retain(|_, s| s.unit != id);
        self.comdats.retain(|_, u| *u != id);
    }

    /// Forgets the definitions of `names` made by unit `unit`, and COMDAT groups of those
    /// names (the rest of the unit stays).
    pub fn remove_names(&mut self, unit: u64, names: &[String]) {
        for n in names {
            if self.symbols.get(n).is_some_and(|s| s.unit == unit) {
                self.symbols.remove(n);
            }
            if self.comdats.get(n) == Some(&unit) {
                self.comdats.remove(n);
            }
        }
    }

    fn next_unit_id(&mut self) -> u64 {
        self.next_unit += 1;
        self.next_unit
    }
}

/// Settings of a link.
#[derive(Debug, Clone, Copy)]
pub struct LinkOptions {
    /// The executor's page size in bytes (segments are page-aligned and page-sized).
    pub page_size: u64,
}

/// Reads `inputs` and plans the link against the session's `dylib`.
///
/// # Errors
/// Unreadable or unsupported inputs, unsupported relocations, duplicate definitions.
pub fn plan(inputs: &[Input], dylib: &mut JitDylib, opts: LinkOptions) -> Result<LinkPlan, LinkError> {
    let mut g = graph::Graph::default();
    let earlier = dylib.comdat_set();
    for input in inputs {
        if let Input::Object { name, bytes } = input {
            elf::add_object(&mut g, name, bytes, &earlier)?;
        }
    }
    for input in inputs {
        if let Input::Archive { name, bytes } = input {
            archive::add_archive(&mut g, name, bytes, &|n| dylib.lookup(n).is_some(), &earlier)?;
        }
    }
    let unit = dylib.next_unit_id();
    LinkPlan::new(g, dylib, unit, opts)
}

#[cfg(test)]
mod tests;
