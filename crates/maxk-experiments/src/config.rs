//! Experiment settings: one TOML file, defaults built in, every run writes the resolved config.
//!
//! A file is an overlay on the built-in defaults ([`Config::default`] or [`Config::quick`]):
//! it only needs the keys it changes (maxk-study's [`maxk_study::config`]). Unknown keys and
//! wrong types are errors that name the file, line and key path; out-of-range values name the
//! key and the value, e.g. `config key `bandit_error.k` = 16: ...`. Estimators are written as
//! their ids (`"maxpo"`, maxk-core's `serde` feature).
//!
//! ```
//! let cfg = maxk_experiments::Config::from_toml_str("seeds = 3\n[bandit_error]\nk = 2\n", false)?;
//! assert_eq!(cfg.seeds, 3);
//! assert_eq!(cfg.bandit_error.k, 2);
//! assert_eq!(cfg.bandit_error.n, maxk_experiments::Config::default().bandit_error.n);
//! # Ok::<(), maxk_study::ConfigError>(())
//! ```

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use maxk_core::{Estimator, Scale, Spec};
use maxk_study::config::{ConfigError, Overlay, at_least, positive, resolve};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::bandit::MAX_LOGIT_STD;

/// An estimator at a scale other than the PG one, written `"maxpo:std"` (`"passk-analytic:pg"`):
/// the biased max@K controls of the estimation-error test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Control {
    /// The estimator.
    pub estimator: Estimator,
    /// Its scale (`std`: divided by the group's reward std, then multiplied by the PG factor so
    /// its size is comparable; `pg`; `none`).
    pub scale: Scale,
}

impl Control {
    /// The maxk-core spec at `k`.
    pub fn spec(self, k: usize) -> Spec {
        Spec::new(self.estimator, k).with_scale(self.scale)
    }

    /// The label used in tables and figures, `maxpo:std`.
    pub fn label(self) -> String {
        format!("{}:{}", self.estimator.id(), self.scale.id())
    }
}

impl FromStr for Control {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Control, String> {
        let (e, sc) = s.split_once(':').ok_or_else(|| format!("`{s}` is not `<estimator>:<scale>`"))?;
        Ok(Control {
            estimator: e.parse().map_err(|err: maxk_core::Error| err.to_string())?,
            scale: sc.parse().map_err(|err: maxk_core::Error| err.to_string())?,
        })
    }
}

impl Serialize for Control {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.label())
    }
}

impl<'de> Deserialize<'de> for Control {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        String::deserialize(d)?.parse().map_err(serde::de::Error::custom)
    }
}

/// Everything `maxk reproduce` runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Master seed; each job's random stream derives from it ([`crate::seeding`]).
    pub seed: u64,
    /// Independent repetitions per setting; bands are 95% t-intervals over them.
    pub seeds: usize,
    /// The estimators compared, all at maxk-core's PG scale (`Scale::Pg`).
    pub estimators: Vec<Estimator>,
    /// Experiment 1: gradient estimation error vs number of batches.
    pub bandit_error: BanditError,
    /// Experiment 2: gradient variance vs action-space size.
    pub bandit_actions: BanditActions,
    /// Experiment 3: gradient variance vs K.
    pub bandit_k: BanditK,
    /// Experiment 4: where the Leave-Two-Out baseline lowers the variance, over reward
    /// families, N, K and A.
    pub variance_map: VarianceMap,
    /// Experiment 5: the biased maze.
    pub maze: Maze,
}

/// Experiment 1 settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BanditError {
    /// Number of actions A.
    pub actions: usize,
    /// Batch (group) size N.
    pub n: usize,
    /// K of max@K.
    pub k: usize,
    /// Largest number of batches M averaged (the M grid is 1, 2, 4, ..., up to this).
    pub max_batches: usize,
    /// Standard deviation of the random initial logits theta_a ~ N(0, s^2).
    pub logit_std: f64,
    /// Fraction of actions rewarded 1 in the binary (pass@K) variant (the best ones).
    pub binary_fraction: f64,
    /// Biased max@K controls (`"estimator:scale"`) the test should detect; `passk-analytic`
    /// runs on the binary variant only (it needs binary rewards).
    pub controls: Vec<Control>,
}

