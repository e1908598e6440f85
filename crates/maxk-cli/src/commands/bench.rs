//! `maxk bench`: speed of the O(N log N) estimators against the paper's O(N^2) algorithm,
//! against sorting the same groups (the floor of any sort-based estimator), and of one huge
//! group end to end through the CLI against the trivial dr-grpo. Every ratio is against a
//! baseline measured in the same run, on the same data, from interleaved repetitions: each
//! table gives the median and the range (min, max) of the per-repetition ratios.

use std::hint::black_box;
use std::io::{self, Write};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use maxk_core::{Estimator, Spec};

use crate::staged::Staged;
use rayon::prelude::*;

/// Arguments of `maxk bench`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Shorter measurements (about 0.1 s per figure instead of 1 s, fewer repetitions):
    /// noisier, for smoke tests.
    #[arg(long)]
    pub quick: bool,
    /// K used throughout (the huge group and the mixture use K = 64).
    #[arg(short = 'k', long, default_value_t = 8)]
    pub k: usize,
    /// Size of the one huge group run through `maxk advantages` (a process per run).
    #[arg(long, default_value_t = 1_000_000)]
    pub huge_n: usize,
    /// Only these sections, comma-separated (default: all).
    #[arg(long, value_enum, value_delimiter = ',')]
    pub only: Vec<Section>,
}

/// A table of `maxk bench`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Section {
    /// One group: the O(N log N) kernel against the paper's O(N^2) Leave-Two-Out.
    OneGroup,
    /// A [4096, 64] batch against sorting its rows, on one thread and on all.
    Batch,
    /// [G, N] shapes from [1, 10^6] to [125000, 8] against sorting their rows.
    Shapes,
    /// Mixtures of K and maj@K against single-K MaxPO.
    Objectives,
    /// One huge group through `maxk advantages`, maxpo against dr-grpo.
    Huge,
}

/// Median seconds per call of `f`, over 5 samples each lasting about `budget / 5`.
fn seconds_per_call(budget: Duration, mut f: impl FnMut()) -> f64 {
    f();
    let start = Instant::now();
    f();
    let one = start.elapsed().as_secs_f64().max(1e-9);
    let reps = ((budget.as_secs_f64() / 5.0 / one).ceil() as usize).max(1);
    let mut samples: Vec<f64> = (0..5)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..reps {
                f();
            }
            t.elapsed().as_secs_f64() / reps as f64
        })
        .collect();
    samples.sort_by(f64::total_cmp);
    samples[2]
}

/// SplitMix64 (Steele, Lea and Flood 2014): uniform rewards in [0, 1) for timing, with no
/// random-number crate in the light build.
struct SplitMix(u64);

impl SplitMix {
    fn next_f64(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        (z ^ (z >> 31)) as f64 / 2f64.powi(64)
    }
}

fn rewards(rng: &mut SplitMix, len: usize) -> Vec<f64> {
    (0..len).map(|_| rng.next_f64()).collect()
}

fn human(seconds: f64) -> String {
    match seconds {
        s if s < 1e-3 => format!("{:.1} us", s * 1e6),
        s if s < 1.0 => format!("{:.2} ms", s * 1e3),
        s => format!("{s:.2} s"),
    }
}

/// Runs the benchmark and prints its tables.
pub fn run(args: Args) -> Result<()> {
    let mut out = io::stdout().lock();
    let mut rng = SplitMix(0);
    let on = |s: Section| args.only.is_empty() || args.only.contains(&s);
    // Every group below has at least 64 rewards: a K that fits them all is checked once here,
    // so the timed calls cannot fail.
    Estimator::Maxpo.validate(64, args.k).context("-k must suit the benchmark's smallest group (N = 64)")?;
    writeln!(out, "maxk bench: MaxPO, K = {}, {} rayon threads", args.k, rayon::current_num_threads())?;
    if on(Section::OneGroup) {
        writeln!(out)?;
        one_group(&mut out, &mut rng, &args)?;
    }
    if on(Section::Batch) {
        writeln!(out)?;
        batch(&mut out, &mut rng, &args)?;
    }
    if on(Section::Shapes) {
        writeln!(out)?;
        shapes(&mut out, &mut rng, &args)?;
    }
    if on(Section::Objectives) {
        writeln!(out)?;
        objectives(&mut out, &mut rng, &args)?;
    }
    if on(Section::Huge) {
        writeln!(out)?;
        huge_group(&mut out, &mut rng, &args)?;
    }
    Ok(())
}

