//! Mini-batch kernels and batched training steps for the host trainer.
//!
//! The per-sample path ([`Network::train_sample`]) loads every weight once per
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
//! - [`forward_batch`]: `ys[s][o] == kernels::dot(&w[o], &xs[s]) + b[o]`, the
//!   canonical order of [`kernels::matvec`].
//! - [`rank_k`]: equals `xs.len()` successive [`kernels::rank1`] calls in
//!   ascending sample order, zero-gradient skipping included.
//! - [`matvec_t_batch`]: `dxs[s]` equals [`kernels::matvec_t`] of `dys[s]`.
//!
//! Consequently [`BatchNetwork::train_batch`] accumulates into `grads` exactly
//! the bits that calling [`Network::train_sample`] on the same samples, in
//! order, would accumulate. The tests in `core/tests/batch.rs` check all of
//! this with `to_bits` equality.
//!
//! These kernels are for the host: they keep up to [`RANK_K_GROUP`] samples'
//! worth of sparse row lists on the stack (`OUT × 160` bytes in [`rank_k`]).
//!
//! [`kernels::matvec`]: crate::kernels::matvec
//! [`kernels::rank1`]: crate::kernels::rank1
//! [`kernels::matvec_t`]: crate::kernels::matvec_t
//! [`kernels::dot`]: crate::kernels::dot

use crate::activation::{relu, relu_backward};
use crate::dense::Dense;
use crate::kernels::{dot_1x1, dot_1x4, mac_lanes, mac_tail, reduce_all, LANES};
use crate::loss::{argmax, cross_entropy_grad};
use crate::mlp::{Mlp, Mlp2};
use crate::network::Network;

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

/// Columns per block of [`matvec_t_batch`].
const T_COLS: usize = 16;
/// Samples per block of [`matvec_t_batch`].
const T_SAMPLES: usize = 4;

