//! Input checks, run before anything is written so that a failing call changes nothing.

use crate::error::{Error, Result};
use crate::estimator::Spec;
use crate::float::Reward;

/// First non-finite reward, as an error; otherwise `max |r|`, which decides whether the
/// advantages need a trial run to prove them representable.
///
/// The common all-finite case is one branch-free pass in four independent lanes, each
/// keeping the largest `|r|` so far (`if a > m { a } else { m }`, the comparison a vector
/// `max` instruction makes, unlike `f64::max` with its NaN rule, which the compiler keeps as a
/// serial chain) and whether every `|r|` was at most `f64::MAX` (false for an infinity and for
/// a NaN, which also never wins a comparison). Only a failing input pays for the search of
/// the first bad index. A parallel search was slower here: waking the rayon pool cost more
/// than the scan itself.
pub(crate) fn check_finite<T: Reward>(rewards: &[T]) -> Result<f64> {
    let (mut top, mut finite) = ([0.0f64; 4], [true; 4]);
    let mut lane = |l: usize, r: &T| {
        let a = r.to_f64().abs();
        top[l] = if a > top[l] { a } else { top[l] };
        finite[l] &= a <= f64::MAX;
    };
    let mut quads = rewards.chunks_exact(4);
    for q in &mut quads {
        q.iter().enumerate().for_each(|(l, r)| lane(l, r));
    }
    quads.remainder().iter().enumerate().for_each(|(l, r)| lane(l, r));
    if finite == [true; 4] {
        return Ok(top.into_iter().fold(0.0, |m, a| if a > m { a } else { m }));
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
    if spec.estimator.needs_binary()
        && let Some(index) = rewards.iter().position(|r| {
            let r = r.to_f64();
            r != 0.0 && r != 1.0
        })
    {
        return Err(Error::NotBinary {
            estimator: spec.estimator.id(),
            index,
            value: rewards[index].to_f64(),
        });
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn value() -> impl Strategy<Value = f64> {
        prop_oneof![
            any::<f64>(),
            Just(0.0),
            Just(-0.0),
            Just(f64::MAX),
            Just(f64::MIN),
            Just(5e-324),
            Just(f64::INFINITY),
            Just(f64::NEG_INFINITY),
            Just(f64::NAN),
            Just(-f64::NAN),
        ]
    }

    proptest! {
        /// The lane-wise pass finds what a plain scan finds: the first non-finite reward, or
        /// the largest `|r|` bit for bit, for every length (remainders of the four lanes
        /// included) and in f32 as in f64.
        #[test]
        fn check_finite_matches_a_plain_scan(rewards in prop::collection::vec(value(), 0..23)) {
            let expect = |r: &[f64]| match r.iter().position(|x| !x.is_finite()) {
                Some(index) => Err((index, r[index].to_bits())),
                None => Ok(r.iter().fold(0.0f64, |m, x| m.max(x.abs())).to_bits()),
            };
            let got = |res: Result<f64>| match res {
                Ok(m) => Ok(m.to_bits()),
                Err(Error::NonFiniteReward { index, value }) => Err((index, value.to_bits())),
                Err(e) => panic!("unexpected error {e}"),
            };
            prop_assert_eq!(got(check_finite(&rewards)), expect(&rewards));
            let narrow: Vec<f32> = rewards.iter().map(|&x| x as f32).collect();
            let wide: Vec<f64> = narrow.iter().map(|&x| f64::from(x)).collect();
            prop_assert_eq!(got(check_finite(&narrow)), expect(&wide));
        }
    }
}
