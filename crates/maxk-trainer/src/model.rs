//! A decoder-only transformer (GPT-2 style, pre-norm, learned absolute positions, tanh-GELU MLP,
//! untied output head), written as plain functions over a flat list of weight tensors so that
//! the same code runs on any burn backend, with or without autodiff, and the weights map 1:1
//! onto safetensors names.
//!
//! Shapes: tokens `[B, T]`; hidden states are kept flat as `[B*T, d]`; attention uses
//! `[B, H, T, d/H]`. One block: `x += W_o attn(LN1(x)); x += W_2 gelu(W_1 LN2(x))`, with
//! `attn(q, k, v) = softmax(q k^T / sqrt(d/H) + bias) v` and an additive bias of -1e9 on
//! masked (future or padding) keys.

use burn::tensor::activation::{log_softmax, softmax};
use burn::tensor::backend::Backend;
use burn::tensor::{Element, Int, Tensor, TensorCreationOptions, TensorData};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::vocab::VOCAB_SIZE;

/// Additive attention bias of a masked key.
pub(crate) const MASKED: f32 = -1e9;
/// Weight tensors per transformer block.
const PER_LAYER: usize = 12;
/// Layer-norm epsilon.
const LN_EPS: f64 = 1e-5;

/// Model hyper-parameters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    /// Width of the residual stream.
    pub d_model: usize,
    /// Number of transformer blocks.
    pub n_layers: usize,
    /// Attention heads; must divide `d_model`.
    pub n_heads: usize,
    /// Hidden width of the MLP.
    pub d_ff: usize,
    /// Longest sequence (prompt + answer + BOS/EOS) the position table covers.
    pub max_seq_len: usize,
}

/// How a weight is initialised.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Init {
    /// N(0, std^2).
    Normal(f64),
    /// All ones (layer-norm gains).
    Ones,
    /// All zeros (biases).
    Zeros,
}

/// Name and `[rows, cols]` shape of one weight tensor (vectors are `[1, n]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamSpec {
    /// safetensors name, e.g. `layers.0.w_qkv`.
    pub name: String,
    /// `[rows, cols]`.
    pub shape: [usize; 2],
}

impl ModelConfig {
    /// Checks the shape constraints.
    pub fn validate(&self) -> Result<()> {
        let sizes = [
            ("model.d_model", self.d_model),
            ("model.n_layers", self.n_layers),
            ("model.n_heads", self.n_heads),
            ("model.d_ff", self.d_ff),
            ("model.max_seq_len", self.max_seq_len),
        ];
        for (key, value) in sizes {
            maxk_study::config::at_least(key, value, 1)?;
        }
        if !self.d_model.is_multiple_of(self.n_heads) {
            let reason = format!("must be divisible by model.n_heads = {}", self.n_heads);
            return Err(maxk_study::ConfigError::invalid("model.d_model", self.d_model, reason).into());
        }
        Ok(())
    }

    fn layout(&self) -> Vec<(ParamSpec, Init)> {
        let (d, f, v) = (self.d_model, self.d_ff, VOCAB_SIZE);
        let std = 0.02;
        // GPT-2: residual projections scaled by 1/sqrt(2 L) so the stream's variance stays O(1).
        let proj = std / (2.0 * self.n_layers as f64).sqrt();
        let p = |name: String, shape: [usize; 2], init| (ParamSpec { name, shape }, init);
        let mut out = vec![
            p("tok_emb".into(), [v, d], Init::Normal(std)),
            p("pos_emb".into(), [self.max_seq_len, d], Init::Normal(std)),
        ];
        for l in 0..self.n_layers {
            let n = |s: &str| format!("layers.{l}.{s}");
            out.extend([
                p(n("ln1_g"), [1, d], Init::Ones),
                p(n("ln1_b"), [1, d], Init::Zeros),
                p(n("w_qkv"), [d, 3 * d], Init::Normal(std)),
                p(n("b_qkv"), [1, 3 * d], Init::Zeros),
                p(n("w_o"), [d, d], Init::Normal(proj)),
                p(n("b_o"), [1, d], Init::Zeros),
                p(n("ln2_g"), [1, d], Init::Ones),
                p(n("ln2_b"), [1, d], Init::Zeros),
                p(n("w_1"), [d, f], Init::Normal(std)),
                p(n("b_1"), [1, f], Init::Zeros),
                p(n("w_2"), [f, d], Init::Normal(proj)),
                p(n("b_2"), [1, d], Init::Zeros),
            ]);
        }
        out.extend([
            p("lnf_g".into(), [1, d], Init::Ones),
            p("lnf_b".into(), [1, d], Init::Zeros),
            p("w_head".into(), [d, v], Init::Normal(std)),
        ]);
        out
    }

