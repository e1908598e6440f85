//! `maxk lm`: the tiny-transformer RLVR trainer (maxk-trainer): base training, group RL with
//! any estimator, pass@k evaluation, the gradient-variance study and the end-to-end
//! reproduction with its report.
//!
//! The config is the defaults (the `small` preset) with overlays applied in order: a preset
//! (`--preset`), a TOML file (`--config`: any subset of the keys; the complete config written
//! next to every run reproduces that run), `--set KEY=VALUE` assignments, then the flags
//! (`--seed`, `--k`, `--scale`, `--rl-lr`, `--rl-steps`). A flag changes the config only when
//! it is given, so `maxk lm rl --config FILE` trains exactly what FILE says. Every run writes into its own
//! directory, `runs/lm-<command>-<UTC timestamp>` unless `--out` names one, and a fresh run
//! refuses a directory that holds an earlier run's `metrics.jsonl` (`--resume` continues it).
//! A config with a `[tune]` lr grid makes `reproduce` select each estimator's lr on validation
//! problems first and record it in the resolved config (`rl.lr_by_estimator`).

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use maxk_core::{Estimator, Scale};
use maxk_trainer::backend::{DeviceKind, dispatch};
use maxk_trainer::config::{Assignment, LmConfig};
use maxk_trainer::gradvar::{GradVar, GradVarResults, StudyCheckpoint, Unit};
use maxk_trainer::pipeline::{Bench, Reproduce, Stage, StageJob};

/// Train and evaluate a small language model with max@K policy gradients.
#[derive(Debug, Parser)]
pub struct Args {
    #[command(subcommand)]
    command: LmCommand,
}

#[derive(Debug, Subcommand)]
enum LmCommand {
    /// Base training, RL with each estimator, pass@k evaluation, report.md + figures + passk.csv.
    Reproduce(ReproduceArgs),
    /// pass@k curves of MaxPO trained with K in {1, 2, 4, 8, 16} (a reproduce with a K list).
    Ksweep(ReproduceArgs),
    /// Supervised base-model training only.
    Pretrain(StageArgs),
    /// RL from a base model only.
    Rl(RlArgs),
    /// pass@k evaluation of saved weights.
    Eval(EvalArgs),
    /// Gradient variance of every estimator from the same rollouts at fixed checkpoints.
    Gradvar(GradVarArgs),
    /// Rollout tokens/s and updates/s of the RL step.
    Bench(BenchArgs),
    /// Redraw report.md, passk.csv and the figures of a reproduction from its results.json.
    Report(ReportArgs),
}

#[derive(Debug, Parser)]
struct ReportArgs {
    /// The output directory of `maxk lm reproduce` (holds results.json).
    #[arg(long)]
    dir: PathBuf,
}

/// Where the config comes from, and how the run is executed.
#[derive(Debug, Parser)]
struct Common {
    /// Preset, overlaid on the defaults: tiny (CI), cpu (the committed CPU study), small (the
    /// defaults), gpu [default: small].
    #[arg(long)]
    preset: Option<String>,
    /// A TOML config overlaid on the preset: any subset of the keys (the config written next
    /// to every run is complete).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Set one config key after the preset and the file (repeatable), the value in TOML: e.g.
    /// `--set rl.adam.lr=3e-4 --set rl.estimator=grpo`.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<Assignment>,
    /// cpu (the native engine), cpu-burn (burn NdArray, the reference) or cuda (burn; needs
    /// the `cuda` build feature).
    #[arg(long, default_value = "cpu")]
    device: DeviceKind,
    /// Output directory [default: runs/lm-<command>-<UTC timestamp>].
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Continue from the checkpoints in --out (which must be given).
    #[arg(long)]
    resume: bool,
    /// No progress bars.
    #[arg(long)]
    quiet: bool,
}

/// Config fields a flag may override; each applies only when given.
#[derive(Debug, Parser)]
struct Overrides {
    /// Master seed (config `seed`).
    #[arg(long)]
    seed: Option<u64>,
    /// Training K of max@K (config `rl.k`); `reproduce` and `ksweep` take a comma-separated
    /// list, one run per K [their default: the config's rl.k; the K sweep: 1,2,4,8,16].
    #[arg(long, value_delimiter = ',')]
    k: Vec<usize>,
    /// Advantage scale after the estimator: none, std or pg (config `rl.scale`).
    #[arg(long)]
    scale: Option<Scale>,
    /// RL Adam learning rate (config `rl.adam.lr`).
    #[arg(long)]
    rl_lr: Option<f64>,
    /// RL updates (config `rl.steps`).
    #[arg(long)]
    rl_steps: Option<usize>,
}

