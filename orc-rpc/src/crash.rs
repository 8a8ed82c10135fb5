//! How a crash in JIT'd code is named, on both sides of the wire.
//!
//! orcbridge reports crashes as a signal number and a fault address (the crash-report
//! extension, and the session runtime's `main` and REPL-input threads; `docs/protocol.md`,
//! "orcbridge extensions"). Signal numbers on the wire are Linux's (x86-64 and AArch64 share
//! them); an executor on another system translates its own before sending ([`from_native`],
//! [`from_darwin`]). This module turns them into the one text both the executor's log and the
//! host's messages use, e.g. `SIGSEGV (invalid memory access at 0x0)`.

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
/// `SIGUSR1` on the wire.
pub const SIGUSR1: i32 = 10;
/// `SIGSEGV` on the wire.
pub const SIGSEGV: i32 = 11;
/// `SIGUSR2` on the wire.
pub const SIGUSR2: i32 = 12;
/// `SIGPIPE` on the wire.
pub const SIGPIPE: i32 = 13;
/// `SIGTERM` on the wire.
pub const SIGTERM: i32 = 15;
/// `SIGSYS` on the wire.
pub const SIGSYS: i32 = 31;

/// Where a signal with no Linux counterpart goes on the wire: `OTHER_SIGNAL + native number`,
/// above every Linux signal number (1..=64), so it is never taken for one.
pub const OTHER_SIGNAL: i32 = 128;

/// Darwin's (macOS, iOS) signal number `signal` in the wire's numbering.
///
/// Darwin's numbers are those of `<sys/signal.h>` in the macOS and iOS SDKs (the same on arm64
/// and x86_64); Linux's those of `<asm/signal.h>` (x86-64 and AArch64). They agree for 1-6, 8,
/// 9, 11, 13-15, 21, 22 and 24-28 and differ elsewhere: Darwin's `SIGBUS` is 10 (Linux's 7),
/// `SIGSYS` 12 (31), `SIGUSR1` 30 (10), `SIGUSR2` 31 (12), ... Darwin's `SIGEMT` (7) and
/// `SIGINFO` (29) have no Linux counterpart and become [`OTHER_SIGNAL`]` + signal`; so do numbers
/// out of range.
pub const fn from_darwin(signal: i32) -> i32 {
    match signal {
        1..=6 | 8 | 9 | 11 | 13..=15 | 21 | 22 | 24..=28 => signal,
        10 => SIGBUS,
        12 => SIGSYS,
        16 => 23, // SIGURG
        17 => 19, // SIGSTOP
        18 => 20, // SIGTSTP
        19 => 18, // SIGCONT
        20 => 17, // SIGCHLD
        23 => 29, // SIGIO
        30 => SIGUSR1,
        31 => SIGUSR2,
        _ => OTHER_SIGNAL.saturating_add(signal),
    }
}

/// This process's signal number `signal` in the wire's numbering: itself on Linux, translated
/// on Darwin ([`from_darwin`]). For numbers the operating system gave this process, e.g. the
/// signal that ended a child process.
pub const fn from_native(signal: i32) -> i32 {
    if cfg!(target_vendor = "apple") { from_darwin(signal) } else { signal }
}

/// The name of wire signal `signal` (`SIGSEGV`, ...), or `signal` for one without a name here.
pub fn signal_name(signal: i32) -> &'static str {
    match signal {
        SIGILL => "SIGILL",
        SIGTRAP => "SIGTRAP",
        SIGABRT => "SIGABRT",
        SIGBUS => "SIGBUS",
        SIGFPE => "SIGFPE",
        SIGKILL => "SIGKILL",
        SIGUSR1 => "SIGUSR1",
        SIGSEGV => "SIGSEGV",
        SIGUSR2 => "SIGUSR2",
        SIGPIPE => "SIGPIPE",
        SIGTERM => "SIGTERM",
        SIGSYS => "SIGSYS",
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

    #[test]
    fn darwin_signals_get_their_linux_numbers() {
        use super::*;
        // Darwin's <sys/signal.h> number -> the name a person expects.
        let darwin = [
            (4, "SIGILL"),
            (5, "SIGTRAP"),
            (6, "SIGABRT"),
            (8, "SIGFPE"),
            (9, "SIGKILL"),
            (10, "SIGBUS"),
            (11, "SIGSEGV"),
            (12, "SIGSYS"),
            (13, "SIGPIPE"),
            (15, "SIGTERM"),
            (30, "SIGUSR1"),
            (31, "SIGUSR2"),
        ];
        for (native, name) in darwin {
            assert_eq!(signal_name(from_darwin(native)), name, "Darwin signal {native}");
        }
        assert_eq!(describe(from_darwin(10), 0x10), "SIGBUS (invalid memory access at 0x10)");
        // No Linux counterpart (SIGEMT, SIGINFO) or out of range: never a Linux number.
        for native in [7, 29, 0, 32, -1] {
            assert!(!(1..=64).contains(&from_darwin(native)), "Darwin signal {native}");
        }
        // Every Darwin signal lands on a different wire number.
        let mut seen: Vec<i32> = (1..=31).map(from_darwin).collect();
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(seen.len(), 31);
        if cfg!(target_os = "linux") {
            assert_eq!(from_native(7), SIGBUS);
        }
    }
}
