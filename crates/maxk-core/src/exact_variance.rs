//! Exact gradient variance for binary rewards in a single-state bandit, by summing over the
//! number of successes (the formula behind the experiments' variance map and `maxk plan`).
//!
//! ## Setting
//! A softmax policy pi over A actions whose correct actions (reward 1) have total probability
//! p (the success fraction). Write `pi+` (`pi-`) for pi restricted to the correct (wrong)
//! actions and renormalised, `s+ = ||pi+||^2`, `s- = ||pi-||^2`; then `pi = p pi+ + (1-p) pi-`
//! and `pi+ . pi- = 0` (disjoint supports).
//!
//! ## Sum over the number of successes
//! A batch of N i.i.d. actions has `c ~ Binomial(N, p)` successes. Every estimator in maxk is
//! a function of the reward multiset, so given c each success gets the same advantage `a1(c)`
//! and each failure `a0(c)` (read from maxk-core on a group of c ones and N - c zeros). With
//! `S = c a1 + (N-c) a0` the batch gradient `g = sum_i A_i (e_{a_i} - pi)` has
//!
//! - `E[g | c] = x_c pi+ + y_c pi-`, `x_c = c a1 - S p`, `y_c = (N-c) a0 - S (1-p)`;
//! - `E[||g||^2 | c] = x_c^2 s+ + y_c^2 s- + a1^2 c (1 - s+) + a0^2 (N-c) (1 - s-)` (the last
//!   two terms are the spread of the sampled actions inside each class);
//!
//! so `E g = X pi+ + Y pi-` with `X = E[x_c]`, `Y = E[y_c]` (and `x_c + y_c = 0`, so every
//! estimator's mean gradient is parallel to `pi+ - pi-`, hence to `grad J_K`: with binary
//! rewards and one state, estimators can differ in the size of their mean, never in its
//! direction) and
//! `tr Cov(g) = E[E[||g||^2 | c]] - X^2 s+ - Y^2 s-`. The true gradient is
//! `grad J_K = K p (1-p)^K (pi+ - pi-)` (`J_K = 1 - (1-p)^K`, `d p / d theta = p (1-p) (pi+ - pi-)`),
//! with `||grad J_K||^2 = (K p (1-p)^K)^2 (s+ + s-)`.

use crate::error::Result;
use crate::estimator::Spec;
use crate::group::Workspace;

/// The policy's shape as far as binary-reward variance is concerned.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TwoClass {
    /// Success fraction p: total probability of the correct actions, in (0, 1).
    pub p: f64,
    /// `||pi+||^2` (1 / number of correct actions when they are equally likely), in [0, 1];
    /// 0 is the limit of many distinct completions (language models, [`TwoClass::distinct`]).
    pub s_pos: f64,
    /// `||pi-||^2`, in [0, 1].
    pub s_neg: f64,
}

impl TwoClass {
    /// Success fraction `p` spread over ever more distinct actions (`s+ = s- = 0`): the limit of
    /// a language model, whose samples are almost never equal. `tr Cov(g)` is then
    /// `E[sum_i A_i^2]`: every sample has its own direction and nothing cancels.
    pub const fn distinct(p: f64) -> TwoClass {
        TwoClass { p, s_pos: 0.0, s_neg: 0.0 }
    }

    /// A actions, `m = clamp(round(p A), 1, A - 1)` of them correct, equally likely within each
    /// class: `s+ = 1/m`, `s- = 1/(A - m)`. `actions >= 2`, `0 < p < 1`.
    pub fn uniform(actions: usize, p: f64) -> TwoClass {
        let m = correct_actions(actions, p);
        TwoClass { p, s_pos: 1.0 / m as f64, s_neg: 1.0 / (actions - m) as f64 }
    }

    /// The action probabilities of [`TwoClass::uniform`] (correct actions first) and the
    /// rewards.
    pub fn uniform_policy(actions: usize, p: f64) -> (Vec<f64>, Vec<f64>) {
        let m = correct_actions(actions, p);
        let probs = (0..actions)
            .map(|a| if a < m { p / m as f64 } else { (1.0 - p) / (actions - m) as f64 })
            .collect();
        let rewards = (0..actions).map(|a| if a < m { 1.0 } else { 0.0 }).collect();
        (probs, rewards)
    }

    /// `||grad J_K||^2` (module docs).
    pub fn grad_sq(&self, k: usize) -> f64 {
        (k as f64 * self.p * (1.0 - self.p).powi(k as i32)).powi(2) * (self.s_pos + self.s_neg)
    }
}

fn correct_actions(actions: usize, p: f64) -> usize {
    ((p * actions as f64).round() as usize).clamp(1, actions.saturating_sub(1).max(1))
}

/// The exact first and second moments of one batch gradient.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Moments {
    /// `tr Cov(g)`.
    pub trace_cov: f64,
    /// `E g = mean_pos pi+ + mean_neg pi-`: the coefficient of `pi+`.
    pub mean_pos: f64,
    /// The coefficient of `pi-`.
    pub mean_neg: f64,
}

impl Moments {
    /// `tr Cov(g) / ||grad J_K||^2`, the relative variance of one batch.
    pub fn relative_variance(&self, policy: &TwoClass, k: usize) -> f64 {
        self.trace_cov / policy.grad_sq(k)
    }
}

/// `ln Binomial(n, p)` probabilities of 0..=n successes.
fn log_binomial(n: usize, p: f64) -> Vec<f64> {
    let (lp, lq) = (p.ln(), (1.0 - p).ln());
    let mut ln_choose = 0.0;
    (0..=n)
        .map(|c| {
            if c > 0 {
                ln_choose += ((n - c + 1) as f64 / c as f64).ln();
            }
            ln_choose + c as f64 * lp + (n - c) as f64 * lq
        })
        .collect()
}

