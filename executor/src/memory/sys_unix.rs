//! The operating-system calls behind executor memory: mapping, protection, instruction-cache
//! upkeep, shared-memory objects and fault-free reads. The one place to port; what only Apple
//! systems need is in `sys_apple.rs`, which this module calls.

use std::ffi::CString;
use std::io;

use orc_rpc::types::RemoteAllocGroup;

#[cfg(target_vendor = "apple")]
use super::sys_apple;

/// The page size of this process in bytes.
pub fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if n > 0 { n as usize } else { 4096 }
}

/// The system's text for an OS error, without Rust's " (os error N)" suffix, as LLVM reports
/// it (e.g. `Cannot allocate memory`).
pub fn errno_text(e: &io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error ") {
        Some(i) => s[..i].to_owned(),
        None => s,
    }
}

/// True if [`map_anonymous`] can place memory in the low 2 GiB (`MAP_32BIT`, x86-64 Linux).
pub const CAN_MAP_LOW: bool = cfg!(all(target_os = "linux", target_arch = "x86_64"));

/// Maps `len` bytes (a multiple of the page size) of zeroed, private, read-write memory;
/// with `low`, in the low 2 GiB of the address space (only where [`CAN_MAP_LOW`]).
///
/// # Errors
/// The `mmap` errno, e.g. `Cannot allocate memory`.
pub fn map_anonymous(len: usize, low: bool) -> io::Result<usize> {
    #[cfg(all(target_os = "linux", target_arch = "x86_64"))]
    let extra = if low { libc::MAP_32BIT } else { 0 };
    #[cfg(not(all(target_os = "linux", target_arch = "x86_64")))]
    let extra = {
        if low {
            return Err(io::Error::from(io::ErrorKind::Unsupported));
        }
        0
    };
    // SAFETY: a fresh anonymous mapping at an address of the kernel's choosing touches no
    // existing memory.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | extra,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED { Err(io::Error::last_os_error()) } else { Ok(p as usize) }
}

