//! The sort paths against each other and against a comparator sort, and bit-identity of the
//! u/v/w kernel across them.

use super::sort::{PAR_SORT_FROM, RADIX_CHUNK, RADIX_FROM, from_ordered_bits, ordered_bits, sort_key};
use super::{Unit, Workspace};
use crate::estimator::Estimator;
use proptest::prelude::*;

/// The sorted group as (reward, index) pairs.
fn sorted_pairs(ws: &Workspace) -> Vec<(u64, usize)> {
    ws.sorter
        .vals
        .iter()
        .enumerate()
        .map(|(b, v)| (v.to_bits(), (ws.sorter.packed[b] & ws.sorter.index_mask) as usize))
        .collect()
}

/// `Workspace::sort` against a comparator sort of the same rewards: the values must come
/// out in `total_cmp` order and the indices must point at them.
fn check_sorted(rewards: &[f64]) {
    let mut ws = Workspace::new();
    ws.sorter.sort(rewards);
    let mut expected = rewards.to_vec();
    expected.sort_by(f64::total_cmp);
    let got = sorted_pairs(&ws);
    assert_eq!(
        got.iter().map(|p| p.0).collect::<Vec<_>>(),
        expected.iter().map(|x| x.to_bits()).collect::<Vec<_>>()
    );
    let mut seen = vec![false; rewards.len()];
    for &(v, i) in &got {
        assert_eq!(v, rewards[i].to_bits(), "index {i} does not hold {}", f64::from_bits(v));
        assert!(!std::mem::replace(&mut seen[i], true), "index {i} twice");
    }
}

/// Rewards within a few ulps of each other defeat the packed keys' low bits: a few need
/// the insertion pass, a whole group of them the exact fallback; both must sort exactly.
#[test]
fn nearly_equal_rewards_sort_exactly() {
    let ulps = |base: f64, n: usize, stride: u64| -> Vec<f64> {
        // A fixed scramble (multiplication by an odd constant mod n is a bijection when n
        // is a power of two) so that the input is far from sorted.
        (0..n).map(|i| f64::from_bits(base.to_bits() + ((i * 37) % n) as u64 * stride)).collect()
    };
    check_sorted(&ulps(1.0, 64, 1));
    check_sorted(&ulps(-3.5, 64, 1));
    check_sorted(&ulps(0.25, 1024, 3));
    let mut mixed = ulps(1.0, 8, 1);
    mixed.extend([0.5, 2.0, -0.0, 0.0, 1.0, 7.25]);
    check_sorted(&mixed);
    // The parallel sort, on packed keys and (nearly equal rewards) on exact ones.
    check_sorted(&ulps(1.0, PAR_SORT_FROM * 2, 1));
    let spread: Vec<f64> =
        (0..PAR_SORT_FROM * 2).map(|i| ((i * 7919) % 10007) as f64 / 10007.0 - 0.5).collect();
    check_sorted(&spread);
    check_sorted(&[]);
    check_sorted(&[4.0]);
}

proptest! {
    /// Random groups (with ties and both zeros) sort exactly.
    #[test]
    fn workspace_sort_matches_a_comparator_sort(v in prop::collection::vec(prop_oneof![-4i8..4i8, any::<i8>()].prop_map(|x| f64::from(x) / 4.0), 0..300)) {
        check_sorted(&v);
    }
}

/// The group sorted by one path: 0 and 1 the packed keys by comparison and by radix sort
/// (`None` when the insertion pass gives up), 2 and 3 the exact keys serially and in
/// parallel.
fn sorted_by(rewards: &[f64], path: usize) -> Option<Workspace> {
    let mut ws = Workspace::new();
    match path {
        0 | 1 => ws.sorter.sort_packed(rewards, path == 1).then_some(ws),
        _ => {
            ws.sorter.sort_exact(rewards, path == 3);
            Some(ws)
        }
    }
}

/// Every sort path gives the same sorted group (equal rewards by index) and, through the
/// u/v/w kernel, bit for bit the same advantages, at every valid K up to `max_k`.
fn check_paths_agree(rewards: &[f64], max_k: usize) {
    let n = rewards.len();
    let reference = sorted_by(rewards, 2).expect("the exact sort always finishes");
    let family = [
        Estimator::Ei,
        Estimator::Pkpo,
        Estimator::PkpoLoo,
        Estimator::PkpoLoo1,
        Estimator::Maxpo,
        Estimator::Canonical,
    ];
    let advantages = |mut ws: Workspace, est: Estimator, k: usize| -> Vec<u64> {
        let unit = Unit::rescale_sorted(&mut ws.sorter.vals);
        let mut out = vec![0.0f64; n];
        ws.ranked(n, est, k, 1.0, unit.back, &mut out);
        out.iter().map(|a| a.to_bits()).collect()
    };
    for path in [0, 1, 3] {
        let Some(ws) = sorted_by(rewards, path) else { continue };
        assert_eq!(sorted_pairs(&ws), sorted_pairs(&reference), "path {path}");
        for est in family {
            for k in (1..=max_k.min(n)).filter(|&k| est.validate(n, k).is_ok()) {
                assert_eq!(
                    advantages(ws.clone(), est, k),
                    advantages(reference.clone(), est, k),
                    "path {path}, {est:?}, K = {k}"
                );
            }
        }
    }
}

