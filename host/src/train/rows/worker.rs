//! One thread's epoch: its buffers, and each step's forward pass, output
//! layer, backward pass and update.

use std::ops::Range;
use std::sync::atomic::Ordering;
use std::sync::Mutex;
use std::time::Duration;

use tinymlp::activation::{relu, relu_backward};
use tinymlp::batch::Rows;
use tinymlp::{argmax, BatchLogits, Sgd, TensorKind};

use super::parts::{OutputCopy, Owned, Part, Step};
use super::sync::{gather, publish, PanicGuard, Shared, Slots};
use crate::fkernel::fused::ShardedBatch;
use crate::fkernel::sparse::{Chunks, NonZeroChunks};
use crate::fkernel::{self, FFast, Floats};
use crate::train::inputs::Sample;
use crate::train::observer::{Observer, TrainError};
use crate::train::optimizer::Optimizer;
use crate::train::plan::{EpochPlan, EpochSums, SHARD};
use crate::train::shard::{combine_bias, combine_gradient, Combine};

/// Per-thread buffers, for the whole batch.
struct Buffers {
    /// The batch kernels for this CPU.
    fast: FFast,
    /// Inputs and labels by step parity: the step's own, and the next
    /// step's, staged while this thread waits for the others.
    staged: [Staged; 2],
    /// Per hidden layer: every row's activations (own rows computed, the
    /// others copied).
    acts: Vec<Floats>,
    logits: Vec<f32>,
    d_logits: Vec<f32>,
    /// Per hidden layer: the gradient of the pre-activations (own rows, and
    /// for layers above the first, the others copied).
    deltas: Vec<Floats>,
    /// Per hidden layer, the own rows' gradients (the running shard sum).
    grads: Vec<Grads>,
    output_grads: Grads,
    /// One shard's bias gradient, before it is added to the others'.
    bias_sum: Vec<f32>,
    /// Time spent waiting at the barrier for the other threads.
    waited: Duration,
    /// Whether every weight of the own rows of the first layer is finite,
    /// when they are input-major
    /// ([`FirstLayer::InputMajor`](super::FirstLayer::InputMajor)): then
    /// the forward product may skip the chunks of zeros (`fkernel::sparse`).
    first_finite: bool,
    /// With an input-major first layer and an optimiser other than SGD, its
    /// gradient transposed for the update.
    first_grads: Option<Floats>,
    /// Whether the first layer's weight gradient is left to its update
    /// (input-major rows and SGD: `FFast::sgd_step_input_major`, which
    /// forms it input by input and never stores it).
    first_fused: bool,
}

/// The inputs and labels of one batch, and (with an input-major first
/// layer) which chunks of each sample's inputs are not all zero.
struct Staged {
    inputs: Floats,
    labels: Vec<u16>,
    chunks: Option<NonZeroChunks>,
}

/// Gradients of some rows of a layer.
pub(super) struct Grads {
    pub(super) weights: Floats,
    pub(super) bias: Vec<f32>,
}

impl Grads {
    pub(super) fn new(rows: usize, inputs: usize) -> Self {
        Self {
            weights: fkernel::zeros(rows * inputs),
            bias: vec![0.0; rows],
        }
    }
}

impl Buffers {
    fn new(widths: &[usize], part: &Part, first_finite: bool, plan: &EpochPlan<'_>) -> Self {
        let batch = plan.batch_size;
        let hidden = &widths[1..widths.len() - 1];
        let (inputs, classes) = (widths[0], widths[widths.len() - 1]);
        let own = |l: usize| Grads::new(part.layers[l].range.len(), widths[l]);
        let per_layer = || hidden.iter().map(|&w| fkernel::zeros(batch * w)).collect();
        let top = hidden.len();
        let fast = FFast::detect();
        let input_major = part.layers[0].layout.is_some();
        Self {
            fast,
            staged: [(); 2].map(|()| Staged {
                inputs: fkernel::zeros(batch * inputs),
                labels: Vec::with_capacity(batch),
                chunks: input_major.then(NonZeroChunks::new),
            }),
            acts: per_layer(),
            logits: vec![0.0; batch * classes],
            d_logits: vec![0.0; batch * classes],
            deltas: per_layer(),
            grads: (0..top).map(own).collect(),
            output_grads: Grads::new(classes, widths[top]),
            bias_sum: Vec::with_capacity(hidden.iter().copied().max().unwrap_or(0).max(classes)),
            waited: Duration::ZERO,
            first_finite,
            first_grads: None,
            first_fused: input_major && matches!(plan.optimizer, Optimizer::Sgd(_)),
        }
    }
}

