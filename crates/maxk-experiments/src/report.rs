//! `report.md`: renders the results and the claims ([`crate::claims`]) as Markdown. No
//! verdict is decided here; each claim row prints the rule ([`maxk_study::verdict`]) that decided it.

use std::fmt::Write as _;

use crate::bandit_runs::{ErrorResult, Role, VarianceResult};
use crate::claims::{Claim, Results, fmt_ci, sig};
use crate::config::Config;
use crate::maze_runs::MazeResult;
use crate::variance_map::{Family, MapResult};
use maxk_study::verdict::{BIAS_Z, REFUTE_Z};

const PAPER: &str = "arXiv 2606.06080";

/// What the report needs besides the results.
pub struct ReportInput<'a> {
    /// The resolved config.
    pub config: &'a Config,
    /// The results.
    pub results: &'a Results,
    /// The claims (from [`crate::claims::claims`]).
    pub claims: &'a [Claim],
    /// Seconds per experiment, in run order.
    pub seconds: &'a [(String, f64)],
}

/// Text safe inside a Markdown table cell (`|` would end the cell).
fn cell(text: &str) -> String {
    text.replace('|', "\\|")
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
        "Synthetic experiments testing claims about max@K policy-gradient advantage estimators from *On Advantage \
         Estimates for Max@K Policy Gradients* ({PAPER}), with maxk {} and our own settings: the paper's public \
         text is its abstract and figure captions, so its settings and numbers are not used or quoted. Every \
         estimator is computed by `maxk-core` at the PG scale (`Spec::new(est, k).with_scale(Scale::Pg)`), so an \
         unbiased one estimates grad J_K itself. At this scale pkpo-loo1 equals ei and canonical equals maxpo \
         exactly (docs/MATH.md), so each pair runs once (the first id listed in `estimators`). Master seed {}, \
         {} seeds per setting; intervals are 95% Student-t intervals over seeds; \"exact\" values are computed, \
         not sampled. Total time {:.1} s. Every setting is in [`config.toml`](config.toml): `maxk reproduce \
         --config config.toml` (plus the same `--only`, if any) re-runs this with the same numbers. Numbers: \
         [`summary.json`](summary.json) and the CSV files.\n",
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
            "| **{}**: {} (source: {}) | {} | {} |",
            c.id,
            cell(&c.claim),
            cell(c.source),
            cell(&c.measured),
            c.verdict.word()
        );
    }
    let _ = writeln!(s, "\n### Verdict rules, as coded (`crates/maxk-study/src/verdict.rs`)\n");
    let mut seen: Vec<&str> = Vec::new();
    for c in inp.claims {
        if !seen.contains(&c.rule) {
            seen.push(c.rule);
        }
    }
    for rule in &seen {
        let ids: Vec<&str> = inp.claims.iter().filter(|c| c.rule == *rule).map(|c| c.id.as_str()).collect();
        let _ = writeln!(s, "- {}: {rule}.", ids.join(", "));
    }
    let _ = writeln!(
        s,
        "\nAn interval is \"above x\" when its lower end is > x and \"below x\" when its upper end is < x. Bias is \
         declared from z > {BIAS_Z} (refuted from {REFUTE_Z}).\n"
    );
    if let Some(e) = &r.error {
        error_section(&mut s, e, cfg);
    }
    if let Some(v) = &r.actions {
        let c = &cfg.bandit_actions;
        let _ = writeln!(s, "## Experiment 2: variance vs action-space size\n");
        let _ = writeln!(
            s,
            "N = {}, K = {}. Continuous rewards: a fresh random instance per seed (logits ~ N(0, {}²), rewards ~ \
             U(0, 1)), {} batches per (A, seed). Binary rewards: the exact variance of the uniform two-class policy \
             with success fraction p (round(pA) correct actions, at least one). Relative variance = tr Cov(g) / \
             ||grad J_K||² of one batch's estimate.\n",
            c.n, c.k, c.logit_std, c.batches
        );
        variance_section(&mut s, v, "bandit_actions", "A");
    }
    if let Some(v) = &r.k {
        let c = &cfg.bandit_k;
        let _ = writeln!(s, "## Experiment 3: variance vs K\n");
        let _ = writeln!(
            s,
            "A = {}, N = {}; continuous: {} batches per (K, seed), a fresh instance per seed; binary: exact, as in \
             experiment 2. rloo and grpo ignore K (they target J_1): shown for reference only. At K = 1 EI is the \
             raw reward, so the ratio panel starts at K = 2.\n",
            c.actions, c.n, c.batches
        );
        variance_section(&mut s, v, "bandit_k", "K");
    }
    if let Some(m) = &r.map {
        map_section(&mut s, m, cfg);
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
    let _ = writeln!(s, "## Experiment 1: gradient estimation error and the bias test\n");
    let _ = writeln!(
        s,
        "One random softmax bandit (A = {}, logits ~ N(0, {}²), rewards ~ U(0, 1)) and its binary twin (the best \
         {:.1}% of actions rewarded 1, so J_K is pass@K); N = {}, K = {}. The exact J_K and grad J_K come from the \
         order statistics of the categorical distribution. Each seed averages up to M = {} batch gradients. \
         Biased max@K controls: {} (a `std` control is divided by the group's reward std and multiplied by its PG \
         factor; passk-analytic runs on binary rewards only).\n",
        c.actions,
        c.logit_std,
        100.0 * c.binary_fraction,
        c.n,
        c.k,
        c.max_batches,
        c.controls.iter().map(|x| format!("`{}`", x.label())).collect::<Vec<_>>().join(", ")
    );
    let _ = writeln!(s, "![estimation error](bandit_error.png)\n");
    let _ = writeln!(
        s,
        "Over all {} x {} batches: z = ||pooled mean - grad J_K|| / its noise floor; direction z = the part of the \
         pooled mean orthogonal to grad J_K over its noise floor (blind to a constant factor, which only changes \
         the step size); both about 1 when unbiased. slope = log-log slope of the error over the upper half of the \
         M grid (-0.5 when unbiased).\n",
        cfg.seeds, c.max_batches
    );
    if !e.twins.is_empty() {
        let t: Vec<String> = e.twins.iter().map(|(a, b)| format!("{a} (= {b})")).collect();
        let _ = writeln!(s, "Not run separately, identical at their scale: {}.\n", t.join(", "));
    }
    for v in &e.variants {
        let _ = writeln!(
            s,
            "**{}** rewards: J_K = {:.4}, ||grad J_K|| = {:.4}\n\n| estimator | role | rel. error at M = {} | z | direction z | sin angle | slope |\n|---|---|---|---|---|---|---|",
            v.name, v.objective, v.grad_norm, c.max_batches
        );
        for (b, curve) in v.bias.iter().zip(&v.curves) {
            let last = curve.last().map(|c| fmt_ci(&c)).unwrap_or_default();
            let role = match b.role {
                Role::Unbiased => "unbiased (expected)",
                Role::MeanReward => "targets J_1",
                Role::Control => "biased max@K control",
            };
            let _ = writeln!(
                s,
                "| {} | {role} | {last} | {:.2} | {:.2} | {} | {:.2} |",
                b.label,
                b.z,
                b.dir_z,
                sig(b.dir_bias),
                b.slope
            );
        }
        s.push('\n');
    }
}

