//! The layout pass and the two-phase link: [`LinkPlan::new`] runs the passes that need no
//! executor (commons, tables, layout), [`LinkPlan::finish`] the ones that need addresses
//! (fix-ups, segment images, initializers, exports).

use crate::fixup::Resolver;
use crate::graph::{Block, BlockId, Def, LinkGraph, Role, Section, SegmentKind, SymbolId};
use crate::tables::{self, GotKey, Tables};
use crate::{DylibSymbol, JitDylib, LinkError, LinkOptions};

/// Size of libgcc's `struct __emutls_object` on 64-bit targets: size, align, offset/ptr,
/// template (libgcc `emutls.c`).
const EMUTLS_OBJECT_SIZE: u64 = 32;
const SEGMENTS: [SegmentKind; 3] = [SegmentKind::R, SegmentKind::RW, SegmentKind::RX];

/// A position inside one of the three segments.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Place {
    seg: usize,
    off: u64,
}

#[derive(Debug)]
struct TlsPlan {
    size: u64,
    align: u64,
    template: Place,
    object: Place,
    /// `.tdata`/`.tbss` blocks with their offsets in the TLS block (in `Block::addr`).
    blocks: Vec<BlockId>,
}

/// A link whose inputs are read and laid out, waiting for executor addresses.
#[derive(Debug)]
pub struct LinkPlan {
    pub(crate) g: LinkGraph,
    unit: u64,
    page: u64,
    pub(crate) tables: Tables,
    got_place: Option<Place>,
    stubs_place: Place,
    tls: Option<TlsPlan>,
    /// Redefinitions: this link's redefinable definitions that earlier units have rebind
    /// entries for, with those entries' addresses.
    redefines: Vec<(SymbolId, Vec<u64>)>,
    kept: Vec<String>,
    older: Vec<String>,
    /// See [`LinkedUnit::kept_data`].
    pub(crate) kept_data: Vec<String>,
    eh_frame: Vec<(BlockId, Place)>,
    eh_end: Option<Place>,
    placed: Vec<(BlockId, Place)>,
    /// Content bytes per segment (beyond: zero-fill) and total size per segment.
    seg_data: [u64; 3],
    seg_size: [u64; 3],
}

/// One segment of a linked unit, ready for the executor's initialize request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkedSegment {
    /// Protections.
    pub kind: SegmentKind,
    /// Executor address (page-aligned).
    pub addr: u64,
    /// Size in bytes (whole pages); bytes past `content` are zero.
    pub size: u64,
    /// Initial bytes.
    pub content: Vec<u8>,
}

/// Counters for `-v` and benchmarks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LinkStats {
    /// Blocks placed.
    pub sections: usize,
    /// Relocations applied.
    pub relocations: usize,
    /// GOT slots.
    pub got_slots: usize,
    /// Jump stubs.
    pub stubs: usize,
}

/// The result of a link: everything the executor needs, plus what the session records.
#[derive(Debug, Clone)]
pub struct LinkedUnit {
    /// Unit number in the session.
    pub id: u64,
    /// Segments (empty if the unit has no content, e.g. only declarations).
    pub segments: Vec<LinkedSegment>,
    /// `[start, end)` of the `.eh_frame` image (terminator included), to register.
    pub eh_frame: Option<(u64, u64)>,
    /// Initializers in the order they must run.
    pub initializers: Vec<u64>,
    /// Finalizers in registration order (run in reverse at exit).
    pub finalizers: Vec<u64>,
    /// Global definitions, for the session's [`JitDylib`].
    pub symbols: Vec<(String, DylibSymbol)>,
    /// COMDAT groups this unit kept.
    pub comdats: Vec<String>,
    /// This unit's rebind entries ([`crate::LinkOptions::redefinable`]): the GOT entries
    /// (addresses, 8 bytes each) that hold a redefinable name's address, by name.
    pub rebind_entries: Vec<(String, u64)>,
    /// The stores that point earlier units' rebind entries at this unit's definitions of
    /// names they define again: to carry out when the unit is loaded, before its code runs.
    pub rebinds: Vec<crate::Rebind>,
    /// Names whose earlier rebind entries keep their definitions while this unit is loaded
    /// ([`LinkPlan::keep_bindings`]).
    pub kept: Vec<String>,
    /// Names this unit defines that are older than the session's definitions in effect
    /// ([`LinkPlan::older_definitions`]): they do not take over.
    pub older: Vec<String>,
    /// Variables the link found defined in the session already and used instead of
    /// defining them again ([`crate::LinkOptions::keep_data`]), sorted.
    pub kept_data: Vec<String>,
    /// The writable data sections it placed, for later versions of its inputs to keep
    /// ([`crate::LinkOptions::keep_data`]).
    pub data_sections: Vec<crate::DataSection>,
    /// Counters.
    pub stats: LinkStats,
}

