//! The stages chained for the CLI: `reproduce` (base training, RL per estimator and training
//! K, evaluation, report), single stages, and a throughput benchmark. Each is an
//! [`OnBackend`] job so that the CLI picks CPU or CUDA at run time.

use std::path::PathBuf;
use std::time::Instant;

use crate::backend::OnBackend;
use crate::checkpoint;
use crate::config::LmConfig;
use crate::diagnostics::MetricsLog;
use crate::engine::Engine;
use crate::error::{Result, TrainerError};
use crate::eval::evaluate;
use crate::report;
use crate::results::{EvalRecord, Results, RunResult};
pub use crate::rl::BenchResult;

/// `maxk lm reproduce`: for every seed, train the base model, then RL with every estimator
/// and training K, evaluate everything, and write the report into `out`.
#[derive(Debug, Clone)]
pub struct Reproduce {
    /// Base config (preset plus overrides).
    pub cfg: LmConfig,
    /// Estimator ids.
    pub estimators: Vec<String>,
    /// Training K values (one: labels are the estimator ids; several: `id-K<k>`).
    pub ks: Vec<usize>,
    /// Seeds.
    pub seeds: Vec<u64>,
    /// Output directory.
    pub out: PathBuf,
    /// Continue stages from their checkpoints.
    pub resume: bool,
    /// Show progress bars.
    pub progress: bool,
    /// Device name for the report.
    pub device: String,
    /// The command line, recorded in the report.
    pub command: String,
}

impl Reproduce {
    fn check(&self) -> Result<()> {
        if self.estimators.is_empty() || self.ks.is_empty() || self.seeds.is_empty() {
            return Err(TrainerError::Config("estimators, k and seeds must be non-empty".into()));
        }
        for e in &self.estimators {
            for &k in &self.ks {
                let mut c = self.cfg.clone();
                c.rl.estimator = e.clone();
                c.rl.k = k;
                c.validate()?;
            }
        }
        Ok(())
    }
}

impl OnBackend for Reproduce {
    type Output = Results;

    fn run<E: Engine>(self, engine: E) -> Result<Results> {
        self.check()?;
        let start = Instant::now();
        std::fs::create_dir_all(&self.out).map_err(TrainerError::io(&self.out))?;
        self.cfg.save(&self.out)?;
        let mut log = MetricsLog::open(&self.out.join("metrics.jsonl"), self.resume)?;
        let (mut base_runs, mut runs) = (Vec::new(), Vec::new());
        for &seed in &self.seeds {
            let mut cfg = self.cfg.clone();
            cfg.seed = seed;
            let seed_dir = self.out.join(format!("seed{seed}"));
            let t0 = Instant::now();
            let base = crate::sft::train(
                &cfg,
                &engine,
                &seed_dir.join("base"),
                self.resume,
                &mut log,
                self.progress,
            )?;
            let evals = evaluate(&base, &cfg, &engine, self.progress)?;
            let base_run = RunResult {
                label: "base".into(),
                estimator: "base".into(),
                k: 0,
                seed,
                evals,
                var_proxy: Vec::new(),
                curves: Default::default(),
                seconds: t0.elapsed().as_secs_f64(),
            };
            log.log(&EvalRecord::new(&base_run))?;
            base_runs.push(base_run);
            for est in &self.estimators {
                for &k in &self.ks {
                    let t0 = Instant::now();
                    let mut c = cfg.clone();
                    c.rl.estimator = est.clone();
                    c.rl.k = k;
                    let label = if self.ks.len() > 1 { format!("{est}-K{k}") } else { est.clone() };
                    let dir = seed_dir.join("rl").join(&label);
                    let (policy, var_proxy, curves) =
                        crate::rl::train(&c, &base, &engine, &dir, self.resume, &mut log, self.progress)?;
                    let evals = evaluate(&policy, &c, &engine, self.progress)?;
                    let run = RunResult {
                        label,
                        estimator: est.clone(),
                        k,
                        seed,
                        evals,
                        var_proxy,
                        curves,
                        seconds: t0.elapsed().as_secs_f64(),
                    };
                    log.log(&EvalRecord::new(&run))?;
                    runs.push(run);
                }
            }
        }
        let results = Results {
            config: self.cfg,
            device: self.device,
            command: self.command,
            threads: std::thread::available_parallelism().map_or(1, usize::from),
            base: base_runs,
            runs,
            seconds: start.elapsed().as_secs_f64(),
        };
        report::write(&results, &self.out)?;
        Ok(results)
    }
}

