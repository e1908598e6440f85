//! The trainer's error type: every variant names the offending value.

use std::path::PathBuf;

use maxk_core::Estimator;

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
    /// An unknown preset name.
    #[error("unknown preset {name:?}; known: {known}")]
    UnknownPreset {
        /// The name given.
        name: String,
        /// The presets, from [`crate::config::PRESETS`].
        known: String,
    },
    /// An unknown device name.
    #[error("unknown device {name:?}; known: cpu, cpu-burn, cuda")]
    UnknownDevice {
        /// The name given.
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
    /// A config that cannot be read or cannot work (its key, value and origin in the message).
    #[error(transparent)]
    Config(#[from] maxk_study::ConfigError),
    /// An argument of a job (a CLI flag) that cannot work.
    #[error("{arg} {value}: {reason}")]
    Argument {
        /// The argument, e.g. `--batches`.
        arg: &'static str,
        /// Its value.
        value: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// The estimator rejected the group (bad id, K out of range for the group size, ...).
    #[error("advantage estimator: {0}")]
    Estimator(#[from] maxk_core::Error),
    /// A validation problem that is also a test problem.
    #[error("problem {prompt:?} is in both the test and the validation set")]
    ProblemOverlap {
        /// The prompt.
        prompt: String,
    },
    /// A validation split without problems.
    #[error("no validation problems (tune.problems_per_task = 0 or no task)")]
    NoValidationProblems,
    /// A tuning run whose validation score is not a number.
    #[error("tuning: validation score of {estimator} at lr {lr} is {score}, not a number")]
    NonFiniteScore {
        /// The estimator.
        estimator: Estimator,
        /// The lr.
        lr: f64,
        /// The score.
        score: f64,
    },
    /// An estimator the gradient-variance analysis needs was not measured.
    #[error("estimator {estimator} was not measured (measured: {measured})")]
    NotMeasured {
        /// The estimator.
        estimator: Estimator,
        /// The estimators measured, comma-separated.
        measured: String,
    },
    /// An estimator without an exact binary-reward variance (`maxk_core::exact_variance`).
    #[error("{estimator}: no exact binary variance")]
    NoExactVariance {
        /// The estimator.
        estimator: Estimator,
    },
    /// Gradient-variance runs of different protocols.
    #[error("cannot merge gradvar runs with {first} and {other}")]
    MergeMismatch {
        /// The first run's estimators, M and P.
        first: String,
        /// The other run's.
        other: String,
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
    /// Weights or Adam moments whose tensor sizes do not match the model config.
    #[error("weights or Adam moments do not match the model {model}")]
    WeightsMismatch {
        /// The model config.
        model: String,
    },
    /// An engine's backward step without a matching forward pass.
    #[error("backward step: dlogp has {got} values, the pending forward pass {expected} log-probs")]
    Backward {
        /// Values given.
        got: usize,
        /// What the pending forward pass produced (`rows x (cols - 1)`, or none).
        expected: String,
    },
    /// A fresh run into a directory that holds an earlier run.
    #[error(
        "{path} already holds an earlier run's metrics; pass --resume to continue that run or choose another --out"
    )]
    EarlierRun {
        /// The metrics file.
        path: PathBuf,
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
