//! The model-parallel epoch: the rows of every hidden layer split over the
//! threads, for networks of any depth with at least one hidden layer.
//!
//! The data-parallel epoch ([`sharded`](super::sharded)) gives each thread
//! whole shards: every step, each thread then needs the other's gradients
//! (to add them) and the other's updated parameters (for the next forward
//! pass) — about 400 KB crossing between cores per step for 784-64-10 and
//! 2 MB for 784-256-128-10, which costs more than the arithmetic. Here each
//! thread instead owns a fixed share of the rows of *every* hidden layer
//! (their weights, biases, optimiser state and gradients) for a whole epoch
//! and computes every sample of the batch for those rows. The small output
//! layer is computed by every thread on its own copy, identically.
//!
//! # One step
//!
//! With `m` hidden layers, per step:
//!
//! - **forward**, layer by layer: each thread computes its rows of layer `l`
//!   from the whole of layer `l - 1`, publishes them, and after a barrier
//!   copies the other threads' rows (`m` barriers);
//! - **output layer** on every thread, and the transposed product through it
//!   into each thread's own columns of the top hidden layer;
//! - **backward**, from the top hidden layer down: each thread publishes its
//!   rows of layer `l`'s gradient, accumulates its rows' weight gradient, and
//!   after a barrier copies the other rows' gradient; the transposed product
//!   into its own columns of layer `l - 1` reads *every* thread's rows of
//!   `W_l`, block after block in ascending rows (`m - 1` barriers);
//! - with `m ≥ 2`, one more barrier, after which no thread reads another's
//!   weights any more, and each thread updates its own rows.
//!
//! Two barriers also carry work of the thread's own, done between arriving
//! and waiting (`SpinBarrier::arrive`), so that a thread that arrives early
//! does not only spin: at the first forward barrier it stages the next
//! batch's inputs (double-buffered by step parity), and at the barrier
//! before the update it updates its rows of the first layer, which no other
//! thread reads.
//!
//! What crosses between cores per step is activations and their gradients
//! (batch × width floats per layer), plus each thread's reading of the other
//! threads' rows of `W_1 … W_{m-1}` (64 KB per thread and step for
//! 784-256-128-10), instead of whole gradients and parameters.
//!
//! # Same bits
//!
//! Every number is computed by the same kernels in the same order as in the
//! sharded epoch, only for a subset of rows: the pre-activations by
//! `forward_batch_rows` (per element `dot + b`), the weight gradient of each
//! [`SHARD`](super::plan::SHARD) from zero (`set_rank_k_rows`: samples
//! ascending, zero skipping per row), the shard gradients added in
//! shard order, the bias gradients added sample by sample, the transposed
//! product by `matvec_t_batch_add` over the row blocks in ascending order (one
//! chain of additions per element, as in `matvec_t_batch`), the output layer
//! on the whole batch per shard, then the same element-wise update.
//! `host/tests/train.rs` checks that 1, 2 and 3 threads give the same model,
//! on this path and on the sharded one, for one to three hidden layers.
//!
//! # Sparse inputs
//!
//! With [`FirstLayer::InputMajor`] (inputs that are mostly zero, as MNIST's
//! background is, on a CPU with AVX-512 or AVX2) each thread keeps its rows of the
//! first layer and their optimiser state input-major for the epoch
//! (`fkernel::sparse`; no other thread reads them), and computes their
//! forward product over only the chunks of inputs that are not all zero,
//! listed when the batch is staged. With SGD, their weight gradient is left
//! to the update, `FFast::sgd_step_input_major` (`fkernel::fused`: from 32
//! rows formed input by input over the samples whose input is not zero and
//! never stored); with another optimiser it stays row-major and is
//! transposed on the way into the update. The bits are the same (see
//! `fkernel::sparse` and `fkernel::fused`). This is worth a row split on one
//! thread too.
//!
//! # Files
//!
//! - `mod.rs`: when the row split applies ([`applies`], [`buffer_bytes`]) and
//!   the epoch itself ([`epoch`]);
//! - `sync.rs`: what the threads share — the spinning barrier (which times
//!   each thread's waiting, for [`threads`](super::threads)), the published
//!   rows (`Slots`, `Shared`) and their copying (`publish`, `gather`) — and
//!   the threads themselves (`run_threads`: the trainer's rayon pool's own);
//! - `parts.rs`: what each thread owns for an epoch (`Part`, `RowPart`,
//!   `OutputCopy`), how the rows are split (`row_ranges`) and written back;
//! - `worker.rs`: one thread's epoch — its buffers, and the forward pass,
//!   output layer, backward pass and update of each step.

mod parts;
mod sync;
mod worker;

use std::ops::Range;
use std::sync::atomic::{AtomicU64, AtomicUsize};
use std::sync::Mutex;
use std::time::Instant;

