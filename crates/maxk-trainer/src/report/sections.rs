//! The sections of `report.md`, one function each, in the order [`markdown`] writes them.

use std::fmt::Write as _;

use maxk_core::Estimator;
use maxk_study::stats::{Ci, bonferroni, holm};
use maxk_study::verdict::{Outcome, adjusted, difference};

use super::compare::{Protocol, cell, compare, diffs};
use super::figures::spread;
use super::{Context, Group};
use crate::config::{Correction, StudyConfig};
use crate::error::Result;
use crate::eval::average;
use crate::results::RunResult;
use crate::run_label::RunLabel;

/// The whole report.
pub(super) fn markdown(cx: &Context<'_>) -> Result<String> {
    let mut s = String::new();
    setup(&mut s, cx);
    if let Some(study) = &cx.results.config.study {
        endpoints(&mut s, cx, study)?;
    }
    if !cx.results.tuning.is_empty() {
        tuning(&mut s, cx);
    }
    passk_average(&mut s, cx);
    improvement(&mut s, cx)?;
    maxpo_against_peers(&mut s, cx)?;
    ksweep(&mut s, cx)?;
    passk_per_benchmark(&mut s, cx);
    training_curves(&mut s, cx);
    support(&mut s, cx);
    variance_proxy(&mut s, cx);
    let _ = writeln!(
        s,
        "Files: `passk.csv`, `metrics.jsonl` (every step: reward, pass@K, entropy, grad norm, clip \
         fraction), `results.json`, `config.toml`, `figures/*.png|svg`."
    );
    Ok(s)
}

/// The ids of the mean-reward estimators (objective pass@1) among `estimators`, in order and
/// without repeats, or `none` when there is none.
fn mean_reward_ids(estimators: impl Iterator<Item = Estimator>, none: &str) -> String {
    let mut ids: Vec<&str> = Vec::new();
    for e in estimators.filter(|e| !e.uses_k()) {
        if !ids.contains(&e.id()) {
            ids.push(e.id());
        }
    }
    if ids.is_empty() { none.to_string() } else { ids.join(", ") }
}

