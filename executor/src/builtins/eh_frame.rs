//! EH-frame registration alloc actions (`llvm_orc_registerEHFrameAllocAction` and its
//! deregister twin; LLVM's `RegisterEHFrames.cpp`).
//!
//! With libgcc's unwinder (glibc Linux), `__register_frame` takes the start of a whole
//! `.eh_frame` section that ends with a zero terminator, which JITLink-style linkers append.
//! libunwind (Apple platforms) takes one FDE at a time, so there the section is walked.

use std::ffi::c_void;

use orc_rpc::ExecutorAddrRange;
use orc_rpc::services::{DeregisterEhFrame, RegisterEhFrame};
use orc_rpc::sps::SpsError;

use super::Builtin;
use crate::services::SessionServices;

unsafe extern "C" {
    fn __register_frame(begin: *const c_void);
    fn __deregister_frame(begin: *const c_void);
}

fn check(cx: &SessionServices, range: &ExecutorAddrRange) -> Result<(), String> {
    if range.size() < 4 {
        return Err(format!("eh-frame section {range:?} is too small"));
    }
    if !cx.memory.contains(range) {
        return Err(format!("eh-frame section {range:?} is not in memory reserved by this session"));
    }
    Ok(())
}

#[cfg(not(target_vendor = "apple"))]
fn for_each_unit(range: &ExecutorAddrRange, f: unsafe extern "C" fn(*const c_void)) {
    // SAFETY: the section was placed by the controller inside our reservation (checked) and is
    // a well-formed .eh_frame as far as the controller vouches, as with LLVM.
    unsafe { f(range.start.0 as usize as *const c_void) }
}

#[cfg(target_vendor = "apple")]
fn for_each_unit(range: &ExecutorAddrRange, f: unsafe extern "C" fn(*const c_void)) {
    // Walk CIE/FDE records: a u32 length (0xffffffff: a u64 length follows), then a u32 CIE id
    // that is 0 for CIEs. libunwind wants each FDE separately.
    let mut at = range.start.0 as usize;
    let end = range.end.0 as usize;
    while at + 4 <= end {
        // SAFETY: inside the checked section.
        let len32 = unsafe { (at as *const u32).read_unaligned() };
        if len32 == 0 {
            break;
        }
        let (len, hdr) = if len32 == u32::MAX {
            // SAFETY: inside the checked section.
            (unsafe { ((at + 4) as *const u64).read_unaligned() } as usize, 12)
        } else {
            (len32 as usize, 4)
        };
        // SAFETY: inside the checked section.
        let cie_id = unsafe { ((at + hdr) as *const u32).read_unaligned() };
        if cie_id != 0 {
            // SAFETY: `at` starts an FDE of the section.
            unsafe { f(at as *const c_void) };
        }
        at += hdr + len;
    }
}

impl Builtin for RegisterEhFrame {
    fn handle(cx: &SessionServices, (range,): (ExecutorAddrRange,)) -> Result<SpsError, String> {
        Ok(check(cx, &range).map(|()| for_each_unit(&range, __register_frame)).into())
    }
}

impl Builtin for DeregisterEhFrame {
    fn handle(cx: &SessionServices, (range,): (ExecutorAddrRange,)) -> Result<SpsError, String> {
        Ok(check(cx, &range).map(|()| for_each_unit(&range, __deregister_frame)).into())
    }
}
