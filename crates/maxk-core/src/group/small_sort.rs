//! Sorting the packed keys of a small group (17 to 64 keys) with AVX2: the hot spot of a batch
//! of small groups (`[4096, 64]`: about half of the time with `sort_unstable`, which on 64
//! keys costs about 400 ns against numpy's vectorised sort's 170 ns for the whole row).
//!
//! A bitonic sorting network of 64 keys in sixteen 4-lane registers, the layout of vectorised
//! sorts such as x86-simd-sort (numpy's): key `e` sits in register `e % 16`, lane `e / 16`.
//! Every compare-exchange of keys `e < e'` puts the smaller at `e`, for all lanes of a register
//! pair at once (`vpcmpgtq` and two blends; with AVX-512 F and VL, [`Network::Avx512`],
//! `vpminsq` and `vpmaxsq` on the same registers). Keys at distance 1, 2, 4 or 8 are in two registers
//! at the same lane; at distance 16 or 32, and in the "flip" steps that start each merge, in
//! other lanes, reached by a lane permutation. Stages, for `p = 1, 2, 4, 8, 16, 32`: the flip
//! (`e` against the mirror `e ^ (2p - 1)` within blocks of `2p`), then the half-cleaners
//! `e` against `e + q` for `q = p/2, ..., 1`. Shorter groups are padded with [`PAD`], above
//! every packed key. A group's own sort ([`sort_rewards_small`]) builds the packed keys from
//! the rewards in the registers (a sign test, a flip and two masks per four rewards) and, once
//! they are sorted, tests neighbours for equal bits above the index in the registers too, so
//! that what is left to the caller is gathering the sorted values.
//!
//! The keys are unique (their low bits hold the sample's index), so the order is exactly the
//! one `sort_unstable` gives; the tests check it against `sort_unstable` on random and
//! adversarial inputs of every length, and the network itself on every 0/1 input, each
//! [`Network`] that the CPU running the tests has. CPUs without AVX2 (and other
//! architectures) keep `sort_unstable`.

/// Groups from this size to [`SMALL_SORT_MAX`] sort their keys here (when the CPU has AVX2);
/// smaller ones keep `sort_unstable`, whose own small-sort networks are fast there.
pub(super) const SMALL_SORT_FROM: usize = 17;

/// The largest group sorted here: sixteen registers of four keys.
pub(super) const SMALL_SORT_MAX: usize = 64;

use crate::float::Reward;

/// The padding key `0xFFF0_0000_0000_0000`: above every key of a finite reward (the largest is
/// `ordered_bits(f64::MAX) = 0xFFEF_FFFF_FFFF_FFFF` with index bits in its low bits).
const PAD: u64 = 0xFFF0_0000_0000_0000;

/// Sorts `keys` ascending when `SMALL_SORT_FROM <= keys.len() <= SMALL_SORT_MAX`, every key
/// below [`PAD`] (as packed reward keys are), and the CPU has AVX2 (with the fastest
/// [`Network`] it has); returns false, with `keys` untouched, otherwise.
fn sort_small(keys: &mut [u64]) -> bool {
    (SMALL_SORT_FROM..=SMALL_SORT_MAX).contains(&keys.len())
        && Network::ALL.into_iter().any(|net| net.sort(keys))
}

/// The instruction sets the network runs with, fastest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Network {
    /// AVX-512 F and VL (`vpminsq`, `vpmaxsq` on 256-bit registers).
    Avx512,
    /// AVX2.
    Avx2,
}

impl Network {
    /// Every network, fastest first.
    pub(super) const ALL: [Network; 2] = [Network::Avx512, Network::Avx2];

