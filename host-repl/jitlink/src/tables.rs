//! The table pass: which GOT entries and call stubs the edges need, and which names this link
//! must get from elsewhere (earlier units of the session, or the executor process).
//!
//! A GOT entry holds an address the code loads instead of encoding it (code built with
//! `-fPIC`, and every call stub); a stub is a small jump through a GOT entry, so a call with a
//! short reach (±2 GiB on x86-64, ±128 MiB on AArch64) reaches a target anywhere. Calls to
//! targets defined in this link go direct: the link is laid out in one reservation.
//!
//! Except calls to redefinable names ([`crate::LinkOptions::redefinable`]): those go through
//! a stub wherever the target is, and their GOT entries, like every GOT entry of a
//! redefinable name, are *rebind entries* that the session rewrites when the name is defined
//! again, so code linked earlier reaches the new definition. A link with rebind entries
//! places its GOT in the writable segment.

use std::collections::HashMap;

use crate::arch::TableUse;
use crate::graph::{Edge, LinkGraph, SymbolId};
use crate::{DylibSymbol, JitDylib};

/// The symbol that names the GOT base in large-model and GOT-relative code.
pub(crate) const GOT_SYMBOL: &str = "_GLOBAL_OFFSET_TABLE_";
/// The session runtime's TLS descriptor resolver (`runtime/c/orcbridge_rt.c`), the first word
/// of every TLS descriptor.
pub(crate) const TLSDESC_RESOLVER: &str = "__orcbridge_tlsdesc";

/// What a GOT entry holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum GotKey {
    /// One slot: the target's address.
    Addr(SymbolId),
    /// Two slots: general-dynamic TLS pair for the target.
    TlsGd(SymbolId),
    /// Two slots: local-dynamic pair for this unit's block.
    TlsLd,
    /// Two slots: TLS descriptor for the target, `{resolver, address of its TlsGd pair}`.
    TlsDesc(SymbolId),
}

impl GotKey {
    /// Number of 8-byte slots.
    pub(crate) fn slots(self) -> u64 {
        if matches!(self, GotKey::Addr(_)) { 1 } else { 2 }
    }
}

/// The result of the table pass.
#[derive(Debug, Default)]
pub(crate) struct Tables {
    /// Earlier-unit definitions this link refers to.
    pub dylib: HashMap<String, DylibSymbol>,
    /// Names to look up in the executor process, in first-use order.
    pub externals: Vec<String>,
    /// GOT entries in order, with their first slot.
    pub got: Vec<(GotKey, u64)>,
    /// Entry → first slot.
    pub got_slot: HashMap<GotKey, u64>,
    /// Total 8-byte slots.
    pub slots: u64,
    /// The GOT must exist even if empty (`_GLOBAL_OFFSET_TABLE_` or GOT-relative edges).
    pub need_got_base: bool,
    /// Targets with a stub, in stub order.
    pub stubs: Vec<SymbolId>,
    /// Target → stub index.
    pub stub_of: HashMap<SymbolId, u64>,
    /// The symbol of the TLS descriptor resolver, if a TLS descriptor needs it.
    pub tlsdesc_resolver: Option<SymbolId>,
    /// Targets whose `Addr` GOT entry is a rebind entry, in GOT order.
    pub rebind: Vec<SymbolId>,
}

impl Tables {
    fn add_got(&mut self, key: GotKey) {
        if !self.got_slot.contains_key(&key) {
            self.got_slot.insert(key, self.slots);
            self.got.push((key, self.slots));
            self.slots += key.slots();
        }
    }

    /// Records where the global `sym` comes from if this link does not define it: the GOT
    /// base, an earlier unit, or the executor process.
    fn note_source(&mut self, g: &LinkGraph, dylib: &JitDylib, sym: SymbolId) {
        if g.is_defined(sym) || !g.symbols[sym].global {
            return;
        }
        let name = &g.symbols[sym].name;
        if name == GOT_SYMBOL {
            self.need_got_base = true;
        } else if let Some(d) = dylib.lookup(name) {
            self.dylib.insert(name.clone(), *d);
        } else if !self.externals.contains(name) {
            self.externals.push(name.clone());
        }
    }

    /// The first slot of `key`'s entry. Every key an edge uses was added by [`build`].
    pub(crate) fn slot(&self, key: GotKey) -> u64 {
        self.got_slot.get(&key).copied().unwrap_or(0)
    }
}

/// Scans the live edges of `g`. A TLS descriptor makes the runtime's resolver a global of
/// the graph (undefined unless the runtime is among the inputs), resolved as any other.
pub(crate) fn build(g: &mut LinkGraph, dylib: &JitDylib) -> Tables {
    let mut t = Tables::default();
    let rebinds = |g: &LinkGraph, s: SymbolId| {
        g.is_redefinable(s)
            || (!g.is_defined(s)
                && g.symbols[s].global
                && dylib.lookup(&g.symbols[s].name).is_some_and(|d| d.redefinable))
    };
    if live_edges(g).any(|e| e.kind.table_use() == TableUse::TlsDesc) {
        let resolver = g.global(TLSDESC_RESOLVER, 0);
        t.note_source(g, dylib, resolver);
        t.tlsdesc_resolver = Some(resolver);
    }
    for edge in live_edges(g) {
        let target = edge.target;
        t.note_source(g, dylib, target);
        match edge.kind.table_use() {
            TableUse::None => {}
            TableUse::Got => t.add_got(GotKey::Addr(target)),
            TableUse::TlsGd => t.add_got(GotKey::TlsGd(target)),
            TableUse::TlsLd => t.add_got(GotKey::TlsLd),
            TableUse::TlsDesc => {
                t.add_got(GotKey::TlsGd(target));
                t.add_got(GotKey::TlsDesc(target));
            }
            TableUse::CallStub if g.is_defined(target) && !rebinds(g, target) => {}
            TableUse::CallStub => {
                t.add_got(GotKey::Addr(target));
                if !t.stub_of.contains_key(&target) {
                    t.stub_of.insert(target, t.stubs.len() as u64);
                    t.stubs.push(target);
                }
            }
        }
        t.need_got_base |= edge.kind.needs_got_base();
    }
    t.rebind = t
        .got
        .iter()
        .filter_map(|&(key, _)| match key {
            GotKey::Addr(s) if rebinds(g, s) => Some(s),
            _ => None,
        })
        .collect();
    t
}

fn live_edges(g: &LinkGraph) -> impl Iterator<Item = &Edge> {
    g.blocks.iter().filter(|b| b.live).flat_map(|b| &b.edges)
}