pub(super) fn worker<O: Observer>(
    k: usize,
    part: &mut Part,
    widths: &[usize],
    shared: &Shared,
    plan: &EpochPlan<'_>,
    mut observer: Option<&mut O>,
) -> Result<EpochSums, TrainError> {
    let _guard = PanicGuard(&shared.barrier);
    // Only read for input-major rows; row-major ones are not scanned.
    let first_finite = part.layers[0].layout.is_none()
        || all_finite(
            &shared.weights[0][k]
                .read()
                .expect("no thread panics holding it"),
        );
    let mut buf = Buffers::new(widths, part, first_finite, plan);
    let mut sums = EpochSums {
        waiting: None,
        ..plan.part.before
    };
    let total = plan.part.total;
    let batches = || plan.samples.chunks(plan.batch_size);
    if let Some(first) = batches().next() {
        stage(&mut buf.staged[plan.first_step % 2], plan, first);
    }
    for (batch_index, batch) in batches().enumerate() {
        // `nth` on slice chunks is a constant-time index.
        let next = batches().nth(batch_index + 1);
        let after = batches().nth(batch_index + 2);
        let step = plan.first_step + batch_index;
        if let Some(observer) = observer.as_deref_mut() {
            if observer.should_stop() {
                shared.stop_at.store(step, Ordering::Relaxed);
            }
        }
        let at = Position {
            shared,
            thread: k,
            step,
            n: batch.len(),
        };
        forward(&mut buf, part, widths, at, (plan, [next, after]))?;
        let loss = output_layer(&mut buf, &part.output, widths, at, &mut sums.correct);
        sums.add_loss(loss, plan)?;
        backward(&mut buf, part, widths, at);
        sums.learning_rate = plan.schedule.rate(step);
        let step = Step {
            optimizer: plan.optimizer,
            index: step,
            learning_rate: sums.learning_rate,
            scale: 1.0 / batch.len() as f32,
        };
        update(&mut buf, (part, widths), at, step);
        if let Some(observer) = observer.as_deref_mut() {
            if batch_index % 64 == 0 {
                let done =
                    (plan.part.done + batch_index * plan.batch_size + batch.len()).min(total);
                observer.batch(plan.epoch, done, total, sums.loss / done as f64);
            }
        }
    }
    let waited = u64::try_from(buf.waited.as_nanos()).unwrap_or(u64::MAX);
    shared.waited.fetch_add(waited, Ordering::Relaxed);
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
fn stage(staged: &mut Staged, plan: &EpochPlan<'_>, batch: &[Sample]) {
    let width = plan.inputs.width();
    plan.inputs.touch(batch);
    staged.labels.clear();
    if let Some(chunks) = &mut staged.chunks {
        chunks.clear();
    }
    for (&sample, x) in batch.iter().zip(staged.inputs.chunks_exact_mut(width)) {
        plan.inputs.stage(sample, x);
        staged.labels.push(plan.inputs.label(sample));
        if let Some(chunks) = &mut staged.chunks {
            chunks.push(x);
        }
    }
}

/// Every hidden layer: the own rows (ReLU), published; then everyone
/// else's, after the barrier. The next batch (if any) is staged while this
/// thread waits at the first barrier: time it would otherwise spin; and the
/// one after it is asked for ([`Inputs::prefetch`](crate::train::inputs::Inputs::prefetch)).
fn forward(
    buf: &mut Buffers,
    part: &Part,
    widths: &[usize],
    at: Position<'_>,
    (plan, [next, after]): (&EpochPlan<'_>, [Option<&[Sample]>; 2]),
) -> Result<(), TrainError> {
    let (shared, n) = (at.shared, at.n);
    let (this, upcoming) = staged_pair(&mut buf.staged, at.step);
    for (l, own) in part.layers.iter().enumerate() {
        let (inputs, width, rows) = (widths[l], widths[l + 1], &own.range);
        let (below, rest) = buf.acts.split_at_mut(l);
        let input = match below.last() {
            None => &this.inputs[..n * inputs],
            Some(acts) => &acts[..n * inputs],
        };
        let out = &mut rest[0][..n * width];
        {
            let xs = Rows::new(input, inputs);
            let weights = shared.weights[l][at.thread]
                .read()
                .expect("no thread panics holding it");
            match (own.layout, &this.chunks) {
                (Some(layout), Some(lists)) => {
                    let chunks = if buf.first_finite {
                        Chunks::Listed(lists, 0)
                    } else {
                        Chunks::All
                    };
                    let (xs, ys) = ((xs, chunks), (&mut out[..], width));
                    let weights = (&weights[..], layout);
                    buf.fast
                        .forward_input_major(weights, &own.bias, rows.start, xs, ys);
                }
                _ => buf
                    .fast
                    .forward_batch_rows(&weights, &own.bias, rows.start, xs, out, width),
            }
        }
        for sample in out.chunks_exact_mut(width) {
            relu(&mut sample[rows.clone()]);
        }
        publish(at.slot(&shared.acts, l), out, width, rows);
        let arrival = shared.barrier.arrive();
        if l == 0 {
            if let Some(next) = next {
                stage(upcoming, plan, next);
            }
            if let Some(after) = after {
                plan.inputs.prefetch(after, buf.fast);
            }
        }
        buf.waited += arrival.wait();
        if l == 0 && shared.stop_at.load(Ordering::Relaxed) <= at.step {
            return Err(TrainError::Interrupted);
        }
        let (k, parity) = (at.thread, at.step % 2);
        gather(&shared.acts[l], &shared.ranges[l], (k, parity), out, width);
    }
    Ok(())
}

/// The step's staged batch and the other one (for the next step).
fn staged_pair(staged: &mut [Staged; 2], step: usize) -> (&mut Staged, &mut Staged) {
    let [even, odd] = staged;
    if step.is_multiple_of(2) {
        (even, odd)
    } else {
        (odd, even)
    }
}

/// Output layer on the whole batch (every thread, the same bits): logits,
/// loss per shard, the gradient of the logits and the output-layer gradient
/// summed shard by shard. Returns the batch loss.
fn output_layer(
    buf: &mut Buffers,
    output: &OutputCopy,
    widths: &[usize],
    at: Position<'_>,
    correct: &mut usize,
) -> f64 {
    let (n, labels) = (at.n, &buf.staged[at.step % 2].labels);
    let (h, classes) = (widths[widths.len() - 2], widths[widths.len() - 1]);
    let top = buf.acts.last().expect("at least one hidden layer");
    let hidden = Rows::new(&top[..n * h], h);
    let logits = &mut buf.logits[..n * classes];
    buf.fast
        .forward_batch(&output.weights, &output.bias, hidden, logits);
    let mut batch_loss = 0.0f64;
    for (s0, shard_logits) in (0..n).step_by(SHARD).zip(logits.chunks(SHARD * classes)) {
        for (s, z) in (s0..).zip(shard_logits.chunks_exact(classes)) {
            *correct += usize::from(argmax(z) == usize::from(labels[s]));
        }
        let samples = BatchLogits {
            logits: shard_logits,
            classes,
            targets: |s| usize::from(labels[s0 + s]),
        };
        let d_logits = &mut buf.d_logits[s0 * classes..][..shard_logits.len()];
        let mut shard_loss = 0.0f32;
        buf.fast
            .cross_entropy_grads(samples, d_logits, |_, loss| shard_loss += loss);
        batch_loss += f64::from(shard_loss);
    }
    let d_logits = &buf.d_logits[..n * classes];
    let (grads, sum) = (&mut buf.output_grads, &mut buf.bias_sum);
    let ds = Rows::new(d_logits, classes);
    batch_gradient(buf.fast, (grads, sum), 0..classes, ds, (hidden, Parts::All));
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
        buf.fast
            .matvec_t_batch_cols(&part.output.weights, d_logits, d_top, h, own);
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
        row_gradients(buf, l, own, widths, at);
        if l > 0 {
            buf.waited += shared.barrier.wait();
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
                buf.fast.matvec_t_batch_add(
                    &weights,
                    rows.start,
                    dys,
                    dxs,
                    (inputs, below.clone()),
                );
            }
        }
    }
}

