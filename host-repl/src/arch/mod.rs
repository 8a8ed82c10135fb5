//! Per-architecture relocation handling: which relocations exist, what each computes, how its
//! value is encoded, and the code of GOT-indirect jump stubs.

pub mod x86_64;
