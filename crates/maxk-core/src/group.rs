//! The per-group kernel: every estimator of one group in O(N log N) (one sort, then O(N)).
//!
//! After sorting ascending (`s_0 <= ... <= s_{N-1}`, gaps `g_b = s_b - s_{b-1} >= 0`), every
//! estimator is a sum of non-negative gap terms, so nothing cancels (derivation in docs/MATH.md,
//! "O(N log N)", rewritten over gaps by summation by parts):
//!
//! - `W_m = C(m, K-1) / C(N-1, K-1)`, `z_b = C(b, K) / C(N, K)` (ratio tables, [`crate::binom`]).
//! - `EI_a = sum_{b=1..=a} g_b W_b` (hockey-stick identity on `c_l = C(l,K-2)/C(N-1,K-1)`).
//! - `u_a - s_a = sum_{b>a} g_b (1 - W_{b-1})`.
//! - `maxpo_a = u_a - v_a = N/(N-K) [ sum_{b<=a} g_b z_b - sum_{b>a} g_b z_b (N-b)/b ]`.
//! - `rho = s_0 + sum_{b>=1} g_b (1 - z_b)`.
//!
//! Ties need no special case: a zero gap contributes nothing whatever the tie order.

use rayon::slice::ParallelSliceMut;

use crate::binom::fill_ratio_table;
use crate::error::{Error, Result};
use crate::estimator::{Estimator, Scale, Spec};
use crate::float::Reward;
use crate::sum::{Accumulator, Neumaier, Plain};

/// Groups at least this large use compensated sums; below it plain sums of the non-negative
/// gap terms are already accurate to N ulps (< 1e-13 relative).
pub(crate) const COMPENSATE_FROM: usize = 1024;

/// Reusable buffers for one thread. Holding one across groups makes the hot loop allocation
/// free: buffers only grow, and the ratio tables are rebuilt only when (N, K) changes.
#[derive(Debug, Default, Clone)]
pub struct Workspace {
    sorter: Sorter,
    tables: Tables,
}

/// The sorted group and the buffers of the sort (see [`Sorter::sort`]).
#[derive(Debug, Default, Clone)]
struct Sorter {
    /// `vals[b]` is the reward of rank `b`, and `packed[b] & index_mask` its index in the
    /// group.
    vals: Vec<f64>,
    /// Packed sort keys, sorted along with `vals`.
    packed: Vec<u64>,
    /// The bits of `packed` that hold the index.
    index_mask: u64,
    /// Scratch of the radix sort of large groups.
    spare: Vec<u64>,
    /// Exact sort keys (see [`sort_key`]).
    exact: Vec<u128>,
}

/// The weight tables of the u/v/w kernel and its prefix sums, by rank.
#[derive(Debug, Default, Clone)]
struct Tables {
    w_table: Table,
    z_table: Table,
    /// `C(m, K-2) / C(N-2, K-2)`: pkpo's and pkpo-loo's weight of a reward above the sample.
    c_table: Table,
    /// `C(m, K-1) / C(N-2, K-1)`: pkpo-loo's weight of a reward in `v_i = rho_K(B \ i)`.
    a_table: Table,
    /// `z_b (N - b) / b`, the backward weights of maxpo, for groups below [`RADIX_FROM`]
    /// (larger ones compute them as they go, which saves a pass and a table as large as the
    /// group), cached by `(N, K)` as the tables are.
    zq: Table,
    /// The forward prefix sums of maxpo, as `f64::to_bits`: stored as `u64` so that a large
    /// group can take over the sort's scratch, already as long as the group and dead after
    /// the sort, instead of touching a fresh buffer of that size (see
    /// [`Workspace::ranked_sorted`]).
    fwd: Vec<u64>,
}

/// Groups from this size sort their packed keys by an LSD radix sort ([`radix_sort_from`])
/// instead of a comparison sort: at N = 10^6 it needs about half the CPU time of a serial
/// `sort_unstable` of the same keys and less than rayon's parallel sort of exact keys did
/// (what a single huge group through the CLI waits for). These groups also touch less
/// memory in the kernel (see [`Tables::fwd`]) and fill its tables on a second thread
/// ([`Workspace::sort_and_prepare`]). Smaller groups keep `sort_unstable`, faster while the
/// keys fit in cache.
const RADIX_FROM: usize = 1 << 15;

/// Groups from this size that need the exact fallback sort it in parallel
/// (`par_sort_unstable`); smaller ones sort it serially, since batches already run one group
/// per core and waking the pool costs more than sorting a few thousand keys.
const PAR_SORT_FROM: usize = 1 << 15;

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
fn ordered_bits(x: f64) -> u64 {
    let bits = x.to_bits();
    if bits >> 63 == 1 { !bits } else { bits | (1 << 63) }
}

/// The inverse of [`ordered_bits`].
fn from_ordered_bits(bits: u64) -> f64 {
    f64::from_bits(if bits >> 63 == 1 { bits & !(1 << 63) } else { !bits })
}