/// Rewards with many ties, both zeros, and clusters a few ulps apart (which the packed
/// keys cannot tell apart, so the insertion pass has work to do).
fn tied_rewards() -> impl Strategy<Value = Vec<f64>> {
    let value = prop_oneof![
        (-3i8..3).prop_map(|x| f64::from(x) / 2.0),
        Just(-0.0),
        (0u64..8).prop_map(|u| f64::from_bits(0.75f64.to_bits() + u)),
        (-1e6f64..1e6),
    ];
    prop::collection::vec(value, 1..400)
}

proptest! {
    /// The radix path of large groups and the comparison path of small ones agree.
    #[test]
    fn sort_paths_agree_on_random_groups(rewards in tied_rewards(), k in 1usize..6) {
        check_paths_agree(&rewards, k);
    }
}

/// The same at a size where [`Workspace::sort`] picks the radix sort, with ties.
#[test]
fn sort_paths_agree_on_a_large_group() {
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(17);
    let n = RADIX_FROM + 123;
    let rewards: Vec<f64> = (0..n)
        .map(|_| {
            if rng.gen_bool(0.3) { f64::from(rng.gen_range(0..4u8)) } else { rng.r#gen::<f64>() * 8.0 - 4.0 }
        })
        .collect();
    check_paths_agree(&rewards, 3);
    let mut ws = Workspace::new();
    ws.sorter.sort(&rewards);
    assert_eq!(sorted_pairs(&ws), sorted_pairs(&sorted_by(&rewards, 2).unwrap()));
}

/// The radix path looks for ties chunk by chunk: a pair of rewards an ulp apart (the same
/// packed high bits, their indices in the wrong order) must be put right wherever it is.
#[test]
fn near_ties_across_a_chunk_edge_and_elsewhere_sort_exactly() {
    let n = 3 * RADIX_CHUNK + 5;
    assert!(n >= RADIX_FROM);
    let mut rewards: Vec<f64> = (0..n).map(|i| i as f64).collect();
    // Pairs across a chunk boundary, in the middle and near the end.
    for at in [RADIX_CHUNK, n / 2, n - 7] {
        let below = (at - 1) as f64;
        rewards[at - 1] = f64::from_bits(below.to_bits() + 1);
        rewards[at] = below;
    }
    check_sorted(&rewards);
    let mut ws = Workspace::new();
    ws.sorter.sort(&rewards);
    for at in [RADIX_CHUNK, n / 2, n - 7] {
        assert_eq!(ws.sorter.vals[at - 1], (at - 1) as f64, "{at}");
    }
}

fn edge_values() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<f64>().prop_filter("finite", |x| x.is_finite()),
        Just(0.0),
        Just(-0.0),
        Just(f64::MIN_POSITIVE),
        Just(-f64::MIN_POSITIVE),
        Just(f64::MAX),
        Just(f64::MIN),
        Just(5e-324),
        Just(-5e-324),
    ]
}

proptest! {
    /// The integer key orders exactly like `f64::total_cmp`, then by index.
    #[test]
    fn sort_key_orders_like_total_cmp(a in edge_values(), b in edge_values(), i in 0usize..1000, j in 0usize..1000) {
        let expected = a.total_cmp(&b).then(i.cmp(&j));
        prop_assert_eq!(sort_key(a, i).cmp(&sort_key(b, j)), expected);
        prop_assert_eq!(from_ordered_bits(ordered_bits(a)).to_bits(), a.to_bits());
    }
}

/// MaxPO by the two-pass form (the forward sums, then the backward sums in the output pass,
/// plain sums), by rank, for a sorted group of fewer than [`super::COMPENSATE_FROM`] rewards.
fn maxpo_two_pass(s: &[f64], k: usize) -> Vec<f64> {
    let n = s.len();
    let mut z = vec![0.0; n + 1];
    crate::binom::fill_ratio_table(&mut z, k);
    let (nf, kf) = (n as f64, k as f64);
    let mut fwd = vec![0.0; n];
    for r in 1..n {
        fwd[r] = fwd[r - 1] + (s[r] - s[r - 1]) * z[r];
    }
    let mut out = vec![0.0; n];
    let mut bwd = 0.0;
    out[n - 1] = nf / (nf - kf) * fwd[n - 1];
    for r in (0..n - 1).rev() {
        bwd += (s[r + 1] - s[r]) * (z[r + 1] * (n - r - 1) as f64 / (r + 1) as f64);
        out[r] = nf / (nf - kf) * (fwd[r] - bwd);
    }
    out
}

