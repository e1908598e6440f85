//! `report.md`, `passk.csv`, `results.json` and the figures of a reproduction.
//!
//! Verdicts compare two models on the same held-out problems, paired by seed and problem:
//! `d[s][j] = pass@k_a(s, j) - pass@k_b(s, j)`, with an interval at the seed level and the
//! problems clustered ([`clustered`]); a claim holds when the interval lies above 0, fails
//! when it lies below, and is inconclusive otherwise. Also the gradient-variance study's
//! report ([`write_gradvar`]).

use std::fmt::Write as _;
use std::path::Path;

use maxk_core::Estimator;
use maxk_experiments::stats::{bonferroni, holm, t_two_sided_p, t975};
use maxk_plot::{LineChart, Panels, Series, StackedBars};

use crate::config::Correction;
use crate::error::{Result, TrainerError};
use crate::eval::{average, per_problem};
use crate::gradvar::GradVarResults;
use crate::results::{Results, RunResult};
use crate::run_label::RunLabel;

/// Writes `passk.csv` (columns `estimator,seed,benchmark,k,pass_at_k`; benchmark `average` is
/// the task average).
pub fn write_passk_csv(runs: &[&RunResult], path: &Path) -> Result<()> {
    let mut s = String::from("estimator,seed,benchmark,k,pass_at_k\n");
    for run in runs {
        for e in &run.evals {
            for (k, p) in e.ks.iter().zip(&e.pass_at_k) {
                let _ = writeln!(s, "{},{},{},{},{:.6}", run.label, run.seed, e.task, k, p);
            }
        }
        if let Some(first) = run.evals.first() {
            for (k, p) in first.ks.iter().zip(average(&run.evals)) {
                let _ = writeln!(s, "{},{},average,{},{:.6}", run.label, run.seed, k, p);
            }
        }
    }
    std::fs::write(path, s).map_err(TrainerError::io(path))
}

/// Runs grouped by label, in first-seen order (base first).
fn by_label(results: &Results) -> Vec<(RunLabel, Vec<&RunResult>)> {
    let mut out: Vec<(RunLabel, Vec<&RunResult>)> = Vec::new();
    for run in results.base.iter().chain(&results.runs) {
        match out.iter_mut().find(|(l, _)| *l == run.label) {
            Some((_, v)) => v.push(run),
            None => out.push((run.label, vec![run])),
        }
    }
    out
}

/// Mean, min and max over runs of a per-run curve.
fn spread(curves: &[Vec<f64>]) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let len = curves.iter().map(Vec::len).min().unwrap_or(0);
    let col = |j: usize| curves.iter().map(move |c| c[j]);
    let mean = (0..len).map(|j| col(j).sum::<f64>() / curves.len() as f64).collect();
    let lo = (0..len).map(|j| col(j).fold(f64::INFINITY, f64::min)).collect();
    let hi = (0..len).map(|j| col(j).fold(f64::NEG_INFINITY, f64::max)).collect();
    (mean, lo, hi)
}

fn series(name: impl std::fmt::Display, x: Vec<f64>, curves: &[Vec<f64>]) -> Series {
    let (mean, lo, hi) = spread(curves);
    let s = Series::new(name.to_string(), x[..mean.len()].to_vec(), mean);
    if curves.len() > 1 { s.with_band(lo, hi) } else { s }
}

/// Support dynamics (Wu et al. 2025, "The Invisible Leash"): a test problem is solved within
/// k = n when at least one of its n samples is correct. Relative to the base model:
/// preserved (solved before and after), shrunk (before only), expanded (after only), out of
/// support (neither). Counts summed over tasks.
pub fn support(base: &RunResult, run: &RunResult) -> [usize; 4] {
    let mut c = [0usize; 4];
    for (b, r) in base.evals.iter().zip(&run.evals) {
        for (&cb, &cr) in b.correct.iter().zip(&r.correct) {
            let i = match (cb > 0, cr > 0) {
                (true, true) => 0,
                (true, false) => 1,
                (false, true) => 2,
                (false, false) => 3,
            };
            c[i] += 1;
        }
    }
    c
}

/// Solution-level support (Wu et al. 2025 count distinct correct solutions, not only
/// problems): over all test problems, `[preserved, shrunk, expanded]` distinct correct
/// completions, i.e. found by both models, by the base model only, by the RL model only.
pub fn solution_support(base: &RunResult, run: &RunResult) -> [usize; 3] {
    let mut c = [0usize; 3];
    for (b, r) in base.evals.iter().zip(&run.evals) {
        for (sb, sr) in b.solutions.iter().zip(&r.solutions) {
            let both = sb.iter().filter(|x| sr.binary_search(x).is_ok()).count();
            c[0] += both;
            c[1] += sb.len() - both;
            c[2] += sr.len() - both;
        }
    }
    c
}

/// Which evaluation of a run: the evaluation protocol or the rollout sampling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Protocol {
    Eval,
    Rollout,
}

impl Protocol {
    fn of(self, run: &RunResult) -> &[crate::eval::TaskEval] {
        match self {
            Protocol::Eval => &run.evals,
            Protocol::Rollout => &run.evals_rollout,
        }
    }
}

/// Per-problem pass@k of `run` at `k` (clamped to n) under `protocol`, all tasks concatenated.
fn problem_curve(run: &RunResult, k: usize, protocol: Protocol) -> Result<Vec<f64>> {
    let mut out = Vec::new();
    for e in protocol.of(run) {
        out.extend(per_problem(&e.correct, e.n, k.min(e.n))?);
    }
    Ok(out)
}

/// A difference with its interval at the seed level, problems clustered.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Interval {
    /// Mean over seeds and problems.
    pub mean: f64,
    /// Half-width of the 95% interval.
    pub half: f64,
    /// Seeds that entered.
    pub seeds: usize,
}

