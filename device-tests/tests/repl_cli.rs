//! `repl FILE…`: the bundled examples, the default executor, and the errors a user meets.

use std::process::Command;
use std::time::{Duration, Instant};

use device_tests::*;

fn repl(args: &[&str]) -> std::process::Output {
    run(Command::new(our_bin("repl")).args(args).current_dir(workspace_root()), 120)
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn bundled_examples_run_in_the_bundled_executor() {
    // No executor flag: repl launches the orc-executor next to it.
    let o = repl(&["examples/scripts/hello.c", "--", "a", "b"]);
    assert_eq!(text(&o.stdout), "hello from JIT'd code, 3 argument(s) [examples/scripts/hello.c] [a] [b]\n");
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let o = repl(&["examples/scripts/hello.ll"]);
    assert_eq!(text(&o.stdout), "hello from JIT'd LLVM IR!\n");
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    // -e inputs are evaluated as in the REPL, values printed.
    let o = repl(&["-x", "c", "-e", "#include <stdio.h>", "-e", "puts(\"from -e\");", "-e", "6 * 7"]);
    assert_eq!(
        (text(&o.stdout).as_str(), o.status.code()),
        ("from -e\n(int) 42\n", Some(0)),
        "{}",
        text(&o.stderr)
    );
    // The demo's REPL script, on stdin.
    let script = std::fs::File::open(workspace_root().join("examples/scripts/session.txt")).unwrap();
    let o = spawn(Command::new(our_bin("repl")).stdin(script).current_dir(workspace_root()))
        .wait(Duration::from_secs(120));
    // `names.size()` is printed, so clang's [[nodiscard]] warning for it would be wrong.
    assert!(!text(&o.stderr).contains("nodiscard"), "{}", text(&o.stderr));
    assert_eq!(
        text(&o.stdout),
        "(int) 42\n(double) 3.5000000\n(unsigned long) 3\n(const char *) \"edsger\"\n(int) 12\n\
         hello from the executor, answer = 42\n(int) 20\n(char) 'a'\n",
        "{}",
        text(&o.stderr)
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
}

#[test]
fn undefined_symbols_name_the_symbol_and_the_referencing_input() {
    let dir = scratch();
    let src = dir.path().join("missing.c");
    std::fs::write(&src, "int missing_function(void);\nint main(void) { return missing_function(); }\n")
        .unwrap();
    let o = repl(&[src.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    let want = format!("undefined symbol: missing_function (referenced from {})", src.display());
    assert!(text(&o.stderr).contains(&want), "{}", text(&o.stderr));
    // In the REPL the input is reported and rolled back; the next input works.
    let o =
        repl(&["-x", "c", "-e", "int missing_function(void);", "-e", "missing_function();", "-e", "1 + 1"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).contains("undefined symbol: missing_function (referenced from input_line_"),
        "{}",
        text(&o.stderr)
    );
    assert_eq!(text(&o.stdout), "(int) 2\n");
}

#[test]
fn unsupported_relocations_are_named() {
    // Non-PIC thread-local access uses the local-exec model, which JIT'd code cannot use.
    let dir = scratch();
    let src = dir.path().join("tls.c");
    std::fs::write(&src, "_Thread_local int t = 5;\nint main(void){ return t; }\n").unwrap();
    let obj = dir.path().join("tls.o");
    let c = run(Command::new(llvm_tool("clang")).args(["-c", "-fno-pic"]).arg(&src).arg("-o").arg(&obj), 60);
    assert!(c.status.success());
    let o = repl(&[obj.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let err = text(&o.stderr);
    assert!(err.contains("unsupported relocation R_X86_64_TPOFF32") && err.contains("-fPIC"), "{err}");
}

#[test]
fn an_unreachable_executor_is_reported() {
    let port = free_port();
    let o = repl(&[&format!("--oop-executor-connect=127.0.0.1:{port}"), "examples/scripts/hello.c"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains(&format!("cannot reach the executor: 127.0.0.1:{port}: Connection refused")),
        "{}",
        text(&o.stderr)
    );
    let o = repl(&["--oop-executor=/nonexistent/executor", "examples/scripts/hello.c"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains("/nonexistent/executor"), "{}", text(&o.stderr));
}

#[test]
fn a_crashing_program_is_reported_promptly_in_every_executor() {
    let dir = scratch();
    let src = dir.path().join("crash.c");
    std::fs::write(&src, "#include <stdio.h>\nint main(void){ puts(\"before\"); fflush(stdout); volatile int *p = 0; *p = 1; return 0; }\n").unwrap();
    for executor in [our_bin("orc-executor"), llvm_tool("llvm-jitlink-executor")] {
        let start = Instant::now();
        let flag = format!("--oop-executor={}", executor.display());
        let o = repl(&[&flag, src.to_str().unwrap()]);
        let err = text(&o.stderr);
        assert_eq!(text(&o.stdout), "before\n");
        assert_eq!(o.status.code(), Some(128 + 11), "{err}");
        assert!(err.contains("the program did not finish") && err.contains("SIGSEGV"), "{err}");
        // orc-executor catches the fault on main's thread and lives on; LLVM's executor dies.
        let survived = err.contains("it crashed with SIGSEGV (invalid memory access at 0x0)");
        assert_eq!(survived, executor == our_bin("orc-executor"), "{err}");
        // Compilation and start-up included; the crash itself is reported at once.
        assert!(start.elapsed() < Duration::from_secs(10));
    }
    // A stack overflow on main's thread (which has no alternate signal stack of its own).
    let deep = dir.path().join("deep.c");
    std::fs::write(&deep, "int rec(int n){ volatile char b[4096]; b[0] = n; return rec(n + 1) + b[0]; }\nint main(void){ return rec(0); }\n").unwrap();
    let o = repl(&[deep.to_str().unwrap()]);
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(128 + 11), "{err}");
    assert!(err.contains("it crashed with SIGSEGV (invalid memory access at 0x"), "{err}");
}

#[test]
fn code_built_without_pic_gets_low_memory_from_orc_executor_and_advice_elsewhere() {
    let dir = scratch();
    let obj = compile("cprog.c", dir.path(), &["-fno-pic", "-O2"]);
    let o = repl(&[obj.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o.stderr));
    assert!(text(&o.stdout).contains("ids 100 101 102"));
    let llvm = format!("--oop-executor={}", llvm_tool("llvm-jitlink-executor").display());
    let o = repl(&[&llvm, obj.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let err = text(&o.stderr);
    assert!(err.contains("R_X86_64_32 against") && err.contains("compile with -fPIC"), "{err}");
}

#[test]
fn libraries_from_dash_l_and_dlopen() {
    let dir = scratch();
    let d = dir.path();
    std::fs::write(
        d.join("greet.c"),
        "const char *greeting(void) { return \"hello from a shared library\"; }\n",
    )
    .unwrap();
    std::fs::write(d.join("twice.c"), "int twice(int x) { return 2 * x; }\n").unwrap();
    std::fs::write(
        d.join("main.c"),
        "#include <stdio.h>\nconst char *greeting(void); int twice(int);\n\
         int main(void) { puts(greeting()); return twice(21); }\n",
    )
    .unwrap();
    let cc = |args: &[&str]| {
        let o = run(Command::new(llvm_tool("clang")).args(args).current_dir(d), 60);
        assert!(o.status.success(), "{}", text(&o.stderr));
    };
    cc(&["-shared", "-fPIC", "greet.c", "-o", "libgreet.so"]);
    cc(&["-c", "-fPIC", "twice.c", "-o", "twice.o"]);
    let ar =
        run(Command::new(llvm_tool("llvm-ar")).args(["rcs", "libtwice.a", "twice.o"]).current_dir(d), 60);
    assert!(ar.status.success());
    let main = d.join("main.c");
    let dir_arg = d.to_str().unwrap();
    // -l finds the archive (linked on the host) and the shared library (loaded in the executor).
    let o = repl(&["-L", dir_arg, "-lgreet", "-ltwice", main.to_str().unwrap()]);
    assert_eq!(
        (text(&o.stdout).as_str(), o.status.code()),
        ("hello from a shared library\n", Some(42)),
        "{}",
        text(&o.stderr)
    );
    // --dlopen loads a library by path.
    let lib = d.join("libgreet.so");
    let o = repl(&["--dlopen", lib.to_str().unwrap(), "-L", dir_arg, "-ltwice", main.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(42), "{}", text(&o.stderr));
    // A missing library is an error from the executor's loader.
    let o = repl(&["--dlopen", "/nonexistent/libnope.so", main.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains("libnope.so"), "{}", text(&o.stderr));
}

#[test]
fn system_libraries_are_found_as_the_system_linker_finds_them() {
    // glibc's libm.so and libc.so are GNU ld scripts; libpthread.a, libdl.a and librt.a are
    // empty archives kept for old build scripts; libz.so is a symlink to the real library.
    let dir = scratch();
    let src = dir.path().join("mathprog.c");
    std::fs::write(
        &src,
        "#include <math.h>\n#include <stdio.h>\n#include <pthread.h>\n#include <zlib.h>\n\
         int main(int argc, char **argv) {\n  double x = argc + 1.0;\n\
           printf(\"%.3f %.3f %d\\n\", sqrt(x * 8), pow(x, 10), pthread_self() != 0);\n\
           return zlibVersion()[0] == '1' ? 0 : 1;\n}\n",
    )
    .unwrap();
    let libs = ["-lm", "-lpthread", "-ldl", "-lrt", "-lz", "-lc"];
    let llvm = format!("--oop-executor={}", llvm_tool("llvm-jitlink-executor").display());
    for executor in [None, Some(llvm.as_str())] {
        let mut args: Vec<&str> = executor.into_iter().collect();
        args.extend(libs);
        args.push(src.to_str().unwrap());
        let o = repl(&args);
        assert_eq!(
            (text(&o.stdout).as_str(), o.status.code()),
            ("4.000 1024.000 1\n", Some(0)),
            "{executor:?}: {}",
            text(&o.stderr)
        );
    }
    // In the REPL too, and with --dlopen of a script's name and %lib.
    let o = repl(&["-x", "c", "-lm", "-e", "#include <math.h>", "-e", "cbrt(27.0)"]);
    assert_eq!(text(&o.stdout), "(double) 3.0000000\n", "{}", text(&o.stderr));
    // The value is printed, so clang's warning that a const function's result is unused is
    // not shown.
    assert!(!text(&o.stderr).contains("warning"), "{}", text(&o.stderr));
    let o = repl(&[
        "-x",
        "c",
        "--dlopen",
        "libm.so",
        "-e",
        "#include <math.h>",
        "-e",
        "%lib libz.so",
        "-e",
        "cbrt(8.0)",
    ]);
    // As clang-repl prints it.
    assert_eq!(text(&o.stdout), "(double) 2.0\n", "{}", text(&o.stderr));
    // Nothing found: the error names what was searched.
    let o = repl(&["-lsurely_missing_library", src.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let err = text(&o.stderr);
    assert!(
        err.contains("cannot find -lsurely_missing_library: no libsurely_missing_library.so or"),
        "{err}"
    );
    assert!(err.contains("/usr/lib/x86_64-linux-gnu"), "{err}");
}

#[test]
fn tab_completes_code_and_commands_on_a_terminal() {
    let home = scratch(); // history goes here
    let mut cmd = Command::new(our_bin("repl"));
    cmd.env("XDG_DATA_HOME", home.path()).env("TERM", "xterm");
    let p = spawn_interactive(&mut cmd);
    let prompts = |n: usize| {
        assert!(
            p.stdout_count_reaches("repl> ", n, Duration::from_secs(60)),
            "prompt {n} did not come:\n{}\nstderr:\n{}",
            p.stdout_so_far(),
            p.stderr_so_far()
        )
    };
    let limit = Duration::from_secs(30);
    prompts(1);
    p.type_keys("#include <vector>\r");
    prompts(2);
    // A name from a header, then a member of a class template specialization.
    p.type_keys("std::vec\t");
    p.wait_for_stdout("std::vector", limit);
    p.type_keys("<int> v{1, 2};\r");
    prompts(3);
    p.type_keys("v.push_b\t");
    p.wait_for_stdout("v.push_back", limit);
    p.type_keys("(3);\r");
    prompts(4);
    p.type_keys("v.si\t");
    p.wait_for_stdout("v.size", limit);
    p.type_keys("()\r");
    p.wait_for_stdout("(unsigned long) 3", limit);
    // A command.
    p.type_keys("%he\t");
    p.wait_for_stdout("%help", limit);
    p.type_keys("\r");
    p.wait_for_stdout("forget the last N inputs", limit);
    // Ctrl-D at the next prompt: typed before it, the terminal's line discipline would take
    // it as end-of-file for a read nobody made yet, and rustyline would never see it.
    let deadline = std::time::Instant::now() + limit;
    while !p
        .stdout_so_far()
        .rsplit("forget the last N inputs")
        .next()
        .is_some_and(|tail| tail.contains("repl> "))
    {
        assert!(std::time::Instant::now() < deadline, "no prompt after %help:\n{}", p.stdout_so_far());
        std::thread::sleep(Duration::from_millis(20));
    }
    p.type_keys("\x04"); // Ctrl-D
    let out = p.wait(limit);
    assert!(out.status.success(), "{out:?}");
}

#[test]
fn ctrl_c_on_a_terminal_stops_waiting_for_a_running_input() {
    // Typed on a terminal, Ctrl-C reaches repl as SIGINT from the line discipline while an
    // input runs; the line editor must not be the one that gets it.
    let home = scratch();
    let mut cmd = Command::new(our_bin("repl"));
    cmd.args(["-x", "c"]).env("XDG_DATA_HOME", home.path()).env("TERM", "xterm");
    let p = spawn_in_terminal_session(&mut cmd);
    let limit = Duration::from_secs(60);
    p.wait_for_stdout("repl> ", limit);
    p.type_keys("#include <stdio.h>\rint v = 3;\r");
    // The launched executor shares the terminal: once "spinning" is there, the input is
    // running (spelled so that the terminal's echo of the typed line does not contain it).
    p.type_keys("printf(\"spin%s\\n\", \"ning\"); fflush(stdout); for (;;) {}\r");
    p.wait_for_stdout("spinning", limit);
    p.type_keys("\x03");
    p.wait_for_stderr("^C: stopped waiting; the input goes on running in the executor", limit);
    p.type_keys("v\r");
    p.wait_for_stdout("(int) 3", limit);
    p.type_keys("%quit\r");
    let out = p.wait(limit);
    assert_eq!(out.status.code(), Some(1), "the interrupted input counts as failed: {out:?}");
}

#[test]
fn an_input_left_open_is_refused_instead_of_hanging_clang() {
    // clang 22's incremental parser never returns from a class body an input ends in.
    let dir = scratch();
    let open = dir.path().join("open.cpp");
    std::fs::write(&open, "class A {\n").unwrap();
    let load = format!("%load {}", open.display());
    let o = repl(&["-e", "class A {", "-e", &load, "-e", "1 + 1"]);
    let err = text(&o.stderr);
    assert_eq!(text(&o.stdout), "(int) 2\n", "{err}");
    assert!(err.contains("error: the input ends inside an unclosed '{' or comment"), "{err}");
    assert!(err.contains("open.cpp ends inside an unclosed '{' or comment"), "{err}");
    assert_eq!(o.status.code(), Some(1), "{err}");
}

#[test]
fn a_file_compiles_once_until_it_or_a_header_it_includes_changes() {
    // The object cache keys a source by the content of every file clang read for it.
    let dir = scratch();
    let cache = dir.path().join("cache");
    std::fs::write(dir.path().join("n.h"), "#define N 41\n").unwrap();
    let src = dir.path().join("p.c");
    std::fs::write(
        &src,
        "#include <stdio.h>\n#include \"n.h\"\nint main(void) { printf(\"%d\\n\", N + 1); return 0; }\n",
    )
    .unwrap();
    let repl_v = |extra: &[&str]| {
        let o = run(
            Command::new(our_bin("repl"))
                .current_dir(dir.path())
                .env("XDG_CACHE_HOME", &cache)
                .arg("-v")
                .args(extra)
                .arg("p.c"),
            60,
        );
        assert!(o.status.success(), "{}", text(&o.stderr));
        let err = text(&o.stderr);
        let compiled = err.contains("p.c: compiled in");
        let cached = err.contains("p.c: unchanged, with the files it includes; nothing compiled");
        assert!(compiled != cached, "{err}");
        (text(&o.stdout), compiled)
    };
    assert_eq!(repl_v(&[]), ("42\n".to_owned(), true));
    assert_eq!(repl_v(&[]), ("42\n".to_owned(), false));
    // Content counts, not times: a header written again unchanged (touched) compiles nothing,
    // as the user guide says.
    std::fs::write(dir.path().join("n.h"), "#define N 41\n").unwrap();
    assert_eq!(repl_v(&[]), ("42\n".to_owned(), false));
    // Other arguments are another object.
    assert_eq!(repl_v(&["-Xcc", "-DUNUSED=1"]), ("42\n".to_owned(), true));
    // An edited header compiles the source again; the new object is cached in turn.
    std::fs::write(dir.path().join("n.h"), "#define N 99\n").unwrap();
    assert_eq!(repl_v(&[]), ("100\n".to_owned(), true));
    assert_eq!(repl_v(&[]), ("100\n".to_owned(), false));
    // So does an edited source.
    std::fs::write(&src, "#include \"n.h\"\nint main(void) { return N - 90; }\n").unwrap();
    let o = run(
        Command::new(our_bin("repl")).current_dir(dir.path()).env("XDG_CACHE_HOME", &cache).arg("p.c"),
        60,
    );
    assert_eq!(o.status.code(), Some(9), "{}", text(&o.stderr));
}

#[test]
fn objects_run_without_loading_clang_or_llvm() {
    // The dynamic loader's log (LD_DEBUG=files, on stderr) names every library a process of
    // the run loads, whenever it does.
    let dir = scratch();
    std::fs::write(
        dir.path().join("hello.c"),
        "#include <stdio.h>\nint main(void) { puts(\"hi\"); return 0; }\n",
    )
    .unwrap();
    let o = run(
        Command::new(llvm_tool("clang"))
            .current_dir(dir.path())
            .args(["-c", "-fPIC", "hello.c", "-o", "hello.o"]),
        60,
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    let loads_llvm = |input: &str, cache: bool| {
        let mut cmd = Command::new(our_bin("repl"));
        cmd.current_dir(dir.path()).env("XDG_CACHE_HOME", dir.path().join("cache")).env("LD_DEBUG", "files");
        if cache {
            cmd.env_remove("ORCBRIDGE_CACHE");
        } else {
            cmd.env("ORCBRIDGE_CACHE", "off");
        }
        let o = run(cmd.arg(input), 60);
        let err = text(&o.stderr);
        assert_eq!((text(&o.stdout).as_str(), o.status.code()), ("hi\n", Some(0)), "{input}: {err}");
        err.contains("libclang-cpp") || err.contains("libLLVM")
    };
    // A source loads them, to compile itself and the session runtime, which are cached ...
    assert!(loads_llvm("hello.c", true));
    // ... so an object runs without them, and so does the unchanged source.
    assert!(!loads_llvm("hello.o", true));
    assert!(!loads_llvm("hello.c", true));
    // With no cache, the session runtime is compiled for every run.
    assert!(loads_llvm("hello.o", false));
}

#[test]
fn ir_files_compile_as_clang_compiles_them() {
    let dir = scratch();
    let ll = workspace_root().join("examples/scripts/hello.ll");
    let bc = dir.path().join("hello.bc");
    let o = run(Command::new(llvm_tool("llvm-as")).arg(&ll).arg("-o").arg(&bc), 60);
    assert!(o.status.success(), "{}", text(&o.stderr));
    // Bitcode, and text at -O2; the module has no triple and takes the target's silently.
    for args in [vec![bc.to_str().unwrap()], vec!["-Xcc", "-O2", ll.to_str().unwrap()]] {
        let o = run(
            Command::new(our_bin("repl")).env("XDG_CACHE_HOME", dir.path().join("cache")).args(&args),
            60,
        );
        assert_eq!(
            (text(&o.stdout).as_str(), text(&o.stderr).as_str(), o.status.code()),
            ("hello from JIT'd LLVM IR!\n", "", Some(0))
        );
    }
    // A mistake is clang's diagnostic, with the line.
    let bad = dir.path().join("bad.ll");
    std::fs::write(&bad, "define i32 @main() {\n  ret i32 %x\n}\n").unwrap();
    let o = repl(&[bad.to_str().unwrap()]);
    let err = text(&o.stderr);
    assert!(err.contains("bad.ll:2:11: error: use of undefined value '%x'"), "{err}");
    assert_eq!(o.status.code(), Some(2), "{err}");
}
