//! The small-group rule: exact expectations for each rule, the K = N closed form of
//! `centered-ei`, and random batches that must never panic.

use maxk_core::small_groups::{Plan, plan};
use maxk_core::{
    Error, Estimator, Scale, SmallGroupCounts, SmallGroups, Spec, advantages, grouped_advantages,
    grouped_advantages_with, grouped_step, ragged_advantages_with,
};
use proptest::prelude::*;

fn with(rewards: &[f64], offsets: &[usize], spec: Spec, rule: SmallGroups) -> (Vec<f64>, SmallGroupCounts) {
    let mut out = vec![f64::NAN; rewards.len()];
    let c = ragged_advantages_with(rewards, offsets, spec, rule, &mut out).unwrap();
    (out, c)
}

/// verl's `_balance_batch` padding: a 1-row group of reward 0 next to real groups, and a real
/// group that lost rollouts (3 left, K = 3).
const REWARDS: [f64; 13] = [1.0, 0.0, 0.5, 0.25, 0.0, 1.0, 0.0, 0.0, 0.5, 0.0, 1.0, 0.75, 0.0];
const OFFSETS: [usize; 4] = [0, 6, 9, 10];

#[test]
fn zero_rule_zeroes_exactly_the_small_groups() {
    let spec = Spec::new(Estimator::Maxpo, 3);
    let mut rewards = REWARDS.to_vec();
    rewards.truncate(10);
    let (out, c) = with(&rewards, &OFFSETS, spec, SmallGroups::Zero);
    assert_eq!(&out[..6], advantages(&rewards[..6], spec).unwrap().as_slice());
    assert_eq!(&out[6..], &[0.0; 4]);
    assert_eq!(c, SmallGroupCounts { zeroed: 2, shrunk: 0, centered_ei: 0, samples: 4 });
    // the default rule names the first group that cannot carry maxpo at k = 3
    let mut buf = vec![0.0; 10];
    let e = ragged_advantages_with(&rewards, &OFFSETS, spec, SmallGroups::Error, &mut buf).unwrap_err();
    assert_eq!(
        e.to_string(),
        "group 1: k = 3 is out of range for maxpo with group size 3 (needs 1 <= k <= N - 1)"
    );
    assert!(buf.iter().all(|&x| x == 0.0), "an error wrote into the output");
}

#[test]
fn shrink_k_uses_the_largest_valid_k() {
    let spec = Spec::new(Estimator::Maxpo, 3).with_scale(Scale::Pg);
    let rewards = &REWARDS[..10];
    let (out, c) = with(rewards, &OFFSETS, spec, SmallGroups::ShrinkK);
    assert_eq!(
        &out[6..9],
        advantages(&rewards[6..9], Spec::new(Estimator::Maxpo, 2).with_scale(Scale::Pg)).unwrap()
    );
    assert_eq!(out[9], 0.0); // a singleton has no valid K
    assert_eq!(c, SmallGroupCounts { zeroed: 1, shrunk: 1, centered_ei: 0, samples: 4 });
}

/// At K = N, EI is `max(0, r_i - max of the others)`: best-minus-second; centered-ei subtracts
/// its mean, (r_max - r_second)/N.
#[test]
fn centered_ei_at_k_equal_n_is_centered_best_minus_second() {
    for r in [vec![0.5, 2.0, 1.0, -1.0], vec![1.0, 0.0, 0.0], vec![3.0, 3.0, 1.0], vec![0.0, 1.0]] {
        let n = r.len();
        let bms = advantages(&r, Spec::new(Estimator::BestMinusSecond, 1)).unwrap();
        let mean = bms.iter().sum::<f64>() / n as f64;
        for (est, unit) in [(Estimator::Maxpo, 1.0), (Estimator::Canonical, 1.0), (Estimator::PkpoLoo, 1.0)] {
            let (out, c) = with(&r, &[0, n], Spec::new(est, n), SmallGroups::CenteredEi);
            assert_eq!(c.centered_ei, 1);
            for i in 0..n {
                assert!((out[i] - unit * (bms[i] - mean)).abs() < 1e-14, "{est} {r:?}: {out:?}");
            }
            assert!(out.iter().sum::<f64>().abs() < 1e-14);
        }
    }
}

