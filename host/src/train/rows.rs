//! The model-parallel epoch for networks with one hidden layer, on several threads.
//!
//! The data-parallel epoch ([`sharded`](super::sharded)) gives each thread
//! whole shards: every step, each thread then needs the other's gradients
//! (to add them) and the other's updated parameters (for the next forward
//! pass) — about 400 KB crossing between cores per step for 784-64-10, which
//! costs more than the arithmetic. Here each thread instead owns a fixed set
//! of hidden *rows* (their weights, biases, optimiser state and gradients) for
//! a whole epoch and computes every sample of the batch for those rows; per
//! step the threads only exchange the hidden activations of their rows (a few
//! KB) at one barrier. The small output layer is computed by every thread on
//! its own copy, identically.
//!
//! # Same bits
//!
//! Every number is computed by the same kernels in the same order as in the
//! sharded epoch, only for a subset of rows: the hidden pre-activations by
//! `forward_batch_rows` (per element `dot + b`), the hidden gradient of each
//! [`SHARD`] by `rank_k_rows` into a zeroed buffer (samples ascending, zero
//! skipping per row), the shard gradients added in shard order, the bias
//! gradients added sample by sample, the output layer on the whole batch per
//! shard, then the same element-wise update. `host/tests/train.rs` checks
//! that 1 thread (sharded epoch) and 2 or 3 threads (this one) give the same
//! model.

use std::ops::Range;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

use tinymlp::batch::{
    accumulate_bias, forward_batch, forward_batch_rows, matvec_t_batch_cols, rank_k, rank_k_rows,
    Rows,
};
use tinymlp::{argmax, cross_entropy_grad, TensorKind};

use super::observer::{Observer, Quiet, TrainError};
use super::optimizer::Optimizer;
use super::plan::{EpochPlan, EpochSums, SHARD};
use crate::model::Net;

/// Largest batch the row split takes: every thread holds the whole batch's
/// inputs and activations (16 MB of inputs for 784 features), so bigger
/// batches go to the sharded epoch, whose memory does not grow with the batch.
pub const MAX_BATCH: usize = 4096;

/// Whether [`epoch`] can train `net` on `threads` threads: one hidden layer
/// of at least 8 rows, more than one thread, and batches of at most [`MAX_BATCH`].
pub fn applies(net: &Net, threads: usize, batch_size: usize) -> bool {
    let widths = net.architecture().widths();
    threads > 1
        && widths.len() == 3
        && widths[1] >= 8
        && batch_size <= MAX_BATCH
        && buffer_bytes(net, threads, batch_size) <= super::THREAD_BUFFER_BYTES
}

/// Bytes of the buffers [`epoch`] allocates per thread, summed over its
/// threads (each holds the whole batch's inputs and activations): when they
/// would exceed [`THREAD_BUFFER_BYTES`](super::THREAD_BUFFER_BYTES), the
/// sharded epoch runs instead, so memory does not grow with `--threads`.
/// For a network of one hidden layer.
pub fn buffer_bytes(net: &Net, threads: usize, batch_size: usize) -> usize {
    let widths = net.architecture().widths();
    let (inputs, hidden, classes) = (widths[0], widths[1], widths[widths.len() - 1]);
    let count = threads.min(hidden / 4).max(1);
    let per_thread = batch_size * (inputs + 4 * hidden + 2 * classes) + 2 * hidden * classes;
    per_thread.saturating_mul(count).saturating_mul(4)
}

/// A barrier for a fixed number of threads that spins briefly, then yields.
///
/// If a thread panics, its [`PanicGuard`] poisons the barrier and the threads
/// waiting at it panic too, instead of waiting forever.
struct SpinBarrier {
    arrived: AtomicUsize,
    generation: AtomicUsize,
    poisoned: AtomicBool,
    threads: usize,
}

impl SpinBarrier {
    fn new(threads: usize) -> Self {
        Self {
            arrived: AtomicUsize::new(0),
            generation: AtomicUsize::new(0),
            poisoned: AtomicBool::new(false),
            threads,
        }
    }

    fn wait(&self) {
        let generation = self.generation.load(Ordering::Acquire);
        if self.arrived.fetch_add(1, Ordering::AcqRel) + 1 == self.threads {
            self.arrived.store(0, Ordering::Relaxed);
            self.generation.fetch_add(1, Ordering::Release);
            return;
        }
        let mut spins = 0u32;
        while self.generation.load(Ordering::Acquire) == generation {
            assert!(
                !self.poisoned.load(Ordering::Relaxed),
                "another training thread panicked"
            );
            if spins < 2000 {
                std::hint::spin_loop();
                spins += 1;
            } else {
                std::thread::yield_now();
            }
        }
    }
}