/// Title, model, data, training and evaluation settings, and how intervals are computed.
fn setup(s: &mut String, cx: &Context<'_>) {
    let (results, c) = (cx.results, &cx.results.config);
    let _ = writeln!(s, "# maxk lm reproduce — `{}` preset\n", c.preset);
    let _ = writeln!(s, "## Setup\n");
    let m = &c.model;
    let _ = writeln!(
        s,
        "- model: decoder-only transformer, d_model {}, {} layers, {} heads, d_ff {}, {} parameters; device {}",
        m.d_model,
        m.n_layers,
        m.n_heads,
        m.d_ff,
        m.num_params(),
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
    let lrs: Vec<String> =
        cx.rl_groups().filter_map(|(l, runs)| runs.first().map(|r| format!("{l} {}", r.lr))).collect();
    let tuned =
        if results.tuning.is_empty() { " (not tuned)" } else { " (selected on the validation split, below)" };
    let _ = writeln!(s, "- RL Adam lr per run: {}{tuned}", lrs.join(", "));
    let runs: Vec<String> = cx.rl_groups().map(|(l, _)| format!("`{l}`")).collect();
    let seeds: Vec<String> = results.base.iter().map(|b| b.seed.to_string()).collect();
    let train_ks: Vec<String> = super::training_ks(results).iter().map(usize::to_string).collect();
    let _ = writeln!(
        s,
        "- runs: {}; seeds {}; training K = {}",
        runs.join(", "),
        seeds.join(", "),
        train_ks.join(", ")
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
}

/// The runs labelled `label`.
fn runs_of<'a>(groups: &'a [Group<'a>], label: RunLabel) -> Option<&'a [&'a RunResult]> {
    groups.iter().find(|(l, _)| *l == label).map(|(_, runs)| runs.as_slice())
}

/// The pre-declared endpoints of `[study]`: the base models' measured success rate, the
/// primary difference with its seed-level t interval, then the secondary family.
fn endpoints(s: &mut String, cx: &Context<'_>, study: &StudyConfig) -> Result<()> {
    let _ = writeln!(s, "## Pre-declared endpoints (`[study]` of the config, fixed before the runs)\n");
    let _ = writeln!(s, "Regime: {}.\n", study.regime);
    let success: Vec<f64> = cx.results.base.iter().filter_map(|b| b.validation_rollout_success).collect();
    if !success.is_empty() {
        let ci = Ci::of(&success);
        let (lo, hi) =
            success.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| (a.min(*x), b.max(*x)));
        let _ = writeln!(
            s,
            "Measured before RL: the base models' rollout success rate (validation pass@1 at the \
             rollout sampling, T = {}) is {:.3} (seeds {lo:.3}–{hi:.3}; 95% t interval {:.3}–{:.3}, {} seeds).\n",
            cx.results.config.rl.sampling.temperature, ci.mean, ci.lo, ci.hi, ci.n
        );
    }
    let p = &study.primary;
    let (primary, reference) = (RunLabel::of(p.estimator), RunLabel::of(p.reference));
    let (Some(a), Some(b)) = (runs_of(&cx.groups, primary), runs_of(&cx.groups, reference)) else {
        let _ = writeln!(s, "Primary endpoint: runs `{}` / `{}` missing.\n", p.estimator, p.reference);
        return Ok(());
    };
    let i = compare(a, b, p.k.min(cx.n))?;
    let verdict = match difference(i) {
        Outcome::Holds => format!("{} higher", p.estimator),
        Outcome::DoesNotHold => format!("{} higher", p.reference),
        Outcome::Inconclusive => "no significant difference".to_string(),
    };
    let _ = writeln!(
        s,
        "**Primary: pass@{} of {} − {} = {} (95% seed-level t interval, problems clustered, {} seeds; \
         two-sided p = {:.3}): {verdict}.**\n",
        p.k,
        p.estimator,
        p.reference,
        cell(i),
        i.seeds,
        i.p_value()
    );
    secondary(s, cx, study)
}

/// Every pair of the study's runs at every secondary k (the primary comparison excluded), with
/// p-values adjusted over that family by the declared correction.
fn secondary(s: &mut String, cx: &Context<'_>, study: &StudyConfig) -> Result<()> {
    let p = &study.primary;
    let (primary, reference) = (RunLabel::of(p.estimator), RunLabel::of(p.reference));
    // The primary's estimator first, then its reference, then the rest: MaxPO is the minuend.
    let mut labels: Vec<RunLabel> = cx.rl_groups().map(|(l, _)| *l).collect();
    labels.sort_by_key(|l| [primary, reference].iter().position(|x| x == l).unwrap_or(2));
    let mut family: Vec<(RunLabel, RunLabel, usize, maxk_study::Paired)> = Vec::new();
    for (x, &ea) in labels.iter().enumerate() {
        for &eb in &labels[x + 1..] {
            for &k in study.secondary_ks.iter().filter(|&&k| k <= cx.n) {
                let is_primary = |u, v| (u, v) == (primary, reference);
                if k == p.k && (is_primary(ea, eb) || is_primary(eb, ea)) {
                    continue;
                }
                let (Some(ra), Some(rb)) = (runs_of(&cx.groups, ea), runs_of(&cx.groups, eb)) else {
                    continue;
                };
                family.push((ea, eb, k, compare(ra, rb, k)?));
            }
        }
    }
    let raw: Vec<f64> = family.iter().map(|f| f.3.p_value()).collect();
    let (adjusted_p, name) = match study.correction {
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
    for ((ea, eb, k, i), adj) in family.iter().zip(&adjusted_p) {
        let v = match adjusted(i.mean, *adj) {
            Outcome::Holds => format!("{ea} higher"),
            Outcome::DoesNotHold => format!("{eb} higher"),
            Outcome::Inconclusive => "not significant".to_string(),
        };
        let _ = writeln!(s, "| {ea} − {eb} | {k} | {} | {:.3} | {:.3} | {v} |", cell(*i), i.p_value(), adj);
    }
    let _ = writeln!(s);
    Ok(())
}

/// The lr-selection table: validation objective of every estimator at every lr.
fn tuning(s: &mut String, cx: &Context<'_>) {
    let c = &cx.results.config;
    let t = &c.tune;
    let runs = &cx.results.tuning;
    let seeds: Vec<String> = t.seeds.iter().map(u64::to_string).collect();
    let mean_reward = mean_reward_ids(runs.iter().filter_map(|r| r.estimator), "the mean-reward estimators");
    let _ = writeln!(s, "## Learning-rate selection (validation split)\n");
    let _ = writeln!(
        s,
        "Every estimator was trained with every lr of the grid ({} RL steps, tuning seed(s) {}, from \
         the same base model), then scored on {} validation problems per task (problem stream \
         seed {}, disjoint from the test problems by construction and checked, never trained on), \
         n = {} samples each at the evaluation sampling, by its own objective at the training K \
         (pass@1 for {mean_reward}, pass@K for the max@K estimators), averaged over tasks and tuning seeds. \
         The selected lr (bold) is the best; the smaller one on a tie. Cell: validation objective \
         (mean train reward of the last 5 RL steps).\n",
        c.rl.steps,
        seeds.join(", "),
        t.problems_per_task,
        t.val_seed,
        t.n_samples
    );
    let _ = write!(s, "| estimator | objective | base |");
    for lr in &t.lrs {
        let _ = write!(s, " lr {lr} |");
    }
    let _ = writeln!(s, " selected |\n|---|---|---|{}---|", "---|".repeat(t.lrs.len()));
    let selected = crate::tune::select(runs).unwrap_or_default();
    for (est, row) in &crate::tune::table(runs) {
        let Some(first) = runs.iter().find(|r| r.estimator == Some(*est)) else { continue };
        let k = crate::tune::objective_k(Some(*est), first.k);
        let bases: Vec<f64> = runs.iter().filter(|r| r.lr.is_none()).map(|r| r.pass_at(k)).collect();
        let base = bases.iter().sum::<f64>() / bases.len().max(1) as f64;
        let _ = write!(s, "| {est} | pass@{k} | {base:.3} |");
        for lr in &t.lrs {
            let reward: Vec<f64> = runs
                .iter()
                .filter(|r| r.estimator == Some(*est) && r.lr == Some(*lr))
                .map(|r| r.train_reward)
                .collect();
            let reward = reward.iter().sum::<f64>() / reward.len().max(1) as f64;
            let _ = match row.iter().find(|(l, _)| l == lr) {
                Some((_, v)) if selected.get(est) == Some(lr) => write!(s, " **{v:.3}** ({reward:.3}) |"),
                Some((_, v)) => write!(s, " {v:.3} ({reward:.3}) |"),
                None => write!(s, " – |"),
            };
        }
        let _ = writeln!(s, " {} |", selected.get(est).map_or("–".to_string(), |lr| lr.to_string()));
    }
    let _ = writeln!(s);
}

/// Task-average pass@k of every label at the table's k: mean, min–max over seeds.
fn passk_average(s: &mut String, cx: &Context<'_>) {
    let _ = writeln!(s, "## pass@k, task average (mean over seeds, min–max over seeds)\n");
    let _ = write!(s, "| model |");
    for k in &cx.table_ks {
        let _ = write!(s, " k={k} |");
    }
    let _ = writeln!(s, "\n|---|{}", "---|".repeat(cx.table_ks.len()));
    for (label, runs) in &cx.groups {
        let (mean, lo, hi) = spread(&runs.iter().map(|r| average(&r.evals)).collect::<Vec<_>>());
        let _ = write!(s, "| {label} |");
        for &k in &cx.table_ks {
            let j = cx.col(k);
            let _ = if runs.len() > 1 {
                write!(s, " {:.3} ({:.3}–{:.3}) |", mean[j], lo[j], hi[j])
            } else {
                write!(s, " {:.3} |", mean[j])
            };
        }
        let _ = writeln!(s);
    }
    let _ = writeln!(s, "\n![pass@k, task average](figures/passk_average.png)\n");
}

/// Every RL run against its base model at the pass@k it optimises (pass@1 or pass@K).
fn improvement(s: &mut String, cx: &Context<'_>) -> Result<()> {
    let c = &cx.results.config;
    let mean_reward = mean_reward_ids(cx.rl_groups().filter_map(|(l, _)| l.estimator()), "none here");
    let _ = writeln!(s, "## Did RL improve what each estimator optimises? (held-out problems)\n");
    let _ = writeln!(
        s,
        "Objective: pass@1 for the mean-reward estimators ({mean_reward}), pass@K at the training K for the \
         max@K estimators. Difference RL − base on the same problems, per seed (problem-level \
         interval) and over seeds.\n"
    );
    let rollout = cx.results.base.iter().chain(&cx.results.runs).all(|r| !r.evals_rollout.is_empty());
    let t = c.rl.sampling.temperature;
    if rollout {
        let _ = writeln!(
            s,
            "The last column repeats the comparison at the rollout sampling (temperature {t}, top-p {}), \
             the distribution RL trained, to separate the temperature mismatch from the effect of RL.\n",
            c.rl.sampling.top_p
        );
        let _ = writeln!(
            s,
            "| run | objective | per seed | all seeds | verdict | all seeds at T = {t} |\n|---|---|---|---|---|---|"
        );
    } else {
        let _ = writeln!(s, "| run | objective | per seed | all seeds | verdict |\n|---|---|---|---|---|");
    }
    let base = cx.base();
    let mut improved_all = true;
    for (label, runs) in cx.rl_groups() {
        let k = runs.first().map_or(1, |r| crate::tune::objective_k(r.estimator, r.k)).min(cx.n);
        let d = diffs(runs, &base, k, Protocol::Eval)?;
        let per_seed: Vec<String> = d
            .iter()
            .zip(runs.iter())
            .map(|(row, r)| {
                format!("s{}: {}", r.seed, cell(maxk_study::stats::paired(std::slice::from_ref(row))))
            })
            .collect();
        let i = maxk_study::stats::paired(&d);
        let v = difference(i);
        improved_all &= v == Outcome::Holds;
        let at_rollout = if rollout {
            let j = maxk_study::stats::paired(&diffs(runs, &base, k, Protocol::Rollout)?);
            format!(" {} ({}) |", cell(j), difference(j))
        } else {
            String::new()
        };
        let word = match v {
            Outcome::Holds => "improved",
            Outcome::DoesNotHold => "worse",
            Outcome::Inconclusive => "no significant change",
        };
        let _ = writeln!(
            s,
            "| {label} | pass@{k} | {} | {} | {word} |{at_rollout}",
            per_seed.join("; "),
            cell(i)
        );
    }
    let _ = writeln!(
        s,
        "\nEvery RL run improved its own objective: **{}**.\n",
        if improved_all { "yes" } else { "no (see the rows above)" }
    );
    Ok(())
}

/// The MaxPO runs trained at `k` other than the K sweep's extra runs: the group of label
/// `maxpo` (one training K) or `maxpo-K<k>` (several).
fn maxpo_at<'a, 'b>(cx: &'b Context<'a>, k: usize) -> Option<&'b Group<'a>> {
    cx.rl_groups().find(|(l, runs)| l.estimator() == Some(Estimator::Maxpo) && runs.iter().all(|r| r.k == k))
}

/// MaxPO minus every other estimator trained at the same K, at the table's k.
fn maxpo_against_peers(s: &mut String, cx: &Context<'_>) -> Result<()> {
    let _ = writeln!(s, "## MaxPO against each alternative\n");
    if cx.results.config.study.is_some() {
        let _ = writeln!(
            s,
            "Unadjusted 95% intervals, one per cell: the verdicts that correct for the number of comparisons \
             are those of the pre-declared endpoints above.\n"
        );
    }
    // Every other estimator's runs with the MaxPO runs of the same training K.
    let pairs: Vec<(&Group<'_>, &Group<'_>)> = cx
        .rl_groups()
        .filter(|(l, _)| l.estimator() != Some(Estimator::Maxpo))
        .filter_map(|peer| Some((peer, maxpo_at(cx, peer.1.first()?.k)?)))
        .collect();
    if !cx.rl_groups().any(|(l, _)| l.estimator() == Some(Estimator::Maxpo)) {
        let _ = writeln!(s, "(no `maxpo` run)\n");
        return Ok(());
    }
    let n = cx.n;
    let _ = write!(s, "| MaxPO − peer |");
    for k in &cx.table_ks {
        let _ = write!(s, " pass@{k} |");
    }
    let _ = writeln!(s, " unadjusted verdict at pass@{n} |\n|---|{}---|", "---|".repeat(cx.table_ks.len()));
    for ((peer, other), (_, maxpo)) in pairs {
        let _ = write!(s, "| {peer} |");
        let mut last = None;
        for &k in &cx.table_ks {
            let i = compare(maxpo, other, k)?;
            let _ = write!(s, " {} |", cell(i));
            last = Some(i);
        }
        let _ = writeln!(s, " {} |", last.map_or(Outcome::Inconclusive, difference));
    }
    let _ = writeln!(s);
    Ok(())
}

/// MaxPO trained at different K (when it was): pass@k and the difference to the base model.
fn ksweep(s: &mut String, cx: &Context<'_>) -> Result<()> {
    let sweep = cx.maxpo_by_k();
    if sweep.len() < 2 {
        return Ok(());
    }
    let (c, n) = (&cx.results.config, cx.n);
    let _ = writeln!(s, "## K sweep: MaxPO trained at different K\n");
    let _ = writeln!(
        s,
        "Same base models, seeds, N = {} and lr ({}); task-average pass@k, mean over seeds, and \
         each run minus the base model with its interval.\n",
        c.rl.group_size,
        c.rl.lr_for(Estimator::Maxpo)
    );
    let _ = write!(s, "| training K |");
    for k in &cx.table_ks {
        let _ = write!(s, " pass@{k} |");
    }
    let _ =
        writeln!(s, " pass@1 − base | pass@{n} − base |\n|---|{}---|---|", "---|".repeat(cx.table_ks.len()));
    let base = cx.base();
    for (label, runs) in sweep {
        let (mean, _, _) = spread(&runs.iter().map(|r| average(&r.evals)).collect::<Vec<_>>());
        let _ = write!(s, "| K = {} (`{label}`) |", runs.first().map_or(0, |r| r.k));
        for &k in &cx.table_ks {
            let _ = write!(s, " {:.3} |", mean[cx.col(k)]);
        }
        let _ = writeln!(s, " {} | {} |", cell(compare(runs, &base, 1)?), cell(compare(runs, &base, n)?));
    }
    let _ = writeln!(s, "\n![K sweep](figures/ksweep.png)\n");
    Ok(())
}

/// pass@k of every label on every benchmark at the table's k (mean over seeds).
fn passk_per_benchmark(s: &mut String, cx: &Context<'_>) {
    let k_names: Vec<String> = cx.table_ks.iter().map(|k| format!("k={k}")).collect();
    let _ = writeln!(s, "## pass@k per benchmark ({}; mean over seeds)\n", k_names.join(" / "));
    let _ = writeln!(s, "| model | {} |", cx.tasks.join(" | "));
    let _ = writeln!(s, "|---|{}", "---|".repeat(cx.tasks.len()));
    for (label, runs) in &cx.groups {
        let _ = write!(s, "| {label} |");
        for t in 0..cx.tasks.len() {
            let (m, _, _) = spread(&runs.iter().map(|r| r.evals[t].pass_at_k.clone()).collect::<Vec<_>>());
            let cells: Vec<String> = cx.table_ks.iter().map(|&k| format!("{:.3}", m[cx.col(k)])).collect();
            let _ = write!(s, " {} |", cells.join(" / "));
        }
        let _ = writeln!(s);
    }
    let _ = writeln!(s, "\n![pass@k per benchmark](figures/passk_benchmarks.png)\n");
}

/// Reward, pass@K and entropy over the first and last 5 RL steps.
fn training_curves(s: &mut String, cx: &Context<'_>) {
    let c = &cx.results.config;
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
    for (label, runs) in cx.rl_groups() {
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
}

/// Problem- and solution-level support against the base model, with SRR and NDR.
fn support(s: &mut String, cx: &Context<'_>) {
    let n = cx.n;
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
    for r in &cx.support {
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
}

/// The Adam-moment variance proxy, mean over RL steps then seeds.
fn variance_proxy(s: &mut String, cx: &Context<'_>) {
    let clip = cx.results.config.rl.adam.grad_clip;
    let _ = writeln!(s, "## Adam-moment variance proxy (secondary)\n");
    let _ = writeln!(
        s,
        "`Var(g) ~ mean_params(v_hat - m_hat^2)` after every RL update, from the gradients Adam saw \
         (gradient clipping {}). It compares different training trajectories, so it is \
         confounded by where each run is; `maxk lm gradvar` measures every estimator from the same \
         rollouts instead. Table: mean over RL steps, then over seeds.\n",
        if clip > 0.0 { format!("at norm {clip}: clipped steps are in it") } else { "off: unclipped".into() }
    );
    let _ = writeln!(s, "| run | mean Var(g) proxy |\n|---|---|");
    for (label, runs) in cx.rl_groups() {
        let per_run = runs.iter().map(|r| r.var_proxy.iter().sum::<f64>() / r.var_proxy.len().max(1) as f64);
        let m = per_run.sum::<f64>() / runs.len() as f64;
        let _ = writeln!(s, "| {label} | {m:.3e} |");
    }
    let _ = writeln!(s, "\n![variance proxy](figures/variance.png)\n");
}
