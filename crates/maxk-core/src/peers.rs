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

use crate::estimator::{Estimator, Spec};
use crate::float::Reward;
use crate::group::{Unit, Workspace, max_abs, scale_stage};

/// PKPO values whose std is at most this share of their largest magnitude count as equal
/// (a few hundred ulps: the rounding of equal values, never a real spread of rewards).
pub(crate) const SAME_S: f64 = 1e-13;

/// `beta` of the `rs-grpo` registry entry: the value its authors recommend (their README).
pub const RS_GRPO_BETA: f64 = 2.0;

/// `bon-mean` into `out`: PKPO's `s` (in the group's unit), then standardised. The result is
/// unit-free (a ratio of differences), so only the scale stage's factor applies.
pub(crate) fn bon_mean<T: Reward>(ws: &mut Workspace, rewards: &[T], spec: Spec, out: &mut [T]) {
    let n = rewards.len();
    if spec.k == n {
        // Every K-subset is the group: s_i = max r for all i, and the standardised value is 0
        // (computed, it would be rounding noise divided by 1e-6).
        out.fill(T::from_f64(0.0));
        return;
    }
    // PKPO is homogeneous of degree 1 and bon-mean of degree 0: compute on the rewards brought
    // near 1 by an exact power of two, where nothing can overflow.
    let unit = Unit::of(max_abs(rewards));
    let wide: Vec<f64> = rewards.iter().map(|r| r.to_f64() * unit.to).collect();
    let mut s = vec![0.0f64; n];
    ws.compute(&wide, Spec::new(Estimator::Pkpo, spec.k), &mut s).expect("pkpo of rewards below 2 is finite");
    // The mean as s_0 plus the mean of the differences: exact when every s is equal.
    let mean = s[0] + crate::sum::sum(s.iter().map(|x| x - s[0])) / n as f64;
    let sd = if n > 1 {
        (crate::sum::sum(s.iter().map(|x| (x - mean).powi(2))) / (n as f64 - 1.0)).sqrt()
    } else {
        0.0
    };
    if sd <= SAME_S * s.iter().fold(0.0f64, |m, x| m.max(x.abs())) {
        // PKPO gives unequal rewards equal s when they win the same subsets (with K = 2, the
        // worst of three samples ties the others); rounding then leaves ulps that the
        // 1e-6 would blow up to 1e-10 noise. Equal s carry no signal: 0, as for GRPO's ties.
        out.fill(T::from_f64(0.0));
        return;
    }
    let (mult, back) = scale_stage(rewards, spec, Unit::ONE);
    let factor = mult * back / (sd + 1e-6 * unit.to);
    for (o, x) in out.iter_mut().zip(&s) {
        *o = T::from_f64(factor * (x - mean));
    }
}

/// `rs-grpo` into `out`: the ratios `e^{beta (r_i - max r)} / mean_j e^{beta (r_j - max r)}`
/// lie in [0, N] whatever the rewards (the largest term is 1), so nothing overflows.
pub(crate) fn rs_grpo<T: Reward>(rewards: &[T], spec: Spec, out: &mut [T]) {
    let beta = RS_GRPO_BETA;
    let top = rewards.iter().fold(f64::NEG_INFINITY, |m, r| m.max(r.to_f64()));
    let e: Vec<f64> = rewards.iter().map(|r| (beta * (r.to_f64() - top)).exp()).collect();
    let mean = crate::sum::sum(e.iter().copied()) / rewards.len() as f64;
    let (mult, back) = scale_stage(rewards, spec, Unit::ONE);
    for (o, x) in out.iter_mut().zip(&e) {
        *o = T::from_f64(mult * back * (x / mean - 1.0) / beta);
    }
}
