//! Streaming JSON Lines: one group (a JSON array of numbers) per input line, one JSON value per
//! output line, in order. Memory stays bounded by the largest line.
//!
//! Input: a UTF-8 byte order mark before the first line is skipped, and blank lines at the end
//! of the input are ignored (an editor's trailing newline); a blank line before a group is an
//! error, since every input line has its output line. Errors name the input line, and for JSON
//! that does not parse the column.
//!
//! `--output FILE` is all or nothing for a regular file (or a path that does not exist yet):
//! lines go to a temporary file beside it, renamed over it only when every line succeeded; on
//! error FILE is left as it was. A symbolic link is followed (its target is the file meant),
//! and a device, FIFO or socket is written through, as lines come, like stdout: replacing it
//! with a regular file would break whoever reads it. On stdout, lines stream as they are
//! computed (a pipeline sees them at once) and a closed pipe ends the run quietly (see `main`).

use std::fs::{self, File, OpenOptions};
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

/// Where the lines go: stdout, a file written through, or a temporary file that becomes `path`
/// on [`Sink::finish`].
pub enum Sink {
    /// Standard output.
    Stdout(BufWriter<StdoutLock<'static>>),
    /// A device, FIFO or socket (or a link to one), written as the lines come.
    Through(BufWriter<File>),
    /// A temporary file in the directory of `path`.
    File {
        /// The temporary file.
        tmp: BufWriter<File>,
        /// Removes it unless it is renamed to `path`.
        staged: Staged,
        /// The requested output file (symbolic links resolved).
        path: PathBuf,
    },
}

/// The most symbolic links [`resolve_links`] follows, as Linux's `MAXSYMLINKS`.
const MAX_LINKS: usize = 40;

/// `path` with symbolic links in its last component followed to what they point at (which
/// need not exist yet): the file a user means by a link.
fn resolve_links(path: &Path) -> Result<PathBuf> {
    let mut p = path.to_path_buf();
    for _ in 0..MAX_LINKS {
        match fs::symlink_metadata(&p) {
            Ok(m) if m.file_type().is_symlink() => {
                let target =
                    fs::read_link(&p).with_context(|| format!("cannot read link {}", p.display()))?;
                p = match p.parent() {
                    Some(dir) if target.is_relative() => dir.join(target),
                    _ => target,
                };
            }
            _ => return Ok(p),
        }
    }
    bail!("output {}: more than {MAX_LINKS} levels of symbolic links", path.display())
}

impl Sink {
    /// Opens `--output` (stdout when absent or `-`). A regular file output is created beside
    /// its target (same file system, so the final rename is atomic) with the permissions a
    /// plain `File::create` would give, or those of the file it replaces; anything else that
    /// exists (a device, FIFO, socket) is opened for writing as it is.
    pub fn open(path: Option<&PathBuf>) -> Result<Sink> {
        let Some(given) = path.filter(|p| p.as_os_str() != "-") else {
            return Ok(Sink::Stdout(BufWriter::new(io::stdout().lock())));
        };
        let path = resolve_links(given)?;
        match fs::metadata(&path) {
            Ok(m) if m.is_dir() => bail!("output {} is a directory", given.display()),
            Ok(m) if !m.is_file() => {
                let file = OpenOptions::new()
                    .write(true)
                    .open(&path)
                    .with_context(|| format!("cannot open output {}", given.display()))?;
                return Ok(Sink::Through(BufWriter::new(file)));
            }
            _ => {}
        }
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        let stem = path.file_name().map_or("maxk-output".into(), |n| n.to_string_lossy());
        let (staged, file) = Staged::create_in(dir, &stem, ".tmp").with_context(|| {
            format!("cannot create output file {} (temporary file in {})", given.display(), dir.display())
        })?;
        Ok(Sink::File { tmp: BufWriter::new(file), staged, path })
    }

    /// The writer for the lines.
    pub fn writer(&mut self) -> &mut dyn Write {
        match self {
            Sink::Stdout(w) => w,
            Sink::Through(w) => w,
            Sink::File { tmp, .. } => tmp,
        }
    }

