//! Every AArch64 edge kind against the encoding LLVM's assembler gives the same instruction
//! with the same immediate (`llvm-mc -triple=aarch64 -show-encoding`, LLVM 22.1), plus the
//! range and alignment errors aaelf64 requires.

use super::*;
use crate::arch::{Fixup, FixupError};

/// Applies `kind` to the instruction `insn` (with a zero immediate) for a fix-up computed from
/// `f`, returning the patched bytes.
fn fix(kind: EdgeKind, insn: [u8; 4], f: Fixup) -> Result<[u8; 4], FixupError> {
    let mut b = insn;
    kind.apply(&mut b, &f)?;
    Ok(b)
}

/// A fix-up at `place` to `target` (also the call target) with addend 0.
fn at(place: u64, target: u64) -> Fixup {
    Fixup { place, target, call_target: target, ..Default::default() }
}

const BL: [u8; 4] = [0x00, 0x00, 0x00, 0x94];
const ADRP_X0: [u8; 4] = [0x00, 0x00, 0x00, 0x90];
const ADD_X0: [u8; 4] = [0x00, 0x00, 0x00, 0x91];
const LDR_X0: [u8; 4] = [0x00, 0x00, 0x40, 0xf9];
const MOVZ_X0: [u8; 4] = [0x00, 0x00, 0x80, 0xd2];
const MOVK_X0_16: [u8; 4] = [0x00, 0x00, 0xa0, 0xf2];

#[test]
fn branches_encode_word_offsets_and_check_reach_and_alignment() {
    // bl #0x1000; b #-8 (B keeps its own opcode); bl #0x7fffffc, the farthest forward.
    assert_eq!(fix(EdgeKind::Branch26, BL, at(0x10000, 0x11000)), Ok([0x00, 0x04, 0x00, 0x94]));
    assert_eq!(fix(EdgeKind::Branch26, [0, 0, 0, 0x14], at(0x10008, 0x10000)), Ok([0xfe, 0xff, 0xff, 0x17]));
    assert_eq!(fix(EdgeKind::Branch26, BL, at(0, 0x7ff_fffc)), Ok([0xff, 0xff, 0xff, 0x95]));
    assert_eq!(
        fix(EdgeKind::Branch26, BL, at(0, 0x800_0000)),
        Err(FixupError::OutOfRange { value: 0x800_0000 })
    );
    assert_eq!(fix(EdgeKind::Branch26, BL, at(0, 6)), Err(FixupError::Misaligned { value: 6, align: 4 }));
    // The call target, not the symbol, is what a call reaches (its stub when it has one).
    let via_stub = Fixup { place: 0x1000, target: 1 << 40, call_target: 0x2000, ..Default::default() };
    assert_eq!(fix(EdgeKind::Branch26, BL, via_stub), Ok([0x00, 0x04, 0x00, 0x94]));
    // b.ne #0x40 (the condition in bits 3:0 is kept); cbz x3, #-0x100; tbz w0, #3, #0x20.
    assert_eq!(
        fix(EdgeKind::CondBranch19, [0x01, 0, 0, 0x54], at(0x100, 0x140)),
        Ok([0x01, 0x02, 0x00, 0x54])
    );
    assert_eq!(
        fix(EdgeKind::CondBranch19, [0x03, 0, 0, 0xb4], at(0x200, 0x100)),
        Ok([0x03, 0xf8, 0xff, 0xb4])
    );
    assert!(fix(EdgeKind::CondBranch19, [0x01, 0, 0, 0x54], at(0, 1 << 20)).is_err());
    assert_eq!(
        fix(EdgeKind::TestBranch14, [0x00, 0x00, 0x18, 0x36], at(0x20, 0x40)),
        Ok([0x00, 0x01, 0x18, 0x36])
    );
    assert!(fix(EdgeKind::TestBranch14, [0x00, 0x00, 0x18, 0x36], at(0, 1 << 15)).is_err());
    // ldr x0, #0x40 (literal).
    assert_eq!(
        fix(EdgeKind::LoadLiteral19, [0x00, 0, 0, 0x58], at(0x1000, 0x1040)),
        Ok([0x00, 0x02, 0x00, 0x58])
    );
}

