//! One module per subcommand. The trainer (`lm`) and the experiments (`reproduce`, `bandit`,
//! `maze`) are cargo features, on by default; without them their subcommands still parse and
//! say how to get them ([`missing`]).

pub mod advantages;
#[cfg(feature = "experiments")]
pub mod bandit;
pub mod bench;
pub mod estimate;
pub mod estimators;
pub mod io_args;
pub mod jsonl;
#[cfg(feature = "lm")]
pub mod lm;
pub mod maj;
#[cfg(feature = "experiments")]
pub mod maze;
#[cfg(any(not(feature = "lm"), not(feature = "experiments")))]
pub mod missing;
pub mod mixture;
pub mod multi;
pub mod plan;
#[cfg(feature = "experiments")]
pub mod reproduce;
