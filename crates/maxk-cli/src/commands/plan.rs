//! `maxk plan`: choose N and K before a run, for binary rewards.
//!
//! For a success rate p (or per-prompt rates from a previous run), group size N and K it prints
//! the expected share of groups that carry a signal, the exact `Var(EI) / Var(MaxPO)` of the
//! batch gradient at the PG scale (the binary-reward formula the experiments use,
//! `maxk_core::exact_variance`) and, with `--target`, the smallest N whose informative share
//! reaches the target (see `maxk_core::plan`).

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use maxk_core::plan::{Plan, plan};

/// Arguments of `maxk plan`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Success rate(s) p in [0, 1], comma-separated (one per prompt).
    #[arg(short = 'p', long, value_delimiter = ',', required_unless_present = "rates")]
    pub p: Vec<f64>,
    /// A file of per-prompt success rates: a JSON array, or one number per line.
    #[arg(long, conflicts_with = "p")]
    pub rates: Option<PathBuf>,
    /// Group size N.
    #[arg(short = 'n', long)]
    pub n: usize,
    /// K of pass@K (1 <= K <= N - 1).
    #[arg(short = 'k', long)]
    pub k: usize,
    /// Target share of informative groups, in (0, 1): also print the smallest N reaching it.
    #[arg(long)]
    pub target: Option<f64>,
    /// Number of equally likely actions of the two-class policy (the experiments' bandit);
    /// default: the language-model limit of distinct completions.
    #[arg(long)]
    pub actions: Option<usize>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

fn read_rates(path: &PathBuf) -> Result<Vec<f64>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    if text.trim_start().starts_with('[') {
        return serde_json::from_str(&text)
            .with_context(|| format!("{}: not a JSON array of numbers", path.display()));
    }
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            l.trim()
                .parse()
                .with_context(|| format!("{} line {}: {l:?} is not a number", path.display(), i + 1))
        })
        .collect()
}

/// Runs the subcommand.
pub fn run(args: Args) -> Result<()> {
    let rates = match &args.rates {
        Some(path) => read_rates(path)?,
        None => args.p.clone(),
    };
    if rates.is_empty() {
        bail!("no success rate: give -p or --rates");
    }
    let p = plan(&rates, args.n, args.k, args.target, args.actions)?;
    if args.json {
        println!("{}", json(&p));
    } else {
        print!("{}", text(&p, args.actions));
    }
    Ok(())
}

fn json(p: &Plan) -> serde_json::Value {
    serde_json::json!({
        "n": p.n,
        "k": p.k,
        "prompts": p.prompts,
        "mean_rate": p.mean_rate,
        "informative_share": p.informative_share,
        "informative_limit": p.informative_limit,
        "var_ei": p.var_ei,
        "var_maxpo": p.var_maxpo,
        "var_ratio_ei_over_maxpo": p.var_ratio,
        "target": p.target,
        "smallest_n": p.smallest_n,
    })
}

fn text(p: &Plan, actions: Option<usize>) -> String {
    let policy =
        actions.map_or("distinct completions".to_string(), |a| format!("{a} equally likely actions"));
    let mut s = format!(
        "{} prompt(s), mean success rate {:.4}, N = {}, K = {}\n\
         informative groups (0 < correct < N): {:.2}% expected (at most {:.2}% for any N)\n",
        p.prompts,
        p.mean_rate,
        p.n,
        p.k,
        100.0 * p.informative_share,
        100.0 * p.informative_limit
    );
    match p.var_ratio {
        Some(r) => {
            s += &format!(
                "Var(EI) / Var(MaxPO) at the PG scale ({policy}): {r:.4} ({})\n",
                if r > 1.0 {
                    "the Leave-Two-Out baseline lowers the variance"
                } else {
                    "raw EI has the lower variance"
                }
            )
        }
        None => s += "Var(EI) / Var(MaxPO): no prompt has 0 < p < 1, both gradients are 0\n",
    }
    if let Some(t) = p.target {
        match p.smallest_n {
            Some(n) => s += &format!("smallest N with {:.2}% informative groups: {n}\n", 100.0 * t),
            None => s += &format!("no N reaches {:.2}% informative groups\n", 100.0 * t),
        }
    }
    s
}