fn sample_var(x: &[f64]) -> f64 {
    let n = x.len() as f64;
    let m = x.iter().sum::<f64>() / n;
    x.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (n - 1.0).max(1.0)
}

impl Interval {
    /// Two-sided p-value of "mean = 0": `t = mean / SE` with `SE = half / t_(S-1)` and S - 1
    /// degrees of freedom ([`clustered`]; NaN with one seed, where the interval is normal).
    pub fn p_value(&self) -> f64 {
        if self.seeds < 2 || !self.half.is_finite() {
            return f64::NAN;
        }
        let df = self.seeds - 1;
        let se = self.half / t975(df);
        if se == 0.0 {
            return if self.mean == 0.0 { 1.0 } else { 0.0 };
        }
        t_two_sided_p(self.mean / se, df)
    }
}

/// Interval of the mean of a `[seeds][problems]` matrix of differences with both the seeds
/// (training randomness) and the problems (test-set sampling) treated as random: crossed
/// random effects, `SE^2 = Var_seeds(row means)/S + Var_problems(column means)/J`, half-width
/// `t_{S-1} SE` (Student's t at the seed level, the coarser of the two samples); with one
/// seed only the problem term and 1.96 remain.
pub fn clustered(d: &[Vec<f64>]) -> Interval {
    let s = d.len();
    let j = d.iter().map(Vec::len).min().unwrap_or(0);
    if s == 0 || j == 0 {
        return Interval { mean: f64::NAN, half: f64::NAN, seeds: s };
    }
    let rows: Vec<f64> = d.iter().map(|r| r[..j].iter().sum::<f64>() / j as f64).collect();
    let cols: Vec<f64> = (0..j).map(|c| d.iter().map(|r| r[c]).sum::<f64>() / s as f64).collect();
    let mean = rows.iter().sum::<f64>() / s as f64;
    let prob = sample_var(&cols) / j as f64;
    let half =
        if s > 1 { t975(s - 1) * (sample_var(&rows) / s as f64 + prob).sqrt() } else { 1.96 * prob.sqrt() };
    Interval { mean, half, seeds: s }
}

/// Differences `a - b` at `k`, per matched seed (rows) and problem (columns).
fn diffs(a: &[&RunResult], b: &[&RunResult], k: usize) -> Result<Vec<Vec<f64>>> {
    diffs_at(a, b, k, Protocol::Eval)
}

/// [`diffs`] under `protocol`.
fn diffs_at(a: &[&RunResult], b: &[&RunResult], k: usize, protocol: Protocol) -> Result<Vec<Vec<f64>>> {
    let mut d = Vec::new();
    for x in a {
        if let Some(y) = b.iter().find(|y| y.seed == x.seed) {
            let (px, py) = (problem_curve(x, k, protocol)?, problem_curve(y, k, protocol)?);
            d.push(px.iter().zip(&py).map(|(u, v)| u - v).collect());
        }
    }
    Ok(d)
}

fn verdict(i: Interval) -> &'static str {
    if !i.half.is_finite() {
        "inconclusive"
    } else if i.mean - i.half > 0.0 {
        "holds"
    } else if i.mean + i.half < 0.0 {
        "does not hold"
    } else {
        "inconclusive"
    }
}

/// The k an estimator optimises: pass@1 for the mean-reward estimators, pass@K otherwise.
fn objective_k(run: &RunResult) -> usize {
    crate::tune::objective_k(run.estimator, run.k)
}

