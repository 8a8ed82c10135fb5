//! The Mach-O graph builder: relocatable objects (`MH_OBJECT`) for x86-64 and arm64, as clang
//! emits them for macOS and for iOS simulators and devices, into the link graph.
//!
//! Formats and relocation semantics from Apple's `<mach-o/loader.h>`, `<mach-o/nlist.h>`,
//! `<mach-o/x86_64/reloc.h>` and `<mach-o/arm64/reloc.h>`, with the readings LLVM JITLink
//! gives them (`llvm/lib/ExecutionEngine/JITLink/MachO_{x86_64,arm64}.cpp`):
//!
//! - Sections of `__DWARF` and `__LLVM` are skipped. With `MH_SUBSECTIONS_VIA_SYMBOLS` (which
//!   clang sets) an ordinary section is cut into atoms, one block from each symbol (but
//!   alt-entries) to the next, as ld64 does; other sections (TLS, TLV descriptors,
//!   initializer lists, compact unwind) stay whole. Symbol names are kept as the object
//!   spells them, with Darwin's leading `_`.
//! - Unwinding: `__LD,__compact_unwind` becomes DWARF CFI in an `__eh_frame` block
//!   (module `compact_unwind`), registered as ELF `.eh_frame` is. An object's own
//!   `__eh_frame` (macOS objects have one; its pointers carry no relocations) is not loaded,
//!   so functions whose compact encoding defers to DWARF get no unwind information.
//! - A relocation's addend lives in the bytes it patches (arm64 instructions: in a preceding
//!   `ARM64_RELOC_ADDEND`). x86-64 PC-relative fields count from the end of the 4-byte field
//!   (and of the 1, 2 or 4 immediate bytes after it for `SIGNED_1/2/4`), so the builder folds
//!   that bias into the addend and the edges use the ELF formulas (`S + A - P`).
//! - `r_extern = 0` relocations name a section, and the field holds the target's address in
//!   the object's own layout: they are rebased onto the atom holding that address.
//! - A `SUBTRACTOR`/`UNSIGNED` pair computes `To - From + field`; the place lies in the block
//!   of `From` (an edge `S + A - P` to `To`) or of `To` (`P - S + A` to `From`).
//! - A weak definition of a name an earlier unit of the session defines is dropped in favour
//!   of the earlier one, and so is one that loses to another in this link (Mach-O's
//!   coalescing of weak definitions, where ELF has COMDAT groups): its atom is left out unless
//!   something else in the link refers to it.
//! - Thread-local variables: `__thread_vars` holds one descriptor `{thunk, key, offset}` per
//!   variable; `__thread_data`/`__thread_bss` form the unit's TLS block (as ELF's
//!   `.tdata`/`.tbss`, kept by emutls). The `offset` word's relocation becomes the target's
//!   offset in that block, the key is the unit's emutls control object, and the thunk is the
//!   session runtime's `_tlv_bootstrap` (`__tlv_bootstrap` in the object). Code reaches a
//!   descriptor through a GOT entry (`X86_64_RELOC_TLV`, `ARM64_RELOC_TLVP_LOAD_*`).
//! - `__mod_init_func` entries run as initializers, `__mod_term_func` as finalizers.

use std::collections::{HashMap, HashSet};

use object::macho;
use object::read::macho::{MachHeader, MachOFile64, Nlist, Section as _};
use object::{Endianness, Object, ObjectSection};

use crate::LinkError;
use crate::arch::{Arch, EdgeKind, aarch64, x86_64};
use crate::graph::{Block, BlockId, Def, Edge, LinkGraph, Role, Section, SegmentKind, Symbol, SymbolId};

/// The largest section alignment loaded (log2): 64 KiB, beyond any page size.
const MAX_ALIGN_LOG2: u32 = 16;
/// The largest section loaded, in bytes (1 TiB): sizes stay far from overflowing the layout.
const MAX_SECTION_SIZE: u64 = 1 << 40;

/// A block cut from a section: a whole section, or with `subsections_via_symbols` the part
/// from one symbol to the next (ld64's atom).
#[derive(Debug, Clone, Copy)]
struct Atom {
    /// Offset of its first byte in the section.
    start: u64,
    block: BlockId,
    /// A local symbol at the block's start, the target of rebased relocations.
    anchor: SymbolId,
}

