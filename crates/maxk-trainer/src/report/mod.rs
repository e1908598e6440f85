//! `report.md`, `passk.csv`, `results.json` and the figures of a reproduction.
//!
//! Verdicts compare two models on the same held-out problems, paired by seed and problem:
//! `d[s][j] = pass@k_a(s, j) - pass@k_b(s, j)` (`report::compare`), with an interval at the seed
//! level and the problems clustered ([`maxk_study::stats::paired`]); a claim holds when the
//! interval lies above 0, does not hold when it lies below, and is inconclusive otherwise
//! ([`maxk_study::verdict::difference`]). `report::sections` writes the markdown, one function per
//! section; `report::figures` draws the charts. The gradient-variance study has its own report
//! beside it, [`crate::gradvar::report`].

mod compare;
mod figures;
mod sections;
mod support;

use std::fmt::Write as _;
use std::path::Path;

use maxk_core::Estimator;

use crate::error::{Result, TrainerError};
use crate::eval::average;
use crate::results::{Results, RunResult};
use crate::run_label::RunLabel;
pub use support::{solution_support, support};

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

/// Writes everything into `out`: `results.json`, `passk.csv`, the figures and `report.md`.
pub fn write(results: &Results, out: &Path) -> Result<()> {
    let json = serde_json::to_string_pretty(results).map_err(TrainerError::json("results.json"))?;
    let path = out.join("results.json");
    std::fs::write(&path, json).map_err(TrainerError::io(&path))?;
    let all: Vec<&RunResult> = results.base.iter().chain(&results.runs).collect();
    write_passk_csv(&all, &out.join("passk.csv"))?;
    let cx = Context::new(results);
    figures::draw(&cx, &out.join("figures"))?;
    let md = sections::markdown(&cx)?;
    let path = out.join("report.md");
    std::fs::write(&path, md).map_err(TrainerError::io(path))
}

/// The runs of one label, one per seed.
type Group<'a> = (RunLabel, Vec<&'a RunResult>);

/// What the sections and figures read: the results, their runs grouped by label and the k
/// values of the tables.
struct Context<'a> {
    results: &'a Results,
    /// Runs grouped by label, in first-seen order (base first).
    groups: Vec<Group<'a>>,
    /// The evaluated k: 1, 2, 4, ..., n.
    ks: Vec<usize>,
    /// The k columns of the tables: 1, the training K, 16, 256 where evaluated, and n.
    table_ks: Vec<usize>,
    /// Task ids, in evaluation order.
    tasks: Vec<String>,
    /// Samples per test problem (the largest k).
    n: usize,
    /// Support counts of every RL label.
    support: Vec<support::SupportRow>,
}

impl<'a> Context<'a> {
    fn new(results: &'a Results) -> Self {
        let mut groups: Vec<Group<'a>> = Vec::new();
        for run in results.base.iter().chain(&results.runs) {
            match groups.iter_mut().find(|(l, _)| *l == run.label) {
                Some((_, v)) => v.push(run),
                None => groups.push((run.label, vec![run])),
            }
        }
        let first = results.base.first();
        let ks: Vec<usize> = first.and_then(|b| b.evals.first()).map(|e| e.ks.clone()).unwrap_or_default();
        let n = ks.last().copied().unwrap_or(1);
        let mut table_ks: Vec<usize> = [1, 16, 256]
            .into_iter()
            .chain(training_ks(results))
            .filter(|k| ks.contains(k) && *k < n)
            .collect();
        table_ks.push(n);
        table_ks.sort_unstable();
        table_ks.dedup();
        let tasks = first.map(|b| b.evals.iter().map(|e| e.task.clone()).collect()).unwrap_or_default();
        let mut cx = Context { results, groups, ks, table_ks, tasks, n, support: Vec::new() };
        cx.support = support::rows(&cx);
        cx
    }

    /// The groups of RL runs (every label but `base`).
    fn rl_groups(&self) -> impl Iterator<Item = &Group<'a>> {
        self.groups.iter().filter(|(l, _)| !l.is_base())
    }

    /// The column of `k` in a pass@k curve.
    fn col(&self, k: usize) -> usize {
        self.ks.iter().position(|x| *x == k).unwrap_or(0)
    }

    /// The base models.
    fn base(&self) -> Vec<&'a RunResult> {
        self.results.base.iter().collect()
    }

    /// MaxPO's groups sorted by training K: the K sweep when there are several.
    fn maxpo_by_k(&self) -> Vec<&Group<'a>> {
        let mut sweep: Vec<&Group<'a>> = self
            .groups
            .iter()
            .filter(|(_, runs)| runs.iter().all(|r| r.estimator == Some(Estimator::Maxpo)))
            .collect();
        sweep.sort_by_key(|(_, runs)| runs.first().map_or(0, |r| r.k));
        sweep
    }
}

