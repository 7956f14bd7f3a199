//! Sparse inputs: the first layer's forward product over only the chunks of
//! inputs that hold a value other than zero, from the layer's weights stored
//! **input-major** ([`InputMajor`]) — the bits of
//! [`FFast::forward_batch_rows`] on the row-major weights.
//!
//! Four fifths of an MNIST image are background, and 61 % of its chunks of
//! [`LANES`] pixels are all zero. A row-major product streams every weight
//! for every sample; stored input-major, the weights of one input are one
//! contiguous vector per slab of sixteen rows, so a sample only reads those
//! of its non-zero chunks ([`NonZeroChunks`], recorded when the batch is
//! staged). The trainer keeps the first layer's rows and their optimiser
//! state input-major for an epoch. Their SGD step is
//! [`FFast::sgd_step_input_major`](super::FFast::sgd_step_input_major)
//! (`fkernel::fused`): from [`FUSED_ROWS`](super::fused::FUSED_ROWS) (32)
//! rows the gradient is formed input by input, over the samples whose input
//! is not zero, straight into the update;
//! below, it is the row-major gradient (which skips the rows whose delta is
//! zero) that [`FFast::sgd_update_input_major`] transposes on the way into
//! the update.
//!
//! # Why the bits are the same
//!
//! `tinymlp`'s dot product gives input `i` to lane `i % LANES`; each lane is
//! one chain of additions in ascending `i` from `+0.0`, and the lanes are
//! reduced in a fixed pairwise order. Here each lane is the same chain with
//! the products of all-zero chunks left out. A left-out product is `w·0 =
//! ±0.0` for a finite `w`, and adding `±0.0` to a chain that starts at `+0.0`
//! changes nothing (such a chain is never `-0.0`: a sum is `-0.0` only when
//! both terms are). For a weight that is not finite the product would be
//! NaN, so the forward product reads every chunk ([`Chunks::All`]) unless
//! every weight is finite, which [`FFast::to_input_major`] and
//! [`FFast::sgd_update_input_major`] report.
//!
//! `host/tests/fkernel_sparse.rs` checks this against `tinymlp::batch` with
//! `to_bits` equality on every path (mostly-zero inputs with `-0.0` among
//! them, widths not multiples of [`LANES`] or of 16, infinite weights).
//!
//! [`LANES`]: tinymlp::kernels::LANES

use std::ops::Range;

use tinymlp::batch::Rows;
use tinymlp::kernels::{reduce_lanes, LANES};
use tinymlp::Sgd;
use tinymlp::TensorKind;

use super::{FFast, FPath, Floats};

/// Columns of an [`InputMajor`] matrix per vector of the kernels (one zmm).
pub const VECTOR: usize = 16;

/// The layout of some rows of a layer with `inputs` inputs, stored
/// input-major in slabs of [`VECTOR`] rows: slab `k` holds rows
/// `16k..16k + 16` for every input, input after input, so element `(o, i)`
/// is at `(o / 16 · inputs' + i) · 16 + o % 16`, where `inputs'` is `inputs`
/// rounded up to a chunk of [`LANES`]. The padding (rows past `rows`, inputs
/// past `inputs`) holds zeros; a chunk of one slab is eight whole vectors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InputMajor {
    /// Rows of the layer stored (the outputs).
    pub rows: usize,
    /// Inputs of the layer.
    pub inputs: usize,
}

impl InputMajor {
    /// The layout of `rows` rows of `inputs` inputs.
    pub fn new(rows: usize, inputs: usize) -> Self {
        Self { rows, inputs }
    }

    /// Slabs of [`VECTOR`] rows.
    pub fn slabs(&self) -> usize {
        self.rows.div_ceil(VECTOR)
    }

    /// Elements of one slab: every input, padded to a whole chunk, × [`VECTOR`].
    pub fn slab_len(&self) -> usize {
        self.inputs.next_multiple_of(LANES) * VECTOR
    }

    /// Elements stored, padding included.
    pub fn len(&self) -> usize {
        self.slabs() * self.slab_len()
    }

    /// True when nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Where element `(o, i)` is stored.
    pub fn at(&self, o: usize, i: usize) -> usize {
        (o / VECTOR) * self.slab_len() + i * VECTOR + o % VECTOR
    }

