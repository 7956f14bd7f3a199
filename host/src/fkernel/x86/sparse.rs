//! The AVX-512 forms of [`FFast::forward_input_major`] (one slab of sixteen
//! rows per zmm, the eight lanes' sums in eight registers, four lanes per
//! pass over their half's chunks), [`FFast::to_input_major`] and
//! [`FFast::sgd_update_input_major`] (sixteen-by-sixteen tiles transposed in
//! registers) and [`NonZeroChunks::push`] (sixteen chunks per pass).
//!
//! The slab is the outer loop and the samples the inner one: a slab of a
//! 784-input layer is 50 KB, about the L1 cache, so every sample's chunks
//! are read from there rather than from L2.
//!
//! [`FFast::forward_input_major`]: super::super::FFast::forward_input_major
//! [`FFast::to_input_major`]: super::super::FFast::to_input_major
//! [`FFast::sgd_update_input_major`]: super::super::FFast::sgd_update_input_major
//! [`NonZeroChunks::push`]: super::super::sparse::NonZeroChunks::push

use std::arch::x86_64::*;

use bytemuck::cast;
use tinymlp::batch::Rows;
use tinymlp::kernels::LANES;
use tinymlp::Sgd;
use tinymlp::TensorKind;

use super::super::sparse::{Chunks, InputMajor, ListsOut, VECTOR};
use super::rule::{self, NESTEROV, PLAIN};

/// One vector of a slab: sixteen rows of one input.
pub(super) type Columns = [f32; VECTOR];

/// One sample's inputs in chunks of eight and which of them each half of
/// a kernel's lanes ([`HALVES`](super::super::sparse::HALVES)) reads: the
/// whole chunks of `full` that `read[h]` names, then the zero-padded last
/// chunk if `tail_read[h]`. Kept apart so that the loop over whole chunks
/// indexes them directly: a choice between a chunk and the padded tail
/// inside the loop costs registers (the AVX2 form spilled an accumulator).
pub(super) struct SampleChunks<'a> {
    pub(super) full: &'a [[f32; LANES]],
    pub(super) read: [Read<'a>; 2],
    /// The last chunk, zero-padded, when the inputs end inside it and a
    /// half reads it (its index is `full.len()`).
    tail: Option<[f32; LANES]>,
    tail_read: [bool; 2],
}

/// Which whole chunks a kernel reads.
#[derive(Clone, Copy)]
pub(super) enum Read<'a> {
    /// `0..n`.
    First(usize),
    /// These, ascending.
    Listed(&'a [u32]),
}

impl<'a> SampleChunks<'a> {
    /// Sample `s` of `chunks`, whose inputs are `x`.
    pub(super) fn new(x: &'a [f32], chunks: &Chunks<'a>, s: usize) -> Self {
        let (full, rest) = x.as_chunks::<LANES>();
        let (read, tail_read) = match *chunks {
            Chunks::All => ([Read::First(full.len()); 2], [!rest.is_empty(); 2]),
            Chunks::Listed(lists, first) => {
                let half = |h| {
                    let list = lists.half(h, first + s);
                    match list.split_last() {
                        Some((&last, whole)) if last as usize == full.len() => {
                            (Read::Listed(whole), true)
                        }
                        _ => (Read::Listed(list), false),
                    }
                };
                let [(low, low_tail), (high, high_tail)] = [half(0), half(1)];
                ([low, high], [low_tail, high_tail])
            }
        };
        // Copied only when a half reads it (once per slab and sample).
        let tail = tail_read.contains(&true).then(|| {
            let mut tail = [0.0; LANES];
            tail[..rest.len()].copy_from_slice(rest);
            tail
        });
        Self {
            full,
            read,
            tail,
            tail_read,
        }
    }

    /// The padded last chunk, if half `h` reads it.
    pub(super) fn tail(&self, h: usize) -> Option<&[f32; LANES]> {
        self.tail.as_ref().filter(|_| self.tail_read[h])
    }
}

