//! What executor memory needs from Apple's systems (macOS, the iOS simulator, iOS devices),
//! beyond the POSIX calls in [`super::sys_unix`], which calls this module.
//!
//! # How memory becomes executable here
//! As on Linux, and as LLVM 22.1's executor does on Darwin (`llvm/lib/Support/Unix/Memory.inc`:
//! `mmap` read-write, `mprotect` read-execute, then `sys_icache_invalidate`): a slab is ordinary
//! anonymous memory, segments are written while their pages are read-write and then protected
//! as the controller asked (never writable and executable at once), and the instruction cache
//! is invalidated for executable segments ([`icache_invalidate`]). This works in the iOS
//! simulator, in macOS processes without the hardened runtime, in hardened ones that have the
//! `com.apple.security.cs.allow-unsigned-executable-memory` entitlement, and on iOS devices
//! while the process is debugged ([`check_exec_allowed`]).
//!
//! # Why not `MAP_JIT`
//! `MAP_JIT` memory (what the `com.apple.security.cs.allow-jit` entitlement allows) does not
//! fit the ORC memory model, where the controller lays out code *and data* of a link in one
//! reservation and picks their addresses:
//! * on Apple silicon, whether `MAP_JIT` pages are writable or executable is a per-thread
//!   switch (`pthread_jit_write_protect_np`) over *all* of them, so data segments in a
//!   `MAP_JIT` slab would be read-only to the JIT'd code running on that thread;
//! * its protections cannot be changed per page: XNU's `vm_map_protect` refuses protection
//!   changes on a JIT entry that has a pmap protection policy (Apple silicon), so the data
//!   pages cannot be taken out of the switch;
//! * and it cannot be placed at an address: XNU's `mmap` rejects `MAP_JIT` with `MAP_FIXED`
//!   (`bsd/kern/kern_mman.c`), so code cannot be moved into `MAP_JIT` pages at the address
//!   the controller linked it for.
//!
//! Using it would need the controller to reserve code apart from data (an orcbridge protocol
//! extension; not done). The thread switch does not exist on iOS at all (the SDK marks
//! `pthread_jit_write_protect_np` unavailable there).
//!
//! # iOS devices
//! An iOS app may execute only pages signed by Apple's code signature, unless the kernel has
//! marked the process `CS_DEBUGGED` ("currently or has previously been debugged and allowed to
//! run with invalid pages", `bsd/sys/codesign.h` in XNU): that happens when a debugger attaches
//! to a development-signed app (`get-task-allow`), e.g. when Xcode runs it with its debugger.
//! Executing an unsigned page otherwise kills the process (a code-signing `SIGKILL`, which no
//! guard can catch), so the executor checks the flag before it makes anything executable and
//! refuses with an error that says what to do. Newer iOS versions may demand more of the
//! debugger (not checked here: no Apple device was available); docs/ios.md has the details.

use std::io;

/// Makes freshly written instructions in `[addr, addr + len)` visible to instruction fetch on
/// every core (`sys_icache_invalidate`, `<libkern/OSCacheControl.h>`; a no-op on x86-64).
pub fn icache_invalidate(addr: usize, len: usize) {
    unsafe extern "C" {
        // <libkern/OSCacheControl.h>: void sys_icache_invalidate(void *start, size_t len);
        fn sys_icache_invalidate(start: *mut libc::c_void, len: libc::size_t);
    }
    // SAFETY: the call only maintains caches for the range; the caller passes memory it
    // mapped and just wrote.
    unsafe { sys_icache_invalidate(addr as *mut libc::c_void, len) };
}

/// `csops` operation that reads the process's code-signing status (XNU `bsd/sys/codesign.h`).
#[cfg(all(target_os = "ios", not(target_env = "sim")))]
const CS_OPS_STATUS: libc::c_uint = 0;
/// Status flag: debugged, allowed to run unsigned pages (XNU `osfmk/kern/cs_blobs.h`).
#[cfg(all(target_os = "ios", not(target_env = "sim")))]
const CS_DEBUGGED: u32 = 0x1000_0000;

/// The process's code-signing status flags, if the kernel tells them.
#[cfg(all(target_os = "ios", not(target_env = "sim")))]
fn code_signing_status() -> io::Result<u32> {
    unsafe extern "C" {
        // Exported by libSystem; declared in XNU's <sys/codesign.h>, which the iOS SDK does not
        // ship: int csops(pid_t pid, unsigned int ops, void *useraddr, size_t usersize);
        fn csops(
            pid: libc::pid_t,
            ops: libc::c_uint,
            useraddr: *mut libc::c_void,
            size: libc::size_t,
        ) -> libc::c_int;
    }
    let mut flags = 0u32;
    // SAFETY: `flags` is a writable u32 and its size is passed; CS_OPS_STATUS writes at most
    // that many bytes.
    let r = unsafe { csops(libc::getpid(), CS_OPS_STATUS, (&raw mut flags).cast(), size_of::<u32>()) };
    if r == 0 { Ok(flags) } else { Err(io::Error::last_os_error()) }
}

/// The error for code that cannot run on an iOS device because nothing debugs the app.
pub const NOT_DEBUGGED: &str = "this iOS app cannot run JIT'd code: iOS lets an app execute memory it \
wrote only while a debugger is attached (the process is not CS_DEBUGGED). Run the app from Xcode \
with the debugger (Product > Run, with \"Debug executable\" checked in the scheme), or attach one \
before connecting; see docs/ios.md";

/// Checks, before any page is made executable, that this process may execute memory it wrote:
/// always, except on iOS devices, where it must be debugged (`CS_DEBUGGED`).
///
/// # Errors
/// On an iOS device that is not debugged: `PermissionDenied` with [`NOT_DEBUGGED`].
pub fn check_exec_allowed() -> io::Result<()> {
    #[cfg(all(target_os = "ios", not(target_env = "sim")))]
    {
        // CS_DEBUGGED never goes away once set, so a yes can be remembered; a no cannot (the
        // developer may attach a debugger later).
        use std::sync::atomic::{AtomicBool, Ordering};
        static DEBUGGED: AtomicBool = AtomicBool::new(false);
        if DEBUGGED.load(Ordering::Relaxed) {
            return Ok(());
        }
        match code_signing_status() {
            Ok(flags) if flags & CS_DEBUGGED != 0 => DEBUGGED.store(true, Ordering::Relaxed),
            Ok(_) => return Err(io::Error::new(io::ErrorKind::PermissionDenied, NOT_DEBUGGED)),
            Err(e) => {
                return Err(io::Error::new(
                    io::ErrorKind::PermissionDenied,
                    format!("cannot read this app's code-signing status ({e}); {NOT_DEBUGGED}"),
                ));
            }
        }
    }
    Ok(())
}

/// `err` from `mprotect` making pages executable, with what the developer can do about it.
pub fn exec_refused(err: io::Error) -> io::Error {
    let hint = if cfg!(target_os = "macos") {
        "macOS refuses to make written memory executable in a process with the hardened runtime \
         unless it has the com.apple.security.cs.allow-unsigned-executable-memory entitlement \
         (see docs/ios.md)"
    } else if cfg!(target_env = "sim") {
        "the simulator refused to make written memory executable (see docs/ios.md)"
    } else {
        NOT_DEBUGGED
    };
    io::Error::new(err.kind(), format!("{}: {hint}", super::sys_unix::errno_text(&err)))
}
