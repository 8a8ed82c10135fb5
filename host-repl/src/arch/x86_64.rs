//! x86-64 relocations as clang/LLVM 22 emit them in ELF relocatable objects.
//!
//! Names, numbers and formulas from the System V AMD64 psABI, §4.4 "Relocation" (table 4.10)
//! and the TLS document ("ELF Handling For Thread-Local Storage", §4.3-4.4). Notation: S the
//! target's address, A the addend, P the place being relocated, G the offset of the target's
//! GOT entry from the GOT base, GOT the GOT base (`_GLOBAL_OFFSET_TABLE_`), L the target's
//! stub (PLT entry) address, Z the target's size.

use std::fmt;

use object::elf::RelocationType;

/// What a relocation asks for, with the raw type folded into a formula and an encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reloc {
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
    /// `G + GOT + A - P`, signed 32 bits (`R_X86_64_GOTPCREL`, `GOTPCRELX`, `REX_GOTPCRELX`).
    GotPcRel32,
    /// `G + GOT + A - P`, 64 bits (`R_X86_64_GOTPCREL64`).
    GotPcRel64,
    /// `G + A`, 32 bits (`R_X86_64_GOT32`).
    Got32,
    /// `G + A`, 64 bits (`R_X86_64_GOT64`, `R_X86_64_GOTPLT64`).
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
    /// General-dynamic TLS: PC-relative 32-bit reference to a GOT pair (module, offset) passed
    /// to `__tls_get_addr` (`R_X86_64_TLSGD`).
    TlsGd,
    /// Local-dynamic TLS: PC-relative 32-bit reference to the module's GOT pair
    /// (`R_X86_64_TLSLD`).
    TlsLd,
    /// Offset of the target in its TLS block, 32 bits (`R_X86_64_DTPOFF32`).
    DtpOff32,
    /// Offset of the target in its TLS block, 64 bits (`R_X86_64_DTPOFF64`).
    DtpOff64,
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

const STATIC_TLS: &str = "the initial-exec and local-exec TLS models need the thread's static TLS block, which JIT'd \
     code cannot extend; compile with -fPIC (or -ftls-model=global-dynamic)";

/// Maps an ELF `r_type` to what it computes.
///
/// # Errors
/// [`Unsupported`] for types clang does not emit in relocatable x86-64 objects we can load, or
/// that need the static TLS block.
pub fn from_elf(r_type: RelocationType) -> Result<Reloc, Unsupported> {
    use object::elf::*;
    Ok(match r_type {
        R_X86_64_64 => Reloc::Abs64,
        R_X86_64_32 => Reloc::Abs32,
        R_X86_64_32S => Reloc::Abs32S,
        R_X86_64_16 => Reloc::Abs16,
        R_X86_64_8 => Reloc::Abs8,
        R_X86_64_PC64 => Reloc::Pc64,
        R_X86_64_PC32 => Reloc::Pc32,
        R_X86_64_PC16 => Reloc::Pc16,
        R_X86_64_PC8 => Reloc::Pc8,
        R_X86_64_PLT32 => Reloc::Plt32,
        R_X86_64_PLTOFF64 => Reloc::PltOff64,
        R_X86_64_GOTPCREL | R_X86_64_GOTPCRELX | R_X86_64_REX_GOTPCRELX => Reloc::GotPcRel32,
        R_X86_64_GOTPCREL64 => Reloc::GotPcRel64,
        R_X86_64_GOT32 => Reloc::Got32,
        R_X86_64_GOT64 | R_X86_64_GOTPLT64 => Reloc::Got64,
        R_X86_64_GOTOFF64 => Reloc::GotOff64,
        R_X86_64_GOTPC32 => Reloc::GotPc32,
        R_X86_64_GOTPC64 => Reloc::GotPc64,
        R_X86_64_SIZE32 => Reloc::Size32,
        R_X86_64_SIZE64 => Reloc::Size64,
        R_X86_64_TLSGD => Reloc::TlsGd,
        R_X86_64_TLSLD => Reloc::TlsLd,
        R_X86_64_DTPOFF32 => Reloc::DtpOff32,
        R_X86_64_DTPOFF64 => Reloc::DtpOff64,
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
    })
}

/// The psABI name of an x86-64 ELF relocation type, e.g. `R_X86_64_PC32`.
pub fn elf_name(r_type: RelocationType) -> String {
    object::elf::NAMES_R_X86_64
        .name(r_type)
        .map_or_else(|| format!("R_X86_64 type {}", r_type.0), str::to_owned)
}

