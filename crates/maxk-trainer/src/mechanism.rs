//! Where the Leave-Two-Out baseline lowers a language model's gradient variance: the ratio
//! `tr Cov(g_EI) / tr Cov(g_MaxPO)` of the per-prompt traces of [`crate::gradvar`] as a
//! function of the prompt's measured success rate, beside the exact prediction of the
//! binary-reward bandit at the same N and K ([`maxk_core::exact_variance`]).
//!
//! At the PG scale MaxPO is EI minus the L2O baseline (`pkpo-loo1` = EI there), so a ratio
//! above 1 means the baseline lowers the variance.
//!
//! - **Bins.** Prompts are binned by success rate (`(lo, hi]`, [`BIN_EDGES`]; prompts that
//!   never or always succeed have no gradient and are left out). Within a unit (a seed of a
//!   study, with all its checkpoints) the bin's ratio is `sum_p T_p(EI) / sum_p T_p(MaxPO)`;
//!   the reported value is the geometric mean over units with its t interval
//!   ([`Ci::geometric`], `t_{units-1}`), so that it covers the draw of the prompts and the
//!   training seed, not only the rollout noise.
//! - **Regression.** `ln(T_p(EI) / T_p(MaxPO))` on the success rate, fitted by least squares
//!   within each unit and summarised over units ([`ClusteredFit`]).
//! - **Bandit.** The exact `tr Cov` ratio of the same two estimators for binary rewards
//!   ([`moments`]) at the bin's mean success rate, for two policy shapes over A actions
//!   ([`Shape`]): the success mass spread over `round(p A)` correct actions, or one correct
//!   action (a unique answer, as in `mod`).

use maxk_core::exact_variance::{TwoClass, moments};
use maxk_core::{Estimator, Scale, Spec};
use maxk_study::stats::{Ci, ClusteredFit};
use serde::Serialize;

use crate::error::{Result, TrainerError};
use crate::gradvar::{GradVarResults, PromptRow};

/// Success-rate bin edges: bins `(0, 0.05]`, `(0.05, 0.1]`, ... `(0.6, 1)`.
pub const BIN_EDGES: [f64; 8] = [0.0, 0.05, 0.1, 0.2, 0.3, 0.4, 0.6, 1.0];

/// One success-rate bin.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Bin {
    /// Lower edge (exclusive).
    pub lo: f64,
    /// Upper edge (inclusive; 1 exclusive).
    pub hi: f64,
    /// Prompt-checkpoint rows in the bin, over all units.
    pub prompts: usize,
    /// Mean success rate of those rows.
    pub success: f64,
    /// Ratio of summed traces per unit: geometric mean and t interval over units.
    pub ratio: Ci,
    /// The exact bandit ratio at `success`, one per [`Mechanism::bandit_shapes`].
    pub bandit: Vec<f64>,
}

/// The batch-gradient ratio at one checkpoint of one study, over its seeds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckpointRatio {
    /// Study label.
    pub study: String,
    /// Checkpoint label.
    pub checkpoint: String,
    /// Rollout success rate: mean and t interval over seeds.
    pub success: Ci,
    /// `tr Cov(g)` ratio of the batch gradient: geometric mean and t interval over seeds.
    pub ratio: Ci,
}

/// The analysis of [`crate::gradvar`] results for one pair of estimators.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Mechanism {
    /// Numerator estimator (EI or `pkpo-loo1`).
    pub numerator: Estimator,
    /// Denominator estimator (MaxPO).
    pub denominator: Estimator,
    /// Bins with at least one row.
    pub bins: Vec<Bin>,
    /// `ln ratio` on success rate, per unit, summarised over units.
    pub fit: ClusteredFit,
    /// The success rate where the fitted line crosses ratio 1 (None outside (0, 1)).
    pub crossing: Option<f64>,
    /// Per study and checkpoint.
    pub checkpoints: Vec<CheckpointRatio>,
    /// The policy shapes of the bandit predictions.
    pub bandit_shapes: Vec<Shape>,
    /// Group size N and K of the predictions.
    pub n: usize,
    /// K.
    pub k: usize,
}

