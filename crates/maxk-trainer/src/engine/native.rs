//! The native CPU engine: a hand-written forward and backward pass of exactly the model of
//! [`crate::model`] (same weight layout, pre-norm blocks, layer-norm eps 1e-5, tanh-GELU,
//! causal attention with masked keys excluded, which equals burn's additive -1e9 bias after
//! `exp` underflows to 0), in the style of llm.c: activation buffers reused across calls,
//! fused per-row kernels, sgemm from the `gemm` crate (`engine::kernels`), rayon over
//! sequences and row blocks with shape-determined chunking (bitwise deterministic given the
//! seed), a static KV cache for batched decoding, and Adam fused over the flat weights.
//!
//! Backward, per block (`g` denotes a gradient; LN' the layer-norm input gradient
//! `rstd (gy - mean(gy) - xhat mean(gy xhat))` with `gy` scaled by the gain):
//! `g_logits = g_logp (onehot - softmax)`; MLP `gW2 = act^T g`, `g_pre = (g W2^T) gelu'(pre)`,
//! `gW1 = a2^T g_pre`, `g_x += LN2'(g_pre W1^T)`; attention `g_P = g_y V^T`,
//! `g_S = P (g_P - rowsum(P g_P)) / sqrt(d_h)`, `g_Q = g_S K`, `g_K = g_S^T Q`, `g_V = P^T g_y`,
//! `gWqkv = a1^T g_qkv`, `g_x += LN1'(g_qkv Wqkv^T)`; embeddings scatter-add `g_x`.

use std::collections::HashMap;

use rayon::prelude::*;

use super::kernels::{
    Mat, add_col_sums, attend, axpy, dot, gelu_backward, gelu_in_place, gelu_into, ln_row_backward, ln_rows,
    matmul, softmax,
};
use super::{Engine, Policy, TokenBatch, check_dlogp, no_pending, scored_len};
use crate::error::Result;
use crate::model::{HostWeights, ModelConfig};
use crate::optim::{AdamConfig, AdamState, StepStats};
use crate::vocab::{PAD, VOCAB_SIZE};

/// Layer-norm epsilon (as [`crate::model`]).
const EPS: f32 = 1e-5;
/// Weight tensors per block.
const PER_LAYER: usize = 12;
/// Sequences per chunk of a gradient-free forward pass (bounds its memory).
const CHUNK: usize = 32;
/// A prefill's packed token count is rounded up to a multiple of this
/// ([`NativePolicy::embed_cached`]).
const PACK: usize = 16;

/// The native CPU engine (`--device cpu`).
#[derive(Debug, Clone, Copy, Default)]
pub struct NativeEngine;

impl Engine for NativeEngine {
    type Policy = NativePolicy;

    fn name(&self) -> &'static str {
        "cpu"
    }

    fn policy(&self, weights: &HostWeights, adam: &AdamState, cfg: AdamConfig) -> Result<NativePolicy> {
        weights.config.validate()?;
        let specs = weights.config.param_specs();
        let sizes_ok = |ts: &[Vec<f32>]| {
            ts.len() == specs.len() && ts.iter().zip(&specs).all(|(t, s)| t.len() == s.shape[0] * s.shape[1])
        };
        if !sizes_ok(&weights.tensors) || !sizes_ok(&adam.m) || !sizes_ok(&adam.v) {
            return Err(crate::TrainerError::WeightsMismatch { model: format!("{:?}", weights.config) });
        }
        Ok(NativePolicy {
            cfg: weights.config.clone(),
            adam_cfg: cfg,
            w: weights.tensors.clone(),
            adam: adam.clone(),
            grads: HostWeights::zeros(&weights.config).tensors,
            tape: Acts::default(),
            scratch: Acts::default(),
            pending: None,
            kv: Vec::new(),
            kv_rows: 0,
            kv_prompt: Vec::new(),
            kv_prompt_cols: 0,
            inf: Inference::default(),
            share_prompts: true,
            bwd: Default::default(),
        })
    }
}

/// Activations of one block, `[N, .]` with `N` the packed positions ([`Acts`]).
#[derive(Debug, Default)]
struct LayerActs {
    /// Residual stream entering the block.
    x: Vec<f32>,
    xhat1: Vec<f32>,
    rstd1: Vec<f32>,
    a1: Vec<f32>,
    qkv: Vec<f32>,
    /// Attention probabilities, `[H, len, len]` per sequence ([`Span::att`]; above the
    /// diagonal never written nor read).
    att: Vec<f32>,
    /// Attention output, heads merged, before `W_o`.
    y: Vec<f32>,
    /// Residual after attention.
    xm: Vec<f32>,
    xhat2: Vec<f32>,
    rstd2: Vec<f32>,
    a2: Vec<f32>,
    pre: Vec<f32>,
    act: Vec<f32>,
}

/// One sequence's positions in a packed training forward pass.
#[derive(Debug, Clone, Copy)]
struct Span {
    /// First packed position.
    at: usize,
    /// Positions: the row's scored positions ([`TokenBatch::scored`]).
    len: usize,
    /// Offset of its `[H, len, len]` attention probabilities in [`LayerActs::att`].
    att: usize,
}

/// Everything a forward pass keeps for the backward pass. The `[rows, cols - 1]` positions
/// are packed: each row's scored positions ([`TokenBatch::scored`]), row after row, then
/// filler rows up to a multiple of [`PACK`] (as the prefill's, [`NativePolicy::embed_cached`]),
/// `N` in all; the positions whose target is trailing padding are not computed.
#[derive(Debug, Default)]
struct Acts {
    cols: usize,
    spans: Vec<Span>,
    layers: Vec<LayerActs>,
    /// Final residual, its layer norm and the softmax of the logits.
    xf: Vec<f32>,
    xhatf: Vec<f32>,
    rstdf: Vec<f32>,
    af: Vec<f32>,
    probs: Vec<f32>,
    /// Input tokens and positions of the packed positions but the filler.
    inputs: Vec<u32>,
    positions: Vec<usize>,
    /// Target tokens `[N]` (PAD for the filler).
    targets: Vec<u32>,
}

impl Acts {
    /// Packs `tokens` `[rows, cols]` for a model of `heads` heads: every row's scored
    /// positions, or with `full` all `cols - 1` of them (the padded layout, the reference of
    /// the packing's tests). Returns the length of the attention buffer.
    fn pack(&mut self, tokens: &[u32], rows: usize, cols: usize, heads: usize, full: bool) -> usize {
        self.cols = cols;
        self.spans.clear();
        self.inputs.clear();
        self.positions.clear();
        self.targets.clear();
        let mut att = 0;
        for row in tokens.chunks(cols).take(rows) {
            let len = if full { cols - 1 } else { scored_len(row) };
            self.spans.push(Span { at: self.inputs.len(), len, att });
            att += heads * len * len;
            self.inputs.extend_from_slice(&row[..len]);
            self.positions.extend(0..len);
            self.targets.extend_from_slice(&row[1..=len]);
        }
        let n = self.inputs.len().next_multiple_of(PACK);
        self.targets.resize(n, PAD);
        att
    }
}

