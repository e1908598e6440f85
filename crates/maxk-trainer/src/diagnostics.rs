//! Training diagnostics: the metrics log, progress bars, the Adam-moment gradient-variance
//! proxy and group statistics of the rewards and advantages (centering, spread, how many
//! groups carry signal, the train-set pass@K).

use indicatif::{ProgressBar, ProgressStyle};
use maxk_core::pass_at_k;
use serde::Serialize;

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::error::{Result, TrainerError};

/// Writes one JSON object per line to a `metrics.jsonl` file. A fresh run refuses a file that
/// exists (so a new run never mixes its records into an old run's); a resumed run appends.
#[derive(Debug)]
pub struct MetricsLog {
    path: PathBuf,
    out: Option<BufWriter<File>>,
}

impl MetricsLog {
    /// Opens `path`: appending when `resume`, otherwise creating it, which fails when it exists.
    pub fn open(path: &Path, resume: bool) -> Result<Self> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(TrainerError::io(dir))?;
        }
        let mut options = std::fs::OpenOptions::new();
        if resume {
            options.create(true).append(true);
        } else {
            options.create_new(true).write(true);
        }
        let file = options.open(path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                TrainerError::EarlierRun { path: path.to_path_buf() }
            } else {
                TrainerError::io(path)(e)
            }
        })?;
        Ok(MetricsLog { path: path.to_path_buf(), out: Some(BufWriter::new(file)) })
    }

    /// A log that discards everything (tests, benchmarks).
    pub fn sink() -> Self {
        MetricsLog { path: PathBuf::new(), out: None }
    }

    /// Writes one record and flushes it.
    pub fn log<T: Serialize>(&mut self, record: &T) -> Result<()> {
        let Some(out) = self.out.as_mut() else { return Ok(()) };
        let line = serde_json::to_string(record).map_err(TrainerError::json(self.path.display()))?;
        writeln!(out, "{line}").and_then(|_| out.flush()).map_err(TrainerError::io(&self.path))
    }
}

/// A progress bar, hidden when `show` is false.
pub fn progress_bar(show: bool, len: usize, label: &str) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len as u64);
    let style =
        ProgressStyle::with_template("{prefix:>12} [{bar:30}] {pos}/{len} {elapsed_precise} eta {eta} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style.progress_chars("=> "));
    bar.set_prefix(label.to_string());
    bar
}

/// Gradient-variance proxy from Adam's moments: the mean over all parameters of
/// `Var(g) ~ v_hat - m_hat^2` with `m_hat = m/c1`, `v_hat = v/c2` (bias-corrected, `c = 1 - beta^t`).
/// `v_hat` tracks `E[g^2]` and `m_hat^2` approximates `E[g]^2` over the last ~1/(1-beta)
/// updates, so their difference estimates the per-coordinate gradient variance (as used in
/// the MaxPO paper's variance comparison).
pub fn variance_proxy(m: &[Vec<f32>], v: &[Vec<f32>], c1: f64, c2: f64) -> f64 {
    let mut total = 0.0;
    let mut count = 0usize;
    for (m, v) in m.iter().zip(v) {
        count += m.len();
        total += m.iter().zip(v).map(|(&m, &v)| v as f64 / c2 - (m as f64 / c1).powi(2)).sum::<f64>();
    }
    if count == 0 { 0.0 } else { total / count as f64 }
}

/// Per-step training curves of an RL run: train-set reward, train-set pass@K at the training
/// K, policy entropy per answer token and the global gradient norm (before clipping) of the
/// last minibatch. A resumed run holds only the steps it ran itself.
#[derive(Debug, Clone, Default, PartialEq, Serialize, serde::Deserialize)]
pub struct TrainCurves {
    /// Mean reward of the rollouts (train-set pass@1 for binary rewards).
    pub reward: Vec<f64>,
    /// Mean unbiased pass@K of the rollout groups.
    pub pass_at_k: Vec<f64>,
    /// Mean surprisal of the sampled answer tokens.
    pub entropy: Vec<f64>,
    /// Gradient norm of the last minibatch.
    pub grad_norm: Vec<f64>,
}