/// `ys[s][row0 + o] = dot(W[o], xs[s]) + b[o]` from input-major weights,
/// the lanes of `tinymlp::kernels::dot` over the chunks read (shapes checked
/// by the caller).
#[target_feature(enable = "avx512f")]
pub(super) fn forward(
    (wt, layout): (&[f32], InputMajor),
    b: &[f32],
    row0: usize,
    (xs, chunks): (Rows<'_>, Chunks<'_>),
    (ys, outputs): (&mut [f32], usize),
) {
    let count = layout.inputs.div_ceil(LANES);
    let wt: &[Columns] = wt.as_chunks().0;
    for (k, slab) in wt.chunks_exact(count * LANES).enumerate() {
        let first = k * VECTOR;
        let rows = (layout.rows - first).min(VECTOR);
        let slab: &[[Columns; LANES]] = slab.as_chunks().0;
        for s in 0..xs.len() {
            let sums = forward_slab(slab, &SampleChunks::new(xs.get(s), &chunks, s));
            let y = &mut ys[s * outputs + row0 + first..][..rows];
            for ((y, sum), bias) in y.iter_mut().zip(sums).zip(&b[first..first + rows]) {
                *y = sum + bias;
            }
        }
    }
}

/// One slab's sixteen dot products with one sample: per lane a chain over
/// the chunks read, ascending (lanes `0..4` and `4..8` in two passes, each
/// over its half's chunks), then the lanes reduced as
/// `tinymlp::kernels::reduce_lanes` does, `((a0+a4)+(a2+a6)) + ((a1+a5)+(a3+a7))`.
#[target_feature(enable = "avx512f")]
fn forward_slab(slab: &[[Columns; LANES]], x: &SampleChunks<'_>) -> Columns {
    let [a0, a1, a2, a3] = half_sums::<0>(slab, x);
    let [a4, a5, a6, a7] = half_sums::<{ LANES / 2 }>(slab, x);
    let s0 = _mm512_add_ps(a0, a4);
    let s1 = _mm512_add_ps(a1, a5);
    let s2 = _mm512_add_ps(a2, a6);
    let s3 = _mm512_add_ps(a3, a7);
    cast(_mm512_add_ps(_mm512_add_ps(s0, s2), _mm512_add_ps(s1, s3)))
}

