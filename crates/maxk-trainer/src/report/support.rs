//! Support dynamics (Wu et al. 2025, "The Invisible Leash"): which test problems, and which
//! distinct correct completions, an RL model keeps, loses and gains relative to its base model.

use super::Context;
use crate::results::RunResult;
use crate::run_label::RunLabel;

/// A test problem is solved within k = n when at least one of its n samples is correct.
/// Relative to the base model: `[preserved, shrunk, expanded, out of support]` = solved
/// before and after, before only, after only, neither. Counts summed over tasks.
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

/// Support counts of one RL label, summed over seeds.
pub(super) struct SupportRow {
    pub(super) label: RunLabel,
    /// preserved, shrunk, expanded, out of support (problems).
    pub(super) problems: [usize; 4],
    /// preserved, shrunk, expanded (distinct correct completions).
    pub(super) solutions: [usize; 3],
}

/// The support counts of every RL label against the base model of each run's seed.
pub(super) fn rows(cx: &Context<'_>) -> Vec<SupportRow> {
    let mut out = Vec::new();
    for (label, runs) in cx.rl_groups() {
        let (mut problems, mut solutions) = ([0usize; 4], [0usize; 3]);
        for run in runs {
            if let Some(base) = cx.results.base.iter().find(|b| b.seed == run.seed) {
                problems.iter_mut().zip(support(base, run)).for_each(|(a, b)| *a += b);
                solutions.iter_mut().zip(solution_support(base, run)).for_each(|(a, b)| *a += b);
            }
        }
        out.push(SupportRow { label: *label, problems, solutions });
    }
    out
}
