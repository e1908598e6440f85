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

use crate::binom::fill_ratio_table;
use crate::estimator::{Estimator, Scale, Spec};
use crate::float::Reward;
use crate::sum::{Accumulator, Neumaier, Plain};

/// Groups at least this large use compensated sums; below it plain sums of the non-negative
/// gap terms are already accurate to N ulps (< 1e-13 relative).
const COMPENSATE_FROM: usize = 1024;

/// Reusable buffers for one thread. Holding one across groups makes the hot loop allocation
/// free: buffers only grow, and the ratio tables are rebuilt only when (N, K) changes.
#[derive(Debug, Default, Clone)]
pub struct Workspace {
    /// Packed sort keys of groups up to [`PACKED_UP_TO`] (see [`Workspace::sort`]).
    packed: Vec<u64>,
    /// Exact sort keys (see [`sort_key`]).
    exact: Vec<u128>,
    sorted: Vec<(f64, usize)>,
    w_table: Table,
    z_table: Table,
    /// `z_b (N - b) / b`, the backward weights of maxpo, cached with `z_table`.
    zq: Vec<f64>,
    fwd: Vec<f64>,
}

/// Groups up to this size sort packed `u64` keys (the index takes at most 16 low bits).
const PACKED_UP_TO: usize = 1 << 16;

/// Bits of `x` that order like `f64::total_cmp`: flipping every bit of a negative float and
/// only the sign bit of a positive one makes the IEEE-754 bit patterns ascend with the values.
fn ordered_bits(x: f64) -> u64 {
    let bits = x.to_bits();
    if bits >> 63 == 1 { !bits } else { bits | (1 << 63) }
}

/// The exact key `(ordered_bits << 64) | index`.
fn sort_key(x: f64, index: usize) -> u128 {
    (u128::from(ordered_bits(x)) << 64) | index as u128
}

