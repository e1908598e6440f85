//! Five synthetic verifiable benchmarks of graded difficulty, one file each.
//!
//! Every task has a generator (a prompt and one reference answer from an RNG), an exact
//! verifier (reward 1 for a correct answer, 0 otherwise, including malformed text) and a fixed
//! held-out test set per seed. Prompts start with a task letter and end with `=`.
//!
//! | id | prompt | answer | valid answers |
//! |---|---|---|---|
//! | `add` | `a:478+56=` | `534` | one |
//! | `sort` | `s:52913=` | `12359` | one |
//! | `path` | `p:ab,bc,ad,dc>ac=` | `abc` | every path |
//! | `countdown` | `c:3,5,7>22=` | `3*5+7` | many |
//! | `mod` | `m:17*13%7=` | `4` | one |

mod add;
mod countdown;
mod modular;
mod path;
mod sort;

use std::collections::HashSet;
use std::fmt;
use std::str::FromStr;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::error::TrainerError;

/// One problem: the prompt text (ending in `=`) and one reference answer.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Problem {
    /// Which benchmark it belongs to.
    pub task: Task,
    /// Prompt text, e.g. `a:12+3=`.
    pub prompt: String,
    /// One correct answer (the SFT target).
    pub answer: String,
}

/// The benchmarks. The base model of the `small` preset finds `sort` easiest and `add` hardest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Task {
    /// Multi-digit addition with carries.
    Add,
    /// Sort a string of digits.
    Sort,
    /// A path between two nodes of a small directed graph.
    Path,
    /// Countdown: reach the target with the given numbers.
    Countdown,
    /// Modular arithmetic `a*b % p`.
    Mod,
}

impl Task {
    /// Every task, in report order.
    pub const ALL: [Task; 5] = [Task::Add, Task::Sort, Task::Path, Task::Countdown, Task::Mod];

    /// The string id (CLI, CSV, report).
    pub const fn id(self) -> &'static str {
        match self {
            Task::Add => "add",
            Task::Sort => "sort",
            Task::Path => "path",
            Task::Countdown => "countdown",
            Task::Mod => "mod",
        }
    }

    /// A fresh random problem.
    pub fn generate<R: Rng>(self, rng: &mut R) -> Problem {
        let (prompt, answer) = match self {
            Task::Add => add::generate(rng),
            Task::Sort => sort::generate(rng),
            Task::Path => path::generate(rng),
            Task::Countdown => countdown::generate(rng),
            Task::Mod => modular::generate(rng),
        };
        Problem { task: self, prompt, answer }
    }

    /// Reward of `completion` (the generated text after the prompt, EOS excluded) for
    /// `prompt`: 1.0 if it is a correct answer, else 0.0. Never panics on any text.
    pub fn verify(self, prompt: &str, completion: &str) -> f64 {
        let ok = match self {
            Task::Add => add::verify(prompt, completion),
            Task::Sort => sort::verify(prompt, completion),
            Task::Path => path::verify(prompt, completion),
            Task::Countdown => countdown::verify(prompt, completion),
            Task::Mod => modular::verify(prompt, completion),
        };
        if ok { 1.0 } else { 0.0 }
    }
}

impl fmt::Display for Task {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

impl FromStr for Task {
    type Err = TrainerError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Task::ALL
            .into_iter()
            .find(|t| t.id() == s)
            .ok_or_else(|| TrainerError::UnknownTask { name: s.into() })
    }
}

/// The verifier's reward of every completion of a grouped rollout: row `i` answers
/// `problems[i / group_size]`.
pub fn score(problems: &[Problem], completions: &[Vec<u32>], group_size: usize) -> Vec<f64> {
    completions
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let p = &problems[i / group_size];
            p.task.verify(&p.prompt, &crate::vocab::decode(c))
        })
        .collect()
}

/// The fixed held-out test set of `task`: `n` distinct problems drawn from a stream that depends
/// only on `seed` and the task, so every run with the same seed evaluates the same problems.
pub fn test_set(task: Task, n: usize, seed: u64) -> Vec<Problem> {
    disjoint_set(task, n, seed, &HashSet::new())
}

