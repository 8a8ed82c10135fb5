//! What differs per architecture: the edge kinds, their formulas and encodings
//! ([`EdgeKind::apply`]), which tables an edge needs (GOT entries, call stubs), the stub code,
//! and the advice when a value does not fit.
//!
//! A new architecture is a module here with its own `EdgeKind` enum, `from_elf` (and
//! `from_macho` once there is a Mach-O builder), `apply`, and `stub`; it gets a variant in
//! [`Arch`] and [`EdgeKind`]. The generic passes (tables, layout, fix-up) only call the
//! methods below.

pub mod aarch64;
pub mod x86_64;

use std::fmt;

/// An architecture the linker handles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Arch {
    /// x86-64 (System V AMD64 psABI).
    X86_64,
    /// AArch64 (Arm's ELF for the Arm 64-bit Architecture, "aaelf64").
    Aarch64,
}

/// An architecture's edge kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EdgeKind {
    /// An x86-64 edge.
    X86_64(x86_64::EdgeKind),
    /// An AArch64 edge.
    Aarch64(aarch64::EdgeKind),
}

/// Which table entry an edge needs, built by the generic table pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableUse {
    /// None.
    None,
    /// A GOT slot holding the target's address.
    Got,
    /// A call or jump: through a stub (and its GOT slot) when the target is not defined in
    /// this link, directly otherwise.
    CallStub,
    /// A GOT pair for general-dynamic TLS: (emutls control object, offset in its block).
    TlsGd,
    /// The GOT pair of this link's own TLS block (local-dynamic TLS).
    TlsLd,
    /// A TLS descriptor for the target (AArch64's default TLS dialect): a GOT pair
    /// `{resolver, argument}` the code calls with its address; the resolver is the session
    /// runtime's `__orcbridge_tlsdesc`, the argument the target's [`TableUse::TlsGd`] pair.
    TlsDesc,
}

/// The addresses and values a fix-up may need, computed by the generic pass. Unused fields are
/// 0. Notation of the ABIs: P place, S symbol, A addend, G GOT entry, GOT GOT base, L call
/// target (the stub if there is one), Z symbol size.
#[derive(Debug, Clone, Copy, Default)]
pub struct Fixup {
    /// P: the address being patched (0 for blocks that are read, not placed).
    pub place: u64,
    /// S: the target's address.
    pub target: u64,
    /// A.
    pub addend: i64,
    /// G: the address of the target's GOT entry (or TLS pair).
    pub got_entry: u64,
    /// GOT: the GOT's base address.
    pub got_base: u64,
    /// L: where a call goes (the stub, or S).
    pub call_target: u64,
    /// Z: the target's size.
    pub size: u64,
    /// The target's offset in its TLS block.
    pub tls_offset: u64,
}

/// Why a fix-up could not be applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FixupError {
    /// The computed value does not fit the field.
    OutOfRange {
        /// The computed value.
        value: i128,
    },
    /// The value's low bits must be zero for the field's scale (e.g. a branch to an address
    /// that is not a multiple of 4, or a 64-bit load's offset not a multiple of 8).
    Misaligned {
        /// The computed value.
        value: i128,
        /// The required alignment in bytes.
        align: u64,
    },
}

/// A relocation type this linker cannot apply, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsupported {
    /// The relocation's ABI name, e.g. `R_X86_64_GOTTPOFF`.
    pub name: String,
    /// What to do about it.
    pub advice: &'static str,
}

impl fmt::Display for Unsupported {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unsupported relocation {}: {}", self.name, self.advice)
    }
}

impl Arch {
    /// The architecture of an `object` file, if the linker handles it.
    pub fn from_object(a: object::Architecture) -> Option<Arch> {
        match a {
            object::Architecture::X86_64 => Some(Arch::X86_64),
            object::Architecture::Aarch64 => Some(Arch::Aarch64),
            _ => None,
        }
    }

    /// The architecture of a target triple such as `x86_64-pc-linux-gnu` or
    /// `arm64-apple-ios14` (its first component), if the linker handles it.
    pub fn from_triple(triple: &str) -> Option<Arch> {
        match triple.split('-').next()? {
            "x86_64" | "amd64" => Some(Arch::X86_64),
            "aarch64" | "arm64" => Some(Arch::Aarch64),
            _ => None,
        }
    }