/// The exact key `(ordered_bits << 64) | index`.
fn sort_key(x: f64, index: usize) -> u128 {
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
    fn sort<T: Reward>(&mut self, rewards: &[T]) {
        let n = rewards.len();
        if !self.sort_packed(rewards, n >= RADIX_FROM) {
            self.sort_exact(rewards, n >= PAR_SORT_FROM);
        }
    }

    /// The packed-key sort of [`Sorter::sort`] (by radix sort or `sort_unstable`); false,
    /// with `vals` unfinished, when the insertion pass gives up.
    fn sort_packed<T: Reward>(&mut self, rewards: &[T], radix: bool) -> bool {
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
    fn sort_exact<T: Reward>(&mut self, rewards: &[T], parallel: bool) {
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

    /// The unit of the u/v/w kernel for the sorted group: rewards near the top of f64's range
    /// are rescaled (in place) so that gaps and prefix sums cannot overflow; everything else
    /// runs unscaled, bit for bit as before.
    fn unit(&mut self) -> Unit {
        let n = self.vals.len();
        let max_abs = self.vals[0].abs().max(self.vals[n - 1].abs());
        if max_abs <= KERNEL_UNSCALED_UP_TO {
            return Unit::ONE;
        }
        let unit = Unit::of(max_abs);
        for v in &mut self.vals {
            *v *= unit.to;
        }
        unit
    }
}

impl Tables {
    /// Fills, ahead of the kernel, the tables that `est` at `(n, k)` reads (for large groups
    /// this runs beside the sort, see [`Workspace::sort_and_prepare`]).
    fn prepare(&mut self, est: Estimator, n: usize, k: usize) {
        match est {
            Estimator::Ei | Estimator::PkpoLoo1 if k >= 2 => {
                self.w_table.get(n - 1, k - 1);
            }
            Estimator::Pkpo | Estimator::PkpoLoo => {
                self.w_table.get(n - 1, k - 1);
                if k >= 2 {
                    self.c_table.get(n - 2, k - 2);
                }
                if est == Estimator::PkpoLoo {
                    self.a_table.get(n - 2, k - 1);
                }
            }
            Estimator::Maxpo | Estimator::Canonical => {
                self.z_table.get(n, k);
            }
            _ => {}
        }
    }
}

#[derive(Debug, Default, Clone)]
struct Table {
    key: Option<(usize, usize)>,
    values: Vec<f64>,
}

impl Table {
    /// `values[m] = C(m, j) / C(top, j)`, cached by `(top, j)`.
    fn get(&mut self, top: usize, j: usize) -> &[f64] {
        if self.key != Some((top, j)) {
            self.values.resize(top + 1, 0.0);
            fill_ratio_table(&mut self.values, j);
            self.key = Some((top, j));
        }
        &self.values
    }
}

impl Workspace {
    /// An empty workspace.
    pub fn new() -> Workspace {
        Workspace::default()
    }

    /// Advantages of one group into `out` (`out.len() == rewards.len()`), with full validation.
    /// Convenience for callers that loop over groups themselves (experiments, trainer).
    pub fn advantages_into<T: Reward>(
        &mut self,
        rewards: &[T],
        spec: Spec,
        out: &mut [T],
    ) -> crate::Result<()> {
        crate::validate::check_output(out.len(), rewards.len())?;
        let max_abs = crate::validate::check_group(rewards, spec)?;
        self.check_representable(rewards, spec, max_abs)?;
        self.compute(rewards, spec, out)
    }

    /// Sorts the group into `self.sorter`. For a large group, `prepare` fills the tables the
    /// kernel will read at the same time, on the rayon pool: their recurrences are serial
    /// chains as long as the group (about a third of the sort's time at N = 10^6), and
    /// independent of the order. Small groups leave the tables to the kernel, which fills
    /// them on first use (batches already keep every core busy).
    fn sort_and_prepare<T: Reward>(&mut self, rewards: &[T], prepare: impl FnOnce(&mut Tables) + Send) {
        let (sorter, tables) = (&mut self.sorter, &mut self.tables);
        if rewards.len() >= RADIX_FROM {
            rayon::join(|| sorter.sort(rewards), || prepare(tables));
        } else {
            sorter.sort(rewards);
        }
    }

    /// Sorts a group for a kernel outside this module (mixtures of K): the ascending rewards in
    /// the kernel's [`Unit`] (rescaled only near f64's range), the group index of each rank,
    /// and the unit. `side` runs beside the sort for a large group, as the tables of
    /// [`Workspace::sort_and_prepare`] do.
    pub(crate) fn sorted<T: Reward, R: Send>(
        &mut self,
        rewards: &[T],
        side: impl FnOnce() -> R + Send,
    ) -> (Sorted<'_>, R) {
        let sorter = &mut self.sorter;
        let r = if rewards.len() >= RADIX_FROM {
            rayon::join(|| sorter.sort(rewards), side).1
        } else {
            sorter.sort(rewards);
            side()
        };
        let unit = self.sorter.unit();
        let s = &self.sorter;
        (Sorted { vals: &s.vals, keys: &s.packed, mask: s.index_mask, unit }, r)
    }

    /// rho_K of a validated, non-empty group (`1 <= k <= N`). rho is a weighted mean of the
    /// rewards, so it is always representable; gaps of rewards near +-f64::MAX are not, hence
    /// the rescaling by [`Unit`] first.
    pub(crate) fn rho<T: Reward>(&mut self, rewards: &[T], k: usize) -> f64 {
        let n = rewards.len();
        self.sort_and_prepare(rewards, |t| {
            t.z_table.get(n, k);
        });
        let unit = self.sorter.unit();
        let z = self.tables.z_table.get(n, k);
        let s = &self.sorter.vals;
        let mut acc = Neumaier::default();
        acc.add(s[0]);
        for b in 1..n {
            acc.add((s[b] - s[b - 1]) * (1.0 - z[b]));
        }
        // A weighted mean lies within [min, max]; clamping keeps a last-ulp rounding of a
        // group at +-f64::MAX from overflowing on the way back.
        acc.value().clamp(s[0], s[n - 1]) * unit.back
    }

    /// Writes the advantages of a validated group into `out`.
    ///
    /// Every intermediate is computed on rewards rescaled by an exact power of two where it
    /// could overflow (see [`Unit`]), so an output is non-finite only when the true advantage
    /// is: then this returns [`Error::AdvantageOverflow`] (with `out` written). Callers that
    /// promise to change nothing on error call [`Workspace::check_representable`] first.
    pub(crate) fn compute<T: Reward>(&mut self, rewards: &[T], spec: Spec, out: &mut [T]) -> Result<()> {
        match spec.estimator {
            Estimator::Rloo | Estimator::DrGrpo | Estimator::Grpo => mean_peers(rewards, spec, out),
            Estimator::BestMinusSecond => best_minus_second(rewards, spec, out),
            Estimator::PasskAnalytic => {
                // Binary rewards: |A| <= sqrt(N) times a factor <= N, always finite.
                let (mult, back) = scale_stage(rewards, spec, Unit::ONE);
                passk_analytic(rewards, spec.k, mult * back, out)
            }
            Estimator::BonMean => crate::peers::bon_mean(self, rewards, spec, out),
            Estimator::RsGrpo => crate::peers::rs_grpo(rewards, spec, out),
            Estimator::Maxrl => {
                // Binary rewards: |A| <= N times the scale factor, always finite.
                let (mult, back) = scale_stage(rewards, spec, Unit::ONE);
                maxrl(rewards, mult * back, out)
            }
            _ => {
                let (n, k) = (rewards.len(), spec.k);
                self.sort_and_prepare(rewards, |t| t.prepare(spec.estimator, n, k));
                let unit = self.sorter.unit();
                let (mult, back) = scale_stage(rewards, spec, unit);
                self.ranked(rewards.len(), spec.estimator, spec.k, mult, back, out)
            }
        }
        check_outputs(rewards, spec, out)
    }

    /// PKPO's `s_a = (K/N) u_a` minus its group mean, `d_a`, into `d` (by sample), in the unit
    /// `to` that brings the group's largest `|r|` near 1 (returned). With the gaps `g_b` of the
    /// sorted group and `W_m = C(m, K-1)/C(N-1, K-1)`, `u_a = s_{N-1} - sum_{b>a} g_b W_{b-1}`,
    /// so `d_a = (K/N) (sum_b g_b W_{b-1} b/N - sum_{b>a} g_b W_{b-1})`: every term is a gap
    /// times a weight, exactly 0 where the weight or the gap is, so a group whose `s` are all
    /// equal gets exactly 0. `1 <= k <= N`.
    pub(crate) fn pkpo_centered<T: Reward>(&mut self, rewards: &[T], k: usize, d: &mut [f64]) -> f64 {
        let n = rewards.len();
        self.sorter.sort(rewards);
        let unit = Unit::of(max_abs(rewards));
        for v in &mut self.sorter.vals {
            *v *= unit.to;
        }
        let w = self.tables.w_table.get(n - 1, k - 1);
        let s = &self.sorter.vals;
        let (keys, mask) = (&self.sorter.packed, self.sorter.index_mask);
        let (nf, kf) = (n as f64, k as f64);
        let term = |b: usize| (s[b] - s[b - 1]) * w[b - 1];
        let mut all = Neumaier::default();
        for b in 1..n {
            all.add(term(b) * (b as f64 / nf));
        }
        let mut above = Neumaier::default();
        for a in (0..n).rev() {
            d[(keys[a] & mask) as usize] = kf / nf * (all.value() - above.value());
            if a > 0 {
                above.add(term(a));
            }
        }
        unit.to
    }

    /// Runs the kernel on a copy when the group's rewards come near the output type's largest
    /// value (within [`NEAR_MAX`]), so that an overflowing advantage is found before anything
    /// is written; below that bound every advantage is representable (the bound's proof is at
    /// [`NEAR_MAX`]). `max_abs` is `max |r|` of the group.
    pub(crate) fn check_representable<T: Reward>(
        &mut self,
        rewards: &[T],
        spec: Spec,
        max_abs: f64,
    ) -> Result<()> {
        if !near_max::<T>(max_abs) {
            return Ok(());
        }
        let mut trial = vec![T::from_f64(0.0); rewards.len()];
        self.compute(rewards, spec, &mut trial)
    }

    /// The u/v/w family (pkpo, pkpo-loo, pkpo-loo1, ei, maxpo, canonical).
    /// `self.sorter.vals` holds the group (in the kernel's unit); every output is the kernel's value
    /// times `factor`, then times `back` (the unit's way back, 1 when `factor` already has it).
    fn ranked<T: Reward>(
        &mut self,
        n: usize,
        est: Estimator,
        k: usize,
        factor: f64,
        back: f64,
        out: &mut [T],
    ) {
        if n >= COMPENSATE_FROM {
            self.ranked_sorted::<T, Neumaier>(est, k, factor, back, out)
        } else {
            self.ranked_sorted::<T, Plain>(est, k, factor, back, out)
        }
    }

    fn ranked_sorted<T: Reward, A: Accumulator>(
        &mut self,
        est: Estimator,
        k: usize,
        factor: f64,
        back: f64,
        out: &mut [T],
    ) {
        let n = self.sorter.vals.len();
        let emit = |x: f64| emit_as::<T>(x, back);
        let (nf, kf) = (n as f64, k as f64);
        let s = &self.sorter.vals;
        let (keys, mask) = (&self.sorter.packed, self.sorter.index_mask);
        // The group index of rank b.
        let at = |b: usize| (keys[b] & mask) as usize;
        let gap = |b: usize| s[b] - s[b - 1];
        match est {
            Estimator::Ei | Estimator::PkpoLoo1 => {
                let scale = if est == Estimator::Ei { factor } else { factor * kf / nf };
                if k == 1 {
                    // No comparators: the max over the empty set counts as 0, EI_i = r_i.
                    for (b, &r) in s.iter().enumerate() {
                        out[at(b)] = emit(scale * r);
                    }
                    return;
                }
                let w = self.tables.w_table.get(n - 1, k - 1);
                let mut acc = A::default();
                out[at(0)] = T::from_f64(0.0);
                for a in 1..n {
                    acc.add(gap(a) * w[a]);
                    out[at(a)] = emit(scale * acc.value());
                }
            }
            Estimator::Pkpo => {
                // u_a = W_a s_a + sum_{l>a} c'_l s_l with c'_l = C(l-1, K-2)/C(N-1, K-1) (the
                // K-subsets holding a whose maximum has rank l): a weighted sum of the rewards
                // themselves, so that each output's rounding is relative to its own terms (a
                // far outlier below a has weight 0 in u_a and cannot swamp it).
                let scale = factor * kf / nf;
                if k == 1 {
                    for (b, &r) in s.iter().enumerate() {
                        out[at(b)] = emit(scale * r);
                    }
                    return;
                }
                let w = self.tables.w_table.get(n - 1, k - 1);
                // c'_l = c[l-1] (K-1)/(N-1).
                let c = self.tables.c_table.get(n - 2, k - 2);
                let above = (kf - 1.0) / (nf - 1.0);
                let mut t = A::default();
                for a in (0..n).rev() {
                    out[at(a)] = emit(scale * (w[a] * s[a] + above * t.value()));
                    if a > 0 {
                        t.add(c[a - 1] * s[a]);
                    }
                }
            }
            Estimator::PkpoLoo => {
                // (K/N) u_a - (K/(N-1)) v_a with the exact weight of every reward:
                //   -(K/(N-1)) alpha_l for l < a, alpha_l = C(l, K-1)/C(N-1, K) (v_a's weights),
                //   (K/N) W_a for l = a,
                //   beta_l = (K/N) c'_l - (K/(N-1)) C(l-1, K-1)/C(N-1, K) for l > a, in the closed
                //   form K C(l-1, K-2) num_l / (C(N-2, K-2) N (N-1)^2 (N-K)) with the integer
                //   num_l = (N-1)(K-1)(N-K) - N K (l-K+1) for K >= 2, and -1/(N-1)^2 for K = 1.
                //   The two terms of beta_l can cancel exactly (N = 10, K = 6, l = 8): only the
                //   closed form keeps each output's rounding relative to its own terms.
                let w = self.tables.w_table.get(n - 1, k - 1);
                // alpha_l = a_tab[l] K/(N-1).
                let a_tab = self.tables.a_table.get(n - 2, k - 1);
                if n >= RADIX_FROM {
                    std::mem::swap(&mut self.tables.fwd, &mut self.sorter.spare);
                }
                self.tables.fwd.resize(n, 0);
                let fwd = &mut self.tables.fwd;
                let mut below = A::default();
                for a in 0..n {
                    fwd[a] = below.value().to_bits();
                    if a + 1 < n {
                        below.add(a_tab[a] * s[a]);
                    }
                }
                let below_scale = kf * kf / ((nf - 1.0) * (nf - 1.0));
                let own = kf / nf;
                let mut above = A::default();
                if k == 1 {
                    // beta_l = -1/(N-1)^2.
                    let beta = -1.0 / ((nf - 1.0) * (nf - 1.0));
                    for a in (0..n).rev() {
                        let v =
                            -below_scale * f64::from_bits(fwd[a]) + own * w[a] * s[a] + beta * above.value();
                        out[at(a)] = emit(factor * v);
                        above.add(s[a]);
                    }
                } else {
                    let c = self.tables.c_table.get(n - 2, k - 2);
                    let above_scale = kf / (nf * (nf - 1.0) * (nf - 1.0) * (nf - kf));
                    let (ni, ki) = (n as i128, k as i128);
                    let base = (ni - 1) * (ki - 1) * (ni - ki);
                    for a in (0..n).rev() {
                        let v = -below_scale * f64::from_bits(fwd[a])
                            + own * w[a] * s[a]
                            + above_scale * above.value();
                        out[at(a)] = emit(factor * v);
                        if a > 0 {
                            let num = base - ni * ki * (a as i128 - ki + 1);
                            above.add(c[a - 1] * num as f64 * s[a]);
                        }
                    }
                }
            }
            Estimator::Maxpo | Estimator::Canonical => {
                let z = self.tables.z_table.get(n, k);
                let q = |b: usize| z[b] * (n - b) as f64 / b as f64;
                let cached = n < RADIX_FROM;
                if cached && self.tables.zq.key != Some((n, k)) {
                    self.tables.zq.values.clear();
                    self.tables.zq.values.extend((0..n).map(|b| if b == 0 { 0.0 } else { q(b) }));
                    self.tables.zq.key = Some((n, k));
                }
                let zq_table = &self.tables.zq.values;
                // Bit for bit the same value either way.
                let zq = |b: usize| if cached { zq_table[b] } else { q(b) };
                // fwd[r] = sum_{b<=r} g_b z_b; the backward sum runs in the output pass.
                if n >= RADIX_FROM {
                    std::mem::swap(&mut self.tables.fwd, &mut self.sorter.spare);
                }
                self.tables.fwd.resize(n, 0);
                let fwd = &mut self.tables.fwd;
                let mut acc = A::default();
                fwd[0] = 0f64.to_bits();
                for r in 1..n {
                    acc.add(gap(r) * z[r]);
                    fwd[r] = acc.value().to_bits();
                }
                let norm = nf / (nf - kf);
                let mut bwd = A::default();
                let scale = if est == Estimator::Maxpo { factor * norm } else { factor * norm * kf / nf };
                out[at(n - 1)] = emit(scale * f64::from_bits(fwd[n - 1]));
                for r in (0..n - 1).rev() {
                    bwd.add(gap(r + 1) * zq(r + 1));
                    out[at(r)] = emit(scale * (f64::from_bits(fwd[r]) - bwd.value()));
                }
            }
            _ => unreachable!("ranked() is only called for the u/v/w family"),
        }
    }
}

/// A sorted group (see [`Workspace::sorted`]).
pub(crate) struct Sorted<'a> {
    /// The rewards in ascending order, times `unit.to`.
    pub(crate) vals: &'a [f64],
    keys: &'a [u64],
    mask: u64,
    /// The rescaling of `vals`.
    pub(crate) unit: Unit,
}

impl Sorted<'_> {
    /// The group index of rank `b`.
    #[inline(always)]
    pub(crate) fn index(&self, b: usize) -> usize {
        (self.keys[b] & self.mask) as usize
    }
}