/// Statistics of one RL batch of `G` groups of size `N`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct GroupStats {
    /// Mean reward.
    pub reward_mean: f64,
    /// Fraction of groups whose rewards are not all equal.
    pub active_groups: f64,
    /// Mean over groups of `|sum_i A_i|` (0 for centered estimators).
    pub adv_group_sum_abs: f64,
    /// Mean of `|A_i|`.
    pub adv_abs_mean: f64,
    /// Standard deviation of all `A_i`.
    pub adv_std: f64,
    /// Mean over groups of the unbiased pass@K of the group (Chen et al. 2021,
    /// `1 - C(N-c, K)/C(N, K)` with `c` correct of `N`; rewards > 0 count as correct): the
    /// train-set max@K objective at the training K (pass@1 is `reward_mean` for binary rewards).
    pub pass_at_k: f64,
}

/// Group statistics of row-major `[G, n]` rewards and advantages at training K `k` (clamped
/// to `1..=n`).
pub fn group_stats(rewards: &[f64], advantages: &[f64], n: usize, k: usize) -> GroupStats {
    if rewards.is_empty() || n == 0 {
        return GroupStats::default();
    }
    let k = k.clamp(1, n);
    let pass: f64 = rewards
        .chunks(n)
        .map(|g| pass_at_k(g.len(), g.iter().filter(|&&r| r > 0.0).count(), k.min(g.len())).unwrap_or(0.0))
        .sum();
    let groups = rewards.len() / n;
    let len = rewards.len() as f64;
    let active = rewards.chunks(n).filter(|g| g.iter().any(|&r| r != g[0])).count();
    let sums: f64 = advantages.chunks(n).map(|g| g.iter().sum::<f64>().abs()).sum();
    let mean = advantages.iter().sum::<f64>() / len;
    let var = advantages.iter().map(|a| (a - mean).powi(2)).sum::<f64>() / len;
    GroupStats {
        reward_mean: rewards.iter().sum::<f64>() / len,
        active_groups: active as f64 / groups as f64,
        adv_group_sum_abs: sums / groups as f64,
        adv_abs_mean: advantages.iter().map(|a| a.abs()).sum::<f64>() / len,
        adv_std: var.sqrt(),
        pass_at_k: pass / groups as f64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_stats_of_a_known_batch() {
        let r = [1.0, 0.0, 0.0, 0.0, 0.0, 0.0];
        let a = [1.0, -1.0, 0.0, 0.5, 0.0, 0.0];
        let s = group_stats(&r, &a, 3, 2);
        // Group 1: c = 1 of 3, pass@2 = 1 - C(2,2)/C(3,2) = 2/3; group 2: 0.
        assert!((s.pass_at_k - 1.0 / 3.0).abs() < 1e-12);
        assert!((s.reward_mean - 1.0 / 6.0).abs() < 1e-12);
        assert_eq!(s.active_groups, 0.5);
        assert!((s.adv_group_sum_abs - 0.25).abs() < 1e-12);
        assert!((s.adv_abs_mean - 2.5 / 6.0).abs() < 1e-12);
    }

    #[test]
    fn a_fresh_log_refuses_an_old_runs_file_and_a_resumed_one_appends() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("metrics.jsonl");
        MetricsLog::open(&path, false).unwrap().log(&serde_json::json!({"a": 1})).unwrap();
        let err = MetricsLog::open(&path, false).unwrap_err().to_string();
        assert!(err.contains("metrics.jsonl") && err.contains("--resume"), "{err}");
        MetricsLog::open(&path, true).unwrap().log(&serde_json::json!({"a": 2})).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "{\"a\":1}\n{\"a\":2}\n");
    }
}
