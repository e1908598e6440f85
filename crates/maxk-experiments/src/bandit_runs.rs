//! Experiments 1 to 3 on the categorical bandit ([`crate::bandit`]), every estimator at
//! maxk-core's PG scale (`Spec::new(est, k).with_scale(Scale::Pg)`) so that an unbiased one
//! estimates `grad J_K` itself.
//!
//! 1. **Estimation error**: the relative error `||mean of M batch gradients - grad J_K|| /
//!    ||grad J_K||` against M, on one fixed random instance (continuous rewards) and its binary
//!    pass@K twin. Unbiased estimators fall like `1/sqrt(M)`; biased ones level off at their
//!    bias. The bias check pools all batches: `z = ||g_bar - grad J_K|| / sqrt(tr Cov / n)` is
//!    about 1 for an unbiased estimator and grows like `sqrt(n)` for a biased one.
//! 2. **Variance vs A** and 3. **variance vs K**: the relative variance
//!    `tr Cov(g) / ||grad J_K||^2` of one batch's estimate (the number of batches needed for a
//!    relative error of 1), on a fresh random instance per seed. Instances with a tiny
//!    gradient make this heavy-tailed, so curves and ratios are geometric means over seeds
//!    ([`Ci::geometric`]); ratios are taken per seed (paired: same instance, same batches).

use maxk_core::{Estimator, Scale, Spec};
use rayon::prelude::*;
use serde::Serialize;

use crate::bandit::{Bandit, BatchRunner, GradientStats, distance, norm};
use crate::config::Config;
use crate::error::Result;
use crate::progress::Progress;
use crate::seeding::job_rng;
#[cfg(doc)]
use crate::stats::Ci;
use crate::stats::{Curve, log_log_slope};

/// Experiment keys of the random streams.
const ERROR_STREAM: u64 = 1;
const ACTIONS_STREAM: u64 = 2;
const K_STREAM: u64 = 3;

/// How close to exactly centered an estimator's advantages were.
#[derive(Debug, Clone, Serialize)]
pub struct Centering {
    /// Estimator id.
    pub estimator: String,
    /// Largest `|sum_i A_i| / max_i |A_i|` over every batch.
    pub max_rel_sum: f64,
    /// Mean of `sum_i A_i / max_i |A_i|` over every batch.
    pub mean_rel_sum: f64,
}

/// The pooled bias check of one estimator in experiment 1.
#[derive(Debug, Clone, Serialize)]
pub struct BiasCheck {
    /// Estimator id.
    pub estimator: String,
    /// Whether maxk-core says it is unbiased for `grad J_K` at this K.
    pub expected_unbiased: bool,
    /// `||g_bar - grad J_K|| / ||grad J_K||` over all batches of all seeds.
    pub rel_bias: f64,
    /// The same error expected from noise alone, `sqrt(tr Cov / n) / ||grad J_K||`.
    pub noise_floor: f64,
    /// `rel_bias / noise_floor`: about 1 when unbiased.
    pub z: f64,
    /// Log-log slope of the mean relative error over the upper half of the M grid
    /// (-0.5 when unbiased, towards 0 when the bias dominates).
    pub slope: f64,
}

/// Experiment 1 on one reward variant.
#[derive(Debug, Clone, Serialize)]
pub struct ErrorVariant {
    /// `continuous` or `binary`.
    pub name: String,
    /// The exact `J_K`.
    pub objective: f64,
    /// `||grad J_K||`.
    pub grad_norm: f64,
    /// Relative error vs M, one curve per estimator.
    pub curves: Vec<Curve>,
    /// One bias check per estimator.
    pub bias: Vec<BiasCheck>,
    /// One centering record per estimator.
    pub centering: Vec<Centering>,
}

/// Experiment 1: both reward variants.
#[derive(Debug, Clone, Serialize)]
pub struct ErrorResult {
    /// `continuous` then `binary`.
    pub variants: Vec<ErrorVariant>,
    /// The M grid.
    pub grid: Vec<usize>,
}

