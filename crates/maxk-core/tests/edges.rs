//! Inputs at the edges (issue 29): all-equal groups and singletons, outliers next to small
//! rewards, results at the top of f64's range, and errors that name the right sample.

use maxk_core::{
    Error, Estimator, MultiSpec, Scale, SmallGroups, Spec, advantages, batch_advantages, grouped_advantages,
    grouped_step, multi_advantages, ragged_advantages,
};

const MAX: f64 = f64::MAX;

/// Every (estimator, K) a group of `n` accepts, binary estimators only for 0/1 rewards.
fn specs(n: usize, binary: bool) -> impl Iterator<Item = Spec> {
    Estimator::ALL.into_iter().flat_map(move |est| {
        (1..=n + 1)
            .filter(move |&k| est.validate(n, k).is_ok() && (binary || !est.needs_binary()))
            .map(move |k| Spec::new(est, k))
    })
}

#[test]
fn all_equal_groups_are_exactly_zero_when_centered_and_unscaled_by_std() {
    // Values whose mean does not round back to themselves (0.7 * 3 / 3 != 0.7), huge, tiny,
    // subnormal and negative ones.
    for value in [0.7, 0.1, 1.0 / 3.0, 1.5e7 + 0.3, 1e300, -1e300, 5e-324, -3.3, 0.0, 1.0] {
        for n in 1..=9 {
            let r = vec![value; n];
            for spec in specs(n, value == 0.0 || value == 1.0) {
                let none = advantages(&r, spec).unwrap();
                let std = advantages(&r, spec.with_scale(Scale::Std)).unwrap();
                assert_eq!(std, none, "{spec:?} on {n} x {value}: --scale std must leave the group as it is");
                if spec.estimator.is_centered() {
                    assert!(none.iter().all(|&a| a == 0.0), "{spec:?} on {n} x {value}: {none:?}");
                }
            }
        }
    }
}

#[test]
fn issue_reproducers_of_all_equal_groups() {
    let pkpo = advantages(&[0.7; 3], Spec::new(Estimator::Pkpo, 1).with_scale(Scale::Std)).unwrap();
    assert_eq!(pkpo, [0.7 / 3.0; 3]);
    assert_eq!(advantages(&[1e300; 7], Spec::new(Estimator::Grpo, 1)).unwrap(), [0.0; 7]);
    assert_eq!(advantages(&[1.5e7 + 0.1; 5], Spec::new(Estimator::Grpo, 1)).unwrap(), [0.0; 5]);
    assert_eq!(advantages(&[5.0], Spec::new(Estimator::Grpo, 1)).unwrap(), [0.0]);
    assert_eq!(advantages(&[5.0], Spec::new(Estimator::DrGrpo, 1)).unwrap(), [0.0]);
    for est in [Estimator::Rloo, Estimator::DrGrpo, Estimator::Grpo] {
        let a = advantages(&[0.7; 3], Spec::new(est, 1).with_scale(Scale::Std)).unwrap();
        assert_eq!(a, [0.0; 3], "{est}");
    }
    let mut out = [1.0; 3];
    let d = grouped_step(&[0.7; 3], &[0; 3], Spec::new(Estimator::Grpo, 1), SmallGroups::Error, &mut out)
        .unwrap();
    assert_eq!((out, d.centering_residual, d.no_signal_groups), ([0.0; 3], 0.0, 1));
}

/// Each value within a few ulps of its own expected value (not of the largest one).
fn assert_close(got: &[f64], want: &[f64]) {
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(want) {
        assert!((g - w).abs() <= 1e-15 * w.abs(), "{got:?} vs {want:?}");
    }
}

#[test]
fn an_outlier_does_not_swamp_the_samples_it_has_no_weight_in() {
    // pkpo at K = 2: u of the outlier is the mean of the other two (0.75), times K/N.
    let a = advantages(&[-1e20, 0.5, 1.0], Spec::new(Estimator::Pkpo, 2)).unwrap();
    assert_close(&a, &[0.5, 0.5, 2.0 / 3.0]);
    // pkpo-loo = (K/N) u - (K/(N-1)) v: u = (0.75, 0.75, 1), v = (1, 1, 0.5).
    let a = advantages(&[-1e20, 0.5, 1.0], Spec::new(Estimator::PkpoLoo, 2)).unwrap();
    assert_close(&a, &[-0.5, -0.5, 1.0 / 6.0]);
    // Outliers above: the top sample's weight in each pkpo output is (K-1)/(N-1) = 1/2 times K/N.
    let a = advantages(&[0.25, 0.5, 1e20], Spec::new(Estimator::Pkpo, 2)).unwrap();
    assert_close(
        &a[..2],
        &[(0.25 / 2.0 + 0.5 / 4.0 + 1e20 / 2.0) * 2.0 / 3.0, (0.5 / 2.0 + 1e20 / 2.0) * 2.0 / 3.0],
    );
}