/// A loaded section: its atoms and where the object placed it.
#[derive(Debug, Clone)]
struct Loaded {
    /// The section's address in the object (`r_extern = 0` fields hold such addresses).
    addr: u64,
    /// Its size in bytes.
    size: u64,
    /// Its atoms by `start`, the first at 0.
    atoms: Vec<Atom>,
}

impl Loaded {
    /// The atom holding section offset `off` (the last one for the section's end).
    fn atom_at(&self, off: u64) -> Option<Atom> {
        if off > self.size {
            return None;
        }
        let i = self.atoms.partition_point(|a| a.start <= off);
        self.atoms.get(i.checked_sub(1)?).copied()
    }
}

/// Adds the Mach-O object `data` named `name` to `g`. `defined_earlier` tells whether an
/// earlier unit of the session defines a name (its weak definitions here are then dropped).
///
/// # Errors
/// Unreadable objects, objects for an architecture other than `g.arch`, duplicate strong
/// definitions, and relocations that are unsupported, malformed or outside their section.
pub fn add_object(
    g: &mut LinkGraph,
    name: &str,
    data: &[u8],
    defined_earlier: &dyn Fn(&str) -> bool,
) -> Result<(), LinkError> {
    let bad = |message: String| LinkError::BadInput { input: name.to_owned(), message };
    let file =
        MachOFile64::<Endianness>::parse(data).map_err(|e| bad(format!("not a Mach-O object: {e}")))?;
    let e = file.endian();
    let header = file.macho_header();
    if header.filetype(e) != macho::MH_OBJECT {
        return Err(bad(format!(
            "expected a Mach-O relocatable object (MH_OBJECT), found file type {}",
            header.filetype(e)
        )));
    }
    let input = g.add_input(name, file.architecture())?;

    let first_block = g.blocks.len();
    // Where ld64 may cut sections into atoms: at every symbol but alt-entries.
    let symtab = file.macho_symbol_table();
    let subsections = header.flags(e).contains(macho::MH_SUBSECTIONS_VIA_SYMBOLS);
    let mut cuts: HashMap<u32, Vec<u64>> = HashMap::new();
    for nlist in symtab.iter() {
        if !nlist.is_stab()
            && nlist.n_type().typ() == macho::N_SECT
            && !nlist.n_desc(e).contains(macho::N_ALT_ENTRY)
        {
            cuts.entry(u32::from(nlist.n_sect())).or_default().push(nlist.n_value(e));
        }
    }

    // Section ordinal (1-based, as n_sect and r_symbolnum count) → loaded section; blocks that
    // are atoms of a section cut at symbols.
    let mut loaded: HashMap<u32, Loaded> = HashMap::new();
    let mut atomized = HashSet::new();
    let mut compact_unwind_block = None;
    for (i, sec) in file.sections().enumerate() {
        let ordinal = i as u32 + 1;
        let raw = sec.macho_section();
        let seg = String::from_utf8_lossy(raw.segment_name()).into_owned();
        let sect = String::from_utf8_lossy(raw.name()).into_owned();
        let flags = raw.flags(e);
        let typ = flags.typ();
        // `__eh_frame` of macOS objects refers to code without relocations (its pointers hold
        // differences in the object's own layout); the compact unwind of the same functions
        // is used instead.
        let compact_unwind = seg == "__LD" && sect == "__compact_unwind"; // flagged S_ATTR_DEBUG
        if seg == "__DWARF"
            || seg == "__LLVM"
            || (flags.contains(macho::S_ATTR_DEBUG) && !compact_unwind)
            || sect == "__eh_frame"
        {
            continue;
        }
        let zero_fill =
            matches!(typ, macho::S_ZEROFILL | macho::S_GB_ZEROFILL | macho::S_THREAD_LOCAL_ZEROFILL);
        let bytes = if zero_fill {
            None
        } else {
            Some(sec.data().map_err(|err| bad(format!("{seg},{sect}: {err}")))?.to_vec())
        };
        let code = flags.intersects(macho::S_ATTR_PURE_INSTRUCTIONS | macho::S_ATTR_SOME_INSTRUCTIONS);
        let role = match typ {
            macho::S_MOD_INIT_FUNC_POINTERS => Role::Init { priority: 65535, reverse: false },
            macho::S_MOD_TERM_FUNC_POINTERS => Role::Fini { priority: 65535, reverse: false },
            macho::S_THREAD_LOCAL_REGULAR | macho::S_THREAD_LOCAL_ZEROFILL => Role::Tls,
            macho::S_THREAD_LOCAL_VARIABLES => Role::TlvDescriptors,
            _ => Role::Normal,
        };
        let segment = if code {
            SegmentKind::RX
        } else if seg == "__TEXT" || seg == "__DATA_CONST" {
            SegmentKind::R
        } else {
            SegmentKind::RW
        };
        let (addr, size) = (raw.addr(e), raw.size(e));
        if raw.align(e) > MAX_ALIGN_LOG2 || size > MAX_SECTION_SIZE || addr.checked_add(size).is_none() {
            return Err(bad(format!(
                "{seg},{sect}: alignment 2^{}, size {size:#x} at {addr:#x} is not a section this linker loads",
                raw.align(e)
            )));
        }
        let align = 1u64 << raw.align(e);
        if bytes.as_ref().is_some_and(|b| b.len() as u64 != size) {
            return Err(bad(format!(
                "{seg},{sect}: size {size} but {} bytes of contents",
                bytes.map_or(0, |b| b.len())
            )));
        }
        g.sections.push(Section { name: format!("{seg},{sect}"), input, segment, role });
        let section = g.sections.len() - 1;
        // Atoms: only ordinary sections are cut (not compact unwind, TLS, TLV descriptors or
        // initializer lists, which the linker reads whole).
        let mut starts = vec![0];
        let cut = subsections && role == Role::Normal && !compact_unwind;
        if cut {
            starts
                .extend(cuts.remove(&ordinal).unwrap_or_default().into_iter().map(|v| v.wrapping_sub(addr)));
            // Cut only where the section's alignment holds, so every atom keeps it (a symbol
            // at a less aligned offset stays in the atom before it).
            starts.retain(|&o| o == 0 || (o < size && addr.wrapping_add(o) % align == 0));
            starts.sort_unstable();
            starts.dedup();
        }
        let mut atoms = Vec::with_capacity(starts.len());
        for (k, &start) in starts.iter().enumerate() {
            let end = starts.get(k + 1).copied().unwrap_or(size);
            let block = g.add_block(Block {
                section,
                align,
                size: end - start,
                data: bytes.as_ref().map(|b| b[start as usize..end as usize].to_vec()),
                edges: Vec::new(),
                live: true,
                addr: 0,
            });
            let anchor = g.symbols.len();
            g.symbols.push(Symbol {
                name: String::new(),
                global: false,
                weak: false,
                def: Def::Block { block, offset: 0 },
                input,
                size: 0,
                tls: role == Role::Tls,
            });
            if cut {
                atomized.insert(block);
            }
            atoms.push(Atom { start, block, anchor });
        }
        if compact_unwind {
            compact_unwind_block = Some(atoms[0].block);
        }
        loaded.insert(ordinal, Loaded { addr, size, atoms });
    }

    // Symbol table index → symbol. Atoms that start with a weak definition another one
    // supersedes are dropped below unless something else refers to them.
    let mut superseded = Vec::new();
    let strings = symtab.strings();
    let mut symbols: HashMap<u32, SymbolId> = HashMap::new();
    for (index, nlist) in symtab.iter().enumerate() {
        if nlist.is_stab() {
            continue;
        }
        let sym_name = std::str::from_utf8(nlist.name(e, strings).map_err(|err| bad(err.to_string()))?)
            .map_err(|_| bad(format!("symbol {index} has a name that is not UTF-8")))?
            .to_owned();
        let n_type = nlist.n_type();
        let desc = nlist.n_desc(e);
        let value = nlist.n_value(e);
        let external = n_type.is_ext();
        let (def, tls) = match n_type.typ() {
            macho::N_UNDF if external && value != 0 => {
                (Def::Common { size: value, align: 1 << desc.common_alignment() }, false)
            }
            macho::N_UNDF => (Def::Undefined, false),
            macho::N_ABS => (Def::Absolute(value), false),
            macho::N_SECT => match loaded.get(&u32::from(nlist.n_sect())) {
                Some(l) => {
                    let off = value.wrapping_sub(l.addr);
                    let atom = l
                        .atom_at(off)
                        .ok_or_else(|| bad(format!("symbol {sym_name} lies outside its section")))?;
                    let def = Def::Block { block: atom.block, offset: off - atom.start };
                    (def, g.section_of(atom.block).role == Role::Tls)
                }
                // A symbol in a section that is not loaded (compact unwind, debug info).
                None => (Def::Absolute(0), false),
            },
            other => {
                return Err(bad(format!(
                    "symbol {sym_name} has type {other:#x} (N_INDR/N_PBUD), which is not linked"
                )));
            }
        };
        if !external {
            symbols.insert(index as u32, g.symbols.len());
            g.symbols.push(Symbol { name: sym_name, global: false, weak: false, def, input, size: 0, tls });
            continue;
        }
        let weak = desc.intersects(macho::N_WEAK_DEF | macho::N_WEAK_REF);
        let coalesced = weak && matches!(def, Def::Block { .. }) && defined_earlier(&sym_name);
        let coalesced_atom = match def {
            Def::Block { block, offset: 0 } if coalesced && atomized.contains(&block) => Some(block),
            _ => None,
        };
        let new = Symbol {
            name: sym_name,
            global: true,
            weak: weak && !coalesced,
            def: if coalesced { Def::Undefined } else { def },
            input,
            size: 0,
            tls,
        };
        let candidate = new.def;
        let id = g.add_global(new)?;
        // A weak definition that lost to another one here.
        if let Def::Block { block, offset: 0 } = candidate
            && weak
            && atomized.contains(&block)
            && g.symbols[id].def != candidate
        {
            superseded.push(block);
        }
        if let Some(block) = coalesced_atom {
            superseded.push(block);
        }
        symbols.insert(index as u32, id);
    }

    let cpu = header.cputype(e);
    for (i, sec) in file.sections().enumerate() {
        let Some(here) = loaded.get(&(i as u32 + 1)) else { continue };
        let section = g.section_of(here.atoms[0].block).name.clone();
        let relocs = sec.macho_relocations().map_err(|err| bad(err.to_string()))?;
        let mut relocs = relocs.iter().map(|r| (r.r_scattered(e, cpu), r.info(e)));
        let mut addend = None;
        while let Some((scattered, ri)) = relocs.next() {
            let at = |detail: String| LinkError::UnsupportedRelocation {
                input: name.to_owned(),
                section: section.clone(),
                offset: u64::from(ri.r_address),
                detail,
            };
            if scattered {
                return Err(at("scattered relocations are not used on x86_64 or arm64".into()));
            }
            let atom = here
                .atom_at(u64::from(ri.r_address))
                .ok_or_else(|| at("relocation lies outside its section".into()))?;
            let ctx = RelocContext { g, here, atom, loaded: &loaded, symbols: &symbols, ri, at: &at };
            let step = match g.arch {
                Arch::X86_64 => ctx.x86_64(&mut relocs)?,
                Arch::Aarch64 => ctx.arm64(&mut relocs, addend.take())?,
            };
            match step {
                Step::Addend(a) => addend = Some((ri.r_address, a)),
                Step::Edge(edge) => {
                    let b = &g.blocks[atom.block];
                    let end = edge.offset.checked_add(edge.kind.width() as u64);
                    if b.data.is_none() || end.is_none_or(|end| end > b.size) {
                        return Err(at("relocation lies outside its section (or across a symbol)".into()));
                    }
                    g.blocks[atom.block].edges.push(edge);
                }
            }
        }
        if addend.is_some() {
            return Err(bad(format!("{section}: ARM64_RELOC_ADDEND is the last relocation")));
        }
    }
    drop_superseded(g, first_block, &superseded, compact_unwind_block);
    tlv_offsets(g, first_block);
    if let Some(cu) = compact_unwind_block {
        crate::compact_unwind::to_eh_frame(g, cu);
    }
    Ok(())
}

