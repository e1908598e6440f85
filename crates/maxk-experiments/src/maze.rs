//! Experiment 4: the biased maze, trained by REINFORCE on group returns.
//!
//! ## Environment
//! A corridor of `depth` binary decisions with exactly one correct path. At depth d the
//! correct action is 0 at the *trap* depths and 1 elsewhere. The correct action moves one step
//! forward for +1 reward; reaching depth `depth` is the goal. A wrong action ends the episode;
//! at a trap depth it pays `bait` first (0 by default), making the wrong action locally
//! attractive. The return is the number of forward steps (plus any bait), at most `depth`.
//!
//! ## Policy and update
//! Tabular softmax: logits `theta[d] = (theta_0, theta_1)` per depth, initialised to
//! `(0, ln(p1 / (1 - p1)))` so that every depth starts biased towards action 1 (`init_p1`),
//! which is wrong exactly at the traps. Each update samples a group of N episodes, computes the
//! advantages of their returns with maxk-core (`Spec::new(est, K).with_scale(Scale::Pg)`) and
//! takes the REINFORCE step `theta += lr * sum_i A_i sum_t grad log pi(a_t | d_t)` with
//! `grad_theta[d] log pi(a | d) = e_a - pi(. | d)`.
//!
//! ## Exact metrics
//! `p_success = prod_d pi(correct_d | d)` and `pass@K = 1 - (1 - p_success)^K`, the chance that
//! at least one of K episodes reaches the goal.

use maxk_core::{Spec, Workspace};
use rand::Rng;

use crate::error::Result;

/// What one action does.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Step {
    /// Reward of the step.
    pub reward: f64,
    /// The next depth, `None` when the episode ended.
    pub next: Option<usize>,
    /// Whether this step reached the goal.
    pub goal: bool,
}

/// The biased maze (module docs).
#[derive(Debug, Clone, PartialEq)]
pub struct Maze {
    correct: Vec<u8>,
    bait: f64,
}

impl Maze {
    /// A maze of `depth` decisions whose correct action is 0 at `traps` (out-of-range trap
    /// depths are ignored) and 1 elsewhere; a wrong action at a trap pays `bait`.
    pub fn new(depth: usize, traps: &[usize], bait: f64) -> Maze {
        let mut correct = vec![1u8; depth];
        for &t in traps.iter().filter(|t| **t < depth) {
            correct[t] = 0;
        }
        Maze { correct, bait }
    }

    /// Number of decisions from start to goal.
    pub fn depth(&self) -> usize {
        self.correct.len()
    }

    /// The correct action at depth `d`.
    pub fn correct(&self, d: usize) -> u8 {
        self.correct[d]
    }

    /// Depths where the correct action is 0.
    pub fn traps(&self) -> Vec<usize> {
        (0..self.depth()).filter(|&d| self.correct[d] == 0).collect()
    }

    /// The transition from depth `d` (< depth) under `action` (0 or 1).
    pub fn step(&self, d: usize, action: u8) -> Step {
        if action == self.correct[d] {
            let goal = d + 1 == self.depth();
            Step { reward: 1.0, next: (!goal).then_some(d + 1), goal }
        } else {
            let reward = if self.correct[d] == 0 { self.bait } else { 0.0 };
            Step { reward, next: None, goal: false }
        }
    }
}

/// Tabular softmax policy over the two actions at each depth.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    logits: Vec<[f64; 2]>,
}

impl Policy {
    /// Every depth with `P(action 1) = p1` (`0 < p1 < 1`).
    pub fn biased(depth: usize, p1: f64) -> Policy {
        Policy { logits: vec![[0.0, (p1 / (1.0 - p1)).ln()]; depth] }
    }

    /// `pi(. | d)`.
    pub fn probs(&self, d: usize) -> [f64; 2] {
        let [a, b] = self.logits[d];
        let m = a.max(b);
        let (ea, eb) = ((a - m).exp(), (b - m).exp());
        [ea / (ea + eb), eb / (ea + eb)]
    }

