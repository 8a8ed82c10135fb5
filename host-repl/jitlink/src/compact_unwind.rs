//! Mach-O compact unwind (`__LD,__compact_unwind`) turned into DWARF call frame information, so
//! that C++ exceptions unwind through JIT'd frames with the unwinder of whatever process runs
//! them (`__register_frame` of libgcc or libunwind).
//!
//! clang emits only compact unwind for iOS and its simulators (and for most functions on
//! macOS), and the format reaches the unwinder only through the `__unwind_info` that ld64
//! builds for a whole image. Each entry is 32 bytes: function start (relocated), length (u32),
//! encoding (u32), personality (relocated), LSDA (relocated). Encodings from Apple's
//! `<mach-o/compact_unwind_encoding.h>`, read as libunwind's `CompactUnwinder.hpp` reads them.
//!
//! Each entry becomes one CIE and one FDE (absolute pointers, DWARF "zPLR" augmentation). The
//! rules hold from the function's first byte: exact in the body, where calls (and so throws)
//! happen, not inside the prologue and epilogue, which make no calls. Entries in the modes that
//! only point at DWARF (`*_MODE_DWARF`) or need the function's code (`STACK_IND`) get no FDE.

use std::collections::HashMap;

use crate::arch::{Arch, EdgeKind, aarch64, x86_64};
use crate::graph::{Block, BlockId, Edge, LinkGraph, Role, Section, SegmentKind, SymbolId};

/// Size of one `compact_unwind_entry` in a 64-bit object.
const ENTRY: usize = 32;

const HAS_LSDA: u32 = 0x4000_0000;
const MODE_MASK: u32 = 0x0f00_0000;

const X86_64_MODE_RBP_FRAME: u32 = 0x0100_0000;
const X86_64_MODE_STACK_IMMD: u32 = 0x0200_0000;
const ARM64_MODE_FRAMELESS: u32 = 0x0200_0000;
const ARM64_MODE_FRAME: u32 = 0x0400_0000;

// DWARF call frame instructions (DWARF 5 §6.4.2).
const DW_CFA_DEF_CFA: u8 = 0x0c;
const DW_CFA_DEF_CFA_OFFSET: u8 = 0x0e;
const DW_CFA_OFFSET: u8 = 0x80;
const DW_CFA_OFFSET_EXTENDED: u8 = 0x05;
const DW_CFA_NOP: u8 = 0x00;

/// A relocated pointer field of an entry: target symbol and addend.
type Pointer = Option<(SymbolId, i64)>;

