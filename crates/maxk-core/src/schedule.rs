//! K schedules: the training K of max@K as a function of the training step (PKPO, Walder &
//! Karkhanis 2025, arXiv 2505.15201, anneals K during training). The one implementation behind
//! the trainer's `[rl.k_schedule]` and the Python adapters' `maxk.schedule.KSchedule`:
//!
//! - `constant`: `K(s) = k`;
//! - `linear`: from `start` at step 0 to `end` at step `steps`, rounded half up, then held:
//!   `K(s) = start + floor(((end - start) * 2 * min(s, steps) + steps) / (2 * steps))`;
//! - `steps`: `milestones = [(0, k0), (s1, k1), ...]` (ascending, from step 0): the K of the last
//!   milestone at or before the step.
//!
//! The text form of command lines ([`FromStr`], [`Display`](fmt::Display)) is `"4"`,
//! `"linear:2:8:1000"` or `"steps:0=2,100=4"`. With the `serde` feature a schedule is the
//! mapping of the trainer's TOML config, tagged by `kind`:
//!
//! ```toml
//! [rl.k_schedule]
//! kind = "linear"
//! start = 2
//! end = 8
//! steps = 100
//! ```
//!
//! ```
//! use maxk_core::KSchedule;
//! let s = KSchedule::linear(2, 8, 4)?;
//! assert_eq!((0..6).map(|t| s.k_at(t)).collect::<Vec<_>>(), [2, 4, 5, 7, 8, 8]);
//! let s: KSchedule = "steps:0=2,10=4".parse()?;
//! assert_eq!((s.k_at(9), s.k_at(12)), (2, 4));
//! assert_eq!(s.to_string(), "steps:0=2,10=4");
//! # Ok::<(), maxk_core::Error>(())
//! ```

use std::fmt;
use std::str::FromStr;

use crate::{Error, Result};

/// K as a function of the training step; see the module docs.
///
/// The variants are public for pattern matching and deserialisation; build one with
/// [`KSchedule::constant`], [`KSchedule::linear`], [`KSchedule::steps`] or [`FromStr`] to have
/// it validated, or call [`KSchedule::validate`] (a deserialised schedule is not yet validated).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)
)]
pub enum KSchedule {
    /// The same K at every step.
    Constant {
        /// K (>= 1).
        k: usize,
    },
    /// Linear from `start` (step 0) to `end` (step `steps`), rounded half up, then held.
    Linear {
        /// K at step 0 (>= 1).
        start: usize,
        /// K from step `steps` on (>= 1).
        end: usize,
        /// Steps to go from `start` to `end` (>= 1).
        steps: usize,
    },
    /// A step list `[(0, k0), (s1, k1), ...]` with ascending steps starting at 0.
    Steps {
        /// `(first step, K)` pairs.
        milestones: Vec<(usize, usize)>,
    },
}

fn invalid(reason: String) -> Error {
    Error::InvalidKSchedule { reason }
}

impl KSchedule {
    /// The kinds, as the `kind` tag and the text form name them.
    pub const KINDS: [&'static str; 3] = ["constant", "linear", "steps"];

    /// `K(step) = k`, for `k >= 1`.
    pub fn constant(k: usize) -> Result<KSchedule> {
        KSchedule::Constant { k }.validated()
    }

    /// From `start` at step 0 to `end` at step `steps` (rounded half up), then `end`.
    pub fn linear(start: usize, end: usize, steps: usize) -> Result<KSchedule> {
        KSchedule::Linear { start, end, steps }.validated()
    }

    /// `[(0, k0), (s1, k1), ...]`: the K of the last milestone at or before the step.
    pub fn steps(milestones: Vec<(usize, usize)>) -> Result<KSchedule> {
        KSchedule::Steps { milestones }.validated()
    }

    fn validated(self) -> Result<KSchedule> {
        self.validate()?;
        Ok(self)
    }

    /// The kind: `constant`, `linear` or `steps` (one of [`KSchedule::KINDS`]).
    pub fn kind(&self) -> &'static str {
        match self {
            KSchedule::Constant { .. } => "constant",
            KSchedule::Linear { .. } => "linear",
            KSchedule::Steps { .. } => "steps",
        }
    }