/// Experiment 2 settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BanditActions {
    /// Action-space sizes A.
    pub actions: Vec<usize>,
    /// Batch size N.
    pub n: usize,
    /// K of max@K.
    pub k: usize,
    /// Monte Carlo batches per (A, seed).
    pub batches: usize,
    /// Standard deviation of the random logits.
    pub logit_std: f64,
    /// Success fractions p of the binary family, computed exactly ([`crate::exact`]).
    pub success: Vec<f64>,
}

/// Experiment 3 settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BanditK {
    /// Number of actions A.
    pub actions: usize,
    /// Batch size N.
    pub n: usize,
    /// The values of K (each in 1..=N-1).
    pub ks: Vec<usize>,
    /// Monte Carlo batches per (K, seed).
    pub batches: usize,
    /// Standard deviation of the random logits.
    pub logit_std: f64,
    /// Success fractions p of the binary family, computed exactly ([`crate::exact`]).
    pub success: Vec<f64>,
}

/// Experiment 4 settings: the ratio Var(EI) / Var(MaxPO) on every (family, A, N, K) cell.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VarianceMap {
    /// Action-space sizes A.
    pub actions: Vec<usize>,
    /// Group sizes N.
    pub ns: Vec<usize>,
    /// Values of K (cells with K >= N are skipped: MaxPO needs N >= K + 1).
    pub ks: Vec<usize>,
    /// Success fractions p of the binary families (exact variance).
    pub success: Vec<f64>,
    /// Monte Carlo batches per (cell, seed) of the continuous family.
    pub batches: usize,
    /// Monte Carlo batches per (cell, seed) that check the exact binary values.
    pub check_batches: usize,
    /// Standard deviation of the random logits of the continuous family.
    pub logit_std: f64,
}

/// Experiment 4 settings (see [`crate::maze`] for the environment).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Maze {
    /// Number of decisions from start to goal.
    pub depth: usize,
    /// Depths (0-based) where the correct action is 0; elsewhere it is 1.
    pub traps: Vec<usize>,
    /// Maze variants by the reward paid when the wrong action (1) is taken at a trap depth,
    /// ending the episode: 0 is no lure; a bait (below `depth - last trap`, so the goal stays the
    /// best return) gives mean-reward training a local optimum.
    pub baits: Vec<f64>,
    /// Initial probability of action 1 at every depth (the bias).
    pub init_p1: f64,
    /// Episodes per update (group size N).
    pub n: usize,
    /// K of max@K for the K-aware estimators and of the reported pass@K.
    pub k: usize,
    /// Policy-gradient updates per run.
    pub updates: usize,
    /// The learning-rate grid every estimator is trained with (the same for all).
    pub lrs: Vec<f64>,
    /// Seeds that select each estimator's learning rate; the `seeds` evaluation seeds use
    /// other random streams, so selection and evaluation data are disjoint.
    pub tune_seeds: usize,
    /// Moving-average window of the plotted return and success rate.
    pub window: usize,
}

impl Default for Config {
    fn default() -> Config {
        use Estimator::*;
        Config {
            seed: 20260606,
            seeds: 32,
            // The first of two estimators identical at the PG scale is the one run (crate::twins).
            estimators: vec![Grpo, Rloo, Pkpo, PkpoLoo, Ei, PkpoLoo1, Maxpo, Canonical],
            bandit_error: BanditError::default(),
            bandit_actions: BanditActions::default(),
            bandit_k: BanditK::default(),
            variance_map: VarianceMap::default(),
            maze: Maze::default(),
        }
    }
}

impl Default for BanditError {
    fn default() -> BanditError {
        BanditError {
            actions: 32,
            n: 16,
            k: 4,
            max_batches: 1 << 15,
            logit_std: 1.0,
            binary_fraction: 0.125,
            controls: ["maxpo:std", "ei:std", "passk-analytic:pg"]
                .map(|c| c.parse::<Control>().unwrap_or_else(|e| unreachable!("built-in control {c}: {e}")))
                .to_vec(),
        }
    }
}

impl Default for BanditActions {
    fn default() -> BanditActions {
        BanditActions {
            actions: (1..=10).map(|e| 1 << e).collect(),
            n: 16,
            k: 4,
            batches: 10_000,
            logit_std: 1.0,
            success: SUCCESS.to_vec(),
        }
    }
}

