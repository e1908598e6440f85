//! Training diagnostics: the Adam-moment gradient-variance proxy and group statistics of the
//! advantages (centering, spread, how many groups carry signal).

use serde::Serialize;

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::error::{Result, TrainerError};

/// Appends one JSON object per line to a `metrics.jsonl` file (append mode, so a resumed run
/// continues the same file).
#[derive(Debug)]
pub struct MetricsLog {
    path: PathBuf,
    out: Option<BufWriter<File>>,
}

impl MetricsLog {
    /// Opens (creating) `path` for appending.
    pub fn open(path: &Path) -> Result<Self> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(TrainerError::io(dir))?;
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(TrainerError::io(path))?;
        Ok(MetricsLog { path: path.to_path_buf(), out: Some(BufWriter::new(file)) })
    }

    /// A log that discards everything (tests, benchmarks).
    pub fn sink() -> Self {
        MetricsLog { path: PathBuf::new(), out: None }
    }

    /// Writes one record and flushes it.
    pub fn log<T: Serialize>(&mut self, record: &T) -> Result<()> {
        let Some(out) = self.out.as_mut() else { return Ok(()) };
        let line = serde_json::to_string(record).map_err(|e| TrainerError::Config(e.to_string()))?;
        writeln!(out, "{line}").and_then(|_| out.flush()).map_err(TrainerError::io(&self.path))
    }
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
}

/// Group statistics of row-major `[G, n]` rewards and advantages.
pub fn group_stats(rewards: &[f64], advantages: &[f64], n: usize) -> GroupStats {
    if rewards.is_empty() || n == 0 {
        return GroupStats::default();
    }
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
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_stats_of_a_known_batch() {
        let r = [1.0, 0.0, 0.0, 0.0, 0.0, 0.0];
        let a = [1.0, -1.0, 0.0, 0.5, 0.0, 0.0];
        let s = group_stats(&r, &a, 3);
        assert!((s.reward_mean - 1.0 / 6.0).abs() < 1e-12);
        assert_eq!(s.active_groups, 0.5);
        assert!((s.adv_group_sum_abs - 0.25).abs() < 1e-12);
        assert!((s.adv_abs_mean - 2.5 / 6.0).abs() < 1e-12);
    }
}
