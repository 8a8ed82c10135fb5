//! AArch64 relocations as clang/LLVM 22 emit them in ELF relocatable objects.
//!
//! Names, numbers, formulas and range checks from Arm's "ELF for the Arm 64-bit Architecture"
//! (aaelf64), §5.7 "Relocation" (tables "Static data relocations", "Group relocations to
//! create a 16-, 32-, 48-, or 64-bit unsigned data value or address inline", "Relocations to
//! generate 19, 21 and 33 bit PC-relative addresses", "Relocations for control-flow
//! instructions", "GOT-relative instruction relocations"); instruction fields from the Arm
//! Architecture Reference Manual (A64 encodings of ADR/ADRP, ADD (immediate), LDR/STR
//! (unsigned offset), MOVZ/MOVK, B/BL, B.cond, TBZ). Notation: S target, A addend, P place,
//! G the target's GOT entry, L call target (its stub if it has one), `Page(x)` = `x & !0xfff`.

use object::elf::*;

use super::{FixupError, TableUse, Unsupported, fits_signed, fits_unsigned, put_le};

/// What an AArch64 relocation computes and which instruction field or data width holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EdgeKind {
    /// `S + A`, 64 bits (`R_AARCH64_ABS64`).
    Abs64,
    /// `S + A`, 32 bits, signed or unsigned (`R_AARCH64_ABS32`).
    Abs32,
    /// `S + A`, 16 bits, signed or unsigned (`R_AARCH64_ABS16`).
    Abs16,
    /// `S + A - P`, 64 bits (`R_AARCH64_PREL64`).
    Prel64,
    /// `S + A - P`, 32 bits (`R_AARCH64_PREL32`).
    Prel32,
    /// `S + A - P`, 16 bits (`R_AARCH64_PREL16`).
    Prel16,
    /// `L + A - P` in a B or BL's 26-bit word offset, ±128 MiB (`R_AARCH64_CALL26`,
    /// `R_AARCH64_JUMP26`): through a stub when the target is not in this link.
    Branch26,
    /// `S + A - P` in B.cond/CBZ/CBNZ's 19-bit word offset, ±1 MiB (`R_AARCH64_CONDBR19`).
    CondBranch19,
    /// `S + A - P` in TBZ/TBNZ's 14-bit word offset, ±32 KiB (`R_AARCH64_TSTBR14`).
    TestBranch14,
    /// `S + A - P` in a literal load's 19-bit word offset, ±1 MiB (`R_AARCH64_LD_PREL_LO19`).
    LoadLiteral19,
    /// `S + A - P` in ADR's 21-bit byte offset, ±1 MiB (`R_AARCH64_ADR_PREL_LO21`).
    Adr21,
    /// `Page(S + A) - Page(P)` in ADRP's 21-bit page offset, ±4 GiB
    /// (`R_AARCH64_ADR_PREL_PG_HI21`; `_NC` without the check).
    Page21 {
        /// Checked for overflow (not the `_NC` form).
        checked: bool,
    },
    /// `(S + A) & 0xfff` in ADD (immediate)'s 12-bit field (`R_AARCH64_ADD_ABS_LO12_NC`).
    AddLo12,
    /// `(S + A) & 0xfff` scaled by the access size `1 << shift` in a load or store's 12-bit
    /// unsigned offset (`R_AARCH64_LDST{8,16,32,64,128}_ABS_LO12_NC`, shift 0..=4).
    LdStLo12 {
        /// log2 of the access size in bytes.
        shift: u8,
    },
    /// `Page(G) - Page(P)` in ADRP (`R_AARCH64_ADR_GOT_PAGE`).
    GotPage21,
    /// `G & 0xfff` scaled by 8 in a 64-bit LDR (`R_AARCH64_LD64_GOT_LO12_NC`).
    GotLo12,
    /// `Page(G) - Page(P)` in ADRP, G the target's TLS descriptor
    /// (`R_AARCH64_TLSDESC_ADR_PAGE21`).
    TlsDescPage21,
    /// `G & 0xfff`, G the target's TLS descriptor, in the LDR of its resolver (scaled by 8,
    /// `R_AARCH64_TLSDESC_LD64_LO12`) or the ADD of its address (`R_AARCH64_TLSDESC_ADD_LO12`).
    TlsDescLo12 {
        /// The LDR (scaled) rather than the ADD.
        load: bool,
    },
    /// Marks the BLR that calls the descriptor's resolver; patches nothing
    /// (`R_AARCH64_TLSDESC_CALL`).
    TlsDescCall,
    /// Bits `[16*group + 15 : 16*group]` of `S + A` in MOVZ/MOVK's 16-bit field
    /// (`R_AARCH64_MOVW_UABS_G0..G3`, with `_NC` forms for groups 0-2).
    MovWideAbs {
        /// Which 16-bit group, 0..=3.
        group: u8,
        /// Checked for overflow beyond the group (not the `_NC` forms; G3 never is).
        checked: bool,
    },
    /// `G + A - P`, 32 bits: a PC-relative pointer to the target's GOT entry
    /// (`R_AARCH64_GOTPCREL32`; Mach-O `ARM64_RELOC_POINTER_TO_GOT`, as in `.eh_frame`
    /// personalities and `__gcc_except_tab` type info).
    GotPrel32,
    /// Offset of the target in its TLS block, 64 bits (`R_AARCH64_TLS_DTPREL64`; Mach-O: a
    /// TLV descriptor's offset word).
    DtpRel64,
    /// `P - S + A`, 32 bits: the subtrahend side of a Mach-O `ARM64_RELOC_SUBTRACTOR` pair
    /// when the place lies in the minuend's block.
    NegDelta32,
    /// `P - S + A`, 64 bits (as [`NegDelta32`](Self::NegDelta32)).
    NegDelta64,
}

