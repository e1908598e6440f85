//! One config loader: TOML overlaid on defaults.
//!
//! A config is a serde struct (`Serialize + DeserializeOwned`, every struct in it
//! `#[serde(deny_unknown_fields)]`) and its defaults are a value of that type, built in code.
//! Everything that changes it is an [`Overlay`]: a TOML table that names only the keys it
//! changes. A preset is an overlay (its TOML text built into the binary), a config file is
//! one ([`Overlay::read`]), and so is each `key=value` override ([`Assignment`]). [`resolve`]
//! applies them in order:
//!
//! ```text
//! defaults  <-  preset  <-  file  <-  key=value ...   then the caller validates the ranges
//! ```
//!
//! Applying an overlay serialises the current config to a TOML table, merges the overlay in
//! (tables key by key, struct and map alike; arrays and scalars are replaced whole) and
//! deserialises the result. So an overlay can change any key and nothing else, and the
//! resolved config (`toml::to_string`) written next to a run's results is itself a complete
//! overlay that reproduces it.
//!
//! Errors name where the bad key came from (the file, the preset, the override), its dotted
//! path and its line when the overlay has a text:
//!
//! ```
//! use maxk_study::config::{Assignment, Overlay, resolve};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Debug, PartialEq, Serialize, Deserialize)]
//! #[serde(deny_unknown_fields)]
//! struct Rl { lr: f64, steps: usize }
//! #[derive(Debug, PartialEq, Serialize, Deserialize)]
//! #[serde(deny_unknown_fields)]
//! struct Cfg { seed: u64, rl: Rl }
//!
//! let defaults = Cfg { seed: 1, rl: Rl { lr: 1e-3, steps: 100 } };
//! let file = Overlay::parse("[rl]\nsteps = 20\n", "run.toml")?;
//! let set: Assignment = "rl.lr=0.01".parse()?;
//! let cfg = resolve(&defaults, &[file, set.overlay()])?;
//! assert_eq!(cfg, Cfg { seed: 1, rl: Rl { lr: 0.01, steps: 20 } });
//!
//! let bad: Assignment = "rl.lr=abc".parse()?;
//! let err = resolve(&defaults, &[bad.overlay()]).unwrap_err();
//! assert_eq!(err.to_string(), "`rl.lr=abc`: rl.lr: invalid type: string \"abc\", expected f64");
//! let err = resolve(&defaults, &[Overlay::parse("seed = 2\n[rl]\nsteps = 3\nlrr = 1.0\n", "run.toml")?])
//!     .unwrap_err();
//! assert!(err.to_string().starts_with("run.toml, line 4: rl.lrr: unknown field `lrr`"), "{err}");
//! # Ok::<(), maxk_study::config::ConfigError>(())
//! ```
//!
//! Range checks stay with each config type (they know its meaning); their errors are
//! [`ConfigError::Invalid`], which names the key and the value ([`ConfigError::invalid`],
//! [`at_least`], [`positive`]).

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::Serialize;
use serde::de::DeserializeOwned;

/// Everything that can be wrong with a config.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A config file could not be read.
    #[error("could not read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// An overlay is not valid TOML.
    #[error("{origin} is not valid TOML: {message}")]
    Syntax {
        /// Where the text came from (a file, a preset).
        origin: String,
        /// The TOML parser's message, with line and column.
        message: String,
    },
    /// A key of an overlay is unknown or its value has the wrong type (or is not one of the
    /// allowed strings).
    #[error("{origin}{}: {key}: {message}", line.map(|l| format!(", line {l}")).unwrap_or_default())]
    Key {
        /// Where the overlay came from.
        origin: String,
        /// The 1-based line of the key in the overlay's text, when it has one.
        line: Option<usize>,
        /// Dotted path of the key, e.g. `rl.lr`, `estimators[2]`.
        key: String,
        /// What is wrong (serde's message: the value found and the type or values expected).
        message: String,
    },
    /// A value is out of range (a config type's own checks).
    #[error("config key `{key}` = {value}: {reason}")]
    Invalid {
        /// Dotted key, e.g. `bandit_error.k`.
        key: String,
        /// The value found, as written in TOML.
        value: String,
        /// What is wrong and what is allowed.
        reason: String,
    },
    /// A `key=value` override is malformed.
    #[error("override `{text}`: {reason}")]
    Assignment {
        /// The override as given.
        text: String,
        /// What is wrong.
        reason: String,
    },
    /// The current config does not serialise to a TOML table (a bug in the config type, e.g.
    /// a non-table top level or an integer above `i64::MAX`).
    #[error("the config does not serialise to TOML: {0}")]
    Serialize(String),
}

