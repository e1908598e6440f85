//! # maxk-experiments
//!
//! The synthetic experiments of "On Advantage Estimates for Max@K Policy Gradients"
//! (Takashiro, Nishimori, Parmas et al. 2026, arXiv 2606.06080), with our own settings since
//! the paper's are not public: gradient estimation error (with a bias test and biased max@K
//! controls) and variance on a categorical bandit whose max@K gradient is known exactly,
//! continuous and binary (exact, [`exact`]) rewards; a map of where the Leave-Two-Out baseline
//! lowers the variance ([`variance_map`]); and REINFORCE training in a biased maze with and
//! without a lure, every estimator tuned on the same lr grid ([`maze_runs`]). Every advantage
//! comes from `maxk-core`; nothing here re-implements estimator maths.
//!
//! [`run`] runs the experiments selected by a [`Config`], in parallel (rayon) and
//! deterministically given its seed, and writes figures (PNG + SVG), CSV, `config.toml`,
//! `summary.json` and `report.md` with a verdict per claim: [`claims`] measures, the pure
//! rules of [`maxk_study::verdict`] decide, [`report`] renders.
//!
//! ```no_run
//! use maxk_experiments::{run, Config, RunOptions};
//! let cfg = Config::quick();
//! let summary = run(&cfg, &RunOptions { out: "runs/quick".into(), only: None, progress: false })?;
//! println!("{} claims checked", summary.claims.len());
//! # Ok::<(), maxk_experiments::Error>(())
//! ```

pub mod bandit;
pub mod bandit_runs;
pub mod claims;
pub mod config;
mod error;
pub mod exact;
mod figures;
pub mod maze;
pub mod maze_runs;
mod output;
pub mod progress;
pub mod report;
mod runner;
pub mod seeding;
pub mod stats;
pub mod twins;
pub mod variance_map;

pub use config::{Config, Control};
pub use error::{Error, Result};
pub use runner::{Experiment, RunOptions, Summary, run};
