//! Redefinition in the REPL (issue 13, item 1): defining a function, variable or type again
//! replaces it; code linked before calls the new function and reads the new variable (its GOT
//! entries are rewritten), state not redefined survives, a redefinition with another type
//! leaves the code compiled against the old type alone, and `%undo` of a redefinition brings
//! the earlier definition back, for callers too. In orc-executor and in LLVM's
//! llvm-jitlink-executor (where the rewriting runs as an alloc action of the new unit and as
//! a call of the session runtime), in C and C++.

use std::io::Write;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use device_tests::*;

/// (input, what it prints) pairs; both languages share what C can spell.
const COMMON: &[(&str, &str)] = &[
    ("int f(void) { return 1; }", ""),
    ("int g(void) { return f(); }", ""),
    ("g()", "(int) 1"),
    // Callers linked before see the new body.
    ("int f(void) { return 2; }", ""),
    ("g()", "(int) 2"),
    // State survives a redefinition of the code that uses it.
    ("int counter = 0;", ""),
    ("int bump(void) { return ++counter; }", ""),
    ("bump()", "(int) 1"),
    ("bump()", "(int) 2"),
    ("int bump(void) { return counter += 10; }", ""),
    ("bump()", "(int) 12"),
    // A variable defined again gets its new value, in code linked before too.
    ("int limit = 10;", ""),
    ("int limit_of(void) { return limit; }", ""),
    ("limit_of()", "(int) 10"),
    ("int limit = 20;", ""),
    ("limit_of()", "(int) 20"),
    ("limit", "(int) 20"),
    // %undo of a redefinition: the earlier definition comes back, for callers too.
    ("int h(void) { return 100; }", ""),
    ("int call_h(void) { return h(); }", ""),
    ("call_h()", "(int) 100"),
    ("int h(void) { return 200; }", ""),
    ("call_h()", "(int) 200"),
    ("%undo 2", ""),
    ("call_h()", "(int) 100"),
    ("h()", "(int) 100"),
    // Defined again after the undo.
    ("int h(void) { return 300; }", ""),
    ("call_h()", "(int) 300"),
    // Another type: new code gets the new definition, code compiled for the old type keeps
    // the old one (it would misread the result otherwise)...
    ("double f(void) { return 2.5; }", ""),
    ("f()", "(double) 2.5000000"),
    ("g()", "(int) 2"),
    // ... and after it is undone, a redefinition of the old type reaches the callers again.
    ("%undo 3", ""),
    ("int f(void) { return 7; }", ""),
    ("g()", "(int) 7"),
    ("counter", "(int) 12"),
];

const C_TYPES: &[(&str, &str)] = &[
    ("struct P { int x; };", ""),
    ("struct P { int x, y; };", ""),
    ("sizeof(struct P)", "(unsigned long) 8"),
    ("enum E { A, B };", ""),
    ("enum E { A = 5, B };", ""),
    ("B", "(int) 6"),
];

const CXX_TYPES: &[(&str, &str)] = &[
    ("struct P { int x; };", ""),
    ("struct P { int x, y; };", ""),
    ("P{3, 4}.y", "(int) 4"),
    ("using T = int;", ""),
    ("using T = double;", ""),
    ("T(1) / 2", "(double) 0.50000000"),
    // Overloads are distinct functions: defining one again leaves the other.
    ("int o(int) { return 1; }", ""),
    ("int o(double) { return 2; }", ""),
    ("int o(int) { return 3; }", ""),
    ("o(1) * 10 + o(1.0)", "(int) 32"),
];

fn run(args: &[String], steps: &[(&str, &str)]) -> Output {
    let mut child = spawn(Command::new(our_bin("repl")).args(args).stdin(Stdio::piped()));
    let input: String = steps.iter().map(|(i, _)| format!("{i}\n")).collect();
    child.take_stdin().write_all(input.as_bytes()).unwrap();
    child.wait(Duration::from_secs(120))
}

fn check(what: &str, args: &[String], steps: &[(&str, &str)]) {
    let o = run(args, steps);
    let stdout = String::from_utf8_lossy(&o.stdout);
    let stderr = String::from_utf8_lossy(&o.stderr);
    let want: String =
        steps.iter().filter(|(_, out)| !out.is_empty()).map(|(_, out)| format!("{out}\n")).collect();
    assert_eq!(stdout, want, "{what}: stderr:\n{stderr}");
    assert!(!stderr.contains("error"), "{what}: {stderr}");
    assert_eq!(o.status.code(), Some(0), "{what}: {stderr}");
}

