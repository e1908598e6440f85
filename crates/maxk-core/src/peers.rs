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

use crate::estimator::Spec;
use crate::float::Reward;
use crate::group::{Unit, Workspace, max_abs, scale_stage};

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