const STATIC_TLS: &str = "the initial-exec and local-exec TLS models need the thread's static TLS block, which JIT'd \
     code cannot extend; compile with -fPIC";
const TRADITIONAL_TLS: &str = "the traditional general-dynamic TLS dialect is not linked; use the default \
     (TLS descriptors) or -femulated-tls";

/// Maps an ELF `r_type` to its edge kind; `Ok(None)` for `R_AARCH64_NONE`.
///
/// # Errors
/// [`Unsupported`] for TLS models that need the static TLS block or descriptors, and types
/// clang does not emit in relocatable objects.
pub fn from_elf(r_type: RelocationType) -> Result<Option<EdgeKind>, Unsupported> {
    let unsupported = |advice| -> Result<Option<EdgeKind>, Unsupported> {
        Err(Unsupported { name: elf_name(r_type), advice })
    };
    Ok(Some(match r_type {
        R_AARCH64_NONE => return Ok(None),
        R_AARCH64_ABS64 => EdgeKind::Abs64,
        R_AARCH64_ABS32 => EdgeKind::Abs32,
        R_AARCH64_ABS16 => EdgeKind::Abs16,
        R_AARCH64_PREL64 => EdgeKind::Prel64,
        R_AARCH64_PREL32 => EdgeKind::Prel32,
        R_AARCH64_PREL16 => EdgeKind::Prel16,
        R_AARCH64_CALL26 | R_AARCH64_JUMP26 => EdgeKind::Branch26,
        R_AARCH64_CONDBR19 => EdgeKind::CondBranch19,
        R_AARCH64_TSTBR14 => EdgeKind::TestBranch14,
        R_AARCH64_LD_PREL_LO19 => EdgeKind::LoadLiteral19,
        R_AARCH64_ADR_PREL_LO21 => EdgeKind::Adr21,
        R_AARCH64_ADR_PREL_PG_HI21 => EdgeKind::Page21 { checked: true },
        R_AARCH64_ADR_PREL_PG_HI21_NC => EdgeKind::Page21 { checked: false },
        R_AARCH64_ADD_ABS_LO12_NC => EdgeKind::AddLo12,
        R_AARCH64_LDST8_ABS_LO12_NC => EdgeKind::LdStLo12 { shift: 0 },
        R_AARCH64_LDST16_ABS_LO12_NC => EdgeKind::LdStLo12 { shift: 1 },
        R_AARCH64_LDST32_ABS_LO12_NC => EdgeKind::LdStLo12 { shift: 2 },
        R_AARCH64_LDST64_ABS_LO12_NC => EdgeKind::LdStLo12 { shift: 3 },
        R_AARCH64_LDST128_ABS_LO12_NC => EdgeKind::LdStLo12 { shift: 4 },
        R_AARCH64_ADR_GOT_PAGE => EdgeKind::GotPage21,
        R_AARCH64_GOTPCREL32 => EdgeKind::GotPrel32,
        R_AARCH64_LD64_GOT_LO12_NC => EdgeKind::GotLo12,
        R_AARCH64_MOVW_UABS_G0 => EdgeKind::MovWideAbs { group: 0, checked: true },
        R_AARCH64_MOVW_UABS_G0_NC => EdgeKind::MovWideAbs { group: 0, checked: false },
        R_AARCH64_MOVW_UABS_G1 => EdgeKind::MovWideAbs { group: 1, checked: true },
        R_AARCH64_MOVW_UABS_G1_NC => EdgeKind::MovWideAbs { group: 1, checked: false },
        R_AARCH64_MOVW_UABS_G2 => EdgeKind::MovWideAbs { group: 2, checked: true },
        R_AARCH64_MOVW_UABS_G2_NC => EdgeKind::MovWideAbs { group: 2, checked: false },
        R_AARCH64_MOVW_UABS_G3 => EdgeKind::MovWideAbs { group: 3, checked: false },
        R_AARCH64_TLSIE_ADR_GOTTPREL_PAGE21
        | R_AARCH64_TLSIE_LD64_GOTTPREL_LO12_NC
        | R_AARCH64_TLSLE_ADD_TPREL_HI12
        | R_AARCH64_TLSLE_ADD_TPREL_LO12
        | R_AARCH64_TLSLE_ADD_TPREL_LO12_NC => return unsupported(STATIC_TLS),
        R_AARCH64_TLSDESC_ADR_PAGE21 => EdgeKind::TlsDescPage21,
        R_AARCH64_TLSDESC_LD64_LO12 => EdgeKind::TlsDescLo12 { load: true },
        R_AARCH64_TLSDESC_ADD_LO12 => EdgeKind::TlsDescLo12 { load: false },
        R_AARCH64_TLSDESC_CALL => EdgeKind::TlsDescCall,
        R_AARCH64_TLSGD_ADR_PAGE21 | R_AARCH64_TLSGD_ADD_LO12_NC => return unsupported(TRADITIONAL_TLS),
        _ => {
            return unsupported(
                "clang does not emit it in relocatable objects; this linker does not handle it",
            );
        }
    }))
}

