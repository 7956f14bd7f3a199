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
//! [`SHARD`] by `rank_k_rows` into a zeroed buffer (samples ascending, zero
//! skipping per row), the shard gradients added in shard order, the bias
//! gradients added sample by sample, the transposed product by
//! `matvec_t_batch_add` over the row blocks in ascending order (one chain of
//! additions per element, as in `matvec_t_batch`), the output layer on the
//! whole batch per shard, then the same element-wise update.
//! `host/tests/train.rs` checks that 1, 2 and 3 threads give the same model,
//! on this path and on the sharded one, for one to three hidden layers.

use std::ops::Range;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, RwLock};

use tinymlp::activation::{relu, relu_backward};
use tinymlp::batch::{
    accumulate_bias, forward_batch, forward_batch_rows, matvec_t_batch_add, matvec_t_batch_cols,
    rank_k, rank_k_rows, Rows,
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

/// Whether [`epoch`] can train `net` on `threads` threads: at least one
/// hidden layer, the widest of at least 8 rows, more than one thread, and
/// batches of at most [`MAX_BATCH`].
pub fn applies(net: &Net, threads: usize, batch_size: usize) -> bool {
    threads > 1
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
    let per_thread = batch_size * (inputs + 4 * hidden + 2 * classes)
        + 2 * net.params().len() / threads.max(1)
        + 2 * last * classes;
    per_thread.saturating_mul(threads).saturating_mul(4)
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

/// One thread's rows of one exchanged quantity, double-buffered by step
/// parity (`[step % 2]`): samples of that thread's row count, written by the
/// thread before a barrier and read by the others after it. With one barrier
/// per step a fast thread can be writing the next step's values while a slow
/// one still reads these, hence the two buffers.
type Slots = [Mutex<Vec<f32>>; 2];

/// State shared by the threads of one epoch.
struct Shared {
    barrier: SpinBarrier,
    /// The step at which the observer asked to stop (thread 0 stores it
    /// before that step's first barrier; every thread checks it after that
    /// barrier). A step number rather than a flag, so that a thread that is
    /// slow to leave the previous barrier cannot see a stop meant for the
    /// next step.
    stop_at: AtomicUsize,
    /// `ranges[l][j]`: thread `j`'s rows of hidden layer `l`.
    ranges: Vec<Vec<Range<usize>>>,
    /// `weights[l][j]`: thread `j`'s rows of hidden layer `l`'s weights. Only
    /// thread `j` writes them, in the update after the step's last barrier;
    /// every thread reads them in the backward pass, between barriers. So the
    /// locks are never contended: they only make the sharing safe to write.
    weights: Vec<Vec<RwLock<Vec<f32>>>>,
    /// `acts[l][j]`: thread `j`'s rows of hidden layer `l`'s activations.
    acts: Vec<Vec<Slots>>,
    /// `deltas[l][j]`: thread `j`'s rows of the gradient of hidden layer `l`'s
    /// pre-activations (empty for `l = 0`: nothing goes below the first layer).
    deltas: Vec<Vec<Slots>>,
}

/// Copies the columns `own` of every sample of `full` (samples of `width`
/// values) into `slot`.
fn publish(slot: &Mutex<Vec<f32>>, full: &[f32], width: usize, own: &Range<usize>) {
    if own.is_empty() {
        return;
    }
    let mut slot = slot.lock().expect("no thread panics holding it");
    for (p, s) in slot
        .chunks_exact_mut(own.len())
        .zip(full.chunks_exact(width))
    {
        p.copy_from_slice(&s[own.clone()]);
    }
}

/// Copies every other thread's published columns into `full`.
fn gather(
    slots: &[Slots],
    ranges: &[Range<usize>],
    (k, parity): (usize, usize),
    full: &mut [f32],
    width: usize,
) {
    for (j, range) in ranges.iter().enumerate() {
        if j == k || range.is_empty() {
            continue;
        }
        let slot = slots[j][parity]
            .lock()
            .expect("no thread panics holding it");
        for (s, p) in full
            .chunks_exact_mut(width)
            .zip(slot.chunks_exact(range.len()))
        {
            s[range.clone()].copy_from_slice(p);
        }
    }
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

/// What one thread owns of one hidden layer for an epoch, besides its
/// weights (which are in [`Shared::weights`]).
struct RowPart {
    range: Range<usize>,
    bias: Vec<f32>,
    weights_state: Vec<Vec<f32>>,
    bias_state: Vec<Vec<f32>>,
}

/// What one thread owns for an epoch: its rows of every hidden layer, and a
/// copy of the output layer.
struct Part {
    layers: Vec<RowPart>,
    output: OutputCopy,
}

/// A thread's copy of the output layer with its optimiser state.
#[derive(Clone)]
struct OutputCopy {
    layer: usize,
    weights: Vec<f32>,
    bias: Vec<f32>,
    weights_state: Vec<Vec<f32>>,
    bias_state: Vec<Vec<f32>>,
}

impl OutputCopy {
    fn of(net: &Net, state: &[Net], layer: usize) -> Self {
        Self {
            layer,
            weights: net.layer(layer).weights.to_vec(),
            bias: net.layer(layer).bias.to_vec(),
            weights_state: state
                .iter()
                .map(|s| s.layer(layer).weights.to_vec())
                .collect(),
            bias_state: state.iter().map(|s| s.layer(layer).bias.to_vec()).collect(),
        }
    }

    fn write_back(&self, net: &mut Net, state: &mut [Net]) {
        let layer = net.layer_mut(self.layer);
        layer.weights.copy_from_slice(&self.weights);
        layer.bias.copy_from_slice(&self.bias);
        for (s, (w, b)) in state
            .iter_mut()
            .zip(self.weights_state.iter().zip(&self.bias_state))
        {
            let layer = s.layer_mut(self.layer);
            layer.weights.copy_from_slice(w);
            layer.bias.copy_from_slice(b);
        }
    }

    fn update(&mut self, step: Step, grads: &mut Grads) {
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

/// The element range of rows `rows` of a matrix with `width` columns.
fn elements(rows: &Range<usize>, width: usize) -> Range<usize> {
    rows.start * width..rows.end * width
}

/// Every thread's rows of every hidden layer's weights, to share.
fn shared_weights(net: &Net, ranges: &[Vec<Range<usize>>]) -> Vec<Vec<RwLock<Vec<f32>>>> {
    let widths = net.architecture().widths();
    ranges
        .iter()
        .enumerate()
        .map(|(l, ranges)| {
            let weights = net.layer(l).weights;
            ranges
                .iter()
                .map(|r| RwLock::new(weights[elements(r, widths[l])].to_vec()))
                .collect()
        })
        .collect()
}

/// The parts of `count` threads.
fn parts(net: &Net, state: &[Net], ranges: &[Vec<Range<usize>>], count: usize) -> Vec<Part> {
    let widths = net.architecture().widths();
    let output = OutputCopy::of(net, state, ranges.len());
    (0..count)
        .map(|j| Part {
            layers: (0..ranges.len())
                .map(|l| {
                    let r = ranges[l][j].clone();
                    let w = elements(&r, widths[l]);
                    RowPart {
                        bias: net.layer(l).bias[r.clone()].to_vec(),
                        weights_state: state
                            .iter()
                            .map(|s| s.layer(l).weights[w.clone()].to_vec())
                            .collect(),
                        bias_state: state
                            .iter()
                            .map(|s| s.layer(l).bias[r.clone()].to_vec())
                            .collect(),
                        range: r,
                    }
                })
                .collect(),
            output: output.clone(),
        })
        .collect()
}

/// Puts every thread's rows, and thread 0's output layer, back into `net`
/// and `state`.
fn write_back(net: &mut Net, state: &mut [Net], shared: &Shared, parts: &[Part]) {
    let widths = net.architecture().widths().to_vec();
    for (j, part) in parts.iter().enumerate() {
        for (l, own) in part.layers.iter().enumerate() {
            let (r, w) = (own.range.clone(), elements(&own.range, widths[l]));
            let weights = shared.weights[l][j]
                .read()
                .expect("no thread panics holding it");
            let layer = net.layer_mut(l);
            layer.weights[w.clone()].copy_from_slice(&weights);
            layer.bias[r.clone()].copy_from_slice(&own.bias);
            for (s, (sw, sb)) in state
                .iter_mut()
                .zip(own.weights_state.iter().zip(&own.bias_state))
            {
                let layer = s.layer_mut(l);
                layer.weights[w.clone()].copy_from_slice(sw);
                layer.bias[r.clone()].copy_from_slice(sb);
            }
        }
    }
    parts[0].output.write_back(net, state);
}

/// Runs one epoch with the rows of every hidden layer split over `threads`
/// threads (see [`applies`]).
pub fn epoch(
    net: &mut Net,
    state: &mut [Net],
    threads: usize,
    plan: &EpochPlan<'_>,
    observer: &mut impl Observer,
) -> Result<EpochSums, TrainError> {
    let widths = net.architecture().widths().to_vec();
    let count = threads.min(widest_hidden(net) / 4).max(1);
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
        weights: shared_weights(net, &ranges),
        acts: (0..ranges.len()).map(slots).collect(),
        deltas: (0..ranges.len())
            .map(|l| if l == 0 { Vec::new() } else { slots(l) })
            .collect(),
        ranges,
    };
    let mut parts = parts(net, state, &shared.ranges, count);
    let (first, rest) = parts.split_first_mut().expect("at least one part");
    let sums = std::thread::scope(|scope| {
        for (k, part) in rest.iter_mut().enumerate() {
            let (widths, shared) = (&widths, &shared);
            scope.spawn(move || worker(k + 1, part, widths, shared, plan, None::<&mut Quiet>));
        }
        worker(0, first, &widths, &shared, plan, Some(observer))
    });
    write_back(net, state, &shared, &parts);
    sums
}

/// Per-thread buffers, for the whole batch.
struct Buffers {
    inputs: Vec<f32>,
    labels: Vec<u16>,
    /// Per hidden layer: every row's activations (own rows computed, the
    /// others copied).
    acts: Vec<Vec<f32>>,
    logits: Vec<f32>,
    d_logits: Vec<f32>,
    /// Per hidden layer: the gradient of the pre-activations (own rows, and
    /// for layers above the first, the others copied).
    deltas: Vec<Vec<f32>>,
    /// Per hidden layer, the own rows' gradients: the running shard sum, and one shard's.
    grads: Vec<Grads>,
    shard_grads: Vec<Grads>,
    output_grads: Grads,
    shard_output_grads: Grads,
}

/// Gradients of some rows of a layer.
struct Grads {
    weights: Vec<f32>,
    bias: Vec<f32>,
}

impl Grads {
    fn new(rows: usize, inputs: usize) -> Self {
        Self {
            weights: vec![0.0; rows * inputs],
            bias: vec![0.0; rows],
        }
    }
}

impl Buffers {
    fn new(widths: &[usize], part: &Part, batch: usize) -> Self {
        let hidden = &widths[1..widths.len() - 1];
        let (inputs, classes) = (widths[0], widths[widths.len() - 1]);
        let own = |l: usize| Grads::new(part.layers[l].range.len(), widths[l]);
        let per_layer = || hidden.iter().map(|&w| vec![0.0; batch * w]).collect();
        let top = hidden.len();
        Self {
            inputs: vec![0.0; batch * inputs],
            labels: Vec::with_capacity(batch),
            acts: per_layer(),
            logits: vec![0.0; batch * classes],
            d_logits: vec![0.0; batch * classes],
            deltas: per_layer(),
            grads: (0..top).map(own).collect(),
            shard_grads: (0..top).map(own).collect(),
            output_grads: Grads::new(classes, widths[top]),
            shard_output_grads: Grads::new(classes, widths[top]),
        }
    }
}

fn worker<O: Observer>(
    k: usize,
    part: &mut Part,
    widths: &[usize],
    shared: &Shared,
    plan: &EpochPlan<'_>,
    mut observer: Option<&mut O>,
) -> Result<EpochSums, TrainError> {
    let _guard = PanicGuard(&shared.barrier);
    let mut buf = Buffers::new(widths, part, plan.batch_size);
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
        let at = Position {
            shared,
            thread: k,
            step,
            n: batch.len(),
        };
        forward(&mut buf, part, widths, at)?;
        let loss = output_layer(
            &mut buf,
            &part.output,
            widths,
            batch.len(),
            &mut sums.correct,
        );
        sums.add_loss(loss, plan)?;
        backward(&mut buf, part, widths, at);
        if part.layers.len() >= 2 {
            // Every thread is done reading the others' weights.
            shared.barrier.wait();
        }
        sums.learning_rate = plan.schedule.rate(step);
        let step = Step {
            optimizer: plan.optimizer,
            index: step,
            learning_rate: sums.learning_rate,
            scale: 1.0 / batch.len() as f32,
        };
        update(&mut buf, part, shared, k, step);
        if let Some(observer) = observer.as_deref_mut() {
            if batch_index % 64 == 0 {
                let done = (batch_index * plan.batch_size + batch.len()).min(total);
                observer.batch(plan.epoch, done, total, sums.loss / done as f64);
            }
        }
    }
    Ok(sums)
}

/// Where a thread is: which thread, which step, how many samples.
#[derive(Clone, Copy)]
struct Position<'a> {
    shared: &'a Shared,
    thread: usize,
    step: usize,
    n: usize,
}

impl Position<'_> {
    fn slot<'s>(&self, slots: &'s [Vec<Slots>], l: usize) -> &'s Mutex<Vec<f32>> {
        &slots[l][self.thread][self.step % 2]
    }
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

