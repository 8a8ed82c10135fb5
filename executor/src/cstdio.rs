//! C's stdio streams (`stdout`, `stderr`, `stdin`): flushing them as `exit()` would, and
//! adjusting them when the stdio extension ([`crate::stdio`]) changes the descriptors under
//! them. Every operation skips a stream another thread holds locked: that thread may have
//! crashed in JIT'd code or spin with the lock held, and waiting would hang the executor's
//! thread too.

use std::ffi::c_int;

unsafe extern "C" {
    fn ftrylockfile(f: *mut libc::FILE) -> c_int;
    fn funlockfile(f: *mut libc::FILE);
    #[cfg_attr(target_vendor = "apple", link_name = "__stdoutp")]
    static mut stdout: *mut libc::FILE;
    #[cfg_attr(target_vendor = "apple", link_name = "__stderrp")]
    static mut stderr: *mut libc::FILE;
    #[cfg_attr(target_vendor = "apple", link_name = "__stdinp")]
    static mut stdin: *mut libc::FILE;
    fn clearerr(f: *mut libc::FILE);
    /// glibc's (`stdio_ext.h`): drop what the stream has buffered.
    #[cfg(not(target_vendor = "apple"))]
    fn __fpurge(f: *mut libc::FILE);
    /// The BSD name of the same (Darwin's `stdio.h`).
    #[cfg(target_vendor = "apple")]
    fn fpurge(f: *mut libc::FILE) -> c_int;
}

/// Runs `op` on stream `f` under its lock, unless it is null or another thread holds the lock
/// (waiting could hang: that thread may have crashed or spin with the lock held).
///
/// # Safety
/// `f` is null or a valid stream.
unsafe fn with_stream_if_free(f: *mut libc::FILE, op: impl FnOnce(*mut libc::FILE)) {
    // SAFETY: per the contract; the lock is recursive, so `op`'s stdio calls take it again.
    unsafe {
        if !f.is_null() && ftrylockfile(f) == 0 {
            op(f);
            funlockfile(f);
        }
    }
}

/// Flushes C's `stdout` and `stderr`, as `exit()` would for a native program, so that output
/// of JIT'd code is neither lost nor held back when stdout is a file or a pipe. A stream
/// another thread holds locked is skipped: that thread is still writing (its own call flushes
/// when it returns), or it crashed or spins with the lock held, and waiting would hang the
/// executor's thread too.
pub fn flush_stdio_if_free() {
    // SAFETY: reading the C library's stream pointers, which it initialises before main.
    let streams = unsafe { [stdout, stderr] };
    for f in streams {
        // SAFETY: a stream of the C library, or null.
        unsafe { with_stream_if_free(f, |f| _ = libc::fflush(f)) };
    }
}

/// Makes C's `stdin` forget what it buffered and its end-of-file and error flags, after
/// descriptor 0 changed under it (the stdio extension hands it to a controller and back), so
/// that a program reads the new descriptor from its start instead of the old one's leftovers
/// or a sticky end of file.
pub(crate) fn reset_stdin_stream() {
    // SAFETY: reading the C library's stream pointer, which it initialises before main; the
    // calls take a valid stream.
    unsafe {
        with_stream_if_free(stdin, |f| {
            clearerr(f);
            #[cfg(not(target_vendor = "apple"))]
            __fpurge(f);
            #[cfg(target_vendor = "apple")]
            fpurge(f);
        })
    };
}

/// Makes C's `stdout` and `stdin` line-buffered, as they are natively on a terminal: for a
/// controller whose user sees the forwarded output on a terminal, so that a prompt without a
/// newline still appears before the program reads (glibc flushes a line-buffered `stdout`
/// when a line-buffered `stdin` has to read).
pub(crate) fn buffer_stdio_as_on_a_terminal() {
    // SAFETY: as in `reset_stdin_stream`; setvbuf after a flush, with no buffer of ours.
    unsafe {
        with_stream_if_free(stdout, |f| _ = libc::fflush(f));
        for f in [stdout, stdin] {
            with_stream_if_free(f, |f| _ = libc::setvbuf(f, std::ptr::null_mut(), libc::_IOLBF, 0));
        }
    };
}
