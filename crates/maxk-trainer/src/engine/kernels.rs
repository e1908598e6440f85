//! CPU kernels of the native engine: a deterministic parallel sgemm wrapper and fused
//! per-row layer norm, tanh-GELU and softmax (forward and backward).
//!
//! Determinism: every parallel loop splits its output into blocks whose size depends only on
//! the shapes (never on the thread count), each output element is computed by exactly one
//! task, and reductions across rows run in a fixed order; so results are bitwise identical
//! on every run and machine with the same instruction set.

use rayon::prelude::*;

/// Most rows (or columns) per parallel matmul block.
const BLOCK: usize = 128;

/// Rows (or columns) per parallel sgemm task for an output dimension of `len`: at least 8
/// tasks where the dimension allows (so that a 128-wide weight gradient with a long inner
/// dimension keeps every core busy instead of one block per core count remainder), a multiple
/// of 16, at most [`BLOCK`]. A function of the shape only, never of the thread count.
fn block_len(len: usize) -> usize {
    len.div_ceil(8).next_multiple_of(16).clamp(16, BLOCK)
}

/// A row-major matrix operand: `data` holds `rows x cols` values, read transposed when `t`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Mat<'a> {
    pub data: &'a [f32],
    pub rows: usize,
    pub cols: usize,
    pub t: bool,
}

impl<'a> Mat<'a> {
    /// `data` as a `rows x cols` matrix.
    pub fn new(data: &'a [f32], rows: usize, cols: usize) -> Self {
        Mat { data, rows, cols, t: false }
    }

    /// The same storage read as the transpose.
    pub fn t(self) -> Self {
        Mat { t: !self.t, ..self }
    }

    /// Logical `[rows, cols]` after the transpose flag.
    fn shape(&self) -> (usize, usize) {
        if self.t { (self.cols, self.rows) } else { (self.rows, self.cols) }
    }

    /// (row stride, column stride) of the logical matrix.
    fn strides(&self) -> (isize, isize) {
        if self.t { (1, self.cols as isize) } else { (self.cols as isize, 1) }
    }
}

/// A raw output pointer shared by the tasks of one matmul, each writing a disjoint block.
#[derive(Clone, Copy)]
struct OutPtr(*mut f32);
impl OutPtr {
    /// The pointer (a method, so that closures capture the whole `Send` wrapper).
    fn get(self) -> *mut f32 {
        self.0
    }
}

// SAFETY: the pointer is only dereferenced (by gemm) inside `matmul`, while the `&mut [f32]`
// it came from is borrowed, and every task writes a disjoint set of elements.
#[allow(unsafe_code)]
unsafe impl Send for OutPtr {}
// SAFETY: as above; tasks never touch each other's elements.
#[allow(unsafe_code)]
unsafe impl Sync for OutPtr {}

/// Longest inner dimension that `gemm` multiplies in one pass (it splits `k` into passes of
/// `kc >= min(k, 512)`): up to it, every output element is one fused multiply-add chain over `k` in order,
/// whatever the shape of the call, so a row's bits do not depend on how rows are grouped.
const ONE_PASS_K: usize = 512;

/// Most [`block_len`] blocks one task multiplies in one sgemm call when `k <=`
/// [`ONE_PASS_K`]: each call packs the whole right-hand operand, so on tall products (the
/// 4k-position forward passes) 128-row calls spent about a tenth of the time re-packing the
/// weights.
const GROUP: usize = 4;

/// `c = a b + (c if accumulate)`, with `c` row-major `[m, n]`, `a` logical `[m, k]`, `b`
/// logical `[k, n]`. The output is split into blocks of at most [`BLOCK`] rows (or columns when
/// `n > m`; [`block_len`]) computed in parallel, each by one single-threaded sgemm of the
/// `gemm-f32` crate; when `k <=` [`ONE_PASS_K`], runs of up to [`GROUP`] whole blocks share one
/// call (keeping at least 4 tasks, two per core of the 2-core development machine), and the
/// last, partial block is always its own call, so the grouping changes no bits (a single-row
/// call takes `gemm`'s gemv path, which rounds differently, exactly where it did before).
///
/// An output whose rows are a multiple of [`ALIASED_ROW`] floats long is computed in a copy
/// with [`ROW_PAD`] more floats per row ([`padded_rows`]): the same arithmetic, so the same bits.
pub(crate) fn matmul(c: &mut [f32], a: Mat<'_>, b: Mat<'_>, accumulate: bool) {
    let (m, k) = a.shape();
    let (k2, n) = b.shape();
    assert_eq!(k, k2, "matmul inner dimensions");
    assert_eq!(c.len(), m * n, "matmul output size");
    assert_eq!(a.data.len(), a.rows * a.cols, "matmul lhs size");
    assert_eq!(b.data.len(), b.rows * b.cols, "matmul rhs size");
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            c.fill(0.0);
        }
        return;
    }
    if m > 1 && n % ALIASED_ROW == 0 {
        padded_rows(c, n, accumulate, |padded, ld| matmul_into(padded, ld, a, b, accumulate));
    } else {
        matmul_into(c, n, a, b, accumulate);
    }
}

