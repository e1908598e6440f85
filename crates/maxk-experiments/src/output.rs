//! Raw data as CSV (long format: one row per estimator and x) and the JSON summary.

use std::path::Path;

use crate::error::{Error, Result};
use crate::stats::Curve;

/// A CSV file being written; every row starts with the same key columns.
pub(crate) struct CsvOut {
    w: csv::Writer<std::fs::File>,
    path: std::path::PathBuf,
}

impl CsvOut {
    /// Creates `path` with the header `keys..., estimator, x_name, mean, ci_low, ci_high, seeds`.
    pub fn curves(path: &Path, keys: &[&str], x_name: &str) -> Result<CsvOut> {
        let mut header: Vec<&str> = keys.to_vec();
        header.extend(["estimator", x_name, "mean", "ci_low", "ci_high", "seeds"]);
        CsvOut::with_header(path, &header)
    }

    /// Creates `path` with a free header.
    pub fn with_header(path: &Path, header: &[&str]) -> Result<CsvOut> {
        let mut w = csv::Writer::from_path(path).map_err(|e| Error::write(path, e))?;
        w.write_record(header).map_err(|e| Error::write(path, e))?;
        Ok(CsvOut { w, path: path.to_path_buf() })
    }

    /// One row per point of each curve, prefixed by `keys`.
    pub fn add_curves(&mut self, keys: &[&str], curves: &[Curve]) -> Result<()> {
        for c in curves {
            for (x, ci) in c.x.iter().zip(&c.ci) {
                let mut row: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
                row.push(c.name.clone());
                row.extend([x, &ci.mean, &ci.lo, &ci.hi].map(|v| v.to_string()));
                row.push(ci.n.to_string());
                self.row(&row)?;
            }
        }
        Ok(())
    }

    /// A raw row.
    pub fn row(&mut self, fields: &[String]) -> Result<()> {
        self.w.write_record(fields).map_err(|e| Error::write(&self.path, e))
    }

    /// Flushes to disk.
    pub fn finish(mut self) -> Result<()> {
        self.w.flush().map_err(|e| Error::write(&self.path, e))
    }
}

/// Writes `text` to `path`.
pub(crate) fn write_text(path: &Path, text: &str) -> Result<()> {
    std::fs::write(path, text).map_err(|e| Error::write(path, e))
}