/// Replaces the compact unwind block `cu` (live, its edges built) with a `__eh_frame` block
/// holding the same unwind rules as DWARF CFI, in the same input.
pub(crate) fn to_eh_frame(g: &mut LinkGraph, cu: BlockId) {
    g.blocks[cu].live = false;
    let data = g.blocks[cu].data.clone().unwrap_or_default();
    let pointers: HashMap<u64, (SymbolId, i64)> =
        g.blocks[cu].edges.iter().map(|e| (e.offset, (e.target, e.addend))).collect();
    let pointer = |off: usize| -> Pointer { pointers.get(&(off as u64)).copied() };
    let abs64 = match g.arch {
        Arch::X86_64 => EdgeKind::X86_64(x86_64::EdgeKind::Abs64),
        Arch::Aarch64 => EdgeKind::Aarch64(aarch64::EdgeKind::Abs64),
    };
    let mut out = Vec::new();
    let mut edges = Vec::new();
    for (i, entry) in data.chunks_exact(ENTRY).enumerate() {
        let word = |at: usize| u32::from_le_bytes(entry[at..at + 4].try_into().unwrap_or_default());
        let (length, encoding) = (word(8), word(12));
        let Some(function) = pointer(i * ENTRY) else { continue };
        let Some(rules) = rules(g.arch, encoding) else { continue };
        let personality = pointer(i * ENTRY + 16);
        let lsda = if encoding & HAS_LSDA != 0 { pointer(i * ENTRY + 24) } else { None };
        let mut put_pointer = |out: &mut Vec<u8>, p: (SymbolId, i64)| {
            edges.push(Edge { offset: out.len() as u64, kind: abs64, target: p.0, addend: p.1 });
            out.extend_from_slice(&0u64.to_le_bytes());
        };

        // CIE.
        let cie = out.len();
        out.extend_from_slice(&[0; 4]); // length, patched below
        out.extend_from_slice(&0u32.to_le_bytes()); // CIE id
        out.push(1); // version
        let mut aug = String::from("z");
        if personality.is_some() {
            aug.push('P');
        }
        if lsda.is_some() {
            aug.push('L');
        }
        aug.push('R');
        out.extend_from_slice(aug.as_bytes());
        out.push(0);
        out.push(1); // code alignment factor
        out.push(0x78); // data alignment factor: -8 (SLEB128)
        out.push(rules.return_address);
        let aug_len = if personality.is_some() { 9 } else { 0 } + usize::from(lsda.is_some()) + 1;
        out.push(aug_len as u8);
        if let Some(p) = personality {
            out.push(0x00); // DW_EH_PE_absptr
            put_pointer(&mut out, p);
        }
        if lsda.is_some() {
            out.push(0x00); // LSDA: DW_EH_PE_absptr
        }
        out.push(0x00); // FDE pointers: DW_EH_PE_absptr
        out.extend_from_slice(&rules.initial);
        close_record(&mut out, cie);

        // FDE.
        let fde = out.len();
        out.extend_from_slice(&[0; 4]);
        let cie_pointer = (out.len() - cie) as u32;
        out.extend_from_slice(&cie_pointer.to_le_bytes());
        put_pointer(&mut out, function);
        out.extend_from_slice(&u64::from(length).to_le_bytes());
        if let Some(l) = lsda {
            out.push(8);
            put_pointer(&mut out, l);
        } else {
            out.push(0);
        }
        out.extend_from_slice(&rules.body);
        close_record(&mut out, fde);
    }
    if out.is_empty() {
        return;
    }
    let input = g.sections[g.blocks[cu].section].input;
    g.sections.push(Section {
        name: "__TEXT,__eh_frame (from __compact_unwind)".into(),
        input,
        segment: SegmentKind::R,
        role: Role::EhFrame,
    });
    g.add_block(Block {
        section: g.sections.len() - 1,
        align: 8,
        size: out.len() as u64,
        data: Some(out),
        edges,
        live: true,
        addr: 0,
    });
}

/// Pads the record that starts at `start` to 8 bytes with `DW_CFA_nop` and writes its length.
fn close_record(out: &mut Vec<u8>, start: usize) {
    while !(out.len() - start).is_multiple_of(8) {
        out.push(DW_CFA_NOP);
    }
    let len = (out.len() - start - 4) as u32;
    out[start..start + 4].copy_from_slice(&len.to_le_bytes());
}

/// The CFI of one encoding: the CIE's return-address column and initial instructions, and
/// the FDE's instructions.
struct Rules {
    return_address: u8,
    initial: Vec<u8>,
    body: Vec<u8>,
}

/// `DW_CFA_offset` of DWARF register `reg` at `CFA - 8 * factored`; `None` if `factored`
/// does not fit the one-byte ULEB128 written here (no compiler saves registers that far).
fn offset(out: &mut Vec<u8>, reg: u8, factored: u32) -> Option<()> {
    let factored = u8::try_from(factored).ok().filter(|&f| f < 0x80)?;
    if reg < 64 {
        out.extend_from_slice(&[DW_CFA_OFFSET | reg, factored]);
    } else {
        out.extend_from_slice(&[DW_CFA_OFFSET_EXTENDED, reg, factored]);
    }
    Some(())
}