/// An exact power of two `to = 2^-e` that brings a group's largest `|r|` into [1, 2), and its
/// inverse `back = 2^e`. Every estimator is homogeneous in the rewards (of degree 1, GRPO of
/// degree 0 up to its 1e-6), so `A(r) = back * A(to * r)`: computing on `to * r` keeps the
/// squares of the std and the gaps of rewards near +-f64::MAX finite, and the one rounding
/// that can overflow is the last multiplication by `back`, exactly when the true advantage is
/// not representable. Multiplying by a power of two is exact (only rewards below
/// `2^-1074 back`, far under the rounding of anything of the size of the largest reward, are
/// flushed to zero), so in the usual range the results are bit for bit those of no rescaling.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Unit {
    /// Multiplies a reward into the unit.
    pub(crate) to: f64,
    /// Multiplies a result back.
    pub(crate) back: f64,
}

impl Unit {
    /// No rescaling.
    pub(crate) const ONE: Unit = Unit { to: 1.0, back: 1.0 };

    /// The unit of a group whose largest `|r|` is `max_abs` (the exponent is clamped to
    /// [-1000, 1000] so that both factors are normal floats).
    pub(crate) fn of(max_abs: f64) -> Unit {
        if max_abs == 0.0 || !max_abs.is_finite() {
            return Unit::ONE;
        }
        // Biased exponent field; subnormals (field 0) count as 2^-1023.
        let e = ((max_abs.to_bits() >> 52) & 0x7ff) as i32 - 1023;
        let e = e.clamp(-1000, 1000);
        Unit { to: pow2(-e), back: pow2(e) }
    }
}

