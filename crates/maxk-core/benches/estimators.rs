//! Criterion benches: MaxPO O(N log N) against the paper's O(N^2) algorithm, and a [4096 x 64]
//! batch against plain sorting of the same groups (the floor for any sort-based estimator).
//! Run: `cargo bench -p maxk-core`; criterion prints each time, compare within a group.

// criterion_group!/criterion_main! generate undocumented public items.
#![allow(missing_docs)]

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use maxk_core::{Estimator, Spec, Workspace, batch_advantages_into, quadratic};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

fn rewards(len: usize) -> Vec<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    (0..len).map(|_| rng.r#gen::<f64>()).collect()
}

fn one_group(c: &mut Criterion) {
    let mut g = c.benchmark_group("maxpo_one_group_k8");
    for n in [64usize, 1024, 16384] {
        let r = rewards(n);
        let spec = Spec::new(Estimator::Maxpo, 8);
        let (mut ws, mut out) = (Workspace::new(), vec![0.0; n]);
        g.bench_with_input(BenchmarkId::new("maxk_nlogn", n), &r, |b, r| {
            b.iter(|| ws.advantages_into(black_box(r), spec, &mut out).unwrap())
        });
        if n <= 1024 {
            g.bench_with_input(BenchmarkId::new("paper_quadratic", n), &r, |b, r| {
                b.iter(|| quadratic::maxpo(black_box(r), 8))
            });
        }
    }
    g.finish();
}

fn batch(c: &mut Criterion) {
    let (groups, n) = (4096usize, 64usize);
    let r = rewards(groups * n);
    let mut out = vec![0.0; r.len()];
    let mut g = c.benchmark_group("batch_4096x64_k8");
    g.throughput(Throughput::Elements(groups as u64));
    g.bench_function("sort_baseline", |b| {
        b.iter(|| {
            out.copy_from_slice(&r);
            out.par_chunks_mut(n).with_min_len(16).for_each(|c| c.sort_unstable_by(f64::total_cmp));
        })
    });
    for est in [Estimator::Maxpo, Estimator::PkpoLoo1, Estimator::Grpo] {
        g.bench_function(est.id(), |b| {
            b.iter(|| batch_advantages_into(black_box(&r), n, Spec::new(est, 8), &mut out).unwrap())
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = one_group, batch
}
criterion_main!(benches);
