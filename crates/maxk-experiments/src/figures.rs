//! Results -> paper-style figures (maxk-plot), one PNG and one SVG each.

use std::path::Path;

use maxk_core::{Estimator, Scale};
use maxk_plot::{HeatMap, HeatMaps, LineChart, Panels, Series};

use crate::bandit_runs::{ErrorResult, ErrorVariant, Role, VarianceResult};
use crate::claims::sig;
use crate::config::Config;
use crate::error::Result;
use crate::maze_runs::MazeResult;
use crate::stats::{Ci, Curve};
use crate::variance_map::{Family, MapResult};

fn chart(title: &str, x: &str, y: &str, log_x: bool, log_y: bool, curves: &[Curve]) -> LineChart {
    LineChart {
        title: title.to_string(),
        x_label: x.to_string(),
        y_label: y.to_string(),
        log_x,
        log_y,
        series: curves.iter().map(Curve::series).collect(),
    }
}

/// Experiment 1: relative error vs M, continuous and binary rewards side by side.
pub fn error(r: &ErrorResult, cfg: &Config, stem: &Path) -> Result<()> {
    let c = &cfg.bandit_error;
    let charts = r
        .variants
        .iter()
        .map(|v| {
            let what = if v.name == "binary" {
                format!("binary rewards, {:.1}% of actions correct (pass@K)", 100.0 * c.binary_fraction)
            } else {
                "continuous U(0,1) rewards (max@K)".to_string()
            };
            let mut c =
                chart(&what, "batches averaged, M", "relative error of the gradient", true, true, &v.curves);
            c.series.extend(sqrt_reference(v));
            c
        })
        .collect();
    Panels {
        title: format!(
            "Gradient estimation error vs batches (A = {}, N = {}, K = {}; mean and 95% CI over {} seeds)",
            c.actions, c.n, c.k, cfg.seeds
        ),
        columns: 2,
        charts,
    }
    .save(stem)?;
    Ok(())
}

/// The `1/sqrt(M)` law of an unbiased estimator, for the eye: anchored at 0.3 times maxpo's
/// (else the first unbiased estimator's) error at M = 1, so that it runs parallel to the
/// unbiased curves without hiding them.
fn sqrt_reference(v: &ErrorVariant) -> Option<maxk_plot::Series> {
    let anchor = v
        .curves
        .iter()
        .zip(&v.bias)
        .find(|(_, b)| b.estimator == Estimator::Maxpo && b.scale == Scale::Pg)
        .or_else(|| v.curves.iter().zip(&v.bias).find(|(_, b)| b.role == Role::Unbiased))?
        .0;
    let (m0, e0) = (*anchor.x.first()?, anchor.ci.first()?.mean);
    let y = anchor.x.iter().map(|m| 0.3 * e0 * (m0 / m).sqrt()).collect();
    Some(maxk_plot::Series::new("∝ 1/√M", anchor.x.clone(), y))
}

/// A horizontal reference line at `y` over `x`.
fn level(name: &str, x: &[f64], y: f64) -> Series {
    Series::new(name, x.to_vec(), vec![y; x.len()])
}

/// Keeps the points of `c` whose x passes `keep`.
fn filter_x(c: &Curve, keep: impl Fn(f64) -> bool) -> Curve {
    let idx: Vec<usize> = (0..c.x.len()).filter(|&i| keep(c.x[i])).collect();
    Curve {
        name: c.name.clone(),
        x: idx.iter().map(|&i| c.x[i]).collect(),
        ci: idx.iter().map(|&i| c.ci[i]).collect(),
    }
}

/// Experiments 2 and 3: continuous relative variance of every estimator; the Leave-Two-Out
/// effect Var(EI) / Var(MaxPO) for both reward families on a linear axis around 1 (from K = 2:
/// at K = 1 EI is the raw reward); and the exact binary relative variance at the sparsest
/// success fraction of at least 3% (or the sparsest one).
pub fn variance(r: &VarianceResult, title: &str, log_x: bool, stem: &Path) -> Result<()> {
    let x = if r.x_name == "A" { "number of actions A" } else { "K" };
    let keep = |v: f64| r.x_name != "K" || v >= 2.0;
    let mut charts = vec![chart(
        "continuous U(0,1) rewards: relative variance",
        x,
        "tr Cov(g) / ||grad J_K||²",
        log_x,
        true,
        &r.curves,
    )];
    if let (Some(i), true) = (r.ei_index(), r.reference == Estimator::Maxpo) {
        let mut series =
            vec![Curve { name: "continuous (95% CI)".into(), ..filter_x(&r.ratios[i], keep) }.series()];
        for b in &r.binary {
            let c = filter_x(&b.ratios[i], keep);
            series.push(Series::new(
                format!("binary p = {} (exact)", b.p),
                c.x,
                c.ci.iter().map(|c| c.mean).collect(),
            ));
        }
        let xs: Vec<f64> = r.ratios[i].x.iter().copied().filter(|v| keep(*v)).collect();
        series.push(level(maxk_plot::REFERENCE_LINE, &xs, 1.0));
        charts.push(LineChart {
            title: "Leave-Two-Out effect: Var(EI) / Var(MaxPO), > 1: MaxPO lower".into(),
            x_label: x.into(),
            y_label: "variance of EI / variance of MaxPO".into(),
            log_x,
            log_y: false,
            series,
        });
    }
    let sparse = r
        .binary
        .iter()
        .filter(|b| b.p >= 0.03)
        .min_by(|a, b| a.p.total_cmp(&b.p))
        .or_else(|| r.binary.iter().min_by(|a, b| a.p.total_cmp(&b.p)));
    if let Some(b) = sparse {
        charts.push(chart(
            &format!("binary rewards, p = {} (exact): relative variance", b.p),
            x,
            "tr Cov(g) / ||grad J_K||²",
            log_x,
            true,
            &b.curves,
        ));
    }
    let columns = charts.len();
    Panels { title: title.to_string(), columns, charts }.save(stem)?;
    Ok(())
}

