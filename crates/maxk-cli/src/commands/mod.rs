//! One module per subcommand.

pub mod advantages;
pub mod bandit;
pub mod bench;
pub mod estimate;
pub mod estimators;
mod jsonl;
pub mod lm;
pub mod maze;
pub mod multi;
pub mod reproduce;
