//! Executor memory: slabs reserved for the controller, segments written and protected in them,
//! and the alloc actions that go with each initialized region.
//!
//! Semantics follow LLVM 22.1's `SimpleExecutorMemoryManager`
//! (`llvm/lib/ExecutionEngine/Orc/TargetProcess/SimpleExecutorMemoryManager.cpp`, see
//! `docs/protocol.md` §7.1) and, for shared-memory slabs, `ExecutorSharedMemoryMapperService`:
//!
//! * `reserve` maps a read-write *slab* (size rounded up to pages);
//! * `initialize` copies segment contents (zero-filling to the segment size), applies page
//!   protections, flushes the instruction cache for executable segments, then runs the finalize
//!   actions in order; the new *region* spans its segments and is keyed by its lowest address;
//! * `deinitialize` runs a region's dealloc actions in reverse and keeps the record;
//! * `release` runs the dealloc actions of the regions still live in a slab, then unmaps it.
//!
//! Beyond LLVM, every segment must lie inside one slab reserved by this session and may not
//! overlap a live region, and memory writes from the controller are checked against the
//! current page protections and done under the same lock as the check ([`write`]), so a
//! confused or hostile controller gets an error instead of a crash, even when it releases the
//! slab at the same time. A slab with an initialize or deinitialize in progress cannot be
//! released until it is done: their alloc actions read the slab's memory.
//! The lock is never held while alloc actions run: actions are JIT'd code that may call back
//! into the controller, which may in turn call this manager.
//!
//! [`write`]: MemoryManager::write

#[cfg(target_vendor = "apple")]
mod sys_apple;
pub mod sys_unix;

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use orc_rpc::types::{AllocActionCallPair, RemoteAllocGroup, WrapperFunctionCall};
use orc_rpc::{ExecutorAddr, ExecutorAddrRange};

/// Runs one alloc action (a wrapper function returning an SPS `Error`) and reports its error.
pub type ActionRunner<'r> = dyn Fn(&WrapperFunctionCall<'_>) -> Result<(), String> + 'r;

/// One segment to place, with its content already in hand (`Some`) or already written through
/// shared memory (`None`).
#[derive(Debug, Clone, Copy)]
pub struct Segment<'a> {
    /// Protections and lifetime.
    pub ag: RemoteAllocGroup,
    /// Executor address.
    pub addr: ExecutorAddr,
    /// Size in bytes.
    pub size: u64,
    /// Content to copy (`Some`), or `None` when the memory was written through shared memory.
    pub content: Option<&'a [u8]>,
}

/// How a slab's memory was obtained.
#[derive(Debug)]
enum Backing {
    Anonymous,
    /// A POSIX shared-memory object the controller maps too.
    Shared {
        name: String,
    },
}

#[derive(Debug)]
struct Slab {
    range: ExecutorAddrRange,
    backing: Backing,
    /// Current protections, one entry per page, for checking controller writes.
    page_prot: Vec<RemoteAllocGroup>,
    regions: BTreeMap<u64, Region>,
    /// Set while release runs its dealloc actions, so no new region can start in it.
    releasing: bool,
    /// Initializes and deinitializes in progress (their actions use the slab).
    busy: usize,
}

impl Slab {
    /// The region records overlapping `range`, highest first. Records never overlap each other
    /// (a new region removes the dead records it reuses), so the walk stops at the first one
    /// that ends at or before `range` starts: O(log n + overlaps).
    fn overlapping<'s>(
        &'s self,
        range: &ExecutorAddrRange,
    ) -> impl Iterator<Item = (&'s u64, &'s Region)> + 's {
        let start = range.start;
        self.regions.range(..range.end.0).rev().take_while(move |(_, r)| r.range.end > start)
    }
}

#[derive(Debug)]
struct Region {
    range: ExecutorAddrRange,
    /// Executable segments: valid targets for calls into JIT'd code.
    exec: Vec<ExecutorAddrRange>,
    /// Dealloc actions in finalize order (run in reverse).
    dealloc: Vec<WrapperFunctionCall<'static>>,
    live: bool,
}