/// The own rows' weight and bias gradients of hidden layer `l`, shard by
/// shard from zero, the shards added in order.
fn row_gradients(
    buf: &mut Buffers,
    l: usize,
    own: &Range<usize>,
    widths: &[usize],
    at: Position<'_>,
) {
    let (inputs, width, n) = (widths[l], widths[l + 1], at.n);
    let input = if l == 0 {
        &buf.staged[at.step % 2].inputs[..n * inputs]
    } else {
        &buf.acts[l - 1][..n * inputs]
    };
    let deltas = Rows::new(&buf.deltas[l][..n * width], width);
    let (grads, sum) = (&mut buf.grads[l], &mut buf.bias_sum);
    let parts = if l == 0 && buf.first_fused {
        Parts::Bias
    } else {
        Parts::All
    };
    let xs = Rows::new(input, inputs);
    batch_gradient(buf.fast, (grads, sum), own.clone(), deltas, (xs, parts));
}

/// What [`batch_gradient`] forms of a layer's gradient.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Parts {
    /// The weights and the bias.
    All,
    /// The bias only (the first layer's weights are left to its update).
    Bias,
}

/// The gradient of the rows `rows` of a layer over the whole batch (`dys`
/// every row's deltas, `xs` the inputs), shard by shard from zero, the
/// shards added in order: the first writes `grads`, the others add to it.
/// Only the bias with [`Parts::Bias`].
fn batch_gradient(
    fast: FFast,
    (grads, bias_sum): (&mut Grads, &mut Vec<f32>),
    rows: Range<usize>,
    dys: Rows<'_>,
    (xs, parts): (Rows<'_>, Parts),
) {
    let shards = dys
        .data
        .chunks(SHARD * dys.width)
        .zip(xs.data.chunks(SHARD * xs.width));
    for (shard, (d, x)) in shards.enumerate() {
        let rows = (
            rows.clone(),
            Rows::new(d, dys.width),
            Rows::new(x, xs.width),
        );
        let combine = Combine::for_shard(shard);
        if parts == Parts::All {
            let target = (&mut grads.weights[..], &mut grads.bias[..]);
            combine_gradient(fast, target, rows, combine, bias_sum);
        } else {
            combine_bias(&mut grads.bias, (rows.0, rows.1), combine, bias_sum);
        }
    }
}

/// The optimiser step on the own rows of every hidden layer and on the
/// output copy (the next step's shards overwrite the gradients).
///
/// With two or more hidden layers the other threads may still be reading
/// this thread's rows of the layers above the first (the transposed
/// products), so those wait for a barrier. The first layer's rows are read
/// by their own thread only, and it updates them while it waits.
fn update(buf: &mut Buffers, (part, widths): (&mut Part, &[usize]), at: Position<'_>, step: Step) {
    let layers = part.layers.len();
    if layers >= 2 {
        let arrival = at.shared.barrier.arrive();
        update_rows(buf, (part, widths), (at, 0), step);
        buf.waited += arrival.wait();
    } else {
        update_rows(buf, (part, widths), (at, 0), step);
    }
    for l in 1..layers {
        update_rows(buf, (part, widths), (at, l), step);
    }
    part.output.update(step, &buf.output_grads);
}

/// The optimiser step on this thread's rows of hidden layer `l`.
fn update_rows(
    buf: &mut Buffers,
    (part, widths): (&mut Part, &[usize]),
    (at, l): (Position<'_>, usize),
    step: Step,
) {
    let own = &mut part.layers[l];
    let mut weights = at.shared.weights[l][at.thread]
        .write()
        .expect("no thread panics holding it");
    let grads = &mut buf.grads[l].weights;
    match (own.layout, step.optimizer, &mut own.weights_state[..]) {
        (None, _, state) => Owned {
            params: &mut weights[..],
            state: state.iter_mut().map(|s| &mut s[..]).collect(),
        }
        .update(step, TensorKind::Weight, grads),
        // SGD on input-major rows of the first layer: the gradient formed
        // input by input on the way into the update.
        (Some(layout), Optimizer::Sgd(sgd), [velocity]) => {
            let sgd = Sgd {
                learning_rate: step.learning_rate,
                ..sgd
            };
            let (inputs, width, n) = (layout.inputs, widths[1], at.n);
            let batch = ShardedBatch {
                dys: Rows::new(&buf.deltas[0][..n * width], width),
                xs: Rows::new(&buf.staged[at.step % 2].inputs[..n * inputs], inputs),
                row0: own.range.start,
                shard: SHARD,
            };
            let t = (&mut weights[..], &mut velocity[..], layout);
            let sgd = (sgd, TensorKind::Weight, step.scale);
            buf.first_finite = buf.fast.sgd_step_input_major(sgd, batch, grads, t);
        }
        (Some(layout), _, state) => {
            let transposed = buf
                .first_grads
                .get_or_insert_with(|| fkernel::zeros(layout.len()));
            buf.fast.to_input_major(grads, (transposed, layout));
            Owned {
                params: &mut weights[..],
                state: state.iter_mut().map(|s| &mut s[..]).collect(),
            }
            .update(step, TensorKind::Weight, transposed);
            buf.first_finite = all_finite(&weights);
        }
    }
    Owned {
        params: &mut own.bias,
        state: own.bias_state.iter_mut().map(|s| &mut s[..]).collect(),
    }
    .update(step, TensorKind::Bias, &buf.grads[l].bias);
}

/// Whether every value is finite (a fold that LLVM turns into vector compares).
fn all_finite(values: &[f32]) -> bool {
    values.iter().fold(true, |all, v| all & v.is_finite())
}