/// A single stage for `maxk lm pretrain|rl|eval`.
#[derive(Debug, Clone)]
pub enum Stage {
    /// Train the base model into `out` (`base.safetensors`).
    Pretrain,
    /// RL from the base weights at this path into `out` (`policy.safetensors`).
    Rl {
        /// Base model weights.
        base: PathBuf,
    },
    /// Evaluate the weights at this path; writes `out/passk.csv` and `out/eval.json`.
    Eval {
        /// Weights to evaluate.
        weights: PathBuf,
    },
}

/// One stage job.
#[derive(Debug, Clone)]
pub struct StageJob {
    /// What to run.
    pub stage: Stage,
    /// Config.
    pub cfg: LmConfig,
    /// Output directory.
    pub out: PathBuf,
    /// Continue from `out/ckpt`.
    pub resume: bool,
    /// Show progress bars.
    pub progress: bool,
}

impl OnBackend for StageJob {
    type Output = ();

    fn run<E: Engine>(self, engine: E) -> Result<()> {
        self.cfg.validate()?;
        std::fs::create_dir_all(&self.out).map_err(TrainerError::io(&self.out))?;
        let mut log = MetricsLog::open(&self.out.join("metrics.jsonl"), self.resume)?;
        match &self.stage {
            Stage::Pretrain => {
                crate::sft::train(&self.cfg, &engine, &self.out, self.resume, &mut log, self.progress)?;
            }
            Stage::Rl { base } => {
                let base = checkpoint::load_weights(base, &self.cfg.model)?;
                crate::rl::train(&self.cfg, &base, &engine, &self.out, self.resume, &mut log, self.progress)?;
            }
            Stage::Eval { weights } => {
                let w = checkpoint::load_weights(weights, &self.cfg.model)?;
                let evals = evaluate(&w, &self.cfg, &engine, self.progress)?;
                let run = RunResult {
                    label: self.cfg.rl.estimator.clone(),
                    estimator: self.cfg.rl.estimator.clone(),
                    k: self.cfg.rl.k,
                    seed: self.cfg.seed,
                    evals,
                    var_proxy: Vec::new(),
                    curves: Default::default(),
                    seconds: 0.0,
                };
                log.log(&EvalRecord::new(&run))?;
                report::write_passk_csv(&[&run], &self.out.join("passk.csv"))?;
                let json =
                    serde_json::to_string_pretty(&run).map_err(|e| TrainerError::Config(e.to_string()))?;
                let path = self.out.join("eval.json");
                std::fs::write(&path, json).map_err(TrainerError::io(path))?;
                self.cfg.save(&self.out)?;
            }
        }
        Ok(())
    }
}

/// `maxk lm bench`: rollout and update throughput of the RL step of `cfg` from freshly
/// initialised weights ([`crate::rl::bench`]).
#[derive(Debug, Clone)]
pub struct Bench {
    /// Config (model size, group size, prompts per step, minibatches).
    pub cfg: LmConfig,
    /// Timed RL steps (after one warm-up step).
    pub steps: usize,
}

impl OnBackend for Bench {
    type Output = BenchResult;

    fn run<E: Engine>(self, engine: E) -> Result<BenchResult> {
        let weights = self.cfg.model.init_host(self.cfg.seed)?;
        crate::rl::bench(&self.cfg, &weights, &engine, self.steps)
    }
}