/// Buffers of gradient-free prefill / decode passes.
#[derive(Debug, Default)]
struct Inference {
    /// Per sequence, the new tokens' first absolute column and count.
    spans: Vec<(usize, usize)>,
    /// Per sequence, its row of the KV cache (increasing).
    cache_rows: Vec<usize>,
    /// Per sequence, its prompt's slot of the KV cache ([`KvCache`]; increasing in a prefill).
    prompt_slots: Vec<usize>,
    /// Per row of the prefill's batch, the sequence that computes it ([`Policy::prefill`]:
    /// rows with the same prompt share one).
    source: Vec<usize>,
    /// The new tokens, packed sequence after sequence.
    ids: Vec<u32>,
    x: Vec<f32>,
    xhat: Vec<f32>,
    rstd: Vec<f32>,
    a: Vec<f32>,
    qkv: Vec<f32>,
    y: Vec<f32>,
    h: Vec<f32>,
    last: Vec<f32>,
    logits: Vec<f32>,
}

/// A policy on the native engine.
#[derive(Debug)]
pub struct NativePolicy {
    cfg: ModelConfig,
    adam_cfg: AdamConfig,
    w: Vec<Vec<f32>>,
    adam: AdamState,
    grads: Vec<Vec<f32>>,
    tape: Acts,
    scratch: Acts,
    pending: Option<[usize; 2]>,
    /// Per block, the KV cache of the rows being decoded.
    kv: Vec<KvCache>,
    kv_rows: usize,
    /// Per row of the KV cache, its prompt's slot in [`KvCache::prompt_k`] (rows with the same
    /// prompt share one, [`Policy::prefill`]).
    kv_prompt: Vec<usize>,
    /// The prompts' columns (the prefill's `cols`): the KV cache's columns before it are the
    /// prompts', the later ones each row's own.
    kv_prompt_cols: usize,
    inf: Inference,
    /// Scratch of the backward pass (logit, layer-norm and residual gradients; the MLP and
    /// QKV gradients; one `d`-wide gradient), kept across calls.
    bwd: [Vec<f32>; 5],
    /// Whether the prefill computes each distinct prompt once (always, except in the tests
    /// that compare it with computing every row).
    share_prompts: bool,
}

/// One block's keys and values for batched decoding. A column `j` of a row is in its prompt's
/// slot when `j < kv_prompt_cols` (the prefill computes each distinct prompt once, and the rows
/// that repeat it read that one copy, which stays in the CPU's caches between them), else in
/// the row's own part at column `j - kv_prompt_cols` (written by the decoding steps). Both
/// are dense. The layout before, `[rows, H, max_seq_len, d_h]`, put every row's and head's
/// newest columns in a 4 KB page of their own; sampling is 5-12 % faster with this one (one
/// thread, docs/trainer-performance.md).
#[derive(Debug, Default)]
struct KvCache {
    /// `[prompts, H, kv_prompt_cols, d_h]`.
    prompt_k: Vec<f32>,
    prompt_v: Vec<f32>,
    /// `[rows, H, max_seq_len - kv_prompt_cols, d_h]`.
    own_k: Vec<f32>,
    own_v: Vec<f32>,
}

/// `v` as `n` zeros.
fn resize(v: &mut Vec<f32>, n: usize) {
    v.clear();
    v.resize(n, 0.0);
}

/// Runs `f` on a thread of rayon's global pool. A pass runs dozens of short parallel loops
/// (about a dozen per block); started from the caller's thread, each one hands its work to the
/// pool and sleeps until it is done (a wake-up and a sleep per loop, which a busy machine makes
/// slow), while inside the pool they fork and join by work stealing. Scheduling only: the
/// results are the same bits.
fn in_pool<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    rayon::scope(|_| f())
}

/// The `per`-long rows `rows` (increasing) of `buf`.
fn pick_rows<'a>(buf: &'a mut [f32], per: usize, rows: &[usize]) -> Vec<&'a mut [f32]> {
    let mut want = rows.iter().copied().peekable();
    buf.chunks_mut(per).enumerate().filter_map(|(r, c)| want.next_if_eq(&r).map(|_| c)).collect()
}

/// `v` with length `n`, keeping its old contents (for buffers that are overwritten before they
/// are read: no memset, and no fresh pages once the buffer has been as large).
fn reuse(v: &mut Vec<f32>, n: usize) {
    v.resize(n, 0.0);
}

/// Layer norm of every `d`-wide row of `x` into `y`, keeping `xhat` and `rstd`.
fn layer_norm(x: &[f32], g: &[f32], b: &[f32], xhat: &mut [f32], y: &mut [f32], rstd: &mut [f32]) {
    const R: usize = 64;
    let d = g.len();
    x.par_chunks(R * d)
        .zip(xhat.par_chunks_mut(R * d))
        .zip(y.par_chunks_mut(R * d))
        .zip(rstd.par_chunks_mut(R))
        .for_each(|(((x, xh), y), rs)| ln_rows(x, g, b, EPS, xh, y, rs));
}

/// `gx += LN'(gy)` for every row, and the gain / bias gradients (rows in order).
fn layer_norm_backward(
    gy: &[f32],
    g: &[f32],
    xhat: &[f32],
    rstd: &[f32],
    gx: &mut [f32],
    gg: &mut [f32],
    gb: &mut [f32],
) {
    const R: usize = 64;
    let d = g.len();
    gy.par_chunks(R * d)
        .zip(xhat.par_chunks(R * d))
        .zip(rstd.par_chunks(R))
        .zip(gx.par_chunks_mut(R * d))
        .for_each(|(((gy, xh), rs), gx)| {
            for (i, &r) in rs.iter().enumerate() {
                let s = i * d..(i + 1) * d;
                ln_row_backward(&gy[s.clone()], g, &xh[s.clone()], r, &mut gx[s]);
            }
        });
    for (gy, xh) in gy.chunks(d).zip(xhat.chunks(d)) {
        for i in 0..d {
            gg[i] += gy[i] * xh[i];
            gb[i] += gy[i];
        }
    }
}

/// `buf` cut into consecutive slices of the lengths `lens` (one per sequence of a packed
/// pass), for a parallel loop over sequences.
fn split_spans(buf: &mut [f32], lens: impl Iterator<Item = usize>) -> Vec<&mut [f32]> {
    let mut rest = buf;
    lens.map(|len| {
        let (head, tail) = std::mem::take(&mut rest).split_at_mut(len);
        rest = tail;
        head
    })
    .collect()
}

/// Fills every `width`-wide row of `out` with `bias`.
fn fill_rows(out: &mut [f32], bias: &[f32]) {
    out.par_chunks_mut(bias.len() * 64)
        .for_each(|c| c.chunks_mut(bias.len()).for_each(|r| r.copy_from_slice(bias)));
}

impl NativePolicy {
    fn layer(&self, l: usize, i: usize) -> &[f32] {
        &self.w[2 + l * PER_LAYER + i]
    }

    fn tail(&self, i: usize) -> &[f32] {
        &self.w[2 + self.cfg.n_layers * PER_LAYER + i]
    }

