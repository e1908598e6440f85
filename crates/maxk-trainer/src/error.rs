//! The trainer's error type: every variant names the offending value.

use std::path::PathBuf;

/// Errors of the trainer library.
#[derive(Debug, thiserror::Error)]
pub enum TrainerError {
    /// A character outside the shared vocabulary.
    #[error("character {c:?} is not in the vocabulary")]
    UnknownChar {
        /// The character.
        c: char,
    },
    /// An unknown task id.
    #[error("unknown task {name:?}; known: add, sort, path, countdown, mod")]
    UnknownTask {
        /// The id given.
        name: String,
    },
    /// A run label that is not `base`, an estimator id or `<id>-K<k>`.
    #[error("run label {label:?} is not base, an estimator id or <id>-K<k>")]
    UnknownRunLabel {
        /// The label given.
        label: String,
    },
    /// A checkpoint of a study that is not `base`, `mid-<run>` or `final-<run>`.
    #[error(
        "checkpoint {label:?}: expected base, mid-<run> or final-<run> (<run> a run label such as maxpo)"
    )]
    UnknownCheckpoint {
        /// The label given.
        label: String,
    },
    /// A study directory without RL runs.
    #[error("{dir}: no seed<s>/rl directories (not the output of maxk lm reproduce?)")]
    NoSeeds {
        /// The directory.
        dir: PathBuf,
    },
    /// The weights of a study's checkpoint are missing.
    #[error("checkpoint {checkpoint} of seed {seed}: {path} does not exist")]
    MissingWeights {
        /// The checkpoint label.
        checkpoint: String,
        /// The seed.
        seed: u64,
        /// The weights file expected.
        path: PathBuf,
    },
    /// An unknown preset name.
    #[error("unknown preset {name:?}; known: tiny, small, gpu")]
    UnknownPreset {
        /// The name given.
        name: String,
    },
    /// A configuration value that cannot work.
    #[error("invalid config: {0}")]
    Config(String),
    /// The estimator rejected the group (bad id, K out of range for the group size, ...).
    #[error("advantage estimator: {0}")]
    Estimator(#[from] maxk_core::Error),
    /// No checkpoint where one was expected.
    #[error(
        "missing checkpoint: {path} does not exist (a checkpoint directory holds weights.safetensors, optimizer.safetensors and state.json)"
    )]
    MissingCheckpoint {
        /// The checkpoint directory.
        path: PathBuf,
    },
    /// A checkpoint that exists but cannot be used.
    #[error("corrupt or incompatible checkpoint {path}: {reason}")]
    BadCheckpoint {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The CUDA device was asked for but is not available.
    #[error("CUDA device unavailable: {0}")]
    Device(String),
    /// A file system error with the path involved.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// JSON that could not be read or written.
    #[error("{what}: {source}")]
    Json {
        /// The file or record.
        what: String,
        /// The cause.
        source: serde_json::Error,
    },
    /// A figure could not be drawn.
    #[error("plot: {0}")]
    Plot(#[from] maxk_plot::PlotError),
}

impl TrainerError {
    /// Wraps an IO error with its path.
    pub fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> TrainerError {
        let path = path.into();
        move |source| TrainerError::Io { path, source }
    }

    /// Wraps a JSON error with the file or record it concerns.
    pub fn json(what: impl std::fmt::Display) -> impl FnOnce(serde_json::Error) -> TrainerError {
        let what = what.to_string();
        move |source| TrainerError::Json { what, source }
    }
}

/// The trainer's result type.
pub type Result<T, E = TrainerError> = std::result::Result<T, E>;