/// `2^e` for a normal exponent `-1022 <= e <= 1023`.
fn pow2(e: i32) -> f64 {
    debug_assert!((-1022..=1023).contains(&e));
    f64::from_bits(((e + 1023) as u64) << 52)
}

/// The u/v/w kernel runs unscaled while `max |r|` stays below this: its largest intermediate
/// is about `K max|r|` (pkpo-loo's `K u / (N (N-1))`), far from overflowing.
const KERNEL_UNSCALED_UP_TO: f64 = 1e270; // about 2^897

/// Rewards up to `NEAR_MAX` times the output type's largest value always give representable
/// advantages: every estimator's advantage is at most `4 max|r|` in absolute value (u, v, w and
/// the mean lie in [min r, max r], so each difference is at most the range `2 max|r|`;
/// rloo's `N/(N-1) <= 2` doubles it; the pg factors are at most 1 except passk-analytic's,
/// whose binary rewards give at most `sqrt(N)`), and the `std` scale divides a difference
/// of rewards by at least `range / sqrt(2 (N-1))`, bounded whatever the rewards.
const NEAR_MAX: f64 = 0.125;

/// Whether rewards up to `max_abs` may give advantages that overflow `T` (see [`NEAR_MAX`]):
/// only then does [`Workspace::check_representable`] run a trial.
pub(crate) fn near_max<T: Reward>(max_abs: f64) -> bool {
    max_abs > T::MAX * NEAR_MAX
}