/// What one relocation (or pair) produces.
enum Step {
    Edge(Edge),
    /// An `ARM64_RELOC_ADDEND` for the next relocation.
    Addend(i64),
}

type Relocs<'a> = dyn Iterator<Item = (bool, macho::RelocationInfo)> + 'a;

struct RelocContext<'a> {
    g: &'a LinkGraph,
    /// The section being relocated, and the atom holding the relocation's place.
    here: &'a Loaded,
    atom: Atom,
    loaded: &'a HashMap<u32, Loaded>,
    symbols: &'a HashMap<u32, SymbolId>,
    ri: macho::RelocationInfo,
    at: &'a dyn Fn(String) -> LinkError,
}

impl RelocContext<'_> {
    /// The place's offset in its atom.
    fn offset(&self) -> u64 {
        u64::from(self.ri.r_address) - self.atom.start
    }

    /// The field's bytes, checked to lie in the atom.
    fn field(&self, width: u64) -> Result<&[u8], LinkError> {
        let b = &self.g.blocks[self.atom.block];
        let data = b.data.as_deref().ok_or_else(|| (self.at)("relocation in a zero-fill section".into()))?;
        let off = self.offset();
        if off.checked_add(width).is_none_or(|end| end > b.size) {
            return Err((self.at)("relocation lies outside its section".into()));
        }
        Ok(&data[off as usize..(off + width) as usize])
    }

    /// The field's value: 4 bytes sign-extended or 8 bytes.
    fn value(&self) -> Result<i64, LinkError> {
        Ok(match self.ri.r_length {
            2 => i64::from(i32::from_le_bytes(self.field(4)?.try_into().unwrap_or_default())),
            3 => i64::from_le_bytes(self.field(8)?.try_into().unwrap_or_default()),
            n => return Err((self.at)(format!("relocation length {} bytes is not linked", 1u32 << n))),
        })
    }

    fn symbol(&self, index: u32) -> Result<SymbolId, LinkError> {
        self.symbols
            .get(&index)
            .copied()
            .ok_or_else(|| (self.at)(format!("relocation against unknown symbol {index}")))
    }

    /// The target of an `r_extern = 0` relocation whose target address (in the object's
    /// layout) is `addr`: the anchor of the named section's atom holding it, and the offset
    /// from there.
    fn rebase(&self, addr: i64) -> Result<(SymbolId, i64), LinkError> {
        let sect = self.ri.r_symbolnum;
        let l = self
            .loaded
            .get(&sect)
            .ok_or_else(|| (self.at)(format!("relocation against section {sect}, which is not loaded")))?;
        let off = (addr as u64).wrapping_sub(l.addr);
        let atom = l
            .atom_at(off)
            .ok_or_else(|| (self.at)(format!("relocation target {addr:#x} lies outside section {sect}")))?;
        Ok((atom.anchor, (off - atom.start) as i64))
    }

    /// The field's address in the object's layout.
    fn place(&self) -> i64 {
        self.here.addr.wrapping_add(u64::from(self.ri.r_address)) as i64
    }

    fn edge(&self, kind: EdgeKind, target: SymbolId, addend: i64) -> Step {
        Step::Edge(Edge { offset: self.offset(), kind, target, addend })
    }

    fn require(&self, cond: bool, what: &str) -> Result<(), LinkError> {
        if cond {
            Ok(())
        } else {
            Err((self.at)(format!(
                "{what} (type {}, pcrel {}, length {}, extern {})",
                self.ri.r_type, self.ri.r_pcrel, self.ri.r_length, self.ri.r_extern
            )))
        }
    }

    /// An `UNSIGNED` pointer of 4 or 8 bytes (`kinds`: the absolute edge of each): the field
    /// holds the addend, or for `r_extern = 0` the target's address in the object's layout.
    fn unsigned(&self, kinds: [EdgeKind; 2]) -> Result<Step, LinkError> {
        let ri = self.ri;
        self.require(!ri.r_pcrel && matches!(ri.r_length, 2 | 3), "malformed UNSIGNED")?;
        let field = self.value()?;
        let (target, addend) = if !ri.r_extern {
            self.rebase(field)?
        } else if ri.r_length == 2 {
            (self.symbol(ri.r_symbolnum)?, field as u32 as i64)
        } else {
            (self.symbol(ri.r_symbolnum)?, field)
        };
        Ok(self.edge(kinds[usize::from(ri.r_length == 3)], target, addend))
    }

    /// A `SUBTRACTOR` and the `UNSIGNED` after it: `To - From + field`.
    fn subtractor(
        &self,
        relocs: &mut Relocs<'_>,
        unsigned: macho::RelocationType,
        delta: [EdgeKind; 2],
        neg: [EdgeKind; 2],
    ) -> Result<Step, LinkError> {
        self.require(
            self.ri.r_extern && !self.ri.r_pcrel && matches!(self.ri.r_length, 2 | 3),
            "malformed SUBTRACTOR",
        )?;
        let Some((_, pair)) = relocs.next() else {
            return Err((self.at)("SUBTRACTOR without its UNSIGNED".into()));
        };
        if pair.r_type != unsigned || pair.r_address != self.ri.r_address || pair.r_length != self.ri.r_length
        {
            return Err((self.at)(
                "SUBTRACTOR not followed by an UNSIGNED at the same place and length".into(),
            ));
        }
        let from = self.symbol(self.ri.r_symbolnum)?;
        let mut field = self.value()?;
        let to = if pair.r_extern {
            self.symbol(pair.r_symbolnum)?
        } else {
            // The field holds To's address in the object's layout: rebase it onto To's section.
            let (anchor, rest) = RelocContext { ri: pair, ..*self }.rebase(field)?;
            field = rest;
            anchor
        };
        let wide = usize::from(self.ri.r_length == 3);
        let in_here = |s: SymbolId| matches!(self.g.symbols[s].def, Def::Block { block, .. } if block == self.atom.block);
        let addr_of = |s: SymbolId| match self.g.symbols[s].def {
            Def::Block { offset, .. } => {
                self.here.addr.wrapping_add(self.atom.start).wrapping_add(offset) as i64
            }
            _ => 0,
        };
        if in_here(from) {
            // To - From + field = To + (field + P - From) - P
            Ok(self.edge(delta[wide], to, field.wrapping_add(self.place().wrapping_sub(addr_of(from)))))
        } else if in_here(to) {
            // To - From + field = P - From + (field - (P - To))
            Ok(self.edge(neg[wide], from, field.wrapping_sub(self.place().wrapping_sub(addr_of(to)))))
        } else {
            Err((self.at)("SUBTRACTOR whose place is in neither of its symbols' sections".into()))
        }
    }

    /// `<mach-o/x86_64/reloc.h>`.
    fn x86_64(&self, relocs: &mut Relocs<'_>) -> Result<Step, LinkError> {
        use x86_64::EdgeKind as K;
        let ri = self.ri;
        let k = EdgeKind::X86_64;
        match ri.r_type {
            macho::X86_64_RELOC_UNSIGNED => {
                // x86_64 has no section-relative 32-bit pointers.
                self.require(ri.r_length == 3 || ri.r_extern, "malformed UNSIGNED")?;
                self.unsigned([k(K::Abs32), k(K::Abs64)])
            }
            macho::X86_64_RELOC_SIGNED
            | macho::X86_64_RELOC_SIGNED_1
            | macho::X86_64_RELOC_SIGNED_2
            | macho::X86_64_RELOC_SIGNED_4 => {
                self.require(ri.r_pcrel && ri.r_length == 2, "malformed SIGNED")?;
                let imm = match ri.r_type {
                    macho::X86_64_RELOC_SIGNED_1 => 1,
                    macho::X86_64_RELOC_SIGNED_2 => 2,
                    macho::X86_64_RELOC_SIGNED_4 => 4,
                    _ => 0,
                };
                let field = self.value()?;
                if ri.r_extern {
                    // The field already holds the addend minus the immediate bytes.
                    Ok(self.edge(k(K::Pc32), self.symbol(ri.r_symbolnum)?, field - 4))
                } else {
                    let (target, off) =
                        self.rebase(self.place().wrapping_add(4 + imm).wrapping_add(field))?;
                    Ok(self.edge(k(K::Pc32), target, off.wrapping_sub(4 + imm)))
                }
            }
            macho::X86_64_RELOC_BRANCH
            | macho::X86_64_RELOC_GOT_LOAD
            | macho::X86_64_RELOC_GOT
            | macho::X86_64_RELOC_TLV => {
                self.require(
                    ri.r_pcrel && ri.r_extern && ri.r_length == 2,
                    "malformed PC-relative relocation",
                )?;
                let kind = if ri.r_type == macho::X86_64_RELOC_BRANCH { K::Plt32 } else { K::GotPcRel32 };
                Ok(self.edge(k(kind), self.symbol(ri.r_symbolnum)?, self.value()? - 4))
            }
            macho::X86_64_RELOC_SUBTRACTOR => self.subtractor(
                relocs,
                macho::X86_64_RELOC_UNSIGNED,
                [k(K::Pc32), k(K::Pc64)],
                [k(K::NegDelta32), k(K::NegDelta64)],
            ),
            other => Err((self.at)(format!("x86_64 relocation type {other} is not linked"))),
        }
    }

    /// `<mach-o/arm64/reloc.h>`. `addend` comes from a preceding `ARM64_RELOC_ADDEND`, with
    /// the place it was given for.
    fn arm64(&self, relocs: &mut Relocs<'_>, addend: Option<(u32, i64)>) -> Result<Step, LinkError> {
        use aarch64::EdgeKind as K;
        let ri = self.ri;
        let k = EdgeKind::Aarch64;
        let takes_addend = matches!(
            ri.r_type,
            macho::ARM64_RELOC_BRANCH26 | macho::ARM64_RELOC_PAGE21 | macho::ARM64_RELOC_PAGEOFF12
        );
        if addend.is_some() && !takes_addend {
            return Err((self.at)(format!("ARM64_RELOC_ADDEND before relocation type {}", ri.r_type)));
        }
        let a = match addend {
            Some((at, _)) if at != ri.r_address => {
                return Err((self.at)("ARM64_RELOC_ADDEND for another place".into()));
            }
            Some((_, a)) => a,
            None => 0,
        };
        let instruction = |kind: K| -> Result<Step, LinkError> {
            self.require(ri.r_extern && ri.r_length == 2, "malformed instruction relocation")?;
            Ok(self.edge(k(kind), self.symbol(ri.r_symbolnum)?, a))
        };
        match ri.r_type {
            macho::ARM64_RELOC_ADDEND => {
                self.require(!ri.r_pcrel && !ri.r_extern && ri.r_length == 2, "malformed ADDEND")?;
                // r_symbolnum holds a signed 24-bit addend.
                let v = ((ri.r_symbolnum << 8) as i32 >> 8) as i64;
                Ok(Step::Addend(v))
            }
            macho::ARM64_RELOC_UNSIGNED => self.unsigned([k(K::Abs32), k(K::Abs64)]),
            macho::ARM64_RELOC_SUBTRACTOR => self.subtractor(
                relocs,
                macho::ARM64_RELOC_UNSIGNED,
                [k(K::Prel32), k(K::Prel64)],
                [k(K::NegDelta32), k(K::NegDelta64)],
            ),
            macho::ARM64_RELOC_BRANCH26 => instruction(K::Branch26),
            macho::ARM64_RELOC_PAGE21 => instruction(K::Page21 { checked: true }),
            macho::ARM64_RELOC_PAGEOFF12 => {
                let word = u32::from_le_bytes(self.field(4)?.try_into().unwrap_or_default());
                instruction(pageoff_kind(word).ok_or_else(|| {
                    (self.at)(format!("ARM64_RELOC_PAGEOFF12 on instruction {word:#010x}, which is neither ADD nor a load/store"))
                })?)
            }
            macho::ARM64_RELOC_GOT_LOAD_PAGE21 | macho::ARM64_RELOC_TLVP_LOAD_PAGE21 => {
                instruction(K::GotPage21)
            }
            macho::ARM64_RELOC_GOT_LOAD_PAGEOFF12 | macho::ARM64_RELOC_TLVP_LOAD_PAGEOFF12 => {
                instruction(K::GotLo12)
            }
            macho::ARM64_RELOC_POINTER_TO_GOT => {
                self.require(ri.r_extern && ri.r_pcrel && ri.r_length == 2, "malformed POINTER_TO_GOT")?;
                // The field holds a value of the object's own layout, not an addend (as LLVM
                // JITLink reads it).
                Ok(self.edge(k(K::GotPrel32), self.symbol(ri.r_symbolnum)?, 0))
            }
            other => Err((self.at)(format!("arm64 relocation type {other} is not linked"))),
        }
    }
}

