//! Mini-batch kernels for the host trainer.
//!
//! The per-sample path ([`Network::train_sample`](crate::Network::train_sample)) loads every weight once per
//! sample: one multiply-add per load for the forward pass and a load, a
//! multiply-add and a *store* of the gradient for the backward pass. The
//! kernels here work on a batch of samples at once so that one weight (or
//! gradient) load serves many multiply-adds.
//!
//! # Bit-exactness
//!
//! Every kernel here gives the same bits as the per-sample kernel it replaces;
//! blocking only interleaves independent sums:
//!
//! - [`forward_batch`]: `ys[s][o] == kernels::dot(row o, xs[s]) + b[o]`, the
//!   canonical order of [`kernels::matvec`].
//! - [`rank_k`]: equals `xs.len()` successive [`kernels::rank1`] calls in
//!   ascending sample order, zero-gradient skipping included.
//! - [`matvec_t_batch`]: `dxs[s]` equals [`kernels::matvec_t`] of `dys[s]`.
//!
//! Consequently a batch trainer built from them (the host's) accumulates
//! exactly the bits that [`Network::train_sample`](crate::Network::train_sample)
//! on the same samples, in order, would accumulate. The tests in
//! `core/tests/batch.rs` check all of this with `to_bits` equality.
//!
//! Shapes are run-time values here (a batch is a [`Rows`] view of a flat
//! slice), so the same kernels serve the const-generic [`Dense`](crate::Dense)
//! and a host network whose widths come from the command line. They keep up
//! to [`RANK_K_GROUP`] samples' worth of sparse row lists on the stack (about
//! 10 KB in [`rank_k`]).
//!
//! [`kernels::matvec`]: crate::kernels::matvec
//! [`kernels::rank1`]: crate::kernels::rank1
//! [`kernels::matvec_t`]: crate::kernels::matvec_t
//! [`kernels::dot`]: crate::kernels::dot

use crate::kernels::{chunked, dot_1x1, dot_1x4, mac_lanes, mac_tail, reduce_all, row, LANES};

/// Weight rows per register block of [`forward_batch`] (fixed: the 4 × 4 kernel is written out).
pub const FORWARD_ROWS: usize = 4;
/// Samples per register block of [`forward_batch`].
///
/// `FORWARD_ROWS × FORWARD_SAMPLES` dot products run at once, each with
/// [`LANES`] partial sums: 16 vector accumulators, and every loaded weight
/// chunk serves four samples.
pub const FORWARD_SAMPLES: usize = 4;

/// Samples whose gradient rows [`rank_k`] gathers per pass over `G`.
///
/// Each gradient chunk is loaded and stored once per group of this many samples.
pub const RANK_K_GROUP: usize = 32;

/// Gradient columns held in registers per pass of [`rank_k`] (8 vectors of 8).
const RANK_K_COLS: usize = 64;

/// Gradient rows whose sparse sample lists [`rank_k`] keeps at once (on the
/// stack: `RANK_K_ROWS × 161` bytes).
#[cfg(not(target_arch = "arm"))]
const RANK_K_ROWS: usize = 64;
#[cfg(target_arch = "arm")]
const RANK_K_ROWS: usize = 8;

/// Columns per block of [`matvec_t_batch`].
const T_COLS: usize = 16;
/// Samples per block of [`matvec_t_batch`].
const T_SAMPLES: usize = 4;

