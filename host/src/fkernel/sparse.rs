//! Sparse inputs: the first layer's forward product over only the chunks of
//! inputs that hold a value other than zero, from the layer's weights stored
//! **input-major** ([`InputMajor`]) — the bits of
//! [`FFast::forward_batch_rows`] on the row-major weights.
//!
//! Four fifths of an MNIST image are background, and 61 % of its chunks of
//! [`LANES`] pixels are all zero. A row-major product streams every weight
//! for every sample; stored input-major, the weights of one input are one
//! contiguous vector per slab of sixteen rows, so a sample only reads those
//! of its non-zero chunks, and each half of a chunk's lanes only where that
//! half is not zero ([`NonZeroChunks`], recorded when the batch is staged;
//! 28 % of MNIST's chunks per half). The trainer keeps the first layer's
//! rows and their optimiser state input-major for an epoch. Their SGD step is
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
//! the products of chunks whose half of the lanes is all zero left out. A
//! left-out product is `w·0 = ±0.0` for a finite `w`, and adding `±0.0` to
//! a chain that starts at `+0.0` changes nothing (such a chain is never
//! `-0.0`: a sum is `-0.0` only when both terms are). For a weight that is not finite the product would be
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

/// For each sample of a batch and each half of the lanes ([`HALVES`]), the
/// chunks of [`LANES`] inputs where that half holds a value other than
/// `±0.0`, ascending.
///
/// The kernels run the lanes of a chunk in two passes of four, each over
/// its own half's list: a chunk whose half is zero is left out of that
/// half's lane chains as a zero chunk is left out of all eight (see the
/// module docs). MNIST's strokes are narrow: each half's list holds 28 %
/// of the chunks, where 39 % are not all zero.
#[derive(Clone, Debug)]
pub struct NonZeroChunks {
    /// Per half: every sample's chunks, one sample after another, up to
    /// the last of `starts` (past it, room that stays between batches).
    lists: [Vec<u32>; 2],
    /// Per half: where each sample's chunks start, and where the last ends.
    starts: [Vec<usize>; 2],
    /// Chunks not all zero, over every sample recorded.
    whole: usize,
    /// Which instructions look for the zeros.
    fast: FFast,
}

/// The lanes of a chunk in the two halves a kernel's pass takes.
pub const HALVES: [Range<usize>; 2] = [0..LANES / 2, LANES / 2..LANES];

/// Which lanes of one chunk hold a value other than `±0.0`: bit `l` for
/// lane `l` (NaN counts as not zero, as in `!=`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct ChunkMask(pub(super) u32);

impl ChunkMask {
    /// The mask of `chunk` (at most [`LANES`] values).
    pub(super) fn of(chunk: &[f32]) -> Self {
        // Bits without the sign: zero only for `±0.0`.
        let bits = chunk.iter().enumerate().fold(0, |mask, (l, v)| {
            mask | (u32::from(v.to_bits() << 1 != 0) << l)
        });
        Self(bits)
    }
}

/// Where a kernel writes one sample's lists: per half, a slot for every
/// chunk, and how many it kept; and how many chunks are not all zero.
#[derive(Debug)]
pub(super) struct ListsOut<'a> {
    pub(super) lists: [&'a mut [u32]; 2],
    pub(super) kept: [usize; 2],
    pub(super) whole: usize,
}