impl Overrides {
    /// Applies the flags given, `--k` included (one value).
    fn apply(&self, cfg: &mut LmConfig) -> Result<()> {
        match self.k[..] {
            [] => {}
            [k] => cfg.rl.k = k,
            _ => bail!("--k {:?}: this command trains at one K", self.k),
        }
        self.apply_but_k(cfg);
        Ok(())
    }

    /// Applies the flags given but `--k` (a list for `reproduce`).
    fn apply_but_k(&self, cfg: &mut LmConfig) {
        if let Some(seed) = self.seed {
            cfg.seed = seed;
        }
        if let Some(scale) = self.scale {
            cfg.rl.scale = scale;
        }
        if let Some(lr) = self.rl_lr {
            cfg.rl.adam.lr = lr;
        }
        if let Some(steps) = self.rl_steps {
            cfg.rl.steps = steps;
        }
    }
}

impl Common {
    /// The defaults with the preset, the file and the `--set` assignments applied.
    fn config(&self) -> Result<LmConfig> {
        Ok(LmConfig::resolve(self.preset.as_deref(), self.config.as_deref(), &self.set)?)
    }

    /// `--out`, or a fresh `runs/lm-<command>-<timestamp>`.
    fn out(&self, command: &str) -> Result<PathBuf> {
        match &self.out {
            Some(dir) => Ok(dir.clone()),
            None if self.resume => bail!("--resume needs --out: the directory of the run to continue"),
            None => Ok(PathBuf::from("runs")
                .join(format!("lm-{command}-{}", chrono::Utc::now().format("%Y%m%d-%H%M%S")))),
        }
    }
}

/// The command line as typed, recorded next to the results.
fn command_line() -> String {
    std::iter::once("maxk".to_string()).chain(std::env::args().skip(1)).collect::<Vec<_>>().join(" ")
}

#[derive(Debug, Parser)]
struct ReproduceArgs {
    #[command(flatten)]
    common: Common,
    /// Comma-separated estimator ids (`maxk estimators`) [default: grpo,pkpo-loo1,ei,maxpo; the
    /// K sweep: maxpo].
    #[arg(long, value_delimiter = ',', value_name = "IDS")]
    estimators: Vec<Estimator>,
    #[command(flatten)]
    overrides: Overrides,
    /// Comma-separated seeds, or a count S meaning seeds 0..S [default: the config's seed].
    #[arg(long)]
    seeds: Option<String>,
    /// Comma-separated training K of extra MaxPO runs (labels maxpo-K<k>, at MaxPO's lr): the
    /// K sweep beside the estimator comparison, from the same base models.
    #[arg(long, value_delimiter = ',', value_name = "KS")]
    ksweep: Vec<usize>,
}

#[derive(Debug, Parser)]
struct StageArgs {
    #[command(flatten)]
    common: Common,
    #[command(flatten)]
    overrides: Overrides,
}

#[derive(Debug, Parser)]
struct RlArgs {
    #[command(flatten)]
    stage: StageArgs,
    /// Base weights (`base.safetensors` from `maxk lm pretrain`).
    #[arg(long)]
    base: PathBuf,
    /// Estimator id (config `rl.estimator`).
    #[arg(long)]
    estimator: Option<Estimator>,
}

#[derive(Debug, Parser)]
struct EvalArgs {
    #[command(flatten)]
    stage: StageArgs,
    /// Weights to evaluate.
    #[arg(long)]
    weights: PathBuf,
}

