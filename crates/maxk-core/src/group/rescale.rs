//! Exact power-of-two rescaling ([`Unit`]) that keeps every intermediate finite, the bound
//! below which no advantage can overflow ([`NEAR_MAX`]), and the conversion and check of the
//! outputs in the caller's type.

use crate::error::{Error, Result};
use crate::estimator::Spec;
use crate::float::Reward;

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

    /// The unit of the u/v/w kernel for a sorted group `vals`: rewards near the top of f64's
    /// range are rescaled (in place) so that gaps and prefix sums cannot overflow; everything
    /// else runs unscaled, bit for bit as without rescaling.
    pub(crate) fn rescale_sorted(vals: &mut [f64]) -> Unit {
        let n = vals.len();
        let max_abs = vals[0].abs().max(vals[n - 1].abs());
        if max_abs <= KERNEL_UNSCALED_UP_TO {
            return Unit::ONE;
        }
        let unit = Unit::of(max_abs);
        for v in vals.iter_mut() {
            *v *= unit.to;
        }
        unit
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
pub(super) const NEAR_MAX: f64 = 0.125;

/// Whether rewards up to `max_abs` may give advantages that overflow `T` (see [`NEAR_MAX`]):
/// only then does [`Workspace::check_representable`] run a trial.
pub(crate) fn near_max<T: Reward>(max_abs: f64) -> bool {
    max_abs > T::MAX * NEAR_MAX
}

/// `max |r|` of a group (0 for an empty one).
pub(crate) fn max_abs<T: Reward>(rewards: &[T]) -> f64 {
    rewards.iter().fold(0.0f64, |m, r| m.max(r.to_f64().abs()))
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
pub(crate) fn emit_as<T: Reward>(x: f64, back: f64) -> T {
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
pub(crate) fn check_outputs<T: Reward>(rewards: &[T], spec: Spec, out: &[T]) -> Result<()> {
    if out.iter().fold(true, |ok, a| ok & a.to_f64().is_finite()) {
        return Ok(());
    }
    let index = out.iter().position(|a| !a.to_f64().is_finite()).unwrap_or(0);
    Err(Error::advantage_overflow(spec.estimator.id(), index, rewards))
}
