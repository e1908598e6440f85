//! Streaming JSON Lines: one group (a JSON array of numbers) per input line, one JSON value per
//! output line, in order. Memory stays bounded by the largest line.
//!
//! `--output FILE` is all or nothing: lines go to a temporary file beside FILE, renamed over
//! it only when every line succeeded; on error FILE is left as it was. On stdout, lines stream
//! as they are computed (a pipeline sees them at once) and a closed pipe ends the run quietly
//! (see `main`).

use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, StdoutLock, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::staged::Staged;

/// Opens `--input` (stdin when absent or `-`).
pub fn reader(path: Option<&PathBuf>) -> Result<Box<dyn BufRead>> {
    Ok(match path {
        Some(p) if p.as_os_str() != "-" => Box::new(BufReader::new(
            File::open(p).with_context(|| format!("cannot open input file {}", p.display()))?,
        )),
        _ => Box::new(BufReader::new(io::stdin().lock())),
    })
}

/// Where the lines go: stdout, or a temporary file that becomes `path` on [`Sink::finish`].
pub enum Sink {
    /// Standard output.
    Stdout(BufWriter<StdoutLock<'static>>),
    /// A temporary file in the directory of `path`.
    File {
        /// The temporary file.
        tmp: BufWriter<File>,
        /// Removes it unless it is renamed to `path`.
        staged: Staged,
        /// The requested output file.
        path: PathBuf,
    },
}

impl Sink {
    /// Opens `--output` (stdout when absent or `-`). A file output is created beside `path`
    /// (same file system, so the final rename is atomic) with the permissions a plain
    /// `File::create` would give, or those of the file it replaces.
    pub fn open(path: Option<&PathBuf>) -> Result<Sink> {
        let Some(path) = path.filter(|p| p.as_os_str() != "-") else {
            return Ok(Sink::Stdout(BufWriter::new(io::stdout().lock())));
        };
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        let stem = path.file_name().map_or("maxk-output".into(), |n| n.to_string_lossy());
        let (staged, file) = Staged::create_in(dir, &stem, ".tmp").with_context(|| {
            format!("cannot create output file {} (temporary file in {})", path.display(), dir.display())
        })?;
        Ok(Sink::File { tmp: BufWriter::new(file), staged, path: path.clone() })
    }

    /// The writer for the lines.
    pub fn writer(&mut self) -> &mut dyn Write {
        match self {
            Sink::Stdout(w) => w,
            Sink::File { tmp, .. } => tmp,
        }
    }

    /// Flushes, and for a file output renames the temporary file over the requested one.
    pub fn finish(self) -> Result<()> {
        match self {
            Sink::Stdout(mut w) => w.flush().context("cannot write output"),
            Sink::File { tmp, staged, path } => {
                let file = tmp.into_inner().map_err(|e| e.into_error()).context("cannot write output")?;
                staged
                    .persist(file, &path)
                    .with_context(|| format!("cannot write output file {}", path.display()))
            }
        }
    }
}

/// Calls `each(rewards)` for every line; `each` returns the JSON text to write. The first bad
/// line stops the run with `line N: <reason>`: on stdout the earlier lines are already out,
/// an output file is left untouched.
pub fn map_lines(
    input: Option<&PathBuf>,
    output: Option<&PathBuf>,
    each: impl FnMut(&[f64]) -> Result<String>,
) -> Result<()> {
    let mut rd = reader(input)?;
    let mut sink = Sink::open(output)?;
    process(&mut rd, sink.writer(), each)?;
    sink.finish()
}

/// The loop of [`map_lines`] on any reader and writer.
fn process(
    rd: &mut dyn BufRead,
    out: &mut dyn Write,
    mut each: impl FnMut(&[f64]) -> Result<String>,
) -> Result<()> {
    process_parsed(rd, out, parse, |rewards: Vec<f64>| each(&rewards))
}

/// [`map_lines`] for lines of any JSON shape: `parse` reads a line's text, `each` turns the
/// value into the JSON text to write.
pub fn map_parsed_lines<V>(
    input: Option<&PathBuf>,
    output: Option<&PathBuf>,
    parse: impl Fn(&str) -> Result<V>,
    each: impl FnMut(V) -> Result<String>,
) -> Result<()> {
    let mut rd = reader(input)?;
    let mut sink = Sink::open(output)?;
    process_parsed(&mut rd, sink.writer(), parse, each)?;
    sink.finish()
}

/// The loop of [`map_parsed_lines`].
fn process_parsed<V>(
    rd: &mut dyn BufRead,
    out: &mut dyn Write,
    parse: impl Fn(&str) -> Result<V>,
    mut each: impl FnMut(V) -> Result<String>,
) -> Result<()> {
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
        let result = parse(text).and_then(&mut each);
        let json = result.with_context(|| format!("line {number}"))?;
        out.write_all(json.as_bytes()).context("cannot write output")?;
        out.write_all(b"\n").context("cannot write output")?;
    }
    Ok(())
}

fn parse(text: &str) -> Result<Vec<f64>> {
    if text.trim().is_empty() {
        bail!("empty line, expected a JSON array of numbers such as [0, 1, 0.5]");
    }
    serde_json::from_str::<Vec<f64>>(text)
        .map_err(|e| anyhow::anyhow!("expected a JSON array of finite numbers such as [0, 1, 0.5]: {e}"))
}

/// Serialises numbers with full f64 precision (shortest round-trip representation). JSON has
/// no infinities or NaN (serde_json would print `null`): a non-finite value is an error. The
/// estimators never return one (they return an error instead), so this is a last guard.
pub fn to_json(values: &[f64]) -> Result<String> {
    if let Some(i) = values.iter().position(|x| !x.is_finite()) {
        bail!("value at index {i} is {}, which JSON cannot represent", values[i]);
    }
    Ok(serde_json::to_string(values)?)
}
