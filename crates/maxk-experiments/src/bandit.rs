//! The categorical bandit: a softmax policy over A actions with fixed rewards, its exact max@K
//! objective and gradient, and the Monte Carlo gradient estimate of a batch.
//!
//! ## Closed form (order statistics of a discrete distribution)
//! Group the actions into reward levels `v_1 < ... < v_L` with probabilities `q_l` and CDF
//! `F_l = q_1 + ... + q_l` (ties share a level). The best of K i.i.d. draws is at most `v_l`
//! with probability `F_l^K`, so
//!
//! `J_K = sum_l v_l (F_l^K - F_{l-1}^K) = v_L - sum_{l<L} (v_{l+1} - v_l) F_l^K`.
//!
//! With `Q_K(a) = E[max(r_a, R_1..R_{K-1})] = v_L - sum_{l>=lambda(a)}^{L-1} (v_{l+1} - v_l) F_l^{K-1}`
//! (`lambda(a)` the level of action a), `dJ_K/dp_a = K Q_K(a)` and, through the softmax
//! `p = softmax(theta)`,
//!
//! `dJ_K/dtheta_a = K p_a (Q_K(a) - sum_b p_b Q_K(b))`
//!
//! (MATH.md, "Why it works": `E[Q_K(y) grad log pi(y)] = grad J_K / K`). Every sum is of
//! non-negative gap terms, so nothing cancels.
//!
//! ## Monte Carlo
//! A batch is N i.i.d. actions; with advantages `A_i` from maxk-core at the PG scale, its
//! gradient estimate is `g = sum_i A_i grad log pi(a_i) = sum_i A_i (e_{a_i} - p)`, stored
//! sparsely as `c = sum_i A_i e_{a_i}` and `S = sum_i A_i` (`g = c - S p`), so a batch costs
//! O(N) whatever A.

use maxk_core::{Spec, Workspace};
use rand::Rng;

use crate::error::Result;

/// Largest standard deviation of random logits: a Box-Muller draw from 53-bit uniforms is
/// below 9 in magnitude, so logits stay far from overflow.
pub const MAX_LOGIT_STD: f64 = 100.0;

/// A softmax policy over A actions with a fixed reward per action.
#[derive(Debug, Clone, PartialEq)]
pub struct Bandit {
    probs: Vec<f64>,
    rewards: Vec<f64>,
    cdf: Vec<f64>,
}

impl Bandit {
    /// The policy `softmax(logits)` with `rewards[a]` for action a. Returns `None` when the
    /// lengths differ, are zero, or a value is not finite.
    pub fn new(logits: &[f64], rewards: &[f64]) -> Option<Bandit> {
        let finite = logits.iter().chain(rewards).all(|v| v.is_finite());
        if logits.len() != rewards.len() || logits.is_empty() || !finite {
            return None;
        }
        Some(Bandit::softmax(logits, rewards.to_vec()))
    }

    /// `new` without the checks: `logits` non-empty and finite, as long as `rewards`.
    fn softmax(logits: &[f64], rewards: Vec<f64>) -> Bandit {
        let max = logits.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let w: Vec<f64> = logits.iter().map(|l| (l - max).exp()).collect();
        let z: f64 = w.iter().sum();
        let probs: Vec<f64> = w.iter().map(|x| x / z).collect();
        let mut acc = 0.0;
        let cdf = probs
            .iter()
            .map(|p| {
                acc += p;
                acc
            })
            .collect();
        Bandit { probs, rewards, cdf }
    }