    /// Whether this CPU has the network's instruction set.
    fn runs_here(self) -> bool {
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::is_x86_feature_detected as has;
            match self {
                Network::Avx512 => has!("avx2") && has!("avx512f") && has!("avx512vl"),
                Network::Avx2 => has!("avx2"),
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        false
    }

    /// Sorts up to [`SMALL_SORT_MAX`] keys below [`PAD`] with this network if the CPU has its
    /// instruction set; returns false, with `keys` untouched, if it does not.
    pub(super) fn sort(self, keys: &mut [u64]) -> bool {
        assert!(keys.len() <= SMALL_SORT_MAX);
        if !self.runs_here() {
            return false;
        }
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the one precondition of a `#[target_feature]` function is that the CPU
        // supports its features (AVX2, and for `Avx512` AVX-512 F and VL), which
        // `runs_here` has just confirmed with `is_x86_feature_detected!`.
        #[allow(unsafe_code)]
        unsafe {
            match self {
                Network::Avx512 => avx512::sort64(keys),
                Network::Avx2 => avx2::sort64(keys),
            }
        }
        true
    }

    /// The packed keys of up to [`SMALL_SORT_MAX`] rewards (`(ordered_bits(r_e) & !mask) | e`,
    /// `len - 1 <= mask < 2^63`) built, sorted and stored into `keys` (as long as `rewards`)
    /// with this network, and whether two neighbours share their bits above `mask`; None, with
    /// `keys` untouched, if the CPU lacks the instruction set.
    pub(super) fn sort_rewards<T: Reward>(self, rewards: &[T], mask: u64, keys: &mut [u64]) -> Option<bool> {
        let n = rewards.len();
        assert!(
            n <= SMALL_SORT_MAX && keys.len() == n && mask >= n.saturating_sub(1) as u64 && mask < 1 << 63
        );
        if !self.runs_here() {
            return None;
        }
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as in `Network::sort`.
        #[allow(unsafe_code)]
        let ties = unsafe {
            match self {
                Network::Avx512 => avx512::sort_rewards(rewards, mask, keys),
                Network::Avx2 => avx2::sort_rewards(rewards, mask, keys),
            }
        };
        #[cfg(not(target_arch = "x86_64"))]
        let ties = unreachable!("no network runs on this architecture");
        Some(ties)
    }
}

/// [`Network::sort_rewards`] with the fastest network this CPU has, for groups of
/// [`SMALL_SORT_FROM`] to [`SMALL_SORT_MAX`] rewards; None, with `keys` untouched, for other
/// sizes or without AVX2.
pub(super) fn sort_rewards_small<T: Reward>(rewards: &[T], mask: u64, keys: &mut [u64]) -> Option<bool> {
    if !(SMALL_SORT_FROM..=SMALL_SORT_MAX).contains(&rewards.len()) {
        return None;
    }
    Network::ALL.into_iter().find_map(|net| net.sort_rewards(rewards, mask, keys))
}

/// Sorts any `u64` keys ascending with the fastest sort maxk has for their number: the
/// vectorised network of this module for 17 to 64 keys below `0xFFF0_0000_0000_0000` on CPUs
/// with AVX2 (the keys maxk's own groups sort), `sort_unstable` otherwise. For benchmarks that
/// measure an estimator against the cost of sorting its groups (`maxk bench`).
pub fn sort_keys(keys: &mut [u64]) {
    if !(keys.iter().all(|&k| k < PAD) && sort_small(keys)) {
        keys.sort_unstable();
    }
}

/// The sorting network's stages, on the registers `$r` (keys in the signed order, register `j`
/// holding keys `4j..4j+4`), as an expression of the sorted registers in that layout; written
/// out in each function of the network (a macro, not a function: called from two places, the
/// stages were not inlined, and their sixteen registers went through the stack; with the
/// `from_fn` calls below, a `[4096, 64]` batch took 1.07x the time in the release profile's
/// build; `#[inline(always)]` is not allowed
/// with `#[target_feature]`).
#[cfg(target_arch = "x86_64")]
macro_rules! stages {
    ($r:expr) => {{
        let mut r = to_network($r);
        // p = 1, 2, 4, 8: blocks of 2p keys lie in one lane, every step is between registers.
        flip_between::<1>(&mut r);
        flip_between::<2>(&mut r);
        half_clean_between::<1>(&mut r);
        flip_between::<4>(&mut r);
        half_clean_between::<2>(&mut r);
        half_clean_between::<1>(&mut r);
        flip_between::<8>(&mut r);
        half_clean_down_from_4(&mut r);
        // p = 16: key (reg i, lane 0) against (reg 15 - i, lane 1), lanes 2 and 3 alike.
        for i in 0..8 {
            (r[i], r[15 - i]) = flip_pair::<0b10_11_00_01, 0b1100_1100>(r[i], r[15 - i]);
        }
        half_clean_between::<8>(&mut r);
        half_clean_down_from_4(&mut r);
        // p = 32: key (reg i, lane l) against (reg 15 - i, lane 3 - l).
        for i in 0..8 {
            (r[i], r[15 - i]) = flip_pair::<0b00_01_10_11, 0b1111_0000>(r[i], r[15 - i]);
        }
        // q = 16: lane 0 against lane 1 and lane 2 against lane 3 of every register.
        for x in r.iter_mut() {
            let swapped = _mm256_permute4x64_epi64::<0b10_11_00_01>(*x);
            let (lo, hi) = min_max(*x, swapped);
            *x = _mm256_blend_epi32::<0b1100_1100>(lo, hi);
        }
        half_clean_between::<8>(&mut r);
        half_clean_down_from_4(&mut r);
        from_network(r)
    }};
}

/// The network's code for one instruction set: `$features`, the target features of every
/// function, and `$min_max`, the lane-wise `(min, max)` of two registers of keys in the signed
/// order, are what differ; each module below instantiates it.
#[cfg(target_arch = "x86_64")]
macro_rules! network {
    ($features:literal, $min_max:item) => {
        use std::arch::x86_64::{
            __m256i, _mm256_and_si256, _mm256_blend_epi32, _mm256_blendv_epi8, _mm256_cmpeq_epi64,
            _mm256_cmpgt_epi64, _mm256_or_si256, _mm256_permute2x128_si256, _mm256_permute4x64_epi64,
            _mm256_set_epi64x, _mm256_set1_epi64x, _mm256_setzero_si256, _mm256_srli_epi64,
            _mm256_testz_si256, _mm256_unpackhi_epi64, _mm256_unpacklo_epi64, _mm256_xor_si256,
        };

        use crate::float::Reward;

        use super::PAD;

        /// The sixteen registers, key `e` at register `e % 16`, lane `e / 16`.
        type Rows = [__m256i; 16];

        /// Sorts up to 64 keys below [`PAD`] (see the module docs).
        #[target_feature(enable = $features)]
        pub(super) fn sort64(keys: &mut [u64]) {
            debug_assert!(keys.len() <= 64);
            // Keys compare as signed lanes: flipping the top bit maps the unsigned order onto
            // the signed one. Register `j` is loaded with keys `4j..4j+4` as a fixed-size
            // array (a 32-byte copy is one vector move; copying the 512 bytes of all sixteen
            // at once became a `memcpy` call, about 5 % of a `[4096, 64]` batch's time); keys
            // past the end are the padding.
            // (Loops, not `std::array::from_fn`: a closure here has this function's target
            // features, so `from_fn` could not inline it and called it once per register.)
            let top = _mm256_set1_epi64x(i64::MIN);
            let mut r: Rows = [top; 16];
            for (j, x) in r.iter_mut().enumerate() {
                let mut quad = [PAD; 4];
                for (i, q) in quad.iter_mut().enumerate() {
                    if let Some(&k) = keys.get(4 * j + i) {
                        *q = k;
                    }
                }
                *x = _mm256_xor_si256(bytemuck::cast(quad), top);
            }
            store(stages!(r), keys);
        }

        /// The packed keys of up to 64 rewards, `(ordered_bits(r_e) & !mask) | e` (`mask`
        /// below `2^63`, at least `len - 1`), built in the registers, sorted, and stored into
        /// `keys` (as long as `rewards`); returns whether two neighbours share their bits
        /// above `mask` (see `super::super::sort::gather`).
        #[target_feature(enable = $features)]
        pub(super) fn sort_rewards<T: Reward>(rewards: &[T], mask: u64, keys: &mut [u64]) -> bool {
            let n = rewards.len();
            debug_assert!(n <= 64 && keys.len() == n && mask >= n.saturating_sub(1) as u64);
            // In the signed order the key is `((bits ^ flip) & !mask) | e`, where `flip` is every
            // bit but the top one for a negative reward and 0 otherwise: `ordered_bits` flips
            // every bit of a negative float and the top bit of the others, and the flip into
            // the signed order flips the top bit back.
            let (zero, not_mask) = (_mm256_setzero_si256(), _mm256_set1_epi64x(!mask as i64));
            let (len, pad) = (_mm256_set1_epi64x(n as i64), _mm256_set1_epi64x((PAD ^ (1 << 63)) as i64));
            let index = |j: usize| {
                let e = 4 * j as i64;
                _mm256_set_epi64x(e + 3, e + 2, e + 1, e)
            };
            // (Loops, not `std::array::from_fn`, as in `sort64`.)
            let mut r: Rows = [zero; 16];
            for (j, x) in r.iter_mut().enumerate() {
                let mut bits = [0u64; 4];
                for (i, b) in bits.iter_mut().enumerate() {
                    if let Some(r) = rewards.get(4 * j + i) {
                        *b = r.to_f64().to_bits();
                    }
                }
                let bits: __m256i = bytemuck::cast(bits);
                let flip = _mm256_srli_epi64::<1>(_mm256_cmpgt_epi64(zero, bits));
                let key = _mm256_or_si256(_mm256_and_si256(_mm256_xor_si256(bits, flip), not_mask), index(j));
                *x = _mm256_blendv_epi8(pad, key, _mm256_cmpgt_epi64(len, index(j)));
            }
            let r = stages!(r);
            // Key `e` against key `e - 1` for `1 <= e < n`, by their bits above `mask`: register
            // `j` shifted up by one lane, with the last key of register `j - 1` in lane 0.
            let (mut ties, mut previous) = (zero, zero);
            for (j, &x) in r.iter().enumerate() {
                let high = _mm256_and_si256(x, not_mask);
                let shifted = _mm256_blend_epi32::<0b0000_0011>(
                    _mm256_permute4x64_epi64::<0b10_01_00_11>(high),
                    _mm256_permute4x64_epi64::<0b11_11_11_11>(previous),
                );
                let pair =
                    _mm256_and_si256(_mm256_cmpgt_epi64(len, index(j)), _mm256_cmpgt_epi64(index(j), zero));
                ties = _mm256_or_si256(ties, _mm256_and_si256(_mm256_cmpeq_epi64(high, shifted), pair));
                previous = high;
            }
            store(r, keys);
            _mm256_testz_si256(ties, ties) == 0
        }

        /// Stores the keys of `r` (register `j` holding keys `4j..4j+4`, in the signed order)
        /// into `keys`, back in the unsigned order, as many as `keys` holds.
        #[inline]
        #[target_feature(enable = $features)]
        fn store(r: Rows, keys: &mut [u64]) {
            let top = _mm256_set1_epi64x(i64::MIN);
            for (j, chunk) in keys.chunks_mut(4).enumerate() {
                let quad: [u64; 4] = bytemuck::cast(_mm256_xor_si256(r[j], top));
                match <&mut [u64; 4]>::try_from(&mut *chunk) {
                    Ok(whole) => *whole = quad,
                    Err(_) => chunk.copy_from_slice(&quad[..chunk.len()]),
                }
            }
        }

        /// From the loading layout (key `e` in register `e / 4`, lane `e % 4`) to the network's
        /// (register `e % 16`, lane `e / 16`): register `4m + t`, lane `l` of the network's is
        /// register `m + 4l`, lane `t` of the loaded one, so each block of registers
        /// `m, m + 4, m + 8, m + 12` transposes into registers `4m .. 4m + 4`.
        #[inline]
        #[target_feature(enable = $features)]
        fn to_network(r: Rows) -> Rows {
            let mut out = r;
            for m in 0..4 {
                let block = transpose4([r[m], r[m + 4], r[m + 8], r[m + 12]]);
                out[4 * m..4 * m + 4].copy_from_slice(&block);
            }
            out
        }

        /// The inverse of [`to_network`]: registers `4m .. 4m + 4` transpose back into registers
        /// `m, m + 4, m + 8, m + 12`.
        #[inline]
        #[target_feature(enable = $features)]
        fn from_network(r: Rows) -> Rows {
            let mut out = r;
            for m in 0..4 {
                let block = transpose4([r[4 * m], r[4 * m + 1], r[4 * m + 2], r[4 * m + 3]]);
                for (l, x) in block.into_iter().enumerate() {
                    out[m + 4 * l] = x;
                }
            }
            out
        }

        /// The transpose of four registers as a 4x4 matrix of 64-bit lanes: lane `t` of input `l`
        /// is lane `l` of output `t`.
        #[inline]
        #[target_feature(enable = $features)]
        fn transpose4([a, b, c, d]: [__m256i; 4]) -> [__m256i; 4] {
            // [a0 b0 a2 b2], [a1 b1 a3 b3], and the same of c and d.
            let (ab_even, ab_odd) = (_mm256_unpacklo_epi64(a, b), _mm256_unpackhi_epi64(a, b));
            let (cd_even, cd_odd) = (_mm256_unpacklo_epi64(c, d), _mm256_unpackhi_epi64(c, d));
            [
                _mm256_permute2x128_si256::<0x20>(ab_even, cd_even),
                _mm256_permute2x128_si256::<0x20>(ab_odd, cd_odd),
                _mm256_permute2x128_si256::<0x31>(ab_even, cd_even),
                _mm256_permute2x128_si256::<0x31>(ab_odd, cd_odd),
            ]
        }

        /// Compare-exchange of registers `i < j`, lane by lane: `r[i]` gets the minima.
        #[inline]
        #[target_feature(enable = $features)]
        fn exchange(r: &mut Rows, i: usize, j: usize) {
            (r[i], r[j]) = min_max(r[i], r[j]);
        }

        /// The flip of stage `P <= 8`: key `e` against `e ^ (2P - 1)`, registers `i` against
        /// `i ^ (2P - 1)` (blocks of `2P` keys lie in one lane).
        #[inline]
        #[target_feature(enable = $features)]
        fn flip_between<const P: usize>(r: &mut Rows) {
            for i in 0..16 {
                let j = i ^ (2 * P - 1);
                if i < j {
                    exchange(r, i, j);
                }
            }
        }

        /// The half-cleaner `e` against `e + Q` for one `Q < 16`: registers `i` against `i + Q`.
        #[inline]
        #[target_feature(enable = $features)]
        fn half_clean_between<const Q: usize>(r: &mut Rows) {
            for i in 0..16 {
                if i & Q == 0 {
                    exchange(r, i, i + Q);
                }
            }
        }

        /// The half-cleaners for `Q = 4, 2, 1`.
        #[inline]
        #[target_feature(enable = $features)]
        fn half_clean_down_from_4(r: &mut Rows) {
            half_clean_between::<4>(r);
            half_clean_between::<2>(r);
            half_clean_between::<1>(r);
        }

        /// One flip step between registers `x = r[i]` and `y = r[15 - i]`, where lane `l` of `x`
        /// meets lane `PERM(l)` of `y` (`PERM` an involution of the lanes): the lower key of every
        /// pair is the one in the lanes of `x` that `HIGH` (a 32-bit-lane blend mask) does not
        /// select. Returns the new `(x, y)`.
        #[inline]
        #[target_feature(enable = $features)]
        fn flip_pair<const PERM: i32, const HIGH: i32>(x: __m256i, y: __m256i) -> (__m256i, __m256i) {
            let y_in_x = _mm256_permute4x64_epi64::<PERM>(y);
            let (lo, hi) = min_max(x, y_in_x);
            // x keeps the minima in its low lanes and the maxima in its high lanes; y gets the
            // rest, back in its own lanes.
            let x = _mm256_blend_epi32::<HIGH>(lo, hi);
            let y = _mm256_permute4x64_epi64::<PERM>(_mm256_blend_epi32::<HIGH>(hi, lo));
            (x, y)
        }

        $min_max
    };
}

/// The network with AVX2: a compare-exchange is `vpcmpgtq` and two blends.
#[cfg(target_arch = "x86_64")]
mod avx2 {

