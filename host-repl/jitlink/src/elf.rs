//! The ELF graph builder: relocatable objects (x86-64, AArch64) into the link graph.
//!
//! Loads the allocated sections (one block each), classifies them (code, data, zero-fill, thread-local,
//! `.eh_frame`, initializer and finalizer arrays), merges global symbols by name with the usual
//! static-linking rules (strong over common over weak), drops duplicate COMDAT groups, and turns
//! relocations into the architecture's edge kinds. Non-allocated sections (debug info, notes, `.comment`) are skipped.

use std::collections::{HashMap, HashSet};

use object::elf::{SHF_ALLOC, SHF_EXECINSTR, SHF_TLS, SHF_WRITE};
use object::{
    Object, ObjectComdat, ObjectSection, ObjectSymbol, RelocationFlags, RelocationTarget, SymbolKind,
    SymbolSection,
};

use crate::LinkError;
use crate::graph::{Block, Def, Edge, LinkGraph, Role, Section, SegmentKind, Symbol, SymbolId};

/// Adds the object `data` named `name` to `g`. COMDAT groups whose signature is in `g.comdats`
/// or `earlier_comdats` (groups kept by earlier links of the session) are discarded.
///
/// # Errors
/// Unreadable objects, other formats, objects for an architecture other than `g.arch`,
/// duplicate strong definitions, and relocations that are unsupported or point outside their
/// section.
pub fn add_object(
    g: &mut LinkGraph,
    name: &str,
    data: &[u8],
    earlier_comdats: &HashSet<String>,
) -> Result<(), LinkError> {
    let bad = |message: String| LinkError::BadInput { input: name.to_owned(), message };
    let file = object::File::parse(data).map_err(|e| bad(format!("not an object file: {e}")))?;
    if file.format() != object::BinaryFormat::Elf || file.kind() != object::ObjectKind::Relocatable {
        return Err(bad(format!(
            "expected an ELF relocatable object, found {:?} {:?}",
            file.format(),
            file.kind()
        )));
    }
    let input = g.add_input(name, file.architecture())?;

    let mut discard = HashSet::new();
    for comdat in file.comdats() {
        let sig = comdat.name().map_err(|e| bad(e.to_string()))?.to_owned();
        if g.comdats.contains(&sig) || earlier_comdats.contains(&sig) {
            discard.extend(comdat.sections().map(|s| s.0));
        } else {
            g.comdats.insert(sig);
        }
    }

    // ELF section index → the block holding it.
    let mut blocks = HashMap::new();
    for sec in file.sections() {
        let object::SectionFlags::Elf { sh_flags, .. } = sec.flags() else { continue };
        if !sh_flags.contains(SHF_ALLOC) {
            continue;
        }
        let sec_name = sec.name().map_err(|e| bad(e.to_string()))?.to_owned();
        let nobits = matches!(
            sec.kind(),
            object::SectionKind::UninitializedData | object::SectionKind::UninitializedTls
        );
        let data = if nobits {
            None
        } else {
            Some(sec.data().map_err(|e| bad(format!("{sec_name}: {e}")))?.to_vec())
        };
        let segment = if sh_flags.contains(SHF_EXECINSTR) {
            SegmentKind::RX
        } else if sh_flags.contains(SHF_WRITE) {
            SegmentKind::RW
        } else {
            SegmentKind::R
        };
        let role = if sh_flags.contains(SHF_TLS) { Role::Tls } else { role_of(&sec_name) };
        g.sections.push(Section { name: sec_name, input, segment, role });
        let block = g.add_block(Block {
            section: g.sections.len() - 1,
            align: sec.align().max(1),
            size: sec.size(),
            data,
            edges: Vec::new(),
            live: !discard.contains(&sec.index().0),
            addr: 0,
        });
        blocks.insert(sec.index().0, block);
    }

    let mut symbols: HashMap<usize, SymbolId> = HashMap::new();
    for sym in file.symbols() {
        if sym.kind() == SymbolKind::File {
            continue;
        }
        let sym_name = sym.name().map_err(|e| bad(e.to_string()))?;
        let def = match sym.section() {
            SymbolSection::Section(i) => match blocks.get(&i.0) {
                Some(&block) => Def::Block { block, offset: sym.address() },
                // A symbol in a section we do not load (debug info).
                None => Def::Absolute(0),
            },
            SymbolSection::Absolute => Def::Absolute(sym.address()),
            SymbolSection::Common => Def::Common { size: sym.size(), align: sym.address().max(1) },
            _ => Def::Undefined,
        };
        let tls = sym.kind() == SymbolKind::Tls;
        if sym.is_local() || sym.kind() == SymbolKind::Section {
            symbols.insert(sym.index().0, g.symbols.len());
            g.symbols.push(Symbol {
                name: sym_name.to_owned(),
                global: false,
                weak: false,
                def,
                input,
                size: sym.size(),
                tls,
            });
            continue;
        }
        let in_discarded = matches!(def, Def::Block { block, .. } if !g.blocks[block].live);
        let def = if in_discarded { Def::Undefined } else { def };
        let new = Symbol {
            name: sym_name.to_owned(),
            global: true,
            weak: sym.is_weak(),
            def,
            input,
            size: sym.size(),
            tls,
        };
        symbols.insert(sym.index().0, g.add_global(new)?);
    }

    for sec in file.sections() {
        let Some(&bid) = blocks.get(&sec.index().0) else { continue };
        if !g.blocks[bid].live {
            continue;
        }
        let section_name = |g: &LinkGraph| g.section_of(bid).name.clone();
        for (offset, rel) in sec.relocations() {
            let RelocationFlags::Elf { r_type } = rel.flags() else {
                return Err(bad("relocation without ELF type".into()));
            };
            let kind = match g.arch.edge_from_elf(r_type) {
                Ok(Some(kind)) => kind,
                Ok(None) => continue,
                Err(u) => {
                    return Err(LinkError::UnsupportedRelocation {
                        input: name.to_owned(),
                        section: section_name(g),
                        offset,
                        detail: u.to_string(),
                    });
                }
            };
            let RelocationTarget::Symbol(si) = rel.target() else {
                return Err(bad(format!("relocation at {:#x} in {} has no symbol", offset, section_name(g))));
            };
            let target = *symbols
                .get(&si.0)
                .ok_or_else(|| bad(format!("relocation against unknown symbol {}", si.0)))?;
            let b = &g.blocks[bid];
            if b.data.is_none() || offset.checked_add(kind.width() as u64).is_none_or(|end| end > b.size) {
                return Err(bad(format!(
                    "relocation at {offset:#x} lies outside section {}",
                    section_name(g)
                )));
            }
            g.blocks[bid].edges.push(Edge { offset, kind, target, addend: rel.addend() });
        }
    }
    Ok(())
}

/// Classifies special sections by name (System V gABI: `.init_array`/`.fini_array` with
/// optional `.PRIORITY` suffixes; `.ctors`/`.dtors` whose suffix is 65535 - priority).
fn role_of(name: &str) -> Role {
    let prio = |suffix: &str| suffix.strip_prefix('.').and_then(|p| p.parse::<u32>().ok());
    if name == ".eh_frame" {
        Role::EhFrame
    } else if let Some(rest) = name.strip_prefix(".init_array") {
        Role::Init { priority: prio(rest).unwrap_or(65535), reverse: false }
    } else if name.starts_with(".preinit_array") {
        Role::Init { priority: 0, reverse: false }
    } else if let Some(rest) = name.strip_prefix(".ctors") {
        Role::Init { priority: prio(rest).map_or(65535, |p| 65535 - p.min(65535)), reverse: true }
    } else if let Some(rest) = name.strip_prefix(".fini_array") {
        Role::Fini { priority: prio(rest).unwrap_or(65535), reverse: false }
    } else if let Some(rest) = name.strip_prefix(".dtors") {
        Role::Fini { priority: prio(rest).map_or(65535, |p| 65535 - p.min(65535)), reverse: true }
    } else {
        Role::Normal
    }
}
