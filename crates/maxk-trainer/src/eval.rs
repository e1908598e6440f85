//! pass@k evaluation with the unbiased estimator of Chen et al. 2021,
//! `pass@k = E_problems[1 - C(n-c, k)/C(n, k)]` from `n` samples with `c` correct
//! ([`maxk_core::pass_at_k`]), for k = 1, 2, 4, ... <= n. The default protocol (maxk's choice):
//! n = 256 samples per test problem at temperature 0.6, top-p 0.95, so that the curves reach
//! k = 256 as the paper's figure captions do.

use std::collections::HashSet;

use maxk_core::pass_at_k;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::config::LmConfig;
use crate::diagnostics::progress_bar;
use crate::engine::Engine;
use crate::error::{Result, TrainerError};
use crate::model::HostWeights;
use crate::sampling::{SampleConfig, sample};
use crate::tasks::{Problem, Task, disjoint_set, test_set};
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

/// Problems per task, in task order.
pub type ProblemSets = Vec<(Task, Vec<Problem>)>;

/// The test problems of every task of `cfg` (`eval.problems_per_task` by `eval.test_seed`).
pub fn test_problems(cfg: &LmConfig) -> Result<ProblemSets> {
    Ok(cfg
        .task_list()?
        .into_iter()
        .map(|t| (t, test_set(t, cfg.eval.problems_per_task, cfg.eval.test_seed)))
        .collect())
}

/// The validation problems of every task of `cfg` (`tune.problems_per_task` by
/// `tune.val_seed`), drawn so that none is a test problem, and checked to be disjoint from them.
pub fn validation_problems(cfg: &LmConfig) -> Result<ProblemSets> {
    let test = test_problems(cfg)?;
    let sets: ProblemSets = test
        .iter()
        .map(|(t, problems)| {
            let exclude: HashSet<String> = problems.iter().map(|p| p.prompt.clone()).collect();
            (*t, disjoint_set(*t, cfg.tune.problems_per_task, cfg.tune.val_seed, &exclude))
        })
        .collect();
    check_disjoint(&test, &sets)?;
    Ok(sets)
}

/// An error naming the first prompt that `a` and `b` share.
pub fn check_disjoint(a: &ProblemSets, b: &ProblemSets) -> Result<()> {
    let prompts: HashSet<&str> = a.iter().flat_map(|(_, ps)| ps.iter().map(|p| p.prompt.as_str())).collect();
    match b.iter().flat_map(|(_, ps)| ps).find(|p| prompts.contains(p.prompt.as_str())) {
        Some(p) => Err(TrainerError::ProblemOverlap { prompt: p.prompt.clone() }),
        None => Ok(()),
    }
}

/// The problems no training step may draw: the test and the validation problems of `cfg`.
pub fn held_out(cfg: &LmConfig) -> Result<Vec<Problem>> {
    let test = test_problems(cfg)?;
    let val = validation_problems(cfg)?;
    Ok(test.into_iter().chain(val).flat_map(|(_, ps)| ps).collect())
}

/// The test-set evaluation protocol (`eval.sampling`, `eval.n_samples`). The
/// sampling stream depends only on `cfg.eval.test_seed`, so every model is evaluated with the
/// same random numbers.
pub fn evaluate<E: Engine>(
    weights: &HostWeights,
    cfg: &LmConfig,
    engine: &E,
    progress: bool,
) -> Result<Vec<TaskEval>> {
    evaluate_test(weights, cfg, engine, &cfg.eval.sampling, 0xe7a1, progress)
}

/// The test-set evaluation at the rollout sampling (`rl.sampling`) instead of `eval.sampling`.
pub fn evaluate_at_rollout_temperature<E: Engine>(
    weights: &HostWeights,
    cfg: &LmConfig,
    engine: &E,
    progress: bool,
) -> Result<Vec<TaskEval>> {
    evaluate_test(weights, cfg, engine, &cfg.rl.sampling, 0x7e11, progress)
}

/// The test set, `eval.n_samples` samples per problem at `sampling`, from the sampling stream
/// `eval.test_seed ^ stream`.
fn evaluate_test<E: Engine>(
    weights: &HostWeights,
    cfg: &LmConfig,
    engine: &E,
    sampling: &SampleConfig,
    stream: u64,
    progress: bool,
) -> Result<Vec<TaskEval>> {
    let ev = &cfg.eval;
    let sets = test_problems(cfg)?;
    evaluate_on(
        weights,
        engine,
        &sets,
        sampling,
        ev.n_samples,
        ev.batch_rows,
        ev.test_seed ^ stream,
        progress,
    )
}