    /// A random instance: logits `theta_a ~ N(0, logit_std^2)`, rewards `r_a ~ U(0, 1)`.
    /// `actions >= 1` and `0 <= logit_std <= MAX_LOGIT_STD` (the config checks both), so
    /// every logit is finite.
    pub fn random(actions: usize, logit_std: f64, rng: &mut impl Rng) -> Bandit {
        let logits: Vec<f64> =
            (0..actions.max(1)).map(|_| logit_std.min(MAX_LOGIT_STD) * standard_normal(rng)).collect();
        let rewards: Vec<f64> = (0..logits.len()).map(|_| rng.r#gen::<f64>()).collect();
        Bandit::softmax(&logits, rewards)
    }

    /// The same policy with binary rewards: the `ceil(fraction * A)` best actions get 1 (ties
    /// by index), the others 0; J_K is then pass@K.
    pub fn binary(&self, fraction: f64) -> Bandit {
        let a = self.rewards.len();
        let correct = ((fraction * a as f64).ceil() as usize).clamp(1, a);
        let mut order: Vec<usize> = (0..a).collect();
        order.sort_by(|&i, &j| self.rewards[j].total_cmp(&self.rewards[i]).then(i.cmp(&j)));
        let mut rewards = vec![0.0; a];
        for &i in &order[..correct] {
            rewards[i] = 1.0;
        }
        Bandit { rewards, ..self.clone() }
    }

    /// Action probabilities p.
    pub fn probs(&self) -> &[f64] {
        &self.probs
    }

    /// Rewards per action.
    pub fn rewards(&self) -> &[f64] {
        &self.rewards
    }

    /// Reward levels ascending with their CDF `F_l`, and the level of each action.
    fn levels(&self) -> (Vec<f64>, Vec<f64>, Vec<usize>) {
        let mut order: Vec<usize> = (0..self.rewards.len()).collect();
        order.sort_by(|&i, &j| self.rewards[i].total_cmp(&self.rewards[j]));
        let (mut values, mut cdf) = (Vec::new(), Vec::new());
        let mut level = vec![0; self.rewards.len()];
        let mut acc = 0.0;
        for &i in &order {
            if values.last() != Some(&self.rewards[i]) {
                values.push(self.rewards[i]);
                cdf.push(acc);
            }
            acc += self.probs[i];
            *cdf.last_mut().unwrap_or_else(|| unreachable!("pushed above")) = acc;
            level[i] = values.len() - 1;
        }
        (values, cdf, level)
    }

    /// The exact `J_K = E[max of K i.i.d. rewards]` (module docs). `k >= 1`.
    pub fn objective(&self, k: usize) -> f64 {
        let (v, f, _) = self.levels();
        let l = v.len();
        v[l - 1] - (0..l - 1).map(|j| (v[j + 1] - v[j]) * f[j].powi(k as i32)).sum::<f64>()
    }

    /// `Q_K(a) = E[max(r_a, R_1..R_{K-1})]` for every action (`Q_1(a) = r_a`). `k >= 1`.
    pub fn q_values(&self, k: usize) -> Vec<f64> {
        let (v, f, level) = self.levels();
        let l = v.len();
        // tail[j] = sum_{m >= j}^{L-1} (v_{m+1} - v_m) F_m^{K-1}
        let mut tail = vec![0.0; l];
        for j in (0..l - 1).rev() {
            tail[j] = tail[j + 1] + (v[j + 1] - v[j]) * f[j].powi(k as i32 - 1);
        }
        level.iter().map(|&j| v[l - 1] - tail[j]).collect()
    }

    /// The exact `grad_theta J_K = K p_a (Q_K(a) - sum_b p_b Q_K(b))` (module docs). `k >= 1`.
    pub fn gradient(&self, k: usize) -> Vec<f64> {
        let q = self.q_values(k);
        let mean: f64 = q.iter().zip(&self.probs).map(|(q, p)| q * p).sum();
        q.iter().zip(&self.probs).map(|(q, p)| k as f64 * p * (q - mean)).collect()
    }

    /// One action drawn from p (inverse CDF).
    pub fn sample(&self, rng: &mut impl Rng) -> usize {
        let u = rng.r#gen::<f64>() * self.cdf[self.cdf.len() - 1];
        self.cdf.partition_point(|&c| c <= u).min(self.probs.len() - 1)
    }
}

/// A standard normal draw (Box-Muller; rand 0.8 has no normal without `rand_distr`).
pub fn standard_normal(rng: &mut impl Rng) -> f64 {
    let u1: f64 = 1.0 - rng.r#gen::<f64>(); // (0, 1]
    let u2: f64 = rng.r#gen();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// Running statistics of one estimator's batch gradients `g = c - S p` (module docs):
/// their sum (for the mean) and sum of squared norms (for the trace of the covariance).
#[derive(Debug, Clone)]
pub struct GradientStats {
    sum_c: Vec<f64>,
    sum_s: f64,
    sum_sq: f64,
    count: usize,
    /// Largest `|sum_i A_i| / max_i |A_i|` seen (how far from exactly centered).
    pub max_rel_sum: f64,
    /// Sum over batches of `sum_i A_i / max_i |A_i|` (mean relative sum of the advantages).
    pub sum_rel_sum: f64,
    scratch: Vec<f64>,
    touched: Vec<usize>,
    /// Unit direction `u` whose projection `<g, u>` is tracked, with `<p, u>`.
    direction: Option<(Vec<f64>, f64)>,
    sum_proj: f64,
    sum_proj_sq: f64,
}

impl GradientStats {
    /// Empty statistics for A actions.
    pub fn new(actions: usize) -> GradientStats {
        GradientStats {
            sum_c: vec![0.0; actions],
            sum_s: 0.0,
            sum_sq: 0.0,
            count: 0,
            max_rel_sum: 0.0,
            sum_rel_sum: 0.0,
            scratch: vec![0.0; actions],
            touched: Vec::new(),
            direction: None,
            sum_proj: 0.0,
            sum_proj_sq: 0.0,
        }
    }

    /// Also tracks the projection `<g, u>` of every batch gradient on `direction / ||direction||`
    /// (a zero direction tracks nothing), for [`GradientStats::projection_var`].
    pub fn with_direction(mut self, direction: &[f64], probs: &[f64]) -> GradientStats {
        let len = norm(direction);
        if len > 0.0 {
            let u: Vec<f64> = direction.iter().map(|x| x / len).collect();
            let pu = u.iter().zip(probs).map(|(a, b)| a * b).sum();
            self.direction = Some((u, pu));
        }
        self
    }

    /// Adds the batch `actions` with advantages `adv` under the policy `probs`
    /// (`p_sq = ||p||^2`).
    pub fn add(&mut self, actions: &[usize], adv: &[f64], probs: &[f64], p_sq: f64) {
        let mut s = 0.0;
        let mut amax: f64 = 0.0;
        for (&a, &x) in actions.iter().zip(adv) {
            if self.scratch[a] == 0.0 && !self.touched.contains(&a) {
                self.touched.push(a);
            }
            self.scratch[a] += x;
            s += x;
            amax = amax.max(x.abs());
        }
        // ||c - S p||^2 = sum_a c_a^2 - 2 S sum_a c_a p_a + S^2 ||p||^2
        let (mut cc, mut cp, mut cu) = (0.0, 0.0, 0.0);
        for &a in &self.touched {
            let c = self.scratch[a];
            cc += c * c;
            cp += c * probs[a];
            if let Some((u, _)) = &self.direction {
                cu += c * u[a];
            }
            self.sum_c[a] += c;
            self.scratch[a] = 0.0;
        }
        self.touched.clear();
        self.sum_sq += cc - 2.0 * s * cp + s * s * p_sq;
        if let Some((_, pu)) = &self.direction {
            let proj = cu - s * pu;
            self.sum_proj += proj;
            self.sum_proj_sq += proj * proj;
        }
        self.sum_s += s;
        self.count += 1;
        if amax > 0.0 {
            self.max_rel_sum = self.max_rel_sum.max((s / amax).abs());
            self.sum_rel_sum += s / amax;
        }
    }

    /// Number of batches added.
    pub fn count(&self) -> usize {
        self.count
    }

    /// The mean gradient estimate over the batches so far.
    pub fn mean(&self, probs: &[f64]) -> Vec<f64> {
        let n = self.count.max(1) as f64;
        self.sum_c.iter().zip(probs).map(|(c, p)| (c - self.sum_s * p) / n).collect()
    }

    /// Unbiased estimate of `trace Cov(g)` (sum of per-coordinate variances), `>= 0`.
    pub fn trace_cov(&self, probs: &[f64]) -> f64 {
        if self.count < 2 {
            return f64::NAN;
        }
        let n = self.count as f64;
        let mean_sq: f64 = self.mean(probs).iter().map(|x| x * x).sum();
        ((self.sum_sq - n * mean_sq) / (n - 1.0)).max(0.0)
    }

    /// Unbiased estimate of `Var(<g, u>)` along the tracked direction (NaN without one or with
    /// fewer than two batches). `trace_cov - projection_var` is the variance orthogonal to u.
    pub fn projection_var(&self) -> f64 {
        if self.count < 2 || self.direction.is_none() {
            return f64::NAN;
        }
        let n = self.count as f64;
        let mean = self.sum_proj / n;
        ((self.sum_proj_sq - n * mean * mean) / (n - 1.0)).max(0.0)
    }
}

/// Draws batches of size N from `bandit` and feeds every estimator's gradient into its
/// [`GradientStats`]; all estimators see the same batches (common random numbers).
#[derive(Debug)]
pub struct BatchRunner<'a> {
    bandit: &'a Bandit,
    specs: Vec<Spec>,
    factors: Vec<f64>,
    p_sq: f64,
    actions: Vec<usize>,
    rewards: Vec<f64>,
    adv: Vec<f64>,
    ws: Workspace,
}

impl<'a> BatchRunner<'a> {
    /// A runner for `specs` (one per estimator) on batches of `n` actions.
    pub fn new(bandit: &'a Bandit, specs: Vec<Spec>, n: usize) -> BatchRunner<'a> {
        let p_sq = bandit.probs.iter().map(|p| p * p).sum();
        BatchRunner {
            bandit,
            factors: vec![1.0; specs.len()],
            specs,
            p_sq,
            actions: vec![0; n],
            rewards: vec![0.0; n],
            adv: vec![0.0; n],
            ws: Workspace::new(),
        }
    }

    /// The same runner with spec i's advantages multiplied by `factors[i]` (missing ones stay 1).
    pub fn with_factors(mut self, factors: &[f64]) -> BatchRunner<'a> {
        for (f, x) in self.factors.iter_mut().zip(factors) {
            *f = *x;
        }
        self
    }

