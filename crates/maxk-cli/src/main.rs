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
    /// Advantages per group: JSON Lines in (one array of rewards per line), JSON Lines out.
    Advantages(commands::advantages::Args),
    /// The unbiased max@K estimate rho of each group (JSON Lines in, one number per line out).
    Estimate(commands::estimate::Args),
    /// List the estimator ids with a one-line description each.
    Estimators,
    /// Benchmark the fast estimators against the paper's O(N^2) algorithm and plain sorting.
    Bench(commands::bench::Args),
}

fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Advantages(args) => commands::advantages::run(args),
        Command::Estimate(args) => commands::estimate::run(args),
        Command::Estimators => commands::estimators::run(),
        Command::Bench(args) => commands::bench::run(args),
    };
    if let Err(err) = result {
        eprintln!("error: {err:#}");
        std::process::exit(2);
    }
}