/// Sixteen canonical dot products `w[r] · x[s]` in one pass: every loaded
/// chunk of a row serves four samples and vice versa. Every slice has one length.
///
/// Written out by hand: with loops over `r` and `s`, LLVM vectorises across
/// rows (gathers) instead of across lanes.
#[inline(always)]
fn dot_4x4(w: [&[f32]; 4], x: [&[f32]; 4]) -> [[f32; 4]; 4] {
    let n = x[0].len() / LANES;
    let [(w0, wt0), (w1, wt1), (w2, wt2), (w3, wt3)] = chunked(w, n);
    let [(x0, xt0), (x1, xt1), (x2, xt2), (x3, xt3)] = chunked(x, n);
    let mut acc = [[[0.0f32; LANES]; 4]; 4];
    {
        let [[a00, a01, a02, a03], [a10, a11, a12, a13], [a20, a21, a22, a23], [a30, a31, a32, a33]] =
            &mut acc;
        for c in 0..n {
            let (w0, w1, w2, w3) = (&w0[c], &w1[c], &w2[c], &w3[c]);
            let (x0, x1, x2, x3) = (&x0[c], &x1[c], &x2[c], &x3[c]);
            mac_lanes(a00, w0, x0);
            mac_lanes(a01, w0, x1);
            mac_lanes(a02, w0, x2);
            mac_lanes(a03, w0, x3);
            mac_lanes(a10, w1, x0);
            mac_lanes(a11, w1, x1);
            mac_lanes(a12, w1, x2);
            mac_lanes(a13, w1, x3);
            mac_lanes(a20, w2, x0);
            mac_lanes(a21, w2, x1);
            mac_lanes(a22, w2, x2);
            mac_lanes(a23, w2, x3);
            mac_lanes(a30, w3, x0);
            mac_lanes(a31, w3, x1);
            mac_lanes(a32, w3, x2);
            mac_lanes(a33, w3, x3);
        }
        mac_tail(a00, wt0, xt0);
        mac_tail(a01, wt0, xt1);
        mac_tail(a02, wt0, xt2);
        mac_tail(a03, wt0, xt3);
        mac_tail(a10, wt1, xt0);
        mac_tail(a11, wt1, xt1);
        mac_tail(a12, wt1, xt2);
        mac_tail(a13, wt1, xt3);
        mac_tail(a20, wt2, xt0);
        mac_tail(a21, wt2, xt1);
        mac_tail(a22, wt2, xt2);
        mac_tail(a23, wt2, xt3);
        mac_tail(a30, wt3, xt0);
        mac_tail(a31, wt3, xt1);
        mac_tail(a32, wt3, xt2);
        mac_tail(a33, wt3, xt3);
    }
    reduce_all(acc)
}

/// A batch of samples stored row-major, `width` values each.
#[derive(Clone, Copy, Debug)]
pub struct Rows<'a> {
    /// `len × width` values, sample after sample.
    pub data: &'a [f32],
    /// Values per sample.
    pub width: usize,
}

impl<'a> Rows<'a> {
    /// Samples of `width` values; panics unless `data` holds whole samples.
    pub fn new(data: &'a [f32], width: usize) -> Self {
        assert!(width > 0, "rows of width 0");
        assert_eq!(data.len() % width, 0, "rows: not a whole number of samples");
        Self { data, width }
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.data.len() / self.width
    }

    /// True when there are no samples.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// Sample `s`.
    #[inline(always)]
    pub fn get(&self, s: usize) -> &'a [f32] {
        row(self.data, self.width, s)
    }
}

/// Batched forward pass of a dense layer: `ys[s] = W·xs[s] + b` for every sample.
///
/// `w` is row-major `[b.len()][xs.width]`; `ys` holds `xs.len()` samples of
/// `b.len()` values. Register-blocked over [`FORWARD_ROWS`] rows ×
/// [`FORWARD_SAMPLES`] samples. Each `ys[s][o]` is bit-identical to
/// `kernels::dot(row o, xs[s]) + b[o]`, i.e. to [`kernels::matvec`](crate::kernels::matvec) of that sample.
///
/// # Panics
/// If the lengths do not fit together.
pub fn forward_batch(w: &[f32], b: &[f32], xs: Rows<'_>, ys: &mut [f32]) {
    forward_batch_rows(w, b, 0, xs, ys, b.len());
}

