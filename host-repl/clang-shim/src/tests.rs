use super::*;
use object::{Architecture, BinaryFormat, Object as _, ObjectSection as _, ObjectSymbol as _};

const HOST: &str = "x86_64-pc-linux-gnu";

fn cxx() -> Options {
    Options::new(HOST, Lang::Cxx)
}

fn c() -> Options {
    Options::new(HOST, Lang::C)
}

fn parsed(bytes: &[u8]) -> object::File<'_> {
    object::File::parse(bytes).expect("the shim emits a readable object")
}

fn defined(bytes: &[u8]) -> Vec<String> {
    parsed(bytes)
        .symbols()
        .filter(|s| s.is_definition())
        .filter_map(|s| s.name().ok().map(str::to_owned))
        .collect()
}

fn undefined(bytes: &[u8]) -> Vec<String> {
    parsed(bytes)
        .symbols()
        .filter(|s| s.is_undefined())
        .filter_map(|s| s.name().ok().map(str::to_owned))
        .collect()
}

fn references(bytes: &[u8], name: &str) -> bool {
    undefined(bytes).iter().any(|s| s == name)
}

fn no_host_interface(bytes: &[u8]) {
    for s in undefined(bytes) {
        assert!(!s.contains("__clang_Interpreter_SetValue"), "object still references {s}");
    }
}

fn interp(opts: &Options) -> Interpreter {
    Interpreter::new(opts).unwrap_or_else(|e| panic!("Interpreter::new: {e}"))
}

fn ok(i: &mut Interpreter, input: &str) -> Ptu {
    i.parse(input).unwrap_or_else(|d| panic!("{input:?} failed:\n{}", d.text))
}

/// Parses `input` (an expression) and renders `data` as the target would report it.
fn render(i: &mut Interpreter, input: &str, data: Vec<u8>) -> String {
    let ptu = ok(i, input);
    let value = ptu.value.unwrap_or_else(|| panic!("{input:?} captures no value"));
    i.render_value(&RemoteValue { kind: value.kind, ty: value.ty, data })
}

// ---- whole-file compilation ----

#[test]
fn compile_source_c_elf_x86_64() {
    let obj = compile_source("f.c", "int f(int a){return a+1;}", &c()).unwrap();
    let file = parsed(&obj.bytes);
    assert_eq!(file.format(), BinaryFormat::Elf);
    assert_eq!(file.architecture(), Architecture::X86_64);
    assert!(defined(&obj.bytes).contains(&"f".to_owned()));
    assert!(obj.warnings.is_empty(), "{}", obj.warnings);
}

#[test]
fn ir_compiles_from_memory_and_from_a_file_for_the_target() {
    // No triple in the module (the target's is taken without a warning), an -I that means
    // nothing to IR (no warning either), and the text in memory, not on disk.
    let ir = "define i32 @f(i32 %a) {\n  %r = add i32 %a, 1\n  ret i32 %r\n}\n";
    let mut opts = Options::new("aarch64-unknown-linux-gnu", Lang::Ir);
    opts.args = vec!["-I/nonexistent".into(), "-O2".into()];
    let obj = compile_source("memory.ll", ir, &opts).unwrap();
    assert_eq!(parsed(&obj.bytes).architecture(), Architecture::Aarch64);
    assert!(defined(&obj.bytes).contains(&"f".to_owned()));
    assert!(obj.warnings.is_empty(), "{}", obj.warnings);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f.ll");
    std::fs::write(&path, ir).unwrap();
    let obj = compile_file(&path, &Options::new(HOST, Lang::Ir)).unwrap();
    assert_eq!(parsed(&obj.bytes).architecture(), Architecture::X86_64);
    // A mistake is a diagnostic with its line, and no interpreter takes IR.
    let err = compile_source("bad.ll", "define i32 @g() {\n  ret i32 %x\n}\n", &opts).unwrap_err();
    assert!(err.text.contains("bad.ll:2:11: error: use of undefined value '%x'"), "{}", err.text);
    assert!(Interpreter::new(&opts).is_err());
}