/// `max |r|` of a group (0 for an empty one).
pub(crate) fn max_abs<T: Reward>(rewards: &[T]) -> f64 {
    rewards.iter().fold(0.0f64, |m, r| m.max(r.to_f64().abs()))
}

/// Whether every reward equals the first, exactly (a group of one included): the groups that
/// carry no signal, which `--scale std` leaves unscaled and the mean-peer estimators give 0.
pub(crate) fn all_equal<T: Reward>(rewards: &[T]) -> bool {
    rewards.first().is_none_or(|first| rewards.iter().all(|r| *r == *first))
}

/// The spread of `to * r` about its mean: the mean `m` of the deviations `d_i = to r_i - to r_0`
/// from the first reward, and the unbiased standard deviation (0 for fewer than two rewards),
/// compensated. `d_i - m = to (r_i - mean r)` is the centered reward: measuring from a sample
/// instead of from a rounded mean makes an all-equal group's deviations, mean and std exactly
/// 0 (not a rounding residue that a std scale would blow up), and keeps the rounding of every
/// centered value relative to the group's range rather than its magnitude. `to` must be the
/// group's [`Unit`] (or bring `max |r|` below about 2^500), so that no square overflows.
fn spread_in<T: Reward>(rewards: &[T], to: f64) -> (f64, f64) {
    let Some(first) = rewards.first() else { return (0.0, 0.0) };
    let r0 = first.to_f64() * to;
    let dev = |r: &T| r.to_f64() * to - r0;
    let n = rewards.len() as f64;
    let m = crate::sum::sum(rewards.iter().map(dev)) / n;
    if rewards.len() < 2 {
        return (m, 0.0);
    }
    let ss = crate::sum::sum(rewards.iter().map(|r| (dev(r) - m).powi(2)));
    (m, (ss / (n - 1.0)).sqrt())
}