/// Experiment 4: one heat map per A; rows are reward families, columns (N, K); colour is
/// log2 of Var(EI) / Var(MaxPO) (blue: the L2O baseline lowers the variance).
pub fn variance_map(r: &MapResult, cfg: &Config, stem: &Path) -> Result<()> {
    let m = &cfg.variance_map;
    let families = r.families();
    let columns: Vec<(usize, usize)> = m.ns.iter().flat_map(|&n| m.ks.iter().map(move |&k| (n, k))).collect();
    let label = |c: &Ci| {
        let v = sig(c.mean);
        if c.n > 0 && !c.above(1.0) && !c.below(1.0) { format!("{v} (ns)") } else { v }
    };
    let panels = m
        .actions
        .iter()
        .map(|&a| {
            let find = |f: Family, n: usize, k: usize| {
                r.cells
                    .iter()
                    .find(|c| c.family == f && c.actions == a && c.n == n && c.k == k)
                    .map(|c| c.ratio)
            };
            let grid: Vec<Vec<Option<Ci>>> =
                families.iter().map(|&f| columns.iter().map(|&(n, k)| find(f, n, k)).collect()).collect();
            HeatMap {
                title: format!("A = {a} actions"),
                rows: families.iter().map(Family::label).collect(),
                columns: columns.iter().map(|(n, k)| format!("N={n} K={k}")).collect(),
                values: grid
                    .iter()
                    .map(|row| row.iter().map(|c| c.map_or(f64::NAN, |c| c.mean.log2())).collect())
                    .collect(),
                labels: grid
                    .iter()
                    .map(|row| row.iter().map(|c| c.map_or(String::new(), |c| label(&c))).collect())
                    .collect(),
            }
        })
        .collect();
    HeatMaps {
        title: format!(
            "Var(EI) / Var(MaxPO) at the PG scale (continuous: geometric mean over {} seeds, (ns) = 95% CI contains 1; binary: exact)",
            cfg.seeds
        ),
        centre: 0.0,
        span: 1.0,
        low_label: "< 1: the L2O baseline raises the variance".into(),
        high_label: "> 1: it lowers the variance".into(),
        panels,
    }
    .save(stem)?;
    Ok(())
}

/// Experiment 5: per maze variant (row), the lr curves (evaluation seeds), and at each
/// estimator's selected lr the exact pass@K and P(action 1) at the traps over training.
pub fn maze(r: &MazeResult, cfg: &Config, stem: &Path) -> Result<()> {
    let m = &cfg.maze;
    let mut charts = Vec::new();
    for v in &r.variants {
        let what = v.label();
        let lr_curves: Vec<Curve> = v
            .estimators
            .iter()
            .map(|e| Curve {
                name: e.estimator.to_string(),
                x: e.lr_curve.iter().map(|p| p.lr).collect(),
                ci: e.lr_curve.iter().map(|p| p.eval).collect(),
            })
            .collect();
        charts.push(chart(
            &format!("{what}: mean pass@{} over training vs lr", r.k),
            "learning rate",
            &format!("mean exact pass@{}", r.k),
            true,
            false,
            &lr_curves,
        ));
        let pass: Vec<Curve> = v.estimators.iter().map(|e| e.curves.pass_at_k.clone()).collect();
        charts.push(chart(
            &format!("{what}: exact pass@{}, selected lr", r.k),
            "update",
            "1 - (1 - p_success)^K",
            false,
            false,
            &pass,
        ));
        let p1: Vec<Curve> = v.estimators.iter().map(|e| e.curves.p1.clone()).collect();
        charts.push(chart(
            &format!("{what}: P(action 1) at the traps, selected lr"),
            "update",
            "mean P(action 1) at the traps (correct: 0)",
            false,
            false,
            &p1,
        ));
    }
    Panels {
        title: format!(
            "Biased maze (depth {}, traps at {:?}, N = {}, K = {}; mean and 95% CI over {} evaluation seeds; lr selected on {} other seeds)",
            m.depth, m.traps, m.n, m.k, cfg.seeds, m.tune_seeds
        ),
        columns: 3,
        charts,
    }
    .save(stem)?;
    Ok(())
}
