//! Gradient variance of every estimator from the same rollouts (the paper's Fig. 3 without
//! the trajectory confound).
//!
//! At a fixed checkpoint (the base model, a mid-RL policy), `M` independent rollout batches
//! are drawn for one fixed set of `P` prompts, `N` samples each at the rollout temperature.
//! For every batch and every estimator the policy-gradient estimate at the PG scale
//! ([`maxk_core::Scale::Pg`], so that `c sum_i A_i grad log pi(y_i)` estimates the gradient of
//! the estimator's own objective) is
//!
//! `g = (1/P) sum_groups sum_i A_i grad log pi(y_i)`,  `log pi(y) = sum_t log pi(y_t | y_<t)`,
//!
//! computed by back-propagation through the engine ([`Policy::gradients`] of
//! `sum_{b,t} w[b,t] logp[b,t]` with `w = mask * A_b / P`), unclipped, with no optimiser in
//! between. Every estimator
//! sees the same rewards, so differences in spread are due to the estimator alone.
//!
//! The trace of the covariance, `tr Cov(g) = E||g - E g||^2`, is estimated without bias from
//! the `M/2` disjoint pairs of independent batches: `d_j = ||g_{2j} - g_{2j+1}||^2 / 2` has
//! expectation `tr Cov(g)`, and the interval is `mean(d) +- 1.96 sd(d)/sqrt(M/2)`. The ratio of
//! two estimators' traces is paired (same rollouts) with a delta-method interval.

use std::path::PathBuf;
use std::time::Instant;

use maxk_core::{Estimator, Scale, Spec, batch_advantages};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::backend::OnBackend;
use crate::checkpoint;
use crate::config::LmConfig;
use crate::diagnostics::progress_bar;
use crate::engine::{Engine, Policy, TokenBatch};
use crate::error::{Result, TrainerError};
use crate::eval::held_out;
use crate::sampling::sample;
use crate::tasks::{Problem, TrainSampler, score};
use crate::vocab::encode_prompt;

/// `maxk lm gradvar`: the study over checkpoints and estimators.
#[derive(Debug, Clone)]
pub struct GradVar {
    /// Model, tasks, group size N, training K and rollout sampling.
    pub cfg: LmConfig,
    /// Checkpoints: (label, weights path).
    pub checkpoints: Vec<(String, PathBuf)>,
    /// Estimators compared on the same rollouts.
    pub estimators: Vec<Estimator>,
    /// Independent rollout batches M (even, >= 4).
    pub batches: usize,
    /// Fixed prompts P per batch.
    pub prompts: usize,
    /// Show progress bars.
    pub progress: bool,
}

/// One estimator at one checkpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GradVarRow {
    /// Checkpoint label.
    pub checkpoint: String,
    /// Estimator id.
    pub estimator: String,
    /// Estimate of `tr Cov(g)` (mean of the pair statistics).
    pub trace: f64,
    /// Half-width of its 95% interval.
    pub trace_ci: f64,
    /// `||mean g||^2` over the M batches (the signal; biased upwards by `tr Cov / M`).
    pub mean_grad_sq: f64,
    /// Fraction of batches whose gradient was exactly zero (no group with signal).
    pub zero_batches: f64,
    /// Mean reward of the rollouts (the same for every estimator at a checkpoint).
    pub reward_mean: f64,
}

/// A paired ratio of traces at one checkpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TraceRatio {
    /// Checkpoint label.
    pub checkpoint: String,
    /// Numerator estimator.
    pub estimator: String,
    /// Denominator estimator.
    pub reference: String,
    /// `trace(estimator) / trace(reference)`.
    pub ratio: f64,
    /// Half-width of its 95% delta-method interval (pairs shared by both estimators).
    pub ci: f64,
}

/// Everything [`GradVar`] measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GradVarResults {
    /// The config (group size, K, sampling, model).
    pub config: LmConfig,
    /// M.
    pub batches: usize,
    /// P.
    pub prompts: usize,
    /// One row per checkpoint and estimator.
    pub rows: Vec<GradVarRow>,
    /// Every estimator against the first one (MaxPO when listed first), per checkpoint.
    pub ratios: Vec<TraceRatio>,
    /// Wall time.
    pub seconds: f64,
}

