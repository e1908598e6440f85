//! maj@K (`maxk_core::maj_advantages`): the polynomial cluster algorithm against the enumeration
//! of every K-subset, exact centering, and PG-unbiasedness for `grad maj@K` by exact enumeration
//! of every batch of a softmax policy whose actions carry an answer key and a verdict.

use maxk_core::{
    MajSpec, Ties, grouped_maj_advantages, maj_advantages, maj_at_k, ragged_maj_advantages, reference,
};
use proptest::prelude::*;

use super::unbiasedness::{expected_over_batches, softmax};

fn close(x: &[f64], y: &[f64], tol: f64) -> bool {
    x.len() == y.len() && x.iter().zip(y).all(|(a, b)| (a - b).abs() <= tol * (1.0 + a.abs().max(b.abs())))
}

/// A group of 2..=11 samples over up to 5 answer keys (each key with one verdict), a K in
/// 1..=N and a tie rule.
fn case() -> impl Strategy<Value = (Vec<u64>, Vec<bool>, usize, Ties)> {
    (2usize..12, prop::collection::vec(any::<bool>(), 5)).prop_flat_map(|(n, verdicts)| {
        (prop::collection::vec(0u64..5, n), 1..=n, prop::sample::select(Ties::ALL.to_vec())).prop_map(
            move |(answers, k, ties)| {
                let correct = answers.iter().map(|&a| verdicts[a as usize]).collect();
                (answers, correct, k, ties)
            },
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    /// U_K(B) and the advantages equal the enumeration of every K-subset; the advantages sum
    /// to zero.
    #[test]
    fn fast_equals_reference((answers, correct, k, ties) in case()) {
        let spec = MajSpec::new(k).with_ties(ties);
        let want = reference::maj_at_k(&answers, &correct, spec);
        let got = maj_at_k(&answers, &correct, spec).unwrap();
        prop_assert!((got - want).abs() < 1e-12, "U: {got} vs {want}");
        if k < answers.len() {
            let want = reference::maj_advantages(&answers, &correct, spec);
            let got = maj_advantages(&answers, &correct, spec).unwrap();
            prop_assert!(close(&got, &want, 1e-12), "{answers:?} {correct:?} k={k} {ties}\n{got:?}\n{want:?}");
            prop_assert!(got.iter().sum::<f64>().abs() < 1e-12);
        }
    }
}

/// Larger groups against the enumeration (C(14, 7) = 3432 subsets): many clusters, one
/// dominant cluster, all distinct answers, one answer only.
#[test]
fn larger_groups_equal_reference() {
    let groups: [(Vec<u64>, u64); 4] = [
        ((0..14).map(|i| (i * 7 % 5) as u64).collect(), 0b00101),
        ((0..14).map(|i| if i % 3 == 0 { 1 } else { 0 }).collect(), 0b10),
        ((0..14).collect(), 0b10_1010_1010_1010),
        (vec![3; 14], 0b1000),
    ];
    for (answers, correct_keys) in groups {
        let correct: Vec<bool> = answers.iter().map(|&a| correct_keys >> a & 1 == 1).collect();
        for k in [1, 2, 5, 7, 13] {
            for ties in Ties::ALL {
                let spec = MajSpec::new(k).with_ties(ties);
                let want = reference::maj_advantages(&answers, &correct, spec);
                let got = maj_advantages(&answers, &correct, spec).unwrap();
                assert!(close(&got, &want, 1e-12), "{answers:?} k={k} {ties}");
            }
        }
    }
}

/// Actions of the test policy: (answer key, correct). Two actions share the correct key 1 and
/// two the wrong key 2, so clusters form from distinct completions.
const ACTIONS: [(u64, bool); 4] = [(0, false), (1, true), (2, false), (1, true)];
/// Two correct keys (0 and 1) and a wrong one.
const TWO_CORRECT: [(u64, bool); 4] = [(0, true), (1, true), (2, false), (2, false)];
const THETA: [f64; 4] = [0.3, -0.5, 1.1, 0.0];

/// Exact `grad maj@K` wrt the logits: `E[h(Y_1..Y_K) sum_m (e_{Y_m} - p)]` over all 4^K tuples
/// (the score-function identity is exact for a finite distribution).
fn exact_gradient(theta: &[f64], actions: &[(u64, bool)], k: usize, ties: Ties) -> Vec<f64> {
    let answers: Vec<u64> = actions.iter().map(|a| a.0).collect();
    let correct: Vec<bool> = actions.iter().map(|a| a.1).collect();
    let p = softmax(theta);
    expected_over_batches(&p, k, |tuple| {
        let h = reference::maj_score(&answers, &correct, tuple, ties);
        vec![h; tuple.len()]
    })
}

/// Unbiased (factor 1) for grad maj@K at every K < N, both tie rules, two answer layouts.
#[test]
fn maj_advantages_are_unbiased() {
    let n = 5;
    for actions in [ACTIONS, TWO_CORRECT] {
        for ties in Ties::ALL {
            for k in 1..n {
                let truth = exact_gradient(&THETA, &actions, k, ties);
                let got = expected_over_batches(&softmax(&THETA), n, |batch| {
                    let answers: Vec<u64> = batch.iter().map(|&a| actions[a].0).collect();
                    let correct: Vec<bool> = batch.iter().map(|&a| actions[a].1).collect();
                    maj_advantages(&answers, &correct, MajSpec::new(k).with_ties(ties)).unwrap()
                });
                let err = got.iter().zip(&truth).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
                assert!(err < 1e-12, "k={k} {ties}: {got:?} vs {truth:?}");
            }
        }
    }
    // The test has power: at K = 3 the two tie rules have different gradients.
    let split = exact_gradient(&THETA, &ACTIONS, 2, Ties::Split);
    let wrong = exact_gradient(&THETA, &ACTIONS, 2, Ties::Wrong);
    assert!(split.iter().zip(&wrong).any(|(a, b)| (a - b).abs() > 1e-3));
}

/// U_K(B) is unbiased for maj@K: its mean over all batches is the exact maj@K.
#[test]
fn estimate_is_unbiased() {
    let (n, k) = (5, 3);
    let p = softmax(&THETA);
    let answers: Vec<u64> = ACTIONS.iter().map(|a| a.0).collect();
    let correct: Vec<bool> = ACTIONS.iter().map(|a| a.1).collect();
    for ties in Ties::ALL {
        let spec = MajSpec::new(k).with_ties(ties);
        // exact maj@K: E[h] over all K-tuples; the estimate's mean over all N-batches.
        let mut truth = 0.0;
        let mut mean = 0.0;
        let mut tuple = vec![0usize; n];
        for code in 0..4usize.pow(n as u32) {
            let mut c = code;
            for slot in tuple.iter_mut() {
                *slot = c % 4;
                c /= 4;
            }
            let prob: f64 = tuple.iter().map(|&a| p[a]).product();
            let a: Vec<u64> = tuple.iter().map(|&x| answers[x]).collect();
            let v: Vec<bool> = tuple.iter().map(|&x| correct[x]).collect();
            mean += prob * maj_at_k(&a, &v, spec).unwrap();
            if code < 4usize.pow(k as u32) {
                let pk: f64 = tuple[..k].iter().map(|&x| p[x]).product();
                truth += pk * reference::maj_score(&answers, &correct, &tuple[..k], ties);
            }
        }
        assert!((mean - truth).abs() < 1e-13, "{ties}: {mean} vs {truth}");
    }
}

/// Ragged and grouped batches equal the groups one by one; errors name the group.
#[test]
fn batches_and_errors() {
    let answers = [1u64, 2, 1, 3, 7, 7, 8, 7];
    let correct = [true, false, true, false, true, true, false, true];
    let spec = MajSpec::new(2);
    let got = ragged_maj_advantages(&answers, &correct, &[0, 4, 8], spec).unwrap();
    let mut want = maj_advantages(&answers[..4], &correct[..4], spec).unwrap();
    want.extend(maj_advantages(&answers[4..], &correct[4..], spec).unwrap());
    assert_eq!(got, want);
    let ids = [9u64, 9, 9, 9, 4, 4, 4, 4];
    assert_eq!(grouped_maj_advantages(&answers, &correct, &ids, spec).unwrap(), want);
    let bad = [true, false, true, false, true, false, false, true];
    let err = grouped_maj_advantages(&answers, &bad, &ids, spec).unwrap_err();
    assert_eq!(
        err.to_string(),
        "group id 4: answer key 7 is marked correct at sample 0 and wrong at sample 1: one answer must have one verdict"
    );
}
