//! Learning-rate selection on a validation split (`[tune]` of the config).
//!
//! Every estimator gets the same budget: one RL run per lr of `tune.lrs` and tuning seed, from
//! the same base model(s), on the training problems. Each run is scored on the validation
//! problems ([`crate::eval::validation_problems`], disjoint from the test problems) by its
//! estimator's own objective at the training K ([`objective_k`]: pass@1 for the mean-reward
//! estimators, pass@K for the max@K ones), averaged over tasks and tuning seeds; the selected
//! lr is the best one, the smaller lr on an exact tie ([`select`]).

use std::collections::BTreeMap;

use maxk_core::Estimator;
use serde::{Deserialize, Serialize};

use crate::error::{Result, TrainerError};

/// The k of the pass@k a model optimises: the training K for the max@K estimators
/// (`Estimator::uses_k`), 1 for the others and for the base model (None).
pub fn objective_k(estimator: Option<Estimator>, k: usize) -> usize {
    match estimator {
        Some(e) if e.uses_k() => k,
        _ => 1,
    }
}

/// One tuning run (or the base model, `lr` = None) scored on the validation problems.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TuneRun {
    /// The estimator; None for the base model (`base` in the file).
    #[serde(with = "crate::run_label::base_or_estimator")]
    pub estimator: Option<Estimator>,
    /// Training K.
    pub k: usize,
    /// Adam lr (None for the base model).
    pub lr: Option<f64>,
    /// Tuning seed.
    pub seed: u64,
    /// The k values of `pass_at_k`.
    pub ks: Vec<usize>,
    /// Task-average validation pass@k.
    pub pass_at_k: Vec<f64>,
    /// Mean train-set reward of the last 5 RL steps (0 for the base model).
    pub train_reward: f64,
}

impl TuneRun {
    /// Validation pass@k at `k` (the largest evaluated k not above it).
    pub fn pass_at(&self, k: usize) -> f64 {
        let j = self.ks.iter().rposition(|&x| x <= k).unwrap_or(0);
        self.pass_at_k.get(j).copied().unwrap_or(f64::NAN)
    }

    /// The validation score of the selection: pass@k at the estimator's [`objective_k`].
    pub fn score(&self) -> f64 {
        self.pass_at(objective_k(self.estimator, self.k))
    }
}

/// Mean validation score of every (estimator, lr) over the tuning seeds, in lr order; the
/// estimators in the order of their ids.
pub fn table(runs: &[TuneRun]) -> Vec<(Estimator, Vec<(f64, f64)>)> {
    // (lr, score sum, count) per estimator.
    let mut acc: BTreeMap<Estimator, Vec<(f64, f64, usize)>> = BTreeMap::new();
    for r in runs {
        let (Some(lr), Some(e)) = (r.lr, r.estimator) else { continue };
        let row = acc.entry(e).or_default();
        match row.iter_mut().find(|(l, _, _)| *l == lr) {
            Some((_, sum, n)) => {
                *sum += r.score();
                *n += 1;
            }
            None => row.push((lr, r.score(), 1)),
        }
    }
    let mut out: Vec<(Estimator, Vec<(f64, f64)>)> = acc
        .into_iter()
        .map(|(e, mut row)| {
            row.sort_by(|a, b| a.0.total_cmp(&b.0));
            (e, row.into_iter().map(|(lr, sum, n)| (lr, sum / n as f64)).collect())
        })
        .collect();
    out.sort_by_key(|(e, _)| e.id());
    out
}