impl ConfigError {
    /// An [`ConfigError::Invalid`] for `key` with `value`.
    pub fn invalid(
        key: impl Into<String>,
        value: impl fmt::Display,
        reason: impl Into<String>,
    ) -> ConfigError {
        ConfigError::Invalid { key: key.into(), value: value.to_string(), reason: reason.into() }
    }
}

/// `value >= min`, else [`ConfigError::Invalid`] "must be at least {min}".
pub fn at_least(key: &str, value: usize, min: usize) -> Result<(), ConfigError> {
    if value < min {
        Err(ConfigError::invalid(key, value, format!("must be at least {min}")))
    } else {
        Ok(())
    }
}

/// `value` finite and `> 0`, else [`ConfigError::Invalid`] "must be finite and > 0".
pub fn positive(key: &str, value: f64) -> Result<(), ConfigError> {
    if value.is_finite() && value > 0.0 {
        Ok(())
    } else {
        Err(ConfigError::invalid(key, value, "must be finite and > 0"))
    }
}

/// Some keys of a config, with where they came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Overlay {
    origin: String,
    table: toml::Table,
    /// The TOML text the table was parsed from (for the line of an error).
    text: Option<String>,
}

impl Overlay {
    /// The overlay written in `text` (TOML); `origin` names it in errors (a path, `preset tiny`).
    pub fn parse(text: &str, origin: impl Into<String>) -> Result<Overlay, ConfigError> {
        let origin = origin.into();
        let table = text
            .parse::<toml::Table>()
            .map_err(|e| ConfigError::Syntax { origin: origin.clone(), message: e.to_string() })?;
        Ok(Overlay { origin, table, text: Some(text.to_string()) })
    }

    /// The overlay in the file at `path`.
    pub fn read(path: &Path) -> Result<Overlay, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| ConfigError::Read { path: path.to_path_buf(), source })?;
        Overlay::parse(&text, path.display().to_string())
    }

    /// An overlay built in code (e.g. from typed flags); `origin` names it in errors.
    pub fn from_table(table: toml::Table, origin: impl Into<String>) -> Overlay {
        Overlay { origin: origin.into(), table, text: None }
    }

    /// Where it came from.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The keys it sets.
    pub fn table(&self) -> &toml::Table {
        &self.table
    }

    /// `base` with this overlay's keys. The error names the first unknown key or value of the
    /// wrong type, with this overlay's origin; `base` is not changed.
    pub fn apply<T: Serialize + DeserializeOwned>(&self, base: &T) -> Result<T, ConfigError> {
        let mut merged = toml::Table::try_from(base).map_err(|e| ConfigError::Serialize(e.to_string()))?;
        merge(&mut merged, self.table.clone());
        serde_path_to_error::deserialize(toml::Value::Table(merged)).map_err(|e| {
            let key = e.path().to_string();
            ConfigError::Key {
                origin: self.origin.clone(),
                line: self.text.as_deref().and_then(|t| line_of(t, e.path())),
                key,
                message: e.into_inner().message().to_string(),
            }
        })
    }
}

/// `defaults` with every overlay applied in order ([`Overlay::apply`]).
pub fn resolve<T: Serialize + DeserializeOwned>(
    defaults: &T,
    overlays: &[Overlay],
) -> Result<T, ConfigError> {
    let empty = Overlay::from_table(toml::Table::new(), "the defaults");
    let (first, rest) = overlays.split_first().unwrap_or((&empty, &[]));
    let mut cfg = first.apply(defaults)?;
    for o in rest {
        cfg = o.apply(&cfg)?;
    }
    Ok(cfg)
}

/// Overlays `over` on `base`: tables merge key by key, other values replace.
fn merge(base: &mut toml::Table, over: toml::Table) {
    for (k, v) in over {
        match (base.get_mut(&k), v) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            (_, v) => {
                base.insert(k, v);
            }
        }
    }
}

/// The 1-based line, in `text`, of the deepest key (or array element) of `path` it contains.
fn line_of(text: &str, path: &serde_path_to_error::Path) -> Option<usize> {
    use serde_path_to_error::Segment;
    let doc = toml_edit::ImDocument::parse(text).ok()?;
    let mut item: &toml_edit::Item = doc.as_item();
    let mut span = None;
    for seg in path.iter() {
        match seg {
            Segment::Map { key } => {
                let (k, v) = item.as_table_like()?.get_key_value(key)?;
                span = k.span().or(span);
                item = v;
            }
            Segment::Seq { index } => {
                if let Some(v) = item.as_array().and_then(|a| a.get(*index)) {
                    span = v.span().or(span);
                    return span.map(|s| text[..s.start].matches('\n').count() + 1);
                }
                let t = item.as_array_of_tables()?.get(*index)?;
                span = t.span().or(span);
                // Tables of an array of tables are items only through the parent.
                return span.map(|s| text[..s.start].matches('\n').count() + 1);
            }
            _ => break,
        }
    }
    span.map(|s| text[..s.start].matches('\n').count() + 1)
}

