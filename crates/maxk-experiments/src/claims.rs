//! The claims tested, each measured from the typed results and decided by one rule of
//! [`maxk_study::verdict`]. This module only gathers numbers and words; every decision is a call
//! to a pure rule whose text ([`Claim::rule`]) the report prints.
//!
//! What the paper (arXiv 2606.06080) is credited with is kept to what its public text (the
//! abstract and figure captions) says; where a claim is maxk's own reading or check, its
//! `source` says so.

use std::fmt::Write as _;

use maxk_core::Estimator;
use serde::Serialize;

use crate::bandit_runs::{BiasCheck, Centering, ErrorResult, Role, VarianceResult};
use crate::config::Config;
use crate::maze_runs::{MazeEstimator, MazeFinal, MazeResult, MazeVariant};
use crate::stats::Ci;
use crate::variance_map::{Family, MapResult};
use maxk_study::verdict::{self, Verdict};

/// One claim with what was measured, the rule and the verdict.
#[derive(Debug, Clone, Serialize)]
pub struct Claim {
    /// Short stable id.
    pub id: String,
    /// The claim, in words.
    pub claim: String,
    /// Where it comes from.
    pub source: &'static str,
    /// The measured figures behind the verdict.
    pub measured: String,
    /// The rule that decided the verdict, as coded ([`maxk_study::verdict`]).
    pub rule: &'static str,
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
    pub map: Option<MapResult>,
    /// Experiment 5.
    pub maze: Option<MazeResult>,
}

/// Checks every claim against `r`.
pub fn claims(r: &Results, cfg: &Config) -> Vec<Claim> {
    let mut out = vec![unbiasedness(r), test_power(r), centering(r)];
    out.extend(l2o_map(r));
    out.extend(lower_variance(r));
    match &r.maze {
        Some(m) => {
            for v in &m.variants {
                out.extend(maze_vs_mean_reward(v, cfg));
                out.extend(maze_centering(v, cfg));
            }
        }
        None => {
            out.push(not_run(
                "maze",
                MAZE_CLAIM,
                MAZE_SOURCE,
                verdict::RULE_MAJORITY,
                "experiment maze not run",
            ));
        }
    }
    out
}

fn not_run(id: &str, claim: &str, source: &'static str, rule: &'static str, why: &str) -> Claim {
    Claim {
        id: id.to_string(),
        claim: claim.to_string(),
        source,
        measured: why.to_string(),
        rule,
        verdict: Verdict::NotRun,
    }
}

fn checks(e: &ErrorResult) -> Vec<(&str, &BiasCheck)> {
    e.variants.iter().flat_map(|v| v.bias.iter().map(move |b| (v.name.as_str(), b))).collect()
}

fn unbiasedness(r: &Results) -> Claim {
    let claim = "At the PG scale, pkpo, pkpo-loo, pkpo-loo1, ei, maxpo and canonical are unbiased estimates of \
                 grad J_K (estimators identical at this scale are tested once)";
    let source =
        "MaxPO unbiased: arXiv 2606.06080 (abstract); PKPO estimators: arXiv 2505.15201 eq. 19/29/33";
    let id = "pg-unbiased";
    let Some(e) = &r.error else {
        return not_run(id, claim, source, verdict::RULE_UNBIASED, "experiment bandit-error not run");
    };
    let all = checks(e);
    let unb: Vec<_> = all.iter().filter(|(_, b)| b.role == Role::Unbiased).collect();
    let z: Vec<f64> = unb.iter().flat_map(|(_, b)| [b.z, b.dir_z]).collect();
    let mut measured = String::new();
    let distinct =
        e.variants.first().map_or(0, |v| v.bias.iter().filter(|b| b.role == Role::Unbiased).count());
    if let Some((v, b)) = unb.iter().max_by(|a, b| a.1.z.max(a.1.dir_z).total_cmp(&b.1.z.max(b.1.dir_z))) {
        let _ = write!(
            measured,
            "{distinct} distinct estimators x {} reward variants; largest bias: {} ({v}) z = {:.2}, direction z = \
             {:.2} (relative bias {:.2e}, error slope {:.2} vs -0.5)",
            e.variants.len(),
            b.label,
            b.z,
            b.dir_z,
            b.rel_bias,
            b.slope
        );
    }
    if !e.twins.is_empty() {
        let t: Vec<String> = e.twins.iter().map(|(a, b)| format!("{a} = {b}")).collect();
        let _ = write!(measured, "; counted once: {}", t.join(", "));
    }
    let mean_reward: Vec<String> = all
        .iter()
        .filter(|(_, b)| b.role == Role::MeanReward)
        .map(|(v, b)| format!("{} ({v}) z = {:.0}", b.label, b.z))
        .collect();
    if !mean_reward.is_empty() {
        let _ = write!(measured, "; J_1 estimators, for reference: {}", mean_reward.join(", "));
    }
    Claim {
        id: id.to_string(),
        claim: claim.to_string(),
        source,
        measured,
        rule: verdict::RULE_UNBIASED,
        verdict: verdict::unbiased(&z),
    }
}

