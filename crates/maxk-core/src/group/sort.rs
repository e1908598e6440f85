//! The sorted group: the rewards in ascending order with the group index of every rank, by
//! packed integer keys (radix sort for large groups, `sort_unstable` for small ones) and an
//! exact fallback; every path gives the same order, equal rewards by ascending index.

use rayon::slice::ParallelSliceMut;

use crate::float::Reward;

/// The sorted group and the buffers of the sort (see [`Sorter::sort`]).
#[derive(Debug, Default, Clone)]
pub(super) struct Sorter {
    /// `vals[b]` is the reward of rank `b`, and `packed[b] & index_mask` its index in the
    /// group.
    pub(super) vals: Vec<f64>,
    /// Packed sort keys, sorted along with `vals`.
    pub(super) packed: Vec<u64>,
    /// The bits of `packed` that hold the index.
    pub(super) index_mask: u64,
    /// Scratch of the radix sort of large groups.
    pub(super) spare: Vec<u64>,
    /// Exact sort keys (see [`sort_key`]).
    pub(super) exact: Vec<u128>,
}
/// Groups from this size sort their packed keys by an LSD radix sort ([`radix_sort_from`])
/// instead of a comparison sort: at N = 10^6 it needs about half the CPU time of a serial
/// `sort_unstable` of the same keys and less than rayon's parallel sort of exact keys did
/// (what a single huge group through the CLI waits for). These groups also touch less
/// memory in the kernel (see `Tables::fwd` in the kernel) and fill its tables on a second thread
/// ([`super::Workspace::sort_and_prepare`]). Smaller groups keep `sort_unstable`, faster while the
/// keys fit in cache.
pub(super) const RADIX_FROM: usize = 1 << 15;

/// Groups from this size that need the exact fallback sort it in parallel
/// (`par_sort_unstable`); smaller ones sort it serially, since batches already run one group
/// per core and waking the pool costs more than sorting a few thousand keys.
pub(super) const PAR_SORT_FROM: usize = 1 << 15;

/// Bits per digit of [`radix_sort_from`]: 256 counters per pass stay in L1 and the scatter
/// writes to 256 streams, few enough for the write-combining of the cache.
const RADIX_BITS: u32 = 8;

/// Fills `keys` with `input` sorted ascending by bits `low..64`, stably (keys equal in
/// those bits keep their input order), by an LSD radix sort over 8-bit digits; `spare` is
/// scratch. Filling `keys` counts every digit at once; then each digit that does not put
/// all keys in one bucket scatters them once (rewards in a narrow range share their top
/// digits, which are skipped).
fn radix_sort_from(input: impl Iterator<Item = u64>, keys: &mut Vec<u64>, spare: &mut Vec<u64>, low: u32) {
    let digits = (64 - low).div_ceil(RADIX_BITS);
    let digit = |key: u64, d: u32| ((key >> (low + d * RADIX_BITS)) & 0xff) as usize;
    let mut counts = vec![[0usize; 1 << RADIX_BITS]; digits as usize];
    keys.clear();
    for key in input {
        for (d, c) in (0..digits).zip(counts.iter_mut()) {
            c[digit(key, d)] += 1;
        }
        keys.push(key);
    }
    let n = keys.len();
    spare.clear();
    spare.resize(n, 0);
    for (d, c) in (0..digits).zip(counts.iter_mut()) {
        if c.contains(&n) {
            continue;
        }
        let mut start = 0;
        for slot in c.iter_mut() {
            let count = *slot;
            *slot = start;
            start += count;
        }
        for &key in keys.iter() {
            let slot = &mut c[digit(key, d)];
            spare[*slot] = key;
            *slot += 1;
        }
        std::mem::swap(keys, spare);
    }
}

/// Bits of `x` that order like `f64::total_cmp`: flipping every bit of a negative float and
/// only the sign bit of a positive one makes the IEEE-754 bit patterns ascend with the values.
pub(super) fn ordered_bits(x: f64) -> u64 {
    let bits = x.to_bits();
    if bits >> 63 == 1 { !bits } else { bits | (1 << 63) }
}

