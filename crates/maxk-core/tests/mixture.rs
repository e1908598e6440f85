//! Mixtures of K (`maxk_core::Mixture`): the O(N log N + N |K|) kernel against its reference
//! twin, exact centering, PG-unbiasedness for `grad sum_k w_k J_k` by exact enumeration, and
//! the comparison with MaxRL on binary rewards (the harmonic mixture is MaxRL / N on every
//! group).

use maxk_core::{
    Estimator, Mixture, Scale, Spec, advantages, batch_mixture_advantages, grouped_mixture_advantages,
    mixture_advantages, ragged_mixture_advantages, reference,
};
use proptest::prelude::*;

use super::unbiasedness::{exact_gradient, expected_over_batches, softmax};

fn close(x: &[f64], y: &[f64], tol: f64) -> bool {
    x.len() == y.len() && x.iter().zip(y).all(|(a, b)| (a - b).abs() <= tol * (1.0 + a.abs().max(b.abs())))
}

/// A group of 2..=9 rewards (small multiples of 1/4: many ties) and a mixture valid for it.
fn case() -> impl Strategy<Value = (Vec<f64>, Mixture)> {
    (2usize..10).prop_flat_map(|n| {
        let rewards = prop::collection::vec((-8i32..9).prop_map(|x| f64::from(x) / 4.0), n);
        let terms = prop::collection::vec((1..n, -2.0f64..2.0), 1..5);
        let mix = prop_oneof![terms.prop_map(|t| Mixture::new(&t).unwrap()), Just(Mixture::Harmonic),];
        (rewards, mix)
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// The fast kernel equals the enumeration of every K-subset, in f64 and (to f32 rounding)
    /// in f32, and sums to zero.
    #[test]
    fn fast_equals_reference((rewards, mix) in case()) {
        let want = reference::mixture_advantages(&rewards, &mix);
        let got = mixture_advantages(&rewards, &mix).unwrap();
        prop_assert!(close(&got, &want, 1e-10), "{mix}\n{rewards:?}\nfast {got:?}\nreference {want:?}");
        let scale = 1.0 + got.iter().map(|a| a.abs()).fold(0.0, f64::max);
        prop_assert!(got.iter().sum::<f64>().abs() < 1e-12 * scale * rewards.len() as f64);
        let r32: Vec<f32> = rewards.iter().map(|&x| x as f32).collect();
        let got32: Vec<f64> = mixture_advantages(&r32, &mix).unwrap().iter().map(|&x| f64::from(x)).collect();
        prop_assert!(close(&got32, &want, 1e-5));
    }

    /// A mixture's advantages are the weighted sum of the canonical advantages of its terms
    /// (the registry's `canonical` estimator, computed independently).
    #[test]
    fn mixture_is_the_weighted_sum_of_canonical((rewards, mix) in case()) {
        let mut want = vec![0.0; rewards.len()];
        for t in mix.terms(rewards.len()) {
            let a = advantages(&rewards, Spec::new(Estimator::Canonical, t.k)).unwrap();
            for (w, x) in want.iter_mut().zip(a) {
                *w += t.weight * x;
            }
        }
        let got = mixture_advantages(&rewards, &mix).unwrap();
        prop_assert!(close(&got, &want, 1e-10));
    }
}

/// The harmonic closed form `F_b = b/(N(N-b))` equals the explicit terms `1/k, k < N`, up to
/// N = 300 (the explicit table runs N - 1 recurrences).
#[test]
fn harmonic_closed_form_equals_explicit_terms() {
    for n in [2usize, 3, 7, 40, 300] {
        let rewards: Vec<f64> = (0..n).map(|i| ((i * 7919) % 13) as f64 / 3.0 - 1.0).collect();
        let terms: Vec<(usize, f64)> = (1..n).map(|k| (k, 1.0 / k as f64)).collect();
        let explicit = mixture_advantages(&rewards, &Mixture::new(&terms).unwrap()).unwrap();
        let harmonic = mixture_advantages(&rewards, &Mixture::Harmonic).unwrap();
        assert!(close(&harmonic, &explicit, 1e-11), "n = {n}");
    }
}

/// On binary rewards the harmonic mixture is MaxRL divided by N on every group: correct samples
/// get (N-c)/(N c), wrong ones -1/N, all 0 when c = 0 or c = N.
#[test]
fn harmonic_mixture_is_maxrl_over_n_on_binary_rewards() {
    for n in 2..=12usize {
        for c in 0..=n {
            let rewards: Vec<f64> = (0..n).map(|i| if (i * 5) % n < c { 1.0 } else { 0.0 }).collect();
            let mix = mixture_advantages(&rewards, &Mixture::Harmonic).unwrap();
            let maxrl = advantages(&rewards, Spec::new(Estimator::Maxrl, 1).with_scale(Scale::Pg)).unwrap();
            assert!(close(&mix, &maxrl, 1e-13), "n={n} c={c}: {mix:?} vs {maxrl:?}");
        }
    }
}

const THETA: [f64; 4] = [0.3, -0.5, 1.1, 0.0];
const CONTINUOUS: [f64; 4] = [0.2, 1.0, -0.4, 0.7];
const BINARY: [f64; 4] = [0.0, 1.0, 0.0, 1.0];

/// `E[sum_i A_i grad log pi(y_i)]` of a mixture over all 4^N batches of a softmax policy.
fn expected(theta: &[f64], r: &[f64], n: usize, mix: &Mixture) -> Vec<f64> {
    expected_over_batches(&softmax(theta), n, |batch| {
        let rewards: Vec<f64> = batch.iter().map(|&a| r[a]).collect();
        mixture_advantages(&rewards, mix).unwrap()
    })
}

/// Unbiased (factor 1) for the gradient of `sum_k w_k J_k`, on continuous and binary rewards,
/// for explicit terms and for the harmonic mixture (`w_k = 1/k`, k < N).
#[test]
fn mixtures_are_unbiased_for_the_weighted_objective() {
    let n = 5;
    let explicit = Mixture::new(&[(1, 1.0), (3, 0.5), (4, -0.25)]).unwrap();
    for rewards in [CONTINUOUS, BINARY] {
        for mix in [&explicit, &Mixture::Harmonic] {
            let mut truth = vec![0.0; 4];
            for t in mix.terms(n) {
                for (x, g) in truth.iter_mut().zip(exact_gradient(&THETA, &rewards, t.k)) {
                    *x += t.weight * g;
                }
            }
            let got = expected(&THETA, &rewards, n, mix);
            assert!(close(&got, &truth, 1e-12), "{mix} {rewards:?}: {got:?} vs {truth:?}");
        }
    }
}

/// By enumeration on binary rewards the harmonic mixture and MaxRL at its PG factor 1/N have the
/// same expected gradient (they are equal batch by batch), at two policies and every N.
#[test]
fn harmonic_mixture_and_maxrl_agree_in_expectation_on_binary_rewards() {
    for theta in [THETA, [-1.0, -0.7, 0.4, -1.5]] {
        for n in 2..=5 {
            let mix = expected(&theta, &BINARY, n, &Mixture::Harmonic);
            let maxrl = expected_over_batches(&softmax(&theta), n, |batch| {
                let rewards: Vec<f64> = batch.iter().map(|&a| BINARY[a]).collect();
                advantages(&rewards, Spec::new(Estimator::Maxrl, 1).with_scale(Scale::Pg)).unwrap()
            });
            assert!(close(&mix, &maxrl, 1e-13), "n={n}");
        }
    }
}

/// Dense, ragged and grouped batches equal the groups one by one.
#[test]
fn batches_equal_single_groups() {
    let mix: Mixture = "1:1,2:0.5".parse().unwrap();
    let rewards = [0.0, 1.0, 0.5, 0.25, 1.0, 1.0, 0.0, 2.0, -1.0];
    let one = |r: &[f64]| mixture_advantages(r, &mix).unwrap();
    let dense = batch_mixture_advantages(&rewards, 3, &mix).unwrap();
    let want: Vec<f64> = rewards.chunks(3).flat_map(one).collect();
    assert_eq!(dense, want);
    let ragged = ragged_mixture_advantages(&rewards, &[0, 4, 9], &mix).unwrap();
    let want: Vec<f64> = [&rewards[..4], &rewards[4..]].into_iter().flat_map(one).collect();
    assert_eq!(ragged, want);
    let ids = [5u64, 9, 5, 9, 5, 9, 5, 9, 9];
    let grouped = grouped_mixture_advantages(&rewards, &ids, &mix).unwrap();
    let g5: Vec<f64> = one(&[rewards[0], rewards[2], rewards[4], rewards[6]]);
    assert_eq!([grouped[0], grouped[2], grouped[4], grouped[6]].to_vec(), g5);
}

#[test]
fn errors_name_the_values() {
    let mix: Mixture = "1,4:0.5".parse().unwrap();
    assert_eq!(mix.to_string(), "1:1,4:0.5");
    let err = mixture_advantages(&[0.0, 1.0, 0.5, 1.0], &mix).unwrap_err();
    assert_eq!(
        err.to_string(),
        "k = 4 is out of range for mixture with group size 4 (needs 1 <= k <= N - 1 for every term)"
    );
    let err = batch_mixture_advantages(&[0.0, 1.0, 0.5, f64::NAN, 0.0, 1.0, 0.5, 1.0, 0.0, 1.0], 5, &mix)
        .unwrap_err();
    assert_eq!(err.to_string(), "group 0: reward at index 3 is NaN, rewards must be finite");
    assert_eq!(
        "1:x".parse::<Mixture>().unwrap_err().to_string(),
        "invalid mixture \"1:x\": a weight is not a number"
    );
    assert_eq!(
        "0:1".parse::<Mixture>().unwrap_err().to_string(),
        "invalid mixture \"0:1\": K must be at least 1"
    );
    assert_eq!(
        "1:inf".parse::<Mixture>().unwrap_err().to_string(),
        "weight of the k = 1 term is inf, weights must be finite"
    );
    assert_eq!(
        mixture_advantages(&[1.0], &Mixture::Harmonic).unwrap_err().to_string(),
        "group size 1 is too small for mixture (needs N >= 2)"
    );
    assert_eq!("harmonic".parse::<Mixture>().unwrap(), Mixture::Harmonic);
    // a huge reward range: an error, never an infinity
    let err = mixture_advantages(&[-1e308f64, 1e308, 0.0], &"1:1e10".parse().unwrap()).unwrap_err();
    assert!(err.to_string().starts_with("the mixture advantage at index"), "{err}");
}

/// Proportional to MaxRL on every binary group means: a wrong sample gets the same advantage
/// for every c = 1..N-1 (centering then fixes the correct ones). Over k = 1..N-1 these are
/// N - 1 linear equations in the weights; their unique solution is w_k = 1/k (times a constant).
#[test]
fn only_the_harmonic_weights_are_proportional_to_maxrl() {
    for n in 3..=10usize {
        // m[c-1][k-1]: the wrong sample's canonical pass@k advantage in a group with c correct.
        let m: Vec<Vec<f64>> = (1..n)
            .map(|c| {
                let rewards: Vec<f64> = (0..n).map(|i| if i < c { 1.0 } else { 0.0 }).collect();
                (1..n)
                    .map(|k| advantages(&rewards, Spec::new(Estimator::Canonical, k)).unwrap()[n - 1])
                    .collect()
            })
            .collect();
        // Solve m w = -1/N (the harmonic mixture's wrong-sample advantage) by Gaussian
        // elimination with partial pivoting; a tiny pivot would mean the solution is not unique.
        let d = n - 1;
        let mut a: Vec<Vec<f64>> =
            m.iter().map(|row| [row.clone(), vec![-1.0 / n as f64]].concat()).collect();
        for col in 0..d {
            let piv = (col..d).max_by(|&x, &y| a[x][col].abs().total_cmp(&a[y][col].abs())).unwrap();
            a.swap(col, piv);
            assert!(a[col][col].abs() > 1e-9, "n={n}: singular system");
            let pivot = a[col].clone();
            for (_, line) in a.iter_mut().enumerate().filter(|(row, _)| *row != col) {
                let f = line[col] / pivot[col];
                for (x, p) in line[col..].iter_mut().zip(&pivot[col..]) {
                    *x -= f * p;
                }
            }
        }
        for k in 1..n {
            let w = a[k - 1][d] / a[k - 1][k - 1];
            assert!((w - 1.0 / k as f64).abs() < 1e-8, "n={n} k={k}: w = {w}");
        }
    }
}
