//! Compute engines behind one training loop.
//!
//! Every loss the trainer optimises (the SFT negative log-likelihood, the RL clipped
//! surrogate, the k3 KL term) is a function of the answer tokens' log-probabilities
//! `logp[b, t] = log pi(tokens[b, t+1] | tokens[b, ..=t])` only. So an engine needs just five
//! operations, and the losses, their gradients with respect to `logp`, the sampling draws and
//! the bookkeeping live once, on the host, in [`crate::rl`], [`crate::sft`] and
//! [`crate::sampling`]:
//!
//! 1. [`Policy::prefill`] / [`Policy::decode_step`]: next-token logits for batched KV-cache
//!    sampling;
//! 2. [`Policy::logprobs`]: `logp` without a gradient (old and reference log-probs);
//! 3. [`Policy::forward_train`]: `logp`, remembering what the backward pass needs;
//! 4. [`Policy::backward_step`]: given `g = dL/dlogp`, back-propagates `sum g * logp` to every
//!    weight and takes one Adam step (global-norm clipping, [`crate::optim`]);
//! 5. [`Policy::weights`] / [`Policy::adam_state`]: the state as host vectors (checkpoints).
//!
//! Engines: [`native::NativeEngine`] (`--device cpu`, a hand-written forward and backward of
//! exactly this model on the CPU, deterministic given the seed) and [`burn_engine::BurnEngine`]
//! (burn autodiff: NdArray on the CPU as `--device cpu-burn`, the reference the native engine
//! is tested against, and CUDA as `--device cuda`).

pub mod burn_engine;
mod kernels;
pub mod native;

use crate::error::{Result, TrainerError};
use crate::model::{HostWeights, ModelConfig};
use crate::optim::{AdamConfig, AdamState, StepStats};
use crate::vocab::PAD;

/// Right-padded token sequences `[rows, cols]`, row-major.
///
/// A row's sequence runs to its last non-[`PAD`] token; the PAD tokens after it are padding
/// (a sequence never contains PAD: prompts start with BOS and sampling never draws PAD, so in
/// the trainer's batches every PAD is trailing). A PAD before a row's last non-PAD token is
/// an ordinary token. See [`Policy::logprobs`] for what padding means to the log-probs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenBatch {
    /// Token ids, `rows * cols` of them.
    pub tokens: Vec<u32>,
    /// Sequences.
    pub rows: usize,
    /// Tokens per sequence (>= 2 for log-probabilities).
    pub cols: usize,
}

impl TokenBatch {
    /// Per row, the number of leading positions of [`Policy::logprobs`] whose target is a
    /// token of the sequence: `len - 1`, with `len` the row's length up to its last non-PAD
    /// token (0 for a row of PAD or of a single token).
    pub fn scored(&self) -> impl Iterator<Item = usize> + '_ {
        self.tokens.chunks(self.cols).map(scored_len)
    }

    /// Sets `values` `[rows, cols - 1]` (log-probs or their gradients) to exactly 0.0 at every
    /// position past [`TokenBatch::scored`], the positions whose target is padding.
    pub fn zero_padding(&self, values: &mut [f32]) {
        for (row, k) in values.chunks_mut(self.cols - 1).zip(self.scored()) {
            row[k..].fill(0.0);
        }
    }

    /// Right-padded `[B, T]` token ids and the answer-token mask `[B, T-1]` (position `j` of the
    /// mask scores token `j + 1`, as [`Policy::logprobs`] does).
    pub fn padded(prompts: &[Vec<u32>], completions: &[Vec<u32>]) -> (TokenBatch, Vec<f32>) {
        let t = prompts.iter().zip(completions).map(|(p, c)| p.len() + c.len()).max().unwrap_or(2).max(2);
        let b = prompts.len();
        let mut tokens = vec![PAD; b * t];
        let mut mask = vec![0.0f32; b * (t - 1)];
        for (i, (p, c)) in prompts.iter().zip(completions).enumerate() {
            for (j, &tok) in p.iter().chain(c).enumerate() {
                tokens[i * t + j] = tok;
            }
            for j in p.len() - 1..p.len() + c.len() - 1 {
                mask[i * (t - 1) + j] = 1.0;
            }
        }
        (TokenBatch { tokens, rows: b, cols: t }, mask)
    }
}

/// A model plus its Adam state on one engine.
pub trait Policy {
    /// The model's shape.
    fn config(&self) -> &ModelConfig;

