//! `maxk`: max@K / pass@K advantage estimators, benchmarks and paper reproduction.
//!
//! One file per subcommand under `commands/`; this file only parses and dispatches.
//! Errors print their whole chain on stderr and exit with status 2.

mod commands;

use clap::{Parser, Subcommand};

/// max@K policy-gradient advantages (MaxPO, PKPO and peers), experiments and benchmarks.
#[derive(Debug, Parser)]
#[command(name = "maxk", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Tiny-transformer RLVR: base training, max@K RL, pass@k evaluation, report.
    Lm(commands::lm::Args),
    /// Advantages per group: JSON Lines in (one array of rewards per line), JSON Lines out.
    Advantages(commands::advantages::Args),
    /// Multi-objective advantages: one group per line as an array of D-arrays (one per sample).
    MultiAdvantages(commands::multi::Args),
    /// The unbiased max@K estimate rho of each group (JSON Lines in, one number per line out).
    Estimate(commands::estimate::Args),
    /// List the estimator ids with a one-line description each.
    Estimators,
    /// Benchmark the fast estimators against the paper's O(N^2) algorithm and plain sorting.
    Bench(commands::bench::Args),
    /// Reproduce the paper's synthetic experiments: figures, CSV and a report with verdicts.
    Reproduce(commands::reproduce::Args),
    /// One (or all) of the bandit experiments, settings as flags.
    Bandit(commands::bandit::Args),
    /// The biased-maze experiment, settings as flags.
    Maze(commands::maze::Args),
}

fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Advantages(args) => commands::advantages::run(args),
        Command::MultiAdvantages(args) => commands::multi::run(args),
        Command::Estimate(args) => commands::estimate::run(args),
        Command::Lm(args) => commands::lm::run(args),
        Command::Estimators => commands::estimators::run(),
        Command::Bench(args) => commands::bench::run(args),
        Command::Reproduce(args) => commands::reproduce::run(args),
        Command::Bandit(args) => commands::bandit::run(args),
        Command::Maze(args) => commands::maze::run(args),
    };
    if let Err(err) = result {
        eprintln!("error: {err:#}");
        std::process::exit(2);
    }
}
