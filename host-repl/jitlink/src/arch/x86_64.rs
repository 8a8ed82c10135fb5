//! x86-64 relocations as clang/LLVM 22 emit them in ELF relocatable objects.
//!
//! Names, numbers and formulas from the System V AMD64 psABI, §4.4 "Relocation" (table 4.10)
//! and the TLS document ("ELF Handling For Thread-Local Storage", §4.3-4.4). Notation: S the
//! target's address, A the addend, P the place being relocated, G the offset of the target's
//! GOT entry from the GOT base, GOT the GOT base (`_GLOBAL_OFFSET_TABLE_`), L the target's
//! stub (PLT entry) address, Z the target's size.

use object::elf::*;

use super::{FixupError, TableUse, Unsupported, fits_signed, fits_unsigned, put_le};

/// What an x86-64 relocation asks for, with the raw type folded into a formula and an encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EdgeKind {
    /// `S + A`, 64 bits (`R_X86_64_64`).
    Abs64,
    /// `S + A`, zero-extended 32 bits (`R_X86_64_32`).
    Abs32,
    /// `S + A`, sign-extended 32 bits (`R_X86_64_32S`).
    Abs32S,
    /// `S + A`, 16 bits (`R_X86_64_16`).
    Abs16,
    /// `S + A`, 8 bits (`R_X86_64_8`).
    Abs8,
    /// `S + A - P`, 64 bits (`R_X86_64_PC64`).
    Pc64,
    /// `S + A - P`, signed 32 bits (`R_X86_64_PC32`).
    Pc32,
    /// `S + A - P`, 16 bits (`R_X86_64_PC16`).
    Pc16,
    /// `S + A - P`, 8 bits (`R_X86_64_PC8`).
    Pc8,
    /// `L + A - P`, signed 32 bits (`R_X86_64_PLT32`): a call or jump, through a stub when the
    /// target is not in this link.
    Plt32,
    /// `L - GOT + A`, 64 bits (`R_X86_64_PLTOFF64`, large code model).
    PltOff64,
    /// `G + A - P`, signed 32 bits (`R_X86_64_GOTPCREL`, `GOTPCRELX`, `REX_GOTPCRELX`).
    GotPcRel32,
    /// `G + A - P`, 64 bits (`R_X86_64_GOTPCREL64`).
    GotPcRel64,
    /// `G - GOT + A`, 32 bits (`R_X86_64_GOT32`).
    Got32,
    /// `G - GOT + A`, 64 bits (`R_X86_64_GOT64`, `R_X86_64_GOTPLT64`).
    Got64,
    /// `S + A - GOT`, 64 bits (`R_X86_64_GOTOFF64`).
    GotOff64,
    /// `GOT + A - P`, signed 32 bits (`R_X86_64_GOTPC32`).
    GotPc32,
    /// `GOT + A - P`, 64 bits (`R_X86_64_GOTPC64`).
    GotPc64,
    /// `Z + A`, 32 bits (`R_X86_64_SIZE32`).
    Size32,
    /// `Z + A`, 64 bits (`R_X86_64_SIZE64`).
    Size64,
    /// General-dynamic TLS: `G + A - P` to a GOT pair (module, offset) passed to
    /// `__tls_get_addr` (`R_X86_64_TLSGD`).
    TlsGd,
    /// Local-dynamic TLS: `G + A - P` to the module's GOT pair (`R_X86_64_TLSLD`).
    TlsLd,
    /// Offset of the target in its TLS block, 32 bits (`R_X86_64_DTPOFF32`).
    DtpOff32,
    /// Offset of the target in its TLS block, 64 bits (`R_X86_64_DTPOFF64`; Mach-O: a TLV
    /// descriptor's offset word).
    DtpOff64,
    /// `P - S + A`, 32 bits: the subtrahend side of a Mach-O `X86_64_RELOC_SUBTRACTOR` pair
    /// when the place lies in the minuend's block.
    NegDelta32,
    /// `P - S + A`, 64 bits (as [`NegDelta32`](Self::NegDelta32)).
    NegDelta64,
}

const STATIC_TLS: &str = "the initial-exec and local-exec TLS models need the thread's static TLS block, which JIT'd \
     code cannot extend; compile with -fPIC (or -ftls-model=global-dynamic)";