/// Writes everything into `out`.
pub fn write(results: &Results, out: &Path) -> Result<()> {
    let json = serde_json::to_string_pretty(results).map_err(|e| TrainerError::Config(e.to_string()))?;
    let path = out.join("results.json");
    std::fs::write(&path, json).map_err(TrainerError::io(&path))?;
    let all: Vec<&RunResult> = results.base.iter().chain(&results.runs).collect();
    write_passk_csv(&all, &out.join("passk.csv"))?;
    let figs = out.join("figures");
    let groups = by_label(results);
    let ks: Vec<usize> =
        results.base.first().and_then(|b| b.evals.first()).map(|e| e.ks.clone()).unwrap_or_default();
    let kx: Vec<f64> = ks.iter().map(|&k| k as f64).collect();
    let n = ks.last().copied().unwrap_or(1);

    let avg_series = groups
        .iter()
        .map(|(l, runs)| series(l, kx.clone(), &runs.iter().map(|r| average(&r.evals)).collect::<Vec<_>>()))
        .collect();
    LineChart {
        title: format!("pass@k, task average ({} preset)", results.config.preset),
        x_label: "k".into(),
        y_label: "pass@k".into(),
        log_x: true,
        log_y: false,
        series: avg_series,
    }
    .save(&figs.join("passk_average"))?;
    let tasks: Vec<String> =
        results.base.first().map(|b| b.evals.iter().map(|e| e.task.clone()).collect()).unwrap_or_default();
    let charts = tasks
        .iter()
        .enumerate()
        .map(|(t, task)| LineChart {
            title: task.clone(),
            x_label: "k".into(),
            y_label: "pass@k".into(),
            log_x: true,
            log_y: false,
            series: groups
                .iter()
                .map(|(l, runs)| {
                    series(
                        l,
                        kx.clone(),
                        &runs.iter().map(|r| r.evals[t].pass_at_k.clone()).collect::<Vec<_>>(),
                    )
                })
                .collect(),
        })
        .collect();
    Panels { title: "pass@k per benchmark".into(), columns: 3, charts }
        .save(&figs.join("passk_benchmarks"))?;
    let rl_groups: Vec<_> = groups.iter().filter(|(l, _)| !l.is_base()).collect();
    let curve_chart = |title: &str, y: &str, pick: &dyn Fn(&RunResult) -> Vec<f64>| LineChart {
        title: title.into(),
        x_label: "RL step".into(),
        y_label: y.into(),
        log_x: false,
        log_y: false,
        series: rl_groups
            .iter()
            .filter(|(_, runs)| runs.iter().all(|r| !pick(r).is_empty()))
            .map(|(l, runs)| {
                let curves: Vec<Vec<f64>> = runs.iter().map(|r| pick(r)).collect();
                let len = curves.iter().map(Vec::len).min().unwrap_or(0);
                series(l, (1..=len).map(|s| s as f64).collect(), &curves)
            })
            .collect(),
    };
    if rl_groups.iter().any(|(_, runs)| runs.iter().any(|r| !r.curves.reward.is_empty())) {
        Panels {
            title: "training curves (train-set rollouts at the rollout temperature)".into(),
            columns: 3,
            charts: vec![
                curve_chart("train reward (pass@1)", "mean reward", &|r| r.curves.reward.clone()),
                curve_chart("train pass@K (training K)", "pass@K", &|r| r.curves.pass_at_k.clone()),
                curve_chart("entropy per answer token", "nats", &|r| r.curves.entropy.clone()),
            ],
        }
        .save(&figs.join("training"))?;
    }
    let var_groups: Vec<_> =
        rl_groups.iter().filter(|(_, runs)| runs.iter().all(|r| !r.var_proxy.is_empty())).collect();
    if !var_groups.is_empty() {
        LineChart {
            title: "Var(g) proxy: Adam v_hat - m_hat^2 (parameter mean)".into(),
            x_label: "RL step".into(),
            y_label: "Var(g) proxy".into(),
            log_x: false,
            log_y: true,
            series: var_groups
                .iter()
                .map(|(l, runs)| {
                    let curves: Vec<Vec<f64>> =
                        runs.iter().map(|r| r.var_proxy.iter().map(|v| v.max(1e-30)).collect()).collect();
                    let len = curves.iter().map(Vec::len).min().unwrap_or(0);
                    series(l, (1..=len).map(|s| s as f64).collect(), &curves)
                })
                .collect(),
        }
        .save(&figs.join("variance"))?;
    }
    let mut support_rows = Vec::new();
    for (label, runs) in &rl_groups {
        let (mut c, mut sol) = ([0usize; 4], [0usize; 3]);
        for run in runs {
            if let Some(base) = results.base.iter().find(|b| b.seed == run.seed) {
                let s = support(base, run);
                let t = solution_support(base, run);
                for i in 0..4 {
                    c[i] += s[i];
                }
                for i in 0..3 {
                    sol[i] += t[i];
                }
            }
        }
        support_rows.push(SupportRow { label: *label, problems: c, solutions: sol });
    }
    if !support_rows.is_empty() {
        let names = ["preserved", "shrunk", "expanded", "out of support"];
        StackedBars {
            title: format!("support dynamics vs the base model (solved within k = {n})"),
            categories: support_rows.iter().map(|r| r.label.to_string()).collect(),
            stacks: names
                .iter()
                .enumerate()
                .map(|(i, name)| {
                    (name.to_string(), support_rows.iter().map(|r| r.problems[i] as f64).collect())
                })
                .collect(),
            y_label: "test problems".into(),
        }
        .save(&figs.join("support"))?;
    }
    let md = markdown(results, &groups, &ks, &tasks, &support_rows, &figs)?;
    let path = out.join("report.md");
    std::fs::write(&path, md).map_err(TrainerError::io(path))
}

/// Support counts of one RL label, summed over seeds.
struct SupportRow {
    label: RunLabel,
    /// preserved, shrunk, expanded, out of support (problems).
    problems: [usize; 4],
    /// preserved, shrunk, expanded (distinct correct completions).
    solutions: [usize; 3],
}

fn cell(i: Interval) -> String {
    format!("{:+.3} ± {:.3}", i.mean, i.half)
}

