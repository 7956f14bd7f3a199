//! `libm::expf` on sixteen values at once ([`exp`]): the operations of
//! `libm` 0.2's `expf` (FreeBSD's `e_expf.c`) and its `scalbnf`, lane by
//! lane, each branch's result blended in where the scalar code would take
//! it. Every step is one IEEE operation (multiply, add, divide, a truncating
//! conversion) of the same operands in the same order, never a fused
//! multiply-add, so every lane has the scalar function's bits
//! (`host/tests/fkernel_exp.rs` compares them over the whole `f32` range).

use std::arch::x86_64::*;

use bytemuck::cast;

// The scalar code's constants, by their bits.
pub(super) const LN2_HI: f32 = f32::from_bits(0x3f31_7200);
pub(super) const LN2_LO: f32 = f32::from_bits(0x35bf_be8e);
pub(super) const INV_LN2: f32 = f32::from_bits(0x3fb8_aa3b);
pub(super) const P1: f32 = f32::from_bits(0x3e2a_aa8f);
pub(super) const P2: f32 = f32::from_bits(0xbb35_5215);

/// `v = libm::expf(v)` for every value of `values`.
#[target_feature(enable = "avx512f")]
pub(super) fn exp(values: &mut [f32]) {
    by_vectors::<16>(values, |v| cast(expf16(cast(v))));
}

/// `values` through `f` a vector of `N` at a time, the last one padded.
#[inline(always)]
pub(super) fn by_vectors<const N: usize>(values: &mut [f32], f: impl Fn([f32; N]) -> [f32; N]) {
    let (vectors, rest) = values.as_chunks_mut::<N>();
    for v in vectors {
        *v = f(*v);
    }
    if !rest.is_empty() {
        let mut last = [0.0f32; N];
        last[..rest.len()].copy_from_slice(rest);
        rest.copy_from_slice(&f(last)[..rest.len()]);
    }
}

#[target_feature(enable = "avx512f")]
fn splat(bits: u32) -> __m512i {
    _mm512_set1_epi32(bits as i32)
}

/// Sixteen `expf`s.
#[target_feature(enable = "avx512f")]
fn expf16(x: __m512) -> __m512 {
    let f = _mm512_set1_ps;
    let bits = _mm512_castps_si512(x);
    let hx = _mm512_and_si512(bits, splat(0x7fff_ffff));
    // `hx` is never negative as an i32, so signed compares order it.
    let above = |limit: u32| _mm512_cmpgt_epi32_mask(hx, splat(limit));
    let negative = _mm512_cmplt_epi32_mask(bits, _mm512_setzero_si512());

    // Argument reduction: `k` from `x·(1/ln2) ± 1/2` truncated beyond
    // 1.5·ln2, ±1 beyond 0.5·ln2, else 0 (and `hi = x`, `lo = 0`).
    let half = _mm512_mask_blend_ps(negative, f(0.5), f(-0.5));
    let k_far = _mm512_cvttps_epi32(_mm512_add_ps(_mm512_mul_ps(f(INV_LN2), x), half));
    let sign = _mm512_srli_epi32::<31>(bits);
    let k_near = _mm512_sub_epi32(splat(1), _mm512_add_epi32(sign, sign));
    let reduced = above(0x3eb1_7218);
    let k = _mm512_mask_blend_epi32(above(0x3f85_1592), k_near, k_far);
    let k = _mm512_maskz_mov_epi32(reduced, k);
    let kf = _mm512_cvtepi32_ps(k);
    let hi = _mm512_mask_blend_ps(reduced, x, _mm512_sub_ps(x, _mm512_mul_ps(kf, f(LN2_HI))));
    let lo = _mm512_maskz_mov_ps(reduced, _mm512_mul_ps(kf, f(LN2_LO)));
    // `x − 0` is `x` in the lanes that were not reduced.
    let r = _mm512_sub_ps(hi, lo);

    // y = 1 + (r·c / (2 − c) − lo + hi), c = r − r²·(P1 + r²·P2).
    let rr = _mm512_mul_ps(r, r);
    let c = _mm512_sub_ps(
        r,
        _mm512_mul_ps(rr, _mm512_add_ps(f(P1), _mm512_mul_ps(rr, f(P2)))),
    );
    let q = _mm512_div_ps(_mm512_mul_ps(r, c), _mm512_sub_ps(f(2.0), c));
    let y = _mm512_add_ps(f(1.0), _mm512_add_ps(_mm512_sub_ps(q, lo), hi));
    // scalbnf(y, 0) is y: the lanes with k = 0 need no blend.
    let mut e = scalbn16(y, k);

    // |x| ≤ 2^-14: 1 + x.
    let tiny = !above(0x3900_0000);
    e = _mm512_mask_blend_ps(tiny, e, _mm512_add_ps(f(1.0), x));
    // The special cases the scalar code returns first, last blended in
    // wins: x ≤ -103.97 is 0, x ≥ 88.72 overflows, NaN is itself.
    let zero = negative & above(0x42cf_f1b4);
    e = _mm512_mask_blend_ps(zero, e, _mm512_setzero_ps());
    let overflow = !negative & above(0x42b1_7217);
    e = _mm512_mask_blend_ps(
        overflow,
        e,
        _mm512_mul_ps(x, f(f32::from_bits(0x7f00_0000))),
    );
    let nan = above(0x7f80_0000);
    _mm512_mask_blend_ps(nan, e, x)
}

/// `libm::scalbnf(y, k)` for the `k` of [`expf16`] (−150 to 128): one
/// pre-scaling by 2^127 or 2^-102 where `k` is past the normal exponents,
/// as the scalar code does, then a multiply by 2^k.
#[target_feature(enable = "avx512f")]
fn scalbn16(y: __m512, k: __m512i) -> __m512 {
    let over = _mm512_cmpgt_epi32_mask(k, splat(127));
    let y = _mm512_mask_mul_ps(y, over, y, _mm512_set1_ps(f32::from_bits(0x7f00_0000)));
    let k = _mm512_mask_sub_epi32(k, over, k, splat(127));
    let under = _mm512_cmplt_epi32_mask(k, _mm512_set1_epi32(-126));
    // 2^-126 · 2^24, the scalar code's factor.
    let y = _mm512_mask_mul_ps(y, under, y, _mm512_set1_ps(f32::from_bits(0x0c80_0000)));
    let k = _mm512_mask_add_epi32(k, under, k, splat(102));
    let scale = _mm512_slli_epi32::<23>(_mm512_add_epi32(k, splat(127)));
    _mm512_mul_ps(y, _mm512_castsi512_ps(scale))
}