#[derive(Debug, Parser)]
struct GradVarArgs {
    #[command(flatten)]
    common: Common,
    #[command(flatten)]
    overrides: Overrides,
    /// A checkpoint as LABEL=PATH (repeatable), e.g. base=.../base.safetensors, of the model of
    /// the config.
    #[arg(long = "weights", value_name = "LABEL=PATH", required_unless_present_any = ["study", "merge"])]
    weights: Vec<String>,
    /// Measure nothing: merge the gradvar.json of earlier runs (repeatable) and write their
    /// joint report into --out.
    #[arg(long, value_name = "GRADVAR_JSON", conflicts_with_all = ["weights", "study"])]
    merge: Vec<PathBuf>,
    /// A `maxk lm reproduce` output directory as LABEL=DIR (repeatable, conflicts with
    /// --weights and the config flags): every seed of it, with its resolved config and the
    /// checkpoints of --checkpoints.
    #[arg(long, value_name = "LABEL=DIR", conflicts_with_all = ["weights", "config", "preset"])]
    study: Vec<String>,
    /// The checkpoints of every seed of a --study: base, mid-<run>, final-<run>.
    #[arg(long, value_delimiter = ',', default_value = "base,mid-maxpo,final-maxpo")]
    checkpoints: Vec<StudyCheckpoint>,
    /// Comma-separated estimator ids; ratios are taken against the first.
    #[arg(long, value_delimiter = ',', value_name = "IDS", default_value = "maxpo,pkpo-loo1,ei,grpo")]
    estimators: Vec<Estimator>,
    /// Independent rollout batches M per checkpoint (even).
    #[arg(long, default_value_t = 64)]
    batches: usize,
    /// Fixed prompts per batch.
    #[arg(long, default_value_t = 8)]
    prompts: usize,
}

#[derive(Debug, Parser)]
struct BenchArgs {
    #[command(flatten)]
    common: Common,
    /// Timed RL steps.
    #[arg(long, default_value_t = 3)]
    steps: usize,
}

/// `--seeds`: `0,3,7` or a count `3` meaning `0,1,2`.
fn parse_seeds(s: &str) -> Result<Vec<u64>> {
    if s.contains(',') {
        s.split(',').map(|x| x.trim().parse::<u64>().with_context(|| format!("bad seed {x:?}"))).collect()
    } else {
        let count: u64 = s.trim().parse().with_context(|| format!("--seeds {s:?}: a count or a list"))?;
        if count == 0 {
            bail!("--seeds 0: at least one seed is needed");
        }
        Ok((0..count).collect())
    }
}

fn reproduce(a: ReproduceArgs, sweep: bool) -> Result<()> {
    let mut cfg = a.common.config()?;
    a.overrides.apply_but_k(&mut cfg);
    let ks = match (a.overrides.k.is_empty(), sweep) {
        (false, _) => a.overrides.k.clone(),
        (true, true) => vec![1, 2, 4, 8, 16],
        (true, false) => vec![cfg.rl.k],
    };
    let estimators = match (a.estimators.is_empty(), sweep) {
        (false, _) => a.estimators.clone(),
        (true, true) => vec![Estimator::Maxpo],
        (true, false) => vec![Estimator::Grpo, Estimator::PkpoLoo1, Estimator::Ei, Estimator::Maxpo],
    };
    let max_k = ks.iter().chain(&a.ksweep).copied().max().unwrap_or(1);
    if sweep && cfg.rl.group_size <= max_k {
        // MaxPO needs N >= K + 1; the sweep keeps one N for every K (paper Fig. 10).
        cfg.rl.group_size = 2 * max_k;
        crate::note(format_args!(
            "ksweep: group size N = {} for every K (MaxPO needs N > K = {max_k})",
            cfg.rl.group_size
        ));
    }
    let seeds = match &a.seeds {
        Some(s) => parse_seeds(s)?,
        None => vec![cfg.seed],
    };
    let out = a.common.out(if sweep { "ksweep" } else { "reproduce" })?;
    let job = Reproduce {
        cfg,
        estimators,
        ks,
        ksweep: a.ksweep.clone(),
        seeds,
        out: out.clone(),
        resume: a.common.resume,
        progress: !a.common.quiet,
        device: a.common.device.to_string(),
        command: command_line(),
    };
    let results = dispatch(a.common.device, job)?;
    println!("wrote {} ({:.1} min)", out.join("report.md").display(), results.seconds / 60.0);
    Ok(())
}

