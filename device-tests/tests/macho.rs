//! Mach-O for the iOS simulator and device, as far as Linux allows (there is no Apple machine
//! here; `README.md` and `docs/architecture.md` say what is left for one):
//!
//! * **link-only**: C programs of the corpus and the Mach-O programs of `programs/macho/`,
//!   compiled for the iOS simulator (x86_64, arm64), iOS devices and macOS (x86_64, arm64) at
//!   -O0 to -O3 against the SDK stand-in headers (`programs/darwin-sdk-stub/`), link with our linker
//!   exactly when LLVM 22's `llvm-jitlink -noexec` links them, and every refusal is a named
//!   error;
//! * **run, x86-64**: the same C programs, and the C++ ones of `programs/macho/` (static
//!   constructors and destructors, `thread_local`, exceptions thrown and caught across JIT'd
//!   frames), run through `repl` in `darwin-sim-executor`
//!   (announcing `x86_64-apple-ios14.0-simulator`) with the stdout and exit status of the same
//!   sources built natively for Linux — repl compiling the sources itself, and from objects
//!   and a Mach-O archive;
//! * **REPL**: a transcript with values, `%undo` and a definition made again, thread-locals,
//!   a template's static member shared by the inputs that use it, output in order and a
//!   crashing input, against `darwin-sim-executor`;
//! * **run, arm64**: the programs of `programs/macho/arm64/` (no variadic calls across the
//!   boundary: Darwin passes variadic arguments on the stack; C, and C++ exceptions) through `repl` in
//!   `darwin-sim-executor` built for aarch64 under qemu, equal to native aarch64 Linux builds.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use device_tests::aarch64::Target;
use device_tests::corpus::{Program, manifest};
use device_tests::*;
use orcbridge_jitlink::{Arch, Input, JitDylib, LinkOptions};

const X86_64_SIM: &str = "x86_64-apple-ios14.0-simulator";
const ARM64_DEVICE: &str = "arm64-apple-ios14.0";

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn sdk_stub() -> PathBuf {
    programs_dir().join("darwin-sdk-stub/include")
}

fn is_cxx(src: &Path) -> bool {
    src.extension().is_some_and(|e| e == "cpp")
}

/// The repl flags that make clang find the SDK stand-in (and the optimisation level).
fn stub_flags(opt: &str) -> Vec<String> {
    ["-nostdlibinc", "-isystem", &sdk_stub().display().to_string(), opt]
        .iter()
        .flat_map(|f| ["-Xcc".to_owned(), (*f).to_owned()])
        .collect()
}

/// Compiles `src` for Darwin `triple` as repl compiles: PIC, against the SDK stand-in.
fn compile_macho(src: &Path, triple: &str, opt: &str, out: &Path) -> PathBuf {
    let cxx = is_cxx(src);
    let o = run(
        Command::new(llvm_tool(if cxx { "clang++" } else { "clang" }))
            .arg(format!("--target={triple}"))
            .args(["-c", "-fPIC", "-nostdlibinc", "-isystem"])
            .arg(sdk_stub())
            .arg(opt)
            .args(if cxx { &["-std=c++17"][..] } else { &[] })
            .arg(src)
            .arg("-o")
            .arg(out),
        120,
    );
    assert!(o.status.success(), "{}: {}", src.display(), text(&o.stderr));
    out.to_path_buf()
}

/// The C programs of the corpus.
fn c_programs() -> Vec<Program> {
    manifest().into_iter().filter(|p| !p.cxx).collect()
}

/// The programs of `programs/macho/` (one source each, exit status 0 unless it says).
fn macho_programs(dir: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(programs_dir().join(dir))
        .expect("programs/macho")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "c" || e == "cpp"))
        .collect();
    v.sort();
    v
}

/// `llvm-jitlink -noexec` on `obj`: Ok, or its error.
fn llvm_links(obj: &Path) -> Result<(), String> {
    let o = run(
        Command::new(llvm_tool("llvm-jitlink"))
            .args([
                "-noexec",
                "-slab-allocate",
                "64Mb",
                "-slab-address",
                "0x10000000",
                "-slab-page-size",
                "4096",
            ])
            .arg("-phony-externals")
            .arg(obj),
        60,
    );
    if o.status.success() { Ok(()) } else { Err(text(&o.stderr)) }
}

