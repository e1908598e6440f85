//! The sorted group: the rewards in ascending order with the group index of every rank, by
//! packed integer keys (radix sort for large groups, a vectorised sorting network for groups
//! of 17 to 64 on CPUs with AVX2 or AVX-512 ([`super::small_sort`]), `sort_unstable` for the others) and
//! an exact fallback; every path gives the same order, equal rewards by ascending index.

use rayon::prelude::*;

use super::prefetch::{AHEAD, prefetch};
use super::small_sort::sort_rewards_small;
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
/// Groups from this size sort their packed keys by a radix sort ([`radix_sort_from`]) instead
/// of a comparison sort: at N = 10^6 it needs about half the CPU time of a serial
/// `sort_unstable` of the same keys, and most of its passes run in parallel (what a single
/// huge group through the CLI waits for). These groups also touch less
/// memory in the kernel (see `Tables::fwd` in the kernel) and fill its tables on a second thread
/// ([`super::Workspace::sort_and_prepare`]). Smaller groups keep `sort_unstable`, faster while the
/// keys fit in cache.
pub(super) const RADIX_FROM: usize = 1 << 15;

/// Groups from this size that need the exact fallback sort it in parallel
/// (`par_sort_unstable`); smaller ones sort it serially, since batches already run one group
/// per core and waking the pool costs more than sorting a few thousand keys.
pub(super) const PAR_SORT_FROM: usize = 1 << 15;

/// Bits per digit of the radix sort: 256 counters per pass stay in L1 and the scatter writes
/// to 256 streams, few enough for the write-combining of the cache.
const RADIX_BITS: u32 = 8;

/// Bits per digit of the passes within a bucket ([`sort_bucket`]).
const BUCKET_BITS: u32 = 10;

/// Keys per rayon task in the passes of [`radix_sort_from`] that run in parallel.
pub(super) const RADIX_CHUNK: usize = 1 << 14;

/// Buckets below this size are sorted by `sort_unstable` instead of by radix passes.
const SMALL_BUCKET: usize = 256;

/// Fills `keys` with `key(i, rewards[i])` for every i, sorted ascending by bits `low..64`,
/// stably (keys equal in those bits keep their input order); `spare` is scratch.
///
/// One most-significant-digit pass, then least-significant-digit passes per bucket: the keys
/// are built in parallel (with the bits in which any two differ), one serial pass scatters
/// them by the 8 highest bits that vary, and the buckets, contiguous and independent, are
/// sorted by the bits below in parallel ([`sort_bucket`]). Rewards in a narrow range share
/// their top bits, which cost nothing; a bucket (about `N / 256` keys, or the rewards of one
/// binade) fits in the cache, where its passes run several times faster than over the whole
/// group, and the buckets keep every core busy.
fn radix_sort_from<T: Reward>(
    rewards: &[T],
    key: impl Fn(usize, &T) -> u64 + Sync,
    keys: &mut Vec<u64>,
    spare: &mut Vec<u64>,
    low: u32,
) {
    let n = rewards.len();
    sized(keys, n);
    let Some(first) = rewards.first().map(|r| key(0, r)) else { return };
    let varying = keys
        .par_chunks_mut(RADIX_CHUNK)
        .zip(rewards.par_chunks(RADIX_CHUNK))
        .enumerate()
        .map(|(c, (ks, rs))| {
            let mut varying = 0;
            for (i, (k, r)) in ks.iter_mut().zip(rs).enumerate() {
                *k = key(c * RADIX_CHUNK + i, r);
                varying |= *k ^ first;
            }
            varying
        })
        .reduce(|| 0, |a, b| a | b)
        >> low
        << low;
    if varying == 0 {
        // Equal in every sorted bit: the input order is the order.
        return;
    }
    let high = 64 - varying.leading_zeros();
    let top = high.saturating_sub(RADIX_BITS).max(low);
    let digit = |k: u64| ((k >> top) & 0xff) as usize;
    // The scatter by the top digit runs in parallel, chunk by chunk: every (digit, chunk)
    // pair owns a contiguous slice of `spare` (digits ascending, chunks in input order within
    // a digit), so each chunk writes only its own slices and the scatter is stable.
    let chunk_counts: Vec<[usize; 1 << RADIX_BITS]> = keys
        .par_chunks(RADIX_CHUNK)
        .map(|ks| {
            let mut c = [0usize; 1 << RADIX_BITS];
            for &k in ks {
                c[digit(k)] += 1;
            }
            c
        })
        .collect();
    let mut counts = [0usize; 1 << RADIX_BITS];
    for c in &chunk_counts {
        counts.iter_mut().zip(c).for_each(|(x, y)| *x += y);
    }
    sized(spare, n);
    let mut slices: Vec<Vec<&mut [u64]>> =
        chunk_counts.iter().map(|_| Vec::with_capacity(1 << RADIX_BITS)).collect();
    let mut rest = &mut spare[..];
    for d in 0..1 << RADIX_BITS {
        for (own, c) in slices.iter_mut().zip(&chunk_counts) {
            let (head, tail) = rest.split_at_mut(c[d]);
            own.push(head);
            rest = tail;
        }
    }
    keys.par_chunks(RADIX_CHUNK).zip(slices).for_each(|(ks, mut own)| {
        let mut next = [0usize; 1 << RADIX_BITS];
        for &k in ks {
            let d = digit(k);
            own[d][next[d]] = k;
            next[d] += 1;
        }
    });
    let mut buckets = Vec::with_capacity(1 << RADIX_BITS);
    let (mut from, mut to) = (&mut spare[..], &mut keys[..]);
    for &count in counts.iter().filter(|&&c| c > 0) {
        let (f, rest_from) = from.split_at_mut(count);
        let (t, rest_to) = to.split_at_mut(count);
        buckets.push((f, t));
        (from, to) = (rest_from, rest_to);
    }
    buckets.into_par_iter().for_each(|(from, to)| sort_bucket(from, to, low, top));
}