/// The memory manager of one session.
#[derive(Debug)]
pub struct MemoryManager {
    page_size: usize,
    slabs: Mutex<BTreeMap<u64, Slab>>,
    /// Successful initializations so far.
    initialized: AtomicU64,
    /// Regions whose dealloc actions have not run yet.
    live: AtomicUsize,
}

impl MemoryManager {
    /// A manager with no slabs, for pages of `page_size` bytes.
    pub fn new(page_size: usize) -> Self {
        MemoryManager {
            page_size,
            slabs: Mutex::new(BTreeMap::new()),
            initialized: AtomicU64::new(0),
            live: AtomicUsize::new(0),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, Slab>> {
        // A panic while the lock was held leaves consistent data (every mutation is a single
        // insert/remove), so poisoning is ignored.
        self.slabs.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn round_up(&self, size: u64) -> Option<u64> {
        let p = self.page_size as u64;
        size.checked_add(p - 1).map(|s| s / p * p)
    }

    /// Reserves a read-write slab of at least `size` bytes and returns its base.
    ///
    /// # Errors
    /// A zero or unrepresentable size, or the `mmap` error text.
    pub fn reserve(&self, size: u64) -> Result<ExecutorAddr, String> {
        self.reserve_in(size, false)
    }

    /// As [`reserve`](Self::reserve), in the low 2 GiB of the address space when `low`.
    ///
    /// # Errors
    /// As [`reserve`](Self::reserve); `low` where the OS cannot place memory there.
    pub fn reserve_in(&self, size: u64, low: bool) -> Result<ExecutorAddr, String> {
        let len = self.slab_len(size)?;
        let base = sys_unix::map_anonymous(len, low).map_err(|e| sys_unix::errno_text(&e))?;
        self.insert_slab(base, len, Backing::Anonymous);
        Ok(ExecutorAddr(base as u64))
    }

    /// Reserves a slab backed by a new POSIX shared-memory object called `shm_name`.
    ///
    /// # Errors
    /// As [`reserve`](Self::reserve), or the `shm_open` error.
    pub fn reserve_shared(&self, size: u64, shm_name: &str) -> Result<ExecutorAddr, String> {
        let len = self.slab_len(size)?;
        let base = sys_unix::map_shared_object(shm_name, len).map_err(|e| format!("{shm_name}: {e}"))?;
        self.insert_slab(base, len, Backing::Shared { name: shm_name.to_owned() });
        Ok(ExecutorAddr(base as u64))
    }

    fn slab_len(&self, size: u64) -> Result<usize, String> {
        if size == 0 {
            return Err("cannot reserve 0 bytes".into());
        }
        self.round_up(size)
            .and_then(|s| usize::try_from(s).ok())
            .ok_or_else(|| format!("cannot reserve {size} bytes: size too large"))
    }

    fn insert_slab(&self, base: usize, len: usize, backing: Backing) {
        let range = ExecutorAddrRange::from_start_size(ExecutorAddr(base as u64), len as u64)
            .unwrap_or(ExecutorAddrRange { start: ExecutorAddr(base as u64), end: ExecutorAddr(u64::MAX) });
        let slab = Slab {
            range,
            backing,
            page_prot: vec![RemoteAllocGroup::RW; len / self.page_size],
            regions: BTreeMap::new(),
            releasing: false,
            busy: 0,
        };
        self.lock().insert(base as u64, slab);
    }

    /// Places `segments` and runs the finalize half of `actions` in order through `run`.
    /// Returns the region key (the lowest segment address).
    ///
    /// # Errors
    /// An empty request, a segment outside a reserved slab or overlapping a live region,
    /// content longer than its segment, a failed `mprotect`, or the first failing finalize
    /// action (after the dealloc actions collected so far ran in reverse).
    pub fn initialize(
        &self,
        segments: &[Segment<'_>],
        actions: &[AllocActionCallPair<'_>],
        run: &ActionRunner<'_>,
    ) -> Result<ExecutorAddr, String> {
        let key = self.place_segments(segments)?;
        let _busy = Busy { manager: self, slab: self.slab_of(key) };
        let mut dealloc: Vec<WrapperFunctionCall<'static>> = Vec::new();
        for (i, pair) in actions.iter().enumerate() {
            if !pair.finalize.is_null()
                && let Err(e) = run(&pair.finalize)
            {
                let mut msg = format!("finalize action {i} (at {}) failed: {e}", pair.finalize.fn_addr);
                for undo in run_dealloc(&dealloc, run) {
                    msg.push_str("; then ");
                    msg.push_str(&undo);
                }
                self.forget_region(key);
                return Err(msg);
            }
            if !pair.dealloc.is_null() {
                dealloc.push(pair.dealloc.clone().into_owned());
            }
        }
        let mut slabs = self.lock();
        if let Some(r) = slabs.values_mut().find_map(|s| s.regions.get_mut(&key.0)) {
            r.dealloc = dealloc;
            r.live = true;
            self.live.fetch_add(1, Ordering::Relaxed);
        }
        self.initialized.fetch_add(1, Ordering::Relaxed);
        Ok(key)
    }

    /// Validates, copies and protects the segments; records the region (not yet live).
    fn place_segments(&self, segments: &[Segment<'_>]) -> Result<ExecutorAddr, String> {
        let first = segments.first().ok_or("Finalization request is empty")?;
        let mut slabs = self.lock();
        let slab_base = slabs
            .range(..=first.addr.0)
            .next_back()
            .filter(|(_, s)| s.range.contains(first.addr))
            .map(|(&b, _)| b)
            .ok_or_else(|| {
                format!("segment at {} is not inside memory reserved in this session", first.addr)
            })?;
        let slab = slabs.get_mut(&slab_base).ok_or("slab vanished")?;
        if slab.releasing {
            return Err(format!("slab at {} is being released", slab.range.start));
        }
        let mut ranges = Vec::with_capacity(segments.len());
        for seg in segments {
            let range = ExecutorAddrRange::from_start_size(seg.addr, seg.size)
                .filter(|r| slab.range.contains_range(r))
                .ok_or_else(|| {
                    format!(
                        "segment [{}, +{:#x}) is not inside the slab {:?} reserved for it",
                        seg.addr, seg.size, slab.range
                    )
                })?;
            if let Some(c) = seg.content
                && c.len() as u64 > seg.size
            {
                return Err(format!(
                    "segment at {} has {} bytes of content but a size of {}",
                    seg.addr,
                    c.len(),
                    seg.size
                ));
            }
            if let Some((_, r)) = slab.overlapping(&range).find(|(_, r)| r.live) {
                return Err(format!("segment {range:?} overlaps the live allocation {:?}", r.range));
            }
            ranges.push(range);
        }
        // Write every segment while it is writable, then protect: a segment may share a page
        // with another, so protections come last.
        for (seg, range) in segments.iter().zip(&ranges) {
            let Some(content) = seg.content else { continue };
            self.make_writable(slab, range)?;
            let dst = range.start.0 as usize;
            // SAFETY: `range` lies inside a slab we mapped and that is not being released, and
            // its pages were just made writable; `content` is at most `range.size()` bytes and
            // cannot overlap our mapping (it is a received buffer).
            unsafe {
                std::ptr::copy_nonoverlapping(content.as_ptr(), dst as *mut u8, content.len());
                std::ptr::write_bytes(
                    (dst + content.len()) as *mut u8,
                    0,
                    range.size() as usize - content.len(),
                );
            }
        }
        let mut exec = Vec::new();
        for (seg, range) in segments.iter().zip(&ranges) {
            if range.is_empty() {
                continue;
            }
            let (start, len) = self.page_span(range);
            // SAFETY: the span is inside our slab; running code of live regions never shares
            // these pages because live regions do not overlap the new segments (checked above)
            // except within a shared page, which gets the protection of its last segment as in
            // LLVM.
            unsafe { sys_unix::protect(start, len, seg.ag) }
                .map_err(|e| format!("cannot protect {range:?} as {}: {e}", seg.ag.prot_str()))?;
            set_page_prot(slab, start, len, self.page_size, seg.ag);
            if seg.ag.exec() {
                sys_unix::flush_icache(range.start.0 as usize, range.size() as usize);
                exec.push(*range);
            }
        }
        let start = ranges.iter().map(|r| r.start).min().unwrap_or(first.addr);
        let end = ranges.iter().map(|r| r.end).max().unwrap_or(first.addr);
        // Records of deinitialized regions the new one reuses are obsolete.
        let reused = ExecutorAddrRange { start, end };
        let obsolete: Vec<u64> =
            slab.overlapping(&reused).filter(|(_, r)| !r.live).map(|(&k, _)| k).collect();
        for k in obsolete {
            slab.regions.remove(&k);
        }
        slab.regions.insert(
            start.0,
            Region { range: ExecutorAddrRange { start, end }, exec, dealloc: Vec::new(), live: false },
        );
        slab.busy += 1;
        Ok(start)
    }

    /// The base of the slab containing `addr`.
    fn slab_of(&self, addr: ExecutorAddr) -> Option<u64> {
        self.lock().range(..=addr.0).next_back().filter(|(_, s)| s.range.contains(addr)).map(|(&b, _)| b)
    }

    fn make_writable(&self, slab: &mut Slab, range: &ExecutorAddrRange) -> Result<(), String> {
        let (start, len) = self.page_span(range);
        let first = (start - slab.range.start.0 as usize) / self.page_size;
        let pages = len / self.page_size;
        if slab.page_prot[first..first + pages].iter().all(|p| p.write()) {
            return Ok(());
        }
        // SAFETY: inside our slab; the pages are being rewritten by the controller's request
        // and belong to no live region (checked by the caller).
        unsafe { sys_unix::protect(start, len, RemoteAllocGroup::RW) }
            .map_err(|e| format!("cannot make {range:?} writable: {e}"))?;
        set_page_prot(slab, start, len, self.page_size, RemoteAllocGroup::RW);
        Ok(())
    }

    /// The whole pages covering `range`, as (start, length).
    fn page_span(&self, range: &ExecutorAddrRange) -> (usize, usize) {
        let p = self.page_size;
        let start = range.start.0 as usize / p * p;
        let end = (range.end.0 as usize).div_ceil(p) * p;
        (start, end - start)
    }

    fn forget_region(&self, key: ExecutorAddr) {
        for slab in self.lock().values_mut() {
            slab.regions.remove(&key.0);
        }
    }

    /// Runs the dealloc actions of the regions keyed by `keys` (last key first) and keeps
    /// their records, as LLVM does.
    ///
    /// # Errors
    /// Unknown keys and failing actions, joined into one message; the other keys are still
    /// processed.
    pub fn deinitialize(&self, keys: &[ExecutorAddr], run: &ActionRunner<'_>) -> Result<(), String> {
        let mut errors = Vec::new();
        for &key in keys.iter().rev() {
            let (actions, _busy) = {
                let mut slabs = self.lock();
                let found = slabs.iter_mut().find_map(|(&b, s)| {
                    let r = s.regions.get_mut(&key.0)?;
                    if std::mem::replace(&mut r.live, false) {
                        self.live.fetch_sub(1, Ordering::Relaxed);
                    }
                    let actions = std::mem::take(&mut r.dealloc);
                    s.busy += 1;
                    Some((actions, b))
                });
                match found {
                    Some((actions, base)) => (actions, Busy { manager: self, slab: Some(base) }),
                    None => {
                        errors.push(format!(
                            "In deinitialize, address {key} is not part of any reserved address range"
                        ));
                        continue;
                    }
                }
            };
            errors.extend(run_dealloc(&actions, run));
        }
        join_errors(errors)
    }

    /// Runs the dealloc actions still pending in the slabs at `bases` (last base first) and
    /// unmaps them.
    ///
    /// # Errors
    /// Unknown bases and failing actions, joined; the other slabs are still released.
    pub fn release(&self, bases: &[ExecutorAddr], run: &ActionRunner<'_>) -> Result<(), String> {
        let mut errors = Vec::new();
        for &base in bases.iter().rev() {
            if let Err(e) = self.release_one(base, run) {
                errors.push(e);
            }
        }
        join_errors(errors)
    }

    fn release_one(&self, base: ExecutorAddr, run: &ActionRunner<'_>) -> Result<(), String> {
        let actions: Vec<Vec<WrapperFunctionCall<'static>>> = {
            let mut slabs = self.lock();
            let slab = slabs
                .get_mut(&base.0)
                .filter(|s| !s.releasing)
                .ok_or_else(|| format!("In release, {base} is not part of any reserved address range"))?;
            if slab.busy > 0 {
                return Err(format!(
                    "In release, {base} is in use by an initialize or deinitialize that has not finished"
                ));
            }
            slab.releasing = true;
            // Newest region first, each region's actions in reverse.
            slab.regions
                .values_mut()
                .rev()
                .filter(|r| r.live)
                .map(|r| {
                    r.live = false;
                    self.live.fetch_sub(1, Ordering::Relaxed);
                    std::mem::take(&mut r.dealloc)
                })
                .collect()
        };
        let mut errors: Vec<String> = actions.iter().flat_map(|a| run_dealloc(a, run)).collect();
        let slab = self.lock().remove(&base.0);
        if let Some(slab) = slab {
            let (start, len) = (slab.range.start.0 as usize, slab.range.size() as usize);
            // SAFETY: the slab is out of the table, so no request can reach it any more, and its
            // regions' dealloc actions have run: the controller released it, so nothing it
            // placed there is in use.
            let unmapped = unsafe { sys_unix::unmap(start, len) };
            if let Err(e) = unmapped {
                errors.push(format!("cannot unmap {:?}: {e}", slab.range));
            }
            if let Backing::Shared { name } = &slab.backing {
                sys_unix::unlink_shared_object(name);
            }
        }
        join_errors(errors)
    }

    /// Releases every slab (newest first), as at the end of a session.
    ///
    /// # Errors
    /// As [`release`](Self::release).
    pub fn release_all(&self, run: &ActionRunner<'_>) -> Result<(), String> {
        let bases: Vec<ExecutorAddr> = self.lock().keys().map(|&b| ExecutorAddr(b)).collect();
        self.release(&bases, run)
    }

    /// Number of successful [`initialize`](Self::initialize) calls so far.
    pub fn initialized_count(&self) -> u64 {
        self.initialized.load(Ordering::Relaxed)
    }

    /// Number of regions whose dealloc actions have not run yet.
    pub fn live_regions(&self) -> usize {
        self.live.load(Ordering::Relaxed)
    }

    /// True if `addr` is inside an executable segment placed by this manager (in a region
    /// being initialized, live, or deinitialized but not reused).
    pub fn is_executable(&self, addr: ExecutorAddr) -> bool {
        self.lock().range(..=addr.0).next_back().is_some_and(|(_, s)| {
            s.regions
                .range(..=addr.0)
                .next_back()
                .is_some_and(|(_, r)| r.exec.iter().any(|e| e.contains(addr)))
        })
    }

    /// True if `range` is inside one slab of this manager.
    pub fn contains(&self, range: &ExecutorAddrRange) -> bool {
        self.lock().range(..=range.start.0).next_back().is_some_and(|(_, s)| s.range.contains_range(range))
    }

    /// True if `range` overlaps a slab of this manager.
    pub fn overlaps(&self, range: &ExecutorAddrRange) -> bool {
        self.lock().range(..range.end.0).next_back().is_some_and(|(_, s)| overlaps(&s.range, range))
    }

    /// Copies each `(address, bytes)` into this manager's memory, after checking that every
    /// destination lies inside one slab and that all of its pages are writable now. Check and
    /// copy happen under one lock, so a release or a protection change in another thread
    /// cannot come between them; nothing is written unless every destination passes.
    ///
    /// # Errors
    /// The first destination that is not reserved or not writable.
    pub fn write(&self, writes: &[(ExecutorAddr, &[u8])]) -> Result<(), String> {
        let slabs = self.lock();
        for &(addr, bytes) in writes {
            let range = ExecutorAddrRange::from_start_size(addr, bytes.len() as u64)
                .ok_or_else(|| format!("{addr} + {} wraps around", bytes.len()))?;
            self.check_writable(&slabs, &range)?;
        }
        for &(addr, bytes) in writes {
            // SAFETY: checked just above, under the lock we still hold, to be inside a slab of
            // ours whose pages are writable; slabs are unmapped only after leaving the table.
            unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), addr.0 as usize as *mut u8, bytes.len()) };
        }
        Ok(())
    }

    /// Checks that `range` lies inside one slab and that all of its pages are writable now.
    fn check_writable(&self, slabs: &BTreeMap<u64, Slab>, range: &ExecutorAddrRange) -> Result<(), String> {
        let slab = slabs
            .range(..=range.start.0)
            .next_back()
            .map(|(_, s)| s)
            .filter(|s| s.range.contains_range(range))
            .ok_or_else(|| format!("{range:?} is not inside memory reserved by the controller"))?;
        if range.is_empty() {
            return Ok(());
        }
        let (start, len) = self.page_span(range);
        let first = (start - slab.range.start.0 as usize) / self.page_size;
        match slab.page_prot[first..first + len / self.page_size].iter().find(|p| !p.write()) {
            Some(p) => Err(format!("{range:?} is not writable (protection {})", p.prot_str())),
            None => Ok(()),
        }
    }
}

fn overlaps(a: &ExecutorAddrRange, b: &ExecutorAddrRange) -> bool {
    a.start < b.end && b.start < a.end
}

/// Marks a slab as used by an initialize or deinitialize until dropped.
struct Busy<'m> {
    manager: &'m MemoryManager,
    slab: Option<u64>,
}

impl Drop for Busy<'_> {
    fn drop(&mut self) {
        if let Some(base) = self.slab
            && let Some(slab) = self.manager.lock().get_mut(&base)
        {
            slab.busy -= 1;
        }
    }
}

