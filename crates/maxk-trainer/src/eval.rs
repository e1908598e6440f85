//! pass@k evaluation with the unbiased estimator of Chen et al. 2021,
//! `pass@k = E_problems[1 - C(n-c, k)/C(n, k)]` from `n` samples with `c` correct
//! ([`maxk_core::pass_at_k`]), for k = 1, 2, 4, ... <= n. The paper's protocol: n = 256 samples
//! per test problem at temperature 0.6, top-p 0.95.

use maxk_core::pass_at_k;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::config::LmConfig;
use crate::diagnostics::progress_bar;
use crate::engine::Engine;
use crate::error::Result;
use crate::model::HostWeights;
use crate::sampling::sample;
use crate::tasks::{Problem, Task, test_set};
use crate::vocab::{decode, encode_prompt};

/// Evaluation of one benchmark.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskEval {
    /// Task id.
    pub task: String,
    /// Samples per problem.
    pub n: usize,
    /// Correct samples per test problem (in test-set order).
    pub correct: Vec<usize>,
    /// The distinct correct completions of every test problem, sorted (solution-level
    /// support: path and countdown have several correct answers).
    #[serde(default)]
    pub solutions: Vec<Vec<String>>,
    /// The k values: 1, 2, 4, ... <= n.
    pub ks: Vec<usize>,
    /// Mean over problems of the unbiased pass@k, one per `ks`.
    pub pass_at_k: Vec<f64>,
}

/// Powers of two up to `n`.
pub fn k_grid(n: usize) -> Vec<usize> {
    std::iter::successors(Some(1usize), |k| k.checked_mul(2)).take_while(|&k| k <= n).collect()
}

/// Per-problem unbiased pass@k for `c` correct of `n`.
pub fn per_problem(correct: &[usize], n: usize, k: usize) -> Result<Vec<f64>> {
    Ok(correct.iter().map(|&c| pass_at_k(n, c, k)).collect::<Result<Vec<_>, _>>()?)
}

impl TaskEval {
    /// Builds the summary from per-problem counts.
    pub fn from_counts(
        task: Task,
        n: usize,
        correct: Vec<usize>,
        solutions: Vec<Vec<String>>,
    ) -> Result<Self> {
        let ks = k_grid(n);
        let pass_at_k = ks
            .iter()
            .map(|&k| Ok(per_problem(&correct, n, k)?.iter().sum::<f64>() / correct.len().max(1) as f64))
            .collect::<Result<Vec<_>>>()?;
        Ok(TaskEval { task: task.id().into(), n, correct, solutions, ks, pass_at_k })
    }
}

/// The held-out problems of every task of `cfg` (excluded from training).
pub fn held_out(cfg: &LmConfig) -> Result<Vec<Problem>> {
    Ok(cfg
        .task_list()?
        .into_iter()
        .flat_map(|t| test_set(t, cfg.eval.problems_per_task, cfg.eval.test_seed))
        .collect())
}

/// Samples `n` completions per held-out problem and scores them. The sampling stream depends
/// only on `cfg.eval.test_seed`, so every model is evaluated with the same random numbers.
pub fn evaluate<E: Engine>(
    weights: &HostWeights,
    cfg: &LmConfig,
    engine: &E,
    progress: bool,
) -> Result<Vec<TaskEval>> {
    let ev = &cfg.eval;
    let mut policy = engine.frozen(weights)?;
    let tasks = cfg.task_list()?;
    let mut rng = ChaCha8Rng::seed_from_u64(ev.test_seed ^ 0xe7a1);
    let bar = progress_bar(progress, tasks.len() * ev.problems_per_task * ev.n_samples, "eval");
    let mut out = Vec::with_capacity(tasks.len());
    for task in tasks {
        let problems = test_set(task, ev.problems_per_task, ev.test_seed);
        let mut rows: Vec<(usize, Vec<u32>)> = Vec::with_capacity(problems.len() * ev.n_samples);
        for (i, p) in problems.iter().enumerate() {
            let tokens = encode_prompt(&p.prompt)?;
            rows.extend(std::iter::repeat_n((i, tokens), ev.n_samples));
        }
        let mut correct = vec![0usize; problems.len()];
        let mut solutions = vec![std::collections::BTreeSet::new(); problems.len()];
        for chunk in rows.chunks(ev.batch_rows) {
            let prompts: Vec<Vec<u32>> = chunk.iter().map(|(_, t)| t.clone()).collect();
            let completions = sample(&mut policy, &prompts, &ev.sampling, &mut rng);
            for ((i, _), c) in chunk.iter().zip(&completions) {
                let p = &problems[*i];
                let text = decode(c);
                if task.verify(&p.prompt, &text) > 0.0 {
                    correct[*i] += 1;
                    solutions[*i].insert(text);
                }
            }
            bar.inc(chunk.len() as u64);
        }
        let solutions = solutions.into_iter().map(|s| s.into_iter().collect()).collect();
        out.push(TaskEval::from_counts(task, ev.n_samples, correct, solutions)?);
    }
    bar.finish_and_clear();
    Ok(out)
}

/// Task-average pass@k curve (the tasks share `ks` when they share `n`).
pub fn average(evals: &[TaskEval]) -> Vec<f64> {
    let Some(first) = evals.first() else { return Vec::new() };
    (0..first.ks.len())
        .map(|j| evals.iter().map(|e| e.pass_at_k[j]).sum::<f64>() / evals.len() as f64)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pass_at_k_from_counts_uses_the_unbiased_estimator() {
        let e = TaskEval::from_counts(Task::Add, 4, vec![0, 1, 4], Vec::new()).unwrap();
        assert_eq!(e.ks, vec![1, 2, 4]);
        // Problem with c=1 of n=4: pass@1 = 1/4, pass@2 = 1 - C(3,2)/C(4,2) = 1/2, pass@4 = 1.
        let want = [(0.0 + 0.25 + 1.0) / 3.0, (0.0 + 0.5 + 1.0) / 3.0, (0.0 + 1.0 + 1.0) / 3.0];
        for (a, b) in e.pass_at_k.iter().zip(want) {
            assert!((a - b).abs() < 1e-12);
        }
        assert_eq!(k_grid(256).len(), 9);
        assert_eq!(k_grid(12), vec![1, 2, 4, 8]);
        assert_eq!(average(&[e.clone(), e.clone()]), e.pass_at_k);
    }
}
