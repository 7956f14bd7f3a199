//! `libm::expf` on eight values at once: the AVX-512 form's operations
//! (`x86/exp.rs`) on 256-bit vectors, the branches chosen by compare masks
//! and blends. The same bits as the scalar function
//! (`host/tests/fkernel_exp.rs`).

use std::arch::x86_64::*;

use bytemuck::cast;

use super::super::exp::{by_vectors, INV_LN2, LN2_HI, LN2_LO, P1, P2};

/// `v = libm::expf(v)` for every value of `values`.
#[target_feature(enable = "avx2")]
pub(super) fn exp(values: &mut [f32]) {
    by_vectors::<8>(values, |v| cast(expf8(cast(v))));
}

#[target_feature(enable = "avx2")]
fn splat(bits: u32) -> __m256i {
    _mm256_set1_epi32(bits as i32)
}

/// `b` where `mask` (all ones or all zeros per lane) is set, else `a`.
#[target_feature(enable = "avx2")]
fn blend(mask: __m256i, a: __m256, b: __m256) -> __m256 {
    _mm256_blendv_ps(a, b, _mm256_castsi256_ps(mask))
}

/// Eight `expf`s.
#[target_feature(enable = "avx2")]
fn expf8(x: __m256) -> __m256 {
    let f = _mm256_set1_ps;
    let bits = _mm256_castps_si256(x);
    let hx = _mm256_and_si256(bits, splat(0x7fff_ffff));
    // `hx` is never negative as an i32, so signed compares order it.
    let above = |limit: u32| _mm256_cmpgt_epi32(hx, splat(limit));
    let negative = _mm256_srai_epi32::<31>(bits);

    let half = blend(negative, f(0.5), f(-0.5));
    let k_far = _mm256_cvttps_epi32(_mm256_add_ps(_mm256_mul_ps(f(INV_LN2), x), half));
    let sign = _mm256_srli_epi32::<31>(bits);
    let k_near = _mm256_sub_epi32(splat(1), _mm256_add_epi32(sign, sign));
    let reduced = above(0x3eb1_7218);
    let far = above(0x3f85_1592);
    let k = _mm256_blendv_epi8(k_near, k_far, far);
    let k = _mm256_and_si256(reduced, k);
    let kf = _mm256_cvtepi32_ps(k);
    let hi = blend(reduced, x, _mm256_sub_ps(x, _mm256_mul_ps(kf, f(LN2_HI))));
    let lo = blend(reduced, _mm256_setzero_ps(), _mm256_mul_ps(kf, f(LN2_LO)));
    let r = _mm256_sub_ps(hi, lo);

    let rr = _mm256_mul_ps(r, r);
    let c = _mm256_sub_ps(
        r,
        _mm256_mul_ps(rr, _mm256_add_ps(f(P1), _mm256_mul_ps(rr, f(P2)))),
    );
    let q = _mm256_div_ps(_mm256_mul_ps(r, c), _mm256_sub_ps(f(2.0), c));
    let y = _mm256_add_ps(f(1.0), _mm256_add_ps(_mm256_sub_ps(q, lo), hi));
    let mut e = scalbn8(y, k);

    let tiny = _mm256_xor_si256(above(0x3900_0000), splat(u32::MAX));
    e = blend(tiny, e, _mm256_add_ps(f(1.0), x));
    let zero = _mm256_and_si256(negative, above(0x42cf_f1b4));
    e = blend(zero, e, _mm256_setzero_ps());
    let overflow = _mm256_andnot_si256(negative, above(0x42b1_7217));
    e = blend(
        overflow,
        e,
        _mm256_mul_ps(x, f(f32::from_bits(0x7f00_0000))),
    );
    blend(above(0x7f80_0000), e, x)
}

/// `libm::scalbnf(y, k)` for the `k` of [`expf8`], as `x86/exp.rs` does it.
#[target_feature(enable = "avx2")]
fn scalbn8(y: __m256, k: __m256i) -> __m256 {
    let over = _mm256_cmpgt_epi32(k, splat(127));
    let y = blend(
        over,
        y,
        _mm256_mul_ps(y, _mm256_set1_ps(f32::from_bits(0x7f00_0000))),
    );
    let k = _mm256_sub_epi32(k, _mm256_and_si256(over, splat(127)));
    let under = _mm256_cmpgt_epi32(_mm256_set1_epi32(-126), k);
    let y = blend(
        under,
        y,
        _mm256_mul_ps(y, _mm256_set1_ps(f32::from_bits(0x0c80_0000))),
    );
    let k = _mm256_add_epi32(k, _mm256_and_si256(under, splat(102)));
    let scale = _mm256_slli_epi32::<23>(_mm256_add_epi32(k, splat(127)));
    _mm256_mul_ps(y, _mm256_castsi256_ps(scale))
}