/// The edge kind of an `ARM64_RELOC_PAGEOFF12` on `word`: ADD (immediate), or a load/store
/// (unsigned offset) scaled by its access size, read from the instruction as ld64 does.
fn pageoff_kind(word: u32) -> Option<aarch64::EdgeKind> {
    if word & 0x1f00_0000 == 0x1100_0000 {
        return Some(aarch64::EdgeKind::AddLo12);
    }
    if word & 0x3b00_0000 != 0x3900_0000 {
        return None;
    }
    let size = (word >> 30) as u8;
    // SIMD&FP LDR/STR of a Q register: size 00 with opc<1> set.
    let shift = if word & 0x0480_0000 == 0x0480_0000 && size == 0 { 4 } else { size };
    Some(aarch64::EdgeKind::LdStLo12 { shift })
}

/// Drops the atoms in `candidates` (blocks of this input from `first_block` on, each starting
/// with the weak definition of a global that another definition supersedes) that nothing
/// else of the input refers to and that define no other global, as ld64 coalesces weak
/// definitions. The compact unwind's references do not count (an FDE for a dropped function
/// is harmless); a candidate kept because another refers to it keeps what it refers to.
fn drop_superseded(
    g: &mut LinkGraph,
    first_block: BlockId,
    candidates: &[BlockId],
    compact_unwind: Option<BlockId>,
) {
    if candidates.is_empty() {
        return;
    }
    // The superseded global no longer points into its atom; any global that still does keeps
    // the atom.
    let named: HashSet<BlockId> = g
        .globals
        .values()
        .filter_map(|&s| match g.symbols[s].def {
            Def::Block { block, .. } if block >= first_block => Some(block),
            _ => None,
        })
        .collect();
    let mut dropped: HashSet<BlockId> = candidates.iter().copied().filter(|b| !named.contains(b)).collect();
    // Only this input's blocks can name its atoms (by local symbol or anchor); a global that
    // names one is not superseded. Repeat until no kept block refers to a dropped one.
    loop {
        let referenced: HashSet<BlockId> = (first_block..g.blocks.len())
            .filter(|b| g.blocks[*b].live && !dropped.contains(b) && Some(*b) != compact_unwind)
            .flat_map(|b| &g.blocks[b].edges)
            .filter_map(|e| match g.symbols[e.target].def {
                Def::Block { block, .. } => Some(block),
                _ => None,
            })
            .collect();
        let before = dropped.len();
        dropped.retain(|b| !referenced.contains(b));
        if dropped.len() == before {
            break;
        }
    }
    for b in dropped {
        g.blocks[b].live = false;
    }
}