    /// Forward pass of right-padded `tokens` `[rows, cols]` into `acts`, packed ([`Acts`];
    /// `full`: unpacked, for tests); returns the log-probabilities `[rows, cols-1]` of each
    /// next token, exactly 0.0 where the target is trailing padding ([`Policy::logprobs`]).
    ///
    /// Trailing padding was about a third of the update's positions (the batch is padded to
    /// its longest sequence); under the causal mask it never reaches an earlier position, so
    /// packing it out changes no value in exact arithmetic, only the grouping of the weight
    /// gradients' sums. A position's values do not depend on the other rows of the batch
    /// (no sgemm block is a single row: the filler, as in the prefill), so the old log-probs
    /// and the first minibatch's forward pass give the same bits.
    fn forward(&self, acts: &mut Acts, tokens: &[u32], rows: usize, cols: usize, full: bool) -> Vec<f32> {
        let c = &self.cfg;
        let (d, h, f) = (c.d_model, c.n_heads, c.d_ff);
        let dh = d / h;
        let s = cols - 1;
        let att_len = acts.pack(tokens, rows, cols, h, full);
        let (n, real) = (acts.targets.len(), acts.inputs.len());
        acts.layers.resize_with(c.n_layers, LayerActs::default);
        // Embeddings; the filler rows are zero.
        let mut x = std::mem::take(&mut acts.xf);
        reuse(&mut x, n * d);
        let (tok, pos) = (&self.w[0], &self.w[1]);
        for (i, row) in x[..real * d].chunks_mut(d).enumerate() {
            let (t, p) = (acts.inputs[i] as usize, acts.positions[i]);
            for j in 0..d {
                row[j] = tok[t * d + j] + pos[p * d + j];
            }
        }
        x[real * d..].fill(0.0);
        let scale = 1.0 / (dh as f32).sqrt();
        let spans = &acts.spans;
        for l in 0..c.n_layers {
            let la = &mut acts.layers[l];
            std::mem::swap(&mut la.x, &mut x);
            // Every buffer but `y` (accumulated into, and zero on the filler) is written before
            // it is read (`att` above the diagonal is never read).
            for (v, len) in [
                (&mut la.xhat1, n * d),
                (&mut la.a1, n * d),
                (&mut la.qkv, n * 3 * d),
                (&mut la.att, att_len),
                (&mut la.xm, n * d),
                (&mut la.xhat2, n * d),
                (&mut la.a2, n * d),
                (&mut la.pre, n * f),
                (&mut la.act, n * f),
                (&mut la.rstd1, n),
                (&mut la.rstd2, n),
            ] {
                reuse(v, len);
            }
            resize(&mut la.y, n * d);
            layer_norm(&la.x, self.layer(l, 0), self.layer(l, 1), &mut la.xhat1, &mut la.a1, &mut la.rstd1);
            fill_rows(&mut la.qkv, self.layer(l, 3));
            matmul(&mut la.qkv, Mat::new(&la.a1, n, d), Mat::new(self.layer(l, 2), d, 3 * d), true);
            // Causal attention per sequence.
            let qkv = &la.qkv;
            let ys = split_spans(&mut la.y, spans.iter().map(|sp| sp.len * d));
            let atts = split_spans(&mut la.att, spans.iter().map(|sp| h * sp.len * sp.len));
            ys.into_par_iter().zip(atts).zip(spans.par_iter()).for_each(|((y, att), sp)| {
                let s = sp.len;
                let q = &qkv[sp.at * 3 * d..(sp.at + s) * 3 * d];
                for hh in 0..h {
                    for i in 0..s {
                        let p = &mut att[(hh * s + i) * s..(hh * s + i + 1) * s];
                        let qi = &q[i * 3 * d + hh * dh..i * 3 * d + (hh + 1) * dh];
                        for (j, pj) in p.iter_mut().enumerate().take(i + 1) {
                            let kj = &q[j * 3 * d + d + hh * dh..j * 3 * d + d + (hh + 1) * dh];
                            *pj = dot(qi, kj) * scale;
                        }
                        softmax(&mut p[..=i]);
                        let yi = &mut y[i * d + hh * dh..i * d + (hh + 1) * dh];
                        for (j, &pj) in p.iter().enumerate().take(i + 1) {
                            axpy(yi, pj, &q[j * 3 * d + 2 * d + hh * dh..j * 3 * d + 2 * d + (hh + 1) * dh]);
                        }
                    }
                }
            });
            la.xm.copy_from_slice(&la.x);
            let bo = self.layer(l, 5);
            la.xm
                .par_chunks_mut(d * 64)
                .for_each(|c| c.chunks_mut(d).for_each(|r| r.iter_mut().zip(bo).for_each(|(a, b)| *a += b)));
            matmul(&mut la.xm, Mat::new(&la.y, n, d), Mat::new(self.layer(l, 4), d, d), true);
            layer_norm(&la.xm, self.layer(l, 6), self.layer(l, 7), &mut la.xhat2, &mut la.a2, &mut la.rstd2);
            fill_rows(&mut la.pre, self.layer(l, 9));
            matmul(&mut la.pre, Mat::new(&la.a2, n, d), Mat::new(self.layer(l, 8), d, f), true);
            la.act.par_chunks_mut(f * 16).zip(la.pre.par_chunks(f * 16)).for_each(|(a, p)| {
                gelu_into(a, p);
            });
            reuse(&mut x, n * d);
            x.copy_from_slice(&la.xm);
            let b2 = self.layer(l, 11);
            x.par_chunks_mut(d * 64)
                .for_each(|c| c.chunks_mut(d).for_each(|r| r.iter_mut().zip(b2).for_each(|(a, b)| *a += b)));
            matmul(&mut x, Mat::new(&la.act, n, f), Mat::new(self.layer(l, 10), f, d), true);
        }
        acts.xf = x;
        reuse(&mut acts.xhatf, n * d);
        reuse(&mut acts.af, n * d);
        reuse(&mut acts.rstdf, n);
        layer_norm(&acts.xf, self.tail(0), self.tail(1), &mut acts.xhatf, &mut acts.af, &mut acts.rstdf);
        reuse(&mut acts.probs, n * VOCAB_SIZE);
        matmul(&mut acts.probs, Mat::new(&acts.af, n, d), Mat::new(self.tail(2), d, VOCAB_SIZE), false);
        let mut packed = vec![0.0f32; n];
        let targets = &acts.targets;
        acts.probs.par_chunks_mut(VOCAB_SIZE * 64).zip(packed.par_chunks_mut(64)).enumerate().for_each(
            |(blk, (probs, lp))| {
                for (i, (row, out)) in probs.chunks_mut(VOCAB_SIZE).zip(lp.iter_mut()).enumerate() {
                    let t = targets[blk * 64 + i] as usize;
                    let max = row.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
                    let sum: f32 = row.iter().map(|&v| (v - max).exp()).sum();
                    *out = row[t] - max - sum.ln();
                    softmax(row);
                }
            },
        );
        let mut logp = vec![0.0f32; rows * s];
        for (out, sp) in logp.chunks_mut(s).zip(&acts.spans) {
            out[..sp.len].copy_from_slice(&packed[sp.at..sp.at + sp.len]);
        }
        logp
    }

