//! CPU (NdArray) vs CUDA: the same tiny model, batch and optimiser on both backends must agree
//! to f32 round-off. Runs where the crate is built with `--features cuda` and a CUDA device
//! answers; elsewhere it prints why it was skipped and passes.
//!
//! Tolerances (f32 throughout; GPU matmuls and reductions sum in a different order):
//! logits 1e-4 absolute (values O(1)); gradients 1e-3 relative L2 per tensor; SFT losses over
//! five Adam steps 1e-3 relative (Adam's first steps move near-zero-gradient coordinates by
//! +-lr whatever their sign, so weights may differ by ~lr where the loss is flat, which moves
//! the loss only at second order).

use burn::tensor::backend::AutodiffBackend;
use maxk_trainer::Result;
use maxk_trainer::backend::{DeviceKind, OnBackend, cuda_compiled, dispatch};
use maxk_trainer::config::LmConfig;
use maxk_trainer::model::to_f32;
use maxk_trainer::optim::{Adam, gradients, track};
use maxk_trainer::sft::sft_loss;
use maxk_trainer::tasks::{Problem, Task};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// What one backend computed.
struct Trace {
    logits: Vec<f32>,
    grads: Vec<Vec<f32>>,
    losses: Vec<f64>,
}

struct Steps;

impl OnBackend for Steps {
    type Output = Trace;

    fn run<B: AutodiffBackend>(self, device: B::Device) -> Result<Trace> {
        let cfg = LmConfig::preset("tiny")?;
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let batches: Vec<Vec<Problem>> = (0..5)
            .map(|_| (0..16).map(|i| Task::ALL[i % Task::ALL.len()].generate(&mut rng)).collect())
            .collect();
        let mut weights = cfg.model.init::<B::InnerBackend>(cfg.seed, &device)?;
        let tracked = track::<B>(&weights);
        let loss = sft_loss(&tracked, &batches[0], &device)?;
        let tokens = maxk_trainer::vocab::encode_prompt(&batches[0][0].prompt)?;
        let ids: Vec<i64> = tokens.iter().map(|&t| t as i64).collect();
        let input =
            burn::tensor::Tensor::from_data(burn::tensor::TensorData::new(ids, [1, tokens.len()]), &device);
        let logits = to_f32(weights.forward(input));
        let grads = gradients(&tracked, loss).into_iter().map(to_f32).collect();
        let mut adam = Adam::new(cfg.sft.adam, &weights);
        let mut losses = Vec::new();
        for batch in &batches {
            let tracked = track::<B>(&weights);
            let loss = sft_loss(&tracked, batch, &device)?;
            losses.push(to_f32(loss.clone().inner())[0] as f64);
            let g = gradients(&tracked, loss);
            adam.step(&mut weights, g, cfg.sft.adam.lr);
        }
        Ok(Trace { logits, grads, losses })
    }
}

#[test]
fn cpu_and_cuda_agree_on_tiny_steps() {
    if !cuda_compiled() {
        println!("skipped: built without the `cuda` feature (cargo test -p maxk-trainer --features cuda)");
        return;
    }
    let gpu = match dispatch(DeviceKind::Cuda, Steps) {
        Ok(t) => t,
        Err(e) => {
            println!("skipped: {e}");
            return;
        }
    };
    let cpu = dispatch(DeviceKind::Cpu, Steps).unwrap();
    for (a, b) in cpu.logits.iter().zip(&gpu.logits) {
        assert!((a - b).abs() < 1e-4, "logits: cpu {a} vs cuda {b}");
    }
    for (i, (a, b)) in cpu.grads.iter().zip(&gpu.grads).enumerate() {
        let diff: f64 = a.iter().zip(b).map(|(x, y)| ((x - y) as f64).powi(2)).sum::<f64>().sqrt();
        let norm: f64 = a.iter().map(|&x| (x as f64).powi(2)).sum::<f64>().sqrt();
        assert!(diff <= 1e-3 * norm + 1e-7, "gradient of tensor {i}: |cpu - cuda| = {diff}, |cpu| = {norm}");
    }
    for (s, (a, b)) in cpu.losses.iter().zip(&gpu.losses).enumerate() {
        assert!((a - b).abs() <= 1e-3 * a.abs(), "SFT step {s}: loss cpu {a} vs cuda {b}");
    }
    println!("cpu and cuda agree: losses {:?} vs {:?}", cpu.losses, gpu.losses);
}
