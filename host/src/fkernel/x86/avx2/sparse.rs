//! The AVX2 forms of the first layer's input-major kernels:
//! [`FFast::forward_input_major`] (the eight lanes of a half slab in two
//! passes of four, so that one broadcast of an input serves both halves),
//! [`NonZeroChunks::push`] (one chunk per compare) and
//! [`FFast::sgd_update_input_major`] (eight-by-eight tiles transposed in
//! registers).
//!
//! [`FFast::forward_input_major`]: super::super::super::FFast::forward_input_major
//! [`FFast::sgd_update_input_major`]: super::super::super::FFast::sgd_update_input_major
//! [`NonZeroChunks::push`]: super::super::super::sparse::NonZeroChunks::push

use std::arch::x86_64::*;

use bytemuck::cast;
use tinymlp::batch::Rows;
use tinymlp::kernels::LANES;
use tinymlp::{Sgd, TensorKind};

use super::super::super::sparse::{ChunkMask, Chunks, InputMajor, ListsOut, VECTOR};
use super::super::rule::{self, MOMENTUM, NESTEROV, PLAIN};
use super::super::sparse::{Read, SampleChunks};
use super::{all_finite, half_at, magnitude_bits, Half, HALF};

/// `ys[s][row0 + o] = dot(W[o], xs[s]) + b[o]` from input-major weights
/// (shapes checked by the caller): as the AVX-512 form, slab by slab.
#[target_feature(enable = "avx2")]
pub(super) fn forward(
    (wt, layout): (&[f32], InputMajor),
    b: &[f32],
    row0: usize,
    (xs, chunks): (Rows<'_>, Chunks<'_>),
    (ys, outputs): (&mut [f32], usize),
) {
    let count = layout.inputs.div_ceil(LANES);
    let wt: &[Half] = wt.as_chunks().0;
    for (k, slab) in wt.chunks_exact(count * LANES * 2).enumerate() {
        let first = k * VECTOR;
        let rows = (layout.rows - first).min(VECTOR);
        let slab: &[ChunkHalves] = slab.as_chunks().0;
        for s in 0..xs.len() {
            let x = SampleChunks::new(xs.get(s), &chunks, s);
            let low = lane_sums::<0>(slab, &x);
            let high = lane_sums::<{ LANES / 2 }>(slab, &x);
            let sums: [[f32; HALF]; 2] = core::array::from_fn(|half| {
                // `tinymlp::kernels::reduce_lanes`: `((a0+a4)+(a2+a6)) + ((a1+a5)+(a3+a7))`.
                let [s0, s1, s2, s3] =
                    core::array::from_fn(|l| _mm256_add_ps(low[half][l], high[half][l]));
                cast(_mm256_add_ps(_mm256_add_ps(s0, s2), _mm256_add_ps(s1, s3)))
            });
            let y = &mut ys[s * outputs + row0 + first..][..rows];
            let sums = sums.as_flattened();
            for ((y, sum), bias) in y.iter_mut().zip(sums).zip(&b[first..first + rows]) {
                *y = sum + bias;
            }
        }
    }
}

/// One chunk of a slab: its eight inputs' two half slabs, `[2 * lane + half]`.
type ChunkHalves = [Half; 2 * LANES];

/// Per lane and half, four lanes' sums (`[half][lane]`).
type LaneSums = [[__m256; 4]; 2];

/// Lanes `FIRST..FIRST + 4` of one slab's sixteen dot products with one
/// sample, both halves: per lane a chain over the chunks read, ascending.
/// Two such passes instead of one per half: eight sums fit the registers
/// either way, and each input's broadcast serves both halves (24 loads per
/// chunk and slab instead of 32).
#[target_feature(enable = "avx2")]
fn lane_sums<const FIRST: usize>(slab: &[ChunkHalves], x: &SampleChunks<'_>) -> LaneSums {
    let h = FIRST / (LANES / 2);
    let mut acc = [[_mm256_setzero_ps(); 4]; 2];
    match x.read[h] {
        Read::First(n) => {
            for (w, xc) in slab.iter().zip(&x.full[..n]) {
                acc = chunk_products::<FIRST>(acc, w, xc);
            }
        }
        Read::Listed(list) => {
            for &c in list {
                let c = c as usize;
                acc = chunk_products::<FIRST>(acc, &slab[c], &x.full[c]);
            }
        }
    }
    if let Some(tail) = x.tail(h) {
        acc = chunk_products::<FIRST>(acc, &slab[x.full.len()], tail);
    }
    acc
}

