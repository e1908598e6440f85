//! The paper's claims, each checked against the measured data, and `report.md`.
//!
//! Verdicts are computed, never written in: a claim is **confirmed** when every measured
//! comparison it implies holds with its 95% interval (or test) on the right side,
//! **refuted** when one is significantly on the wrong side, and **mixed** otherwise.

use std::fmt::Write as _;

use maxk_core::Estimator;
use serde::Serialize;

use crate::bandit_runs::{Centering, ErrorResult, VarianceResult};
use crate::config::Config;
use crate::maze_runs::{MazeFinal, MazeResult};
use crate::stats::{Ci, Curve};

/// z above which a bias is declared (|bias| / noise floor); an unbiased estimator's z is
/// about 1.
pub const BIAS_Z: f64 = 3.0;
/// z from which an estimator that should be unbiased counts as refuting the claim.
pub const REFUTE_Z: f64 = 5.0;
/// Largest `|sum_i A_i| / max_i |A_i|` accepted as "exactly zero" (rounding only).
pub const CENTERED_TOL: f64 = 1e-9;

/// A claim's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// Every comparison holds.
    Confirmed,
    /// At least one comparison significantly contradicts it.
    Refuted,
    /// Neither: some hold, some are inconclusive or go the other way.
    Mixed,
    /// The experiment (or an estimator it needs) was not run.
    NotRun,
}

impl Verdict {
    /// The word used in the report.
    pub fn word(self) -> &'static str {
        match self {
            Verdict::Confirmed => "**confirmed**",
            Verdict::Refuted => "**refuted**",
            Verdict::Mixed => "**mixed**",
            Verdict::NotRun => "not run",
        }
    }
}

/// One paper claim with what was measured and the verdict.
#[derive(Debug, Clone, Serialize)]
pub struct Claim {
    /// Short stable id.
    pub id: &'static str,
    /// The claim, in words.
    pub claim: String,
    /// Where it comes from.
    pub source: &'static str,
    /// The measured figures behind the verdict.
    pub measured: String,
    /// The verdict.
    pub verdict: Verdict,
}

/// Everything the experiments produced (absent ones were not run).
#[derive(Debug, Default)]
pub struct Results {
    /// Experiment 1.
    pub error: Option<ErrorResult>,
    /// Experiment 2.
    pub actions: Option<VarianceResult>,
    /// Experiment 3.
    pub k: Option<VarianceResult>,
    /// Experiment 4.
    pub maze: Option<MazeResult>,
}

const PAPER: &str = "arXiv 2606.06080";

/// Checks every claim against `r`.
pub fn claims(r: &Results, cfg: &Config) -> Vec<Claim> {
    vec![
        unbiasedness(r),
        centering(r),
        l2o_variance(r),
        lowest_variance(r),
        maze_claim(r, cfg),
        maze_centering_claim(r, cfg),
    ]
}

fn not_run(id: &'static str, claim: &str, source: &'static str, why: &str) -> Claim {
    Claim { id, claim: claim.to_string(), source, measured: why.to_string(), verdict: Verdict::NotRun }
}

