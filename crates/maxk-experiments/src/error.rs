//! The crate's error type: every variant names the file, key or value at fault.

use std::path::PathBuf;

/// Everything that can stop an experiment run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The config could not be read, has an unknown key, a value of the wrong type or out of
    /// range.
    #[error(transparent)]
    Config(#[from] maxk_study::ConfigError),
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