#[test]
fn compile_source_cxx_defaults_to_cxx17() {
    let src =
        "static_assert(__cplusplus == 201703L, \"c++17\");\nint f(int a){ if constexpr (true) return a+1; }";
    let obj = compile_source("f.cpp", src, &cxx()).unwrap();
    assert!(defined(&obj.bytes).contains(&"_Z1fi".to_owned()));
    let mut o = cxx();
    o.args.push("-std=c++20".into());
    let obj =
        compile_source("g.cpp", "static_assert(__cplusplus == 202002L, \"c++20\"); int g(){return 1;}", &o)
            .unwrap();
    assert!(defined(&obj.bytes).contains(&"_Z1gv".to_owned()));
}

#[test]
fn compile_source_is_pic_and_uses_init_array() {
    let src = "int g(void); int x = 1; int *p = &x; int h(void){ return g() + x; }\n\
               struct S { S(); }; S s;";
    let obj = compile_source("pic.cpp", src, &cxx()).unwrap();
    let file = parsed(&obj.bytes);
    assert!(file.section_by_name(".init_array").is_some(), "dynamic initialiser goes to .init_array");
    let relocs: Vec<object::elf::RelocationType> = file
        .sections()
        .flat_map(|s| s.relocations().map(|(_, r)| r.flags()).collect::<Vec<_>>())
        .filter_map(|f| match f {
            object::RelocationFlags::Elf { r_type } => Some(r_type),
            _ => None,
        })
        .collect();
    // -fPIC: globals through the GOT, calls through the PLT.
    assert!(relocs.contains(&object::elf::R_X86_64_REX_GOTPCRELX), "{relocs:?}");
    assert!(relocs.contains(&object::elf::R_X86_64_PLT32), "{relocs:?}");
}