/// `DW_CFA_def_cfa_offset` with a ULEB128 operand.
fn def_cfa_offset(out: &mut Vec<u8>, mut v: u64) {
    out.push(DW_CFA_DEF_CFA_OFFSET);
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(byte);
            break;
        }
        out.push(byte | 0x80);
    }
}

fn rules(arch: Arch, encoding: u32) -> Option<Rules> {
    match arch {
        Arch::X86_64 => x86_64_rules(encoding),
        Arch::Aarch64 => arm64_rules(encoding),
    }
}

/// x86-64 DWARF register numbers (System V psABI, figure 3.36) of compact unwind's register
/// codes 1..=6: rbx, r12, r13, r14, r15, rbp.
const X86_64_REGS: [u8; 7] = [0, 3, 12, 13, 14, 15, 6];

fn x86_64_rules(encoding: u32) -> Option<Rules> {
    const RSP: u8 = 7;
    const RBP: u8 = 6;
    const RA: u8 = 16;
    // CFA = rsp + 8 at entry, the return address just below it.
    let initial = vec![DW_CFA_DEF_CFA, RSP, 8, DW_CFA_OFFSET | RA, 1];
    let mut body = Vec::new();
    match encoding & MODE_MASK {
        X86_64_MODE_RBP_FRAME => {
            // push rbp; mov rsp, rbp: CFA = rbp + 16, rbp saved at CFA - 16; the registers of
            // the five 3-bit fields at rbp - 8 * offset + 8 * i = CFA - 16 - 8 * (offset - i).
            body.extend_from_slice(&[DW_CFA_DEF_CFA, RBP, 16]);
            offset(&mut body, RBP, 2)?;
            let off = (encoding >> 16) & 0xff;
            for i in 0..5 {
                let code = (encoding >> (3 * i)) & 7;
                if code == 0 {
                    continue;
                }
                let reg = *X86_64_REGS.get(code as usize)?;
                offset(&mut body, reg, 2 + off.checked_sub(i)?)?;
            }
        }
        X86_64_MODE_STACK_IMMD => {
            // No frame pointer: CFA = rsp + stack size (return address included); the saved
            // registers lie just below the return address, in the order the permutation says.
            let size = u64::from((encoding >> 16) & 0xff) * 8;
            let count = ((encoding >> 10) & 7) as usize;
            let regs = unpermute(encoding & 0x3ff, count)?;
            def_cfa_offset(&mut body, size);
            for (i, code) in regs.iter().enumerate() {
                let reg = *X86_64_REGS.get(*code)?;
                // At CFA - 8 - 8 * count + 8 * i.
                offset(&mut body, reg, (1 + count - i) as u32)?;
            }
        }
        _ => return None,
    }
    Some(Rules { return_address: RA, initial, body })
}

/// The register codes (1..=6) saved by a frameless x86-64 function, in push order, from the
/// permutation number of `count` registers (libunwind's decoding of ld64's Lehmer code).
fn unpermute(mut p: u32, count: usize) -> Option<Vec<usize>> {
    let radices: &[u32] = match count {
        0 => &[],
        1 => &[1],
        2 => &[5, 1],
        3 => &[20, 4, 1],
        4 => &[60, 12, 3, 1],
        5 | 6 => &[120, 24, 6, 2, 1],
        _ => return None,
    };
    let mut digits: Vec<u32> = radices
        .iter()
        .map(|&r| {
            let d = p / r;
            p -= d * r;
            d
        })
        .collect();
    if count == 6 {
        digits.push(0);
    }
    let mut used = [false; 7];
    let mut regs = Vec::with_capacity(count);
    for &d in &digits {
        let reg = (1..7).filter(|&u| !used[u]).nth(d as usize)?;
        used[reg] = true;
        regs.push(reg);
    }
    Some(regs)
}