/// One chunk's products for lanes `FIRST..FIRST + 4`, added to their sums.
#[target_feature(enable = "avx2")]
fn chunk_products<const FIRST: usize>(
    mut acc: LaneSums,
    w: &ChunkHalves,
    xc: &[f32; LANES],
) -> LaneSums {
    for l in 0..4 {
        let x = _mm256_set1_ps(xc[FIRST + l]);
        for (half, acc) in acc.iter_mut().enumerate() {
            let product = _mm256_mul_ps(cast(w[2 * (FIRST + l) + half]), x);
            acc[l] = _mm256_add_ps(acc[l], product);
        }
    }
    acc
}

/// Records the chunks of `x` in the lists they belong to (see
/// [`NonZeroChunks`](super::super::super::sparse::NonZeroChunks)), four
/// chunks at a time: their halves' masks from one byte mask, each list's
/// four indices moved to its front by one byte shuffle (NaN counts as not
/// zero, as in `!=`); written one chunk at a time, the two lists took
/// 5.4–5.6 µs per batch of 32 MNIST images, four at a time 4.8–5.0 (the
/// AVX-512 build). The AVX-512 form (sixteen at a time) hands it the
/// chunks past its last group of sixteen ([`nonzero_chunks_from`]).
#[target_feature(enable = "avx2")]
pub(super) fn nonzero_chunks(x: &[f32], out: &mut ListsOut<'_>) {
    nonzero_chunks_from(x, 0, out);
}

/// [`nonzero_chunks`] of the chunks `first..` of a sample, whose values
/// are `x` (the AVX-512 form's rest).
#[target_feature(enable = "avx2")]
pub(in crate::fkernel::x86) fn nonzero_chunks_from(
    x: &[f32],
    first: usize,
    out: &mut ListsOut<'_>,
) {
    let (quads, rest) = x.as_chunks::<{ 4 * LANES }>();
    let ListsOut { lists, kept, whole } = out;
    let (mut kept_here, mut whole_here) = (*kept, *whole);
    for (q, values) in quads.iter().enumerate() {
        let halves = quad_halves(values);
        let first = _mm_set1_epi32((first + 4 * q) as i32);
        let indices = _mm_add_epi32(first, _mm_setr_epi32(0, 1, 2, 3));
        for ((list, kept), mask) in lists.iter_mut().zip(&mut kept_here).zip(halves) {
            // `kept <= first + 4 q`, so the four slots are within the list.
            let slots: &mut [u32; 4] = (&mut list[*kept..*kept + 4]).try_into().expect("4");
            let control = cast(FRONT[mask as usize]);
            *slots = cast(_mm_shuffle_epi8(indices, control));
            *kept += mask.count_ones() as usize;
        }
        whole_here += (halves[0] | halves[1]).count_ones() as usize;
    }
    (*kept, *whole) = (kept_here, whole_here);
    let chunks = rest.chunks(LANES).map(ChunkMask::of);
    out.record(first + 4 * quads.len(), chunks);
}

/// Which of four chunks' halves (lanes `0..4`, `4..8`) hold a value other
/// than `±0.0`: a mask of the four chunks per half, bit `j` for chunk `j`.
#[target_feature(enable = "avx2")]
fn quad_halves(values: &[f32; 4 * LANES]) -> [u32; 2] {
    let chunks: &[[f32; LANES]; 4] = values.as_chunks().0.try_into().expect("4 chunks");
    let nonzero = |c: usize| {
        let v = _mm256_cmp_ps::<_CMP_NEQ_UQ>(cast(chunks[c]), _mm256_setzero_ps());
        _mm256_castps_si256(v)
    };
    // Packing keeps each half of a chunk's lanes together: bytes
    // `[c0 0..4, c1 0..4, c2 0..4, c3 0..4 | c0 4..8, c1 4..8, …]`.
    let pairs = [(0, 1), (2, 3)].map(|(a, b)| _mm256_packs_epi32(nonzero(a), nonzero(b)));
    let bytes = _mm256_packs_epi16(pairs[0], pairs[1]);
    let lanes = _mm256_movemask_epi8(bytes) as u32;
    // Whether each nibble has a bit, in its lowest bit.
    let any = lanes | lanes >> 1 | lanes >> 2 | lanes >> 3;
    // Bits 0, 4, 8, 12 to bits 12..16, without carries between them.
    let gather = |bits: u32| ((bits & 0x1111).wrapping_mul(0x1248) >> 12) & 0xf;
    [gather(any), gather(any >> 16)]
}

