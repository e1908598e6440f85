//! The burn engine: the model of [`crate::model`] under burn's autodiff, on any burn backend
//! (NdArray on the CPU as `--device cpu-burn`, CUDA as `--device cuda`). It is also the
//! reference the native CPU engine is tested against.

use burn::tensor::Tensor;
use burn::tensor::backend::AutodiffBackend;

use super::{Engine, Policy, TokenBatch, check_dlogp, no_pending};
use crate::error::Result;
use crate::model::{HostWeights, KvCache, ModelConfig, Weights, int_tensor, tensor_2d, to_f32};
use crate::optim::{Adam, AdamConfig, AdamState, StepStats, gradients, track};

/// burn autodiff backend `B` on `device`.
#[derive(Debug, Clone)]
pub struct BurnEngine<B: AutodiffBackend> {
    device: B::Device,
    name: &'static str,
}

impl<B: AutodiffBackend> BurnEngine<B> {
    /// An engine on `device`, called `name` in reports.
    pub fn new(device: B::Device, name: &'static str) -> Self {
        BurnEngine { device, name }
    }
}

impl<B: AutodiffBackend> Engine for BurnEngine<B> {
    type Policy = BurnPolicy<B>;

    fn name(&self) -> &'static str {
        self.name
    }

    fn policy(&self, weights: &HostWeights, adam: &AdamState, cfg: AdamConfig) -> Result<BurnPolicy<B>> {
        weights.config.validate()?;
        let w = Weights::from_host(weights, &self.device);
        let adam = Adam::from_host(cfg, adam, &w);
        Ok(BurnPolicy {
            weights: w,
            adam,
            device: self.device.clone(),
            cache: None,
            logits: Vec::new(),
            tape: None,
        })
    }
}

/// A policy on a burn backend.
#[derive(Debug)]
pub struct BurnPolicy<B: AutodiffBackend> {
    weights: Weights<B::InnerBackend>,
    adam: Adam<B::InnerBackend>,
    device: B::Device,
    cache: Option<KvCache<B::InnerBackend>>,
    logits: Vec<f32>,
    /// Tracked weights and log-probs of the pending forward pass, with its batch.
    tape: Option<(Weights<B>, Tensor<B, 2>, TokenBatch)>,
}

fn ids(tokens: &[u32]) -> Vec<i64> {
    tokens.iter().map(|&t| i64::from(t)).collect()
}

impl<B: AutodiffBackend> BurnPolicy<B> {
    /// Gradients of `sum dlogp * logp` for the pending forward pass (`dlogp` at padded
    /// positions ignored, as the [`Policy`] contract says).
    fn backward(&mut self, dlogp: &[f32]) -> Result<Vec<Tensor<B::InnerBackend, 2>>> {
        check_dlogp(dlogp, self.tape.as_ref().map(|t| [t.2.rows, t.2.cols]))?;
        let Some((tracked, logp, batch)) = self.tape.take() else { return Err(no_pending()) };
        let mut g = dlogp.to_vec();
        batch.zero_padding(&mut g);
        let g = Tensor::<B, 2>::from_inner(tensor_2d(g, [batch.rows, batch.cols - 1], &self.device));
        Ok(gradients(&tracked, (logp * g).sum()))
    }
}

impl<B: AutodiffBackend> Policy for BurnPolicy<B> {
    fn config(&self) -> &ModelConfig {
        &self.weights.config
    }

    fn prefill(&mut self, tokens: &[u32], rows: usize, cols: usize, pad: &[usize]) -> &[f32] {
        let (logits, cache) = self.weights.prefill(int_tensor(ids(tokens), [rows, cols], &self.device), pad);
        self.cache = Some(cache);
        self.logits = to_f32(logits);
        &self.logits
    }

    fn decode_step(&mut self, tokens: &[u32], col: usize, pad: &[usize]) -> &[f32] {
        let cache = self.cache.get_or_insert_with(KvCache::empty);
        let logits =
            self.weights.decode_step(int_tensor(ids(tokens), [tokens.len()], &self.device), col, pad, cache);
        self.logits = to_f32(logits);
        &self.logits
    }

    fn logprobs(&mut self, batch: &TokenBatch) -> Vec<f32> {
        let t = int_tensor(ids(&batch.tokens), [batch.rows, batch.cols], &self.device);
        let mut logp = to_f32(self.weights.token_logprobs(t));
        batch.zero_padding(&mut logp);
        logp
    }

    fn forward_train(&mut self, batch: &TokenBatch) -> Vec<f32> {
        let tracked = track::<B>(&self.weights);
        let t = int_tensor(ids(&batch.tokens), [batch.rows, batch.cols], &self.device);
        let logp = tracked.token_logprobs(t);
        let mut values = to_f32(logp.clone().inner());
        batch.zero_padding(&mut values);
        self.tape = Some((tracked, logp, batch.clone()));
        values
    }

    fn backward_step(&mut self, dlogp: &[f32], lr: f64) -> Result<StepStats> {
        let grads = self.backward(dlogp)?;
        Ok(self.adam.step(&mut self.weights, grads, lr))
    }

    fn gradients(&mut self, dlogp: &[f32]) -> Result<Vec<Vec<f32>>> {
        Ok(self.backward(dlogp)?.into_iter().map(to_f32).collect())
    }

    fn variance_proxy(&self) -> f64 {
        self.adam.variance_proxy()
    }

    fn weights(&self) -> HostWeights {
        self.weights.to_host()
    }

    fn adam_state(&self) -> AdamState {
        self.adam.to_host()
    }
}
