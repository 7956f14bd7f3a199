//! The AVX-512 kernels of [`FFast`](super::FFast) ([`run`]), and in [`avx2`]
//! the AVX2 forms of all but the transposed product and the input-major
//! copy. Safe code throughout: the
//! intrinsics are safe inside `#[target_feature]` functions, and vectors are
//! loaded and stored by `bytemuck` casts of `f32` arrays.

use std::arch::x86_64::*;
use std::cell::RefCell;
use std::ops::Range;

use aligned_vec::{AVec, ConstAlign};
use bytemuck::cast;
use tinymlp::batch::{Rows, RANK_K_GROUP};
use tinymlp::kernels::LANES;

use super::{Kernel, Sums, Transposed};

pub(super) mod avx2;
pub(super) mod exp;
pub(super) mod fused;
pub(super) mod pixels;
pub(super) mod rule;
pub(super) mod sparse;

/// Runs `kernel` with AVX-512.
#[target_feature(enable = "avx512f")]
pub(super) fn run(kernel: Kernel<'_, '_>) {
    match kernel {
        Kernel::Forward {
            w,
            b,
            row0,
            xs,
            ys,
            outputs,
        } => forward_rows(w, b, row0, xs, ys, outputs),
        Kernel::RankK {
            g,
            row0,
            dys,
            xs,
            sums,
        } => rank_k_rows(g, row0, dys, xs, sums),
        Kernel::Transposed {
            w,
            dys,
            dxs,
            t,
            cols,
        } => matvec_t(w, dys, dxs, t, cols),
        Kernel::SparseForward {
            wt,
            b,
            row0,
            xs,
            ys,
        } => sparse::forward(wt, b, row0, xs, ys),
        Kernel::ToInputMajor { w, t, finite } => *finite = sparse::to_input_major(w, t),
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
        Kernel::Pixels { pixels, x } => pixels::pixels_to_inputs(pixels, x),
        Kernel::Exp { values } => exp::exp(values),
        Kernel::Prefetch { data } => prefetch(data),
    }
}

/// `_mm_prefetch` of every cache line `data` touches, into every level
/// (SSE: every x86-64 CPU, and so both vector paths, has it).
#[target_feature(enable = "sse")]
fn prefetch(data: &[u8]) {
    for i in super::prefetch::line_starts(data.as_ptr() as usize, data.len()) {
        _mm_prefetch::<_MM_HINT_T0>(core::ptr::from_ref(&data[i]).cast());
    }
}

/// Sample pairs per block of [`forward_rows`] (each pair fills one zmm).
const PAIRS: usize = 4;
/// Weight rows per block of [`forward_rows`]: `ROWS × PAIRS` = 16 accumulators.
const ROWS: usize = 4;
/// One chunk of [`PAIRS`] sample pairs: `[pair][x_s chunk, x_{s+1} chunk]`.
type PackedChunk = [[[f32; LANES]; 2]; PAIRS];

thread_local! {
    /// The interleaved inputs of one block of samples, reused between calls;
    /// on a cache line, so each 512-bit load of a pair sits in one.
    static PACKED: RefCell<AVec<PackedChunk, ConstAlign<{ super::CACHE_LINE }>>> =
        RefCell::new(AVec::new(0));
}

/// `ys[s][row0 + o] = dot(w[o], xs[s]) + b[o]` in `tinymlp`'s canonical
/// order (shapes checked by the caller).
#[target_feature(enable = "avx512f")]
fn forward_rows(w: &[f32], b: &[f32], row0: usize, xs: Rows<'_>, ys: &mut [f32], outputs: usize) {
    let (rows, cols, n) = (b.len(), xs.width, xs.len());
    PACKED.with_borrow_mut(|packed| {
        packed.resize(cols.div_ceil(LANES), [[[0.0; LANES]; 2]; PAIRS]);
        for s0 in (0..n).step_by(2 * PAIRS) {
            let count = (n - s0).min(2 * PAIRS);
            pack(xs, s0, count, packed);
            let mut store = |o: usize, sums: &[[f32; 2 * PAIRS]]| {
                for (r, sums) in sums.iter().enumerate() {
                    for (k, sum) in sums[..count].iter().enumerate() {
                        ys[(s0 + k) * outputs + row0 + o + r] = sum + b[o + r];
                    }
                }
            };
            let mut o = 0;
            while o + ROWS <= rows {
                store(o, &block::<ROWS>(w, cols, o, packed));
                o += ROWS;
            }
            while o < rows {
                store(o, &block::<1>(w, cols, o, packed));
                o += 1;
            }
        }
    });
}

