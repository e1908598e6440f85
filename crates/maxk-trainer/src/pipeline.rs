//! The stages chained for the CLI: `reproduce` (base training, RL per estimator and training
//! K, evaluation, report), single stages, and a throughput benchmark. Each is an
//! [`OnBackend`] job so that the CLI picks CPU or CUDA at run time.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use maxk_core::Estimator;
use serde::Serialize;

use crate::backend::OnBackend;
use crate::checkpoint;
use crate::config::LmConfig;
use crate::diagnostics::MetricsLog;
use crate::engine::Engine;
use crate::error::{Result, TrainerError};
use crate::eval::{
    TaskEval, average, evaluate, evaluate_at_rollout_temperature, evaluate_validation,
    validation_rollout_success,
};
use crate::model::HostWeights;
use crate::report;
use crate::results::{EvalRecord, Results, RunResult};
pub use crate::rl::BenchResult;
use crate::run_label::RunLabel;
use crate::tune::TuneRun;

/// `maxk lm reproduce`: when `[tune]` has an lr grid, select every estimator's lr on the
/// validation problems first ([`crate::tune`]); then, for every seed, train the base model, RL
/// with every estimator and training K (and the K sweep of MaxPO), evaluate everything on the
/// test problems, and write the report into `out`.
#[derive(Debug, Clone)]
pub struct Reproduce {
    /// Base config (preset plus overrides).
    pub cfg: LmConfig,
    /// The estimators compared.
    pub estimators: Vec<Estimator>,
    /// Training K values (one: labels are the estimator ids; several: `id-K<k>`).
    pub ks: Vec<usize>,
    /// Extra MaxPO runs at these training K (labels `maxpo-K<k>`, MaxPO's lr), the K sweep of
    /// the paper's Fig. 10; a K already run as `maxpo` is not repeated.
    pub ksweep: Vec<usize>,
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

/// One RL run of a reproduction: estimator, training K and label.
#[derive(Debug, Clone, PartialEq)]
struct RunSpec {
    estimator: Estimator,
    k: usize,
    label: RunLabel,
}

impl Reproduce {
    /// The final RL runs of one seed: estimators x K, then the K sweep.
    fn runs(&self) -> Vec<RunSpec> {
        let mut out = Vec::new();
        for &estimator in &self.estimators {
            for &k in &self.ks {
                let label = RunLabel::Trained { estimator, k: (self.ks.len() > 1).then_some(k) };
                out.push(RunSpec { estimator, k, label });
            }
        }
        for &k in &self.ksweep {
            let estimator = Estimator::Maxpo;
            if !out.iter().any(|r| r.estimator == estimator && r.k == k) {
                out.push(RunSpec { estimator, k, label: RunLabel::Trained { estimator, k: Some(k) } });
            }
        }
        out
    }

    fn check(&self) -> Result<()> {
        let none =
            |arg| TrainerError::Argument { arg, value: "(none)".into(), reason: "at least one is needed" };
        for (arg, empty) in [
            ("--estimators", self.estimators.is_empty()),
            ("--k", self.ks.is_empty()),
            ("--seeds", self.seeds.is_empty()),
        ] {
            if empty {
                return Err(none(arg));
            }
        }
        for r in self.runs() {
            let mut c = self.cfg.clone();
            c.rl.estimator = r.estimator;
            c.rl.k = r.k;
            c.validate()?;
        }
        if self.cfg.tune.enabled() {
            if self.ks.len() != 1 {
                return Err(TrainerError::Argument {
                    arg: "--k",
                    value: format!("{:?}", self.ks),
                    reason: "lr tuning ([tune] of the config) selects one lr per estimator at one training K",
                });
            }
            crate::eval::validation_problems(&self.cfg)?;
        }
        Ok(())
    }
}

/// Base models by seed, trained on first use into `out/seed<s>/base`.
struct Bases<'a, E: Engine> {
    engine: &'a E,
    out: &'a Path,
    resume: bool,
    progress: bool,
    trained: BTreeMap<u64, (HostWeights, f64)>,
}