/// One `key=value` override, e.g. `rl.lr=0.01`: a dotted key path and a TOML value (a value
/// that is not valid TOML, such as `maxpo`, is taken as a string).
#[derive(Debug, Clone, PartialEq)]
pub struct Assignment {
    text: String,
    key: Vec<String>,
    value: toml::Value,
}

impl Assignment {
    /// The dotted key path, split.
    pub fn key(&self) -> &[String] {
        &self.key
    }

    /// The value.
    pub fn value(&self) -> &toml::Value {
        &self.value
    }

    /// The one-key overlay, named by the override's text in errors.
    pub fn overlay(&self) -> Overlay {
        // The key path has at least one name (checked by `from_str`).
        let mut value = self.value.clone();
        for k in self.key[1..].iter().rev() {
            value = toml::Value::Table(toml::Table::from_iter([(k.clone(), value)]));
        }
        let table = toml::Table::from_iter([(self.key[0].clone(), value)]);
        Overlay::from_table(table, format!("`{}`", self.text))
    }
}

impl FromStr for Assignment {
    type Err = ConfigError;

    fn from_str(s: &str) -> Result<Assignment, ConfigError> {
        let bad = |reason: &str| ConfigError::Assignment { text: s.to_string(), reason: reason.to_string() };
        let (key, raw) = s.split_once('=').ok_or_else(|| bad("expected `key=value`, e.g. `rl.lr=0.01`"))?;
        let key: Vec<String> = key.trim().split('.').map(str::to_string).collect();
        if key
            .iter()
            .any(|k| k.is_empty() || !k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'))
        {
            return Err(bad("the key must be dotted names of letters, digits, `_` and `-`, e.g. `rl.lr`"));
        }
        let raw = raw.trim();
        // `v = <raw>` parsed as a one-key table: a TOML value, or else the text as a string.
        let value = match format!("v = {raw}").parse::<toml::Table>() {
            Ok(mut t) if t.len() == 1 => t.remove("v").unwrap_or_else(|| toml::Value::String(raw.into())),
            _ => toml::Value::String(raw.to_string()),
        };
        Ok(Assignment { text: s.to_string(), key, value })
    }
}

impl fmt::Display for Assignment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Rl {
        lr: f64,
        steps: usize,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        warmup: Option<usize>,
    }

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Cfg {
        name: String,
        lrs: Vec<f64>,
        rl: Rl,
        tasks: BTreeMap<String, usize>,
    }

    fn defaults() -> Cfg {
        Cfg {
            name: "small".into(),
            lrs: vec![0.1, 1.0],
            rl: Rl { lr: 1e-3, steps: 100, warmup: None },
            tasks: BTreeMap::from([("add".into(), 3)]),
        }
    }

    fn apply(text: &str) -> Result<Cfg, ConfigError> {
        Overlay::parse(text, "f.toml")?.apply(&defaults())
    }

    #[test]
    fn an_overlay_changes_only_its_keys() {
        assert_eq!(apply("").unwrap(), defaults());
        assert_eq!(resolve(&defaults(), &[]).unwrap(), defaults());
        let c = apply("[rl]\nsteps = 5\nwarmup = 2\n").unwrap();
        assert_eq!(c.rl, Rl { lr: 1e-3, steps: 5, warmup: Some(2) });
        assert_eq!((c.name, c.lrs), ("small".to_string(), vec![0.1, 1.0]));
        // Arrays are replaced, maps merged key by key; dotted keys and inline tables alike.
        let c = apply("lrs = [3.0]\ntasks.mul = 1\n").unwrap();
        assert_eq!(c.lrs, vec![3.0]);
        assert_eq!(c.tasks, BTreeMap::from([("add".into(), 3), ("mul".into(), 1)]));
        assert_eq!(apply("rl = { lr = 0.5 }").unwrap().rl.lr, 0.5);
    }

    #[test]
    fn later_overlays_win_and_the_resolved_config_reproduces_itself() {
        let a = Overlay::parse("name = \"a\"\n[rl]\nsteps = 1\n", "preset a").unwrap();
        let b = Overlay::parse("[rl]\nsteps = 2\n", "b.toml").unwrap();
        let c = resolve(&defaults(), &[a, b]).unwrap();
        assert_eq!((c.name.as_str(), c.rl.steps), ("a", 2));
        let again =
            resolve(&defaults(), &[Overlay::parse(&toml::to_string(&c).unwrap(), "x").unwrap()]).unwrap();
        assert_eq!(again, c);
    }

