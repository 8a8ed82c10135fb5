//! How a crash in JIT'd code is named, on both sides of the wire.
//!
//! orcbridge reports crashes as a signal number and a fault address (the crash-report
//! extension, and the session runtime's `main` and REPL-input threads; `docs/protocol.md`,
//! "orcbridge extensions"). Signal numbers on the wire are Linux's (x86-64 and AArch64 share
//! them); an executor on another system translates its own before sending. This module turns
//! them into the one text both the executor's log and the host's messages use, e.g.
//! `SIGSEGV (invalid memory access at 0x0)`.

/// `SIGILL` on the wire.
pub const SIGILL: i32 = 4;
/// `SIGTRAP` on the wire.
pub const SIGTRAP: i32 = 5;
/// `SIGABRT` on the wire.
pub const SIGABRT: i32 = 6;
/// `SIGBUS` on the wire.
pub const SIGBUS: i32 = 7;
/// `SIGFPE` on the wire.
pub const SIGFPE: i32 = 8;
/// `SIGKILL` on the wire.
pub const SIGKILL: i32 = 9;
/// `SIGSEGV` on the wire.
pub const SIGSEGV: i32 = 11;
/// `SIGPIPE` on the wire.
pub const SIGPIPE: i32 = 13;
/// `SIGTERM` on the wire.
pub const SIGTERM: i32 = 15;

/// The name of wire signal `signal` (`SIGSEGV`, ...), or `signal` for one without a name here.
pub fn signal_name(signal: i32) -> &'static str {
    match signal {
        SIGILL => "SIGILL",
        SIGTRAP => "SIGTRAP",
        SIGABRT => "SIGABRT",
        SIGBUS => "SIGBUS",
        SIGFPE => "SIGFPE",
        SIGKILL => "SIGKILL",
        SIGSEGV => "SIGSEGV",
        SIGPIPE => "SIGPIPE",
        SIGTERM => "SIGTERM",
        _ => "signal",
    }
}

/// A crash described for people: the signal's name and what its address means, e.g.
/// `SIGSEGV (invalid memory access at 0x8)`, `SIGILL (illegal instruction at 0x7f..)`,
/// `SIGABRT (abort)`. `address` is the signal's `si_addr` (0 for a sent signal).
pub fn describe(signal: i32, address: u64) -> String {
    let what = match signal {
        SIGSEGV | SIGBUS => format!("invalid memory access at {address:#x}"),
        SIGILL => format!("illegal instruction at {address:#x}"),
        SIGFPE => format!("arithmetic exception at {address:#x}"),
        SIGTRAP => format!("trap at {address:#x}"),
        SIGABRT => "abort".to_owned(),
        s => format!("signal {s}"),
    };
    format!("{} ({what})", signal_name(signal))
}

#[cfg(test)]
mod tests {
    #[test]
    fn crashes_read_as_people_expect() {
        assert_eq!(super::describe(11, 0), "SIGSEGV (invalid memory access at 0x0)");
        assert_eq!(super::describe(6, 0), "SIGABRT (abort)");
        assert_eq!(super::describe(4, 0x1000), "SIGILL (illegal instruction at 0x1000)");
        assert_eq!(super::describe(42, 0), "signal (signal 42)");
    }
}