/// In the TLV descriptors of the input whose blocks start at `first_block`, the `offset`
/// word's relocation to a thread-local initial value becomes that value's offset in the
/// unit's TLS block.
fn tlv_offsets(g: &mut LinkGraph, first_block: BlockId) {
    let kind = match g.arch {
        Arch::X86_64 => EdgeKind::X86_64(x86_64::EdgeKind::DtpOff64),
        Arch::Aarch64 => EdgeKind::Aarch64(aarch64::EdgeKind::DtpRel64),
    };
    for b in first_block..g.blocks.len() {
        if g.section_of(b).role != Role::TlvDescriptors {
            continue;
        }
        let tls_targets: Vec<bool> = g.blocks[b].edges.iter().map(|e| g.symbols[e.target].tls).collect();
        for (edge, tls) in g.blocks[b].edges.iter_mut().zip(tls_targets) {
            if tls && edge.offset % 24 == 16 {
                edge.kind = kind;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atoms_hold_every_offset_up_to_the_section_end() {
        let atom = |start, block| Atom { start, block, anchor: block };
        let l = Loaded { addr: 0x100, size: 0x30, atoms: vec![atom(0, 0), atom(0x10, 1)] };
        let block_at = |off| l.atom_at(off).map(|a| a.block);
        assert_eq!(block_at(0), Some(0));
        assert_eq!(block_at(0xf), Some(0));
        assert_eq!(block_at(0x10), Some(1));
        assert_eq!(block_at(0x30), Some(1), "the end of the section belongs to the last atom");
        assert_eq!(block_at(0x31), None);
    }

    #[test]
    fn pageoff12_reads_the_access_size_from_the_instruction() {
        use aarch64::EdgeKind as K;
        // add x0, x0, #0 / ldrb w0, [x0] / ldr w0, [x0] / ldr x0, [x0] / ldr q0, [x0] / ldr d0, [x0]
        assert_eq!(pageoff_kind(0x9100_0000), Some(K::AddLo12));
        assert_eq!(pageoff_kind(0x3940_0000), Some(K::LdStLo12 { shift: 0 }));
        assert_eq!(pageoff_kind(0xb940_0000), Some(K::LdStLo12 { shift: 2 }));
        assert_eq!(pageoff_kind(0xf940_0000), Some(K::LdStLo12 { shift: 3 }));
        assert_eq!(pageoff_kind(0x3dc0_0000), Some(K::LdStLo12 { shift: 4 }));
        assert_eq!(pageoff_kind(0xfd40_0000), Some(K::LdStLo12 { shift: 3 }));
        // b #0 is neither
        assert_eq!(pageoff_kind(0x1400_0000), None);
    }
}
