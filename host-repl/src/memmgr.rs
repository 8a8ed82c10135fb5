//! Executor memory as the host sees it: slabs reserved once and handed out in page-aligned
//! pieces, so that a link usually needs no `reserve` round trip, and so that the units of a
//! session lie close together (within the ±2 GiB reach of 32-bit PC-relative references).

/// Slabs reserved in the executor and the free ranges in them.
#[derive(Debug, Default)]
pub struct RemoteMemory {
    /// (base, size) of each slab.
    slabs: Vec<(u64, u64)>,
    /// Free ranges (start, size), page-aligned.
    free: Vec<(u64, u64)>,
}

impl RemoteMemory {
    /// Takes `size` bytes (a multiple of the page size) from a slab: the start, or `None` if no
    /// free range is large enough.
    pub fn alloc(&mut self, size: u64) -> Option<u64> {
        let i = self.free.iter().position(|&(_, len)| len >= size)?;
        let (start, len) = self.free[i];
        if len == size {
            self.free.remove(i);
        } else {
            self.free[i] = (start + size, len - size);
        }
        Some(start)
    }

    /// Adds a slab reserved at `base` of `size` bytes.
    pub fn add_slab(&mut self, base: u64, size: u64) {
        self.slabs.push((base, size));
        self.free.push((base, size));
    }

    /// Returns a range to the free list (after its unit was unloaded), merging neighbours.
    pub fn free(&mut self, start: u64, size: u64) {
        self.free.push((start, size));
        self.free.sort_unstable();
        let mut merged: Vec<(u64, u64)> = Vec::with_capacity(self.free.len());
        for &(s, l) in &self.free {
            match merged.last_mut() {
                Some((ms, ml)) if *ms + *ml == s => *ml += l,
                _ => merged.push((s, l)),
            }
        }
        self.free = merged;
    }

    /// The slabs reserved so far.
    pub fn slabs(&self) -> &[(u64, u64)] {
        &self.slabs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allocates_first_fit_and_merges_freed_ranges() {
        let mut m = RemoteMemory::default();
        assert_eq!(m.alloc(4096), None);
        m.add_slab(0x10000, 0x4000);
        assert_eq!(m.alloc(0x1000), Some(0x10000));
        assert_eq!(m.alloc(0x2000), Some(0x11000));
        assert_eq!(m.alloc(0x2000), None);
        m.free(0x10000, 0x1000);
        m.free(0x11000, 0x2000);
        assert_eq!(m.alloc(0x4000), Some(0x10000));
    }
}
