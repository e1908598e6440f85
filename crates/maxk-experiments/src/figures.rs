//! Results -> paper-style figures (maxk-plot), one PNG and one SVG each.

use std::path::Path;

use maxk_plot::{LineChart, Panels};

use crate::bandit_runs::{ErrorResult, ErrorVariant, VarianceResult};
use crate::config::Config;
use crate::error::Result;
use crate::maze_runs::MazeResult;
use crate::stats::Curve;

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
            let what =
                if v.name == "binary" { "binary rewards (pass@K)" } else { "continuous rewards (max@K)" };
            let mut c =
                chart(what, "batches averaged, M", "relative error of the gradient", true, true, &v.curves);
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
        .find(|(c, _)| c.name == "maxpo")
        .or_else(|| v.curves.iter().zip(&v.bias).find(|(_, b)| b.expected_unbiased))?
        .0;
    let (m0, e0) = (*anchor.x.first()?, anchor.ci.first()?.mean);
    let y = anchor.x.iter().map(|m| 0.3 * e0 * (m0 / m).sqrt()).collect();
    Some(maxk_plot::Series::new("∝ 1/√M", anchor.x.clone(), y))
}

/// Experiments 2 and 3: relative variance, its ratio to the reference estimator, and a zoom on
/// the Leave-Two-Out effect (raw EI and PKPO's loo-1, equal at the PG scale, against MaxPO and
/// the canonical form, whose ratio is exactly 1).
pub fn variance(r: &VarianceResult, title: &str, log_x: bool, stem: &Path) -> Result<()> {
    let x = if r.x_name == "A" { "number of actions A" } else { "K" };
    let zoom: Vec<Curve> = r
        .ratios
        .iter()
        .filter(|c| ["ei", "pkpo-loo1", "maxpo", "canonical"].contains(&c.name.as_str()))
        .cloned()
        .collect();
    let mut charts = vec![
        chart("relative variance of one batch", x, "tr Cov(g) / ||grad J_K||²", log_x, true, &r.curves),
        chart(
            &format!("variance ratio to {}", r.reference),
            x,
            &format!("relative variance / that of {}", r.reference),
            log_x,
            true,
            &r.ratios,
        ),
    ];
    if r.reference == "maxpo" && zoom.len() > 1 {
        charts.push(chart(
            "Leave-Two-Out effect (ratio > 1: MaxPO lower)",
            x,
            &format!("variance of EI / that of {}", r.reference),
            log_x,
            false,
            &zoom,
        ));
    }
    let columns = charts.len();
    Panels { title: title.to_string(), columns, charts }.save(stem)?;
    Ok(())
}

/// Experiment 4: return, P(action 1) at the traps, success rate and exact pass@K.
pub fn maze(r: &MazeResult, cfg: &Config, stem: &Path) -> Result<()> {
    let m = &cfg.maze;
    let w = m.window;
    Panels {
        title: format!(
            "Biased maze (depth {}, traps at {:?}, N = {}, K = {}; mean and 95% CI over {} seeds)",
            m.depth, m.traps, m.n, m.k, cfg.seeds
        ),
        columns: 2,
        charts: vec![
            chart(
                &format!("average return (moving average, {w})"),
                "update",
                "return",
                false,
                false,
                &r.returns,
            ),
            chart("P(action 1) at the trap depths", "update", "probability", false, false, &r.p1),
            chart(
                &format!("success rate (moving average, {w})"),
                "update",
                "episodes reaching the goal",
                false,
                false,
                &r.success,
            ),
            chart(
                &format!("exact pass@{} of the policy", r.k),
                "update",
                "1 - (1 - p_success)^K",
                false,
                false,
                &r.pass_at_k,
            ),
        ],
    }
    .save(stem)?;
    Ok(())
}