impl Reloc {
    /// True if the relocation needs a GOT entry for its target.
    pub fn needs_got(self) -> bool {
        matches!(self, Reloc::GotPcRel32 | Reloc::GotPcRel64 | Reloc::Got32 | Reloc::Got64)
    }

    /// True if the relocation refers to the GOT base (so `_GLOBAL_OFFSET_TABLE_` must exist).
    pub fn needs_got_base(self) -> bool {
        matches!(
            self,
            Reloc::PltOff64 | Reloc::GotOff64 | Reloc::GotPc32 | Reloc::GotPc64 | Reloc::Got32 | Reloc::Got64
        )
    }

    /// Number of bytes the relocation writes.
    pub fn width(self) -> usize {
        match self {
            Reloc::Abs64 | Reloc::Pc64 | Reloc::PltOff64 | Reloc::GotPcRel64 | Reloc::Got64 => 8,
            Reloc::GotOff64 | Reloc::GotPc64 | Reloc::Size64 | Reloc::DtpOff64 => 8,
            Reloc::Abs16 | Reloc::Pc16 => 2,
            Reloc::Abs8 | Reloc::Pc8 => 1,
            _ => 4,
        }
    }

    /// True if the value is sign-checked (PC-relative and `32S`); false for zero-extended
    /// absolute fields (`R_X86_64_32`, 16, 8), which must fit unsigned.
    fn signed(self) -> bool {
        !matches!(self, Reloc::Abs32 | Reloc::Abs16 | Reloc::Abs8)
    }
}

/// The value did not fit the relocation's field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutOfRange {
    /// The computed value.
    pub value: i128,
    /// Field width in bytes.
    pub width: usize,
}

/// Writes `value` (already computed with the relocation's formula) into `place` with the
/// relocation's width, little-endian, after checking that it fits.
///
/// # Errors
/// [`OutOfRange`] when the value does not fit the field.
///
/// # Panics
/// If `place` is shorter than [`Reloc::width`]; callers check bounds when reading the object.
pub fn write(kind: Reloc, place: &mut [u8], value: i128) -> Result<(), OutOfRange> {
    let width = kind.width();
    let bits = width as u32 * 8;
    let fits = if width == 8 {
        value >= i64::MIN as i128 && value <= u64::MAX as i128
    } else if kind.signed() {
        let half = 1i128 << (bits - 1);
        (-half..half).contains(&value)
    } else {
        (0..(1i128 << bits)).contains(&value)
    };
    if !fits {
        return Err(OutOfRange { value, width });
    }
    place[..width].copy_from_slice(&(value as u64).to_le_bytes()[..width]);
    Ok(())
}

/// Size in bytes of one jump stub.
pub const STUB_SIZE: usize = 8;

/// A stub that jumps through the GOT entry at `got_entry`: `jmp *disp32(%rip)` (FF 25),
/// padded with `int3`. `stub` is the stub's own address.
///
/// # Errors
/// [`OutOfRange`] if the GOT entry is more than 2 GiB away.
pub fn stub(stub: u64, got_entry: u64) -> Result<[u8; STUB_SIZE], OutOfRange> {
    let mut code = [0xff, 0x25, 0, 0, 0, 0, 0xcc, 0xcc];
    let disp = got_entry as i128 - (stub as i128 + 6);
    write(Reloc::Pc32, &mut code[2..6], disp)?;
    Ok(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_range_checked_by_signedness() {
        let mut b = [0u8; 8];
        write(Reloc::Pc32, &mut b, -4).unwrap();
        assert_eq!(b[..4], [0xfc, 0xff, 0xff, 0xff]);
        assert!(write(Reloc::Pc32, &mut b, 1 << 31).is_err());
        assert!(write(Reloc::Pc32, &mut b, -(1 << 31)).is_ok());
        write(Reloc::Abs32, &mut b, 0xffff_ffff).unwrap();
        assert!(write(Reloc::Abs32, &mut b, -1).is_err(), "R_X86_64_32 zero-extends");
        assert!(write(Reloc::Abs32S, &mut b, -1).is_ok(), "R_X86_64_32S sign-extends");
        assert!(write(Reloc::Abs32S, &mut b, 0x8000_0000).is_err());
        write(Reloc::Abs64, &mut b, 0x1122_3344_5566_7788).unwrap();
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
        assert_eq!(from_elf(object::elf::R_X86_64_REX_GOTPCRELX), Ok(Reloc::GotPcRel32));
    }
}