/// The standard deviation of `unit.to * r` (the group's unbiased std in `unit`).
fn std_in<T: Reward>(rewards: &[T], unit: Unit) -> f64 {
    let own = Unit::of(max_abs(rewards));
    // `unit` is the group's own (the product is 1) or ONE for a group below the kernel's
    // unscaled bound 1e270 (the product is own.back <= 2^898): it never overflows.
    spread_in(rewards, own.to).1 * (own.back * unit.to)
}

/// The `std` scale's multiplier in `unit`, `1 / (std r + 1e-6)`; `None` for a group whose
/// rewards are all equal (exactly), which is left unscaled.
pub(crate) fn std_factor<T: Reward>(rewards: &[T], unit: Unit) -> Option<f64> {
    if all_equal(rewards) {
        return None;
    }
    let sd = std_in(rewards, unit);
    (sd > 0.0).then(|| 1.0 / (sd + 1e-6 * unit.to))
}

/// The `--scale` stage for an estimator whose raw values are in `unit`: the multiplier and
/// the way back to the rewards' unit. `std` divides by `std r + 1e-6`, which in `unit` is
/// `std_in + 1e-6 to`: the result is then unit-free and needs no way back.
pub(crate) fn scale_stage<T: Reward>(rewards: &[T], spec: Spec, unit: Unit) -> (f64, f64) {
    match spec.scale {
        Scale::None => (1.0, unit.back),
        Scale::Pg => (spec.estimator.pg_factor(rewards.len(), spec.k), unit.back),
        Scale::Std => std_factor(rewards, unit).map_or((1.0, unit.back), |f| (f, 1.0)),
    }
}

/// How far beyond `T::MAX` a result may round and still be `+-T::MAX` (relative): the
/// kernels' rounding (docs/accuracy.md) is far below it, so a value past `T::MAX` by less is
/// one whose exact value is representable or within the stated accuracy of `T::MAX`.
const MAX_SLACK: f64 = 1.0 / (1u64 << 40) as f64;

/// `x * back` as `T`, for a result `x` in the group's unit: `+-T::MAX` where the product
/// passes `T::MAX` by no more than [`MAX_SLACK`] (the rounding of a representable advantage
/// must not turn into a false overflow error), infinite further out ([`check_outputs`] then
/// reports the overflow).
#[inline(always)]
fn emit_as<T: Reward>(x: f64, back: f64) -> T {
    let y = x * back;
    if y.abs() <= T::MAX {
        return T::from_f64(y);
    }
    near_max_as(x, back)
}

#[cold]
fn near_max_as<T: Reward>(x: f64, back: f64) -> T {
    // Halved, the product is finite unless it passes 2 f64::MAX, a true overflow anyway.
    let half = x * (back * 0.5);
    if half.abs() <= T::MAX * 0.5 * (1.0 + MAX_SLACK) {
        T::from_f64(T::MAX.copysign(x))
    } else {
        T::from_f64(x * back)
    }
}

/// `Ok` when every output is finite, else [`Error::AdvantageOverflow`] for the first that is
/// not (with the group's range, the cause).
fn check_outputs<T: Reward>(rewards: &[T], spec: Spec, out: &[T]) -> Result<()> {
    if out.iter().fold(true, |ok, a| ok & a.to_f64().is_finite()) {
        return Ok(());
    }
    let index = out.iter().position(|a| !a.to_f64().is_finite()).unwrap_or(0);
    let (low, high) = rewards
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), r| (lo.min(r.to_f64()), hi.max(r.to_f64())));
    Err(Error::AdvantageOverflow {
        estimator: spec.estimator.id(),
        index,
        ty: T::NAME,
        max: T::MAX,
        low,
        high,
    })
}

/// rloo `N/(N-1) (r_i - mean)`, dr-grpo `r_i - mean`, grpo `(r_i - mean)/(std + 1e-6)`, all on
/// `to * r` in the group's [`Unit`], with the centered rewards of [`spread_in`]: a group of one
/// or of equal rewards gets exactly 0 (it carries no signal, and the estimators are centered).
fn mean_peers<T: Reward>(rewards: &[T], spec: Spec, out: &mut [T]) {
    let n = rewards.len();
    let unit = Unit::of(max_abs(rewards));
    let (m, sd) = spread_in(rewards, unit.to);
    let (mult, back) = scale_stage(rewards, spec, unit);
    let r0 = rewards[0].to_f64() * unit.to;
    let centered = |r: &T| (r.to_f64() * unit.to - r0) - m;
    if spec.estimator == Estimator::Grpo {
        // GRPO is unit-free: `z_i = centered_i / (std + 1e-6)` in the same unit, at most about
        // sqrt(N) in size. The scale stage then applies in the rewards' unit, where its factor
        // is `mult * back * to` (1, the PG factor, or 1/(std r + 1e-6)). Forming z first keeps
        // every intermediate in range: multiplying two std divisors of a tiny group first would
        // overflow (1e-6 in a unit of 2^1000 is 2^980).
        let divisor = sd + 1e-6 * unit.to;
        let factor = mult * (back * unit.to);
        for (o, r) in out.iter_mut().zip(rewards) {
            *o = emit_as(centered(r) / divisor, factor);
        }
        return;
    }
    let scale = if spec.estimator == Estimator::Rloo { mult * n as f64 / (n as f64 - 1.0) } else { mult };
    for (o, r) in out.iter_mut().zip(rewards) {
        *o = emit_as(scale * centered(r), back);
    }
}