    /// K at step `step`. Total even on an unvalidated schedule (`steps = 0` counts as 1, an
    /// empty step list gives 1), so it never panics.
    pub fn k_at(&self, step: usize) -> usize {
        match self {
            KSchedule::Constant { k } => *k,
            KSchedule::Linear { start, end, steps } => {
                // |end - start| * s / steps = q + r / steps, exact in u128 for any usize inputs;
                // rounding half up adds 1 upwards when r / steps >= 1/2, and subtracts 1
                // downwards only when r / steps > 1/2.
                let steps = (*steps).max(1);
                let moved = end.abs_diff(*start) as u128 * step.min(steps) as u128;
                let steps = steps as u128;
                let (q, r) = ((moved / steps) as usize, moved % steps);
                if end >= start {
                    start + q + usize::from(r >= steps - r)
                } else {
                    start - q - usize::from(r > steps - r)
                }
            }
            KSchedule::Steps { milestones } => milestones
                .iter()
                .take_while(|(at, _)| *at <= step)
                .last()
                .or(milestones.first())
                .map_or(1, |m| m.1),
        }
    }

    /// Every K the schedule can take (a linear schedule is monotone: its two ends), to check
    /// each against the group size before training.
    pub fn values(&self) -> Vec<usize> {
        match self {
            KSchedule::Constant { k } => vec![*k],
            KSchedule::Linear { start, end, .. } => vec![*start, *end],
            KSchedule::Steps { milestones } => milestones.iter().map(|m| m.1).collect(),
        }
    }

    /// Checks the shape of the schedule: every K >= 1, `steps >= 1`, milestones ascending from
    /// step 0. The error ([`Error::InvalidKSchedule`]) names the field and its value.
    pub fn validate(&self) -> Result<()> {
        let positive = |name: &str, value: usize| {
            if value == 0 { Err(invalid(format!("{name} = 0 must be >= 1"))) } else { Ok(()) }
        };
        match self {
            KSchedule::Constant { k } => positive("k", *k),
            KSchedule::Linear { start, end, steps } => {
                positive("start", *start)?;
                positive("end", *end)?;
                positive("steps", *steps)
            }
            KSchedule::Steps { milestones } => {
                if milestones.first().map(|m| m.0) != Some(0) {
                    return Err(invalid(format!("the step list must start at step 0, got {milestones:?}")));
                }
                if let Some(w) = milestones.windows(2).find(|w| w[1].0 <= w[0].0) {
                    return Err(invalid(format!(
                        "milestone steps must increase, got {} then {}",
                        w[0].0, w[1].0
                    )));
                }
                milestones.iter().try_for_each(|m| positive("milestone k", m.1))
            }
        }
    }
}

impl fmt::Display for KSchedule {
    /// The text form that [`FromStr`] reads: `4`, `linear:2:8:1000`, `steps:0=2,100=4`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KSchedule::Constant { k } => write!(f, "{k}"),
            KSchedule::Linear { start, end, steps } => write!(f, "linear:{start}:{end}:{steps}"),
            KSchedule::Steps { milestones } => {
                let parts: Vec<String> = milestones.iter().map(|(s, k)| format!("{s}={k}")).collect();
                write!(f, "steps:{}", parts.join(","))
            }
        }
    }
}

impl FromStr for KSchedule {
    type Err = Error;