/// Per mask of four chunks, the `_mm_shuffle_epi8` control that moves the
/// `u32`s of the chunks in the mask to the front, in order (zeros after).
const FRONT: [[u8; 16]; 16] = {
    let mut table = [[0x80; 16]; 16];
    let mut mask = 0;
    while mask < 16 {
        let (mut to, mut from) = (0, 0);
        while from < 4 {
            if mask >> from & 1 == 1 {
                let mut byte = 0;
                while byte < 4 {
                    table[mask][4 * to + byte] = (4 * from + byte) as u8;
                    byte += 1;
                }
                to += 1;
            }
            from += 1;
        }
        mask += 1;
    }
    table
};

/// SGD on input-major `wt` and `vt` with the row-major gradient `grads`:
/// each eight-by-eight tile of the gradient (zero-padded at the edges)
/// transposed in registers, then the update of
/// `tinymlp::optim::Sgd::update_slice` on the eight input vectors it gives,
/// its lanes past the last row left as they were. Whether every weight is
/// finite.
#[target_feature(enable = "avx2")]
pub(super) fn sgd_update_input_major(
    (sgd, kind, grad_scale): (Sgd, TensorKind, f32),
    grads: &[f32],
    (wt, vt, layout): (&mut [f32], &mut [f32], InputMajor),
) -> bool {
    let (inputs, padded) = (layout.inputs, layout.slab_len() / VECTOR);
    let step = SgdStep::new(sgd, kind, grad_scale);
    let mut largest = _mm256_setzero_si256();
    let wt: &mut [Half] = wt.as_chunks_mut().0;
    let vt: &mut [Half] = vt.as_chunks_mut().0;
    for u in 0..layout.rows.div_ceil(HALF) {
        let rows = (layout.rows - u * HALF).min(HALF);
        let lanes = row_lanes(rows);
        for i0 in (0..padded).step_by(HALF) {
            let width = inputs.saturating_sub(i0).min(HALF);
            let start = u * HALF * inputs + i0;
            let tile = if (rows, width) == (HALF, HALF) {
                full_tile(grads, start, inputs)
            } else {
                edge_tile(grads, start, inputs, (rows, width))
            };
            for (c, g) in transpose(tile).into_iter().enumerate().take(width) {
                let at = half_at(u, i0 + c, padded);
                let new = step.update_lanes(&mut wt[at], &mut vt[at], g, lanes);
                largest = _mm256_max_epu32(largest, magnitude_bits(new));
            }
        }
    }
    all_finite(largest)
}

/// Which lanes of a half slab hold real rows: all, or those set in a mask.
#[derive(Clone, Copy)]
pub(super) enum RowLanes {
    All,
    /// Lanes `0..rows` (all bits), the others clear.
    First(__m256),
}

/// The lanes of a half slab of `rows` real rows.
#[target_feature(enable = "avx2")]
pub(super) fn row_lanes(rows: usize) -> RowLanes {
    if rows >= HALF {
        return RowLanes::All;
    }
    let lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    RowLanes::First(_mm256_castsi256_ps(_mm256_cmpgt_epi32(
        _mm256_set1_epi32(rows as i32),
        lane,
    )))
}

/// Eight whole rows of eight from `w[start..]`, `inputs` apart.
#[target_feature(enable = "avx2")]
fn full_tile(w: &[f32], start: usize, inputs: usize) -> [__m256; HALF] {
    let rows = &w[start..start + (HALF - 1) * inputs + HALF];
    core::array::from_fn(|r| {
        let row: &Half = rows[r * inputs..][..HALF].try_into().expect("8 values");
        cast(*row)
    })
}

/// The first `rows` rows of `width` values from `w[start..]`, `inputs`
/// apart, the rest of the tile zeros.
#[target_feature(enable = "avx2")]
fn edge_tile(
    w: &[f32],
    start: usize,
    inputs: usize,
    (rows, width): (usize, usize),
) -> [__m256; HALF] {
    core::array::from_fn(|r| {
        let mut row = [0.0f32; HALF];
        if r < rows {
            row[..width].copy_from_slice(&w[start + r * inputs..][..width]);
        }
        cast(row)
    })
}

