//! Planning a link (externals, GOT, stubs, TLS, segment layout) and finishing it (addresses,
//! relocations, segment images).

use std::collections::HashMap;

use super::graph::{Def, Graph, Role, Section, SectionId, SegmentKind, SymbolId};
use super::{DylibSymbol, JitDylib, LinkError, LinkOptions};
use crate::arch::x86_64::{self as arch, Reloc};

/// The symbol that names the GOT base in large-model and GOT-relative code.
const GOT_SYMBOL: &str = "_GLOBAL_OFFSET_TABLE_";
/// Size of libgcc's `struct __emutls_object` on 64-bit targets: size, align, offset/ptr,
/// template (libgcc `emutls.c`).
const EMUTLS_OBJECT_SIZE: u64 = 32;
const SEGMENTS: [SegmentKind; 3] = [SegmentKind::R, SegmentKind::RW, SegmentKind::RX];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum GotKey {
    /// One slot: the target's address.
    Addr(SymbolId),
    /// Two slots: general-dynamic TLS pair for the target.
    TlsGd(SymbolId),
    /// Two slots: local-dynamic pair for this unit's block.
    TlsLd,
}

impl GotKey {
    fn slots(self) -> u64 {
        if matches!(self, GotKey::Addr(_)) { 1 } else { 2 }
    }
}

/// A position inside one of the three segments.
#[derive(Debug, Clone, Copy, Default)]
struct Place {
    seg: usize,
    off: u64,
}

#[derive(Debug)]
struct TlsPlan {
    size: u64,
    align: u64,
    template: Place,
    object: Place,
    /// `.tdata`/`.tbss` sections with their offsets in the block (in `Section::addr`).
    sections: Vec<SectionId>,
}

