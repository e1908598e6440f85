//! Experiment 4 driver: every estimator trained in the biased maze ([`crate::maze`]) over
//! several seeds, in parallel. Seed s uses the same random stream for every estimator, so the
//! results of one estimator do not depend on which others are compared.

use maxk_core::{Scale, Spec};
use rayon::prelude::*;
use serde::Serialize;

use crate::config::Config;
use crate::error::Result;
use crate::maze::{Maze, Trace, moving_average, train};
use crate::progress::Progress;
use crate::seeding::job_rng;
use crate::stats::{Ci, Curve};

const MAZE_STREAM: u64 = 4;

/// End-of-training numbers of one estimator.
#[derive(Debug, Clone, Serialize)]
pub struct MazeFinal {
    /// Estimator id.
    pub estimator: String,
    /// Exact pass@K after the last update.
    pub final_pass_at_k: Ci,
    /// Mean exact pass@K over all updates (area under the learning curve, speed and level).
    pub mean_pass_at_k: Ci,
    /// Mean of the last `window` group returns.
    pub final_return: Ci,
    /// Fraction of seeds whose final exact pass@1 (success probability) is at least 0.5.
    pub solved_fraction: f64,
    /// Per-seed mean pass@K over training, for paired comparisons.
    #[serde(skip)]
    pub mean_pass_at_k_per_seed: Vec<f64>,
}

/// Experiment 4 results: four panels of curves (x = update 1..U) and the final numbers.
#[derive(Debug, Clone, Serialize)]
pub struct MazeResult {
    /// K of the recorded pass@K.
    pub k: usize,
    /// Moving average of the group's mean return.
    pub returns: Vec<Curve>,
    /// Mean P(action 1) at the trap depths.
    pub p1: Vec<Curve>,
    /// Moving average of the group's success rate.
    pub success: Vec<Curve>,
    /// Exact pass@K of the policy.
    pub pass_at_k: Vec<Curve>,
    /// One summary per estimator.
    pub finals: Vec<MazeFinal>,
}

/// Runs experiment 4.
pub fn run_maze(cfg: &Config, show: bool) -> Result<MazeResult> {
    let m = &cfg.maze;
    let maze = Maze::new(m.depth, &m.traps, m.bait);
    let jobs: Vec<(usize, usize)> =
        (0..cfg.estimators.len()).flat_map(|e| (0..cfg.seeds).map(move |s| (e, s))).collect();
    let progress = Progress::new("biased maze", jobs.len() as u64, show);
    let traces: Vec<Trace> = jobs
        .par_iter()
        .map(|&(e, s)| {
            let spec = Spec::new(cfg.estimators[e].0, m.k).with_scale(Scale::Pg);
            let mut rng = job_rng(cfg.seed, MAZE_STREAM, 0, s as u64);
            let t = train(&maze, m.init_p1, spec, m.n, m.updates, m.lr, &mut rng);
            progress.inc();
            t
        })
        .collect::<Result<_>>()?;
    progress.finish();
    let x: Vec<f64> = (1..=m.updates).map(|u| u as f64).collect();
    let mut out = MazeResult {
        k: m.k,
        returns: Vec::new(),
        p1: Vec::new(),
        success: Vec::new(),
        pass_at_k: Vec::new(),
        finals: Vec::new(),
    };
    for (e, id) in cfg.estimators.iter().enumerate() {
        let runs: Vec<&Trace> = traces.iter().zip(&jobs).filter(|(_, j)| j.0 == e).map(|(t, _)| t).collect();
        let curve = |f: &dyn Fn(&Trace) -> Vec<f64>| {
            let per_seed: Vec<Vec<f64>> = runs.iter().map(|t| f(t)).collect();
            let samples: Vec<Vec<f64>> =
                (0..m.updates).map(|u| per_seed.iter().map(|s| s[u]).collect()).collect();
            Curve::from_samples(id.0.id(), x.clone(), &samples)
        };
        out.returns.push(curve(&|t| moving_average(&t.mean_return, m.window)));
        out.p1.push(curve(&|t| t.p1_traps.clone()));
        out.success.push(curve(&|t| moving_average(&t.success_rate, m.window)));
        out.pass_at_k.push(curve(&|t| t.pass_at_k.clone()));
        let per_seed_mean: Vec<f64> =
            runs.iter().map(|t| t.pass_at_k.iter().sum::<f64>() / t.pass_at_k.len() as f64).collect();
        let finals: Vec<f64> = runs.iter().map(|t| t.final_pass_at_k).collect();
        // pass@1 = 1 - (1 - pass@K)^(1/K): the exact success probability.
        let solved = finals.iter().filter(|p| 1.0 - (1.0 - **p).powf(1.0 / m.k as f64) >= 0.5).count();
        let tail = m.window.min(m.updates);
        let last_returns: Vec<f64> = runs
            .iter()
            .map(|t| t.mean_return[m.updates - tail..].iter().sum::<f64>() / tail as f64)
            .collect();
        out.finals.push(MazeFinal {
            estimator: id.0.id().to_string(),
            final_pass_at_k: Ci::of(&finals),
            mean_pass_at_k: Ci::of(&per_seed_mean),
            final_return: Ci::of(&last_returns),
            solved_fraction: solved as f64 / runs.len() as f64,
            mean_pass_at_k_per_seed: per_seed_mean,
        });
    }
    Ok(out)
}