    /// Processes left-padded prompts `tokens` `[rows, cols]` (row `i` starts with `pad[i]`
    /// padding tokens, whose keys are masked and after which positions start at 0), fills the
    /// KV cache and returns the next-token logits `[rows, V]`.
    fn prefill(&mut self, tokens: &[u32], rows: usize, cols: usize, pad: &[usize]) -> &[f32];

    /// One decoding step after [`Policy::prefill`]: `tokens` `[rows]` at absolute column `col`
    /// (the number of tokens already cached); returns the next-token logits `[rows, V]`.
    fn decode_step(&mut self, tokens: &[u32], col: usize, pad: &[usize]) -> &[f32];

    /// `log pi(tokens[:, t+1] | tokens[:, ..=t])`, `[rows, cols - 1]`, without a gradient.
    ///
    /// Padding: `logp[b, t]` is computed for `t < scored[b]` ([`TokenBatch::scored`]: the
    /// target is a token of the sequence) and is exactly 0.0 at every later position (the
    /// target is trailing padding), which every loss masks out. An engine need not compute
    /// those positions: the native engine leaves them out of the forward pass, burn computes
    /// and then zeroes them. Under the causal mask, trailing padding cannot change an earlier
    /// position, so the computed values are those of the whole padded batch up to rounding.
    fn logprobs(&mut self, batch: &TokenBatch) -> Vec<f32>;

    /// Like [`Policy::logprobs`] (padded positions exactly 0.0), and keeps what
    /// [`Policy::backward_step`] needs.
    fn forward_train(&mut self, batch: &TokenBatch) -> Vec<f32>;

    /// Back-propagates `L = sum_{b,t} dlogp[b,t] * logp[b,t]` through the last
    /// [`Policy::forward_train`] and applies one Adam step at learning rate `lr`. `dlogp` at
    /// padded positions is ignored (their log-prob is the constant 0). An error
    /// when no forward pass is pending or `dlogp` has the wrong length.
    fn backward_step(&mut self, dlogp: &[f32], lr: f64) -> Result<StepStats>;

    /// Back-propagates like [`Policy::backward_step`] but returns the gradients (in
    /// [`ModelConfig::param_specs`] order) instead of updating (for tests and diagnostics).
    fn gradients(&mut self, dlogp: &[f32]) -> Result<Vec<Vec<f32>>>;

    /// The variance proxy of the current Adam moments.
    fn variance_proxy(&self) -> f64;

    /// The current weights.
    fn weights(&self) -> HostWeights;

    /// The current Adam state.
    fn adam_state(&self) -> AdamState;
}

/// Makes policies on one device.
pub trait Engine {
    /// The policy type.
    type Policy: Policy;

    /// A short name for reports (`cpu`, `cpu-burn`, `cuda`).
    fn name(&self) -> &'static str;

    /// A policy holding `weights` and the Adam state `adam` (updated with `cfg`).
    fn policy(&self, weights: &HostWeights, adam: &AdamState, cfg: AdamConfig) -> Result<Self::Policy>;

    /// A policy for sampling and log-probabilities only (fresh Adam moments).
    fn frozen(&self, weights: &HostWeights) -> Result<Self::Policy> {
        self.policy(weights, &AdamState::zeros(&weights.config), AdamConfig::default())
    }
}

/// `len - 1` for the row `tokens` of length `len` up to its last non-PAD token, else 0
/// ([`TokenBatch::scored`]).
pub(crate) fn scored_len(tokens: &[u32]) -> usize {
    tokens.iter().rposition(|&t| t != PAD).unwrap_or(0)
}

/// The error of a backward step without a forward pass.
pub(crate) fn no_pending() -> TrainerError {
    TrainerError::Backward { got: 0, expected: "none (no pending forward_train)".into() }
}

/// Checks that `dlogp` matches the pending forward pass of `rows x (cols-1)` log-probs.
pub(crate) fn check_dlogp(dlogp: &[f32], pending: Option<[usize; 2]>) -> Result<()> {
    match pending {
        None => Err(no_pending()),
        Some([rows, cols]) if dlogp.len() != rows * (cols - 1) => {
            Err(TrainerError::Backward { got: dlogp.len(), expected: format!("{rows} x {}", cols - 1) })
        }
        Some(_) => Ok(()),
    }
}