fn markdown(
    results: &Results,
    groups: &[(RunLabel, Vec<&RunResult>)],
    ks: &[usize],
    tasks: &[String],
    support_rows: &[SupportRow],
    figs: &Path,
) -> Result<String> {
    let c = &results.config;
    let n = ks.last().copied().unwrap_or(1);
    let mut s = String::new();
    let _ = writeln!(s, "# maxk lm reproduce — `{}` preset\n", c.preset);
    let _ = writeln!(s, "## Setup\n");
    let _ = writeln!(
        s,
        "- model: decoder-only transformer, d_model {}, {} layers, {} heads, d_ff {}, {} parameters; device {}",
        c.model.d_model,
        c.model.n_layers,
        c.model.n_heads,
        c.model.d_ff,
        c.model.num_params(),
        results.device
    );
    let _ = writeln!(
        s,
        "- tasks: {} (character-level, exact verifiers, held-out sets by seed {}, never trained on)",
        c.tasks.join(", "),
        c.eval.test_seed
    );
    let _ = writeln!(
        s,
        "- base model: {} SFT steps x {} sequences, Adam lr {}",
        c.sft.steps, c.sft.batch_size, c.sft.adam.lr
    );
    let _ = writeln!(
        s,
        "- RL: {} steps x {} prompts x N = {} samples (T = {}), {} minibatches, clip {}, KL {}, Adam (grad clip {}), advantage scale `{}`",
        c.rl.steps,
        c.rl.prompts_per_step,
        c.rl.group_size,
        c.rl.sampling.temperature,
        c.rl.minibatches,
        c.rl.clip_eps,
        c.rl.kl_coef,
        c.rl.adam.grad_clip,
        c.rl.scale
    );
    let lrs: Vec<String> = groups
        .iter()
        .filter(|(l, _)| !l.is_base())
        .filter_map(|(l, runs)| runs.first().map(|r| format!("{l} {}", r.lr)))
        .collect();
    let _ = writeln!(
        s,
        "- RL Adam lr per run: {}{}",
        lrs.join(", "),
        if results.tuning.is_empty() {
            " (not tuned)".to_string()
        } else {
            " (selected on the validation split, below)".to_string()
        }
    );
    let est: Vec<String> =
        groups.iter().filter(|(l, _)| !l.is_base()).map(|(l, _)| format!("`{l}`")).collect();
    let seeds: Vec<String> = results.base.iter().map(|b| b.seed.to_string()).collect();
    let mut train_ks: Vec<usize> = results.runs.iter().map(|r| r.k).collect();
    train_ks.sort_unstable();
    train_ks.dedup();
    let _ = writeln!(
        s,
        "- runs: {}; seeds {}; training K = {}",
        est.join(", "),
        seeds.join(", "),
        train_ks.iter().map(usize::to_string).collect::<Vec<_>>().join(", ")
    );
    let problems: usize = results.base.first().map_or(0, |b| b.evals.iter().map(|e| e.correct.len()).sum());
    let _ = writeln!(
        s,
        "- evaluation: {} problems per task ({problems} in all), n = {} samples each at temperature {} top-p {}, unbiased pass@k (maxk_core::pass_at_k)",
        c.eval.problems_per_task, c.eval.n_samples, c.eval.sampling.temperature, c.eval.sampling.top_p
    );
    let threads = if results.threads > 0 {
        format!(" ({} hardware threads visible to the process)", results.threads)
    } else {
        String::new()
    };
    let _ = writeln!(s, "- wall time: {:.1} min on {}{threads}", results.seconds / 60.0, results.device);
    if !results.command.is_empty() {
        let _ = writeln!(s, "- command: `{}`", results.command);
    }
    let _ = writeln!(
        s,
        "\nIntervals: 95%, at the seed level with problems clustered: for per-seed, per-problem \
         differences `d[s][j]`, `SE^2 = Var_s(mean_j d)/S + Var_j(mean_s d)/J` and half-width \
         `t_(S-1) SE` (one seed: `1.96 SE` of the problem term only). A claim holds when the \
         interval lies above 0, does not hold when it lies below, and is inconclusive otherwise.\n"
    );

    if let Some(study) = &c.study {
        endpoints_section(&mut s, results, groups, study, n)?;
    }
    if !results.tuning.is_empty() {
        tuning_section(&mut s, results);
    }

    // k = 1, the training K, 16, 256 where evaluated, and always the largest k (n).
    let mut table_ks: Vec<usize> = [1, 16, 256]
        .into_iter()
        .chain(train_ks.iter().copied())
        .filter(|k| ks.contains(k) && *k < n)
        .collect();
    table_ks.push(n);
    table_ks.sort_unstable();
    table_ks.dedup();
    let col = |k: usize| ks.iter().position(|x| *x == k).unwrap_or(0);
    let _ = writeln!(s, "## pass@k, task average (mean over seeds, min–max over seeds)\n");
    let _ = write!(s, "| model |");
    for k in &table_ks {
        let _ = write!(s, " k={k} |");
    }
    let _ = writeln!(s, "\n|---|{}", "---|".repeat(table_ks.len()));
    for (label, runs) in groups {
        let (mean, lo, hi) = spread(&runs.iter().map(|r| average(&r.evals)).collect::<Vec<_>>());
        let _ = write!(s, "| {label} |");
        for &k in &table_ks {
            let j = col(k);
            if runs.len() > 1 {
                let _ = write!(s, " {:.3} ({:.3}–{:.3}) |", mean[j], lo[j], hi[j]);
            } else {
                let _ = write!(s, " {:.3} |", mean[j]);
            }
        }
        let _ = writeln!(s);
    }
    let _ = writeln!(s, "\n![pass@k, task average](figures/passk_average.png)\n");

    let _ = writeln!(s, "## Did RL improve what each estimator optimises? (held-out problems)\n");
    let _ = writeln!(
        s,
        "Objective: pass@1 for the mean-reward estimators (grpo), pass@K at the training K for the \
         max@K estimators. Difference RL − base on the same problems, per seed (problem-level \
         interval) and over seeds.\n"
    );
    let rollout = results.base.iter().chain(&results.runs).all(|r| !r.evals_rollout.is_empty());
    if rollout {
        let _ = writeln!(
            s,
            "The last column repeats the comparison at the rollout sampling (temperature {}, top-p {}), \
             the distribution RL trained, to separate the temperature mismatch from the effect of RL.\n",
            c.rl.sampling.temperature, c.rl.sampling.top_p
        );
        let _ = writeln!(
            s,
            "| run | objective | per seed | all seeds | verdict | all seeds at T = {} |\n|---|---|---|---|---|---|",
            c.rl.sampling.temperature
        );
    } else {
        let _ = writeln!(s, "| run | objective | per seed | all seeds | verdict |\n|---|---|---|---|---|");
    }
    let mut improved_all = true;
    for (label, runs) in groups.iter().filter(|(l, _)| !l.is_base()) {
        let base: Vec<&RunResult> = results.base.iter().collect();
        let k = runs.first().map_or(1, |r| objective_k(r)).min(n);
        let d = diffs(runs, &base, k)?;
        let per_seed: Vec<String> = d
            .iter()
            .zip(runs.iter())
            .map(|(row, r)| format!("s{}: {}", r.seed, cell(clustered(std::slice::from_ref(row)))))
            .collect();
        let i = clustered(&d);
        let v = verdict(i);
        improved_all &= v == "holds";
        let at_rollout = if rollout {
            let j = clustered(&diffs_at(runs, &base, k, Protocol::Rollout)?);
            format!(" {} ({}) |", cell(j), verdict(j))
        } else {
            String::new()
        };
        let _ = writeln!(
            s,
            "| {label} | pass@{k} | {} | {} | {} |{at_rollout}",
            per_seed.join("; "),
            cell(i),
            match v {
                "holds" => "improved",
                "does not hold" => "worse",
                _ => "no significant change",
            }
        );
    }
    let _ = writeln!(
        s,
        "\nEvery RL run improved its own objective: **{}**.\n",
        if improved_all { "yes" } else { "no (see the rows above)" }
    );

    let _ = writeln!(s, "## MaxPO against each alternative\n");
    if c.study.is_some() {
        let _ = writeln!(
            s,
            "Unadjusted 95% intervals, one per cell: the verdicts that correct for the number of comparisons \
             are those of the pre-declared endpoints above.\n"
        );
    }
    // Other estimators only: the K sweep's MaxPO runs have their own section.
    let peers: Vec<&RunLabel> = groups
        .iter()
        .filter(|(l, runs)| !l.is_base() && runs.iter().all(|r| r.estimator != Some(Estimator::Maxpo)))
        .map(|(l, _)| l)
        .collect();
    if let Some((_, maxpo)) = groups.iter().find(|(l, _)| *l == RunLabel::of(Estimator::Maxpo)) {
        let _ = write!(s, "| MaxPO − peer |");
        for k in &table_ks {
            let _ = write!(s, " pass@{k} |");
        }
        let _ = writeln!(s, " unadjusted verdict at pass@{n} |\n|---|{}---|", "---|".repeat(table_ks.len()));
        for peer in &peers {
            let Some((_, other)) = groups.iter().find(|(l, _)| l == *peer) else { continue };
            let _ = write!(s, "| {peer} |");
            let mut last = None;
            for &k in &table_ks {
                let i = clustered(&diffs(maxpo, other, k)?);
                let _ = write!(s, " {} |", cell(i));
                last = Some(i);
            }
            let _ = writeln!(s, " {} |", last.map_or("inconclusive", verdict));
        }
    } else {
        let _ = writeln!(s, "(no `maxpo` run)");
    }
    let _ = writeln!(s);

    let mut sweep: Vec<(&RunLabel, &Vec<&RunResult>)> = groups
        .iter()
        .filter(|(_, runs)| runs.iter().all(|r| r.estimator == Some(Estimator::Maxpo)))
        .map(|(l, runs)| (l, runs))
        .collect();
    if sweep.len() > 1 {
        sweep.sort_by_key(|(_, runs)| runs.first().map_or(0, |r| r.k));
        let _ = writeln!(s, "## K sweep: MaxPO trained at different K\n");
        let _ = writeln!(
            s,
            "Same base models, seeds, N = {} and lr ({}); task-average pass@k, mean over seeds, and \
             each run minus the base model with its interval.\n",
            c.rl.group_size,
            c.rl.lr_for(Estimator::Maxpo)
        );
        let _ = write!(s, "| training K |");
        for k in &table_ks {
            let _ = write!(s, " pass@{k} |");
        }
        let _ =
            writeln!(s, " pass@1 − base | pass@{n} − base |\n|---|{}---|---|", "---|".repeat(table_ks.len()));
        let base: Vec<&RunResult> = results.base.iter().collect();
        let mut sweep_series = Vec::new();
        for (label, runs) in &sweep {
            let (mean, _, _) = spread(&runs.iter().map(|r| average(&r.evals)).collect::<Vec<_>>());
            let k_train = runs.first().map_or(0, |r| r.k);
            let _ = write!(s, "| K = {k_train} (`{label}`) |");
            for &k in &table_ks {
                let _ = write!(s, " {:.3} |", mean[col(k)]);
            }
            let lo = clustered(&diffs(runs, &base, 1)?);
            let hi = clustered(&diffs(runs, &base, n)?);
            let _ = writeln!(s, " {} | {} |", cell(lo), cell(hi));
            sweep_series.push(series(
                format!("K = {k_train}"),
                ks.iter().map(|&k| k as f64).collect(),
                &runs.iter().map(|r| average(&r.evals)).collect::<Vec<_>>(),
            ));
        }
        let (_, base_runs) = &groups[0];
        sweep_series.push(series(
            RunLabel::Base,
            ks.iter().map(|&k| k as f64).collect(),
            &base_runs.iter().map(|r| average(&r.evals)).collect::<Vec<_>>(),
        ));
        LineChart {
            title: "MaxPO K sweep: pass@k, task average".into(),
            x_label: "k".into(),
            y_label: "pass@k".into(),
            log_x: true,
            log_y: false,
            series: sweep_series,
        }
        .save(&figs.join("ksweep"))?;
        let _ = writeln!(s, "\n![K sweep](figures/ksweep.png)\n");
    }

    let k_names: Vec<String> = table_ks.iter().map(|k| format!("k={k}")).collect();
    let _ = writeln!(s, "## pass@k per benchmark ({}; mean over seeds)\n", k_names.join(" / "));
    let _ = writeln!(s, "| model | {} |", tasks.join(" | "));
    let _ = writeln!(s, "|---|{}", "---|".repeat(tasks.len()));
    for (label, runs) in groups {
        let _ = write!(s, "| {label} |");
        for t in 0..tasks.len() {
            let (m, _, _) = spread(&runs.iter().map(|r| r.evals[t].pass_at_k.clone()).collect::<Vec<_>>());
            let cells: Vec<String> = table_ks.iter().map(|&k| format!("{:.3}", m[col(k)])).collect();
            let _ = write!(s, " {} |", cells.join(" / "));
        }
        let _ = writeln!(s);
    }
    let _ = writeln!(s, "\n![pass@k per benchmark](figures/passk_benchmarks.png)\n");

    let _ = writeln!(s, "## Training curves\n");
    let _ = writeln!(
        s,
        "Train-set reward (pass@1 of the rollouts), train-set pass@K at the training K and the policy \
         entropy per answer token (mean surprisal of the sampled tokens), every RL step, mean over \
         seeds with a min–max band. Rollouts are drawn at temperature {}; evaluation at {}.\n",
        c.rl.sampling.temperature, c.eval.sampling.temperature
    );
    let _ = writeln!(s, "| run | reward first → last 5 steps | pass@K first → last | entropy first → last |");
    let _ = writeln!(s, "|---|---|---|---|");
    for (label, runs) in groups.iter().filter(|(l, _)| !l.is_base()) {
        let ends = |pick: &dyn Fn(&RunResult) -> &Vec<f64>| {
            let head = |v: &Vec<f64>| v.iter().take(5).sum::<f64>() / v.len().clamp(1, 5) as f64;
            let tail = |v: &Vec<f64>| v.iter().rev().take(5).sum::<f64>() / v.len().clamp(1, 5) as f64;
            let r = runs.len().max(1) as f64;
            let a = runs.iter().map(|x| head(pick(x))).sum::<f64>() / r;
            let b = runs.iter().map(|x| tail(pick(x))).sum::<f64>() / r;
            format!("{a:.3} → {b:.3}")
        };
        let _ = writeln!(
            s,
            "| {label} | {} | {} | {} |",
            ends(&|r| &r.curves.reward),
            ends(&|r| &r.curves.pass_at_k),
            ends(&|r| &r.curves.entropy)
        );
    }
    let _ = writeln!(s, "\n![training curves](figures/training.png)\n");

    let _ = writeln!(s, "## Support dynamics (relative to the base model, k = {n})\n");
    let _ = writeln!(
        s,
        "Wu et al. 2025 (\"The Invisible Leash\"). Problem level: a test problem is in a model's \
         support when at least one of its n = {n} samples is correct. Solution level: the support is \
         the set of distinct correct completions found in the n samples (path and countdown have \
         several). Preserved: found by the base model and after RL; shrunk: before only; \
         expanded: after only. SRR (support retention rate) = preserved / (preserved + shrunk); \
         NDR (net discovery rate) = expanded / (preserved + expanded), the share of the RL \
         model's support that is new. Counts over all tasks and seeds.\n"
    );
    let _ = writeln!(
        s,
        "| run | problems: preserved / shrunk / expanded / out | problem SRR | problem NDR | solutions: preserved / shrunk / expanded | solution SRR | solution NDR |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|---|---|");
    let rate = |a: usize, b: usize| if a + b == 0 { f64::NAN } else { a as f64 / (a + b) as f64 };
    for r in support_rows {
        let (p, q) = (r.problems, r.solutions);
        let _ = writeln!(
            s,
            "| {} | {} / {} / {} / {} | {:.3} | {:.3} | {} / {} / {} | {:.3} | {:.3} |",
            r.label,
            p[0],
            p[1],
            p[2],
            p[3],
            rate(p[0], p[1]),
            rate(p[2], p[0]),
            q[0],
            q[1],
            q[2],
            rate(q[0], q[1]),
            rate(q[2], q[0])
        );
    }
    let _ = writeln!(s, "\n![support dynamics](figures/support.png)\n");

    let _ = writeln!(s, "## Adam-moment variance proxy (secondary)\n");
    let _ = writeln!(
        s,
        "`Var(g) ~ mean_params(v_hat - m_hat^2)` after every RL update, from the gradients Adam saw \
         (gradient clipping {}). It compares different training trajectories, so it is \
         confounded by where each run is; `maxk lm gradvar` measures every estimator from the same \
         rollouts instead. Table: mean over RL steps, then over seeds.\n",
        if c.rl.adam.grad_clip > 0.0 {
            format!("at norm {}: clipped steps are in it", c.rl.adam.grad_clip)
        } else {
            "off: unclipped".into()
        }
    );
    let _ = writeln!(s, "| run | mean Var(g) proxy |\n|---|---|");
    for (label, runs) in groups.iter().filter(|(l, _)| !l.is_base()) {
        let m = runs
            .iter()
            .map(|r| r.var_proxy.iter().sum::<f64>() / r.var_proxy.len().max(1) as f64)
            .sum::<f64>()
            / runs.len() as f64;
        let _ = writeln!(s, "| {label} | {m:.3e} |");
    }
    let _ = writeln!(s, "\n![variance proxy](figures/variance.png)\n");
    let _ = writeln!(
        s,
        "Files: `passk.csv`, `metrics.jsonl` (every step: reward, pass@K, entropy, grad norm, clip \
         fraction), `results.json`, `config.toml`, `figures/*.png|svg`."
    );
    Ok(s)
}