impl<E: Engine> Bases<'_, E> {
    /// The base model of `seed` and the seconds its training took.
    fn get(&mut self, cfg: &LmConfig, seed: u64, log: &mut MetricsLog) -> Result<(HostWeights, f64)> {
        if let Some(b) = self.trained.get(&seed) {
            return Ok(b.clone());
        }
        let mut c = cfg.clone();
        c.seed = seed;
        let t0 = Instant::now();
        let dir = self.out.join(format!("seed{seed}")).join("base");
        let w = crate::sft::train(&c, self.engine, &dir, self.resume, log, self.progress)?;
        let b = (w, t0.elapsed().as_secs_f64());
        self.trained.insert(seed, b.clone());
        Ok(b)
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
        let mut bases = Bases {
            engine: &engine,
            out: &self.out,
            resume: self.resume,
            progress: self.progress,
            trained: BTreeMap::new(),
        };
        let mut cfg = self.cfg.clone();
        let mut tuning = Vec::new();
        if cfg.tune.enabled() {
            tuning = self.tune(&cfg, &engine, &mut bases, &mut log)?;
            let selected = crate::tune::select(&tuning)?;
            cfg.rl.lr_by_estimator.extend(selected);
            // The resolved config now names every estimator's lr.
            cfg.save(&self.out)?;
        }
        let (mut base_runs, mut runs) = (Vec::new(), Vec::new());
        for &seed in &self.seeds {
            let mut cfg = cfg.clone();
            cfg.seed = seed;
            let seed_dir = self.out.join(format!("seed{seed}"));
            let t0 = Instant::now();
            let (base, sft_secs) = bases.get(&cfg, seed, &mut log)?;
            let (evals, evals_rollout) = self.evaluate(&base, &cfg, &engine)?;
            let validation_rollout_success = if cfg.tune.enabled() {
                Some(validation_rollout_success(&base, &cfg, &engine, self.progress)?)
            } else {
                None
            };
            let base_run = RunResult {
                validation_rollout_success,
                label: RunLabel::Base,
                estimator: None,
                k: 0,
                seed,
                lr: 0.0,
                evals,
                evals_rollout,
                var_proxy: Vec::new(),
                curves: Default::default(),
                seconds: sft_secs + t0.elapsed().as_secs_f64(),
            };
            log.log(&EvalRecord::new(&base_run))?;
            base_runs.push(base_run);
            for spec in self.runs() {
                let t0 = Instant::now();
                let mut c = cfg.clone();
                c.rl.estimator = spec.estimator;
                c.rl.k = spec.k;
                let dir = seed_dir.join("rl").join(spec.label.to_string());
                let (policy, var_proxy, curves) =
                    crate::rl::train(&c, &base, &engine, &dir, self.resume, &mut log, self.progress)?;
                let (evals, evals_rollout) = self.evaluate(&policy, &c, &engine)?;
                let run = RunResult {
                    label: spec.label,
                    estimator: Some(spec.estimator),
                    k: spec.k,
                    seed,
                    lr: c.rl.lr_for(spec.estimator),
                    evals,
                    evals_rollout,
                    validation_rollout_success: None,
                    var_proxy,
                    curves,
                    seconds: t0.elapsed().as_secs_f64(),
                };
                log.log(&EvalRecord::new(&run))?;
                runs.push(run);
            }
        }
        let results = Results {
            config: cfg,
            device: self.device,
            command: self.command,
            threads: std::thread::available_parallelism().map_or(1, usize::from),
            base: base_runs,
            runs,
            tuning,
            seconds: start.elapsed().as_secs_f64(),
        };
        report::write(&results, &self.out)?;
        Ok(results)
    }
}

/// The `metrics.jsonl` record of a tuning run's validation score.
#[derive(Debug, Serialize)]
struct TuneRecord<'a> {
    stage: &'static str,
    #[serde(flatten)]
    run: &'a TuneRun,
    score: f64,
}

impl Reproduce {
    /// The test-set evaluation, and the one at the rollout temperature when the config asks.
    fn evaluate<E: Engine>(
        &self,
        w: &HostWeights,
        cfg: &LmConfig,
        engine: &E,
    ) -> Result<(Vec<TaskEval>, Vec<TaskEval>)> {
        let evals = evaluate(w, cfg, engine, self.progress)?;
        let rollout = if cfg.eval.at_rollout_temperature {
            evaluate_at_rollout_temperature(w, cfg, engine, self.progress)?
        } else {
            Vec::new()
        };
        Ok((evals, rollout))
    }

    /// Every estimator at every lr of the grid and every tuning seed (training K `ks[0]`),
    /// scored on the validation problems; the base models too, for reference.
    fn tune<E: Engine>(
        &self,
        cfg: &LmConfig,
        engine: &E,
        bases: &mut Bases<'_, E>,
        log: &mut MetricsLog,
    ) -> Result<Vec<TuneRun>> {
        let k = self.ks[0];
        let mut out = Vec::new();
        let score = |estimator, lr, seed, evals: &[TaskEval], reward| TuneRun {
            estimator,
            k,
            lr,
            seed,
            ks: evals.first().map(|e| e.ks.clone()).unwrap_or_default(),
            pass_at_k: average(evals),
            train_reward: reward,
        };
        for &seed in &cfg.tune.seeds {
            let mut c = cfg.clone();
            c.seed = seed;
            let (base, _) = bases.get(&c, seed, log)?;
            let run = score(None, None, seed, &evaluate_validation(&base, &c, engine, self.progress)?, 0.0);
            log.log(&TuneRecord { stage: "tune", score: run.score(), run: &run })?;
            out.push(run);
            for &est in &self.estimators {
                for &lr in &cfg.tune.lrs {
                    let mut c = c.clone();
                    c.rl.estimator = est;
                    c.rl.k = k;
                    c.rl.lr_by_estimator.clear();
                    c.rl.adam.lr = lr;
                    let dir =
                        self.out.join("tune").join(format!("seed{seed}")).join(format!("{est}-lr{lr:e}"));
                    let (policy, _, curves) =
                        crate::rl::train(&c, &base, engine, &dir, self.resume, log, self.progress)?;
                    let tail = curves.reward.iter().rev().take(5);
                    let reward = tail.clone().sum::<f64>() / tail.count().max(1) as f64;
                    let evals = evaluate_validation(&policy, &c, engine, self.progress)?;
                    let run = score(Some(est), Some(lr), seed, &evals, reward);
                    log.log(&TuneRecord { stage: "tune", score: run.score(), run: &run })?;
                    out.push(run);
                }
            }
        }
        Ok(out)
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
                    label: RunLabel::of(self.cfg.rl.estimator),
                    estimator: Some(self.cfg.rl.estimator),
                    k: self.cfg.rl.k,
                    seed: self.cfg.seed,
                    lr: 0.0,
                    evals,
                    evals_rollout: Vec::new(),
                    validation_rollout_success: None,
                    var_proxy: Vec::new(),
                    curves: Default::default(),
                    seconds: 0.0,
                };
                log.log(&EvalRecord::new(&run))?;
                report::write_passk_csv(&[&run], &self.out.join("passk.csv"))?;
                let json = serde_json::to_string_pretty(&run).map_err(TrainerError::json("eval.json"))?;
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
