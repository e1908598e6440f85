//! The gap-form passes of the u/v/w family (pkpo, pkpo-loo, pkpo-loo1, ei, maxpo, canonical)
//! and of rho over a sorted group, and the binomial-ratio weight tables they read (cached by
//! `(N, K)`). The formulas are in the parent module's docs.

use super::Workspace;
use super::prefetch::{AHEAD, prefetch};
use super::rescale::{Unit, emit_as, max_abs};
use super::sort::{RADIX_FROM, sized};
use crate::binom::fill_ratio_table;
use crate::estimator::Estimator;
use crate::float::Reward;
use crate::sum::{Accumulator, Neumaier, Plain};

/// Groups at least this large use compensated sums; below it plain sums of the non-negative
/// gap terms are already accurate to N ulps (< 1e-13 relative).
pub(crate) const COMPENSATE_FROM: usize = 1024;

/// The weight tables of the u/v/w kernel and its prefix sums, by rank.
#[derive(Debug, Default, Clone)]
pub(super) struct Tables {
    w_table: Table,
    pub(super) z_table: Table,
    /// `C(m, K-2) / C(N-2, K-2)`: pkpo's and pkpo-loo's weight of a reward above the sample.
    c_table: Table,
    /// `C(m, K-1) / C(N-2, K-1)`: pkpo-loo's weight of a reward in `v_i = rho_K(B \ i)`.
    a_table: Table,
    /// `z_b (N - b) / b`, the backward weights of maxpo, cached by `(N, K)` as the tables
    /// are (filled beside the sort for a large group, so that the kernel's serial backward
    /// pass has no division in it).
    pub(super) zq: Table,
    /// The forward prefix sums of maxpo, as `f64::to_bits`: stored as `u64` so that a large
    /// group can take over the sort's scratch, already as long as the group and dead after
    /// the sort, instead of touching a fresh buffer of that size (see
    /// [`Workspace::ranked_sorted`]).
    fwd: Vec<u64>,
    /// The backward sums of maxpo for groups below [`RADIX_FROM`] (see [`both_sums`]).
    bwd: Vec<f64>,
}
impl Tables {
    /// Fills, ahead of the kernel, the tables that `est` at `(n, k)` reads (for large groups
    /// this runs beside the sort, see [`Workspace::sort_and_prepare`]).
    pub(super) fn prepare(&mut self, est: Estimator, n: usize, k: usize) {
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
                z_and_zq(&mut self.z_table, &mut self.zq, n, k);
            }
            _ => {}
        }
    }
}

/// The weights of maxpo at `(n, k)`, each table cached by `(n, k)`: `z_b = C(b, K)/C(N, K)`
/// and `zq_b = z_b (N - b) / b` (`zq_0 = 0`).
pub(super) fn z_and_zq<'a>(
    z: &'a mut Table,
    zq: &'a mut Table,
    n: usize,
    k: usize,
) -> (&'a [f64], &'a [f64]) {
    let z = z.get(n, k);
    if zq.key != Some((n, k)) {
        sized(&mut zq.values, n);
        for (b, (q, &z)) in zq.values.iter_mut().zip(z).enumerate() {
            *q = if b == 0 { 0.0 } else { z * (n - b) as f64 / b as f64 };
        }
        zq.key = Some((n, k));
    }
    (z, &zq.values)
}

#[derive(Debug, Default, Clone)]
pub(super) struct Table {
    key: Option<(usize, usize)>,
    values: Vec<f64>,
}

