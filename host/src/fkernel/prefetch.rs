//! Asking for memory a step before it is read: the images of a shuffled
//! batch are scattered over the training set (47 MB for MNIST), and each
//! batch's staging otherwise waits for their cache misses (3.6–3.9 % of a
//! one-thread 784-64-10 run's `perf` samples; 0.8 % with the prefetch).
//! `_mm_prefetch` does not wait; it is safe Rust only
//! inside a `#[target_feature]` function, so it runs through the vector
//! paths' dispatch, and the portable path asks for nothing (its trainer's
//! blocking touch, `train::inputs::Inputs::touch`, still overlaps a batch's
//! misses with each other).

use super::{FFast, FPath, CACHE_LINE};

impl FFast {
    /// Asks the CPU to bring every cache line of `data` into its caches,
    /// without waiting for them. A hint: it changes no value, and the
    /// portable path does nothing.
    pub fn prefetch(self, data: &[u8]) {
        match self.path {
            FPath::Portable => {}
            FPath::Avx2 | FPath::Avx512 => self.simd(super::Kernel::Prefetch { data }),
        }
    }
}

/// One index into a slice of `len` bytes at address `addr` per cache line
/// the slice touches: 0, then the first byte of each following line.
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
pub(super) fn line_starts(addr: usize, len: usize) -> impl Iterator<Item = usize> {
    let second = CACHE_LINE - addr % CACHE_LINE;
    (len > 0)
        .then_some(0)
        .into_iter()
        .chain((second..len).step_by(CACHE_LINE))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fkernel::FPath;

    #[test]
    fn one_index_in_each_line_a_slice_touches() {
        for addr in 0..3 * CACHE_LINE {
            for len in 0..5 * CACHE_LINE {
                let lines: Vec<usize> = line_starts(addr, len)
                    .map(|i| (addr + i) / CACHE_LINE)
                    .collect();
                let mut want: Vec<usize> = (0..len).map(|i| (addr + i) / CACHE_LINE).collect();
                want.dedup();
                assert_eq!(lines, want, "addr {addr} len {len}");
            }
        }
    }

    #[test]
    fn every_path_takes_every_slice() {
        // Through each path's dispatch, at every offset: a wrong index panics.
        let data = vec![7u8; 4 * CACHE_LINE];
        for fast in FPath::ALL.into_iter().filter_map(FFast::with_path) {
            for start in 0..CACHE_LINE {
                for end in [start, start + 1, start + 63, start + 64, data.len()] {
                    fast.prefetch(&data[start..end]);
                }
            }
        }
    }
}