    /// Gradients of `sum dlogp * logp` for the forward pass in `self.tape` into `self.grads`.
    fn backward(&mut self, dlogp: &[f32]) {
        let c = self.cfg.clone();
        let (d, h, f) = (c.d_model, c.n_heads, c.d_ff);
        let dh = d / h;
        let [mut gl, mut gaf, mut gx, mut g_big, mut g_d] = std::mem::take(&mut self.bwd);
        let acts = &self.tape;
        let (s, n) = (acts.cols - 1, acts.targets.len());
        // dlogp, packed as the forward pass (0 on the filler; padded positions ignored).
        let mut g_lp = vec![0.0f32; n];
        for (g, sp) in dlogp.chunks(s).zip(&acts.spans) {
            g_lp[sp.at..sp.at + sp.len].copy_from_slice(&g[..sp.len]);
        }
        let scale = 1.0 / (dh as f32).sqrt();
        let mut grads = std::mem::take(&mut self.grads);
        for g in grads.iter_mut() {
            g.fill(0.0);
        }
        let tail = 2 + c.n_layers * PER_LAYER;
        // Head: g_logits = g (onehot - p).
        reuse(&mut gl, n * VOCAB_SIZE);
        gl.copy_from_slice(&acts.probs);
        gl.par_chunks_mut(VOCAB_SIZE * 64).enumerate().for_each(|(blk, chunk)| {
            for (i, row) in chunk.chunks_mut(VOCAB_SIZE).enumerate() {
                let e = blk * 64 + i;
                let g = g_lp[e];
                row.iter_mut().for_each(|p| *p *= -g);
                row[acts.targets[e] as usize] += g;
            }
        });
        matmul(&mut grads[tail + 2], Mat::new(&acts.af, n, d).t(), Mat::new(&gl, n, VOCAB_SIZE), false);
        reuse(&mut gaf, n * d);
        matmul(&mut gaf, Mat::new(&gl, n, VOCAB_SIZE), Mat::new(self.tail(2), d, VOCAB_SIZE).t(), false);
        resize(&mut gx, n * d);
        {
            let (head, rest) = grads.split_at_mut(tail + 1);
            layer_norm_backward(
                &gaf,
                self.tail(0),
                &acts.xhatf,
                &acts.rstdf,
                &mut gx,
                &mut head[tail],
                &mut rest[0],
            );
        }
        reuse(&mut g_big, n * f.max(3 * d));
        reuse(&mut g_d, n * d);
        for l in (0..c.n_layers).rev() {
            let la = &acts.layers[l];
            let base = 2 + l * PER_LAYER;
            let gw = &mut grads[base..base + PER_LAYER];
            // MLP.
            matmul(&mut gw[10], Mat::new(&la.act, n, f).t(), Mat::new(&gx, n, d), false);
            add_col_sums(&mut gw[11], &gx, d);
            let gpre = &mut g_big[..n * f];
            matmul(gpre, Mat::new(&gx, n, d), Mat::new(&self.w[base + 10], f, d).t(), false);
            gpre.par_chunks_mut(f * 16).zip(la.pre.par_chunks(f * 16)).for_each(|(g, p)| {
                gelu_backward(g, p);
            });
            matmul(&mut gw[8], Mat::new(&la.a2, n, d).t(), Mat::new(gpre, n, f), false);
            add_col_sums(&mut gw[9], gpre, f);
            matmul(&mut g_d, Mat::new(gpre, n, f), Mat::new(&self.w[base + 8], d, f).t(), false);
            {
                let (lo, hi) = gw.split_at_mut(7);
                layer_norm_backward(
                    &g_d,
                    &self.w[base + 6],
                    &la.xhat2,
                    &la.rstd2,
                    &mut gx,
                    &mut lo[6],
                    &mut hi[0],
                );
            }
            // Attention.
            matmul(&mut gw[4], Mat::new(&la.y, n, d).t(), Mat::new(&gx, n, d), false);
            add_col_sums(&mut gw[5], &gx, d);
            matmul(&mut g_d, Mat::new(&gx, n, d), Mat::new(&self.w[base + 4], d, d).t(), false);
            let gqkv = &mut g_big[..n * 3 * d];
            let real = acts.inputs.len();
            gqkv[real * 3 * d..].fill(0.0);
            let gy = &g_d;
            let gqs = split_spans(&mut gqkv[..real * 3 * d], acts.spans.iter().map(|sp| sp.len * 3 * d));
            gqs.into_par_iter().zip(acts.spans.par_iter()).for_each(|(gq, sp)| {
                gq.fill(0.0);
                let s = sp.len;
                let q = &la.qkv[sp.at * 3 * d..(sp.at + s) * 3 * d];
                let att = &la.att[sp.att..sp.att + h * s * s];
                let gyb = &gy[sp.at * d..(sp.at + s) * d];
                let mut gp = vec![0.0f32; s];
                let mut gqi = vec![0.0f32; dh];
                for hh in 0..h {
                    let o = hh * dh;
                    for i in 0..s {
                        let p = &att[(hh * s + i) * s..(hh * s + i) * s + i + 1];
                        let gyi = &gyb[i * d + o..i * d + o + dh];
                        // g_P and g_V.
                        let mut pg = 0.0f32;
                        for (j, &pj) in p.iter().enumerate() {
                            gp[j] = dot(gyi, &q[j * 3 * d + 2 * d + o..j * 3 * d + 2 * d + o + dh]);
                            pg += pj * gp[j];
                            axpy(&mut gq[j * 3 * d + 2 * d + o..j * 3 * d + 2 * d + o + dh], pj, gyi);
                        }
                        // g_S, then g_Q (summed over j in order, then stored) and g_K.
                        let qi = &q[i * 3 * d + o..i * 3 * d + o + dh];
                        gqi.fill(0.0);
                        for (j, &pj) in p.iter().enumerate() {
                            let gs = pj * (gp[j] - pg) * scale;
                            axpy(&mut gqi, gs, &q[j * 3 * d + d + o..j * 3 * d + d + o + dh]);
                            axpy(&mut gq[j * 3 * d + d + o..j * 3 * d + d + o + dh], gs, qi);
                        }
                        axpy(&mut gq[i * 3 * d + o..i * 3 * d + o + dh], 1.0, &gqi);
                    }
                }
            });
            let gqkv = &g_big[..n * 3 * d];
            matmul(&mut gw[2], Mat::new(&la.a1, n, d).t(), Mat::new(gqkv, n, 3 * d), false);
            add_col_sums(&mut gw[3], gqkv, 3 * d);
            matmul(&mut g_d, Mat::new(gqkv, n, 3 * d), Mat::new(&self.w[base + 2], d, 3 * d).t(), false);
            let (lo, hi) = gw.split_at_mut(1);
            layer_norm_backward(&g_d, &self.w[base], &la.xhat1, &la.rstd1, &mut gx, &mut lo[0], &mut hi[0]);
        }
        // Embeddings (positions in order; not the filler).
        let (gtok, rest) = grads.split_at_mut(1);
        for (i, g) in gx.chunks(d).take(acts.inputs.len()).enumerate() {
            let (t, p) = (acts.inputs[i] as usize, acts.positions[i]);
            gtok[0][t * d..(t + 1) * d].iter_mut().zip(g).for_each(|(a, b)| *a += b);
            rest[0][p * d..(p + 1) * d].iter_mut().zip(g).for_each(|(a, b)| *a += b);
        }
        self.grads = grads;
        self.bwd = [gl, gaf, gx, g_big, g_d];
    }

