//! The AVX2 form of the forward product (`FFast::forward_batch_rows`):
//! blocks of two rows by four samples, one ymm register of eight lane sums
//! per row and sample, so that the eight sums, four input chunks and a
//! weight chunk fit the sixteen ymm registers of an AVX2 core
//! (`tinymlp::batch`'s four-by-four block holds sixteen sums, which LLVM
//! spills there). Best of 20, `-C target-cpu=x86-64-v3`, a batch of 32:
//! 784×64 73 → 56 µs, 256×128 51 → 40, 600×32 29 → 23 (three by three:
//! within 2 % of it). Each lane is the chain of `tinymlp::kernels::dot`, and the
//! lanes are reduced by `tinymlp::kernels::reduce_lanes` itself: the same
//! bits (`host/tests/fkernel.rs` checks every path).

use std::arch::x86_64::*;

use bytemuck::cast;
use tinymlp::batch::Rows;
use tinymlp::kernels::{reduce_lanes, LANES};

/// Rows per block.
const ROWS: usize = 2;
/// Samples per block.
const SAMPLES: usize = 4;

/// `ys[s][row0 + o] = dot(w[o], xs[s]) + b[o]` in `tinymlp`'s canonical
/// order (shapes checked by the caller).
#[target_feature(enable = "avx2")]
pub(super) fn forward_rows(
    w: &[f32],
    b: &[f32],
    row0: usize,
    xs: Rows<'_>,
    ys: &mut [f32],
    outputs: usize,
) {
    let n = xs.len();
    let mut s = 0;
    while s + SAMPLES <= n {
        samples::<SAMPLES>((w, b), row0, (xs, s), (ys, outputs));
        s += SAMPLES;
    }
    match n - s {
        0 => {}
        1 => samples::<1>((w, b), row0, (xs, s), (ys, outputs)),
        2 => samples::<2>((w, b), row0, (xs, s), (ys, outputs)),
        _ => samples::<3>((w, b), row0, (xs, s), (ys, outputs)),
    }
}

/// Every row with the samples `s0..s0 + C`.
#[target_feature(enable = "avx2")]
fn samples<const C: usize>(
    (w, b): (&[f32], &[f32]),
    row0: usize,
    (xs, s0): (Rows<'_>, usize),
    (ys, outputs): (&mut [f32], usize),
) {
    let (rows, cols) = (b.len(), xs.width);
    let x: [&[f32]; C] = core::array::from_fn(|k| xs.get(s0 + k));
    let mut store = |o: usize, sums: &[[f32; C]]| {
        for (r, sums) in sums.iter().enumerate() {
            for (k, sum) in sums.iter().enumerate() {
                ys[(s0 + k) * outputs + row0 + o + r] = sum + b[o + r];
            }
        }
    };
    let mut o = 0;
    while o + ROWS <= rows {
        store(o, &block::<ROWS, C>(w, cols, o, x));
        o += ROWS;
    }
    while o < rows {
        store(o, &block::<1, C>(w, cols, o, x));
        o += 1;
    }
}

/// The canonical dot products of rows `o..o + R` of `w` with the `C`
/// samples `x`: `sums[r][k]`.
#[target_feature(enable = "avx2")]
fn block<const R: usize, const C: usize>(
    w: &[f32],
    cols: usize,
    o: usize,
    x: [&[f32]; C],
) -> [[f32; C]; R] {
    let full = cols / LANES;
    let rows: [&[f32]; R] = core::array::from_fn(|r| &w[(o + r) * cols..][..cols]);
    let w_chunks: [&[[f32; LANES]]; R] = rows.map(|row| row.as_chunks().0);
    let x_chunks: [&[[f32; LANES]]; C] = x.map(|x| x.as_chunks().0);
    // Lets LLVM drop the bounds checks of the loop below.
    assert!(w_chunks.iter().all(|c| c.len() == full) && x_chunks.iter().all(|c| c.len() == full));
    let mut acc = [[_mm256_setzero_ps(); C]; R];
    for c in 0..full {
        let xv: [__m256; C] = core::array::from_fn(|k| cast(x_chunks[k][c]));
        for r in 0..R {
            let wv: __m256 = cast(w_chunks[r][c]);
            for k in 0..C {
                acc[r][k] = _mm256_add_ps(acc[r][k], _mm256_mul_ps(wv, xv[k]));
            }
        }
    }
    if full * LANES < cols {
        // The zero-padded tail, as `tinymlp::kernels::mac_tail`.
        let padded = |v: &[f32]| {
            let mut tail = [0.0f32; LANES];
            tail[..cols - full * LANES].copy_from_slice(&v[full * LANES..]);
            cast::<[f32; LANES], __m256>(tail)
        };
        let xv: [__m256; C] = x.map(padded);
        for r in 0..R {
            let wv = padded(rows[r]);
            for k in 0..C {
                acc[r][k] = _mm256_add_ps(acc[r][k], _mm256_mul_ps(wv, xv[k]));
            }
        }
    }
    acc.map(|sums| sums.map(|v| reduce_lanes(&cast(v))))
}
