//! The C boundary: every entry point runs its body through [`boundary`], which turns an error
//! or a panic into a failure value and this thread's last error message ([`last_error`]).

use std::cell::RefCell;
use std::ffi::{CString, c_char};
use std::panic::{AssertUnwindSafe, catch_unwind};

thread_local! {
    static LAST_ERROR: RefCell<Option<CString>> = const { RefCell::new(None) };
}

/// Runs `body`; on `Err(message)` or a panic, records the message as this thread's last error
/// and returns `failure`. Nothing unwinds past this function.
pub(crate) fn boundary<T>(failure: T, body: impl FnOnce() -> Result<T, String>) -> T {
    let message = match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(value)) => return value,
        Ok(Err(message)) => message,
        Err(payload) => {
            let what = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown".into());
            format!("internal error in the executor library (a panic: {what})")
        }
    };
    let message = CString::new(message.replace('\0', " ")).unwrap_or_default();
    LAST_ERROR.with(|e| *e.borrow_mut() = Some(message));
    failure
}

/// This thread's last error message (NUL-terminated), or null if no call failed on it yet.
/// Valid until the next failing call on this thread.
pub(crate) fn last_error() -> *const c_char {
    LAST_ERROR.with(|e| e.borrow().as_ref().map_or(std::ptr::null(), |m| m.as_ptr()))
}