    /// Runs every block on the new tokens in `self.inf.x`, packed row after row: sequence `b`
    /// contributes `inf.spans[b] = (first, len)`, the tokens at absolute columns
    /// `first..first + len`, which attend to the cached keys `pad[b]..=column` of KV-cache row
    /// `inf.cache_rows[b]`. Rows of `inf.x` past the last span are filler (see
    /// [`NativePolicy::embed_cached`]). Leaves each sequence's last new token's logits in
    /// `inf.logits`, computed with `head_filler` zero rows after the last sequence's (a
    /// shared prefill's head can be a single row, see [`Policy::prefill`]).
    fn cached_blocks(&mut self, pad: &[usize], head_filler: usize) {
        let c = self.cfg.clone();
        let (d, h, f, tmax) = (c.d_model, c.n_heads, c.d_ff, c.max_seq_len);
        let dh = d / h;
        let inf = &mut self.inf;
        let rows = inf.spans.len();
        let n = inf.x.len() / d;
        let scale = 1.0 / (dh as f32).sqrt();
        for v in [&mut inf.xhat, &mut inf.a, &mut inf.y] {
            resize(v, n * d);
        }
        resize(&mut inf.rstd, n);
        resize(&mut inf.qkv, n * 3 * d);
        resize(&mut inf.h, n * f);
        for l in 0..c.n_layers {
            let base = 2 + l * PER_LAYER;
            let w = &self.w;
            layer_norm(&inf.x, &w[base], &w[base + 1], &mut inf.xhat, &mut inf.a, &mut inf.rstd);
            fill_rows(&mut inf.qkv, &w[base + 3]);
            matmul(&mut inf.qkv, Mat::new(&inf.a, n, d), Mat::new(&w[base + 2], d, 3 * d), true);
            let (qkv, spans, cache_rows, slots) = (&inf.qkv, &inf.spans, &inf.cache_rows, &inf.prompt_slots);
            let pc = self.kv_prompt_cols;
            // Floats per prompt slot and per own row of the cache.
            let (per_prompt, per_own) = (h * pc * dh, h * (tmax - pc) * dh);
            // Each sequence's first packed token (its offset in `qkv`, and in `y` times `d`).
            let ats: Vec<usize> =
                spans.iter().scan(0, |at, &(_, len)| Some(std::mem::replace(at, *at + len))).collect();
            // The new tokens' keys and values into the cache, then the attention, which reads
            // the cache only. A prefill's sequences write the prompt columns of their own slots,
            // a decoding step's rows the columns after them in their own rows.
            let cache = &mut self.kv[l];
            let prefill = spans.first().is_some_and(|&(first, _)| first < pc);
            let (k, v, per, width, skip, at_rows) = if prefill {
                (&mut cache.prompt_k, &mut cache.prompt_v, per_prompt, pc, 0, slots)
            } else {
                (&mut cache.own_k, &mut cache.own_v, per_own, tmax - pc, pc, cache_rows)
            };
            let k_rows = pick_rows(k, per, at_rows);
            let v_rows = pick_rows(v, per, at_rows);
            k_rows.into_par_iter().zip(v_rows).enumerate().for_each(|(b, (kb, vb))| {
                let (start, len) = spans[b];
                for i in 0..len {
                    let row = &qkv[(ats[b] + i) * 3 * d..(ats[b] + i + 1) * 3 * d];
                    for hh in 0..h {
                        let to = (hh * width + start + i - skip) * dh;
                        kb[to..to + dh].copy_from_slice(&row[d + hh * dh..d + (hh + 1) * dh]);
                        vb[to..to + dh].copy_from_slice(&row[2 * d + hh * dh..2 * d + (hh + 1) * dh]);
                    }
                }
            });
            let cache = &self.kv[l];
            let ys = split_spans(&mut inf.y, spans.iter().map(|&(_, len)| len * d));
            ys.into_par_iter().enumerate().for_each(|(b, y)| {
                let (start, len) = spans[b];
                let (prompt, own) = (slots[b] * per_prompt, cache_rows[b] * per_own);
                let mut p = vec![0.0f32; tmax];
                for i in 0..len {
                    let col = start + i;
                    let row = &qkv[(ats[b] + i) * 3 * d..(ats[b] + i + 1) * 3 * d];
                    let yi = &mut y[i * d..(i + 1) * d];
                    if col < pad[b] {
                        yi.fill(0.0); // a padding query: no valid key, never read
                        continue;
                    }
                    // Keys `lo..hi`: `lo..mid` from the prompt's slot, `mid..hi` from this row.
                    let (lo, hi) = (pad[b], col + 1);
                    let mid = pc.clamp(lo, hi);
                    for hh in 0..h {
                        let in_prompt = prompt + (hh * pc + lo) * dh..prompt + (hh * pc + mid) * dh;
                        let (from, to) =
                            (hh * (tmax - pc) + mid.max(pc) - pc, hh * (tmax - pc) + hi.max(pc) - pc);
                        let in_own = own + from * dh..own + to * dh;
                        let keys = [&cache.prompt_k[in_prompt.clone()], &cache.own_k[in_own.clone()]];
                        let values = [&cache.prompt_v[in_prompt], &cache.own_v[in_own]];
                        let q = &row[hh * dh..(hh + 1) * dh];
                        attend(q, keys, values, scale, &mut p[..hi - lo], &mut yi[hh * dh..(hh + 1) * dh]);
                    }
                }
            });
            let bo = &w[base + 5];
            inf.x
                .par_chunks_mut(d * 64)
                .for_each(|c| c.chunks_mut(d).for_each(|r| r.iter_mut().zip(bo).for_each(|(a, b)| *a += b)));
            matmul(&mut inf.x, Mat::new(&inf.y, n, d), Mat::new(&w[base + 4], d, d), true);
            layer_norm(&inf.x, &w[base + 6], &w[base + 7], &mut inf.xhat, &mut inf.a, &mut inf.rstd);
            fill_rows(&mut inf.h, &w[base + 9]);
            matmul(&mut inf.h, Mat::new(&inf.a, n, d), Mat::new(&w[base + 8], d, f), true);
            inf.h.par_chunks_mut(f * 16).for_each(gelu_in_place);
            let b2 = &w[base + 11];
            inf.x
                .par_chunks_mut(d * 64)
                .for_each(|c| c.chunks_mut(d).for_each(|r| r.iter_mut().zip(b2).for_each(|(a, b)| *a += b)));
            matmul(&mut inf.x, Mat::new(&inf.h, n, f), Mat::new(&w[base + 10], f, d), true);
        }
        let head = rows + head_filler;
        resize(&mut inf.last, head * d);
        let mut end = 0;
        for (b, &(_, len)) in inf.spans.iter().enumerate() {
            end += len;
            inf.last[b * d..(b + 1) * d].copy_from_slice(&inf.x[(end - 1) * d..end * d]);
        }
        let tail = 2 + c.n_layers * PER_LAYER;
        resize(&mut inf.xhat, head * d);
        resize(&mut inf.a, head * d);
        resize(&mut inf.rstd, head);
        layer_norm(&inf.last, &self.w[tail], &self.w[tail + 1], &mut inf.xhat, &mut inf.a, &mut inf.rstd);
        resize(&mut inf.logits, head * VOCAB_SIZE);
        matmul(&mut inf.logits, Mat::new(&inf.a, head, d), Mat::new(&self.w[tail + 2], d, VOCAB_SIZE), false);
        inf.logits.truncate(rows * VOCAB_SIZE);
    }