/// The shape of the binary bandit's policy at success fraction p.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Shape {
    /// A actions, the success mass p spread evenly over `round(p A)` correct ones
    /// ([`TwoClass::uniform`]).
    Spread(usize),
    /// A actions, one of them correct (probability p), the rest equally likely:
    /// `||pi+||^2 = 1`, `||pi-||^2 = 1/(A-1)`.
    OneCorrect(usize),
}

impl Shape {
    /// The two-class policy at success fraction `p`.
    pub fn policy(self, p: f64) -> TwoClass {
        match self {
            Shape::Spread(a) => TwoClass::uniform(a, p),
            Shape::OneCorrect(a) => TwoClass { p, s_pos: 1.0, s_neg: 1.0 / (a.max(2) - 1) as f64 },
        }
    }

    /// Legend label.
    pub fn label(self) -> String {
        match self {
            Shape::Spread(a) => format!("A = {a}, pA correct actions"),
            Shape::OneCorrect(a) => format!("A = {a}, one correct action"),
        }
    }
}

/// `tr Cov` ratio `numerator / denominator` of the exact binary bandit of `shape` at success
/// fraction `p` in (0, 1), group size `n` and `k`.
pub fn bandit_ratio(
    numerator: Estimator,
    denominator: Estimator,
    p: f64,
    shape: Shape,
    n: usize,
    k: usize,
) -> Result<f64> {
    let policy = shape.policy(p);
    let trace = |e: Estimator| -> Result<f64> {
        let m = moments(&policy, Spec::new(e, k).with_scale(Scale::Pg), n)?;
        m.map(|m| m.trace_cov).ok_or(TrainerError::NoExactVariance { estimator: e })
    };
    Ok(trace(numerator)? / trace(denominator)?)
}

fn index(r: &GradVarResults, id: Estimator) -> Result<usize> {
    r.estimators.iter().position(|&e| e == id).ok_or_else(|| TrainerError::NotMeasured {
        estimator: id,
        measured: r.estimators.iter().map(|e| e.id()).collect::<Vec<_>>().join(", "),
    })
}

/// The units (study, seed) in first-seen order.
fn units(rows: &[PromptRow]) -> Vec<(String, u64)> {
    let mut out: Vec<(String, u64)> = Vec::new();
    for row in rows {
        if !out.iter().any(|(s, seed)| *s == row.study && *seed == row.seed) {
            out.push((row.study.clone(), row.seed));
        }
    }
    out
}

