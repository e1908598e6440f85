//! `maxk bandit`: one (or all) of the bandit experiments with its settings as flags.

use maxk_experiments::Experiment;

use super::reproduce::{CommonArgs, execute, load_config};

/// Which bandit experiment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Which {
    /// Gradient estimation error vs number of batches (bandit-error).
    Error,
    /// Variance vs action-space size (bandit-actions).
    Actions,
    /// Variance vs K (bandit-k).
    K,
    /// All three.
    All,
}

/// `maxk bandit` flags; each overrides the matching config key.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The experiment to run.
    #[arg(long, value_enum, default_value = "all")]
    experiment: Which,
    #[command(flatten)]
    common: CommonArgs,
    /// Number of actions A of bandit-error and bandit-k.
    #[arg(long)]
    actions: Option<usize>,
    /// Action-space sizes of bandit-actions, comma-separated.
    #[arg(long, value_delimiter = ',')]
    action_sizes: Vec<usize>,
    /// Batch size N (all bandit experiments).
    #[arg(long)]
    n: Option<usize>,
    /// K of bandit-error and bandit-actions.
    #[arg(long)]
    k: Option<usize>,
    /// The K values of bandit-k, comma-separated.
    #[arg(long, value_delimiter = ',')]
    ks: Vec<usize>,
    /// Largest number of batches averaged in bandit-error.
    #[arg(long)]
    max_batches: Option<usize>,
    /// Monte Carlo batches per setting in bandit-actions and bandit-k.
    #[arg(long)]
    batches: Option<usize>,
}

/// Runs `maxk bandit`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let mut cfg = load_config(&args.common)?;
    let (e, a, k) = (&mut cfg.bandit_error, &mut cfg.bandit_actions, &mut cfg.bandit_k);
    if let Some(x) = args.actions {
        e.actions = x;
        k.actions = x;
    }
    if !args.action_sizes.is_empty() {
        a.actions = args.action_sizes;
    }
    if let Some(n) = args.n {
        (e.n, a.n, k.n) = (n, n, n);
    }
    if let Some(x) = args.k {
        (e.k, a.k) = (x, x);
    }
    if !args.ks.is_empty() {
        k.ks = args.ks;
    }
    if let Some(x) = args.max_batches {
        e.max_batches = x;
    }
    if let Some(x) = args.batches {
        (a.batches, k.batches) = (x, x);
    }
    let only = match args.experiment {
        Which::Error => vec![Experiment::BanditError],
        Which::Actions => vec![Experiment::BanditActions],
        Which::K => vec![Experiment::BanditK],
        Which::All => vec![Experiment::BanditError, Experiment::BanditActions, Experiment::BanditK],
    };
    execute(&cfg, &args.common, Some(only))
}