impl LinkedUnit {
    /// Address of global `name` defined by this unit.
    pub fn symbol(&self, name: &str) -> Option<u64> {
        self.symbols.iter().find(|(n, _)| n == name).map(|(_, s)| s.addr)
    }

    /// Total bytes of segment content that travel to the executor.
    pub fn content_bytes(&self) -> usize {
        self.segments.iter().map(|s| s.content.len()).sum()
    }

    /// `[start, end)` spanning all of the unit's segments (one block of executor memory,
    /// shared with no other unit), if it has any.
    pub fn span(&self) -> Option<(u64, u64)> {
        let start = self.segments.iter().map(|s| s.addr).min()?;
        Some((start, self.segments.iter().map(|s| s.addr + s.size).max()?))
    }
}

fn align_up(v: u64, a: u64) -> u64 {
    v.div_ceil(a.max(1)) * a.max(1)
}

struct Cursor([u64; 3]);

impl Cursor {
    fn place(&mut self, seg: usize, size: u64, align: u64) -> Place {
        let off = align_up(self.0[seg], align);
        self.0[seg] = off + size;
        Place { seg, off }
    }
}

fn seg_index(k: SegmentKind) -> usize {
    SEGMENTS.iter().position(|&s| s == k).unwrap_or(0)
}

impl LinkPlan {
    pub(crate) fn new(
        mut g: LinkGraph,
        dylib: &JitDylib,
        unit: u64,
        opts: LinkOptions,
    ) -> Result<LinkPlan, LinkError> {
        allocate_commons(&mut g);
        let tables = tables::build(&mut g, dylib);

        // TLS block: .tdata first (its bytes form the template), then .tbss.
        let role = |g: &LinkGraph, b: BlockId| g.section_of(b).role;
        let mut tls_blocks: Vec<BlockId> =
            (0..g.blocks.len()).filter(|&b| g.blocks[b].live && role(&g, b) == Role::Tls).collect();
        tls_blocks.sort_by_key(|&b| g.blocks[b].data.is_none());
        let mut tls_size = 0u64;
        let mut tls_align = 1u64;
        for &b in &tls_blocks {
            let b = &mut g.blocks[b];
            tls_align = tls_align.max(b.align);
            b.addr = align_up(tls_size, b.align);
            tls_size = b.addr + b.size;
        }
        let needs_tls = !tls_blocks.is_empty() || tables.got_slot.contains_key(&GotKey::TlsLd);
        let has_tlv = g.blocks.iter().any(|b| b.live && g.sections[b.section].role == Role::TlvDescriptors);
        let needs_tls = needs_tls || has_tlv;

        // Layout: contents first in each segment, synthesized parts after, zero-fill last.
        let mut cur = Cursor([0; 3]);
        let mut placed = Vec::new();
        let normal = |g: &LinkGraph, b: BlockId, zero: bool| {
            g.blocks[b].live
                && matches!(role(g, b), Role::Normal | Role::TlvDescriptors)
                && g.blocks[b].data.is_none() == zero
        };
        for b in (0..g.blocks.len()).filter(|&b| normal(&g, b, false)) {
            let blk = &g.blocks[b];
            placed.push((b, cur.place(seg_index(g.section_of(b).segment), blk.size, blk.align)));
        }
        // Rebind entries are rewritten after the load: then the whole GOT is writable data.
        let got_seg = if tables.rebind.is_empty() { 0 } else { 1 };
        let got_place =
            (tables.slots > 0 || tables.need_got_base).then(|| cur.place(got_seg, tables.slots * 8, 8));
        let mut tls = None;
        if needs_tls {
            let template = cur.place(0, tls_size, tls_align);
            let object = cur.place(1, EMUTLS_OBJECT_SIZE, 8);
            tls = Some(TlsPlan { size: tls_size, align: tls_align, template, object, blocks: tls_blocks });
        }
        let mut eh_frame = Vec::new();
        for b in 0..g.blocks.len() {
            let blk = &g.blocks[b];
            if blk.live && role(&g, b) == Role::EhFrame && blk.data.is_some() {
                // Packed with 4-byte alignment: padding would read as a terminator.
                eh_frame.push((b, cur.place(0, blk.size, if eh_frame.is_empty() { 8 } else { 4 })));
            }
        }
        let eh_end = (!eh_frame.is_empty()).then(|| cur.place(0, 4, 4));
        let stubs_place = cur.place(2, tables.stubs.len() as u64 * g.arch.stub_size(), 16);
        let seg_data = cur.0;
        for b in (0..g.blocks.len()).filter(|&b| normal(&g, b, true)) {
            let blk = &g.blocks[b];
            placed.push((b, cur.place(seg_index(g.section_of(b).segment), blk.size, blk.align)));
        }
        if let Some(&(b, _)) = placed.iter().find(|&&(b, _)| g.blocks[b].align > opts.page_size) {
            return Err(LinkError::AlignmentAbovePageSize {
                input: g.input_of(b).to_owned(),
                section: g.section_of(b).name.clone(),
                align: g.blocks[b].align,
                page_size: opts.page_size,
            });
        }
        let redefines = g
            .globals
            .values()
            .filter(|&&s| g.is_redefinable(s))
            .filter_map(|&s| {
                let entries: Vec<u64> = dylib.entries(&g.symbols[s].name).collect();
                (!entries.is_empty()).then_some((s, entries))
            })
            .collect();
        Ok(LinkPlan {
            redefines,
            kept: Vec::new(),
            older: Vec::new(),
            kept_data: Vec::new(),
            g,
            unit,
            page: opts.page_size,
            tables,
            got_place,
            stubs_place,
            tls,
            eh_frame,
            eh_end,
            placed,
            seg_data,
            seg_size: cur.0,
        })
    }