/// Our linker on `obj` alone, externals resolved to a phony address as llvm-jitlink's
/// `-phony-externals` does.
fn we_link(obj: &Path, arch: Arch) -> Result<(), String> {
    let bytes = std::fs::read(obj).map_err(|e| e.to_string())?;
    let input = Input::Object { name: obj.display().to_string(), bytes };
    let plan = orcbridge_jitlink::plan(
        &[input],
        &mut JitDylib::default(),
        LinkOptions { page_size: 4096, arch, redefinable: false, keep_data: false },
    )
    .map_err(|e| e.to_string())?;
    plan.finish(0x1000_0000, &|_| Some(0x0f00_0000)).map(|_| ()).map_err(|e| e.to_string())
}

/// LLVM's Mach-O x86-64 graph builder turns `X86_64_RELOC_TLV` into an edge that only its
/// MachOPlatform (with LLVM's Darwin ORC runtime, which does not exist on Linux) handles:
/// `llvm-jitlink -noexec` refuses such objects, ours links them (the session runtime provides
/// `_tlv_bootstrap`).
const LLVM_NEEDS_PLATFORM: &str = "RequestTLVPAndTransformToPCRel32TLVPLoadREXRelaxable";

#[test]
fn objects_link_exactly_when_llvm_jitlink_links_them() {
    let dir = scratch();
    let mut sources: Vec<PathBuf> =
        c_programs().iter().flat_map(|p| p.sources.iter().chain(&p.archive).cloned()).collect();
    sources.extend(macho_programs("macho"));
    sources.extend(macho_programs("macho/arm64"));
    let mut objects = 0;
    let mut platform_only = 0;
    let mut problems = Vec::new();
    let triples = [
        (X86_64_SIM, Arch::X86_64),
        (ARM64_DEVICE, Arch::Aarch64),
        ("arm64-apple-ios14.0-simulator", Arch::Aarch64),
        ("x86_64-apple-macosx11.0", Arch::X86_64),
        ("arm64-apple-macosx11.0", Arch::Aarch64),
    ];
    const OPTS: [&str; 4] = ["-O0", "-O1", "-O2", "-O3"];
    for (t, (triple, arch)) in triples.into_iter().enumerate() {
        // Every source at two optimisation levels per triple, all four levels across triples.
        for round in 0..2 {
            for (i, src) in sources.iter().enumerate() {
                let opt = OPTS[(i + t + 2 * round) % OPTS.len()];
                let stem = src.file_stem().unwrap().to_string_lossy();
                let obj =
                    compile_macho(src, triple, opt, &dir.path().join(format!("{triple}{opt}-{i}-{stem}.o")));
                objects += 1;
                match (llvm_links(&obj), we_link(&obj, arch)) {
                    (Ok(()), Ok(())) => {}
                    (Err(llvm), Ok(())) if llvm.contains(LLVM_NEEDS_PLATFORM) => platform_only += 1,
                    (Err(_), Err(ours)) if !ours.is_empty() => {}
                    (llvm, ours) => {
                        problems.push(format!("{}: llvm-jitlink {llvm:?}, ours {ours:?}", obj.display()))
                    }
                }
            }
        }
    }
    eprintln!(
        "{objects} Mach-O objects; {platform_only} with TLV that llvm-jitlink links only with its MachOPlatform"
    );
    assert!(objects >= 50, "only {objects} objects");
    assert!(problems.is_empty(), "{} differences:\n{}", problems.len(), problems.join("\n"));
}

/// The native Linux build of `inputs` (sources, objects, archives) at `opt`, run with `args`.
fn native(inputs: &[PathBuf], opt: &str, args: &[String], dir: &Path) -> Output {
    let cxx = inputs.iter().any(|s| is_cxx(s));
    let exe = dir.join("native");
    let o = run(
        Command::new(llvm_tool(if cxx { "clang++" } else { "clang" }))
            .arg(opt)
            .args(inputs)
            .args(["-lm", "-pthread", "-o"])
            .arg(&exe),
        120,
    );
    assert!(o.status.success(), "native build of {inputs:?}: {}", text(&o.stderr));
    run(Command::new(&exe).args(args), 60)
}

/// `p` built natively at `opt` (its archive members in a native archive), run.
fn native_program(p: &Program, opt: &str, dir: &Path) -> Output {
    let native_dir = dir.join("native-objects");
    std::fs::create_dir_all(&native_dir).expect("mkdir");
    let compile = |src: &Path| {
        let out = native_dir.join(format!("{}.o", src.file_stem().unwrap().to_string_lossy()));
        let o = run(Command::new(llvm_tool("clang")).args(["-c", opt]).arg(src).arg("-o").arg(&out), 120);
        assert!(o.status.success(), "{}: {}", src.display(), text(&o.stderr));
        out
    };
    native(&p.objects(&native_dir, compile), opt, &p.args, dir)
}