    /// One batch: sample, compute every estimator's advantages with maxk-core, accumulate.
    pub fn step(&mut self, rng: &mut impl Rng, stats: &mut [GradientStats]) -> Result<()> {
        for (a, r) in self.actions.iter_mut().zip(self.rewards.iter_mut()) {
            *a = self.bandit.sample(rng);
            *r = self.bandit.rewards[*a];
        }
        for ((spec, f), st) in self.specs.iter().zip(&self.factors).zip(stats.iter_mut()) {
            self.ws.advantages_into(&self.rewards, *spec, &mut self.adv)?;
            if *f != 1.0 {
                self.adv.iter_mut().for_each(|a| *a *= f);
            }
            st.add(&self.actions, &self.adv, &self.bandit.probs, self.p_sq);
        }
        Ok(())
    }
}

/// Euclidean norm.
pub fn norm(v: &[f64]) -> f64 {
    v.iter().map(|x| x * x).sum::<f64>().sqrt()
}

/// `||a - b||`.
pub fn distance(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y).powi(2)).sum::<f64>().sqrt()
}

#[cfg(test)]
mod tests {
    use maxk_core::{Estimator, Scale};
    use rand::SeedableRng;

    use super::*;

    fn small() -> Bandit {
        // Ties on purpose: actions 1 and 3 share a reward level.
        Bandit::new(&[0.3, -0.5, 1.1, 0.2], &[0.2, 0.7, 0.1, 0.7]).unwrap()
    }