/// The training K of the RL runs, ascending.
fn training_ks(results: &Results) -> Vec<usize> {
    let mut ks: Vec<usize> = results.runs.iter().map(|r| r.k).collect();
    ks.sort_unstable();
    ks.dedup();
    ks
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::LmConfig;
    use crate::eval::{TaskEval, per_problem};

    /// A run of `label` at training K `k` whose 3 test problems each have `c` of 4 samples
    /// correct: pass@1 = c / 4 on every problem.
    fn run(label: &str, k: usize, seed: u64, c: usize) -> RunResult {
        let label: RunLabel = label.parse().unwrap();
        let correct = vec![c; 3];
        let ks = vec![1, 2, 4];
        let pass_at_k = ks.iter().map(|&k| per_problem(&correct, 4, k).unwrap()[0]).collect();
        let evals =
            vec![TaskEval { task: "mod".into(), n: 4, correct, solutions: Vec::new(), ks, pass_at_k }];
        RunResult {
            label,
            estimator: label.estimator(),
            k,
            seed,
            lr: 1e-3,
            evals,
            evals_rollout: Vec::new(),
            validation_rollout_success: None,
            var_proxy: vec![0.5],
            curves: Default::default(),
            seconds: 0.0,
        }
    }

    /// The report of `runs` (each given for seeds 0 and 1) over base models solving 1 of 4.
    fn report(runs: &[(&str, usize, usize)]) -> String {
        let results = Results {
            config: LmConfig::preset("tiny").unwrap(),
            device: "cpu".into(),
            command: String::new(),
            threads: 1,
            base: vec![run("base", 0, 0, 1), run("base", 0, 1, 1)],
            runs: [0, 1].iter().flat_map(|&s| runs.iter().map(move |&(l, k, c)| run(l, k, s, c))).collect(),
            tuning: Vec::new(),
            seconds: 0.0,
        };
        sections::markdown(&Context::new(&results)).unwrap()
    }

    /// The text of section `title` (up to the next section).
    fn section<'a>(md: &'a str, title: &str) -> &'a str {
        let start = md.find(title).unwrap_or_else(|| panic!("no {title:?} in\n{md}"));
        let rest = &md[start + title.len()..];
        &rest[..rest.find("\n## ").unwrap_or(rest.len())]
    }

    #[test]
    fn maxpo_is_compared_with_each_peer_at_the_same_training_k() {
        // `--k 2,4`: every label names its K; MaxPO minus GRPO at pass@1 is (3 - 2)/4 at K = 2
        // and (4 - 1)/4 at K = 4, on every problem and seed (no spread).
        let md = report(&[("grpo-K2", 2, 2), ("grpo-K4", 4, 1), ("maxpo-K2", 2, 3), ("maxpo-K4", 4, 4)]);
        let s = section(&md, "## MaxPO against each alternative");
        assert!(!s.contains("no `maxpo` run"), "{s}");
        assert!(s.contains("\n| grpo-K2 | +0.250 ± 0.000 |"), "{s}");
        assert!(s.contains("\n| grpo-K4 | +0.750 ± 0.000 |"), "{s}");
        assert_eq!(s.matches("\n| grpo-K").count(), 2, "{s}");
        // One training K: the labels are the ids; the K sweep's extra MaxPO run is no peer.
        let md = report(&[("grpo", 4, 1), ("maxpo", 4, 3), ("maxpo-K2", 2, 2)]);
        let s = section(&md, "## MaxPO against each alternative");
        assert!(s.contains("\n| grpo | +0.500 ± 0.000 |"), "{s}");
        assert_eq!(s.matches("\n| ").count(), 2, "header and one peer: {s}");
        let md = report(&[("grpo", 4, 1)]);
        assert!(section(&md, "## MaxPO against each alternative").contains("(no `maxpo` run)"));
    }

    #[test]
    fn the_objective_names_the_mean_reward_estimators_that_ran() {
        let objective = |md: &str| section(md, "## Did RL improve").lines().nth(2).unwrap().to_string();
        let md = report(&[("rloo", 4, 2), ("dr-grpo", 4, 2), ("maxpo", 4, 3)]);
        assert!(
            objective(&md).starts_with("Objective: pass@1 for the mean-reward estimators (rloo, dr-grpo), ")
        );
        let md = report(&[("ei", 4, 2), ("maxpo", 4, 3)]);
        assert!(objective(&md).starts_with("Objective: pass@1 for the mean-reward estimators (none here), "));
        assert!(!md.contains("(grpo)"), "{md}");
        // The max@K estimators' objective is pass@K at their training K.
        let s = section(&md, "## Did RL improve");
        assert!(s.contains("\n| maxpo | pass@4 | "), "{s}");
    }
}
