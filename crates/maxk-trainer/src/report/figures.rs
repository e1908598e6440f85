//! The figures of a reproduction (`figures/*.png|svg`): pass@k curves (task average and per
//! benchmark), training curves, the Adam-moment variance proxy, support dynamics and the MaxPO
//! K sweep. Curves over seeds are drawn as their mean with a min–max band.

use std::path::Path;

use maxk_plot::{LineChart, Panels, Series, StackedBars};

use super::Context;
use crate::error::Result;
use crate::eval::average;
use crate::results::RunResult;
use crate::run_label::RunLabel;

/// Mean, min and max over runs of a per-run curve.
pub(super) fn spread(curves: &[Vec<f64>]) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let len = curves.iter().map(Vec::len).min().unwrap_or(0);
    let col = |j: usize| curves.iter().map(move |c| c[j]);
    let mean = (0..len).map(|j| col(j).sum::<f64>() / curves.len() as f64).collect();
    let lo = (0..len).map(|j| col(j).fold(f64::INFINITY, f64::min)).collect();
    let hi = (0..len).map(|j| col(j).fold(f64::NEG_INFINITY, f64::max)).collect();
    (mean, lo, hi)
}

/// The mean of `curves` over runs, with a min–max band when there are several.
fn series(name: impl std::fmt::Display, x: &[f64], curves: &[Vec<f64>]) -> Series {
    let (mean, lo, hi) = spread(curves);
    let s = Series::new(name.to_string(), x[..mean.len()].to_vec(), mean);
    if curves.len() > 1 { s.with_band(lo, hi) } else { s }
}

/// A pass@k chart (log k axis).
fn passk_chart(title: String, series: Vec<Series>) -> LineChart {
    LineChart { title, x_label: "k".into(), y_label: "pass@k".into(), log_x: true, log_y: false, series }
}

/// Draws every figure into `figs`.
pub(super) fn draw(cx: &Context<'_>, figs: &Path) -> Result<()> {
    passk(cx, figs)?;
    training(cx, figs)?;
    variance(cx, figs)?;
    support(cx, figs)?;
    ksweep(cx, figs)
}

/// `passk_average` and `passk_benchmarks`.
fn passk(cx: &Context<'_>, figs: &Path) -> Result<()> {
    let kx: Vec<f64> = cx.ks.iter().map(|&k| k as f64).collect();
    let curves = |pick: &dyn Fn(&RunResult) -> Vec<f64>| -> Vec<Series> {
        cx.groups
            .iter()
            .map(|(l, runs)| series(l, &kx, &runs.iter().map(|r| pick(r)).collect::<Vec<_>>()))
            .collect()
    };
    let title = format!("pass@k, task average ({} preset)", cx.results.config.preset);
    passk_chart(title, curves(&|r| average(&r.evals))).save(&figs.join("passk_average"))?;
    let charts = cx
        .tasks
        .iter()
        .enumerate()
        .map(|(t, task)| passk_chart(task.clone(), curves(&|r| r.evals[t].pass_at_k.clone())))
        .collect();
    Panels { title: "pass@k per benchmark".into(), columns: 3, charts }
        .save(&figs.join("passk_benchmarks"))?;
    Ok(())
}

/// One curve per RL label over the RL steps (labels whose runs all have the curve).
fn per_step(
    cx: &Context<'_>,
    title: &str,
    y: &str,
    log_y: bool,
    pick: &dyn Fn(&RunResult) -> Vec<f64>,
) -> LineChart {
    LineChart {
        title: title.into(),
        x_label: "RL step".into(),
        y_label: y.into(),
        log_x: false,
        log_y,
        series: cx
            .rl_groups()
            .filter(|(_, runs)| runs.iter().all(|r| !pick(r).is_empty()))
            .map(|(l, runs)| {
                let curves: Vec<Vec<f64>> = runs.iter().map(|r| pick(r)).collect();
                let len = curves.iter().map(Vec::len).min().unwrap_or(0);
                series(l, &(1..=len).map(|s| s as f64).collect::<Vec<_>>(), &curves)
            })
            .collect(),
    }
}

/// `training`: reward, pass@K and entropy per RL step (when any run logged them).
fn training(cx: &Context<'_>, figs: &Path) -> Result<()> {
    if !cx.rl_groups().any(|(_, runs)| runs.iter().any(|r| !r.curves.reward.is_empty())) {
        return Ok(());
    }
    Panels {
        title: "training curves (train-set rollouts at the rollout temperature)".into(),
        columns: 3,
        charts: vec![
            per_step(cx, "train reward (pass@1)", "mean reward", false, &|r| r.curves.reward.clone()),
            per_step(cx, "train pass@K (training K)", "pass@K", false, &|r| r.curves.pass_at_k.clone()),
            per_step(cx, "entropy per answer token", "nats", false, &|r| r.curves.entropy.clone()),
        ],
    }
    .save(&figs.join("training"))?;
    Ok(())
}

/// `variance`: the Adam-moment variance proxy per RL step (log scale).
fn variance(cx: &Context<'_>, figs: &Path) -> Result<()> {
    if !cx.rl_groups().any(|(_, runs)| runs.iter().all(|r| !r.var_proxy.is_empty())) {
        return Ok(());
    }
    let pick = |r: &RunResult| r.var_proxy.iter().map(|v| v.max(1e-30)).collect();
    let title = "Var(g) proxy: Adam v_hat - m_hat^2 (parameter mean)";
    per_step(cx, title, "Var(g) proxy", true, &pick).save(&figs.join("variance"))?;
    Ok(())
}

/// `support`: stacked problem counts per RL label.
fn support(cx: &Context<'_>, figs: &Path) -> Result<()> {
    if cx.support.is_empty() {
        return Ok(());
    }
    let names = ["preserved", "shrunk", "expanded", "out of support"];
    StackedBars {
        title: format!("support dynamics vs the base model (solved within k = {})", cx.n),
        categories: cx.support.iter().map(|r| r.label.to_string()).collect(),
        stacks: names
            .iter()
            .enumerate()
            .map(|(i, name)| (name.to_string(), cx.support.iter().map(|r| r.problems[i] as f64).collect()))
            .collect(),
        y_label: "test problems".into(),
    }
    .save(&figs.join("support"))?;
    Ok(())
}

/// `ksweep`: MaxPO's task-average pass@k at every training K, and the base model (when MaxPO
/// ran at several K).
fn ksweep(cx: &Context<'_>, figs: &Path) -> Result<()> {
    let sweep = cx.maxpo_by_k();
    if sweep.len() < 2 {
        return Ok(());
    }
    let kx: Vec<f64> = cx.ks.iter().map(|&k| k as f64).collect();
    let average_of = |runs: &[&RunResult]| runs.iter().map(|r| average(&r.evals)).collect::<Vec<_>>();
    let mut curves: Vec<Series> = sweep
        .iter()
        .map(|(_, runs)| series(format!("K = {}", runs.first().map_or(0, |r| r.k)), &kx, &average_of(runs)))
        .collect();
    curves.push(series(RunLabel::Base, &kx, &average_of(&cx.base())));
    passk_chart("MaxPO K sweep: pass@k, task average".into(), curves).save(&figs.join("ksweep"))?;
    Ok(())
}
