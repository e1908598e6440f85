//! Engines agree: the native CPU engine against burn's NdArray (the reference, whose own
//! gradient is checked against finite differences in f64 by `sft::tests`), and CUDA against
//! the native CPU engine in a build with `--features cuda` (without it that test is not
//! compiled; with it, a missing or failing CUDA device fails it).
//!
//! What is compared, on the tiny preset's model: KV-cache logits (prefill of left-padded
//! prompts, then decoding steps), the log-probs of a right-padded batch (computed positions
//! within the tolerance; the positions whose target is trailing padding exactly 0.0 on both
//! engines, as `Policy::logprobs` says), the gradients of an SFT loss and of an arbitrary
//! weighting of every log-prob (as the RL surrogate produces, plus weights on the padded
//! positions, which both engines must ignore), and five SFT Adam steps. Tolerances (f32 throughout; the engines sum in different orders): logits and
//! log-probs 1e-4 absolute (values O(1)); gradients 1e-3 relative L2 per tensor; losses over
//! five Adam steps 1e-3 relative (Adam's first steps move near-zero-gradient coordinates by
//! +-lr whatever their sign, so weights may differ by ~lr where the loss is flat, which moves
//! the loss only at second order).

use maxk_trainer::Result;
use maxk_trainer::backend::{DeviceKind, OnBackend, dispatch};
use maxk_trainer::config::LmConfig;
use maxk_trainer::engine::{Engine, Policy};
use maxk_trainer::optim::AdamState;
use maxk_trainer::sft::{sft_batch, sft_step};
use maxk_trainer::tasks::{Problem, Task};
use maxk_trainer::vocab::{PAD, VOCAB_SIZE, encode_prompt};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// What one engine computed.
#[derive(Debug)]
struct Trace {
    logits: Vec<f32>,
    logprobs: Vec<f32>,
    /// Per log-prob, whether its target is trailing padding.
    padded: Vec<bool>,
    sft_grads: Vec<Vec<f32>>,
    weighted_grads: Vec<Vec<f32>>,
    losses: Vec<f64>,
}

struct Steps;

impl OnBackend for Steps {
    type Output = Trace;

    fn run<E: Engine>(self, engine: E) -> Result<Trace> {
        let cfg = LmConfig::preset("tiny")?;
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let batches: Vec<Vec<Problem>> = (0..5)
            .map(|_| (0..16).map(|i| Task::ALL[i % Task::ALL.len()].generate(&mut rng)).collect())
            .collect();
        let weights = cfg.model.init_host(cfg.seed)?;
        let mut policy = engine.policy(&weights, &AdamState::zeros(&cfg.model), cfg.sft.adam)?;

        // Two left-padded prompts, prefill and three decoding steps.
        let prompts = [encode_prompt(&batches[0][0].prompt)?, encode_prompt(&batches[0][1].prompt)?];
        let l = prompts.iter().map(Vec::len).max().unwrap_or(0);
        let pad: Vec<usize> = prompts.iter().map(|p| l - p.len()).collect();
        let flat: Vec<u32> = prompts
            .iter()
            .flat_map(|p| std::iter::repeat_n(PAD, l - p.len()).chain(p.iter().copied()))
            .collect();
        let mut logits = policy.prefill(&flat, 2, l, &pad).to_vec();
        for step in 0..3 {
            let next = [5 + step as u32, 9 + step as u32];
            logits.extend_from_slice(policy.decode_step(&next, l + step, &pad));
        }

        let (batch, mask) = sft_batch(&batches[0])?;
        let logprobs = policy.logprobs(&batch);
        let count: f32 = mask.iter().sum();
        policy.forward_train(&batch);
        let sft_grads = policy.gradients(&mask.iter().map(|m| -m / count).collect::<Vec<_>>())?;
        let width = batch.cols - 1;
        let padded: Vec<bool> = batch.scored().flat_map(|k| (0..width).map(move |t| t >= k)).collect();
        assert!(padded.iter().any(|&p| p), "the batch has trailing padding");
        let weights_of_logp: Vec<f32> =
            (0..logprobs.len()).map(|i| ((i * 37 % 11) as f32 - 5.0) / 50.0).collect();
        policy.forward_train(&batch);
        let weighted_grads = policy.gradients(&weights_of_logp)?;

        let mut losses = Vec::new();
        for batch in &batches {
            losses.push(sft_step(&mut policy, batch, cfg.sft.adam.lr)?.0);
        }
        Ok(Trace { logits, logprobs, padded, sft_grads, weighted_grads, losses })
    }
}