    /// Token plus position embeddings of the new tokens `inf.ids` (packed by sequence as
    /// `inf.spans` says; positions count from the end of each row's left padding `pad[b]`) into
    /// `inf.x`, followed by `filler` zero rows.
    ///
    /// A prefill passes `filler` rows up to a multiple of [`PACK`] tokens: the packed token
    /// count is arbitrary, and a sgemm block of a single row takes `gemm`'s gemv path, which
    /// accumulates into the output in a different order than its micro-kernels; with no
    /// one-row block every token's activations are the same bits whatever else is in the
    /// batch (as they were in the padded `[rows, cols]` layout, whose size was a multiple of
    /// 16 for the trainer's batches).
    fn embed_cached(&mut self, pad: &[usize], filler: usize) {
        let d = self.cfg.d_model;
        let inf = &mut self.inf;
        resize(&mut inf.x, (inf.ids.len() + filler) * d);
        let (tok, pos) = (&self.w[0], &self.w[1]);
        let cols = inf
            .spans
            .iter()
            .enumerate()
            .flat_map(|(b, &(first, len))| (first..first + len).map(move |col| (b, col)));
        for ((row, &t), (b, col)) in inf.x.chunks_mut(d).zip(&inf.ids).zip(cols) {
            let (t, p) = (t as usize, col.saturating_sub(pad[b]));
            for j in 0..d {
                row[j] = tok[t * d + j] + pos[p * d + j];
            }
        }
    }
}

impl Policy for NativePolicy {
    fn config(&self) -> &ModelConfig {
        &self.cfg
    }

    /// Prefix sharing: rows with the same prompt (the same tokens and padding; a GRPO group's
    /// rows, an evaluation's samples of one problem) are computed once, by the first of them.
    /// The others get a copy of its logits and read its prompt's keys and values from the one
    /// slot of the KV cache that holds them (`kv_prompt`, `KvCache`), as vLLM's prefix
    /// caching shares blocks: a group's rows decode reading one prompt cache, which stays in
    /// the CPU's cache between them. A row's values do not depend on the other rows of its
    /// batch (the packing rule of `NativePolicy::embed_cached`), so they are the bits that
    /// computing every row gave. The head's sgemm then gets filler rows up to a multiple of
    /// `PACK` as the blocks do, since sharing can leave a single sequence and a one-row call
    /// takes `gemm`'s gemv path (for the head's untransposed weight that path gave the same
    /// bits in our tests, but nothing promises it).
    fn prefill(&mut self, tokens: &[u32], rows: usize, cols: usize, pad: &[usize]) -> &[f32] {
        self.kv_rows = rows;
        self.kv_prompt_cols = cols;
        // Only the prompt tokens of each distinct prompt: the left padding's keys are masked
        // and its queries never read, so its positions are left out of every matmul (nearly
        // half of a mixed-task batch padded to its longest prompt).
        let inf = &mut self.inf;
        inf.spans.clear();
        inf.ids.clear();
        inf.cache_rows.clear();
        inf.source.clear();
        let mut span_pad = Vec::new();
        let mut first_with: HashMap<(&[u32], usize), usize> = HashMap::with_capacity(rows);
        for b in 0..rows {
            let row = &tokens[b * cols..(b + 1) * cols];
            let mut add = || {
                let first = pad[b].min(cols.saturating_sub(1));
                inf.spans.push((first, cols - first));
                inf.ids.extend_from_slice(&row[first..]);
                inf.cache_rows.push(b);
                span_pad.push(pad[b]);
                inf.spans.len() - 1
            };
            let s =
                if self.share_prompts { *first_with.entry((row, pad[b])).or_insert_with(add) } else { add() };
            inf.source.push(s);
        }
        let seqs = inf.spans.len();
        self.kv_prompt.clone_from(&inf.source);
        inf.prompt_slots.clear();
        inf.prompt_slots.extend(0..seqs);
        let c = &self.cfg;
        let dh = c.d_model / c.n_heads;
        let per_prompt = c.n_heads * cols * dh;
        let per_own = c.n_heads * c.max_seq_len.saturating_sub(cols) * dh;
        self.kv.resize_with(c.n_layers, Default::default);
        // Every cache value that is read is written first (a prompt's columns from its
        // padding on by the prefill, the later columns by the decoding steps), so the cache
        // keeps its old contents: no memset of it per batch.
        for cache in &mut self.kv {
            reuse(&mut cache.prompt_k, seqs * per_prompt);
            reuse(&mut cache.prompt_v, seqs * per_prompt);
            reuse(&mut cache.own_k, rows * per_own);
            reuse(&mut cache.own_v, rows * per_own);
        }
        let filler = inf.ids.len().next_multiple_of(PACK) - inf.ids.len();
        let head_filler = if seqs < rows { seqs.next_multiple_of(PACK) - seqs } else { 0 };
        self.embed_cached(&span_pad, filler);
        in_pool(|| self.cached_blocks(&span_pad, head_filler));
        if seqs < rows {
            let inf = &mut self.inf;
            // Sequence `s` is computed by its first row, so `s <= b`: filling rows from the
            // last down reads every source before it is overwritten.
            inf.logits.resize(rows * VOCAB_SIZE, 0.0);
            for (b, &s) in inf.source.iter().enumerate().rev() {
                if s != b {
                    inf.logits.copy_within(s * VOCAB_SIZE..(s + 1) * VOCAB_SIZE, b * VOCAB_SIZE);
                }
            }
        }
        &self.inf.logits
    }

    fn decode_step(&mut self, tokens: &[u32], col: usize, pad: &[usize]) -> &[f32] {
        let rows = tokens.len();
        assert_eq!(rows, self.kv_rows, "decode_step batch differs from the prefill batch");
        let inf = &mut self.inf;
        inf.spans.clear();
        inf.spans.resize(rows, (col, 1));
        inf.cache_rows.clear();
        inf.cache_rows.extend(0..rows);
        inf.prompt_slots.clone_from(&self.kv_prompt);
        inf.ids.clear();
        inf.ids.extend_from_slice(tokens);
        self.embed_cached(pad, 0);
        in_pool(|| self.cached_blocks(pad, 0));
        &self.inf.logits
    }

    fn logprobs(&mut self, batch: &TokenBatch) -> Vec<f32> {
        let mut scratch = std::mem::take(&mut self.scratch);
        let mut out = Vec::with_capacity(batch.rows * (batch.cols - 1));
        for chunk in batch.tokens.chunks(CHUNK * batch.cols) {
            out.extend(in_pool(|| {
                self.forward(&mut scratch, chunk, chunk.len() / batch.cols, batch.cols, false)
            }));
        }
        self.scratch = scratch;
        out
    }

    fn forward_train(&mut self, batch: &TokenBatch) -> Vec<f32> {
        let mut tape = std::mem::take(&mut self.tape);
        let logp = in_pool(|| self.forward(&mut tape, &batch.tokens, batch.rows, batch.cols, false));
        self.tape = tape;
        self.pending = Some([batch.rows, batch.cols]);
        logp
    }

    fn backward_step(&mut self, dlogp: &[f32], lr: f64) -> Result<StepStats> {
        check_dlogp(dlogp, self.pending)?;
        if self.pending.take().is_none() {
            return Err(no_pending());
        }
        in_pool(|| {
            self.backward(dlogp);
            Ok(self.adam.step(&self.adam_cfg, &mut self.w, &self.grads, lr))
        })
    }

    fn gradients(&mut self, dlogp: &[f32]) -> Result<Vec<Vec<f32>>> {
        check_dlogp(dlogp, self.pending)?;
        if self.pending.take().is_none() {
            return Err(no_pending());
        }
        in_pool(|| self.backward(dlogp));
        Ok(self.grads.clone())
    }

    fn variance_proxy(&self) -> f64 {
        self.adam.variance_proxy(&self.adam_cfg)
    }

    fn weights(&self) -> HostWeights {
        HostWeights { config: self.cfg.clone(), tensors: self.w.clone() }
    }

