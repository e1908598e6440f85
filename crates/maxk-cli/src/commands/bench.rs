//! `maxk bench`: speed of the O(N log N) estimators against the paper's O(N^2) algorithm and
//! against plain sorting of the same groups. Every ratio is against a baseline measured in the
//! same run, on the same data.

use std::hint::black_box;
use std::time::{Duration, Instant};

use anyhow::Result;
use maxk_core::{Estimator, Spec};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

/// Arguments of `maxk bench`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Shorter measurements (about 0.1 s per figure instead of 1 s): noisier, for smoke tests.
    #[arg(long)]
    pub quick: bool,
    /// K used throughout.
    #[arg(short = 'k', long, default_value_t = 8)]
    pub k: usize,
}

/// Median seconds per call of `f`, over 5 samples each lasting about `budget / 5`.
fn seconds_per_call(budget: Duration, mut f: impl FnMut()) -> f64 {
    f();
    let start = Instant::now();
    f();
    let one = start.elapsed().as_secs_f64().max(1e-9);
    let reps = ((budget.as_secs_f64() / 5.0 / one).ceil() as usize).max(1);
    let mut samples: Vec<f64> = (0..5)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..reps {
                f();
            }
            t.elapsed().as_secs_f64() / reps as f64
        })
        .collect();
    samples.sort_by(f64::total_cmp);
    samples[2]
}

fn rewards(rng: &mut ChaCha8Rng, len: usize) -> Vec<f64> {
    (0..len).map(|_| rng.r#gen::<f64>()).collect()
}

fn human(seconds: f64) -> String {
    match seconds {
        s if s < 1e-3 => format!("{:.1} us", s * 1e6),
        s if s < 1.0 => format!("{:.2} ms", s * 1e3),
        s => format!("{s:.2} s"),
    }
}

/// Runs the benchmark and prints its tables.
pub fn run(args: Args) -> Result<()> {
    let budget = Duration::from_millis(if args.quick { 100 } else { 1000 });
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let spec = Spec::new(Estimator::Maxpo, args.k);
    println!("maxk bench: MaxPO, K = {}, {} rayon threads", args.k, rayon::current_num_threads());
    println!();
    println!("One group: O(N log N) kernel vs the paper's O(N^2) Leave-Two-Out");
    println!("{:>7}  {:>12}  {:>12}  {:>9}", "N", "maxk", "quadratic", "speed-up");
    for n in [64usize, 1024, 16384] {
        let r = rewards(&mut rng, n);
        let mut ws = maxk_core::Workspace::new();
        let mut out = vec![0.0; n];
        let fast = seconds_per_call(budget, || ws.advantages_into(black_box(&r), spec, &mut out).unwrap());
        let slow = seconds_per_call(budget, || {
            black_box(maxk_core::quadratic::maxpo(black_box(&r), args.k));
        });
        println!("{n:>7}  {:>12}  {:>12}  {:>8.1}x", human(fast), human(slow), slow / fast);
    }
    println!();
    let (g, n) = (4096usize, 64usize);
    println!("Batch [{g} x {n}] (parallel): maxk vs sorting each group (copy + sort_unstable)");
    println!("{:>18}  {:>12}  {:>14}  {:>14}", "", "time", "groups/s", "vs sort");
    let batch = rewards(&mut rng, g * n);
    let mut out = vec![0.0; g * n];
    let mut scratch = vec![0.0; g * n];
    let sort = seconds_per_call(budget, || {
        scratch.copy_from_slice(&batch);
        scratch.par_chunks_mut(n).with_min_len(16).for_each(|c| c.sort_unstable_by(f64::total_cmp));
        black_box(&scratch);
    });
    let f64_time = seconds_per_call(budget, || {
        maxk_core::batch_advantages_into(black_box(&batch), n, spec, &mut out).unwrap()
    });
    let batch32: Vec<f32> = batch.iter().map(|&x| x as f32).collect();
    let mut out32 = vec![0.0f32; g * n];
    let f32_time = seconds_per_call(budget, || {
        maxk_core::batch_advantages_into(black_box(&batch32), n, spec, &mut out32).unwrap()
    });
    for (name, t) in [("sort (baseline)", sort), ("maxk maxpo f64", f64_time), ("maxk maxpo f32", f32_time)] {
        println!("{name:>18}  {:>12}  {:>14.0}  {:>13.2}x", human(t), g as f64 / t, t / sort);
    }
    Ok(())
}