/// Only the strict best sample gets `r_max - r_second_max`; a tie at the top gives all zeros.
fn best_minus_second<T: Reward>(rewards: &[T], spec: Spec, out: &mut [T]) {
    let (mut best, mut second, mut arg) = (f64::NEG_INFINITY, f64::NEG_INFINITY, 0);
    for (i, r) in rewards.iter().enumerate() {
        let r = r.to_f64();
        if r > best {
            second = best;
            best = r;
            arg = i;
        } else if r > second {
            second = r;
        }
    }
    out.fill(T::from_f64(0.0));
    if best > second {
        // The gap of two rewards near +-f64::MAX overflows unless taken in the group's unit.
        let unit = Unit::of(max_abs(rewards));
        let (mult, back) = scale_stage(rewards, spec, unit);
        out[arg] = emit_as(mult * (best * unit.to - second * unit.to), back);
    }
}

/// Chen et al. 2025 (arXiv 2508.10751): with `q = C(N-c, K)/C(N, K)`, `R = 1 - q`,
/// `sigma = sqrt(R (1 - R))`: correct samples get `(1 - R)/sigma`, incorrect ones
/// `(1 - R - C(N-c-1, K-1)/C(N-1, K-1))/sigma`; all zero when sigma = 0.
fn passk_analytic<T: Reward>(rewards: &[T], k: usize, factor: f64, out: &mut [T]) {
    use crate::binom::ratio_same_k;
    let n = rewards.len();
    let c = rewards.iter().filter(|r| r.to_f64() == 1.0).count();
    let q = ratio_same_k(n - c, n, k);
    let sigma = (q * (1.0 - q)).sqrt();
    if c == 0 || sigma == 0.0 {
        out.fill(T::from_f64(0.0));
        return;
    }
    // q - C(N-c-1, K-1)/C(N-1, K-1) = -(c/N) C(N-c-1, K-1)/C(N-1, K-1), without the cancellation.
    let pos = factor * q / sigma;
    let neg = -factor * ratio_same_k(n - c - 1, n - 1, k - 1) * (c as f64 / n as f64) / sigma;
    for (o, r) in out.iter_mut().zip(rewards) {
        *o = T::from_f64(if r.to_f64() == 1.0 { pos } else { neg });
    }
}

/// MaxRL (arXiv 2602.02710): with `c` correct of N binary rewards, `A_i = N r_i / c - 1`
/// (= `(r_i - mean r) / mean r`); every advantage is 0 when `c = 0`. Counting avoids the
/// rounding of a floating mean: the correct samples get exactly `N/c - 1`, the others `-1`.
fn maxrl<T: Reward>(rewards: &[T], factor: f64, out: &mut [T]) {
    let n = rewards.len();
    let c = rewards.iter().filter(|r| r.to_f64() == 1.0).count();
    if c == 0 {
        out.fill(T::from_f64(0.0));
        return;
    }
    let pos = factor * (n as f64 / c as f64 - 1.0);
    for (o, r) in out.iter_mut().zip(rewards) {
        *o = T::from_f64(if r.to_f64() == 1.0 { pos } else { -factor });
    }
}

#[cfg(test)]
mod tests {
    use super::{PAR_SORT_FROM, RADIX_FROM, Workspace, from_ordered_bits, ordered_bits, sort_key};
    use crate::estimator::Estimator;
    use proptest::prelude::*;

    /// The sorted group as (reward, index) pairs.
    fn sorted_pairs(ws: &Workspace) -> Vec<(u64, usize)> {
        ws.sorter
            .vals
            .iter()
            .enumerate()
            .map(|(b, v)| (v.to_bits(), (ws.sorter.packed[b] & ws.sorter.index_mask) as usize))
            .collect()
    }

    /// `Workspace::sort` against a comparator sort of the same rewards: the values must come
    /// out in `total_cmp` order and the indices must point at them.
    fn check_sorted(rewards: &[f64]) {
        let mut ws = Workspace::new();
        ws.sorter.sort(rewards);
        let mut expected = rewards.to_vec();
        expected.sort_by(f64::total_cmp);
        let got = sorted_pairs(&ws);
        assert_eq!(
            got.iter().map(|p| p.0).collect::<Vec<_>>(),
            expected.iter().map(|x| x.to_bits()).collect::<Vec<_>>()
        );
        let mut seen = vec![false; rewards.len()];
        for &(v, i) in &got {
            assert_eq!(v, rewards[i].to_bits(), "index {i} does not hold {}", f64::from_bits(v));
            assert!(!std::mem::replace(&mut seen[i], true), "index {i} twice");
        }
    }

