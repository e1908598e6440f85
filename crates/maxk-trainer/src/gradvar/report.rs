//! The gradient-variance study's report ([`write()`]): `gradvar.md`, `gradvar.csv`,
//! `prompts.csv`, `gradvar.json`, `config.toml` and `figures/gradvar.{png,svg}`.

use std::fmt::Write as _;
use std::path::Path;

use maxk_core::Estimator;
use maxk_plot::{LineChart, Series};
use maxk_study::Ci;

use super::GradVarResults;
use crate::error::{Result, TrainerError};
use crate::mechanism::{Mechanism, Shape, analyse, bandit_ratio};

/// Writes `gradvar.md`, `gradvar.csv` (one row per unit, checkpoint and estimator),
/// `prompts.csv` (one row per unit, checkpoint and prompt: success rate and every estimator's
/// trace), `gradvar.json`, `config.toml` and `figures/gradvar.{png,svg}` (the EI / MaxPO ratio
/// against the success rate over the exact bandit curves) into `out`.
pub fn write(r: &GradVarResults, command: &str, out: &Path) -> Result<()> {
    std::fs::create_dir_all(out).map_err(TrainerError::io(out))?;
    r.config.save(out)?;
    let json = serde_json::to_string_pretty(r).map_err(TrainerError::json("gradvar.json"))?;
    for (name, text) in
        [("gradvar.json", json), ("gradvar.csv", rows_csv(r)), ("prompts.csv", prompts_csv(r))]
    {
        let path = out.join(name);
        std::fs::write(&path, text).map_err(TrainerError::io(&path))?;
    }
    let mut s = String::new();
    intro(&mut s, r, command);
    // The mechanism: the EI (or PKPO s^(loo-1)) / MaxPO ratio against the success rate.
    let ei = [Estimator::PkpoLoo1, Estimator::Ei].into_iter().find(|e| r.estimators.contains(e));
    if let (Some(ei), true) = (ei, r.estimators.contains(&Estimator::Maxpo)) {
        let shapes = [Shape::Spread(1024), Shape::OneCorrect(1024)];
        let m = analyse(r, ei, Estimator::Maxpo, &shapes)?;
        mechanism_section(&mut s, &m);
        figure(&m, &out.join("figures").join("gradvar"))?;
        let _ = writeln!(s, "![variance ratio against success rate](figures/gradvar.png)\n");
    }
    units_section(&mut s, r);
    let path = out.join("gradvar.md");
    std::fs::write(&path, s).map_err(TrainerError::io(path))
}

/// `gradvar.csv`.
fn rows_csv(r: &GradVarResults) -> String {
    let mut csv = String::from(
        "study,seed,checkpoint,estimator,trace,trace_ci95,ratio_to_first,ratio_ci95,mean_grad_sq,zero_batches,reward_mean\n",
    );
    for (row, ratio) in r.rows.iter().zip(&r.ratios) {
        let _ = writeln!(
            csv,
            "{},{},{},{},{:e},{:e},{},{},{:e},{},{}",
            row.study,
            row.seed,
            row.checkpoint,
            row.estimator,
            row.trace,
            row.trace_ci,
            ratio.ratio,
            ratio.ci,
            row.mean_grad_sq,
            row.zero_batches,
            row.reward_mean
        );
    }
    csv
}

/// `prompts.csv`.
fn prompts_csv(r: &GradVarResults) -> String {
    let mut csv = format!(
        "study,seed,checkpoint,task,prompt,success,{}\n",
        r.estimators.iter().map(|e| format!("trace_{e}")).collect::<Vec<_>>().join(",")
    );
    for p in &r.prompt_rows {
        let traces: Vec<String> = p.traces.iter().map(|t| format!("{t:e}")).collect();
        let _ = writeln!(
            csv,
            "{},{},{},{},\"{}\",{},{}",
            p.study,
            p.seed,
            p.checkpoint,
            p.task,
            p.prompt,
            p.success,
            traces.join(",")
        );
    }
    csv
}

/// Title and protocol.
fn intro(s: &mut String, r: &GradVarResults, command: &str) {
    let c = &r.config;
    let _ = writeln!(s, "# Gradient variance from the same rollouts\n");
    let units: std::collections::BTreeSet<(&str, u64)> =
        r.rows.iter().map(|x| (x.study.as_str(), x.seed)).collect();
    let _ = writeln!(
        s,
        "At each checkpoint of each of {} units (study x seed), M = {} independent rollout batches of the \
         same P = {} training prompts (drawn per seed) x N = {} samples (temperature {}); every estimator's \
         policy gradient at the PG scale (`Scale::Pg`: each estimates the gradient of its own objective, \
         K = {}), unclipped, from the same rewards. Per prompt `T_p = tr Cov(sum_i A_i grad log pi(y_i))` \
         from the M/2 disjoint pairs `||g_a - g_b||^2 / 2`; the RL step's gradient `(1/P) sum_p g_p` has \
         `tr Cov = (1/P^2) sum_p T_p`. Wall time {:.1} min.\n",
        units.len(),
        r.batches,
        r.prompts,
        c.rl.group_size,
        c.rl.sampling.temperature,
        c.rl.k,
        r.seconds / 60.0
    );
    if !command.is_empty() {
        let _ = writeln!(s, "Command: `{command}`\n");
    }
}