#[test]
fn compile_file_with_system_and_builtin_headers() {
    let dir = std::env::temp_dir().join(format!("orcbridge-clang-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("hello.c");
    std::fs::write(&path, "#include <stddef.h>\n#include <stdio.h>\nint main(void){ size_t n = 1; printf(\"%zu\\n\", n); return 0; }\n")
        .unwrap();
    let obj = compile_file(&path, &c()).unwrap();
    assert!(defined(&obj.bytes).contains(&"main".to_owned()));
    assert!(references(&obj.bytes, "printf"));
    std::fs::remove_dir_all(&dir).ok();

    let err = compile_file(Path::new("/nonexistent/x.c"), &c()).unwrap_err();
    assert!(err.text.contains("error:") && err.errors >= 1, "{}", err.text);
}

#[test]
fn compile_error_has_caret_and_warnings_are_kept() {
    let err = compile_source("bad.c", "int f(void) { return undeclared; }\n", &c()).unwrap_err();
    assert!(
        err.text.contains("bad.c:1:22: error: use of undeclared identifier 'undeclared'"),
        "{}",
        err.text
    );
    assert!(err.text.contains("|                      ^"), "{}", err.text);
    assert_eq!(err.errors, 1);
    let obj = compile_source(
        "warn.c",
        "int f(int a) { int unused; return a; }\n",
        &Options { args: vec!["-Wall".into()], ..c() },
    )
    .unwrap();
    assert!(obj.warnings.contains("warning: unused variable 'unused'"), "{}", obj.warnings);
    let err =
        compile_source("x.c", "int a;", &Options { args: vec!["-fno-such-flag".into()], ..c() }).unwrap_err();
    assert!(err.text.contains("clang: error: unknown argument"), "{}", err.text);
}

#[test]
fn compile_follows_foreign_triples() {
    let src = "int f(int a){return a+1;}";
    let obj = compile_source("f.c", src, &Options::new("aarch64-unknown-linux-gnu", Lang::C)).unwrap();
    let file = parsed(&obj.bytes);
    assert_eq!((file.format(), file.architecture()), (BinaryFormat::Elf, Architecture::Aarch64));
    let obj = compile_source("f.c", src, &Options::new("x86_64-apple-macosx11.0", Lang::C)).unwrap();
    let file = parsed(&obj.bytes);
    assert_eq!((file.format(), file.architecture()), (BinaryFormat::MachO, Architecture::X86_64));
    assert!(defined(&obj.bytes).contains(&"_f".to_owned()));
}

// ---- interpreter ----

#[test]
fn interpreter_declarations_persist_and_values_are_captured() {
    let mut i = interp(&cxx());
    let startup = i.take_startup_objects();
    assert!(!startup.is_empty() && startup.iter().all(|p| !p.object.is_empty()));
    assert!(startup.iter().any(|p| defined(&p.object).contains(&"__ci_newtag".to_owned())));
    assert!(i.take_startup_objects().is_empty(), "startup objects are returned once");

    let x = ok(&mut i, "int x = 42;");
    assert!(!x.has_value && defined(&x.object).contains(&"x".to_owned()));
    ok(&mut i, "int f(int a){ return a * 2; }");
    let call = ok(&mut i, "f(x)");
    assert!(call.has_value && call.id > x.id);
    assert_eq!(call.value.map(|v| (v.kind, v.size)), Some((ValueKind::Int, 4)));
    assert!(references(&call.object, "__orcbridge_value_int"));
    assert!(references(&call.object, "_Z1fi") && references(&call.object, "x"));
    no_host_interface(&call.object);
    assert!(parsed(&call.object).section_by_name(".init_array").is_some());
    let io = ok(&mut i, "#include <stddef.h>\n#include <stdio.h>\nsize_t n = 2;");
    assert!(defined(&io.object).contains(&"n".to_owned()));
    assert!(references(&ok(&mut i, "printf(\"%d\\n\", x)").object, "printf"));
    // A statement with ';' captures nothing.
    let stmt = ok(&mut i, "f(x);");
    assert!(!stmt.has_value && stmt.value.is_none());
}

#[test]
fn interpreter_compile_error_leaves_it_usable() {
    let mut i = interp(&cxx());
    let err = i.parse("int y = undeclared;").unwrap_err();
    assert!(err.text.contains("error: use of undeclared identifier 'undeclared'"), "{}", err.text);
    assert!(
        err.text.contains("    1 | int y = undeclared;") && err.text.contains("^~~~~~~~~~"),
        "{}",
        err.text
    );
    assert_eq!(err.errors, 1);
    let fatal = i.parse("#include <no/such/header.h>").unwrap_err();
    assert!(fatal.text.contains("fatal error:"), "{}", fatal.text);
    ok(&mut i, "int y = 1;");
    assert!(ok(&mut i, "y").has_value);
}

#[test]
fn undo_forgets_definitions() {
    let mut i = interp(&cxx());
    let first = ok(&mut i, "int x = 1;");
    assert_eq!(i.undo(1).unwrap(), vec![first.id]);
    let again = ok(&mut i, "int x = 2;");
    assert!(again.id > first.id);
    let y = ok(&mut i, "int y = x;");
    assert_eq!(i.undo(2).unwrap(), vec![y.id, again.id]);
    assert!(i.undo(1).is_err(), "the prelude cannot be undone");
    assert_eq!(i.undo(0).unwrap(), Vec::<u64>::new());
    ok(&mut i, "int x = 4;");
}

#[test]
fn a_definition_made_again_shadows_the_earlier_one_until_undone() {
    for (args, int_f, double_f, symbol) in [
        (cxx(), "int f() { return 1; }", "double f() { return 2; }", "_Z1fv"),
        (c(), "int f(void) { return 1; }", "double f(void) { return 2; }", "f"),
    ] {
        let mut i = interp(&args);
        ok(&mut i, int_f);
        // The same type: accepted, nothing retyped.
        let same = ok(&mut i, int_f);
        assert!(same.retyped.is_empty(), "{:?}", same.retyped);
        // Another type: accepted, the linker name reported.
        let retyped = ok(&mut i, double_f);
        assert_eq!(retyped.retyped, vec![symbol.to_owned()]);
        let value = ok(&mut i, "f()");
        assert_eq!(value.value.map(|v| v.kind), Some(ValueKind::Double));
        // Undone: the int f is back (f() is an int again), and can be defined again.
        i.undo(2).unwrap();
        let value = ok(&mut i, "f()");
        assert_eq!(value.value.map(|v| v.kind), Some(ValueKind::Int));
        ok(&mut i, int_f);
        // A compile error in a redefining input leaves the earlier definition in place.
        assert!(i.parse(&int_f.replace("return 1", "return undeclared")).is_err());
        assert_eq!(ok(&mut i, "f()").value.map(|v| v.kind), Some(ValueKind::Int));
    }
}

#[test]
fn capture_kinds_follow_the_type() {
    let mut i = interp(&cxx());
    ok(&mut i, "const char *s = \"hi\"; struct S { int a; ~S() {} }; S sv{1}; int arr[3] = {1, 2, 3};");
    let cases: &[(&str, ValueKind, &str)] = &[
        ("s", ValueKind::CString, "__orcbridge_value_cstr"),
        ("S{7}", ValueKind::Record, "__orcbridge_value_alloc"),
        ("sv", ValueKind::Pointer, "__orcbridge_value_ptr"),
        ("arr", ValueKind::Bytes, "__orcbridge_value_bytes"),
        ("\"hi\"", ValueKind::Bytes, "__orcbridge_value_bytes"),
        ("3.5", ValueKind::Double, "__orcbridge_value_double"),
        ("3.5f", ValueKind::Double, "__orcbridge_value_double"),
        ("(long double)1", ValueKind::LongDouble, "__orcbridge_value_long_double"),
        ("&arr[1]", ValueKind::Pointer, "__orcbridge_value_ptr"),
        ("(void)0", ValueKind::Void, "__orcbridge_value_void"),
    ];
    for &(input, kind, hook) in cases {
        let p = ok(&mut i, input);
        assert_eq!(p.value.map(|v| v.kind), Some(kind), "{input}");
        assert!(references(&p.object, hook), "{input}: {:?}", undefined(&p.object));
        no_host_interface(&p.object);
    }
    let rec = ok(&mut i, "S{8}");
    assert_eq!(rec.value.map(|v| v.size), Some(4));
    assert!(references(&rec.object, "_ZnwmPv26__clang_Interpreter_NewTag"));
}

#[test]
fn arrays_are_captured_at_every_optimisation_level() {
    for (lang, opt) in [(Lang::Cxx, "-O0"), (Lang::Cxx, "-O2"), (Lang::C, "-O0"), (Lang::C, "-O2")] {
        let mut i = interp(&Options { triple: HOST.into(), lang, args: vec![opt.into()] });
        ok(&mut i, "int arr[3] = {1, 2, 3};");
        let p = ok(&mut i, "arr");
        assert_eq!(p.value.map(|v| (v.kind, v.size)), Some((ValueKind::Bytes, 12)), "{lang:?} {opt}");
        assert!(
            references(&p.object, "__orcbridge_value_bytes"),
            "{lang:?} {opt}: {:?}",
            undefined(&p.object)
        );
        no_host_interface(&p.object);
        let data = [1i32, 2, 3].iter().flat_map(|v| v.to_le_bytes()).collect();
        assert_eq!(render(&mut i, "arr", data), "(int[3]) { 1, 2, 3 }");
    }
}

#[test]
fn c_interpreter_captures_values() {
    let mut i = interp(&c());
    assert!(!i.take_startup_objects().is_empty());
    ok(&mut i, "int x = 3; const char *s = \"hi\"; struct P { int a; } p = {1};");
    assert_eq!(render(&mut i, "x", 3u64.to_le_bytes().to_vec()), "(int) 3");
    assert_eq!(render(&mut i, "s", b"hi".to_vec()), "(const char *) \"hi\"");
    // A C struct comes as its bytes and prints with C's spelling and its fields.
    assert_eq!(render(&mut i, "p", 1i32.to_le_bytes().to_vec()), "(struct P) { .a = 1 }");
}

#[test]
fn render_builtins_like_clang_repl() {
    let mut i = interp(&cxx());
    assert_eq!(render(&mut i, "42", 42u64.to_le_bytes().to_vec()), "(int) 42");
    assert_eq!(render(&mut i, "(-7)", (-7i64 as u64).to_le_bytes().to_vec()), "(int) -7");
    assert_eq!(render(&mut i, "3.5", 3.5f64.to_le_bytes().to_vec()), "(double) 3.5000000");
    assert_eq!(render(&mut i, "3.5f", 3.5f64.to_le_bytes().to_vec()), "(float) 3.50000f");
    assert_eq!(render(&mut i, "true", 1u64.to_le_bytes().to_vec()), "(bool) true");
    assert_eq!(render(&mut i, "'a'", u64::from(b'a').to_le_bytes().to_vec()), "(char) 'a'");
    assert_eq!(
        render(&mut i, "1ull << 63", (1u64 << 63).to_le_bytes().to_vec()),
        "(unsigned long long) 9223372036854775808"
    );
    // x87 long double 2.25 as the target stores it: 16 bytes, 10 significant.
    let mut ld = vec![0u8; 16];
    ld[..8].copy_from_slice(&0x9000_0000_0000_0000u64.to_le_bytes());
    ld[8..10].copy_from_slice(&0x4000u16.to_le_bytes());
    assert_eq!(render(&mut i, "(long double)2.25", ld), "(long double) 2.25000000000L");
}

#[test]
fn render_strings_enums_pointers_arrays_records() {
    let mut i = interp(&cxx());
    ok(&mut i, "const char *p = \"hi\"; enum E { A, B = 5 }; enum class C { X }; int arr[3] = {1, 2, 3};");
    ok(&mut i, "struct S { int a; }; S s{3}; int m[2][2] = {{1, 2}, {3, 4}};");
    assert_eq!(render(&mut i, "p", b"hi\0garbage".to_vec()), "(const char *) \"hi\"");
    assert_eq!(render(&mut i, "B", 5u64.to_le_bytes().to_vec()), "(E) (B) : unsigned int 5");
    assert_eq!(render(&mut i, "C::X", 0u64.to_le_bytes().to_vec()), "(C) (C::X) : int 0");
    assert_eq!(render(&mut i, "&arr[0]", 0x7f00_1234u64.to_le_bytes().to_vec()), "(int *) 0x7f001234");
    assert_eq!(render(&mut i, "\"hi\"", b"hi\0".to_vec()), "(const char[3]) \"hi\"");
    let m = [1i32, 2, 3, 4].iter().flat_map(|v| v.to_le_bytes()).collect();
    assert_eq!(render(&mut i, "m", m), "(int[2][2]) { { 1, 2 }, { 3, 4 } }");
    assert_eq!(render(&mut i, "S{7}", 0x7f00_0000_1000u64.to_le_bytes().to_vec()), "(S) @0x7f0000001000");
    assert_eq!(render(&mut i, "s", 0x7f00_0000_2000u64.to_le_bytes().to_vec()), "(S &) @0x7f0000002000");
    // A non-null char pointer reported as a plain pointer is not read.
    let p = ok(&mut i, "p");
    let v = p.value.unwrap();
    let as_ptr = RemoteValue { kind: ValueKind::Pointer, ty: v.ty, data: 0x1234u64.to_le_bytes().to_vec() };
    assert_eq!(i.render_value(&as_ptr), "(const char *) 0x1234");
    let null = RemoteValue { kind: ValueKind::Pointer, ty: v.ty, data: vec![0; 8] };
    assert_eq!(i.render_value(&null), "(const char *) 0");
    assert_eq!(render(&mut i, "(void)0", Vec::new()), "");
}

#[test]
fn render_rejects_what_it_did_not_ask_for() {
    let mut i = interp(&cxx());
    let v = ok(&mut i, "42").value.unwrap();
    let unknown = RemoteValue { kind: ValueKind::Int, ty: 0xdead_beef, data: vec![0; 8] };
    assert!(i.render_value(&unknown).starts_with("<value with unknown type handle"));
    let wrong_kind = RemoteValue { kind: ValueKind::CString, ty: v.ty, data: b"x".to_vec() };
    assert!(i.render_value(&wrong_kind).starts_with('<'));
    let short = RemoteValue { kind: ValueKind::Int, ty: v.ty, data: vec![1] };
    assert!(i.render_value(&short).starts_with('<'));
    let arr = ok(&mut i, "\"hi\"").value.unwrap();
    let wrong_size = RemoteValue { kind: ValueKind::Bytes, ty: arr.ty, data: vec![0; 2] };
    assert!(i.render_value(&wrong_size).starts_with('<'));
}

#[test]
fn direct_calls_to_the_host_interface_are_refused() {
    let mut i = interp(&cxx());
    let err =
        i.parse("__clang_Interpreter_SetValueNoAlloc((void*)0, (void*)0, (void*)1234, 1);").unwrap_err();
    assert!(err.text.contains("value-printing interface"), "{}", err.text);
    let err = i.parse("void g() { __clang_Interpreter_SetValueWithAlloc(0, 0, (void*)8); }").unwrap_err();
    assert!(err.text.contains("error:"), "{}", err.text);
    ok(&mut i, "void g() {}");
}

#[test]
fn backend_errors_are_diagnostics() {
    let mut i = interp(&c());
    let err = i.parse("void g(void) { __asm__(\"no_such_instruction\"); }").unwrap_err();
    assert!(err.text.contains("error:") && err.text.contains("no_such_instruction"), "{}", err.text);
    ok(&mut i, "void g(void) { }");
}

#[test]
fn interpreter_objects_follow_the_triple() {
    let mut i = interp(&Options::new("aarch64-unknown-linux-gnu", Lang::C));
    let p = ok(&mut i, "int f(int a){return a+1;}");
    let file = parsed(&p.object);
    assert_eq!((file.format(), file.architecture()), (BinaryFormat::Elf, Architecture::Aarch64));
    // fp128 long double on aarch64 Linux: 1.5 in IEEE quad.
    let mut q = vec![0u8; 16];
    q[14..16].copy_from_slice(&0x3fffu16.to_le_bytes());
    q[13] = 0x80;
    assert_eq!(render(&mut i, "(long double)1.5", q), "(long double) 1.50000000000L");

    let mut i = interp(&Options::new("arm64-apple-ios14.0", Lang::Cxx));
    assert!(!i.take_startup_objects().is_empty());
    let p = ok(&mut i, "int f(int a){return a+1;}");
    let file = parsed(&p.object);
    assert_eq!((file.format(), file.architecture()), (BinaryFormat::MachO, Architecture::Aarch64));
    assert!(defined(&p.object).contains(&"__Z1fi".to_owned()));
    let v = ok(&mut i, "f(1)");
    assert!(references(&v.object, "___orcbridge_value_int"), "{:?}", undefined(&v.object));
    let file = parsed(&v.object);
    assert!(file.sections().any(|s| s.name() == Ok("__mod_init_func")));
    // long double is double there: the double hook.
    let ld = ok(&mut i, "(long double)1.5");
    assert_eq!(ld.value.map(|v| v.kind), Some(ValueKind::Double));
    assert_eq!(
        render(&mut i, "(long double)1.5", 1.5f64.to_le_bytes().to_vec()),
        "(long double) 1.50000000000L"
    );
}

#[test]
fn bad_options_are_errors() {
    let e = Interpreter::new(&Options { args: vec!["-fno-such-flag".into()], ..cxx() }).unwrap_err();
    assert!(e.contains("unknown argument"), "{e}");
    let e = Interpreter::new(&Options::new("nonsense-triple-xyz", Lang::C)).unwrap_err();
    assert!(!e.is_empty());
    let e = Interpreter::new(&Options { args: vec!["a\0b".into()], ..cxx() }).unwrap_err();
    assert!(e.contains("NUL"), "{e}");
}

/// `Interpreter::new` never builds a JIT (the shim checks that clang's executor is its
/// capture-only one), so a hundred inputs, including ones with statements and values that
/// clang-repl would run, compile without any executor.
#[test]
fn no_executor_needed_for_100_inputs() {
    let mut i = interp(&cxx());
    ok(&mut i, "extern \"C\" int printf(const char *, ...);");
    for n in 0..100 {
        let input = match n % 4 {
            0 => format!("int v{n} = {n} * 2;"),
            1 => format!("printf(\"%d\\n\", v{});", n - 1),
            2 => format!("v{}", n - 2),
            _ => format!("int g{n}() {{ return v{}; }}", n - 3),
        };
        ok(&mut i, &input);
    }
}

#[test]
fn interpreter_moves_between_threads() {
    let mut i = interp(&cxx());
    ok(&mut i, "int x = 1;");
    let mut i = std::thread::spawn(move || {
        ok(&mut i, "int y = x + 1;");
        i
    })
    .join()
    .unwrap();
    assert!(ok(&mut i, "y").has_value);
}

/// Per-input cost, as in the research (`int vN = N*2;`, parse + IR + object).
/// `cargo test -p orcbridge-clang --release -- --ignored --nocapture per_input_cost`
#[test]
#[ignore]
fn per_input_cost() {
    let mut i = interp(&cxx());
    for n in 0..50 {
        ok(&mut i, &format!("int w{n} = {n};"));
    }
    let count: u32 = std::env::var("ORCBRIDGE_BENCH_N").ok().and_then(|n| n.parse().ok()).unwrap_or(1000);
    let start = std::time::Instant::now();
    let mut bytes = 0;
    for n in 0..count {
        bytes += ok(&mut i, &format!("int v{n} = {n}*2;")).object.len();
    }
    let total = start.elapsed();
    println!(
        "{count} inputs: {:.1} ms total, {:.3} ms/input, avg object {} bytes",
        total.as_secs_f64() * 1e3,
        total.as_secs_f64() * 1e3 / f64::from(count),
        bytes / count as usize
    );
}

#[test]
fn definitions_can_wait_until_they_are_needed() {
    let mut i = Interpreter::new(&Options::new("x86_64-pc-linux-gnu", Lang::C)).unwrap();
    let p = i.parse_deferrable("int answer = 42; int twice(int x) { return 2 * x; }").unwrap();
    assert!(p.deferred && p.object.is_empty());
    let mut defs = p.defines.clone();
    defs.sort();
    assert_eq!(defs, ["answer", "twice"]);
    // Inputs that run code are never deferred.
    let q = i.parse_deferrable("twice(answer);").unwrap();
    assert!(!q.deferred && !q.object.is_empty());
    assert!(i.parse_deferrable("answer").unwrap().has_value);
    let obj = i.emit(p.id).unwrap();
    assert!(obj.windows(6).any(|w| w == b"answer"));
    assert!(i.emit(p.id).is_err(), "emitted once");
    // Undo drops a deferred module.
    let r = i.parse_deferrable("int later = 1;").unwrap();
    assert!(r.deferred);
    assert_eq!(i.undo(1).unwrap(), [r.id]);
    assert!(i.emit(r.id).is_err());
}

/// The candidates for completing at the end of `line`, after checking the reported prefix.
fn completions(i: &mut Interpreter, line: &str, prefix: &str) -> Vec<String> {
    let (found_prefix, found) = i.complete(line, line.len()).unwrap_or_else(|e| panic!("{line:?}: {e}"));
    assert_eq!(found_prefix, prefix, "{line:?}");
    found
}

#[test]
fn completion_finds_declarations_members_and_library_names() {
    let mut i = interp(&cxx());
    ok(
        &mut i,
        "struct Point { int xcoord; int ycoord; int norm() const { return 0; } private: int xsecret; };",
    );
    ok(&mut i, "Point origin; Point *there = &origin; int original = 1;\n#define ORIG_MACRO 3");
    assert_eq!(completions(&mut i, "orig", "orig"), ["origin", "original"]);
    assert_eq!(completions(&mut i, "int k = ORIG", "ORIG"), ["ORIG_MACRO"], "the interpreter's macros");
    assert_eq!(completions(&mut i, "origin.xc", "xc"), ["xcoord"]);
    assert_eq!(completions(&mut i, "origin.", ""), ["norm", "xcoord", "ycoord"], "members, none private");
    assert_eq!(completions(&mut i, "int y = there->y", "y"), ["ycoord"]);
    assert_eq!(completions(&mut i, "int f(Point q) { return q.no", "no"), ["norm"]);
    assert_eq!(completions(&mut i, "unsig", "unsig"), ["unsigned"], "keywords");

    ok(&mut i, "#include <vector>\n#include <string>");
    ok(&mut i, "std::vector<int> v{1, 2};");
    assert!(completions(&mut i, "std::vec", "vec").contains(&"vector".to_owned()));
    assert!(
        completions(&mut i, "std::stri", "stri").contains(&"string".to_owned()),
        "inline namespace members"
    );
    assert!(completions(&mut i, "v.push", "push").contains(&"push_back".to_owned()));
    assert!(
        !completions(&mut i, "std::", "").iter().any(|c| c.starts_with("__")),
        "reserved names only on request"
    );
    // The interpreter is only read: what was completed is not declared.
    assert!(i.parse("Point p; p.xsecret = 1;").is_err());
    assert!(i.complete("x", 5).is_err());

    let mut c = interp(&c());
    ok(&mut c, "struct pair { int first, second; }; struct pair pp;");
    assert_eq!(completions(&mut c, "int g(void) { return pp.f", "f"), ["first"]);
    assert_eq!(completions(&mut c, "pp.s", "s"), ["second"], "top-level statements");
}

#[test]
fn completion_leaves_the_interpreter_as_it_was() {
    // Each completion imports from the interpreter into a throw-away AST; anything flowing
    // back (declarations, source files) would pile up until clang runs out of source
    // locations, a dozen completions in.
    let mut i = interp(&cxx());
    ok(&mut i, "#include <vector>\n#include <string>");
    ok(&mut i, "std::vector<std::string> names{\"a\"};");
    for _ in 0..40 {
        assert_eq!(completions(&mut i, "std::vec", "vec"), ["vector"]);
        assert!(completions(&mut i, "names.push_b", "push_b").contains(&"push_back".to_owned()));
    }
    ok(&mut i, "names.push_back(\"b\");");
}
