//! The first layer's whole SGD step in one pass: its gradient over a batch
//! and the update of its input-major weights ([`InputMajor`]), without the
//! gradient ever being stored — the bits of
//! [`FFast::set_rank_k_rows`]/[`FFast::add_rank_k_sum_rows`] shard by shard
//! followed by [`FFast::sgd_update_input_major`].
//!
//! # Why input by input
//!
//! Element `(o, i)` of the gradient is a chain over the samples whose delta
//! `d[s][o]` is not zero. The row-major gradient skips those zero deltas (a
//! ReLU layer's half). Taken input by input instead, it can skip the samples
//! whose *input* `x[s][i]` is zero: on MNIST four fifths of the pixels, and
//! for two fifths of the inputs every sample of a batch of 32. The sixteen (or more)
//! rows of one input are one vector per slab, the very vectors the
//! input-major weights and velocity hold, so each input's gradient is formed
//! in registers, shard by shard, and goes straight into the update. The
//! vector forms walk a few neighbouring inputs together, over the samples
//! where any of them is not zero (the loop's scalar work, shared, bound the
//! walk one input at a time; the products by a zero input add `±0.0`).
//!
//! # Why the bits are the same
//!
//! Both chains start from `+0.0` and add the same non-zero products in the
//! same (ascending) sample order. What differs are products `d·0` (kept by
//! the row-major chain, left out here or added for a neighbour's sample)
//! and `0·x` (the other way round):
//! with every delta and input finite these are `±0.0`, and adding `±0.0` to
//! a chain that starts at `+0.0` changes nothing (such a chain is never
//! `-0.0`). So the fused form only runs when every delta and input of the
//! batch is finite; otherwise the step is taken apart. Shards are summed
//! from zero and added in order (`g = s₀ + s₁ + …`), then the update is that
//! of `tinymlp::optim::Sgd::update_slice`.
//!
//! `host/tests/fkernel_fused.rs` checks it against the step taken apart with
//! `to_bits` equality on every path (sparse inputs with `-0.0` among them,
//! zero deltas, shards of several sizes, partial slabs, non-finite values).

use tinymlp::batch::Rows;
use tinymlp::{Sgd, TensorKind};

use super::sparse::InputMajor;
use super::{FFast, FPath};

/// Rows from which the fused form is the faster one, on both vector paths.
/// Its walk over every input and shard costs less per row the more rows one
/// walk serves, while the step taken apart costs in proportion to the rows:
/// MNIST batches of 32, best of 20 in three alternated runs (`BENCHMARKS.md`,
/// ninth round), fused ÷ apart = 0.93–1.0 at 16 rows, 0.80–0.93 at 32,
/// 0.71–0.80 at 48, 0.63–0.71 at 64, 0.59–0.61 at 128 with AVX-512;
/// 1.11–1.32 at 16, 0.87–0.96 at 32, 0.85–0.90 at 48, 0.81–0.88 at 64,
/// 0.76–0.77 at 128 with AVX2 (`-C target-cpu=x86-64-v3`). Before the walk
/// took inputs in groups (eighth round) it was 1.15 and 1.06 at 32 rows, and
/// the threshold 48: two threads on 784-64-10 (32 rows each) now fuse too.
pub const FUSED_ROWS: usize = 32;

/// The deltas and inputs of one batch for the rows `row0..` of a layer
/// (`dys` holds every row's deltas), summed in shards of `shard` samples.
#[derive(Clone, Copy, Debug)]
pub struct ShardedBatch<'a> {
    /// The deltas of every row of the layer, sample after sample.
    pub dys: Rows<'a>,
    /// The layer's inputs, sample after sample.
    pub xs: Rows<'a>,
    /// The first of the rows updated.
    pub row0: usize,
    /// Samples per shard (the unit of summation order).
    pub shard: usize,
}

impl FFast {
    /// One SGD step of input-major weights `wt` and velocity `vt` with the
    /// gradient of `batch`: the bits of writing the first shard's gradient
    /// with [`set_rank_k_rows`](Self::set_rank_k_rows), adding each later
    /// shard's with [`add_rank_k_sum_rows`](Self::add_rank_k_sum_rows), then
    /// [`sgd_update_input_major`](Self::sgd_update_input_major), which is
    /// how it is taken below [`FUSED_ROWS`] rows. `scratch`
    /// (`layout.rows × layout.inputs`) is working space for a step taken
    /// apart; what it holds afterwards is unspecified. Returns whether every
    /// weight is finite.
    ///
    /// # Panics
    /// If the lengths do not fit the layout, or `batch.shard` is zero.
    pub fn sgd_step_input_major(
        self,
        sgd: (Sgd, TensorKind, f32),
        batch: ShardedBatch<'_>,
        scratch: &mut [f32],
        (wt, vt, layout): (&mut [f32], &mut [f32], InputMajor),
    ) -> bool {
        let ShardedBatch { dys, xs, row0, .. } = batch;
        assert!(batch.shard > 0, "shards of no samples");
        assert_eq!(dys.len(), xs.len(), "one delta row per input row");
        assert_eq!(xs.width, layout.inputs, "inputs not in this layout");
        assert!(row0 + layout.rows <= dys.width, "rows out of range");
        assert_eq!(wt.len(), layout.len(), "weights not in this layout");
        assert_eq!(vt.len(), layout.len(), "velocity not in this layout");
        assert_eq!(scratch.len(), layout.rows * layout.inputs, "scratch");
        match self.path {
            FPath::Portable => {}
            FPath::Avx2 | FPath::Avx512 if layout.rows < FUSED_ROWS => {}
            FPath::Avx2 | FPath::Avx512 => {
                let mut finite = None;
                self.simd(super::Kernel::SgdStep {
                    sgd,
                    batch,
                    t: (&mut *wt, &mut *vt, layout),
                    finite: &mut finite,
                });
                if let Some(finite) = finite {
                    return finite;
                }
            }
        }
        self.sgd_step_apart(sgd, batch, scratch, (wt, vt, layout))
    }

    /// The step of [`sgd_step_input_major`](Self::sgd_step_input_major)
    /// taken apart: the gradient into `scratch`, then the update.
    fn sgd_step_apart(
        self,
        sgd: (Sgd, TensorKind, f32),
        ShardedBatch {
            dys,
            xs,
            row0,
            shard,
        }: ShardedBatch<'_>,
        scratch: &mut [f32],
        t: (&mut [f32], &mut [f32], InputMajor),
    ) -> bool {
        let shards = dys
            .data
            .chunks(shard * dys.width)
            .zip(xs.data.chunks(shard * xs.width));
        if xs.is_empty() {
            scratch.fill(0.0);
        }
        for (j, (d, x)) in shards.enumerate() {
            let (d, x) = (Rows::new(d, dys.width), Rows::new(x, xs.width));
            if j == 0 {
                self.set_rank_k_rows(scratch, row0, d, x);
            } else {
                self.add_rank_k_sum_rows(scratch, row0, d, x);
            }
        }
        self.sgd_update_input_major(sgd, scratch, t)
    }
}
