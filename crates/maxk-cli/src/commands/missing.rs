//! Stand-ins for the subcommands of features left out of the build: they accept any arguments
//! and fail with the feature to build, instead of clap's "unrecognized subcommand".

use anyhow::{Result, bail};

/// Whatever was given after the subcommand (ignored).
#[derive(Debug, clap::Args)]
pub struct Args {
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, hide = true)]
    rest: Vec<String>,
}

/// The error of a subcommand whose cargo `feature` this binary was built without.
pub fn run(subcommand: &str, feature: &str) -> Result<()> {
    bail!(
        "`maxk {subcommand}` is not in this build: it needs the cargo feature `{feature}` \
         (on by default); reinstall with `cargo install --path crates/maxk-cli` or add \
         `--features {feature}`"
    )
}