#[test]
fn representable_results_at_the_top_of_the_range_are_not_overflow_errors() {
    assert_eq!(advantages(&[MAX, -1e308], Spec::new(Estimator::Pkpo, 2)).unwrap(), [MAX, MAX]);
    let a = advantages(&[-5e-324, -MAX, -MAX], Spec::new(Estimator::Rloo, 1)).unwrap();
    assert_eq!(a[0], MAX);
    assert!((a[1] + MAX / 2.0).abs() <= 1e-15 * MAX && a[1] == a[2], "{a:?}");
    // Beyond the range is still an error.
    assert!(matches!(
        advantages(&[MAX, -MAX], Spec::new(Estimator::Rloo, 1)),
        Err(Error::AdvantageOverflow { .. })
    ));
    // The same for f32 output.
    let a = advantages(&[f32::MAX, -1e38], Spec::new(Estimator::Pkpo, 2)).unwrap();
    assert_eq!(a, [f32::MAX, f32::MAX]);
}

#[test]
fn errors_of_flat_batches_name_the_index_in_the_batch() {
    let r = [0.0, 1.0, 2.0, f64::NAN];
    let e = ragged_advantages(&r, &[0, 2, 4], Spec::new(Estimator::Maxpo, 1)).unwrap_err();
    assert_eq!(e.to_string(), "group 1: reward at index 3 is NaN, rewards must be finite");
    let e = grouped_advantages(&r, &[5, 7, 5, 7], Spec::new(Estimator::Maxpo, 1)).unwrap_err();
    assert_eq!(e.to_string(), "group id 7: reward at index 3 is NaN, rewards must be finite");
    let e = grouped_advantages(&[0.0, 1.0, 0.5], &[1, 1, 1], Spec::new(Estimator::Maxrl, 1)).unwrap_err();
    assert_eq!(
        e.to_string(),
        "group id 1: reward at index 2 is 0.5, but maxrl needs binary rewards (0 or 1)"
    );
    // A dense batch [G, N] names the column in its row.
    let e = batch_advantages(&r, 2, Spec::new(Estimator::Maxpo, 1)).unwrap_err();
    assert_eq!(e.to_string(), "group 1: reward at index 1 is NaN, rewards must be finite");
    let e = grouped_advantages(&[0.0; 6], &[1, 1, 2], Spec::new(Estimator::Maxpo, 1)).unwrap_err();
    assert_eq!(e.to_string(), "3 group ids for 6 rewards: give one group id per reward");
}

#[test]
fn nested_errors_hold_their_inner_message_once() {
    let spec = MultiSpec::new(vec![maxk_core::Axis::new(Spec::new(Estimator::Maxpo, 1), 1.0)]).unwrap();
    let e = multi_advantages::<f64>(&[], &spec).unwrap_err();
    assert_eq!(e.to_string(), "axis 0: group is empty");
    assert!(std::error::Error::source(&e).is_none(), "the inner error is in the message, not a source");
    let e = batch_advantages(&[0.0, f64::NAN], 1, Spec::new(Estimator::Grpo, 1)).unwrap_err();
    assert!(std::error::Error::source(&e).is_none());
}

/// Found by the long fuzz run: the std scale of rewards near f64::MAX (std beyond the range,
/// its reciprocal near 1e-308) gave bon-mean and rs-grpo exact zeros.
#[test]
fn std_scale_of_peers_near_the_top_of_the_range() {
    let r = [-9.854805766011775e307, MAX];
    let close = |got: &[f64], want: f64| {
        assert!(
            (got[0] + want).abs() <= 1e-13 * want && (got[1] - want).abs() <= 1e-13 * want,
            "{got:?} vs +-{want:e}"
        );
    };
    close(
        &advantages(&r, Spec::new(Estimator::RsGrpo, 1).with_scale(Scale::Std)).unwrap(),
        2.54064910959052e-309,
    );
    close(
        &advantages(&r, Spec::new(Estimator::BonMean, 1).with_scale(Scale::Std)).unwrap(),
        3.59302042801405e-309,
    );
}
