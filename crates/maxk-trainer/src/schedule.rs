//! K schedules: the training K of max@K as a function of the RL step (PKPO, arXiv 2505.15201,
//! anneals K during training). The same three kinds, with the same rounding, as the Python
//! adapters' `maxk.schedule.KSchedule`:
//!
//! - `constant`: `K(s) = k`;
//! - `linear`: from `start` at step 0 to `end` at step `steps`, rounded half up, then held:
//!   `K(s) = start + floor(((end - start) * 2 * min(s, steps) + steps) / (2 * steps))`;
//! - `steps`: `milestones = [[0, k0], [s1, k1], ...]` (ascending, from step 0): the K of the last
//!   milestone at or before the step.
//!
//! In the trainer's TOML config (`[rl.k_schedule]`; without it `rl.k` is used at every step):
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
//! use maxk_trainer::schedule::KSchedule;
//! let s = KSchedule::Linear { start: 2, end: 8, steps: 4 };
//! assert_eq!((0..6).map(|t| s.k_at(t)).collect::<Vec<_>>(), [2, 4, 5, 7, 8, 8]);
//! let s: KSchedule = toml::from_str("kind = \"steps\"\nmilestones = [[0, 2], [10, 4]]").unwrap();
//! assert_eq!(s.k_at(12), 4);
//! ```

use serde::{Deserialize, Serialize};

use crate::{Result, TrainerError};

/// K as a function of the training step; see the module docs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum KSchedule {
    /// The same K at every step.
    Constant {
        /// K.
        k: usize,
    },
    /// Linear from `start` (step 0) to `end` (step `steps`), rounded half up, then held.
    Linear {
        /// K at step 0.
        start: usize,
        /// K from step `steps` on.
        end: usize,
        /// Steps to go from `start` to `end` (>= 1).
        steps: usize,
    },
    /// A step list `[[0, k0], [s1, k1], ...]` with ascending steps starting at 0.
    Steps {
        /// `(first step, K)` pairs.
        milestones: Vec<(usize, usize)>,
    },
}

impl KSchedule {
    /// K at step `step` (of a validated schedule).
    pub fn k_at(&self, step: usize) -> usize {
        match self {
            KSchedule::Constant { k } => *k,
            KSchedule::Linear { start, end, steps } => {
                let (start, end, steps) = (*start as i128, *end as i128, (*steps).max(1) as i128);
                let s = (step as i128).min(steps);
                (start + ((end - start) * 2 * s + steps).div_euclid(2 * steps)) as usize
            }
            KSchedule::Steps { milestones } => milestones
                .iter()
                .take_while(|(at, _)| *at <= step)
                .last()
                .or(milestones.first())
                .map_or(1, |m| m.1),
        }
    }

    /// Every K the schedule can take (a linear schedule is monotone: its two ends).
    pub fn values(&self) -> Vec<usize> {
        match self {
            KSchedule::Constant { k } => vec![*k],
            KSchedule::Linear { start, end, .. } => vec![*start, *end],
            KSchedule::Steps { milestones } => milestones.iter().map(|m| m.1).collect(),
        }
    }

    /// Checks the shape of the schedule: K >= 1, `steps >= 1`, milestones ascending from 0.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(TrainerError::Config(format!("rl.k_schedule: {m}")));
        if let Some(k) = self.values().into_iter().find(|&k| k == 0) {
            return bad(format!("K = {k} must be >= 1"));
        }
        match self {
            KSchedule::Linear { steps: 0, .. } => bad("linear needs steps >= 1, got 0".into()),
            KSchedule::Steps { milestones } => {
                if milestones.first().map(|m| m.0) != Some(0) {
                    return bad(format!("the step list must start at step 0, got {milestones:?}"));
                }
                if let Some(w) = milestones.windows(2).find(|w| w[1].0 <= w[0].0) {
                    return bad(format!("milestone steps must increase, got {} then {}", w[0].0, w[1].0));
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

impl crate::config::RlConfig {
    /// The training K at step `step`: `k_schedule`'s, or `k` without one.
    pub fn k_at(&self, step: usize) -> usize {
        self.k_schedule.as_ref().map_or(self.k, |s| s.k_at(step))
    }

    /// Every training K the run can use (the schedule validated first), to check each against
    /// the group size before training.
    pub fn k_values(&self) -> Result<Vec<usize>> {
        match &self.k_schedule {
            None => Ok(vec![self.k]),
            Some(s) => {
                s.validate()?;
                Ok(s.values())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::KSchedule;

    #[test]
    fn linear_rounds_half_up_and_holds() {
        let up = KSchedule::Linear { start: 2, end: 8, steps: 4 };
        assert_eq!((0..7).map(|t| up.k_at(t)).collect::<Vec<_>>(), [2, 4, 5, 7, 8, 8, 8]);
        let down = KSchedule::Linear { start: 8, end: 2, steps: 4 };
        // 8 - 1.5 = 6.5 -> 7, 8 - 4.5 = 3.5 -> 4 (half up).
        assert_eq!((0..6).map(|t| down.k_at(t)).collect::<Vec<_>>(), [8, 7, 5, 4, 2, 2]);
        // Exact against a float reference over a long schedule.
        let long = KSchedule::Linear { start: 1, end: 64, steps: 1000 };
        for t in 0..1200usize {
            let want = (1.0 + 63.0 * (t.min(1000) as f64) / 1000.0 + 0.5).floor() as usize;
            assert_eq!(long.k_at(t), want, "step {t}");
        }
    }

    #[test]
    fn step_list_takes_the_last_milestone_reached() {
        let s = KSchedule::Steps { milestones: vec![(0, 2), (10, 4), (20, 8)] };
        let got: Vec<usize> = [0, 9, 10, 19, 20, 1000].iter().map(|&t| s.k_at(t)).collect();
        assert_eq!(got, [2, 2, 4, 4, 8, 8]);
    }

    #[test]
    fn toml_forms_and_errors() {
        let c: KSchedule = toml::from_str("kind = \"constant\"\nk = 4").unwrap();
        assert_eq!(c, KSchedule::Constant { k: 4 });
        let l: KSchedule = toml::from_str("kind = \"linear\"\nstart = 2\nend = 8\nsteps = 100").unwrap();
        assert_eq!(toml::from_str::<KSchedule>(&toml::to_string(&l).unwrap()).unwrap(), l);
        assert!(toml::from_str::<KSchedule>("kind = \"cosine\"\nk = 2").is_err());
        assert!(toml::from_str::<KSchedule>("kind = \"constant\"\nk = 2\nextra = 1").is_err());
        let err = KSchedule::Steps { milestones: vec![(1, 2)] }.validate().unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid config: rl.k_schedule: the step list must start at step 0, got [(1, 2)]"
        );
        let err = KSchedule::Steps { milestones: vec![(0, 2), (5, 3), (5, 4)] }.validate().unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid config: rl.k_schedule: milestone steps must increase, got 5 then 5"
        );
        let err = KSchedule::Linear { start: 0, end: 2, steps: 3 }.validate().unwrap_err();
        assert_eq!(err.to_string(), "invalid config: rl.k_schedule: K = 0 must be >= 1");
        assert!(KSchedule::Linear { start: 1, end: 2, steps: 0 }.validate().is_err());
    }
}