use super::inputs::Inputs;
use super::observer::{Observer, Quiet, TrainError};
use super::plan::{EpochPlan, EpochSums};
use crate::fkernel::sparse::VECTOR;
use crate::fkernel::FFast;
use crate::model::Net;
use parts::{parts, row_ranges, shared_weights, write_back, Part};
use sync::{run_threads, Shared, Slots, SpinBarrier, NO_STOP};
use worker::worker;

/// Largest batch the row split takes: every thread holds the whole batch's
/// inputs and activations (16 MB of inputs for 784 features), so bigger
/// batches go to the sharded epoch, whose memory does not grow with the batch.
pub const MAX_BATCH: usize = 4096;

/// How a thread computes the first layer's forward product.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FirstLayer {
    /// From the row-major weights, every input.
    RowMajor,
    /// From an input-major copy, only the chunks of inputs not all zero.
    InputMajor,
}

impl FirstLayer {
    /// [`FirstLayer::InputMajor`] for inputs that are mostly zero
    /// ([`Inputs::mostly_zero`]) on a path with vector forms of the sparse
    /// kernels (AVX-512 or AVX2); else [`FirstLayer::RowMajor`].
    pub fn choose(inputs: &Inputs<'_>, fast: FFast) -> Self {
        if fast.path().has_sparse_kernels() && inputs.mostly_zero() {
            FirstLayer::InputMajor
        } else {
            FirstLayer::RowMajor
        }
    }
}

/// Whether [`epoch`] can train `net` on `threads` threads computing the
/// first layer as `first` says: at least one hidden layer, the widest of at
/// least 8 rows, more than one thread (or one with
/// [`FirstLayer::InputMajor`]), and batches of at most [`MAX_BATCH`].
pub fn applies(net: &Net, (threads, first): (usize, FirstLayer), batch_size: usize) -> bool {
    (threads > 1 || first == FirstLayer::InputMajor)
        && widest_hidden(net) >= 8
        && batch_size <= MAX_BATCH
        && buffer_bytes(net, threads, batch_size) <= super::THREAD_BUFFER_BYTES
}

/// Bytes of the buffers [`epoch`] allocates, summed over its threads (each
/// holds the whole batch's inputs and every layer's activations and
/// gradients, and its rows' gradients twice): when they would exceed
/// [`THREAD_BUFFER_BYTES`](super::THREAD_BUFFER_BYTES), the sharded epoch
/// runs instead, so memory does not grow with `--threads`.
pub fn buffer_bytes(net: &Net, threads: usize, batch_size: usize) -> usize {
    let widths = net.architecture().widths();
    let (inputs, classes) = (widths[0], widths[widths.len() - 1]);
    let hidden: usize = widths[1..widths.len() - 1].iter().sum();
    let last = widths[widths.len() - 2];
    // Each thread's rows of the first layer's gradient once more, for an
    // update other than SGD on input-major rows (`FirstLayer::InputMajor`).
    let first = net.layer(0).weights.len();
    let per_thread = batch_size * (inputs + 4 * hidden + 2 * classes)
        + (2 * net.params().len() + first) / threads.max(1)
        + 2 * last * classes;
    per_thread.saturating_mul(threads).saturating_mul(4)
}

/// The threads [`epoch`] would train `net` on when offered `threads`
/// ([`thread_count`]), or `None` when it does not apply to that many
/// ([`applies`]; the buffers counted for the threads it would take, not for
/// those offered).
pub fn threads_for(
    net: &Net,
    (threads, first): (usize, FirstLayer),
    batch_size: usize,
) -> Option<usize> {
    let count = thread_count(net, (threads, first));
    applies(net, (count, first), batch_size).then_some(count)
}

/// Threads [`epoch`] runs `net` on when given `threads` and computing the
/// first layer as `first` says: at most one per unit of rows of the hidden
/// layer with the most units. A unit is four rows, or with
/// [`FirstLayer::InputMajor`] one of the first layer's slabs of [`VECTOR`]
/// rows: its kernels cost as much for a thread's part of a slab as for the
/// whole slab (the forward product of 4 or 8 rows of 784 inputs took as long
/// as that of 16, with AVX-512 and with AVX2: `BENCHMARKS.md`, sixteenth
/// round), so threads past one per slab would repeat the per-thread work
/// (staging, the output layer) and wait at more barriers for nothing. For
/// 784-64-10: four threads, not sixteen.
pub fn thread_count(net: &Net, (threads, first): (usize, FirstLayer)) -> usize {
    let widths = net.architecture().widths();
    let units = widths[1..widths.len() - 1]
        .iter()
        .enumerate()
        .map(|(l, &w)| match (l, first) {
            (0, FirstLayer::InputMajor) => w.div_ceil(VECTOR),
            _ => w / 4,
        })
        .max()
        .unwrap_or(0);
    threads.min(units).max(1)
}

/// The width of the widest hidden layer (0 without one).
fn widest_hidden(net: &Net) -> usize {
    let widths = net.architecture().widths();
    widths[1..widths.len() - 1]
        .iter()
        .copied()
        .max()
        .unwrap_or(0)
}