/// Experiments 2 and 3: relative variance against A or K.
#[derive(Debug, Clone, Serialize)]
pub struct VarianceResult {
    /// What x is (`A` or `K`).
    pub x_name: String,
    /// `tr Cov / ||grad J_K||^2` (geometric mean over seeds), one curve per estimator.
    pub curves: Vec<Curve>,
    /// Per-seed ratio of each estimator's relative variance to the reference's (geometric mean).
    pub ratios: Vec<Curve>,
    /// The reference estimator of the ratios (maxpo when compared, else the first).
    pub reference: String,
    /// One centering record per estimator.
    pub centering: Vec<Centering>,
}

fn specs(cfg: &Config, k: usize) -> Vec<Spec> {
    cfg.estimators.iter().map(|e| Spec::new(e.0, k).with_scale(Scale::Pg)).collect()
}

/// Whether `e` estimates `grad J_K` without bias at the PG scale.
pub fn unbiased_for(e: Estimator, k: usize) -> bool {
    e.is_unbiased() && (e.uses_k() || k == 1)
}

/// The M grid: 1, 2, 4, ... and `max` itself.
pub fn m_grid(max: usize) -> Vec<usize> {
    let mut g: Vec<usize> =
        std::iter::successors(Some(1usize), |m| m.checked_mul(2)).take_while(|m| *m <= max).collect();
    if g.last() != Some(&max) {
        g.push(max);
    }
    g
}

struct ErrorJob {
    errors: Vec<Vec<f64>>, // [estimator][checkpoint]
    means: Vec<Vec<f64>>,
    traces: Vec<f64>,
    stats: Vec<GradientStats>,
}

/// Experiment 1. The instance is drawn once from the master seed; the batches of seed s come
/// from their own stream, and all estimators see the same batches.
pub fn run_error(cfg: &Config, show: bool) -> Result<ErrorResult> {
    let c = &cfg.bandit_error;
    let continuous = Bandit::random(c.actions, c.logit_std, &mut job_rng(cfg.seed, ERROR_STREAM, 0, 0));
    let variants = [("continuous", continuous.clone()), ("binary", continuous.binary(c.binary_fraction))];
    let grid = m_grid(c.max_batches);
    let progress = Progress::new("bandit error", (2 * cfg.seeds) as u64, show);
    let jobs: Vec<(usize, usize)> = (0..2).flat_map(|v| (0..cfg.seeds).map(move |s| (v, s))).collect();
    let results: Vec<ErrorJob> = jobs
        .par_iter()
        .map(|&(v, s)| {
            let bandit = &variants[v].1;
            let truth = bandit.gradient(c.k);
            let scale = norm(&truth);
            let mut rng = job_rng(cfg.seed, ERROR_STREAM, v as u64 + 1, s as u64);
            let mut runner = BatchRunner::new(bandit, specs(cfg, c.k), c.n);
            let mut stats: Vec<GradientStats> =
                cfg.estimators.iter().map(|_| GradientStats::new(c.actions)).collect();
            let mut errors = vec![Vec::with_capacity(grid.len()); stats.len()];
            for &m in &grid {
                while stats[0].count() < m {
                    runner.step(&mut rng, &mut stats)?;
                }
                for (e, st) in errors.iter_mut().zip(&stats) {
                    e.push(distance(&st.mean(bandit.probs()), &truth) / scale);
                }
            }
            progress.inc();
            Ok(ErrorJob {
                errors,
                means: stats.iter().map(|st| st.mean(bandit.probs())).collect(),
                traces: stats.iter().map(|st| st.trace_cov(bandit.probs())).collect(),
                stats,
            })
        })
        .collect::<Result<_>>()?;
    progress.finish();
    let x: Vec<f64> = grid.iter().map(|&m| m as f64).collect();
    let variants = variants
        .iter()
        .enumerate()
        .map(|(v, (name, bandit))| {
            let jobs: Vec<&ErrorJob> =
                results.iter().zip(&jobs).filter(|(_, j)| j.0 == v).map(|(r, _)| r).collect();
            let truth = bandit.gradient(c.k);
            let scale = norm(&truth);
            let mut curves = Vec::new();
            let mut bias = Vec::new();
            for (i, e) in cfg.estimators.iter().enumerate() {
                let samples: Vec<Vec<f64>> =
                    (0..grid.len()).map(|g| jobs.iter().map(|j| j.errors[i][g]).collect()).collect();
                let curve = Curve::from_samples(e.0.id(), x.clone(), &samples);
                let means: Vec<f64> = curve.ci.iter().map(|c| c.mean).collect();
                let slope = log_log_slope(&x, &means, (c.max_batches as f64).sqrt());
                curves.push(curve);
                let pooled: Vec<f64> = (0..c.actions)
                    .map(|a| jobs.iter().map(|j| j.means[i][a]).sum::<f64>() / jobs.len() as f64)
                    .collect();
                let trace = jobs.iter().map(|j| j.traces[i]).sum::<f64>() / jobs.len() as f64;
                let rel_bias = distance(&pooled, &truth) / scale;
                let noise_floor = (trace / (jobs.len() * c.max_batches) as f64).sqrt() / scale;
                bias.push(BiasCheck {
                    estimator: e.0.id().to_string(),
                    expected_unbiased: unbiased_for(e.0, c.k),
                    rel_bias,
                    noise_floor,
                    z: rel_bias / noise_floor,
                    slope,
                });
            }
            let centering = centering(cfg, jobs.iter().map(|j| j.stats.as_slice()));
            ErrorVariant {
                name: name.to_string(),
                objective: bandit.objective(c.k),
                grad_norm: scale,
                curves,
                bias,
                centering,
            }
        })
        .collect();
    Ok(ErrorResult { variants, grid })
}