/// The lr-selection table: validation objective of every estimator at every lr.
fn tuning_section(s: &mut String, results: &Results) {
    let c = &results.config;
    let t = &c.tune;
    let runs = &results.tuning;
    let table = crate::tune::table(runs);
    let seeds: Vec<String> = t.seeds.iter().map(u64::to_string).collect();
    let _ = writeln!(s, "## Learning-rate selection (validation split)\n");
    let _ = writeln!(
        s,
        "Every estimator was trained with every lr of the grid ({} RL steps, tuning seed(s) {}, from \
         the same base model), then scored on {} validation problems per task (problem stream \
         seed {}, disjoint from the test problems by construction and checked, never trained on), \
         n = {} samples each at the evaluation sampling, by its own objective at the training K \
         (pass@1 for grpo, pass@K for the max@K estimators), averaged over tasks and tuning seeds. \
         The selected lr (bold) is the best; the smaller one on a tie. Cell: validation objective \
         (mean train reward of the last 5 RL steps).\n",
        c.rl.steps,
        seeds.join(", "),
        t.problems_per_task,
        t.val_seed,
        t.n_samples
    );
    let lrs = &t.lrs;
    let _ = write!(s, "| estimator | objective | base |");
    for lr in lrs {
        let _ = write!(s, " lr {lr} |");
    }
    let _ = writeln!(s, " selected |\n|---|---|---|{}---|", "---|".repeat(lrs.len()));
    let selected = crate::tune::select(runs).unwrap_or_default();
    for (est, row) in &table {
        let Some(first) = runs.iter().find(|r| r.estimator == Some(*est)) else { continue };
        let k = crate::tune::objective_k(Some(*est), first.k);
        let bases: Vec<f64> = runs.iter().filter(|r| r.lr.is_none()).map(|r| r.pass_at(k)).collect();
        let base = bases.iter().sum::<f64>() / bases.len().max(1) as f64;
        let _ = write!(s, "| {est} | pass@{k} | {base:.3} |");
        for lr in lrs {
            let reward: Vec<f64> = runs
                .iter()
                .filter(|r| r.estimator == Some(*est) && r.lr == Some(*lr))
                .map(|r| r.train_reward)
                .collect();
            let reward = reward.iter().sum::<f64>() / reward.len().max(1) as f64;
            match row.iter().find(|(l, _)| l == lr) {
                Some((_, v)) if selected.get(est) == Some(lr) => {
                    let _ = write!(s, " **{v:.3}** ({reward:.3}) |");
                }
                Some((_, v)) => {
                    let _ = write!(s, " {v:.3} ({reward:.3}) |");
                }
                None => {
                    let _ = write!(s, " – |");
                }
            }
        }
        let _ = writeln!(s, " {} |", selected.get(est).map_or("–".to_string(), |lr| lr.to_string()));
    }
    let _ = writeln!(s);
}