/// MaxPO on one group against the paper's O(N^2) algorithm.
fn one_group(out: &mut dyn Write, rng: &mut SplitMix, args: &Args) -> Result<()> {
    let budget = Duration::from_millis(if args.quick { 100 } else { 1000 });
    let spec = Spec::new(Estimator::Maxpo, args.k);
    writeln!(out, "One group: O(N log N) kernel vs the paper's O(N^2) Leave-Two-Out")?;
    writeln!(out, "{:>7}  {:>12}  {:>12}  {:>9}", "N", "maxk", "quadratic", "speed-up")?;
    for n in [64usize, 1024, 16384] {
        let r = rewards(rng, n);
        let mut ws = maxk_core::Workspace::new();
        let mut adv = vec![0.0; n];
        let fast = seconds_per_call(budget, || {
            black_box(ws.advantages_into(black_box(&r), spec, &mut adv).is_ok());
        });
        let slow = seconds_per_call(budget, || {
            black_box(maxk_core::quadratic::maxpo(black_box(&r), args.k));
        });
        writeln!(out, "{n:>7}  {:>12}  {:>12}  {:>8.1}x", human(fast), human(slow), slow / fast)?;
    }
    Ok(())
}

/// Bits of `x` that order like `f64::total_cmp` (as the core's sort keys).
fn ordered_bits(x: f64) -> u64 {
    let bits = x.to_bits();
    if bits >> 63 == 1 { !bits } else { bits | (1 << 63) }
}

/// The sorting floor of a `[G, n]` batch: every row's values sorted (no permutation), as
/// integer keys that order like the floats, rows in parallel, by maxk's fastest sort for the
/// row length ([`maxk_core::sort_keys`]: the vectorised network (AVX-512 or AVX2, picked at run
/// time) that MaxPO itself uses for rows of 17 to 64, about numpy's vectorised `np.sort`, which `benches/python/bench_advantages.py`
/// measures against maxk directly).
fn sort_rows(batch: &[f64], n: usize, scratch: &mut [u64]) {
    scratch.par_chunks_mut(n).zip(batch.par_chunks(n)).with_min_len(16).for_each(|(s, r)| {
        for (k, &x) in s.iter_mut().zip(r) {
            *k = ordered_bits(x);
        }
        maxk_core::sort_keys(s);
    });
}

/// Seconds per call of every function in `fs`, in `reps` rounds: each round times each
/// function once in turn, over an inner loop calibrated to about `target` per sample (so
/// that load on the machine hits every function alike). `times[f][round]`.
fn rounds(reps: usize, target: Duration, fs: &mut [&mut dyn FnMut()]) -> Vec<Vec<f64>> {
    let inner: Vec<usize> = fs
        .iter_mut()
        .map(|f| {
            f();
            let t = Instant::now();
            f();
            let one = t.elapsed().as_secs_f64().max(1e-9);
            ((target.as_secs_f64() / one).ceil() as usize).max(1)
        })
        .collect();
    let mut times = vec![Vec::with_capacity(reps); fs.len()];
    for _ in 0..reps {
        for ((f, &m), t) in fs.iter_mut().zip(&inner).zip(times.iter_mut()) {
            let start = Instant::now();
            for _ in 0..m {
                f();
            }
            t.push(start.elapsed().as_secs_f64() / m as f64);
        }
    }
    times
}

/// The per-round ratios `a / b`.
fn ratios(a: &[f64], b: &[f64]) -> Vec<f64> {
    a.iter().zip(b).map(|(x, y)| x / y).collect()
}

/// `median [min, max]` of ratios.
fn ratio_text(mut r: Vec<f64>) -> String {
    let (m, lo, hi) = spread(&mut r);
    format!("{m:.2}x [{lo:.2}, {hi:.2}]")
}