/// [`forward_batch`] for the consecutive rows `row0..row0 + b.len()` of a
/// layer with `outputs` rows: `ys[s][row0 + r] = dot(w[r], xs[s]) + b[r]`, the
/// same bits as the whole-layer call gives for those rows; the other entries
/// of `ys` (samples of `outputs` values) are left alone. (For splitting a
/// layer's rows over threads.)
///
/// # Panics
/// If the lengths do not fit together or the rows do not fit in `outputs`.
pub fn forward_batch_rows(
    w: &[f32],
    b: &[f32],
    row0: usize,
    xs: Rows<'_>,
    ys: &mut [f32],
    outputs: usize,
) {
    let (rows, cols, n) = (b.len(), xs.width, xs.len());
    assert_eq!(
        w.len(),
        rows * cols,
        "forward_batch: weights are not rows × inputs"
    );
    assert_eq!(
        ys.len(),
        n * outputs,
        "forward_batch: outputs are not samples × rows"
    );
    assert!(row0 + rows <= outputs, "forward_batch: rows out of range");
    const R: usize = FORWARD_ROWS;
    const C: usize = FORWARD_SAMPLES;
    let w_row = |o: usize| row(w, cols, o);
    let mut s = 0;
    while s + C <= n {
        let x: [&[f32]; C] = core::array::from_fn(|k| xs.get(s + k));
        let mut o = 0;
        while o + R <= rows {
            let sums = dot_4x4(core::array::from_fn(|r| w_row(o + r)), x);
            for (r, sums) in sums.iter().enumerate() {
                for (k, sum) in sums.iter().enumerate() {
                    ys[(s + k) * outputs + row0 + o + r] = sum + b[o + r];
                }
            }
            o += R;
        }
        while o < rows {
            let sums = dot_1x4(w_row(o), x);
            for (k, sum) in sums.iter().enumerate() {
                ys[(s + k) * outputs + row0 + o] = sum + b[o];
            }
            o += 1;
        }
        s += C;
    }
    while s < n {
        let x = xs.get(s);
        let y = &mut ys[s * outputs + row0..][..rows];
        let mut o = 0;
        while o + R <= rows {
            let sums = dot_1x4(x, core::array::from_fn(|r| w_row(o + r)));
            for (r, sum) in sums.iter().enumerate() {
                y[o + r] = sum + b[o + r];
            }
            o += R;
        }
        while o < rows {
            y[o] = dot_1x1(w_row(o), x) + b[o];
            o += 1;
        }
        s += 1;
    }
}

/// `g[col..col+W] += Σ_k val[k]·xs[idx[k]][col..col+W]`, `k` ascending,
/// with the `W` sums held in registers for the whole list.
#[inline(always)]
fn rank_k_cols<const W: usize>(g: &mut [f32], col: usize, idx: &[u8], val: &[f32], xs: Rows<'_>) {
    let g: &mut [f32; W] = (&mut g[col..col + W]).try_into().unwrap();
    let mut acc = *g;
    for (&s, &d) in idx.iter().zip(val) {
        let x: &[f32; W] = xs.get(s as usize)[col..col + W].try_into().unwrap();
        for j in 0..W {
            acc[j] += d * x[j];
        }
    }
    *g = acc;
}

/// Rank-k gradient accumulate: `G[o][i] += Σ_s dys[s][o]·xs[s][i]`.
///
/// `g` is row-major `[dys.width][xs.width]`. Bit-identical to calling
/// [`kernels::rank1`](crate::kernels::rank1)`(g, dys[s], xs[s])` for
/// `s = 0, 1, …` in turn: for each element the samples are added one at a
/// time in ascending `s`, and samples with `dys[s][o] == 0` are skipped for
/// row `o` exactly as `rank1` skips them. The difference is the memory
/// traffic: each chunk of `G` is loaded and stored once per [`RANK_K_GROUP`]
/// samples instead of once per sample, and the sample chunks it needs stay in
/// L1 across all rows.
///
/// # Panics
/// If the lengths do not fit together.
pub fn rank_k(g: &mut [f32], dys: Rows<'_>, xs: Rows<'_>) {
    rank_k_rows(g, 0, dys, xs);
}

/// [`rank_k`] for the consecutive rows `row0..row0 + g.len() / xs.width` of
/// `G` only (`g`'s row `r` is row `row0 + r`): the same bits for those rows as
/// the whole-matrix call. (For splitting a layer's rows over threads.)
///
/// # Panics
/// If the lengths do not fit together or the rows do not fit in `dys.width`.
pub fn rank_k_rows(g: &mut [f32], row0: usize, dys: Rows<'_>, xs: Rows<'_>) {
    let cols = xs.width;
    assert_eq!(dys.len(), xs.len(), "rank_k: length mismatch");
    assert_eq!(g.len() % cols, 0, "rank_k: gradient is not rows × inputs");
    let rows = g.len() / cols;
    assert!(row0 + rows <= dys.width, "rank_k: rows out of range");
    for (first, block) in (0..rows)
        .step_by(RANK_K_ROWS)
        .zip(g.chunks_mut(RANK_K_ROWS * cols))
    {
        for s0 in (0..xs.len()).step_by(RANK_K_GROUP) {
            let end = (s0 + RANK_K_GROUP).min(xs.len());
            let dys = Rows::new(&dys.data[s0 * dys.width..end * dys.width], dys.width);
            let xs = Rows::new(&xs.data[s0 * cols..end * cols], cols);
            rank_k_group(block, row0 + first, dys, xs);
        }
    }
}