fn unbiasedness(r: &Results) -> Claim {
    let claim = "At the PG scale, pkpo, pkpo-loo, pkpo-loo1, ei, maxpo and canonical are unbiased estimates of \
                 grad J_K; grpo (std normalisation) and rloo at K > 1 are not";
    let source = "PKPO (arXiv 2505.15201) eq. 19/29/33; arXiv 2606.06080; MATH.md table";
    let Some(e) = &r.error else {
        return not_run("pg-unbiased", claim, source, "experiment bandit-error not run");
    };
    let checks: Vec<_> =
        e.variants.iter().flat_map(|v| v.bias.iter().map(move |b| (v.name.as_str(), b))).collect();
    let unb: Vec<_> = checks.iter().filter(|(_, b)| b.expected_unbiased).collect();
    let biased: Vec<_> = checks.iter().filter(|(_, b)| !b.expected_unbiased).collect();
    let worst = unb.iter().max_by(|a, b| a.1.z.total_cmp(&b.1.z));
    let weakest = biased.iter().min_by(|a, b| a.1.z.total_cmp(&b.1.z));
    let mut measured = String::new();
    if let Some((v, b)) = worst {
        let _ = write!(
            measured,
            "largest bias among the unbiased ones: {} ({v}) at {:.2} noise floors (relative bias {:.2e}, \
             error slope {:.2} vs -0.5); ",
            b.estimator, b.z, b.rel_bias, b.slope
        );
    }
    match weakest {
        Some((v, b)) => {
            let _ = write!(
                measured,
                "smallest bias among the biased controls: {} ({v}) at {:.1} noise floors (relative bias {:.2e}, slope {:.2})",
                b.estimator, b.z, b.rel_bias, b.slope
            );
        }
        None => measured.push_str("no biased control was compared"),
    }
    let unb_ok = unb.iter().all(|(_, b)| b.z < BIAS_Z);
    let ctrl_ok = biased.iter().all(|(_, b)| b.z > BIAS_Z);
    let verdict = if unb.is_empty() {
        Verdict::NotRun
    } else if unb.iter().any(|(_, b)| b.z >= REFUTE_Z) {
        Verdict::Refuted
    } else if unb_ok && ctrl_ok {
        Verdict::Confirmed
    } else {
        Verdict::Mixed
    };
    Claim { id: "pg-unbiased", claim: claim.to_string(), source, measured, verdict }
}

fn all_centering(r: &Results) -> Vec<&Centering> {
    let mut out: Vec<&Centering> = Vec::new();
    if let Some(e) = &r.error {
        out.extend(e.variants.iter().flat_map(|v| &v.centering));
    }
    for v in [&r.actions, &r.k].into_iter().flatten() {
        out.extend(&v.centering);
    }
    out
}

fn centering(r: &Results) -> Claim {
    let claim = "MaxPO (EI minus the Leave-Two-Out baseline) and the canonical advantage sum to exactly zero in \
                 every group; raw EI does not (its sum is never negative)";
    let source = "arXiv 2606.06080, centering identity (MATH.md, \"Why it works\")";
    let all = all_centering(r);
    let worst = |id: &str| {
        all.iter()
            .filter(|c| c.estimator == id)
            .map(|c| c.max_rel_sum)
            .fold(None, |m: Option<f64>, x| Some(m.map_or(x, |m| m.max(x))))
    };
    let ei_mean = {
        let v: Vec<f64> = all.iter().filter(|c| c.estimator == "ei").map(|c| c.mean_rel_sum).collect();
        (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
    };
    let centered: Vec<(&str, f64)> =
        ["maxpo", "canonical"].into_iter().filter_map(|id| worst(id).map(|w| (id, w))).collect();
    if centered.is_empty() {
        return not_run(
            "exact-centering",
            claim,
            source,
            "no bandit experiment with maxpo or canonical was run",
        );
    }
    let mut measured = centered
        .iter()
        .map(|(id, w)| format!("{id}: max |sum A_i| / max |A_i| = {w:.1e} over every bandit batch"))
        .collect::<Vec<_>>()
        .join("; ");
    if let Some(m) = ei_mean {
        let _ = write!(measured, "; ei: mean sum A_i / max |A_i| = {m:.2}");
    }
    let verdict = if centered.iter().all(|(_, w)| *w <= CENTERED_TOL) && ei_mean.is_none_or(|m| m > 0.0) {
        Verdict::Confirmed
    } else {
        Verdict::Refuted
    };
    Claim { id: "exact-centering", claim: claim.to_string(), source, measured, verdict }
}

fn ratio_curve<'a>(v: &'a VarianceResult, id: &str) -> Option<&'a Curve> {
    (v.reference == "maxpo").then(|| v.ratios.iter().find(|c| c.name == id)).flatten()
}

