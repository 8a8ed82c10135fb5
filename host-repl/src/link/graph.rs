//! The link graph: sections, symbols and relocation edges of the inputs of one link.

use crate::arch::x86_64::Reloc;

/// Index of a section in [`Graph::sections`].
pub type SectionId = usize;
/// Index of a symbol in [`Graph::symbols`].
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
    /// Pointers to initializers (`.init_array[.N]`, `.ctors[.N]`); read after relocation, not
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
    /// `.tdata`/`.tbss`: part of the link's TLS block image; `addr` is the offset in the block.
    Tls,
}

/// A loaded section.
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
    /// Alignment in bytes (at least 1).
    pub align: u64,
    /// Size in bytes.
    pub size: u64,
    /// Contents; `None` for zero-fill (`SHT_NOBITS`).
    pub data: Option<Vec<u8>>,
    /// Relocations to apply to `data`.
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
    /// At `offset` in `section`.
    Section {
        /// The section.
        section: SectionId,
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
    /// Size in bytes (for `R_X86_64_SIZE*`).
    pub size: u64,
    /// A thread-local variable.
    pub tls: bool,
}

/// A relocation: patch `section` at `offset` with `kind` computed for `target` and `addend`.
#[derive(Debug, Clone, Copy)]
pub struct Edge {
    /// Offset in the section.
    pub offset: u64,
    /// What to compute.
    pub kind: Reloc,
    /// Raw `r_type`, for messages.
    pub r_type: object::elf::RelocationType,
    /// Target symbol.
    pub target: SymbolId,
    /// Addend.
    pub addend: i64,
}

/// All inputs of one link.
#[derive(Debug, Default)]
pub struct Graph {
    /// Input names (file or archive member), for messages.
    pub inputs: Vec<String>,
    /// Sections.
    pub sections: Vec<Section>,
    /// Symbols.
    pub symbols: Vec<Symbol>,
    /// Global names → symbol.
    pub globals: std::collections::HashMap<String, SymbolId>,
    /// COMDAT group signatures kept in this link.
    pub comdats: std::collections::HashSet<String>,
}

impl Graph {
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

    /// True if `sym` is defined in a live section or absolutely in this link.
    pub fn is_defined(&self, sym: SymbolId) -> bool {
        match self.symbols[sym].def {
            Def::Undefined => false,
            Def::Section { section, .. } => self.sections[section].live,
            Def::Absolute(_) | Def::Common { .. } => true,
        }
    }
}