/// One group of at most [`RANK_K_GROUP`] samples into at most [`RANK_K_ROWS`] rows.
fn rank_k_group(g: &mut [f32], row0: usize, dys: Rows<'_>, xs: Rows<'_>) {
    let cols = xs.width;
    let rows = g.len() / cols;
    // Per row, the samples that contribute (non-zero gradient), ascending.
    let mut count = [0u8; RANK_K_ROWS];
    let mut idx = [[0u8; RANK_K_GROUP]; RANK_K_ROWS];
    let mut val = [[0.0f32; RANK_K_GROUP]; RANK_K_ROWS];
    for s in 0..dys.len() {
        let dy = &dys.get(s)[row0..row0 + rows];
        for (o, &d) in dy.iter().enumerate() {
            // Branch-free append; the slot is overwritten when `d == 0`.
            let k = count[o] as usize;
            idx[o][k] = s as u8;
            val[o][k] = d;
            count[o] += (d != 0.0) as u8;
        }
    }
    let list = |o: usize| (&idx[o][..count[o] as usize], &val[o][..count[o] as usize]);
    let mut col = 0;
    while col + RANK_K_COLS <= cols {
        for (o, g) in g.chunks_exact_mut(cols).enumerate() {
            let (idx, val) = list(o);
            if !idx.is_empty() {
                rank_k_cols::<RANK_K_COLS>(g, col, idx, val, xs);
            }
        }
        col += RANK_K_COLS;
    }
    while col + LANES <= cols {
        for (o, g) in g.chunks_exact_mut(cols).enumerate() {
            let (idx, val) = list(o);
            rank_k_cols::<LANES>(g, col, idx, val, xs);
        }
        col += LANES;
    }
    while col < cols {
        for (o, g) in g.chunks_exact_mut(cols).enumerate() {
            let (idx, val) = list(o);
            rank_k_cols::<1>(g, col, idx, val, xs);
        }
        col += 1;
    }
}

/// Bias gradient of a batch: `db[o] += dys[s][o]` for `s` ascending (no skipping),
/// the same additions [`Dense::accumulate_gradients`](crate::Dense::accumulate_gradients)
/// makes sample by sample.
///
/// # Panics
/// If `dys.width != db.len()`.
#[inline]
pub fn accumulate_bias(db: &mut [f32], dys: Rows<'_>) {
    assert_eq!(dys.width, db.len(), "accumulate_bias: width mismatch");
    for s in 0..dys.len() {
        for (b, d) in db.iter_mut().zip(dys.get(s)) {
            *b += d;
        }
    }
}

/// Where one block of the transposed product reads and writes: the rows
/// `row0..row0 + w.len() / cols` of a layer of `cols` inputs, and whether the
/// block adds to the stored `dxs` (continuing each element's chain) or starts from zero.
#[derive(Clone, Copy)]
struct TBlock {
    cols: usize,
    row0: usize,
    add: bool,
}

#[inline(always)]
fn matvec_t_block<const W: usize, const C: usize>(
    w: &[f32],
    dys: Rows<'_>,
    dxs: &mut [f32],
    t: TBlock,
    (col, s0): (usize, usize),
) {
    let cols = t.cols;
    let mut acc = [[0.0f32; W]; C];
    if t.add {
        for (s, acc) in acc.iter_mut().enumerate() {
            acc.copy_from_slice(&dxs[(s0 + s) * cols + col..][..W]);
        }
    }
    for o in 0..w.len() / cols {
        let row: &[f32; W] = row(w, cols, o)[col..col + W].try_into().unwrap();
        let d: [f32; C] = core::array::from_fn(|s| dys.get(s0 + s)[t.row0 + o]);
        for s in 0..C {
            for j in 0..W {
                acc[s][j] += row[j] * d[s];
            }
        }
    }
    for (s, acc) in acc.iter().enumerate() {
        dxs[(s0 + s) * cols + col..][..W].copy_from_slice(acc);
    }
}