impl ListsOut<'_> {
    /// Records the chunks `first..` of masks `masks` in the lists of the
    /// halves that are not zero, after those kept so far. Branch-free: each
    /// index is written to both lists, and kept by moving on (MNIST's
    /// strokes make a branch on it a coin toss). The counts are locals, in
    /// registers: in `self` they would be stored after each write to a
    /// list, which LLVM cannot tell apart from them.
    #[inline(always)]
    pub(super) fn record(&mut self, first: usize, masks: impl Iterator<Item = ChunkMask>) {
        let [low, high] = &mut self.lists;
        let (low, high) = (&mut **low, &mut **high);
        let (mut kept, mut whole) = (self.kept, self.whole);
        let half = (1 << (LANES / 2)) - 1;
        for (c, ChunkMask(mask)) in (first..).zip(masks) {
            low[kept[0]] = c as u32;
            kept[0] += usize::from(mask & half != 0);
            high[kept[1]] = c as u32;
            kept[1] += usize::from(mask >> (LANES / 2) != 0);
            whole += usize::from(mask != 0);
        }
        (self.kept, self.whole) = (kept, whole);
    }
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
            lists: Default::default(),
            starts: [vec![0], vec![0]],
            whole: 0,
            fast,
        }
    }

    /// Forgets every sample.
    pub fn clear(&mut self) {
        for start in &mut self.starts {
            start.clear();
            start.push(0);
        }
        self.whole = 0;
    }

    /// Records the next sample's inputs `x`.
    pub fn push(&mut self, x: &[f32]) {
        let count = x.len().div_ceil(LANES);
        let bases = self.starts.each_ref().map(|s| s[s.len() - 1]);
        let [low, high] = &mut self.lists;
        // Grown, never shrunk: filling the room for every sample would cost
        // a good part of what finding the chunks does.
        for (list, base) in [&mut *low, &mut *high].into_iter().zip(bases) {
            if list.len() < base + count {
                list.resize(base + count, 0);
            }
        }
        let mut out = ListsOut {
            lists: [
                &mut low[bases[0]..][..count],
                &mut high[bases[1]..][..count],
            ],
            kept: [0; 2],
            whole: 0,
        };
        match self.fast.path {
            FPath::Portable => out.record(0, x.chunks(LANES).map(ChunkMask::of)),
            FPath::Avx2 | FPath::Avx512 => self
                .fast
                .simd(super::Kernel::NonZeroChunks { x, out: &mut out }),
        }
        let (kept, whole) = (out.kept, out.whole);
        self.whole += whole;
        for ((start, base), kept) in self.starts.iter_mut().zip(bases).zip(kept) {
            start.push(base + kept);
        }
    }

    /// Records every sample of `xs` (after those already recorded).
    pub fn extend(&mut self, xs: Rows<'_>) {
        for s in 0..xs.len() {
            self.push(xs.get(s));
        }
    }

    /// Samples recorded.
    pub fn len(&self) -> usize {
        self.starts[0].len() - 1
    }

    /// True when no sample is recorded.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The chunks of sample `s` where half `h` of the lanes ([`HALVES`])
    /// holds a value other than `±0.0`, ascending.
    pub fn half(&self, h: usize, s: usize) -> &[u32] {
        let (chunks, start) = (&self.lists[h], &self.starts[h]);
        &chunks[start[s]..start[s + 1]]
    }

    /// Chunks that are not all zero over all chunks of the samples recorded
    /// (0 without any).
    pub fn density(&self, inputs: usize) -> f64 {
        let all = self.len() * inputs.div_ceil(LANES);
        self.whole as f64 / all.max(1) as f64
    }
}

/// Which chunks of each sample's inputs a sparse kernel reads.
#[derive(Clone, Copy, Debug)]
pub enum Chunks<'a> {
    /// Every chunk: the reference's products, all of them.
    All,
    /// Those listed for the samples `first..` of the lists (the kernel's
    /// sample `s` is list sample `first + s`), each half of the lanes its
    /// own; the lists must hold every chunk where the half is not zero.
    Listed(&'a NonZeroChunks, usize),
}

impl Chunks<'_> {
    /// The chunks half `h` of the lanes of sample `s` reads: listed, or
    /// all `count` of them.
    pub(super) fn each(&self, h: usize, s: usize, count: usize) -> ChunkIter<'_> {
        match *self {
            Chunks::All => ChunkIter::All(0..count as u32),
            Chunks::Listed(lists, first) => ChunkIter::Listed(lists.half(h, first + s).iter()),
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
/// lanes of `tinymlp::kernels::dot`, each half's over the chunks it reads.
/// The reference the vector forms are tested against, not a fast path:
/// without AVX-512 or AVX2 the trainer keeps the first layer row-major.
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
            for (h, lanes) in HALVES.into_iter().enumerate() {
                for c in chunks.each(h, s, count) {
                    for lane in lanes.clone() {
                        let i = c * LANES + lane;
                        if i < layout.inputs {
                            acc[lane] += wt[layout.at(o, i)] * x[i];
                        }
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
        assert_eq!([lists.half(0, 0), lists.half(1, 0)], [&[1][..], &[2]]);
        assert!(
            lists.half(0, 1).is_empty() && lists.half(1, 1).is_empty(),
            "-0.0 is zero"
        );
        assert_eq!(
            [lists.half(0, 2), lists.half(1, 2)],
            [&[0][..], &[]],
            "NaN is not zero"
        );
        assert!((lists.density(21) - 3.0 / 9.0).abs() < 1e-12);
        lists.clear();
        assert!(lists.is_empty());
    }
}
