//! The estimators that need no sort, and the peers built on PKPO's.
//!
//! - `rloo`, `dr-grpo`, `grpo`: the mean-reward baselines ([`mean_peers`]);
//!   `best-minus-second`; `passk-analytic` and `maxrl` (binary rewards, closed forms).
//!
//! Peers for comparison whose flags the enumeration tests establish (`tests/unbiasedness.rs`):
//!
//! - `bon-mean`: the "BoN mean" advantage of Bagirov et al. 2025 (PKPO's `s_i = (K/N) u_i`
//!   standardised per group): `(s_i - mean s) / (std s + 1e-6)`, unbiased std as GRPO.
//!   Centered; not unbiased for `grad J_K` at any fixed scale (the division by the group's own
//!   std, and the mean that includes `s_i` itself).
//! - `rs-grpo`: risk-seeking GRPO (Jiang et al. 2025, arXiv 2509.24261, eq. of the advantage
//!   `A_i = (1/beta)(e^{beta r_i} / mean_j e^{beta r_j} - 1)`) with the paper's recommended
//!   `beta = 2` ([`RS_GRPO_BETA`]), for the risk-seeking objective
//!   `J_RS = (1/beta) log E[e^{beta R}]`. Centered (the ratios average to 1); biased for
//!   `grad J_RS` (the normaliser is the group's own mean, a ratio estimator), for `grad J_1` and
//!   for `grad J_K`.

use crate::estimator::Estimator;
use crate::estimator::Spec;
use crate::float::Reward;
use crate::group::{Unit, Workspace, emit_as, max_abs, scale_stage, spread_in};

/// `beta` of the `rs-grpo` registry entry: the value its authors recommend (their README).
pub const RS_GRPO_BETA: f64 = 2.0;

/// `bon-mean` into `out`: PKPO's `s` centered, `d_i = s_i - mean s`, as sums over the sorted
/// gaps ([`Workspace::pkpo_centered`], in the group's unit), then standardised. Every `s` is
/// equal exactly when every gap term is 0 (distinct rewards that win the same subsets: with
/// K = 2 the worst of three ties the others; every sample at K = N), and then `d` is exactly 0:
/// no tolerance decides what counts as equal. The result is unit-free (a ratio of
/// differences), so only the scale stage's factor applies.
pub(crate) fn bon_mean<T: Reward>(ws: &mut Workspace, rewards: &[T], spec: Spec, out: &mut [T]) {
    let n = rewards.len();
    let mut d = vec![0.0f64; n];
    let to = ws.pkpo_centered(rewards, spec.k, &mut d);
    // The std of d measured in units of its largest |d|, so that no square underflows (the
    // relevant gaps may be far below the group's largest reward, which sets the unit).
    let top = d.iter().fold(0.0f64, |m, x| m.max(x.abs()));
    if n < 2 || top == 0.0 {
        out.fill(T::from_f64(0.0));
        return;
    }
    let sd = top * (crate::sum::sum(d.iter().map(|x| (x / top) * (x / top))) / (n as f64 - 1.0)).sqrt();
    if sd == 0.0 {
        out.fill(T::from_f64(0.0));
        return;
    }
    // The standardised value first (about sqrt(N) at most), then the scale stage's factor in
    // the rewards' unit, `mult * back * to`, taken in the group's unit: the std of rewards
    // near f64::MAX is not representable, its reciprocal (near 1e-308) is.
    let (mult, back) = scale_stage(rewards, spec, Unit::of(max_abs(rewards)));
    let divisor = sd + 1e-6 * to;
    let factor = mult * (back * to);
    for (o, x) in out.iter_mut().zip(&d) {
        *o = T::from_f64(x / divisor * factor);
    }
}

/// `rs-grpo` into `out`: the ratios `e^{beta (r_i - max r)} / mean_j e^{beta (r_j - max r)}`
/// lie in [0, N] whatever the rewards (the largest term is 1), so nothing overflows.
pub(crate) fn rs_grpo<T: Reward>(rewards: &[T], spec: Spec, out: &mut [T]) {
    let beta = RS_GRPO_BETA;
    let top = rewards.iter().fold(f64::NEG_INFINITY, |m, r| m.max(r.to_f64()));
    let e: Vec<f64> = rewards.iter().map(|r| (beta * (r.to_f64() - top)).exp()).collect();
    let mean = crate::sum::sum(e.iter().copied()) / rewards.len() as f64;
    // The scale stage's factor in the group's unit, as in `bon_mean` (the std of rewards near
    // f64::MAX overflows, its reciprocal does not).
    let unit = Unit::of(max_abs(rewards));
    let (mult, back) = scale_stage(rewards, spec, unit);
    let factor = mult * (back * unit.to);
    for (o, x) in out.iter_mut().zip(&e) {
        *o = T::from_f64((x / mean - 1.0) / beta * factor);
    }
}

/// rloo `N/(N-1) (r_i - mean)`, dr-grpo `r_i - mean`, grpo `(r_i - mean)/(std + 1e-6)`, all on
/// `to * r` in the group's [`Unit`], with the centered rewards of [`spread_in`]: a group of one
/// or of equal rewards gets exactly 0 (it carries no signal, and the estimators are centered).
pub(crate) fn mean_peers<T: Reward>(rewards: &[T], spec: Spec, out: &mut [T]) {
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
pub(crate) fn best_minus_second<T: Reward>(rewards: &[T], spec: Spec, out: &mut [T]) {
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
pub(crate) fn passk_analytic<T: Reward>(rewards: &[T], k: usize, factor: f64, out: &mut [T]) {
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
pub(crate) fn maxrl<T: Reward>(rewards: &[T], factor: f64, out: &mut [T]) {
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