fn l2o_variance(r: &Results) -> Claim {
    let claim = "Subtracting the Leave-Two-Out baseline lowers the variance: MaxPO beats raw EI (= pkpo-loo1 at the \
                 PG scale) in large action spaces, while in very small ones raw EI can be lower";
    let source = "arXiv 2606.06080 (MATH.md, \"Why centering helps\")";
    let Some(v) = &r.actions else {
        return not_run("l2o-variance", claim, source, "experiment bandit-actions not run");
    };
    let Some(ratio) = ratio_curve(v, "ei").or_else(|| ratio_curve(v, "pkpo-loo1")) else {
        return not_run("l2o-variance", claim, source, "needs maxpo and ei (or pkpo-loo1) in `estimators`");
    };
    let (Some(first), Some(last)) = (ratio.ci.first(), ratio.ci.last()) else {
        return not_run("l2o-variance", claim, source, "no action-space size was run");
    };
    let (a0, a1) = (ratio.x[0], ratio.x[ratio.x.len() - 1]);
    // Crossover: the smallest A from which the mean ratio stays above 1.
    let crossover =
        (0..ratio.x.len()).find(|&i| ratio.ci[i..].iter().all(|c| c.mean > 1.0)).map(|i| ratio.x[i]);
    let mut measured = format!(
        "variance of {} / variance of maxpo = {} at A = {a0} and {} at A = {a1}",
        ratio.name,
        fmt_ci(first),
        fmt_ci(last)
    );
    match crossover {
        Some(x) if x > a0 => {
            let _ = write!(measured, "; MaxPO is lower from A = {x} on");
        }
        Some(_) => measured.push_str("; MaxPO is lower at every A"),
        None => measured.push_str("; MaxPO is not lower at the largest A"),
    }
    if let Some(kv) = r.k.as_ref().and_then(|k| ratio_curve(k, &ratio.name)) {
        let above = kv.ci.iter().filter(|c| c.above(1.0)).count();
        let below: Vec<String> =
            kv.x.iter().zip(&kv.ci).filter(|(_, c)| c.below(1.0)).map(|(x, _)| x.to_string()).collect();
        let _ = write!(
            measured,
            "; vs K (fixed A): MaxPO significantly lower at {above} of {} K values",
            kv.ci.len()
        );
        if !below.is_empty() {
            let _ = write!(measured, ", significantly higher at K = {}", below.join(", "));
        }
    }
    let verdict = if last.above(1.0) {
        Verdict::Confirmed
    } else if last.below(1.0) {
        Verdict::Refuted
    } else {
        Verdict::Mixed
    };
    Claim { id: "l2o-variance", claim: claim.to_string(), source, measured, verdict }
}

fn lowest_variance(r: &Results) -> Claim {
    let claim = "MaxPO has the lowest gradient variance among the unbiased max@K estimators \
                 (pkpo, pkpo-loo, pkpo-loo1, ei) across action-space sizes and K";
    let source = "arXiv 2606.06080";
    let mut better = 0;
    let mut worse = Vec::new();
    let mut total = 0;
    for v in [&r.actions, &r.k] {
        let Some(v) = v else { continue };
        for c in &v.ratios {
            let Ok(e) = c.name.parse::<Estimator>() else { continue };
            let peer =
                matches!(e, Estimator::Pkpo | Estimator::PkpoLoo | Estimator::PkpoLoo1 | Estimator::Ei);
            if v.reference != "maxpo" || !peer {
                continue;
            }
            for (i, ci) in c.ci.iter().enumerate() {
                total += 1;
                if ci.above(1.0) {
                    better += 1;
                } else if ci.below(1.0) {
                    worse.push(format!("{} at {} = {}", c.name, v.x_name, c.x[i]));
                }
            }
        }
    }
    if total == 0 {
        return not_run(
            "maxpo-lowest-variance",
            claim,
            source,
            "needs the variance experiments with maxpo and an unbiased peer",
        );
    }
    let mut measured = format!(
        "in {better} of {total} (estimator, setting) comparisons MaxPO's variance is significantly lower; \
         significantly higher in {}",
        worse.len()
    );
    if !worse.is_empty() {
        let shown: Vec<&str> = worse.iter().take(6).map(String::as_str).collect();
        let _ = write!(measured, " ({}{})", shown.join(", "), if worse.len() > 6 { ", ..." } else { "" });
    }
    let verdict = if worse.is_empty() && better * 2 > total {
        Verdict::Confirmed
    } else if worse.len() * 2 > total {
        Verdict::Refuted
    } else {
        Verdict::Mixed
    };
    Claim { id: "maxpo-lowest-variance", claim: claim.to_string(), source, measured, verdict }
}