/// Output rows of a multiple of this many floats (1 KB) put the rows of the micro-kernel's
/// output tile at addresses that share their L1 cache sets: on the Zen 4 development VM an
/// sgemm `[256, 128] x [128, n]` ran at about half the rate for n = 512 (a 2 KB row) that it
/// ran at for n = 496 or 528, and at a quarter for n = 1024 (one thread, the decoding steps
/// of the small preset's FFN, docs/trainer-performance.md).
const ALIASED_ROW: usize = 256;

/// Floats added to each row of an output computed in a padded copy (one cache line).
const ROW_PAD: usize = 16;

/// Runs `f(padded, ld)` on a matrix whose rows are `ld = n + ROW_PAD` floats apart and hold the
/// rows of the row-major `[rows, n]` matrix `c` when `read` (zeros otherwise: an sgemm that does
/// not accumulate never reads its output), then copies the result back into `c`.
fn padded_rows(c: &mut [f32], n: usize, read: bool, f: impl FnOnce(&mut [f32], usize)) {
    let ld = n + ROW_PAD;
    let mut padded = vec![0.0f32; c.len() / n * ld];
    if read {
        padded.par_chunks_mut(ld * 64).zip(c.par_chunks(n * 64)).for_each(|(p, c)| {
            p.chunks_mut(ld).zip(c.chunks(n)).for_each(|(p, c)| p[..n].copy_from_slice(c));
        });
    }
    f(&mut padded, ld);
    c.par_chunks_mut(n * 64).zip(padded.par_chunks(ld * 64)).for_each(|(c, p)| {
        c.chunks_mut(n).zip(p.chunks(ld)).for_each(|(c, p)| c.copy_from_slice(&p[..n]));
    });
}

/// [`matmul`] into `c` with rows `ld >= n` floats apart (`c.len() == m * ld`), shapes checked
/// by the caller.
fn matmul_into(c: &mut [f32], ld: usize, a: Mat<'_>, b: Mat<'_>, accumulate: bool) {
    let (m, k) = a.shape();
    let n = b.shape().1;
    assert!(ld >= n && c.len() == m * ld, "matmul output stride");
    let (ars, acs) = a.strides();
    let (brs, bcs) = b.strides();
    let out = OutPtr(c.as_mut_ptr());
    let by_rows = m >= n;
    let len = if by_rows { m } else { n };
    let block = block_len(len);
    let blocks = len.div_ceil(block);
    let full = len / block;
    let group = if k <= ONE_PASS_K { (full / 4).clamp(1, GROUP) } else { 1 };
    let full_tasks = full.div_ceil(group);
    let tasks = full_tasks + usize::from(len % block != 0);
    let run = |task: usize| {
        let (lo, hi) = if task < full_tasks {
            (task * group * block, ((task + 1) * group).min(full) * block)
        } else {
            (full * block, len)
        };
        let (rows, cols, a_off, b_off, c_off) = if by_rows {
            (hi - lo, n, lo as isize * ars, 0, lo * ld)
        } else {
            (m, hi - lo, 0, lo as isize * bcs, lo)
        };
        // SAFETY: the asserts above bound every access: rows `lo..hi` (or columns) of the
        // logical `a`, `b` and `c` lie inside their slices for the strides computed from the
        // same shapes (`c`'s rows `ld >= n` apart, `c.len() == m * ld`); `c` blocks are
        // disjoint across tasks and `c` outlives the scope (the parallel loop finishes before
        // `matmul` returns); `a` and `b` are only read.
        #[allow(unsafe_code)]
        unsafe {
            // What `gemm::gemm` calls for f32: the kernel chosen for this CPU at first use.
            gemm_f32::gemm::f32::get_gemm_fn()(
                rows,
                cols,
                k,
                out.get().add(c_off),
                1,
                ld as isize,
                accumulate,
                a.data.as_ptr().offset(a_off),
                acs,
                ars,
                b.data.as_ptr().offset(b_off),
                bcs,
                brs,
                if accumulate { 1.0 } else { 0.0 },
                1.0,
                false,
                false,
                false,
                gemm_common::Parallelism::None,
            );
        }
    };
    if blocks == 1 || m * n * k < 1 << 16 {
        (0..tasks).for_each(run);
    } else {
        (0..tasks).into_par_iter().for_each(run);
    }
}

