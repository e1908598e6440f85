//! Exact policy-gradient unbiasedness by enumeration (no Monte Carlo): for a softmax policy
//! over A actions with fixed rewards, enumerate every batch of N actions, compute
//! E[c * sum_i A_i grad log pi(a_i)] exactly and compare with the analytic gradient of the
//! objective. The unbiased estimators must match to rounding; GRPO (std-normalised),
//! best-minus-second and passk-analytic must visibly miss (docs/MATH.md, "Why it works").

// Comparing parallel arrays element by element reads clearest with an index.
#![allow(clippy::needless_range_loop)]

use maxk_core::{Estimator, Scale, Spec, advantages};

/// Softmax of logits.
pub(crate) fn softmax(theta: &[f64]) -> Vec<f64> {
    let m = theta.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let e: Vec<f64> = theta.iter().map(|t| (t - m).exp()).collect();
    let s: f64 = e.iter().sum();
    e.iter().map(|x| x / s).collect()
}

/// Exact gradient of J_K = E[max of K draws] wrt the logits. With actions in ascending reward
/// order and F_j the CDF, J_K = sum_j r_(j) (F_j^K - F_{j-1}^K); dJ/dp_m follows by the power
/// rule, and the softmax Jacobian diag(p) - p p^T maps it to the logits.
pub(crate) fn exact_gradient(theta: &[f64], r: &[f64], k: usize) -> Vec<f64> {
    let p = softmax(theta);
    let a = p.len();
    let mut order: Vec<usize> = (0..a).collect();
    order.sort_by(|&x, &y| r[x].total_cmp(&r[y]));
    let kf = k as i32;
    let mut dj_dp = vec![0.0; a];
    let mut cdf = vec![0.0; a + 1]; // cdf[j+1] = F_j
    for j in 0..a {
        cdf[j + 1] = cdf[j] + p[order[j]];
    }
    for j in 0..a {
        // d/dp_m of r_(j) (F_j^K - F_{j-1}^K): F_j contains p_m iff rank(m) <= j.
        let hi = k as f64 * cdf[j + 1].powi(kf - 1);
        let lo = if j > 0 { k as f64 * cdf[j].powi(kf - 1) } else { 0.0 };
        for (rank, &m) in order.iter().enumerate() {
            if rank <= j {
                dj_dp[m] += r[order[j]] * hi;
            }
            if j > 0 && rank < j {
                dj_dp[m] -= r[order[j]] * lo;
            }
        }
    }
    let pg: f64 = (0..a).map(|m| p[m] * dj_dp[m]).sum();
    (0..a).map(|b| p[b] * (dj_dp[b] - pg)).collect()
}

/// E[c sum_i A_i (e_{a_i} - p)] over all A^N batches.
fn expected_estimate(theta: &[f64], r: &[f64], n: usize, spec: Spec) -> Vec<f64> {
    expected_of(theta, r, n, |rewards| advantages(rewards, spec).unwrap())
}

/// E[sum_i A_i (e_{a_i} - p)] over all A^N batches, for any advantage function of a group.
fn expected_of(theta: &[f64], r: &[f64], n: usize, adv_of: impl Fn(&[f64]) -> Vec<f64>) -> Vec<f64> {
    expected_over_batches(&softmax(theta), n, |batch| {
        adv_of(&batch.iter().map(|&x| r[x]).collect::<Vec<f64>>())
    })
}

/// E[sum_i A_i (e_{a_i} - p)] over all A^N batches of actions drawn from `p`, `adv_of` giving
/// the advantages of a batch of actions (the score of a softmax policy is `e_{a_i} - p`).
pub(crate) fn expected_over_batches(p: &[f64], n: usize, adv_of: impl Fn(&[usize]) -> Vec<f64>) -> Vec<f64> {
    let a = p.len();
    let mut grad = vec![0.0; a];
    let mut batch = vec![0usize; n];
    loop {
        let prob: f64 = batch.iter().map(|&x| p[x]).product();
        let adv = adv_of(&batch);
        for (i, &act) in batch.iter().enumerate() {
            for b in 0..a {
                let score = if b == act { 1.0 - p[b] } else { -p[b] };
                grad[b] += prob * adv[i] * score;
            }
        }
        // next batch in lexicographic order
        let mut pos = 0;
        loop {
            if pos == n {
                return grad;
            }
            batch[pos] += 1;
            if batch[pos] < a {
                break;
            }
            batch[pos] = 0;
            pos += 1;
        }
    }
}

fn max_abs_diff(x: &[f64], y: &[f64]) -> f64 {
    x.iter().zip(y).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max)
}

fn norm(x: &[f64]) -> f64 {
    x.iter().map(|v| v * v).sum::<f64>().sqrt()
}