/// The [4096, 64] batch, f64 and f32, on one thread and on all, against sorting its rows
/// (and against the comparator sort of earlier versions of this table).
fn batch(out: &mut dyn Write, rng: &mut SplitMix, args: &Args) -> Result<()> {
    let (g, n) = (4096usize, 64usize);
    let reps = if args.quick { 5 } else { 15 };
    let target = Duration::from_millis(if args.quick { 10 } else { 40 });
    let spec = Spec::new(Estimator::Maxpo, args.k);
    let batch = rewards(rng, g * n);
    let batch32: Vec<f32> = batch.iter().map(|&x| x as f32).collect();
    let (mut adv, mut adv32) = (vec![0.0; g * n], vec![0.0f32; g * n]);
    let (mut keys, mut scratch) = (vec![0u64; g * n], vec![0.0; g * n]);
    let single =
        rayon::ThreadPoolBuilder::new().num_threads(1).build().context("cannot start a 1-thread pool")?;
    writeln!(
        out,
        "Batch [{g} x {n}], K = {}: maxk vs sorting the rows, {reps} interleaved reps; ratios vs the \
         key sort of the same thread count: median [min, max]",
        args.k
    )?;
    writeln!(out, "{:>32}  {:>8}  {:>10}  {:>10}  {:>22}", "", "threads", "time", "groups/s", "vs sort")?;
    let all = rayon::current_num_threads();
    for (threads, pool) in [(1, Some(&single)), (all, None)] {
        let mut measure = || {
            rounds(
                reps,
                target,
                &mut [
                    &mut || sort_rows(black_box(&batch), n, &mut keys),
                    &mut || {
                        scratch.copy_from_slice(&batch);
                        scratch
                            .par_chunks_mut(n)
                            .with_min_len(16)
                            .for_each(|c| c.sort_unstable_by(f64::total_cmp));
                    },
                    &mut || {
                        black_box(
                            maxk_core::batch_advantages_into(black_box(&batch), n, spec, &mut adv).is_ok(),
                        );
                    },
                    &mut || {
                        black_box(
                            maxk_core::batch_advantages_into(black_box(&batch32), n, spec, &mut adv32)
                                .is_ok(),
                        );
                    },
                ],
            )
        };
        let times = match pool {
            Some(p) => p.install(measure),
            None => measure(),
        };
        let names = [
            "key sort, values only (baseline)",
            "copy + sort_unstable_by(total_cmp)",
            "maxk maxpo f64",
            "maxk maxpo f32",
        ];
        for (name, t) in names.iter().zip(&times) {
            let mut sorted = t.clone();
            let (m, _, _) = spread(&mut sorted);
            writeln!(
                out,
                "{name:>32}  {threads:>8}  {:>10}  {:>10.0}  {:>22}",
                human(m),
                g as f64 / m,
                ratio_text(ratios(t, &times[0]))
            )?;
        }
    }
    Ok(())
}

/// MaxPO on `[G, N]` batches of about 10^6 rewards, from one group of 10^6 to 125000 groups of
/// 8, on all threads, against sorting the rows (values only) of the same batch.
fn shapes(out: &mut dyn Write, rng: &mut SplitMix, args: &Args) -> Result<()> {
    let reps = if args.quick { 3 } else { 9 };
    let target = Duration::from_millis(if args.quick { 20 } else { 60 });
    writeln!(
        out,
        "[G, N] shapes of about 10^6 rewards, all threads, {reps} interleaved reps: maxpo (K = min({}, N - 1)) \
         vs the key sort of the same rows (ratio median [min, max])",
        args.k
    )?;
    writeln!(
        out,
        "{:>8}  {:>8}  {:>14}  {:>14}  {:>22}",
        "G", "N", "sort ns/sample", "maxk ns/sample", "maxk / sort"
    )?;
    for n in [1_000_000usize, 100_000, 10_000, 1000, 100, 64, 16, 8] {
        let g = 1_000_000 / n;
        let spec = Spec::new(Estimator::Maxpo, args.k.min(n - 1));
        let batch = rewards(rng, g * n);
        let (mut adv, mut keys) = (vec![0.0; g * n], vec![0u64; g * n]);
        let times = rounds(
            reps,
            target,
            &mut [&mut || sort_rows(black_box(&batch), n, &mut keys), &mut || {
                black_box(maxk_core::batch_advantages_into(black_box(&batch), n, spec, &mut adv).is_ok());
            }],
        );
        let per = |t: &[f64]| {
            let mut t = t.to_vec();
            spread(&mut t).0 / (g * n) as f64 * 1e9
        };
        writeln!(
            out,
            "{g:>8}  {n:>8}  {:>14.1}  {:>14.1}  {:>22}",
            per(&times[0]),
            per(&times[1]),
            ratio_text(ratios(&times[1], &times[0]))
        )?;
    }
    Ok(())
}