/// The success fractions of the binary families.
const SUCCESS: [f64; 5] = [0.01, 0.03, 0.1, 0.3, 0.5];

impl Default for BanditK {
    fn default() -> BanditK {
        BanditK {
            actions: 64,
            n: 16,
            ks: (1..=15).collect(),
            batches: 10_000,
            logit_std: 1.0,
            success: SUCCESS.to_vec(),
        }
    }
}

impl Default for VarianceMap {
    fn default() -> VarianceMap {
        VarianceMap {
            actions: vec![8, 1024],
            ns: vec![8, 16, 32],
            ks: vec![2, 4, 8],
            success: SUCCESS.to_vec(),
            batches: 4000,
            check_batches: 1000,
            logit_std: 1.0,
        }
    }
}

impl Default for Maze {
    fn default() -> Maze {
        Maze {
            depth: 16,
            traps: vec![3, 7, 10, 13],
            baits: vec![0.0, 2.5],
            init_p1: 0.85,
            n: 16,
            k: 8,
            updates: 200,
            lrs: vec![0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0],
            tune_seeds: 32,
            window: 10,
        }
    }
}

impl Config {
    /// The `--quick` smoke settings: every experiment and figure, at a fraction of the cost.
    pub fn quick() -> Config {
        let d = Config::default();
        Config {
            seeds: 4,
            bandit_error: BanditError { actions: 8, n: 8, k: 3, max_batches: 256, ..d.bandit_error },
            bandit_actions: BanditActions {
                actions: vec![2, 8, 32],
                n: 8,
                k: 3,
                batches: 200,
                success: vec![0.03, 0.3],
                ..d.bandit_actions
            },
            bandit_k: BanditK {
                actions: 16,
                n: 8,
                ks: vec![1, 3, 5, 7],
                batches: 200,
                success: vec![0.03, 0.3],
                ..d.bandit_k
            },
            variance_map: VarianceMap {
                actions: vec![8, 64],
                ns: vec![8, 16],
                ks: vec![2, 4],
                success: vec![0.03, 0.3],
                batches: 100,
                check_batches: 100,
                ..d.variance_map
            },
            maze: Maze {
                depth: 8,
                traps: vec![2, 5],
                baits: vec![0.0, 1.5],
                updates: 40,
                n: 8,
                k: 4,
                lrs: vec![0.1, 0.3, 1.0, 3.0, 10.0, 30.0],
                tune_seeds: 3,
                ..d.maze
            },
            ..d
        }
    }

    /// The defaults (`quick` selects [`Config::quick`]) with the keys of `text` (TOML)
    /// overriding them, validated.
    pub fn from_toml_str(text: &str, quick: bool) -> Result<Config, ConfigError> {
        Config::resolve(&[Overlay::parse(text, "<string>")?], quick)
    }

    /// [`Config::from_toml_str`] on a file.
    pub fn load(path: &Path, quick: bool) -> Result<Config, ConfigError> {
        Config::resolve(&[Overlay::read(path)?], quick)
    }

