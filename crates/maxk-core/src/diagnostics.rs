//! Per-step max@K diagnostics of a batch: what a user watching a max@K run needs and no
//! framework logs (they log the mean and std of the advantages only).
//!
//! For a batch of groups with rewards `r` and advantages `A`:
//!
//! - `rho_k`: the mean over groups with `N >= K` of `rho_K(group)`, the unbiased max@K estimate
//!   (the unbiased pass@K for 0/1 rewards; docs/MATH.md); `None` when no group has K samples.
//! - `no_signal_share`: the share of groups whose rewards are all equal (a group of one
//!   included): every centered estimator gives them 0, so they carry no gradient.
//! - `small_groups`: what the small-group rule did ([`SmallGroupCounts`]).
//! - `centering_residual`: `max_g |sum_{i in g} A_i| / max_i |A_i|` (0 when every A is 0):
//!   rounding-level for centered estimators, large for pkpo or ei.
//! - `adv_mean`, `adv_std` (population std), `adv_abs_max` over all samples.

use crate::driver::{Grouping, check_ids};
use crate::error::{Error, Result};
use crate::estimator::Spec;
use crate::float::Reward;
use crate::group::Workspace;
use crate::small_groups::{SmallGroupCounts, SmallGroups, grouped_with, plan_ragged};
use crate::sum::Neumaier;
use crate::validate::{check_finite, check_offsets, check_output};

/// The diagnostics of one batch (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Diagnostics {
    /// Number of groups.
    pub groups: usize,
    /// Number of samples.
    pub samples: usize,
    /// K of rho_K.
    pub k: usize,
    /// Mean reward over all samples (0 for an empty batch).
    pub reward_mean: f64,
    /// Mean over the groups with N >= K of the unbiased max@K estimate rho_K.
    pub rho_k: Option<f64>,
    /// Groups that entered `rho_k` (N >= K).
    pub rho_groups: usize,
    /// Groups whose rewards are all equal.
    pub no_signal_groups: usize,
    /// `no_signal_groups / groups` (0 for an empty batch).
    pub no_signal_share: f64,
    /// What the small-group rule did.
    pub small_groups: SmallGroupCounts,
    /// `max_g |sum_g A| / max |A|` (0 when every advantage is 0).
    pub centering_residual: f64,
    /// Mean advantage.
    pub adv_mean: f64,
    /// Population standard deviation of the advantages.
    pub adv_std: f64,
    /// Largest |advantage|.
    pub adv_abs_max: f64,
}

/// Diagnostics of a ragged batch (group `g` is `[offsets[g], offsets[g+1])` of both
/// `rewards` and `advantages`), with the small-group counts the caller's rule produced.
///
/// Errors: bad offsets, lengths that differ, a non-finite reward or advantage, `k = 0`.
pub fn ragged_diagnostics<T: Reward>(
    rewards: &[T],
    offsets: &[usize],
    advantages: &[T],
    k: usize,
    small_groups: SmallGroupCounts,
) -> Result<Diagnostics> {
    check_offsets(offsets, rewards.len())?;
    check_output(advantages.len(), rewards.len())?;
    check_finite(rewards)?;
    if let Some(index) = advantages.iter().position(|a| !a.to_f64().is_finite()) {
        return Err(Error::NonFiniteAdvantage { index, value: advantages[index].to_f64() });
    }
    if k == 0 {
        return Err(Error::KOutOfRange { estimator: "rho", n: rewards.len(), k, requirement: "k >= 1" });
    }
    let groups = offsets.len().saturating_sub(1);
    let n = rewards.len();
    let mut d = Diagnostics { groups, samples: n, k, small_groups, ..Diagnostics::default() };
    // Every statistic is computed on values divided by the largest magnitude and scaled back,
    // so that sums and squares of rewards or advantages near f64::MAX cannot overflow
    // (rho_K(c r) = c rho_K(r) for c > 0: a mean of maxima).
    let r_max = rewards.iter().map(|x| x.to_f64().abs()).fold(0.0, f64::max);
    let a_max = advantages.iter().map(|x| x.to_f64().abs()).fold(0.0, f64::max);
    let r_unit = if r_max > 0.0 { r_max } else { 1.0 };
    let a_unit = if a_max > 0.0 { a_max } else { 1.0 };
    let scaled_r: Vec<f64> = rewards.iter().map(|x| x.to_f64() / r_unit).collect();
    let scaled_a: Vec<f64> = advantages.iter().map(|x| x.to_f64() / a_unit).collect();
    let mut ws = Workspace::new();
    let (mut rho_sum, mut max_group_sum) = (Neumaier::default(), 0.0f64);
    for w in offsets.windows(2) {
        let (r, a) = (&rewards[w[0]..w[1]], &scaled_a[w[0]..w[1]]);
        let first = r[0].to_f64();
        if r.iter().all(|x| x.to_f64() == first) {
            d.no_signal_groups += 1;
        }
        if r.len() >= k {
            rho_sum.add(ws.rho(&scaled_r[w[0]..w[1]], k));
            d.rho_groups += 1;
        }
        max_group_sum = max_group_sum.max(crate::sum::sum(a.iter().copied()).abs());
    }
    if n > 0 {
        let nf = n as f64;
        d.reward_mean = r_unit * (crate::sum::sum(scaled_r.iter().copied()) / nf);
        let mean = crate::sum::sum(scaled_a.iter().copied()) / nf;
        let ss = crate::sum::sum(scaled_a.iter().map(|x| (x - mean).powi(2)));
        d.adv_mean = a_unit * mean;
        d.adv_std = a_unit * (ss / nf).sqrt();
        d.adv_abs_max = a_max;
    }
    if groups > 0 {
        d.no_signal_share = d.no_signal_groups as f64 / groups as f64;
    }
    if d.rho_groups > 0 {
        d.rho_k = Some(r_unit * (rho_sum.value() / d.rho_groups as f64));
    }
    if a_max > 0.0 {
        d.centering_residual = max_group_sum;
    }
    Ok(d)
}

