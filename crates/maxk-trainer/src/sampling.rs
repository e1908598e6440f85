//! Batched autoregressive sampling with a KV cache, temperature and nucleus (top-p) sampling.
//!
//! Prompts of different lengths share a batch by left padding (their keys are masked, their
//! positions start at 0 after the padding). The categorical draws happen on the CPU from the
//! caller's ChaCha stream, so sampling is deterministic given the seed on every backend.

use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::engine::Policy;
use crate::vocab::{EOS, PAD, VOCAB_SIZE};

/// How to sample.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SampleConfig {
    /// Softmax temperature (> 0).
    pub temperature: f64,
    /// Nucleus mass in (0, 1]: sample among the most likely tokens whose probabilities sum to
    /// at least `top_p` (Holtzman et al. 2020).
    pub top_p: f64,
    /// Longest answer, EOS included.
    pub max_new_tokens: usize,
}

/// Samples one continuation per prompt with `policy`. `prompts[i]` are token ids starting
/// with BOS; the result `[i]` holds the generated ids, ending with EOS unless `max_new_tokens`
/// (or the model's `max_seq_len`) ran out first.
pub fn sample<P: Policy + ?Sized, R: Rng>(
    policy: &mut P,
    prompts: &[Vec<u32>],
    cfg: &SampleConfig,
    rng: &mut R,
) -> Vec<Vec<u32>> {
    let b = prompts.len();
    let l = prompts.iter().map(Vec::len).max().unwrap_or(0);
    if b == 0 || l == 0 {
        return vec![Vec::new(); b];
    }
    let pad: Vec<usize> = prompts.iter().map(|p| l - p.len()).collect();
    let flat: Vec<u32> =
        prompts.iter().flat_map(|p| std::iter::repeat_n(PAD, l - p.len()).chain(p.iter().copied())).collect();
    let budget = cfg.max_new_tokens.min(policy.config().max_seq_len.saturating_sub(l));
    let mut out: Vec<Vec<u32>> = vec![Vec::with_capacity(budget); b];
    let mut done = vec![false; b];
    if budget == 0 {
        return out;
    }
    let mut probs = Vec::with_capacity(VOCAB_SIZE);
    let mut next = vec![PAD; b];
    let mut logits = policy.prefill(&flat, b, l, &pad);
    for step in 0..budget {
        for (i, row) in logits.chunks(VOCAB_SIZE).enumerate() {
            let tok = if done[i] { PAD } else { draw(row, cfg, &mut probs, rng) };
            if !done[i] {
                out[i].push(tok);
                done[i] = tok == EOS;
            }
            next[i] = tok;
        }
        if step + 1 == budget || done.iter().all(|&d| d) {
            break;
        }
        logits = policy.decode_step(&next, l + step, &pad);
    }
    out
}

/// One draw from `softmax(logits / T)` restricted to the top-p nucleus. PAD and BOS are never
/// drawn (they never occur in answers).
fn draw<R: Rng>(logits: &[f32], cfg: &SampleConfig, probs: &mut Vec<(f64, u32)>, rng: &mut R) -> u32 {
    probs.clear();
    let max = logits.iter().skip(2).fold(f64::NEG_INFINITY, |m, &x| m.max(x as f64));
    let mut total = 0.0;
    for (t, &x) in logits.iter().enumerate().skip(2) {
        let p = ((x as f64 - max) / cfg.temperature).exp();
        total += p;
        probs.push((p, t as u32));
    }
    if cfg.top_p < 1.0 {
        probs.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        let mut acc = 0.0;
        let keep = probs.iter().position(|&(p, _)| {
            acc += p;
            acc >= cfg.top_p * total
        });
        probs.truncate(keep.map_or(probs.len(), |k| k + 1));
        total = acc.min(probs.iter().map(|p| p.0).sum());
    }
    let mut u = rng.r#gen::<f64>() * total;
    for &(p, t) in probs.iter() {
        if u < p {
            return t;
        }
        u -= p;
    }
    probs.last().map_or(EOS, |p| p.1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn cfg(temperature: f64, top_p: f64) -> SampleConfig {
        SampleConfig { temperature, top_p, max_new_tokens: 4 }
    }

    #[test]
    fn top_p_keeps_only_the_nucleus() {
        let mut logits = vec![0.0f32; VOCAB_SIZE];
        logits[5] = 10.0; // p ~ 1 - 40 e^-10
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let mut buf = Vec::new();
        for _ in 0..200 {
            assert_eq!(draw(&logits, &cfg(1.0, 0.9), &mut buf, &mut rng), 5);
        }
        // Without a nucleus, a flat distribution reaches every non-special token.
        let flat = vec![0.0f32; VOCAB_SIZE];
        let seen: std::collections::HashSet<u32> =
            (0..5000).map(|_| draw(&flat, &cfg(1.0, 1.0), &mut buf, &mut rng)).collect();
        assert_eq!(seen.len(), VOCAB_SIZE - 2);
    }

    #[test]
    fn low_temperature_is_greedy_and_frequencies_match_softmax() {
        let mut logits = vec![-30.0f32; VOCAB_SIZE];
        logits[7] = 1.0;
        logits[8] = 0.0;
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut buf = Vec::new();
        assert!((0..100).all(|_| draw(&logits, &cfg(0.01, 1.0), &mut buf, &mut rng) == 7));
        let n = 20000;
        let hits = (0..n).filter(|_| draw(&logits, &cfg(1.0, 1.0), &mut buf, &mut rng) == 7).count();
        let p = 1.0 / (1.0 + (-1.0f64).exp());
        let se = (p * (1.0 - p) / n as f64).sqrt();
        assert!((hits as f64 / n as f64 - p).abs() < 5.0 * se);
    }
}
