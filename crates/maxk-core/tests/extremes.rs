//! Rewards of extreme magnitude: every output is finite or an [`Error::AdvantageOverflow`], an
//! error only when the true advantage is beyond the output type's range, and no error ever
//! writes into the caller's buffer.

use maxk_core::{
    Error, Estimator, Scale, Spec, advantages, advantages_into, batch_advantages_into, max_at_k,
};
use maxk_core::{ragged_advantages_into, reference};
use proptest::prelude::*;

const MAX: f64 = f64::MAX;

fn overflow_index(e: &Error) -> Option<usize> {
    match e {
        Error::AdvantageOverflow { index, .. } => Some(*index),
        _ => None,
    }
}

fn close(a: &[f64], b: &[f64], rel: f64) -> bool {
    let scale = a.iter().chain(b).fold(0.0f64, |m, x| m.max(x.abs()));
    a.iter().zip(b).all(|(x, y)| (x - y).abs() <= rel * scale)
}

#[test]
fn issue_reproducers() {
    // The true advantages are +-2 f64::MAX: not representable, an error naming the cause.
    let e = advantages(&[MAX, -MAX], Spec::new(Estimator::Maxpo, 1)).unwrap_err();
    assert_eq!(overflow_index(&e), Some(0));
    assert_eq!(
        e.to_string(),
        "the maxpo advantage at index 0 is not representable as f64 (|A| > 1.7976931348623157e308): \
         the rewards range from -1.7976931348623157e308 to 1.7976931348623157e308; divide them by a constant"
    );
    // At the PG scale (K/N = 1/2) the same group is representable exactly.
    let pg = advantages(&[MAX, -MAX], Spec::new(Estimator::Maxpo, 1).with_scale(Scale::Pg)).unwrap();
    assert_eq!(pg, [MAX, -MAX]);
    // GRPO is scale-free: [1e200, 3e200, 0] gives what [1, 3, 0] gives (up to its 1e-6).
    let big = advantages(&[1e200, 3e200, 0.0], Spec::new(Estimator::Grpo, 1)).unwrap();
    let small = advantages(&[1.0, 3.0, 0.0], Spec::new(Estimator::Grpo, 1)).unwrap();
    assert!(close(&big, &small, 1e-6), "{big:?} vs {small:?}");
    assert!((big[0] + 0.218_217_890_235_992_4).abs() < 1e-12, "{big:?}");
    let g = advantages(&[MAX, -MAX], Spec::new(Estimator::Grpo, 1)).unwrap();
    assert!(close(&g, &[std::f64::consts::FRAC_1_SQRT_2, -std::f64::consts::FRAC_1_SQRT_2], 1e-15), "{g:?}");
    // Finite answers whose sums, gaps or squares overflowed before.
    let r = [1e308, -1e308, 0.0];
    let rloo = advantages(&r, Spec::new(Estimator::Rloo, 1)).unwrap();
    assert!(close(&rloo, &[1.5e308, -1.5e308, 0.0], 1e-15), "{rloo:?}");
    let dr = advantages(&[1e308, 1e308, -1e308], Spec::new(Estimator::DrGrpo, 1)).unwrap();
    assert!(close(&dr, &[1e308 / 1.5, 1e308 / 1.5, -1e308 / 0.75], 1e-15), "{dr:?}");
    let bms = advantages(&[1e308, -5e307, 0.0], Spec::new(Estimator::BestMinusSecond, 1)).unwrap();
    assert_eq!(bms, [1e308, 0.0, 0.0]);
    assert!(
        overflow_index(&advantages(&[1e308, -1e308], Spec::new(Estimator::BestMinusSecond, 1)).unwrap_err())
            == Some(0)
    );
    for est in [Estimator::Pkpo, Estimator::PkpoLoo, Estimator::PkpoLoo1, Estimator::Ei, Estimator::Canonical]
    {
        let a = advantages(&[0.9 * MAX, -0.9 * MAX, 0.0, 0.5 * MAX], Spec::new(est, 2).with_scale(Scale::Pg))
            .unwrap();
        let b = advantages(&[0.9, -0.9, 0.0, 0.5], Spec::new(est, 2).with_scale(Scale::Pg)).unwrap();
        let b: Vec<f64> = b.iter().map(|x| x * MAX).collect();
        assert!(close(&a, &b, 1e-14), "{est}: {a:?} vs {b:?}");
    }
    // rho is a weighted mean of the rewards: always representable.
    assert_eq!(max_at_k(&[MAX, -MAX], 1).unwrap(), 0.0);
    assert_eq!(max_at_k(&[MAX, -MAX], 2).unwrap(), MAX);
    // f32 outputs overflow at f32::MAX.
    let e = advantages(&[3e38f32, -3e38], Spec::new(Estimator::Maxpo, 1)).unwrap_err();
    assert!(e.to_string().contains("not representable as f32"), "{e}");
}

#[test]
fn tiny_rewards_keep_their_std() {
    // The squares of 1e-200 underflow; in the group's unit they do not, so the std scale still
    // divides by std + 1e-6 (about 1e-6 here) instead of treating the group as constant.
    let r = [1e-200, 3e-200, 0.0];
    let a = advantages(&r, Spec::new(Estimator::DrGrpo, 1).with_scale(Scale::Std)).unwrap();
    let want: Vec<f64> =
        advantages(&r, Spec::new(Estimator::DrGrpo, 1)).unwrap().iter().map(|x| x / 1e-6).collect();
    assert!(close(&a, &want, 1e-9), "{a:?} vs {want:?}");
}