    network!(
        "avx2",
        /// Lane-wise `(min, max)` of two registers of signed keys.
        #[inline]
        #[target_feature(enable = "avx2")]
        fn min_max(a: __m256i, b: __m256i) -> (__m256i, __m256i) {
            let a_greater = _mm256_cmpgt_epi64(a, b);
            (_mm256_blendv_epi8(a, b, a_greater), _mm256_blendv_epi8(b, a, a_greater))
        }
    );
}

/// The same network with AVX-512 (F and VL, on the same 256-bit registers): a compare-exchange
/// is `vpminsq` and `vpmaxsq`, two instructions instead of three (on the development VM's
/// Zen 4, 64 keys sort in 0.81× the time).
#[cfg(target_arch = "x86_64")]
mod avx512 {
    use std::arch::x86_64::{_mm256_max_epi64, _mm256_min_epi64};

    network!(
        "avx2,avx512f,avx512vl",
        /// Lane-wise `(min, max)` of two registers of signed keys.
        #[inline]
        #[target_feature(enable = "avx2,avx512f,avx512vl")]
        fn min_max(a: __m256i, b: __m256i) -> (__m256i, __m256i) {
            (_mm256_min_epi64(a, b), _mm256_max_epi64(a, b))
        }
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// `sort_small`, and each [`Network`] this CPU has, give `sort_unstable`'s order, or
    /// decline and leave the keys as they were. (A network whose instruction set the CPU lacks
    /// declines, and is tested on the CPUs that have it.)
    fn check(keys: &[u64]) {
        let mut want = keys.to_vec();
        want.sort_unstable();
        let mut got = keys.to_vec();
        if sort_small(&mut got) {
            assert_eq!(got, want, "input {keys:?}");
        } else {
            assert_eq!(got, keys, "declined but changed {keys:?}");
        }
        if keys.len() <= SMALL_SORT_MAX {
            for net in Network::ALL {
                let mut got = keys.to_vec();
                if net.sort(&mut got) {
                    assert_eq!(got, want, "{net:?}, input {keys:?}");
                } else {
                    assert_eq!(got, keys, "{net:?} declined but changed {keys:?}");
                }
            }
        }
    }

    #[test]
    fn takes_every_length_in_its_range_on_this_cpu() {
        #[cfg(target_arch = "x86_64")]
        let avx2 = std::arch::is_x86_feature_detected!("avx2");
        #[cfg(not(target_arch = "x86_64"))]
        let avx2 = false;
        for n in 0..=SMALL_SORT_MAX + 1 {
            let mut keys: Vec<u64> = (0..n as u64).rev().collect();
            let took = sort_small(&mut keys);
            assert_eq!(took, avx2 && (SMALL_SORT_FROM..=SMALL_SORT_MAX).contains(&n), "n = {n}");
        }
    }

    #[test]
    fn each_network_runs_exactly_where_the_cpu_has_its_features() {
        #[cfg(target_arch = "x86_64")]
        let (avx2, avx512) = {
            use std::arch::is_x86_feature_detected as has;
            (has!("avx2"), has!("avx2") && has!("avx512f") && has!("avx512vl"))
        };
        #[cfg(not(target_arch = "x86_64"))]
        let (avx2, avx512) = (false, false);
        for (net, has) in [(Network::Avx2, avx2), (Network::Avx512, avx512)] {
            let mut keys = vec![3, 1, 2];
            assert_eq!(net.sort(&mut keys), has, "{net:?}");
            assert_eq!(keys, if has { [1, 2, 3] } else { [3, 1, 2] }, "{net:?}");
        }
    }

    #[test]
    fn sorts_every_zero_one_input_of_64() {
        // The 0-1 principle: a comparator network sorts every input iff it sorts every 0/1
        // input. 2^64 inputs are too many; every 0/1 input with its ones in one contiguous
        // run at a rotated position, and 20000 random ones, exercise every stage.
        let zero_one = |bits: u64| -> Vec<u64> { (0..64).map(|e| ((bits >> e) & 1) << 40 | e).collect() };
        for len in 0..=64u32 {
            for start in 0..64u32 {
                let run = if len == 64 { u64::MAX } else { ((1u64 << len) - 1).rotate_left(start) };
                check(&zero_one(run));
            }
        }
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        for _ in 0..20_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            check(&zero_one(state));
        }
    }