/// The inverse of [`ordered_bits`].
pub(super) fn from_ordered_bits(bits: u64) -> f64 {
    f64::from_bits(if bits >> 63 == 1 { bits & !(1 << 63) } else { !bits })
}

/// The exact key `(ordered_bits << 64) | index`.
pub(super) fn sort_key(x: f64, index: usize) -> u128 {
    (u128::from(ordered_bits(x)) << 64) | index as u128
}

/// Stable insertion sort by `total_cmp` of an almost sorted `vals`, moving `keys` along;
/// gives up (returning false, both then a permutation of the input) once it has made more
/// than `budget` moves.
fn insertion_pass(vals: &mut [f64], keys: &mut [u64], budget: usize) -> bool {
    let mut moves = 0;
    for j in 1..vals.len() {
        let mut i = j;
        while i > 0 && vals[i - 1].total_cmp(&vals[i]).is_gt() {
            vals.swap(i - 1, i);
            keys.swap(i - 1, i);
            i -= 1;
            moves += 1;
            if moves > budget {
                return false;
            }
        }
    }
    true
}
impl Sorter {
    /// Fills `vals` with the rewards in ascending `f64::total_cmp` order, equal rewards
    /// by ascending index (every kernel gives identical results for any order of equal
    /// rewards, but one order keeps every sort path bit for bit the same).
    ///
    /// Sorting integer keys is about twice as fast as sorting pairs with a float comparator,
    /// and the sort is the hot spot of a batch of small groups. [`Sorter::sort_packed`]
    /// sorts one `u64` per reward: its order-preserving bits with the lowest `b` replaced by
    /// the index (`2^b >= N`). That order is exact except between rewards that differ only in
    /// those `b` low bits (within `2^b` ulps of each other), which one insertion pass puts
    /// right. Should that pass need more than `4N` moves (a pathological group of nearly
    /// equal rewards), the group is re-sorted on exact `u128` keys ([`Sorter::sort_exact`]).
    pub(super) fn sort<T: Reward>(&mut self, rewards: &[T]) {
        let n = rewards.len();
        if !self.sort_packed(rewards, n >= RADIX_FROM) {
            self.sort_exact(rewards, n >= PAR_SORT_FROM);
        }
    }

    /// The packed-key sort of [`Sorter::sort`] (by radix sort or `sort_unstable`); false,
    /// with `vals` unfinished, when the insertion pass gives up.
    pub(super) fn sort_packed<T: Reward>(&mut self, rewards: &[T], radix: bool) -> bool {
        let n = rewards.len();
        let mask = n.next_power_of_two() as u64 - 1;
        let key = |(i, r): (usize, &T)| (ordered_bits(r.to_f64()) & !mask) | i as u64;
        let value = |&key: &u64| rewards[(key & mask) as usize].to_f64();
        if radix {
            // The index bits are in input order already: a stable sort of the rest suffices.
            let input = rewards.iter().enumerate().map(key);
            radix_sort_from(input, &mut self.packed, &mut self.spare, mask.count_ones());
        } else {
            self.packed.clear();
            self.packed.extend(rewards.iter().enumerate().map(key));
            self.packed.sort_unstable();
        }
        self.vals.clear();
        self.vals.extend(self.packed.iter().map(value));
        self.index_mask = mask;
        insertion_pass(&mut self.vals, &mut self.packed, 4 * n)
    }

    /// The exact sort of [`Sorter::sort`]: one `u128` key per reward (its order-preserving
    /// bits, then its index), sorted serially or in parallel.
    pub(super) fn sort_exact<T: Reward>(&mut self, rewards: &[T], parallel: bool) {
        self.exact.clear();
        self.exact.extend(rewards.iter().enumerate().map(|(i, r)| sort_key(r.to_f64(), i)));
        if parallel {
            self.exact.par_sort_unstable();
        } else {
            self.exact.sort_unstable();
        }
        self.vals.clear();
        self.vals.extend(self.exact.iter().map(|&key| from_ordered_bits((key >> 64) as u64)));
        self.packed.clear();
        self.packed.extend(self.exact.iter().map(|&key| key as u64));
        self.index_mask = u64::MAX;
    }
}