/// Layer norm of one row: `y = g (x - mean) rstd + b`, `rstd = 1/sqrt(var + eps)`, writing
/// the normalised `xhat` (for the backward pass) and returning `rstd`. The mean and the
/// variance are sums in element order (what `Iterator::sum` does, from `-0.0`).
pub(crate) fn ln_row(x: &[f32], g: &[f32], b: &[f32], eps: f32, xhat: &mut [f32], y: &mut [f32]) -> f32 {
    let d = x.len() as f32;
    let mean = x.iter().fold(-0.0, |s, &v| s + v) / d;
    let var = x.iter().fold(-0.0, |s, &v| s + (v - mean) * (v - mean)) / d;
    let rstd = 1.0 / (var + eps).sqrt();
    normalise(x, g, b, mean, rstd, xhat, y);
    rstd
}

/// [`ln_row`] of every `g.len()`-wide row of `x`, writing each row's `rstd`: the same bits,
/// with the sums of four rows at a time interleaved. Each sum is a chain of dependent adds,
/// so one row at a time ran at one add per add latency; four independent chains fill the
/// pipeline.
#[allow(clippy::needless_range_loop)] // the element index is the outer loop on purpose
pub(crate) fn ln_rows(
    x: &[f32],
    g: &[f32],
    b: &[f32],
    eps: f32,
    xhat: &mut [f32],
    y: &mut [f32],
    rstd: &mut [f32],
) {
    const G: usize = 4;
    let d = g.len();
    let groups = rstd.len() / G * G;
    for (((x, xhat), y), rstd) in x
        .chunks_exact(G * d)
        .zip(xhat.chunks_exact_mut(G * d))
        .zip(y.chunks_exact_mut(G * d))
        .zip(rstd.chunks_exact_mut(G))
    {
        let rows: [&[f32]; G] = std::array::from_fn(|r| &x[r * d..(r + 1) * d]);
        let mut sum = [-0.0f32; G];
        for i in 0..d {
            for r in 0..G {
                sum[r] += rows[r][i];
            }
        }
        let mean = sum.map(|s| s / d as f32);
        let mut sq = [-0.0f32; G];
        for i in 0..d {
            for r in 0..G {
                sq[r] += (rows[r][i] - mean[r]) * (rows[r][i] - mean[r]);
            }
        }
        for (r, ((xhat, y), rstd)) in
            xhat.chunks_exact_mut(d).zip(y.chunks_exact_mut(d)).zip(rstd).enumerate()
        {
            *rstd = 1.0 / (sq[r] / d as f32 + eps).sqrt();
            normalise(rows[r], g, b, mean[r], *rstd, xhat, y);
        }
    }
    for (((x, xhat), y), rstd) in x[groups * d..]
        .chunks_exact(d)
        .zip(xhat[groups * d..].chunks_exact_mut(d))
        .zip(y[groups * d..].chunks_exact_mut(d))
        .zip(&mut rstd[groups..])
    {
        *rstd = ln_row(x, g, b, eps, xhat, y);
    }
}

/// `xhat = (x - mean) rstd`, `y = g xhat + b`.
#[inline(always)]
fn normalise(x: &[f32], g: &[f32], b: &[f32], mean: f32, rstd: f32, xhat: &mut [f32], y: &mut [f32]) {
    for i in 0..x.len() {
        let h = (x[i] - mean) * rstd;
        xhat[i] = h;
        y[i] = h * g[i] + b[i];
    }
}

/// Backward of [`ln_row`] with respect to its input, added to `dx`:
/// `dx += rstd (dh - mean(dh) - xhat mean(dh xhat))`, `dh = dy g`.
pub(crate) fn ln_row_backward(dy: &[f32], g: &[f32], xhat: &[f32], rstd: f32, dx: &mut [f32]) {
    let d = dy.len() as f32;
    let (mut s1, mut s2) = (0.0f32, 0.0f32);
    for i in 0..dy.len() {
        let dh = dy[i] * g[i];
        s1 += dh;
        s2 += dh * xhat[i];
    }
    let (m1, m2) = (s1 / d, s2 / d);
    for i in 0..dy.len() {
        dx[i] += rstd * (dy[i] * g[i] - m1 - xhat[i] * m2);
    }
}