    /// `P(action 1 | d)`.
    pub fn p1(&self, d: usize) -> f64 {
        self.probs(d)[1]
    }

    /// Exact probability that an episode reaches the goal: `prod_d pi(correct_d | d)`.
    pub fn success_prob(&self, maze: &Maze) -> f64 {
        (0..maze.depth()).map(|d| self.probs(d)[maze.correct(d) as usize]).product()
    }

    /// Exact pass@K of the policy: `1 - (1 - p_success)^K`.
    pub fn pass_at_k(&self, maze: &Maze, k: usize) -> f64 {
        1.0 - (1.0 - self.success_prob(maze)).powi(k as i32)
    }

    /// One episode from depth 0: its return, whether it reached the goal, and the visited
    /// (depth, action) pairs written into `trace`.
    pub fn rollout(&self, maze: &Maze, rng: &mut impl Rng, trace: &mut Vec<(usize, u8)>) -> (f64, bool) {
        trace.clear();
        let (mut ret, mut d) = (0.0, 0);
        loop {
            let a = u8::from(rng.r#gen::<f64>() < self.p1(d));
            trace.push((d, a));
            let s = maze.step(d, a);
            ret += s.reward;
            match s.next {
                Some(n) => d = n,
                None => return (ret, s.goal),
            }
        }
    }
}

/// Per-update record of one training run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Trace {
    /// Mean return of the update's group.
    pub mean_return: Vec<f64>,
    /// Fraction of the group that reached the goal.
    pub success_rate: Vec<f64>,
    /// Mean `P(action 1)` over the trap depths (over all depths when there is no trap),
    /// before the update.
    pub p1_traps: Vec<f64>,
    /// Exact pass@K of the policy before the update.
    pub pass_at_k: Vec<f64>,
    /// Exact pass@K after the last update.
    pub final_pass_at_k: f64,
    /// `P(action 1)` at each trap depth after the last update.
    pub final_p1: Vec<f64>,
}

/// Trains a fresh biased policy for `updates` steps with groups of `n` episodes and the
/// advantages of `spec` (K of `spec` is also the K of the recorded pass@K).
pub fn train(
    maze: &Maze,
    init_p1: f64,
    spec: Spec,
    n: usize,
    updates: usize,
    lr: f64,
    rng: &mut impl Rng,
) -> Result<Trace> {
    let mut policy = Policy::biased(maze.depth(), init_p1);
    let traps = maze.traps();
    let watched: Vec<usize> = if traps.is_empty() { (0..maze.depth()).collect() } else { traps };
    let mut ws = Workspace::new();
    let mut traces = vec![Vec::new(); n];
    let (mut returns, mut adv) = (vec![0.0; n], vec![0.0; n]);
    let mut grad = vec![[0.0; 2]; maze.depth()];
    let mut out = Trace::default();
    for _ in 0..updates {
        out.p1_traps.push(watched.iter().map(|&d| policy.p1(d)).sum::<f64>() / watched.len() as f64);
        out.pass_at_k.push(policy.pass_at_k(maze, spec.k));
        let mut successes = 0;
        for (r, t) in returns.iter_mut().zip(traces.iter_mut()) {
            let (ret, goal) = policy.rollout(maze, rng, t);
            *r = ret;
            successes += usize::from(goal);
        }
        out.mean_return.push(returns.iter().sum::<f64>() / n as f64);
        out.success_rate.push(successes as f64 / n as f64);
        ws.advantages_into(&returns, spec, &mut adv)?;
        grad.iter_mut().for_each(|g| *g = [0.0; 2]);
        for (t, &a_i) in traces.iter().zip(&adv) {
            for &(d, a) in t {
                let p = policy.probs(d);
                for (j, g) in grad[d].iter_mut().enumerate() {
                    *g += a_i * (f64::from(u8::from(j == a as usize)) - p[j]);
                }
            }
        }
        for (l, g) in policy.logits.iter_mut().zip(&grad) {
            l[0] += lr * g[0];
            l[1] += lr * g[1];
        }
    }
    out.final_pass_at_k = policy.pass_at_k(maze, spec.k);
    out.final_p1 = maze.traps().iter().map(|&d| policy.p1(d)).collect();
    Ok(out)
}