/// Analyses `r` for `numerator / denominator` with bandit predictions for each of `shapes`.
pub fn analyse(
    r: &GradVarResults,
    numerator: Estimator,
    denominator: Estimator,
    shapes: &[Shape],
) -> Result<Mechanism> {
    let (i, j) = (index(r, numerator)?, index(r, denominator)?);
    let (n, k) = (r.config.rl.group_size, r.config.rl.k);
    let with_signal: Vec<&PromptRow> = r
        .prompt_rows
        .iter()
        .filter(|p| p.success > 0.0 && p.success < 1.0 && p.traces[i] > 0.0 && p.traces[j] > 0.0)
        .collect();
    let unit_ids = units(&r.prompt_rows);
    let mut bins = Vec::new();
    for w in BIN_EDGES.windows(2) {
        let (lo, hi) = (w[0], w[1]);
        let in_bin: Vec<&&PromptRow> =
            with_signal.iter().filter(|p| p.success > lo && p.success <= hi).collect();
        if in_bin.is_empty() {
            continue;
        }
        let per_unit: Vec<f64> = unit_ids
            .iter()
            .filter_map(|(study, seed)| {
                let rows: Vec<&&&PromptRow> =
                    in_bin.iter().filter(|p| p.study == *study && p.seed == *seed).collect();
                let (a, b) = rows.iter().fold((0.0, 0.0), |(a, b), p| (a + p.traces[i], b + p.traces[j]));
                (!rows.is_empty()).then(|| a / b)
            })
            .collect();
        let success = in_bin.iter().map(|p| p.success).sum::<f64>() / in_bin.len() as f64;
        let bandit = shapes
            .iter()
            .map(|&a| bandit_ratio(numerator, denominator, success, a, n, k))
            .collect::<Result<_>>()?;
        bins.push(Bin { lo, hi, prompts: in_bin.len(), success, ratio: Ci::geometric(&per_unit), bandit });
    }
    let clusters: Vec<(Vec<f64>, Vec<f64>)> = unit_ids
        .iter()
        .map(|(study, seed)| {
            let rows = with_signal.iter().filter(|p| p.study == *study && p.seed == *seed);
            rows.map(|p| (p.success, (p.traces[i] / p.traces[j]).ln())).unzip()
        })
        .collect();
    let fit = ClusteredFit::fit(&clusters);
    let crossing = Some(-fit.intercept.mean / fit.slope.mean).filter(|x| *x > 0.0 && *x < 1.0);
    let mut checkpoints = Vec::new();
    let mut keys: Vec<(String, String)> = Vec::new();
    for row in &r.rows {
        let key = (row.study.clone(), row.checkpoint.clone());
        if !keys.contains(&key) {
            keys.push(key);
        }
    }
    for (study, checkpoint) in keys {
        let rows: Vec<_> = r.rows.iter().filter(|x| x.study == study && x.checkpoint == checkpoint).collect();
        let trace = |id: Estimator, seed: u64| {
            rows.iter().find(|x| x.estimator == id && x.seed == seed).map_or(f64::NAN, |x| x.trace)
        };
        let mut seeds: Vec<u64> = rows.iter().map(|x| x.seed).collect();
        seeds.dedup();
        let ratios: Vec<f64> = seeds.iter().map(|&s| trace(numerator, s) / trace(denominator, s)).collect();
        let success: Vec<f64> =
            seeds.iter().filter_map(|&s| rows.iter().find(|x| x.seed == s).map(|x| x.reward_mean)).collect();
        checkpoints.push(CheckpointRatio {
            study,
            checkpoint,
            success: Ci::of(&success),
            ratio: Ci::geometric(&ratios),
        });
    }
    Ok(Mechanism {
        numerator,
        denominator,
        bins,
        fit,
        crossing,
        checkpoints,
        bandit_shapes: shapes.to_vec(),
        n,
        k,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::LmConfig;
    use crate::gradvar::GradVarRow;

    fn prompt(study: &str, seed: u64, success: f64, ei: f64, maxpo: f64) -> PromptRow {
        PromptRow {
            study: study.into(),
            seed,
            checkpoint: "base".into(),
            task: "mod".into(),
            prompt: String::new(),
            success,
            traces: vec![maxpo, ei],
        }
    }

    fn row(seed: u64, estimator: Estimator, trace: f64) -> GradVarRow {
        GradVarRow {
            study: "s".into(),
            seed,
            checkpoint: "base".into(),
            estimator,
            trace,
            trace_ci: 0.0,
            mean_grad_sq: 0.0,
            zero_batches: 0.0,
            reward_mean: 0.1 * (seed + 1) as f64,
        }
    }

    #[test]
    fn bins_regression_and_checkpoints_match_hand_computations() {
        let mut cfg = LmConfig::preset("tiny").unwrap();
        cfg.rl.group_size = 8;
        cfg.rl.k = 4;
        let r = GradVarResults {
            config: cfg,
            estimators: vec![Estimator::Maxpo, Estimator::PkpoLoo1],
            batches: 4,
            prompts: 3,
            rows: vec![
                row(0, Estimator::Maxpo, 2.0),
                row(0, Estimator::PkpoLoo1, 1.0),
                row(1, Estimator::Maxpo, 2.0),
                row(1, Estimator::PkpoLoo1, 4.0),
            ],
            ratios: Vec::new(),
            prompt_rows: vec![
                // Seed 0, bin (0, 0.05]: (1 + 3) / (2 + 2) = 1; bin (0.3, 0.4]: 4 / 1 = 4.
                prompt("s", 0, 0.03, 1.0, 2.0),
                prompt("s", 0, 0.04, 3.0, 2.0),
                prompt("s", 0, 0.35, 4.0, 1.0),
                // Seed 1, bin (0, 0.05]: 1 / 4; bin (0.3, 0.4]: 16 / 1.
                prompt("s", 1, 0.02, 1.0, 4.0),
                prompt("s", 1, 0.4, 16.0, 1.0),
                // No signal: left out.
                prompt("s", 1, 0.0, 0.0, 0.0),
                prompt("s", 1, 1.0, 0.0, 0.0),
            ],
            seconds: 0.0,
        };
        let m = analyse(&r, Estimator::PkpoLoo1, Estimator::Maxpo, &[Shape::Spread(8)]).unwrap();
        assert_eq!(m.bins.len(), 2);
        let (low, high) = (&m.bins[0], &m.bins[1]);
        assert_eq!((low.prompts, high.prompts), (3, 2));
        assert!((low.success - 0.03).abs() < 1e-12 && (high.success - 0.375).abs() < 1e-12);
        // Geometric means: sqrt(1 * 1/4) = 1/2, sqrt(4 * 16) = 8.
        assert!((low.ratio.mean - 0.5).abs() < 1e-12 && low.ratio.n == 2);
        assert!((high.ratio.mean - 8.0).abs() < 1e-12);
        // The bandit column is the exact ratio at the bin's mean success.
        let want =
            bandit_ratio(Estimator::PkpoLoo1, Estimator::Maxpo, 0.375, Shape::Spread(8), 8, 4).unwrap();
        assert_eq!(high.bandit, vec![want]);
        // Seed 1: points (0.02, ln 1/4), (0.4, ln 16): slope ln 64 / 0.38.
        let slope1 = (64f64).ln() / 0.38;
        assert_eq!(m.fit.slope.n, 2);
        // Seed 0: x = 0.03, 0.04, 0.35; y = ln 1/2, ln 3/2, ln 4.
        let (_, slope0) =
            maxk_study::stats::ols(&[0.03, 0.04, 0.35], &[0.5f64.ln(), 1.5f64.ln(), 4f64.ln()]).unwrap();
        assert!((m.fit.slope.mean - (slope0 + slope1) / 2.0).abs() < 1e-9);
        // Batch-gradient ratios: seed 0 1/2, seed 1 2: geometric mean 1; success 0.1, 0.2.
        assert_eq!(m.checkpoints.len(), 1);
        assert!((m.checkpoints[0].ratio.mean - 1.0).abs() < 1e-12);
        assert!((m.checkpoints[0].success.mean - 0.15).abs() < 1e-12);
        assert!(analyse(&r, Estimator::Grpo, Estimator::Maxpo, &[Shape::Spread(8)]).is_err());
    }

    #[test]
    fn bandit_prediction_crosses_one_between_sparse_and_moderate_success() {
        // The variance map's finding at N = 16, K = 8 and many actions: the L2O baseline
        // raises the variance at p = 0.04 (ratio < 1) and lowers it at p = 0.3 (ratio > 1).
        let r =
            |p| bandit_ratio(Estimator::PkpoLoo1, Estimator::Maxpo, p, Shape::Spread(1024), 16, 8).unwrap();
        assert!(r(0.04) < 1.0 && r(0.3) > 1.0, "{} {}", r(0.04), r(0.3));
        // EI and PKPO s^(loo-1) coincide at the PG scale.
        let ei = bandit_ratio(Estimator::Ei, Estimator::Maxpo, 0.3, Shape::Spread(1024), 16, 8).unwrap();
        assert!((ei - r(0.3)).abs() < 1e-9 * ei);
        // One correct action: the same policy as the spread shape when p A rounds to 1.
        let one = Shape::OneCorrect(1024).policy(0.001);
        assert_eq!(one, TwoClass { p: 0.001, ..TwoClass::uniform(1024, 0.001) });
        assert!((Shape::OneCorrect(1024).policy(0.3).s_neg - 1.0 / 1023.0).abs() < 1e-15);
    }
}
