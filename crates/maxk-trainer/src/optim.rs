//! Adam (Kingma & Ba 2015) with global-norm gradient clipping, on the flat weight list, and
//! the bridge between inner-backend weights and autodiff tensors.
//!
//! Update with gradient `g` at step `t`: `m = b1 m + (1-b1) g`, `v = b2 v + (1-b2) g^2`,
//! `m_hat = m/(1-b1^t)`, `v_hat = v/(1-b2^t)`, `theta -= lr m_hat/(sqrt(v_hat) + eps)`.
//! The moments are kept (and checkpointed) so that [`crate::diagnostics::variance_proxy`] can
//! read `Var(g) ~ v_hat - m_hat^2`.

use burn::tensor::Tensor;
use burn::tensor::backend::{AutodiffBackend, Backend};
use serde::{Deserialize, Serialize};

use crate::diagnostics::variance_proxy;
use crate::model::{HostWeights, ModelConfig, Weights, tensor_2d, to_f32};

/// Adam hyper-parameters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdamConfig {
    /// Learning rate.
    pub lr: f64,
    /// First-moment decay.
    pub beta1: f64,
    /// Second-moment decay.
    pub beta2: f64,
    /// Denominator epsilon.
    pub eps: f64,
    /// Clip the global gradient L2 norm to this value (0 disables).
    pub grad_clip: f64,
}

impl Default for AdamConfig {
    fn default() -> Self {
        AdamConfig { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, grad_clip: 1.0 }
    }
}

/// Adam state: step count and one `m`, `v` per weight tensor.
#[derive(Debug, Clone)]
pub struct Adam<B: Backend> {
    /// Hyper-parameters.
    pub cfg: AdamConfig,
    /// Updates done so far.
    pub t: u64,
    /// First moments.
    pub m: Vec<Tensor<B, 2>>,
    /// Second moments.
    pub v: Vec<Tensor<B, 2>>,
}

/// What one update measured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepStats {
    /// Global gradient norm before clipping.
    pub grad_norm: f64,
    /// Mean over parameters of `v_hat - m_hat^2` after the update.
    pub var_proxy: f64,
}

impl<B: Backend> Adam<B> {
    /// Zero moments shaped like `weights`.
    pub fn new(cfg: AdamConfig, weights: &Weights<B>) -> Self {
        let zeros: Vec<_> = weights.tensors.iter().map(Tensor::zeros_like).collect();
        Adam { cfg, t: 0, m: zeros.clone(), v: zeros }
    }

    /// One update of `weights` with `grads` (same order and shapes) at learning rate `lr`.
    pub fn step(&mut self, weights: &mut Weights<B>, grads: Vec<Tensor<B, 2>>, lr: f64) -> StepStats {
        let sq: f64 = grads
            .iter()
            .map(|g| to_f32(g.clone().square().sum()).iter().map(|&x| x as f64).sum::<f64>())
            .sum();
        let grad_norm = sq.sqrt();
        let clip = if self.cfg.grad_clip > 0.0 && grad_norm > self.cfg.grad_clip {
            self.cfg.grad_clip / grad_norm
        } else {
            1.0
        };
        self.t += 1;
        let (b1, b2) = (self.cfg.beta1, self.cfg.beta2);
        let c1 = 1.0 - b1.powi(self.t as i32);
        let c2 = 1.0 - b2.powi(self.t as i32);
        for (i, g) in grads.into_iter().enumerate() {
            let g = g.mul_scalar(clip);
            self.m[i] = self.m[i].clone().mul_scalar(b1) + g.clone().mul_scalar(1.0 - b1);
            self.v[i] = self.v[i].clone().mul_scalar(b2) + g.square().mul_scalar(1.0 - b2);
            let m_hat = self.m[i].clone().div_scalar(c1);
            let v_hat = self.v[i].clone().div_scalar(c2);
            let update = m_hat / v_hat.sqrt().add_scalar(self.cfg.eps);
            weights.tensors[i] = weights.tensors[i].clone() - update.mul_scalar(lr);
        }
        StepStats { grad_norm, var_proxy: self.variance_proxy() }
    }

    /// The variance proxy of the current moments (0 before the first update).
    pub fn variance_proxy(&self) -> f64 {
        self.to_host().variance_proxy(&self.cfg)
    }

    /// Uploads a host state.
    pub fn from_host(cfg: AdamConfig, state: &AdamState, weights: &Weights<B>) -> Self {
        let device = weights.tensors.first().map(Tensor::device).unwrap_or_default();
        let up = |vs: &[Vec<f32>]| -> Vec<Tensor<B, 2>> {
            vs.iter().zip(&weights.tensors).map(|(v, w)| tensor_2d(v.clone(), w.dims(), &device)).collect()
        };
        Adam { cfg, t: state.t, m: up(&state.m), v: up(&state.v) }
    }

    /// Downloads the state.
    pub fn to_host(&self) -> AdamState {
        let down = |ts: &[Tensor<B, 2>]| ts.iter().cloned().map(to_f32).collect();
        AdamState { t: self.t, m: down(&self.m), v: down(&self.v) }
    }
}