    /// `K` (an integer), `linear:START:END:STEPS` or `steps:0=K0,STEP=K1,...`; validated.
    fn from_str(s: &str) -> Result<KSchedule> {
        let text = s.trim();
        let int = |name: &str, part: &str| {
            part.trim().parse::<usize>().map_err(|_| {
                invalid(format!("{name} must be a non-negative integer, got {part:?} in {text:?}"))
            })
        };
        let Some((kind, rest)) = text.split_once(':') else {
            return KSchedule::constant(int("k", text)?);
        };
        match kind.trim() {
            "linear" => match rest.split(':').collect::<Vec<_>>()[..] {
                [start, end, steps] => {
                    KSchedule::linear(int("start", start)?, int("end", end)?, int("steps", steps)?)
                }
                _ => Err(invalid(format!("{text:?}: expected linear:START:END:STEPS, e.g. linear:2:8:1000"))),
            },
            "steps" => {
                let pair = |p: &str| match p.split_once('=') {
                    Some((at, k)) => Ok((int("milestone step", at)?, int("milestone k", k)?)),
                    None => Err(invalid(format!(
                        "{text:?}: expected steps:0=K0,STEP=K1,..., e.g. steps:0=2,100=4"
                    ))),
                };
                KSchedule::steps(rest.split(',').map(pair).collect::<Result<_>>()?)
            }
            _ => Err(invalid(format!(
                "{text:?}: expected an integer, linear:START:END:STEPS or steps:0=K0,STEP=K1,..."
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::KSchedule;

    /// `floor(x + 1/2)` for `x = start + (end - start) * min(step, steps) / steps`, in floats,
    /// independently of [`KSchedule::k_at`]'s integer form.
    fn linear_reference(start: usize, end: usize, steps: usize, step: usize) -> usize {
        let s = step.min(steps) as f64;
        let x = start as f64 + (end as f64 - start as f64) * s / steps as f64;
        // Exact for the small values drawn below (every quantity < 2^30); a tie x = m + 1/2 is
        // exact in binary, so floor(x + 0.5) rounds it up.
        (x + 0.5).floor() as usize
    }

    #[test]
    fn linear_rounds_half_up_and_holds() {
        let up = KSchedule::linear(2, 8, 4).unwrap();
        assert_eq!((0..7).map(|t| up.k_at(t)).collect::<Vec<_>>(), [2, 4, 5, 7, 8, 8, 8]);
        let down = KSchedule::linear(8, 2, 4).unwrap();
        // 8 - 1.5 = 6.5 -> 7, 8 - 4.5 = 3.5 -> 4 (half up).
        assert_eq!((0..6).map(|t| down.k_at(t)).collect::<Vec<_>>(), [8, 7, 5, 4, 2, 2]);
        let long = KSchedule::linear(1, 64, 1000).unwrap();
        for t in 0..1200usize {
            assert_eq!(long.k_at(t), linear_reference(1, 64, 1000, t), "step {t}");
        }
    }

    #[test]
    fn step_list_takes_the_last_milestone_reached() {
        let s = KSchedule::steps(vec![(0, 2), (10, 4), (20, 8)]).unwrap();
        let got: Vec<usize> = [0, 9, 10, 19, 20, 1000].iter().map(|&t| s.k_at(t)).collect();
        assert_eq!(got, [2, 2, 4, 4, 8, 8]);
        assert_eq!(s.values(), [2, 4, 8]);
        assert_eq!(KSchedule::constant(3).unwrap().k_at(usize::MAX), 3);
    }

    #[test]
    fn unvalidated_schedules_never_panic() {
        assert_eq!(KSchedule::Linear { start: 1, end: 5, steps: 0 }.k_at(3), 5);
        assert_eq!(KSchedule::Steps { milestones: vec![] }.k_at(3), 1);
        assert_eq!(KSchedule::Steps { milestones: vec![(5, 3)] }.k_at(0), 3);
        let huge = KSchedule::Linear { start: usize::MAX, end: 1, steps: usize::MAX };
        assert_eq!((huge.k_at(0), huge.k_at(usize::MAX)), (usize::MAX, 1));
    }

    #[test]
    fn bad_schedules_name_the_field_and_value() {
        let cases: [(&str, &str); 9] = [
            ("0", "K schedule: k = 0 must be >= 1"),
            ("linear:0:2:3", "K schedule: start = 0 must be >= 1"),
            ("linear:1:2:0", "K schedule: steps = 0 must be >= 1"),
            ("steps:0=2,4=0", "K schedule: milestone k = 0 must be >= 1"),
            ("steps:1=2", "K schedule: the step list must start at step 0, got [(1, 2)]"),
            ("steps:0=2,5=3,5=4", "K schedule: milestone steps must increase, got 5 then 5"),
            (
                "linear:2:8",
                "K schedule: \"linear:2:8\": expected linear:START:END:STEPS, e.g. linear:2:8:1000",
            ),
            (
                "linear:a:8:10",
                "K schedule: start must be a non-negative integer, got \"a\" in \"linear:a:8:10\"",
            ),
            (
                "cosine:1:2",
                "K schedule: \"cosine:1:2\": expected an integer, linear:START:END:STEPS or steps:0=K0,STEP=K1,...",
            ),
        ];
        for (text, message) in cases {
            assert_eq!(text.parse::<KSchedule>().unwrap_err().to_string(), message, "{text}");
        }
        assert!("steps:0=2,5".parse::<KSchedule>().unwrap_err().to_string().contains("expected steps:0=K0"));
        assert!("-1".parse::<KSchedule>().is_err());
    }

    fn any_schedule() -> impl Strategy<Value = KSchedule> {
        prop_oneof![
            (1usize..100).prop_map(|k| KSchedule::Constant { k }),
            (1usize..100, 1usize..100, 1usize..2000).prop_map(|(start, end, steps)| KSchedule::Linear {
                start,
                end,
                steps
            }),
            prop::collection::vec((1usize..50, 1usize..100), 1..6).prop_map(|gaps| {
                let mut at = 0;
                let milestones = gaps
                    .iter()
                    .enumerate()
                    .map(|(i, &(gap, k))| {
                        at += if i == 0 { 0 } else { gap };
                        (at, k)
                    })
                    .collect();
                KSchedule::Steps { milestones }
            }),
        ]
    }

    proptest! {
        #[test]
        fn text_form_round_trips_and_k_at_matches_a_reference(s in any_schedule(), step in 0usize..3000) {
            prop_assert!(s.validate().is_ok());
            prop_assert_eq!(&s.to_string().parse::<KSchedule>().unwrap(), &s);
            let want = match &s {
                KSchedule::Constant { k } => *k,
                KSchedule::Linear { start, end, steps } => linear_reference(*start, *end, *steps, step),
                KSchedule::Steps { milestones } => milestones.iter().rev().find(|m| m.0 <= step).unwrap().1,
            };
            prop_assert_eq!(s.k_at(step), want);
        }
    }

    #[cfg(feature = "serde")]
    #[test]
    fn serde_form_is_the_tagged_mapping() {
        let l: KSchedule =
            serde_json::from_str(r#"{"kind": "linear", "start": 2, "end": 8, "steps": 100}"#).unwrap();
        assert_eq!(l, KSchedule::Linear { start: 2, end: 8, steps: 100 });
        let s: KSchedule =
            serde_json::from_str(r#"{"kind": "steps", "milestones": [[0, 2], [10, 4]]}"#).unwrap();
        assert_eq!(s, KSchedule::Steps { milestones: vec![(0, 2), (10, 4)] });
        assert_eq!(
            serde_json::to_string(&KSchedule::Constant { k: 4 }).unwrap(),
            r#"{"kind":"constant","k":4}"#
        );
        for s in [l, s] {
            assert_eq!(serde_json::from_str::<KSchedule>(&serde_json::to_string(&s).unwrap()).unwrap(), s);
        }
        assert!(serde_json::from_str::<KSchedule>(r#"{"kind": "cosine", "k": 2}"#).is_err());
        assert!(serde_json::from_str::<KSchedule>(r#"{"kind": "constant", "k": 2, "extra": 1}"#).is_err());
    }
}
