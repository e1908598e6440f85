//! The crate's error type: every variant names the file, key or value at fault.

use std::path::PathBuf;

/// Everything that can stop an experiment run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The config file could not be read.
    #[error("could not read config file {path}: {source}")]
    ReadConfig {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The config file is not valid TOML, has an unknown key or a value of the wrong type.
    #[error("invalid config file {path}: {message}")]
    ParseConfig {
        /// The file.
        path: PathBuf,
        /// The TOML parser's message (with line and column and the key).
        message: String,
    },
    /// A config value is out of range.
    #[error("config key `{key}` = {value}: {reason}")]
    InvalidConfig {
        /// Dotted key, e.g. `bandit_error.k`.
        key: String,
        /// The value found, as written in TOML.
        value: String,
        /// What is wrong and what is allowed.
        reason: String,
    },
    /// An experiment name (`--only`) is not known.
    #[error("unknown experiment `{name}`, known: {known}")]
    UnknownExperiment {
        /// The name given.
        name: String,
        /// The known names.
        known: String,
    },
    /// maxk-core rejected a group (a bug once the config is validated).
    #[error("advantage estimator failed: {0}")]
    Core(#[from] maxk_core::Error),
    /// Writing an output file failed.
    #[error("could not write {path}: {message}")]
    Write {
        /// The file or folder.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// Drawing a figure failed.
    #[error(transparent)]
    Plot(#[from] maxk_plot::PlotError),
}

/// `Result` with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// A write error for `path`.
    pub(crate) fn write(path: &std::path::Path, e: impl std::fmt::Display) -> Error {
        Error::Write { path: path.to_path_buf(), message: e.to_string() }
    }
}
