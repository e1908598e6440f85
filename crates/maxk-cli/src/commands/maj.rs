//! `maxk maj`: maj@K (majority vote / self-consistency) per group, JSON Lines in and out.
//!
//! A line is one group: `{"answers": ["42", "41", 42, ...], "correct": [true, false, true, ...]}`
//! with one answer key (a string or an integer; `"42"` and `42` are different keys) and one
//! verdict per sample. The output line holds the centered advantages `U_K(B) - U_K(B \ i)`, or
//! with `--estimate` the unbiased maj@K estimate `U_K(B)` (see `maxk_core::maj_advantages`: the
//! most frequent answer among K samples must be correct; ties split uniformly, or count as
//! wrong with `--ties wrong`).

use std::collections::HashMap;

use anyhow::{Result, bail};
use maxk_core::{Error, MajSpec, Ties, maj_advantages, maj_at_k};
use serde_json::Value;

use super::io_args::IoArgs;
use super::jsonl;

/// Arguments of `maxk maj`.
#[derive(Debug, clap::Args)]
#[command(mut_arg("input", |a| a.help(
    r#"JSON Lines input, one group per line as {"answers": [...], "correct": [...]} (default: stdin)"#
)))]
pub struct Args {
    /// K: 1 <= K <= N - 1 for advantages, <= N for `--estimate` (and at most 1024).
    #[arg(short = 'k', long)]
    pub k: usize,
    /// How a tie between the most frequent answers scores: split (the share of correct answers
    /// among the tied ones) or wrong (0).
    #[arg(long, default_value = "split", value_parser = parse_ties)]
    pub ties: Ties,
    /// Print the unbiased maj@K estimate of each group instead of the advantages.
    #[arg(long)]
    pub estimate: bool,
    #[command(flatten)]
    pub io: IoArgs,
}

/// Parses a tie rule with the core's error message.
pub fn parse_ties(s: &str) -> Result<Ties, String> {
    s.parse().map_err(|e: maxk_core::Error| e.to_string())
}

const EXAMPLE: &str =
    r#"expected a JSON object such as {"answers": ["42", "41", "42"], "correct": [true, false, true]}"#;

/// One group: the answers as written (for error messages), their u64 ids, the verdicts.
struct Group {
    answers: Vec<Value>,
    ids: Vec<u64>,
    correct: Vec<bool>,
}

fn parse(text: &str) -> Result<Group> {
    let value: Value = serde_json::from_str(text).map_err(|e| jsonl::json_error(e, EXAMPLE))?;
    let Some(answers) = value.get("answers").and_then(Value::as_array) else {
        bail!("no \"answers\" array, {EXAMPLE}");
    };
    let Some(correct) = value.get("correct").and_then(Value::as_array) else {
        bail!("no \"correct\" array, {EXAMPLE}");
    };
    let mut seen: HashMap<String, u64> = HashMap::new();
    let mut ids = Vec::with_capacity(answers.len());
    for (i, a) in answers.iter().enumerate() {
        let key = match a {
            Value::String(s) => format!("s{s}"),
            Value::Number(n) if n.is_i64() || n.is_u64() => format!("i{n}"),
            other => bail!("answer {i} is {other}: answers must be strings or integers"),
        };
        let next = seen.len() as u64;
        ids.push(*seen.entry(key).or_insert(next));
    }
    let correct = correct
        .iter()
        .enumerate()
        .map(|(i, c)| {
            c.as_bool().ok_or_else(|| anyhow::anyhow!("correct[{i}] is {c}: verdicts must be true or false"))
        })
        .collect::<Result<Vec<bool>>>()?;
    Ok(Group { answers: answers.clone(), ids, correct })
}

/// Runs the subcommand.
pub fn run(args: Args) -> Result<()> {
    let spec = MajSpec::new(args.k).with_ties(args.ties);
    jsonl::map_parsed_lines(args.io.input.as_ref(), args.io.output.as_ref(), parse, |g: Group| {
        let result = if args.estimate {
            maj_at_k(&g.ids, &g.correct, spec).map(|u| vec![u])
        } else {
            maj_advantages(&g.ids, &g.correct, spec)
        };
        match result {
            Ok(values) if args.estimate => Ok(serde_json::to_string(&values[0])?),
            Ok(values) => jsonl::to_json(&values),
            // The core names the key by its id; name it as the user wrote it.
            Err(Error::AnswerConflict { correct_at, wrong_at, .. }) => bail!(
                "answer {} is marked correct at sample {correct_at} and wrong at sample {wrong_at}: one answer must have one verdict",
                g.answers[correct_at]
            ),
            Err(e) => Err(e.into()),
        }
    })
}
