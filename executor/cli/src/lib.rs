//! What a process whose only job is to be an ORC executor does, shared by the `orc-executor`
//! binary of this package and other executor binaries built on [`orc_executor`] (the test
//! executor `darwin-sim-executor`), so they behave alike: [`process`] reads the mode words of
//! LLVM 22.1's `llvm-jitlink-executor` and serves inherited descriptors.
//!
//! Applications that embed the executor do not need this crate: they link `orc-executor` (Rust)
//! or `orc-executor-capi` (C), which own neither the command line nor the process.

#![deny(missing_docs)]

pub mod process;
