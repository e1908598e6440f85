//! Multi-objective max@K (`maxk_core::MultiSpec`): the fast path against its brute-force
//! reference twin, exact per-axis centering, and per-axis PG-unbiasedness by exact enumeration
//! of every batch of a softmax policy whose actions carry D rewards each.

// Comparing parallel arrays element by element reads clearest with an index.
#![allow(clippy::needless_range_loop)]

use maxk_core::{
    Axis, Estimator, MultiSpec, Scale, Spec, advantages, batch_multi_advantages, multi_advantages,
    ragged_multi_advantages, reference,
};
use proptest::prelude::*;

use super::unbiasedness::{exact_gradient, expected_over_batches, softmax};

fn flat(rows: &[Vec<f64>]) -> Vec<f64> {
    rows.iter().flatten().copied().collect()
}

fn close(x: &[f64], y: &[f64], tol: f64) -> bool {
    x.len() == y.len() && x.iter().zip(y).all(|(a, b)| (a - b).abs() <= tol * (1.0 + a.abs().max(b.abs())))
}

/// A valid axis spec for a group of `n`: an estimator of the registry with a K in its range.
fn axis_strategy(n: usize) -> impl Strategy<Value = Axis> {
    (
        prop::sample::select(Estimator::ALL.to_vec()),
        1usize..=n,
        prop::sample::select(Scale::ALL.to_vec()),
        -2.0f64..2.0,
    )
        .prop_map(move |(est, k, scale, weight)| {
            let k = if est.validate(n, k).is_ok() { k } else { 1 };
            Axis::new(Spec::new(est, k).with_scale(scale), weight)
        })
}

/// One group of `n` samples for `axes`: binary rewards on passk-analytic axes, small integers
/// over 4 (many ties) elsewhere.
fn group_strategy(n: usize, axes: Vec<Axis>) -> impl Strategy<Value = (Vec<Vec<f64>>, MultiSpec)> {
    let columns: Vec<_> = axes
        .iter()
        .map(|a| {
            let hi = if a.spec.estimator.needs_binary() { 2 } else { 9 };
            prop::collection::vec(
                (0i32..hi).prop_map(move |x| if hi == 2 { f64::from(x) } else { f64::from(x) / 4.0 }),
                n,
            )
        })
        .collect();
    columns.prop_map(move |cols| {
        let rows = (0..n).map(|i| cols.iter().map(|c| c[i]).collect()).collect();
        (rows, MultiSpec::new(axes.clone()).unwrap())
    })
}