    /// J_K and the expected batch gradient by enumerating every K-tuple / N-tuple.
    fn enumerate(b: &Bandit, len: usize, mut f: impl FnMut(&[usize], f64)) {
        let a = b.probs.len();
        let mut idx = vec![0usize; len];
        for code in 0..a.pow(len as u32) {
            let mut c = code;
            for slot in idx.iter_mut() {
                *slot = c % a;
                c /= a;
            }
            let prob: f64 = idx.iter().map(|&i| b.probs[i]).product();
            f(&idx, prob);
        }
    }

    #[test]
    fn objective_matches_enumeration_of_k_tuples() {
        // Both sides are sums of at most 4^4 products of O(1) terms: rounding only, so 1e-14.
        let b = small();
        for k in 1..=4 {
            let mut exact = 0.0;
            enumerate(&b, k, |t, p| exact += p * t.iter().map(|&i| b.rewards[i]).fold(f64::MIN, f64::max));
            assert!((b.objective(k) - exact).abs() < 1e-14, "k={k}: {} vs {exact}", b.objective(k));
        }
        assert!(
            (b.objective(1) - b.probs.iter().zip(&b.rewards).map(|(p, r)| p * r).sum::<f64>()).abs() < 1e-15
        );
    }

    #[test]
    fn gradient_matches_enumeration_of_k_tuples() {
        // Score-function identity, summed exactly over all A^K tuples (no maxk-core involved):
        // grad J_K = E[max_j r_{a_j} * sum_j (e_{a_j} - p)]. Only rounding separates the two, so
        // 1e-13 (about 100 ulps of the O(1) terms summed over <= 4^4 tuples).
        let b = small();
        for k in 1..=4 {
            let mut expect = [0.0; 4];
            enumerate(&b, k, |t, p| {
                let best = t.iter().map(|&i| b.rewards[i]).fold(f64::MIN, f64::max);
                for &i in t {
                    expect[i] += p * best;
                }
                for (e, q) in expect.iter_mut().zip(&b.probs) {
                    *e -= p * best * k as f64 * q;
                }
            });
            let g = b.gradient(k);
            assert!(distance(&g, &expect) < 1e-13, "k={k}: {g:?} vs {expect:?}");
        }
    }