    /// The row-major `rows × inputs` matrix `w`, stored input-major.
    ///
    /// # Panics
    /// If `w` is not `rows × inputs`.
    pub fn from_rows(&self, w: &[f32]) -> Floats {
        assert_eq!(w.len(), self.rows * self.inputs, "not rows × inputs");
        let mut t = super::zeros(self.len());
        for (o, row) in w.chunks_exact(self.inputs.max(1)).enumerate() {
            for (i, &v) in row.iter().enumerate() {
                t[self.at(o, i)] = v;
            }
        }
        t
    }

    /// The input-major `t` written back row-major into `w` (`rows × inputs`).
    ///
    /// # Panics
    /// If the lengths do not fit the layout.
    pub fn to_rows(&self, t: &[f32], w: &mut [f32]) {
        assert_eq!(t.len(), self.len(), "not this layout");
        assert_eq!(w.len(), self.rows * self.inputs, "not rows × inputs");
        for (o, row) in w.chunks_exact_mut(self.inputs.max(1)).enumerate() {
            for (i, v) in row.iter_mut().enumerate() {
                *v = t[self.at(o, i)];
            }
        }
    }
}

/// For each sample of a batch, the chunks of [`LANES`] inputs that hold a
/// value other than `±0.0`, ascending.
#[derive(Clone, Debug)]
pub struct NonZeroChunks {
    chunks: Vec<u32>,
    /// Where each sample's chunks start in `chunks`, and where the last ends.
    start: Vec<usize>,
    /// Which instructions look for the zeros.
    fast: FFast,
}

impl Default for NonZeroChunks {
    fn default() -> Self {
        Self::new()
    }
}

impl NonZeroChunks {
    /// No samples; the zeros looked for with the fastest path of this CPU.
    pub fn new() -> Self {
        Self::with(FFast::detect())
    }

    /// No samples; the zeros looked for through `fast`.
    pub fn with(fast: FFast) -> Self {
        Self {
            chunks: Vec::new(),
            start: vec![0],
            fast,
        }
    }

    /// Forgets every sample.
    pub fn clear(&mut self) {
        self.chunks.clear();
        self.start.clear();
        self.start.push(0);
    }

    /// Records the next sample's inputs `x`.
    pub fn push(&mut self, x: &[f32]) {
        let base = self.chunks.len();
        self.chunks.resize(base + x.len().div_ceil(LANES), 0);
        let out = &mut self.chunks[base..];
        let kept = match self.fast.path {
            FPath::Portable => nonzero_chunks(x, out),
            FPath::Avx2 | FPath::Avx512 => {
                let mut kept = 0;
                let kernel = super::Kernel::NonZeroChunks {
                    x,
                    out,
                    kept: &mut kept,
                };
                self.fast.simd(kernel);
                kept
            }
        };
        self.chunks.truncate(base + kept);
        self.start.push(self.chunks.len());
    }

    /// Records every sample of `xs` (after those already recorded).
    pub fn extend(&mut self, xs: Rows<'_>) {
        for s in 0..xs.len() {
            self.push(xs.get(s));
        }
    }

    /// Samples recorded.
    pub fn len(&self) -> usize {
        self.start.len() - 1
    }

    /// True when no sample is recorded.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Sample `s`'s non-zero chunks, ascending.
    pub fn of(&self, s: usize) -> &[u32] {
        &self.chunks[self.start[s]..self.start[s + 1]]
    }

    /// Non-zero chunks over all chunks of the samples recorded (0 without any).
    pub fn density(&self, inputs: usize) -> f64 {
        let all = self.len() * inputs.div_ceil(LANES);
        self.chunks.len() as f64 / all.max(1) as f64
    }
}

/// Writes the indices of the chunks of `x` that hold a value other than
/// `±0.0` to the front of `out` (one slot per chunk); returns how many.
fn nonzero_chunks(x: &[f32], out: &mut [u32]) -> usize {
    // Branch-free: each chunk's index is written, and kept by moving on when
    // the chunk is not all zero (MNIST's strokes make a branch on it a coin
    // toss).
    let mut kept = 0;
    for (c, chunk) in x.chunks(LANES).enumerate() {
        out[kept] = c as u32;
        // Bits without the sign: zero only for `±0.0`.
        let bits = chunk.iter().fold(0u32, |any, v| any | (v.to_bits() << 1));
        kept += usize::from(bits != 0);
    }
    kept
}