/// Samples `s0..s0 + count` of `xs` interleaved in pairs, chunk by chunk
/// (`packed` holds `xs.width.div_ceil(LANES)` chunks); missing samples and
/// the tail past `xs.width` are zeros.
fn pack(xs: Rows<'_>, s0: usize, count: usize, packed: &mut [PackedChunk]) {
    let (full, tail) = (xs.width / LANES, xs.width % LANES);
    for k in 0..2 * PAIRS {
        let (pair, half) = (k / 2, k % 2);
        if k >= count {
            packed.iter_mut().for_each(|c| c[pair][half] = [0.0; LANES]);
            continue;
        }
        let (chunks, rest) = xs.get(s0 + k).as_chunks::<LANES>();
        for (c, x) in packed.iter_mut().zip(chunks) {
            c[pair][half] = *x;
        }
        if tail > 0 {
            let mut last = [0.0; LANES];
            last[..tail].copy_from_slice(rest);
            packed[full][pair][half] = last;
        }
    }
}

/// The canonical dot products of rows `o..o + R` with the (up to) eight
/// packed samples: `sums[r][k]` for sample `k` of the block.
#[target_feature(enable = "avx512f")]
fn block<const R: usize>(
    w: &[f32],
    cols: usize,
    o: usize,
    packed: &[PackedChunk],
) -> [[f32; 2 * PAIRS]; R] {
    let full = cols / LANES;
    let rows: [&[[f32; LANES]]; R] =
        core::array::from_fn(|r| w[(o + r) * cols..][..full * LANES].as_chunks().0);
    let packed_full = &packed[..full];
    // Lets LLVM drop the bounds checks of `rows[r][c]` below.
    assert!(rows.iter().all(|r| r.len() == full));
    let mut acc = [[_mm512_setzero_ps(); PAIRS]; R];
    for (c, x) in packed_full.iter().enumerate() {
        let x = x.map(cast::<[[f32; LANES]; 2], __m512>);
        for r in 0..R {
            mac(&mut acc[r], broadcast(&rows[r][c]), &x);
        }
    }
    if full * LANES < cols {
        // The zero-padded tail, as `tinymlp::kernels::mac_tail`.
        let x = packed[full].map(cast::<[[f32; LANES]; 2], __m512>);
        for (r, acc) in acc.iter_mut().enumerate() {
            let mut tail = [0.0f32; LANES];
            let row = &w[(o + r) * cols..][..cols];
            tail[..cols - full * LANES].copy_from_slice(&row[full * LANES..]);
            mac(acc, broadcast(&tail), &x);
        }
    }
    acc.map(|acc| {
        let mut sums = [0.0; 2 * PAIRS];
        for (pair, v) in acc.into_iter().enumerate() {
            [sums[2 * pair], sums[2 * pair + 1]] = reduce_halves(v);
        }
        sums
    })
}

/// `acc[p] += w · x[p]` lane by lane: a rounded product, then a rounded sum.
#[target_feature(enable = "avx512f")]
fn mac(acc: &mut [__m512; PAIRS], w: __m512, x: &[__m512; PAIRS]) {
    for (a, x) in acc.iter_mut().zip(x) {
        *a = _mm512_add_ps(*a, _mm512_mul_ps(w, *x));
    }
}

/// One weight chunk in both 256-bit halves.
#[target_feature(enable = "avx512f")]
fn broadcast(chunk: &[f32; LANES]) -> __m512 {
    let v = cast::<[f32; LANES], __m256>(*chunk);
    _mm512_castpd_ps(_mm512_broadcast_f64x4(_mm256_castps_pd(v)))
}

/// `tinymlp::kernels::reduce_lanes` of each 256-bit half:
/// `((a0+a4)+(a2+a6)) + ((a1+a5)+(a3+a7))`, the same additions on the same operands.
#[target_feature(enable = "avx512f")]
fn reduce_halves(a: __m512) -> [f32; 2] {
    // Lane l of each half gets a_l + a_{l+4} (128-bit blocks swapped in pairs).
    let s = _mm512_add_ps(a, _mm512_shuffle_f32x4::<0b10_11_00_01>(a, a));
    // Lanes 0 and 1: s0 + s2 and s1 + s3.
    let t = _mm512_add_ps(s, _mm512_permute_ps::<0b01_00_11_10>(s));
    // Lane 0: t0 + t1.
    let r = _mm512_add_ps(t, _mm512_permute_ps::<0b10_11_00_01>(t));
    let lanes = cast::<__m512, [f32; 2 * LANES]>(r);
    [lanes[0], lanes[LANES]]
}

