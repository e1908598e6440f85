//! GRPO-style group RL with outcome rewards and a maxk-core advantage estimator.
//!
//! Each step draws `P` prompts, samples `N` completions per prompt, scores them with the
//! task verifiers, turns each group's rewards into advantages `A_i` with
//! [`maxk_core::batch_advantages`] (estimator id and training K from the config), and takes
//! one Adam step per minibatch on the clipped surrogate (PPO, Schulman et al. 2017):
//!
//! `L = -(1/T) sum_{i,t} min(r_it A_i, clip(r_it, 1-eps, 1+eps) A_i) + beta (1/T) sum_{i,t} k3_it`
//!
//! with `r_it = pi(y_it)/pi_old(y_it)`, `T` the number of answer tokens in the minibatch
//! (token mean, as DAPO) and `k3 = exp(q - p) - (q - p) - 1`, `q - p = log pi_ref - log pi`
//! (Schulman's k3 KL estimator; only when `kl_coef > 0`).

use std::path::Path;
use std::time::Instant;

use maxk_core::{Estimator, Spec, batch_advantages};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::checkpoint::{self, TrainState};
use crate::config::{LmConfig, RlConfig};
use crate::diagnostics::{GroupStats, MetricsLog, TrainCurves, group_stats, progress_bar};
use crate::engine::{Engine, Policy, TokenBatch};
use crate::error::Result;
use crate::eval::held_out;
use crate::model::HostWeights;
use crate::optim::AdamState;
use crate::sampling::sample;
use crate::tasks::{Problem, TrainSampler, score};
use crate::vocab::encode_prompt;

/// One `metrics.jsonl` record of an RL step.
#[derive(Debug, Serialize)]
pub struct RlRecord {
    /// Always `rl`.
    pub stage: &'static str,
    /// The estimator (its id in the record).
    pub estimator: Estimator,
    /// Training K.
    pub k: usize,
    /// Run seed.
    pub seed: u64,
    /// Updates done.
    pub step: usize,
    /// Surrogate loss of the last minibatch.
    pub loss: f64,
    /// Global gradient norm of the last minibatch.
    pub grad_norm: f64,
    /// Adam-moment gradient-variance proxy after the step.
    pub var_proxy: f64,
    /// Fraction of answer tokens whose ratio was clipped.
    pub clip_frac: f64,
    /// Mean k3 KL to the base model (0 when disabled).
    pub kl: f64,
    /// Policy entropy per answer token, estimated by the mean surprisal `-log pi(y_t)` of the
    /// sampled answer tokens under the sampling policy (unbiased at the rollout temperature 1
    /// without nucleus truncation).
    pub entropy: f64,
    /// Group statistics of rewards and advantages.
    #[serde(flatten)]
    pub groups: GroupStats,
    /// Sampled tokens per second in this step's rollouts.
    pub sample_tokens_per_s: f64,
    /// Wall time of the step.
    pub seconds: f64,
}

/// A rollout batch ready for the loss: right-padded sequences `[B, T]`, the answer-token
/// mask `[B, T-1]` and the per-sequence advantages.
struct Rollouts {
    tokens: Vec<u32>,
    mask: Vec<f32>,
    t: usize,
    advantages: Vec<f64>,
}

impl Rollouts {
    fn build(prompts: &[Vec<u32>], completions: &[Vec<u32>], advantages: Vec<f64>) -> Self {
        let (batch, mask) = TokenBatch::padded(prompts, completions);
        Rollouts { tokens: batch.tokens, mask, t: batch.cols, advantages }
    }

    /// The token rows `rows` as one batch.
    fn batch(&self, rows: &[usize]) -> TokenBatch {
        let t = self.t;
        let tokens = rows.iter().flat_map(|&r| self.tokens[r * t..(r + 1) * t].iter().copied()).collect();
        TokenBatch { tokens, rows: rows.len(), cols: t }
    }

    /// Mask row `r`.
    fn mask_row(&self, r: usize) -> &[f32] {
        &self.mask[r * (self.t - 1)..(r + 1) * (self.t - 1)]
    }
}