/// Which chunks of each sample's inputs a sparse kernel reads.
#[derive(Clone, Copy, Debug)]
pub enum Chunks<'a> {
    /// Every chunk: the reference's products, all of them.
    All,
    /// Those listed for the samples `first..` of the lists (the kernel's
    /// sample `s` is list sample `first + s`); the lists must hold every
    /// non-zero chunk of those samples.
    Listed(&'a NonZeroChunks, usize),
}

impl Chunks<'_> {
    /// The chunks of sample `s`: listed, or all `count` of them.
    pub(super) fn each(&self, s: usize, count: usize) -> ChunkIter<'_> {
        match *self {
            Chunks::All => ChunkIter::All(0..count as u32),
            Chunks::Listed(lists, first) => ChunkIter::Listed(lists.of(first + s).iter()),
        }
    }
}

pub(super) enum ChunkIter<'a> {
    All(Range<u32>),
    Listed(std::slice::Iter<'a, u32>),
}

impl Iterator for ChunkIter<'_> {
    type Item = usize;

    fn next(&mut self) -> Option<usize> {
        match self {
            ChunkIter::All(range) => range.next(),
            ChunkIter::Listed(iter) => iter.next().copied(),
        }
        .map(|c| c as usize)
    }
}

impl FFast {
    /// [`forward_batch_rows`](Self::forward_batch_rows) with the weights of
    /// the rows `row0..row0 + layout.rows` stored input-major in `wt`:
    /// `ys[s][row0 + o] = dot(W[o], xs[s]) + b[o]`, the same bits, reading
    /// only the chunks `chunks` lists (pass [`Chunks::All`] unless every
    /// weight in `wt` is finite).
    ///
    /// # Panics
    /// If the lengths do not fit together or the rows do not fit in `outputs`.
    pub fn forward_input_major(
        self,
        (wt, layout): (&[f32], InputMajor),
        b: &[f32],
        row0: usize,
        (xs, chunks): (Rows<'_>, Chunks<'_>),
        (ys, outputs): (&mut [f32], usize),
    ) {
        assert_eq!(wt.len(), layout.len(), "forward: weights not in the layout");
        assert_eq!(xs.width, layout.inputs, "forward: inputs not in the layout");
        assert_eq!(b.len(), layout.rows, "forward: one bias per row");
        assert_eq!(ys.len(), xs.len() * outputs, "forward: not samples × rows");
        assert!(row0 + layout.rows <= outputs, "forward: rows out of range");
        if let Chunks::Listed(lists, first) = chunks {
            assert!(
                first + xs.len() <= lists.len(),
                "forward: samples not listed"
            );
        }
        match self.path {
            FPath::Portable => forward_plain((wt, layout), b, row0, (xs, chunks), (ys, outputs)),
            FPath::Avx2 | FPath::Avx512 => self.simd(super::Kernel::SparseForward {
                wt: (wt, layout),
                b,
                row0,
                xs: (xs, chunks),
                ys: (ys, outputs),
            }),
        }
    }
}

impl FFast {
    /// The row-major `rows × inputs` weights `w` copied into the input-major
    /// `t` (padding zeroed); returns whether every weight is finite, which
    /// is when [`forward_input_major`](Self::forward_input_major) may skip
    /// chunks.
    ///
    /// # Panics
    /// If the lengths do not fit the layout.
    pub fn to_input_major(self, w: &[f32], (t, layout): (&mut [f32], InputMajor)) -> bool {
        assert_eq!(w.len(), layout.rows * layout.inputs, "not rows × inputs");
        assert_eq!(t.len(), layout.len(), "not this layout");
        match self.path {
            FPath::Portable | FPath::Avx2 => {
                t.fill(0.0);
                let mut finite = true;
                for (o, row) in w.chunks_exact(layout.inputs.max(1)).enumerate() {
                    for (i, &v) in row.iter().enumerate() {
                        t[layout.at(o, i)] = v;
                        finite &= v.is_finite();
                    }
                }
                finite
            }
            FPath::Avx512 => {
                let mut finite = false;
                self.simd(super::Kernel::ToInputMajor {
                    w,
                    t: (t, layout),
                    finite: &mut finite,
                });
                finite
            }
        }
    }
}