/// The aaelf64 name of an AArch64 ELF relocation type, e.g. `R_AARCH64_CALL26`.
pub fn elf_name(r_type: RelocationType) -> String {
    NAMES_R_AARCH64.name(r_type).map_or_else(|| format!("R_AARCH64 type {}", r_type.0), str::to_owned)
}

fn page(x: i128) -> i128 {
    x & !0xfff
}

impl EdgeKind {
    /// The aaelf64 name of the relocation (the first, for kinds several types share).
    pub fn name(self) -> &'static str {
        match self {
            EdgeKind::Abs64 => "R_AARCH64_ABS64",
            EdgeKind::Abs32 => "R_AARCH64_ABS32",
            EdgeKind::Abs16 => "R_AARCH64_ABS16",
            EdgeKind::Prel64 => "R_AARCH64_PREL64",
            EdgeKind::Prel32 => "R_AARCH64_PREL32",
            EdgeKind::Prel16 => "R_AARCH64_PREL16",
            EdgeKind::Branch26 => "R_AARCH64_CALL26",
            EdgeKind::CondBranch19 => "R_AARCH64_CONDBR19",
            EdgeKind::TestBranch14 => "R_AARCH64_TSTBR14",
            EdgeKind::LoadLiteral19 => "R_AARCH64_LD_PREL_LO19",
            EdgeKind::Adr21 => "R_AARCH64_ADR_PREL_LO21",
            EdgeKind::Page21 { checked: true } => "R_AARCH64_ADR_PREL_PG_HI21",
            EdgeKind::Page21 { checked: false } => "R_AARCH64_ADR_PREL_PG_HI21_NC",
            EdgeKind::AddLo12 => "R_AARCH64_ADD_ABS_LO12_NC",
            EdgeKind::LdStLo12 { shift: 0 } => "R_AARCH64_LDST8_ABS_LO12_NC",
            EdgeKind::LdStLo12 { shift: 1 } => "R_AARCH64_LDST16_ABS_LO12_NC",
            EdgeKind::LdStLo12 { shift: 2 } => "R_AARCH64_LDST32_ABS_LO12_NC",
            EdgeKind::LdStLo12 { shift: 3 } => "R_AARCH64_LDST64_ABS_LO12_NC",
            EdgeKind::LdStLo12 { .. } => "R_AARCH64_LDST128_ABS_LO12_NC",
            EdgeKind::GotPage21 => "R_AARCH64_ADR_GOT_PAGE",
            EdgeKind::GotLo12 => "R_AARCH64_LD64_GOT_LO12_NC",
            EdgeKind::TlsDescPage21 => "R_AARCH64_TLSDESC_ADR_PAGE21",
            EdgeKind::TlsDescLo12 { load: true } => "R_AARCH64_TLSDESC_LD64_LO12",
            EdgeKind::TlsDescLo12 { load: false } => "R_AARCH64_TLSDESC_ADD_LO12",
            EdgeKind::TlsDescCall => "R_AARCH64_TLSDESC_CALL",
            EdgeKind::MovWideAbs { group: 0, checked: true } => "R_AARCH64_MOVW_UABS_G0",
            EdgeKind::MovWideAbs { group: 0, .. } => "R_AARCH64_MOVW_UABS_G0_NC",
            EdgeKind::MovWideAbs { group: 1, checked: true } => "R_AARCH64_MOVW_UABS_G1",
            EdgeKind::MovWideAbs { group: 1, .. } => "R_AARCH64_MOVW_UABS_G1_NC",
            EdgeKind::MovWideAbs { group: 2, checked: true } => "R_AARCH64_MOVW_UABS_G2",
            EdgeKind::MovWideAbs { group: 2, .. } => "R_AARCH64_MOVW_UABS_G2_NC",
            EdgeKind::MovWideAbs { .. } => "R_AARCH64_MOVW_UABS_G3",
            EdgeKind::GotPrel32 => "R_AARCH64_GOTPCREL32",
            EdgeKind::DtpRel64 => "R_AARCH64_TLS_DTPREL64",
            EdgeKind::NegDelta32 | EdgeKind::NegDelta64 => "ARM64_RELOC_SUBTRACTOR",
        }
    }

    /// Which table entry the edge needs.
    pub fn table_use(self) -> TableUse {
        match self {
            EdgeKind::GotPage21 | EdgeKind::GotLo12 | EdgeKind::GotPrel32 => TableUse::Got,
            EdgeKind::Branch26 => TableUse::CallStub,
            EdgeKind::TlsDescPage21 | EdgeKind::TlsDescLo12 { .. } | EdgeKind::TlsDescCall => {
                TableUse::TlsDesc
            }
            _ => TableUse::None,
        }
    }

    /// Never: AArch64 code reaches every address with ADRP or MOVZ/MOVK.
    pub fn needs_low_address(self) -> bool {
        false
    }

    /// True for [`DtpRel64`](Self::DtpRel64), which reads the target's offset in its TLS block.
    pub fn is_tls_offset(self) -> bool {
        self == EdgeKind::DtpRel64
    }

    /// Number of bytes the edge patches (4 for every instruction).
    pub fn width(self) -> usize {
        match self {
            EdgeKind::Abs64 | EdgeKind::Prel64 | EdgeKind::DtpRel64 | EdgeKind::NegDelta64 => 8,
            EdgeKind::Abs16 | EdgeKind::Prel16 => 2,
            _ => 4,
        }
    }

    /// Computes the value by aaelf64's formula and encodes it into `place`: data little-endian,
    /// instruction immediates into their fields with the instruction's other bits kept.
    ///
    /// # Errors
    /// [`FixupError::OutOfRange`] beyond a checked field's range; [`FixupError::Misaligned`]
    /// for branch targets not a multiple of 4 and scaled load/store offsets not a multiple of
    /// the access size.
    ///
    /// # Panics
    /// If `place` is shorter than [`width`](Self::width); the graph builder checks bounds.
    pub fn apply(self, place: &mut [u8], f: &super::Fixup) -> Result<(), FixupError> {
        let (s, a, p) = (f.target as i128, f.addend as i128, f.place as i128);
        let out = |value| Err(FixupError::OutOfRange { value });
        let data = |place: &mut [u8], value: i128, bits: u32| {
            // Signed or unsigned: aaelf64 checks -2^(n-1) <= X < 2^n for data relocations.
            if bits < 64 && !(fits_signed(value, bits) || fits_unsigned(value, bits)) {
                return out(value);
            }
            put_le(&mut place[..bits as usize / 8], value);
            Ok(())
        };
        match self {
            EdgeKind::Abs64 => data(place, s + a, 64),
            EdgeKind::Abs32 => data(place, s + a, 32),
            EdgeKind::Abs16 => data(place, s + a, 16),
            EdgeKind::Prel64 => data(place, s + a - p, 64),
            EdgeKind::Prel32 => data(place, s + a - p, 32),
            EdgeKind::Prel16 => data(place, s + a - p, 16),
            EdgeKind::NegDelta64 => data(place, p - s + a, 64),
            EdgeKind::NegDelta32 => data(place, p - s + a, 32),
            EdgeKind::GotPrel32 => data(place, f.got_entry as i128 + a - p, 32),
            EdgeKind::DtpRel64 => data(place, f.tls_offset as i128 + a, 64),
            EdgeKind::Branch26 => {
                let v = f.call_target as i128 + a - p;
                patch(place, word_offset(v, 26)?, 0, 26);
                Ok(())
            }
            EdgeKind::CondBranch19 | EdgeKind::LoadLiteral19 => {
                patch(place, word_offset(s + a - p, 19)?, 5, 19);
                Ok(())
            }
            EdgeKind::TestBranch14 => {
                patch(place, word_offset(s + a - p, 14)?, 5, 14);
                Ok(())
            }
            EdgeKind::Adr21 => {
                let v = s + a - p;
                if !fits_signed(v, 21) {
                    return out(v);
                }
                patch_adr(place, v);
                Ok(())
            }
            EdgeKind::Page21 { checked } => adrp(place, s + a, p, checked),
            EdgeKind::GotPage21 | EdgeKind::TlsDescPage21 => adrp(place, f.got_entry as i128 + a, p, true),
            EdgeKind::AddLo12 => {
                patch(place, (s + a) & 0xfff, 10, 12);
                Ok(())
            }
            EdgeKind::LdStLo12 { shift } => {
                let lo = (s + a) & 0xfff;
                scaled(place, lo, shift)
            }
            EdgeKind::GotLo12 | EdgeKind::TlsDescLo12 { load: true } => {
                scaled(place, (f.got_entry as i128 + a) & 0xfff, 3)
            }
            EdgeKind::TlsDescLo12 { load: false } => {
                patch(place, (f.got_entry as i128 + a) & 0xfff, 10, 12);
                Ok(())
            }
            EdgeKind::TlsDescCall => Ok(()),
            EdgeKind::MovWideAbs { group, checked } => {
                let v = s + a;
                let shift = 16 * u32::from(group);
                if checked && !fits_unsigned(v, shift + 16) {
                    return out(v);
                }
                patch(place, (v >> shift) & 0xffff, 5, 16);
                Ok(())
            }
        }
    }

    /// Advice for a value out of range.
    pub fn out_of_range_hint(self, defined_here: bool) -> &'static str {
        match self {
            EdgeKind::Page21 { .. } | EdgeKind::Adr21 | EdgeKind::Prel32 if !defined_here => {
                "; the symbol is outside the ±4 GiB reach of ADRP: compile with -fPIC so the access goes \
                 through the GOT"
            }
            EdgeKind::Branch26 => "; a branch reaches ±128 MiB; this unit's code is larger than that",
            _ => "",
        }
    }
}