/// Diagnostics of externally computed `advantages` of samples grouped by id. `rule`, when
/// given, counts the groups that rule would handle for that spec (nothing is recomputed).
pub fn grouped_diagnostics<T: Reward>(
    rewards: &[T],
    group_ids: &[u64],
    advantages: &[T],
    k: usize,
    rule: Option<(Spec, SmallGroups)>,
) -> Result<Diagnostics> {
    check_ids(group_ids, rewards.len())?;
    check_output(advantages.len(), rewards.len())?;
    let grouping = Grouping::by_id(group_ids);
    let (r, a) = (grouping.gather(rewards), grouping.gather(advantages));
    let counts = match rule {
        Some((spec, rule)) => {
            plan_ragged(&r, &grouping.offsets, spec, rule).map_err(|e| grouping.name_group(e, group_ids))?.1
        }
        None => SmallGroupCounts::default(),
    };
    ragged_diagnostics(&r, &grouping.offsets, &a, k, counts).map_err(|e| match e {
        Error::NonFiniteAdvantage { index, value } => {
            Error::NonFiniteAdvantage { index: grouping.order[index], value }
        }
        Error::NonFiniteReward { index, value } => {
            Error::NonFiniteReward { index: grouping.order[index], value }
        }
        e => e,
    })
}

/// One training step's advantages and their diagnostics: [`crate::grouped_advantages_into`]
/// under `rule`, then [`ragged_diagnostics`] at `spec.k`. On error nothing is written.
pub fn grouped_step<T: Reward>(
    rewards: &[T],
    group_ids: &[u64],
    spec: Spec,
    rule: SmallGroups,
    out: &mut [T],
) -> Result<Diagnostics> {
    grouped_with(rewards, group_ids, spec, rule, out, |gathered, offsets, advantages, counts| {
        ragged_diagnostics(gathered, offsets, advantages, spec.k.max(1), counts)
    })
}

/// The unbiased max@K (pass@K for 0/1 rewards) of a validation set given as (group id,
/// reward) pairs: the mean over groups with at least K samples of rho_K.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GroupedMaxAtK {
    /// The mean of rho_K over the groups with N >= K; `None` if there is none.
    pub value: Option<f64>,
    /// Groups with N >= K (in the mean).
    pub groups: usize,
    /// Groups with N < K (left out: rho_K needs K samples).
    pub skipped: usize,
}