/// Creates a POSIX shared-memory object named `name` of `len` bytes and maps it shared and
/// read-write. The controller maps the same object by name and writes segment contents there
/// (LLVM's `ExecutorSharedMemoryMapperService`).
///
/// # Errors
/// The errno of `shm_open`, `ftruncate` or `mmap`.
pub fn map_shared_object(name: &str, len: usize) -> io::Result<usize> {
    let cname = CString::new(name).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: cname is a valid C string; O_EXCL makes the object ours alone.
    let fd = unsafe { libc::shm_open(cname.as_ptr(), libc::O_RDWR | libc::O_CREAT | libc::O_EXCL, 0o600) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    let result = (|| {
        // SAFETY: fd is an open shared-memory object we own.
        if unsafe { libc::ftruncate(fd, len as libc::off_t) } != 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: maps the object we just sized; no existing memory is touched.
        let p = unsafe {
            libc::mmap(std::ptr::null_mut(), len, libc::PROT_READ | libc::PROT_WRITE, libc::MAP_SHARED, fd, 0)
        };
        if p == libc::MAP_FAILED { Err(io::Error::last_os_error()) } else { Ok(p as usize) }
    })();
    // SAFETY: the mapping (if any) keeps the object alive; the descriptor is no longer needed.
    unsafe { libc::close(fd) };
    if result.is_err() {
        unlink_shared_object(name);
    }
    result
}

/// Removes a shared-memory object's name (existing mappings stay valid).
pub fn unlink_shared_object(name: &str) {
    if let Ok(cname) = CString::new(name) {
        // SAFETY: cname is a valid C string.
        unsafe { libc::shm_unlink(cname.as_ptr()) };
    }
}

/// Unmaps `[addr, addr + len)`.
///
/// # Safety
/// The range must be a mapping made by this module that nothing uses any more.
pub unsafe fn unmap(addr: usize, len: usize) -> io::Result<()> {
    // SAFETY: per the caller's guarantee.
    if unsafe { libc::munmap(addr as *mut libc::c_void, len) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Applies the protections of `ag` to the page-aligned range `[addr, addr + len)`.
///
/// Before making pages executable on Apple systems, checks that the process may run code it
/// wrote (`sys_apple::check_exec_allowed`: on iOS devices only while debugged), and explains
/// a refusal.
///
/// # Errors
/// The `mprotect` errno; on Apple systems, a refused executable protection with what to do.
///
/// # Safety
/// The range must lie in a mapping made by this module; code or data in it must tolerate the
/// new protections.
pub unsafe fn protect(addr: usize, len: usize, ag: RemoteAllocGroup) -> io::Result<()> {
    let mut prot = libc::PROT_NONE;
    if ag.read() {
        prot |= libc::PROT_READ;
    }
    if ag.write() {
        prot |= libc::PROT_WRITE;
    }
    if ag.exec() {
        prot |= libc::PROT_EXEC;
        #[cfg(target_vendor = "apple")]
        sys_apple::check_exec_allowed()?;
    }
    // SAFETY: per the caller's guarantee.
    if unsafe { libc::mprotect(addr as *mut libc::c_void, len, prot) } == 0 {
        return Ok(());
    }
    let err = io::Error::last_os_error();
    #[cfg(target_vendor = "apple")]
    if ag.exec() {
        return Err(sys_apple::exec_refused(err));
    }
    Err(err)
}

/// Makes freshly written instructions in `[addr, addr + len)` visible to instruction fetch:
/// the one place that does. Called after the range got its executable protection and before
/// its address is handed out.
///
/// On x86-64 the caches are coherent and nothing is needed. On AArch64 the data cache is
/// cleaned and the instruction cache invalidated for the range, which also ends with the
/// barriers that make the new code visible to this core's pipeline: `__clear_cache` from libgcc
/// or compiler-rt on Linux, `sys_icache_invalidate` on Apple systems (any architecture; a no-op
/// on x86-64), as LLVM's `sys::Memory::InvalidateInstructionCache` does.
pub fn flush_icache(addr: usize, len: usize) {
    #[cfg(target_vendor = "apple")]
    sys_apple::icache_invalidate(addr, len);
    #[cfg(all(target_arch = "aarch64", not(target_vendor = "apple")))]
    {
        unsafe extern "C" {
            fn __clear_cache(start: *mut libc::c_char, end: *mut libc::c_char);
        }
        // SAFETY: the range is mapped memory we just wrote.
        unsafe { __clear_cache(addr as *mut libc::c_char, (addr + len) as *mut libc::c_char) };
    }
    #[cfg(not(any(target_arch = "aarch64", target_vendor = "apple")))]
    let _ = (addr, len);
}

/// Copies `buf.len()` bytes from address `addr` of this process into `buf` without faulting:
/// an unmapped or unreadable source gives an error instead of a crash.
///
/// # Errors
/// `EFAULT` (as an `io::Error`) when any part of the source cannot be read.
pub fn read_checked(addr: usize, buf: &mut [u8]) -> io::Result<()> {
    if buf.is_empty() {
        return Ok(());
    }
    #[cfg(target_os = "linux")]
    {
        let local = libc::iovec { iov_base: buf.as_mut_ptr().cast(), iov_len: buf.len() };
        let remote = libc::iovec { iov_base: addr as *mut libc::c_void, iov_len: buf.len() };
        // SAFETY: the kernel checks the remote range; `local` is our own writable buffer.
        let n = unsafe { libc::process_vm_readv(libc::getpid(), &local, 1, &remote, 1, 0) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        if n as usize != buf.len() {
            return Err(io::Error::from_raw_os_error(libc::EFAULT));
        }
        Ok(())
    }
    #[cfg(target_vendor = "apple")]
    {
        unsafe extern "C" {
            fn mach_task_self() -> libc::mach_port_t;
            fn mach_vm_read_overwrite(
                task: libc::mach_port_t,
                address: u64,
                size: u64,
                data: u64,
                out_size: *mut u64,
            ) -> libc::c_int;
        }
        let mut out = 0u64;
        // SAFETY: the kernel checks the source range; the destination is our buffer.
        let kr = unsafe {
            mach_vm_read_overwrite(
                mach_task_self(),
                addr as u64,
                buf.len() as u64,
                buf.as_mut_ptr() as u64,
                &mut out,
            )
        };
        if kr != 0 || out as usize != buf.len() {
            return Err(io::Error::from_raw_os_error(libc::EFAULT));
        }
        Ok(())
    }
    #[cfg(not(any(target_os = "linux", target_vendor = "apple")))]
    {
        let _ = addr;
        Err(io::Error::from(io::ErrorKind::Unsupported))
    }
}