    #[test]
    fn gradient_matches_finite_differences() {
        let logits = [0.3, -0.5, 1.1, 0.2, -1.0];
        let rewards = [0.2, 0.7, 0.1, 0.7, 0.95];
        // Central differences: truncation O(h^2) ~ 1e-12, rounding ~ eps / h ~ 1e-10; 1e-8
        // leaves room for both yet catches any wrong term (gradients here are O(0.1)).
        let h = 1e-6;
        for k in [1, 2, 3, 7] {
            let g = Bandit::new(&logits, &rewards).unwrap().gradient(k);
            for a in 0..logits.len() {
                let mut up = logits;
                let mut down = logits;
                up[a] += h;
                down[a] -= h;
                let fd = (Bandit::new(&up, &rewards).unwrap().objective(k)
                    - Bandit::new(&down, &rewards).unwrap().objective(k))
                    / (2.0 * h);
                assert!((g[a] - fd).abs() < 1e-8, "k={k} a={a}: {} vs {fd}", g[a]);
            }
        }
    }

    #[test]
    fn expected_batch_gradient_is_exact_for_unbiased_estimators() {
        // E[sum_i A_i (e_{a_i} - p)] over all 4^4 batches of N = 4 actions, K = 2: exact sums,
        // so unbiased estimators agree to rounding (1e-12 relative); grpo must miss by > 5%.
        let b = small();
        let (n, k) = (4, 2);
        let truth = b.gradient(k);
        let mut ws = Workspace::new();
        let mut grpo_bias: f64 = 0.0;
        // The unbiased max@K estimators of the registry, and grpo as the biased control.
        let unbiased = Estimator::ALL.into_iter().filter(|e| e.uses_k() && e.is_unbiased());
        for est in unbiased.chain([Estimator::Grpo]) {
            let spec = Spec::new(est, k).with_scale(Scale::Pg);
            let mut expect = vec![0.0; 4];
            enumerate(&b, n, |batch, p| {
                let r: Vec<f64> = batch.iter().map(|&i| b.rewards[i]).collect();
                let mut adv = vec![0.0; n];
                ws.advantages_into(&r, spec, &mut adv).unwrap();
                let s: f64 = adv.iter().sum();
                for (&a, x) in batch.iter().zip(&adv) {
                    expect[a] += p * x;
                }
                for (e, q) in expect.iter_mut().zip(&b.probs) {
                    *e -= p * s * q;
                }
            });
            let err = distance(&expect, &truth) / norm(&truth);
            if est == Estimator::Grpo {
                grpo_bias = err;
            } else {
                assert!(err < 1e-12, "{est}: relative error {err}");
            }
        }
        assert!(grpo_bias > 0.05, "grpo should be biased, relative error {grpo_bias}");
    }