/// `sqrt(2/pi)`.
const GELU_C: f32 = 0.797_884_6;

/// `tanh(x)` in f32 as a branch-free rational function, so that loops over it vectorise (the
/// libm `tanhf` call was a third of the trainer's CPU time). The [13/6] minimax approximation
/// of Eigen's `generic_fast_tanh_float` (Eigen 3.4, `MathFunctionsImpl.h`): inputs clamped to
/// `|x| <= 7.90531` (beyond it `tanh` rounds to ±1 in f32), `tanh(x) ~ x P(x^2) / Q(x^2)`.
/// Absolute error below 5e-7 (4 f32 ulps of 1) on the whole line (tested against f64 `tanh`).
#[inline(always)]
pub(crate) fn tanh(x: f32) -> f32 {
    const A: [f32; 7] = [
        4.893_524_6e-3,
        6.372_619_3e-4,
        1.485_722_4e-5,
        5.122_297e-8,
        -8.604_672e-11,
        2.000_188e-13,
        -2.760_768_5e-16,
    ];
    const B: [f32; 4] = [4.893_525e-3, 2.268_434_6e-3, 1.185_347_1e-4, 1.198_258_4e-6];
    let x = x.clamp(-7.905_311, 7.905_311);
    let x2 = x * x;
    let mut p = A[6];
    for &a in A[..6].iter().rev() {
        p = p * x2 + a;
    }
    let mut q = B[3];
    for &b in B[..3].iter().rev() {
        q = q * x2 + b;
    }
    x * p / q
}

/// GPT-2's tanh GELU `0.5 x (1 + tanh(c (x + 0.044715 x^3)))`.
#[inline(always)]
pub(crate) fn gelu(x: f32) -> f32 {
    0.5 * x * (1.0 + tanh(GELU_C * (x + 0.044715 * x * x * x)))
}

/// The derivative of [`gelu`]: `0.5 (1 + t) + 0.5 x (1 - t^2) c (1 + 3 0.044715 x^2)`.
#[inline(always)]
pub(crate) fn gelu_grad(x: f32) -> f32 {
    let t = tanh(GELU_C * (x + 0.044715 * x * x * x));
    0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * GELU_C * (1.0 + 3.0 * 0.044715 * x * x)
}

/// Defines `fn $name(args) body` that runs `body` compiled twice, for the baseline x86-64
/// target (4-wide SSE vectors) and with AVX2 enabled (8-wide), choosing at run time. Wider
/// vectors only: Rust never fuses a multiply and an add into an FMA, and the loops it is used
/// for do IEEE basic operations, comparisons and selects lane by lane, so both builds give the
/// same bits (`gelu_kernels_are_the_bits_of_the_scalar_functions`).
macro_rules! with_avx2 {
    ($(#[$doc:meta])* $vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $body:block) => {
        $(#[$doc])*
        $vis fn $name($($arg: $ty),*) {
            #[inline(always)]
            fn body($($arg: $ty),*) $body
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx2")]
                fn avx2($($arg: $ty),*) {
                    body($($arg),*)
                }
                if std::arch::is_x86_feature_detected!("avx2") {
                    // SAFETY: the only precondition of a `#[target_feature]` function is that
                    // the CPU supports its features, which the line above has checked.
                    #[allow(unsafe_code)]
                    return unsafe { avx2($($arg),*) };
                }
            }
            body($($arg),*)
        }
    };
}

with_avx2! {
    /// `x = gelu(x)` for every element (the decoding steps' FFN).
    pub(crate) fn gelu_in_place(x: &mut [f32]) {
        x.iter_mut().for_each(|v| *v = gelu(*v));
    }
}

with_avx2! {
    /// `out = gelu(pre)` element by element (the forward pass, which keeps `pre`).
    pub(crate) fn gelu_into(out: &mut [f32], pre: &[f32]) {
        out.iter_mut().zip(pre).for_each(|(a, &p)| *a = gelu(p));
    }
}

with_avx2! {
    /// `g *= gelu'(pre)` element by element (the backward pass).
    pub(crate) fn gelu_backward(g: &mut [f32], pre: &[f32]) {
        g.iter_mut().zip(pre).for_each(|(g, &p)| *g *= gelu_grad(p));
    }
}

/// `sum_i a_i b_i` with eight independent partial sums (so that it vectorises; the
/// association is fixed by the length, so results are deterministic).
#[inline(always)]
pub(crate) fn dot(a: &[f32], b: &[f32]) -> f32 {
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = ca.remainder().iter().zip(cb.remainder()).map(|(x, y)| x * y).sum();
    let mut acc = [0.0f32; 8];
    for (x, y) in ca.zip(cb) {
        for i in 0..8 {
            acc[i] += x[i] * y[i];
        }
    }
    tail + ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]))
}