    /// The defaults (`quick` selects [`Config::quick`]) with `overlays` applied in order
    /// ([`maxk_study::config::resolve`]), validated.
    pub fn resolve(overlays: &[Overlay], quick: bool) -> Result<Config, ConfigError> {
        let base = if quick { Config::quick() } else { Config::default() };
        let cfg = resolve(&base, overlays)?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// The resolved config as TOML (written next to every run's results).
    pub fn to_toml(&self) -> String {
        toml::to_string(self).unwrap_or_else(|e| format!("# config could not be serialized: {e}\n"))
    }

    /// Checks every range; the error names the first bad key and its value.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.seeds < 2 || self.seeds > 10_000 {
            return bad("seeds", &self.seeds, "must be in 2..=10000 (confidence bands need at least 2)");
        }
        if self.estimators.is_empty() {
            return bad("estimators", &"[]", "list at least one estimator");
        }
        for (i, e) in self.estimators.iter().enumerate() {
            if self.estimators[..i].contains(e) {
                return bad(&format!("estimators[{i}]"), &format!("\"{e}\""), "is listed twice");
            }
        }
        let e = &self.bandit_error;
        at_least("bandit_error.actions", e.actions, 2)?;
        self.group("bandit_error", e.n, &[e.k])?;
        at_least("bandit_error.max_batches", e.max_batches, 2)?;
        if e.max_batches > 1 << 24 {
            return bad("bandit_error.max_batches", &e.max_batches, "must be at most 16777216");
        }
        logit_std("bandit_error.logit_std", e.logit_std)?;
        if !(e.binary_fraction > 0.0 && e.binary_fraction < 1.0) || e.actions as f64 * e.binary_fraction < 1.0
        {
            return bad(
                "bandit_error.binary_fraction",
                &e.binary_fraction,
                format!("must be in (0, 1) and leave at least one correct action of {}", e.actions),
            );
        }
        for (i, c) in e.controls.iter().enumerate() {
            if let Err(err) = c.estimator.validate(e.n, e.k) {
                return bad(
                    &format!("bandit_error.controls[{i}]"),
                    &format!("\"{}\"", c.label()),
                    format!("{err} (with bandit_error.n = {})", e.n),
                );
            }
        }
        let a = &self.bandit_actions;
        if a.actions.is_empty() {
            return bad("bandit_actions.actions", &"[]", "list at least one action-space size");
        }
        for (i, &n) in a.actions.iter().enumerate() {
            if !(2..=1 << 20).contains(&n) {
                return bad(&format!("bandit_actions.actions[{i}]"), &n, "must be in 2..=1048576");
            }
        }
        self.group("bandit_actions", a.n, &[a.k])?;
        at_least("bandit_actions.batches", a.batches, 2)?;
        logit_std("bandit_actions.logit_std", a.logit_std)?;
        fractions("bandit_actions.success", &a.success)?;
        let k = &self.bandit_k;
        at_least("bandit_k.actions", k.actions, 2)?;
        if k.ks.is_empty() {
            return bad("bandit_k.ks", &"[]", "list at least one K");
        }
        self.group("bandit_k", k.n, &k.ks)?;
        at_least("bandit_k.batches", k.batches, 2)?;
        logit_std("bandit_k.logit_std", k.logit_std)?;
        fractions("bandit_k.success", &k.success)?;
        self.validate_map()?;
        self.validate_maze()
    }

    fn validate_map(&self) -> Result<(), ConfigError> {
        let m = &self.variance_map;
        for (key, list) in
            [("variance_map.actions", &m.actions), ("variance_map.ns", &m.ns), ("variance_map.ks", &m.ks)]
        {
            if list.is_empty() {
                return Err(ConfigError::invalid(key, "[]", "list at least one value"));
            }
        }
        for (i, &a) in m.actions.iter().enumerate() {
            if !(2..=1 << 20).contains(&a) {
                return Err(ConfigError::invalid(
                    format!("variance_map.actions[{i}]"),
                    a,
                    "must be in 2..=1048576",
                ));
            }
        }
        for (i, &n) in m.ns.iter().enumerate() {
            if !(2..=4096).contains(&n) {
                return Err(ConfigError::invalid(format!("variance_map.ns[{i}]"), n, "must be in 2..=4096"));
            }
        }
        for (j, &k) in m.ks.iter().enumerate() {
            if k == 0 {
                return Err(ConfigError::invalid(format!("variance_map.ks[{j}]"), k, "must be at least 1"));
            }
        }
        // The map compares ei and maxpo; cells with K >= N (MaxPO needs N >= K + 1) are skipped.
        if !m.ns.iter().any(|&n| m.ks.iter().any(|&k| Estimator::Maxpo.validate(n, k).is_ok())) {
            return Err(ConfigError::invalid(
                "variance_map.ks",
                format!("{:?}", m.ks),
                format!(
                    "no K is below a group size of variance_map.ns = {:?} (MaxPO needs N >= K + 1)",
                    m.ns
                ),
            ));
        }
        fractions("variance_map.success", &m.success)?;
        at_least("variance_map.batches", m.batches, 2)?;
        at_least("variance_map.check_batches", m.check_batches, 2)?;
        logit_std("variance_map.logit_std", m.logit_std)
    }

    fn validate_maze(&self) -> Result<(), ConfigError> {
        let m = &self.maze;
        if !(1..=1000).contains(&m.depth) {
            return Err(ConfigError::invalid("maze.depth", m.depth, "must be in 1..=1000"));
        }
        for (i, &t) in m.traps.iter().enumerate() {
            if t >= m.depth {
                return Err(ConfigError::invalid(
                    format!("maze.traps[{i}]"),
                    t,
                    format!("must be < maze.depth = {}", m.depth),
                ));
            }
        }
        // The goal must stay the unique best outcome: trap t plus its bait earns t + bait.
        let last = m.traps.iter().max().copied().unwrap_or(0);
        if m.baits.is_empty() {
            return Err(ConfigError::invalid("maze.baits", "[]", "list at least one bait (0 for no lure)"));
        }
        for (i, &b) in m.baits.iter().enumerate() {
            if !b.is_finite() || b < 0.0 || (last as f64 + b) >= m.depth as f64 {
                return Err(ConfigError::invalid(
                    format!("maze.baits[{i}]"),
                    b,
                    format!(
                        "must be >= 0 and below maze.depth - last trap = {} so the goal stays the best return",
                        m.depth - last
                    ),
                ));
            }
            if m.baits[..i].contains(&b) {
                return Err(ConfigError::invalid(format!("maze.baits[{i}]"), b, "is listed twice"));
            }
        }
        if !(m.init_p1 > 0.0 && m.init_p1 < 1.0) {
            return Err(ConfigError::invalid("maze.init_p1", m.init_p1, "must be in (0, 1)"));
        }
        self.group("maze", m.n, &[m.k])?;
        at_least("maze.updates", m.updates, 1)?;
        if m.lrs.is_empty() {
            return Err(ConfigError::invalid("maze.lrs", "[]", "list at least one learning rate"));
        }
        for (i, &lr) in m.lrs.iter().enumerate() {
            let key = format!("maze.lrs[{i}]");
            positive(&key, lr)?;
            if lr > 1000.0 {
                return Err(ConfigError::invalid(&key, lr, "must be at most 1000"));
            }
            if m.lrs[..i].contains(&lr) {
                return Err(ConfigError::invalid(&key, lr, "is listed twice"));
            }
        }
        if !(2..=10_000).contains(&m.tune_seeds) {
            return Err(ConfigError::invalid("maze.tune_seeds", m.tune_seeds, "must be in 2..=10000"));
        }
        at_least("maze.window", m.window, 1)
    }

    /// Group size `n` at key `section.n` and every K in `ks` must suit every estimator.
    fn group(&self, section: &str, n: usize, ks: &[usize]) -> Result<(), ConfigError> {
        if !(2..=100_000).contains(&n) {
            return Err(ConfigError::invalid(format!("{section}.n"), n, "group size must be in 2..=100000"));
        }
        let key = if section == "bandit_k" { "bandit_k.ks".to_string() } else { format!("{section}.k") };
        for &k in ks {
            for e in &self.estimators {
                if let Err(err) = e.validate(n, k) {
                    return Err(ConfigError::invalid(&key, k, format!("{err} (with {section}.n = {n})")));
                }
            }
        }
        Ok(())
    }
}