fn centering<'a>(cfg: &Config, jobs: impl Iterator<Item = &'a [GradientStats]>) -> Vec<Centering> {
    let mut out: Vec<Centering> = cfg
        .estimators
        .iter()
        .map(|e| Centering { estimator: e.0.id().to_string(), max_rel_sum: 0.0, mean_rel_sum: 0.0 })
        .collect();
    let mut batches = 0usize;
    for stats in jobs {
        for (c, st) in out.iter_mut().zip(stats) {
            c.max_rel_sum = c.max_rel_sum.max(st.max_rel_sum);
            c.mean_rel_sum += st.sum_rel_sum;
        }
        batches += stats.first().map_or(0, |s| s.count());
    }
    for c in &mut out {
        c.mean_rel_sum /= batches.max(1) as f64;
    }
    out
}

/// One variance setting: x value, A, N, K.
#[derive(Debug, Clone, Copy)]
struct Setting {
    x: f64,
    actions: usize,
    n: usize,
    k: usize,
}

/// Experiment 2: relative variance against the number of actions A.
pub fn run_actions(cfg: &Config, show: bool) -> Result<VarianceResult> {
    let c = &cfg.bandit_actions;
    let settings: Vec<Setting> =
        c.actions.iter().map(|&a| Setting { x: a as f64, actions: a, n: c.n, k: c.k }).collect();
    run_variance(cfg, "A", ACTIONS_STREAM, &settings, c.batches, c.logit_std, show)
}

/// Experiment 3: relative variance against K.
pub fn run_k(cfg: &Config, show: bool) -> Result<VarianceResult> {
    let c = &cfg.bandit_k;
    let settings: Vec<Setting> =
        c.ks.iter().map(|&k| Setting { x: k as f64, actions: c.actions, n: c.n, k }).collect();
    run_variance(cfg, "K", K_STREAM, &settings, c.batches, c.logit_std, show)
}

