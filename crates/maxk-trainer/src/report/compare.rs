//! Paired comparisons of two labels' runs on the same held-out problems: per matched seed
//! (rows) and problem (columns), `d[s][j] = pass@k_a(s, j) - pass@k_b(s, j)`, summarised by
//! [`maxk_study::stats::paired`].

use maxk_study::Paired;
use maxk_study::stats::paired;

use crate::error::Result;
use crate::eval::{TaskEval, per_problem};
use crate::results::RunResult;

/// Which evaluation of a run: the evaluation protocol or the rollout sampling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Protocol {
    /// `eval.sampling` (`RunResult::evals`).
    Eval,
    /// `rl.sampling` (`RunResult::evals_rollout`).
    Rollout,
}

impl Protocol {
    fn of(self, run: &RunResult) -> &[TaskEval] {
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

/// Differences `a - b` at `k` under `protocol`, per matched seed (rows) and problem (columns).
pub(super) fn diffs(
    a: &[&RunResult],
    b: &[&RunResult],
    k: usize,
    protocol: Protocol,
) -> Result<Vec<Vec<f64>>> {
    let mut d = Vec::new();
    for x in a {
        if let Some(y) = b.iter().find(|y| y.seed == x.seed) {
            let (px, py) = (problem_curve(x, k, protocol)?, problem_curve(y, k, protocol)?);
            d.push(px.iter().zip(&py).map(|(u, v)| u - v).collect());
        }
    }
    Ok(d)
}

/// The seed-level interval of `a - b` at `k` (evaluation protocol).
pub(super) fn compare(a: &[&RunResult], b: &[&RunResult], k: usize) -> Result<Paired> {
    Ok(paired(&diffs(a, b, k, Protocol::Eval)?))
}

/// A table cell: `+0.123 ± 0.045`.
pub(super) fn cell(i: Paired) -> String {
    format!("{:+.3} ± {:.3}", i.mean, i.half)
}