fn repl(executor: &Path, flags: &[String], inputs: &[PathBuf], args: &[String]) -> Output {
    run(
        Command::new(our_bin("repl"))
            .arg(format!("--oop-executor={}", executor.display()))
            .args(flags)
            .args(inputs)
            .arg("--")
            .args(args),
        300,
    )
}

#[test]
fn x86_64_programs_match_native_in_darwin_sim_executor() {
    let executor = our_bin("darwin-sim-executor");
    let programs = c_programs();
    assert!(programs.len() >= 15, "only {} C programs", programs.len());
    let problems = in_parallel(programs, 2, |p| {
        let mut problems = Vec::new();
        for opt in ["-O0", "-O2"] {
            let dir = scratch();
            let want = native_program(&p, opt, dir.path());
            if let Some(m) = p.native_mismatch(opt, &want) {
                problems.push(m);
                continue;
            }
            // From the objects (and a Mach-O archive) …
            let compile = |src: &Path| {
                compile_macho(
                    src,
                    X86_64_SIM,
                    opt,
                    &dir.path().join(format!("{}.o", src.file_stem().unwrap().to_string_lossy())),
                )
            };
            let objs = p.objects(dir.path(), compile);
            let got = repl(&executor, &[], &objs, &p.args);
            problems.extend(mismatch(&format!("{} {opt} objects", p.name), &got.stdout, &got, &want));
            // … and from the sources, which repl compiles for the triple the executor announces.
            let mut inputs = p.sources.clone();
            if !p.archive.is_empty() {
                inputs.push(objs.last().unwrap().clone());
            }
            let got = repl(&executor, &stub_flags(opt), &inputs, &p.args);
            problems.extend(mismatch(&format!("{} {opt} sources", p.name), &got.stdout, &got, &want));
        }
        problems
    })
    .concat();
    assert!(problems.is_empty(), "{} differences:\n{}", problems.len(), problems.join("\n\n"));
}

#[test]
fn x86_64_cxx_statics_thread_locals_exceptions_and_label_differences_match_native() {
    let executor = our_bin("darwin-sim-executor");
    let problems = in_parallel(macho_programs("macho"), 2, |src| {
        let mut problems = Vec::new();
        for opt in ["-O0", "-O2"] {
            let dir = scratch();
            let want = native(std::slice::from_ref(&src), opt, &[], dir.path());
            let mut flags = stub_flags(opt);
            if is_cxx(&src) {
                flags.extend(["-Xcc".into(), "-std=c++17".into()]);
            }
            let got = repl(&executor, &flags, std::slice::from_ref(&src), &[]);
            problems.extend(mismatch(&format!("{} {opt}", src.display()), &got.stdout, &got, &want));
        }
        problems
    })
    .concat();
    assert!(problems.is_empty(), "{} differences:\n{}", problems.len(), problems.join("\n\n"));
}

/// Inputs and the lines they print (values as clang-repl prints them, and the target's output
/// in order with them). `%undo` takes back the last input (a definition here), as in
/// clang-repl; a crashing input is undone and the session goes on.
const TRANSCRIPT: &[(&str, &str)] = &[
    ("int x = 41;", ""),
    ("x + 1", "(int) 42\n"),
    ("int twice(int v) { return 2 * v; }", ""),
    ("twice(x)", "(int) 82\n"),
    ("struct P { int a; double b; };", ""),
    ("P p{3, 2.5};", ""),
    ("p.a + p.b", "(double) 5.5000000\n"),
    ("const char *s = \"hi\";", ""),
    ("s", "(const char *) \"hi\"\n"),
    ("thread_local int t = 5;", ""),
    ("t * 3", "(int) 15\n"),
    ("int bump() { return ++t; }", ""),
    ("bump() + bump()", "(int) 13\n"),
    ("extern \"C\" int printf(const char *, ...);", ""),
    ("printf(\"printed %d\\n\", x);", "printed 41\n"),
    ("x = 7;", ""),
    ("int y = 3;", ""),
    ("%undo", ""),
    ("int y = 4;", ""),
    ("y + x", "(int) 11\n"),
    // Each input that uses Box<int> carries a weak copy of its static member: the first one
    // loaded is the session's (Mach-O weak definitions coalesced across units).
    ("template <class T> struct Box { static int n; static int get() { return n * 10; } };", ""),
    ("template <class T> int Box<T>::n = 5;", ""),
    ("Box<int>::n += 1;", ""),
    ("Box<int>::n", "(int) 6\n"),
    ("Box<int>::get()", "(int) 60\n"),
    ("struct Counter { int n = 0; Counter() { n = 10; } ~Counter() {} };", ""),
    ("thread_local Counter c;", ""),
    ("c.n + t", "(int) 17\n"),
    ("*(volatile int *)0 = 1;", ""),
    ("x + 2", "(int) 9\n"),
];