fn assert_agree(a: &Trace, b: &Trace, what: &str) {
    assert_eq!(a.logits.len(), 8 * VOCAB_SIZE);
    assert_eq!(a.padded, b.padded);
    for (name, x, y) in [("logits", &a.logits, &b.logits), ("log-probs", &a.logprobs, &b.logprobs)] {
        assert_eq!(x.len(), y.len());
        for (i, (p, q)) in x.iter().zip(y).enumerate() {
            if name == "log-probs" && a.padded[i] {
                assert!(*p == 0.0 && *q == 0.0, "{what}: padded log-prob [{i}] {p} and {q}, not 0.0");
            } else {
                assert!((p - q).abs() < 1e-4, "{what}: {name}[{i}] {p} vs {q}");
            }
        }
    }
    for (name, x, y) in
        [("SFT", &a.sft_grads, &b.sft_grads), ("weighted", &a.weighted_grads, &b.weighted_grads)]
    {
        for (i, (g, h)) in x.iter().zip(y).enumerate() {
            let diff: f64 = g.iter().zip(h).map(|(p, q)| ((p - q) as f64).powi(2)).sum::<f64>().sqrt();
            let norm: f64 = g.iter().map(|&p| (p as f64).powi(2)).sum::<f64>().sqrt();
            assert!(
                diff <= 1e-3 * norm + 1e-7,
                "{what}: {name} gradient of tensor {i}: |diff| {diff}, |g| {norm}"
            );
        }
    }
    for (s, (p, q)) in a.losses.iter().zip(&b.losses).enumerate() {
        assert!((p - q).abs() <= 1e-3 * p.abs(), "{what}: SFT step {s}: loss {p} vs {q}");
    }
}

#[test]
fn native_and_burn_agree_on_tiny_steps() {
    let native = dispatch(DeviceKind::Cpu, Steps).unwrap();
    let burn = dispatch(DeviceKind::CpuBurn, Steps).unwrap();
    assert_agree(&native, &burn, "native vs burn");
    assert!(native.losses[4] < native.losses[0], "SFT did not learn: {:?}", native.losses);
}

#[test]
fn native_engine_is_deterministic() {
    let a = dispatch(DeviceKind::Cpu, Steps).unwrap();
    let b = dispatch(DeviceKind::Cpu, Steps).unwrap();
    assert_eq!(a.logits, b.logits);
    assert_eq!(a.sft_grads, b.sft_grads);
    assert_eq!(a.losses, b.losses);
}

/// Compiled only with the `cuda` feature (`cargo test -p maxk-trainer --features cuda`), and
/// then it fails when no CUDA device answers: a CUDA build is tested on a CUDA machine.
#[cfg(feature = "cuda")]
#[test]
fn cpu_and_cuda_agree_on_tiny_steps() {
    let gpu = dispatch(DeviceKind::Cuda, Steps).unwrap_or_else(|e| panic!("built with `cuda`, but: {e}"));
    let cpu = dispatch(DeviceKind::Cpu, Steps).unwrap();
    assert_agree(&cpu, &gpu, "cpu vs cuda");
    println!("cpu and cuda agree: losses {:?} vs {:?}", cpu.losses, gpu.losses);
}