/// Lanes `FIRST..FIRST + 4` of one slab's sixteen dot products with one
/// sample: per lane a chain over the chunks its half reads, ascending.
#[target_feature(enable = "avx512f")]
fn half_sums<const FIRST: usize>(slab: &[[Columns; LANES]], x: &SampleChunks<'_>) -> [__m512; 4] {
    let h = FIRST / (LANES / 2);
    let mut acc = [_mm512_setzero_ps(); 4];
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
#[target_feature(enable = "avx512f")]
fn chunk_products<const FIRST: usize>(
    mut acc: [__m512; 4],
    w: &[Columns; LANES],
    xc: &[f32; LANES],
) -> [__m512; 4] {
    for (l, acc) in acc.iter_mut().enumerate() {
        let product = _mm512_mul_ps(cast(w[FIRST + l]), _mm512_set1_ps(xc[FIRST + l]));
        *acc = _mm512_add_ps(*acc, product);
    }
    acc
}

/// Records the chunks of `x` in the lists they belong to (see
/// [`NonZeroChunks`](super::super::sparse::NonZeroChunks)), sixteen chunks
/// at a time: their halves' masks from eight compares, each list's sixteen
/// indices moved to its front by one `vpcompressd` into a register (its
/// store to memory is microcoded on some cores) and written whole: the
/// slots past the chunks kept are overwritten by the next group or left as
/// room. The rest of the sample, past the last group of sixteen, goes to the
/// AVX2 form (four at a time). NaN counts as not zero, as in `!=`.
#[target_feature(enable = "avx512f")]
pub(super) fn nonzero_chunks(x: &[f32], out: &mut ListsOut<'_>) {
    let (groups, rest) = x.as_chunks::<{ GROUP * LANES }>();
    let ascending = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    let (mut kept, mut whole) = (out.kept, out.whole);
    for (g, values) in groups.iter().enumerate() {
        let halves = group_halves(values);
        let indices = _mm512_add_epi32(_mm512_set1_epi32((GROUP * g) as i32), ascending);
        for ((list, kept), mask) in out.lists.iter_mut().zip(&mut kept).zip(halves) {
            // `kept <= GROUP g`, so the sixteen slots are within the list.
            let slots: &mut [u32; GROUP] = (&mut list[*kept..*kept + GROUP])
                .try_into()
                .expect("sixteen");
            *slots = cast(_mm512_maskz_compress_epi32(mask, indices));
            *kept += mask.count_ones() as usize;
        }
        whole += (halves[0] | halves[1]).count_ones() as usize;
    }
    (out.kept, out.whole) = (kept, whole);
    super::avx2::nonzero_chunks_from(rest, GROUP * groups.len(), out);
}

/// Chunks per pass of [`nonzero_chunks`]: one index per lane of a zmm.
const GROUP: usize = 16;

/// Which of sixteen chunks' halves (lanes `0..4`, `4..8`) hold a value
/// other than `±0.0`: a mask of the sixteen chunks per half, bit `j` for
/// chunk `j`.
#[target_feature(enable = "avx512f")]
fn group_halves(values: &[f32; GROUP * LANES]) -> [u16; 2] {
    let pairs: &[[f32; 2 * LANES]; GROUP / 2] = values.as_chunks().0.try_into().expect("8");
    // Bit `4 q + l` of a pair's mask: lane `l` of quarter `q`, the quarters
    // being chunk 2p's halves, then chunk 2p + 1's.
    let mask = |p: usize| {
        let v = _mm512_cmp_ps_mask::<_CMP_NEQ_UQ>(cast(pairs[p]), _mm512_setzero_ps());
        u64::from(v) << (16 * (p % 4))
    };
    let words = [0, 4].map(|p0| (p0..p0 + 4).fold(0, |word, p| word | mask(p)));
    // Per word (eight chunks), whether each nibble (half chunk) has a bit,
    // in its lowest bit: the low halves at bits 8c, the high at 8c + 4.
    let any = words.map(|w| w | w >> 1 | w >> 2 | w >> 3);
    let low = any.map(gather_bytes);
    let high = any.map(|a| gather_bytes(a >> 4));
    [low, high].map(|[first, second]| u16::from(first) | u16::from(second) << 8)
}

/// Bit 0 of each byte of `bits`, gathered into one byte (bit `c` from byte
/// `c`): after the mask, each product term lands on its own bit, and those
/// of byte `c` times byte `7 - c` of the factor on bit `56 + c`.
fn gather_bytes(bits: u64) -> u8 {
    ((bits & 0x0101_0101_0101_0101).wrapping_mul(0x0102_0408_1020_4080) >> 56) as u8
}

/// Row-major `w` (`layout.rows × layout.inputs`) into the input-major `t`,
/// sixteen-by-sixteen tiles transposed in registers; whether every weight
/// is finite (shapes checked by the caller).
#[target_feature(enable = "avx512f")]
pub(super) fn to_input_major(w: &[f32], (t, layout): (&mut [f32], InputMajor)) -> bool {
    let inputs = layout.inputs;
    let padded = layout.slab_len() / VECTOR;
    // The largest magnitude's bits: finite below the all-ones exponent.
    let mut largest = _mm512_setzero_si512();
    let t: &mut [Columns] = t.as_chunks_mut().0;
    for (k, slab) in t.chunks_exact_mut(padded).enumerate() {
        let rows = (layout.rows - k * VECTOR).min(VECTOR);
        for i0 in (0..padded).step_by(VECTOR) {
            let width = inputs.saturating_sub(i0).min(VECTOR);
            let start = k * VECTOR * inputs + i0;
            let tile = if (rows, width) == (VECTOR, VECTOR) {
                full_tile(w, start, inputs)
            } else {
                edge_tile(w, start, inputs, (rows, width))
            };
            let magnitude = _mm512_set1_epi32(0x7fff_ffff);
            for row in &tile {
                let bits = _mm512_and_si512(_mm512_castps_si512(*row), magnitude);
                largest = _mm512_max_epu32(largest, bits);
            }
            let columns = transpose(tile);
            let out = &mut slab[i0..(i0 + VECTOR).min(padded)];
            for (o, column) in out.iter_mut().zip(columns) {
                *o = cast(column);
            }
        }
    }
    let infinity = _mm512_set1_epi32(0x7f80_0000);
    _mm512_cmpge_epu32_mask(largest, infinity) == 0
}

/// SGD on input-major `wt` and `vt` with the row-major gradient `grads`:
/// each sixteen-by-sixteen tile of the gradient (zero-padded at the edges)
/// transposed in registers, then the update of
/// `tinymlp::optim::Sgd::update_slice` on the sixteen input vectors it
/// gives (the same operations in the same order), its lanes past the last
/// row left as they were. Whether every weight is finite.
#[target_feature(enable = "avx512f")]
pub(super) fn sgd_update_input_major(
    (sgd, kind, grad_scale): (Sgd, TensorKind, f32),
    grads: &[f32],
    (wt, vt, layout): (&mut [f32], &mut [f32], InputMajor),
) -> bool {
    let inputs = layout.inputs;
    let padded = layout.slab_len() / VECTOR;
    let magnitude = _mm512_set1_epi32(0x7fff_ffff);
    let mut largest = _mm512_setzero_si512();
    let step = SgdStep::new(sgd, kind, grad_scale);
    let wt: &mut [Columns] = wt.as_chunks_mut().0;
    let vt: &mut [Columns] = vt.as_chunks_mut().0;
    let slabs = wt.chunks_exact_mut(padded).zip(vt.chunks_exact_mut(padded));
    for (k, (w_slab, v_slab)) in slabs.enumerate() {
        let rows = (layout.rows - k * VECTOR).min(VECTOR);
        let lanes = ((1u32 << rows) - 1) as __mmask16;
        for i0 in (0..padded).step_by(VECTOR) {
            let width = inputs.saturating_sub(i0).min(VECTOR);
            let start = k * VECTOR * inputs + i0;
            let tile = if (rows, width) == (VECTOR, VECTOR) {
                full_tile(grads, start, inputs)
            } else {
                edge_tile(grads, start, inputs, (rows, width))
            };
            let w = &mut w_slab[i0..i0 + width];
            let v = &mut v_slab[i0..i0 + width];
            for ((w, v), g) in w.iter_mut().zip(v).zip(transpose(tile)) {
                let p = cast(*w);
                let new = if step.rule == PLAIN {
                    step.apply_plain(p, g)
                } else {
                    let (new, vel) = step.apply(p, g, cast(*v));
                    *v = cast(_mm512_mask_blend_ps(lanes, cast(*v), vel));
                    new
                };
                let new = _mm512_mask_blend_ps(lanes, p, new);
                *w = cast(new);
                let bits = _mm512_and_si512(_mm512_castps_si512(new), magnitude);
                largest = _mm512_max_epu32(largest, bits);
            }
        }
    }
    _mm512_cmpge_epu32_mask(largest, _mm512_set1_epi32(0x7f80_0000)) == 0
}

/// One SGD step's constants, and the update of sixteen weights.
#[derive(Clone, Copy)]
pub(super) struct SgdStep {
    lr: __m512,
    momentum: __m512,
    decay: __m512,
    scale: __m512,
    /// [`rule`](super::rule)'s `PLAIN`, `MOMENTUM` or `NESTEROV`.
    pub(super) rule: u8,
}

impl SgdStep {
    #[target_feature(enable = "avx512f")]
    pub(super) fn new(sgd: Sgd, kind: TensorKind, grad_scale: f32) -> Self {
        Self {
            lr: _mm512_set1_ps(sgd.learning_rate),
            momentum: _mm512_set1_ps(sgd.momentum),
            decay: _mm512_set1_ps(kind.decay(sgd.weight_decay)),
            scale: _mm512_set1_ps(grad_scale),
            rule: rule::of(&sgd),
        }
    }

    /// `g' = g·scale + decay·p; p' = p − lr·g'`: the new weights.
    #[target_feature(enable = "avx512f")]
    pub(super) fn apply_plain(self, p: __m512, g: __m512) -> __m512 {
        let g = _mm512_add_ps(_mm512_mul_ps(g, self.scale), _mm512_mul_ps(self.decay, p));
        _mm512_sub_ps(p, _mm512_mul_ps(self.lr, g))
    }

    /// `g' = g·scale + decay·p; v' = momentum·v + g'; p' = p − lr·update`,
    /// `update` being `g' + momentum·v'` (Nesterov) or `v'`: the new weights
    /// and velocity.
    #[target_feature(enable = "avx512f")]
    pub(super) fn apply(self, p: __m512, g: __m512, v: __m512) -> (__m512, __m512) {
        if self.rule == NESTEROV {
            self.apply_as::<true>(p, g, v)
        } else {
            self.apply_as::<false>(p, g, v)
        }
    }

    /// [`apply`](Self::apply) with `NESTEROV` (which must be whether
    /// `self.rule` is Nesterov's) fixed at compile time, for loops that
    /// choose once.
    #[target_feature(enable = "avx512f")]
    pub(super) fn apply_as<const NESTEROV: bool>(
        self,
        p: __m512,
        g: __m512,
        v: __m512,
    ) -> (__m512, __m512) {
        let g = _mm512_add_ps(_mm512_mul_ps(g, self.scale), _mm512_mul_ps(self.decay, p));
        let v = _mm512_add_ps(_mm512_mul_ps(self.momentum, v), g);
        let update = if NESTEROV {
            _mm512_add_ps(g, _mm512_mul_ps(self.momentum, v))
        } else {
            v
        };
        (_mm512_sub_ps(p, _mm512_mul_ps(self.lr, update)), v)
    }
}

/// Sixteen whole rows of sixteen from `w[start..]`, `inputs` apart.
#[target_feature(enable = "avx512f")]
fn full_tile(w: &[f32], start: usize, inputs: usize) -> [__m512; VECTOR] {
    let rows = &w[start..start + (VECTOR - 1) * inputs + VECTOR];
    core::array::from_fn(|r| {
        let row: &Columns = rows[r * inputs..][..VECTOR].try_into().expect("16 values");
        cast(*row)
    })
}

/// The first `rows` rows of `width` values from `w[start..]`, `inputs`
/// apart, the rest of the tile zeros.
#[target_feature(enable = "avx512f")]
fn edge_tile(
    w: &[f32],
    start: usize,
    inputs: usize,
    (rows, width): (usize, usize),
) -> [__m512; VECTOR] {
    core::array::from_fn(|r| {
        let mut row = [0.0f32; VECTOR];
        if r < rows {
            row[..width].copy_from_slice(&w[start + r * inputs..][..width]);
        }
        cast(row)
    })
}

/// A 16 × 16 tile transposed: `out[c][r] = rows[r][c]`.
#[target_feature(enable = "avx512f")]
fn transpose(rows: [__m512; VECTOR]) -> [__m512; VECTOR] {
    // Pairs of rows interleaved within each 128-bit lane.
    let t: [__m512; VECTOR] = core::array::from_fn(|j| {
        let (a, b) = (rows[j & !1], rows[j | 1]);
        if j % 2 == 0 {
            _mm512_unpacklo_ps(a, b)
        } else {
            _mm512_unpackhi_ps(a, b)
        }
    });
    // u[4q + m]: rows 4q..4q + 4 of columns m, m + 4, m + 8, m + 12.
    let u: [__m512; VECTOR] = core::array::from_fn(|j| {
        let (q, m) = (j / 4, j % 4);
        let (a, b) = (t[4 * q + m / 2], t[4 * q + 2 + m / 2]);
        if m % 2 == 0 {
            _mm512_shuffle_ps::<0x44>(a, b)
        } else {
            _mm512_shuffle_ps::<0xEE>(a, b)
        }
    });
    let mut out = [_mm512_setzero_ps(); VECTOR];
    for m in 0..4 {
        let x0 = _mm512_shuffle_f32x4::<0x88>(u[m], u[4 + m]);
        let x1 = _mm512_shuffle_f32x4::<0xDD>(u[m], u[4 + m]);
        let y0 = _mm512_shuffle_f32x4::<0x88>(u[8 + m], u[12 + m]);
        let y1 = _mm512_shuffle_f32x4::<0xDD>(u[8 + m], u[12 + m]);
        out[m] = _mm512_shuffle_f32x4::<0x88>(x0, y0);
        out[m + 8] = _mm512_shuffle_f32x4::<0xDD>(x0, y0);
        out[m + 4] = _mm512_shuffle_f32x4::<0x88>(x1, y1);
        out[m + 12] = _mm512_shuffle_f32x4::<0xDD>(x1, y1);
    }
    out
}