/// Trailing moving average over `window` values (shorter at the start).
pub fn moving_average(v: &[f64], window: usize) -> Vec<f64> {
    let w = window.max(1);
    let mut sum = 0.0;
    v.iter()
        .enumerate()
        .map(|(i, x)| {
            sum += x;
            if i >= w {
                sum -= v[i - w];
            }
            sum / (i + 1).min(w) as f64
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use maxk_core::{Estimator, Scale};
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    use super::*;

    #[test]
    fn transitions_and_returns() {
        let m = Maze::new(4, &[1, 3], 0.5);
        assert_eq!(m.traps(), vec![1, 3]);
        assert_eq!(m.step(0, 1), Step { reward: 1.0, next: Some(1), goal: false });
        assert_eq!(m.step(0, 0), Step { reward: 0.0, next: None, goal: false });
        assert_eq!(m.step(1, 1), Step { reward: 0.5, next: None, goal: false }); // bait
        assert_eq!(m.step(1, 0), Step { reward: 1.0, next: Some(2), goal: false });
        assert_eq!(m.step(3, 0), Step { reward: 1.0, next: None, goal: true });
        // A deterministic policy on the correct path earns `depth`.
        let mut p = Policy::biased(4, 0.5);
        for (d, l) in p.logits.iter_mut().enumerate() {
            *l = if m.correct(d) == 1 { [0.0, 50.0] } else { [50.0, 0.0] };
        }
        let mut trace = Vec::new();
        let (ret, goal) = p.rollout(&m, &mut ChaCha8Rng::seed_from_u64(0), &mut trace);
        assert_eq!((ret, goal), (4.0, true));
        assert_eq!(trace, vec![(0, 1), (1, 0), (2, 1), (3, 0)]);
        assert!((p.success_prob(&m) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn exact_success_probability_matches_monte_carlo() {
        let m = Maze::new(5, &[2], 0.0);
        let p = Policy::biased(5, 0.8);
        let exact = p.success_prob(&m);
        assert!((exact - 0.8f64.powi(4) * 0.2).abs() < 1e-15);
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut trace = Vec::new();
        let runs = 200_000;
        let hits = (0..runs).filter(|_| p.rollout(&m, &mut rng, &mut trace).1).count();
        let mc = hits as f64 / runs as f64;
        // 5 standard errors of a binomial proportion.
        let se = (exact * (1.0 - exact) / runs as f64).sqrt();
        assert!((mc - exact).abs() < 5.0 * se, "{mc} vs {exact}");
        let k = 4;
        assert!((p.pass_at_k(&m, k) - (1.0 - (1.0 - exact).powi(4))).abs() < 1e-15);
    }

    #[test]
    fn training_learns_the_traps() {
        let m = Maze::new(6, &[2, 4], 0.0);
        let spec = Spec::new(Estimator::Maxpo, 4).with_scale(Scale::Pg);
        let t = train(&m, 0.8, spec, 16, 300, 1.0, &mut ChaCha8Rng::seed_from_u64(2)).unwrap();
        assert!(t.pass_at_k[0] < 0.1);
        assert!(t.final_pass_at_k > 0.9, "final pass@4 {}", t.final_pass_at_k);
        assert!(t.p1_traps.last().unwrap() < &0.5);
    }

    #[test]
    fn moving_average_is_trailing() {
        assert_eq!(moving_average(&[1.0, 3.0, 5.0, 7.0], 2), vec![1.0, 2.0, 4.0, 6.0]);
    }
}