    fn adam_state(&self) -> AdamState {
        self.adam.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vocab::{BOS, PAD};

    fn tiny() -> ModelConfig {
        ModelConfig { d_model: 8, n_layers: 2, n_heads: 2, d_ff: 12, max_seq_len: 16 }
    }

    /// Three right-padded sequences (the last with trailing padding).
    fn batch() -> TokenBatch {
        let mut tokens =
            vec![BOS, 5, 9, 14, 22, 7, 3, BOS, 40, 41, 12, 6, 2, PAD, BOS, 8, 8, 2, PAD, PAD, PAD];
        tokens.truncate(21);
        TokenBatch { tokens, rows: 3, cols: 7 }
    }

    /// The backward pass agrees with central finite differences of
    /// `L = sum_e c_e logp_e` (arbitrary coefficients `c`, as the surrogate produces) at three
    /// coordinates of every tensor, with weights scaled x4 so that attention and GELU are far
    /// from linear. f32 forward passes: rounding in L ~ 1e-6, divided by 2h = 6e-3, plus an
    /// O(h^2) truncation term, stays well inside 2e-3 + 2% while a wrong gradient (a
    /// transposition, a missing term) is off by O(|g|).
    #[test]
    fn native_gradient_matches_finite_differences() {
        let cfg = tiny();
        let mut w = cfg.init_host(1).unwrap();
        w.tensors.iter_mut().flatten().for_each(|x| *x *= 4.0);
        let b = batch();
        let coef: Vec<f32> = (0..b.rows * (b.cols - 1)).map(|i| ((i * 7 % 5) as f32 - 2.0) / 3.0).collect();
        let loss = |w: &HostWeights| -> f64 {
            let mut p = NativeEngine.frozen(w).unwrap();
            p.logprobs(&b).iter().zip(&coef).map(|(&l, &c)| f64::from(l) * f64::from(c)).sum()
        };
        let mut p = NativeEngine.frozen(&w).unwrap();
        p.forward_train(&b);
        let grads = p.gradients(&coef).unwrap();
        let h = 3e-3;
        for (i, g) in grads.iter().enumerate() {
            let cols = cfg.param_specs()[i].shape[1];
            for j in [0, g.len() / 2, g.len() - 1] {
                let j = if i == 0 { (BOS as usize) * cols + j % cols } else { j };
                let bump = |delta: f32| {
                    let mut v = w.clone();
                    v.tensors[i][j] += delta;
                    loss(&v)
                };
                let fd = (bump(h) - bump(-h)) / (2.0 * f64::from(h));
                let name = &cfg.param_specs()[i].name;
                let got = f64::from(g[j]);
                assert!(
                    (fd - got).abs() <= 2e-3 + 2e-2 * got.abs(),
                    "{name}[{j}]: backward {got} vs fd {fd}"
                );
            }
        }
    }

    /// KV-cache decoding of left-padded prompts gives the same next-token distribution as
    /// the full forward pass of the unpadded sequences.
    #[test]
    fn kv_cache_matches_full_forward() {
        let cfg = tiny();
        let w = cfg.init_host(3).unwrap();
        let mut p = NativeEngine.frozen(&w).unwrap();
        let seqs: [Vec<u32>; 2] = [vec![1, 5, 6, 7, 8, 9], vec![1, 10, 11, 12, 13, 14]];
        let pad = [1usize, 0];
        let prompts = vec![PAD, 1, 5, 6, 1, 10, 11, 12];
        let mut steps = vec![p.prefill(&prompts, 2, 4, &pad).to_vec()];
        for s in 0..2 {
            let next = [seqs[0][3 + s], seqs[1][4 + s]];
            steps.push(p.decode_step(&next, 4 + s, &pad).to_vec());
        }
        for (row, seq) in seqs.iter().enumerate() {
            // logp of every next token under the full forward pass, against log-softmax of
            // the cached logits at the same position.
            let full = p.logprobs(&TokenBatch { tokens: seq.clone(), rows: 1, cols: 6 });
            let plen = 4 - pad[row];
            for (s, step) in steps.iter().enumerate() {
                let pos = plen - 1 + s;
                if pos + 1 >= seq.len() {
                    continue;
                }
                let logits = &step[row * VOCAB_SIZE..(row + 1) * VOCAB_SIZE];
                let max = logits.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
                let lse = max + logits.iter().map(|&v| (v - max).exp()).sum::<f32>().ln();
                let cached = logits[seq[pos + 1] as usize] - lse;
                assert!((cached - full[pos]).abs() < 1e-5, "row {row} step {s}: {cached} vs {}", full[pos]);
            }
        }
    }

    /// Rows of every kind of length, right-padded to 12 tokens: full, a single token (nothing
    /// scored), mid-length, all padding, and one with a PAD before its last token (an ordinary
    /// token: only trailing PAD is padding). 8 rows, so the packed positions (47, plus filler)
    /// span several sgemm blocks.
    fn mixed_batch() -> TokenBatch {
        let rows: [&[u32]; 8] = [
            &[BOS, 5, 9, 14, 22, 7, 3, 40, 41, 12, 6, 2],
            &[BOS],
            &[BOS, 8, 8, 2],
            &[],
            &[BOS, 11, 30, 31, 32, 2],
            &[BOS, 4, PAD, 6, 2],
            &[BOS, 20, 21, 22, 23, 24, 25, 26, 2],
            &[BOS, 13, 14, 15, 16, 17, 18, 19, 20, 21, 2],
        ];
        let cols = 12;
        let tokens = rows
            .iter()
            .flat_map(|r| r.iter().copied().chain(std::iter::repeat_n(PAD, cols - r.len())))
            .collect();
        TokenBatch { tokens, rows: rows.len(), cols }
    }

    /// The packed forward and backward passes agree with the padded (unpacked) layout of the
    /// same code: log-probs at the scored positions and every gradient, for an arbitrary
    /// weighting of the log-probs (nonzero at the padded positions too, which the packed pass
    /// must ignore and the padded reference gets as zeros). Log-probs at the padded positions
    /// are exactly 0.0. Under the causal mask the two layouts are equal in exact arithmetic;
    /// in f32 they differ only by the grouping of the sums over positions (rows do not depend
    /// on their neighbours, and on this small batch the weight gradients' inner dimension
    /// stays in one sgemm pass), so the tolerance is tight: 1e-6 absolute on log-probs, 1e-5
    /// relative L2 per gradient tensor. A wrong offset, position or span is off by O(1).
    #[test]
    fn packed_pass_matches_the_padded_layout() {
        let cfg = tiny();
        let mut w = cfg.init_host(5).unwrap();
        w.tensors.iter_mut().flatten().for_each(|x| *x *= 3.0);
        let b = mixed_batch();
        let width = b.cols - 1;
        let scored: Vec<usize> = b.scored().collect();
        assert_eq!(scored, [11, 0, 3, 0, 5, 4, 8, 10]);
        let coef: Vec<f32> = (0..b.rows * width).map(|i| ((i * 7 % 5) as f32 - 2.0) / 3.0).collect();
        let mut coef_ref = coef.clone();
        b.zero_padding(&mut coef_ref);

        let mut p = NativeEngine.frozen(&w).unwrap();
        let logp = p.forward_train(&b);
        let grads = p.gradients(&coef).unwrap();

        let mut tape = std::mem::take(&mut p.tape);
        let reference = in_pool(|| p.forward(&mut tape, &b.tokens, b.rows, b.cols, true));
        p.tape = tape;
        p.pending = Some([b.rows, b.cols]);
        let grads_ref = p.gradients(&coef_ref).unwrap();

        for (row, &k) in scored.iter().enumerate() {
            for t in 0..width {
                let (got, want) = (logp[row * width + t], reference[row * width + t]);
                if t < k {
                    assert!((got - want).abs() <= 1e-6, "row {row} position {t}: {got} vs {want}");
                } else {
                    assert!(got == 0.0 && got.is_sign_positive(), "row {row} padded position {t}: {got}");
                }
            }
        }
        for (i, (g, r)) in grads.iter().zip(&grads_ref).enumerate() {
            let diff: f64 = g.iter().zip(r).map(|(a, b)| f64::from(a - b).powi(2)).sum::<f64>().sqrt();
            let norm: f64 = r.iter().map(|&a| f64::from(a).powi(2)).sum::<f64>().sqrt();
            let name = &cfg.param_specs()[i].name;
            assert!(norm > 0.0 || i == 1, "{name}: no gradient to compare");
            assert!(diff <= 1e-5 * norm, "{name}: |packed - padded| {diff}, |g| {norm}");
        }
        // `logprobs` (chunked, no tape) returns the same bits as `forward_train`.
        assert!(p.logprobs(&b) == logp);
    }

    /// A row's log-probs are the same bits alone and inside a batch (the old log-probs of an
    /// RL step come from chunks of 32 rows, the update's from the whole minibatch: the first
    /// minibatch's ratios are exactly 1).
    #[test]
    fn a_row_does_not_depend_on_its_batch() {
        let mut p = NativeEngine.frozen(&tiny().init_host(2).unwrap()).unwrap();
        let b = mixed_batch();
        let all = p.logprobs(&b);
        let width = b.cols - 1;
        for row in 0..b.rows {
            let tokens = b.tokens[row * b.cols..(row + 1) * b.cols].to_vec();
            let alone = p.logprobs(&TokenBatch { tokens, rows: 1, cols: b.cols });
            assert!(alone[..] == all[row * width..(row + 1) * width], "row {row}");
        }
    }

    /// Prefill with prefix sharing gives every row the bits of computing every row: the
    /// logits, each row's prompt keys and values (in the cache row that `kv_prompt` names: the
    /// first row with that prompt), and the logits of decoding steps that feed each row its
    /// own tokens. Batches with repeated prompts (consecutive and interleaved runs), unique
    /// prompts, mixed prompt lengths (so mixed padding), prompts that differ only in their
    /// last token, and a batch of one repeated prompt (a single shared sequence). The model
    /// is as wide as the small preset's, so the matmuls run `gemm`'s real blocking.
    #[test]
    fn shared_prompts_prefill_the_bits_of_every_row() {
        let wide = ModelConfig { d_model: 128, n_layers: 1, n_heads: 4, d_ff: 512, max_seq_len: 16 };
        let mut w = wide.init_host(7).unwrap();
        w.tensors.iter_mut().flatten().for_each(|x| *x *= 3.0);
        let prompts: [&[u32]; 6] = [
            &[BOS, 5, 9, 14, 22, 7, 3, 40],
            &[BOS, 11, 12],
            &[BOS, 20, 21, 22, 23],
            &[BOS],
            &[BOS, 20, 21, 22, 24],
            &[BOS, 30, 31, 32, 33, 34, 35],
        ];
        let mixed = [1, 1, 1, 0, 2, 1, 3, 0, 2, 2, 4, 5, 1, 0, 4, 2, 2, 2, 1, 5, 0, 0, 3, 4];
        // One policy for both batches: the second decodes over a KV cache that still holds
        // the first's values wherever it writes nothing (`prefill` does not clear it).
        let mut shared = NativeEngine.frozen(&w).unwrap();
        for order in [&mixed[..], &[2; 20]] {
            let cols = order.iter().map(|&i| prompts[i].len()).max().unwrap();
            let pad: Vec<usize> = order.iter().map(|&i| cols - prompts[i].len()).collect();
            let tokens: Vec<u32> = order
                .iter()
                .flat_map(|&i| {
                    std::iter::repeat_n(PAD, cols - prompts[i].len()).chain(prompts[i].iter().copied())
                })
                .collect();
            let rows = order.len();
            let mut every = NativeEngine.frozen(&w).unwrap();
            every.share_prompts = false;
            let got = shared.prefill(&tokens, rows, cols, &pad).to_vec();
            let distinct = order.iter().collect::<std::collections::BTreeSet<_>>().len();
            assert_eq!(shared.inf.spans.len(), distinct, "{order:?}: one sequence per prompt");
            let want = every.prefill(&tokens, rows, cols, &pad).to_vec();
            assert_eq!(every.inf.spans.len(), rows);
            for b in 0..rows {
                let at = b * VOCAB_SIZE..(b + 1) * VOCAB_SIZE;
                assert!(got[at.clone()] == want[at], "{order:?}: prefill logits of row {b}");
            }
            // Each row's prompt keys and values, in the slot `kv_prompt` names (one per
            // distinct prompt, in the order of their first rows), against the row's own when
            // every row is computed.
            let dh = wide.d_model / wide.n_heads;
            let per_slot = wide.n_heads * cols * dh;
            assert!(every.kv_prompt.iter().copied().eq(0..rows));
            let firsts: Vec<usize> = (0..rows).filter(|&b| !order[..b].contains(&order[b])).collect();
            let slot = |b: usize| firsts.iter().position(|&f| order[f] == order[b]).unwrap();
            assert!(shared.kv_prompt.iter().copied().eq((0..rows).map(slot)), "{order:?}: prompt slots");
            for (sc, ec) in shared.kv.iter().zip(&every.kv) {
                for (b, (&src, &pad)) in shared.kv_prompt.iter().zip(&pad).enumerate() {
                    for hh in 0..wide.n_heads {
                        let cols = (hh * cols + pad) * dh..(hh * cols + cols) * dh;
                        let got = src * per_slot + cols.start..src * per_slot + cols.end;
                        let want = b * per_slot + cols.start..b * per_slot + cols.end;
                        assert!(
                            sc.prompt_k[got.clone()] == ec.prompt_k[want.clone()],
                            "{order:?}: keys of row {b}"
                        );
                        assert!(sc.prompt_v[got] == ec.prompt_v[want], "{order:?}: values of row {b}");
                    }
                }
            }
            for step in 0..3 {
                let next: Vec<u32> = (0..rows).map(|b| 3 + ((b * 7 + step * 5) % 40) as u32).collect();
                let got = shared.decode_step(&next, cols + step, &pad).to_vec();
                let want = every.decode_step(&next, cols + step, &pad).to_vec();
                assert!(got == want, "{order:?}: decoding step {step}");
            }
        }
    }

    #[test]
    fn backward_without_forward_and_wrong_lengths_are_errors() {
        let mut p = NativeEngine.frozen(&tiny().init_host(0).unwrap()).unwrap();
        assert!(p.backward_step(&[0.0; 18], 1e-3).is_err());
        p.forward_train(&batch());
        let err = p.backward_step(&[0.0; 5], 1e-3).unwrap_err().to_string();
        assert!(err.contains("5 values") && err.contains("3 x 6"), "{err}");
        let before = p.weights();
        p.backward_step(&[0.0; 18], 1e-3).unwrap();
        // A zero gradient moves nothing (Adam's m stays 0).
        assert_eq!(p.weights(), before);
    }
}