/// Sixteen canonical dot products `w[r] · x[s]` in one pass: every loaded
/// chunk of a row serves four samples and vice versa.
///
/// Written out by hand: with loops over `r` and `s`, LLVM vectorises across
/// rows (gathers) instead of across lanes.
#[inline(always)]
fn dot_4x4<const IN: usize>(w: [&[f32; IN]; 4], x: [&[f32; IN]; 4]) -> [[f32; 4]; 4] {
    let [(w0, wt0), (w1, wt1), (w2, wt2), (w3, wt3)] = w.map(|r| r.as_chunks::<LANES>());
    let [(x0, xt0), (x1, xt1), (x2, xt2), (x3, xt3)] = x.map(|r| r.as_chunks::<LANES>());
    let mut acc = [[[0.0f32; LANES]; 4]; 4];
    {
        let [[a00, a01, a02, a03], [a10, a11, a12, a13], [a20, a21, a22, a23], [a30, a31, a32, a33]] =
            &mut acc;
        for c in 0..IN / LANES {
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

/// Batched forward pass of a dense layer: `ys[s] = W·xs[s] + b` for every sample.
///
/// Register-blocked over [`FORWARD_ROWS`] rows × [`FORWARD_SAMPLES`] samples.
/// Each `ys[s][o]` is bit-identical to `kernels::dot(&w[o], &xs[s]) + b[o]`,
/// i.e. to [`kernels::matvec`](crate::kernels::matvec) of that sample.
///
/// # Panics
/// If `xs` and `ys` differ in length.
pub fn forward_batch<const IN: usize, const OUT: usize>(
    w: &[[f32; IN]; OUT],
    b: &[f32; OUT],
    xs: &[[f32; IN]],
    ys: &mut [[f32; OUT]],
) {
    forward_batch_rows(w, b, 0, xs, ys);
}

/// [`forward_batch`] for the consecutive rows `row0..row0 + w.len()` of a
/// layer only: `ys[s][row0 + r] = dot(&w[r], &xs[s]) + b[r]`, the same bits
/// as the whole-layer call gives for those rows; the other entries of `ys`
/// are left alone. (For splitting a layer's rows over threads.)
///
/// # Panics
/// If `xs` and `ys` differ in length, `b` and `w` differ in length, or the
/// rows do not fit in `OUT`.
pub fn forward_batch_rows<const IN: usize, const OUT: usize>(
    w: &[[f32; IN]],
    b: &[f32],
    row0: usize,
    xs: &[[f32; IN]],
    ys: &mut [[f32; OUT]],
) {
    assert_eq!(xs.len(), ys.len(), "forward_batch: length mismatch");
    assert_eq!(w.len(), b.len(), "forward_batch: rows and biases differ");
    assert!(row0 + w.len() <= OUT, "forward_batch: rows out of range");
    const R: usize = FORWARD_ROWS;
    const C: usize = FORWARD_SAMPLES;
    let rows = w.len();
    let n = xs.len();
    let mut s = 0;
    while s + C <= n {
        let x: [&[f32; IN]; C] = core::array::from_fn(|k| &xs[s + k]);
        let mut o = 0;
        while o + R <= rows {
            let sums = dot_4x4::<IN>(core::array::from_fn(|r| &w[o + r]), x);
            for (r, sums) in sums.iter().enumerate() {
                for (k, sum) in sums.iter().enumerate() {
                    ys[s + k][row0 + o + r] = sum + b[o + r];
                }
            }
            o += R;
        }
        while o < rows {
            let sums = dot_1x4::<IN>(&w[o], x);
            for (k, sum) in sums.iter().enumerate() {
                ys[s + k][row0 + o] = sum + b[o];
            }
            o += 1;
        }
        s += C;
    }
    while s < n {
        let mut o = 0;
        while o + R <= rows {
            let sums = dot_1x4::<IN>(&xs[s], core::array::from_fn(|r| &w[o + r]));
            for (r, sum) in sums.iter().enumerate() {
                ys[s][row0 + o + r] = sum + b[o + r];
            }
            o += R;
        }
        while o < rows {
            ys[s][row0 + o] = dot_1x1::<IN>(&w[o], &xs[s]) + b[o];
            o += 1;
        }
        s += 1;
    }
}

/// `g[col..col+W] += Σ_k val[k]·xs[idx[k]][col..col+W]`, `k` ascending,
/// with the `W` sums held in registers for the whole list.
#[inline(always)]
fn rank_k_cols<const IN: usize, const W: usize>(
    g: &mut [f32; IN],
    col: usize,
    idx: &[u8],
    val: &[f32],
    xs: &[[f32; IN]],
) {
    let g: &mut [f32; W] = (&mut g[col..col + W]).try_into().unwrap();
    let mut acc = *g;
    for (&s, &d) in idx.iter().zip(val) {
        let x: &[f32; W] = xs[s as usize][col..col + W].try_into().unwrap();
        for j in 0..W {
            acc[j] += d * x[j];
        }
    }
    *g = acc;
}

/// Rank-k gradient accumulate: `G[o][i] += Σ_s dys[s][o]·xs[s][i]`.
///
/// Bit-identical to calling [`kernels::rank1`](crate::kernels::rank1)`(g,
/// &dys[s], &xs[s])` for `s = 0, 1, …` in turn: for each element the samples
/// are added one at a time in ascending `s`, and samples with `dys[s][o] == 0`
/// are skipped for row `o` exactly as `rank1` skips them. The difference is
/// the memory traffic: each chunk of `G` is loaded and stored once per
/// [`RANK_K_GROUP`] samples instead of once per sample, and the sample chunks
/// it needs stay in L1 across all rows.
///
/// # Panics
/// If `dys` and `xs` differ in length.
pub fn rank_k<const IN: usize, const OUT: usize>(
    g: &mut [[f32; IN]; OUT],
    dys: &[[f32; OUT]],
    xs: &[[f32; IN]],
) {
    rank_k_rows(g, 0, dys, xs);
}

/// [`rank_k`] for the consecutive rows `row0..row0 + g.len()` of `G` only
/// (`g[r]` is row `row0 + r`): the same bits for those rows as the
/// whole-matrix call. (For splitting a layer's rows over threads.)
///
/// # Panics
/// If `dys` and `xs` differ in length or the rows do not fit in `OUT`.
pub fn rank_k_rows<const IN: usize, const OUT: usize>(
    g: &mut [[f32; IN]],
    row0: usize,
    dys: &[[f32; OUT]],
    xs: &[[f32; IN]],
) {
    assert_eq!(dys.len(), xs.len(), "rank_k: length mismatch");
    assert!(row0 + g.len() <= OUT, "rank_k: rows out of range");
    let rows = g.len();
    for (dys, xs) in dys.chunks(RANK_K_GROUP).zip(xs.chunks(RANK_K_GROUP)) {
        // Per row, the samples that contribute (non-zero gradient), ascending.
        let mut count = [0u8; OUT];
        let mut idx = [[0u8; RANK_K_GROUP]; OUT];
        let mut val = [[0.0f32; RANK_K_GROUP]; OUT];
        for (s, dy) in dys.iter().enumerate() {
            for o in 0..rows {
                let d = dy[row0 + o];
                // Branch-free append; the slot is overwritten when `d == 0`.
                let k = count[o] as usize;
                idx[o][k] = s as u8;
                val[o][k] = d;
                count[o] += (d != 0.0) as u8;
            }
        }
        let mut col = 0;
        while col + RANK_K_COLS <= IN {
            for o in 0..rows {
                let k = count[o] as usize;
                if k > 0 {
                    rank_k_cols::<IN, RANK_K_COLS>(&mut g[o], col, &idx[o][..k], &val[o][..k], xs);
                }
            }
            col += RANK_K_COLS;
        }
        while col + LANES <= IN {
            for o in 0..rows {
                let k = count[o] as usize;
                rank_k_cols::<IN, LANES>(&mut g[o], col, &idx[o][..k], &val[o][..k], xs);
            }
            col += LANES;
        }
        while col < IN {
            for o in 0..rows {
                let k = count[o] as usize;
                rank_k_cols::<IN, 1>(&mut g[o], col, &idx[o][..k], &val[o][..k], xs);
            }
            col += 1;
        }
    }
}

/// Bias gradient of a batch: `db[o] += dys[s][o]` for `s` ascending (no skipping),
/// the same additions [`Dense::accumulate_gradients`] makes sample by sample.
#[inline]
pub fn accumulate_bias<const OUT: usize>(db: &mut [f32; OUT], dys: &[[f32; OUT]]) {
    for dy in dys {
        for (b, d) in db.iter_mut().zip(dy) {
            *b += d;
        }
    }
}

#[inline(always)]
fn matvec_t_block<const IN: usize, const OUT: usize, const W: usize, const C: usize>(
    w: &[[f32; IN]; OUT],
    dys: &[[f32; OUT]],
    dxs: &mut [[f32; IN]],
    col: usize,
    s0: usize,
) {
    let mut acc = [[0.0f32; W]; C];
    for (o, row) in w.iter().enumerate() {
        let row: &[f32; W] = row[col..col + W].try_into().unwrap();
        let d: [f32; C] = core::array::from_fn(|s| dys[s0 + s][o]);
        for s in 0..C {
            for j in 0..W {
                acc[s][j] += row[j] * d[s];
            }
        }
    }
    for (s, acc) in acc.iter().enumerate() {
        dxs[s0 + s][col..col + W].copy_from_slice(acc);
    }
}

fn matvec_t_samples<const IN: usize, const OUT: usize, const C: usize>(
    w: &[[f32; IN]; OUT],
    dys: &[[f32; OUT]],
    dxs: &mut [[f32; IN]],
    s0: usize,
    cols: core::ops::Range<usize>,
) {
    let mut col = cols.start;
    while col + T_COLS <= cols.end {
        matvec_t_block::<IN, OUT, T_COLS, C>(w, dys, dxs, col, s0);
        col += T_COLS;
    }
    while col < cols.end {
        matvec_t_block::<IN, OUT, 1, C>(w, dys, dxs, col, s0);
        col += 1;
    }
}

/// Batched transposed product (back-propagation to a layer's input):
/// `dxs[s] = Wᵀ·dys[s]`.
///
/// Each element is `Σ_o W[o][i]·dys[s][o]` summed from `0.0` in ascending `o`,
/// so `dxs[s]` is bit-identical to [`kernels::matvec_t`](crate::kernels::matvec_t)
/// of `dys[s]`.
///
/// # Panics
/// If `dys` and `dxs` differ in length.
pub fn matvec_t_batch<const IN: usize, const OUT: usize>(
    w: &[[f32; IN]; OUT],
    dys: &[[f32; OUT]],
    dxs: &mut [[f32; IN]],
) {
    matvec_t_batch_cols(w, dys, dxs, 0..IN);
}

/// [`matvec_t_batch`] for the columns `cols` only: `dxs[s][i]` for `i` in
/// `cols`, the same bits as the whole call; other entries are left alone.
///
/// # Panics
/// If `dys` and `dxs` differ in length or `cols` is not within `0..IN`.
pub fn matvec_t_batch_cols<const IN: usize, const OUT: usize>(
    w: &[[f32; IN]; OUT],
    dys: &[[f32; OUT]],
    dxs: &mut [[f32; IN]],
    cols: core::ops::Range<usize>,
) {
    assert_eq!(dys.len(), dxs.len(), "matvec_t_batch: length mismatch");
    assert!(
        cols.start <= cols.end && cols.end <= IN,
        "matvec_t_batch: columns out of range"
    );
    let n = dys.len();
    let mut s = 0;
    while s + T_SAMPLES <= n {
        matvec_t_samples::<IN, OUT, T_SAMPLES>(w, dys, dxs, s, cols.clone());
        s += T_SAMPLES;
    }
    while s < n {
        matvec_t_samples::<IN, OUT, 1>(w, dys, dxs, s, cols.clone());
        s += 1;
    }
}

impl<const IN: usize, const OUT: usize> Dense<IN, OUT> {
    /// [`forward`](Self::forward) for a batch: `ys[s] = W·xs[s] + b` (see [`forward_batch`]).
    #[inline]
    pub fn forward_batch(&self, xs: &[[f32; IN]], ys: &mut [[f32; OUT]]) {
        forward_batch(&self.weights, &self.bias, xs, ys);
    }

    /// [`accumulate_gradients`](Self::accumulate_gradients) for a batch, bit-identical
    /// to calling it on each sample in order (see [`rank_k`], [`accumulate_bias`]).
    #[inline]
    pub fn accumulate_gradients_batch(
        &self,
        xs: &[[f32; IN]],
        dys: &[[f32; OUT]],
        grads: &mut Self,
    ) {
        rank_k(&mut grads.weights, dys, xs);
        accumulate_bias(&mut grads.bias, dys);
    }

    /// [`backward_input`](Self::backward_input) for a batch (see [`matvec_t_batch`]).
    #[inline]
    pub fn backward_input_batch(&self, dys: &[[f32; OUT]], dxs: &mut [[f32; IN]]) {
        matvec_t_batch(&self.weights, dys, dxs);
    }
}

/// Result of [`BatchNetwork::train_batch`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BatchOutcome {
    /// Sum of the samples' cross-entropy losses, added in sample order from
    /// `0.0` in `f32` (the per-sample losses are also left in the scratch).
    pub loss: f32,
    /// Number of samples whose prediction (argmax of the logits before the
    /// update) equals the target.
    pub correct: usize,
}

/// A network that can run forward and backward on a batch of samples at once.
///
/// `S` is the largest batch the scratch holds; a call may pass fewer samples.
pub trait BatchNetwork<const IN: usize, const OUT: usize>: Network<IN, OUT> {
    /// Caller-owned activations for up to `S` samples.
    type BatchScratch<const S: usize>: Default;

    /// Forward and backward for `inputs.len() <= S` labelled samples,
    /// *adding* the parameter gradients into `grads`.
    ///
    /// The gradients are bit-identical to calling
    /// [`train_sample`](Network::train_sample) on the samples one by one in
    /// order; so are the per-sample losses and predictions left in `scratch`.
    ///
    /// # Panics
    /// If `inputs.len() > S`, if `targets.len() != inputs.len()`, or if a
    /// target is `>= OUT`.
    fn train_batch<const S: usize, T: Copy + Into<usize>>(
        &self,
        inputs: &[[f32; IN]],
        targets: &[T],
        scratch: &mut Self::BatchScratch<S>,
        grads: &mut Self,
    ) -> BatchOutcome;
}

/// Loss, gradient of the logits and prediction for each sample.
fn loss_and_grad<const OUT: usize, T: Copy + Into<usize>>(
    targets: &[T],
    logits: &[[f32; OUT]],
    d_logits: &mut [[f32; OUT]],
    losses: &mut [f32],
    predicted: &mut [usize],
) -> BatchOutcome {
    let mut outcome = BatchOutcome {
        loss: 0.0,
        correct: 0,
    };
    for s in 0..targets.len() {
        let target = targets[s].into();
        predicted[s] = argmax(&logits[s]);
        losses[s] = cross_entropy_grad(&logits[s], target, &mut d_logits[s]);
        outcome.loss += losses[s];
        outcome.correct += (predicted[s] == target) as usize;
    }
    outcome
}

fn check_batch(inputs: usize, targets: usize, capacity: usize) -> usize {
    assert!(
        inputs <= capacity,
        "train_batch: {inputs} samples but the scratch holds {capacity}"
    );
    assert_eq!(
        inputs, targets,
        "train_batch: inputs and targets differ in length"
    );
    inputs
}

/// Batch activations of an [`Mlp`], for up to `S` samples.
#[derive(Clone, Debug, PartialEq)]
pub struct MlpBatchScratch<const HIDDEN: usize, const OUT: usize, const S: usize> {
    /// Hidden activations after ReLU, per sample.
    pub hidden: [[f32; HIDDEN]; S],
    /// Output logits, per sample.
    pub logits: [[f32; OUT]; S],
    /// Gradient of the loss with respect to the logits, per sample.
    pub d_logits: [[f32; OUT]; S],
    /// Gradient with respect to the hidden pre-activations, per sample.
    pub d_hidden: [[f32; HIDDEN]; S],
    /// Cross-entropy loss of each sample.
    pub losses: [f32; S],
    /// Predicted class of each sample.
    pub predicted: [usize; S],
}

impl<const HIDDEN: usize, const OUT: usize, const S: usize> Default
    for MlpBatchScratch<HIDDEN, OUT, S>
{
    fn default() -> Self {
        Self {
            hidden: [[0.0; HIDDEN]; S],
            logits: [[0.0; OUT]; S],
            d_logits: [[0.0; OUT]; S],
            d_hidden: [[0.0; HIDDEN]; S],
            losses: [0.0; S],
            predicted: [0; S],
        }
    }
}

impl<const IN: usize, const HIDDEN: usize, const OUT: usize> BatchNetwork<IN, OUT>
    for Mlp<IN, HIDDEN, OUT>
{
    type BatchScratch<const S: usize> = MlpBatchScratch<HIDDEN, OUT, S>;

    fn train_batch<const S: usize, T: Copy + Into<usize>>(
        &self,
        inputs: &[[f32; IN]],
        targets: &[T],
        scratch: &mut MlpBatchScratch<HIDDEN, OUT, S>,
        grads: &mut Self,
    ) -> BatchOutcome {
        let n = check_batch(inputs.len(), targets.len(), S);
        let hidden = &mut scratch.hidden[..n];
        let logits = &mut scratch.logits[..n];
        let d_logits = &mut scratch.d_logits[..n];
        let d_hidden = &mut scratch.d_hidden[..n];

        self.hidden.forward_batch(inputs, hidden);
        hidden.iter_mut().for_each(relu);
        self.output.forward_batch(hidden, logits);

        let outcome = loss_and_grad(
            targets,
            logits,
            d_logits,
            &mut scratch.losses[..n],
            &mut scratch.predicted[..n],
        );

        self.output
            .accumulate_gradients_batch(hidden, d_logits, &mut grads.output);
        self.output.backward_input_batch(d_logits, d_hidden);
        for (h, d) in hidden.iter().zip(d_hidden.iter_mut()) {
            relu_backward(h, d);
        }
        self.hidden
            .accumulate_gradients_batch(inputs, d_hidden, &mut grads.hidden);
        outcome
    }
}

/// Batch activations of an [`Mlp2`], for up to `S` samples.
#[derive(Clone, Debug, PartialEq)]
pub struct Mlp2BatchScratch<const H1: usize, const H2: usize, const OUT: usize, const S: usize> {
    /// First hidden activations after ReLU, per sample.
    pub hidden1: [[f32; H1]; S],
    /// Second hidden activations after ReLU, per sample.
    pub hidden2: [[f32; H2]; S],
    /// Output logits, per sample.
    pub logits: [[f32; OUT]; S],
    /// Gradient of the loss with respect to the logits, per sample.
    pub d_logits: [[f32; OUT]; S],
    /// Gradient with respect to the second hidden pre-activations, per sample.
    pub d_hidden2: [[f32; H2]; S],
    /// Gradient with respect to the first hidden pre-activations, per sample.
    pub d_hidden1: [[f32; H1]; S],
    /// Cross-entropy loss of each sample.
    pub losses: [f32; S],
    /// Predicted class of each sample.
    pub predicted: [usize; S],
}

impl<const H1: usize, const H2: usize, const OUT: usize, const S: usize> Default
    for Mlp2BatchScratch<H1, H2, OUT, S>
{
    fn default() -> Self {
        Self {
            hidden1: [[0.0; H1]; S],
            hidden2: [[0.0; H2]; S],
            logits: [[0.0; OUT]; S],
            d_logits: [[0.0; OUT]; S],
            d_hidden2: [[0.0; H2]; S],
            d_hidden1: [[0.0; H1]; S],
            losses: [0.0; S],
            predicted: [0; S],
        }
    }
}

impl<const IN: usize, const H1: usize, const H2: usize, const OUT: usize> BatchNetwork<IN, OUT>
    for Mlp2<IN, H1, H2, OUT>
{
    type BatchScratch<const S: usize> = Mlp2BatchScratch<H1, H2, OUT, S>;

    fn train_batch<const S: usize, T: Copy + Into<usize>>(
        &self,
        inputs: &[[f32; IN]],
        targets: &[T],
        scratch: &mut Mlp2BatchScratch<H1, H2, OUT, S>,
        grads: &mut Self,
    ) -> BatchOutcome {
        let n = check_batch(inputs.len(), targets.len(), S);
        let hidden1 = &mut scratch.hidden1[..n];
        let hidden2 = &mut scratch.hidden2[..n];
        let logits = &mut scratch.logits[..n];
        let d_logits = &mut scratch.d_logits[..n];
        let d_hidden2 = &mut scratch.d_hidden2[..n];
        let d_hidden1 = &mut scratch.d_hidden1[..n];

        self.hidden1.forward_batch(inputs, hidden1);
        hidden1.iter_mut().for_each(relu);
        self.hidden2.forward_batch(hidden1, hidden2);
        hidden2.iter_mut().for_each(relu);
        self.output.forward_batch(hidden2, logits);

        let outcome = loss_and_grad(
            targets,
            logits,
            d_logits,
            &mut scratch.losses[..n],
            &mut scratch.predicted[..n],
        );

        self.output
            .accumulate_gradients_batch(hidden2, d_logits, &mut grads.output);
        self.output.backward_input_batch(d_logits, d_hidden2);
        for (h, d) in hidden2.iter().zip(d_hidden2.iter_mut()) {
            relu_backward(h, d);
        }
        self.hidden2
            .accumulate_gradients_batch(hidden1, d_hidden2, &mut grads.hidden2);
        self.hidden2.backward_input_batch(d_hidden2, d_hidden1);
        for (h, d) in hidden1.iter().zip(d_hidden1.iter_mut()) {
            relu_backward(h, d);
        }
        self.hidden1
            .accumulate_gradients_batch(inputs, d_hidden1, &mut grads.hidden1);
        outcome
    }
}
