//! The link graph: sections of blocks, symbols defined in blocks, and edges between them.
//!
//! The graph is format-neutral (the builders in [`crate::elf`] and [`crate::macho`] fill it)
//! and architecture-neutral except for [`Edge::kind`], which is the architecture's own edge
//! enum ([`EdgeKind`]). Its shape follows LLVM JITLink's `LinkGraph`
//! (`llvm/include/llvm/ExecutionEngine/JITLink/JITLink.h`): a *block* is the unit of layout
//! and liveness (an ELF section becomes one block; a Mach-O section with
//! `subsections_via_symbols` one block per symbol, ld64's atoms), a *section* groups blocks
//! with one name, protection and role, and symbols point into blocks.

use std::collections::{HashMap, HashSet};

use crate::LinkError;
use crate::arch::{Arch, EdgeKind};

/// Index of a section in [`LinkGraph::sections`].
pub type SectionId = usize;
/// Index of a block in [`LinkGraph::blocks`].
pub type BlockId = usize;
/// Index of a symbol in [`LinkGraph::symbols`].
pub type SymbolId = usize;

/// Which executor segment (protection) a section goes into.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SegmentKind {
    /// Read-only data, the GOT, `.eh_frame`, the TLS template.
    R,
    /// Writable data and zero-fill.
    RW,
    /// Code and stubs.
    RX,
}

/// What a section is for, beyond its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Placed in a segment.
    Normal,
    /// `.eh_frame`: placed contiguously at the end of the read-only segment and registered.
    EhFrame,
    /// Pointers to initializers (`.init_array[.N]`, `.ctors[.N]`); read after fix-up, not
    /// placed. `reverse` for `.ctors`, which run last entry first.
    Init {
        /// Lower runs earlier.
        priority: u32,
        /// Entries run in reverse order.
        reverse: bool,
    },
    /// Pointers to finalizers (`.fini_array[.N]`, `.dtors[.N]`); run at exit in reverse of
    /// the order `Init` would give.
    Fini {
        /// Lower runs later.
        priority: u32,
        /// Entries run in reverse order.
        reverse: bool,
    },
    /// `.tdata`/`.tbss` (Mach-O `__thread_data`/`__thread_bss`): part of the link's TLS block
    /// image; a block's `addr` is its offset in the TLS block.
    Tls,
    /// Mach-O `__thread_vars`: placed as data, one 24-byte descriptor `{thunk, key, offset}`
    /// per thread-local variable; the linker writes the unit's emutls control object into
    /// each `key` (see [`crate::macho`]).
    TlvDescriptors,
}

/// A named group of blocks with one protection and role.
#[derive(Debug, Clone)]
pub struct Section {
    /// Name, for messages and ordering.
    pub name: String,
    /// Index of the input it came from.
    pub input: usize,
    /// Target segment.
    pub segment: SegmentKind,
    /// Role.
    pub role: Role,
}

impl Section {
    /// True if the section holds a program's state: writable data, but not data that is
    /// only written by relocations (ELF `.data.rel.ro`, constant tables of addresses).
    /// Read-only data is not state: a new version's constants replace the old ones.
    pub(crate) fn holds_state(&self) -> bool {
        self.segment == SegmentKind::RW && !self.name.starts_with(".data.rel.ro")
    }
}

/// A contiguous run of bytes (or zero-fill) that is laid out as a whole.
#[derive(Debug, Clone)]
pub struct Block {
    /// The section it belongs to.
    pub section: SectionId,
    /// Alignment in bytes (a power of two, at least 1).
    pub align: u64,
    /// Size in bytes.
    pub size: u64,
    /// Contents; `None` for zero-fill.
    pub data: Option<Vec<u8>>,
    /// Fix-ups to apply to `data`.
    pub edges: Vec<Edge>,
    /// False if discarded (a duplicate COMDAT group).
    pub live: bool,
    /// Executor address once laid out (for [`Role::Tls`]: offset in the TLS block).
    pub addr: u64,
}

/// Where a symbol is defined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Def {
    /// Not defined in this link.
    Undefined,
    /// At `offset` in `block`.
    Block {
        /// The block.
        block: BlockId,
        /// Offset in it.
        offset: u64,
    },
    /// An absolute value.
    Absolute(u64),
    /// A common symbol: zero-filled storage allocated by the linker.
    Common {
        /// Size in bytes.
        size: u64,
        /// Alignment in bytes.
        align: u64,
    },
}

/// A symbol: a local of one input, or the single entry for a global name.
#[derive(Debug, Clone)]
pub struct Symbol {
    /// Name (may be empty for section symbols).
    pub name: String,
    /// Visible by name across inputs (global or weak binding).
    pub global: bool,
    /// Weak binding (a strong definition wins; unresolved weak references are 0).
    pub weak: bool,
    /// Definition.
    pub def: Def,
    /// Input that defined it (or first referenced it).
    pub input: usize,
    /// Size in bytes (for size relocations such as `R_X86_64_SIZE64`).
    pub size: u64,
    /// A thread-local variable.
    pub tls: bool,
}

