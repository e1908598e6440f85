//! Huge groups: finite, centered and accurate where binomials themselves overflow f64.

// Comparing parallel arrays element by element reads clearest with an index.
#![allow(clippy::needless_range_loop)]

use maxk_core::{Estimator, Spec, advantages, binom::ratio_same_k, sum};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

#[test]
fn million_sample_groups_stay_finite_and_centered() {
    let n = 1_000_000;
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    // Continuous rewards with heavy ties: a tenth of the samples share the value 0.
    let r: Vec<f64> =
        (0..n).map(|_| if rng.gen_bool(0.1) { 0.0 } else { rng.gen_range(-1.0..1.0) }).collect();
    for k in [2usize, 64, 1000] {
        for est in [Estimator::Maxpo, Estimator::Canonical] {
            let a = advantages(&r, Spec::new(est, k)).unwrap();
            assert!(a.iter().all(|x| x.is_finite()), "{est} k={k} not finite");
            let total = sum::sum(a.iter().copied());
            let scale = sum::sum(a.iter().map(|x| x.abs()));
            // The bar: centered to 1e-9 relative to the advantages' total magnitude.
            assert!(total.abs() <= 1e-9 * scale, "{est} k={k}: sum {total} vs sum|A| {scale}");
        }
        let ei = advantages(&r, Spec::new(Estimator::Ei, k)).unwrap();
        assert!(ei.iter().all(|x| x.is_finite() && *x >= 0.0), "ei k={k}");
    }
}

#[test]
fn ten_million_binary_group_matches_closed_form() {
    // docs/MATH.md binary closed form, computed independently by ratio_same_k products; the kernel
    // uses a 10^7-step recurrence, whose rounding could compound to ~1e-9 relative in the worst
    // case: tolerance 1e-8 relative.
    let (n, c, k) = (10_000_000usize, 1_000usize, 256usize);
    let r: Vec<f64> = (0..n).map(|i| if i % (n / c) == 0 { 1.0 } else { 0.0 }).collect();
    let a = advantages(&r, Spec::new(Estimator::Maxpo, k)).unwrap();
    let pos = ratio_same_k(n - c, n - 1, k);
    let neg = ratio_same_k(n - 1 - c, n - 1, k) - ratio_same_k(n - 1 - c, n - 1, k - 1);
    assert!((a[0] - pos).abs() <= 1e-8 * pos.abs(), "{} vs {pos}", a[0]);
    assert!((a[1] - neg).abs() <= 1e-8 * neg.abs(), "{} vs {neg}", a[1]);
    let rho = maxk_core::max_at_k(&r, k).unwrap();
    assert!((rho - (1.0 - ratio_same_k(n - c, n, k))).abs() < 1e-12);
}