const THETA: [f64; 4] = [0.3, -0.5, 1.1, 0.0];
const CONTINUOUS: [f64; 4] = [0.2, 1.0, -0.4, 0.7];
const BINARY: [f64; 4] = [0.0, 1.0, 0.0, 0.0];

/// The sums run over A^N = 4^5 = 1024 batches with O(1) terms; 1e-12 absolute is many orders
/// above rounding and far below any bias (the biased estimators miss by > 1e-3).
const TOL: f64 = 1e-12;

#[test]
fn max_at_k_estimators_are_unbiased_for_grad_j_k() {
    let n = 5;
    for rewards in [CONTINUOUS, BINARY] {
        for k in 1..n {
            let truth = exact_gradient(&THETA, &rewards, k);
            // Every estimator the registry declares unbiased for grad J_K (pkpo, pkpo-loo,
            // pkpo-loo1, ei, maxpo, canonical): the test checks the registry's claim too.
            for est in Estimator::ALL.into_iter().filter(|e| e.uses_k() && e.is_unbiased()) {
                let got = expected_estimate(&THETA, &rewards, n, Spec::new(est, k).with_scale(Scale::Pg));
                assert!(
                    max_abs_diff(&got, &truth) < TOL,
                    "{est} k={k} rewards={rewards:?}: {got:?} vs exact {truth:?}"
                );
            }
        }
    }
}

#[test]
fn k_equal_n_estimators_are_unbiased() {
    let n = 4;
    let truth = exact_gradient(&THETA, &CONTINUOUS, n);
    for est in [Estimator::Pkpo, Estimator::PkpoLoo1, Estimator::Ei] {
        let got = expected_estimate(&THETA, &CONTINUOUS, n, Spec::new(est, n).with_scale(Scale::Pg));
        assert!(max_abs_diff(&got, &truth) < TOL, "{est} at K = N");
    }
}

#[test]
fn mean_reward_baselines_are_unbiased_for_grad_j_1() {
    let n = 5;
    let truth = exact_gradient(&THETA, &CONTINUOUS, 1);
    for est in [Estimator::Rloo, Estimator::DrGrpo] {
        let got = expected_estimate(&THETA, &CONTINUOUS, n, Spec::new(est, 3).with_scale(Scale::Pg));
        assert!(max_abs_diff(&got, &truth) < TOL, "{est}: {got:?} vs {truth:?}");
    }
}

#[test]
fn biased_estimators_are_visibly_biased() {
    let n = 5;
    // GRPO's division by the group std is a function of the sample itself: biased for J_1.
    let truth1 = exact_gradient(&THETA, &CONTINUOUS, 1);
    let grpo = expected_estimate(&THETA, &CONTINUOUS, n, Spec::new(Estimator::Grpo, 1).with_scale(Scale::Pg));
    assert!(max_abs_diff(&grpo, &truth1) > 1e-3 * norm(&truth1), "grpo unexpectedly unbiased");
    // best-minus-second is not unbiased for grad J_K at any fixed scale: it is not even parallel.
    let truth3 = exact_gradient(&THETA, &CONTINUOUS, 3);
    let bms = expected_estimate(&THETA, &CONTINUOUS, n, Spec::new(Estimator::BestMinusSecond, 3));
    let cos = bms.iter().zip(&truth3).map(|(a, b)| a * b).sum::<f64>() / (norm(&bms) * norm(&truth3));
    assert!(cos < 1.0 - 1e-6, "best-minus-second parallel to grad J_K (cos {cos})");
    // passk-analytic divides by a sample-dependent sigma.
    let truth_b = exact_gradient(&THETA, &BINARY, 2);
    let chen =
        expected_estimate(&THETA, &BINARY, n, Spec::new(Estimator::PasskAnalytic, 2).with_scale(Scale::Pg));
    assert!(max_abs_diff(&chen, &truth_b) > 1e-3 * norm(&truth_b), "passk-analytic unexpectedly unbiased");
}

#[test]
fn exact_gradient_matches_finite_differences() {
    // Guards the test's own oracle: central differences of J_K(theta) with h = 1e-5 have
    // truncation error O(h^2) ~ 1e-10 and rounding ~ 1e-16/h ~ 1e-11; tolerance 1e-8.
    let j = |theta: &[f64], k: usize| -> f64 {
        let p = softmax(theta);
        let mut order: Vec<usize> = (0..p.len()).collect();
        order.sort_by(|&x, &y| CONTINUOUS[x].total_cmp(&CONTINUOUS[y]));
        let mut f = 0.0;
        let mut total = 0.0;
        for &m in &order {
            let prev = f;
            f += p[m];
            total += CONTINUOUS[m] * (f.powi(k as i32) - f64::powi(prev, k as i32));
        }
        total
    };
    for k in 1..5 {
        let g = exact_gradient(&THETA, &CONTINUOUS, k);
        for b in 0..4 {
            let (mut up, mut down) = (THETA, THETA);
            up[b] += 1e-5;
            down[b] -= 1e-5;
            let fd = (j(&up, k) - j(&down, k)) / 2e-5;
            assert!((fd - g[b]).abs() < 1e-8, "k={k} b={b}: fd {fd} vs {}", g[b]);
        }
    }
}