fn set_page_prot(slab: &mut Slab, start: usize, len: usize, page_size: usize, ag: RemoteAllocGroup) {
    let first = (start - slab.range.start.0 as usize) / page_size;
    for p in &mut slab.page_prot[first..first + len / page_size] {
        *p = ag;
    }
}

/// Runs dealloc actions in reverse order; returns the errors.
fn run_dealloc(actions: &[WrapperFunctionCall<'_>], run: &ActionRunner<'_>) -> Vec<String> {
    actions
        .iter()
        .rev()
        .filter_map(|a| run(a).err().map(|e| format!("dealloc action at {} failed: {e}", a.fn_addr)))
        .collect()
}

fn join_errors(errors: Vec<String>) -> Result<(), String> {
    if errors.is_empty() { Ok(()) } else { Err(errors.join("; ")) }
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;
    use std::cell::RefCell;

    use super::*;

    fn mm() -> MemoryManager {
        MemoryManager::new(sys_unix::page_size())
    }

    fn call(tag: u64) -> WrapperFunctionCall<'static> {
        WrapperFunctionCall { fn_addr: ExecutorAddr(tag), arg_data: Cow::Borrowed(&[]) }
    }

    #[test]
    fn initialize_copies_zero_fills_and_protects() {
        let m = mm();
        let ps = sys_unix::page_size() as u64;
        let base = m.reserve(2 * ps).unwrap();
        let data = [1u8, 2, 3];
        let segs = [
            Segment { ag: RemoteAllocGroup::R, addr: base, size: ps, content: Some(&data) },
            Segment {
                ag: RemoteAllocGroup::RW,
                addr: ExecutorAddr(base.0 + ps),
                size: 16,
                content: Some(&[]),
            },
        ];
        let key = m.initialize(&segs, &[], &|_| Ok(())).unwrap();
        assert_eq!(key, base);
        let mut buf = [9u8; 5];
        sys_unix::read_checked(base.0 as usize, &mut buf).unwrap();
        assert_eq!(buf, [1, 2, 3, 0, 0]);
        assert!(m.write(&[(base, &[7; 4])]).unwrap_err().contains("not writable"));
        m.write(&[(ExecutorAddr(base.0 + ps), &[7; 8])]).unwrap();
        // One bad destination: nothing is written.
        assert!(m.write(&[(ExecutorAddr(base.0 + ps + 8), &[5; 8]), (base, &[5; 4])]).is_err());
        let mut rw = [0u8; 16];
        sys_unix::read_checked((base.0 + ps) as usize, &mut rw).unwrap();
        assert_eq!(rw, [7, 7, 7, 7, 7, 7, 7, 7, 0, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(m.live_regions(), 1);
        m.release(&[base], &|_| Ok(())).unwrap();
        assert!(sys_unix::read_checked(base.0 as usize, &mut buf).is_err(), "slab must be unmapped");
    }

    #[test]
    fn bad_requests_are_errors() {
        let m = mm();
        let ps = sys_unix::page_size() as u64;
        let base = m.reserve(ps).unwrap();
        assert_eq!(m.initialize(&[], &[], &|_| Ok(())).unwrap_err(), "Finalization request is empty");
        let outside =
            Segment { ag: RemoteAllocGroup::RW, addr: ExecutorAddr(base.0 + ps), size: 8, content: None };
        assert!(m.initialize(&[outside], &[], &|_| Ok(())).unwrap_err().contains("not inside"));
        let straddle = Segment { ag: RemoteAllocGroup::RW, addr: base, size: ps + 1, content: None };
        assert!(m.initialize(&[straddle], &[], &|_| Ok(())).unwrap_err().contains("not inside"));
        let long = Segment { ag: RemoteAllocGroup::RW, addr: base, size: 2, content: Some(&[1, 2, 3]) };
        assert!(m.initialize(&[long], &[], &|_| Ok(())).unwrap_err().contains("content"));
        assert_eq!(
            m.release(&[ExecutorAddr(0x1000)], &|_| Ok(())).unwrap_err(),
            "In release, 0x1000 is not part of any reserved address range"
        );
        assert_eq!(
            m.deinitialize(&[ExecutorAddr(0x1000)], &|_| Ok(())).unwrap_err(),
            "In deinitialize, address 0x1000 is not part of any reserved address range"
        );
        assert!(m.reserve(0).is_err());
        assert_eq!(m.reserve(1 << 62).unwrap_err(), "Cannot allocate memory");
        m.release_all(&|_| Ok(())).unwrap();
    }

    #[test]
    fn actions_run_in_order_and_dealloc_in_reverse() {
        let m = mm();
        let ps = sys_unix::page_size() as u64;
        let base = m.reserve(ps).unwrap();
        let log = RefCell::new(Vec::new());
        let run = |c: &WrapperFunctionCall<'_>| {
            log.borrow_mut().push(c.fn_addr.0);
            if c.fn_addr.0 == 99 { Err("no".to_string()) } else { Ok(()) }
        };
        let seg = [Segment { ag: RemoteAllocGroup::RW, addr: base, size: 8, content: None }];
        let actions = [
            AllocActionCallPair { finalize: call(1), dealloc: call(10) },
            AllocActionCallPair { finalize: call(0), dealloc: call(20) },
            AllocActionCallPair { finalize: call(3), dealloc: call(0) },
        ];
        let key = m.initialize(&seg, &actions, &run).unwrap();
        m.deinitialize(&[key], &run).unwrap();
        assert_eq!(*log.borrow(), [1, 3, 20, 10]);
        // The record stays but its actions do not run twice.
        m.release(&[base], &run).unwrap();
        assert_eq!(*log.borrow(), [1, 3, 20, 10]);

        // A failing finalize action undoes the ones before it.
        let base = m.reserve(ps).unwrap();
        log.borrow_mut().clear();
        let seg = [Segment { ag: RemoteAllocGroup::RW, addr: base, size: 8, content: None }];
        let actions = [
            AllocActionCallPair { finalize: call(1), dealloc: call(10) },
            AllocActionCallPair { finalize: call(99), dealloc: call(98) },
        ];
        let err = m.initialize(&seg, &actions, &run).unwrap_err();
        assert!(err.contains("finalize action 1"), "{err}");
        assert_eq!(*log.borrow(), [1, 99, 10]);
        assert_eq!(m.live_regions(), 0);
        m.release_all(&run).unwrap();
    }

    #[test]
    fn overlapping_a_live_region_is_refused() {
        let m = mm();
        let ps = sys_unix::page_size() as u64;
        let base = m.reserve(ps).unwrap();
        let seg = [Segment { ag: RemoteAllocGroup::RX, addr: base, size: 16, content: Some(&[0xc3]) }];
        m.initialize(&seg, &[], &|_| Ok(())).unwrap();
        assert!(m.is_executable(base));
        let again =
            [Segment { ag: RemoteAllocGroup::RW, addr: ExecutorAddr(base.0 + 8), size: 16, content: None }];
        assert!(m.initialize(&again, &[], &|_| Ok(())).unwrap_err().contains("overlaps"));
        m.release_all(&|_| Ok(())).unwrap();
    }
}