/// Poisons the barrier when its thread unwinds.
struct PanicGuard<'a>(&'a SpinBarrier);

impl Drop for PanicGuard<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.poisoned.store(true, Ordering::Relaxed);
        }
    }
}

/// No stop requested (see [`Shared::stop_at`]).
const NO_STOP: usize = usize::MAX;

/// State shared by the threads of one epoch.
struct Shared {
    barrier: SpinBarrier,
    /// The step at which the observer asked to stop (thread 0 stores it
    /// before that step's barrier; every thread checks it after the barrier).
    /// A step number rather than a flag, so that a thread that is slow to
    /// leave the previous barrier cannot see a stop meant for the next step.
    stop_at: AtomicUsize,
    /// Hidden activations published by each thread, double-buffered by step
    /// parity: `published[thread][step % 2]`, samples of `hidden` values,
    /// only that thread's rows valid.
    published: Vec<[Mutex<Vec<f32>>; 2]>,
    /// Every thread's rows.
    ranges: Vec<Range<usize>>,
    /// Hidden width.
    hidden: usize,
}

/// A parameter slice with the matching slices of the optimiser state.
struct Owned<'a> {
    params: &'a mut [f32],
    state: Vec<&'a mut [f32]>,
}

impl Owned<'_> {
    /// Applies the update to the whole slice and clears `grads`.
    fn update(&mut self, step: Step, kind: TensorKind, grads: &mut [f32]) {
        let (s0, s1) = match self.state.as_mut_slice() {
            [a] => (&mut **a, &mut [][..]),
            [a, b] => (&mut **a, &mut **b),
            _ => unreachable!("one or two state buffers"),
        };
        step.optimizer.update(
            (step.index, step.learning_rate),
            kind,
            self.params,
            grads,
            (s0, s1),
            step.scale,
        );
        grads.fill(0.0);
    }
}

/// One optimiser step's parameters.
#[derive(Clone, Copy, Debug)]
struct Step {
    optimizer: Optimizer,
    index: usize,
    learning_rate: f32,
    scale: f32,
}

/// What one thread owns for an epoch: its hidden rows, and a copy of the
/// output layer.
struct Part<'a> {
    range: Range<usize>,
    weights: Owned<'a>,
    bias: Owned<'a>,
    output: OutputCopy,
}

/// A thread's copy of the output layer with its optimiser state.
#[derive(Clone)]
struct OutputCopy {
    weights: Vec<f32>,
    bias: Vec<f32>,
    weights_state: Vec<Vec<f32>>,
    bias_state: Vec<Vec<f32>>,
}

impl OutputCopy {
    fn of(net: &Net, state: &[Net]) -> Self {
        Self {
            weights: net.tensor(2).to_vec(),
            bias: net.tensor(3).to_vec(),
            weights_state: state.iter().map(|s| s.tensor(2).to_vec()).collect(),
            bias_state: state.iter().map(|s| s.tensor(3).to_vec()).collect(),
        }
    }

    fn write_back(&self, net: &mut Net, state: &mut [Net]) {
        net.tensor_mut(2).copy_from_slice(&self.weights);
        net.tensor_mut(3).copy_from_slice(&self.bias);
        for (s, (w, b)) in state
            .iter_mut()
            .zip(self.weights_state.iter().zip(&self.bias_state))
        {
            s.tensor_mut(2).copy_from_slice(w);
            s.tensor_mut(3).copy_from_slice(b);
        }
    }

    fn update(&mut self, step: Step, grads: &mut OutputGrads) {
        let mut weights = Owned {
            params: &mut self.weights,
            state: self.weights_state.iter_mut().map(|s| &mut s[..]).collect(),
        };
        weights.update(step, TensorKind::Weight, &mut grads.weights);
        let mut bias = Owned {
            params: &mut self.bias,
            state: self.bias_state.iter_mut().map(|s| &mut s[..]).collect(),
        };
        bias.update(step, TensorKind::Bias, &mut grads.bias);
    }
}

/// Splits `0..h` into `parts` consecutive ranges whose sizes are multiples of 4
/// (where possible) and differ by at most 4.
fn row_ranges(h: usize, parts: usize) -> Vec<Range<usize>> {
    let blocks = h.div_ceil(4);
    let mut ranges = Vec::with_capacity(parts);
    let mut start = 0;
    for k in 0..parts {
        let end = ((blocks * (k + 1) / parts) * 4).min(h);
        ranges.push(start..end);
        start = end;
    }
    ranges
}

