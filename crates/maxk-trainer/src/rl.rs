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

use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{Int, Tensor};
use maxk_core::{Estimator, Scale, Spec, batch_advantages};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::checkpoint::{self, TrainState};
use crate::config::LmConfig;
use crate::diagnostics::{GroupStats, MetricsLog, TrainCurves, group_stats, progress_bar};
use crate::error::Result;
use crate::eval::held_out;
use crate::model::{Weights, int_tensor, tensor_2d, to_f32};
use crate::optim::{gradients, track};
use crate::sampling::sample;
use crate::tasks::{Problem, TrainSampler};
use crate::vocab::{PAD, decode, encode_prompt};

/// One `metrics.jsonl` record of an RL step.
#[derive(Debug, Serialize)]
pub struct RlRecord {
    /// Always `rl`.
    pub stage: &'static str,
    /// Estimator id.
    pub estimator: String,
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
    tokens: Vec<i64>,
    mask: Vec<f32>,
    t: usize,
    advantages: Vec<f64>,
}

impl Rollouts {
    fn build(prompts: &[Vec<u32>], completions: &[Vec<u32>], advantages: Vec<f64>) -> Self {
        let t = prompts.iter().zip(completions).map(|(p, c)| p.len() + c.len()).max().unwrap_or(2).max(2);
        let b = prompts.len();
        let mut tokens = vec![PAD as i64; b * t];
        let mut mask = vec![0.0f32; b * (t - 1)];
        for (i, (p, c)) in prompts.iter().zip(completions).enumerate() {
            for (j, &tok) in p.iter().chain(c).enumerate() {
                tokens[i * t + j] = tok as i64;
            }
            for j in p.len() - 1..p.len() + c.len() - 1 {
                mask[i * (t - 1) + j] = 1.0;
            }
        }
        Rollouts { tokens, mask, t, advantages }
    }

    /// Rows `rows` as tensors: tokens, mask, advantages `[b, 1]`.
    fn select<B: Backend>(
        &self,
        rows: &[usize],
        device: &B::Device,
    ) -> (Tensor<B, 2, Int>, Tensor<B, 2>, Tensor<B, 2>) {
        let t = self.t;
        let tokens: Vec<i64> =
            rows.iter().flat_map(|&r| self.tokens[r * t..(r + 1) * t].iter().copied()).collect();
        let mask: Vec<f32> =
            rows.iter().flat_map(|&r| self.mask[r * (t - 1)..(r + 1) * (t - 1)].iter().copied()).collect();
        let adv: Vec<f32> = rows.iter().map(|&r| self.advantages[r] as f32).collect();
        let b = rows.len();
        (
            int_tensor(tokens, [b, t], device),
            tensor_2d(mask, [b, t - 1], device),
            tensor_2d(adv, [b, 1], device),
        )
    }
}

/// RL from `base` with the estimator of `cfg.rl`; checkpoints to `dir/ckpt`, resumes from it
/// when `resume` is set, and saves the final weights to `dir/policy.safetensors`. Returns the
/// weights, the variance proxy of every step (restored from the checkpoint on resume) and the
/// training curves of the steps this call ran. The weights after half the steps are saved as
/// `dir/policy-mid.safetensors` (the mid-RL checkpoint of `maxk lm gradvar`).
pub fn train<B: AutodiffBackend>(
    cfg: &LmConfig,
    base: &Weights<B::InnerBackend>,
    device: &B::Device,
    dir: &Path,
    resume: bool,
    log: &mut MetricsLog,
    progress: bool,
) -> Result<(Weights<B::InnerBackend>, Vec<f64>, TrainCurves)> {
    cfg.validate()?;
    let rl = &cfg.rl;
    let mut curves = TrainCurves::default();
    let estimator: Estimator = rl.estimator.parse()?;
    let spec = Spec::new(estimator, rl.k).with_scale(rl.scale.parse::<Scale>()?);
    let ckpt = dir.join("ckpt");
    let mut state = if resume && checkpoint::resume_point(&ckpt)? {
        checkpoint::load(&ckpt, &cfg.model, rl.adam, device)?
    } else {
        TrainState::fresh(base.clone(), rl.adam, ChaCha8Rng::seed_from_u64(cfg.seed ^ 0x41))
    };
    let sampler = TrainSampler::new(cfg.task_list()?, &held_out(cfg)?);
    let bar = progress_bar(progress, rl.steps, &format!("rl {}", rl.estimator));
    bar.set_position(state.step as u64);
    let n = rl.group_size;
    while state.step < rl.steps {
        let start = Instant::now();
        let (problems, prompts, completions) = rollout(cfg, &sampler, &mut state, device)?;
        let sampled: usize = completions.iter().map(Vec::len).sum();
        let sample_secs = start.elapsed().as_secs_f64();
        let rewards: Vec<f64> = completions
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let p = &problems[i / n];
                p.task.verify(&p.prompt, &decode(c))
            })
            .collect();
        let advantages = batch_advantages(&rewards, n, spec)?;
        let groups = group_stats(&rewards, &advantages, n, rl.k);
        let roll = Rollouts::build(&prompts, &completions, advantages);
        let entropy = surprisal(&state.weights, &roll, device);
        let last = optimise::<B>(cfg, &mut state, base, &roll, device);
        state.step += 1;
        state.var_proxy.push(last.var_proxy);
        curves.reward.push(groups.reward_mean);
        curves.pass_at_k.push(groups.pass_at_k);
        curves.entropy.push(entropy);
        curves.grad_norm.push(last.grad_norm);
        log.log(&RlRecord {
            stage: "rl",
            estimator: rl.estimator.clone(),
            k: rl.k,
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
            checkpoint::save_weights(&dir.join("policy-mid.safetensors"), &state.weights)?;
        }
        let every = rl.checkpoint_every;
        if (every > 0 && state.step % every == 0) || state.step == rl.steps {
            checkpoint::save(&ckpt, &state)?;
        }
    }
    bar.finish_and_clear();
    checkpoint::save_weights(&dir.join("policy.safetensors"), &state.weights)?;
    cfg.save(dir)?;
    Ok((state.weights, state.var_proxy, curves))
}