/// Gradient rows whose sparse sample lists [`rank_k_rows`] keeps at once.
const RANK_ROWS: usize = 64;
/// Columns held in registers per pass of [`rank_k_rows`]: eight zmm, so eight
/// independent add chains cover the add latency.
const RANK_VECTORS: usize = 8;

/// `G[o][i] += Σ_s dys[s][row0 + o]·xs[s][i]`, each element's samples in
/// ascending order, zero gradients skipped, and where the sums start from
/// zero the columns whose inputs are all zero too (shapes checked by the caller):
/// the additions of `tinymlp::batch::rank_k_rows`, combined with `g` as
/// `sums` says ([`Sums::AddWhole`] for at most [`RANK_K_GROUP`] samples).
#[target_feature(enable = "avx512f")]
fn rank_k_rows(g: &mut [f32], row0: usize, dys: Rows<'_>, xs: Rows<'_>, sums: Sums) {
    rank_k_groups((g, row0), dys, xs, sums, |g, row0, dys, xs, sums| {
        rank_k_group(g, row0, dys, xs, sums)
    });
}

/// Calls `group` on each block of at most [`RANK_ROWS`] rows of `g` (rows
/// `row0..` of the gradient) with each group of at most [`RANK_K_GROUP`]
/// samples, in ascending order, the sums of later groups continuing from
/// the earlier ones'. Without samples, the empty sums go into `g` as
/// `sums` says. (The driver of both vector forms of the rank-k gradient.)
fn rank_k_groups(
    (g, row0): (&mut [f32], usize),
    dys: Rows<'_>,
    xs: Rows<'_>,
    sums: Sums,
    mut group: impl FnMut(&mut [f32], usize, Rows<'_>, Rows<'_>, Sums),
) {
    let cols = xs.width;
    let rows = g.len() / cols;
    assert!(sums != Sums::AddWhole || xs.len() <= RANK_K_GROUP);
    if xs.is_empty() {
        match sums {
            Sums::Continue => {}
            Sums::Overwrite => g.fill(0.0),
            Sums::AddWhole => g.iter_mut().for_each(|g| *g += 0.0),
        }
    }
    for (first, block) in (0..rows)
        .step_by(RANK_ROWS)
        .zip(g.chunks_mut(RANK_ROWS * cols))
    {
        for s0 in (0..xs.len()).step_by(RANK_K_GROUP) {
            let end = (s0 + RANK_K_GROUP).min(xs.len());
            let dys = Rows::new(&dys.data[s0 * dys.width..end * dys.width], dys.width);
            let xs = Rows::new(&xs.data[s0 * cols..end * cols], cols);
            let sums = if s0 == 0 { sums } else { Sums::Continue };
            group(block, row0 + first, dys, xs, sums);
        }
    }
}

/// The columns `cols` of every row of `g` one by one: the chains of the
/// vector forms, for the columns past their last whole vector.
fn rank_cols_one_by_one(
    g: &mut [f32],
    cols: Range<usize>,
    lists: &SampleLists,
    xs: Rows<'_>,
    sums: Sums,
) {
    for (o, g) in g.chunks_exact_mut(xs.width).enumerate() {
        let (idx, val) = lists.get(o);
        for (i, g) in g.iter_mut().enumerate().take(cols.end).skip(cols.start) {
            let mut sum = if sums == Sums::Continue { *g } else { 0.0 };
            for (&s, &d) in idx.iter().zip(val) {
                sum += d * xs.get(usize::from(s))[i];
            }
            *g = if sums == Sums::AddWhole {
                *g + sum
            } else {
                sum
            };
        }
    }
}

/// Per gradient row, the samples whose gradient is not zero, ascending;
/// and whether all those gradients are finite.
struct SampleLists {
    count: [u8; RANK_ROWS],
    idx: [[u8; RANK_K_GROUP]; RANK_ROWS],
    val: [[f32; RANK_K_GROUP]; RANK_ROWS],
    finite: bool,
}

impl SampleLists {
    fn new(dys: Rows<'_>, row0: usize, rows: usize) -> Self {
        let mut lists = SampleLists {
            count: [0; RANK_ROWS],
            idx: [[0; RANK_K_GROUP]; RANK_ROWS],
            val: [[0.0; RANK_K_GROUP]; RANK_ROWS],
            finite: true,
        };
        for s in 0..dys.len() {
            for (o, &d) in dys.get(s)[row0..row0 + rows].iter().enumerate() {
                // Branch-free append; the slot is overwritten when `d == 0`.
                let k = usize::from(lists.count[o]);
                lists.idx[o][k] = s as u8;
                lists.val[o][k] = d;
                lists.count[o] += u8::from(d != 0.0);
                lists.finite &= d.is_finite();
            }
        }
        lists
    }

