//! The fast kernel against the brute-force reference twin, on random groups with ties, binary
//! rewards and every edge K (1, N-1, N).

// Comparing parallel arrays element by element reads clearest with an index.
#![allow(clippy::needless_range_loop)]

use maxk_core::{Estimator, Scale, Spec, advantages, reference};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Rewards drawn from a few levels so that ties are common.
fn group(rng: &mut ChaCha8Rng, n: usize, binary: bool) -> Vec<f64> {
    (0..n)
        .map(|_| if binary { rng.gen_range(0..2) as f64 } else { rng.gen_range(0..5) as f64 * 0.25 - 0.3 })
        .collect()
}

/// Both sides sum O(N) terms of size O(max |r|) in different orders; 1e-12 absolute on rewards
/// of order 1 leaves room for ~1e4 ulps and still catches any wrong coefficient.
const TOL: f64 = 1e-12;

#[test]
fn every_estimator_matches_brute_force() {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let mut checked = 0;
    for n in 1..=9 {
        for trial in 0..6 {
            let binary = trial % 2 == 0;
            let r = group(&mut rng, n, binary);
            for est in Estimator::ALL {
                for k in 1..=n {
                    for scale in Scale::ALL {
                        let spec = Spec::new(est, k).with_scale(scale);
                        if est.validate(n, k).is_err() || (est.needs_binary() && !binary) {
                            continue;
                        }
                        let fast = advantages(&r, spec).unwrap();
                        let slow = reference::advantages(&r, spec);
                        for i in 0..n {
                            assert!(
                                (fast[i] - slow[i]).abs() <= TOL,
                                "{est} k={k} scale={scale} r={r:?} i={i}: fast {} vs reference {}",
                                fast[i],
                                slow[i]
                            );
                        }
                        checked += 1;
                    }
                }
            }
        }
    }
    assert!(checked > 1000, "only {checked} cases checked");
}

#[test]
fn rho_matches_brute_force() {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    for n in 1..=10 {
        let r = group(&mut rng, n, false);
        for k in 1..=n {
            let fast = maxk_core::max_at_k(&r, k).unwrap();
            assert!((fast - reference::rho(&r, k)).abs() <= TOL, "n={n} k={k}");
        }
    }
}

#[test]
fn quadratic_baseline_matches_brute_force() {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    for n in 3..=9 {
        let r = group(&mut rng, n, false);
        for k in 2..n {
            let q = maxk_core::quadratic::maxpo(&r, k);
            let slow = reference::advantages(&r, Spec::new(Estimator::Maxpo, k));
            for i in 0..n {
                assert!((q[i] - slow[i]).abs() <= TOL, "n={n} k={k} i={i}");
            }
        }
    }
}
