//! `maxk estimators`: the registry, one id and description per line.

use anyhow::Result;
use maxk_core::Estimator;

/// Prints every estimator id with its description.
pub fn run() -> Result<()> {
    let width = Estimator::ALL.iter().map(|e| e.id().len()).max().unwrap_or(0);
    for e in Estimator::ALL {
        println!("{:width$}  {}", e.id(), e.description());
    }
    Ok(())
}