/// Maps an ELF `r_type` to its edge kind; `Ok(None)` for `R_X86_64_NONE`.
///
/// # Errors
/// [`Unsupported`] for types clang does not emit in relocatable x86-64 objects we can load, or
/// that need the static TLS block.
pub fn from_elf(r_type: RelocationType) -> Result<Option<EdgeKind>, Unsupported> {
    Ok(Some(match r_type {
        R_X86_64_NONE => return Ok(None),
        R_X86_64_64 => EdgeKind::Abs64,
        R_X86_64_32 => EdgeKind::Abs32,
        R_X86_64_32S => EdgeKind::Abs32S,
        R_X86_64_16 => EdgeKind::Abs16,
        R_X86_64_8 => EdgeKind::Abs8,
        R_X86_64_PC64 => EdgeKind::Pc64,
        R_X86_64_PC32 => EdgeKind::Pc32,
        R_X86_64_PC16 => EdgeKind::Pc16,
        R_X86_64_PC8 => EdgeKind::Pc8,
        R_X86_64_PLT32 => EdgeKind::Plt32,
        R_X86_64_PLTOFF64 => EdgeKind::PltOff64,
        R_X86_64_GOTPCREL | R_X86_64_GOTPCRELX | R_X86_64_REX_GOTPCRELX => EdgeKind::GotPcRel32,
        R_X86_64_GOTPCREL64 => EdgeKind::GotPcRel64,
        R_X86_64_GOT32 => EdgeKind::Got32,
        R_X86_64_GOT64 | R_X86_64_GOTPLT64 => EdgeKind::Got64,
        R_X86_64_GOTOFF64 => EdgeKind::GotOff64,
        R_X86_64_GOTPC32 => EdgeKind::GotPc32,
        R_X86_64_GOTPC64 => EdgeKind::GotPc64,
        R_X86_64_SIZE32 => EdgeKind::Size32,
        R_X86_64_SIZE64 => EdgeKind::Size64,
        R_X86_64_TLSGD => EdgeKind::TlsGd,
        R_X86_64_TLSLD => EdgeKind::TlsLd,
        R_X86_64_DTPOFF32 => EdgeKind::DtpOff32,
        R_X86_64_DTPOFF64 => EdgeKind::DtpOff64,
        R_X86_64_GOTTPOFF | R_X86_64_TPOFF32 | R_X86_64_TPOFF64 => {
            return Err(Unsupported { name: elf_name(r_type), advice: STATIC_TLS });
        }
        R_X86_64_GOTPC32_TLSDESC | R_X86_64_TLSDESC_CALL | R_X86_64_TLSDESC => {
            return Err(Unsupported {
                name: elf_name(r_type),
                advice: "TLS descriptors (-mtls-dialect=gnu2) are not supported; use the default dialect",
            });
        }
        _ => {
            return Err(Unsupported {
                name: elf_name(r_type),
                advice: "clang does not emit it in relocatable objects; this linker does not handle it",
            });
        }
    }))
}

/// The psABI name of an x86-64 ELF relocation type, e.g. `R_X86_64_PC32`.
pub fn elf_name(r_type: RelocationType) -> String {
    NAMES_R_X86_64.name(r_type).map_or_else(|| format!("R_X86_64 type {}", r_type.0), str::to_owned)
}