/// RL from `base` with the estimator of `cfg.rl` on `engine`; checkpoints to `dir/ckpt`,
/// resumes from it when `resume` is set, and saves the final weights to `dir/policy.safetensors`. Returns the
/// weights, the variance proxy of every step (restored from the checkpoint on resume) and the
/// training curves of the steps this call ran. The weights after half the steps are saved as
/// `dir/policy-mid.safetensors` (the mid-RL checkpoint of `maxk lm gradvar`).
pub fn train<E: Engine>(
    cfg: &LmConfig,
    base: &HostWeights,
    engine: &E,
    dir: &Path,
    resume: bool,
    log: &mut MetricsLog,
    progress: bool,
) -> Result<(HostWeights, Vec<f64>, TrainCurves)> {
    cfg.validate()?;
    // The estimator's own lr (`rl.lr_by_estimator`) replaces `rl.adam.lr`.
    let cfg = &cfg.with_estimator_lr();
    let rl = &cfg.rl;
    let mut curves = TrainCurves::default();
    let ckpt = dir.join("ckpt");
    let mut state = if resume && checkpoint::resume_point(&ckpt)? {
        checkpoint::load(&ckpt, &cfg.model)?
    } else {
        TrainState::fresh(base.clone(), ChaCha8Rng::seed_from_u64(cfg.seed ^ 0x41))
    };
    let mut policy = engine.policy(&state.weights, &state.adam, rl.adam)?;
    let mut reference = if rl.kl_coef > 0.0 { Some(engine.frozen(base)?) } else { None };
    let sampler = TrainSampler::new(cfg.task_list()?, &held_out(cfg)?);
    let bar = progress_bar(progress, rl.steps, &format!("rl {}", rl.estimator));
    bar.set_position(state.step as u64);
    let n = rl.group_size;
    while state.step < rl.steps {
        let start = Instant::now();
        // The K of this step (rl.k_schedule), logged in the step's record.
        let k = rl.k_at(state.step);
        let spec = Spec::new(rl.estimator, k).with_scale(rl.scale);
        let (problems, prompts, completions) = rollout(cfg, &sampler, &mut policy, &mut state.rng)?;
        let sampled: usize = completions.iter().map(Vec::len).sum();
        let sample_secs = start.elapsed().as_secs_f64();
        let rewards = score(&problems, &completions, n);
        let advantages = match &rl.mixture {
            Some(mix) => maxk_core::batch_mixture_advantages(&rewards, n, mix)?,
            None => batch_advantages(&rewards, n, spec)?,
        };
        let groups = group_stats(&rewards, &advantages, n, k);
        let roll = Rollouts::build(&prompts, &completions, advantages);
        let entropy = surprisal(&mut policy, &roll);
        let last = optimise(cfg, &mut policy, reference.as_mut(), &roll)?;
        state.step += 1;
        state.var_proxy.push(last.var_proxy);
        curves.reward.push(groups.reward_mean);
        curves.pass_at_k.push(groups.pass_at_k);
        curves.entropy.push(entropy);
        curves.grad_norm.push(last.grad_norm);
        log.log(&RlRecord {
            stage: "rl",
            estimator: rl.estimator,
            k,
            seed: cfg.seed,
            step: state.step,
            loss: last.loss,
            grad_norm: last.grad_norm,
            var_proxy: last.var_proxy,
            clip_frac: last.clip_frac,
            kl: last.kl,
            entropy,
            groups,
            sample_tokens_per_s: sampled as f64 / sample_secs.max(1e-9),
            seconds: start.elapsed().as_secs_f64(),
        })?;
        bar.set_message(format!("reward {:.3}", groups.reward_mean));
        bar.inc(1);
        if state.step == rl.steps.div_ceil(2) {
            // The mid-RL checkpoint of the gradient-variance study (`maxk lm gradvar`).
            std::fs::create_dir_all(dir).map_err(crate::error::TrainerError::io(dir))?;
            checkpoint::save_weights(&dir.join("policy-mid.safetensors"), &policy.weights())?;
        }
        let every = rl.checkpoint_every;
        if (every > 0 && state.step % every == 0) || state.step == rl.steps {
            state.capture(&policy);
            checkpoint::save(&ckpt, &state)?;
        }
    }
    bar.finish_and_clear();
    state.capture(&policy);
    checkpoint::save_weights(&dir.join("policy.safetensors"), &state.weights)?;
    cfg.save(dir)?;
    Ok((state.weights, state.var_proxy, curves))
}

/// Mean of `-log pi(y_t)` over the answer tokens of `roll` under `policy`.
fn surprisal<P: Policy>(policy: &mut P, roll: &Rollouts) -> f64 {
    let rows: Vec<usize> = (0..roll.advantages.len()).collect();
    let logp = policy.logprobs(&roll.batch(&rows));
    let mask = roll.mask.as_slice();
    let count: f64 = mask.iter().map(|&m| f64::from(m)).sum();
    let total: f64 = logp.iter().zip(mask).map(|(&l, &m)| -f64::from(l) * f64::from(m)).sum();
    if count > 0.0 { total / count } else { 0.0 }
}