/// Paired (same seed, same random stream) difference of mean exact pass@K over training.
fn paired_diff(a: &MazeFinal, b: &MazeFinal) -> Ci {
    let d: Vec<f64> =
        a.mean_pass_at_k_per_seed.iter().zip(&b.mean_pass_at_k_per_seed).map(|(x, y)| x - y).collect();
    Ci::of(&d)
}

/// Confirmed when every paired difference is significantly positive, refuted when one is
/// significantly negative, mixed otherwise.
fn verdict_of_diffs(diffs: &[Ci]) -> Verdict {
    if diffs.iter().all(|d| d.above(0.0)) {
        Verdict::Confirmed
    } else if diffs.iter().any(|d| d.below(0.0)) {
        Verdict::Refuted
    } else {
        Verdict::Mixed
    }
}

fn maze_claim(r: &Results, cfg: &Config) -> Claim {
    let claim = "In the biased maze, max@K training with MaxPO escapes the biased initial policy faster (higher exact \
                 pass@K averaged over training) than mean-reward training with GRPO and RLOO";
    let source = "arXiv 2606.06080, Biased Maze experiment (our re-creation; settings in config.toml)";
    let Some(m) = &r.maze else { return not_run("maze", claim, source, "experiment maze not run") };
    let find = |id: &str| m.finals.iter().find(|f| f.estimator == id);
    let Some(maxpo) = find("maxpo") else {
        return not_run("maze", claim, source, "maxpo not in `estimators`");
    };
    let baselines: Vec<_> = ["grpo", "rloo"].into_iter().filter_map(find).collect();
    if baselines.is_empty() {
        return not_run("maze", claim, source, "neither grpo nor rloo in `estimators`");
    }
    let k = cfg.maze.k;
    let mut parts = vec![format!(
        "maxpo: mean pass@{k} over training {}, final pass@{k} {}, final return {}",
        fmt_ci(&maxpo.mean_pass_at_k),
        fmt_ci(&maxpo.final_pass_at_k),
        fmt_ci(&maxpo.final_return),
    )];
    let mut diffs = Vec::new();
    for b in &baselines {
        let ci = paired_diff(maxpo, b);
        parts.push(format!(
            "{}: mean {}, final {}, final return {}; paired difference of the mean, maxpo - {} = {}",
            b.estimator,
            fmt_ci(&b.mean_pass_at_k),
            fmt_ci(&b.final_pass_at_k),
            fmt_ci(&b.final_return),
            b.estimator,
            fmt_ci(&ci)
        ));
        diffs.push(ci);
    }
    let mut measured = parts.join("; ");
    let behind: Vec<&str> = baselines
        .iter()
        .filter(|b| b.final_return.above(maxpo.final_return.hi))
        .map(|b| b.estimator.as_str())
        .collect();
    if !behind.is_empty() {
        let _ = write!(
            measured,
            ". Not claimed by the paper but measured: by the last update the average return of {} is higher \
             than maxpo's: mean-reward training pushes every episode to the goal, while max@{k} saturates once \
             one of {k} episodes is likely to succeed",
            behind.join(" and ")
        );
    }
    Claim { id: "maze", claim: claim.to_string(), source, measured, verdict: verdict_of_diffs(&diffs) }
}