/// The validation-set evaluation of the lr selection: `tune.n_samples` samples per validation
/// problem at the evaluation sampling (`eval.sampling`).
pub fn evaluate_validation<E: Engine>(
    weights: &HostWeights,
    cfg: &LmConfig,
    engine: &E,
    progress: bool,
) -> Result<Vec<TaskEval>> {
    let sets = validation_problems(cfg)?;
    let seed = cfg.tune.val_seed ^ 0xe7a1;
    evaluate_on(
        weights,
        engine,
        &sets,
        &cfg.eval.sampling,
        cfg.tune.n_samples,
        cfg.eval.batch_rows,
        seed,
        progress,
    )
}

/// The success rate of the rollouts on the validation problems: task-average pass@1 of
/// `tune.n_samples` samples per validation problem at the rollout sampling (`rl.sampling`).
/// Measured on the base model before RL, it says which success-rate regime a study is in.
pub fn validation_rollout_success<E: Engine>(
    weights: &HostWeights,
    cfg: &LmConfig,
    engine: &E,
    progress: bool,
) -> Result<f64> {
    let sets = validation_problems(cfg)?;
    let seed = cfg.tune.val_seed ^ 0x7e11;
    let evals = evaluate_on(
        weights,
        engine,
        &sets,
        &cfg.rl.sampling,
        cfg.tune.n_samples,
        cfg.eval.batch_rows,
        seed,
        progress,
    )?;
    average(&evals).first().copied().ok_or(TrainerError::NoValidationProblems)
}

/// Samples `n` completions per problem of `sets` with `sampling` (in batches of `batch_rows`
/// sequences, random numbers from `seed`) and scores them.
#[allow(clippy::too_many_arguments)]
pub fn evaluate_on<E: Engine>(
    weights: &HostWeights,
    engine: &E,
    sets: &ProblemSets,
    sampling: &SampleConfig,
    n: usize,
    batch_rows: usize,
    seed: u64,
    progress: bool,
) -> Result<Vec<TaskEval>> {
    let mut policy = engine.frozen(weights)?;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let total: usize = sets.iter().map(|(_, ps)| ps.len() * n).sum();
    let bar = progress_bar(progress, total, "eval");
    let mut out = Vec::with_capacity(sets.len());
    for (task, problems) in sets {
        let task = *task;
        let mut rows: Vec<(usize, Vec<u32>)> = Vec::with_capacity(problems.len() * n);
        for (i, p) in problems.iter().enumerate() {
            let tokens = encode_prompt(&p.prompt)?;
            rows.extend(std::iter::repeat_n((i, tokens), n));
        }
        let mut correct = vec![0usize; problems.len()];
        let mut solutions = vec![std::collections::BTreeSet::new(); problems.len()];
        for chunk in rows.chunks(batch_rows.max(1)) {
            let prompts: Vec<Vec<u32>> = chunk.iter().map(|(_, t)| t.clone()).collect();
            let completions = sample(&mut policy, &prompts, sampling, &mut rng);
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
        out.push(TaskEval::from_counts(task, n, correct, solutions)?);
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

    #[test]
    fn validation_problems_are_disjoint_from_test_problems_and_never_trained_on() {
        let mut cfg = LmConfig::preset("tiny").unwrap();
        // Small test and validation sets from streams that overlap a lot without the exclusion:
        // `mod` has only 4704 prompts, so 2000 draws from two streams share many of them.
        cfg.tasks = vec!["mod".into()];
        cfg.eval.problems_per_task = 2000;
        cfg.tune.problems_per_task = 500;
        let test = test_problems(&cfg).unwrap();
        let val = validation_problems(&cfg).unwrap();
        assert_eq!(val[0].1.len(), 500);
        let raw = test_set(Task::Mod, 500, cfg.tune.val_seed);
        let test_prompts: HashSet<&str> = test[0].1.iter().map(|p| p.prompt.as_str()).collect();
        assert!(raw.iter().any(|p| test_prompts.contains(p.prompt.as_str())), "the exclusion is exercised");
        assert!(val[0].1.iter().all(|p| !test_prompts.contains(p.prompt.as_str())));
        assert!(check_disjoint(&test, &val).is_ok());
        // The check itself catches a shared problem.
        let shared = vec![(Task::Mod, vec![test[0].1[7].clone()])];
        let err = check_disjoint(&test, &shared).unwrap_err().to_string();
        assert!(err.contains(&test[0].1[7].prompt), "{err}");
        // Training draws neither set.
        let held: HashSet<String> = held_out(&cfg).unwrap().into_iter().map(|p| p.prompt).collect();
        assert_eq!(held.len(), 2500);
        assert!(val[0].1.iter().all(|p| held.contains(&p.prompt)));
        // Same seeds: the validation set of another val_seed differs.
        let mut other = cfg.clone();
        other.tune.val_seed += 1;
        assert_ne!(validation_problems(&other).unwrap(), val);
    }
}
