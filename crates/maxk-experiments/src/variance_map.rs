//! Experiment 4: where the Leave-Two-Out baseline lowers the gradient variance.
//!
//! At the PG scale MaxPO is raw EI minus the L2O baseline (`ei` = `pkpo-loo1` there), so the
//! ratio `Var(EI) / Var(MaxPO)` (trace of the covariance of one batch's gradient estimate) says
//! what the baseline does: above 1 it lowers the variance, below 1 it raises it. The map
//! covers every cell (reward family, A, N, K) of `config.variance_map` with K < N:
//!
//! - **continuous** rewards: Monte Carlo on a fresh random instance per seed (logits
//!   N(0, s^2), rewards U(0, 1)); the ratio is taken per seed (same instance, same batches) and
//!   summarised by its geometric mean with a 95% interval over seeds;
//! - **binary** rewards with success fraction p on the uniform two-class policy: the exact
//!   ratio ([`crate::exact`]), and a Monte Carlo check of it on the same policy (its per-seed
//!   ratio interval, and the largest |z| of the two Monte Carlo variances against the exact
//!   ones).

use maxk_core::{Estimator, Scale, Spec};
use rayon::prelude::*;
use serde::Serialize;

use crate::bandit::{Bandit, BatchRunner, GradientStats};
use crate::config::Config;
use crate::error::Result;
use crate::exact::{TwoClass, moments};
use crate::progress::Progress;
use crate::seeding::job_rng;
use crate::stats::{Ci, t975};

const MAP_STREAM: u64 = 7;
const CHECK_STREAM: u64 = 8;

/// A reward family.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum Family {
    /// U(0, 1) rewards, random logits.
    Continuous,
    /// Binary rewards, the correct actions having total probability `p`.
    Binary {
        /// Success fraction.
        p: f64,
    },
}

impl Family {
    /// `continuous` or `binary p = 0.03`.
    pub fn label(&self) -> String {
        match self {
            Family::Continuous => "continuous U(0,1)".to_string(),
            Family::Binary { p } => format!("binary, p = {p}"),
        }
    }
}

/// The Monte Carlo check of an exact binary cell.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Check {
    /// Per-seed Monte Carlo ratio (geometric mean and interval).
    pub ratio: Ci,
    /// Largest |mean of per-seed variance estimates - exact| / standard error, over ei and maxpo.
    pub max_abs_z: f64,
}

/// One cell of the map.
#[derive(Debug, Clone, Serialize)]
pub struct Cell {
    /// Reward family.
    pub family: Family,
    /// Number of actions A.
    pub actions: usize,
    /// Group size N.
    pub n: usize,
    /// K.
    pub k: usize,
    /// `Var(EI) / Var(MaxPO)`: exact (zero-width, `n = 0`) for binary rewards, the Monte Carlo
    /// interval for continuous ones.
    pub ratio: Ci,
    /// The Monte Carlo check (binary cells).
    pub check: Option<Check>,
}

/// Experiment 4 results.
#[derive(Debug, Clone, Serialize)]
pub struct MapResult {
    /// Every cell, family-major then A, N, K.
    pub cells: Vec<Cell>,
}

impl MapResult {
    /// The families in map order.
    pub fn families(&self) -> Vec<Family> {
        let mut out: Vec<Family> = Vec::new();
        for c in &self.cells {
            if !out.contains(&c.family) {
                out.push(c.family);
            }
        }
        out
    }
}

fn specs(k: usize) -> Vec<Spec> {
    [Estimator::Ei, Estimator::Maxpo].map(|e| Spec::new(e, k).with_scale(Scale::Pg)).to_vec()
}

