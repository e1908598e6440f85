//! The exact binary-reward gradient variance lives in `maxk_core::exact_variance` (shared with
//! `maxk plan`); this module checks it against the bandit's Monte Carlo gradients.

pub use maxk_core::exact_variance::{Moments, TwoClass, moments};

#[cfg(test)]
mod tests {
    use maxk_core::{Estimator, Scale, Spec};

    use super::*;
    use crate::bandit::{Bandit, BatchRunner, GradientStats};
    use crate::seeding::job_rng;
    use crate::stats::Ci;

    #[test]
    fn monte_carlo_agrees_with_the_exact_variance() {
        // 32 seeds x 2000 batches of the uniform two-class policy: each seed's trace estimate is
        // unbiased, so their mean must lie within 4 standard errors of the exact value.
        let (actions, p, n, k) = (64, 0.1, 16, 4);
        let policy = TwoClass::uniform(actions, p);
        let (probs, rewards) = TwoClass::uniform_policy(actions, p);
        let logits: Vec<f64> = probs.iter().map(|q| q.ln()).collect();
        let bandit = Bandit::new(&logits, &rewards).unwrap();
        let ests = [Estimator::Maxpo, Estimator::Ei];
        let specs: Vec<Spec> = ests.iter().map(|&e| Spec::new(e, k).with_scale(Scale::Pg)).collect();
        let mut per_seed = vec![Vec::new(); ests.len()];
        for seed in 0..32 {
            let mut rng = job_rng(5, 5, 5, seed);
            let mut runner = BatchRunner::new(&bandit, specs.clone(), n);
            let mut stats: Vec<GradientStats> = ests.iter().map(|_| GradientStats::new(actions)).collect();
            for _ in 0..2000 {
                runner.step(&mut rng, &mut stats).unwrap();
            }
            for (v, st) in per_seed.iter_mut().zip(&stats) {
                v.push(st.trace_cov(bandit.probs()));
            }
        }
        for (est, (spec, v)) in ests.iter().zip(specs.iter().zip(&per_seed)) {
            let exact = moments(&policy, *spec, n).unwrap().unwrap().trace_cov;
            let ci = Ci::of(v);
            let se = (ci.hi - ci.mean) / crate::stats::t975(v.len() - 1);
            assert!((ci.mean - exact).abs() < 4.0 * se, "{est}: exact {exact}, Monte Carlo {ci:?}");
            assert!(se < 0.02 * exact, "{est}: the check is too weak, se {se} vs {exact}");
        }
    }
}