/// Times `a` and `b` alternately, `reps` times each (one call per sample after a warm-up of
/// each): the samples of both and the per-rep ratios `a / b`.
fn interleaved(reps: usize, mut a: impl FnMut(), mut b: impl FnMut()) -> [Vec<f64>; 3] {
    a();
    b();
    let time = |f: &mut dyn FnMut()| {
        let t = Instant::now();
        f();
        t.elapsed().as_secs_f64()
    };
    let (mut ta, mut tb, mut ratio) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..reps {
        let (x, y) = (time(&mut a), time(&mut b));
        ta.push(x);
        tb.push(y);
        ratio.push(x / y);
    }
    [ta, tb, ratio]
}

/// Median, min and max.
fn spread(v: &mut [f64]) -> (f64, f64, f64) {
    v.sort_by(f64::total_cmp);
    (v[v.len() / 2], v[0], v[v.len() - 1])
}

/// Mixtures of K against single-K MaxPO on one huge group, and maj@K (all N leave-one-out
/// advantages) against MaxPO on a group of the same size.
fn objectives(out: &mut dyn Write, rng: &mut SplitMix, args: &Args) -> Result<()> {
    let reps = if args.quick { 5 } else { 11 };
    let n = args.huge_n.max(1024);
    let r = rewards(rng, n);
    let mix = maxk_core::Mixture::new(&[(1, 1.0), (8, 0.5), (64, 0.25), (512, 0.125)])?;
    let single = Spec::new(Estimator::Maxpo, 64);
    writeln!(
        out,
        "Mixture of 4 K (1:1,8:0.5,64:0.25,512:0.125) vs single-K maxpo (K = 64), one group of N = {n}, \
         {reps} interleaved reps (fresh buffers per call)"
    )?;
    let [mut tm, mut ts, mut ratio] = interleaved(
        reps,
        || {
            black_box(maxk_core::mixture_advantages(black_box(&r), &mix).is_ok());
        },
        || {
            black_box(maxk_core::advantages(black_box(&r), single).is_ok());
        },
    );
    let (m, s, q) = (spread(&mut tm), spread(&mut ts), spread(&mut ratio));
    writeln!(out, "{:>18}  {:>12}  {:>12}  {:>12}", "", "median", "min", "max")?;
    writeln!(out, "{:>18}  {:>12}  {:>12}  {:>12}", "maxpo (baseline)", human(s.0), human(s.1), human(s.2))?;
    writeln!(out, "{:>18}  {:>12}  {:>12}  {:>12}", "mixture", human(m.0), human(m.1), human(m.2))?;
    writeln!(out, "{:>18}  {:>11.2}x  {:>11.2}x  {:>11.2}x", "mixture / maxpo", q.0, q.1, q.2)?;
    writeln!(out)?;
    let (k, clusters) = (64usize, 50u64);
    writeln!(
        out,
        "maj@{k}, {clusters} answer clusters, all N advantages (one thread) vs maxpo at K = {k} on the same N, \
         {reps} interleaved reps"
    )?;
    writeln!(
        out,
        "{:>7}  {:>12}  {:>12}  {:>12}  {:>12}  {:>10}",
        "N", "maj median", "maj min", "maj max", "maxpo", "maj/maxpo"
    )?;
    for n in [256usize, 1024] {
        // Cluster sizes skewed like real votes: answer j drawn with weight 1/(j+1).
        let weights: Vec<f64> = (0..clusters).map(|j| 1.0 / (j + 1) as f64).collect();
        let total: f64 = weights.iter().sum();
        let answers: Vec<u64> = (0..n)
            .map(|_| {
                let mut x = rng.next_f64() * total;
                (0..clusters)
                    .find(|&j| {
                        x -= weights[j as usize];
                        x < 0.0
                    })
                    .unwrap_or(clusters - 1)
            })
            .collect();
        let correct: Vec<bool> = answers.iter().map(|&a| a % 3 == 1).collect();
        let r: Vec<f64> = correct.iter().map(|&c| f64::from(u8::from(c))).collect();
        let spec = maxk_core::MajSpec::new(k);
        let [mut tm, mut ts, mut ratio] = interleaved(
            reps,
            || {
                black_box(maxk_core::maj_advantages(black_box(&answers), &correct, spec).is_ok());
            },
            || {
                black_box(maxk_core::advantages(black_box(&r), Spec::new(Estimator::Maxpo, k)).is_ok());
            },
        );
        let (m, s, q) = (spread(&mut tm), spread(&mut ts), spread(&mut ratio));
        writeln!(
            out,
            "{n:>7}  {:>12}  {:>12}  {:>12}  {:>12}  {:>9.0}x",
            human(m.0),
            human(m.1),
            human(m.2),
            human(s.0),
            q.0
        )?;
    }
    Ok(())
}