    /// Maps an ELF relocation type of this architecture to its edge kind; `Ok(None)` for the
    /// architecture's `R_*_NONE`.
    ///
    /// # Errors
    /// [`Unsupported`] with the relocation's name and advice.
    pub fn edge_from_elf(self, r_type: object::elf::RelocationType) -> Result<Option<EdgeKind>, Unsupported> {
        Ok(match self {
            Arch::X86_64 => x86_64::from_elf(r_type)?.map(EdgeKind::X86_64),
            Arch::Aarch64 => aarch64::from_elf(r_type)?.map(EdgeKind::Aarch64),
        })
    }

    /// Size in bytes of one call stub.
    pub fn stub_size(self) -> u64 {
        match self {
            Arch::X86_64 => x86_64::STUB_SIZE as u64,
            Arch::Aarch64 => aarch64::STUB_SIZE as u64,
        }
    }

    /// The code of a stub at `stub` that jumps to the address held in the GOT entry at
    /// `got_entry`.
    ///
    /// # Errors
    /// [`FixupError`] if the GOT entry is out of the stub's reach.
    pub fn stub(self, stub: u64, got_entry: u64) -> Result<Vec<u8>, FixupError> {
        match self {
            Arch::X86_64 => x86_64::stub(stub, got_entry).map(|s| s.to_vec()),
            Arch::Aarch64 => aarch64::stub(stub, got_entry).map(|s| s.to_vec()),
        }
    }
}

impl EdgeKind {
    /// Which table entry the edge needs.
    pub fn table_use(self) -> TableUse {
        match self {
            EdgeKind::X86_64(k) => k.table_use(),
            EdgeKind::Aarch64(k) => k.table_use(),
        }
    }

    /// True if the edge refers to the GOT base (so `_GLOBAL_OFFSET_TABLE_` must exist).
    pub fn needs_got_base(self) -> bool {
        match self {
            EdgeKind::X86_64(k) => k.needs_got_base(),
            EdgeKind::Aarch64(_) => false,
        }
    }

    /// True if the edge holds the target's absolute address in fewer than 64 bits (x86-64
    /// `R_X86_64_32`/`32S`), so a target in this link or the session needs memory low in the
    /// address space.
    pub fn needs_low_address(self) -> bool {
        match self {
            EdgeKind::X86_64(k) => k.needs_low_address(),
            EdgeKind::Aarch64(k) => k.needs_low_address(),
        }
    }

    /// True for kinds that read the target's offset in its TLS block, not its address.
    pub fn is_tls_offset(self) -> bool {
        match self {
            EdgeKind::X86_64(k) => k.is_tls_offset(),
            EdgeKind::Aarch64(k) => k.is_tls_offset(),
        }
    }

    /// Number of bytes the edge patches.
    pub fn width(self) -> usize {
        match self {
            EdgeKind::X86_64(k) => k.width(),
            EdgeKind::Aarch64(k) => k.width(),
        }
    }

    /// The ABI name of the relocation the edge came from, e.g. `R_AARCH64_CALL26`.
    pub fn name(self) -> &'static str {
        match self {
            EdgeKind::X86_64(k) => k.name(),
            EdgeKind::Aarch64(k) => k.name(),
        }
    }

    /// Computes the edge's value from `f` and encodes it into `place` (at least
    /// [`width`](Self::width) bytes, little-endian).
    ///
    /// # Errors
    /// [`FixupError`] when the value does not fit or is misaligned for the field.
    pub fn apply(self, place: &mut [u8], f: &Fixup) -> Result<(), FixupError> {
        match self {
            EdgeKind::X86_64(k) => k.apply(place, f),
            EdgeKind::Aarch64(k) => k.apply(place, f),
        }
    }

    /// Advice for a value out of range, given whether the target is defined in this link.
    pub fn out_of_range_hint(self, defined_here: bool) -> &'static str {
        match self {
            EdgeKind::X86_64(k) => k.out_of_range_hint(defined_here),
            EdgeKind::Aarch64(k) => k.out_of_range_hint(defined_here),
        }
    }
}

/// True if `value` fits a signed field of `bits` bits.
pub(crate) fn fits_signed(value: i128, bits: u32) -> bool {
    let half = 1i128 << (bits - 1);
    (-half..half).contains(&value)
}

/// True if `value` fits an unsigned field of `bits` bits.
pub(crate) fn fits_unsigned(value: i128, bits: u32) -> bool {
    (0..(1i128 << bits)).contains(&value)
}

/// Writes the low `place.len()` bytes of `value`, little-endian.
pub(crate) fn put_le(place: &mut [u8], value: i128) {
    let n = place.len();
    place.copy_from_slice(&(value as u64).to_le_bytes()[..n]);
}