/// Cuts `slice` into consecutive pieces of `rows` rows of `width` values each.
fn cut_rows<'a>(
    mut slice: &'a mut [f32],
    ranges: &[Range<usize>],
    width: usize,
) -> Vec<&'a mut [f32]> {
    ranges
        .iter()
        .map(|range| {
            let (head, tail) = std::mem::take(&mut slice).split_at_mut(range.len() * width);
            slice = tail;
            head
        })
        .collect()
}

/// The parts of `net`'s hidden layer, one per range.
fn parts<'a>(net: &'a mut Net, state: &'a mut [Net], ranges: &[Range<usize>]) -> Vec<Part<'a>> {
    let output = OutputCopy::of(net, state);
    let inputs = net.architecture().inputs();
    let owned =
        |w: &'a mut [f32], b: &'a mut [f32]| (cut_rows(w, ranges, inputs), cut_rows(b, ranges, 1));
    let layer = net.layer_mut(0);
    let (mut w, mut b) = owned(layer.weights, layer.bias);
    let mut state_parts: Vec<_> = state
        .iter_mut()
        .map(|s| {
            let layer = s.layer_mut(0);
            owned(layer.weights, layer.bias)
        })
        .collect();
    let mut parts = Vec::with_capacity(ranges.len());
    for range in ranges.iter().rev() {
        parts.push(Part {
            range: range.clone(),
            weights: Owned {
                params: w.pop().expect("one per range"),
                state: state_parts
                    .iter_mut()
                    .map(|(sw, _)| sw.pop().expect("one per range"))
                    .collect(),
            },
            bias: Owned {
                params: b.pop().expect("one per range"),
                state: state_parts
                    .iter_mut()
                    .map(|(_, sb)| sb.pop().expect("one per range"))
                    .collect(),
            },
            output: output.clone(),
        });
    }
    parts.reverse();
    parts
}

/// Runs one epoch with the hidden rows split over `threads` threads (see
/// [`applies`]).
pub fn epoch(
    net: &mut Net,
    state: &mut [Net],
    threads: usize,
    plan: &EpochPlan<'_>,
    observer: &mut impl Observer,
) -> Result<EpochSums, TrainError> {
    let hidden = net.architecture().widths()[1];
    let count = threads.min(hidden / 4).max(1);
    let ranges = row_ranges(hidden, count);
    let shared = Shared {
        barrier: SpinBarrier::new(count),
        stop_at: AtomicUsize::new(NO_STOP),
        published: (0..count)
            .map(|_| {
                let buffer = || Mutex::new(vec![0.0; plan.batch_size * hidden]);
                [buffer(), buffer()]
            })
            .collect(),
        ranges: ranges.clone(),
        hidden,
    };
    let net_shape = net.architecture().clone();
    let mut parts = parts(net, state, &ranges).into_iter();
    let mut first = parts.next().expect("at least one part");
    let shared = &shared;
    let result = std::thread::scope(|scope| {
        for (k, mut part) in parts.enumerate() {
            let shape = net_shape.clone();
            scope.spawn(move || worker(k + 1, &mut part, &shape, shared, plan, None::<&mut Quiet>));
        }
        let sums = worker(0, &mut first, &net_shape, shared, plan, Some(observer));
        (sums, first.output)
    });
    let (sums, output) = result;
    output.write_back(net, state);
    sums
}

/// Per-thread buffers, for the whole batch.
struct Buffers {
    inputs: Vec<f32>,
    labels: Vec<u16>,
    hidden: Vec<f32>,
    logits: Vec<f32>,
    d_logits: Vec<f32>,
    d_hidden: Vec<f32>,
    /// Own hidden-row gradients: the running shard sum, and one shard's.
    grads: RowGrads,
    shard_grads: RowGrads,
    output_grads: OutputGrads,
    shard_output_grads: OutputGrads,
}

/// Gradients of a thread's hidden rows.
struct RowGrads {
    weights: Vec<f32>,
    bias: Vec<f32>,
}

/// Gradients of the output layer.
struct OutputGrads {
    weights: Vec<f32>,
    bias: Vec<f32>,
}

impl Buffers {
    fn new(shape: &[usize], rows: usize, batch: usize) -> Self {
        let (inputs, hidden, classes) = (shape[0], shape[1], shape[2]);
        let row_grads = || RowGrads {
            weights: vec![0.0; rows * inputs],
            bias: vec![0.0; rows],
        };
        let output_grads = || OutputGrads {
            weights: vec![0.0; hidden * classes],
            bias: vec![0.0; classes],
        };
        Self {
            inputs: vec![0.0; batch * inputs],
            labels: Vec::with_capacity(batch),
            hidden: vec![0.0; batch * hidden],
            logits: vec![0.0; batch * classes],
            d_logits: vec![0.0; batch * classes],
            d_hidden: vec![0.0; batch * hidden],
            grads: row_grads(),
            shard_grads: row_grads(),
            output_grads: output_grads(),
            shard_output_grads: output_grads(),
        }
    }
}

