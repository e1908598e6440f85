//! What a reproduction measured: one [`RunResult`] per evaluated model, gathered in
//! [`Results`] (`results.json`), which [`crate::report`] turns into tables and figures.

use std::path::Path;

use maxk_core::Estimator;
use serde::{Deserialize, Serialize};

use crate::config::LmConfig;
use crate::diagnostics::TrainCurves;
use crate::error::{Result, TrainerError};
use crate::eval::TaskEval;
use crate::run_label::RunLabel;
use crate::tune::TuneRun;

/// One evaluated model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunResult {
    /// Label in tables and `passk.csv` (`base`, the estimator id, or `maxpo-K4` in a K sweep).
    pub label: RunLabel,
    /// The estimator; None for the base model (`base` in the file).
    #[serde(with = "crate::run_label::base_or_estimator")]
    pub estimator: Option<Estimator>,
    /// Training K (0 for the base model).
    pub k: usize,
    /// Seed.
    pub seed: u64,
    /// RL Adam lr (0 for the base model).
    #[serde(default)]
    pub lr: f64,
    /// Per-benchmark evaluation (the evaluation protocol, `eval.sampling`).
    pub evals: Vec<TaskEval>,
    /// Per-benchmark evaluation at the rollout sampling (`rl.sampling`), when
    /// `eval.at_rollout_temperature` is set.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub evals_rollout: Vec<TaskEval>,
    /// The base model's rollout success rate on the validation problems before RL
    /// ([`crate::eval::validation_rollout_success`]; base models of a study with `[tune]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation_rollout_success: Option<f64>,
    /// Variance proxy per RL step (empty for the base model).
    pub var_proxy: Vec<f64>,
    /// Training curves (empty for the base model).
    #[serde(default)]
    pub curves: TrainCurves,
    /// Wall time of training plus evaluation.
    pub seconds: f64,
}

/// Everything `reproduce` measured; also written as `results.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Results {
    /// The resolved config (estimator/K fields of `rl` are overridden per run).
    pub config: LmConfig,
    /// The device name.
    pub device: String,
    /// The command line that produced these results.
    #[serde(default)]
    pub command: String,
    /// Hardware threads available to the run (`std::thread::available_parallelism`).
    #[serde(default)]
    pub threads: usize,
    /// Base models, one per seed.
    pub base: Vec<RunResult>,
    /// RL runs.
    pub runs: Vec<RunResult>,
    /// The lr-selection runs scored on the validation problems (empty without `[tune]`).
    #[serde(default)]
    pub tuning: Vec<TuneRun>,
    /// Wall time of the whole reproduction.
    pub seconds: f64,
}

/// The `metrics.jsonl` record of an evaluation: task-average pass@k.
#[derive(Debug, Serialize)]
#[allow(missing_docs)]
pub struct EvalRecord<'a> {
    stage: &'static str,
    label: RunLabel,
    seed: u64,
    ks: &'a [usize],
    pass_at_k: Vec<f64>,
}

impl<'a> EvalRecord<'a> {
    /// The record of `run`.
    pub fn new(run: &'a RunResult) -> Self {
        let ks = run.evals.first().map_or(&[][..], |e| &e.ks[..]);
        EvalRecord {
            stage: "eval",
            label: run.label,
            seed: run.seed,
            ks,
            pass_at_k: crate::eval::average(&run.evals),
        }
    }
}

/// Reads `results.json` written by [`crate::pipeline::Reproduce`] (to redraw a report).
pub fn load_results(dir: &Path) -> Result<Results> {
    let path = dir.join("results.json");
    let text = std::fs::read_to_string(&path).map_err(TrainerError::io(&path))?;
    serde_json::from_str(&text).map_err(TrainerError::json(path.display()))
}