#[test]
fn redefinitions_replace_functions_variables_and_types_in_every_executor() {
    let llvm = format!("--oop-executor={}", llvm_tool("llvm-jitlink-executor").display());
    for (executor, extra) in [("orc-executor", None), ("llvm-jitlink-executor", Some(llvm))] {
        for (lang, types) in [("c", C_TYPES), ("c++", CXX_TYPES)] {
            let mut args = vec!["-x".to_owned(), lang.to_owned()];
            args.extend(extra.clone());
            let steps: Vec<(&str, &str)> = COMMON.iter().chain(types).copied().collect();
            check(&format!("{lang} in {executor}"), &args, &steps);
        }
    }
}

#[test]
fn a_redefinition_that_does_not_compile_changes_nothing() {
    // clang-repl 22.1 loses the earlier declaration here (`use of undeclared identifier`).
    for (lang, def) in [("c", "int f(void) { return"), ("c++", "int f() { return")] {
        let steps = [
            (format!("{def} 1; }}"), ""),
            ("int g(void) { return f(); }".to_owned(), ""),
            (format!("{def} undeclared; }}"), ""),
            ("f() + g()".to_owned(), "(int) 2"),
            (format!("{def} 5; }}"), ""),
            ("f() + g()".to_owned(), "(int) 10"),
        ];
        let steps: Vec<(&str, &str)> = steps.iter().map(|(i, o)| (i.as_str(), *o)).collect();
        let o = run(&["-x".to_owned(), lang.to_owned()], &steps);
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(String::from_utf8_lossy(&o.stdout), "(int) 2\n(int) 10\n", "{lang}: {stderr}");
        assert!(stderr.contains("undeclared identifier 'undeclared'"), "{lang}: {stderr}");
        assert_eq!(o.status.code(), Some(1), "{lang}: {stderr}");
    }
}

#[test]
fn redefinitions_meet_deferred_definitions_and_undo_in_any_order() {
    // Definitions wait until used (deferred): they must not override newer ones, and code
    // compiled against an old type must keep the old definition even if it was linked later.
    let c: &[(&str, &str)] = &[
        // A deferred caller compiled against int f, linked after double f came.
        ("int f(void) { return 1; }", ""),
        ("f()", "(int) 1"),
        ("int g(void) { return f(); }", ""),
        ("double f(void) { return 2.5; }", ""),
        ("g()", "(int) 1"),
        ("f()", "(double) 2.5000000"),
        // An older deferred definition taken in later does not take over.
        ("int u(void) { return 1; } int k(void) { return 0; }", ""),
        ("int u(void) { return 2; }", ""),
        ("u()", "(int) 2"),
        ("k()", "(int) 0"),
        ("u()", "(int) 2"),
    ];
    let cxx: &[(&str, &str)] = &[
        // Undoing an input that redefined a name and used it in the same unit.
        ("int f() { return 1; }", ""),
        ("f()", "(int) 1"),
        ("int h() { return f(); }", ""),
        ("int f() { return 2; } int x = h();", ""),
        ("x", "(int) 2"),
        ("%undo 2", ""),
        ("h()", "(int) 1"),
        // Two stacked redefinitions undone together, then a third.
        ("int s() { return 1; }", ""),
        ("int s() { return 2; }", ""),
        ("int s() { return 3; }", ""),
        ("%undo 2", ""),
        ("s()", "(int) 1"),
        ("int s() { return 4; }", ""),
        ("s()", "(int) 4"),
    ];
    let llvm = format!("--oop-executor={}", llvm_tool("llvm-jitlink-executor").display());
    for extra in [None, Some(llvm)] {
        for (lang, steps) in [("c", c), ("c++", cxx)] {
            let mut args = vec!["-x".to_owned(), lang.to_owned()];
            args.extend(extra.clone());
            check(&format!("{lang} {extra:?}"), &args, steps);
        }
    }
}

#[test]
fn a_name_defined_twice_in_one_input_is_an_error_that_changes_nothing() {
    let steps = [("int q = 1; int q = 2;", ""), ("int q = 5;", ""), ("q", "(int) 5")];
    let o = run(&[], &steps);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(String::from_utf8_lossy(&o.stdout), "(int) 5\n", "{stderr}");
    assert!(stderr.contains("redefinition of 'q'"), "{stderr}");
    assert_eq!(o.status.code(), Some(1), "{stderr}");
}