/// Sorts `from`, keys equal from bit `high` up, into `to` by bits `low..high`, stably, by
/// least-significant-digit radix passes (a digit on which every key agrees is skipped);
/// `from` is scratch afterwards. Below [`SMALL_BUCKET`] keys, `sort_unstable` of the whole
/// keys gives the same order (the bits below `low` hold the index, ascending in input order).
fn sort_bucket(from: &mut [u64], to: &mut [u64], low: u32, high: u32) {
    let m = from.len();
    if m < SMALL_BUCKET || high <= low {
        from.sort_unstable();
        to.copy_from_slice(from);
        return;
    }
    let digits = (high - low).div_ceil(BUCKET_BITS) as usize;
    let digit =
        |k: u64, d: usize| ((k >> (low + d as u32 * BUCKET_BITS)) & ((1 << BUCKET_BITS) - 1)) as usize;
    let mut counts = vec![[0usize; 1 << BUCKET_BITS]; digits];
    for &k in from.iter() {
        for (d, c) in counts.iter_mut().enumerate() {
            c[digit(k, d)] += 1;
        }
    }
    let (mut src, mut dst, mut in_from) = (from, to, true);
    for (d, c) in counts.iter_mut().enumerate() {
        if c.contains(&m) {
            continue;
        }
        let mut start = 0;
        for slot in c.iter_mut() {
            let count = *slot;
            *slot = start;
            start += count;
        }
        for &k in src.iter() {
            let slot = &mut c[digit(k, d)];
            dst[*slot] = k;
            *slot += 1;
        }
        std::mem::swap(&mut src, &mut dst);
        in_from = !in_from;
    }
    if in_from {
        // The sorted keys are in `from` (= `src` now): move them to `to`.
        dst.copy_from_slice(src);
    }
}

/// Makes `buffer` `n` long, for a large buffer that the caller is about to overwrite whole:
/// what it holds afterwards is unspecified (zeros, or what a previous group left). One that
/// must grow is allocated anew, zeroed by the allocator: memory fresh from the operating system
/// is zero already and is touched only when written, on whichever thread writes it (the
/// parallel passes of the radix sort), instead of written with zeros first by this thread (at
/// N = 10^6, about a tenth of MaxPO's time in a fresh process went into such page faults and
/// memsets). One long enough already is not written at all (a workspace that
/// [`super::Workspace::reserve`] readied, or that held a group as large before).
pub(super) fn sized<T: Copy + Default>(buffer: &mut Vec<T>, n: usize) {
    if buffer.capacity() < n {
        *buffer = vec![T::default(); n];
    } else {
        buffer.resize(n, T::default());
    }
}

