//! Experiment 5 driver: every estimator trained in the biased maze ([`crate::maze`]) with
//! every learning rate of one shared grid, with and without a lure, tuned fairly.
//!
//! - **Same budget for all**: each estimator runs every lr of `maze.lrs` on the same seeds.
//! - **Selection disjoint from evaluation**: the `maze.tune_seeds` selection runs draw from
//!   one random stream family, the `seeds` evaluation runs from another, so no evaluation
//!   episode influenced the choice of lr. An estimator's lr is the one with the highest mean
//!   (over selection seeds) of the exact pass@K averaged over training; the first such lr wins
//!   a tie.
//! - **Common random numbers**: evaluation seed s uses the same stream for every estimator,
//!   lr and bait, so differences between estimators are paired by seed.
//! - Estimators identical at the PG scale ([`crate::twins`]) run once.

use maxk_core::{Estimator, Scale, Spec};
use rayon::prelude::*;
use serde::Serialize;

use crate::config::Config;
use crate::error::Result;
use crate::maze::{Maze, Trace, moving_average, train};
use crate::progress::Progress;
use crate::seeding::job_rng;
use crate::stats::{Ci, Curve};

const TUNE_STREAM: u64 = 5;
const EVAL_STREAM: u64 = 6;

/// End-of-training numbers of one estimator at one lr, over the evaluation seeds.
#[derive(Debug, Clone, Serialize)]
pub struct MazeFinal {
    /// The estimator.
    pub estimator: Estimator,
    /// The learning rate.
    pub lr: f64,
    /// Exact pass@K after the last update.
    pub final_pass_at_k: Ci,
    /// Mean exact pass@K over all updates (area under the learning curve, speed and level).
    pub mean_pass_at_k: Ci,
    /// Mean of the last `window` group returns.
    pub final_return: Ci,
    /// Fraction of seeds whose final exact pass@1 (success probability) is at least 0.5.
    pub solved_fraction: f64,
    /// `P(action 1)` at each trap depth after the last update.
    pub final_p1: Vec<Ci>,
    /// Per-seed mean pass@K over training (evaluation seeds 0, 1, ...), for paired comparisons.
    pub mean_pass_at_k_per_seed: Vec<f64>,
}

/// One point of an lr curve: mean pass@K over training on the selection and evaluation seeds.
#[derive(Debug, Clone, Serialize)]
pub struct LrPoint {
    /// The learning rate.
    pub lr: f64,
    /// Over the selection seeds (what chose the lr).
    pub tune: Ci,
    /// Over the evaluation seeds.
    pub eval: Ci,
    /// Per selection seed (0, 1, ...): mean pass@K over training (`maze_seeds.csv`).
    #[serde(skip)]
    pub tune_per_seed: Vec<f64>,
}

/// One estimator in one maze variant.
#[derive(Debug, Clone, Serialize)]
pub struct MazeEstimator {
    /// The estimator.
    pub estimator: Estimator,
    /// Mean pass@K over training against lr.
    pub lr_curve: Vec<LrPoint>,
    /// The lr chosen on the selection seeds.
    pub best_lr: f64,
    /// Evaluation at the chosen lr.
    pub tuned: MazeFinal,
    /// Evaluation at every lr of the grid (the untuned sensitivity result; per seed in
    /// `maze_seeds.csv`).
    #[serde(skip)]
    pub every_lr: Vec<MazeFinal>,
    /// Learning curves at the chosen lr (evaluation seeds).
    #[serde(skip)]
    pub curves: MazeCurves,
}

/// Learning curves (x = update 1..U) of one estimator.
#[derive(Debug, Clone, Serialize)]
pub struct MazeCurves {
    /// Moving average of the group's mean return.
    pub returns: Curve,
    /// Mean P(action 1) at the trap depths, before each update.
    pub p1: Curve,
    /// Exact pass@K of the policy, before each update.
    pub pass_at_k: Curve,
}

/// One maze variant (a bait value).
#[derive(Debug, Clone, Serialize)]
pub struct MazeVariant {
    /// Reward for the wrong action at a trap (0: no lure).
    pub bait: f64,
    /// Every estimator run.
    pub estimators: Vec<MazeEstimator>,
}

impl MazeVariant {
    /// `"no lure"` or `"lure (bait b)"`.
    pub fn label(&self) -> String {
        if self.bait == 0.0 { "no lure".to_string() } else { format!("lure (bait {})", self.bait) }
    }