/// The callee-saved pairs an arm64 encoding flags, in the order libunwind restores them, each
/// pair's first register higher: x19/x20 ... x27/x28, then d8/d9 ... d14/d15 (DWARF v8 = 72);
/// the first at `CFA - 8 * slot`.
fn arm64_pairs(body: &mut Vec<u8>, encoding: u32, mut slot: u32) -> Option<()> {
    const PAIRS: [(u32, u8); 9] = [
        (0x001, 19),
        (0x002, 21),
        (0x004, 23),
        (0x008, 25),
        (0x010, 27),
        (0x100, 72),
        (0x200, 74),
        (0x400, 76),
        (0x800, 78),
    ];
    for (flag, first) in PAIRS {
        if encoding & flag != 0 {
            offset(body, first, slot)?;
            offset(body, first + 1, slot + 1)?;
            slot += 2;
        }
    }
    Some(())
}

fn arm64_rules(encoding: u32) -> Option<Rules> {
    const FP: u8 = 29;
    const LR: u8 = 30;
    const SP: u8 = 31;
    let initial = vec![DW_CFA_DEF_CFA, SP, 0];
    let mut body = Vec::new();
    match encoding & MODE_MASK {
        ARM64_MODE_FRAME => {
            // stp x29, x30, [sp, #-16]!; mov x29, sp: CFA = x29 + 16, x30 at CFA - 8, x29 at
            // CFA - 16; the flagged pairs below, first register of each pair higher.
            body.extend_from_slice(&[DW_CFA_DEF_CFA, FP, 16]);
            offset(&mut body, LR, 1)?;
            offset(&mut body, FP, 2)?;
            arm64_pairs(&mut body, encoding, 3)?;
        }
        ARM64_MODE_FRAMELESS => {
            // No frame record: CFA = sp + stack size, the return address still in x30, the
            // flagged pairs saved from the top of the frame down.
            def_cfa_offset(&mut body, u64::from((encoding >> 12) & 0xfff) * 16);
            arm64_pairs(&mut body, encoding, 1)?;
        }
        _ => return None,
    }
    Some(Rules { return_address: LR, initial, body })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frameless_permutations_decode_as_libunwind_does() {
        // One register: its code is the permutation (rbx = 0 → code 1).
        assert_eq!(unpermute(0, 1), Some(vec![1]));
        assert_eq!(unpermute(5, 1), Some(vec![6]));
        // Two registers, rbp then rbx: digits (5, 0) → 5 * 5 + 0.
        assert_eq!(unpermute(25, 2), Some(vec![6, 1]));
        // Six registers in order: permutation 0 is rbx, r12, r13, r14, r15, rbp.
        assert_eq!(unpermute(0, 6), Some(vec![1, 2, 3, 4, 5, 6]));
        assert_eq!(unpermute(0, 7), None);
    }

    #[test]
    fn rbp_frame_rules_place_saved_registers_below_rbp() {
        // RBP frame, offset 2, rbx then r12 saved: rbx at CFA-32, r12 at CFA-24.
        let r = x86_64_rules(0x0102_0000 | 1 | (2 << 3)).unwrap();
        assert_eq!(
            r.body,
            vec![DW_CFA_DEF_CFA, 6, 16, DW_CFA_OFFSET | 6, 2, DW_CFA_OFFSET | 3, 4, DW_CFA_OFFSET | 12, 3]
        );
        assert!(x86_64_rules(0x0400_0000).is_none(), "DWARF mode has no compact rules");
    }

    #[test]
    fn arm64_frame_rules_save_pairs_below_the_frame_record() {
        let r = arm64_rules(ARM64_MODE_FRAME | 0x001 | 0x100).unwrap();
        assert_eq!(
            r.body,
            vec![
                DW_CFA_DEF_CFA,
                29,
                16,
                DW_CFA_OFFSET | 30,
                1,
                DW_CFA_OFFSET | 29,
                2,
                DW_CFA_OFFSET | 19,
                3,
                DW_CFA_OFFSET | 20,
                4,
                DW_CFA_OFFSET_EXTENDED,
                72,
                5,
                DW_CFA_OFFSET_EXTENDED,
                73,
                6
            ]
        );
    }
}
