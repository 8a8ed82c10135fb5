//! Linker tests on objects built with `object::write`, with hand-computed expectations.

use object::write::{Object, Relocation, SectionId, StandardSegment, Symbol, SymbolId, SymbolSection};
use object::{
    Architecture, BinaryFormat, Endianness, RelocationFlags, SectionKind, SymbolFlags, SymbolKind,
    SymbolScope,
};

use super::*;

const PAGE: u64 = 4096;
const X86: LinkOptions =
    LinkOptions { page_size: PAGE, arch: Arch::X86_64, redefinable: false, keep_data: false };

struct Obj(Object<'static>);

impl Obj {
    fn new() -> Obj {
        Obj(Object::new(BinaryFormat::Elf, Architecture::X86_64, Endianness::Little))
    }
    fn section(&mut self, name: &str, kind: SectionKind, data: &[u8]) -> SectionId {
        let s = self.0.add_section(
            self.0.segment_name(StandardSegment::Text).to_vec(),
            name.as_bytes().to_vec(),
            kind,
        );
        self.0.append_section_data(s, data, 8);
        s
    }
    fn define(
        &mut self,
        name: &str,
        section: SectionId,
        value: u64,
        scope: SymbolScope,
        kind: SymbolKind,
    ) -> SymbolId {
        self.0.add_symbol(Symbol {
            name: name.as_bytes().to_vec(),
            value,
            size: 0,
            kind,
            scope,
            weak: false,
            section: SymbolSection::Section(section),
            flags: SymbolFlags::None,
        })
    }
    fn undefined(&mut self, name: &str) -> SymbolId {
        self.0.add_symbol(Symbol {
            name: name.as_bytes().to_vec(),
            value: 0,
            size: 0,
            kind: SymbolKind::Unknown,
            scope: SymbolScope::Dynamic,
            weak: false,
            section: SymbolSection::Undefined,
            flags: SymbolFlags::None,
        })
    }
    fn reloc(
        &mut self,
        section: SectionId,
        offset: u64,
        symbol: SymbolId,
        addend: i64,
        r_type: object::elf::RelocationType,
    ) {
        self.0
            .add_relocation(
                section,
                Relocation { offset, symbol, addend, flags: RelocationFlags::Elf { r_type } },
            )
            .unwrap();
    }
    fn input(self, name: &str) -> Input {
        Input::Object { name: name.into(), bytes: self.0.write().unwrap() }
    }
}

fn link(
    inputs: &[Input],
    dylib: &mut JitDylib,
    base: u64,
    ext: &[(&str, u64)],
) -> Result<LinkedUnit, LinkError> {
    let plan = plan(inputs, dylib, X86)?;
    plan.finish(base, &|n| ext.iter().find(|(e, _)| *e == n).map(|&(_, a)| a))
}

fn segment(u: &LinkedUnit, kind: graph::SegmentKind) -> &LinkedSegment {
    u.segments.iter().find(|s| s.kind == kind).unwrap()
}

fn read_u32(u: &LinkedUnit, addr: u64) -> i32 {
    let s = u.segments.iter().find(|s| s.addr <= addr && addr < s.addr + s.size).unwrap();
    let o = (addr - s.addr) as usize;
    i32::from_le_bytes(s.content[o..o + 4].try_into().unwrap())
}

fn read_u64(u: &LinkedUnit, addr: u64) -> u64 {
    let s = u.segments.iter().find(|s| s.addr <= addr && addr < s.addr + s.size).unwrap();
    let o = (addr - s.addr) as usize;
    u64::from_le_bytes(s.content[o..o + 8].try_into().unwrap())
}

/// `main: call puts@PLT; lea msg(%rip)` plus `.data: .quad msg`.
fn hello() -> Input {
    use object::elf::*;
    let mut o = Obj::new();
    let text = o.section(".text", SectionKind::Text, &[0xe8, 0, 0, 0, 0, 0x48, 0x8d, 0x3d, 0, 0, 0, 0, 0xc3]);
    let rodata = o.section(".rodata", SectionKind::ReadOnlyData, b"hi\0");
    let data = o.section(".data", SectionKind::Data, &[0; 8]);
    o.define("main", text, 0, SymbolScope::Dynamic, SymbolKind::Text);
    let msg = o.define("msg", rodata, 0, SymbolScope::Compilation, SymbolKind::Data);
    let puts = o.undefined("puts");
    o.reloc(text, 1, puts, -4, R_X86_64_PLT32);
    o.reloc(text, 8, msg, -4, R_X86_64_PC32);
    o.reloc(data, 0, msg, 2, R_X86_64_64);
    o.input("hello.o")
}

#[test]
fn calls_to_the_process_go_through_a_stub_and_the_got() {
    let puts = 0x7f00_0000_1000u64;
    let mut dylib = JitDylib::default();
    let plan = plan(&[hello()], &mut dylib, X86).unwrap();
    assert_eq!(plan.externals(), ["puts"]);
    assert_eq!(plan.size(), 3 * PAGE, "R, RW and RX pages");
    let u = plan.finish(0x10000, &|n| (n == "puts").then_some(puts)).unwrap();
    let main = u.symbol("main").unwrap();
    let rx = segment(&u, graph::SegmentKind::RX);
    assert_eq!(main, rx.addr);
    // call rel32 → the stub, which jumps through the GOT slot holding puts.
    let stub = (main + 5).wrapping_add(read_u32(&u, main + 1) as i64 as u64);
    assert!(stub > main && stub < rx.addr + rx.size);
    let stub_off = (stub - rx.addr) as usize;
    assert_eq!(rx.content[stub_off..stub_off + 2], [0xff, 0x25]);
    let slot = (stub + 6).wrapping_add(read_u32(&u, stub + 2) as i64 as u64);
    assert_eq!(read_u64(&u, slot), puts);
    // lea msg(%rip): S + A - P with P the field.
    let r = segment(&u, graph::SegmentKind::R);
    let msg = r.addr + (r.content.windows(3).position(|w| w == b"hi\0").unwrap() as u64);
    assert_eq!((main + 8 + 4).wrapping_add(read_u32(&u, main + 8) as i64 as u64), msg);
    // .quad msg+2
    assert_eq!(read_u64(&u, segment(&u, graph::SegmentKind::RW).addr), msg + 2);
}

#[test]
fn undefined_and_duplicate_symbols_are_named() {
    let mut dylib = JitDylib::default();
    let e = link(&[hello()], &mut dylib, 0x10000, &[]).unwrap_err();
    assert_eq!(e.to_string(), "undefined symbol: puts (referenced from hello.o)");
    let e = plan(&[hello(), hello()], &mut dylib, X86).unwrap_err();
    assert_eq!(e.to_string(), "duplicate symbol: main (defined in hello.o and in hello.o)");
}

#[test]
fn earlier_units_resolve_first_and_comdat_groups_are_kept_once() {
    use object::elf::*;
    let unit = |name: &str, caller: bool| {
        let mut o = Obj::new();
        let text = o.section(".text.inl", SectionKind::Text, &[0xc3]);
        let sym = o.define("inl", text, 0, SymbolScope::Dynamic, SymbolKind::Text);
        o.0.add_comdat(object::write::Comdat {
            kind: object::ComdatKind::Any,
            symbol: sym,
            sections: vec![text],
        });
        if caller {
            let t = o.section(".text", SectionKind::Text, &[0xe8, 0, 0, 0, 0, 0xc3]);
            o.define("caller", t, 0, SymbolScope::Dynamic, SymbolKind::Text);
            o.reloc(t, 1, sym, -4, R_X86_64_PLT32);
        }
        o.input(name)
    };
    let mut dylib = JitDylib::default();
    let first = link(&[unit("a.o", false)], &mut dylib, 0x10000, &[]).unwrap();
    dylib.add_unit(&first);
    let inl = first.symbol("inl").unwrap();
    let second = link(&[unit("b.o", true)], &mut dylib, 0x20000, &[]).unwrap();
    assert_eq!(second.symbol("inl"), None, "the group is discarded in the second unit");
    let caller = second.symbol("caller").unwrap();
    let target = (caller + 5).wrapping_add(read_u32(&second, caller + 1) as i64 as u64);
    // Through a stub to the first unit's definition.
    let rx = segment(&second, graph::SegmentKind::RX);
    let off = (target - rx.addr) as usize;
    let slot = (target + 6)
        .wrapping_add(i32::from_le_bytes(rx.content[off + 2..off + 6].try_into().unwrap()) as i64 as u64);
    assert_eq!(read_u64(&second, slot), inl);
    // Unloading the first unit forgets its symbols and groups.
    dylib.remove_unit(first.id);
    assert!(dylib.lookup("inl").is_none());
}

#[test]
fn initializers_run_by_priority_and_ctors_in_reverse() {
    use object::elf::*;
    let mut o = Obj::new();
    let text = o.section(".text", SectionKind::Text, &[0xc3; 4]);
    let f: Vec<SymbolId> = (0..4)
        .map(|i| o.define(&format!("f{i}"), text, i, SymbolScope::Compilation, SymbolKind::Text))
        .collect();
    let plain = o.section(".init_array", SectionKind::Data, &[0; 8]);
    let early = o.section(".init_array.101", SectionKind::Data, &[0; 8]);
    let ctors = o.section(".ctors", SectionKind::Data, &[0; 16]);
    o.reloc(plain, 0, f[0], 0, R_X86_64_64);
    o.reloc(early, 0, f[1], 0, R_X86_64_64);
    o.reloc(ctors, 0, f[2], 0, R_X86_64_64);
    o.reloc(ctors, 8, f[3], 0, R_X86_64_64);
    let u = link(&[o.input("init.o")], &mut JitDylib::default(), 0x10000, &[]).unwrap();
    let text_base = segment(&u, graph::SegmentKind::RX).addr;
    let order: Vec<u64> = u.initializers.iter().map(|a| a - text_base).collect();
    assert_eq!(
        order,
        [1, 0, 3, 2],
        ".init_array.101, then .init_array with .ctors (reversed) at the default priority"
    );
}

#[test]
fn thread_locals_get_an_emutls_block_and_got_pairs() {
    use object::elf::*;
    let mut o = Obj::new();
    let text = o.section(".text", SectionKind::Text, &[0x66, 0x48, 0x8d, 0x3d, 0, 0, 0, 0, 0xc3]);
    let tdata = o.section(".tdata", SectionKind::Tls, &[5, 0, 0, 0]);
    let tbss = o.0.add_section(vec![], b".tbss".to_vec(), SectionKind::UninitializedTls);
    o.0.append_section_bss(tbss, 8, 8);
    o.define("t", tdata, 0, SymbolScope::Dynamic, SymbolKind::Tls);
    let z = o.define("z", tbss, 0, SymbolScope::Dynamic, SymbolKind::Tls);
    o.define("get", text, 0, SymbolScope::Dynamic, SymbolKind::Text);
    o.reloc(text, 4, z, -4, R_X86_64_TLSGD);
    let u = link(&[o.input("tls.o")], &mut JitDylib::default(), 0x10000, &[]).unwrap();
    let get = u.symbol("get").unwrap();
    let pair = (get + 8).wrapping_add(read_u32(&u, get + 4) as i64 as u64);
    let object = read_u64(&u, pair);
    assert_eq!(read_u64(&u, pair + 8), 8, "z follows the 4-byte .tdata, aligned to 8");
    // libgcc's __emutls_object: size, align, 0, template.
    assert_eq!((read_u64(&u, object), read_u64(&u, object + 8), read_u64(&u, object + 16)), (16, 8, 0));
    assert_eq!(read_u32(&u, read_u64(&u, object + 24)), 5, "the template holds .tdata");
    let tls = u.symbols.iter().find(|(n, _)| n == "z").unwrap().1.tls;
    assert_eq!(tls, Some((object, 8)));
}

#[test]
fn static_tls_and_unknown_relocations_are_refused_with_their_names() {
    use object::elf::*;
    let mut o = Obj::new();
    let text = o.section(".text", SectionKind::Text, &[0; 8]);
    let t = o.undefined("t");
    o.reloc(text, 0, t, 0, R_X86_64_GOTTPOFF);
    let e = plan(&[o.input("ie.o")], &mut JitDylib::default(), X86).unwrap_err();
    let text = e.to_string();
    assert!(
        text.starts_with("ie.o: section .text at offset 0x0: unsupported relocation R_X86_64_GOTTPOFF"),
        "{text}"
    );
}

#[test]
fn far_pc32_references_say_to_use_pic() {
    use object::elf::*;
    let mut o = Obj::new();
    let text = o.section(".text", SectionKind::Text, &[0x8b, 0x05, 0, 0, 0, 0, 0xc3]);
    o.define("f", text, 0, SymbolScope::Dynamic, SymbolKind::Text);
    let v = o.undefined("far_data");
    o.reloc(text, 2, v, -4, R_X86_64_PC32);
    let e = link(&[o.input("nopic.o")], &mut JitDylib::default(), 0x10000, &[("far_data", 0x7f00_0000_0000)])
        .unwrap_err();
    assert!(e.to_string().contains("R_X86_64_PC32 against far_data"), "{e}");
    assert!(e.to_string().contains("-fPIC"), "{e}");
}

/// A redefinable unit: `f` returning nothing in particular, and (if `caller`) `g: call f`.
fn f_and_g(name: &str, caller: bool) -> Input {
    use object::elf::*;
    let mut o = Obj::new();
    let text = o.section(".text", SectionKind::Text, &[0xc3, 0xe8, 0, 0, 0, 0, 0xc3]);
    let f = o.define("f", text, 0, SymbolScope::Dynamic, SymbolKind::Text);
    if caller {
        o.define("g", text, 1, SymbolScope::Dynamic, SymbolKind::Text);
        o.reloc(text, 2, f, -4, R_X86_64_PLT32);
    }
    o.input(name)
}

/// Where the call at `call` (an E8 rel32) in `u` jumps: (stub address, its GOT entry).
fn stub_and_entry(u: &LinkedUnit, call: u64) -> (u64, u64) {
    let stub = (call + 5).wrapping_add(read_u32(u, call + 1) as i64 as u64);
    let entry = (stub + 6).wrapping_add(read_u32(u, stub + 2) as i64 as u64);
    (stub, entry)
}

#[test]
fn redefinitions_rewrite_the_rebind_entries_of_earlier_units_and_undo_points_them_back() {
    let opts = LinkOptions { redefinable: true, ..X86 };
    let mut dylib = JitDylib::default();
    let first = plan(&[f_and_g("a.o", true)], &mut dylib, opts).unwrap().finish(0x10000, &|_| None).unwrap();
    // The call from g to f in its own unit goes through a stub and a GOT entry in writable
    // memory, recorded as f's rebind entry.
    let (f1, g) = (first.symbol("f").unwrap(), first.symbol("g").unwrap());
    let (stub, entry) = stub_and_entry(&first, g);
    assert_ne!(stub, f1);
    assert_eq!(read_u64(&first, entry), f1);
    assert_eq!(segment(&first, graph::SegmentKind::RW).addr, entry & !(PAGE - 1));
    assert_eq!(first.rebind_entries, vec![("f".to_owned(), entry)]);
    assert!(first.rebinds.is_empty());
    dylib.add_unit(&first);

    // A second definition of f rewrites the first unit's entry when it loads ...
    let second =
        plan(&[f_and_g("b.o", false)], &mut dylib, opts).unwrap().finish(0x20000, &|_| None).unwrap();
    let f2 = second.symbol("f").unwrap();
    assert_eq!(second.rebinds, vec![(entry, f2)]);
    dylib.add_unit(&second);
    assert_eq!(dylib.lookup("f").map(|d| d.addr), Some(f2));
    // ... and unloading it points the entry back at the first.
    assert_eq!(dylib.remove_unit(second.id), vec![(entry, f1)]);
    assert_eq!(dylib.lookup("f").map(|d| d.addr), Some(f1));

    // A retyped redefinition leaves the entries of earlier units alone while it is loaded.
    let caller = {
        use object::elf::*;
        let mut o = Obj::new();
        let text = o.section(".text", SectionKind::Text, &[0xe8, 0, 0, 0, 0, 0xc3]);
        o.define("h", text, 0, SymbolScope::Dynamic, SymbolKind::Text);
        let f = o.undefined("f");
        o.reloc(text, 1, f, -4, R_X86_64_PLT32);
        o.input("h.o")
    };
    let calls = plan(&[caller], &mut dylib, opts).unwrap().finish(0x40000, &|_| None).unwrap();
    let (_, h_entry) = stub_and_entry(&calls, calls.symbol("h").unwrap());
    assert_eq!(read_u64(&calls, h_entry), f1);
    dylib.add_unit(&calls);
    let mut plan3 = plan(&[f_and_g("c.o", false)], &mut dylib, opts).unwrap();
    plan3.keep_bindings(&["f".to_owned()]);
    let third = plan3.finish(0x30000, &|_| None).unwrap();
    assert!(third.rebinds.is_empty());
    dylib.add_unit(&third);
    assert_eq!(dylib.entries("f").count(), 0);
    // The caller's unit goes first: nothing may be written into its memory later; the first
    // unit's entry is taken back.
    dylib.remove_unit(calls.id);
    assert_eq!(dylib.remove_unit(third.id), vec![(entry, f1)]);
    assert_eq!(dylib.entries("f").collect::<Vec<_>>(), vec![entry]);
}

#[test]
fn without_the_option_calls_in_a_unit_go_direct_and_nothing_is_redefinable() {
    // Without the option, calls within a unit go direct and nothing is recorded.
    let mut dylib = JitDylib::default();
    let fixed = link(&[f_and_g("a.o", true)], &mut dylib, 0x10000, &[]).unwrap();
    let (g, f) = (fixed.symbol("g").unwrap(), fixed.symbol("f").unwrap());
    assert_eq!((g + 5).wrapping_add(read_u32(&fixed, g + 1) as i64 as u64), f);
    assert!(fixed.rebind_entries.is_empty());
    assert!(fixed.symbols.iter().all(|(_, s)| !s.redefinable));
}

#[test]
fn kept_data_refers_to_the_existing_variables_and_functions_are_defined_again() {
    use object::elf::*;
    // `int counter = 7; int *where_ = &counter; static int frame = 2; int f(void)`, whose code
    // holds the addresses of frame (through its section's symbol, as clang refers to statics)
    // and counter; `extra`: a variable the first version does not have, `moved`: frame's
    // section laid out otherwise.
    let version = |name: &str, extra: bool, moved: bool| {
        let mut o = Obj::new();
        let text = o.section(".text", SectionKind::Text, &[0xc3; 17]);
        let data = o.section(".data", SectionKind::Data, &[7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        o.define("f", text, 0, SymbolScope::Dynamic, SymbolKind::Text);
        let counter = o.define("counter", data, 0, SymbolScope::Dynamic, SymbolKind::Data);
        o.define("where_", data, 8, SymbolScope::Dynamic, SymbolKind::Data);
        o.reloc(data, 8, counter, 0, R_X86_64_64);
        let statics = o.section(".data.st", SectionKind::Data, &[1, 0, 0, 0, 2, 0, 0, 0]);
        o.define("frame", statics, if moved { 0 } else { 4 }, SymbolScope::Compilation, SymbolKind::Data);
        let statics_sym = o.0.section_symbol(statics);
        o.reloc(text, 1, statics_sym, 4, R_X86_64_64);
        o.reloc(text, 9, counter, 0, R_X86_64_64);
        // Constants, which a new version replaces: read-only, and a table of addresses.
        let rodata = o.section(".rodata", SectionKind::ReadOnlyData, &[9; 4]);
        o.define("limit", rodata, 0, SymbolScope::Dynamic, SymbolKind::Data);
        let relro = o.section(".data.rel.ro", SectionKind::Data, &[0; 8]);
        o.define("table", relro, 0, SymbolScope::Dynamic, SymbolKind::Data);
        o.reloc(relro, 0, counter, 0, R_X86_64_64);
        if extra {
            let more = o.section(".data.added", SectionKind::Data, &[0; 4]);
            o.define("added", more, 0, SymbolScope::Dynamic, SymbolKind::Data);
        }
        o.input(name)
    };
    let opts = LinkOptions { redefinable: true, ..X86 };
    let keep = LinkOptions { keep_data: true, ..opts };
    let mut dylib = JitDylib::default();
    let first =
        plan(&[version("v.o", false, false)], &mut dylib, opts).unwrap().finish(0x10000, &|_| None).unwrap();
    dylib.add_unit(&first);
    let statics = first.data_sections.iter().find(|d| d.section == ".data.st").unwrap();
    assert_eq!(
        statics.layout,
        [(0, String::new()), (4, "frame".to_owned())],
        "the section's own symbol, frame"
    );
    let second =
        plan(&[version("v.o", true, false)], &mut dylib, keep).unwrap().finish(0x20000, &|_| None).unwrap();
    assert_eq!(second.kept_data, ["counter", "where_"]);
    assert_eq!(second.symbol("counter"), None);
    assert!(second.symbol("added").is_some(), "a new variable is defined");
    assert!(second.symbol("limit").is_some() && second.symbol("table").is_some(), "constants are redefined");
    let f = second.symbol("f").unwrap();
    assert_ne!(Some(f), first.symbol("f"));
    // The new code uses the first version's storage, for the static variable too.
    assert_eq!(read_u64(&second, f + 1), statics.addr + 4);
    assert_eq!(read_u64(&second, f + 9), first.symbol("counter").unwrap());
    assert!(second.data_sections.iter().all(|d| d.section == ".data.added"), "kept sections are not placed");
    dylib.add_unit(&second);
    // A section laid out otherwise is placed anew: its statics start again.
    let third =
        plan(&[version("v.o", true, true)], &mut dylib, keep).unwrap().finish(0x30000, &|_| None).unwrap();
    let f = third.symbol("f").unwrap();
    let moved = third.data_sections.iter().find(|d| d.section == ".data.st").unwrap();
    assert_eq!(read_u64(&third, f + 1), moved.addr + 4);
    assert_ne!(moved.addr, statics.addr);
}