/// A fix-up: patch a block at `offset` with `kind` computed for `target` and `addend`.
#[derive(Debug, Clone, Copy)]
pub struct Edge {
    /// Offset in the block.
    pub offset: u64,
    /// What to compute and how to encode it, in the architecture's terms.
    pub kind: EdgeKind,
    /// Target symbol.
    pub target: SymbolId,
    /// Addend.
    pub addend: i64,
}

/// All inputs of one link.
#[derive(Debug)]
pub struct LinkGraph {
    /// The architecture every input is for.
    pub arch: Arch,
    /// Input names (file or archive member), for messages.
    pub inputs: Vec<String>,
    /// Sections.
    pub sections: Vec<Section>,
    /// Blocks.
    pub blocks: Vec<Block>,
    /// Symbols.
    pub symbols: Vec<Symbol>,
    /// Global names → symbol.
    pub globals: HashMap<String, SymbolId>,
    /// COMDAT group signatures kept in this link.
    pub comdats: HashSet<String>,
    /// Inputs `0..redefinable_inputs` make redefinable definitions
    /// ([`crate::LinkOptions::redefinable`]).
    pub redefinable_inputs: usize,
}

impl LinkGraph {
    /// An empty graph for `arch`.
    pub fn new(arch: Arch) -> LinkGraph {
        LinkGraph {
            arch,
            inputs: Vec::new(),
            sections: Vec::new(),
            blocks: Vec::new(),
            symbols: Vec::new(),
            globals: HashMap::new(),
            comdats: HashSet::new(),
            redefinable_inputs: 0,
        }
    }

    /// Registers input `name`, an object for `arch`, and returns its index.
    ///
    /// # Errors
    /// [`LinkError::WrongArchitecture`] for an object of another architecture than the graph's,
    /// [`LinkError::BadInput`] for one the linker does not handle.
    pub fn add_input(&mut self, name: &str, arch: object::Architecture) -> Result<usize, LinkError> {
        match Arch::from_object(arch) {
            Some(a) if a == self.arch => {}
            Some(a) => {
                return Err(LinkError::WrongArchitecture {
                    input: name.to_owned(),
                    found: a,
                    expected: self.arch,
                });
            }
            None => {
                return Err(LinkError::BadInput {
                    input: name.to_owned(),
                    message: format!("{arch:?} objects are not supported (x86-64 and AArch64 are)"),
                });
            }
        }
        self.inputs.push(name.to_owned());
        Ok(self.inputs.len() - 1)
    }

    /// Adds an occurrence of a global (an input's definition of or reference to it) with the
    /// usual static-linking rules for both formats: strong definitions beat commons, which beat
    /// weak definitions; references stay weak only while every reference is weak. Returns the
    /// name's symbol.
    ///
    /// # Errors
    /// [`LinkError::DuplicateSymbol`] for a second strong definition.
    pub fn add_global(&mut self, new: Symbol) -> Result<SymbolId, LinkError> {
        let Some(&id) = self.globals.get(&new.name) else {
            self.globals.insert(new.name.clone(), self.symbols.len());
            self.symbols.push(new);
            return Ok(self.symbols.len() - 1);
        };
        let old = &mut self.symbols[id];
        let strong = |s: &Symbol| matches!(s.def, Def::Block { .. } | Def::Absolute(_)) && !s.weak;
        match (old.def, new.def) {
            (Def::Undefined, Def::Undefined) => {
                old.weak &= new.weak;
                old.tls |= new.tls;
            }
            (_, Def::Undefined) => {}
            (Def::Undefined, _) => {
                *old = new;
            }
            (Def::Common { size: s1, align: a1 }, Def::Common { size: s2, align: a2 }) => {
                old.def = Def::Common { size: s1.max(s2), align: a1.max(a2) };
                old.size = s1.max(s2);
            }
            (Def::Common { .. }, _) if strong(&new) => *old = new,
            (_, Def::Common { .. }) if old.weak => *old = new,
            _ if strong(old) && strong(&new) => {
                return Err(LinkError::DuplicateSymbol {
                    name: new.name,
                    first: self.inputs[old.input].clone(),
                    second: self.inputs[new.input].clone(),
                });
            }
            _ if old.weak && strong(&new) => *old = new,
            _ => {}
        }
        Ok(id)
    }

    /// The symbol for global `name`, created undefined if new.
    pub fn global(&mut self, name: &str, input: usize) -> SymbolId {
        if let Some(&id) = self.globals.get(name) {
            return id;
        }
        let id = self.symbols.len();
        self.symbols.push(Symbol {
            name: name.to_owned(),
            global: true,
            weak: false,
            def: Def::Undefined,
            input,
            size: 0,
            tls: false,
        });
        self.globals.insert(name.to_owned(), id);
        id
    }

    /// Adds a block to `section` and returns its id.
    pub fn add_block(&mut self, block: Block) -> BlockId {
        self.blocks.push(block);
        self.blocks.len() - 1
    }