    fn get(&self, o: usize) -> (&[u8], &[f32]) {
        let k = usize::from(self.count[o]);
        (&self.idx[o][..k], &self.val[o][..k])
    }
}

/// One group of at most [`RANK_K_GROUP`] samples into at most
/// [`RANK_ROWS`] rows, combined with `g` as `sums` says.
#[target_feature(enable = "avx512f")]
fn rank_k_group(g: &mut [f32], row0: usize, dys: Rows<'_>, xs: Rows<'_>, sums: Sums) {
    let cols = xs.width;
    let lists = SampleLists::new(dys, row0, g.len() / cols);
    // Where every sample's inputs are zero, every product is `d·0 = ±0.0`
    // (finite `d`), and a chain from `+0.0` of those is `+0.0`: written as
    // such, or added to `g` as such, without the products. (MNIST: the
    // image's top and bottom rows, an eighth of the columns of a shard.)
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
    while col + RANK_VECTORS * 2 * LANES <= span.end {
        for (o, g) in g.chunks_exact_mut(cols).enumerate() {
            rank_cols::<RANK_VECTORS>(g, col, lists.get(o), xs, sums);
        }
        col += RANK_VECTORS * 2 * LANES;
    }
    // The whole vectors left in passes of four, two and one, so that a
    // narrow layer (the output layer's 64 columns: four vectors) keeps
    // several add chains going rather than waiting on one at a time.
    for vectors in [4, 2, 1] {
        if col + vectors * 2 * LANES > span.end {
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
        col += vectors * 2 * LANES;
    }
    // Eight more columns in a ymm register rather than one by one (600
    // inputs: 37 vectors of sixteen and eight columns).
    if col + LANES <= span.end {
        for (o, g) in g.chunks_exact_mut(cols).enumerate() {
            avx2::rank_cols_ymm(g, col, lists.get(o), xs, sums);
        }
        col += LANES;
    }
    rank_cols_one_by_one(g, col..span.end, &lists, xs, sums);
}

/// Sums of only `±0.0` products put into `g` (whole vectors of sixteen):
/// `+0.0` written, or added.
#[target_feature(enable = "avx512f")]
fn zero_sums(g: &mut [f32], sums: Sums) {
    let (vectors, rest) = g.as_chunks_mut::<{ 2 * LANES }>();
    debug_assert!(rest.is_empty());
    for g in vectors {
        *g = match sums {
            Sums::AddWhole => cast(_mm512_add_ps(cast(*g), _mm512_setzero_ps())),
            Sums::Continue | Sums::Overwrite => [0.0; 2 * LANES],
        };
    }
}

/// The columns from the first vector of sixteen where some sample's input
/// is not `±0.0` (NaN counts) to the last such vector, or to the end when
/// the width is not a multiple of sixteen (the partial vector is not looked
/// at); empty when every input is zero.
#[target_feature(enable = "avx512f")]
fn nonzero_span(xs: Rows<'_>) -> Range<usize> {
    let (cols, vectors) = (xs.width, xs.width / (2 * LANES));
    let nonzero = |v: usize| {
        (0..xs.len()).any(|s| {
            let x: &[f32; 2 * LANES] = xs.get(s)[v * 2 * LANES..][..2 * LANES]
                .try_into()
                .expect("sixteen inputs");
            _mm512_cmpneq_ps_mask(cast(*x), _mm512_setzero_ps()) != 0
        })
    };
    let first = (0..vectors).find(|&v| nonzero(v)).unwrap_or(vectors);
    let end = if cols % (2 * LANES) != 0 {
        cols
    } else {
        (first..vectors)
            .rev()
            .find(|&v| nonzero(v))
            .map_or(cols, |v| (v + 1) * 2 * LANES)
    };
    first * 2 * LANES..end
}

/// `g[col..col + 16·V] += Σ_k val[k]·xs[idx[k]][col..col + 16·V]`, `k`
/// ascending, the sums held in `V` zmm registers for the whole list, which
/// start from `g` or from `+0.0` as `sums` says.
#[target_feature(enable = "avx512f")]
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
    let g: &mut [[f32; 2 * LANES]] = g[col..col + V * 2 * LANES].as_chunks_mut().0;
    let mut acc: [__m512; V] = if sums == Sums::Continue {
        core::array::from_fn(|v| cast(g[v]))
    } else {
        [_mm512_setzero_ps(); V]
    };
    for (&s, &d) in idx.iter().zip(val) {
        let x: &[[f32; 2 * LANES]] = xs.get(usize::from(s))[col..col + V * 2 * LANES]
            .as_chunks()
            .0;
        let d = _mm512_set1_ps(d);
        for v in 0..V {
            acc[v] = _mm512_add_ps(acc[v], _mm512_mul_ps(d, cast(x[v])));
        }
    }
    for (g, acc) in g.iter_mut().zip(acc) {
        *g = match sums {
            // The whole sum added once: the bits of `g + sum` per element.
            Sums::AddWhole => cast(_mm512_add_ps(cast(*g), acc)),
            Sums::Continue | Sums::Overwrite => cast(acc),
        };
    }
}