/// Draws `P` training prompts and `N` completions of each from the current policy (rows are
/// grouped: row `i` belongs to prompt `i / N`).
#[allow(clippy::type_complexity)]
fn rollout<P: Policy>(
    cfg: &LmConfig,
    sampler: &TrainSampler,
    policy: &mut P,
    rng: &mut ChaCha8Rng,
) -> Result<(Vec<Problem>, Vec<Vec<u32>>, Vec<Vec<u32>>)> {
    let n = cfg.rl.group_size;
    let problems: Vec<Problem> = (0..cfg.rl.prompts_per_step).map(|_| sampler.sample(rng)).collect();
    let mut prompts = Vec::with_capacity(problems.len() * n);
    for p in &problems {
        let tokens = encode_prompt(&p.prompt)?;
        prompts.extend(std::iter::repeat_n(tokens, n));
    }
    let completions = sample(policy, &prompts, &cfg.rl.sampling, rng);
    Ok((problems, prompts, completions))
}

/// One Adam step per minibatch of whole groups; returns what the last one measured.
///
/// Old log-probs come from the weights before this batch's first update (computed once for
/// every row that enters an update), so the ratio is exactly 1 in the first minibatch and
/// differs afterwards. Rows with a zero advantage contribute nothing to the surrogate's
/// gradient, so without a KL term they are left out of the forward pass (the token-mean
/// denominator still counts them, keeping the loss identical).
fn optimise<P: Policy>(
    cfg: &LmConfig,
    policy: &mut P,
    reference: Option<&mut P>,
    roll: &Rollouts,
) -> Result<StepOut> {
    let rl = &cfg.rl;
    let n = rl.group_size;
    let rows = roll.advantages.len();
    let per_mb = rl.prompts_per_step.div_ceil(rl.minibatches) * n;
    let all_rows: Vec<usize> = (0..rows).collect();
    let minibatches: Vec<(&[usize], Vec<usize>)> = all_rows
        .chunks(per_mb)
        .map(|mb| {
            let active = if rl.kl_coef > 0.0 {
                mb.to_vec()
            } else {
                mb.iter().copied().filter(|&r| roll.advantages[r] != 0.0).collect()
            };
            (mb, active)
        })
        .collect();
    let active_all: Vec<usize> = minibatches.iter().flat_map(|(_, a)| a.iter().copied()).collect();
    let width = roll.t - 1;
    let (old, refp) = if active_all.is_empty() {
        (Vec::new(), None)
    } else {
        let batch = roll.batch(&active_all);
        (policy.logprobs(&batch), reference.map(|r| r.logprobs(&batch)))
    };
    let mut last = StepOut::default();
    let mut offset = 0;
    for (mb, active) in &minibatches {
        let span = offset * width..(offset + active.len()) * width;
        offset += active.len();
        let lp = LossInputs {
            old: &old[span.clone()],
            reference: refp.as_ref().map(|r| &r[span]),
            rows: active,
            count: mb.iter().map(|&r| roll.mask_row(r).iter().sum::<f32>()).sum(),
        };
        last = update(rl, policy, roll, &lp)?;
    }
    Ok(last)
}

/// What [`bench()`] measured.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct BenchResult {
    /// Parameters of the model.
    pub params: usize,
    /// Sampled tokens per second (KV-cache decoding, batch = prompts x group size).
    pub sampled_tokens_per_s: f64,
    /// Adam updates (minibatch forward + backward + step) per second.
    pub updates_per_s: f64,
    /// Whole RL steps (rollout + advantages + updates) per second.
    pub steps_per_s: f64,
}