/// Mean of `-log pi(y_t)` over the answer tokens of `roll` under `weights`.
fn surprisal<B: Backend>(weights: &Weights<B>, roll: &Rollouts, device: &B::Device) -> f64 {
    let rows: Vec<usize> = (0..roll.advantages.len()).collect();
    let (tokens, mask, _) = roll.select::<B>(&rows, device);
    let logp = to_f32(weights.token_logprobs(tokens));
    let mask = to_f32(mask);
    let count: f64 = mask.iter().map(|&m| f64::from(m)).sum();
    let total: f64 = logp.iter().zip(&mask).map(|(&l, &m)| -f64::from(l) * f64::from(m)).sum();
    if count > 0.0 { total / count } else { 0.0 }
}

/// Draws `P` training prompts and `N` completions of each from the current policy (rows are
/// grouped: row `i` belongs to prompt `i / N`).
#[allow(clippy::type_complexity)]
fn rollout<B: Backend>(
    cfg: &LmConfig,
    sampler: &TrainSampler,
    state: &mut TrainState<B>,
    device: &B::Device,
) -> Result<(Vec<Problem>, Vec<Vec<u32>>, Vec<Vec<u32>>)> {
    let n = cfg.rl.group_size;
    let problems: Vec<Problem> =
        (0..cfg.rl.prompts_per_step).map(|_| sampler.sample(&mut state.rng)).collect();
    let mut prompts = Vec::with_capacity(problems.len() * n);
    for p in &problems {
        let tokens = encode_prompt(&p.prompt)?;
        prompts.extend(std::iter::repeat_n(tokens, n));
    }
    let completions = sample(&state.weights, &prompts, &cfg.rl.sampling, device, &mut state.rng);
    Ok((problems, prompts, completions))
}

/// One Adam step per minibatch of whole groups; returns what the last one measured.
fn optimise<B: AutodiffBackend>(
    cfg: &LmConfig,
    state: &mut TrainState<B::InnerBackend>,
    base: &Weights<B::InnerBackend>,
    roll: &Rollouts,
    device: &B::Device,
) -> StepOut {
    let n = cfg.rl.group_size;
    let rows = roll.advantages.len();
    let per_mb = cfg.rl.prompts_per_step.div_ceil(cfg.rl.minibatches) * n;
    let all_rows: Vec<usize> = (0..rows).collect();
    // Old log-probs come from the weights before this batch's first update, so the ratio is
    // exactly 1 in the first minibatch and differs afterwards.
    let old_weights = state.weights.clone();
    let mut last = StepOut::default();
    for mb in all_rows.chunks(per_mb) {
        last = update::<B>(cfg, state, &old_weights, base, roll, mb, device);
    }
    last
}

/// What [`bench`] measured.
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