fn worker<O: Observer>(
    k: usize,
    part: &mut Part<'_>,
    shape: &crate::model::Architecture,
    shared: &Shared,
    plan: &EpochPlan<'_>,
    mut observer: Option<&mut O>,
) -> Result<EpochSums, TrainError> {
    let _guard = PanicGuard(&shared.barrier);
    let mut buf = Buffers::new(shape.widths(), part.range.len(), plan.batch_size);
    let mut sums = EpochSums::default();
    let total = plan.samples.len();
    for (batch_index, batch) in plan.samples.chunks(plan.batch_size).enumerate() {
        let step = plan.first_step + batch_index;
        if let Some(observer) = observer.as_deref_mut() {
            if observer.should_stop() {
                shared.stop_at.store(step, Ordering::Relaxed);
            }
        }
        stage(&mut buf, plan, batch);
        hidden_rows(
            &mut buf,
            part,
            (shared, k),
            (batch.len(), shape.inputs()),
            step,
        )?;
        let loss = output_layer(
            &mut buf,
            &part.output,
            shape.classes(),
            batch.len(),
            &mut sums.correct,
        );
        if !loss.is_finite() {
            return Err(TrainError::Diverged {
                epoch: plan.epoch,
                loss: loss as f32,
                learning_rate: plan.peak_rate,
            });
        }
        sums.loss += loss;
        backward_rows(&mut buf, part, shape.inputs(), shared.hidden, batch.len());
        sums.learning_rate = plan.schedule.rate(step);
        let step = Step {
            optimizer: plan.optimizer,
            index: step,
            learning_rate: sums.learning_rate,
            scale: 1.0 / batch.len() as f32,
        };
        part.weights
            .update(step, TensorKind::Weight, &mut buf.grads.weights);
        part.bias
            .update(step, TensorKind::Bias, &mut buf.grads.bias);
        part.output.update(step, &mut buf.output_grads);
        if let Some(observer) = observer.as_deref_mut() {
            if batch_index % 64 == 0 {
                let done = (batch_index * plan.batch_size + batch.len()).min(total);
                observer.batch(plan.epoch, done, total, sums.loss / done as f64);
            }
        }
    }
    Ok(sums)
}

/// Inputs and labels of the whole batch (every thread needs every sample).
fn stage(buf: &mut Buffers, plan: &EpochPlan<'_>, batch: &[super::inputs::Sample]) {
    let width = plan.inputs.width();
    plan.inputs.touch(batch);
    buf.labels.clear();
    for (&sample, x) in batch.iter().zip(buf.inputs.chunks_exact_mut(width)) {
        plan.inputs.stage(sample, x);
        buf.labels.push(plan.inputs.label(sample));
    }
}

/// The own hidden rows (ReLU), published; then everyone else's, after the barrier.
fn hidden_rows(
    buf: &mut Buffers,
    part: &Part<'_>,
    (shared, k): (&Shared, usize),
    (n, inputs): (usize, usize),
    step: usize,
) -> Result<(), TrainError> {
    let (h, own) = (shared.hidden, part.range.clone());
    let xs = Rows::new(&buf.inputs[..n * inputs], inputs);
    let hidden = &mut buf.hidden[..n * h];
    forward_batch_rows(
        part.weights.params,
        part.bias.params,
        own.start,
        xs,
        hidden,
        h,
    );
    for sample in hidden.chunks_exact_mut(h) {
        tinymlp::activation::relu(&mut sample[own.clone()]);
    }
    {
        let mut published = shared.published[k][step % 2]
            .lock()
            .expect("no thread panics holding it");
        for (p, s) in published.chunks_exact_mut(h).zip(hidden.chunks_exact(h)) {
            p[own.clone()].copy_from_slice(&s[own.clone()]);
        }
    }
    shared.barrier.wait();
    if shared.stop_at.load(Ordering::Relaxed) <= step {
        return Err(TrainError::Interrupted);
    }
    for (j, range) in shared.ranges.iter().enumerate() {
        if j == k {
            continue;
        }
        let published = shared.published[j][step % 2]
            .lock()
            .expect("no thread panics holding it");
        for (s, p) in hidden.chunks_exact_mut(h).zip(published.chunks_exact(h)) {
            s[range.clone()].copy_from_slice(&p[range.clone()]);
        }
    }
    Ok(())
}