/// Adam's state on the host: the update count and one `m`, `v` vector per weight tensor
/// (shaped like [`HostWeights::tensors`]). Checkpoints store exactly this.
#[derive(Debug, Clone, PartialEq)]
pub struct AdamState {
    /// Updates done so far.
    pub t: u64,
    /// First moments.
    pub m: Vec<Vec<f32>>,
    /// Second moments.
    pub v: Vec<Vec<f32>>,
}

impl AdamState {
    /// Zero moments for a model of shape `config`.
    pub fn zeros(config: &ModelConfig) -> Self {
        let z = HostWeights::zeros(config).tensors;
        AdamState { t: 0, m: z.clone(), v: z }
    }

    /// The variance proxy of the current moments (0 before the first update).
    pub fn variance_proxy(&self, cfg: &AdamConfig) -> f64 {
        if self.t == 0 {
            return 0.0;
        }
        let (c1, c2) = (1.0 - cfg.beta1.powi(self.t as i32), 1.0 - cfg.beta2.powi(self.t as i32));
        variance_proxy(&self.m, &self.v, c1, c2)
    }

    /// One fused Adam update of `weights` with `grads` (same layout) at learning rate `lr`,
    /// with global-norm clipping; the same f32 arithmetic, in the same order, as [`Adam::step`].
    pub fn step(
        &mut self,
        cfg: &AdamConfig,
        weights: &mut [Vec<f32>],
        grads: &[Vec<f32>],
        lr: f64,
    ) -> StepStats {
        let sq: f64 = grads.iter().map(|g| g.iter().map(|&x| (x * x) as f64).sum::<f64>()).sum();
        let grad_norm = sq.sqrt();
        let clip =
            if cfg.grad_clip > 0.0 && grad_norm > cfg.grad_clip { cfg.grad_clip / grad_norm } else { 1.0 };
        self.t += 1;
        let (b1, b2) = (cfg.beta1, cfg.beta2);
        let c1 = (1.0 - b1.powi(self.t as i32)) as f32;
        let c2 = (1.0 - b2.powi(self.t as i32)) as f32;
        let (clip, b1f, b2f) = (clip as f32, b1 as f32, b2 as f32);
        let (a1, a2, eps, lr) = ((1.0 - b1) as f32, (1.0 - b2) as f32, cfg.eps as f32, lr as f32);
        for (((w, g), m), v) in weights.iter_mut().zip(grads).zip(&mut self.m).zip(&mut self.v) {
            for (((w, &g), m), v) in w.iter_mut().zip(g).zip(m.iter_mut()).zip(v.iter_mut()) {
                let g = g * clip;
                *m = *m * b1f + g * a1;
                *v = *v * b2f + g * g * a2;
                let update = (*m / c1) / ((*v / c2).sqrt() + eps);
                *w -= update * lr;
            }
        }
        StepStats { grad_norm, var_proxy: self.variance_proxy(cfg) }
    }
}

/// Autodiff leaves holding copies of `weights` (each one requires a gradient).
pub fn track<B: AutodiffBackend>(weights: &Weights<B::InnerBackend>) -> Weights<B> {
    Weights {
        config: weights.config.clone(),
        tensors: weights.tensors.iter().map(|t| Tensor::from_inner(t.clone()).require_grad()).collect(),
    }
}

/// Back-propagates the scalar `loss` and returns d loss / d weight for every tracked weight
/// (zeros for a weight the loss does not use).
pub fn gradients<B: AutodiffBackend>(
    tracked: &Weights<B>,
    loss: Tensor<B, 1>,
) -> Vec<Tensor<B::InnerBackend, 2>> {
    let grads = loss.backward();
    tracked.tensors.iter().map(|t| t.grad(&grads).unwrap_or_else(|| t.clone().inner().zeros_like())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::NdArray;

    type B = NdArray<f32>;

    #[test]
    fn first_step_moves_each_weight_by_lr_against_the_gradient_sign() {
        let dev = Default::default();
        let cfg = crate::model::ModelConfig { d_model: 4, n_layers: 1, n_heads: 1, d_ff: 4, max_seq_len: 4 };
        let mut w = cfg.init::<B>(0, &dev).unwrap();
        let before: Vec<Vec<f32>> = w.tensors.iter().map(|t| to_f32(t.clone())).collect();
        let grads: Vec<_> = w
            .tensors
            .iter()
            .map(|t| tensor_2d::<B>(vec![0.5; t.dims()[0] * t.dims()[1]], t.dims(), &dev))
            .collect();
        let mut adam = Adam::new(AdamConfig { grad_clip: 0.0, ..AdamConfig::default() }, &w);
        let stats = adam.step(&mut w, grads, 0.1);
        for (t, b) in w.tensors.iter().zip(before) {
            for (a, b) in to_f32(t.clone()).iter().zip(b) {
                assert!((b - a - 0.1).abs() < 1e-5);
            }
        }
        // A constant gradient has zero variance: v_hat = m_hat^2 after one step.
        assert!(stats.var_proxy.abs() < 1e-7, "{}", stats.var_proxy);
    }
}