fn maze_centering_claim(r: &Results, cfg: &Config) -> Claim {
    let claim = "In the biased maze, centered MaxPO trains better (higher exact pass@K averaged over training) \
                 than the non-centered unbiased estimators pkpo, pkpo-loo and EI (= pkpo-loo1 at the PG scale)";
    let source = "arXiv 2606.06080 (abstract: the L2O baseline \"outperforms non-centered alternatives\")";
    let id = "maze-centering";
    let Some(m) = &r.maze else { return not_run(id, claim, source, "experiment maze not run") };
    let find = |id: &str| m.finals.iter().find(|f| f.estimator == id);
    let Some(maxpo) = find("maxpo") else {
        return not_run(id, claim, source, "maxpo not in `estimators`");
    };
    // ei and pkpo-loo1 train identically at the PG scale: compare with one of them.
    let ei = find("ei").or_else(|| find("pkpo-loo1"));
    let peers: Vec<&MazeFinal> = [find("pkpo"), find("pkpo-loo"), ei].into_iter().flatten().collect();
    if peers.is_empty() {
        return not_run(id, claim, source, "no non-centered estimator in `estimators`");
    }
    let k = cfg.maze.k;
    let diffs: Vec<Ci> = peers.iter().map(|p| paired_diff(maxpo, p)).collect();
    let measured = peers
        .iter()
        .zip(&diffs)
        .map(|(p, d)| {
            format!(
                "maxpo - {}: {} (mean pass@{k} {} vs {})",
                p.estimator,
                fmt_ci(d),
                fmt_ci(&maxpo.mean_pass_at_k),
                fmt_ci(&p.mean_pass_at_k)
            )
        })
        .collect::<Vec<_>>()
        .join("; ");
    Claim { id, claim: claim.to_string(), source, measured, verdict: verdict_of_diffs(&diffs) }
}

/// Text safe inside a Markdown table cell (`|` would end the cell).
fn cell(text: &str) -> String {
    text.replace('|', "\\|")
}

/// `mean [lo, hi]` with 3 significant digits.
pub fn fmt_ci(c: &Ci) -> String {
    format!("{} [{}, {}]", sig(c.mean), sig(c.lo), sig(c.hi))
}

fn sig(x: f64) -> String {
    if x == 0.0 || !x.is_finite() {
        return format!("{x}");
    }
    let mag = x.abs().log10().floor();
    if !(-3.0..5.0).contains(&mag) {
        return format!("{x:.2e}");
    }
    let d = (2.0 - mag).clamp(0.0, 6.0) as usize;
    format!("{x:.d$}")
}

/// What the report needs besides the results.
pub struct ReportInput<'a> {
    /// The resolved config.
    pub config: &'a Config,
    /// The results.
    pub results: &'a Results,
    /// The claims (from [`claims`]).
    pub claims: &'a [Claim],
    /// Seconds per experiment, in run order.
    pub seconds: &'a [(String, f64)],
}

