//! MaxPO the way the paper computes it, in O(N^2): EI for every sample, then for every i the
//! Leave-Two-Out baseline `L2O_i = (1/(N-1)) sum_{j != i} EI_j(B \ i)` by an O(N) pass over the
//! sorted pool without i. The baseline of `maxk bench`; the fast kernel is [`crate::Workspace`]'s.

use crate::binom::fill_ratio_table;

/// MaxPO advantages `EI_i - L2O_i` of one group (`2 <= K <= N - 1`, finite rewards), O(N^2).
pub fn maxpo(rewards: &[f64], k: usize) -> Vec<f64> {
    let n = rewards.len();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| rewards[a].total_cmp(&rewards[b]));
    let s: Vec<f64> = order.iter().map(|&i| rewards[i]).collect();
    // EI over the full pool: c_l = C(l, K-2)/C(N-1, K-1), EI_a = sum_{l<a} c_l (s_a - s_l).
    let mut c_full = vec![0.0; n];
    fill_ratio_table(&mut c_full, k - 1); // C(m, K-1)/C(N-1, K-1) = W_m
    let mut c_pool = vec![0.0; n - 1];
    fill_ratio_table(&mut c_pool, k - 1); // W'_m over a pool of N-1
    let ei =
        |s: &[f64], w: &[f64], a: usize| -> f64 { (1..=a).map(|b| (s[b] - s[b - 1]) * w[b]).sum::<f64>() };
    let mut out = vec![0.0; n];
    let mut pool = Vec::with_capacity(n - 1);
    for a in 0..n {
        pool.clear();
        pool.extend(s.iter().enumerate().filter(|&(j, _)| j != a).map(|(_, &x)| x));
        // Sum of EI_j over the pool, EI_j by the running gap recurrence.
        let (mut running, mut total) = (0.0, 0.0);
        for j in 1..pool.len() {
            running += (pool[j] - pool[j - 1]) * c_pool[j];
            total += running;
        }
        out[order[a]] = ei(&s, &c_full, a) - total / (n - 1) as f64;
    }
    out
}