    /// True if the code has 32-bit absolute references (`R_X86_64_32`/`32S`, code built
    /// without `-fPIC`) to its own or the session's symbols, so its memory must lie in the
    /// low 2 GiB of the executor's address space.
    pub fn needs_low_memory(&self) -> bool {
        self.g.blocks.iter().filter(|b| b.live).flat_map(|b| &b.edges).any(|e| {
            e.kind.needs_low_address()
                && (self.g.is_defined(e.target)
                    || self.tables.dylib.contains_key(&self.g.symbols[e.target].name))
        })
    }

    /// Lets the code linked before keep its definitions of `names` while this unit is loaded,
    /// though the unit defines them again: for a redefinition with another type or kind,
    /// which that code was not compiled for. Their rebind entries are set aside when the
    /// unit is added to the session and taken back, pointing at the definitions in effect
    /// then, when it is removed.
    pub fn keep_bindings(&mut self, names: &[String]) {
        let ids: Vec<SymbolId> = names.iter().filter_map(|n| self.g.globals.get(n).copied()).collect();
        self.redefines.retain(|(s, _)| !ids.contains(s));
        self.kept = names.to_vec();
    }

    /// Marks the definitions made by the link's objects number `objects` (in input order, not
    /// counting archives) of names the session defines already as older than those: they do
    /// not take over (no rebinds; the session's definition stays in effect, and theirs comes
    /// after it when that one is removed). For definitions held back and linked later (a
    /// REPL's deferred inputs), made before the definitions in effect.
    pub fn older_definitions(&mut self, objects: std::ops::Range<usize>, dylib: &JitDylib) {
        let older: Vec<SymbolId> = self
            .g
            .globals
            .values()
            .copied()
            .filter(|&s| {
                objects.contains(&self.g.symbols[s].input)
                    && self.g.is_redefinable(s)
                    && dylib.lookup(&self.g.symbols[s].name).is_some()
            })
            .collect();
        self.redefines.retain(|(s, _)| !older.contains(s));
        self.older.extend(older.iter().map(|&s| self.g.symbols[s].name.clone()));
    }