/// `figures/gradvar`: the binned LM ratio over the exact bandit curves of every shape.
fn figure(m: &Mechanism, path: &Path) -> Result<()> {
    let bx: Vec<f64> = (1..=99).map(|i| f64::from(i) / 100.0).collect();
    let mut series = Vec::new();
    for &a in &m.bandit_shapes {
        let y = bx
            .iter()
            .map(|&p| bandit_ratio(m.numerator, m.denominator, p, a, m.n, m.k))
            .collect::<Result<Vec<_>>>()?;
        series.push(Series::new(format!("bandit (exact), {}", a.label()), bx.clone(), y));
    }
    series.push(Series::new("equal variance", vec![0.01, 0.99], vec![1.0, 1.0]));
    series.push(
        Series::new(
            "LM, binned prompts, 95% t over seeds",
            m.bins.iter().map(|b| b.success).collect(),
            m.bins.iter().map(|b| b.ratio.mean).collect(),
        )
        .with_band(m.bins.iter().map(|b| b.ratio.lo).collect(), m.bins.iter().map(|b| b.ratio.hi).collect()),
    );
    LineChart {
        title: format!(
            "tr Cov({}) / tr Cov({}) vs success rate, N = {}, K = {}",
            m.numerator, m.denominator, m.n, m.k
        ),
        x_label: "success rate of the prompt's rollouts".into(),
        y_label: "variance ratio (> 1: the L2O baseline lowers it)".into(),
        log_x: true,
        log_y: true,
        series,
    }
    .save(path)?;
    Ok(())
}

/// Every unit, checkpoint and estimator with its rollout-noise interval.
fn units_section(s: &mut String, r: &GradVarResults) {
    let _ = writeln!(s, "## Per unit and checkpoint (rollout noise only)\n");
    let _ = writeln!(
        s,
        "Intervals here cover the rollout noise at fixed prompts and weights (t over the M/2 pairs); \
         the sections above also cover the draw of prompts and seeds.\n"
    );
    let _ = writeln!(
        s,
        "| study | seed | checkpoint | estimator | tr Cov(g) ± 95% | ratio to {} ± 95% | ‖mean g‖² | zero-gradient batches | rollout reward |",
        r.ratios.first().map_or("-", |x| x.reference.id())
    );
    let _ = writeln!(s, "|---|---|---|---|---|---|---|---|---|");
    for (row, ratio) in r.rows.iter().zip(&r.ratios) {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {:.3e} ± {:.1e} | {:.3} ± {:.3} | {:.3e} | {:.2} | {:.3} |",
            row.study,
            row.seed,
            row.checkpoint,
            row.estimator,
            row.trace,
            row.trace_ci,
            ratio.ratio,
            ratio.ci,
            row.mean_grad_sq,
            row.zero_batches,
            row.reward_mean
        );
    }
}

fn ci_cell(c: Ci) -> String {
    format!("{:.3} [{:.3}, {:.3}]", c.mean, c.lo, c.hi)
}

/// The markdown of a [`Mechanism`].
fn mechanism_section(s: &mut String, m: &Mechanism) {
    let _ = writeln!(
        s,
        "## tr Cov({}) / tr Cov({}) against the success rate\n\nAbove 1: the L2O baseline lowers the \
         variance. Per unit (seed) the ratio of summed per-prompt traces in each bin; geometric mean \
         and 95% t interval over units (covers prompts and seeds). Prompts whose rollouts all failed or \
         all succeeded have no gradient and are left out. Bandit: the exact ratio for binary rewards on \
         two-class policies over A actions (success mass spread over pA actions, or one correct action) at \
         the bin's mean success rate, N = {}, K = {} (`maxk_core::exact_variance`).\n",
        m.numerator, m.denominator, m.n, m.k
    );
    let _ = write!(s, "| success rate | prompt-checkpoints | mean success | LM ratio [95% CI] | units |");
    for a in &m.bandit_shapes {
        let _ = write!(s, " bandit, {} |", a.label());
    }
    let _ = writeln!(s, "\n|---|---|---|---|---|{}", "---|".repeat(m.bandit_shapes.len()));
    for b in &m.bins {
        let _ = write!(
            s,
            "| ({}, {}] | {} | {:.3} | {} | {} |",
            b.lo,
            b.hi,
            b.prompts,
            b.success,
            ci_cell(b.ratio),
            b.ratio.n
        );
        for x in &b.bandit {
            let _ = write!(s, " {x:.3} |");
        }
        let _ = writeln!(s);
    }
    let _ = writeln!(
        s,
        "\nRegression of ln(ratio) on the success rate, per unit, over units: intercept {}, slope {} \
         ({} units); the fitted ratio crosses 1 at success rate {}.\n",
        ci_cell(m.fit.intercept),
        ci_cell(m.fit.slope),
        m.fit.slope.n,
        m.crossing.map_or("– (not in (0, 1))".to_string(), |x| format!("{x:.3}"))
    );
    let _ =
        writeln!(s, "Batch gradient of the RL step (all P prompts), per study and checkpoint, over seeds:\n");
    let _ = writeln!(
        s,
        "| study | checkpoint | rollout success [95% CI] | ratio [95% CI] | seeds |\n|---|---|---|---|---|"
    );
    for c in &m.checkpoints {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} |",
            c.study,
            c.checkpoint,
            ci_cell(c.success),
            ci_cell(c.ratio),
            c.ratio.n
        );
    }
    let _ = writeln!(s);
}