/// Output layer on the whole batch (every thread, the same bits): logits,
/// loss per shard, the gradient of the logits and the output-layer gradient
/// summed shard by shard. Returns the batch loss.
fn output_layer(
    buf: &mut Buffers,
    output: &OutputCopy,
    classes: usize,
    n: usize,
    correct: &mut usize,
) -> f64 {
    let h = output.weights.len() / classes;
    let hidden = Rows::new(&buf.hidden[..n * h], h);
    let logits = &mut buf.logits[..n * classes];
    forward_batch(&output.weights, &output.bias, hidden, logits);
    let mut batch_loss = 0.0f64;
    for (s0, shard_logits) in (0..n).step_by(SHARD).zip(logits.chunks(SHARD * classes)) {
        let mut shard_loss = 0.0f32;
        for (s, z) in (s0..).zip(shard_logits.chunks_exact(classes)) {
            let target = usize::from(buf.labels[s]);
            *correct += usize::from(argmax(z) == target);
            shard_loss +=
                cross_entropy_grad(z, target, &mut buf.d_logits[s * classes..(s + 1) * classes]);
        }
        batch_loss += f64::from(shard_loss);
    }
    let d_logits = &buf.d_logits[..n * classes];
    for (shard, (hs, ds)) in buf.hidden[..n * h]
        .chunks(SHARD * h)
        .zip(d_logits.chunks(SHARD * classes))
        .enumerate()
    {
        let (hs, ds) = (Rows::new(hs, h), Rows::new(ds, classes));
        let target = if shard == 0 {
            &mut buf.output_grads
        } else {
            &mut buf.shard_output_grads
        };
        rank_k(&mut target.weights, ds, hs);
        accumulate_bias(&mut target.bias, ds);
        if shard > 0 {
            add_and_clear(
                &mut buf.output_grads.weights,
                &mut buf.shard_output_grads.weights,
            );
            add_and_clear(&mut buf.output_grads.bias, &mut buf.shard_output_grads.bias);
        }
    }
    batch_loss
}

/// Back to the own hidden rows: their input gradient, ReLU, and the rows'
/// gradients summed shard by shard.
fn backward_rows(buf: &mut Buffers, part: &Part<'_>, inputs: usize, h: usize, n: usize) {
    let own = part.range.clone();
    let classes = buf.output_grads.bias.len();
    let d_logits = Rows::new(&buf.d_logits[..n * classes], classes);
    let d_hidden = &mut buf.d_hidden[..n * h];
    matvec_t_batch_cols(&part.output.weights, d_logits, d_hidden, h, own.clone());
    for (s, d) in buf.hidden[..n * h]
        .chunks_exact(h)
        .zip(d_hidden.chunks_exact_mut(h))
    {
        tinymlp::activation::relu_backward(&s[own.clone()], &mut d[own.clone()]);
    }
    let d_hidden = &buf.d_hidden[..n * h];
    for (shard, (d, x)) in d_hidden
        .chunks(SHARD * h)
        .zip(buf.inputs[..n * inputs].chunks(SHARD * inputs))
        .enumerate()
    {
        let target = if shard == 0 {
            &mut buf.grads
        } else {
            &mut buf.shard_grads
        };
        let (d, x) = (Rows::new(d, h), Rows::new(x, inputs));
        rank_k_rows(&mut target.weights, own.start, d, x);
        for s in 0..d.len() {
            for (b, d) in target.bias.iter_mut().zip(&d.get(s)[own.clone()]) {
                *b += d;
            }
        }
        if shard > 0 {
            add_and_clear(&mut buf.grads.weights, &mut buf.shard_grads.weights);
            add_and_clear(&mut buf.grads.bias, &mut buf.shard_grads.bias);
        }
    }
}

/// `total += part` element-wise, then `part = 0`.
fn add_and_clear(total: &mut [f32], part: &mut [f32]) {
    for (t, p) in total.iter_mut().zip(part.iter_mut()) {
        *t += *p;
        *p = 0.0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_ranges_cover_the_rows_in_blocks_of_four() {
        assert_eq!(row_ranges(64, 2), vec![0..32, 32..64]);
        assert_eq!(row_ranges(64, 3), vec![0..20, 20..40, 40..64]);
        assert_eq!(row_ranges(16, 1), vec![0..16]);
        assert_eq!(row_ranges(16, 4), vec![0..4, 4..8, 8..12, 12..16]);
    }
}