    #[test]
    fn every_length_in_every_order_pattern() {
        for n in 0..=SMALL_SORT_MAX {
            let up: Vec<u64> = (0..n as u64).map(|i| i * 3 + 1).collect();
            check(&up);
            check(&up.iter().rev().copied().collect::<Vec<_>>());
            // Organ pipe; keys at the top of the range; few distinct high parts (equal rewards).
            check(&(0..n as u64).map(|i| if i % 2 == 0 { i } else { 1000 - i }).collect::<Vec<_>>());
            check(&(0..n as u64).map(|i| 0xFFEF_FFFF_FFFF_FF00 | i).collect::<Vec<_>>());
            check(&(0..n as u64).map(|i| ((i % 3) << 60) | i).collect::<Vec<_>>());
        }
    }

    #[test]
    fn sort_keys_sorts_any_keys() {
        // Keys at and above the padding value go to sort_unstable.
        for n in [0, 5, 17, 40, 64, 65, 300] {
            let keys: Vec<u64> = (0..n as u64).map(|i| u64::MAX - i * 7).collect();
            let mut want = keys.clone();
            want.sort_unstable();
            let mut got = keys.clone();
            sort_keys(&mut got);
            assert_eq!(got, want, "n = {n}");
            let mut got: Vec<u64> = keys.iter().map(|k| k >> 4).collect();
            let mut want = got.clone();
            want.sort_unstable();
            sort_keys(&mut got);
            assert_eq!(got, want, "n = {n}, small keys");
        }
    }