    /// Every weight tensor's name and shape, in storage order.
    pub fn param_specs(&self) -> Vec<ParamSpec> {
        self.layout().into_iter().map(|(s, _)| s).collect()
    }

    /// Total number of scalar parameters.
    pub fn num_params(&self) -> usize {
        self.param_specs().iter().map(|s| s.shape[0] * s.shape[1]).sum()
    }

    /// Fresh weights drawn from a ChaCha stream seeded by `seed` (the same f32 values on every
    /// engine).
    pub fn init_host(&self, seed: u64) -> Result<HostWeights> {
        self.validate()?;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let tensors = self
            .layout()
            .into_iter()
            .map(|(spec, init)| {
                let n = spec.shape[0] * spec.shape[1];
                match init {
                    Init::Normal(std) => (0..n).map(|_| (std * standard_normal(&mut rng)) as f32).collect(),
                    Init::Ones => vec![1.0; n],
                    Init::Zeros => vec![0.0; n],
                }
            })
            .collect();
        Ok(HostWeights { config: self.clone(), tensors })
    }

    /// Fresh weights on a burn `device` ([`ModelConfig::init_host`] uploaded).
    pub fn init<B: Backend>(&self, seed: u64, device: &B::Device) -> Result<Weights<B>> {
        Ok(Weights::from_host(&self.init_host(seed)?, device))
    }
}

/// Weights as plain f32 vectors on the host: `tensors[i]` holds the row-major values of
/// `config.param_specs()[i]`. This is what checkpoints store and what every engine loads.
#[derive(Debug, Clone, PartialEq)]
pub struct HostWeights {
    /// The hyper-parameters the tensors were built for.
    pub config: ModelConfig,
    /// Every weight, in [`ModelConfig::param_specs`] order.
    pub tensors: Vec<Vec<f32>>,
}

impl HostWeights {
    /// All-zero tensors shaped like the weights of `config` (e.g. fresh Adam moments).
    pub fn zeros(config: &ModelConfig) -> Self {
        let tensors = config.param_specs().iter().map(|s| vec![0.0; s.shape[0] * s.shape[1]]).collect();
        HostWeights { config: config.clone(), tensors }
    }
}

