//! A cache prefetch hint for the two passes of a large group that touch memory in random
//! order: gathering the sorted rewards (`rewards[index of rank b]`) and writing each advantage
//! to its sample (`out[index of rank b]`). Each access misses the caches (and, on a virtual
//! machine, often the TLB); asking for the line a few dozen ranks ahead keeps more of those
//! misses in flight than the out-of-order window does by itself (at N = 10^6 on the 2-core
//! development VM, a serial gather took 0.5-0.6x the time with the hint; docs/performance.md).

/// How many ranks ahead the passes ask for a line.
pub(super) const AHEAD: usize = 32;

/// Asks the CPU to bring the cache line of `x[i]` into its caches, ahead of a load or a store;
/// a hint, which changes no result. Nothing on targets other than x86_64.
#[inline(always)]
pub(super) fn prefetch<T>(x: &[T], i: usize) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        // SAFETY: `_mm_prefetch` requires SSE, which every x86_64 CPU has (it is part of the
        // target's baseline, so the build enables it everywhere). PREFETCHT0 is a hint: it
        // never faults and has no architectural effect for any address, so even an address
        // past the end of `x` (`wrapping_add` never makes a reference to it) is harmless.
        #[allow(unsafe_code)]
        unsafe {
            _mm_prefetch::<_MM_HINT_T0>(x.as_ptr().wrapping_add(i).cast())
        };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (x, i);
}