/// Like [`test_set`], but skipping every prompt of `exclude`: the validation set is the
/// `disjoint_set` of the validation seed that excludes the test prompts, so the two sets never
/// share a problem.
pub fn disjoint_set(task: Task, n: usize, seed: u64, exclude: &HashSet<String>) -> Vec<Problem> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x07e5_75e7 ^ ((task as u64 + 1) << 40));
    let mut seen = HashSet::new();
    let mut out = Vec::with_capacity(n);
    // Small problem spaces may have fewer than n distinct prompts; stop after enough tries.
    for _ in 0..n * 100 {
        if out.len() == n {
            break;
        }
        let p = task.generate(&mut rng);
        if !exclude.contains(&p.prompt) && seen.insert(p.prompt.clone()) {
            out.push(p);
        }
    }
    out
}

/// Draws training problems that are never in a held-out set.
#[derive(Debug, Clone)]
pub struct TrainSampler {
    tasks: Vec<Task>,
    held_out: HashSet<String>,
}

impl TrainSampler {
    /// A sampler over `tasks` that rejects every prompt of `held_out`.
    pub fn new(tasks: Vec<Task>, held_out: &[Problem]) -> Self {
        TrainSampler { tasks, held_out: held_out.iter().map(|p| p.prompt.clone()).collect() }
    }

    /// One problem of a uniformly chosen task.
    pub fn sample<R: Rng>(&self, rng: &mut R) -> Problem {
        loop {
            let task = self.tasks[rng.gen_range(0..self.tasks.len())];
            let p = task.generate(rng);
            if !self.held_out.contains(&p.prompt) {
                return p;
            }
        }
    }
}

/// The `(operands, target)` of a prompt `X:body>target=`-style or `X:body=` prompt: strips the
/// task letter prefix and the trailing `=`.
fn body<'a>(prompt: &'a str, letter: &str) -> Option<&'a str> {
    prompt.strip_prefix(letter)?.strip_prefix(':')?.strip_suffix('=')
}

/// A decimal number without sign or leading zeros (except `0` itself), at most 9 digits.
fn number(s: &str) -> Option<i64> {
    let ok = !s.is_empty()
        && s.len() <= 9
        && s.bytes().all(|b| b.is_ascii_digit())
        && (s == "0" || !s.starts_with('0'));
    if ok { s.parse().ok() } else { None }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_verify_and_junk_does_not() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for task in Task::ALL {
            for _ in 0..300 {
                let p = task.generate(&mut rng);
                assert_eq!(task.verify(&p.prompt, &p.answer), 1.0, "{p:?}");
                for junk in ["", "?", "=", "99999999999999", "a:1", ",,,", "+", "1+", "-1"] {
                    let _ = task.verify(&p.prompt, junk); // must not panic
                }
                assert_eq!(task.verify(&p.prompt, &format!("{}?", p.answer)), 0.0);
                crate::vocab::encode_prompt(&p.prompt).unwrap();
                crate::vocab::encode_answer(&p.answer).unwrap();
            }
        }
    }

    #[test]
    fn test_sets_are_fixed_distinct_and_excluded_from_training() {
        for task in Task::ALL {
            let a = test_set(task, 20, 7);
            assert_eq!(a, test_set(task, 20, 7));
            assert_ne!(a, test_set(task, 20, 8));
            let prompts: HashSet<_> = a.iter().map(|p| &p.prompt).collect();
            assert_eq!(prompts.len(), 20);
            let sampler = TrainSampler::new(vec![task], &a);
            let mut rng = ChaCha8Rng::seed_from_u64(3);
            for _ in 0..200 {
                assert!(!prompts.contains(&sampler.sample(&mut rng).prompt));
            }
        }
    }

    #[test]
    fn ids_round_trip() {
        for t in Task::ALL {
            assert_eq!(t.id().parse::<Task>().unwrap(), t);
        }
        assert!("nope".parse::<Task>().is_err());
    }
}