fn matvec_t_samples<const C: usize>(
    w: &[f32],
    dys: Rows<'_>,
    dxs: &mut [f32],
    t: TBlock,
    (s0, cols): (usize, core::ops::Range<usize>),
) {
    let mut col = cols.start;
    while col + T_COLS <= cols.end {
        matvec_t_block::<T_COLS, C>(w, dys, dxs, t, (col, s0));
        col += T_COLS;
    }
    while col < cols.end {
        matvec_t_block::<1, C>(w, dys, dxs, t, (col, s0));
        col += 1;
    }
}

/// Batched transposed product (back-propagation to a layer's input):
/// `dxs[s] = Wᵀ·dys[s]`, `w` row-major `[dys.width][inputs]`, `dxs` holding
/// `dys.len()` samples of `inputs` values.
///
/// Each element is `Σ_o W[o][i]·dys[s][o]` summed from `0.0` in ascending `o`,
/// so `dxs[s]` is bit-identical to [`kernels::matvec_t`](crate::kernels::matvec_t)
/// of `dys[s]`.
///
/// # Panics
/// If the lengths do not fit together.
pub fn matvec_t_batch(w: &[f32], dys: Rows<'_>, dxs: &mut [f32], inputs: usize) {
    matvec_t_batch_cols(w, dys, dxs, inputs, 0..inputs);
}

/// [`matvec_t_batch`] for the columns `cols` only: `dxs[s][i]` for `i` in
/// `cols`, the same bits as the whole call; other entries are left alone.
///
/// # Panics
/// If the lengths do not fit together or `cols` is not within `0..inputs`.
pub fn matvec_t_batch_cols(
    w: &[f32],
    dys: Rows<'_>,
    dxs: &mut [f32],
    inputs: usize,
    cols: core::ops::Range<usize>,
) {
    assert_eq!(
        w.len(),
        dys.width * inputs,
        "matvec_t_batch: weights are not rows × inputs"
    );
    matvec_t_batch_part(w, dys, dxs, (0, inputs, false), cols);
}

/// The rows `row0..row0 + w.len() / inputs` of a transposed product, added
/// to what `dxs` holds: `dxs[s][i] += Σ_r W[row0 + r][i]·dys[s][row0 + r]`
/// for `i` in `cols`, each term added to the stored value in ascending `r`
/// (`w` holds only those rows, row-major `[rows][inputs]`).
///
/// Because each element is one chain of additions, calling this for
/// consecutive row blocks in ascending order on `dxs` zeroed in `cols` gives
/// exactly the bits of [`matvec_t_batch_cols`] over all rows. (For a layer
/// whose rows are split over threads.)
///
/// # Panics
/// If the lengths do not fit together, the rows do not fit in `dys.width` or
/// `cols` is not within `0..inputs`.
pub fn matvec_t_batch_add(
    w: &[f32],
    row0: usize,
    dys: Rows<'_>,
    dxs: &mut [f32],
    (inputs, cols): (usize, core::ops::Range<usize>),
) {
    assert_eq!(
        w.len() % inputs.max(1),
        0,
        "matvec_t_batch_add: weights are not rows × inputs"
    );
    assert!(
        row0 + w.len() / inputs <= dys.width,
        "matvec_t_batch_add: rows out of range"
    );
    matvec_t_batch_part(w, dys, dxs, (row0, inputs, true), cols);
}

fn matvec_t_batch_part(
    w: &[f32],
    dys: Rows<'_>,
    dxs: &mut [f32],
    (row0, inputs, add): (usize, usize, bool),
    cols: core::ops::Range<usize>,
) {
    let n = dys.len();
    assert_eq!(dxs.len(), n * inputs, "matvec_t_batch: length mismatch");
    assert!(
        cols.start <= cols.end && cols.end <= inputs,
        "matvec_t_batch: columns out of range"
    );
    let t = TBlock {
        cols: inputs,
        row0,
        add,
    };
    let mut s = 0;
    while s + T_SAMPLES <= n {
        matvec_t_samples::<T_SAMPLES>(w, dys, dxs, t, (s, cols.clone()));
        s += T_SAMPLES;
    }
    while s < n {
        matvec_t_samples::<1>(w, dys, dxs, t, (s, cols.clone()));
        s += 1;
    }
}