/// Makes `buffer` `n` long with every page of it written now, on this thread (see
/// [`super::Workspace::reserve`]); false, with `buffer` unchanged, when the memory cannot be
/// had.
pub(super) fn touched<T: Copy + Default>(buffer: &mut Vec<T>, n: usize) -> bool {
    if buffer.try_reserve_exact(n.saturating_sub(buffer.len())).is_err() {
        return false;
    }
    buffer.clear();
    buffer.resize(n, T::default());
    true
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

/// Writes `vals[b] = rewards[keys[b] & mask]` and says whether two neighbouring keys share
/// their bits above `mask` (`before` is the key before the first, or any key that differs from
/// it there): where none do, the packed-key order is exact. `PREFETCH` asks for the reward
/// [`AHEAD`] ranks on (for a large group, whose rewards are not in the cache).
#[inline(always)]
fn gather<T: Reward, const PREFETCH: bool>(
    vals: &mut [f64],
    keys: &[u64],
    before: u64,
    mask: u64,
    rewards: &[T],
) -> bool {
    let mut ties = false;
    let mut previous = before & !mask;
    for (b, (v, &k)) in vals.iter_mut().zip(keys).enumerate() {
        if PREFETCH && let Some(&ahead) = keys.get(b + AHEAD) {
            prefetch(rewards, (ahead & mask) as usize);
        }
        *v = rewards[(k & mask) as usize].to_f64();
        ties |= k & !mask == previous;
        previous = k & !mask;
    }
    ties
}

/// Writes `vals[b] = rewards[keys[b] & mask]` ([`gather`] without the test for ties).
#[inline(always)]
fn gather_values<T: Reward>(vals: &mut [f64], keys: &[u64], mask: u64, rewards: &[T]) {
    match rewards.get(..=mask as usize) {
        // A group of a power-of-two size: every `k & mask` is an index of `rewards[..=mask]`,
        // which the compiler sees, so the loop has no bounds check (a `[4096, 64]` MaxPO batch
        // took 1.05x the time with the plain loop alone, in alternating calls).
        Some(all) if all.len() == rewards.len() => {
            for (v, &k) in vals.iter_mut().zip(keys) {
                *v = all[(k & mask) as usize].to_f64();
            }
        }
        _ => {
            for (v, &k) in vals.iter_mut().zip(keys) {
                *v = rewards[(k & mask) as usize].to_f64();
            }
        }
    }
}

/// Stable insertion sort by `total_cmp` of an almost sorted `vals`, moving `keys` along;
/// gives up (returning false, both then a permutation of the input) once it has made more
/// than `budget` moves.
///
/// `keys` are the packed keys, ascending in their bits above `mask`: rewards whose keys differ
/// there are in order already, so only neighbours with equal high bits (a run that the moves
/// never leave) compare their rewards. For most groups that is an integer test per reward.
fn insertion_pass(vals: &mut [f64], keys: &mut [u64], mask: u64, budget: usize) -> bool {
    let mut moves = 0;
    for j in 1..vals.len() {
        let mut i = j;
        while i > 0 && (keys[i - 1] ^ keys[i]) <= mask && vals[i - 1].total_cmp(&vals[i]).is_gt() {
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
    /// Readies the buffers of a radix sort of `n` rewards (see [`super::Workspace::reserve`]);
    /// false when the memory cannot be had.
    pub(super) fn reserve(&mut self, n: usize) -> bool {
        touched(&mut self.packed, n) && touched(&mut self.spare, n) && touched(&mut self.vals, n)
    }

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
        let key = |i: usize, r: &T| (ordered_bits(r.to_f64()) & !mask) | i as u64;
        // Usually no two neighbours share their high bits, and the order is exact already: the
        // loop that gathers `vals` says so without a branch (see [`gather`]).
        let ties = if radix {
            // The index bits are in input order already: a stable sort of the rest suffices.
            radix_sort_from(rewards, key, &mut self.packed, &mut self.spare, mask.count_ones());
            sized(&mut self.vals, n);
            let packed = &self.packed;
            self.vals
                .par_chunks_mut(RADIX_CHUNK)
                .zip(packed.par_chunks(RADIX_CHUNK))
                .enumerate()
                .map(|(c, (v, k))| {
                    let before = if c == 0 { !k[0] } else { packed[c * RADIX_CHUNK - 1] };
                    gather::<T, true>(v, k, before, mask, rewards)
                })
                .reduce(|| false, |a, b| a | b)
        } else {
            self.packed.resize(n, 0);
            self.vals.resize(n, 0.0);
            // Groups of 17 to 64 rewards: the sorting network builds the keys in its registers
            // and finds the ties there, so only the values are left to gather.
            if let Some(ties) = sort_rewards_small(rewards, mask, &mut self.packed) {
                gather_values(&mut self.vals, &self.packed, mask, rewards);
                ties
            } else {
                for (i, (k, r)) in self.packed.iter_mut().zip(rewards).enumerate() {
                    *k = key(i, r);
                }
                self.packed.sort_unstable();
                let before = self.packed.first().map_or(0, |k| !k);
                gather::<T, false>(&mut self.vals, &self.packed, before, mask, rewards)
            }
        };
        self.index_mask = mask;
        !ties || insertion_pass(&mut self.vals, &mut self.packed, mask, 4 * n)
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
