//! The x86-64 kernels of [`QFast`](super::QFast): one shape, written once
//! ([`row_kernel!`]), for three instruction sets. Safe code throughout: the
//! intrinsics are safe inside `#[target_feature]` functions, and vectors are
//! loaded by `bytemuck` casts of byte arrays, which LLVM folds into `vmovdqu`
//! or a memory operand of `vpdpbusd` (checked in the generated assembly).

use std::arch::x86_64::*;

use bytemuck::cast;

/// Input chunks between two `flush`es of an accumulator.
const FLUSH_EVERY: usize = 64;

/// A module `$name` with `accumulate(weights, x, acc)`, `acc[o] += W[o]·x`,
/// for vectors of `$chunk` input bytes, `$rows` rows per block (each input
/// chunk is loaded once for that many rows; a multiple of 4).
///
/// - `prepare: |bytes| …` turns a `&[u8; $chunk]` of the input into what
///   `step` takes (loaded once per block of rows);
/// - `step: |acc, x, w| …` adds the products of one `&[i8; $chunk]` of a
///   row to that row's accumulator (of the type of `zero`);
/// - `flush: |acc| …` runs on every accumulator after each [`FLUSH_EVERY`]
///   chunks (for narrow partial sums that must not overflow);
/// - `to_ymm: |v| …` folds an accumulator into a `__m256i` with the same
///   wrapping sum.
macro_rules! row_kernel {
    (
        $(#[$doc:meta])*
        $name:ident, $features:literal, $chunk:literal, rows: $rows:literal, zero: $zero:expr,
        prepare: |$bytes:ident| $prepare:expr,
        step: |$acc:ident, $xv:ident, $w:ident| $step:expr,
        flush: |$f:ident| $flush:expr,
        to_ymm: |$v:ident| $to_ymm:expr $(,)?
    ) => {
        $(#[$doc])*
        pub(super) mod $name {
            use super::*;

            const ROWS: usize = $rows;

            /// `acc[o] += Σ_i weights[o·n + i] · x[i]`, `n = x.len() > 0`,
            /// `weights.len() == acc.len() · n` (checked by the caller).
            #[target_feature(enable = $features)]
            pub(in crate::qkernel) fn accumulate(weights: &[i8], x: &[u8], acc: &mut [i32]) {
                let (full, rest) = x.as_chunks::<$chunk>();
                let mut tail = [0u8; $chunk];
                tail[..rest.len()].copy_from_slice(rest);
                let tail = (!rest.is_empty()).then_some(&tail);
                let rows = acc.len();
                for (b, out) in acc.chunks_mut(ROWS).enumerate() {
                    // A short last block repeats its last row; those sums are dropped.
                    let idx = core::array::from_fn(|j| (b * ROWS + j).min(rows - 1));
                    let sums = block(weights, x.len(), idx, full, tail);
                    for (a, s) in out.iter_mut().zip(sums) {
                        *a = a.wrapping_add(s);
                    }
                }
            }

            /// The dot products of rows `idx` with the input (`full` chunks,
            /// then the zero-padded `tail`).
            #[target_feature(enable = $features)]
            fn block(
                weights: &[i8],
                n: usize,
                idx: [usize; ROWS],
                full: &[[u8; $chunk]],
                tail: Option<&[u8; $chunk]>,
            ) -> [i32; ROWS] {
                let rows: [&[[i8; $chunk]]; ROWS] =
                    idx.map(|r| weights[r * n..][..full.len() * $chunk].as_chunks().0);
                // Lets LLVM drop the bounds checks of `rows[j][k]` below.
                assert!(rows.iter().all(|r| r.len() == full.len()));
                let mut sums = [$zero; ROWS];
                for (k, $bytes) in full.iter().enumerate() {
                    let $xv = $prepare;
                    for j in 0..ROWS {
                        let ($acc, $w) = (sums[j], &rows[j][k]);
                        sums[j] = $step;
                    }
                    if (k + 1) % FLUSH_EVERY == 0 {
                        sums = sums.map(|$f| $flush);
                    }
                }
                if let Some($bytes) = tail {
                    let $xv = $prepare;
                    for j in 0..ROWS {
                        let $w = &window::<$chunk>(weights, idx[j] * n + full.len() * $chunk);
                        let $acc = sums[j];
                        sums[j] = $step;
                    }
                }
                reduce(sums.map(|$v| $to_ymm))
            }
        }
    };
}

row_kernel! {
    /// AVX-512 VNNI: one `vpdpbusd` per 64 bytes of a row.
    vnni512, "avx512f,avx512bw,avx512vnni", 64, rows: 8, zero: _mm512_setzero_si512(),
    prepare: |bytes| cast::<[u8; 64], __m512i>(*bytes),
    step: |acc, x, w| _mm512_dpbusd_epi32(acc, x, cast(*w)),
    flush: |acc| acc,
    to_ymm: |v| _mm256_add_epi32(_mm512_castsi512_si256(v), _mm512_extracti64x4_epi64::<1>(v)),
}

row_kernel! {
    /// AVX-VNNI: one (VEX) `vpdpbusd` per 32 bytes of a row.
    vnni256, "avxvnni", 32, rows: 8, zero: _mm256_setzero_si256(),
    prepare: |bytes| cast::<[u8; 32], __m256i>(*bytes),
    step: |acc, x, w| _mm256_dpbusd_avx_epi32(acc, x, cast(*w)),
    flush: |acc| acc,
    to_ymm: |v| v,
}

row_kernel! {
    /// AVX2 without widening the weights: the input split as `x = lo + 128·hi`
    /// (`lo = x & 0x7f`, `hi = x >> 7`), each half through `vpmaddubsw`
    /// (unsigned × signed bytes, pairs summed in `i16`, which would saturate
    /// for `x` up to 255 but cannot here: `|2 · 127 · 128| < 2^15` and
    /// `|2 · 1 · 128| = 256`). The `lo` pairs go to `i32` at once (`vpmaddwd`
    /// by 1); the `hi` pairs stay in an `i16` accumulator, at most
    /// `256 · (FLUSH_EVERY + 1)` in magnitude, and are added to the `i32` one
    /// times 128 at each flush. No byte shuffles: sign-extending the weights
    /// instead (`vpmovsxbw`, the shuffle port) measured 4 % slower here.
    avx2, "avx2", 32, rows: 4, zero: [_mm256_setzero_si256(); 2],
    prepare: |bytes| split_u8(bytes),
    step: |acc, x, w| {
        let w = cast::<[i8; 32], __m256i>(*w);
        let lo = _mm256_madd_epi16(_mm256_maddubs_epi16(x[0], w), _mm256_set1_epi16(1));
        let hi = _mm256_maddubs_epi16(x[1], w);
        [_mm256_add_epi32(acc[0], lo), _mm256_add_epi16(acc[1], hi)]
    },
    flush: |acc| [fold_hi(acc), _mm256_setzero_si256()],
    to_ymm: |v| fold_hi(v),
}

/// 32 input bytes as `[x & 0x7f, x >> 7]`, both `0..=127`.
#[target_feature(enable = "avx2")]
fn split_u8(bytes: &[u8; 32]) -> [__m256i; 2] {
    let x = cast::<[u8; 32], __m256i>(*bytes);
    let lo = _mm256_and_si256(x, _mm256_set1_epi8(0x7f));
    // A 16-bit shift moves bits across bytes; the mask keeps each byte's own top bit.
    let hi = _mm256_and_si256(_mm256_srli_epi16::<7>(x), _mm256_set1_epi8(1));
    [lo, hi]
}

/// `acc32 + 128 · acc16` of an AVX2 accumulator pair, in `i32`.
#[target_feature(enable = "avx2")]
fn fold_hi([acc32, acc16]: [__m256i; 2]) -> __m256i {
    _mm256_add_epi32(acc32, _mm256_madd_epi16(acc16, _mm256_set1_epi16(128)))
}

/// The `C` weights from `start`, zero past the end of `weights`. (Past its
/// row they belong to the next row, but they meet zeros of the input.)
fn window<const C: usize>(weights: &[i8], start: usize) -> [i8; C] {
    if let Some(w) = weights.get(start..start + C) {
        return w.try_into().expect("C bytes");
    }
    let mut w = [0; C];
    let rest = &weights[start..];
    w[..rest.len()].copy_from_slice(rest);
    w
}

/// The lane sums of the accumulators (wrapping `i32`), four at a time.
#[target_feature(enable = "avx2")]
fn reduce<const R: usize>(v: [__m256i; R]) -> [i32; R] {
    const { assert!(R.is_multiple_of(4)) };
    let mut out = [0; R];
    for (o, v) in out.chunks_exact_mut(4).zip(v.as_chunks::<4>().0) {
        o.copy_from_slice(&reduce4(*v));
    }
    out
}

/// The lane sums of four accumulators (wrapping `i32`).
#[target_feature(enable = "avx2")]
fn reduce4(v: [__m256i; 4]) -> [i32; 4] {
    // hadd(a, b) = [a0+a1, a2+a3, b0+b1, b2+b3 | the same for lanes 4..8];
    // twice gives [Σa0..3, Σb0..3, Σc0..3, Σd0..3 | Σ…4..8], then add the halves.
    let ab = _mm256_hadd_epi32(v[0], v[1]);
    let cd = _mm256_hadd_epi32(v[2], v[3]);
    let abcd = _mm256_hadd_epi32(ab, cd);
    let sum = _mm_add_epi32(
        _mm256_castsi256_si128(abcd),
        _mm256_extracti128_si256::<1>(abcd),
    );
    cast(sum)
}