    /// [`Network::sort_rewards`] of each network this CPU has against the packed keys built
    /// one by one, `sort_unstable` and a scalar test for neighbours equal above the mask.
    fn check_rewards<T: Reward>(rewards: &[T], mask: u64) {
        use crate::group::sort::ordered_bits;
        let n = rewards.len();
        let key = |i: usize, r: &T| (ordered_bits(r.to_f64()) & !mask) | i as u64;
        let mut want: Vec<u64> = rewards.iter().enumerate().map(|(i, r)| key(i, r)).collect();
        want.sort_unstable();
        let want_ties = want.windows(2).any(|w| w[0] & !mask == w[1] & !mask);
        for net in Network::ALL {
            let mut got = vec![7; n];
            match net.sort_rewards(rewards, mask, &mut got) {
                Some(ties) => {
                    assert_eq!(got, want, "{net:?}, rewards {rewards:?}");
                    assert_eq!(ties, want_ties, "{net:?}, rewards {rewards:?}");
                }
                None => assert!(got.iter().all(|&k| k == 7), "{net:?} declined but wrote"),
            }
        }
    }

    /// Rewards with ties, near ties (a few ulps apart, equal above the index bits), both zeros,
    /// negative values, and values at the ends of f64's range.
    fn rewards() -> impl Strategy<Value = f64> {
        prop_oneof![
            3 => (-6i8..6).prop_map(|x| f64::from(x) / 4.0),
            3 => any::<f64>().prop_filter("finite", |x| x.is_finite()),
            2 => (0u64..5).prop_map(|u| f64::from_bits(1.5f64.to_bits() + u)),
            2 => (0u64..5).prop_map(|u| f64::from_bits((-0.75f64).to_bits() + u)),
            1 => prop_oneof![Just(0.0), Just(-0.0), Just(f64::MAX), Just(f64::MIN), Just(5e-324), Just(-5e-324)],
        ]
    }

