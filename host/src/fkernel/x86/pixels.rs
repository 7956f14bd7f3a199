//! The AVX-512 form of [`FFast::pixels_to_inputs`]: sixteen pixels per
//! vector, widened, converted, multiplied by `1/255` and corrected by one
//! fused multiply-add step (see `fkernel::pixels` for why that is exact).
//!
//! [`FFast::pixels_to_inputs`]: super::super::FFast::pixels_to_inputs

use std::arch::x86_64::*;

use bytemuck::cast;

use super::super::pixels::pixel_value;

/// `x[i] = pixels[i] / 255` (lengths checked by the caller).
#[target_feature(enable = "avx512f")]
pub(super) fn pixels_to_inputs(pixels: &[u8], x: &mut [f32]) {
    let (vectors, tail) = pixels.as_chunks::<16>();
    let (out, out_tail) = x.as_chunks_mut::<16>();
    let (reciprocal, scale) = (_mm512_set1_ps(1.0 / 255.0), _mm512_set1_ps(255.0));
    for (x, p) in out.iter_mut().zip(vectors) {
        let p = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(cast::<[u8; 16], __m128i>(*p)));
        let q = _mm512_mul_ps(p, reciprocal);
        let residual = _mm512_fnmadd_ps(q, scale, p);
        *x = cast(_mm512_fmadd_ps(residual, reciprocal, q));
    }
    for (x, &p) in out_tail.iter_mut().zip(tail) {
        *x = pixel_value(p);
    }
}