/// An 8 × 8 tile transposed: `out[c][r] = rows[r][c]`.
#[target_feature(enable = "avx2")]
fn transpose(r: [__m256; HALF]) -> [__m256; HALF] {
    // Pairs of rows interleaved within each 128-bit lane.
    let t: [__m256; HALF] = core::array::from_fn(|j| {
        let (a, b) = (r[j & !1], r[j | 1]);
        if j % 2 == 0 {
            _mm256_unpacklo_ps(a, b)
        } else {
            _mm256_unpackhi_ps(a, b)
        }
    });
    // u[4q + m]: rows 4q..4q + 4 of columns m and m + 4.
    let u: [__m256; HALF] = core::array::from_fn(|j| {
        let (q, m) = (j / 4, j % 4);
        let (a, b) = (t[4 * q + m / 2], t[4 * q + 2 + m / 2]);
        if m % 2 == 0 {
            _mm256_shuffle_ps::<0x44>(a, b)
        } else {
            _mm256_shuffle_ps::<0xEE>(a, b)
        }
    });
    core::array::from_fn(|c| {
        let (a, b) = (u[c % 4], u[4 + c % 4]);
        if c < 4 {
            _mm256_permute2f128_ps::<0x20>(a, b)
        } else {
            _mm256_permute2f128_ps::<0x31>(a, b)
        }
    })
}

/// One SGD step's constants, and the update of eight weights: the
/// operations of `tinymlp::optim::Sgd::update_slice`, lane by lane.
#[derive(Clone, Copy)]
pub(super) struct SgdStep {
    lr: __m256,
    momentum: __m256,
    decay: __m256,
    scale: __m256,
    /// [`rule`](super::super::rule)'s `PLAIN`, `MOMENTUM` or `NESTEROV`.
    pub(super) rule: u8,
}

impl SgdStep {
    #[target_feature(enable = "avx2")]
    pub(super) fn new(sgd: Sgd, kind: TensorKind, grad_scale: f32) -> Self {
        Self {
            lr: _mm256_set1_ps(sgd.learning_rate),
            momentum: _mm256_set1_ps(sgd.momentum),
            decay: _mm256_set1_ps(kind.decay(sgd.weight_decay)),
            scale: _mm256_set1_ps(grad_scale),
            rule: rule::of(&sgd),
        }
    }

    /// `g' = g·scale + decay·p; v' = momentum·v + g'; p' = p − lr·update`,
    /// `update` being `g' + momentum·v'` (Nesterov), `v'`, or `g'` without
    /// momentum (the velocity untouched): `w` and `v` updated, the new
    /// weights returned.
    #[target_feature(enable = "avx2")]
    fn update(self, w: &mut Half, v: &mut Half, g: __m256) -> __m256 {
        match self.rule {
            PLAIN => self.update_as::<PLAIN>(w, v, g),
            MOMENTUM => self.update_as::<MOMENTUM>(w, v, g),
            _ => self.update_as::<NESTEROV>(w, v, g),
        }
    }

    /// [`update`](Self::update) with the rule fixed at compile time (`RULE`
    /// must be [`self.rule`](Self::rule)): a loop over many halves then
    /// branches on it once, not per half.
    #[target_feature(enable = "avx2")]
    pub(super) fn update_as<const RULE: u8>(self, w: &mut Half, v: &mut Half, g: __m256) -> __m256 {
        let p: __m256 = cast(*w);
        let g = _mm256_add_ps(_mm256_mul_ps(g, self.scale), _mm256_mul_ps(self.decay, p));
        let update = if RULE == PLAIN {
            g
        } else {
            let vel = _mm256_add_ps(_mm256_mul_ps(self.momentum, cast(*v)), g);
            *v = cast(vel);
            if RULE == NESTEROV {
                _mm256_add_ps(g, _mm256_mul_ps(self.momentum, vel))
            } else {
                vel
            }
        };
        let new = _mm256_sub_ps(p, _mm256_mul_ps(self.lr, update));
        *w = cast(new);
        new
    }

    /// [`update`](Self::update) of the real rows' lanes only (the padding
    /// rows past the last keep their zeros). Whole halves are stored as
    /// they are: a blend with the old value before the store is compiled to
    /// a masked store (`vmaskmovps`), slow on Intel and microcoded on AMD.
    #[target_feature(enable = "avx2")]
    pub(super) fn update_lanes(
        self,
        w: &mut Half,
        v: &mut Half,
        g: __m256,
        lanes: RowLanes,
    ) -> __m256 {
        let RowLanes::First(lanes) = lanes else {
            return self.update(w, v, g);
        };
        let (mut new_w, mut new_v) = (*w, *v);
        let new = self.update(&mut new_w, &mut new_v, g);
        let new = _mm256_blendv_ps(cast(*w), new, lanes);
        *w = cast(new);
        if self.rule != PLAIN {
            *v = cast(_mm256_blendv_ps(cast(*v), cast(new_v), lanes));
        }
        new
    }
}