    /// Names to look up in the executor process (not defined in this link or earlier ones).
    pub fn externals(&self) -> &[String] {
        &self.tables.externals
    }

    /// Bytes of executor memory the unit needs (whole pages per segment); 0 if it has no
    /// content.
    pub fn size(&self) -> u64 {
        self.seg_size.iter().map(|&s| align_up(s, self.page)).sum()
    }

    /// Assigns addresses from `base` (page-aligned, [`size`](Self::size) bytes reserved), takes
    /// executor symbol addresses from `resolve` (`None`: not found), applies relocations and
    /// builds the segment images.
    ///
    /// # Errors
    /// Undefined symbols, fix-up values out of range, references into discarded
    /// sections, thread-locals defined outside JIT'd code.
    pub fn finish(
        mut self,
        base: u64,
        resolve: &dyn Fn(&str) -> Option<u64>,
    ) -> Result<LinkedUnit, LinkError> {
        let mut seg_base = [0u64; 3];
        let mut at = base;
        for (b, size) in seg_base.iter_mut().zip(self.seg_size) {
            *b = at;
            at += align_up(size, self.page);
        }
        let addr = |p: Place| seg_base[p.seg] + p.off;
        for &(b, p) in self.placed.iter().chain(&self.eh_frame) {
            self.g.blocks[b].addr = addr(p);
        }
        let got_base = self.got_place.map(addr).unwrap_or(0);
        let tls_object = self.tls.as_ref().map(|t| addr(t.object));

        // Resolve every symbol an edge or GOT slot needs, and apply fix-ups to the block bytes
        // (taken out so the resolver can read the plan meanwhile).
        let mut datas: Vec<Option<Vec<u8>>> = self.g.blocks.iter_mut().map(|b| b.data.take()).collect();
        let (got_image, stub_image, relocations) = {
            let ctx =
                Resolver { plan: &self, resolve, got_base, tls_object, stub_base: addr(self.stubs_place) };
            let mut got_image = vec![0u8; self.tables.slots as usize * 8];
            for &(key, slot) in &self.tables.got {
                let values = match key {
                    GotKey::Addr(t) => [ctx.symbol(t, None)?.unwrap_or(0), 0],
                    GotKey::TlsGd(t) => {
                        let (obj, off) = ctx.tls(t)?;
                        [obj, off]
                    }
                    GotKey::TlsLd => [tls_object.unwrap_or(0), 0],
                    GotKey::TlsDesc(t) => {
                        let resolver = match self.tables.tlsdesc_resolver {
                            Some(r) => ctx.symbol(r, None)?.unwrap_or(0),
                            None => 0,
                        };
                        [resolver, got_base + self.tables.slot(GotKey::TlsGd(t)) * 8]
                    }
                };
                for (i, v) in values.iter().take(key.slots() as usize).enumerate() {
                    let o = (slot as usize + i) * 8;
                    got_image[o..o + 8].copy_from_slice(&v.to_le_bytes());
                }
            }
            let arch = self.g.arch;
            let mut stub_image = Vec::with_capacity(self.tables.stubs.len() * arch.stub_size() as usize);
            for (i, &t) in self.tables.stubs.iter().enumerate() {
                let stub = ctx.stub_base + i as u64 * arch.stub_size();
                let entry = got_base + self.tables.slot(GotKey::Addr(t)) * 8;
                let code = arch.stub(stub, entry).map_err(|_| LinkError::GotOutOfReach { stub, entry })?;
                stub_image.extend(code);
            }
            let mut relocations = 0;
            for (b, data) in datas.iter_mut().enumerate() {
                let blk = &self.g.blocks[b];
                if blk.live && !blk.edges.is_empty() {
                    relocations += ctx.apply(b, data.as_deref_mut().unwrap_or_default())?;
                }
            }
            (got_image, stub_image, relocations)
        };
        for (b, d) in self.g.blocks.iter_mut().zip(datas) {
            b.data = d;
        }
        self.fill_tlv_keys(tls_object.unwrap_or(0));

        // Segment images.
        let mut images: [Vec<u8>; 3] = [0, 1, 2].map(|i| vec![0u8; self.seg_data[i] as usize]);
        let mut put = |p: Place, bytes: &[u8]| {
            images[p.seg][p.off as usize..p.off as usize + bytes.len()].copy_from_slice(bytes);
        };
        for &(b, p) in self.placed.iter().chain(&self.eh_frame) {
            if let Some(d) = &self.g.blocks[b].data {
                put(p, d);
            }
        }
        if let Some(p) = self.got_place {
            put(p, &got_image);
        }
        put(self.stubs_place, &stub_image);
        if let Some(t) = &self.tls {
            let mut template = vec![0u8; t.size as usize];
            for &b in &t.blocks {
                let b = &self.g.blocks[b];
                if let Some(d) = &b.data {
                    template[b.addr as usize..b.addr as usize + d.len()].copy_from_slice(d);
                }
            }
            put(t.template, &template);
            let mut obj = Vec::with_capacity(EMUTLS_OBJECT_SIZE as usize);
            for v in [t.size, t.align, 0, addr(t.template)] {
                obj.extend_from_slice(&v.to_le_bytes());
            }
            put(t.object, &obj);
        }
        let segments: Vec<LinkedSegment> = (0..3)
            .filter(|&i| self.seg_size[i] > 0)
            .map(|i| LinkedSegment {
                kind: SEGMENTS[i],
                addr: seg_base[i],
                size: align_up(self.seg_size[i], self.page),
                content: std::mem::take(&mut images[i]),
            })
            .collect();

        let (initializers, finalizers) = self.init_fini();
        let symbols = self.exports(tls_object);
        let rebind_entries = self
            .tables
            .rebind
            .iter()
            .map(|&s| (self.g.symbols[s].name.clone(), got_base + self.tables.slot(GotKey::Addr(s)) * 8))
            .collect();
        let mut rebinds = Vec::new();
        for (s, entries) in &self.redefines {
            if let Def::Block { block, offset } = self.g.symbols[*s].def {
                let addr = self.g.blocks[block].addr + offset;
                rebinds.extend(entries.iter().map(|&e| (e, addr)));
            }
        }
        Ok(LinkedUnit {
            id: self.unit,
            segments,
            eh_frame: self.eh_frame.first().zip(self.eh_end).map(|(&(_, s), e)| (addr(s), addr(e) + 4)),
            initializers,
            finalizers,
            symbols,
            comdats: self.g.comdats.iter().cloned().collect(),
            rebind_entries,
            rebinds,
            kept: self.kept.clone(),
            older: self.older.clone(),
            kept_data: self.kept_data.clone(),
            data_sections: self
                .g
                .data_sections()
                .into_iter()
                .map(|(b, d)| crate::DataSection { addr: self.g.blocks[b].addr, ..d })
                .collect(),
            stats: LinkStats {
                sections: self.placed.len() + self.eh_frame.len(),
                relocations,
                got_slots: self.tables.slots as usize,
                stubs: self.tables.stubs.len(),
            },
        })
    }

