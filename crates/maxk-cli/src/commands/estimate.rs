//! `maxk estimate`: the unbiased max@K estimate rho of each group.

use std::path::PathBuf;

use anyhow::Result;

use super::jsonl;

/// Arguments of `maxk estimate`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// K of max@K (1 <= K <= group size).
    #[arg(short = 'k', long)]
    pub k: usize,
    /// JSON Lines input, one array of rewards per line (default: stdin).
    #[arg(long, short = 'i')]
    pub input: Option<PathBuf>,
    /// Output file (default: stdout), written only if every line succeeds (see `advantages`).
    #[arg(long, short = 'o')]
    pub output: Option<PathBuf>,
}

/// Runs the subcommand.
pub fn run(args: Args) -> Result<()> {
    jsonl::map_lines(args.input.as_ref(), args.output.as_ref(), |rewards| {
        Ok(serde_json::to_string(&maxk_core::max_at_k(rewards, args.k)?)?)
    })
}
