//! The AVX2 form of the rank-k gradient (`FFast::rank_k_rows` and its
//! writing and adding forms): the AVX-512 form's per-row sample lists (zero
//! deltas skipped) and span of columns whose inputs are not all zero, on
//! vectors of eight columns. The same chains of additions, so the same bits
//! (`host/tests/fkernel.rs` checks every path).

use std::arch::x86_64::*;
use std::ops::Range;

use bytemuck::cast;
use tinymlp::batch::Rows;
use tinymlp::kernels::LANES;

use super::super::super::Sums;
use super::super::{rank_cols_one_by_one, rank_k_groups, SampleLists};

/// Vectors of eight columns held in registers per pass: eight independent
/// add chains cover the add latency, and with the broadcast delta and a
/// product they fit the sixteen ymm registers.
const VECTORS: usize = 8;

/// `G[o][i] += Σ_s dys[s][row0 + o]·xs[s][i]` as the AVX-512 `rank_k_rows`
/// (shapes checked by the caller).
#[target_feature(enable = "avx2")]
pub(super) fn rank_k_rows(g: &mut [f32], row0: usize, dys: Rows<'_>, xs: Rows<'_>, sums: Sums) {
    rank_k_groups((g, row0), dys, xs, sums, |g, row0, dys, xs, sums| {
        rank_k_group(g, row0, dys, xs, sums)
    });
}

/// One group of at most `RANK_K_GROUP` samples into at most
/// `RANK_ROWS` rows, combined with `g` as `sums` says.
#[target_feature(enable = "avx2")]
fn rank_k_group(g: &mut [f32], row0: usize, dys: Rows<'_>, xs: Rows<'_>, sums: Sums) {
    let cols = xs.width;
    let lists = SampleLists::new(dys, row0, g.len() / cols);
    // Columns whose inputs are all zero sum `±0.0` products from `+0.0`
    // (finite deltas): `+0.0`, put into `g` without the products.
    let span = if sums != Sums::Continue && lists.finite {
        nonzero_span(xs)
    } else {
        0..cols
    };
    for g in g.chunks_exact_mut(cols) {
        let (before, rest) = g.split_at_mut(span.start);
        zero_sums(before, sums);
        zero_sums(&mut rest[span.len()..], sums);
    }
    let mut col = span.start;
    while col + VECTORS * LANES <= span.end {
        for (o, g) in g.chunks_exact_mut(cols).enumerate() {
            rank_cols::<VECTORS>(g, col, lists.get(o), xs, sums);
        }
        col += VECTORS * LANES;
    }
    // The whole vectors left in passes of four, two and one: several add
    // chains at once for a narrow layer too.
    for vectors in [4, 2, 1] {
        if col + vectors * LANES > span.end {
            continue;
        }
        for (o, g) in g.chunks_exact_mut(cols).enumerate() {
            let lists = lists.get(o);
            match vectors {
                4 => rank_cols::<4>(g, col, lists, xs, sums),
                2 => rank_cols::<2>(g, col, lists, xs, sums),
                _ => rank_cols::<1>(g, col, lists, xs, sums),
            }
        }
        col += vectors * LANES;
    }
    rank_cols_one_by_one(g, col..span.end, &lists, xs, sums);
}

/// Sums of only `±0.0` products put into `g`: `+0.0` written, or added
/// (nothing for sums that continue).
#[target_feature(enable = "avx2")]
fn zero_sums(g: &mut [f32], sums: Sums) {
    match sums {
        Sums::Continue => {}
        Sums::Overwrite => g.fill(0.0),
        Sums::AddWhole => g.iter_mut().for_each(|g| *g += 0.0),
    }
}

/// The columns from the first vector of eight where some sample's input is
/// not `±0.0` (NaN counts) to the last such vector, or to the end when the
/// width is not a multiple of eight; empty when every input is zero.
#[target_feature(enable = "avx2")]
fn nonzero_span(xs: Rows<'_>) -> Range<usize> {
    let (cols, vectors) = (xs.width, xs.width / LANES);
    let nonzero = |v: usize| {
        (0..xs.len()).any(|s| {
            let x: &[f32; LANES] = xs.get(s)[v * LANES..][..LANES]
                .try_into()
                .expect("eight inputs");
            let ne = _mm256_cmp_ps::<_CMP_NEQ_UQ>(cast(*x), _mm256_setzero_ps());
            _mm256_movemask_ps(ne) != 0
        })
    };
    let first = (0..vectors).find(|&v| nonzero(v)).unwrap_or(vectors);
    let end = if cols % LANES != 0 {
        cols
    } else {
        (first..vectors)
            .rev()
            .find(|&v| nonzero(v))
            .map_or(cols, |v| (v + 1) * LANES)
    };
    first * LANES..end
}

/// [`rank_cols`] of one vector: the AVX-512 form's last eight columns.
#[target_feature(enable = "avx2")]
pub(in crate::fkernel::x86) fn rank_cols_ymm(
    g: &mut [f32],
    col: usize,
    lists: (&[u8], &[f32]),
    xs: Rows<'_>,
    sums: Sums,
) {
    rank_cols::<1>(g, col, lists, xs, sums);
}

/// `g[col..col + 8·V] += Σ_k val[k]·xs[idx[k]][col..col + 8·V]`, `k`
/// ascending, the sums held in `V` ymm registers for the whole list, which
/// start from `g` or from `+0.0` as `sums` says.
#[target_feature(enable = "avx2")]
fn rank_cols<const V: usize>(
    g: &mut [f32],
    col: usize,
    (idx, val): (&[u8], &[f32]),
    xs: Rows<'_>,
    sums: Sums,
) {
    if idx.is_empty() && sums == Sums::Continue {
        return;
    }
    let g: &mut [[f32; LANES]] = g[col..col + V * LANES].as_chunks_mut().0;
    let mut acc: [__m256; V] = if sums == Sums::Continue {
        core::array::from_fn(|v| cast(g[v]))
    } else {
        [_mm256_setzero_ps(); V]
    };
    for (&s, &d) in idx.iter().zip(val) {
        let x: &[[f32; LANES]] = xs.get(usize::from(s))[col..col + V * LANES].as_chunks().0;
        let d = _mm256_set1_ps(d);
        for v in 0..V {
            acc[v] = _mm256_add_ps(acc[v], _mm256_mul_ps(d, cast(x[v])));
        }
    }
    for (g, acc) in g.iter_mut().zip(acc) {
        *g = match sums {
            // The whole sum added once: the bits of `g + sum` per element.
            Sums::AddWhole => cast(_mm256_add_ps(cast(*g), acc)),
            Sums::Continue | Sums::Overwrite => cast(acc),
        };
    }
}