fn multi_case() -> impl Strategy<Value = (Vec<Vec<f64>>, MultiSpec)> {
    (2usize..9, 1usize..4)
        .prop_flat_map(|(n, d)| (Just(n), prop::collection::vec(axis_strategy(n), d)))
        .prop_flat_map(|(n, axes)| group_strategy(n, axes))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// The O(D N log N) path equals the brute-force reference for any estimator, K, scale and
    /// weight per axis, and for f32 input up to f32 rounding.
    #[test]
    fn fast_equals_reference((rows, spec) in multi_case()) {
        let want = reference::multi_advantages(&rows, &spec);
        let got = multi_advantages(&flat(&rows), &spec).unwrap();
        prop_assert!(close(&got, &want, 1e-9), "{spec:?}\n{rows:?}\nfast {got:?}\nreference {want:?}");
        let f32_rows: Vec<f32> = flat(&rows).iter().map(|&x| x as f32).collect();
        let got32: Vec<f64> = multi_advantages(&f32_rows, &spec).unwrap().iter().map(|&x| f64::from(x)).collect();
        prop_assert!(close(&got32, &want, 1e-5));
    }

    /// A dense batch [G, N, D] and a ragged batch equal the groups computed one by one.
    #[test]
    fn batches_equal_single_groups(
        groups in prop::collection::vec(prop::collection::vec(prop::collection::vec((0i32..5).prop_map(|x| f64::from(x) / 2.0), 2), 3..7), 1..5),
        k in 1usize..3,
        w in prop::collection::vec(-1.0f64..1.0, 2),
    ) {
        let spec = MultiSpec::uniform(Spec::new(Estimator::Maxpo, k), &w).unwrap();
        let singles: Vec<f64> = groups.iter().flat_map(|g| multi_advantages(&flat(g), &spec).unwrap()).collect();
        let all: Vec<f64> = groups.iter().flat_map(|g| flat(g)).collect();
        let mut offsets = vec![0];
        for g in &groups {
            offsets.push(offsets.last().unwrap() + g.len());
        }
        prop_assert_eq!(&ragged_multi_advantages(&all, &offsets, &spec).unwrap(), &singles);
        let n = groups[0].len();
        let dense: Vec<Vec<f64>> = groups.iter().map(|g| g.iter().cycle().take(n).cloned().collect::<Vec<_>>()).map(|g| flat(&g)).collect();
        let dense_singles: Vec<f64> = dense.iter().flat_map(|g| multi_advantages(g, &spec).unwrap()).collect();
        prop_assert_eq!(batch_multi_advantages(&dense.concat(), n, &spec).unwrap(), dense_singles);
    }

    /// Centered estimators on every axis give a combined advantage that sums to zero, for any
    /// weights and per-axis scales; a one-hot weight reproduces that axis's single-axis
    /// advantages bit for bit.
    #[test]
    fn exact_per_axis_centering(
        rows in prop::collection::vec(prop::collection::vec(-3.0f64..3.0, 3), 3..12),
        ests in prop::collection::vec(prop::sample::select(vec![Estimator::Maxpo, Estimator::Canonical, Estimator::Rloo, Estimator::DrGrpo, Estimator::Grpo]), 3),
        scales in prop::collection::vec(prop::sample::select(Scale::ALL.to_vec()), 3),
        weights in prop::collection::vec(-5.0f64..5.0, 3),
        k in 1usize..3,
    ) {
        let axes: Vec<Axis> = (0..3).map(|d| Axis::new(Spec::new(ests[d], k).with_scale(scales[d]), weights[d])).collect();
        let spec = MultiSpec::new(axes.clone()).unwrap();
        prop_assert!(spec.is_centered());
        let a = multi_advantages(&flat(&rows), &spec).unwrap();
        let scale: f64 = a.iter().map(|x| x.abs()).sum::<f64>().max(1.0);
        prop_assert!(a.iter().sum::<f64>().abs() < 1e-12 * scale * rows.len() as f64);
        for d in 0..3 {
            let mut one_hot = axes.clone();
            for (e, axis) in one_hot.iter_mut().enumerate() {
                axis.weight = if e == d { 1.0 } else { 0.0 };
            }
            let column: Vec<f64> = rows.iter().map(|r| r[d]).collect();
            let single = advantages(&column, axes[d].spec).unwrap();
            let multi = multi_advantages(&flat(&rows), &MultiSpec::new(one_hot).unwrap()).unwrap();
            prop_assert_eq!(multi, single);
        }
    }
}

// ---- exact enumeration over a softmax policy (tests/unbiasedness.rs, with D rewards) ----

/// E[sum_i A_i (e_{a_i} - p)] over all A^N batches, `table[action]` the action's D rewards.
fn expected_estimate(theta: &[f64], table: &[Vec<f64>], n: usize, spec: &MultiSpec) -> Vec<f64> {
    expected_over_batches(&softmax(theta), n, |batch| {
        let rows: Vec<Vec<f64>> = batch.iter().map(|&x| table[x].clone()).collect();
        multi_advantages(&flat(&rows), spec).unwrap()
    })
}

const THETA: [f64; 4] = [0.3, -0.5, 1.1, 0.0];