    /// Flushes, and for a file output renames the temporary file over the requested one.
    pub fn finish(self) -> Result<()> {
        match self {
            Sink::Stdout(mut w) => w.flush().context("cannot write output"),
            Sink::Through(mut w) => w.flush().context("cannot write output"),
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
    mut each: impl FnMut(&[f64]) -> Result<String>,
) -> Result<()> {
    for_each_line(input, output, |text| each(&parse_rewards(text)?))
}

/// Lines from this many bytes are parsed beside the `ahead` of [`map_lines_ahead`]; shorter
/// ones hold too few rewards for it to matter (a reward takes at least two bytes, and the
/// core readies nothing below 2^15 rewards).
const AHEAD_FROM: usize = 1 << 16;

/// [`map_lines`] with a `state` that `each` works in and that `ahead(state, n)` readies for
/// a group of about `n` rewards while a long line is being parsed, on a second thread (the
/// number of commas in the line plus one: the size of a flat array, which parsing then checks;
/// for anything else only a wrong guess).
pub fn map_lines_ahead<S: Send>(
    input: Option<&PathBuf>,
    output: Option<&PathBuf>,
    state: &mut S,
    ahead: impl Fn(&mut S, usize) + Sync,
    mut each: impl FnMut(&mut S, &[f64]) -> Result<String>,
) -> Result<()> {
    for_each_line(input, output, |text| {
        let rewards = if text.len() >= AHEAD_FROM {
            let size = || text.bytes().filter(|&b| b == b',').count() + 1;
            rayon::join(|| parse_rewards(text), || ahead(state, size())).0?
        } else {
            parse_rewards(text)?
        };
        each(state, &rewards)
    })
}

/// A group line's rewards: a flat JSON array of numbers.
fn parse_rewards(text: &str) -> Result<Vec<f64>> {
    const EXAMPLE: &str = "expected a JSON array of finite numbers such as [0, 1, 0.5]";
    serde_json::from_str(text).map_err(|e| json_error(e, EXAMPLE))
}

/// The line loop of every JSON Lines subcommand: reads `--input`, calls `each` on the text of
/// every group line (without its line break, a leading byte order mark or trailing blank
/// lines) and writes what it returns as one line of `--output`; errors name the line.
pub fn for_each_line(
    input: Option<&PathBuf>,
    output: Option<&PathBuf>,
    each: impl FnMut(&str) -> Result<String>,
) -> Result<()> {
    let mut rd = reader(input)?;
    let mut sink = Sink::open(output)?;
    process(&mut rd, sink.writer(), each)?;
    sink.finish()
}

/// [`map_lines`] for lines of any JSON shape: `parse` reads a line's text, `each` turns the
/// value into the JSON text to write.
pub fn map_parsed_lines<V>(
    input: Option<&PathBuf>,
    output: Option<&PathBuf>,
    parse: impl Fn(&str) -> Result<V>,
    mut each: impl FnMut(V) -> Result<String>,
) -> Result<()> {
    for_each_line(input, output, |text| each(parse(text)?))
}

/// The loop of [`for_each_line`] on any reader and writer.
fn process(
    rd: &mut dyn BufRead,
    out: &mut dyn Write,
    mut each: impl FnMut(&str) -> Result<String>,
) -> Result<()> {
    let mut line = String::new();
    let mut number = 0usize;
    // The first blank line of a run of them: an error only if a group follows.
    let mut blank: Option<usize> = None;
    loop {
        line.clear();
        let read =
            rd.read_line(&mut line).with_context(|| format!("line {}: cannot read input", number + 1))?;
        if read == 0 {
            return Ok(());
        }
        number += 1;
        let mut text = line.trim_end_matches(['\n', '\r']);
        if number == 1 {
            text = text.strip_prefix('\u{feff}').unwrap_or(text);
        }
        if text.trim().is_empty() {
            blank.get_or_insert(number);
            continue;
        }
        if let Some(b) = blank {
            bail!("line {b}: empty line, expected a group (blank lines are allowed only at the end)");
        }
        let json = each(text).with_context(|| format!("line {number}"))?;
        out.write_all(json.as_bytes()).context("cannot write output")?;
        out.write_all(b"\n").context("cannot write output")?;
    }
}

/// A JSON error of one line as what was `expected` (an example) and what serde found, at which
/// column of the line (serde's own "line 1" would be wrong for every other line).
pub fn json_error(e: serde_json::Error, expected: &str) -> anyhow::Error {
    let message = e.to_string();
    let located = format!(" at line {} column {}", e.line(), e.column());
    match message.strip_suffix(&located) {
        Some(reason) => anyhow::anyhow!("{expected}: {reason} (column {})", e.column()),
        None => anyhow::anyhow!("{expected}: {message}"),
    }
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
