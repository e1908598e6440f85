//! `maxk maze`: the biased-maze experiment with its settings as flags.

use maxk_experiments::Experiment;

use super::reproduce::{CommonArgs, execute, load_config};

/// `maxk maze` flags; each overrides the matching `[maze]` config key.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    common: CommonArgs,
    /// Number of decisions from start to goal.
    #[arg(long)]
    depth: Option<usize>,
    /// Trap depths (0-based, comma-separated) where the correct action is 0.
    #[arg(long, value_delimiter = ',')]
    traps: Vec<usize>,
    /// Maze variants by the reward for the wrong action at a trap (ends the episode),
    /// comma-separated; 0 is no lure.
    #[arg(long, value_delimiter = ',')]
    baits: Vec<f64>,
    /// Initial P(action 1) at every depth.
    #[arg(long)]
    init_p1: Option<f64>,
    /// Episodes per update (group size N).
    #[arg(long)]
    n: Option<usize>,
    /// K of max@K and of the reported pass@K.
    #[arg(long)]
    k: Option<usize>,
    /// Number of updates.
    #[arg(long)]
    updates: Option<usize>,
    /// The learning-rate grid every estimator is trained with, comma-separated.
    #[arg(long, value_delimiter = ',')]
    lrs: Vec<f64>,
    /// Seeds that select each estimator's lr (disjoint from the `--seeds` evaluation seeds).
    #[arg(long)]
    tune_seeds: Option<usize>,
    /// Moving-average window of the plotted return and success rate.
    #[arg(long)]
    window: Option<usize>,
}

/// Runs `maxk maze`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let mut cfg = load_config(&args.common)?;
    let m = &mut cfg.maze;
    if let Some(x) = args.depth {
        m.depth = x;
    }
    if !args.traps.is_empty() {
        m.traps = args.traps;
    }
    if !args.baits.is_empty() {
        m.baits = args.baits;
    }
    if let Some(x) = args.init_p1 {
        m.init_p1 = x;
    }
    if let Some(x) = args.n {
        m.n = x;
    }
    if let Some(x) = args.k {
        m.k = x;
    }
    if let Some(x) = args.updates {
        m.updates = x;
    }
    if !args.lrs.is_empty() {
        m.lrs = args.lrs;
    }
    if let Some(x) = args.tune_seeds {
        m.tune_seeds = x;
    }
    if let Some(x) = args.window {
        m.window = x;
    }
    execute(&cfg, &args.common, Some(vec![Experiment::Maze]))
}
