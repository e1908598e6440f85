//! `maxk reproduce`: the paper's synthetic experiments with figures and a verdict report.
//! Thin: flags -> [`Config`] -> [`maxk_experiments::run`]. The helpers here are shared with
//! `maxk bandit` and `maxk maze`.

use std::io::Write as _;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use maxk_core::Estimator;
use maxk_experiments::{Config, Experiment, RunOptions, Summary};

/// Flags every experiment command takes.
#[derive(Debug, clap::Args)]
pub struct CommonArgs {
    /// Output folder [default: runs/<UTC timestamp>].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Smoke-test settings: every experiment and figure in well under a minute.
    #[arg(long)]
    pub quick: bool,
    /// TOML file overriding the built-in (or --quick) settings (`--print-config` shows every key).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Master seed (overrides the config's `seed`).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Repetitions per setting (overrides `seeds`).
    #[arg(long)]
    pub seeds: Option<usize>,
    /// Estimators to compare, comma-separated ids (overrides `estimators`).
    #[arg(long, value_delimiter = ',', value_name = "IDS", value_parser = parse_estimator)]
    pub estimators: Vec<Estimator>,
    /// No progress bars.
    #[arg(long)]
    pub quiet: bool,
}

/// `maxk reproduce` flags.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    common: CommonArgs,
    /// Run only this experiment (repeatable): bandit-error, bandit-actions, bandit-k,
    /// variance-map, maze.
    #[arg(long, value_name = "NAME", value_parser = parse_experiment)]
    only: Vec<Experiment>,
    /// Print the resolved config as TOML and exit without running.
    #[arg(long)]
    print_config: bool,
}

/// Runs `maxk reproduce`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let cfg = load_config(&args.common)?;
    if args.print_config {
        print!("{}", cfg.to_toml());
        return Ok(());
    }
    let only = if args.only.is_empty() { None } else { Some(args.only) };
    execute(&cfg, &args.common, only)
}

/// An estimator id (spaces around it allowed, as in `--estimators "maxpo, ei"`); the error
/// lists the known ids.
fn parse_estimator(s: &str) -> Result<Estimator, String> {
    super::advantages::parse_estimator(s.trim())
}

/// An experiment name; the error lists the known ones.
fn parse_experiment(s: &str) -> Result<Experiment, String> {
    s.parse().map_err(|e: maxk_experiments::Error| e.to_string())
}

/// The built-in (or `--quick`) config, overridden by `--config` and the common flags.
pub(crate) fn load_config(common: &CommonArgs) -> anyhow::Result<Config> {
    let mut cfg = match &common.config {
        Some(path) => Config::load(path, common.quick)?,
        None if common.quick => Config::quick(),
        None => Config::default(),
    };
    if let Some(seed) = common.seed {
        cfg.seed = seed;
    }
    if let Some(seeds) = common.seeds {
        cfg.seeds = seeds;
    }
    if !common.estimators.is_empty() {
        cfg.estimators = common.estimators.clone();
    }
    Ok(cfg)
}

/// Validates `cfg`, runs `only` (all when `None`) and prints where the report is and the
/// verdicts.
pub(crate) fn execute(
    cfg: &Config,
    common: &CommonArgs,
    only: Option<Vec<Experiment>>,
) -> anyhow::Result<()> {
    cfg.validate()?;
    let out = match &common.out {
        Some(dir) => dir.clone(),
        None => PathBuf::from("runs").join(chrono::Utc::now().format("%Y%m%d-%H%M%S").to_string()),
    };
    let progress = !common.quiet;
    let start = Instant::now();
    let summary = maxk_experiments::run(cfg, &RunOptions { out: out.clone(), only, progress })
        .with_context(|| format!("running the experiments into {}", out.display()))?;
    match print_summary(&summary, &out, start.elapsed().as_secs_f64()) {
        // A closed pipe (`maxk reproduce | head`) is not a failure: every file is written.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other.context("printing the summary"),
    }
}

fn print_summary(s: &Summary, out: &std::path::Path, secs: f64) -> std::io::Result<()> {
    let mut w = std::io::stdout().lock();
    writeln!(w, "wrote {} files to {} in {secs:.1} s", s.files.len(), out.display())?;
    writeln!(w, "report: {}", out.join("report.md").display())?;
    writeln!(w, "claims:")?;
    for c in &s.claims {
        writeln!(w, "  {:<10} {:<22} {}", c.verdict, c.id, c.measured)?;
    }
    Ok(())
}
