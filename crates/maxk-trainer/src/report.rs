//! `report.md`, `passk.csv`, `results.json` and the figures of a reproduction.
//!
//! Verdicts compare two models on the same held-out problems with a paired test: for each
//! problem `j`, `d_j = pass@k_a(j) - pass@k_b(j)`; the claim holds when `mean d > 2 SE`, fails
//! when `mean d < -2 SE`, and is inconclusive otherwise (`SE = sd(d)/sqrt(#problems)`).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use maxk_plot::{LineChart, Panels, Series, StackedBars};

use crate::error::{Result, TrainerError};
use crate::eval::{average, per_problem};
use crate::pipeline::{Results, RunResult};

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
fn by_label(results: &Results) -> Vec<(String, Vec<&RunResult>)> {
    let mut out: Vec<(String, Vec<&RunResult>)> = Vec::new();
    for run in results.base.iter().chain(&results.runs) {
        match out.iter_mut().find(|(l, _)| *l == run.label) {
            Some((_, v)) => v.push(run),
            None => out.push((run.label.clone(), vec![run])),
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

fn series(name: &str, x: Vec<f64>, curves: &[Vec<f64>]) -> Series {
    let (mean, lo, hi) = spread(curves);
    let s = Series::new(name, x[..mean.len()].to_vec(), mean);
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

/// Paired comparison of two runs at `k` over all test problems: (mean difference, SE).
pub fn paired(a: &RunResult, b: &RunResult, k: usize) -> Result<(f64, f64)> {
    let mut d = Vec::new();
    for (ea, eb) in a.evals.iter().zip(&b.evals) {
        let pa = per_problem(&ea.correct, ea.n, k.min(ea.n))?;
        let pb = per_problem(&eb.correct, eb.n, k.min(eb.n))?;
        d.extend(pa.iter().zip(&pb).map(|(x, y)| x - y));
    }
    let n = d.len().max(1) as f64;
    let mean = d.iter().sum::<f64>() / n;
    let var = d.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0).max(1.0);
    Ok((mean, (var / n).sqrt()))
}

fn verdict(mean: f64, se: f64) -> &'static str {
    if mean > 2.0 * se && mean > 0.0 {
        "holds"
    } else if mean < -2.0 * se && mean < 0.0 {
        "does not hold"
    } else {
        "inconclusive"
    }
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
    let var_groups: Vec<_> =
        groups.iter().filter(|(_, runs)| runs.iter().all(|r| !r.var_proxy.is_empty())).collect();
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
    for (label, runs) in groups.iter().filter(|(l, _)| l != "base") {
        let mut c = [0usize; 4];
        for run in runs {
            if let Some(base) = results.base.iter().find(|b| b.seed == run.seed) {
                let s = support(base, run);
                for i in 0..4 {
                    c[i] += s[i];
                }
            }
        }
        support_rows.push((label.clone(), c));
    }
    if !support_rows.is_empty() {
        let names = ["preserved", "shrunk", "expanded", "out of support"];
        StackedBars {
            title: format!("support dynamics vs the base model (solved within k = {n})"),
            categories: support_rows.iter().map(|(l, _)| l.clone()).collect(),
            stacks: names
                .iter()
                .enumerate()
                .map(|(i, name)| (name.to_string(), support_rows.iter().map(|(_, c)| c[i] as f64).collect()))
                .collect(),
            y_label: "test problems".into(),
        }
        .save(&figs.join("support"))?;
    }
    let md = markdown(results, &groups, &ks, &tasks, &support_rows)?;
    let path = out.join("report.md");
    std::fs::write(&path, md).map_err(TrainerError::io(path))
}

fn markdown(
    results: &Results,
    groups: &[(String, Vec<&RunResult>)],
    ks: &[usize],
    tasks: &[String],
    support_rows: &[(String, [usize; 4])],
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
        "- tasks: {} (character-level, exact verifiers, held-out sets by seed {})",
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
        "- RL: {} steps x {} prompts x N = {} samples (T = {}), {} minibatches, clip {}, KL {}, Adam lr {}, advantage scale `{}`",
        c.rl.steps,
        c.rl.prompts_per_step,
        c.rl.group_size,
        c.rl.sampling.temperature,
        c.rl.minibatches,
        c.rl.clip_eps,
        c.rl.kl_coef,
        c.rl.adam.lr,
        c.rl.scale
    );
    let est: Vec<String> =
        groups.iter().filter(|(l, _)| l != "base").map(|(l, _)| format!("`{l}`")).collect();
    let seeds: Vec<String> = results.base.iter().map(|b| b.seed.to_string()).collect();
    let _ = writeln!(s, "- runs: {}; seeds {}; training K = {}", est.join(", "), seeds.join(", "), {
        let mut k: Vec<usize> = results.runs.iter().map(|r| r.k).collect();
        k.dedup();
        k.iter().map(usize::to_string).collect::<Vec<_>>().join(", ")
    });
    let _ = writeln!(
        s,
        "- evaluation: {} problems per task, n = {} samples each at temperature {} top-p {}, unbiased pass@k (maxk_core::pass_at_k)",
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
    let _ = writeln!(s);

    // k = 1, 16, 256 where evaluated, and always the largest k (n).
    let mut table_ks: Vec<usize> = [1, 16, 256].into_iter().filter(|k| ks.contains(k) && *k < n).collect();
    table_ks.push(n);
    let _ = writeln!(s, "## pass@k, task average (mean over seeds)\n");
    let _ = write!(s, "| model |");
    for k in &table_ks {
        let _ = write!(s, " k={k} |");
    }
    let _ = writeln!(s, "\n|---|{}", "---|".repeat(table_ks.len()));
    for (label, runs) in groups {
        let (mean, _, _) = spread(&runs.iter().map(|r| average(&r.evals)).collect::<Vec<_>>());
        let _ = write!(s, "| {label} |");
        for k in &table_ks {
            let j = ks.iter().position(|x| x == k).unwrap_or(0);
            let _ = write!(s, " {:.3} |", mean.get(j).copied().unwrap_or(f64::NAN));
        }
        let _ = writeln!(s);
    }
    let _ = writeln!(s, "\n![pass@k, task average](figures/passk_average.png)\n");
    let k_names: Vec<String> = table_ks.iter().map(|k| format!("k={k}")).collect();
    let _ = writeln!(s, "## pass@k per benchmark ({}; mean over seeds)\n", k_names.join(" / "));
    let _ = writeln!(s, "| model | {} |", tasks.join(" | "));
    let _ = writeln!(s, "|---|{}", "---|".repeat(tasks.len()));
    for (label, runs) in groups {
        let _ = write!(s, "| {label} |");
        for t in 0..tasks.len() {
            let (m, _, _) = spread(&runs.iter().map(|r| r.evals[t].pass_at_k.clone()).collect::<Vec<_>>());
            let cells: Vec<String> = table_ks
                .iter()
                .map(|k| {
                    let j = ks.iter().position(|x| x == k).unwrap_or(0);
                    format!("{:.3}", m.get(j).copied().unwrap_or(f64::NAN))
                })
                .collect();
            let _ = write!(s, " {} |", cells.join(" / "));
        }
        let _ = writeln!(s);
    }
    let _ = writeln!(s, "\n![pass@k per benchmark](figures/passk_benchmarks.png)\n");

    let _ = writeln!(s, "## Gradient-variance proxy\n");
    let _ = writeln!(
        s,
        "Adam-moment proxy `Var(g) ~ mean_params(v_hat - m_hat^2)` after every RL update (the \
         paper's Fig. 3 diagnostic). Table: mean over RL steps, then over seeds; figure: mean over \
         seeds with a min-max band when there are several. Advantage scale `{}`: the proxy is \
         quadratic in it, so estimators are comparable only at a common scale (`pg`).\n",
        c.rl.scale
    );
    let _ = writeln!(s, "| run | mean Var(g) proxy |\n|---|---|");
    let mut var_means = BTreeMap::new();
    for (label, runs) in groups.iter().filter(|(l, _)| l != "base") {
        let m = runs
            .iter()
            .map(|r| r.var_proxy.iter().sum::<f64>() / r.var_proxy.len().max(1) as f64)
            .sum::<f64>()
            / runs.len() as f64;
        var_means.insert(label.clone(), m);
        let _ = writeln!(s, "| {label} | {m:.3e} |");
    }
    let _ = writeln!(s, "\n![variance proxy](figures/variance.png)\n");

    let _ = writeln!(s, "## Support dynamics (solved within k = {n}, relative to the base model)\n");
    let _ = writeln!(
        s,
        "Wu et al. 2025 (\"The Invisible Leash\"): a test problem is in a model's support when at least \
         one of its n = {n} samples is correct. Preserved: solved by the base model and after RL; \
         shrunk: solved before only; expanded: after only; out of support: neither. Counts over all \
         tasks and seeds.\n"
    );
    let _ = writeln!(s, "| run | preserved | shrunk | expanded | out of support |\n|---|---|---|---|---|");
    for (label, c) in support_rows {
        let _ = writeln!(s, "| {label} | {} | {} | {} | {} |", c[0], c[1], c[2], c[3]);
    }
    let _ = writeln!(s, "\n![support dynamics](figures/support.png)\n");

    let _ = writeln!(s, "## Verdicts on the paper's LLM claims (computed from this run)\n");
    let _ = writeln!(
        s,
        "Paired over test problems and seeds: holds if the mean difference exceeds 2 standard errors.\n"
    );
    let first_of =
        |label: &str| -> Vec<&RunResult> { results.runs.iter().filter(|r| r.label == label).collect() };
    let mut claims: Vec<(String, &str, &str, usize)> = Vec::new();
    for peer in ["grpo", "pkpo-loo1", "rloo"] {
        claims.push((format!("MaxPO beats {peer} at pass@{n}"), "maxpo", peer, n));
    }
    claims.push(("MaxPO raises pass@1 over the base model".into(), "maxpo", "base", 1));
    claims.push((format!("MaxPO keeps or raises pass@{n} over the base model"), "maxpo", "base", n));
    claims.push(("GRPO raises pass@1 over the base model".into(), "grpo", "base", 1));
    let _ = writeln!(s, "| claim | difference | 2 SE | verdict |\n|---|---|---|---|");
    for (claim, a, b, k) in claims {
        let (ra, rb) = (first_of(a), if b == "base" { results.base.iter().collect() } else { first_of(b) });
        if ra.is_empty() || rb.is_empty() {
            continue;
        }
        let mut diffs = Vec::new();
        for x in &ra {
            if let Some(y) = rb.iter().find(|y| y.seed == x.seed) {
                diffs.push(paired(x, y, k)?);
            }
        }
        let m = diffs.iter().map(|d| d.0).sum::<f64>() / diffs.len().max(1) as f64;
        let se = (diffs.iter().map(|d| d.1 * d.1).sum::<f64>()).sqrt() / diffs.len().max(1) as f64;
        let v = verdict(m, se);
        // "keeps or raises": only a significant drop refutes it.
        let v =
            if claim.contains("keeps") && v == "inconclusive" { "holds (no significant drop)" } else { v };
        let _ = writeln!(s, "| {claim} | {m:+.4} | {:.4} | {v} |", 2.0 * se);
    }
    let shrunk = |label: &str| support_rows.iter().find(|(l, _)| l == label).map(|(_, c)| (c[1], c[2]));
    if let (Some((ms, me)), Some((gs, ge))) = (shrunk("maxpo"), shrunk("grpo")) {
        let v = match (ms + ge).cmp(&(gs + me)) {
            std::cmp::Ordering::Less => "holds",
            std::cmp::Ordering::Equal => "inconclusive (tie)",
            std::cmp::Ordering::Greater => "does not hold",
        };
        let _ = writeln!(
            s,
            "| MaxPO keeps more of the base model's support than GRPO (shrunk - expanded) | {} vs {} | - | {v} |",
            ms as i64 - me as i64,
            gs as i64 - ge as i64
        );
    }
    if let (Some(mp), Some(pk)) = (var_means.get("maxpo"), var_means.get("pkpo-loo1")) {
        // The proxy is quadratic in the advantage scale, and with `scale = none` MaxPO
        // (u - v = (N/K) x canonical) and pkpo-loo1 ((K/N)(u - w)) differ by (N/K)^2 in it;
        // `scale = pg` puts both at the scale of an unbiased max@K gradient.
        let v = if c.rl.scale != "pg" {
            "not comparable: the estimators differ in scale; rerun with `rl.scale = \"pg\"`"
        } else if mp < pk {
            "holds"
        } else if mp == pk {
            "inconclusive (no signal)"
        } else {
            "does not hold"
        };
        let _ = writeln!(
            s,
            "| MaxPO's variance proxy is below pkpo-loo1's (centering) | {:.3e} vs {:.3e} | - | {v} |",
            mp, pk
        );
    }
    let _ = writeln!(
        s,
        "\nFiles: `passk.csv`, `metrics.jsonl`, `results.json`, `config.toml`, `figures/*.png|svg`."
    );
    Ok(s)
}