/// The full `report.md`.
pub fn markdown(inp: &ReportInput<'_>) -> String {
    let cfg = inp.config;
    let r = inp.results;
    let mut s = String::new();
    let total: f64 = inp.seconds.iter().map(|x| x.1).sum();
    let _ = writeln!(s, "# maxk reproduce: report\n");
    let _ = writeln!(
        s,
        "Synthetic experiments of *On Advantage Estimates for Max@K Policy Gradients* ({PAPER}) re-created with \
         maxk {} (our settings; the paper's exact ones are not public). Every estimator is computed by \
         `maxk-core` at the PG scale (`Spec::new(est, k).with_scale(Scale::Pg)`), so an unbiased one estimates \
         grad J_K itself. Master seed {}, {} seeds per setting; bands and intervals are 95% Student-t intervals \
         over seeds. At the PG scale pkpo-loo1 equals ei and canonical equals maxpo exactly (docs/MATH.md, \
         \"Estimators in one basis\"), so their lines coincide (the twins are drawn dashed). Total time {:.1} s. \
         Every setting is in [`config.toml`](config.toml): `maxk reproduce --config config.toml` (plus the \
         same `--only`, if any) re-runs this with the same numbers. Numbers: [`summary.json`](summary.json) \
         and the CSV files.\n",
        env!("CARGO_PKG_VERSION"),
        cfg.seed,
        cfg.seeds,
        total
    );
    let _ = writeln!(s, "## Claims\n");
    let _ = writeln!(s, "| claim | measured | verdict |\n|---|---|---|");
    for c in inp.claims {
        let _ = writeln!(
            s,
            "| **{}**: {} ({}) | {} | {} |",
            c.id,
            cell(&c.claim),
            cell(c.source),
            cell(&c.measured),
            c.verdict.word()
        );
    }
    let _ = writeln!(
        s,
        "\nRules: bias is declared when |bias| exceeds {BIAS_Z} noise floors (refuted from {REFUTE_Z}); \
         \"exactly zero\" means |sum A_i| / max |A_i| <= {CENTERED_TOL:.0e}; variance and maze comparisons \
         need the 95% interval of the ratio (or paired difference) to exclude 1 (or 0).\n"
    );
    if let Some(e) = &r.error {
        error_section(&mut s, e, cfg);
    }
    if let Some(v) = &r.actions {
        let c = &cfg.bandit_actions;
        let _ = writeln!(s, "## Experiment 2: variance vs action-space size\n");
        let _ = writeln!(
            s,
            "A fresh random instance per seed (logits ~ N(0, {}²), rewards ~ U(0, 1)); N = {}, K = {}, {} batches \
             per (A, seed). Relative variance = tr Cov(g) / ||grad J_K||² of one batch's estimate.\n",
            c.logit_std, c.n, c.k, c.batches
        );
        variance_section(&mut s, v, "bandit_actions", "A");
    }
    if let Some(v) = &r.k {
        let c = &cfg.bandit_k;
        let _ = writeln!(s, "## Experiment 3: variance vs K\n");
        let _ = writeln!(
            s,
            "A = {}, N = {}, {} batches per (K, seed), a fresh instance per seed. rloo and grpo ignore K (they \
             target J_1), so their variance is shown for reference only.\n",
            c.actions, c.n, c.batches
        );
        variance_section(&mut s, v, "bandit_k", "K");
    }
    if let Some(m) = &r.maze {
        maze_section(&mut s, m, cfg);
    }
    let _ = writeln!(s, "## Timing\n\n| experiment | seconds |\n|---|---|");
    for (name, secs) in inp.seconds {
        let _ = writeln!(s, "| {name} | {secs:.1} |");
    }
    s
}

fn error_section(s: &mut String, e: &ErrorResult, cfg: &Config) {
    let c = &cfg.bandit_error;
    let _ = writeln!(s, "## Experiment 1: gradient estimation error\n");
    let _ = writeln!(
        s,
        "One random softmax bandit (A = {}, logits ~ N(0, {}²), rewards ~ U(0, 1)) and its binary twin (the best \
         {:.0}% of actions rewarded 1, so J_K is pass@K); N = {}, K = {}. The exact J_K and grad J_K come from the \
         order statistics of the categorical distribution. Each seed averages up to M = {} batch gradients.\n",
        c.actions,
        c.logit_std,
        100.0 * c.binary_fraction,
        c.n,
        c.k,
        c.max_batches
    );
    let _ = writeln!(s, "![estimation error](bandit_error.png)\n");
    let _ = writeln!(
        s,
        "z = ||pooled mean - grad J_K|| / noise floor over all {} x {} batches (about 1 when unbiased); slope = \
         log-log slope of the error over the upper half of the M grid (-0.5 when unbiased).\n",
        cfg.seeds, c.max_batches
    );
    for v in &e.variants {
        let _ = writeln!(
            s,
            "**{}** rewards: J_K = {:.4}, ||grad J_K|| = {:.4}\n\n| estimator | unbiased (expected) | rel. error at M = {} | z | slope | max sum A / max A |\n|---|---|---|---|---|---|",
            v.name, v.objective, v.grad_norm, c.max_batches
        );
        for ((b, curve), cen) in v.bias.iter().zip(&v.curves).zip(&v.centering) {
            let last = curve.last().map(|c| fmt_ci(&c)).unwrap_or_default();
            let _ = writeln!(
                s,
                "| {} | {} | {} | {:.2} | {:.2} | {} |",
                b.estimator,
                if b.expected_unbiased { "yes" } else { "no" },
                last,
                b.z,
                b.slope,
                sig(cen.max_rel_sum)
            );
        }
        s.push('\n');
    }
}

