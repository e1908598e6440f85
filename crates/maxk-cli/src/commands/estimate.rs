//! `maxk estimate`: the unbiased max@K estimate rho of each group.

use anyhow::Result;

use super::io_args::IoArgs;
use super::jsonl;

/// Arguments of `maxk estimate`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// K of max@K (1 <= K <= group size).
    #[arg(short = 'k', long)]
    pub k: usize,
    #[command(flatten)]
    pub io: IoArgs,
}

/// Runs the subcommand.
pub fn run(args: Args) -> Result<()> {
    jsonl::map_lines(args.io.input.as_ref(), args.io.output.as_ref(), |rewards| {
        Ok(serde_json::to_string(&maxk_core::max_at_k(rewards, args.k)?)?)
    })
}