fn test_power(r: &Results) -> Claim {
    let claim = "The estimation-error test detects a real max@K bias: MaxPO and EI divided by the group's reward \
                 std (`--scale std`), and passk-analytic (binary rewards), aim at max@K but are biased for grad J_K";
    let source = "maxk's check of its own test (not a paper claim)";
    let id = "test-power";
    let Some(e) = &r.error else {
        return not_run(id, claim, source, verdict::RULE_DETECTS, "experiment bandit-error not run");
    };
    let ctrl: Vec<_> = checks(e).into_iter().filter(|(_, b)| b.role == Role::Control).collect();
    let measured = ctrl
        .iter()
        .map(|(v, b)| {
            format!(
                "{} ({v}): direction z = {:.1} (sin angle {:.1e}), full z = {:.1}",
                b.label, b.dir_z, b.dir_bias, b.z
            )
        })
        .collect::<Vec<_>>()
        .join("; ");
    let z: Vec<f64> = ctrl.iter().map(|(_, b)| b.dir_z).collect();
    let mut measured = measured;
    if ctrl.iter().any(|(v, _)| *v == "binary") {
        measured.push_str(
            ". With binary rewards in a single-state bandit every estimator's mean gradient is exactly parallel to \
             grad J_K (E g = X (pi+ - pi-), module `exact`), so a biased one differs only in size, which the full \
             z sees and a learning rate absorbs; no direction test can flag it there",
        );
    }
    Claim {
        id: id.to_string(),
        claim: claim.to_string(),
        source,
        measured: if measured.is_empty() { "no control configured".into() } else { measured },
        rule: verdict::RULE_DETECTS,
        verdict: verdict::detects(&z),
    }
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
    let claim = "MaxPO (EI minus the Leave-Two-Out baseline) sums to exactly zero in every group; raw EI does not \
                 (its sum is never negative)";
    let source =
        "the centering identity of the Leave-Two-Out baseline (arXiv 2606.06080), derived in docs/MATH.md";
    let id = "exact-centering";
    let all = all_centering(r);
    let of = |e: Estimator| all.iter().filter(move |c| c.estimator == e);
    let worst: Vec<f64> = of(Estimator::Maxpo).map(|c| c.max_rel_sum).collect();
    let ei: Vec<f64> = of(Estimator::Ei).map(|c| c.mean_rel_sum).collect();
    let ei_mean = (!ei.is_empty()).then(|| ei.iter().sum::<f64>() / ei.len() as f64);
    if worst.is_empty() {
        return not_run(id, claim, source, verdict::RULE_CENTERED, "no bandit experiment with maxpo was run");
    }
    let mut measured = format!(
        "maxpo: max |sum A_i| / max |A_i| = {:.1e} over every bandit batch",
        worst.iter().copied().fold(0.0, f64::max)
    );
    if let Some(m) = ei_mean {
        let _ = write!(measured, "; ei: mean sum A_i / max |A_i| = {m:.2}");
    }
    Claim {
        id: id.to_string(),
        claim: claim.to_string(),
        source,
        measured,
        rule: verdict::RULE_CENTERED,
        verdict: verdict::centered(&worst, ei_mean),
    }
}