/// `y += alpha x`.
#[inline(always)]
pub(crate) fn axpy(y: &mut [f32], alpha: f32, x: &[f32]) {
    y.iter_mut().zip(x).for_each(|(y, &x)| *y += alpha * x);
}

/// In-place softmax of `row`.
pub(crate) fn softmax(row: &mut [f32]) {
    let max = row.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
    let mut sum = 0.0;
    for v in row.iter_mut() {
        *v = (*v - max).exp();
        sum += *v;
    }
    let inv = 1.0 / sum;
    for v in row.iter_mut() {
        *v *= inv;
    }
}

/// One query's attention over keys and values held in two contiguous runs of rows (a row's
/// prompt, possibly shared with other rows, then its own new tokens; see `NativePolicy`):
/// `y = sum_j p_j v_j`, `p = softmax(s)`, `s_j = scale (q . k_j)` over the keys of `keys[0]`
/// then `keys[1]` (`values` alike), each a whole number of `q.len()`-long rows; `p` holds
/// one slot per key. The same operations in the same order as `dot`, `softmax` and `axpy` on
/// `y` zeroed, so the same bits, for every head size. The common sizes (16, 32, 64) run code
/// compiled for fixed-length arrays, which unrolls the dot products and keeps the weighted
/// sum in registers: the loop for an arbitrary length took about twice as long per key.
pub(crate) fn attend(
    q: &[f32],
    keys: [&[f32]; 2],
    values: [&[f32]; 2],
    scale: f32,
    p: &mut [f32],
    y: &mut [f32],
) {
    match q.len() {
        16 => attend_dh::<16>(q, keys, values, scale, p, y),
        32 => attend_dh::<32>(q, keys, values, scale, p, y),
        64 => attend_dh::<64>(q, keys, values, scale, p, y),
        dh => {
            let rows = |run: &[f32]| run.len() / dh;
            let (p0, p1) = p.split_at_mut(rows(keys[0]));
            for (pj, k) in
                p0.iter_mut().zip(keys[0].chunks_exact(dh)).chain(p1.iter_mut().zip(keys[1].chunks_exact(dh)))
            {
                *pj = dot(q, k) * scale;
            }
            softmax(p);
            y.fill(0.0);
            let (p0, p1) = p.split_at(rows(values[0]));
            for (&pj, v) in
                p0.iter().zip(values[0].chunks_exact(dh)).chain(p1.iter().zip(values[1].chunks_exact(dh)))
            {
                axpy(y, pj, v);
            }
        }
    }
}

/// [`attend`] for head size `DH`.
#[inline(always)]
fn attend_dh<const DH: usize>(
    q: &[f32],
    keys: [&[f32]; 2],
    values: [&[f32]; 2],
    scale: f32,
    p: &mut [f32],
    y: &mut [f32],
) {
    let q: &[f32; DH] = q.try_into().expect("a query of the head size");
    let (p0, p1) = p.split_at_mut(keys[0].len() / DH);
    for (pj, k) in p0.iter_mut().zip(keys[0].as_chunks::<DH>().0) {
        *pj = dot(q, k) * scale;
    }
    for (pj, k) in p1.iter_mut().zip(keys[1].as_chunks::<DH>().0) {
        *pj = dot(q, k) * scale;
    }
    softmax(p);
    let mut sum = [0.0f32; DH];
    let (p0, p1) = p.split_at(values[0].len() / DH);
    for (&pj, v) in p0.iter().zip(values[0].as_chunks::<DH>().0) {
        axpy(&mut sum, pj, v);
    }
    for (&pj, v) in p1.iter().zip(values[1].as_chunks::<DH>().0) {
        axpy(&mut sum, pj, v);
    }
    y.copy_from_slice(&sum);
}