    #[test]
    fn sort_rewards_builds_sorts_and_finds_ties_at_every_length() {
        for n in 0..=SMALL_SORT_MAX {
            let mask = n.next_power_of_two() as u64 - 1;
            let spread: Vec<f64> = (0..n).map(|i| ((i * 37) % 64) as f64 - 20.5).collect();
            check_rewards(&spread, mask);
            check_rewards(&spread, (1 << 40) - 1);
            let near: Vec<f64> = (0..n).map(|i| f64::from_bits(2.0f64.to_bits() + (i % 3) as u64)).collect();
            check_rewards(&near, mask);
            let narrow: Vec<f32> = spread.iter().map(|&x| x as f32).collect();
            check_rewards(&narrow, mask);
        }
    }

    proptest! {
        #[test]
        fn sort_rewards_equals_the_scalar_keys(rewards in prop::collection::vec(rewards(), 0..=SMALL_SORT_MAX), wide in any::<bool>()) {
            let mask = if wide { (1 << 62) - 1 } else { rewards.len().next_power_of_two() as u64 - 1 };
            check_rewards(&rewards, mask);
            let narrow: Vec<f32> = rewards.iter().map(|&x| x as f32).filter(|x| x.is_finite()).collect();
            let mask = if wide { (1 << 62) - 1 } else { narrow.len().next_power_of_two() as u64 - 1 };
            check_rewards(&narrow, mask);
        }

        #[test]
        fn equals_sort_unstable(keys in prop::collection::hash_set(0u64..PAD, 0..=SMALL_SORT_MAX)) {
            let keys: Vec<u64> = keys.into_iter().collect();
            check(&keys);
        }

        #[test]
        fn equals_sort_unstable_on_few_distinct_high_parts(
            highs in prop::collection::vec(0u64..4, 0..=SMALL_SORT_MAX),
        ) {
            let keys: Vec<u64> = highs.iter().enumerate().map(|(i, h)| (h << 61) | i as u64).collect();
            check(&keys);
        }
    }
}