    #[test]
    fn binary_variant_is_pass_at_k() {
        let b = Bandit::random(10, 1.0, &mut rand_chacha::ChaCha8Rng::seed_from_u64(3)).binary(0.3);
        assert_eq!(b.rewards.iter().filter(|r| **r == 1.0).count(), 3);
        let s: f64 = b.probs.iter().zip(&b.rewards).map(|(p, r)| p * r).sum();
        for k in 1..5 {
            assert!((b.objective(k) - (1.0 - (1.0 - s).powi(k as i32))).abs() < 1e-14);
        }
    }

    #[test]
    fn sampling_follows_the_policy_and_stats_match_direct_computation() {
        let b = small();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let mut counts = [0usize; 4];
        for _ in 0..200_000 {
            counts[b.sample(&mut rng)] += 1;
        }
        // Standard error of a frequency over 200000 draws is <= 0.0012: 0.005 is > 4 of them.
        for (c, p) in counts.iter().zip(&b.probs) {
            assert!((*c as f64 / 200_000.0 - p).abs() < 0.005, "{c} vs {p}");
        }
        // GradientStats against dense vectors.
        let mut st = GradientStats::new(4);
        let p_sq: f64 = b.probs.iter().map(|p| p * p).sum();
        let batches = [(vec![1, 1, 2], vec![0.5, -0.25, 1.0]), (vec![0, 3, 3], vec![-1.0, 2.0, 0.5])];
        let dense: Vec<Vec<f64>> = batches
            .iter()
            .map(|(a, x)| {
                let s: f64 = x.iter().sum();
                let mut g: Vec<f64> = b.probs.iter().map(|p| -s * p).collect();
                for (&i, v) in a.iter().zip(x) {
                    g[i] += v;
                }
                g
            })
            .collect();
        for (a, x) in &batches {
            st.add(a, x, &b.probs, p_sq);
        }
        let mean: Vec<f64> = (0..4).map(|i| (dense[0][i] + dense[1][i]) / 2.0).collect();
        assert!(distance(&st.mean(&b.probs), &mean) < 1e-15);
        let tr: f64 = (0..4).map(|i| (dense[0][i] - mean[i]).powi(2) + (dense[1][i] - mean[i]).powi(2)).sum();
        assert!((st.trace_cov(&b.probs) - tr).abs() < 1e-14);
        assert!((st.max_rel_sum - 1.25).abs() < 1e-15); // batch 1: sum 1.25, max |A| 1.0
        // The projection variance along u = e_2 is the variance of the dense coordinate 2.
        let mut st = GradientStats::new(4).with_direction(&[0.0, 0.0, 3.0, 0.0], &b.probs);
        for (a, x) in &batches {
            st.add(a, x, &b.probs, p_sq);
        }
        let var2 = (dense[0][2] - mean[2]).powi(2) + (dense[1][2] - mean[2]).powi(2);
        assert!((st.projection_var() - var2).abs() < 1e-14, "{} vs {var2}", st.projection_var());
    }
}