/// Exact gradient wrt the logits of a function `f(p)` of the success probability
/// `p = sum_{b: r_b = 1} pi_b` (binary rewards): `f'(p) p_b (r_b - p)`.
fn gradient_of_success_fn(theta: &[f64], r: &[f64], df_dp: impl Fn(f64) -> f64) -> Vec<f64> {
    let pi = softmax(theta);
    let p: f64 = pi.iter().zip(r).map(|(a, b)| a * b).sum();
    pi.iter().zip(r).map(|(pb, rb)| df_dp(p) * pb * (rb - p)).collect()
}

/// MaxRL (arXiv 2602.02710): with the registry's factor 1/N, E[sum A_i grad log pi] equals
/// exactly grad sum_{k=1..=N-1} pass@k / k, the maximum-likelihood objective log p =
/// -sum_{k>=1} (1-p)^k/k truncated after N - 1 terms (derivative (1 - (1-p)^(N-1))/p).
/// Why N - 1 and not N: `A_i = N r_i/c - 1` has the unbiased `(1/c) sum_{correct} grad log pi`
/// term of the N-term objective, but setting every A to 0 when c = 0 drops the baseline's
/// `-sum_i grad log pi` exactly on the all-fail batches, which subtracts
/// `N (1-p)^(N-1) grad p`. It is biased for log p itself and, by a factor that depends on p,
/// for every pass@K = J_K, so the registry's `is_unbiased` (for grad J_K) is false.
#[test]
fn maxrl_is_unbiased_for_the_truncated_log_likelihood_only() {
    let binary: [f64; 4] = [0.0, 1.0, 0.0, 1.0];
    let thetas: [[f64; 4]; 2] = [THETA, [-1.0, -0.7, 0.4, -1.5]];
    for n in 1..=5 {
        for theta in &thetas {
            let got =
                expected_estimate(theta, &binary, n, Spec::new(Estimator::Maxrl, 1).with_scale(Scale::Pg));
            let truncated =
                gradient_of_success_fn(theta, &binary, |p| (1.0 - (1.0 - p).powi(n as i32 - 1)) / p);
            assert!(max_abs_diff(&got, &truncated) < TOL, "n={n}: {got:?} vs {truncated:?}");
            let log_p = gradient_of_success_fn(theta, &binary, |p| 1.0 / p);
            assert!(max_abs_diff(&got, &log_p) > 1e-4 * norm(&log_p), "n={n}: unbiased for log p?");
        }
    }
    // Not unbiased for grad J_K at any fixed scale: for binary rewards every grad J_K is
    // parallel to grad p, so compare the ratio |E| / |grad J_K| at two policies.
    let n = 4;
    for k in 1..=n {
        let ratio = |theta: &[f64]| {
            let got = expected_estimate(theta, &binary, n, Spec::new(Estimator::Maxrl, 1));
            let jk = gradient_of_success_fn(theta, &binary, |p| k as f64 * (1.0 - p).powi(k as i32 - 1));
            norm(&got) / norm(&jk)
        };
        let (a, b) = (ratio(&thetas[0]), ratio(&thetas[1]));
        assert!((a - b).abs() > 1e-3 * a, "k={k}: maxrl a fixed multiple of grad pass@k ({a} vs {b})");
    }
    assert!(!Estimator::Maxrl.is_unbiased() && Estimator::Maxrl.is_centered() && !Estimator::Maxrl.uses_k());
}