    /// The record of `e`, if it was run.
    pub fn find(&self, e: maxk_core::Estimator) -> Option<&MazeEstimator> {
        self.estimators.iter().find(|x| x.estimator == e)
    }
}

/// Experiment 5 results.
#[derive(Debug, Clone, Serialize)]
pub struct MazeResult {
    /// K of the recorded pass@K.
    pub k: usize,
    /// Trap depths.
    pub traps: Vec<usize>,
    /// One per bait value.
    pub variants: Vec<MazeVariant>,
    /// `(skipped, same as)`: estimators identical at the PG scale to one run earlier.
    pub twins: Vec<(Estimator, Estimator)>,
}

/// Runs experiment 5.
pub fn run_maze(cfg: &Config, show: bool) -> Result<MazeResult> {
    let m = &cfg.maze;
    let specs: Vec<Spec> = cfg.estimators.iter().map(|e| Spec::new(*e, m.k).with_scale(Scale::Pg)).collect();
    let classes = crate::twins::classes(&specs, m.n);
    let run: Vec<usize> = (0..specs.len()).filter(|&i| classes[i] == i).collect();
    let twins = (0..specs.len())
        .filter(|&i| classes[i] != i)
        .map(|i| (cfg.estimators[i], cfg.estimators[classes[i]]))
        .collect();
    // (bait, estimator, lr, tune?, seed)
    let mut jobs = Vec::new();
    for b in 0..m.baits.len() {
        for &e in &run {
            for l in 0..m.lrs.len() {
                jobs.extend((0..m.tune_seeds).map(|s| (b, e, l, true, s)));
                jobs.extend((0..cfg.seeds).map(|s| (b, e, l, false, s)));
            }
        }
    }
    let progress = Progress::new("biased maze", jobs.len() as u64, show);
    let traces: Vec<Trace> = jobs
        .par_iter()
        .map(|&(b, e, l, tune, s)| {
            let maze = Maze::new(m.depth, &m.traps, m.baits[b]);
            let stream = if tune { TUNE_STREAM } else { EVAL_STREAM };
            let mut rng = job_rng(cfg.seed, stream, 0, s as u64);
            let t = train(&maze, m.init_p1, specs[e], m.n, m.updates, m.lrs[l], &mut rng);
            progress.inc();
            t
        })
        .collect::<Result<_>>()?;
    progress.finish();
    let select = |b: usize, e: usize, l: usize, tune: bool| -> Vec<&Trace> {
        traces
            .iter()
            .zip(&jobs)
            .filter(|(_, j)| j.0 == b && j.1 == e && j.2 == l && j.3 == tune)
            .map(|(t, _)| t)
            .collect()
    };
    let mut variants = Vec::new();
    for (b, &bait) in m.baits.iter().enumerate() {
        let mut estimators = Vec::new();
        for &e in &run {
            let id = cfg.estimators[e];
            let every_lr: Vec<MazeFinal> =
                (0..m.lrs.len()).map(|l| summarize(cfg, id, m.lrs[l], &select(b, e, l, false))).collect();
            let tune_seeds: Vec<Vec<f64>> =
                (0..m.lrs.len()).map(|l| per_seed_mean(&select(b, e, l, true))).collect();
            let tune: Vec<Ci> = tune_seeds.iter().map(|v| Ci::of(v)).collect();
            let best = best_index(&tune.iter().map(|c| c.mean).collect::<Vec<_>>());
            let lr_curve = (0..m.lrs.len())
                .map(|l| LrPoint {
                    lr: m.lrs[l],
                    tune: tune[l],
                    eval: every_lr[l].mean_pass_at_k,
                    tune_per_seed: tune_seeds[l].clone(),
                })
                .collect();
            estimators.push(MazeEstimator {
                estimator: id,
                lr_curve,
                best_lr: m.lrs[best],
                tuned: every_lr[best].clone(),
                curves: curves(cfg, id, &select(b, e, best, false)),
                every_lr,
            });
        }
        variants.push(MazeVariant { bait, estimators });
    }
    Ok(MazeResult { k: m.k, traps: Maze::new(m.depth, &m.traps, 0.0).traps(), variants, twins })
}

