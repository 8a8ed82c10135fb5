//! The fix-up pass: resolves each edge's target and hands the architecture the addresses its
//! formula needs ([`crate::arch::Fixup`]).

use crate::arch::{FixupError, TableUse};
use crate::graph::{BlockId, Def, Role, SymbolId};
use crate::layout::LinkPlan;
use crate::tables::{GOT_SYMBOL, GotKey};
use crate::{LinkError, RelocOutOfRange};

/// Computes fix-up values for a plan whose addresses are assigned.
pub(crate) struct Resolver<'a> {
    pub plan: &'a LinkPlan,
    pub resolve: &'a dyn Fn(&str) -> Option<u64>,
    pub got_base: u64,
    pub tls_object: Option<u64>,
    pub stub_base: u64,
}

impl Resolver<'_> {
    /// Address of symbol `t`; `Ok(None)` if it lives in a discarded block. `from` names the
    /// referencing block for error messages.
    pub fn symbol(&self, t: SymbolId, from: Option<BlockId>) -> Result<Option<u64>, LinkError> {
        let g = &self.plan.g;
        let s = &g.symbols[t];
        match s.def {
            Def::Block { block, offset } => {
                let b = &g.blocks[block];
                Ok(b.live.then_some(b.addr + offset))
            }
            Def::Absolute(v) => Ok(Some(v)),
            Def::Common { .. } => Ok(Some(0)),
            Def::Undefined => {
                if s.name == GOT_SYMBOL {
                    return Ok(Some(self.got_base));
                }
                if let Some(d) = self.plan.tables.dylib.get(&s.name) {
                    return Ok(Some(d.addr));
                }
                match (self.resolve)(&s.name) {
                    Some(a) if a != 0 || s.weak => Ok(Some(a)),
                    _ if s.weak => Ok(Some(0)),
                    _ => Err(LinkError::UndefinedSymbol {
                        name: s.name.clone(),
                        referenced_from: match from {
                            Some(b) => g.input_of(b).to_owned(),
                            None => g.inputs[s.input].clone(),
                        },
                    }),
                }
            }
        }
    }

    /// (emutls control object, offset in block) of thread-local `t`.
    pub fn tls(&self, t: SymbolId) -> Result<(u64, u64), LinkError> {
        let g = &self.plan.g;
        let s = &g.symbols[t];
        match s.def {
            Def::Block { block, offset } if g.section_of(block).role == Role::Tls => {
                Ok((self.tls_object.unwrap_or(0), g.blocks[block].addr + offset))
            }
            Def::Undefined => match self.plan.tables.dylib.get(&s.name).and_then(|d| d.tls) {
                Some(pair) => Ok(pair),
                None => Err(LinkError::ThreadLocalOutsideJit { name: s.name.clone() }),
            },
            _ => Err(LinkError::NotThreadLocal { name: s.name.clone() }),
        }
    }

    /// Applies the edges of block `b` to `data`; returns how many.
    pub fn apply(&self, b: BlockId, data: &mut [u8]) -> Result<usize, LinkError> {
        let g = &self.plan.g;
        let tables = &self.plan.tables;
        let blk = &g.blocks[b];
        let role = g.section_of(b).role;
        let placed = matches!(role, Role::Normal | Role::EhFrame | Role::TlvDescriptors);
        for edge in &blk.edges {
            let t = edge.target;
            let table = edge.kind.table_use();
            let tls_kind = matches!(table, TableUse::TlsGd | TableUse::TlsLd | TableUse::TlsDesc)
                || edge.kind.is_tls_offset();
            let target = if tls_kind {
                0
            } else {
                match self.symbol(t, Some(b))? {
                    Some(v) => v,
                    // A discarded COMDAT member: only `.eh_frame` may still point at it (its
                    // FDE then covers bytes of .eh_frame itself, where no code runs).
                    None if role == Role::EhFrame => {
                        data[edge.offset as usize..edge.offset as usize + edge.kind.width()].fill(0);
                        continue;
                    }
                    None => {
                        return Err(LinkError::DiscardedReference {
                            input: g.input_of(b).to_owned(),
                            section: g.section_of(b).name.clone(),
                            symbol: g.symbols[t].name.clone(),
                        });
                    }
                }
            };
            let slot = |k: GotKey| self.got_base + tables.slot(k) * 8;
            let got_entry = match table {
                TableUse::Got => slot(GotKey::Addr(t)),
                TableUse::TlsGd => slot(GotKey::TlsGd(t)),
                TableUse::TlsLd => slot(GotKey::TlsLd),
                TableUse::TlsDesc => slot(GotKey::TlsDesc(t)),
                TableUse::None | TableUse::CallStub => 0,
            };
            let call_target = match tables.stub_of.get(&t) {
                Some(&i) => self.stub_base + i * g.arch.stub_size(),
                None => target,
            };
            let fixup = crate::arch::Fixup {
                place: if placed { blk.addr + edge.offset } else { 0 },
                target,
                addend: edge.addend,
                got_entry,
                got_base: self.got_base,
                call_target,
                size: g.symbols[t].size,
                tls_offset: if edge.kind.is_tls_offset() { self.tls(t)?.1 } else { 0 },
            };
            edge.kind.apply(&mut data[edge.offset as usize..], &fixup).map_err(|e| {
                let defined_here = g.is_defined(t);
                let (value, hint) = match e {
                    FixupError::OutOfRange { value } => {
                        (value, edge.kind.out_of_range_hint(defined_here).to_owned())
                    }
                    FixupError::Misaligned { value, align } => {
                        (value, format!("; the value must be a multiple of {align}"))
                    }
                };
                LinkError::OutOfRange(Box::new(RelocOutOfRange {
                    input: g.input_of(b).to_owned(),
                    section: g.section_of(b).name.clone(),
                    offset: edge.offset,
                    reloc: edge.kind.name().to_owned(),
                    symbol: g.symbols[t].name.clone(),
                    value,
                    hint,
                }))
            })?;
        }
        Ok(blk.edges.len())
    }
}