/// The small-group fallbacks at K = N for maxpo: `shrink-k` is maxpo at K = N - 1, unbiased for
/// grad J_{N-1}; `centered-ei` (EI minus its group mean) is centered but biased for grad J_N.
#[test]
fn k_equal_n_fallbacks() {
    use maxk_core::{SmallGroups, ragged_advantages_with};
    let n = 4;
    let fallback = |rule: SmallGroups| {
        move |rewards: &[f64]| {
            let mut out = vec![0.0; rewards.len()];
            let spec = Spec::new(Estimator::Maxpo, rewards.len()).with_scale(Scale::Pg);
            ragged_advantages_with(rewards, &[0, rewards.len()], spec, rule, &mut out).unwrap();
            out
        }
    };
    let shrunk = expected_of(&THETA, &CONTINUOUS, n, fallback(SmallGroups::ShrinkK));
    // maxpo at K' = N - 1 with its own pg factor K'/N: grad J_{K'}
    let truth = exact_gradient(&THETA, &CONTINUOUS, n - 1);
    assert!(max_abs_diff(&shrunk, &truth) < TOL, "{shrunk:?} vs {truth:?}");

    let centered = expected_of(&THETA, &CONTINUOUS, n, fallback(SmallGroups::CenteredEi));
    let truth_n = exact_gradient(&THETA, &CONTINUOUS, n);
    assert!(max_abs_diff(&centered, &truth_n) > 1e-3 * norm(&truth_n), "centered-ei unexpectedly unbiased");
    // the uncentered EI at K = N is unbiased (k_equal_n_estimators_are_unbiased); centering
    // keeps the direction close: cosine with the truth above 0.9 here
    let cos =
        centered.iter().zip(&truth_n).map(|(a, b)| a * b).sum::<f64>() / (norm(&centered) * norm(&truth_n));
    assert!(cos > 0.9, "cos {cos}");
}

/// `c` with `x = c y` (to 1e-9 relative), if there is one.
fn multiple_of(x: &[f64], y: &[f64]) -> Option<f64> {
    let c = x.iter().zip(y).map(|(a, b)| a * b).sum::<f64>() / y.iter().map(|b| b * b).sum::<f64>();
    (max_abs_diff(x, &y.iter().map(|b| c * b).collect::<Vec<_>>()) < 1e-9 * norm(x)).then_some(c)
}

/// The peers' registry flags, established by enumeration: `bon-mean` (PKPO s standardised per
/// group) and `rs-grpo` (beta = 2) are centered, and neither is unbiased: bon-mean's expected
/// gradient is no fixed multiple of grad J_K (not parallel, or a multiple that changes with
/// the policy), rs-grpo's is no fixed multiple of the gradient of its own risk-seeking
/// objective (1/beta) log E[e^{beta R}], of grad J_1, or of grad J_K.
#[test]
fn peers_are_centered_and_biased() {
    let n = 5;
    let thetas: [[f64; 4]; 2] = [THETA, [-1.0, -0.7, 0.4, -1.5]];
    for est in [Estimator::BonMean, Estimator::RsGrpo] {
        assert!(est.is_centered() && !est.is_unbiased());
        for rewards in [CONTINUOUS, BINARY] {
            let a = advantages(&rewards.iter().chain(&[0.3]).copied().collect::<Vec<_>>(), Spec::new(est, 2))
                .unwrap();
            assert!(a.iter().sum::<f64>().abs() < 1e-12, "{est} not centered: {a:?}");
        }
    }
    // A target is matched only if the expected gradient is the same multiple of it at both
    // policies.
    let fixed = |est: Estimator, k: usize, truth: &dyn Fn(&[f64]) -> Vec<f64>| -> bool {
        let m: Vec<Option<f64>> = thetas
            .iter()
            .map(|t| multiple_of(&expected_estimate(t, &CONTINUOUS, n, Spec::new(est, k)), &truth(t)))
            .collect();
        matches!((m[0], m[1]), (Some(a), Some(b)) if (a - b).abs() < 1e-6 * a.abs())
    };
    for k in 1..=n {
        assert!(
            !fixed(Estimator::BonMean, k, &|t| exact_gradient(t, &CONTINUOUS, k)),
            "bon-mean unbiased for J_{k}?"
        );
        assert!(
            !fixed(Estimator::RsGrpo, 1, &|t| exact_gradient(t, &CONTINUOUS, k)),
            "rs-grpo unbiased for J_{k}?"
        );
    }
    // grad (1/beta) log sum_a p_a e^{beta r_a} wrt the logits: p_b (e^{beta r_b} - Z) / (beta Z).
    let beta = maxk_core::RS_GRPO_BETA;
    let risk = |t: &[f64]| -> Vec<f64> {
        let p = softmax(t);
        let z: f64 = p.iter().zip(&CONTINUOUS).map(|(p, r)| p * (beta * r).exp()).sum();
        p.iter().zip(&CONTINUOUS).map(|(p, r)| p * ((beta * r).exp() - z) / (beta * z)).collect()
    };
    assert!(!fixed(Estimator::RsGrpo, 1, &risk), "rs-grpo unbiased for its risk-seeking objective?");
    // ... but it aims there: at the registry's factor 1/N the bias is a few percent.
    let got =
        expected_estimate(&THETA, &CONTINUOUS, n, Spec::new(Estimator::RsGrpo, 1).with_scale(Scale::Pg));
    let truth = risk(&THETA);
    let rel = max_abs_diff(&got, &truth) / norm(&truth);
    assert!(rel > 1e-3 && rel < 0.5, "rs-grpo relative bias {rel}");
}