#[test]
fn centered_ei_falls_back_to_zero_where_it_does_not_apply() {
    assert_eq!(plan(Spec::new(Estimator::Rloo, 1), 1, SmallGroups::CenteredEi), Ok(Plan::Zero));
    assert_eq!(plan(Spec::new(Estimator::Maxpo, 3), 1, SmallGroups::CenteredEi), Ok(Plan::Zero));
    // a non-binary reward for a binary estimator stays an error under every rule
    let e = ragged_advantages_with(
        &[0.5],
        &[0, 1],
        Spec::new(Estimator::Maxrl, 1),
        SmallGroups::Zero,
        &mut [0.0],
    )
    .unwrap_err();
    assert_eq!(e.to_string(), "group 0: reward at index 0 is 0.5, but maxrl needs binary rewards (0 or 1)");
}

#[test]
fn grouped_with_error_rule_equals_grouped_and_empty_batches_are_fine() {
    let ids = [4u64, 1, 4, 1, 4, 1, 9, 9];
    let r = [0.3, 0.0, 0.9, 1.0, 0.1, 0.5, 2.0, 1.0];
    let spec = Spec::new(Estimator::Maxpo, 1);
    let mut out = [0.0; 8];
    grouped_advantages_with(&r, &ids, spec, SmallGroups::Error, &mut out).unwrap();
    assert_eq!(out.to_vec(), grouped_advantages(&r, &ids, spec).unwrap());
    let e = grouped_advantages(&r, &ids, Spec::new(Estimator::Maxpo, 3)).unwrap_err();
    assert!(matches!(e, Error::InGroupId { id: 1 | 4 | 9, .. }), "{e}");
    // the empty batch that used to index out of bounds
    assert_eq!(grouped_advantages::<f64>(&[], &[], spec).unwrap(), Vec::<f64>::new());
    let d = grouped_step::<f32>(&[], &[], spec, SmallGroups::Zero, &mut []).unwrap();
    assert_eq!(d.groups, 0);
}

fn rule() -> impl Strategy<Value = SmallGroups> {
    prop::sample::select(SmallGroups::ALL.to_vec())
}

proptest! {
    /// Random ragged batches, estimators, K and rules: a result or an error, never a panic;
    /// results are finite, the counts add up, and centered estimators stay centered.
    #[test]
    fn random_batches_never_panic(
        sizes in prop::collection::vec(1usize..7, 0..6),
        k in 0usize..8,
        est in prop::sample::select(Estimator::ALL.to_vec()),
        rule in rule(),
        seed in any::<u64>(),
    ) {
        let mut offsets = vec![0];
        for s in &sizes {
            offsets.push(offsets.last().unwrap() + s);
        }
        let len = *offsets.last().unwrap();
        let rewards: Vec<f64> = (0..len).map(|i| ((seed >> (i % 60)) & 1) as f64).collect();
        let spec = Spec::new(est, k);
        let mut out = vec![0.0; len];
        match ragged_advantages_with(&rewards, &offsets, spec, rule, &mut out) {
            Ok(c) => {
                prop_assert!(out.iter().all(|a| a.is_finite()));
                prop_assert!(c.groups() <= sizes.len());
                if rule == SmallGroups::Error {
                    prop_assert_eq!(c, SmallGroupCounts::default());
                }
                if est.is_centered() {
                    // every group, a singleton included (0 under every centered estimator)
                    for w in offsets.windows(2) {
                        prop_assert!(out[w[0]..w[1]].iter().sum::<f64>().abs() < 1e-9);
                    }
                }
            }
            Err(e) => {
                prop_assert!(k == 0 || rule == SmallGroups::Error, "{e}");
                prop_assert!(out.iter().all(|&a| a == 0.0));
            }
        }
    }
}
