//! Streaming JSON Lines: one group (a JSON array of numbers) per input line, one JSON value per
//! output line, in order. Memory stays bounded by the largest line.

use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::path::PathBuf;

use anyhow::{Context, Result, bail};

/// Opens `--input` (stdin when absent or `-`).
pub fn reader(path: Option<&PathBuf>) -> Result<Box<dyn BufRead>> {
    Ok(match path {
        Some(p) if p.as_os_str() != "-" => Box::new(BufReader::new(
            File::open(p).with_context(|| format!("cannot open input file {}", p.display()))?,
        )),
        _ => Box::new(BufReader::new(io::stdin().lock())),
    })
}

/// Opens `--output` (stdout when absent or `-`).
pub fn writer(path: Option<&PathBuf>) -> Result<Box<dyn Write>> {
    Ok(match path {
        Some(p) if p.as_os_str() != "-" => Box::new(BufWriter::new(
            File::create(p).with_context(|| format!("cannot create output file {}", p.display()))?,
        )),
        _ => Box::new(BufWriter::new(io::stdout().lock())),
    })
}

/// Calls `each(line_number, rewards)` for every line; `each` returns the JSON text to write.
/// The first bad line stops the run with `line N: <reason>`; earlier lines are already written,
/// nothing is written for the bad one.
pub fn map_lines(
    input: Option<&PathBuf>,
    output: Option<&PathBuf>,
    mut each: impl FnMut(&[f64]) -> Result<String>,
) -> Result<()> {
    let mut rd = reader(input)?;
    let mut out = writer(output)?;
    let mut line = String::new();
    let mut number = 0usize;
    loop {
        line.clear();
        let read =
            rd.read_line(&mut line).with_context(|| format!("line {}: cannot read input", number + 1))?;
        if read == 0 {
            break;
        }
        number += 1;
        let text = line.trim_end_matches(['\n', '\r']);
        let result = parse(text).and_then(|rewards| each(&rewards));
        let json = result.with_context(|| format!("line {number}"))?;
        out.write_all(json.as_bytes())?;
        out.write_all(b"\n")?;
    }
    out.flush().context("cannot write output")?;
    Ok(())
}

fn parse(text: &str) -> Result<Vec<f64>> {
    if text.trim().is_empty() {
        bail!("empty line, expected a JSON array of numbers such as [0, 1, 0.5]");
    }
    serde_json::from_str::<Vec<f64>>(text)
        .map_err(|e| anyhow::anyhow!("expected a JSON array of finite numbers such as [0, 1, 0.5]: {e}"))
}

/// Serialises numbers with full f64 precision (shortest round-trip representation).
pub fn to_json(values: &[f64]) -> Result<String> {
    Ok(serde_json::to_string(values)?)
}
