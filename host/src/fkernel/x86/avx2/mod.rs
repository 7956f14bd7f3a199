//! The AVX2 forms of [`FFast`](super::super::FFast)'s kernels ([`run`]), on
//! 256-bit vectors, each the operations of the AVX-512 form (or of
//! `tinymlp::batch`) in the same order, lane by lane: the same bits, as
//! `host/tests/fkernel.rs`, `fkernel_sparse.rs` and `fkernel_fused.rs`
//! check on every path.
//!
//! | file | kernels |
//! |---|---|
//! | `forward.rs` | the dense forward product: blocks of two rows by four samples |
//! | `rank_k.rs` | the rank-k gradient: the AVX-512 form's sample lists and zero-column span on eight-column vectors |
//! | `sparse.rs` | the first layer's input-major forward product, chunk lists and SGD update |
//! | `fused.rs` | the first layer's fused SGD step |
//! | `pixels.rs` | pixels to inputs: eight per vector, one FMA correction step |
//! | `exp.rs` | `libm::expf` on eight values: the AVX-512 form's branches as blends |
//!
//! The input-major layout is the AVX-512 one ([`InputMajor`]'s slabs of
//! sixteen rows); each slab is taken as two halves of eight rows, one ymm
//! register per input, and the kernels' sums are split so that they fit the
//! sixteen ymm registers of an AVX2 core. The transposed product and the
//! copy to the input-major layout run the portable forms.
//!
//! The path needs FMA besides AVX2 (the pixels' correction step): Intel's
//! and AMD's AVX2 CPUs have it, and [`FPath::is_available`] checks both (a
//! CPU without it runs the portable kernels).
//!
//! [`InputMajor`]: super::super::sparse::InputMajor
//! [`FPath::is_available`]: super::super::FPath::is_available

use std::arch::x86_64::*;

use super::super::sparse::VECTOR;
use super::super::Kernel;

mod exp;
mod forward;
mod fused;
mod pixels;
mod rank_k;
mod sparse;

pub(super) use rank_k::rank_cols_ymm;
pub(super) use sparse::nonzero_chunks_from;

/// Rows of a half slab: one ymm register.
const HALF: usize = VECTOR / 2;
/// Eight rows of one input.
type Half = [f32; HALF];

/// Runs `kernel` with AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
pub(in crate::fkernel) fn run(kernel: Kernel<'_, '_>) {
    match kernel {
        Kernel::SparseForward {
            wt,
            b,
            row0,
            xs,
            ys,
        } => sparse::forward(wt, b, row0, xs, ys),
        Kernel::NonZeroChunks { x, out } => sparse::nonzero_chunks(x, out),
        Kernel::SgdInputMajor {
            sgd,
            grads,
            t,
            finite,
        } => *finite = sparse::sgd_update_input_major(sgd, grads, t),
        Kernel::SgdStep {
            sgd,
            batch,
            t,
            finite,
        } => *finite = fused::sgd_step(sgd, batch, t),
        Kernel::RankK {
            g,
            row0,
            dys,
            xs,
            sums,
        } => rank_k::rank_k_rows(g, row0, dys, xs, sums),
        Kernel::Forward {
            w,
            b,
            row0,
            xs,
            ys,
            outputs,
        } => forward::forward_rows(w, b, row0, xs, ys, outputs),
        Kernel::Pixels { pixels, x } => pixels::pixels_to_inputs(pixels, x),
        Kernel::Exp { values } => exp::exp(values),
        Kernel::Prefetch { data } => super::prefetch(data),
        Kernel::Transposed { .. } | Kernel::ToInputMajor { .. } => {
            unreachable!("the AVX2 path runs the portable form")
        }
    }
}

/// Where input `i` of half slab `u` is among the [`Half`]s of a layout
/// whose slabs hold `padded` inputs.
fn half_at(u: usize, i: usize, padded: usize) -> usize {
    ((u / 2) * padded + i) * 2 + u % 2
}

/// The bits of `|v|` per lane: ordered as the magnitudes, and at least
/// those of infinity exactly for the values that are not finite.
#[target_feature(enable = "avx2")]
fn magnitude_bits(v: __m256) -> __m256i {
    _mm256_and_si256(_mm256_castps_si256(v), _mm256_set1_epi32(0x7fff_ffff))
}

/// Whether the largest [`magnitude_bits`] per lane are all finite.
#[target_feature(enable = "avx2")]
fn all_finite(largest: __m256i) -> bool {
    // Signed compare: the sign bits were cleared.
    let infinite = _mm256_cmpgt_epi32(largest, _mm256_set1_epi32(0x7f7f_ffff));
    _mm256_movemask_epi8(infinite) == 0
}