proptest! {
    /// The one-loop sums of small groups ([`super::kernel`]'s `both_sums`) add in the order of
    /// the two-pass form: the same bits.
    #[test]
    fn small_maxpo_matches_the_two_pass_form(rewards in tied_rewards(), k in 1usize..9) {
        let n = rewards.len();
        prop_assume!(k < n);
        let mut ws = Workspace::new();
        ws.sorter.sort(&rewards);
        let expect = maxpo_two_pass(&ws.sorter.vals, k);
        let at: Vec<usize> = (0..n).map(|b| (ws.sorter.packed[b] & ws.sorter.index_mask) as usize).collect();
        let mut out = vec![0.0f64; n];
        ws.ranked(n, Estimator::Maxpo, k, 1.0, 1.0, &mut out);
        for b in 0..n {
            prop_assert_eq!(out[at[b]].to_bits(), expect[b].to_bits(), "rank {}", b);
        }
    }
}

/// [`Workspace::reserve`] is only a hint: for any size it is given (right, too large, too
/// small, below the radix sort's, or refused by the estimator), and for a workspace whose
/// buffers still hold a larger group, every sorting estimator gives the bits of a fresh one.
#[test]
fn a_readied_or_reused_workspace_gives_the_same_bits() {
    use crate::estimator::Spec;
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
    let n = RADIX_FROM + 77;
    let mut draw = |n: usize| -> Vec<f64> {
        (0..n)
            .map(|_| if rng.gen_bool(0.2) { f64::from(rng.gen_range(0..3u8)) } else { rng.r#gen() })
            .collect()
    };
    let (rewards, larger) = (draw(n), draw(2 * n));
    for est in [
        Estimator::Maxpo,
        Estimator::Canonical,
        Estimator::Ei,
        Estimator::PkpoLoo1,
        Estimator::Pkpo,
        Estimator::PkpoLoo,
    ] {
        let spec = Spec::new(est, 5);
        let mut expect = vec![0.0; n];
        Workspace::new().advantages_into(&rewards, spec, &mut expect).unwrap();
        let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        for (hint, hint_spec) in
            [(n, spec), (n + 999, spec), (n - 50, spec), (RADIX_FROM - 1, spec), (n, Spec::new(est, 0))]
        {
            let mut ws = Workspace::new();
            ws.reserve(hint, hint_spec);
            let mut out = vec![0.0; n];
            ws.advantages_into(&rewards, spec, &mut out).unwrap();
            assert_eq!(bits(&out), bits(&expect), "{est} readied for {hint}");
        }
        let mut ws = Workspace::new();
        let mut big = vec![0.0; 2 * n];
        ws.advantages_into(&larger, spec, &mut big).unwrap();
        let mut out = vec![0.0; n];
        ws.advantages_into(&rewards, spec, &mut out).unwrap();
        assert_eq!(bits(&out), bits(&expect), "{est} after a larger group");
    }
}

/// Rewards for the block tests: ties and both zeros, spread values, and some near f64's
/// largest (rescaled by the kernel, checked for overflow, and a few that do overflow).
fn block_reward() -> impl Strategy<Value = f64> {
    prop_oneof![
        4 => (-8i8..8).prop_map(|x| f64::from(x) / 4.0),
        4 => -1e3f64..1e3,
        1 => prop_oneof![Just(0.0), Just(-0.0)],
        1 => prop_oneof![Just(f64::MAX), Just(-f64::MAX), Just(f64::MAX / 3.0), Just(1e300), Just(-1e280)],
    ]
}

/// Each group of a `[G, n]` batch alone, by [`Workspace::compute`]: bits or the error.
fn one_at_a_time<T: crate::float::Reward>(
    rewards: &[T],
    n: usize,
    spec: crate::estimator::Spec,
) -> Vec<Result<Vec<u64>, crate::error::Error>> {
    rewards
        .chunks(n)
        .map(|g| {
            let mut out = vec![T::from_f64(0.0); n];
            Workspace::new().compute(g, spec, &mut out)?;
            Ok(out.iter().map(|x| x.to_f64().to_bits()).collect())
        })
        .collect()
}

/// [`Workspace::compute_block`] on every full block of `rewards` (one workspace, reused), the
/// rest one at a time, in the form of [`one_at_a_time`].
fn by_blocks<T: crate::float::Reward>(
    rewards: &[T],
    n: usize,
    spec: crate::estimator::Spec,
) -> Vec<Result<Vec<u64>, crate::error::Error>> {
    use super::LANES;
    let mut ws = Workspace::new();
    let mut got = Vec::new();
    let blocks = rewards.chunks_exact(LANES * n);
    let rest = blocks.remainder();
    for block in blocks {
        let mut out = vec![T::from_f64(0.0); LANES * n];
        let failed = ws.compute_block(block, n, spec, &mut out).err();
        for (l, o) in out.chunks(n).enumerate() {
            got.push(match &failed {
                Some((lane, e)) if *lane == l => Err(e.clone()),
                _ => Ok(o.iter().map(|x| x.to_f64().to_bits()).collect()),
            });
        }
        // Groups after a failing lane are not compared (the block stops at its first error).
        if let Some((lane, _)) = failed {
            got.truncate(got.len() - (LANES - 1 - lane));
            return got;
        }
    }
    got.extend(one_at_a_time(rest, n, spec));
    got
}

proptest! {
    /// Four groups at a time ([`super::block`]) give the bits of one group at a time, for
    /// maxpo and canonical at every scale, in f64 and f32, on every group size the blocks
    /// take (the sorting network's 17..=64 and `sort_unstable`'s sizes below), with a
    /// reused workspace; a group whose advantages overflow gives the same error. The batch
    /// entry point gives the same bits on one thread and on several, or fails when a group
    /// does.
    #[test]
    fn blocks_give_the_bits_of_one_group_at_a_time(
        n in 2usize..=64,
        groups in 0usize..11,
        pool in prop::collection::vec(block_reward(), 64 * 11),
        k in any::<prop::sample::Index>(),
        canonical in any::<bool>(),
        scale in 0usize..3,
    ) {
        use crate::estimator::{Scale, Spec};
        let est = if canonical { Estimator::Canonical } else { Estimator::Maxpo };
        let spec = Spec { scale: Scale::ALL[scale], ..Spec::new(est, k.index(n - 1) + 1) };
        prop_assert!(super::takes_blocks(spec, n));
        let rewards = &pool[..groups * n];
        let narrow: Vec<f32> =
            rewards.iter().map(|&x| if (x as f32).is_finite() { x as f32 } else { f32::MAX.copysign(x as f32) }).collect();
        let want = one_at_a_time(rewards, n, spec);
        let got = by_blocks(rewards, n, spec);
        prop_assert_eq!(&got[..], &want[..got.len()]);
        let want32 = one_at_a_time(&narrow, n, spec);
        let got32 = by_blocks(&narrow, n, spec);
        prop_assert_eq!(&got32[..], &want32[..got32.len()]);
        let fails = want.iter().any(Result::is_err);
        for threads in [1, 2] {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            let mut out = vec![0.0; rewards.len()];
            let batch = pool.install(|| crate::batch_advantages_into(rewards, n, spec, &mut out));
            prop_assert_eq!(batch.is_err(), fails, "{} threads", threads);
            if !fails {
                let bits: Vec<u64> = out.iter().map(|x| x.to_bits()).collect();
                let want: Vec<u64> = want.iter().flat_map(|g| g.as_ref().unwrap().clone()).collect();
                prop_assert_eq!(bits, want, "{} threads", threads);
            }
        }
    }
}

/// A batch of many blocks (several chunks of the work queue of `Groups::run_blocks`, and groups
/// after the last full block) gives the bits of one group at a time on any number of threads.
#[test]
fn many_blocks_on_several_threads_give_the_bits_of_one_group_at_a_time() {
    use crate::estimator::Spec;
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
    for (n, groups) in [(64, 1001), (17, 515), (5, 258)] {
        let rewards: Vec<f64> = (0..n * groups)
            .map(|_| if rng.gen_bool(0.3) { f64::from(rng.gen_range(0..3u8)) } else { rng.r#gen() })
            .collect();
        let spec = Spec::new(Estimator::Maxpo, 3);
        let want: Vec<u64> = one_at_a_time(&rewards, n, spec).into_iter().flat_map(|g| g.unwrap()).collect();
        for threads in [1, 2, 3] {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            let mut out = vec![0.0; rewards.len()];
            pool.install(|| crate::batch_advantages_into(&rewards, n, spec, &mut out)).unwrap();
            let got: Vec<u64> = out.iter().map(|x| x.to_bits()).collect();
            assert_eq!(got, want, "n = {n}, {groups} groups, {threads} threads");
        }
    }
}