    /// Writes the unit's emutls control object into the `key` word of each Mach-O TLV
    /// descriptor (`{thunk, key, offset}`, 24 bytes each).
    fn fill_tlv_keys(&mut self, tls_object: u64) {
        for b in 0..self.g.blocks.len() {
            if self.g.section_of(b).role != Role::TlvDescriptors {
                continue;
            }
            if let Some(d) = self.g.blocks[b].data.as_mut() {
                for desc in d.chunks_exact_mut(24) {
                    desc[8..16].copy_from_slice(&tls_object.to_le_bytes());
                }
            }
        }
    }

    /// Initializer and finalizer addresses in execution (resp. registration) order.
    fn init_fini(&self) -> (Vec<u64>, Vec<u64>) {
        let mut inits = Vec::new();
        let mut finis = Vec::new();
        for (b, blk) in self.g.blocks.iter().enumerate().filter(|(_, blk)| blk.live) {
            match self.g.sections[blk.section].role {
                Role::Init { priority, reverse } => inits.push((priority, b, reverse)),
                Role::Fini { priority, reverse } => finis.push((priority, b, reverse)),
                _ => {}
            }
        }
        let read = |list: &mut Vec<(u32, BlockId, bool)>| -> Vec<u64> {
            list.sort();
            let mut out = Vec::new();
            for &(_, b, reverse) in list.iter() {
                let d = self.g.blocks[b].data.as_deref().unwrap_or_default();
                let mut ptrs: Vec<u64> =
                    d.chunks_exact(8).map(|c| u64::from_le_bytes(c.try_into().unwrap_or_default())).collect();
                if reverse {
                    ptrs.reverse();
                }
                // Entries of -1 or 0 are markers in .ctors/.dtors, not functions.
                out.extend(ptrs.into_iter().filter(|&p| p != 0 && p != u64::MAX));
            }
            out
        };
        (read(&mut inits), read(&mut finis))
    }