/// Adds the column sums of the `width`-wide rows of `data` to `out` (rows in order).
pub(crate) fn add_col_sums(out: &mut [f32], data: &[f32], width: usize) {
    for row in data.chunks(width) {
        for (o, &v) in out.iter_mut().zip(row) {
            *o += v;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(a: &[f32], b: &[f32], m: usize, k: usize, n: usize) -> Vec<f32> {
        (0..m * n).map(|e| (0..k).map(|p| a[(e / n) * k + p] * b[p * n + e % n]).sum()).collect()
    }

    fn transpose(x: &[f32], r: usize, c: usize) -> Vec<f32> {
        (0..r * c).map(|e| x[(e % r) * c + e / r]).collect()
    }

    /// Outputs computed in a padded copy (rows of a multiple of `ALIASED_ROW` floats) are the
    /// bits of the same sgemm calls on the unpadded output, for every layout, accumulating or
    /// not, with one pass over `k` and with several; and they agree with the naive loop.
    #[test]
    fn padded_outputs_are_the_bits_of_unpadded_ones() {
        for (m, k, n) in [(2, 3, 256), (40, 128, 512), (300, 7, 256), (5, 600, 1024)] {
            let a: Vec<f32> = (0..m * k).map(|i| ((i * 7 % 13) as f32 - 6.0) / 6.0).collect();
            let b: Vec<f32> = (0..k * n).map(|i| ((i * 5 % 11) as f32 - 5.0) / 5.0).collect();
            let c0: Vec<f32> = (0..m * n).map(|i| (i % 17) as f32 / 8.0).collect();
            let want = naive(&a, &b, m, k, n);
            let (at, bt) = (transpose(&a, m, k), transpose(&b, k, n));
            for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
                let am = if ta { Mat::new(&at, k, m).t() } else { Mat::new(&a, m, k) };
                let bm = if tb { Mat::new(&bt, n, k).t() } else { Mat::new(&b, k, n) };
                for accumulate in [false, true] {
                    let (mut padded, mut plain) = (c0.clone(), c0.clone());
                    matmul(&mut padded, am, bm, accumulate);
                    matmul_into(&mut plain, n, am, bm, accumulate);
                    assert!(
                        padded.iter().zip(&plain).all(|(x, y)| x.to_bits() == y.to_bits()),
                        "{m}x{k}x{n} {ta} {tb} {accumulate}: padded and unpadded differ"
                    );
                    for ((x, y), z) in padded.iter().zip(&want).zip(&c0) {
                        let y = if accumulate { y + z } else { *y };
                        assert!((x - y).abs() < 1e-2, "{m}x{k}x{n}: {x} vs {y}");
                    }
                }
            }
        }
    }

    /// Every transpose combination, block splits over rows and columns, and accumulation
    /// agree with the naive triple loop (f32 sums of <= 300 terms of size ~1: 1e-3).
    #[test]
    fn matmul_matches_naive_for_all_layouts() {
        for (m, k, n) in [(3, 5, 4), (300, 7, 20), (9, 300, 260), (1, 1, 1)] {
            let a: Vec<f32> = (0..m * k).map(|i| ((i * 7 % 13) as f32 - 6.0) / 6.0).collect();
            let b: Vec<f32> = (0..k * n).map(|i| ((i * 5 % 11) as f32 - 5.0) / 5.0).collect();
            let want = naive(&a, &b, m, k, n);
            let (at, bt) = (transpose(&a, m, k), transpose(&b, k, n));
            for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
                let am = if ta { Mat::new(&at, k, m).t() } else { Mat::new(&a, m, k) };
                let bm = if tb { Mat::new(&bt, n, k).t() } else { Mat::new(&b, k, n) };
                let mut c = vec![1.0; m * n];
                matmul(&mut c, am, bm, true);
                for (x, y) in c.iter().zip(&want) {
                    assert!((x - 1.0 - y).abs() < 1e-3, "{m}x{k}x{n} {ta} {tb}: {x} vs {y} + 1");
                }
                matmul(&mut c, am, bm, false);
                for (x, y) in c.iter().zip(&want) {
                    assert!((x - y).abs() < 1e-3, "{m}x{k}x{n} {ta} {tb}: {x} vs {y}");
                }
            }
        }
    }

    /// A row of the product has the same bits whichever rows surround it, as long as no
    /// sgemm block is a single row (the native prefill packs tokens on this: a prompt's
    /// activations do not depend on the other prompts of the batch or on their padding).
    #[test]
    fn matmul_rows_do_not_depend_on_the_batch() {
        for (k, n) in [(128, 384), (128, 128), (512, 128), (128, 512), (128, 47)] {
            let m = 700;
            let a: Vec<f32> = (0..m * k).map(|i| ((i * 7919 % 1013) as f32 / 1013.0 - 0.5).sin()).collect();
            let b: Vec<f32> = (0..k * n).map(|i| ((i * 104_729 % 997) as f32 / 997.0 - 0.5).cos()).collect();
            let bias: Vec<f32> = (0..m * n).map(|i| (i % 13) as f32 * 0.1).collect();
            let mut full = bias.clone();
            matmul(&mut full, Mat::new(&a, m, k), Mat::new(&b, k, n), true);
            for (lo, rows) in [(0, 16), (5, 37), (100, 130), (3, 304), (60, 640), (1, 2)] {
                let mut part = bias[lo * n..(lo + rows) * n].to_vec();
                matmul(&mut part, Mat::new(&a[lo * k..(lo + rows) * k], rows, k), Mat::new(&b, k, n), true);
                assert!(part == full[lo * n..(lo + rows) * n], "k {k} n {n}: rows {lo}..+{rows}");
            }
        }
    }

    /// The rational `tanh` is within 5e-7 of f64 `tanh` on a dense grid over [-12, 12] (both
    /// saturated tails included), odd, and exactly ±1 far out.
    #[test]
    fn fast_tanh_matches_f64_tanh() {
        let mut worst = 0.0f64;
        for i in -240_000..=240_000 {
            let x = i as f32 * 5e-5;
            let err = (tanh(x) as f64 - (x as f64).tanh()).abs();
            worst = worst.max(err);
            assert_eq!(tanh(-x), -tanh(x));
        }
        assert!(worst < 5e-7, "worst |tanh error| = {worst}");
        assert_eq!(tanh(1e4), 1.0);
        assert_eq!(tanh(-f32::MAX), -1.0);
        assert_eq!(tanh(0.0), 0.0);
    }

    /// `dot` equals the f64 dot product for every length around the 8-lane blocking.
    #[test]
    fn dot_matches_f64_for_all_tails() {
        for n in 0..40 {
            let a: Vec<f32> = (0..n).map(|i| (i as f32 * 0.37).sin()).collect();
            let b: Vec<f32> = (0..n).map(|i| (i as f32 * 0.11).cos() - 0.3).collect();
            let want: f64 = a.iter().zip(&b).map(|(&x, &y)| x as f64 * y as f64).sum();
            assert!((dot(&a, &b) as f64 - want).abs() < 1e-5, "n = {n}: {} vs {want}", dot(&a, &b));
        }
    }

    /// `ln_rows` gives each row the bits of `ln_row` (and `ln_row` those of the sums written
    /// with `Iterator::sum`, as it was), for row counts with every remainder modulo its group
    /// of four, rows of every scale, a constant row and one of negative zeros.
    #[test]
    fn ln_rows_is_the_bits_of_ln_row() {
        let d: usize = 24;
        let (g, b): (Vec<f32>, Vec<f32>) = (0..d).map(|i| (1.0 + i as f32 * 0.1, i as f32 * -0.05)).unzip();
        let mut x: Vec<f32> = (0..11 * d)
            .map(|i| ((i as f32 * 0.618_034) % 1.0 - 0.3) * 10f32.powi((i / d % 5) as i32 - 2))
            .collect();
        x[3 * d..4 * d].fill(2.5);
        x[6 * d..7 * d].fill(-0.0);
        let bits = |x: &[f32]| x.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        for rows in 0..=11 {
            let x = &x[..rows * d];
            let (mut xhat, mut y, mut rstd) = (vec![0.0; rows * d], vec![0.0; rows * d], vec![0.0; rows]);
            ln_rows(x, &g, &b, 1e-5, &mut xhat, &mut y, &mut rstd);
            for r in 0..rows {
                let row = &x[r * d..(r + 1) * d];
                let (mut xh1, mut y1) = (vec![0.0; d], vec![0.0; d]);
                let r1 = ln_row(row, &g, &b, 1e-5, &mut xh1, &mut y1);
                let at = r * d..(r + 1) * d;
                assert_eq!(
                    (bits(&[rstd[r]]), bits(&xhat[at.clone()]), bits(&y[at])),
                    (bits(&[r1]), bits(&xh1), bits(&y1)),
                    "{rows} rows: row {r}"
                );
                let mean = row.iter().sum::<f32>() / d as f32;
                let var = row.iter().map(|&v| (v - mean) * (v - mean)).sum::<f32>() / d as f32;
                assert_eq!(r1.to_bits(), (1.0 / (var + 1e-5f32).sqrt()).to_bits(), "row {r}: Iterator::sum");
            }
        }
    }

    /// `attend` gives the bits of the loop it replaced (`dot`, `softmax`, `axpy` into a zeroed
    /// output, key by key) for the head sizes it compiles for and others, with the keys split
    /// between the two runs at every point.
    #[test]
    fn attend_is_the_bits_of_the_key_by_key_loop() {
        for dh in [8, 16, 24, 32, 64] {
            let n = 9;
            let val = |i: usize, s: f32| ((i as f32 * s) % 1.0 - 0.5) * 6.0;
            let q: Vec<f32> = (0..dh).map(|i| val(i, 0.754_877_7)).collect();
            let k: Vec<f32> = (0..n * dh).map(|i| val(i, 0.618_034)).collect();
            let v: Vec<f32> = (0..n * dh).map(|i| val(i, 0.569_840_3)).collect();
            let scale = 1.0 / (dh as f32).sqrt();
            let mut p: Vec<f32> = k.chunks(dh).map(|kj| dot(&q, kj) * scale).collect();
            softmax(&mut p);
            let mut want = vec![0.0f32; dh];
            for (&pj, vj) in p.iter().zip(v.chunks(dh)) {
                axpy(&mut want, pj, vj);
            }
            for split in 0..=n {
                let (k0, k1) = k.split_at(split * dh);
                let (v0, v1) = v.split_at(split * dh);
                let (mut p, mut y) = (vec![0.0; n], vec![f32::NAN; dh]);
                attend(&q, [k0, k1], [v0, v1], scale, &mut p, &mut y);
                let bits = |x: &[f32]| x.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(&y), bits(&want), "head size {dh}, {split} keys in the first run");
            }
        }
    }

    /// The slice kernels (AVX2 where the CPU has it) give the bits of the scalar `gelu` and
    /// `gelu_grad` on every kind of input: ordinary values, the clamp's edges and beyond,
    /// zeros, subnormals, infinities and NaN; lengths with every remainder modulo the vector
    /// widths.
    #[test]
    fn gelu_kernels_are_the_bits_of_the_scalar_functions() {
        let special = [
            0.0f32,
            -0.0,
            1e-40,
            -1e-40,
            7.905_311,
            -7.905_311,
            8.0,
            9.0 / 0.7,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::NAN,
        ];
        let mut pre: Vec<f32> = (0..997).map(|i| ((i as f32 * 0.618_034) % 1.0 - 0.5) * 24.0).collect();
        pre.extend(special);
        for len in [0, 1, 3, 7, 8, 9, 15, 16, 17, pre.len()] {
            let pre = &pre[pre.len() - len..];
            let same = |a: &[f32], b: &[f32]| a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits());
            let want: Vec<f32> = pre.iter().map(|&p| gelu(p)).collect();
            let mut got = vec![0.0; len];
            gelu_into(&mut got, pre);
            assert!(same(&got, &want), "gelu_into, length {len}");
            let mut got = pre.to_vec();
            gelu_in_place(&mut got);
            assert!(same(&got, &want), "gelu_in_place, length {len}");
            let g: Vec<f32> = (0..len).map(|i| 1.0 - i as f32 * 0.01).collect();
            let want: Vec<f32> = g.iter().zip(pre).map(|(&g, &p)| g * gelu_grad(p)).collect();
            let mut got = g.clone();
            gelu_backward(&mut got, pre);
            assert!(same(&got, &want), "gelu_backward, length {len}");
        }
    }

    /// The analytic GELU derivative matches central differences in f64-accurate spots.
    #[test]
    fn gelu_grad_matches_finite_differences() {
        for x in [-3.0f32, -1.0, -0.1, 0.0, 0.5, 2.0] {
            let h = 1e-2f64;
            let g = |v: f64| {
                let c = (2.0 / std::f64::consts::PI).sqrt();
                0.5 * v * (1.0 + (c * (v + 0.044715 * v.powi(3))).tanh())
            };
            let fd = (g(x as f64 + h) - g(x as f64 - h)) / (2.0 * h);
            assert!((gelu_grad(x) as f64 - fd).abs() < 1e-3, "x = {x}: {} vs {fd}", gelu_grad(x));
            assert!((gelu(x) as f64 - g(x as f64)).abs() < 1e-6);
        }
    }
}