fn stage(s: StageArgs, name: &str, stage: Stage, f: impl FnOnce(&mut LmConfig)) -> Result<()> {
    let mut cfg = s.common.config()?;
    s.overrides.apply(&mut cfg)?;
    f(&mut cfg);
    let out = s.common.out(name)?;
    let job = StageJob { stage, cfg, out: out.clone(), resume: s.common.resume, progress: !s.common.quiet };
    dispatch(s.common.device, job)?;
    println!("wrote {}", out.display());
    Ok(())
}

/// `LABEL=PATH` of `flag`.
fn label_path(flag: &str, w: &str) -> Result<(String, PathBuf)> {
    match w.split_once('=') {
        Some((label, path)) if !label.is_empty() && !path.is_empty() => {
            Ok((label.to_string(), PathBuf::from(path)))
        }
        _ => bail!("--{flag} {w:?}: expected LABEL=PATH"),
    }
}

fn gradvar(a: GradVarArgs) -> Result<()> {
    if !a.merge.is_empty() {
        let parts = a.merge.iter().map(|p| GradVarResults::load(p)).collect::<Result<Vec<_>, _>>()?;
        let results = GradVarResults::merge(parts)?;
        let out = a.common.out("gradvar")?;
        maxk_trainer::gradvar::report::write(&results, &command_line(), &out)?;
        println!("wrote {}", out.join("gradvar.md").display());
        return Ok(());
    }
    let units = if a.study.is_empty() {
        let mut cfg = a.common.config()?;
        a.overrides.apply(&mut cfg)?;
        let checkpoints = a.weights.iter().map(|w| label_path("weights", w)).collect::<Result<Vec<_>>>()?;
        vec![Unit { study: String::new(), cfg, checkpoints }]
    } else {
        let mut units = Vec::new();
        for s in &a.study {
            let (label, dir) = label_path("study", s)?;
            units.extend(Unit::from_study(&label, &dir, &a.checkpoints)?);
        }
        units
    };
    let out = a.common.out("gradvar")?;
    let job = GradVar {
        units,
        estimators: a.estimators,
        batches: a.batches,
        prompts: a.prompts,
        progress: !a.common.quiet,
    };
    let results = dispatch(a.common.device, job)?;
    maxk_trainer::gradvar::report::write(&results, &command_line(), &out)?;
    for r in &results.ratios {
        println!(
            "{} seed {} {}: tr Cov(g) {} / {} = {:.3} +- {:.3}",
            r.study, r.seed, r.checkpoint, r.estimator, r.reference, r.ratio, r.ci
        );
    }
    println!("wrote {}", out.join("gradvar.md").display());
    Ok(())
}

/// Runs `maxk lm ...`.
pub fn run(args: Args) -> Result<()> {
    match args.command {
        LmCommand::Reproduce(a) => reproduce(a, false),
        LmCommand::Ksweep(a) => reproduce(a, true),
        LmCommand::Pretrain(s) => stage(s, "pretrain", Stage::Pretrain, |_| {}),
        LmCommand::Rl(a) => {
            let estimator = a.estimator;
            stage(a.stage, "rl", Stage::Rl { base: a.base }, |c| {
                if let Some(e) = estimator {
                    c.rl.estimator = e;
                }
            })
        }
        LmCommand::Eval(a) => stage(a.stage, "eval", Stage::Eval { weights: a.weights }, |_| {}),
        LmCommand::Gradvar(a) => gradvar(a),
        LmCommand::Report(a) => {
            let results = maxk_trainer::results::load_results(&a.dir)?;
            maxk_trainer::report::write(&results, &a.dir)?;
            println!("wrote {}", a.dir.join("report.md").display());
            Ok(())
        }
        LmCommand::Bench(a) => {
            let cfg = a.common.config()?;
            let out = a.common.out.clone();
            if let Some(out) = &out {
                cfg.save(out)?;
            }
            let r = dispatch(a.common.device, Bench { cfg, steps: a.steps })?;
            println!(
                "maxk lm bench ({}, {} params): sampled {:.0} tokens/s, {:.3} updates/s, {:.3} RL steps/s",
                a.common.device, r.params, r.sampled_tokens_per_s, r.updates_per_s, r.steps_per_s
            );
            if let Some(out) = &out {
                let path = out.join("bench.json");
                std::fs::write(&path, serde_json::to_string_pretty(&r)?)
                    .with_context(|| format!("writing {}", path.display()))?;
            }
            Ok(())
        }
    }
}