impl EdgeKind {
    /// The psABI name of the relocation (the first, for kinds several types share).
    pub fn name(self) -> &'static str {
        match self {
            EdgeKind::Abs64 => "R_X86_64_64",
            EdgeKind::Abs32 => "R_X86_64_32",
            EdgeKind::Abs32S => "R_X86_64_32S",
            EdgeKind::Abs16 => "R_X86_64_16",
            EdgeKind::Abs8 => "R_X86_64_8",
            EdgeKind::Pc64 => "R_X86_64_PC64",
            EdgeKind::Pc32 => "R_X86_64_PC32",
            EdgeKind::Pc16 => "R_X86_64_PC16",
            EdgeKind::Pc8 => "R_X86_64_PC8",
            EdgeKind::Plt32 => "R_X86_64_PLT32",
            EdgeKind::PltOff64 => "R_X86_64_PLTOFF64",
            EdgeKind::GotPcRel32 => "R_X86_64_GOTPCREL",
            EdgeKind::GotPcRel64 => "R_X86_64_GOTPCREL64",
            EdgeKind::Got32 => "R_X86_64_GOT32",
            EdgeKind::Got64 => "R_X86_64_GOT64",
            EdgeKind::GotOff64 => "R_X86_64_GOTOFF64",
            EdgeKind::GotPc32 => "R_X86_64_GOTPC32",
            EdgeKind::GotPc64 => "R_X86_64_GOTPC64",
            EdgeKind::Size32 => "R_X86_64_SIZE32",
            EdgeKind::Size64 => "R_X86_64_SIZE64",
            EdgeKind::TlsGd => "R_X86_64_TLSGD",
            EdgeKind::TlsLd => "R_X86_64_TLSLD",
            EdgeKind::DtpOff32 => "R_X86_64_DTPOFF32",
            EdgeKind::DtpOff64 => "R_X86_64_DTPOFF64",
            EdgeKind::NegDelta32 | EdgeKind::NegDelta64 => "X86_64_RELOC_SUBTRACTOR",
        }
    }

    /// Which table entry the edge needs.
    pub fn table_use(self) -> TableUse {
        match self {
            EdgeKind::GotPcRel32 | EdgeKind::GotPcRel64 | EdgeKind::Got32 | EdgeKind::Got64 => TableUse::Got,
            EdgeKind::Plt32 | EdgeKind::PltOff64 => TableUse::CallStub,
            EdgeKind::TlsGd => TableUse::TlsGd,
            EdgeKind::TlsLd => TableUse::TlsLd,
            _ => TableUse::None,
        }
    }

    /// True if the edge refers to the GOT base (so `_GLOBAL_OFFSET_TABLE_` must exist).
    pub fn needs_got_base(self) -> bool {
        matches!(
            self,
            EdgeKind::PltOff64
                | EdgeKind::GotOff64
                | EdgeKind::GotPc32
                | EdgeKind::GotPc64
                | EdgeKind::Got32
                | EdgeKind::Got64
        )
    }

    /// True for `R_X86_64_32`/`32S`: the target must lie in the low 2 GiB.
    pub fn needs_low_address(self) -> bool {
        matches!(self, EdgeKind::Abs32 | EdgeKind::Abs32S)
    }

    /// True for `R_X86_64_DTPOFF*`, which read the target's offset in its TLS block.
    pub fn is_tls_offset(self) -> bool {
        matches!(self, EdgeKind::DtpOff32 | EdgeKind::DtpOff64)
    }

    /// Number of bytes the relocation writes.
    pub fn width(self) -> usize {
        match self {
            EdgeKind::Abs64
            | EdgeKind::Pc64
            | EdgeKind::PltOff64
            | EdgeKind::GotPcRel64
            | EdgeKind::Got64 => 8,
            EdgeKind::GotOff64
            | EdgeKind::GotPc64
            | EdgeKind::Size64
            | EdgeKind::DtpOff64
            | EdgeKind::NegDelta64 => 8,
            EdgeKind::Abs16 | EdgeKind::Pc16 => 2,
            EdgeKind::Abs8 | EdgeKind::Pc8 => 1,
            _ => 4,
        }
    }

    /// The value by the psABI's formula.
    fn value(self, f: &super::Fixup) -> i128 {
        let (s, a, p) = (f.target as i128, f.addend as i128, f.place as i128);
        let (g, got, l) = (f.got_entry as i128, f.got_base as i128, f.call_target as i128);
        match self {
            EdgeKind::Abs64 | EdgeKind::Abs32 | EdgeKind::Abs32S | EdgeKind::Abs16 | EdgeKind::Abs8 => s + a,
            EdgeKind::Pc64 | EdgeKind::Pc32 | EdgeKind::Pc16 | EdgeKind::Pc8 => s + a - p,
            EdgeKind::Plt32 => l + a - p,
            EdgeKind::PltOff64 => l - got + a,
            EdgeKind::GotPcRel32 | EdgeKind::GotPcRel64 | EdgeKind::TlsGd | EdgeKind::TlsLd => g + a - p,
            EdgeKind::Got32 | EdgeKind::Got64 => g - got + a,
            EdgeKind::GotOff64 => s + a - got,
            EdgeKind::GotPc32 | EdgeKind::GotPc64 => got + a - p,
            EdgeKind::Size32 | EdgeKind::Size64 => f.size as i128 + a,
            EdgeKind::DtpOff32 | EdgeKind::DtpOff64 => f.tls_offset as i128 + a,
            EdgeKind::NegDelta32 | EdgeKind::NegDelta64 => p - s + a,
        }
    }

    /// Computes the value and writes it with the relocation's width, little-endian, after
    /// checking that it fits: PC-relative and `32S` fields sign-checked, `R_X86_64_32`/16/8
    /// zero-extended (must fit unsigned), 64-bit fields take any 64-bit value.
    ///
    /// # Errors
    /// [`FixupError::OutOfRange`] when the value does not fit the field.
    ///
    /// # Panics
    /// If `place` is shorter than [`width`](Self::width); the graph builder checks bounds.
    pub fn apply(self, place: &mut [u8], f: &super::Fixup) -> Result<(), FixupError> {
        write(self, place, self.value(f))
    }

    /// Advice for a value out of range.
    pub fn out_of_range_hint(self, defined_here: bool) -> &'static str {
        match self {
            EdgeKind::Pc32 | EdgeKind::Abs32 | EdgeKind::Abs32S if !defined_here => {
                "; the symbol is outside the ±2 GiB reach of this code: compile with -fPIC so the access goes \
                 through the GOT"
            }
            EdgeKind::Abs32 | EdgeKind::Abs32S => {
                "; code built without -fPIC needs its memory in the low 2 GiB, which this executor cannot \
                 provide (orc-executor can on x86-64 Linux): compile with -fPIC"
            }
            _ => "",
        }
    }
}

