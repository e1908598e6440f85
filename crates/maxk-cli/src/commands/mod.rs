//! One module per subcommand.

pub mod advantages;
pub mod bench;
pub mod estimate;
pub mod estimators;
mod jsonl;