    /// Global definitions of this unit for the session's symbol table.
    fn exports(&self, tls_object: Option<u64>) -> Vec<(String, DylibSymbol)> {
        self.g
            .globals
            .iter()
            .filter_map(|(name, &id)| {
                let s = &self.g.symbols[id];
                let Def::Block { block, offset } = s.def else {
                    return match s.def {
                        Def::Absolute(v) => Some((
                            name.clone(),
                            DylibSymbol {
                                addr: v,
                                weak: s.weak,
                                tls: None,
                                unit: self.unit,
                                redefinable: false,
                            },
                        )),
                        _ => None,
                    };
                };
                let blk = &self.g.blocks[block];
                let role = self.g.sections[blk.section].role;
                if !blk.live || !matches!(role, Role::Normal | Role::Tls | Role::TlvDescriptors) {
                    return None;
                }
                let tls = (role == Role::Tls).then(|| (tls_object.unwrap_or(0), blk.addr + offset));
                let a = if tls.is_some() { 0 } else { blk.addr + offset };
                let redefinable = self.g.is_redefinable(id);
                Some((name.clone(), DylibSymbol { addr: a, weak: s.weak, tls, unit: self.unit, redefinable }))
            })
            .collect()
    }
}

/// Turns common symbols into zero-fill blocks of their own.
fn allocate_commons(g: &mut LinkGraph) {
    for id in 0..g.symbols.len() {
        if let Def::Common { size, align } = g.symbols[id].def {
            g.sections.push(Section {
                name: format!("COMMON({})", g.symbols[id].name),
                input: g.symbols[id].input,
                segment: SegmentKind::RW,
                role: Role::Normal,
            });
            let block = g.add_block(Block {
                section: g.sections.len() - 1,
                align,
                size,
                data: None,
                edges: Vec::new(),
                live: true,
                addr: 0,
            });
            g.symbols[id].def = Def::Block { block, offset: 0 };
        }
    }
}
