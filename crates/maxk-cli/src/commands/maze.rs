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
    /// Reward for the wrong action at a trap (ends the episode).
    #[arg(long)]
    bait: Option<f64>,
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
    /// Learning rate.
    #[arg(long)]
    lr: Option<f64>,
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
    if let Some(x) = args.bait {
        m.bait = x;
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
    if let Some(x) = args.lr {
        m.lr = x;
    }
    if let Some(x) = args.window {
        m.window = x;
    }
    execute(&cfg, &args.common, Some(vec![Experiment::Maze]))
}