impl Table {
    /// `values[m] = C(m, j) / C(top, j)`, cached by `(top, j)`.
    fn get(&mut self, top: usize, j: usize) -> &[f64] {
        if self.key != Some((top, j)) {
            sized(&mut self.values, top + 1);
            fill_ratio_table(&mut self.values, j);
            self.key = Some((top, j));
        }
        &self.values
    }
}
impl Workspace {
    /// rho_K of a validated, non-empty group (`1 <= k <= N`). rho is a weighted mean of the
    /// rewards, so it is always representable; gaps of rewards near +-f64::MAX are not, hence
    /// the rescaling by [`Unit`] first.
    pub(crate) fn rho<T: Reward>(&mut self, rewards: &[T], k: usize) -> f64 {
        let n = rewards.len();
        self.sort_and_prepare(rewards, |t| {
            t.z_table.get(n, k);
        });
        let unit = Unit::rescale_sorted(&mut self.sorter.vals);
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
    /// The u/v/w family (pkpo, pkpo-loo, pkpo-loo1, ei, maxpo, canonical).
    /// `self.sorter.vals` holds the group (in the kernel's unit); every output is the kernel's value
    /// times `factor`, then times `back` (the unit's way back, 1 when `factor` already has it).
    pub(super) fn ranked<T: Reward>(
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
                let (z, zq) = z_and_zq(&mut self.tables.z_table, &mut self.tables.zq, n, k);
                let norm = nf / (nf - kf);
                let scale = if est == Estimator::Maxpo { factor * norm } else { factor * norm * kf / nf };
                if n < RADIX_FROM {
                    let (fwd, bwd) = (&mut self.tables.fwd, &mut self.tables.bwd);
                    fwd.resize(n, 0);
                    bwd.resize(n, 0.0);
                    both_sums::<A>(s, z, zq, fwd, bwd);
                    for (r, (f, b)) in fwd.iter().zip(bwd.iter()).enumerate() {
                        out[at(r)] = emit(scale * (f64::from_bits(*f) - b));
                    }
                    return;
                }
                // A large group: fwd[r] = sum_{b<=r} g_b z_b, then the backward sum runs in
                // the output pass (one buffer as long as the group instead of two), in the
                // sort's scratch, already as long as the group and dead after the sort.
                std::mem::swap(&mut self.tables.fwd, &mut self.sorter.spare);
                self.tables.fwd.resize(n, 0);
                let fwd = &mut self.tables.fwd;
                let mut acc = A::default();
                fwd[0] = 0f64.to_bits();
                for r in 1..n {
                    acc.add(gap(r) * z[r]);
                    fwd[r] = acc.value().to_bits();
                }
                let mut bwd = A::default();
                out[at(n - 1)] = emit(scale * f64::from_bits(fwd[n - 1]));
                for r in (0..n - 1).rev() {
                    if let Some(ahead) = r.checked_sub(AHEAD) {
                        prefetch(out, at(ahead));
                    }
                    bwd.add(gap(r + 1) * zq[r + 1]);
                    out[at(r)] = emit(scale * (f64::from_bits(fwd[r]) - bwd.value()));
                }
            }
            _ => unreachable!("ranked() is only called for the u/v/w family"),
        }
    }
}

/// Both prefix sums of maxpo's gap form for a group below [`RADIX_FROM`], in one loop:
/// `fwd[r] = sum_{b<=r} g_b z_b` (as `f64::to_bits`, ascending) and
/// `bwd[r] = sum_{b>r} g_b zq_b` (descending from `b = N - 1`), with `zq_b = z_b (N - b) / b`.
/// Each sum adds its terms in the same order as the two-pass form of large groups, so the
/// results are the same bits; running the two dependency chains side by side lets the CPU
/// overlap their latencies, which bound a small group's kernel (one add's latency per rank).
#[inline(always)]
fn both_sums<A: Accumulator>(s: &[f64], z: &[f64], zq: &[f64], fwd: &mut [u64], bwd: &mut [f64]) {
    let n = s.len();
    let (z, zq, fwd, bwd) = (&z[..n], &zq[..n], &mut fwd[..n], &mut bwd[..n]);
    fwd[0] = 0f64.to_bits();
    bwd[n - 1] = 0.0;
    let (mut up, mut down) = (A::default(), A::default());
    for i in 1..n {
        up.add((s[i] - s[i - 1]) * z[i]);
        fwd[i] = up.value().to_bits();
        let j = n - i;
        down.add((s[j] - s[j - 1]) * zq[j]);
        bwd[j - 1] = down.value();
    }
}
