//! A GRPO-style batch of groups turned into MaxPO advantages for pass@4 training.
//!
//! Run: `cargo run -p maxk-core --example quickstart`

use maxk_core::{Estimator, Scale, Spec, batch_advantages, batch_max_at_k};

fn main() -> Result<(), maxk_core::Error> {
    // 3 prompts x 8 sampled completions each, verifier rewards 1 (correct) or 0.
    let rewards: [f32; 24] = [
        0., 0., 1., 0., 0., 0., 0., 0., // hard prompt: 1 of 8 correct
        1., 0., 0., 1., 0., 0., 0., 1., // medium: 3 of 8
        1., 1., 1., 1., 1., 1., 1., 1., // solved: every sample correct, nothing to learn
    ];
    let k = 4;
    let spec = Spec::new(Estimator::Maxpo, k);
    let adv = batch_advantages(&rewards, 8, spec)?;
    let pass_at_k = batch_max_at_k(&rewards, 8, k)?;
    for (g, (a, p)) in adv.chunks(8).zip(&pass_at_k).enumerate() {
        println!("prompt {g}: pass@{k} estimate {p:.3}, advantages {a:+.3?}");
    }
    // At the PG-unbiased scale the same direction is the canonical jackknife advantage.
    let pg = batch_advantages(&rewards, 8, spec.with_scale(Scale::Pg))?;
    println!("prompt 0 at the pg scale: {:+.4?}", &pg[..8]);
    Ok(())
}