    /// Rewards within a few ulps of each other defeat the packed keys' low bits: a few need
    /// the insertion pass, a whole group of them the exact fallback; both must sort exactly.
    #[test]
    fn nearly_equal_rewards_sort_exactly() {
        let ulps = |base: f64, n: usize, stride: u64| -> Vec<f64> {
            // A fixed scramble (multiplication by an odd constant mod n is a bijection when n
            // is a power of two) so that the input is far from sorted.
            (0..n).map(|i| f64::from_bits(base.to_bits() + ((i * 37) % n) as u64 * stride)).collect()
        };
        check_sorted(&ulps(1.0, 64, 1));
        check_sorted(&ulps(-3.5, 64, 1));
        check_sorted(&ulps(0.25, 1024, 3));
        let mut mixed = ulps(1.0, 8, 1);
        mixed.extend([0.5, 2.0, -0.0, 0.0, 1.0, 7.25]);
        check_sorted(&mixed);
        // The parallel sort, on packed keys and (nearly equal rewards) on exact ones.
        check_sorted(&ulps(1.0, PAR_SORT_FROM * 2, 1));
        let spread: Vec<f64> =
            (0..PAR_SORT_FROM * 2).map(|i| ((i * 7919) % 10007) as f64 / 10007.0 - 0.5).collect();
        check_sorted(&spread);
        check_sorted(&[]);
        check_sorted(&[4.0]);
    }

    proptest! {
        /// Random groups (with ties and both zeros) sort exactly.
        #[test]
        fn workspace_sort_matches_a_comparator_sort(v in prop::collection::vec(prop_oneof![-4i8..4i8, any::<i8>()].prop_map(|x| f64::from(x) / 4.0), 0..300)) {
            check_sorted(&v);
        }
    }

    /// The group sorted by one path: 0 and 1 the packed keys by comparison and by radix sort
    /// (`None` when the insertion pass gives up), 2 and 3 the exact keys serially and in
    /// parallel.
    fn sorted_by(rewards: &[f64], path: usize) -> Option<Workspace> {
        let mut ws = Workspace::new();
        match path {
            0 | 1 => ws.sorter.sort_packed(rewards, path == 1).then_some(ws),
            _ => {
                ws.sorter.sort_exact(rewards, path == 3);
                Some(ws)
            }
        }
    }

    /// Every sort path gives the same sorted group (equal rewards by index) and, through the
    /// u/v/w kernel, bit for bit the same advantages, at every valid K up to `max_k`.
    fn check_paths_agree(rewards: &[f64], max_k: usize) {
        let n = rewards.len();
        let reference = sorted_by(rewards, 2).expect("the exact sort always finishes");
        let family = [
            Estimator::Ei,
            Estimator::Pkpo,
            Estimator::PkpoLoo,
            Estimator::PkpoLoo1,
            Estimator::Maxpo,
            Estimator::Canonical,
        ];
        let advantages = |mut ws: Workspace, est: Estimator, k: usize| -> Vec<u64> {
            let unit = ws.sorter.unit();
            let mut out = vec![0.0f64; n];
            ws.ranked(n, est, k, 1.0, unit.back, &mut out);
            out.iter().map(|a| a.to_bits()).collect()
        };
        for path in [0, 1, 3] {
            let Some(ws) = sorted_by(rewards, path) else { continue };
            assert_eq!(sorted_pairs(&ws), sorted_pairs(&reference), "path {path}");
            for est in family {
                for k in (1..=max_k.min(n)).filter(|&k| est.validate(n, k).is_ok()) {
                    assert_eq!(
                        advantages(ws.clone(), est, k),
                        advantages(reference.clone(), est, k),
                        "path {path}, {est:?}, K = {k}"
                    );
                }
            }
        }
    }

    /// Rewards with many ties, both zeros, and clusters a few ulps apart (which the packed
    /// keys cannot tell apart, so the insertion pass has work to do).
    fn tied_rewards() -> impl Strategy<Value = Vec<f64>> {
        let value = prop_oneof![
            (-3i8..3).prop_map(|x| f64::from(x) / 2.0),
            Just(-0.0),
            (0u64..8).prop_map(|u| f64::from_bits(0.75f64.to_bits() + u)),
            (-1e6f64..1e6),
        ];
        prop::collection::vec(value, 1..400)
    }

    proptest! {
        /// The radix path of large groups and the comparison path of small ones agree.
        #[test]
        fn sort_paths_agree_on_random_groups(rewards in tied_rewards(), k in 1usize..6) {
            check_paths_agree(&rewards, k);
        }
    }

    /// The same at a size where [`Workspace::sort`] picks the radix sort, with ties.
    #[test]
    fn sort_paths_agree_on_a_large_group() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(17);
        let n = RADIX_FROM + 123;
        let rewards: Vec<f64> = (0..n)
            .map(|_| {
                if rng.gen_bool(0.3) {
                    f64::from(rng.gen_range(0..4u8))
                } else {
                    rng.r#gen::<f64>() * 8.0 - 4.0
                }
            })
            .collect();
        check_paths_agree(&rewards, 3);
        let mut ws = Workspace::new();
        ws.sorter.sort(&rewards);
        assert_eq!(sorted_pairs(&ws), sorted_pairs(&sorted_by(&rewards, 2).unwrap()));
    }

    fn edge_values() -> impl Strategy<Value = f64> {
        prop_oneof![
            any::<f64>().prop_filter("finite", |x| x.is_finite()),
            Just(0.0),
            Just(-0.0),
            Just(f64::MIN_POSITIVE),
            Just(-f64::MIN_POSITIVE),
            Just(f64::MAX),
            Just(f64::MIN),
            Just(5e-324),
            Just(-5e-324),
        ]
    }

    proptest! {
        /// The integer key orders exactly like `f64::total_cmp`, then by index.
        #[test]
        fn sort_key_orders_like_total_cmp(a in edge_values(), b in edge_values(), i in 0usize..1000, j in 0usize..1000) {
            let expected = a.total_cmp(&b).then(i.cmp(&j));
            prop_assert_eq!(sort_key(a, i).cmp(&sort_key(b, j)), expected);
            prop_assert_eq!(from_ordered_bits(ordered_bits(a)).to_bits(), a.to_bits());
        }
    }
}