fn variance_section(s: &mut String, v: &VarianceResult, stem: &str, x: &str) {
    let _ = writeln!(s, "![variance vs {x}]({stem}.png)\n");
    let Some(first) = v.curves.first() else { return };
    let _ = write!(
        s,
        "Relative variance, geometric mean over seeds (per-seed ratio to {} in brackets)\n\n| estimator |",
        v.reference
    );
    for xv in &first.x {
        let _ = write!(s, " {x} = {xv} |");
    }
    let _ = writeln!(s, "\n|---|{}", "---|".repeat(first.x.len()));
    for (c, ratio) in v.curves.iter().zip(&v.ratios) {
        let _ = write!(s, "| {} |", c.name);
        for (ci, rc) in c.ci.iter().zip(&ratio.ci) {
            let _ = write!(s, " {} ({}) |", sig(ci.mean), sig(rc.mean));
        }
        s.push('\n');
    }
    s.push('\n');
    if let Some(ei) = v.ratios.iter().find(|c| c.name == "ei") {
        let pts: Vec<String> = ei.x.iter().zip(&ei.ci).map(|(x, c)| format!("{x}: {}", fmt_ci(c))).collect();
        let _ = writeln!(s, "Variance of ei / variance of {} by {x}: {}.\n", v.reference, pts.join("; "));
    }
}

fn maze_section(s: &mut String, m: &MazeResult, cfg: &Config) {
    let c = &cfg.maze;
    let _ = writeln!(s, "## Experiment 4: biased maze\n");
    let _ = writeln!(
        s,
        "A corridor of {} binary decisions; the correct action is 1 except at the trap depths {:?} where it is 0. \
         A correct action moves forward for +1, a wrong one ends the episode (paying a bait of {} at a trap). \
         Tabular softmax policy initialised to P(action 1) = {} everywhere (the bias), N = {} episodes per \
         update, K = {}, {} updates of REINFORCE with learning rate {} on the advantages of the returns. \
         Curves: moving average over {} updates for return and success rate; exact P(action 1) at the traps and \
         exact pass@K = 1 - (1 - p_success)^K with p_success the product of the correct-action probabilities.\n",
        c.depth, c.traps, c.bait, c.init_p1, c.n, c.k, c.updates, c.lr, c.window
    );
    let _ = writeln!(s, "![biased maze](maze.png)\n");
    let _ = writeln!(
        s,
        "Mean pass@K over training: the exact pass@K averaged over all updates (speed and level together). \
         Final return: mean group return over the last {} updates. Seeds solved: final exact success \
         probability p_success >= 0.5.\n",
        c.window.min(c.updates)
    );
    let _ = writeln!(
        s,
        "| estimator | mean pass@{k} over training | final pass@{k} | final return | seeds solved |\n|---|---|---|---|---|",
        k = m.k
    );
    for f in &m.finals {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {:.0}% |",
            f.estimator,
            fmt_ci(&f.mean_pass_at_k),
            fmt_ci(&f.final_pass_at_k),
            fmt_ci(&f.final_return),
            100.0 * f.solved_fraction
        );
    }
    s.push('\n');
}