/// [`GroupedMaxAtK`] of samples grouped by id (e.g. validation prompts), for one K.
pub fn grouped_max_at_k<T: Reward>(rewards: &[T], group_ids: &[u64], k: usize) -> Result<GroupedMaxAtK> {
    check_ids(group_ids, rewards.len())?;
    check_finite(rewards)?;
    if k == 0 {
        return Err(Error::KOutOfRange { estimator: "rho", n: rewards.len(), k, requirement: "k >= 1" });
    }
    let grouping = Grouping::by_id(group_ids);
    // scaled as in ragged_diagnostics, so that rewards near f64::MAX cannot overflow
    let unit = rewards.iter().map(|x| x.to_f64().abs()).fold(0.0, f64::max);
    let unit = if unit > 0.0 { unit } else { 1.0 };
    let r: Vec<f64> = grouping.order.iter().map(|&i| rewards[i].to_f64() / unit).collect();
    let mut ws = Workspace::new();
    let (mut acc, mut groups, mut skipped) = (Neumaier::default(), 0, 0);
    for w in grouping.offsets.windows(2) {
        if w[1] - w[0] >= k {
            acc.add(ws.rho(&r[w[0]..w[1]], k));
            groups += 1;
        } else {
            skipped += 1;
        }
    }
    Ok(GroupedMaxAtK { value: (groups > 0).then(|| unit * (acc.value() / groups as f64)), groups, skipped })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Estimator;

    #[test]
    fn hand_computed_batch() {
        // group 7: [1, 0, 0, 0] (c = 1 of 4), group 3: [1, 1] (no signal), group 9: [0] (small)
        let rewards = [1.0, 1.0, 0.0, 0.0, 1.0, 0.0, 0.0];
        let ids = [7, 3, 7, 9, 3, 7, 7];
        let mut out = [0.0; 7];
        let d = grouped_step(&rewards, &ids, Spec::new(Estimator::Maxpo, 2), SmallGroups::Zero, &mut out)
            .unwrap();
        assert_eq!((d.groups, d.samples, d.k), (3, 7, 2));
        // pass@2 of group 7 = 1 - C(3,2)/C(4,2) = 1/2; group 3: 1; group 9 has N < K
        assert_eq!(d.rho_groups, 2);
        assert!((d.rho_k.unwrap() - 0.75).abs() < 1e-15);
        assert_eq!(d.no_signal_groups, 2);
        assert!((d.no_signal_share - 2.0 / 3.0).abs() < 1e-15);
        // groups 3 (N = 2 = K) and 9 (N = 1) cannot carry maxpo at K = 2
        assert_eq!((d.small_groups.zeroed, d.small_groups.samples), (2, 3));
        assert!(d.centering_residual < 1e-15);
        assert_eq!((out[1], out[3], out[4]), (0.0, 0.0, 0.0));
        assert!((d.reward_mean - 3.0 / 7.0).abs() < 1e-15);
        let mean = out.iter().sum::<f64>() / 7.0;
        assert!((d.adv_mean - mean).abs() < 1e-15);
        let std = (out.iter().map(|a| (a - mean).powi(2)).sum::<f64>() / 7.0).sqrt();
        assert!((d.adv_std - std).abs() < 1e-15);
        assert_eq!(d.adv_abs_max, out.iter().fold(0.0f64, |m, a| m.max(a.abs())));
        // pkpo is not centered: the residual is the largest group sum over the largest |A|
        let d = grouped_step(&rewards, &ids, Spec::new(Estimator::Pkpo, 1), SmallGroups::Error, &mut out)
            .unwrap();
        assert!(d.centering_residual > 0.5);
    }

    #[test]
    fn huge_values_do_not_overflow() {
        let r = [f64::MAX, -f64::MAX, 0.0, f64::MAX / 2.0];
        let a = [f64::MAX, f64::MAX, -f64::MAX, -f64::MAX];
        let d = ragged_diagnostics(&r, &[0, 4], &a, 2, SmallGroupCounts::default()).unwrap();
        assert_eq!(d.adv_std, f64::MAX);
        assert_eq!(d.adv_mean, 0.0);
        assert!(d.reward_mean.is_finite() && d.rho_k.unwrap().is_finite());
        assert!(d.rho_k.unwrap() > 0.0 && d.rho_k.unwrap() <= f64::MAX);
        assert_eq!(d.centering_residual, 0.0);
    }

    #[test]
    fn empty_batch() {
        let d = grouped_step::<f64>(&[], &[], Spec::new(Estimator::Maxpo, 2), SmallGroups::Error, &mut [])
            .unwrap();
        assert_eq!((d.groups, d.samples, d.rho_k, d.no_signal_share), (0, 0, None, 0.0));
        let v = grouped_max_at_k::<f64>(&[], &[], 1).unwrap();
        assert_eq!((v.value, v.groups, v.skipped), (None, 0, 0));
    }

    #[test]
    fn external_advantages_are_checked() {
        let e = grouped_diagnostics(&[0.0, 1.0], &[0, 0], &[0.0, f64::NAN], 1, None).unwrap_err();
        assert_eq!(e.to_string(), "advantage at index 1 is NaN, advantages must be finite");
    }
}
