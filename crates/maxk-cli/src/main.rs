//! `maxk`: max@K / pass@K advantage estimators, benchmarks and paper reproduction.
//!
//! One file per subcommand under `commands/`; this file only parses and dispatches.
//! Errors print their whole chain on stderr and exit with status 2; a closed stdout (`maxk
//! advantages ... | head`) ends the run quietly with status 0, as ripgrep does.

// The doc comments of the argument structs are the `--help` text, read as plain text: a
// placeholder such as `runs/<UTC timestamp>` there is not an HTML tag.
#![allow(rustdoc::invalid_html_tags)]
#![deny(clippy::print_stderr)] // eprintln! panics when stderr is closed: use `note`

mod commands;
mod staged;

use std::io::Write;

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
    #[cfg(feature = "lm")]
    Lm(commands::lm::Args),
    /// Tiny-transformer RLVR (not in this build: needs the `lm` feature).
    #[cfg(not(feature = "lm"))]
    Lm(commands::missing::Args),
    /// Advantages per group: JSON Lines in (one array of rewards per line), JSON Lines out.
    Advantages(commands::advantages::Args),
    /// Multi-objective advantages: one group per line as an array of D-arrays (one per sample).
    MultiAdvantages(commands::multi::Args),
    /// The unbiased max@K estimate rho of each group (JSON Lines in, one number per line out).
    Estimate(commands::estimate::Args),
    /// Advantages for a mixture of max@K objectives sum_k w_k J_k (e.g. pass@1 + 0.5 pass@8).
    Mixture(commands::mixture::Args),
    /// maj@K (majority vote): advantages or estimate per group of answers and verdicts.
    Maj(commands::maj::Args),
    /// Plan N and K: informative-group share, Var(EI)/Var(MaxPO), smallest N for a target.
    Plan(commands::plan::Args),
    /// The estimator registry: id, centered, PG-unbiased, valid K and description.
    Estimators(commands::estimators::Args),
    /// Benchmark the fast estimators against the paper's O(N^2) algorithm and plain sorting.
    Bench(commands::bench::Args),
    /// Reproduce the paper's synthetic experiments: figures, CSV and a report with verdicts.
    #[cfg(feature = "experiments")]
    Reproduce(commands::reproduce::Args),
    /// The paper's synthetic experiments (not in this build: needs the `experiments` feature).
    #[cfg(not(feature = "experiments"))]
    Reproduce(commands::missing::Args),
    /// One (or all) of the bandit experiments, settings as flags.
    #[cfg(feature = "experiments")]
    Bandit(commands::bandit::Args),
    /// The bandit experiments (not in this build: needs the `experiments` feature).
    #[cfg(not(feature = "experiments"))]
    Bandit(commands::missing::Args),
    /// The biased-maze experiment, settings as flags.
    #[cfg(feature = "experiments")]
    Maze(commands::maze::Args),
    /// The biased-maze experiment (not in this build: needs the `experiments` feature).
    #[cfg(not(feature = "experiments"))]
    Maze(commands::missing::Args),
}

fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Advantages(args) => commands::advantages::run(args),
        Command::MultiAdvantages(args) => commands::multi::run(args),
        Command::Estimate(args) => commands::estimate::run(args),
        Command::Mixture(args) => commands::mixture::run(args),
        Command::Maj(args) => commands::maj::run(args),
        Command::Plan(args) => commands::plan::run(args),
        Command::Estimators(args) => commands::estimators::run(args),
        Command::Bench(args) => commands::bench::run(args),
        #[cfg(feature = "lm")]
        Command::Lm(args) => commands::lm::run(args),
        #[cfg(not(feature = "lm"))]
        Command::Lm(_) => commands::missing::run("lm", "lm"),
        #[cfg(feature = "experiments")]
        Command::Reproduce(args) => commands::reproduce::run(args),
        #[cfg(not(feature = "experiments"))]
        Command::Reproduce(_) => commands::missing::run("reproduce", "experiments"),
        #[cfg(feature = "experiments")]
        Command::Bandit(args) => commands::bandit::run(args),
        #[cfg(not(feature = "experiments"))]
        Command::Bandit(_) => commands::missing::run("bandit", "experiments"),
        #[cfg(feature = "experiments")]
        Command::Maze(args) => commands::maze::run(args),
        #[cfg(not(feature = "experiments"))]
        Command::Maze(_) => commands::missing::run("maze", "experiments"),
    };
    if let Err(err) = result {
        if is_broken_pipe(&err) {
            return;
        }
        note(format_args!("error: {err:#}"));
        std::process::exit(2);
    }
}

/// Writes one line to stderr; a closed or full stderr loses the line instead of panicking
/// (as `eprintln!` would), so that the exit status still says what happened.
pub(crate) fn note(line: std::fmt::Arguments<'_>) {
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

/// Whether the error is a write to a closed pipe (the reader, e.g. `head`, has what it wanted).
fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<std::io::Error>().is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
