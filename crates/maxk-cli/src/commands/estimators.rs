//! `maxk estimators`: the registry, one estimator per line with its properties, or as JSON.

use std::io::{self, Write};

use anyhow::Result;
use maxk_core::Estimator;

/// Arguments of `maxk estimators`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// One JSON object per estimator (a JSON array), with every field of the table.
    #[arg(long)]
    pub json: bool,
}

/// The fields of one estimator, as the table and `--json` print them (and as Python's
/// `maxk.estimators()` returns them).
fn record(e: Estimator) -> serde_json::Value {
    serde_json::json!({
        "id": e.id(),
        "centered": e.is_centered(),
        "pg_unbiased": e.is_unbiased(),
        "pg_factor": e.pg_factor_formula(),
        "objective": e.objective(),
        "uses_k": e.uses_k(),
        "valid_k": e.k_range().requirement(),
        "min_group_size": e.min_group_size(),
        "description": e.description(),
    })
}

/// Prints the registry.
pub fn run(args: Args) -> Result<()> {
    let mut out = io::stdout().lock();
    if args.json {
        let all: Vec<_> = Estimator::ALL.into_iter().map(record).collect();
        writeln!(out, "{}", serde_json::to_string_pretty(&all)?)?;
        return Ok(());
    }
    let yes = |b: bool| if b { "yes" } else { "no" };
    let pg = |e: Estimator| {
        if e.is_unbiased() {
            format!("yes, x {} ({})", e.pg_factor_formula(), e.objective())
        } else {
            "no".into()
        }
    };
    let rows: Vec<[String; 6]> = Estimator::ALL
        .into_iter()
        .map(|e| {
            [
                e.id().to_string(),
                yes(e.is_centered()).to_string(),
                pg(e),
                e.k_range().requirement().to_string(),
                e.min_group_size().to_string(),
                e.description().to_string(),
            ]
        })
        .collect();
    let header = ["id", "centered", "pg-unbiased", "valid k", "min N", "description"];
    let mut widths = header.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.len());
        }
    }
    let line = |cells: [&str; 6]| {
        let mut s = String::new();
        for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
            if i + 1 == cells.len() {
                s.push_str(cell);
            } else {
                s.push_str(&format!("{cell:w$}  "));
            }
        }
        s
    };
    writeln!(out, "{}", line(header))?;
    for row in &rows {
        writeln!(out, "{}", line(row.each_ref().map(String::as_str)))?;
    }
    writeln!(
        out,
        "\npg-unbiased: yes, x c (J) means c * sum_i A_i grad log pi(y_i) is an unbiased estimate of grad J \
         (J_K = E[max of K rewards], J_1 = the mean reward); --scale pg applies c."
    )?;
    writeln!(
        out,
        "\nOther K-sample objectives: the jackknife A_i = U(B) - U(B without i) of their U-statistic, \
         centered and pg-unbiased x 1 (docs/MATH.md):\n\
         \x20 mixture  `maxk mixture -m 1:1,8:0.5` (or `-m harmonic`): sum_k w_k J_k; harmonic (w_k = 1/k, k < N) \
         is maxrl / N on binary rewards; every k in 1..N-1\n\
         \x20 maj      `maxk maj -k K [--ties split|wrong]`: the most frequent answer among K is correct \
         (self-consistency); 1 <= k <= N - 1, k <= 1024\n\
         \x20 any      `maxk.jackknife_advantages(samples, k, kernel)` in Python: any symmetric kernel, \
         exact enumeration; 1 <= k <= N - 1"
    )?;
    Ok(())
}
