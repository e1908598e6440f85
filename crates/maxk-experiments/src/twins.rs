//! Estimators that are identical at a scale: run once, drawn once, counted once.
//!
//! At the PG scale `pkpo-loo1` equals `ei` and `canonical` equals `maxpo` exactly
//! (docs/MATH.md, "Estimators in one basis"); a comparison that listed both would count one
//! estimator twice and draw one line under another. Rather than hard-code those pairs, two
//! specs are called twins when maxk-core gives them the same advantages (to rounding) on a
//! fixed set of probe groups: continuous rewards and binary rewards with every number of
//! successes, so a twin pair agrees on every reward family the experiments use.

use maxk_core::{Spec, Workspace};
use rand::Rng;

use crate::seeding::job_rng;

/// Continuous probe groups per class check.
const PROBES: usize = 24;
/// Relative tolerance of "the same advantages" (rounding of O(N) sums).
const TOL: f64 = 1e-10;

/// Probe reward groups of size `n`: [`PROBES`] with U(0, 1) rewards (some with ties) and one
/// binary group for every number of successes 0..=n.
fn probes(n: usize) -> Vec<Vec<f64>> {
    let mut rng = job_rng(0x7715, 0, n as u64, 0);
    let mut out: Vec<Vec<f64>> = (0..PROBES)
        .map(|i| {
            (0..n)
                .map(|_| {
                    let u: f64 = rng.r#gen();
                    if i % 3 == 0 { (u * 4.0).floor() / 4.0 } else { u }
                })
                .collect()
        })
        .collect();
    out.extend((0..=n).map(|c| (0..n).map(|i| if i < c { 1.0 } else { 0.0 }).collect()));
    out
}

/// Whether `a` and `b` give the same advantages on every probe group of size `n` (a probe
/// that one rejects and the other accepts makes them different; one both reject is skipped).
pub fn same(a: Spec, b: Spec, n: usize) -> bool {
    let mut ws = Workspace::new();
    let (mut x, mut y) = (vec![0.0; n], vec![0.0; n]);
    probes(n).iter().all(|r| {
        match (ws.advantages_into(r, a, &mut x).is_ok(), ws.advantages_into(r, b, &mut y).is_ok()) {
            (true, true) => {
                let scale = x.iter().chain(&y).fold(0.0f64, |m, v| m.max(v.abs())).max(1e-300);
                x.iter().zip(&y).all(|(u, v)| (u - v).abs() <= TOL * scale)
            }
            (false, false) => true,
            _ => false,
        }
    })
}

/// For each spec, the index of the first spec it is a twin of (itself when it has none
/// earlier): `classes(s, n)[i] == i` marks the specs to run.
pub fn classes(specs: &[Spec], n: usize) -> Vec<usize> {
    (0..specs.len()).map(|i| (0..i).find(|&j| same(specs[j], specs[i], n)).unwrap_or(i)).collect()
}

#[cfg(test)]
mod tests {
    use maxk_core::{Estimator, Scale};

    use super::*;

    #[test]
    fn the_known_twins_at_the_pg_scale_and_no_others() {
        let pg = |e| Spec::new(e, 4).with_scale(Scale::Pg);
        let ests = [
            Estimator::Grpo,
            Estimator::Rloo,
            Estimator::Pkpo,
            Estimator::PkpoLoo,
            Estimator::PkpoLoo1,
            Estimator::Ei,
            Estimator::Maxpo,
            Estimator::Canonical,
        ];
        let specs: Vec<Spec> = ests.iter().map(|&e| pg(e)).collect();
        assert_eq!(classes(&specs, 16), vec![0, 1, 2, 3, 4, 4, 6, 6]);
        // Without the PG scale, ei = (N/K) pkpo-loo1 and maxpo = (N/K) canonical: not twins.
        assert!(!same(Spec::new(Estimator::Ei, 4), Spec::new(Estimator::PkpoLoo1, 4), 16));
        // Scale changes the estimator: maxpo with std is not maxpo.
        assert!(!same(pg(Estimator::Maxpo), Spec::new(Estimator::Maxpo, 4).with_scale(Scale::Std), 16));
        // passk-analytic rejects continuous rewards: never the twin of one that accepts them.
        assert!(!same(pg(Estimator::PasskAnalytic), pg(Estimator::Maxpo), 16));
        // At K = 1 maxpo is rloo (MATH.md table).
        let k1 = |e| Spec::new(e, 1).with_scale(Scale::Pg);
        assert!(same(k1(Estimator::Maxpo), k1(Estimator::Rloo), 8));
    }
}
