//! The differential corpus (see `device_tests::differential`): every script must print the
//! same stdout in repl (against orc-executor and llvm-jitlink-executor) as in clang-repl in
//! process, or what its `.expect` file records where clang-repl is wrong.

use device_tests::differential::{Verdict, check_all};

#[test]
fn the_repl_agrees_with_clang_repl_on_the_corpus() {
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get()).clamp(2, 4);
    let results = check_all("", workers);
    assert!(results.len() >= 300, "the corpus has {} scripts", results.len());
    let differ: Vec<String> = results
        .iter()
        .filter_map(|(s, v)| match v {
            Verdict::Differ(what) => Some(format!("{}:\n{what}", s.name)),
            _ => None,
        })
        .collect();
    assert!(
        differ.is_empty(),
        "{} of {} scripts differ:\n{}",
        differ.len(),
        results.len(),
        differ.join("\n")
    );
}