/// Insertion sort by `total_cmp` of an almost sorted slice; gives up (returning false, the
/// slice then a permutation of the input) once it has made more than `budget` moves.
fn insertion_pass(s: &mut [(f64, usize)], budget: usize) -> bool {
    let mut moves = 0;
    for j in 1..s.len() {
        let mut i = j;
        while i > 0 && s[i - 1].0.total_cmp(&s[i].0).is_gt() {
            s.swap(i - 1, i);
            i -= 1;
            moves += 1;
            if moves > budget {
                return false;
            }
        }
    }
    true
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
        crate::validate::check_group(rewards, spec)?;
        self.compute(rewards, spec, out);
        Ok(())
    }

    /// Fills `sorted` with (reward, index) in ascending `f64::total_cmp` order (ties in any
    /// order: every kernel gives identical results for any order of equal rewards).
    ///
    /// Sorting integer keys is about twice as fast as sorting pairs with a float comparator,
    /// and the sort is the hot spot of a batch of small groups. Groups up to [`PACKED_UP_TO`]
    /// sort one `u64` per reward: its order-preserving bits with the lowest `b` replaced by
    /// the index (`2^b >= N`). That order is exact except between rewards that differ only in
    /// those `b` low bits (within `2^b` ulps of each other), which one insertion pass puts
    /// right. Should that pass need more than `4N` moves (a pathological group of nearly
    /// equal rewards), the group is re-sorted on exact `u128` keys.
    fn sort<T: Reward>(&mut self, rewards: &[T]) {
        let n = rewards.len();
        if n <= PACKED_UP_TO {
            let mask = n.next_power_of_two() as u64 - 1;
            self.packed.clear();
            self.packed.extend(
                rewards.iter().enumerate().map(|(i, r)| (ordered_bits(r.to_f64()) & !mask) | i as u64),
            );
            self.packed.sort_unstable();
            self.sorted.clear();
            self.sorted.extend(self.packed.iter().map(|&key| {
                let i = (key & mask) as usize;
                (rewards[i].to_f64(), i)
            }));
            if insertion_pass(&mut self.sorted, 4 * n) {
                return;
            }
        }
        self.exact.clear();
        self.exact.extend(rewards.iter().enumerate().map(|(i, r)| sort_key(r.to_f64(), i)));
        self.exact.sort_unstable();
        self.sorted.clear();
        self.sorted.extend(self.exact.iter().map(|&key| {
            let i = key as u64 as usize;
            (rewards[i].to_f64(), i)
        }));
    }

    /// rho_K of a validated, non-empty group (`1 <= k <= N`).
    pub(crate) fn rho<T: Reward>(&mut self, rewards: &[T], k: usize) -> f64 {
        let n = rewards.len();
        self.sort(rewards);
        let z = self.z_table.get(n, k);
        let s = &self.sorted;
        let mut acc = Neumaier::default();
        acc.add(s[0].0);
        for b in 1..n {
            acc.add((s[b].0 - s[b - 1].0) * (1.0 - z[b]));
        }
        acc.value()
    }

    /// Writes the advantages of a validated group into `out`.
    pub(crate) fn compute<T: Reward>(&mut self, rewards: &[T], spec: Spec, out: &mut [T]) {
        let n = rewards.len();
        let factor = match spec.scale {
            Scale::None => 1.0,
            Scale::Pg => spec.estimator.pg_factor(n, spec.k),
            Scale::Std => {
                let sd = moments(rewards).1;
                if sd > 0.0 { 1.0 / (sd + 1e-6) } else { 1.0 }
            }
        };
        match spec.estimator {
            Estimator::Rloo | Estimator::DrGrpo | Estimator::Grpo => {
                mean_peers(rewards, spec.estimator, factor, out)
            }
            Estimator::BestMinusSecond => best_minus_second(rewards, factor, out),
            Estimator::PasskAnalytic => passk_analytic(rewards, spec.k, factor, out),
            Estimator::Maxrl => maxrl(rewards, factor, out),
            _ => self.ranked(rewards, spec.estimator, spec.k, factor, out),
        }
    }

    /// The u/v/w family (pkpo, pkpo-loo, pkpo-loo1, ei, maxpo, canonical).
    fn ranked<T: Reward>(&mut self, rewards: &[T], est: Estimator, k: usize, factor: f64, out: &mut [T]) {
        self.sort(rewards);
        if rewards.len() >= COMPENSATE_FROM {
            self.ranked_sorted::<T, Neumaier>(est, k, factor, out)
        } else {
            self.ranked_sorted::<T, Plain>(est, k, factor, out)
        }
    }

    fn ranked_sorted<T: Reward, A: Accumulator>(
        &mut self,
        est: Estimator,
        k: usize,
        factor: f64,
        out: &mut [T],
    ) {
        let n = self.sorted.len();
        let (nf, kf) = (n as f64, k as f64);
        let s = &self.sorted;
        let gap = |b: usize| s[b].0 - s[b - 1].0;
        match est {
            Estimator::Ei | Estimator::PkpoLoo1 => {
                let scale = if est == Estimator::Ei { factor } else { factor * kf / nf };
                if k == 1 {
                    // No comparators: the max over the empty set counts as 0, EI_i = r_i.
                    for &(r, i) in s {
                        out[i] = T::from_f64(scale * r);
                    }
                    return;
                }
                let w = self.w_table.get(n - 1, k - 1);
                let mut acc = A::default();
                out[s[0].1] = T::from_f64(0.0);
                for a in 1..n {
                    acc.add(gap(a) * w[a]);
                    out[s[a].1] = T::from_f64(scale * acc.value());
                }
            }
            Estimator::Pkpo => {
                let w = self.w_table.get(n - 1, k - 1);
                let scale = factor * kf / nf;
                let mut acc = A::default();
                out[s[n - 1].1] = T::from_f64(scale * s[n - 1].0);
                for a in (0..n - 1).rev() {
                    acc.add(gap(a + 1) * (1.0 - w[a]));
                    out[s[a].1] = T::from_f64(scale * (s[a].0 + acc.value()));
                }
            }
            Estimator::Maxpo | Estimator::Canonical | Estimator::PkpoLoo => {
                if self.z_table.key != Some((n, k)) {
                    let z = self.z_table.get(n, k);
                    self.zq.clear();
                    self.zq
                        .extend((0..n).map(|b| if b == 0 { 0.0 } else { z[b] * (n - b) as f64 / b as f64 }));
                }
                let z = self.z_table.get(n, k);
                let zq = &self.zq;
                // fwd[r] = sum_{b<=r} g_b z_b; the backward sum runs in the output pass.
                self.fwd.resize(n, 0.0);
                let fwd = &mut self.fwd;
                let mut acc = A::default();
                fwd[0] = 0.0;
                for r in 1..n {
                    acc.add(gap(r) * z[r]);
                    fwd[r] = acc.value();
                }
                let norm = nf / (nf - kf);
                let mut bwd = A::default();
                if est == Estimator::PkpoLoo {
                    // pkpo-loo = (K/N) u - (K/(N-1)) v with v = u - maxpo:
                    //          = -K u / (N (N-1)) + K maxpo / (N-1).
                    let w = self.w_table.get(n - 1, k - 1);
                    let mut up = A::default();
                    for r in (0..n).rev() {
                        if r + 1 < n {
                            bwd.add(gap(r + 1) * zq[r + 1]);
                            up.add(gap(r + 1) * (1.0 - w[r]));
                        }
                        let u = s[r].0 + up.value();
                        let maxpo = norm * (fwd[r] - bwd.value());
                        let v = -kf * u / (nf * (nf - 1.0)) + kf * maxpo / (nf - 1.0);
                        out[s[r].1] = T::from_f64(factor * v);
                    }
                } else {
                    let scale = if est == Estimator::Maxpo { factor * norm } else { factor * norm * kf / nf };
                    out[s[n - 1].1] = T::from_f64(scale * fwd[n - 1]);
                    for r in (0..n - 1).rev() {
                        bwd.add(gap(r + 1) * zq[r + 1]);
                        out[s[r].1] = T::from_f64(scale * (fwd[r] - bwd.value()));
                    }
                }
            }
            _ => unreachable!("ranked() is only called for the u/v/w family"),
        }
    }
}