/// One claim per reward family of the variance map: does the L2O baseline lower the variance
/// there (every A, N, K of the map)? Split by family because the answer depends on the success
/// rate; each is decided by the symmetric [`verdict::majority`] rule.
fn l2o_map(r: &Results) -> Vec<Claim> {
    let claim = "The Leave-Two-Out baseline lowers the gradient variance: Var(EI) / Var(MaxPO) > 1 at the PG scale, \
                 across the map's A, N and K";
    let source =
        "maxk's reading of arXiv 2606.06080 (a baseline to reduce variance); the regime map is maxk's";
    let Some(m) = &r.map else {
        return vec![not_run(
            "l2o-variance",
            claim,
            source,
            verdict::RULE_MAJORITY,
            "experiment variance-map not run",
        )];
    };
    m.families()
        .into_iter()
        .map(|f| {
            let cells: Vec<_> = m.cells.iter().filter(|c| c.family == f).collect();
            let lower = cells.iter().filter(|c| c.ratio.above(1.0)).count();
            let list = |pick: &dyn Fn(&Ci) -> bool| -> Vec<String> {
                cells
                    .iter()
                    .filter(|c| pick(&c.ratio))
                    .map(|c| format!("A={} N={} K={}: {}", c.actions, c.n, c.k, fmt_ci(&c.ratio)))
                    .collect()
            };
            let raise = list(&|c: &Ci| c.below(1.0));
            let what = if matches!(f, Family::Continuous) { "interval" } else { "exact value" };
            let range = |v: &[&crate::variance_map::Cell]| {
                let (lo, hi) = v.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), c| {
                    (a.min(c.ratio.mean), b.max(c.ratio.mean))
                });
                format!("{}–{}", sig(lo), sig(hi))
            };
            let mut measured = format!(
                "lowers in {lower} of {} cells ({what} > 1), raises in {}; ratios {}",
                cells.len(),
                raise.len(),
                range(&cells)
            );
            if !raise.is_empty() {
                let shown: Vec<&str> = raise.iter().take(4).map(String::as_str).collect();
                let _ = write!(
                    measured,
                    " (raises: {}{})",
                    shown.join("; "),
                    if raise.len() > 4 { "; ..." } else { "" }
                );
            }
            let id = match f {
                Family::Continuous => "l2o-variance-continuous".to_string(),
                Family::Binary { p } => format!("l2o-variance-binary-p{p}"),
            };
            let intervals: Vec<Ci> = cells.iter().map(|c| c.ratio).collect();
            Claim {
                id,
                claim: format!("{claim}; {}", f.label()),
                source,
                measured,
                rule: verdict::RULE_MAJORITY,
                verdict: verdict::majority(&intervals, 1.0),
            }
        })
        .collect()
}