/// Runs experiment 4.
pub fn run_map(cfg: &Config, show: bool) -> Result<MapResult> {
    let m = &cfg.variance_map;
    let mut families = vec![Family::Continuous];
    families.extend(m.success.iter().map(|&p| Family::Binary { p }));
    let mut cells: Vec<(Family, usize, usize, usize)> = Vec::new();
    for &f in &families {
        for &a in &m.actions {
            for &n in &m.ns {
                for &k in m.ks.iter().filter(|&&k| k < n) {
                    cells.push((f, a, n, k));
                }
            }
        }
    }
    let jobs: Vec<(usize, usize)> =
        (0..cells.len()).flat_map(|c| (0..cfg.seeds).map(move |s| (c, s))).collect();
    let progress = Progress::new("variance map", jobs.len() as u64, show);
    // Per job: [Var(EI), Var(MaxPO)] (relative variance for continuous, raw trace for binary).
    let vars: Vec<[f64; 2]> = jobs
        .par_iter()
        .map(|&(c, s)| {
            let (family, actions, n, k) = cells[c];
            let (bandit, batches, mut rng) = match family {
                Family::Continuous => {
                    let mut rng = job_rng(cfg.seed, MAP_STREAM, c as u64, s as u64);
                    (Bandit::random(actions, m.logit_std, &mut rng), m.batches, rng)
                }
                Family::Binary { p } => {
                    let (probs, rewards) = TwoClass::uniform_policy(actions, p);
                    let logits: Vec<f64> = probs.iter().map(|q| q.ln()).collect();
                    let bandit =
                        Bandit::new(&logits, &rewards).unwrap_or_else(|| unreachable!("finite logits"));
                    (bandit, m.check_batches, job_rng(cfg.seed, CHECK_STREAM, c as u64, s as u64))
                }
            };
            let mut runner = BatchRunner::new(&bandit, specs(k), n);
            let mut stats = [GradientStats::new(actions), GradientStats::new(actions)];
            for _ in 0..batches {
                runner.step(&mut rng, &mut stats)?;
            }
            progress.inc();
            Ok(stats.map(|st| st.trace_cov(bandit.probs())))
        })
        .collect::<Result<_>>()?;
    progress.finish();
    let mut out = Vec::with_capacity(cells.len());
    for (c, &(family, actions, n, k)) in cells.iter().enumerate() {
        let seeds: Vec<[f64; 2]> =
            vars.iter().zip(&jobs).filter(|(_, j)| j.0 == c).map(|(v, _)| *v).collect();
        let mc_ratio = Ci::geometric(&seeds.iter().map(|v| v[0] / v[1]).collect::<Vec<_>>());
        let (ratio, check) = match family {
            Family::Continuous => (mc_ratio, None),
            Family::Binary { p } => {
                let policy = TwoClass::uniform(actions, p);
                let mut exact = [0.0; 2];
                for (x, spec) in exact.iter_mut().zip(specs(k)) {
                    *x = moments(&policy, spec, n)?.map_or(f64::NAN, |mo| mo.trace_cov);
                }
                let max_abs_z = (0..2)
                    .map(|e| {
                        let ci = Ci::of(&seeds.iter().map(|v| v[e]).collect::<Vec<_>>());
                        let se = (ci.hi - ci.mean) / t975(ci.n.saturating_sub(1));
                        (ci.mean - exact[e]).abs() / se
                    })
                    .fold(0.0, f64::max);
                (Ci::exact(exact[0] / exact[1]), Some(Check { ratio: mc_ratio, max_abs_z }))
            }
        };
        out.push(Cell { family, actions, n, k, ratio, check });
    }
    Ok(MapResult { cells: out })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quick_map_covers_every_cell_and_monte_carlo_agrees() {
        let mut cfg = Config::quick();
        cfg.variance_map.check_batches = 400;
        cfg.seeds = 8;
        let r = run_map(&cfg, false).unwrap();
        let m = &cfg.variance_map;
        let pairs = m.ns.iter().flat_map(|n| m.ks.iter().filter(move |k| *k < n)).count();
        assert_eq!(r.cells.len(), (1 + m.success.len()) * m.actions.len() * pairs);
        assert_eq!(r.families().len(), 1 + m.success.len());
        for c in &r.cells {
            assert!(c.ratio.mean.is_finite() && c.ratio.mean > 0.0, "{c:?}");
            match c.family {
                Family::Continuous => assert!(c.check.is_none() && c.ratio.n == cfg.seeds),
                Family::Binary { .. } => {
                    let ch = c.check.unwrap();
                    // 2 variances x 16 binary cells: |z| < 4.5 fails by chance with p < 1e-3.
                    assert!(ch.max_abs_z < 4.5, "{c:?}");
                    assert_eq!(c.ratio.n, 0);
                }
            }
        }
    }
}