/// A link whose inputs are read and laid out, waiting for executor addresses.
#[derive(Debug)]
pub struct LinkPlan {
    g: Graph,
    unit: u64,
    page: u64,
    /// The earlier-unit definitions this link refers to.
    dylib: HashMap<String, DylibSymbol>,
    externals: Vec<String>,
    got: Vec<(GotKey, u64)>,
    got_slot: HashMap<GotKey, u64>,
    got_place: Option<Place>,
    stubs: Vec<SymbolId>,
    stub_of: HashMap<SymbolId, u64>,
    stubs_place: Place,
    tls: Option<TlsPlan>,
    eh_frame: Vec<(SectionId, Place)>,
    eh_end: Option<Place>,
    placed: Vec<(SectionId, Place)>,
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
    /// Sections placed.
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
    pub(super) fn new(
        mut g: Graph,
        dylib: &JitDylib,
        unit: u64,
        opts: LinkOptions,
    ) -> Result<LinkPlan, LinkError> {
        allocate_commons(&mut g);
        let live_edges: Vec<(SectionId, usize)> = g
            .sections
            .iter()
            .enumerate()
            .filter(|(_, s)| s.live)
            .flat_map(|(i, s)| (0..s.edges.len()).map(move |e| (i, e)))
            .collect();

        // What each relocation needs: earlier units' symbols, executor symbols, GOT, stubs.
        let mut used_dylib = HashMap::new();
        let mut externals = Vec::new();
        let mut got: Vec<(GotKey, u64)> = Vec::new();
        let mut got_slot = HashMap::new();
        let mut slots = 0u64;
        let mut need_got_base = false;
        let mut stubs = Vec::new();
        let mut stub_of = HashMap::new();
        let mut add_got = |key: GotKey, got: &mut Vec<(GotKey, u64)>| {
            got_slot.entry(key).or_insert_with(|| {
                got.push((key, slots));
                slots += key.slots();
                slots - key.slots()
            });
        };
        for &(sid, e) in &live_edges {
            let edge = g.sections[sid].edges[e];
            let t = edge.target;
            let local = g.is_defined(t);
            if !local && g.symbols[t].global {
                let name = &g.symbols[t].name;
                if let Some(d) = dylib.lookup(name) {
                    used_dylib.insert(name.clone(), *d);
                } else if name != GOT_SYMBOL && !externals.contains(name) {
                    externals.push(name.clone());
                }
                if name == GOT_SYMBOL {
                    need_got_base = true;
                }
            }
            match edge.kind {
                k if k.needs_got() => add_got(GotKey::Addr(t), &mut got),
                Reloc::TlsGd => add_got(GotKey::TlsGd(t), &mut got),
                Reloc::TlsLd => add_got(GotKey::TlsLd, &mut got),
                Reloc::Plt32 | Reloc::PltOff64 if !local => {
                    add_got(GotKey::Addr(t), &mut got);
                    stub_of.entry(t).or_insert_with(|| {
                        stubs.push(t);
                        stubs.len() as u64 - 1
                    });
                }
                _ => {}
            }
            need_got_base |= edge.kind.needs_got_base();
        }

        // TLS block: .tdata first (its bytes form the template), then .tbss.
        let mut tls_secs: Vec<SectionId> = g
            .sections
            .iter()
            .enumerate()
            .filter(|(_, s)| s.live && s.role == Role::Tls)
            .map(|(i, _)| i)
            .collect();
        tls_secs.sort_by_key(|&i| g.sections[i].data.is_none());
        let mut tls_size = 0u64;
        let mut tls_align = 1u64;
        for &i in &tls_secs {
            let s = &mut g.sections[i];
            tls_align = tls_align.max(s.align);
            s.addr = align_up(tls_size, s.align);
            tls_size = s.addr + s.size;
        }
        let needs_tls = !tls_secs.is_empty() || got.iter().any(|(k, _)| matches!(k, GotKey::TlsLd));

        // Layout: contents first in each segment, synthesized parts after, zero-fill last.
        let mut cur = Cursor([0; 3]);
        let mut placed = Vec::new();
        for (i, s) in g.sections.iter().enumerate() {
            if s.live && s.role == Role::Normal && s.data.is_some() {
                placed.push((i, cur.place(seg_index(s.segment), s.size, s.align)));
            }
        }
        let got_place = (slots > 0 || need_got_base).then(|| cur.place(0, slots * 8, 8));
        let mut tls = None;
        if needs_tls {
            let template = cur.place(0, tls_size, tls_align);
            let object = cur.place(1, EMUTLS_OBJECT_SIZE, 8);
            tls = Some(TlsPlan { size: tls_size, align: tls_align, template, object, sections: tls_secs });
        }
        let mut eh_frame = Vec::new();
        for (i, s) in g.sections.iter().enumerate() {
            if s.live && s.role == Role::EhFrame && s.data.is_some() {
                // Packed with 4-byte alignment: padding would read as a terminator.
                eh_frame.push((i, cur.place(0, s.size, if eh_frame.is_empty() { 8 } else { 4 })));
            }
        }
        let eh_end = (!eh_frame.is_empty()).then(|| cur.place(0, 4, 4));
        let stubs_place = cur.place(2, stubs.len() as u64 * arch::STUB_SIZE as u64, 16);
        let seg_data = cur.0;
        for (i, s) in g.sections.iter().enumerate() {
            if s.live && s.role == Role::Normal && s.data.is_none() {
                placed.push((i, cur.place(seg_index(s.segment), s.size, s.align)));
            }
        }
        if let Some(s) =
            g.sections.iter().find(|s| s.live && s.role == Role::Normal && s.align > opts.page_size)
        {
            return Err(LinkError::Other(format!(
                "{}: section {} needs {}-byte alignment, more than the executor's page size",
                g.inputs[s.input], s.name, s.align
            )));
        }
        Ok(LinkPlan {
            g,
            unit,
            page: opts.page_size,
            dylib: used_dylib,
            externals,
            got,
            got_slot,
            got_place,
            stubs,
            stub_of,
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
        self.g.sections.iter().filter(|s| s.live).flat_map(|s| &s.edges).any(|e| {
            matches!(e.kind, Reloc::Abs32 | Reloc::Abs32S)
                && (self.g.is_defined(e.target) || self.dylib.contains_key(&self.g.symbols[e.target].name))
        })
    }

    /// Names to look up in the executor process (not defined in this link or earlier ones).
    pub fn externals(&self) -> &[String] {
        &self.externals
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
    /// Undefined symbols, relocation values out of range, references into discarded
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
        for &(sid, p) in self.placed.iter().chain(&self.eh_frame) {
            self.g.sections[sid].addr = addr(p);
        }
        let got_base = self.got_place.map(addr).unwrap_or(0);
        let tls_object = self.tls.as_ref().map(|t| addr(t.object));

        // Resolve every symbol a relocation or GOT slot needs, and apply relocations to the
        // section bytes (taken out so the resolver can read the plan meanwhile).
        let mut datas: Vec<Option<Vec<u8>>> = self.g.sections.iter_mut().map(|s| s.data.take()).collect();
        let (got_image, stub_image, relocations) = {
            let ctx =
                Resolver { plan: &self, resolve, got_base, tls_object, stub_base: addr(self.stubs_place) };
            let mut got_image = vec![0u8; self.got.iter().map(|(k, _)| k.slots()).sum::<u64>() as usize * 8];
            for &(key, slot) in &self.got {
                let values = match key {
                    GotKey::Addr(t) => [ctx.symbol(t, None)?.unwrap_or(0), 0],
                    GotKey::TlsGd(t) => {
                        let (obj, off) = ctx.tls(t)?;
                        [obj, off]
                    }
                    GotKey::TlsLd => [tls_object.unwrap_or(0), 0],
                };
                for (i, v) in values.iter().take(key.slots() as usize).enumerate() {
                    let o = (slot as usize + i) * 8;
                    got_image[o..o + 8].copy_from_slice(&v.to_le_bytes());
                }
            }
            let mut stub_image = Vec::with_capacity(self.stubs.len() * arch::STUB_SIZE);
            for (i, &t) in self.stubs.iter().enumerate() {
                let stub = ctx.stub_base + (i * arch::STUB_SIZE) as u64;
                let entry = got_base + self.got_slot[&GotKey::Addr(t)] * 8;
                let code = arch::stub(stub, entry)
                    .map_err(|_| LinkError::Other("GOT out of reach of its stubs".into()))?;
                stub_image.extend(code);
            }
            let mut relocations = 0;
            for (sid, data) in datas.iter_mut().enumerate() {
                let sec = &self.g.sections[sid];
                if sec.live && !sec.edges.is_empty() {
                    relocations += ctx.apply(sid, data.as_deref_mut().unwrap_or_default())?;
                }
            }
            (got_image, stub_image, relocations)
        };
        for (s, d) in self.g.sections.iter_mut().zip(datas) {
            s.data = d;
        }

        // Segment images.
        let mut images: [Vec<u8>; 3] = [0, 1, 2].map(|i| vec![0u8; self.seg_data[i] as usize]);
        let mut put = |p: Place, bytes: &[u8]| {
            images[p.seg][p.off as usize..p.off as usize + bytes.len()].copy_from_slice(bytes);
        };
        for &(sid, p) in self.placed.iter().chain(&self.eh_frame) {
            if let Some(d) = &self.g.sections[sid].data {
                put(p, d);
            }
        }
        if let Some(p) = self.got_place {
            put(p, &got_image);
        }
        put(self.stubs_place, &stub_image);
        if let Some(t) = &self.tls {
            let mut template = vec![0u8; t.size as usize];
            for &sid in &t.sections {
                let s = &self.g.sections[sid];
                if let Some(d) = &s.data {
                    template[s.addr as usize..s.addr as usize + d.len()].copy_from_slice(d);
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
        Ok(LinkedUnit {
            id: self.unit,
            segments,
            eh_frame: self.eh_frame.first().zip(self.eh_end).map(|(&(_, s), e)| (addr(s), addr(e) + 4)),
            initializers,
            finalizers,
            symbols,
            comdats: self.g.comdats.iter().cloned().collect(),
            stats: LinkStats {
                sections: self.placed.len() + self.eh_frame.len(),
                relocations,
                got_slots: self.got.iter().map(|(k, _)| k.slots() as usize).sum(),
                stubs: self.stubs.len(),
            },
        })
    }

    /// Initializer and finalizer addresses in execution (resp. registration) order.
    fn init_fini(&self) -> (Vec<u64>, Vec<u64>) {
        let mut inits = Vec::new();
        let mut finis = Vec::new();
        for (i, s) in self.g.sections.iter().enumerate() {
            match s.role {
                Role::Init { priority, reverse } if s.live => inits.push((priority, i, reverse)),
                Role::Fini { priority, reverse } if s.live => finis.push((priority, i, reverse)),
                _ => {}
            }
        }
        let read = |list: &mut Vec<(u32, SectionId, bool)>| -> Vec<u64> {
            list.sort();
            let mut out = Vec::new();
            for &(_, sid, reverse) in list.iter() {
                let d = self.g.sections[sid].data.as_deref().unwrap_or_default();
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
                let Def::Section { section, offset } = s.def else {
                    return match s.def {
                        Def::Absolute(v) => Some((
                            name.clone(),
                            DylibSymbol { addr: v, weak: s.weak, tls: None, unit: self.unit },
                        )),
                        _ => None,
                    };
                };
                let sec = &self.g.sections[section];
                if !sec.live || !matches!(sec.role, Role::Normal | Role::Tls) {
                    return None;
                }
                let tls = (sec.role == Role::Tls).then(|| (tls_object.unwrap_or(0), sec.addr + offset));
                let a = if tls.is_some() { 0 } else { sec.addr + offset };
                Some((name.clone(), DylibSymbol { addr: a, weak: s.weak, tls, unit: self.unit }))
            })
            .collect()
    }
}

/// Turns common symbols into zero-fill sections of their own.
fn allocate_commons(g: &mut Graph) {
    for id in 0..g.symbols.len() {
        if let Def::Common { size, align } = g.symbols[id].def {
            let section = g.sections.len();
            g.sections.push(Section {
                name: format!("COMMON({})", g.symbols[id].name),
                input: g.symbols[id].input,
                segment: SegmentKind::RW,
                role: Role::Normal,
                align,
                size,
                data: None,
                edges: Vec::new(),
                live: true,
                addr: 0,
            });
            g.symbols[id].def = Def::Section { section, offset: 0 };
        }
    }
}

/// Computes relocation values for a plan whose addresses are assigned.
struct Resolver<'a> {
    plan: &'a LinkPlan,
    resolve: &'a dyn Fn(&str) -> Option<u64>,
    got_base: u64,
    tls_object: Option<u64>,
    stub_base: u64,
}

impl Resolver<'_> {
    /// Address of symbol `t`; `Ok(None)` if it lives in a discarded section. `from` names the
    /// referencing section for error messages.
    fn symbol(&self, t: SymbolId, from: Option<SectionId>) -> Result<Option<u64>, LinkError> {
        let g = &self.plan.g;
        let s = &g.symbols[t];
        match s.def {
            Def::Section { section, offset } => {
                let sec = &g.sections[section];
                Ok(sec.live.then_some(sec.addr + offset))
            }
            Def::Absolute(v) => Ok(Some(v)),
            Def::Common { .. } => Ok(Some(0)),
            Def::Undefined => {
                if s.name == GOT_SYMBOL {
                    return Ok(Some(self.got_base));
                }
                if let Some(d) = self.plan.dylib.get(&s.name) {
                    return Ok(Some(d.addr));
                }
                match (self.resolve)(&s.name) {
                    Some(a) if a != 0 || s.weak => Ok(Some(a)),
                    _ if s.weak => Ok(Some(0)),
                    _ => Err(LinkError::UndefinedSymbol {
                        name: s.name.clone(),
                        referenced_from: g.inputs[from.map_or(s.input, |f| g.sections[f].input)].clone(),
                    }),
                }
            }
        }
    }

    /// (emutls control object, offset in block) of thread-local `t`.
    fn tls(&self, t: SymbolId) -> Result<(u64, u64), LinkError> {
        let g = &self.plan.g;
        let s = &g.symbols[t];
        match s.def {
            Def::Section { section, offset } if g.sections[section].role == Role::Tls => {
                Ok((self.tls_object.unwrap_or(0), g.sections[section].addr + offset))
            }
            Def::Undefined => match self.plan.dylib.get(&s.name).and_then(|d| d.tls) {
                Some(pair) => Ok(pair),
                None => Err(LinkError::Other(format!(
                    "thread-local variable {} is not defined in JIT'd code; thread-locals of the executor's \
                     libraries cannot be reached from JIT'd code",
                    s.name
                ))),
            },
            _ => Err(LinkError::Other(format!("{} is used as a thread-local but is not one", s.name))),
        }
    }

    /// Applies the relocations of section `sid` to `data`; returns how many.
    fn apply(&self, sid: SectionId, data: &mut [u8]) -> Result<usize, LinkError> {
        let g = &self.plan.g;
        let sec = &g.sections[sid];
        let placed = matches!(sec.role, Role::Normal | Role::EhFrame);
        for edge in &sec.edges {
            let p = if placed { sec.addr + edge.offset } else { 0 } as i128;
            let a = edge.addend as i128;
            let got = self.got_base as i128;
            let t = edge.target;
            let slot = |k: GotKey| self.got_base as i128 + self.plan.got_slot[&k] as i128 * 8;
            let s = match edge.kind {
                Reloc::TlsGd | Reloc::TlsLd | Reloc::DtpOff32 | Reloc::DtpOff64 => None,
                _ => match self.symbol(t, Some(sid))? {
                    Some(v) => Some(v as i128),
                    // A discarded COMDAT member: only `.eh_frame` may still point at it (its
                    // FDE then covers bytes of .eh_frame itself, where no code runs).
                    None if sec.role == Role::EhFrame => {
                        data[edge.offset as usize..edge.offset as usize + edge.kind.width()].fill(0);
                        continue;
                    }
                    None => {
                        return Err(LinkError::Other(format!(
                            "{}: section {} refers to {} in a discarded COMDAT section",
                            g.inputs[sec.input], sec.name, g.symbols[t].name
                        )));
                    }
                },
            };
            let sv = s.unwrap_or(0);
            let l = match self.plan.stub_of.get(&t) {
                Some(&i) => self.stub_base as i128 + i as i128 * arch::STUB_SIZE as i128,
                None => sv,
            };
            let value = match edge.kind {
                Reloc::Abs64 | Reloc::Abs32 | Reloc::Abs32S | Reloc::Abs16 | Reloc::Abs8 => sv + a,
                Reloc::Pc64 | Reloc::Pc32 | Reloc::Pc16 | Reloc::Pc8 => sv + a - p,
                Reloc::Plt32 => l + a - p,
                Reloc::PltOff64 => l - got + a,
                Reloc::GotPcRel32 | Reloc::GotPcRel64 => slot(GotKey::Addr(t)) + a - p,
                Reloc::Got32 | Reloc::Got64 => slot(GotKey::Addr(t)) - got + a,
                Reloc::GotOff64 => sv + a - got,
                Reloc::GotPc32 | Reloc::GotPc64 => got + a - p,
                Reloc::Size32 | Reloc::Size64 => g.symbols[t].size as i128 + a,
                Reloc::TlsGd => slot(GotKey::TlsGd(t)) + a - p,
                Reloc::TlsLd => slot(GotKey::TlsLd) + a - p,
                Reloc::DtpOff32 | Reloc::DtpOff64 => self.tls(t)?.1 as i128 + a,
            };
            let place = &mut data[edge.offset as usize..];
            arch::write(edge.kind, place, value).map_err(|e| {
                let far = !g.is_defined(t) && matches!(edge.kind, Reloc::Pc32 | Reloc::Abs32 | Reloc::Abs32S);
                let low = g.is_defined(t) && matches!(edge.kind, Reloc::Abs32 | Reloc::Abs32S);
                LinkError::OutOfRange(Box::new(super::RelocOutOfRange {
                    input: g.inputs[sec.input].clone(),
                    section: sec.name.clone(),
                    offset: edge.offset,
                    reloc: arch::elf_name(edge.r_type),
                    symbol: g.symbols[t].name.clone(),
                    value: e.value,
                    hint: if far {
                        "; the symbol is outside the ±2 GiB reach of this code: compile with -fPIC so the \
                         access goes through the GOT"
                            .into()
                    } else if low {
                        "; code built without -fPIC needs its memory in the low 2 GiB, which this executor \
                         cannot provide (orc-executor can on x86-64 Linux): compile with -fPIC"
                            .into()
                    } else {
                        String::new()
                    },
                }))
            })?;
        }
        Ok(sec.edges.len())
    }
}