fn bad<T>(key: &str, value: &dyn fmt::Display, reason: impl Into<String>) -> Result<T, ConfigError> {
    Err(ConfigError::invalid(key, value, reason))
}

fn fractions(key: &str, values: &[f64]) -> Result<(), ConfigError> {
    if values.is_empty() {
        return Err(ConfigError::invalid(key, "[]", "list at least one success fraction"));
    }
    for (i, &p) in values.iter().enumerate() {
        if !(p > 0.0 && p < 1.0) {
            return Err(ConfigError::invalid(format!("{key}[{i}]"), p, "must be in (0, 1)"));
        }
    }
    Ok(())
}

fn logit_std(key: &str, value: f64) -> Result<(), ConfigError> {
    if (0.0..=MAX_LOGIT_STD).contains(&value) {
        Ok(())
    } else {
        Err(ConfigError::invalid(key, value, format!("must be in [0, {MAX_LOGIT_STD}]")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        Config::from_toml_str(text, false).unwrap_err().to_string()
    }

    #[test]
    fn defaults_and_quick_are_valid_and_round_trip() {
        for cfg in [Config::default(), Config::quick()] {
            cfg.validate().unwrap();
            let again: Config = toml::from_str(&cfg.to_toml()).unwrap();
            assert_eq!(again, cfg);
        }
        assert_eq!(Config::from_toml_str("", false).unwrap(), Config::default());
        assert_eq!(Config::from_toml_str("", true).unwrap(), Config::quick());
    }

    #[test]
    fn a_file_overrides_only_its_keys() {
        let cfg = Config::from_toml_str("[maze]\nlrs = [0.25, 2.5]\n", true).unwrap();
        assert_eq!(cfg.maze.lrs, vec![0.25, 2.5]);
        assert_eq!(cfg.maze.depth, Config::quick().maze.depth);
        let cfg = Config::from_toml_str("estimators = [\"maxpo\", \"ei\"]", false).unwrap();
        assert_eq!(cfg.estimators, vec![Estimator::Maxpo, Estimator::Ei]);
    }

    #[test]
    fn unknown_keys_are_named() {
        let e = err("[bandit_error]\nkk = 3\n");
        assert!(e.contains("unknown field `kk`") && e.contains("line 2"), "{e}");
        let e = err("sedes = 3\n");
        assert!(e.contains("unknown field `sedes`"), "{e}");
    }

    #[test]
    fn wrong_types_are_named() {
        let e = err("[maze]\nlrs = \"fast\"\n");
        assert!(e.contains("invalid type") && e.contains("lrs"), "{e}");
        let e = err("[bandit_error]\ncontrols = [\"maxpo\"]\n");
        assert!(e.contains("`maxpo` is not `<estimator>:<scale>`"), "{e}");
        let e = err("[bandit_error]\ncontrols = [\"maxpo:sd\"]\n");
        assert!(e.contains("sd"), "{e}");
        let e = err("seeds = -1\n");
        assert!(e.contains("seeds"), "{e}");
        let e = err("estimators = [\"maxpoo\"]\n");
        assert!(e.contains("maxpoo") && e.contains("maxpo, canonical"), "{e}");
    }

    #[test]
    fn out_of_range_values_name_key_and_value() {
        let e = err("[bandit_error]\nn = 8\nk = 8\n");
        assert!(e.starts_with("config key `bandit_error.k` = 8: k = 8 is out of range for"), "{e}");
        assert!(e.contains("bandit_error.n = 8"), "{e}");
        let e = err("[bandit_k]\nn = 8\nks = [1, 9]\n");
        assert!(e.starts_with("config key `bandit_k.ks` = 9"), "{e}");
        let e = err("[maze]\ntraps = [3, 16]\n");
        assert_eq!(e, "config key `maze.traps[1]` = 16: must be < maze.depth = 16");
        let e = err("[maze]\ninit_p1 = 1.0\n");
        assert_eq!(e, "config key `maze.init_p1` = 1: must be in (0, 1)");
        let e = err("[maze]\nbaits = [0.0, 3.0]\n");
        assert!(
            e.starts_with(
                "config key `maze.baits[1]` = 3: must be >= 0 and below maze.depth - last trap = 3"
            ),
            "{e}"
        );
        let e = err("[maze]\nlrs = [1.0, 0.0]\n");
        assert_eq!(e, "config key `maze.lrs[1]` = 0: must be finite and > 0");
        let e = err("[maze]\ntune_seeds = 1\n");
        assert!(e.starts_with("config key `maze.tune_seeds` = 1"), "{e}");
        let e = err("[variance_map]\nns = [8]\nks = [8]\n");
        assert!(e.starts_with("config key `variance_map.ks` = [8]: no K is below"), "{e}");
        let e = err("[bandit_k]\nsuccess = [0.5, 1.0]\n");
        assert_eq!(e, "config key `bandit_k.success[1]` = 1: must be in (0, 1)");
        let e = err("[bandit_k]\nlogit_std = 1000.0\n");
        assert_eq!(e, "config key `bandit_k.logit_std` = 1000: must be in [0, 100]");
        let e = err("seeds = 1\n");
        assert!(e.starts_with("config key `seeds` = 1"), "{e}");
        let e = err("[bandit_actions]\nactions = [4, 1]\n");
        assert!(e.starts_with("config key `bandit_actions.actions[1]` = 1"), "{e}");
        let e = err("estimators = [\"ei\", \"ei\"]\n");
        assert!(e.contains("`estimators[1]` = \"ei\": is listed twice"), "{e}");
    }
}
