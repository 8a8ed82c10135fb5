//! The dylib manager: opening libraries in the executor and resolving their symbols. The only
//! module that calls the dynamic loader.
//!
//! Behaviour follows LLVM 22.1's `SimpleExecutorDylibManager` and `ExecutorResolver`
//! (`llvm/lib/ExecutionEngine/Orc/TargetProcess/SimpleExecutorDylibManager.cpp`,
//! `docs/protocol.md` §7.2): `open("")` is the executor process itself; other paths are
//! `dlopen`ed with `RTLD_LAZY | RTLD_GLOBAL` and stay loaded; mode bits must be 0; a handle is
//! an opaque resolver address. `resolve` answers per name, in order, with 22.1's conventions:
//! found → `Some(addr, Exported)`; missing and required → `None`; missing and not required →
//! `Some(0, Exported)`. Unlike 22.1 (which aborts), an empty required name is an error result.
//! An application's [`ProcessSymbols`] resolver, if any, answers lookups in the process before
//! `dlsym` does.

use std::collections::HashSet;
use std::ffi::{CStr, CString, c_void};
use std::fmt;
use std::sync::Mutex;

use orc_rpc::ExecutorAddr;
use orc_rpc::types::{ExecutorSymbolDef, JitSymbolFlags};

use crate::ProcessSymbols;

/// The application's [`ProcessSymbols`] resolver, in a wrapper that `Config` can derive
/// `Debug` with.
#[derive(Clone)]
pub(crate) struct ProcessResolver(pub(crate) ProcessSymbols);

impl fmt::Debug for ProcessResolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ProcessResolver(..)")
    }
}

/// A loaded library (or the process) that symbols are looked up in.
#[derive(Debug)]
struct Library {
    /// The `dlopen` handle.
    handle: usize,
    /// Opened with `open("")`: the executor process, where the application's resolver
    /// answers first.
    process: bool,
}

/// Libraries opened by one session, and the addresses resolved through them.
#[derive(Debug, Default)]
pub struct DylibManager {
    /// Boxed so that each library's address, which is its handle on the wire, is stable.
    #[allow(clippy::vec_box)]
    libraries: Mutex<Vec<Box<Library>>>,
    resolved: Mutex<HashSet<u64>>,
    /// Consulted before `dlsym` for lookups in the process.
    process_symbols: Option<ProcessResolver>,
}

impl DylibManager {
    /// A manager whose lookups in the process ask `process_symbols` first.
    pub fn new(process_symbols: Option<ProcessResolver>) -> Self {
        DylibManager { process_symbols, ..DylibManager::default() }
    }

    /// Opens `path` (`""` for the executor process) and returns a handle for
    /// [`resolve`](Self::resolve).
    ///
    /// # Errors
    /// Non-zero `mode`, a path with a NUL byte, or the loader's message (`dlerror`).
    pub fn open(&self, path: &str, mode: u64) -> Result<ExecutorAddr, String> {
        if mode != 0 {
            return Err("open: non-zero mode bits not yet supported".into());
        }
        let handle = if path.is_empty() {
            // SAFETY: dlopen(NULL) returns the global handle of the running program.
            unsafe { libc::dlopen(std::ptr::null(), libc::RTLD_LAZY) }
        } else {
            let c = CString::new(path).map_err(|_| format!("{path:?}: path contains a NUL byte"))?;
            // SAFETY: `c` is a valid C string. Loading runs the library's initializers, which
            // is what the controller asked for.
            unsafe { libc::dlopen(c.as_ptr(), libc::RTLD_LAZY | libc::RTLD_GLOBAL) }
        };
        if handle.is_null() {
            return Err(dlerror().unwrap_or_else(|| format!("{path}: cannot open library")));
        }
        let lib = Box::new(Library { handle: handle as usize, process: path.is_empty() });
        let addr = ExecutorAddr::from_ptr(&*lib);
        self.libraries.lock().unwrap_or_else(|e| e.into_inner()).push(lib);
        Ok(addr)
    }

    /// Looks up each `(name, required)` in the library behind `handle`; in the process, the
    /// application's resolver answers first.
    ///
    /// # Errors
    /// An unknown handle or an empty required name.
    pub fn resolve(
        &self,
        handle: ExecutorAddr,
        names: &[(&[u8], bool)],
    ) -> Result<Vec<Option<ExecutorSymbolDef>>, String> {
        let (dl, process) = self
            .libraries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .find(|l| ExecutorAddr::from_ptr(&***l) == handle)
            .map(|l| (l.handle, l.process))
            .ok_or_else(|| format!("resolve: {handle} is not a handle returned by open in this session"))?;
        // Called without our locks held: the resolver may take as long as it likes.
        let resolver = self.process_symbols.as_ref().filter(|_| process);
        let mut out = Vec::with_capacity(names.len());
        let mut resolved = Vec::new();
        for &(name, required) in names {
            if name.is_empty() {
                if required {
                    return Err("resolve: cannot look up a required symbol with an empty name".into());
                }
                out.push(None);
                continue;
            }
            let found = match resolver.and_then(|r| (r.0)(name)) {
                // The application's "not found, and do not ask dlsym".
                Some(addr) if addr.is_null() => None,
                Some(addr) => Some(addr),
                None => lookup(dl, name),
            };
            match found {
                Some(addr) => {
                    resolved.push(addr.0);
                    out.push(Some(ExecutorSymbolDef { addr, flags: JitSymbolFlags::EXPORTED_ONLY }));
                }
                None if required => out.push(None),
                None => out.push(Some(ExecutorSymbolDef {
                    addr: ExecutorAddr::NULL,
                    flags: JitSymbolFlags::EXPORTED_ONLY,
                })),
            }
        }
        self.resolved.lock().unwrap_or_else(|e| e.into_inner()).extend(resolved);
        Ok(out)
    }

