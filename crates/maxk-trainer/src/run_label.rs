//! Typed run ids: what a model of a reproduction is ([`RunLabel`]: the base model, or RL with
//! an estimator, at one of several training K in a K sweep), written as the strings of the
//! tables, `passk.csv` and `results.json`: `base`, the estimator id (`maxpo`) or `<id>-K<k>`
//! (`maxpo-K4`). Parsed once, at the edge; past it no estimator is a string.

use std::fmt;
use std::str::FromStr;

use maxk_core::Estimator;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::TrainerError;

/// One model of a reproduction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RunLabel {
    /// The SFT base model (`base`).
    Base,
    /// RL with `estimator`; `k` is named in the label (`maxpo-K4`) when the study trains at
    /// several K (a `--k` list or the K sweep), and absent (`maxpo`) otherwise.
    Trained {
        /// The advantage estimator.
        estimator: Estimator,
        /// The training K, when the label names it.
        k: Option<usize>,
    },
}

impl RunLabel {
    /// The label of a run of `estimator` (no K in the label).
    pub const fn of(estimator: Estimator) -> Self {
        RunLabel::Trained { estimator, k: None }
    }

    /// The estimator of an RL run; None for the base model.
    pub const fn estimator(self) -> Option<Estimator> {
        match self {
            RunLabel::Base => None,
            RunLabel::Trained { estimator, .. } => Some(estimator),
        }
    }

    /// Whether this is the base model.
    pub const fn is_base(self) -> bool {
        matches!(self, RunLabel::Base)
    }
}

impl fmt::Display for RunLabel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunLabel::Base => f.write_str("base"),
            RunLabel::Trained { estimator, k: None } => f.write_str(estimator.id()),
            RunLabel::Trained { estimator, k: Some(k) } => write!(f, "{}-K{k}", estimator.id()),
        }
    }
}

impl FromStr for RunLabel {
    type Err = TrainerError;

    fn from_str(s: &str) -> Result<Self, TrainerError> {
        if s == "base" {
            return Ok(RunLabel::Base);
        }
        if let Ok(estimator) = s.parse() {
            return Ok(RunLabel::of(estimator));
        }
        let sweep = s.rsplit_once("-K").and_then(|(id, k)| {
            let k = k.parse().ok().filter(|_| k.bytes().all(|b| b.is_ascii_digit()))?;
            Some(RunLabel::Trained { estimator: id.parse().ok()?, k: Some(k) })
        });
        sweep.ok_or_else(|| TrainerError::UnknownRunLabel { label: s.into() })
    }
}

impl Serialize for RunLabel {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for RunLabel {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// Serde of an `Option<Estimator>` that names the base model: `"base"` for None, the estimator
/// id otherwise (the `estimator` field of `results.json` and of the tuning runs).
pub mod base_or_estimator {
    use maxk_core::Estimator;
    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes `"base"` or the id.
    pub fn serialize<S: Serializer>(e: &Option<Estimator>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(e.map_or("base", Estimator::id))
    }

    /// Reads `"base"` or an estimator id.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Estimator>, D::Error> {
        let text = String::deserialize(d)?;
        if text == "base" { Ok(None) } else { text.parse().map(Some).map_err(serde::de::Error::custom) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_round_trip_through_their_strings() {
        let cases = [
            ("base", RunLabel::Base),
            ("maxpo", RunLabel::of(Estimator::Maxpo)),
            ("pkpo-loo1", RunLabel::of(Estimator::PkpoLoo1)),
            ("maxpo-K4", RunLabel::Trained { estimator: Estimator::Maxpo, k: Some(4) }),
            (
                "best-minus-second-K16",
                RunLabel::Trained { estimator: Estimator::BestMinusSecond, k: Some(16) },
            ),
        ];
        for (text, label) in cases {
            assert_eq!(text.parse::<RunLabel>().unwrap(), label, "{text}");
            assert_eq!(label.to_string(), text);
            let json = serde_json::to_string(&label).unwrap();
            assert_eq!(json, format!("\"{text}\""));
            assert_eq!(serde_json::from_str::<RunLabel>(&json).unwrap(), label);
        }
        for every in Estimator::ALL {
            for label in [RunLabel::of(every), RunLabel::Trained { estimator: every, k: Some(8) }] {
                assert_eq!(label.to_string().parse::<RunLabel>().unwrap(), label);
            }
        }
    }

    #[test]
    fn bad_labels_are_errors_naming_the_label() {
        for bad in ["maxpoo", "maxpo-K", "maxpo-Kx", "maxpo-K+4", "nope-K4", "Base", ""] {
            let err = bad.parse::<RunLabel>().unwrap_err().to_string();
            assert_eq!(err, format!("run label {bad:?} is not base, an estimator id or <id>-K<k>"));
        }
    }

    #[test]
    fn the_base_model_is_none() {
        #[derive(Debug, PartialEq, Serialize, Deserialize)]
        struct Row {
            #[serde(with = "base_or_estimator")]
            estimator: Option<Estimator>,
        }
        for (text, e) in [("base", None), ("grpo", Some(Estimator::Grpo))] {
            let json = format!("{{\"estimator\":\"{text}\"}}");
            assert_eq!(serde_json::from_str::<Row>(&json).unwrap(), Row { estimator: e });
            assert_eq!(serde_json::to_string(&Row { estimator: e }).unwrap(), json);
        }
        assert!(
            serde_json::from_str::<Row>("{\"estimator\":\"maxpoo\"}")
                .unwrap_err()
                .to_string()
                .contains("maxpoo")
        );
    }
}
