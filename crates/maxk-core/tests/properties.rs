//! Property tests: fast == reference on random groups, permutation equivariance, shift and
//! scale behaviour, exact centering, and the binary (pass@K) closed forms of docs/MATH.md.

// Comparing parallel arrays element by element reads clearest with an index.
#![allow(clippy::needless_range_loop)]

use maxk_core::{Estimator, Scale, Spec, advantages, binom::ratio_same_k, max_at_k, reference};
use proptest::prelude::*;

/// Rewards on a coarse grid (so ties are frequent) in [-2, 2], group size 2..=9.
fn group() -> impl Strategy<Value = Vec<f64>> {
    prop::collection::vec((-8i32..=8).prop_map(|x| x as f64 * 0.25), 2..=9)
}

fn group_and_k() -> impl Strategy<Value = (Vec<f64>, usize)> {
    group().prop_flat_map(|g| {
        let n = g.len();
        (Just(g), 1..n) // 1 <= k <= N-1: valid for every K-using estimator
    })
}

fn estimator() -> impl Strategy<Value = Estimator> {
    prop::sample::select(Estimator::ALL.iter().copied().filter(|e| !e.needs_binary()).collect::<Vec<_>>())
}

/// Relative tolerance for algebraically equal quantities computed by different summation
/// orders on O(1) rewards: a few hundred ulps.
fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-12 * (1.0 + a.abs().max(b.abs()))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn fast_equals_reference((r, k) in group_and_k(), est in estimator()) {
        let spec = Spec::new(est, k);
        let fast = advantages(&r, spec).unwrap();
        let slow = reference::advantages(&r, spec);
        for i in 0..r.len() {
            prop_assert!(close(fast[i], slow[i]), "{} i={} {} vs {}", est, i, fast[i], slow[i]);
        }
    }

    #[test]
    fn permutation_equivariant((r, k) in group_and_k(), est in estimator(), seed in any::<u64>()) {
        // Apply a rotation + reversal derived from the seed; advantages must follow the samples.
        let n = r.len();
        let shift = (seed % n as u64) as usize;
        let perm: Vec<usize> = (0..n).map(|i| (n - 1 - i + shift) % n).collect();
        let permuted: Vec<f64> = perm.iter().map(|&j| r[j]).collect();
        let spec = Spec::new(est, k);
        let a = advantages(&r, spec).unwrap();
        let b = advantages(&permuted, spec).unwrap();
        for (i, &j) in perm.iter().enumerate() {
            // best-minus-second gives a top tie to nobody, so the winner is unique: equivariant.
            prop_assert!(close(b[i], a[j]), "{} sample {} moved to {}", est, j, i);
        }
    }

    #[test]
    fn shift_behaviour((r, k) in group_and_k(), est in estimator(), c in -3.0f64..3.0) {
        let (n, kf) = (r.len() as f64, k as f64);
        let shifted: Vec<f64> = r.iter().map(|x| x + c).collect();
        let a = advantages(&r, Spec::new(est, k)).unwrap();
        let b = advantages(&shifted, Spec::new(est, k)).unwrap();
        // u, v, w all move by c; EI at K=1 is r itself.
        let expected_shift = match est {
            Estimator::Pkpo => kf / n * c,
            Estimator::PkpoLoo => c * kf * (1.0 / n - 1.0 / (n - 1.0)),
            Estimator::Ei if k == 1 => c,
            Estimator::PkpoLoo1 if k == 1 => c / n,
            _ => 0.0,
        };
        for i in 0..r.len() {
            prop_assert!((b[i] - a[i] - expected_shift).abs() < 1e-11, "{} i={}", est, i);
        }
        let rho = max_at_k(&r, k).unwrap();
        prop_assert!((max_at_k(&shifted, k).unwrap() - rho - c).abs() < 1e-11);
    }

    #[test]
    fn positive_scaling((r, k) in group_and_k(), est in estimator(), lambda in 0.01f64..100.0) {
        let scaled: Vec<f64> = r.iter().map(|x| x * lambda).collect();
        let a = advantages(&r, Spec::new(est, k)).unwrap();
        let b = advantages(&scaled, Spec::new(est, k)).unwrap();
        let Some(degree) = est.homogeneity() else { return Ok(()) };
        for i in 0..r.len() {
            // GRPO and bon-mean divide by std + 1e-6, so they are scale invariant only up to
            // that epsilon, whose effect is about 1e-6 / std (bon-mean's s has K/N of the
            // rewards' spread, so it feels the epsilon more).
            let want = lambda.powi(degree as i32) * a[i];
            let tol = if degree == 0 { 1e-3 * (1.0 + want.abs()) } else { 1e-10 * (1.0 + want.abs()) };
            prop_assert!((b[i] - want).abs() <= tol, "{} i={} {} vs {}", est, i, b[i], want);
        }
    }

    #[test]
    fn centering((r, k) in group_and_k()) {
        let n = r.len() as f64;
        let kf = k as f64;
        for est in [Estimator::Maxpo, Estimator::Canonical, Estimator::Rloo, Estimator::DrGrpo, Estimator::Grpo] {
            let a = advantages(&r, Spec::new(est, k)).unwrap();
            prop_assert!(a.iter().sum::<f64>().abs() < 1e-12, "{} not centered: {}", est, a.iter().sum::<f64>());
        }
        // EI and s^(loo-1) are never negative and sum to N(rho_K - rho_{K-1}) and K(...) >= 0.
        let rho_k = reference::rho(&r, k);
        let rho_k1 = reference::rho(&r, k - 1);
        let ei = advantages(&r, Spec::new(Estimator::Ei, k)).unwrap();
        prop_assert!(ei.iter().all(|&x| k == 1 || x >= 0.0));
        prop_assert!(close(ei.iter().sum::<f64>(), n * (rho_k - rho_k1)));
        let loo1 = advantages(&r, Spec::new(Estimator::PkpoLoo1, k)).unwrap();
        prop_assert!(close(loo1.iter().sum::<f64>(), kf * (rho_k - rho_k1)));
        // pkpo sums to K rho, pkpo-loo to -K rho/(N-1).
        let pk = advantages(&r, Spec::new(Estimator::Pkpo, k)).unwrap();
        prop_assert!(close(pk.iter().sum::<f64>(), kf * rho_k));
        let loo = advantages(&r, Spec::new(Estimator::PkpoLoo, k)).unwrap();
        prop_assert!(close(loo.iter().sum::<f64>(), -kf * rho_k / (n - 1.0)));
    }

    #[test]
    fn binary_closed_forms(n in 3usize..40, c_frac in 0.0f64..=1.0, k_frac in 0.0f64..1.0) {
        let c = (c_frac * n as f64).round() as usize;
        let k = 1 + (k_frac * (n - 2) as f64) as usize; // 1 <= k <= n-1
        let r: Vec<f64> = (0..n).map(|i| if i < c { 1.0 } else { 0.0 }).collect();
        // rho = 1 - C(N-c,K)/C(N,K): the unbiased pass@K.
        let rho = max_at_k(&r, k).unwrap();
        prop_assert!(close(rho, 1.0 - ratio_same_k(n - c, n, k)));
        prop_assert!(close(rho, maxk_core::pass_at_k(n, c, k).unwrap()));
        // MaxPO: correct C(N-c,K)/C(N-1,K); incorrect C(N-1-c,K)/C(N-1,K) - C(N-1-c,K-1)/C(N-1,K-1).
        let a = advantages(&r, Spec::new(Estimator::Maxpo, k)).unwrap();
        let (pos, neg): (f64, f64) = if c == 0 || c == n {
            (0.0, 0.0)
        } else {
            let pos = ratio_same_k(n - c, n - 1, k) ;
            let neg = ratio_same_k(n - 1 - c, n - 1, k) - ratio_same_k(n - 1 - c, n - 1, k - 1);
            (pos, neg)
        };
        for i in 0..n {
            let want = if i < c { pos } else { neg };
            prop_assert!((a[i] - want).abs() < 1e-12, "i={} got {} want {}", i, a[i], want);
        }
        // Chen et al.'s analytic advantage is (N-K)/N maxpo / sigma, sigma = sqrt(R(1-R)).
        let chen = advantages(&r, Spec::new(Estimator::PasskAnalytic, k)).unwrap();
        let sigma = (rho * (1.0 - rho)).sqrt();
        for i in 0..n {
            let want = if sigma > 0.0 { (n - k) as f64 / n as f64 * a[i] / sigma } else { 0.0 };
            prop_assert!((chen[i] - want).abs() < 1e-9 * (1.0 + want.abs()), "i={} {} vs {}", i, chen[i], want);
        }
    }
}