/// One claim per unbiased max@K peer: is MaxPO's variance lower than that peer's across the
/// variance experiments (A and K sweeps, continuous and binary rewards)? Per peer, so that
/// the many comparisons against pkpo / pkpo-loo do not outvote the one against EI.
fn lower_variance(r: &Results) -> Vec<Claim> {
    let claim = "MaxPO has a lower gradient variance than";
    let source =
        "maxk's reading of arXiv 2606.06080; not a number or direction the paper's public text states";
    let peer = |e: Estimator| e != Estimator::Maxpo && e.uses_k() && e.is_unbiased();
    // (peer, interval, where)
    let mut all: Vec<(Estimator, Ci, String)> = Vec::new();
    for v in [&r.actions, &r.k].into_iter().flatten() {
        if v.reference != Estimator::Maxpo {
            continue;
        }
        let fams = std::iter::once(("continuous".to_string(), &v.ratios))
            .chain(v.binary.iter().map(|b| (format!("binary p = {}", b.p), &b.ratios)));
        for (fam, ratios) in fams {
            for (c, e) in ratios.iter().zip(&v.estimators) {
                if !peer(*e) {
                    continue;
                }
                for (x, ci) in c.x.iter().zip(&c.ci) {
                    // At K = 1 every peer is plain REINFORCE or RLOO: no max@K comparison.
                    if v.x_name == "K" && *x == 1.0 {
                        continue;
                    }
                    all.push((*e, *ci, format!("{fam} at {} = {x}", v.x_name)));
                }
            }
        }
    }
    let mut peers: Vec<Estimator> = Vec::new();
    for (e, _, _) in &all {
        if !peers.contains(e) {
            peers.push(*e);
        }
    }
    if peers.is_empty() {
        return vec![not_run(
            "maxpo-lower-variance",
            claim,
            source,
            verdict::RULE_MAJORITY,
            "needs the variance experiments with maxpo and an unbiased peer",
        )];
    }
    peers
        .into_iter()
        .map(|p| {
            let mine: Vec<&(Estimator, Ci, String)> = all.iter().filter(|x| x.0 == p).collect();
            let intervals: Vec<Ci> = mine.iter().map(|x| x.1).collect();
            let better = intervals.iter().filter(|c| c.above(1.0)).count();
            let worse: Vec<&str> = mine.iter().filter(|x| x.1.below(1.0)).map(|x| x.2.as_str()).collect();
            let mut measured = format!(
                "Var({p}) / Var(MaxPO) > 1 (MaxPO lower) in {better} of {} (family, setting) comparisons, < 1 in {}",
                intervals.len(),
                worse.len(),
                p = p.id()
            );
            if !worse.is_empty() {
                let shown: Vec<&str> = worse.iter().take(6).copied().collect();
                let _ = write!(measured, " ({}{})", shown.join(", "), if worse.len() > 6 { ", ..." } else { "" });
            }
            Claim {
                id: format!("maxpo-lower-variance-vs-{}", p.id()),
                claim: format!(
                    "{claim} {} (unbiased max@K, non-centered) across action-space sizes and K >= 2, continuous and \
                     binary rewards",
                    p.id()
                ),
                source,
                measured,
                rule: verdict::RULE_MAJORITY,
                verdict: verdict::majority(&intervals, 1.0),
            }
        })
        .collect()
}

/// Paired (same evaluation seed) difference of mean exact pass@K over training of two runs.
fn paired_diff(a: &MazeFinal, b: &MazeFinal) -> Ci {
    let d: Vec<f64> =
        a.mean_pass_at_k_per_seed.iter().zip(&b.mean_pass_at_k_per_seed).map(|(x, y)| x - y).collect();
    Ci::of(&d)
}

const MAZE_CLAIM: &str = "In the biased maze, max@K training with MaxPO beats mean-reward training (higher exact \
                          pass@K averaged over training), each estimator at its own tuned lr";
const MAZE_SOURCE: &str = "maxk's test of the paper's biased-maze experiment (arXiv 2606.06080); the paper's \
                           settings and numbers are not public";

fn suffix(v: &MazeVariant) -> &'static str {
    if v.bait == 0.0 { "" } else { "-lure" }
}

fn maze_line(k: usize, e: &MazeEstimator) -> String {
    format!("{} (lr {}): mean pass@{k} {}", e.estimator, sig(e.best_lr), fmt_ci(&e.tuned.mean_pass_at_k))
}

fn maze_vs_mean_reward(v: &MazeVariant, cfg: &Config) -> Vec<Claim> {
    let id = format!("maze{}", suffix(v));
    let claim = format!("{MAZE_CLAIM}; {}", v.label());
    let Some(maxpo) = v.find(Estimator::Maxpo) else {
        return vec![not_run(&id, &claim, MAZE_SOURCE, verdict::RULE_MAJORITY, "maxpo not in `estimators`")];
    };
    let peers: Vec<&MazeEstimator> =
        [Estimator::Grpo, Estimator::Rloo].into_iter().filter_map(|e| v.find(e)).collect();
    maze_comparisons(&id, &claim, MAZE_SOURCE, cfg.maze.k, maxpo, &peers)
}