#[test]
fn adr_and_adrp_split_their_immediate() {
    // adr x1, #0x12345; adr x1, #-3.
    let adr_x1 = [0x01, 0x00, 0x00, 0x10];
    assert_eq!(fix(EdgeKind::Adr21, adr_x1, at(0x1000, 0x13345)), Ok([0x21, 0x1a, 0x09, 0x30]));
    assert_eq!(fix(EdgeKind::Adr21, adr_x1, at(0x1003, 0x1000)), Ok([0xe1, 0xff, 0xff, 0x30]));
    assert!(fix(EdgeKind::Adr21, adr_x1, at(0, 1 << 20)).is_err());
    // adrp x2, #0x3000: pages, not bytes; the low 12 bits of both ends do not matter.
    let page = EdgeKind::Page21 { checked: true };
    assert_eq!(fix(page, [0x02, 0, 0, 0x90], at(0x4_0ffc, 0x4_3010)), Ok([0x02, 0x00, 0x00, 0xf0]));
    // adrp x16, #-0x7000.
    assert_eq!(fix(page, [0x10, 0, 0, 0x90], at(0x9000, 0x2fff)), Ok([0xd0, 0xff, 0xff, 0xb0]));
    // ±4 GiB: checked unless _NC.
    assert_eq!(fix(page, ADRP_X0, at(0, 1 << 32)), Err(FixupError::OutOfRange { value: 1 << 32 }));
    assert!(fix(page, ADRP_X0, at(1 << 32, 0)).is_ok(), "-4 GiB is in reach");
    assert!(fix(EdgeKind::Page21 { checked: false }, ADRP_X0, at(0, 1 << 32)).is_ok());
}

#[test]
fn low_twelve_bits_are_scaled_by_the_access_size() {
    // add x0, x0, #0x123.
    assert_eq!(fix(EdgeKind::AddLo12, ADD_X0, at(0, 0x7_7123)), Ok([0x00, 0x8c, 0x04, 0x91]));
    // ldrb w1, [x2, #0xabc]; ldrh ... #0x2bc; ldr w1 ... #0x2bc; ldr x1 ... #0x7f8; ldr q1 ... #0xff0.
    let cases: [(u8, [u8; 4], u64, [u8; 4]); 5] = [
        (0, [0x41, 0x00, 0x40, 0x39], 0x5abc, [0x41, 0xf0, 0x6a, 0x39]),
        (1, [0x41, 0x00, 0x40, 0x79], 0x52bc, [0x41, 0x78, 0x45, 0x79]),
        (2, [0x41, 0x00, 0x40, 0xb9], 0x52bc, [0x41, 0xbc, 0x42, 0xb9]),
        (3, [0x41, 0x00, 0x40, 0xf9], 0x57f8, [0x41, 0xfc, 0x43, 0xf9]),
        (4, [0x41, 0x00, 0xc0, 0x3d], 0x5ff0, [0x41, 0xfc, 0xc3, 0x3d]),
    ];
    for (shift, insn, target, want) in cases {
        assert_eq!(fix(EdgeKind::LdStLo12 { shift }, insn, at(0, target)), Ok(want), "shift {shift}");
    }
    assert_eq!(
        fix(EdgeKind::LdStLo12 { shift: 3 }, LDR_X0, at(0, 0x1004)),
        Err(FixupError::Misaligned { value: 4, align: 8 })
    );
    assert!(fix(EdgeKind::LdStLo12 { shift: 4 }, LDR_X0, at(0, 0x1008)).is_err());
}

#[test]
fn got_edges_use_the_entry_not_the_symbol() {
    let f = Fixup { place: 0x1000, target: 0xdead_0000, got_entry: 0x4010, ..Default::default() };
    // adrp x0, #0x3000 to the entry's page; ldr x16, [x16, #0x10].
    assert_eq!(fix(EdgeKind::GotPage21, ADRP_X0, f), Ok([0x00, 0x00, 0x00, 0xf0]));
    assert_eq!(fix(EdgeKind::GotLo12, [0x10, 0x02, 0x40, 0xf9], f), Ok([0x10, 0x0a, 0x40, 0xf9]));
    let odd = Fixup { got_entry: 0x4014, ..f };
    assert!(matches!(fix(EdgeKind::GotLo12, LDR_X0, odd), Err(FixupError::Misaligned { align: 8, .. })));
    // A TLS descriptor's ADRP, LDR (of its resolver) and ADD (of its address) address the
    // descriptor as GOT edges address the entry; the BLR's marker patches nothing.
    assert_eq!(fix(EdgeKind::TlsDescPage21, ADRP_X0, f), Ok([0x00, 0x00, 0x00, 0xf0]));
    assert_eq!(
        fix(EdgeKind::TlsDescLo12 { load: true }, [0x10, 0x02, 0x40, 0xf9], f),
        Ok([0x10, 0x0a, 0x40, 0xf9])
    );
    // add x0, x0, #0x10.
    assert_eq!(fix(EdgeKind::TlsDescLo12 { load: false }, ADD_X0, f), Ok([0x00, 0x40, 0x00, 0x91]));
    let blr_x1 = [0x20, 0x00, 0x3f, 0xd6];
    assert_eq!(fix(EdgeKind::TlsDescCall, blr_x1, f), Ok(blr_x1));
    assert_eq!(EdgeKind::GotPage21.table_use(), TableUse::Got);
    assert_eq!(EdgeKind::Branch26.table_use(), TableUse::CallStub);
}