/// Action -> (correct, format score, -length): a binary axis, a continuous one, a negative one.
fn reward_table() -> Vec<Vec<f64>> {
    vec![vec![0.0, 0.2, -0.9], vec![1.0, 1.0, -0.4], vec![0.0, -0.4, -0.1], vec![1.0, 0.7, -0.6]]
}

fn column(table: &[Vec<f64>], d: usize) -> Vec<f64> {
    table.iter().map(|row| row[d]).collect()
}

/// 1e-12 absolute over 4^5 = 1024 batches of O(1) terms, as in tests/unbiasedness.rs.
const TOL: f64 = 1e-12;

#[test]
fn weighted_sum_is_unbiased_for_the_weighted_objective() {
    let (n, table) = (5, reward_table());
    let ks = [3, 2, 4];
    let weights = [0.7, -1.3, 2.0];
    // Every PG-unbiased max@K estimator on every axis, at the PG scale.
    for est in Estimator::ALL.into_iter().filter(|e| e.uses_k() && e.is_unbiased()) {
        let axes =
            (0..3).map(|d| Axis::new(Spec::new(est, ks[d]).with_scale(Scale::Pg), weights[d])).collect();
        let spec = MultiSpec::new(axes).unwrap();
        assert!(spec.is_unbiased());
        let got = expected_estimate(&THETA, &table, n, &spec);
        let mut truth = vec![0.0; THETA.len()];
        for d in 0..3 {
            for (t, g) in truth.iter_mut().zip(exact_gradient(&THETA, &column(&table, d), ks[d])) {
                *t += weights[d] * g;
            }
        }
        assert!(close(&got, &truth, TOL), "{est}: {got:?} vs exact {truth:?}");
    }
}

#[test]
fn each_axis_is_unbiased_for_its_own_objective() {
    let (n, table) = (5, reward_table());
    // A different estimator and K per axis: MaxPO, canonical, PKPO-LOO-1.
    let axes = [
        Axis::new(Spec::new(Estimator::Maxpo, 3).with_scale(Scale::Pg), 1.0),
        Axis::new(Spec::new(Estimator::Canonical, 2).with_scale(Scale::Pg), 1.0),
        Axis::new(Spec::new(Estimator::PkpoLoo1, 4).with_scale(Scale::Pg), 1.0),
    ];
    for d in 0..3 {
        let mut one_hot = axes.to_vec();
        for (e, axis) in one_hot.iter_mut().enumerate() {
            axis.weight = if e == d { 1.0 } else { 0.0 };
        }
        let got = expected_estimate(&THETA, &table, n, &MultiSpec::new(one_hot).unwrap());
        let truth = exact_gradient(&THETA, &column(&table, d), axes[d].spec.k);
        assert!(close(&got, &truth, TOL), "axis {d}: {got:?} vs exact {truth:?}");
    }
}

#[test]
fn std_normalised_axes_are_visibly_biased() {
    // The harness can tell: dividing each axis by its sample std (the optional per-axis
    // normalisation) is a function of the sample itself and biases the gradient.
    let (n, table) = (5, reward_table());
    let spec =
        MultiSpec::uniform(Spec::new(Estimator::Maxpo, 2).with_scale(Scale::Std), &[1.0, 1.0, 1.0]).unwrap();
    assert!(!spec.is_unbiased());
    let got = expected_estimate(&THETA, &table, n, &spec);
    let mut truth = vec![0.0; THETA.len()];
    for d in 0..3 {
        for (t, g) in truth.iter_mut().zip(exact_gradient(&THETA, &column(&table, d), 2)) {
            *t += g;
        }
    }
    // No positive rescaling of the truth matches: the direction differs.
    let dot: f64 = got.iter().zip(&truth).map(|(a, b)| a * b).sum();
    let norms =
        got.iter().map(|x| x * x).sum::<f64>().sqrt() * truth.iter().map(|x| x * x).sum::<f64>().sqrt();
    assert!(dot / norms < 1.0 - 1e-6, "std-normalised MaxPO parallel to the truth (cos {})", dot / norms);
}