fn maze_centering(v: &MazeVariant, cfg: &Config) -> Vec<Claim> {
    let id = format!("maze-centering{}", suffix(v));
    let claim = format!(
        "In the biased maze, centered MaxPO trains better (higher exact pass@K averaged over training) than a \
         non-centered unbiased max@K estimator, each at its own tuned lr; {}",
        v.label()
    );
    let source = "arXiv 2606.06080 (abstract: the baseline outperforms non-centered alternatives); maze settings \
                  are maxk's";
    let Some(maxpo) = v.find(Estimator::Maxpo) else {
        return vec![not_run(&id, &claim, source, verdict::RULE_MAJORITY, "maxpo not in `estimators`")];
    };
    let peers: Vec<&MazeEstimator> = v
        .estimators
        .iter()
        .filter(|e| e.estimator != Estimator::Maxpo && e.estimator.uses_k() && e.estimator.is_unbiased())
        .filter(|e| !e.estimator.is_centered())
        .collect();
    maze_comparisons(&id, &claim, source, cfg.maze.k, maxpo, &peers)
}

/// The runs of `e` at its selected lr and at the grid's neighbouring lrs (one step down, one
/// up, where the grid has them).
fn around_best(e: &MazeEstimator) -> Vec<&MazeFinal> {
    let Some(i) = e.every_lr.iter().position(|f| f.lr == e.best_lr) else { return vec![&e.tuned] };
    let lo = i.saturating_sub(1);
    let hi = (i + 1).min(e.every_lr.len().saturating_sub(1));
    (lo..=hi).map(|j| &e.every_lr[j]).collect()
}

/// One claim per peer: the paired difference at the tuned lrs decides ([`verdict::majority`]
/// of one interval: symmetric); the verdicts with each estimator moved to its neighbouring
/// lrs are listed as a sensitivity check.
fn maze_comparisons(
    id: &str,
    claim: &str,
    source: &'static str,
    k: usize,
    maxpo: &MazeEstimator,
    peers: &[&MazeEstimator],
) -> Vec<Claim> {
    if peers.is_empty() {
        return vec![not_run(id, claim, source, verdict::RULE_MAJORITY, "no estimator to compare with")];
    }
    peers
        .iter()
        .map(|p| {
            let d = paired_diff(&maxpo.tuned, &p.tuned);
            let verdict = verdict::majority(&[d], 0.0);
            let mut sensitivity: Vec<String> = Vec::new();
            let (mut agree, mut total) = (0, 0);
            for a in around_best(maxpo) {
                for b in around_best(p) {
                    if a.lr == maxpo.best_lr && b.lr == p.best_lr {
                        continue;
                    }
                    let v = verdict::majority(&[paired_diff(a, b)], 0.0);
                    total += 1;
                    agree += usize::from(v == verdict);
                    sensitivity.push(format!("{}/{}: {}", sig(a.lr), sig(b.lr), v.word().trim_matches('*')));
                }
            }
            let measured = format!(
                "{}; {}; paired difference maxpo - {} = {}. Sensitivity (maxpo lr / {} lr at the neighbouring grid \
                 points): the same verdict in {agree} of {total} ({})",
                maze_line(k, maxpo),
                maze_line(k, p),
                p.estimator,
                fmt_ci(&d),
                p.estimator,
                sensitivity.join(", ")
            );
            Claim {
                id: format!("{id}-vs-{}", p.estimator),
                claim: format!("{claim} (against {})", p.estimator),
                source,
                measured,
                rule: verdict::RULE_MAJORITY,
                verdict,
            }
        })
        .collect()
}

/// `mean [lo, hi]` with 3 significant digits; an exact value (`n = 0`) alone.
pub fn fmt_ci(c: &Ci) -> String {
    if c.n == 0 && c.lo == c.hi {
        return format!("{} (exact)", sig(c.mean));
    }
    format!("{} [{}, {}]", sig(c.mean), sig(c.lo), sig(c.hi))
}

/// `x` with 3 significant digits (scientific outside [1e-3, 1e5)).
pub fn sig(x: f64) -> String {
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