    /// The section a block belongs to.
    pub fn section_of(&self, block: BlockId) -> &Section {
        &self.sections[self.blocks[block].section]
    }

    /// The name of the input a block came from.
    pub fn input_of(&self, block: BlockId) -> &str {
        &self.inputs[self.section_of(block).input]
    }

    /// True if `sym` is a definition a later link may replace: strong, global, not
    /// thread-local, in a placed block of a redefinable input.
    pub(crate) fn is_redefinable(&self, sym: SymbolId) -> bool {
        let s = &self.symbols[sym];
        let Def::Block { block, .. } = s.def else { return false };
        s.global && !s.weak && !s.tls && self.in_redefinable_block(block)
    }

    /// True if block `b` is live, of a redefinable input, and laid out as it is (role
    /// [`Role::Normal`]).
    fn in_redefinable_block(&self, b: BlockId) -> bool {
        let section = self.section_of(b);
        self.blocks[b].live && section.input < self.redefinable_inputs && section.role == Role::Normal
    }

    /// The writable data sections of redefinable inputs that are one block each (ELF's; a
    /// Mach-O section is cut into atoms), as [`crate::DataSection`]s without addresses: what a
    /// later version of the input may keep ([`crate::LinkOptions::keep_data`]).
    pub(crate) fn data_sections(&self) -> Vec<(BlockId, crate::DataSection)> {
        let mut blocks_of = vec![0usize; self.sections.len()];
        for b in &self.blocks {
            blocks_of[b.section] += 1;
        }
        let mut layouts: HashMap<BlockId, Vec<(u64, String)>> = HashMap::new();
        for s in &self.symbols {
            if let Def::Block { block, offset } = s.def {
                layouts.entry(block).or_default().push((offset, s.name.clone()));
            }
        }
        (0..self.blocks.len())
            .filter(|&b| {
                self.in_redefinable_block(b)
                    && self.section_of(b).holds_state()
                    && blocks_of[self.blocks[b].section] == 1
            })
            .map(|b| {
                let mut layout = layouts.remove(&b).unwrap_or_default();
                layout.sort();
                let section = self.section_of(b);
                let d = crate::DataSection {
                    input: self.inputs[section.input].clone(),
                    section: section.name.clone(),
                    addr: 0,
                    size: self.blocks[b].size,
                    layout,
                };
                (b, d)
            })
            .collect()
    }

    /// Keeps the writable data sections that an earlier version of their input placed
    /// (`earlier` finds it) and that have not changed their size or layout (the offsets and
    /// names of the symbols in them): the block is dropped, and every symbol in it becomes the
    /// address in the earlier section, so code refers to the storage, and the values, the
    /// program has. This keeps `static` variables, which have no name outside their file.
    /// Global ones in it become references, to the session's definitions; returns their names.
    pub(crate) fn keep_data_sections<'a>(
        &mut self,
        earlier: impl Fn(&str, &str) -> Option<&'a crate::DataSection>,
    ) -> Vec<String> {
        let mut globals = Vec::new();
        for (b, now) in self.data_sections() {
            let Some(old) = earlier(&now.input, &now.section) else { continue };
            if old.size != now.size || old.layout != now.layout {
                continue;
            }
            for s in &mut self.symbols {
                let Def::Block { block, offset } = s.def else { continue };
                if block != b {
                    continue;
                }
                if s.global {
                    s.def = Def::Undefined;
                    s.weak = false;
                    globals.push(s.name.clone());
                } else {
                    s.def = Def::Absolute(old.addr + offset);
                }
            }
            self.blocks[b].live = false;
        }
        globals
    }

    /// Turns each global variable this link defines whose name `exists` (the session has it
    /// already) into an undefined reference, so that it resolves to the existing storage
    /// ([`crate::LinkOptions::keep_data`]); returns their names. A variable is a definition in
    /// a live block of a section that [holds state](Section::holds_state) or is thread-local,
    /// or a common symbol. Its block stays (other symbols, or the section's own relocations,
    /// may use it).
    pub(crate) fn keep_existing_data(&mut self, exists: impl Fn(&str) -> bool) -> Vec<String> {
        let mut kept = Vec::new();
        for id in 0..self.symbols.len() {
            let data = match self.symbols[id].def {
                Def::Block { block, .. } => {
                    let section = self.section_of(block);
                    self.blocks[block].live
                        && (section.role == Role::Tls
                            || section.role == Role::Normal && section.holds_state())
                }
                Def::Common { .. } => true,
                Def::Undefined | Def::Absolute(_) => false,
            };
            let s = &mut self.symbols[id];
            if data && s.global && exists(&s.name) {
                s.def = Def::Undefined;
                s.weak = false;
                kept.push(s.name.clone());
            }
        }
        kept
    }

    /// True if `sym` is defined in a live block or absolutely in this link.
    pub fn is_defined(&self, sym: SymbolId) -> bool {
        match self.symbols[sym].def {
            Def::Undefined => false,
            Def::Block { block, .. } => self.blocks[block].live,
            Def::Absolute(_) | Def::Common { .. } => true,
        }
    }
}
