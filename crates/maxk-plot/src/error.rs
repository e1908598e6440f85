//! The one error type of the plotting crate.

use std::path::PathBuf;

/// Why a figure could not be drawn. Variants name the chart, series or file at fault.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PlotError {
    /// Nothing drawable: no series, or no finite point (positive on a log axis) in any series.
    #[error("chart `{chart}` has no finite point to draw{hint}")]
    Empty {
        /// The chart's title.
        chart: String,
        /// Extra explanation (e.g. about log axes), may be empty.
        hint: &'static str,
    },
    /// A series' `x` and `y` (or band) lengths differ.
    #[error("series `{series}` has {x} x values but {y} {what} values")]
    LengthMismatch {
        /// The series' name.
        series: String,
        /// Number of x values.
        x: usize,
        /// Number of values of the other vector.
        y: usize,
        /// Which vector: `y`, `band lower` or `band upper`.
        what: &'static str,
    },
    /// A bar stack does not have one value per category.
    #[error("stack `{stack}` has {got} values for {expected} categories")]
    StackLength {
        /// The stack's name.
        stack: String,
        /// Number of values given.
        got: usize,
        /// Number of categories.
        expected: usize,
    },
    /// A bar value is negative or not finite (stacks must be non-negative).
    #[error(
        "stack `{stack}` has value {value} for category `{category}`; bar values must be finite and >= 0"
    )]
    BadBarValue {
        /// The stack's name.
        stack: String,
        /// The category.
        category: String,
        /// The value found.
        value: f64,
    },
    /// A heat map's values or labels are not one per (row, column).
    #[error("heat map `{chart}` needs one value and one label per cell of its {rows} x {columns} grid")]
    GridShape {
        /// The panel's title.
        chart: String,
        /// Number of row names.
        rows: usize,
        /// Number of column names.
        columns: usize,
    },
    /// A heat map's colour scale is not a finite centre with a positive span.
    #[error("heat map colour scale needs a finite centre and a span > 0, got centre {centre}, span {span}")]
    BadScale {
        /// The centre value.
        centre: f64,
        /// The half-width of the colour scale.
        span: f64,
    },
    /// The output folder could not be created.
    #[error("could not create folder {path}: {source}")]
    Io {
        /// The folder.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// plotters failed while drawing or writing a file.
    #[error("drawing {path} failed: {message}")]
    Draw {
        /// The file being written.
        path: PathBuf,
        /// plotters' message.
        message: String,
    },
    /// The bundled font could not be registered with plotters.
    #[error("the bundled DejaVuSans font could not be loaded")]
    Font,
}
