//! `maxk lm`: the tiny-transformer RLVR trainer (maxk-trainer): base training, group RL with
//! any estimator, pass@k evaluation and the end-to-end reproduction with its report.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use maxk_trainer::backend::{DeviceKind, dispatch};
use maxk_trainer::config::LmConfig;
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

#[derive(Debug, Parser)]
struct Common {
    /// Preset: tiny (CI), small (CPU default), gpu.
    #[arg(long, default_value = "small")]
    preset: String,
    /// A TOML config replacing the preset (as written next to every run).
    #[arg(long)]
    config: Option<PathBuf>,
    /// cpu (the native engine), cpu-burn (burn NdArray, the reference) or cuda (burn; needs
    /// the `cuda` build feature).
    #[arg(long, default_value = "cpu")]
    device: String,
    /// Continue from the checkpoints in the output directory.
    #[arg(long)]
    resume: bool,
    /// No progress bars.
    #[arg(long)]
    quiet: bool,
}

impl Common {
    fn config(&self) -> Result<LmConfig> {
        Ok(match &self.config {
            Some(path) => LmConfig::load(path)?,
            None => LmConfig::preset(&self.preset)?,
        })
    }

    fn device(&self) -> Result<DeviceKind> {
        Ok(self.device.parse()?)
    }
}

#[derive(Debug, Parser)]
struct ReproduceArgs {
    #[command(flatten)]
    common: Common,
    /// Comma-separated estimator ids (`maxk estimators`).
    #[arg(long, default_value = "grpo,pkpo-loo1,maxpo")]
    estimators: String,
    /// Training K, or a comma-separated list (one run per K).
    #[arg(long)]
    k: Option<String>,
    /// Comma-separated seeds, or a count S meaning seeds 0..S.
    #[arg(long, default_value = "1")]
    seeds: String,
    /// Output directory.
    #[arg(long, default_value = "lm-out")]
    out: PathBuf,
}

#[derive(Debug, Parser)]
struct StageArgs {
    #[command(flatten)]
    common: Common,
    /// Seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Output directory.
    #[arg(long, default_value = "lm-out/base")]
    out: PathBuf,
}

#[derive(Debug, Parser)]
struct RlArgs {
    #[command(flatten)]
    stage: StageArgs,
    /// Base weights (`base.safetensors` from `maxk lm pretrain`).
    #[arg(long)]
    base: PathBuf,
    /// Estimator id.
    #[arg(long, default_value = "maxpo")]
    estimator: String,
    /// Training K (preset default when absent).
    #[arg(long)]
    k: Option<usize>,
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
struct BenchArgs {
    #[command(flatten)]
    common: Common,
    /// Timed RL steps.
    #[arg(long, default_value_t = 3)]
    steps: usize,
    /// Write the resolved config (`config.toml`, read by benches/torch/lm_rl_step.py) and
    /// `bench.json` here.
    #[arg(long)]
    out: Option<PathBuf>,
}

fn list<T: std::str::FromStr>(s: &str, what: &str) -> Result<Vec<T>>
where
    T::Err: std::error::Error + Send + Sync + 'static,
{
    s.split(',').map(|x| x.trim().parse::<T>().with_context(|| format!("bad {what} {x:?}"))).collect()
}

fn reproduce(a: ReproduceArgs, sweep: bool) -> Result<()> {
    let cfg = a.common.config()?;
    let ks = match (&a.k, sweep) {
        (Some(k), _) => list(k, "k")?,
        (None, true) => vec![1, 2, 4, 8, 16],
        (None, false) => vec![cfg.rl.k],
    };
    let estimators = if sweep { vec!["maxpo".to_string()] } else { list(&a.estimators, "estimator")? };
    let mut cfg = cfg;
    let max_k = ks.iter().copied().max().unwrap_or(1);
    if sweep && cfg.rl.group_size <= max_k {
        // MaxPO needs N >= K + 1; the sweep keeps one N for every K (paper Fig. 10).
        cfg.rl.group_size = 2 * max_k;
        eprintln!("ksweep: group size N = {} for every K (MaxPO needs N > K = {max_k})", cfg.rl.group_size);
    }
    let seeds: Vec<u64> = if a.seeds.contains(',') {
        list(&a.seeds, "seed")?
    } else {
        (0..a.seeds.parse::<u64>().context("--seeds")?).collect()
    };
    let device = a.common.device()?;
    let job = Reproduce {
        cfg,
        estimators,
        ks,
        seeds,
        out: a.out.clone(),
        resume: a.common.resume,
        progress: !a.common.quiet,
        device: device.to_string(),
        command: std::iter::once("maxk".to_string())
            .chain(std::env::args().skip(1))
            .collect::<Vec<_>>()
            .join(" "),
    };
    let results = dispatch(device, job)?;
    println!("wrote {} ({:.1} min)", a.out.join("report.md").display(), results.seconds / 60.0);
    Ok(())
}

fn stage(s: StageArgs, stage: Stage, f: impl FnOnce(&mut LmConfig)) -> Result<()> {
    let mut cfg = s.common.config()?;
    cfg.seed = s.seed;
    f(&mut cfg);
    let job = StageJob { stage, cfg, out: s.out.clone(), resume: s.common.resume, progress: !s.common.quiet };
    dispatch(s.common.device()?, job)?;
    println!("wrote {}", s.out.display());
    Ok(())
}

/// Runs `maxk lm ...`.
pub fn run(args: Args) -> Result<()> {
    match args.command {
        LmCommand::Reproduce(a) => reproduce(a, false),
        LmCommand::Ksweep(a) => reproduce(a, true),
        LmCommand::Pretrain(s) => stage(s, Stage::Pretrain, |_| {}),
        LmCommand::Rl(a) => stage(a.stage, Stage::Rl { base: a.base }, |c| {
            c.rl.estimator = a.estimator;
            if let Some(k) = a.k {
                c.rl.k = k;
            }
        }),
        LmCommand::Eval(a) => stage(a.stage, Stage::Eval { weights: a.weights }, |_| {}),
        LmCommand::Report(a) => {
            let results = maxk_trainer::pipeline::load_results(&a.dir)?;
            maxk_trainer::report::write(&results, &a.dir)?;
            println!("wrote {}", a.dir.join("report.md").display());
            Ok(())
        }
        LmCommand::Bench(a) => {
            let cfg = a.common.config()?;
            if let Some(out) = &a.out {
                cfg.save(out)?;
            }
            let r = dispatch(a.common.device()?, Bench { cfg, steps: a.steps })?;
            println!(
                "maxk lm bench ({}, {} params): sampled {:.0} tokens/s, {:.3} updates/s, {:.3} RL steps/s",
                a.common.device, r.params, r.sampled_tokens_per_s, r.updates_per_s, r.steps_per_s
            );
            if let Some(out) = &a.out {
                let path = out.join("bench.json");
                std::fs::write(&path, serde_json::to_string_pretty(&r)?)
                    .with_context(|| format!("writing {}", path.display()))?;
            }
            Ok(())
        }
    }
}
