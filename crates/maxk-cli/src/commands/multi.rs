//! `maxk multi-advantages`: multi-objective advantages per group, JSON Lines in and out.
//!
//! A line is one group: an array of N samples, each an array of its D rewards, e.g.
//! `[[1, 0.5], [0, 1], [1, 0]]`; the output line holds the N combined advantages
//! `sum_d weight_d * A^d_i` (see `maxk_core::MultiSpec`). `--estimator`, `-k`, `--scale` and
//! `--weights` take one value for every axis or a comma-separated list with one value per axis.

use anyhow::{Result, bail};
use maxk_core::{Axis, Estimator, MultiSpec, Scale, Spec, multi_advantages};

use super::io_args::IoArgs;
use super::jsonl;

/// Arguments of `maxk multi-advantages`.
#[derive(Debug, clap::Args)]
#[command(mut_arg("input", |a| a.help("JSON Lines input, one group per line as an array of D-arrays (default: stdin)")))]
pub struct Args {
    /// Estimator id per axis (see `maxk estimators`): one for all axes, or a comma-separated
    /// list with one per axis.
    #[arg(long, short = 'e', default_value = "maxpo", value_delimiter = ',', value_parser = super::advantages::parse_estimator)]
    pub estimator: Vec<Estimator>,
    /// K of max@K per axis: one for all axes or one per axis (comma-separated).
    #[arg(short = 'k', long, value_delimiter = ',', required = true)]
    pub k: Vec<usize>,
    /// Per-axis scaling (none, std = per-axis normalisation, pg): one or one per axis.
    #[arg(long, default_value = "none", value_delimiter = ',', value_parser = super::advantages::parse_scale)]
    pub scale: Vec<Scale>,
    /// Axis weights, comma-separated, one per axis (default: 1 for every axis). Sets D; without
    /// it D is the longest of the per-axis lists, or the width of the first line.
    #[arg(long, short = 'w', value_delimiter = ',', allow_negative_numbers = true)]
    pub weights: Option<Vec<f64>>,
    #[command(flatten)]
    pub io: IoArgs,
}

impl Args {
    /// The spec for `d` axes: every list must have one value or exactly `d`.
    fn spec(&self, d: usize) -> Result<MultiSpec> {
        fn pick<T: Copy>(name: &str, values: &[T], d: usize, axis: usize) -> Result<T> {
            match values.len() {
                1 => Ok(values[0]),
                len if len == d => Ok(values[axis]),
                len => bail!("--{name} has {len} values for {d} reward axes (give one, or one per axis)"),
            }
        }
        let weights = self.weights.clone().unwrap_or_else(|| vec![1.0; d]);
        let axes = (0..d)
            .map(|a| {
                let spec = Spec::new(pick("estimator", &self.estimator, d, a)?, pick("k", &self.k, d, a)?)
                    .with_scale(pick("scale", &self.scale, d, a)?);
                Ok(Axis::new(spec, pick("weights", &weights, d, a)?))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(MultiSpec::new(axes)?)
    }

    /// D given by the flags, if any: the weights' length, else the longest list above one.
    fn width(&self) -> Option<usize> {
        if let Some(w) = &self.weights {
            return Some(w.len());
        }
        [self.estimator.len(), self.k.len(), self.scale.len()].into_iter().filter(|&n| n > 1).max()
    }
}

/// Runs the subcommand.
pub fn run(args: Args) -> Result<()> {
    let mut spec = args.width().map(|d| args.spec(d)).transpose()?;
    // All or nothing for a file output, quiet on a closed pipe: the loop of `advantages`.
    jsonl::for_each_line(args.io.input.as_ref(), args.io.output.as_ref(), |text| {
        one_line(&args, &mut spec, text)
    })
}

/// The output of one input line; `spec` is fixed by the first line when the flags leave D open.
fn one_line(args: &Args, spec: &mut Option<MultiSpec>, text: &str) -> Result<String> {
    const EXAMPLE: &str = "expected a JSON array of D-arrays of finite numbers such as [[1, 0.5], [0, 1]]";
    let rows: Vec<Vec<f64>> = serde_json::from_str(text).map_err(|e| jsonl::json_error(e, EXAMPLE))?;
    let d = rows.first().map_or(0, Vec::len);
    let spec = match spec {
        Some(s) => s,
        None => spec.insert(args.spec(d)?),
    };
    if let Some((i, row)) = rows.iter().enumerate().find(|(_, r)| r.len() != spec.width()) {
        bail!("sample {i} has {} rewards, expected {} (one per axis)", row.len(), spec.width());
    }
    let flat: Vec<f64> = rows.concat();
    jsonl::to_json(&multi_advantages(&flat, spec)?)
}