/// Mean and 95% half-width of `d` (normal approximation).
pub fn mean_ci(d: &[f64]) -> (f64, f64) {
    let n = d.len() as f64;
    if d.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let m = d.iter().sum::<f64>() / n;
    let var = d.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0).max(1.0);
    (m, 1.96 * (var / n).sqrt())
}

/// `mean(a)/mean(b)` with the 95% half-width of the delta method for paired samples:
/// `Var(r) ~ (Var a/mb^2 - 2 ma Cov(a,b)/mb^3 + ma^2 Var b/mb^4) / n`.
pub fn ratio_ci(a: &[f64], b: &[f64]) -> (f64, f64) {
    let n = a.len().min(b.len()) as f64;
    if n < 2.0 {
        return (f64::NAN, f64::NAN);
    }
    let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
    let (mut va, mut vb, mut cab) = (0.0, 0.0, 0.0);
    for (x, y) in a.iter().zip(b) {
        va += (x - ma).powi(2);
        vb += (y - mb).powi(2);
        cab += (x - ma) * (y - mb);
    }
    let d = n - 1.0;
    let (va, vb, cab) = (va / d, vb / d, cab / d);
    let var = (va / mb.powi(2) - 2.0 * ma * cab / mb.powi(3) + ma.powi(2) * vb / mb.powi(4)) / n;
    (ma / mb, 1.96 * var.max(0.0).sqrt())
}

impl GradVar {
    fn check(&self) -> Result<()> {
        self.cfg.validate()?;
        if self.batches < 4 || self.batches % 2 != 0 {
            return Err(TrainerError::Config(format!("batches {} must be even and >= 4", self.batches)));
        }
        if self.prompts == 0 || self.estimators.is_empty() || self.checkpoints.is_empty() {
            return Err(TrainerError::Config("prompts, estimators and checkpoints must be non-empty".into()));
        }
        for e in &self.estimators {
            e.validate(self.cfg.rl.group_size, self.cfg.rl.k)?;
        }
        Ok(())
    }
}

impl OnBackend for GradVar {
    type Output = GradVarResults;

