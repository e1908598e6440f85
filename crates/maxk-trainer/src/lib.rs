//! # maxk-trainer
//!
//! A tiny decoder-only transformer trained from scratch in Rust (burn) on five synthetic
//! verifiable tasks, then post-trained with group RL whose advantages come from `maxk-core`
//! (GRPO, RLOO, PKPO, MaxPO, ...), and evaluated with the unbiased pass@k estimator for
//! k = 1, 2, 4, ..., n. It reproduces, at toy scale, the LLM experiment of Takashiro,
//! Nishimori, Parmas et al. 2026 (arXiv 2606.06080): max@K training (MaxPO) should raise
//! pass@k at large k more than mean-reward training.
//!
//! Pipeline: [`sft`] (supervised base model) -> [`rl`] (group RL) -> [`eval`] (pass@k) ->
//! [`report`]. [`pipeline`] chains them for `maxk lm reproduce`, after an optional per-estimator
//! lr selection on a validation split disjoint from the test problems ([`tune`]).
//!
//! Backends ([`backend`]): NdArray on the CPU (bitwise deterministic given the seed, so
//! `--resume` reproduces an uninterrupted run exactly), CUDA behind the `cuda` cargo feature.
//! The CUDA build needs no nvcc: `CUDARC_CUDA_VERSION=13000 cargo build --release -p maxk-cli
//! --features cuda`; kernels are compiled at run time through NVRTC and libcuda is loaded only
//! when `--device cuda` asks for a device (a clear error where no driver exists).
//!
//! ```
//! use maxk_trainer::tasks::Task;
//! assert_eq!(Task::Add.verify("a:478+56=", "534"), 1.0);
//! assert_eq!(Task::Countdown.verify("c:3,5,7>22=", "7+3*5"), 0.0); // (7+3)*5 = 50
//! ```

pub mod backend;
pub mod checkpoint;
pub mod config;
pub mod diagnostics;
pub mod engine;
mod error;
pub mod eval;
pub mod gradvar;
pub mod mechanism;
pub mod model;
pub mod optim;
pub mod pipeline;
pub mod report;
pub mod results;
pub mod rl;
pub mod run_label;
pub mod sampling;
pub mod sft;
pub mod tasks;
pub mod tune;
pub mod vocab;

pub use error::{Result, TrainerError};