/// The selected lr of every estimator: the lr of the highest mean validation score
/// ([`table`]), the smallest such lr on an exact tie. An error when a score is not finite.
pub fn select(runs: &[TuneRun]) -> Result<BTreeMap<Estimator, f64>> {
    let mut out = BTreeMap::new();
    for (estimator, row) in table(runs) {
        if let Some((lr, s)) = row.iter().find(|(_, s)| !s.is_finite()) {
            return Err(TrainerError::NonFiniteScore { estimator, lr: *lr, score: *s });
        }
        // Ascending lr, so keeping the first maximum picks the smaller lr on a tie.
        let best = row.iter().fold(None::<(f64, f64)>, |best, &(lr, s)| match best {
            Some((_, b)) if b >= s => best,
            _ => Some((lr, s)),
        });
        if let Some((lr, _)) = best {
            out.insert(estimator, lr);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    use Estimator::{Grpo, Maxpo, PkpoLoo1};

    fn run(estimator: Estimator, lr: f64, seed: u64, curve: [f64; 4]) -> TuneRun {
        TuneRun {
            estimator: Some(estimator),
            k: 8,
            lr: Some(lr),
            seed,
            ks: vec![1, 2, 4, 8],
            pass_at_k: curve.to_vec(),
            train_reward: 0.0,
        }
    }

    #[test]
    fn each_estimator_is_selected_by_its_own_objective_averaged_over_seeds() {
        let runs = vec![
            // grpo: pass@1 is best at 1e-3 (0.30) although pass@8 is best at 1e-4.
            run(Grpo, 1e-4, 0, [0.20, 0.3, 0.4, 0.90]),
            run(Grpo, 1e-3, 0, [0.30, 0.3, 0.4, 0.50]),
            // maxpo: pass@8 averaged over two seeds: 1e-4 -> (0.6 + 0.8)/2 = 0.7, 1e-3 -> (0.9 +
            // 0.3)/2 = 0.6, 3e-4 -> 0.65; the single best seed (0.9 at 1e-3) must not win.
            run(Maxpo, 1e-3, 0, [0.5, 0.6, 0.7, 0.9]),
            run(Maxpo, 1e-3, 1, [0.5, 0.6, 0.7, 0.3]),
            run(Maxpo, 1e-4, 0, [0.1, 0.2, 0.3, 0.6]),
            run(Maxpo, 1e-4, 1, [0.1, 0.2, 0.3, 0.8]),
            run(Maxpo, 3e-4, 0, [0.1, 0.2, 0.3, 0.65]),
            run(Maxpo, 3e-4, 1, [0.1, 0.2, 0.3, 0.65]),
            // pkpo-loo1: a tie at pass@8 goes to the smaller lr.
            run(PkpoLoo1, 3e-4, 0, [0.1, 0.2, 0.3, 0.5]),
            run(PkpoLoo1, 1e-4, 0, [0.4, 0.2, 0.3, 0.5]),
            // The base model is context, never a candidate.
            TuneRun { lr: None, estimator: None, ..run(Grpo, 0.0, 0, [1.0, 1.0, 1.0, 1.0]) },
        ];
        let t = table(&runs);
        let ids: Vec<Estimator> = t.iter().map(|(e, _)| *e).collect();
        assert_eq!(ids, [Grpo, Maxpo, PkpoLoo1], "the order of the ids");
        let maxpo: Vec<(f64, f64)> = t[1].1.clone();
        assert_eq!(maxpo.iter().map(|x| x.0).collect::<Vec<_>>(), vec![1e-4, 3e-4, 1e-3]);
        for (got, want) in maxpo.iter().map(|x| x.1).zip([0.7, 0.65, 0.6]) {
            assert!((got - want).abs() < 1e-12, "{got} vs {want}");
        }
        let s = select(&runs).unwrap();
        assert_eq!(s.len(), 3);
        assert_eq!(s[&Grpo], 1e-3);
        assert_eq!(s[&Maxpo], 1e-4);
        assert_eq!(s[&PkpoLoo1], 1e-4);
    }

    #[test]
    fn objectives_and_bad_scores() {
        assert_eq!(objective_k(Some(Grpo), 8), 1);
        assert_eq!(objective_k(Some(Maxpo), 8), 8);
        assert_eq!(objective_k(Some(PkpoLoo1), 4), 4);
        assert_eq!(objective_k(None, 8), 1);
        // pass@k at a k that was not evaluated: the largest evaluated k below it.
        assert_eq!(run(Maxpo, 1e-3, 0, [0.1, 0.2, 0.3, 0.4]).pass_at(6), 0.3);
        let bad = vec![run(Maxpo, 1e-3, 0, [0.1, 0.2, 0.3, f64::NAN])];
        assert!(select(&bad).unwrap_err().to_string().contains("maxpo"));
        assert!(select(&[]).unwrap().is_empty());
    }
}
