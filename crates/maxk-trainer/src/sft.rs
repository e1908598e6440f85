//! Supervised training of the base model: next-token cross-entropy on the reference answer
//! (and EOS) given the prompt, on a uniform mixture of the tasks. Short on purpose: the base
//! model should be weak but not hopeless (low pass@1, much higher pass@256), the regime in
//! which max@K training matters.

use std::path::Path;
use std::time::Instant;

use burn::tensor::Tensor;
use burn::tensor::backend::AutodiffBackend;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::checkpoint::{self, TrainState};
use crate::config::LmConfig;
use crate::diagnostics::MetricsLog;
use crate::diagnostics::progress_bar;
use crate::engine::{Engine, Policy, TokenBatch};
use crate::error::Result;
use crate::eval::held_out;
use crate::model::{HostWeights, Weights, int_tensor, tensor_2d};
use crate::optim::StepStats;
use crate::tasks::{Problem, TrainSampler};
use crate::vocab::{PAD, encode_answer, encode_prompt};

/// One `metrics.jsonl` record of an SFT step.
#[derive(Debug, Serialize)]
struct SftRecord {
    stage: &'static str,
    seed: u64,
    step: usize,
    loss: f64,
    grad_norm: f64,
    var_proxy: f64,
    seconds: f64,
}

/// Right-padded `BOS prompt answer EOS` tokens `[B, T]` and the mask `[B, T-1]` of the
/// positions whose next token is part of the answer.
pub fn sft_batch(problems: &[Problem]) -> Result<(TokenBatch, Vec<f32>)> {
    let seqs = problems
        .iter()
        .map(|p| Ok((encode_prompt(&p.prompt)?, encode_answer(&p.answer)?)))
        .collect::<Result<Vec<_>>>()?;
    let t = seqs.iter().map(|(p, a)| p.len() + a.len()).max().unwrap_or(1);
    let mut tokens = vec![PAD; seqs.len() * t];
    let mut mask = vec![0.0f32; seqs.len() * (t - 1)];
    for (i, (p, a)) in seqs.iter().enumerate() {
        for (j, &tok) in p.iter().chain(a).enumerate() {
            tokens[i * t + j] = tok;
        }
        // Position j predicts token j+1; answer tokens sit at p.len()..p.len()+a.len().
        for j in p.len() - 1..p.len() + a.len() - 1 {
            mask[i * (t - 1) + j] = 1.0;
        }
    }
    Ok((TokenBatch { tokens, rows: seqs.len(), cols: t }, mask))
}

/// Mean negative log-likelihood of the answer tokens given `BOS prompt` (a scalar `[1]`) on a
/// burn autodiff backend: `L = -(1/T) sum_{answer tokens t} log pi(y_t | y_<t)`, `T` the
/// number of answer tokens (EOS included) in the batch.
pub fn sft_loss<B: AutodiffBackend>(
    weights: &Weights<B>,
    problems: &[Problem],
    device: &B::Device,
) -> Result<Tensor<B, 1>> {
    let (batch, mask) = sft_batch(problems)?;
    let count: f32 = mask.iter().sum();
    let tokens = batch.tokens.iter().map(|&t| i64::from(t)).collect();
    let logp = weights.token_logprobs(int_tensor(tokens, [batch.rows, batch.cols], device));
    let mask = tensor_2d::<B>(mask, [batch.rows, batch.cols - 1], device);
    Ok((logp * mask).sum().div_scalar(-count.max(1.0) as f64))
}

/// One SFT update of `policy` on `problems`: forward, the loss above and its gradient
/// `dL/dlogp = -mask / T`, backward, Adam. Returns the loss and the step statistics.
pub fn sft_step<P: Policy + ?Sized>(
    policy: &mut P,
    problems: &[Problem],
    lr: f64,
) -> Result<(f64, StepStats)> {
    let (batch, mask) = sft_batch(problems)?;
    let count = mask.iter().map(|&m| f64::from(m)).sum::<f64>().max(1.0);
    let logp = policy.forward_train(&batch);
    let loss = -logp.iter().zip(&mask).map(|(&l, &m)| f64::from(l * m)).sum::<f64>() / count;
    let dlogp: Vec<f32> = mask.iter().map(|&m| (-f64::from(m) / count) as f32).collect();
    let stats = policy.backward_step(&dlogp, lr)?;
    Ok((loss, stats))
}