/// Every hidden layer: the own rows (ReLU), published; then everyone
/// else's, after the barrier.
fn forward(
    buf: &mut Buffers,
    part: &Part,
    widths: &[usize],
    at: Position<'_>,
) -> Result<(), TrainError> {
    let (shared, n) = (at.shared, at.n);
    for (l, own) in part.layers.iter().enumerate() {
        let (inputs, width, rows) = (widths[l], widths[l + 1], &own.range);
        let (below, rest) = buf.acts.split_at_mut(l);
        let input = match below.last() {
            None => &buf.inputs[..n * inputs],
            Some(acts) => &acts[..n * inputs],
        };
        let out = &mut rest[0][..n * width];
        {
            let weights = shared.weights[l][at.thread]
                .read()
                .expect("no thread panics holding it");
            let xs = Rows::new(input, inputs);
            forward_batch_rows(&weights, &own.bias, rows.start, xs, out, width);
        }
        for sample in out.chunks_exact_mut(width) {
            relu(&mut sample[rows.clone()]);
        }
        publish(at.slot(&shared.acts, l), out, width, rows);
        shared.barrier.wait();
        if l == 0 && shared.stop_at.load(Ordering::Relaxed) <= at.step {
            return Err(TrainError::Interrupted);
        }
        let (k, parity) = (at.thread, at.step % 2);
        gather(&shared.acts[l], &shared.ranges[l], (k, parity), out, width);
    }
    Ok(())
}