#[test]
fn maxpo_at_k1_is_rloo_and_pg_maxpo_is_canonical() {
    let r: [f64; 6] = [0.3, -1.0, 2.5, 0.3, 0.9, 0.0];
    let maxpo1 = advantages(&r, Spec::new(Estimator::Maxpo, 1)).unwrap();
    let rloo = advantages(&r, Spec::new(Estimator::Rloo, 1)).unwrap();
    for k in 1..r.len() {
        let pg = advantages(&r, Spec::new(Estimator::Maxpo, k).with_scale(Scale::Pg)).unwrap();
        let canonical = advantages(&r, Spec::new(Estimator::Canonical, k)).unwrap();
        for i in 0..r.len() {
            assert!((pg[i] - canonical[i]).abs() < 1e-14, "k={k}");
        }
    }
    for i in 0..r.len() {
        assert!((maxpo1[i] - rloo[i]).abs() < 1e-14);
    }
}

#[test]
fn dr_grpo_with_std_scale_is_grpo() {
    let r: [f64; 6] = [0.3, -1.0, 2.5, 0.3, 0.9, 0.0];
    let a = advantages(&r, Spec::new(Estimator::DrGrpo, 1).with_scale(Scale::Std)).unwrap();
    let b = advantages(&r, Spec::new(Estimator::Grpo, 1)).unwrap();
    for i in 0..r.len() {
        assert!((a[i] - b[i]).abs() < 1e-14);
    }
}

#[test]
fn f32_matches_f64_to_f32_precision() {
    let r64 = [0.1, 0.9, 0.4, 0.4, 0.0, 0.7, 0.25, 0.6];
    let r32: Vec<f32> = r64.iter().map(|&x| x as f32).collect();
    for est in Estimator::ALL.into_iter().filter(|e| !e.needs_binary()) {
        let a = advantages(&r64, Spec::new(est, 3)).unwrap();
        let b = advantages(&r32, Spec::new(est, 3)).unwrap();
        for i in 0..r64.len() {
            // f32 rounding of inputs (~6e-8 relative) and output; estimators are O(1)-Lipschitz.
            assert!((a[i] - b[i] as f64).abs() < 1e-5, "{est} i={i}");
        }
    }
}
