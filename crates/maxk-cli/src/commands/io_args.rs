//! `--input` / `--output`: where the JSON Lines stream of a subcommand comes from and goes to,
//! shared by `advantages`, `estimate`, `multi-advantages`, `mixture` and `maj` (flattened into
//! their arguments). The reading and writing themselves are in [`super::jsonl`].

use std::path::PathBuf;

/// The stream arguments. `--input`'s help names the line format of `advantages`, `estimate` and
/// `mixture` (one array of rewards); a subcommand with another format rewrites it with
/// `#[command(mut_arg("input", ...))]`.
#[derive(Debug, clap::Args)]
pub struct IoArgs {
    /// JSON Lines input, one array of rewards per line (default: stdin).
    #[arg(long, short = 'i')]
    pub input: Option<PathBuf>,
    /// Output file (default: stdout), written only if every line succeeds: lines go to a
    /// temporary file beside it that replaces it at the end; on error the file is untouched.
    #[arg(long, short = 'o')]
    pub output: Option<PathBuf>,
}