/// ADRP to the page of `x` from the page of `p`; `checked`: within ±4 GiB.
fn adrp(place: &mut [u8], x: i128, p: i128, checked: bool) -> Result<(), FixupError> {
    let v = page(x) - page(p);
    if checked && !fits_signed(v, 33) {
        return Err(FixupError::OutOfRange { value: v });
    }
    patch_adr(place, v >> 12);
    Ok(())
}

/// `v / 4` for a word-offset field of `bits` bits.
fn word_offset(v: i128, bits: u32) -> Result<i128, FixupError> {
    if v & 3 != 0 {
        return Err(FixupError::Misaligned { value: v, align: 4 });
    }
    if !fits_signed(v, bits + 2) {
        return Err(FixupError::OutOfRange { value: v });
    }
    Ok(v >> 2)
}

/// Writes `lo >> shift` into a load or store's 12-bit offset after checking the scale.
fn scaled(place: &mut [u8], lo: i128, shift: u8) -> Result<(), FixupError> {
    let align = 1u64 << shift;
    if lo & (align as i128 - 1) != 0 {
        return Err(FixupError::Misaligned { value: lo, align });
    }
    patch(place, lo >> shift, 10, 12);
    Ok(())
}

/// Replaces bits `[at + bits - 1 : at]` of the little-endian instruction word in `place` with
/// the low `bits` bits of `value`.
fn patch(place: &mut [u8], value: i128, at: u32, bits: u32) {
    let mask = ((1u32 << bits) - 1) << at;
    let word = u32::from_le_bytes([place[0], place[1], place[2], place[3]]);
    let word = (word & !mask) | (((value as u32) << at) & mask);
    place[..4].copy_from_slice(&word.to_le_bytes());
}

