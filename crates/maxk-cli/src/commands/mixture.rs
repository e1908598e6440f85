//! `maxk mixture`: advantages for a mixture of max@K objectives `J = sum_k w_k J_k` per group,
//! JSON Lines in and out (one array of rewards per line, as `maxk advantages`).
//!
//! The advantages are `sum_k w_k (rho_k(B) - rho_k(B \ i))`: exactly centered and PG-unbiased
//! with factor 1 for `grad J` (see `maxk_core::Mixture`). `--mixture harmonic` is
//! `w_k = 1/k` over `k = 1..N-1`, MaxRL / N on binary rewards and its extension to any reward.

use anyhow::Result;
use maxk_core::{Mixture, mixture_advantages};

use super::io_args::IoArgs;
use super::jsonl;

/// Arguments of `maxk mixture`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The mixture: `harmonic`, or comma-separated terms `k:w` (`k` alone: weight 1), e.g.
    /// `1:1,8:0.5` for pass@1 + 0.5 pass@8. Every k must be at most N - 1.
    #[arg(long, short = 'm', value_parser = parse_mixture, allow_hyphen_values = true)]
    pub mixture: Mixture,
    /// Print the unbiased estimate of the objective `sum_k w_k rho_k` per group instead of the
    /// advantages.
    #[arg(long)]
    pub estimate: bool,
    #[command(flatten)]
    pub io: IoArgs,
}

/// Parses a mixture with the core's error message.
pub fn parse_mixture(s: &str) -> Result<Mixture, String> {
    s.parse().map_err(|e: maxk_core::Error| e.to_string())
}

/// Runs the subcommand.
pub fn run(args: Args) -> Result<()> {
    jsonl::map_lines(args.io.input.as_ref(), args.io.output.as_ref(), |rewards| {
        if args.estimate {
            Ok(serde_json::to_string(&args.mixture.value(rewards)?)?)
        } else {
            jsonl::to_json(&mixture_advantages(rewards, &args.mixture)?)
        }
    })
}