    fn run<E: Engine>(self, engine: E) -> Result<GradVarResults> {
        self.check()?;
        let start = Instant::now();
        let cfg = &self.cfg;
        let n = cfg.rl.group_size;
        let sampler = TrainSampler::new(cfg.task_list()?, &held_out(cfg)?);
        let mut prompt_rng = ChaCha8Rng::seed_from_u64(cfg.seed ^ 0x6a7d_0001);
        let problems: Vec<Problem> = (0..self.prompts).map(|_| sampler.sample(&mut prompt_rng)).collect();
        let mut prompts = Vec::with_capacity(problems.len() * n);
        for p in &problems {
            prompts.extend(std::iter::repeat_n(encode_prompt(&p.prompt)?, n));
        }
        let specs: Vec<Spec> =
            self.estimators.iter().map(|&e| Spec::new(e, cfg.rl.k).with_scale(Scale::Pg)).collect();
        let (mut rows, mut ratios) = (Vec::new(), Vec::new());
        for (label, path) in &self.checkpoints {
            let weights = checkpoint::load_weights(path, &cfg.model)?;
            let mut policy = engine.frozen(&weights)?;
            let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed ^ 0x6a7d_0002);
            let bar = progress_bar(self.progress, self.batches, &format!("gradvar {label}"));
            let e_count = specs.len();
            let mut pairs: Vec<Vec<f64>> = vec![Vec::new(); e_count];
            let mut sums: Vec<Vec<f64>> = vec![Vec::new(); e_count];
            let mut prev: Vec<Vec<f64>> = vec![Vec::new(); e_count];
            let mut zero = vec![0usize; e_count];
            let mut reward_total = 0.0;
            for m in 0..self.batches {
                let completions = sample(&mut policy, &prompts, &cfg.rl.sampling, &mut rng);
                let rewards = score(&problems, &completions, n);
                reward_total += rewards.iter().sum::<f64>() / rewards.len() as f64;
                let (batch, mask) = TokenBatch::padded(&prompts, &completions);
                for (e, spec) in specs.iter().enumerate() {
                    let adv = batch_advantages(&rewards, n, *spec)?;
                    let g = if adv.iter().all(|&a| a == 0.0) {
                        zero[e] += 1;
                        vec![0.0; cfg.model.num_params()]
                    } else {
                        policy_gradient(&mut policy, &batch, &mask, &adv, self.prompts)?
                    };
                    if sums[e].is_empty() {
                        sums[e] = vec![0.0; g.len()];
                    }
                    sums[e].iter_mut().zip(&g).for_each(|(s, x)| *s += x);
                    if m % 2 == 1 {
                        let d: f64 = g.iter().zip(&prev[e]).map(|(a, b)| (a - b).powi(2)).sum::<f64>() / 2.0;
                        pairs[e].push(d);
                    }
                    prev[e] = g;
                }
                bar.inc(1);
            }
            bar.finish_and_clear();
            let mf = self.batches as f64;
            for (e, est) in self.estimators.iter().enumerate() {
                let (trace, trace_ci) = mean_ci(&pairs[e]);
                rows.push(GradVarRow {
                    checkpoint: label.clone(),
                    estimator: est.id().into(),
                    trace,
                    trace_ci,
                    mean_grad_sq: sums[e].iter().map(|s| (s / mf).powi(2)).sum(),
                    zero_batches: zero[e] as f64 / mf,
                    reward_mean: reward_total / mf,
                });
                let (ratio, ci) = ratio_ci(&pairs[e], &pairs[0]);
                ratios.push(TraceRatio {
                    checkpoint: label.clone(),
                    estimator: est.id().into(),
                    reference: self.estimators[0].id().into(),
                    ratio,
                    ci,
                });
            }
        }
        Ok(GradVarResults {
            config: self.cfg,
            batches: self.batches,
            prompts: self.prompts,
            rows,
            ratios,
            seconds: start.elapsed().as_secs_f64(),
        })
    }
}