fn write(kind: EdgeKind, place: &mut [u8], value: i128) -> Result<(), FixupError> {
    let width = kind.width();
    let bits = width as u32 * 8;
    let fits = if width == 8 {
        value >= i64::MIN as i128 && value <= u64::MAX as i128
    } else if matches!(kind, EdgeKind::Abs32 | EdgeKind::Abs16 | EdgeKind::Abs8) {
        fits_unsigned(value, bits)
    } else {
        fits_signed(value, bits)
    };
    if !fits {
        return Err(FixupError::OutOfRange { value });
    }
    put_le(&mut place[..width], value);
    Ok(())
}

/// Size in bytes of one jump stub.
pub const STUB_SIZE: usize = 8;

/// A stub that jumps through the GOT entry at `got_entry`: `jmp *disp32(%rip)` (FF 25),
/// padded with `int3`. `stub` is the stub's own address.
///
/// # Errors
/// [`FixupError::OutOfRange`] if the GOT entry is more than 2 GiB away.
pub fn stub(stub: u64, got_entry: u64) -> Result<[u8; STUB_SIZE], FixupError> {
    let mut code = [0xff, 0x25, 0, 0, 0, 0, 0xcc, 0xcc];
    let disp = got_entry as i128 - (stub as i128 + 6);
    write(EdgeKind::Pc32, &mut code[2..6], disp)?;
    Ok(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_range_checked_by_signedness() {
        let mut b = [0u8; 8];
        write(EdgeKind::Pc32, &mut b, -4).unwrap();
        assert_eq!(b[..4], [0xfc, 0xff, 0xff, 0xff]);
        assert!(write(EdgeKind::Pc32, &mut b, 1 << 31).is_err());
        assert!(write(EdgeKind::Pc32, &mut b, -(1 << 31)).is_ok());
        write(EdgeKind::Abs32, &mut b, 0xffff_ffff).unwrap();
        assert!(write(EdgeKind::Abs32, &mut b, -1).is_err(), "R_X86_64_32 zero-extends");
        assert!(write(EdgeKind::Abs32S, &mut b, -1).is_ok(), "R_X86_64_32S sign-extends");
        assert!(write(EdgeKind::Abs32S, &mut b, 0x8000_0000).is_err());
        write(EdgeKind::Abs64, &mut b, 0x1122_3344_5566_7788).unwrap();
        assert_eq!(b, [0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11]);
    }

    #[test]
    fn stub_jumps_through_its_got_entry() {
        // Stub at 0x1000, GOT entry at 0x2000: disp = 0x2000 - 0x1006.
        assert_eq!(stub(0x1000, 0x2000).unwrap(), [0xff, 0x25, 0xfa, 0x0f, 0, 0, 0xcc, 0xcc]);
        assert!(stub(0, 1 << 40).is_err());
    }

    #[test]
    fn static_tls_models_are_refused_with_advice() {
        let e = from_elf(object::elf::R_X86_64_GOTTPOFF).unwrap_err();
        assert_eq!(e.name, "R_X86_64_GOTTPOFF");
        assert!(e.to_string().contains("-fPIC"));
        assert_eq!(from_elf(object::elf::R_X86_64_REX_GOTPCRELX), Ok(Some(EdgeKind::GotPcRel32)));
    }
}
