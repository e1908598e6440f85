//! The `--scale` stage ([`crate::Scale`]): none, the PG factor, or the group's reward std, and
//! the compensated spread (mean and std) of a group that the std scale and the mean-reward
//! peers share.

use super::rescale::{Unit, max_abs};
use crate::estimator::{Scale, Spec};
use crate::float::Reward;

/// Whether every reward equals the first, exactly (a group of one included): the groups that
/// carry no signal, which `--scale std` leaves unscaled and the mean-peer estimators give 0.
fn all_equal<T: Reward>(rewards: &[T]) -> bool {
    rewards.first().is_none_or(|first| rewards.iter().all(|r| *r == *first))
}

/// The spread of `to * r` about its mean: the mean `m` of the deviations `d_i = to r_i - to r_0`
/// from the first reward, and the unbiased standard deviation (0 for fewer than two rewards),
/// compensated. `d_i - m = to (r_i - mean r)` is the centered reward: measuring from a sample
/// instead of from a rounded mean makes an all-equal group's deviations, mean and std exactly
/// 0 (not a rounding residue that a std scale would blow up), and keeps the rounding of every
/// centered value relative to the group's range rather than its magnitude. `to` must be the
/// group's [`Unit`] (or bring `max |r|` below about 2^500), so that no square overflows.
pub(crate) fn spread_in<T: Reward>(rewards: &[T], to: f64) -> (f64, f64) {
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