    #[test]
    fn unknown_keys_name_origin_line_and_path() {
        let e = apply("name = \"x\"\n\n[rl]\nstepz = 3\n").unwrap_err().to_string();
        assert!(e.starts_with("f.toml, line 4: rl.stepz: unknown field `stepz`, expected one of"), "{e}");
        let e = apply("foo = 1").unwrap_err().to_string();
        assert!(e.starts_with("f.toml, line 1: foo: unknown field `foo`"), "{e}");
        let e = apply("rl = { lr = 0.5, x = 1 }").unwrap_err().to_string();
        assert!(e.starts_with("f.toml, line 1: rl.x: unknown field `x`"), "{e}");
    }

    #[test]
    fn wrong_types_name_path_and_value() {
        let e = apply("[rl]\nlr = \"abc\"\n").unwrap_err();
        assert_eq!(e.to_string(), "f.toml, line 2: rl.lr: invalid type: string \"abc\", expected f64");
        assert!(matches!(e, ConfigError::Key { ref key, line: Some(2), .. } if key == "rl.lr"));
        let e = apply("lrs = [1.0,\n  \"x\"]\n").unwrap_err().to_string();
        assert_eq!(e, "f.toml, line 2: lrs[1]: invalid type: string \"x\", expected f64");
        let e = apply("rl = 3").unwrap_err().to_string();
        assert!(e.starts_with("f.toml, line 1: rl: invalid type: integer `3`, expected struct Rl"), "{e}");
        let e = apply("[rl]\nsteps = -1\n").unwrap_err().to_string();
        assert_eq!(e, "f.toml, line 2: rl.steps: invalid value: integer `-1`, expected usize");
    }

    #[test]
    fn syntax_and_read_errors_name_the_origin() {
        let e = apply("[rl\n").unwrap_err().to_string();
        assert!(e.starts_with("f.toml is not valid TOML: TOML parse error at line 1"), "{e}");
        let e = Overlay::read(Path::new("/no/such/file.toml")).unwrap_err().to_string();
        assert!(e.starts_with("could not read config file /no/such/file.toml: "), "{e}");
    }

    #[test]
    fn assignments() {
        let a: Assignment = " rl.lr = 0.01 ".parse().unwrap();
        assert_eq!(
            (a.key(), a.value()),
            (&["rl".to_string(), "lr".to_string()][..], &toml::Value::Float(0.01))
        );
        let c = resolve(&defaults(), &[a.overlay(), "name=tiny".parse::<Assignment>().unwrap().overlay()])
            .unwrap();
        assert_eq!((c.rl.lr, c.name.as_str()), (0.01, "tiny"));
        let c = "lrs=[1e-2, 2.0]".parse::<Assignment>().unwrap().overlay().apply(&defaults()).unwrap();
        assert_eq!(c.lrs, vec![0.01, 2.0]);
        // Not a single TOML value: a string, so the type error shows it.
        let s: Assignment = "name=1\nfoo = 2".parse().unwrap();
        assert_eq!(s.value(), &toml::Value::String("1\nfoo = 2".into()));
        let e = "rl.steps=abc".parse::<Assignment>().unwrap().overlay().apply(&defaults()).unwrap_err();
        assert_eq!(e.to_string(), "`rl.steps=abc`: rl.steps: invalid type: string \"abc\", expected usize");
        let e = "rl.nope=1".parse::<Assignment>().unwrap().overlay().apply(&defaults()).unwrap_err();
        assert!(e.to_string().starts_with("`rl.nope=1`: rl.nope: unknown field `nope`"), "{e}");
        for bad in ["rl.lr", "=1", "rl..lr=1", "rl lr=1"] {
            let e = bad.parse::<Assignment>().unwrap_err().to_string();
            assert!(e.starts_with(&format!("override `{bad}`: ")), "{e}");
        }
        assert_eq!(a.to_string(), " rl.lr = 0.01 ");
    }

    #[test]
    fn range_helpers_name_key_and_value() {
        assert_eq!(
            at_least("a.b", 1, 2).unwrap_err().to_string(),
            "config key `a.b` = 1: must be at least 2"
        );
        assert!(at_least("a.b", 2, 2).is_ok());
        assert_eq!(
            positive("lr", 0.0).unwrap_err().to_string(),
            "config key `lr` = 0: must be finite and > 0"
        );
        assert!(positive("lr", f64::NAN).is_err() && positive("lr", 1e-9).is_ok());
    }
}