/// Trains the base model of `cfg` from scratch (or resumes from `dir/ckpt`) on `engine` and
/// saves the final weights to `dir/base.safetensors`. Returns the weights.
pub fn train<E: Engine>(
    cfg: &LmConfig,
    engine: &E,
    dir: &Path,
    resume: bool,
    log: &mut MetricsLog,
    progress: bool,
) -> Result<HostWeights> {
    cfg.validate()?;
    let ckpt = dir.join("ckpt");
    let mut state = if resume && checkpoint::resume_point(&ckpt)? {
        checkpoint::load(&ckpt, &cfg.model)?
    } else {
        TrainState::fresh(cfg.model.init_host(cfg.seed)?, ChaCha8Rng::seed_from_u64(cfg.seed ^ 0x5f7))
    };
    let mut policy = engine.policy(&state.weights, &state.adam, cfg.sft.adam)?;
    let sampler = TrainSampler::new(cfg.task_list()?, &held_out(cfg)?);
    let bar = progress_bar(progress, cfg.sft.steps, "pretrain");
    bar.set_position(state.step as u64);
    while state.step < cfg.sft.steps {
        let start = Instant::now();
        let problems: Vec<Problem> =
            (0..cfg.sft.batch_size).map(|_| sampler.sample(&mut state.rng)).collect();
        let (loss_value, stats) = sft_step(&mut policy, &problems, cfg.sft.adam.lr)?;
        state.step += 1;
        state.var_proxy.push(stats.var_proxy);
        log.log(&SftRecord {
            stage: "pretrain",
            seed: cfg.seed,
            step: state.step,
            loss: loss_value,
            grad_norm: stats.grad_norm,
            var_proxy: stats.var_proxy,
            seconds: start.elapsed().as_secs_f64(),
        })?;
        bar.set_message(format!("loss {loss_value:.3}"));
        bar.inc(1);
        let every = cfg.sft.checkpoint_every;
        if (every > 0 && state.step % every == 0) || state.step == cfg.sft.steps {
            state.capture(&policy);
            checkpoint::save(&ckpt, &state)?;
        }
    }
    bar.finish_and_clear();
    state.capture(&policy);
    checkpoint::save_weights(&dir.join("base.safetensors"), &state.weights)?;
    cfg.save(dir)?;
    Ok(state.weights)
}

#[cfg(test)]
mod tests {
    use burn::backend::{Autodiff, NdArray};
    use rand::SeedableRng;

    use super::*;
    use crate::model::ModelConfig;
    use crate::optim::{gradients, track};
    use crate::tasks::Task;

    type B = Autodiff<NdArray<f64>>;

    /// Backpropagation through the whole model (embeddings, attention, layer norms, MLP, head,
    /// log-softmax, masking) agrees with central finite differences
    /// `(L(theta + h e_j) - L(theta - h e_j)) / 2h` in f64: truncation error O(h^2) ~ 1e-10 and
    /// rounding ~ 1e-16 / h ~ 1e-11, so 1e-7 absolute + 1e-5 relative leaves a wide margin
    /// while a wrong gradient (off by a factor or a transposition) is off by O(|g|).
    #[test]
    fn model_gradient_matches_finite_differences() {
        let dev = Default::default();
        let cfg = ModelConfig { d_model: 8, n_layers: 2, n_heads: 2, d_ff: 12, max_seq_len: 32 };
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let problems: Vec<Problem> = Task::ALL.iter().map(|t| t.generate(&mut rng)).collect();
        // Larger-than-default weights so that attention and GELU are far from linear.
        let mut weights = cfg.init::<<B as AutodiffBackend>::InnerBackend>(1, &dev).unwrap();
        weights.tensors = weights.tensors.into_iter().map(|t| t.mul_scalar(8.0)).collect();
        let loss_at = |w: &Weights<<B as AutodiffBackend>::InnerBackend>| -> f64 {
            let l = sft_loss(&track::<B>(w), &problems, &dev).unwrap();
            l.inner().into_data().convert::<f64>().into_vec::<f64>().unwrap()[0]
        };
        let tracked = track::<B>(&weights);
        let grads = gradients(&tracked, sft_loss(&tracked, &problems, &dev).unwrap());
        let h = 1e-5;
        let mut checked = 0;
        for (i, g) in grads.iter().enumerate() {
            let g: Vec<f64> = g.clone().into_data().convert::<f64>().into_vec::<f64>().unwrap();
            let [rows, cols] = weights.tensors[i].dims();
            // Three coordinates per tensor; for the token table, rows of tokens that occur.
            for j in [0, g.len() / 2, g.len() - 1] {
                let j = if i == 0 { (crate::vocab::BOS as usize) * cols + j % cols } else { j };
                let bump = |delta: f64| {
                    let mut w = weights.clone();
                    let mut e = vec![0.0f32; rows * cols];
                    e[j] = 1.0;
                    let e = crate::model::tensor_2d::<<B as AutodiffBackend>::InnerBackend>(
                        e,
                        [rows, cols],
                        &dev,
                    );
                    w.tensors[i] = w.tensors[i].clone() + e.mul_scalar(delta);
                    loss_at(&w)
                };
                let fd = (bump(h) - bump(-h)) / (2.0 * h);
                let name = &cfg.param_specs()[i].name;
                assert!(
                    (fd - g[j]).abs() <= 1e-7 + 1e-5 * g[j].abs(),
                    "{name}[{j}]: autodiff {} vs fd {fd}",
                    g[j]
                );
                checked += 1;
            }
        }
        assert_eq!(checked, 3 * cfg.param_specs().len());
    }
}