/// Output layer on the whole batch (every thread, the same bits): logits,
/// loss per shard, the gradient of the logits and the output-layer gradient
/// summed shard by shard. Returns the batch loss.
fn output_layer(
    buf: &mut Buffers,
    output: &OutputCopy,
    widths: &[usize],
    n: usize,
    correct: &mut usize,
) -> f64 {
    let (h, classes) = (widths[widths.len() - 2], widths[widths.len() - 1]);
    let top = buf.acts.last().expect("at least one hidden layer");
    let hidden = Rows::new(&top[..n * h], h);
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
    for (shard, (hs, ds)) in top[..n * h]
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

/// Back through the hidden layers, top down: for each, the own rows'
/// gradient (ReLU, then the weight and bias gradients shard by shard) and,
/// above the first, the own columns of the layer below.
fn backward(buf: &mut Buffers, part: &Part, widths: &[usize], at: Position<'_>) {
    let (shared, n) = (at.shared, at.n);
    let top = part.layers.len() - 1;
    {
        let (h, classes) = (widths[top + 1], widths[top + 2]);
        let d_logits = Rows::new(&buf.d_logits[..n * classes], classes);
        let d_top = &mut buf.deltas[top][..n * h];
        let own = part.layers[top].range.clone();
        matvec_t_batch_cols(&part.output.weights, d_logits, d_top, h, own);
    }
    for l in (0..=top).rev() {
        let (inputs, width, own) = (widths[l], widths[l + 1], &part.layers[l].range);
        let deltas = &mut buf.deltas[l][..n * width];
        for (a, d) in buf.acts[l][..n * width]
            .chunks_exact(width)
            .zip(deltas.chunks_exact_mut(width))
        {
            relu_backward(&a[own.clone()], &mut d[own.clone()]);
        }
        if l > 0 {
            publish(at.slot(&shared.deltas, l), deltas, width, own);
        }
        row_gradients(buf, l, own, widths, n);
        if l > 0 {
            shared.barrier.wait();
            let (lower, upper) = buf.deltas.split_at_mut(l);
            let deltas = &mut upper[0][..n * width];
            let (k, parity) = (at.thread, at.step % 2);
            gather(
                &shared.deltas[l],
                &shared.ranges[l],
                (k, parity),
                deltas,
                width,
            );
            let dys = Rows::new(deltas, width);
            let below = part.layers[l - 1].range.clone();
            let dxs = &mut lower[l - 1][..n * inputs];
            for dx in dxs.chunks_exact_mut(inputs) {
                dx[below.clone()].fill(0.0);
            }
            for (j, rows) in shared.ranges[l].iter().enumerate() {
                if rows.is_empty() {
                    continue;
                }
                let weights = shared.weights[l][j]
                    .read()
                    .expect("no thread panics holding it");
                matvec_t_batch_add(&weights, rows.start, dys, dxs, (inputs, below.clone()));
            }
        }
    }
}

/// The own rows' weight and bias gradients of hidden layer `l`, shard by
/// shard from zero, the shards added in order.
fn row_gradients(buf: &mut Buffers, l: usize, own: &Range<usize>, widths: &[usize], n: usize) {
    let (inputs, width) = (widths[l], widths[l + 1]);
    let input = if l == 0 {
        &buf.inputs[..n * inputs]
    } else {
        &buf.acts[l - 1][..n * inputs]
    };
    let deltas = &buf.deltas[l][..n * width];
    let (grads, shard_grads) = (&mut buf.grads[l], &mut buf.shard_grads[l]);
    for (shard, (d, x)) in deltas
        .chunks(SHARD * width)
        .zip(input.chunks(SHARD * inputs))
        .enumerate()
    {
        let target = if shard == 0 {
            &mut *grads
        } else {
            &mut *shard_grads
        };
        let (d, x) = (Rows::new(d, width), Rows::new(x, inputs));
        rank_k_rows(&mut target.weights, own.start, d, x);
        for s in 0..d.len() {
            for (b, d) in target.bias.iter_mut().zip(&d.get(s)[own.clone()]) {
                *b += d;
            }
        }
        if shard > 0 {
            add_and_clear(&mut grads.weights, &mut shard_grads.weights);
            add_and_clear(&mut grads.bias, &mut shard_grads.bias);
        }
    }
}

/// The optimiser step on the own rows of every hidden layer and on the
/// output copy; clears the gradients.
fn update(buf: &mut Buffers, part: &mut Part, shared: &Shared, k: usize, step: Step) {
    for (l, own) in part.layers.iter_mut().enumerate() {
        let mut weights = shared.weights[l][k]
            .write()
            .expect("no thread panics holding it");
        Owned {
            params: &mut weights[..],
            state: own.weights_state.iter_mut().map(|s| &mut s[..]).collect(),
        }
        .update(step, TensorKind::Weight, &mut buf.grads[l].weights);
        Owned {
            params: &mut own.bias,
            state: own.bias_state.iter_mut().map(|s| &mut s[..]).collect(),
        }
        .update(step, TensorKind::Bias, &mut buf.grads[l].bias);
    }
    part.output.update(step, &mut buf.output_grads);
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
        // Narrower than four rows a thread: some threads own none.
        assert_eq!(row_ranges(3, 2), vec![0..0, 0..3]);
        assert_eq!(row_ranges(6, 3), vec![0..0, 0..4, 4..6]);
    }
}