/// Throughput of the RL step of `cfg` from `weights` on `engine`: `steps` timed steps after
/// one warm-up. Rewards are synthetic Bernoulli(1/2) draws instead of verifier scores, so
/// that every group carries signal and every row is in the update (an untrained model solves
/// nothing, and all-zero groups would skip the backward pass); the advantages still come from
/// `maxk_core::batch_advantages` with the configured estimator. `benches/torch/lm_rl_step.py`
/// times the same step in PyTorch.
pub fn bench<E: Engine>(
    cfg: &LmConfig,
    weights: &HostWeights,
    engine: &E,
    steps: usize,
) -> Result<BenchResult> {
    cfg.validate()?;
    let rl = &cfg.rl;
    let spec = Spec::new(rl.estimator, rl.k).with_scale(rl.scale);
    let sampler = TrainSampler::new(cfg.task_list()?, &held_out(cfg)?);
    let mut policy = engine.policy(weights, &AdamState::zeros(&weights.config), rl.adam)?;
    let mut reference = if rl.kl_coef > 0.0 { Some(engine.frozen(weights)?) } else { None };
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed ^ 0xbe7c);
    let (mut tokens, mut sample_s, mut update_s, mut total_s) = (0usize, 0.0, 0.0, 0.0);
    for step in 0..=steps.max(1) {
        let t0 = Instant::now();
        let (_, prompts, completions) = rollout(cfg, &sampler, &mut policy, &mut rng)?;
        let t1 = Instant::now();
        let rewards: Vec<f64> =
            (0..completions.len()).map(|_| f64::from(u8::from(rng.r#gen::<bool>()))).collect();
        let advantages = batch_advantages(&rewards, rl.group_size, spec)?;
        let roll = Rollouts::build(&prompts, &completions, advantages);
        let t2 = Instant::now();
        optimise(cfg, &mut policy, reference.as_mut(), &roll)?;
        if step > 0 {
            tokens += completions.iter().map(Vec::len).sum::<usize>();
            sample_s += (t1 - t0).as_secs_f64();
            update_s += t2.elapsed().as_secs_f64();
            total_s += t0.elapsed().as_secs_f64();
        }
    }
    let timed = steps.max(1) as f64;
    Ok(BenchResult {
        params: cfg.model.num_params(),
        sampled_tokens_per_s: tokens as f64 / sample_s.max(1e-12),
        updates_per_s: timed * rl.minibatches as f64 / update_s.max(1e-12),
        steps_per_s: timed / total_s.max(1e-12),
    })
}

#[derive(Debug, Default, Clone, Copy)]
struct StepOut {
    loss: f64,
    grad_norm: f64,
    var_proxy: f64,
    clip_frac: f64,
    kl: f64,
}

/// The rows of one minibatch that enter the forward pass, with their old (and reference)
/// log-probs `[rows, T-1]` and the minibatch's answer-token count.
struct LossInputs<'a> {
    old: &'a [f32],
    reference: Option<&'a [f32]>,
    rows: &'a [usize],
    count: f32,
}

/// The clipped surrogate plus k3 KL of the module docs and its gradient with respect to the
/// policy's log-probs, summed over the mask; one element:
/// `d/dlogp [-min(r A, clip(r) A)] = -r A` when the unclipped term is the minimum, else 0
/// (the clipped term is then constant), and `d/dlogp k3 = 1 - exp(q - p)`.
#[derive(Debug, Default, Clone, Copy)]
struct Surrogate {
    surr_sum: f64,
    kl_sum: f64,
    clipped: usize,
}

/// One Adam step on the minibatch of `inputs`.
fn update<P: Policy>(
    rl: &RlConfig,
    policy: &mut P,
    roll: &Rollouts,
    inputs: &LossInputs<'_>,
) -> Result<StepOut> {
    let count = inputs.count;
    if inputs.rows.is_empty() || count == 0.0 {
        // No signal: no update; the moments (and so the proxy) stay as they were.
        return Ok(StepOut { var_proxy: policy.variance_proxy(), ..StepOut::default() });
    }
    let width = roll.t - 1;
    let logp = policy.forward_train(&roll.batch(inputs.rows));
    let (lo, hi) = ((1.0 - rl.clip_eps) as f32, (1.0 + rl.clip_eps) as f32);
    let (kl_coef, denom) = (rl.kl_coef as f32, count);
    let mut dlogp = vec![0.0f32; logp.len()];
    let mut acc = Surrogate::default();
    for (i, &r) in inputs.rows.iter().enumerate() {
        let adv = roll.advantages[r] as f32;
        for (j, &m) in roll.mask_row(r).iter().enumerate() {
            if m == 0.0 {
                continue;
            }
            let e = i * width + j;
            let ratio = (logp[e] - inputs.old[e]).exp();
            let (plain, clipped) = (ratio * adv, ratio.clamp(lo, hi) * adv);
            acc.surr_sum += f64::from(plain.min(clipped));
            let mut g = if plain <= clipped { -plain } else { 0.0 };
            if ratio < lo || ratio > hi {
                acc.clipped += 1;
            }
            if let Some(reference) = inputs.reference {
                let diff = reference[e] - logp[e];
                acc.kl_sum += f64::from(diff.exp() - diff - 1.0);
                g += kl_coef * (1.0 - diff.exp());
            }
            dlogp[e] = g / denom;
        }
    }
    let denom = f64::from(denom);
    let kl = if inputs.reference.is_some() { acc.kl_sum / denom } else { 0.0 };
    let loss = -acc.surr_sum / denom + rl.kl_coef * kl;
    let stats = policy.backward_step(&dlogp, rl.adam.lr)?;
    Ok(StepOut {
        loss,
        grad_norm: stats.grad_norm,
        var_proxy: stats.var_proxy,
        clip_frac: acc.clipped as f64 / denom,
        kl,
    })
}