/// Runs one epoch with the rows of every hidden layer split over `threads`
/// threads (see [`applies`]).
pub fn epoch(
    net: &mut Net,
    state: &mut [Net],
    (threads, first): (usize, FirstLayer),
    plan: &EpochPlan<'_>,
    observer: &mut (impl Observer + Send),
) -> Result<EpochSums, TrainError> {
    let widths = net.architecture().widths().to_vec();
    let count = thread_count(net, (threads, first));
    let ranges: Vec<Vec<Range<usize>>> = widths[1..widths.len() - 1]
        .iter()
        .map(|&w| row_ranges(w, count))
        .collect();
    let slots = |l: usize| -> Vec<Slots> {
        ranges[l]
            .iter()
            .map(|r| {
                let buffer = || Mutex::new(vec![0.0; plan.batch_size * r.len()]);
                [buffer(), buffer()]
            })
            .collect()
    };
    let shared = Shared {
        barrier: SpinBarrier::new(count),
        stop_at: AtomicUsize::new(NO_STOP),
        weights: shared_weights(net, &ranges, first),
        acts: (0..ranges.len()).map(slots).collect(),
        deltas: (0..ranges.len())
            .map(|l| if l == 0 { Vec::new() } else { slots(l) })
            .collect(),
        ranges,
        waited: AtomicU64::new(0),
    };
    let mut parts = parts(net, state, (&shared.ranges, first), count);
    let parts_once: Vec<Mutex<&mut Part>> = parts.iter_mut().map(Mutex::new).collect();
    let observer = Mutex::new(Some(observer));
    let started = Instant::now();
    let result = run_threads(count, |k| {
        let mut part = parts_once[k].lock().expect("each part is taken once");
        match k {
            0 => {
                let observer = observer.lock().expect("taken once").take();
                worker(k, &mut part, &widths, &shared, plan, observer)
            }
            _ => worker(k, &mut part, &widths, &shared, plan, None::<&mut Quiet>),
        }
    });
    drop(parts_once);
    let threads_time = started.elapsed().as_secs_f64() * count as f64;
    write_back(net, state, &shared, &parts);
    let waited = shared.waited.into_inner() as f64 * 1e-9;
    let mut sums = result?;
    sums.waiting = (count > 1).then(|| (waited / threads_time.max(1e-9)).min(1.0));
    Ok(sums)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Architecture;

    #[test]
    fn threads_stop_at_one_per_slab_of_an_input_major_first_layer() {
        let net = |hidden: &[usize]| {
            let widths: Vec<usize> = [784].iter().chain(hidden).chain(&[10]).copied().collect();
            Net::initialised(&Architecture::from_widths(widths).unwrap(), 1)
        };
        let (input_major, row_major) = (FirstLayer::InputMajor, FirstLayer::RowMajor);
        assert_eq!(thread_count(&net(&[64]), (32, input_major)), 4);
        assert_eq!(thread_count(&net(&[64]), (32, row_major)), 16);
        assert_eq!(thread_count(&net(&[64]), (2, input_major)), 2);
        assert_eq!(thread_count(&net(&[70]), (32, input_major)), 5);
        assert_eq!(thread_count(&net(&[8]), (2, input_major)), 1);
        // Another layer with more units than the first's slabs sets it.
        assert_eq!(thread_count(&net(&[256, 128]), (64, input_major)), 32);
        assert_eq!(thread_count(&net(&[32, 64]), (64, input_major)), 16);
    }

    #[test]
    fn buffers_are_counted_for_the_threads_taken_not_those_offered() {
        let net = Net::initialised(&Architecture::from_widths(vec![784, 32, 10]).unwrap(), 1);
        let first = FirstLayer::InputMajor;
        // 64 threads' buffers for batches of 4096 would pass the limit;
        // the two threads its two slabs take stay within it.
        assert!(!applies(&net, (64, first), 4096));
        assert_eq!(threads_for(&net, (64, first), 4096), Some(2));
        assert_eq!(threads_for(&net, (64, FirstLayer::RowMajor), 32), Some(8));
        assert_eq!(threads_for(&net, (1, FirstLayer::RowMajor), 32), None);
    }

    #[test]
    fn row_ranges_cover_the_rows_in_blocks_of_four() {
        assert_eq!(row_ranges(64, 2), vec![0..32, 32..64]);
        assert_eq!(row_ranges(64, 3), vec![0..20, 20..40, 40..64]);
        assert_eq!(row_ranges(16, 1), vec![0..16]);
        assert_eq!(row_ranges(16, 4), vec![0..4, 4..8, 8..12, 12..16]);
        // Narrower than four rows a thread: some threads own none.
        assert_eq!(row_ranges(3, 2), vec![0..0, 0..3]);
        assert_eq!(row_ranges(6, 3), vec![0..0, 0..4, 4..6]);
    }
}