/// Compensated mean and unbiased standard deviation (0 for a group of one).
pub(crate) fn moments<T: Reward>(rewards: &[T]) -> (f64, f64) {
    let n = rewards.len() as f64;
    let mean = crate::sum::sum(rewards.iter().map(|r| r.to_f64())) / n;
    if rewards.len() < 2 {
        return (mean, 0.0);
    }
    let ss = crate::sum::sum(rewards.iter().map(|r| (r.to_f64() - mean).powi(2)));
    (mean, (ss / (n - 1.0)).sqrt())
}

/// rloo `N/(N-1) (r_i - mean)`, dr-grpo `r_i - mean`, grpo `(r_i - mean)/(std + 1e-6)`.
/// A group of one gets mean 0 and std 1, as verl does.
fn mean_peers<T: Reward>(rewards: &[T], est: Estimator, factor: f64, out: &mut [T]) {
    let n = rewards.len();
    let (mean, sd) = if n == 1 { (0.0, 1.0) } else { moments(rewards) };
    let scale = factor
        * match est {
            Estimator::Rloo => n as f64 / (n as f64 - 1.0),
            Estimator::Grpo => 1.0 / (sd + 1e-6),
            _ => 1.0,
        };
    for (o, r) in out.iter_mut().zip(rewards) {
        *o = T::from_f64(scale * (r.to_f64() - mean));
    }
}

/// Only the strict best sample gets `r_max - r_second_max`; a tie at the top gives all zeros.
fn best_minus_second<T: Reward>(rewards: &[T], factor: f64, out: &mut [T]) {
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
        out[arg] = T::from_f64(factor * (best - second));
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
    let pos = factor * q / sigma;
    let neg = factor * (q - ratio_same_k(n - c - 1, n - 1, k - 1)) / sigma;
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
    use super::{PACKED_UP_TO, Workspace, sort_key};
    use proptest::prelude::*;

    /// `Workspace::sort` against a comparator sort of the same rewards: the values must come
    /// out in `total_cmp` order and the indices must point at them.
    fn check_sorted(rewards: &[f64]) {
        let mut ws = Workspace::new();
        ws.sort(rewards);
        let mut expected = rewards.to_vec();
        expected.sort_by(f64::total_cmp);
        let got: Vec<f64> = ws.sorted.iter().map(|p| p.0).collect();
        assert_eq!(
            got.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
            expected.iter().map(|x| x.to_bits()).collect::<Vec<_>>()
        );
        let mut seen = vec![false; rewards.len()];
        for &(v, i) in &ws.sorted {
            assert_eq!(v.to_bits(), rewards[i].to_bits(), "index {i} does not hold {v}");
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
        check_sorted(&ulps(1.0, PACKED_UP_TO + 8, 1));
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
        }
    }
}