/// The index of the largest finite value, the first on ties (0 when none is finite).
pub fn best_index(values: &[f64]) -> usize {
    let mut best: Option<usize> = None;
    for (i, v) in values.iter().enumerate() {
        if v.is_finite() && best.is_none_or(|b| *v > values[b]) {
            best = Some(i);
        }
    }
    best.unwrap_or(0)
}

fn per_seed_mean(runs: &[&Trace]) -> Vec<f64> {
    runs.iter().map(|t| t.pass_at_k.iter().sum::<f64>() / t.pass_at_k.len().max(1) as f64).collect()
}

fn summarize(cfg: &Config, id: Estimator, lr: f64, runs: &[&Trace]) -> MazeFinal {
    let m = &cfg.maze;
    let per_seed = per_seed_mean(runs);
    let finals: Vec<f64> = runs.iter().map(|t| t.final_pass_at_k).collect();
    // pass@1 = 1 - (1 - pass@K)^(1/K): the exact success probability.
    let solved = finals.iter().filter(|p| 1.0 - (1.0 - **p).powf(1.0 / m.k as f64) >= 0.5).count();
    let tail = m.window.min(m.updates);
    let last_returns: Vec<f64> =
        runs.iter().map(|t| t.mean_return[m.updates - tail..].iter().sum::<f64>() / tail as f64).collect();
    let traps = runs.first().map_or(0, |t| t.final_p1.len());
    let final_p1 =
        (0..traps).map(|d| Ci::of(&runs.iter().map(|t| t.final_p1[d]).collect::<Vec<_>>())).collect();
    MazeFinal {
        estimator: id,
        lr,
        final_pass_at_k: Ci::of(&finals),
        mean_pass_at_k: Ci::of(&per_seed),
        final_return: Ci::of(&last_returns),
        solved_fraction: solved as f64 / runs.len().max(1) as f64,
        final_p1,
        mean_pass_at_k_per_seed: per_seed,
    }
}

fn curves(cfg: &Config, id: Estimator, runs: &[&Trace]) -> MazeCurves {
    let m = &cfg.maze;
    let x: Vec<f64> = (1..=m.updates).map(|u| u as f64).collect();
    let curve = |f: &dyn Fn(&Trace) -> Vec<f64>| {
        let per_seed: Vec<Vec<f64>> = runs.iter().map(|t| f(t)).collect();
        let samples: Vec<Vec<f64>> =
            (0..m.updates).map(|u| per_seed.iter().map(|s| s[u]).collect()).collect();
        Curve::from_samples(id.id(), x.clone(), &samples)
    };
    MazeCurves {
        returns: curve(&|t| moving_average(&t.mean_return, m.window)),
        p1: curve(&|t| t.p1_traps.clone()),
        pass_at_k: curve(&|t| t.pass_at_k.clone()),
    }
}

#[cfg(test)]
mod tests {
    use maxk_core::Estimator;

    use super::*;

    #[test]
    fn best_index_takes_the_first_maximum_and_skips_nan() {
        assert_eq!(best_index(&[0.1, 0.5, 0.5, 0.2]), 1);
        assert_eq!(best_index(&[f64::NAN, 0.2, 0.1]), 1);
        assert_eq!(best_index(&[f64::NAN]), 0);
    }

    #[test]
    fn every_estimator_gets_the_same_grid_and_twins_run_once() {
        let mut cfg = Config::quick();
        cfg.maze.updates = 5;
        cfg.maze.baits = vec![0.0];
        let r = run_maze(&cfg, false).unwrap();
        let v = &r.variants[0];
        assert!(v.find(Estimator::Canonical).is_none() && v.find(Estimator::PkpoLoo1).is_none());
        assert!(r.twins.contains(&(Estimator::Canonical, Estimator::Maxpo)));
        for e in &v.estimators {
            let lrs: Vec<f64> = e.lr_curve.iter().map(|p| p.lr).collect();
            assert_eq!(lrs, cfg.maze.lrs);
            assert!(e.lr_curve.iter().all(|p| p.tune.n == cfg.maze.tune_seeds && p.eval.n == cfg.seeds));
            // The chosen lr is the best on the selection seeds, not on the evaluation seeds.
            let tune: Vec<f64> = e.lr_curve.iter().map(|p| p.tune.mean).collect();
            assert_eq!(e.best_lr, cfg.maze.lrs[best_index(&tune)]);
            assert_eq!(e.tuned.lr, e.best_lr);
        }
    }
}