fn variance_section(s: &mut String, v: &VarianceResult, stem: &str, x: &str) {
    let _ = writeln!(s, "![variance vs {x}]({stem}.png)\n");
    if !v.twins.is_empty() {
        let t: Vec<String> = v.twins.iter().map(|(a, b)| format!("{a} (= {b})")).collect();
        let _ = writeln!(s, "Not run separately, identical at the PG scale: {}.\n", t.join(", "));
    }
    let Some(first) = v.curves.first() else { return };
    let _ = write!(
        s,
        "Continuous rewards: relative variance, geometric mean over seeds (per-seed ratio to {} in brackets)\n\n| estimator |",
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
    if let Some(i) = v.ei_index() {
        let c = &v.ratios[i];
        let pts: Vec<String> = c.x.iter().zip(&c.ci).map(|(x, c)| format!("{x}: {}", fmt_ci(c))).collect();
        let _ = writeln!(s, "Continuous, Var(EI) / Var({}) by {x}: {}.\n", v.reference, pts.join("; "));
        if !v.binary.is_empty() {
            let _ =
                write!(s, "Binary rewards, exact Var(EI) / Var({}):\n\n| success fraction p |", v.reference);
            for xv in &first.x {
                let _ = write!(s, " {x} = {xv} |");
            }
            let _ = writeln!(s, "\n|---|{}", "---|".repeat(first.x.len()));
            for b in &v.binary {
                let _ = write!(s, "| {} |", b.p);
                for ci in &b.ratios[i].ci {
                    let _ = write!(s, " {} |", sig(ci.mean));
                }
                s.push('\n');
            }
            s.push('\n');
        }
    }
}

fn map_section(s: &mut String, m: &MapResult, cfg: &Config) {
    let c = &cfg.variance_map;
    let _ = writeln!(s, "## Experiment 4: where the Leave-Two-Out baseline lowers the variance\n");
    let _ = writeln!(
        s,
        "Var(EI) / Var(MaxPO) at the PG scale (> 1: the L2O baseline lowers the variance; < 1: it raises it) on \
         every cell of A in {:?}, N in {:?}, K in {:?}. Continuous U(0, 1) rewards: geometric mean and 95% interval \
         of the per-seed ratio ({} seeds x {} batches, a fresh random instance per seed). Binary rewards with \
         success fraction p: exact, on the uniform two-class policy; the Monte Carlo check ({} seeds x {} batches \
         on the same policy) gives its own ratio interval and the largest |z| of the two Monte Carlo variances \
         against the exact ones.\n",
        c.actions, c.ns, c.ks, cfg.seeds, c.batches, cfg.seeds, c.check_batches
    );
    let _ = writeln!(s, "![variance map](variance_map.png)\n");
    let checks: Vec<_> = m.cells.iter().filter_map(|c| c.check.map(|ch| (c, ch))).collect();
    if !checks.is_empty() {
        let worst = checks.iter().map(|(_, ch)| ch.max_abs_z).fold(0.0, f64::max);
        let inside = checks
            .iter()
            .filter(|(c, ch)| ch.ratio.lo <= c.ratio.mean && c.ratio.mean <= ch.ratio.hi)
            .count();
        let _ = writeln!(
            s,
            "Monte Carlo check of the exact binary values: largest |z| = {worst:.2} over {} cells x 2 variances; the \
             exact ratio lies inside the Monte Carlo 95% interval in {inside} of {} cells.\n",
            checks.len(),
            checks.len()
        );
    }
    let _ = writeln!(
        s,
        "| family | A | N | K | Var(EI) / Var(MaxPO) | L2O baseline | Monte Carlo check |\n|---|---|---|---|---|---|---|"
    );
    for c in &m.cells {
        let effect = if c.ratio.above(1.0) {
            "lowers"
        } else if c.ratio.below(1.0) {
            "raises"
        } else {
            "no significant effect"
        };
        let check = c
            .check
            .map_or(String::new(), |ch| format!("{} (max abs z {:.1})", fmt_ci(&ch.ratio), ch.max_abs_z));
        let fam = match c.family {
            Family::Continuous => "continuous".to_string(),
            Family::Binary { p } => format!("binary p = {p}"),
        };
        let _ = writeln!(
            s,
            "| {fam} | {} | {} | {} | {} | {effect} | {check} |",
            c.actions,
            c.n,
            c.k,
            fmt_ci(&c.ratio)
        );
    }
    s.push('\n');
}

fn maze_section(s: &mut String, m: &MazeResult, cfg: &Config) {
    let c = &cfg.maze;
    let _ = writeln!(s, "## Experiment 5: biased maze, tuned learning rates, with and without a lure\n");
    let _ = writeln!(
        s,
        "A corridor of {} binary decisions; the correct action is 1 except at the trap depths {:?} where it is 0. \
         A correct action moves forward for +1, a wrong one ends the episode; with a lure, the wrong action at a \
         trap first pays the bait (so mean-reward training has a local optimum: stop at a trap and take the \
         bait). Tabular softmax policy initialised to P(action 1) = {} everywhere (the bias is in the initial \
         policy), N = {} episodes per update, K = {}, {} updates of REINFORCE on the advantages of the returns. \
         Every estimator runs every learning rate of {:?} (the same grid and seeds for all). Each estimator's lr \
         is chosen on {} selection seeds (highest mean exact pass@K over training); all numbers below come from \
         {} other evaluation seeds (disjoint random streams).\n",
        c.depth, c.traps, c.init_p1, c.n, c.k, c.updates, c.lrs, c.tune_seeds, cfg.seeds
    );
    if !m.twins.is_empty() {
        let t: Vec<String> = m.twins.iter().map(|(a, b)| format!("{a} (= {b})")).collect();
        let _ = writeln!(
            s,
            "Not run separately, identical at the PG scale (so at every lr): {}.\n",
            t.join(", ")
        );
    }
    let _ = writeln!(s, "![biased maze](maze.png)\n");
    for v in &m.variants {
        let _ = writeln!(s, "### {} (bait {})\n", v.label(), v.bait);
        let traps: Vec<String> = m.traps.iter().map(|t| format!("P(a=1) at depth {t}")).collect();
        let _ = writeln!(
            s,
            "Tuned: each estimator at its selected lr (evaluation seeds). Final P(action 1) at the traps: the \
             correct action there is 0, so low is learned.\n\n| estimator | lr | mean pass@{k} over training | final \
             pass@{k} | final return | seeds solved | {} |\n|---|---|---|---|---|---|{}",
            traps.join(" | "),
            "---|".repeat(traps.len()),
            k = m.k
        );
        for e in &v.estimators {
            let f = &e.tuned;
            let p1: Vec<String> = f.final_p1.iter().map(|c| sig(c.mean)).collect();
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {:.0}% | {} |",
                e.estimator,
                e.best_lr,
                fmt_ci(&f.mean_pass_at_k),
                fmt_ci(&f.final_pass_at_k),
                fmt_ci(&f.final_return),
                100.0 * f.solved_fraction,
                p1.join(" | ")
            );
        }
        let _ = write!(
            s,
            "\nLearning-rate sensitivity (untuned: every estimator at each shared lr), mean pass@{} over training on \
             the evaluation seeds; * marks the lr selected on the selection seeds:\n\n| estimator |",
            m.k
        );
        for lr in &c.lrs {
            let _ = write!(s, " lr {lr} |");
        }
        let _ = writeln!(s, "\n|---|{}", "---|".repeat(c.lrs.len()));
        for e in &v.estimators {
            let _ = write!(s, "| {} |", e.estimator);
            for p in &e.lr_curve {
                let star = if p.lr == e.best_lr { "*" } else { "" };
                let _ = write!(s, " {}{star} |", fmt_ci(&p.eval));
            }
            s.push('\n');
        }
        s.push('\n');
    }
}