#[test]
fn repl_transcript_in_darwin_sim_executor() {
    let executor = our_bin("darwin-sim-executor");
    let input: String = TRANSCRIPT.iter().map(|(i, _)| format!("{i}\n")).collect();
    let expected: String = TRANSCRIPT.iter().map(|(_, o)| *o).collect();
    let mut child = spawn(
        Command::new(our_bin("repl"))
            .arg(format!("--oop-executor={}", executor.display()))
            .args(stub_flags("-O0"))
            .stdin(std::process::Stdio::piped()),
    );
    {
        use std::io::Write;
        let mut stdin = child.take_stdin();
        stdin.write_all(input.as_bytes()).unwrap();
    }
    let o = child.wait(std::time::Duration::from_secs(300));
    let stderr = text(&o.stderr);
    assert_eq!(text(&o.stdout), expected, "stderr:\n{stderr}");
    assert!(stderr.contains("SIGSEGV"), "the crashing input is reported: {stderr}");
}

#[test]
fn arm64_programs_match_native_aarch64_in_darwin_sim_executor_under_qemu() {
    let Some(_) = Target::for_test() else { return };
    let executor = target_dir().join("aarch64-unknown-linux-gnu/release/darwin-sim-executor");
    assert!(
        executor.is_file(),
        "{} missing: run scripts/build-target.sh aarch64-unknown-linux-gnu",
        executor.display()
    );
    let programs = macho_programs("macho/arm64");
    assert!(programs.len() >= 10, "only {} arm64 programs", programs.len());
    let problems = in_parallel(programs, 2, |src| {
        let mut problems = Vec::new();
        for opt in ["-O0", "-O2"] {
            let dir = scratch();
            let exe = dir.path().join("native");
            let o = run(
                Command::new(if is_cxx(&src) { "aarch64-linux-gnu-g++" } else { "aarch64-linux-gnu-gcc" })
                    .arg(opt)
                    .arg(&src)
                    .args(["-lm", "-pthread", "-o"])
                    .arg(&exe),
                120,
            );
            assert!(o.status.success(), "native aarch64 build of {}: {}", src.display(), text(&o.stderr));
            let want = run(Command::new("qemu-aarch64").arg(&exe), 120);
            let wrapper = Target::wrapper(&executor, dir.path());
            let got = repl(&wrapper, &stub_flags(opt), std::slice::from_ref(&src), &[]);
            problems.extend(mismatch(&format!("{} {opt}", src.display()), &got.stdout, &got, &want));
        }
        problems
    })
    .concat();
    assert!(problems.is_empty(), "{} differences:\n{}", problems.len(), problems.join("\n\n"));
}

#[test]
fn damaged_macho_objects_get_errors_not_panics() {
    let dir = scratch();
    let src = programs_dir().join("macho/cxx_exceptions.cpp");
    for (triple, arch) in [(X86_64_SIM, Arch::X86_64), (ARM64_DEVICE, Arch::Aarch64)] {
        let obj = compile_macho(&src, triple, "-O2", &dir.path().join(format!("{triple}.o")));
        let good = std::fs::read(&obj).unwrap();
        assert!(we_link(&obj, arch).is_ok(), "the undamaged object links");
        let damaged = dir.path().join("damaged.o");
        let mut refused = 0;
        // Every byte (relocations, symbols, section headers, contents) set to 0xff in turn,
        // and the file cut short at many lengths: each link returns, with an error or not.
        let variants = (0..good.len()).map(|i| {
            let mut d = good.clone();
            d[i] = 0xff;
            d
        });
        let cuts = (0..good.len()).step_by(61).map(|n| good[..n].to_vec());
        for bytes in variants.chain(cuts) {
            std::fs::write(&damaged, &bytes).unwrap();
            match std::panic::catch_unwind(|| we_link(&damaged, arch)) {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    assert!(!e.is_empty());
                    refused += 1;
                }
                Err(_) => panic!(
                    "{triple}: the linker panicked on a damaged object (kept at {})",
                    damaged.display()
                ),
            }
        }
        assert!(refused > 0, "{triple}: no damage was noticed");
    }
}