/// Throughput of the RL step of `cfg` from `weights`: `steps` timed steps after one warm-up.
/// Rewards are synthetic Bernoulli(1/2) draws instead of verifier scores, so that every group
/// carries signal and every row is in the update (an untrained model solves nothing, and
/// all-zero groups would skip the backward pass); the advantages still come from
/// `maxk_core::batch_advantages` with the configured estimator. `benches/torch/lm_rl_step.py`
/// times the same step in PyTorch.
pub fn bench<B: AutodiffBackend>(
    cfg: &LmConfig,
    weights: Weights<B::InnerBackend>,
    device: &B::Device,
    steps: usize,
) -> Result<BenchResult> {
    cfg.validate()?;
    let rl = &cfg.rl;
    let spec = Spec::new(rl.estimator.parse::<Estimator>()?, rl.k).with_scale(rl.scale.parse::<Scale>()?);
    let sampler = TrainSampler::new(cfg.task_list()?, &held_out(cfg)?);
    let base = weights.clone();
    let mut state = TrainState::fresh(weights, rl.adam, ChaCha8Rng::seed_from_u64(cfg.seed ^ 0xbe7c));
    let (mut tokens, mut sample_s, mut update_s, mut total_s) = (0usize, 0.0, 0.0, 0.0);
    for step in 0..=steps.max(1) {
        let t0 = Instant::now();
        let (_, prompts, completions) = rollout(cfg, &sampler, &mut state, device)?;
        let t1 = Instant::now();
        let rewards: Vec<f64> =
            (0..completions.len()).map(|_| f64::from(u8::from(state.rng.r#gen::<bool>()))).collect();
        let advantages = batch_advantages(&rewards, rl.group_size, spec)?;
        let roll = Rollouts::build(&prompts, &completions, advantages);
        let t2 = Instant::now();
        optimise::<B>(cfg, &mut state, &base, &roll, device);
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

/// One Adam step on the minibatch `rows`. Rows with a zero advantage contribute nothing to
/// the surrogate's gradient, so without a KL term they are left out of the forward pass (the
/// token-mean denominator still counts them, keeping the loss identical).
fn update<B: AutodiffBackend>(
    cfg: &LmConfig,
    state: &mut TrainState<B::InnerBackend>,
    old: &Weights<B::InnerBackend>,
    base: &Weights<B::InnerBackend>,
    roll: &Rollouts,
    rows: &[usize],
    device: &B::Device,
) -> StepOut {
    let rl = &cfg.rl;
    let t = roll.t;
    let count: f32 =
        rows.iter().map(|&r| roll.mask[r * (t - 1)..(r + 1) * (t - 1)].iter().sum::<f32>()).sum();
    let active: Vec<usize> = if rl.kl_coef > 0.0 {
        rows.to_vec()
    } else {
        rows.iter().copied().filter(|&r| roll.advantages[r] != 0.0).collect()
    };
    if active.is_empty() || count == 0.0 {
        // No signal: no update; the moments (and so the proxy) stay as they were.
        return StepOut { var_proxy: state.adam.variance_proxy(), ..StepOut::default() };
    }
    let (tokens, mask, adv) = roll.select::<B>(&active, device);
    let (tokens_inner, _, _) = roll.select::<B::InnerBackend>(&active, device);
    let old_logp = Tensor::<B, 2>::from_inner(old.token_logprobs(tokens_inner.clone()));
    let tracked = track::<B>(&state.weights);
    let logp = tracked.token_logprobs(tokens);
    let ratio = (logp.clone() - old_logp).exp();
    let (lo, hi) = (1.0 - rl.clip_eps, 1.0 + rl.clip_eps);
    let surr = (ratio.clone() * adv.clone()).min_pair(ratio.clone().clamp(lo, hi) * adv);
    let denom = count as f64;
    let mut loss = (surr * mask.clone()).sum().div_scalar(-denom);
    let mut kl_value = 0.0;
    if rl.kl_coef > 0.0 {
        let ref_logp = Tensor::<B, 2>::from_inner(base.token_logprobs(tokens_inner));
        let diff = ref_logp - logp;
        let k3 = (diff.clone().exp() - diff).sub_scalar(1.0);
        let kl = (k3 * mask.clone()).sum().div_scalar(denom);
        kl_value = to_f32(kl.clone().inner())[0] as f64;
        loss = loss + kl.mul_scalar(rl.kl_coef);
    }
    let r = to_f32(ratio.inner());
    let m = to_f32(mask.inner());
    let clipped =
        r.iter().zip(&m).filter(|&(&x, &m)| m > 0.0 && ((x as f64) < lo || (x as f64) > hi)).count();
    let loss_value = to_f32(loss.clone().inner())[0] as f64;
    let grads = gradients(&tracked, loss);
    let stats = state.adam.step(&mut state.weights, grads, rl.adam.lr);
    StepOut {
        loss: loss_value,
        grad_norm: stats.grad_norm,
        var_proxy: stats.var_proxy,
        clip_frac: clipped as f64 / count as f64,
        kl: kl_value,
    }
}