/// One huge group through `maxk advantages` end to end, as a user runs it: this binary is
/// started on a file holding one line of `--huge-n` rewards, writing to a file, maxpo against
/// the trivial dr-grpo on the same file, in pairs, `repeats` times, the order within a pair
/// alternating (maxpo first, then dr-grpo first) so that neither side always runs right after
/// the other's 20 MB of output. Process start, reading, JSON parsing and printing are the same
/// for both; the ratio is what the sort and the kernel of maxpo add. A process per run varies
/// by a fifth or more from run to run (page cache, the output file's writeback on a disk;
/// `TMPDIR=/dev/shm` keeps the files in memory), hence 41 pairs.
fn huge_group(out: &mut dyn Write, rng: &mut SplitMix, args: &Args) -> Result<()> {
    let n = args.huge_n;
    let k = 64.min(n.saturating_sub(1)).max(1);
    Estimator::Maxpo.validate(n, k).context("--huge-n must be at least 2")?;
    let (input, file) = Staged::create_in(&std::env::temp_dir(), "maxk-bench", ".jsonl")
        .context("cannot create the huge group's input file")?;
    let mut file = io::BufWriter::new(file);
    writeln!(file, "{}", serde_json::to_string(&rewards(rng, n))?)
        .and_then(|()| file.flush())
        .context("cannot write the huge group's input file")?;
    drop(file);
    let (output, file) = Staged::create_in(&std::env::temp_dir(), "maxk-bench", ".out.jsonl")
        .context("cannot create the huge group's output file")?;
    drop(file);
    let exe = std::env::current_exe().context("cannot find the maxk binary to run")?;
    let repeats = if args.quick { 5 } else { 41 };
    writeln!(
        out,
        "One group of N = {n} through `maxk advantages -k {k}` (a process per run, one line \
         from a file, output to a file in {}, set by TMPDIR): maxpo vs dr-grpo, {repeats} pairs \
         in alternating order",
        std::env::temp_dir().display()
    )?;
    let time = |estimator: Estimator| -> Result<f64> {
        let start = Instant::now();
        let status = std::process::Command::new(&exe)
            .args(["advantages", "--estimator", estimator.id(), "-k", &k.to_string(), "--input"])
            .arg(input.path())
            .arg("--output")
            .arg(output.path())
            .status()
            .with_context(|| format!("cannot run {}", exe.display()))?;
        let t = start.elapsed().as_secs_f64();
        anyhow::ensure!(
            status.success(),
            "`maxk advantages --estimator {}` failed: {status}",
            estimator.id()
        );
        Ok(t)
    };
    time(Estimator::Maxpo)?; // warm-up: the file and the binary in the page cache
    let (mut maxpo, mut dr, mut ratio) = (Vec::new(), Vec::new(), Vec::new());
    for pair in 0..repeats {
        let (a, b) = if pair % 2 == 0 {
            (time(Estimator::Maxpo)?, time(Estimator::DrGrpo)?)
        } else {
            let b = time(Estimator::DrGrpo)?;
            (time(Estimator::Maxpo)?, b)
        };
        maxpo.push(a);
        dr.push(b);
        ratio.push(a / b);
    }
    let stats = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        (v[v.len() / 2], v[0], v[v.len() - 1])
    };
    let (m, d, r) = (stats(&mut maxpo), stats(&mut dr), stats(&mut ratio));
    writeln!(out, "{:>18}  {:>12}  {:>12}  {:>12}", "", "median", "min", "max")?;
    writeln!(
        out,
        "{:>18}  {:>12}  {:>12}  {:>12}",
        "dr-grpo (baseline)",
        human(d.0),
        human(d.1),
        human(d.2)
    )?;
    writeln!(out, "{:>18}  {:>12}  {:>12}  {:>12}", "maxpo", human(m.0), human(m.1), human(m.2))?;
    writeln!(out, "{:>18}  {:>11.2}x  {:>11.2}x  {:>11.2}x", "maxpo / dr-grpo", r.0, r.1, r.2)?;
    Ok(())
}