#[test]
fn move_wide_takes_sixteen_bit_groups() {
    let v = 0xdef0_9abc_5678_1234u64;
    // movz x0, #0x1234 (G0_NC); movk x0, #0x5678, lsl #16; #0x9abc, lsl #32; #0xdef0, lsl #48.
    let g = |group, checked, insn| fix(EdgeKind::MovWideAbs { group, checked }, insn, at(0, v));
    assert_eq!(g(0, false, MOVZ_X0), Ok([0x80, 0x46, 0x82, 0xd2]));
    assert_eq!(g(1, false, MOVK_X0_16), Ok([0x00, 0xcf, 0xaa, 0xf2]));
    assert_eq!(g(2, false, [0x00, 0x00, 0xc0, 0xf2]), Ok([0x80, 0x57, 0xd3, 0xf2]));
    assert_eq!(g(3, false, [0x00, 0x00, 0xe0, 0xf2]), Ok([0x00, 0xde, 0xfb, 0xf2]));
    // Checked forms refuse bits above their group.
    assert!(g(0, true, MOVZ_X0).is_err());
    assert!(g(2, true, MOVZ_X0).is_err());
    let small = fix(EdgeKind::MovWideAbs { group: 1, checked: true }, MOVK_X0_16, at(0, 0x5678_1234));
    assert_eq!(small, Ok([0x00, 0xcf, 0xaa, 0xf2]));
}

#[test]
fn data_fields_take_signed_or_unsigned_values() {
    let mut b = [0u8; 8];
    let f = Fixup { place: 0x1000, target: 0x0f00, addend: 0x10, ..Default::default() };
    EdgeKind::Prel32.apply(&mut b, &f).unwrap();
    assert_eq!(b[..4], (-0xf0i32).to_le_bytes());
    EdgeKind::Abs64.apply(&mut b, &Fixup { target: 0x1122_3344_5566_7788, ..Default::default() }).unwrap();
    assert_eq!(b, 0x1122_3344_5566_7788u64.to_le_bytes());
    let abs32 = |target: u64, addend: i64| {
        EdgeKind::Abs32.apply(&mut [0u8; 4], &Fixup { target, addend, ..Default::default() })
    };
    assert!(abs32(0xffff_ffff, 0).is_ok(), "unsigned 32 bits");
    assert!(abs32(0, -0x8000_0000).is_ok(), "signed 32 bits");
    assert!(abs32(1 << 32, 0).is_err());
    assert!(abs32(0, -0x8000_0001).is_err());
}

#[test]
fn the_stub_loads_its_got_entry_into_ip0_and_branches() {
    // Stub at 0x10000, entry at 0x13008: adrp x16, #0x3000; ldr x16, [x16, #8]; br x16.
    let code = stub(0x10000, 0x13008).unwrap();
    let words: Vec<u32> = code.chunks(4).map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]])).collect();
    assert_eq!(words, [0xf000_0010, 0xf940_0610, 0xd61f_0200]);
    assert!(stub(0, 1 << 33).is_err());
}

#[test]
fn every_clang_relocation_maps_and_tls_models_get_advice() {
    for r in [
        R_AARCH64_ABS64,
        R_AARCH64_PREL32,
        R_AARCH64_PREL64,
        R_AARCH64_CALL26,
        R_AARCH64_JUMP26,
        R_AARCH64_ADR_PREL_PG_HI21,
        R_AARCH64_ADD_ABS_LO12_NC,
        R_AARCH64_LDST8_ABS_LO12_NC,
        R_AARCH64_LDST16_ABS_LO12_NC,
        R_AARCH64_LDST32_ABS_LO12_NC,
        R_AARCH64_LDST64_ABS_LO12_NC,
        R_AARCH64_LDST128_ABS_LO12_NC,
        R_AARCH64_ADR_GOT_PAGE,
        R_AARCH64_LD64_GOT_LO12_NC,
        R_AARCH64_MOVW_UABS_G0,
        R_AARCH64_MOVW_UABS_G1_NC,
        R_AARCH64_MOVW_UABS_G2_NC,
        R_AARCH64_MOVW_UABS_G3,
    ] {
        let kind = from_elf(r).unwrap().unwrap();
        let want = if r == R_AARCH64_JUMP26 { "R_AARCH64_CALL26".to_owned() } else { elf_name(r) };
        assert_eq!(kind.name(), want);
    }
    let ie = from_elf(R_AARCH64_TLSIE_ADR_GOTTPREL_PAGE21).unwrap_err();
    assert_eq!(ie.name, "R_AARCH64_TLSIE_ADR_GOTTPREL_PAGE21");
    assert!(ie.to_string().contains("-fPIC"));
    assert!(from_elf(R_AARCH64_TLSGD_ADR_PAGE21).unwrap_err().to_string().contains("TLS descriptors"));
    for r in [
        R_AARCH64_TLSDESC_ADR_PAGE21,
        R_AARCH64_TLSDESC_LD64_LO12,
        R_AARCH64_TLSDESC_ADD_LO12,
        R_AARCH64_TLSDESC_CALL,
    ] {
        let kind = from_elf(r).unwrap().unwrap();
        assert_eq!(kind.name(), elf_name(r));
        assert_eq!(kind.table_use(), TableUse::TlsDesc);
    }
    assert_eq!(from_elf(R_AARCH64_NONE), Ok(None));
}