/// One N(0, 1) draw by Box-Muller (rand 0.8 has no normal distribution without rand_distr).
fn standard_normal<R: Rng>(rng: &mut R) -> f64 {
    let u1: f64 = 1.0 - rng.r#gen::<f64>(); // in (0, 1]
    let u2: f64 = rng.r#gen();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// A `[rows, cols]` float tensor from f32 values, stored in the backend's float type. The dtype
/// is explicit because burn 0.21 otherwise takes it from per-device settings that backends
/// sharing a device type (NdArray f32 and f64) share, whichever touched the device first.
pub(crate) fn tensor_2d<B: Backend>(values: Vec<f32>, shape: [usize; 2], device: &B::Device) -> Tensor<B, 2> {
    let options = TensorCreationOptions::new(device.clone()).with_dtype(<B::FloatElem as Element>::dtype());
    Tensor::from_data(TensorData::new(values, shape), options)
}

/// An int tensor from token ids.
pub(crate) fn int_tensor<B: Backend, const D: usize>(
    values: Vec<i64>,
    shape: [usize; D],
    device: &B::Device,
) -> Tensor<B, D, Int> {
    Tensor::from_data(TensorData::new(values, shape), device)
}

/// A float tensor's values as f32 (whatever the backend's float type).
pub fn to_f32<B: Backend, const D: usize>(t: Tensor<B, D>) -> Vec<f32> {
    t.into_data().convert::<f32>().into_vec::<f32>().unwrap_or_default()
}

/// The model's weights: `tensors[i]` has the shape of `config.param_specs()[i]`.
#[derive(Debug, Clone)]
pub struct Weights<B: Backend> {
    /// The hyper-parameters the tensors were built for.
    pub config: ModelConfig,
    /// Every weight, in [`ModelConfig::param_specs`] order.
    pub tensors: Vec<Tensor<B, 2>>,
}

/// Per-layer keys and values of the tokens seen so far, `[B, H, T, d/H]` each.
#[derive(Debug, Clone)]
pub struct KvCache<B: Backend> {
    keys: Vec<Tensor<B, 4>>,
    values: Vec<Tensor<B, 4>>,
}

impl<B: Backend> KvCache<B> {
    /// A cache holding no tokens.
    pub fn empty() -> Self {
        KvCache { keys: Vec::new(), values: Vec::new() }
    }
}

impl<B: Backend> Weights<B> {
    /// Uploads host weights to `device`.
    pub fn from_host(host: &HostWeights, device: &B::Device) -> Self {
        let specs = host.config.param_specs();
        let tensors =
            specs.iter().zip(&host.tensors).map(|(s, t)| tensor_2d(t.clone(), s.shape, device)).collect();
        Weights { config: host.config.clone(), tensors }
    }

    /// Downloads the weights as host vectors.
    pub fn to_host(&self) -> HostWeights {
        HostWeights {
            config: self.config.clone(),
            tensors: self.tensors.iter().cloned().map(to_f32).collect(),
        }
    }

    fn layer(&self, l: usize, i: usize) -> Tensor<B, 2> {
        self.tensors[2 + l * PER_LAYER + i].clone()
    }

    fn tail(&self, i: usize) -> Tensor<B, 2> {
        self.tensors[2 + self.config.n_layers * PER_LAYER + i].clone()
    }

    /// Token plus position embeddings, flat `[B*T, d]`.
    fn embed(&self, tokens: Tensor<B, 2, Int>, positions: Tensor<B, 2, Int>) -> Tensor<B, 2> {
        let n = tokens.dims()[0] * tokens.dims()[1];
        let tok = self.tensors[0].clone().select(0, tokens.reshape([n]));
        let pos = self.tensors[1].clone().select(0, positions.reshape([n]));
        tok + pos
    }

    /// Runs every block on `x` (`[B*Tq, d]`) and returns the logits `[B*Tq, V]`. With a cache,
    /// the new keys/values are appended and attention covers all cached positions.
    fn blocks(
        &self,
        mut x: Tensor<B, 2>,
        batch: usize,
        tq: usize,
        bias: Tensor<B, 4>,
        mut cache: Option<&mut KvCache<B>>,
    ) -> Tensor<B, 2> {
        let c = &self.config;
        let (d, h) = (c.d_model, c.n_heads);
        let dh = d / h;
        let heads = |t: Tensor<B, 2>| t.reshape([batch, tq, h, dh]).swap_dims(1, 2);
        for l in 0..c.n_layers {
            let a = layer_norm(x.clone(), self.layer(l, 0), self.layer(l, 1));
            let qkv = a.matmul(self.layer(l, 2)) + self.layer(l, 3);
            let rows = batch * tq;
            let q = heads(qkv.clone().slice([0..rows, 0..d]));
            let mut k = heads(qkv.clone().slice([0..rows, d..2 * d]));
            let mut v = heads(qkv.slice([0..rows, 2 * d..3 * d]));
            if let Some(cache) = cache.as_deref_mut() {
                if let (Some(ck), Some(cv)) = (cache.keys.get(l), cache.values.get(l)) {
                    k = Tensor::cat(vec![ck.clone(), k], 2);
                    v = Tensor::cat(vec![cv.clone(), v], 2);
                    cache.keys[l] = k.clone();
                    cache.values[l] = v.clone();
                } else {
                    cache.keys.push(k.clone());
                    cache.values.push(v.clone());
                }
            }
            let scores = q.matmul(k.swap_dims(2, 3)).mul_scalar(1.0 / (dh as f64).sqrt()) + bias.clone();
            let att = softmax(scores, 3).matmul(v).swap_dims(1, 2).reshape([rows, d]);
            x = x + att.matmul(self.layer(l, 4)) + self.layer(l, 5);
            let m = layer_norm(x.clone(), self.layer(l, 6), self.layer(l, 7));
            let m = gelu_tanh(m.matmul(self.layer(l, 8)) + self.layer(l, 9));
            x = x + m.matmul(self.layer(l, 10)) + self.layer(l, 11);
        }
        layer_norm(x, self.tail(0), self.tail(1)).matmul(self.tail(2))
    }

    /// Logits `[B, T, V]` of right-padded sequences `tokens` `[B, T]` under a causal mask.
    /// Padding after a sequence's end cannot influence its earlier positions.
    pub fn forward(&self, tokens: Tensor<B, 2, Int>) -> Tensor<B, 3> {
        let [b, t] = tokens.dims();
        let device = tokens.device();
        let positions =
            int_tensor::<B, 1>((0..t as i64).collect(), [t], &device).reshape([1, t]).repeat_dim(0, b);
        let x = self.embed(tokens, positions);
        let causal: Vec<f32> = (0..t * t).map(|i| if i % t > i / t { MASKED } else { 0.0 }).collect();
        let bias = tensor_2d::<B>(causal, [t, t], &device).reshape([1, 1, t, t]);
        self.blocks(x, b, t, bias, None).reshape([b, t, VOCAB_SIZE])
    }

    /// `log pi(tokens[:, t+1] | tokens[:, ..=t])` for every `t`, shape `[B, T-1]`.
    pub fn token_logprobs(&self, tokens: Tensor<B, 2, Int>) -> Tensor<B, 2> {
        let [b, t] = tokens.dims();
        let inputs = tokens.clone().slice([0..b, 0..t - 1]);
        let targets = tokens.slice([0..b, 1..t]).reshape([b, t - 1, 1]);
        log_softmax(self.forward(inputs), 2).gather(2, targets).reshape([b, t - 1])
    }

    /// Processes left-padded prompts `tokens` `[B, L]` (row `i` starts with `pad[i]` padding
    /// tokens) and returns the next-token logits `[B, V]` and the cache.
    pub fn prefill(&self, tokens: Tensor<B, 2, Int>, pad: &[usize]) -> (Tensor<B, 2>, KvCache<B>) {
        let [b, l] = tokens.dims();
        let device = tokens.device();
        let pos: Vec<i64> = (0..b * l).map(|i| (i % l).saturating_sub(pad[i / l]) as i64).collect();
        let x = self.embed(tokens, int_tensor(pos, [b, l], &device));
        let mut bias = vec![0.0f32; b * l * l];
        for (i, row) in bias.chunks_mut(l * l).enumerate() {
            for (j, v) in row.iter_mut().enumerate() {
                let (q, k) = (j / l, j % l);
                if k > q || k < pad[i] {
                    *v = MASKED;
                }
            }
        }
        let bias = tensor_2d::<B>(bias, [b, l * l], &device).reshape([b, 1, l, l]);
        let mut cache = KvCache::empty();
        let logits = self.blocks(x, b, l, bias, Some(&mut cache)).reshape([b, l, VOCAB_SIZE]);
        let last = logits.slice([0..b, l - 1..l, 0..VOCAB_SIZE]).reshape([b, VOCAB_SIZE]);
        (last, cache)
    }

    /// One decoding step: `tokens` `[B]` at absolute column `col` (= tokens already cached)
    /// of rows left-padded by `pad`; returns the next-token logits `[B, V]`.
    pub fn decode_step(
        &self,
        tokens: Tensor<B, 1, Int>,
        col: usize,
        pad: &[usize],
        cache: &mut KvCache<B>,
    ) -> Tensor<B, 2> {
        let b = tokens.dims()[0];
        let device = tokens.device();
        let pos: Vec<i64> = pad.iter().map(|&p| col.saturating_sub(p) as i64).collect();
        let x = self.embed(tokens.reshape([b, 1]), int_tensor(pos, [b, 1], &device));
        let tk = col + 1;
        let bias: Vec<f32> = (0..b * tk).map(|i| if i % tk < pad[i / tk] { MASKED } else { 0.0 }).collect();
        let bias = tensor_2d::<B>(bias, [b, tk], &device).reshape([b, 1, 1, tk]);
        self.blocks(x, b, 1, bias, Some(cache))
    }
}

/// GPT-2's tanh approximation of GELU (Hendrycks & Gimpel 2016, eq. 2),
/// `0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))`, written with tensor ops so that autodiff
/// differentiates exactly what the forward pass computes. (burn 0.21's `gelu` computes the erf
/// form forward but the tanh form's derivative backward, which the finite-difference test
/// catches at a relative error ~1e-3.) PyTorch: `F.gelu(x, approximate="tanh")`.
fn gelu_tanh<B: Backend>(x: Tensor<B, 2>) -> Tensor<B, 2> {
    let inner = (x.clone() + x.clone().powi_scalar(3).mul_scalar(0.044715))
        .mul_scalar((2.0 / std::f64::consts::PI).sqrt());
    (inner.tanh().add_scalar(1.0) * x).mul_scalar(0.5)
}

/// `g * (x - mean) / sqrt(var + eps) + b` over the last dimension of `[N, d]`.
fn layer_norm<B: Backend>(x: Tensor<B, 2>, g: Tensor<B, 2>, b: Tensor<B, 2>) -> Tensor<B, 2> {
    let centered = x.clone() - x.mean_dim(1);
    let var = centered.clone().square().mean_dim(1);
    centered / var.add_scalar(LN_EPS).sqrt() * g + b
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::NdArray;

    type B = NdArray<f32>;

    pub(crate) fn tiny() -> ModelConfig {
        ModelConfig { d_model: 16, n_layers: 2, n_heads: 2, d_ff: 32, max_seq_len: 16 }
    }

    #[test]
    fn shapes_and_param_count() {
        let c = tiny();
        let w = c.init::<B>(0, &Default::default()).unwrap();
        assert_eq!(w.tensors.len(), c.param_specs().len());
        let expected = VOCAB_SIZE * 16
            + 16 * 16
            + 2 * (4 * 16 + 16 * 48 + 48 + 16 * 16 + 16 + 16 * 32 + 32 + 32 * 16 + 16)
            + 2 * 16
            + 16 * VOCAB_SIZE;
        assert_eq!(c.num_params(), expected);
        let toks = int_tensor::<B, 2>(vec![1, 5, 6, 7, 1, 8, 9, 0], [2, 4], &Default::default());
        assert_eq!(w.forward(toks).dims(), [2, 4, VOCAB_SIZE]);
    }

    #[test]
    fn invalid_config_is_an_error() {
        let c = ModelConfig { n_heads: 3, ..tiny() };
        assert!(c.init::<B>(0, &Default::default()).is_err());
    }

    /// KV-cache decoding of left-padded prompts equals the full causal forward pass of the
    /// unpadded sequences (tolerance 1e-4 on f32 logits of size ~1).
    #[test]
    fn kv_cache_matches_full_forward() {
        let w = tiny().init::<B>(3, &Default::default()).unwrap();
        let dev = Default::default();
        let seqs: [Vec<i64>; 2] = [vec![1, 5, 6, 7, 8, 9], vec![1, 10, 11, 12, 13, 14]];
        let pad = [1usize, 0];
        // Row 0 has a 3-token prompt (padded to 4), row 1 a 4-token prompt.
        let prompts = vec![0, 1, 5, 6, 1, 10, 11, 12];
        let (mut logits, mut cache) = w.prefill(int_tensor(prompts, [2, 4], &dev), &pad);
        let mut steps = vec![to_f32(logits.clone())];
        for s in 0..2 {
            let next = vec![seqs[0][3 + s], seqs[1][4 + s]];
            logits = w.decode_step(int_tensor(next, [2], &dev), 4 + s, &pad, &mut cache);
            steps.push(to_f32(logits.clone()));
        }
        for (row, seq) in seqs.iter().enumerate() {
            let full = to_f32(w.forward(int_tensor(seq.clone(), [1, 6], &dev)));
            let plen = 4 - pad[row];
            for (s, step) in steps.iter().enumerate() {
                let pos = plen - 1 + s;
                let want = &full[pos * VOCAB_SIZE..(pos + 1) * VOCAB_SIZE];
                let got = &step[row * VOCAB_SIZE..(row + 1) * VOCAB_SIZE];
                for (a, b) in want.iter().zip(got) {
                    assert!((a - b).abs() < 1e-4, "row {row} step {s}: {a} vs {b}");
                }
            }
        }
    }
}