impl FFast {
    /// `tinymlp::optim::Sgd::update_slice` on input-major weights `wt` and
    /// velocity `vt` with the row-major gradient `grads` (`layout.rows ×
    /// layout.inputs`): the bits of the update on row-major storage, in one
    /// pass that transposes the gradient on the way (the padding stays
    /// zero); returns whether every weight is finite.
    ///
    /// # Panics
    /// If the lengths do not fit the layout.
    pub fn sgd_update_input_major(
        self,
        (sgd, kind, grad_scale): (Sgd, TensorKind, f32),
        grads: &[f32],
        (wt, vt, layout): (&mut [f32], &mut [f32], InputMajor),
    ) -> bool {
        assert_eq!(
            grads.len(),
            layout.rows * layout.inputs,
            "not rows × inputs"
        );
        assert_eq!(wt.len(), layout.len(), "weights not in this layout");
        assert_eq!(vt.len(), layout.len(), "velocity not in this layout");
        match self.path {
            FPath::Portable => {
                let gt = layout.from_rows(grads);
                sgd.update_slice(kind, wt, &gt, vt, grad_scale);
                wt.iter().all(|w| w.is_finite())
            }
            FPath::Avx2 | FPath::Avx512 => {
                let mut finite = false;
                self.simd(super::Kernel::SgdInputMajor {
                    sgd: (sgd, kind, grad_scale),
                    grads,
                    t: (wt, vt, layout),
                    finite: &mut finite,
                });
                finite
            }
        }
    }
}

/// The plain form of [`FFast::forward_input_major`]: per sample and row, the
/// lanes of `tinymlp::kernels::dot` over the chunks read. The reference the
/// vector forms are tested against, not a fast path: without AVX-512 or AVX2 the
/// trainer keeps the first layer row-major.
fn forward_plain(
    (wt, layout): (&[f32], InputMajor),
    b: &[f32],
    row0: usize,
    (xs, chunks): (Rows<'_>, Chunks<'_>),
    (ys, outputs): (&mut [f32], usize),
) {
    let count = layout.inputs.div_ceil(LANES);
    for s in 0..xs.len() {
        let x = xs.get(s);
        for (o, &bias) in b.iter().enumerate() {
            let mut acc = [0.0f32; LANES];
            for c in chunks.each(s, count) {
                for (lane, acc) in acc.iter_mut().enumerate() {
                    let i = c * LANES + lane;
                    if i < layout.inputs {
                        *acc += wt[layout.at(o, i)] * x[i];
                    }
                }
            }
            ys[s * outputs + row0 + o] = reduce_lanes(&acc) + bias;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_major_round_trips_and_pads_with_zeros() {
        let (rows, inputs) = (5, 11);
        let layout = InputMajor::new(rows, inputs);
        assert_eq!((layout.slabs(), layout.len()), (1, 16 * 16));
        let w: Vec<f32> = (0..rows * inputs).map(|v| v as f32 + 1.0).collect();
        let t = layout.from_rows(&w);
        assert_eq!(t[3 * 16 + 2], w[2 * inputs + 3]);
        let wide = InputMajor::new(17, 3);
        assert_eq!(
            (wide.slabs(), wide.len(), wide.at(16, 2)),
            (2, 256, 128 + 32)
        );
        assert_eq!(t.iter().filter(|v| **v != 0.0).count(), rows * inputs);
        let mut back = vec![0.0; rows * inputs];
        layout.to_rows(&t, &mut back);
        assert_eq!(back, w);
    }

    #[test]
    fn lists_the_chunks_with_a_value_other_than_zero() {
        let mut lists = NonZeroChunks::new();
        let mut x = [0.0f32; 21];
        x[9] = 0.5;
        x[20] = -1.0;
        lists.push(&x);
        x = [-0.0; 21];
        lists.push(&x);
        x[3] = f32::NAN;
        lists.push(&x);
        assert_eq!(lists.len(), 3);
        assert_eq!(lists.of(0), &[1, 2]);
        assert!(lists.of(1).is_empty(), "-0.0 is zero");
        assert_eq!(lists.of(2), &[0], "NaN is not zero");
        assert!((lists.density(21) - 3.0 / 9.0).abs() < 1e-12);
        lists.clear();
        assert!(lists.is_empty());
    }
}
