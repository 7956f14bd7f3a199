//! Pixels to network inputs: `p / 255` for 8-bit pixels, the bits of
//! [`tinymlp::PIXEL_VALUES`] (the chips' table), on the host's widest
//! vectors. A trainer converts every image of every batch, and a vector
//! division is slow (~10 cycles per sixteen on an AVX-512 part): the
//! AVX-512 and AVX2 forms multiply by `1/255` and correct the product with one
//! fused multiply-add step, `q + (p − 255·q)·(1/255)` (the residual
//! `p − 255·q` is exact), which rounds to the quotient for all 256 pixel
//! values (`host/tests/fkernel.rs` checks every one on every path).

use super::{FFast, FPath};

/// `p / 255.0` in `f32`: correctly rounded, so [`tinymlp::PIXEL_VALUES`]`[p]`.
#[inline(always)]
pub fn pixel_value(p: u8) -> f32 {
    f32::from(p) / 255.0
}

impl FFast {
    /// `x[i] = tinymlp::PIXEL_VALUES[pixels[i]]`, the same bits.
    ///
    /// # Panics
    /// If the lengths differ.
    pub fn pixels_to_inputs(self, pixels: &[u8], x: &mut [f32]) {
        assert_eq!(pixels.len(), x.len(), "one input per pixel");
        match self.path {
            FPath::Portable => {
                for (x, &p) in x.iter_mut().zip(pixels) {
                    *x = pixel_value(p);
                }
            }
            FPath::Avx2 | FPath::Avx512 => self.simd(super::Kernel::Pixels { pixels, x }),
        }
    }
}