fn run_variance(
    cfg: &Config,
    x_name: &str,
    stream: u64,
    settings: &[Setting],
    batches: usize,
    logit_std: f64,
    show: bool,
) -> Result<VarianceResult> {
    let jobs: Vec<(usize, usize)> =
        (0..settings.len()).flat_map(|i| (0..cfg.seeds).map(move |s| (i, s))).collect();
    let progress = Progress::new(&format!("variance vs {x_name}"), jobs.len() as u64, show);
    let results: Vec<(Vec<f64>, Vec<GradientStats>)> = jobs
        .par_iter()
        .map(|&(i, s)| {
            let st = settings[i];
            let mut rng = job_rng(cfg.seed, stream, i as u64, s as u64);
            let bandit = Bandit::random(st.actions, logit_std, &mut rng);
            let scale = norm(&bandit.gradient(st.k)).powi(2);
            let mut runner = BatchRunner::new(&bandit, specs(cfg, st.k), st.n);
            let mut stats: Vec<GradientStats> =
                cfg.estimators.iter().map(|_| GradientStats::new(st.actions)).collect();
            for _ in 0..batches {
                runner.step(&mut rng, &mut stats)?;
            }
            progress.inc();
            Ok((stats.iter().map(|g| g.trace_cov(bandit.probs()) / scale).collect(), stats))
        })
        .collect::<Result<_>>()?;
    progress.finish();
    let reference = cfg.estimators.iter().position(|e| e.0 == Estimator::Maxpo).unwrap_or(0);
    let x: Vec<f64> = settings.iter().map(|s| s.x).collect();
    let per_setting = |f: &dyn Fn(&[f64]) -> f64| -> Vec<Vec<f64>> {
        (0..settings.len())
            .map(|i| results.iter().zip(&jobs).filter(|(_, j)| j.0 == i).map(|(r, _)| f(&r.0)).collect())
            .collect()
    };
    let mut curves = Vec::new();
    let mut ratios = Vec::new();
    for (e, id) in cfg.estimators.iter().enumerate() {
        curves.push(Curve::geometric(id.0.id(), x.clone(), &per_setting(&|rv| rv[e])));
        ratios.push(Curve::geometric(id.0.id(), x.clone(), &per_setting(&|rv| rv[e] / rv[reference])));
    }
    Ok(VarianceResult {
        x_name: x_name.to_string(),
        curves,
        ratios,
        reference: cfg.estimators[reference].0.id().to_string(),
        centering: centering(cfg, results.iter().map(|r| r.1.as_slice())),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_is_powers_of_two_then_max() {
        assert_eq!(m_grid(8), vec![1, 2, 4, 8]);
        assert_eq!(m_grid(10), vec![1, 2, 4, 8, 10]);
    }

    #[test]
    fn quick_error_run_separates_biased_from_unbiased() {
        let mut cfg = Config::quick();
        cfg.bandit_error.max_batches = 4096;
        cfg.seeds = 4;
        let r = run_error(&cfg, false).unwrap();
        for v in &r.variants {
            for b in &v.bias {
                if b.expected_unbiased {
                    assert!(b.z < 4.0, "{} {}: z = {}", v.name, b.estimator, b.z);
                } else {
                    assert!(b.z > 4.0, "{} {}: z = {}", v.name, b.estimator, b.z);
                }
            }
            for c in &v.centering {
                if c.estimator == "maxpo" || c.estimator == "canonical" {
                    assert!(c.max_rel_sum < 1e-12, "{}: {}", c.estimator, c.max_rel_sum);
                }
            }
        }
    }

    #[test]
    fn runs_are_deterministic() {
        let mut cfg = Config::quick();
        cfg.bandit_k.ks = vec![2];
        let a = run_k(&cfg, false).unwrap();
        let b = run_k(&cfg, false).unwrap();
        assert_eq!(a.curves, b.curves);
    }
}