/// Samples per block of [`matvec_t`].
const T_SAMPLES: usize = 4;
/// zmm vectors of columns per block of [`matvec_t`]: `T_SAMPLES × T_VECTORS`
/// = 16 accumulators.
const T_VECTORS: usize = 4;

/// `dxs[s][i] (+)= Σ_r W[r][i]·dys[s][row0 + r]` for `i` in `cols`, each
/// element one chain of additions in ascending `r` (shapes checked by the
/// caller): the additions of `tinymlp::batch::matvec_t_batch_part`.
#[target_feature(enable = "avx512f")]
fn matvec_t(
    w: &[f32],
    dys: Rows<'_>,
    dxs: &mut [f32],
    t: Transposed,
    cols: core::ops::Range<usize>,
) {
    let n = dys.len();
    let mut s = 0;
    while s + T_SAMPLES <= n {
        t_samples::<T_SAMPLES>(w, dys, dxs, t, (s, cols.clone()));
        s += T_SAMPLES;
    }
    while s < n {
        t_samples::<1>(w, dys, dxs, t, (s, cols.clone()));
        s += 1;
    }
}

/// The columns `cols` of samples `s0..s0 + C`: blocks of `16·T_VECTORS`,
/// then of 16, then one column at a time.
#[target_feature(enable = "avx512f")]
fn t_samples<const C: usize>(
    w: &[f32],
    dys: Rows<'_>,
    dxs: &mut [f32],
    t: Transposed,
    (s0, cols): (usize, core::ops::Range<usize>),
) {
    let mut col = cols.start;
    while col + T_VECTORS * 2 * LANES <= cols.end {
        t_block::<T_VECTORS, C>(w, dys, dxs, t, (col, s0));
        col += T_VECTORS * 2 * LANES;
    }
    while col + 2 * LANES <= cols.end {
        t_block::<1, C>(w, dys, dxs, t, (col, s0));
        col += 2 * LANES;
    }
    let rows = w.len() / t.inputs;
    for i in col..cols.end {
        for s in s0..s0 + C {
            let dx = &mut dxs[s * t.inputs + i];
            let mut acc = if t.add { *dx } else { 0.0 };
            for o in 0..rows {
                acc += w[o * t.inputs + i] * dys.get(s)[t.row0 + o];
            }
            *dx = acc;
        }
    }
}

/// `16·V` columns from `col` of samples `s0..s0 + C`, in `C × V` zmm sums.
#[target_feature(enable = "avx512f")]
fn t_block<const V: usize, const C: usize>(
    w: &[f32],
    dys: Rows<'_>,
    dxs: &mut [f32],
    t: Transposed,
    (col, s0): (usize, usize),
) {
    let width = V * 2 * LANES;
    let slot = |s: usize| (s0 + s) * t.inputs + col..(s0 + s) * t.inputs + col + width;
    let mut acc = [[_mm512_setzero_ps(); V]; C];
    if t.add {
        for (s, acc) in acc.iter_mut().enumerate() {
            let stored: &[[f32; 2 * LANES]] = dxs[slot(s)].as_chunks().0;
            *acc = core::array::from_fn(|v| cast(stored[v]));
        }
    }
    for o in 0..w.len() / t.inputs {
        let row: &[[f32; 2 * LANES]] = w[o * t.inputs + col..][..width].as_chunks().0;
        let wv: [__m512; V] = core::array::from_fn(|v| cast(row[v]));
        for (s, acc) in acc.iter_mut().enumerate() {
            let d = _mm512_set1_ps(dys.get(s0 + s)[t.row0 + o]);
            for (a, w) in acc.iter_mut().zip(&wv) {
                *a = _mm512_add_ps(*a, _mm512_mul_ps(*w, d));
            }
        }
    }
    for (s, acc) in acc.iter().enumerate() {
        let out: &mut [[f32; 2 * LANES]] = dxs[slot(s)].as_chunks_mut().0;
        for (o, a) in out.iter_mut().zip(acc) {
            *o = cast(*a);
        }
    }
}