/// The runs labelled `label`.
fn runs_of<'a>(groups: &'a [(RunLabel, Vec<&'a RunResult>)], label: RunLabel) -> Option<&'a [&'a RunResult]> {
    groups.iter().find(|(l, _)| *l == label).map(|(_, runs)| runs.as_slice())
}

/// The pre-declared endpoints of `[study]`: the primary difference with its seed-level t
/// interval, then every pair of estimators at every secondary k with p-values adjusted by the
/// declared correction (Holm or Bonferroni) over that family.
fn endpoints_section(
    s: &mut String,
    results: &Results,
    groups: &[(RunLabel, Vec<&RunResult>)],
    study: &crate::config::StudyConfig,
    n: usize,
) -> Result<()> {
    let _ = writeln!(s, "## Pre-declared endpoints (`[study]` of the config, fixed before the runs)\n");
    let _ = writeln!(s, "Regime: {}.\n", study.regime);
    let success: Vec<f64> = results.base.iter().filter_map(|b| b.validation_rollout_success).collect();
    if !success.is_empty() {
        let ci = maxk_experiments::stats::Ci::of(&success);
        let (lo, hi) =
            success.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| (a.min(*x), b.max(*x)));
        let _ = writeln!(
            s,
            "Measured before RL: the base models' rollout success rate (validation pass@1 at the \
             rollout sampling, T = {}) is {:.3} (seeds {lo:.3}–{hi:.3}; 95% t interval {:.3}–{:.3}, {} seeds).\n",
            results.config.rl.sampling.temperature, ci.mean, ci.lo, ci.hi, ci.n
        );
    }
    let p = &study.primary;
    let (primary, reference) = (RunLabel::of(p.estimator), RunLabel::of(p.reference));
    let (Some(a), Some(b)) = (runs_of(groups, primary), runs_of(groups, reference)) else {
        let _ = writeln!(s, "Primary endpoint: runs `{}` / `{}` missing.\n", p.estimator, p.reference);
        return Ok(());
    };
    let i = clustered(&diffs(a, b, p.k.min(n))?);
    let _ = writeln!(
        s,
        "**Primary: pass@{} of {} − {} = {} (95% seed-level t interval, problems clustered, {} seeds; \
         two-sided p = {:.3}): {}.**\n",
        p.k,
        p.estimator,
        p.reference,
        cell(i),
        i.seeds,
        i.p_value(),
        match verdict(i) {
            "holds" => format!("{} higher", p.estimator),
            "does not hold" => format!("{} higher", p.reference),
            _ => "no significant difference".to_string(),
        }
    );
    // The primary's estimator first, then its reference, then the rest: MaxPO is the minuend.
    let mut labels: Vec<RunLabel> = groups.iter().map(|(l, _)| *l).filter(|l| !l.is_base()).collect();
    labels.sort_by_key(|l| [primary, reference].iter().position(|x| x == l).unwrap_or(2));
    let mut family: Vec<(RunLabel, RunLabel, usize, Interval)> = Vec::new();
    for (x, &ea) in labels.iter().enumerate() {
        for &eb in &labels[x + 1..] {
            for &k in study.secondary_ks.iter().filter(|&&k| k <= n) {
                let same = |u, v| (u, v) == (primary, reference);
                if k == p.k && (same(ea, eb) || same(eb, ea)) {
                    continue;
                }
                let (Some(ra), Some(rb)) = (runs_of(groups, ea), runs_of(groups, eb)) else { continue };
                family.push((ea, eb, k, clustered(&diffs(ra, rb, k)?)));
            }
        }
    }
    let raw: Vec<f64> = family.iter().map(|f| f.3.p_value()).collect();
    let (adjusted, name) = match study.correction {
        Correction::Bonferroni => (bonferroni(&raw), "Bonferroni"),
        Correction::Holm => (holm(&raw), "Holm"),
    };
    let _ = writeln!(
        s,
        "Secondary comparisons: every pair of estimators at pass@k, k in {:?} ({} comparisons), \
         p-values adjusted by {name}'s method over that family; a difference is significant when \
         its adjusted p < 0.05. The unadjusted interval is shown for size.\n",
        study.secondary_ks,
        family.len()
    );
    let _ =
        writeln!(s, "| comparison | k | difference ± 95% (unadjusted) | p | {name}-adjusted p | verdict |");
    let _ = writeln!(s, "|---|---|---|---|---|---|");
    for ((ea, eb, k, i), adj) in family.iter().zip(&adjusted) {
        let v = if *adj < 0.05 {
            if i.mean > 0.0 { format!("{ea} higher") } else { format!("{eb} higher") }
        } else {
            "not significant".to_string()
        };
        let _ = writeln!(s, "| {ea} − {eb} | {k} | {} | {:.3} | {:.3} | {v} |", cell(*i), i.p_value(), adj);
    }
    let _ = writeln!(s);
    Ok(())
}

/// Writes `gradvar.md`, `gradvar.csv` (one row per unit, checkpoint and estimator),
/// `prompts.csv` (one row per unit, checkpoint and prompt: success rate and every estimator's
/// trace), `gradvar.json`, `config.toml` and `figures/gradvar.{png,svg}` (the EI / MaxPO ratio
/// against the success rate over the exact bandit curves) into `out`.
pub fn write_gradvar(r: &GradVarResults, command: &str, out: &Path) -> Result<()> {
    std::fs::create_dir_all(out).map_err(TrainerError::io(out))?;
    r.config.save(out)?;
    let json = serde_json::to_string_pretty(r).map_err(|e| TrainerError::Config(e.to_string()))?;
    let path = out.join("gradvar.json");
    std::fs::write(&path, json).map_err(TrainerError::io(&path))?;
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
    let path = out.join("gradvar.csv");
    std::fs::write(&path, csv).map_err(TrainerError::io(&path))?;
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
    let path = out.join("prompts.csv");
    std::fs::write(&path, csv).map_err(TrainerError::io(&path))?;

    let c = &r.config;
    let mut s = String::new();
    let _ = writeln!(s, "# Gradient variance from the same rollouts\n");
    let units: std::collections::BTreeSet<(String, u64)> =
        r.rows.iter().map(|x| (x.study.clone(), x.seed)).collect();
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
    let ei = [Estimator::PkpoLoo1, Estimator::Ei].into_iter().find(|e| r.estimators.contains(e));
    if let (Some(ei), true) = (ei, r.estimators.contains(&Estimator::Maxpo)) {
        use crate::mechanism::Shape;
        let shapes = [Shape::Spread(1024), Shape::OneCorrect(1024)];
        let (num, den) = (ei, Estimator::Maxpo);
        let m = crate::mechanism::analyse(r, num, den, &shapes)?;
        mechanism_section(&mut s, &m);
        let bx: Vec<f64> = (1..=99).map(|i| f64::from(i) / 100.0).collect();
        let mut series = Vec::new();
        for &a in &shapes {
            let y = bx
                .iter()
                .map(|&p| crate::mechanism::bandit_ratio(num, den, p, a, m.n, m.k))
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
            .with_band(
                m.bins.iter().map(|b| b.ratio.lo).collect(),
                m.bins.iter().map(|b| b.ratio.hi).collect(),
            ),
        );
        LineChart {
            title: format!("tr Cov({ei}) / tr Cov(maxpo) vs success rate, N = {}, K = {}", m.n, m.k),
            x_label: "success rate of the prompt's rollouts".into(),
            y_label: "variance ratio (> 1: the L2O baseline lowers it)".into(),
            log_x: true,
            log_y: true,
            series,
        }
        .save(&out.join("figures").join("gradvar"))?;
        let _ = writeln!(s, "![variance ratio against success rate](figures/gradvar.png)\n");
    }
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
    let path = out.join("gradvar.md");
    std::fs::write(&path, s).map_err(TrainerError::io(path))
}

fn ci_cell(c: maxk_experiments::stats::Ci) -> String {
    format!("{:.3} [{:.3}, {:.3}]", c.mean, c.lo, c.hi)
}

/// The markdown of [`crate::mechanism::Mechanism`].
fn mechanism_section(s: &mut String, m: &crate::mechanism::Mechanism) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clustered_interval_matches_a_hand_computation() {
        // Two seeds x three problems.
        let d = vec![vec![0.1, 0.2, 0.3], vec![0.3, 0.4, 0.5]];
        let i = clustered(&d);
        assert!((i.mean - 0.3).abs() < 1e-12);
        // Row means 0.2, 0.4: Var = 0.02, /2 = 0.01. Column means 0.2, 0.3, 0.4: Var = 0.01, /3.
        let want = 12.706_204_736 * (0.01f64 + 0.01 / 3.0).sqrt(); // t_{0.975, 1}, exact
        assert!((i.half - want).abs() < 1e-9, "{} vs {want}", i.half);
        assert_eq!(verdict(i), "inconclusive");
        let one = clustered(&d[..1]);
        assert!((one.half - 1.96 * (0.01f64 / 3.0).sqrt()).abs() < 1e-12);
        assert_eq!(verdict(one), "holds");
        assert!(clustered(&[]).mean.is_nan());
        // t = 0.3 / sqrt(0.01 + 0.01/3) = 2.598 with 1 df: p = 1 - 2 atan(2.598)/pi.
        let t = 0.3 / (0.01f64 + 0.01 / 3.0).sqrt();
        let want = 1.0 - 2.0 * t.atan() / std::f64::consts::PI;
        assert!((i.p_value() - want).abs() < 1e-9, "{} vs {want}", i.p_value());
        assert!(one.p_value().is_nan());
    }
}