/// The exact moments of `spec`'s batch gradient with groups of `n` (module docs). Returns
/// `Ok(None)` when `spec` does not give all successes one advantage and all failures another
/// (an estimator that breaks ties by position, such as `best-minus-second`); errors only when
/// maxk-core rejects `(n, spec)`.
pub fn moments(policy: &TwoClass, spec: Spec, n: usize) -> Result<Option<Moments>> {
    let TwoClass { p, s_pos, s_neg } = *policy;
    let mut ws = Workspace::new();
    let (mut r, mut adv) = (vec![0.0f64; n], vec![0.0f64; n]);
    let (mut x_mean, mut y_mean, mut second) = (0.0, 0.0, 0.0);
    for (c, lp) in log_binomial(n, p).into_iter().enumerate() {
        r.iter_mut().enumerate().for_each(|(i, v)| *v = if i < c { 1.0 } else { 0.0 });
        ws.advantages_into(&r, spec, &mut adv)?;
        let (a1, a0) = (adv.first().copied().unwrap_or(0.0), adv.last().copied().unwrap_or(0.0));
        let tol = 1e-12 * adv.iter().fold(1e-300f64, |m, v| m.max(v.abs()));
        if adv[..c].iter().any(|v| (v - a1).abs() > tol) || adv[c..].iter().any(|v| (v - a0).abs() > tol) {
            return Ok(None);
        }
        let (cf, nf) = (c as f64, (n - c) as f64);
        let s = cf * a1 + nf * a0;
        let (x, y) = (cf * a1 - s * p, nf * a0 - s * (1.0 - p));
        let w = lp.exp();
        x_mean += w * x;
        y_mean += w * y;
        second +=
            w * (x * x * s_pos + y * y * s_neg + a1 * a1 * cf * (1.0 - s_pos) + a0 * a0 * nf * (1.0 - s_neg));
    }
    let trace_cov = (second - x_mean * x_mean * s_pos - y_mean * y_mean * s_neg).max(0.0);
    Ok(Some(Moments { trace_cov, mean_pos: x_mean, mean_neg: y_mean }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::estimator::{Estimator, Scale};

    /// Mean and trace of the covariance of the batch gradient by enumerating all A^N batches.
    fn enumerate(probs: &[f64], rewards: &[f64], spec: Spec, n: usize) -> (Vec<f64>, f64) {
        let a = probs.len();
        let mut ws = Workspace::new();
        let (mut mean, mut sq) = (vec![0.0; a], 0.0);
        let mut idx = vec![0usize; n];
        let (mut r, mut adv) = (vec![0.0; n], vec![0.0; n]);
        for code in 0..a.pow(n as u32) {
            let mut c = code;
            for slot in idx.iter_mut() {
                *slot = c % a;
                c /= a;
            }
            let w: f64 = idx.iter().map(|&i| probs[i]).product();
            for (ri, &i) in r.iter_mut().zip(&idx) {
                *ri = rewards[i];
            }
            ws.advantages_into(&r, spec, &mut adv).unwrap();
            let s: f64 = adv.iter().sum();
            let mut g: Vec<f64> = probs.iter().map(|p| -s * p).collect();
            for (&i, x) in idx.iter().zip(&adv) {
                g[i] += x;
            }
            for (m, v) in mean.iter_mut().zip(&g) {
                *m += w * v;
            }
            sq += w * g.iter().map(|v| v * v).sum::<f64>();
        }
        let tr = sq - mean.iter().map(|v| v * v).sum::<f64>();
        (mean, tr)
    }

    #[test]
    fn matches_enumeration_of_every_batch() {
        // 4 actions (2 correct, unequal probabilities), N = 5: 1024 batches summed exactly.
        let probs = [0.1, 0.25, 0.4, 0.25];
        let rewards = [1.0, 1.0, 0.0, 0.0];
        let p = 0.35;
        let s_pos = (0.1f64 / p).powi(2) + (0.25f64 / p).powi(2);
        let s_neg = (0.4f64 / 0.65).powi(2) + (0.25f64 / 0.65).powi(2);
        let policy = TwoClass { p, s_pos, s_neg };
        for est in
            [Estimator::Maxpo, Estimator::Ei, Estimator::Pkpo, Estimator::Grpo, Estimator::PasskAnalytic]
        {
            for k in [1, 2, 4] {
                let spec = Spec::new(est, k).with_scale(Scale::Pg);
                let m = moments(&policy, spec, 5).unwrap().unwrap();
                let (mean, tr) = enumerate(&probs, &rewards, spec, 5);
                // Both are sums of 1024 / 6 O(1) products: rounding only.
                assert!(
                    (m.trace_cov - tr).abs() < 1e-12 * tr.max(1.0),
                    "{est} k={k}: {} vs {tr}",
                    m.trace_cov
                );
                for a in 0..4 {
                    let coef = if a < 2 { m.mean_pos / p } else { m.mean_neg / 0.65 };
                    assert!((coef * probs[a] - mean[a]).abs() < 1e-12, "{est} k={k} a={a}");
                }
            }
        }
    }

    #[test]
    fn unbiased_estimators_have_mean_grad_j_k() {
        let policy = TwoClass::uniform(50, 0.1);
        for k in [2, 4] {
            let scale = k as f64 * 0.1 * 0.9f64.powi(k as i32);
            for est in [Estimator::Maxpo, Estimator::Ei, Estimator::Pkpo, Estimator::PkpoLoo] {
                let m = moments(&policy, Spec::new(est, k).with_scale(Scale::Pg), 16).unwrap().unwrap();
                assert!(
                    (m.mean_pos - scale).abs() < 1e-12 && (m.mean_neg + scale).abs() < 1e-12,
                    "{est} k={k}"
                );
            }
        }
    }
}