#[test]
fn overflow_errors_write_nothing() {
    let spec = Spec::new(Estimator::Maxpo, 1);
    let rewards = [0.0, 1.0, MAX, -MAX];
    let mut out = [7.0; 4];
    let e = batch_advantages_into(&rewards, 2, spec, &mut out).unwrap_err();
    assert!(e.to_string().starts_with("group 1: the maxpo advantage at index 0"), "{e}");
    assert_eq!(out, [7.0; 4]);
    let e =
        ragged_advantages_into(&rewards, &[0, 2, 4], Spec::new(Estimator::Rloo, 1), &mut out).unwrap_err();
    assert!(e.to_string().starts_with("group 1: the rloo advantage"), "{e}");
    assert_eq!(out, [7.0; 4]);
    let e = advantages_into(&rewards[2..], spec, &mut out[..2]).unwrap_err();
    assert_eq!(overflow_index(&e), Some(0));
    assert_eq!(out, [7.0; 4]);
}

/// Finite rewards of every magnitude: ordinary values, powers of ten up to 1e308, the extremes
/// of f64 and subnormals.
fn extreme() -> impl Strategy<Value = f64> {
    prop_oneof![
        (-8i32..=8).prop_map(|x| x as f64 * 0.25),
        (-308i32..=308, -9i32..=9).prop_map(|(e, m)| m as f64 / 9.0 * 10f64.powi(e)),
        any::<f64>().prop_filter("finite", |x| x.is_finite()),
        prop::sample::select(vec![
            MAX,
            -MAX,
            MAX / 2.0,
            -MAX / 3.0,
            1e308,
            -1e308,
            5e-324,
            -5e-324,
            0.0,
            -0.0
        ]),
    ]
}

fn case() -> impl Strategy<Value = (Vec<f64>, usize, Estimator, Scale)> {
    let estimators: Vec<Estimator> = Estimator::ALL.into_iter().filter(|e| !e.needs_binary()).collect();
    (
        prop::collection::vec(extreme(), 2..=9),
        prop::sample::select(estimators),
        prop::sample::select(Scale::ALL.to_vec()),
    )
        .prop_flat_map(|(r, est, scale)| {
            let max_k = est.k_range().max(r.len()).min(r.len());
            (Just(r), 1..=max_k, Just(est), Just(scale))
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    /// For any finite input: all outputs finite, or an overflow error, and the error only when
    /// the true advantages are beyond f64 (the same rewards divided by 8 give advantages whose
    /// 8-fold exceeds f64::MAX); grpo and the std scale never overflow.
    #[test]
    fn finite_or_overflow_error((r, k, est, scale) in case()) {
        let spec = Spec::new(est, k).with_scale(scale);
        match advantages(&r, spec) {
            Ok(a) => prop_assert!(a.iter().all(|x| x.is_finite()), "{} {}: {:?} -> {:?}", est, scale, r, a),
            Err(e) => {
                prop_assert!(overflow_index(&e).is_some(), "{} {}: unexpected error {}", est, scale, e);
                // Degree-0 and bounded estimators (grpo, bon-mean, rs-grpo) never overflow.
                prop_assert!(scale != Scale::Std && est.homogeneity() == Some(1), "{} {}: {}", est, scale, e);
                let eighth: Vec<f64> = r.iter().map(|x| x / 8.0).collect();
                let a = advantages(&eighth, spec).unwrap();
                let biggest = a.iter().fold(0.0f64, |m, x| m.max(x.abs()));
                prop_assert!(biggest * 8.0 > MAX * (1.0 - 1e-12), "{} {}: {:?} errs but |A/8| <= {}", est, scale, r, biggest);
            }
        }
        if let Ok(rho) = max_at_k(&r, k.min(r.len())) {
            prop_assert!(rho.is_finite());
        }
    }

    /// The rescaling is exact: huge rewards give the advantages of the same rewards brought
    /// near 1 by a power of two, scaled back (degree-1 estimators; grpo and bon-mean are degree 0, rs-grpo is not homogeneous).
    #[test]
    fn huge_groups_agree_with_their_rescaled_twin(
        small in prop::collection::vec((-8i32..=8).prop_map(|x| x as f64 * 0.25), 2..=9),
        est in prop::sample::select(Estimator::ALL.into_iter().filter(|e| !e.needs_binary()).collect::<Vec<_>>()),
        shift in 900i32..1020,
    ) {
        let k = 1;
        let up = 2f64.powi(shift);
        let big: Vec<f64> = small.iter().map(|x| x * up).collect();
        let spec = Spec::new(est, k);
        let Some(degree) = est.homogeneity() else { return Ok(()) };
        let want: Vec<f64> = advantages(&small, spec).unwrap().iter().map(|x| if degree == 0 { *x } else { x * up }).collect();
        match advantages(&big, spec) {
            Ok(a) => {
                // A std's 1e-6 is negligible at this scale and not at the small one.
                let rel = if degree == 0 { 1e-4 } else { 1e-14 };
                prop_assert!(close(&a, &want, rel), "{}: {:?} vs {:?}", est, a, want);
            }
            Err(e) => prop_assert!(want.iter().any(|x| !x.is_finite()), "{}: {} but the answer is {:?}", est, e, want),
        }
        let reference = reference::advantages(&small, spec);
        prop_assert!(close(&advantages(&small, spec).unwrap(), &reference, 1e-12));
    }
}
