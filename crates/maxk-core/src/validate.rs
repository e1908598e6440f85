//! Input checks, run before anything is written so that a failing call changes nothing.

use crate::error::{Error, Result};
use crate::estimator::Spec;
use crate::float::Reward;

/// First non-finite reward, as an error; otherwise `max |r|`, which decides whether the
/// advantages need a trial run to prove them representable.
///
/// The common all-finite case is one branch-free pass (a fold without early exit, which the
/// compiler vectorises: about 0.1 ms for 2^18 values); only a failing input pays for the
/// search of the first bad index. A parallel search was slower here: waking the rayon pool
/// cost more than the scan itself.
pub(crate) fn check_finite<T: Reward>(rewards: &[T]) -> Result<f64> {
    let (finite, max_abs) = rewards.iter().fold((true, 0.0f64), |(ok, m), r| {
        let x = r.to_f64();
        (ok & x.is_finite(), m.max(x.abs()))
    });
    if finite {
        return Ok(max_abs);
    }
    let index = rewards.iter().position(|r| !r.to_f64().is_finite()).unwrap_or(0);
    Err(Error::NonFiniteReward { index, value: rewards[index].to_f64() })
}

/// Everything the kernel needs of one group except finiteness: size, K range, binary rewards.
pub(crate) fn check_shape<T: Reward>(rewards: &[T], spec: Spec) -> Result<()> {
    spec.estimator.validate(rewards.len(), spec.k)?;
    check_binary(rewards, spec)
}

/// [`Error::NotBinary`] for the first reward other than 0 or 1, when the estimator needs
/// binary rewards (`passk-analytic`, `maxrl`).
pub(crate) fn check_binary<T: Reward>(rewards: &[T], spec: Spec) -> Result<()> {
    if spec.estimator.needs_binary() {
        if let Some(index) = rewards.iter().position(|r| {
            let r = r.to_f64();
            r != 0.0 && r != 1.0
        }) {
            return Err(Error::NotBinary {
                estimator: spec.estimator.id(),
                index,
                value: rewards[index].to_f64(),
            });
        }
    }
    Ok(())
}

/// All checks of one group; returns its `max |r|`.
pub(crate) fn check_group<T: Reward>(rewards: &[T], spec: Spec) -> Result<f64> {
    let max_abs = check_finite(rewards)?;
    check_shape(rewards, spec)?;
    Ok(max_abs)
}

pub(crate) fn check_output(got: usize, expected: usize) -> Result<()> {
    if got != expected {
        return Err(Error::OutputLength { got, expected });
    }
    Ok(())
}

/// K range for rho (the max@K estimate): `1 <= k <= N`.
pub(crate) fn check_rho<T: Reward>(rewards: &[T], k: usize) -> Result<()> {
    if rewards.is_empty() {
        return Err(Error::EmptyGroup);
    }
    check_finite(rewards)?;
    if k == 0 || k > rewards.len() {
        return Err(Error::KOutOfRange { estimator: "rho", n: rewards.len(), k, requirement: "1 <= k <= N" });
    }
    Ok(())
}

/// Checks CSR offsets: starts at 0, ends at `len`, non-decreasing, no empty group.
pub(crate) fn check_offsets(offsets: &[usize], len: usize) -> Result<()> {
    let bad = |reason: String| Err(Error::InvalidOffsets { reason });
    match (offsets.first(), offsets.last()) {
        (None, _) | (_, None) => return bad("offsets are empty; need at least [0, len]".into()),
        (Some(&first), Some(&last)) => {
            if first != 0 {
                return bad(format!("first offset is {first}, must be 0"));
            }
            if last != len {
                return bad(format!("last offset is {last}, must equal the number of rewards {len}"));
            }
        }
    }
    if offsets.len() < 2 && len > 0 {
        return bad("need at least two offsets".into());
    }
    for (g, w) in offsets.windows(2).enumerate() {
        if w[1] < w[0] {
            return bad(format!("offsets decrease at group {g}: {} > {}", w[0], w[1]));
        }
        if w[1] == w[0] {
            return Err(Error::EmptyGroup.in_group(g));
        }
    }
    Ok(())
}
