//! `maxk advantages`: advantages per group, JSON Lines in and out.

use anyhow::Result;
use maxk_core::{Estimator, Scale, Spec, Workspace};

use super::io_args::IoArgs;
use super::jsonl;

/// Arguments of `maxk advantages`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Estimator id (see `maxk estimators`).
    #[arg(long, short = 'e', value_parser = parse_estimator)]
    pub estimator: Estimator,
    /// K of max@K; the valid range per estimator is in `maxk estimators` (rloo, dr-grpo, grpo,
    /// best-minus-second and maxrl ignore it, but it must be >= 1).
    #[arg(short = 'k', long)]
    pub k: usize,
    /// Post-estimator scaling: none, std (divide by the group's reward std + 1e-6) or pg
    /// (the factor that makes the policy gradient unbiased).
    #[arg(long, default_value = "none", value_parser = parse_scale)]
    pub scale: Scale,
    #[command(flatten)]
    pub io: IoArgs,
}

/// Parses an estimator id with the core's error message.
pub fn parse_estimator(s: &str) -> Result<Estimator, String> {
    s.parse().map_err(|e: maxk_core::Error| e.to_string())
}

/// Parses a scale id with the core's error message.
pub fn parse_scale(s: &str) -> Result<Scale, String> {
    s.parse().map_err(|e: maxk_core::Error| e.to_string())
}

/// Runs the subcommand. A long line's workspace is readied while the line is parsed
/// ([`Workspace::reserve`]).
pub fn run(args: Args) -> Result<()> {
    let spec = Spec::new(args.estimator, args.k).with_scale(args.scale);
    let mut state = (Workspace::new(), Vec::new());
    jsonl::map_lines_ahead(
        args.io.input.as_ref(),
        args.io.output.as_ref(),
        &mut state,
        |(ws, _), n| ws.reserve(n, spec),
        |(ws, out), rewards| {
            out.resize(rewards.len(), 0.0);
            ws.advantages_into(rewards, spec, out)?;
            jsonl::to_json(out)
        },
    )
}