/// `(1/P) sum_i A_i grad log pi(y_i)` as one flat vector (parameter order of
/// [`crate::model::ModelConfig::param_specs`]): the engine's gradient of
/// `sum_{b,t} w[b,t] logp[b,t]` with `w[b,t] = mask[b,t] A_b / P`.
fn policy_gradient<P: Policy>(
    policy: &mut P,
    batch: &TokenBatch,
    mask: &[f32],
    adv: &[f64],
    prompts: usize,
) -> Result<Vec<f64>> {
    let width = batch.cols - 1;
    policy.forward_train(batch);
    let weight: Vec<f32> =
        (0..batch.rows * width).map(|j| mask[j] * (adv[j / width] / prompts as f64) as f32).collect();
    let grads = policy.gradients(&weight)?;
    Ok(grads.into_iter().flat_map(|g| g.into_iter().map(f64::from)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vocab::PAD;

    #[test]
    fn ratio_and_mean_intervals_match_hand_computations() {
        let (m, ci) = mean_ci(&[1.0, 3.0]);
        // sd = sqrt(2), se = 1.
        assert!((m - 2.0).abs() < 1e-12 && (ci - 1.96).abs() < 1e-12);
        // b = 2a exactly: the ratio is 1/2 with no spread.
        let a = [1.0, 2.0, 4.0, 3.0];
        let b: Vec<f64> = a.iter().map(|x| 2.0 * x).collect();
        let (r, ci) = ratio_ci(&a, &b);
        // (The delta-method variance cancels to rounding error, ~1e-17.)
        assert!((r - 0.5).abs() < 1e-12 && ci.abs() < 1e-6, "{r} {ci}");
        assert!(ratio_ci(&[1.0], &[1.0]).0.is_nan());
    }

    #[test]
    fn pair_statistic_is_unbiased_for_the_trace_of_the_covariance() {
        // Independent N(mu, diag(s^2)) draws: E ||x - y||^2 / 2 = sum s^2.
        use rand::Rng;
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let s = [0.5, 1.0, 2.0];
        let draw = |rng: &mut ChaCha8Rng| -> Vec<f64> {
            s.iter()
                .map(|sd| {
                    // Box-Muller.
                    let (u, v): (f64, f64) = (rng.r#gen::<f64>().max(1e-300), rng.r#gen());
                    3.0 + sd * (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
                })
                .collect()
        };
        let d: Vec<f64> = (0..20000)
            .map(|_| {
                let (x, y) = (draw(&mut rng), draw(&mut rng));
                x.iter().zip(&y).map(|(a, b)| (a - b).powi(2)).sum::<f64>() / 2.0
            })
            .collect();
        let (m, ci) = mean_ci(&d);
        assert!((m - 5.25).abs() < ci.max(0.05), "{m} +- {ci}");
    }

    #[test]
    fn policy_gradient_matches_finite_differences_of_the_weighted_log_likelihood() {
        use crate::engine::native::NativeEngine;
        use crate::model::{HostWeights, ModelConfig};
        let model = ModelConfig { d_model: 16, n_layers: 1, n_heads: 2, d_ff: 32, max_seq_len: 16 };
        let weights = model.init_host(3).unwrap();
        let prompts = [vec![1, 5, 6], vec![1, 7, 9], vec![1, 4, 8], vec![1, 3, 3]];
        let completions = [vec![8, 2], vec![11, 12, 2], vec![2], vec![10, 2]];
        let adv = [0.75, -0.25, 0.5, -1.0];
        let (batch, mask) = TokenBatch::padded(&prompts, &completions);
        let mut policy = NativeEngine.frozen(&weights).unwrap();
        let g = policy_gradient(&mut policy, &batch, &mask, &adv, 2).unwrap();
        // The objective (1/P) sum_b A_b sum_t mask[b,t] logp[b,t], in f64 from the engine's logp.
        let width = batch.cols - 1;
        let objective = |w: &HostWeights| -> f64 {
            let logp = NativeEngine.frozen(w).unwrap().logprobs(&batch);
            (0..logp.len()).map(|j| f64::from(mask[j]) * adv[j / width] / 2.0 * f64::from(logp[j])).sum()
        };
        // Central differences on the largest gradient coordinates of every tensor.
        let mut offset = 0;
        let mut checked = 0;
        for (ti, tensor) in weights.tensors.iter().enumerate() {
            let block = &g[offset..offset + tensor.len()];
            offset += tensor.len();
            let (i, &gi) = block.iter().enumerate().max_by(|a, b| a.1.abs().total_cmp(&b.1.abs())).unwrap();
            if gi.abs() < 1e-3 {
                continue;
            }
            let eps = 1e-2f32;
            let (mut plus, mut minus) = (weights.clone(), weights.clone());
            plus.tensors[ti][i] += eps;
            minus.tensors[ti][i] -= eps;
            let fd = (objective(&plus) - objective(&minus)) / (2.0 * f64::from(eps));
            assert!(
                (fd - gi).abs() < 0.05 * gi.abs() + 1e-3,
                "tensor {ti} index {i}: backprop {gi}, finite difference {fd}"
            );
            checked += 1;
        }
        assert_eq!(offset, g.len(), "one gradient entry per weight");
        assert!(checked >= 3, "only {checked} tensors had a gradient to check");
    }

    #[test]
    fn mask_scores_only_answer_tokens() {
        let (batch, mask) = TokenBatch::padded(&[vec![1, 5, 6], vec![1, 7]], &[vec![8, 2], vec![2]]);
        assert_eq!((batch.rows, batch.cols), (2, 5));
        assert_eq!(batch.tokens[5..10], [1, 7, 2, PAD, PAD]);
        // Row 0: logits at positions 2, 3 predict tokens 3, 4 (the answer 8, 2).
        assert_eq!(mask[..4], [0.0, 0.0, 1.0, 1.0]);
        assert_eq!(mask[4..], [0.0, 1.0, 0.0, 0.0]);
    }
}