/// Writes a 21-bit ADR/ADRP immediate: `immlo` (bits 1:0) at 29, `immhi` (bits 20:2) at 5.
fn patch_adr(place: &mut [u8], imm: i128) {
    patch(place, imm & 3, 29, 2);
    patch(place, (imm >> 2) & 0x7ffff, 5, 19);
}

/// Size in bytes of one stub.
pub const STUB_SIZE: usize = 12;

/// A stub that jumps through the GOT entry at `got_entry`, as LLVM JITLink's aarch64 pointer
/// jump stubs do: `adrp x16, Page(entry)`; `ldr x16, [x16, entry & 0xfff]`; `br x16`. x16 is
/// IP0, which AAPCS64 reserves for veneers, so the stub is also the veneer for calls beyond
/// ±128 MiB. `stub` is the stub's own address.
///
/// # Errors
/// [`FixupError`] if the GOT entry is more than 4 GiB away or not 8-aligned.
pub fn stub(stub: u64, got_entry: u64) -> Result<[u8; STUB_SIZE], FixupError> {
    const ADRP_X16: u32 = 0x9000_0010;
    const LDR_X16_X16: u32 = 0xf940_0210;
    const BR_X16: u32 = 0xd61f_0200;
    let mut code = [0u8; STUB_SIZE];
    code[0..4].copy_from_slice(&ADRP_X16.to_le_bytes());
    code[4..8].copy_from_slice(&LDR_X16_X16.to_le_bytes());
    code[8..12].copy_from_slice(&BR_X16.to_le_bytes());
    let f = super::Fixup { place: stub, got_entry, ..Default::default() };
    EdgeKind::GotPage21.apply(&mut code[0..4], &f)?;
    EdgeKind::GotLo12.apply(&mut code[4..8], &f)?;
    Ok(code)
}

#[cfg(test)]
mod tests;