    /// True if `addr` was returned by [`resolve`](Self::resolve) in this session (the controller
    /// may call such a symbol as a wrapper function).
    pub fn was_resolved(&self, addr: ExecutorAddr) -> bool {
        self.resolved.lock().unwrap_or_else(|e| e.into_inner()).contains(&addr.0)
    }
}

/// The C name of symbol `name` as a controller sends it: on Apple platforms the Mach-O name
/// without its leading `_` (none for a name without one: no C name gives it, and LLVM's
/// executor refuses it as "missing leading '_'"); elsewhere `name` itself. What the executor
/// looks up with `dlsym`, and what an application's
/// [`process_symbols`](crate::ExecutorBuilder::process_symbols) resolver may compare with the
/// C names it publishes.
pub fn c_symbol_name(name: &[u8]) -> Option<&[u8]> {
    if cfg!(target_vendor = "apple") { name.strip_prefix(b"_") } else { Some(name) }
}

/// `dlsym` on `handle` of the C name of `name` ([`c_symbol_name`]), as LLVM's executor does.
fn lookup(handle: usize, name: &[u8]) -> Option<ExecutorAddr> {
    let c = CString::new(c_symbol_name(name)?).ok()?;
    // SAFETY: `handle` came from dlopen and libraries are never closed; `c` is a C string.
    let p = unsafe { libc::dlsym(handle as *mut c_void, c.as_ptr()) };
    (!p.is_null()).then(|| ExecutorAddr::from_ptr(p))
}

fn dlerror() -> Option<String> {
    // SAFETY: dlerror returns NULL or a thread-local C string valid until the next dl* call.
    let p = unsafe { libc::dlerror() };
    // SAFETY: non-null per the check.
    (!p.is_null()).then(|| unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn process_and_library_lookups() {
        let m = DylibManager::default();
        let proc_handle = m.open("", 0).unwrap();
        let r = m
            .resolve(
                proc_handle,
                &[
                    (b"malloc", false),
                    (b"no_such_symbol_xyz", false),
                    (b"no_such_symbol_xyz", true),
                    (b"", false),
                ],
            )
            .unwrap();
        assert!(!r[0].unwrap().addr.is_null());
        assert_eq!(
            r[1],
            Some(ExecutorSymbolDef { addr: ExecutorAddr::NULL, flags: JitSymbolFlags::EXPORTED_ONLY })
        );
        assert_eq!(r[2], None);
        assert_eq!(r[3], None);
        assert!(m.was_resolved(r[0].unwrap().addr));
        assert!(m.resolve(proc_handle, &[(b"", true)]).is_err());
        assert!(m.resolve(ExecutorAddr(0x1234), &[(b"malloc", false)]).unwrap_err().contains("not a handle"));
        assert!(m.open("", 1).unwrap_err().contains("mode"));
        let err = m.open("/nonexistent/libnope.so", 0).unwrap_err();
        assert!(err.contains("libnope.so"), "{err}");
        let libm = m.open("libm.so.6", 0).unwrap();
        assert!(!m.resolve(libm, &[(b"cos", true)]).unwrap()[0].unwrap().addr.is_null());
    }

    #[test]
    fn process_symbols_answer_first_and_fall_back_to_dlsym() {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicUsize, Ordering};

        static PUBLISHED: u64 = 42;
        let asked = Arc::new(AtomicUsize::new(0));
        let counter = asked.clone();
        let resolver: crate::ProcessSymbols = Arc::new(move |name: &[u8]| {
            counter.fetch_add(1, Ordering::SeqCst);
            match name {
                b"app_published" => Some(ExecutorAddr::from_ptr(&PUBLISHED)),
                // Hidden: dlsym would find it, the resolver says it does not exist.
                b"free" => Some(ExecutorAddr::NULL),
                _ => None,
            }
        });
        let m = DylibManager::new(Some(ProcessResolver(resolver)));
        let proc_handle = m.open("", 0).unwrap();
        let r = m
            .resolve(
                proc_handle,
                &[(b"app_published", true), (b"malloc", true), (b"free", true), (b"free", false)],
            )
            .unwrap();
        assert_eq!(asked.load(Ordering::SeqCst), 4, "the resolver is asked for every name");
        let published = r[0].unwrap().addr;
        assert_eq!(published, ExecutorAddr::from_ptr(&PUBLISHED));
        assert!(m.was_resolved(published));
        // SAFETY: dlsym with a valid handle and a C string.
        let malloc = unsafe { libc::dlsym(libc::RTLD_DEFAULT, c"malloc".as_ptr()) };
        assert_eq!(r[1].unwrap().addr, ExecutorAddr::from_ptr(malloc), "None falls back to dlsym");
        assert!(m.was_resolved(r[1].unwrap().addr));
        assert_eq!(r[2], None, "a required symbol the resolver hides is missing");
        assert_eq!(r[3].unwrap().addr, ExecutorAddr::NULL);

        // Libraries opened by path are looked up by dlsym alone.
        let libm = m.open("libm.so.6", 0).unwrap();
        assert_eq!(m.resolve(libm, &[(b"app_published", true)]).unwrap(), vec![None]);
        assert!(!m.resolve(libm, &[(b"cos", true)]).unwrap()[0].unwrap().addr.is_null());
        assert_eq!(asked.load(Ordering::SeqCst), 4, "not asked for other libraries");
    }
}
