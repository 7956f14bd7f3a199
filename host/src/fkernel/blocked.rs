//! One-sample inference from weights in blocks of [`BLOCK`] rows: the bits
//! of `tinymlp::kernels::matvec`, at the speed of streaming the weights.
//!
//! # Why another layout
//!
//! `matvec` reads a row-major matrix eight rows at a time, from eight places
//! `4 × inputs` bytes apart. On an AMD Zen 5 that takes 1.5–1.8× as long as
//! streaming the same weights once (784×64, batch 1), whatever instructions
//! do it (`BENCHMARKS.md`, fifteenth round): eight rows' chunks must be
//! gathered from eight places for every step. [`BlockedRows`] keeps each
//! block's chunk `c` of its eight rows side by side (`[block][chunk][row][lane]`),
//! so the product reads one stream and LLVM holds two rows' lanes in one
//! 512-bit register without shuffles. Built once per model
//! ([`BlockedNet`](crate::model::blocked::BlockedNet)), it pays from the
//! second inference on.
//!
//! # Same bits
//!
//! Each row's lane `l` adds `w[8c + l] · x[8c + l]` over the chunks in
//! ascending order, starting from `+0.0`; the last chunk of a width that is
//! not a multiple of eight is zero-padded in the weights and in the input, so
//! its missing lanes add `0 · 0 = +0.0`, as `tinymlp`'s tail does. Then the
//! pairwise reduction `tinymlp::kernels::reduce_lanes` and the bias: the order
//! of `tinymlp::kernels::dot`. The rows that pad the last block are zero and
//! never written out. `host/tests/fkernel_blocked.rs` checks every shape
//! against `matvec` bit for bit.

use tinymlp::kernels::{reduce_lanes, LANES};

/// Rows per block: eight accumulators of [`LANES`] lanes, two rows per
/// 512-bit register.
pub const BLOCK: usize = 8;

/// [`LANES`] consecutive inputs (or weights) of one row.
type Chunk = [f32; LANES];

/// One chunk of each of a block's rows.
type BlockChunk = [Chunk; BLOCK];

/// A row-major matrix re-laid in blocks of [`BLOCK`] rows, chunk by chunk.
#[derive(Clone, Debug, PartialEq)]
pub struct BlockedRows {
    /// `blocks[k · chunks + c]`: chunk `c` of the rows of block `k`.
    blocks: Vec<BlockChunk>,
    rows: usize,
    inputs: usize,
}

impl BlockedRows {
    /// The matrix `weights`, row-major `[rows][inputs]`.
    ///
    /// # Panics
    /// If `inputs` is zero or does not divide `weights.len()`.
    pub fn new(weights: &[f32], inputs: usize) -> Self {
        assert!(
            inputs > 0 && weights.len().is_multiple_of(inputs),
            "BlockedRows: weights are not rows of {inputs} inputs"
        );
        let rows = weights.len() / inputs;
        let chunks = inputs.div_ceil(LANES);
        let mut blocks = vec![[[0.0; LANES]; BLOCK]; rows.div_ceil(BLOCK) * chunks];
        for (o, row) in weights.chunks_exact(inputs).enumerate() {
            for (c, part) in row.chunks(LANES).enumerate() {
                blocks[o / BLOCK * chunks + c][o % BLOCK][..part.len()].copy_from_slice(part);
            }
        }
        Self {
            blocks,
            rows,
            inputs,
        }
    }

    /// Rows (outputs) of the matrix.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Inputs (columns) of the matrix.
    pub fn inputs(&self) -> usize {
        self.inputs
    }

    /// `y = W·x + b`, every `y[o]` the bits of `tinymlp::kernels::matvec`.
    ///
    /// # Panics
    /// If `x` is not [`inputs`](Self::inputs) long, or `bias` and `y` not
    /// [`rows`](Self::rows).
    pub fn matvec(&self, bias: &[f32], x: &[f32], y: &mut [f32]) {
        assert_eq!(x.len(), self.inputs, "BlockedRows::matvec: input width");
        assert_eq!(
            bias.len(),
            self.rows,
            "BlockedRows::matvec: one bias per row"
        );
        assert_eq!(
            y.len(),
            self.rows,
            "BlockedRows::matvec: one output per row"
        );
        let (whole, tail) = x.as_chunks::<LANES>();
        let mut last = [0.0; LANES];
        last[..tail.len()].copy_from_slice(tail);
        let chunks = self.inputs.div_ceil(LANES);
        for (k, block) in self.blocks.chunks_exact(chunks).enumerate() {
            let rows = k * BLOCK..(k * BLOCK + BLOCK).min(self.rows);
            let sums = block_sums(block, whole, &last);
            for ((y, b), sum) in y[rows.clone()].iter_mut().zip(&bias[rows]).zip(sums) {
                *y = sum + b;
            }
        }
    }
}

/// The [`BLOCK`] dot products of one block: its whole chunks against
/// `whole`, then (when the width has a tail) its last chunk against `last`.
#[inline(always)]
fn block_sums(block: &[BlockChunk], whole: &[Chunk], last: &Chunk) -> [f32; BLOCK] {
    let mut acc = [[0.0f32; LANES]; BLOCK];
    let (full, tail) = block.split_at(whole.len());
    for (w, x) in full.iter().zip(whole) {
        mac_block(&mut acc, w, x);
    }
    for w in tail {
        mac_block(&mut acc, w, last);
    }
    // As in `tinymlp`'s kernels: keeps LLVM from shaping the lane loop
    // around the final reduction; changes no result.
    core::hint::black_box(acc).map(|lanes| reduce_lanes(&lanes))
}

/// `acc[r][l] += w[r][l] · x[l]` for every row and lane of one chunk.
///
/// The rows written out, as in `tinymlp`'s blocked kernels: over a loop of
/// rows LLVM vectorises across the rows (one lane of eight rows per
/// register, with shuffles) instead of across the lanes, 5× slower.
#[inline(always)]
fn mac_block(acc: &mut [Chunk; BLOCK], w: &BlockChunk, x: &Chunk) {
    let [a0, a1, a2, a3, a4, a5, a6, a7] = acc;
    let [w0, w1, w2, w3, w4, w5, w6, w7] = w;
    mac_lanes(a0, w0, x);
    mac_lanes(a1, w1, x);
    mac_lanes(a2, w2, x);
    mac_lanes(a3, w3, x);
    mac_lanes(a4, w4, x);
    mac_lanes(a5, w5, x);
    mac_lanes(a6, w6, x);
    mac_lanes(a7, w7, x);
}

/// `acc[l] += w[l] · x[l]` for the [`LANES`] lanes of one row.
#[inline(always)]
fn mac_lanes(acc: &mut Chunk, w: &Chunk, x: &Chunk) {
    for lane in 0..LANES {
        acc[lane] += w[lane] * x[lane];
    }
}
