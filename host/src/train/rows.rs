//! Model-parallel training epochs for `Mlp<784, H, 10>` on several threads.
//!
//! The data-parallel loop of [`train`](crate::train) gives each thread whole
//! shards: every step, each thread then needs the other's gradients (to add
//! them) and the other's updated parameters (for the next forward pass) —
//! about 400 KB crossing between cores per step for 784-64-10, which costs
//! more than the arithmetic on this machine. Here each thread instead owns a
//! fixed set of hidden *rows* (their weights, biases, momentum and gradients)
//! for a whole epoch and computes every sample of the batch for those rows;
//! per step the threads only exchange the hidden activations of their rows
//! (a few KB) at one barrier. The small output layer is computed by every
//! thread on its own copy, identically.
//!
//! # Same bits
//!
//! Every number is computed by the same kernels in the same order as in the
//! sharded loop, only for a subset of rows: the hidden pre-activations by
//! [`forward_batch_rows`] (per element `dot + b`), the hidden gradient of each
//! [`SHARD`] by [`rank_k_rows`] into a zeroed buffer (samples ascending,
//! zero skipping per row), the shard gradients added in shard order, the bias
//! gradients added sample by sample, the output layer on the whole batch per
//! shard, then the same `Sgd::update_slice`. `host/tests/train.rs` checks that
//! 1 thread (sharded loop) and 2 or 3 threads (this one) give the same model.

use std::any::Any;
use std::ops::Range;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

use tinymlp::batch::{forward_batch_rows, matvec_t_batch_cols, rank_k_rows};
use tinymlp::{argmax, cross_entropy_grad, Dense, Mlp, Sgd, TensorKind};

use crate::arch::{CLASSES, INPUTS};
use crate::dataset::Dataset;
use crate::schedule::OneCycle;
use crate::train::{shifted_input, touch_images, Observer, TrainError, SHARD};

/// What one epoch needs besides the network.
pub(crate) struct EpochPlan<'a> {
    pub(crate) epoch: usize,
    pub(crate) plan: &'a [(usize, i8, i8)],
    pub(crate) data: &'a Dataset,
    pub(crate) batch_size: usize,
    pub(crate) schedule: &'a OneCycle,
    pub(crate) first_step: usize,
    pub(crate) sgd: Sgd,
    pub(crate) peak_rate: f32,
}

/// Loss sum, correct predictions and last learning rate of an epoch.
pub(crate) type EpochSums = (f64, usize, f32);

/// Runs one epoch with the hidden rows split over `threads` threads if `N` is
/// an `Mlp<784, H, 10>` of a supported `H`; `None` for other networks.
pub(crate) fn try_epoch<N: Any>(
    net: &mut N,
    velocity: &mut N,
    threads: usize,
    plan: &EpochPlan<'_>,
    observer: &mut impl Observer,
) -> Option<Result<EpochSums, TrainError>> {
    macro_rules! try_hidden {
        ($($h:literal)*) => {$(
            if let (Some(net), Some(velocity)) = (
                (net as &mut dyn Any).downcast_mut::<Mlp<INPUTS, $h, CLASSES>>(),
                (velocity as &mut dyn Any).downcast_mut::<Mlp<INPUTS, $h, CLASSES>>(),
            ) {
                return Some(epoch::<$h>(net, velocity, threads, plan, observer));
            }
        )*};
    }
    try_hidden!(16 32 64 128 256);
    None
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
struct Shared<const H: usize> {
    barrier: SpinBarrier,
    /// The step at which the observer asked to stop (thread 0 stores it
    /// before that step's barrier; every thread checks it after the barrier).
    /// A step number rather than a flag, so that a thread that is slow to
    /// leave the previous barrier cannot see a stop meant for the next step.
    stop_at: AtomicUsize,
    /// Hidden activations published by each thread, double-buffered by step
    /// parity: `published[thread][step % 2][sample]`, only that thread's rows valid.
    published: Vec<[Mutex<Vec<[f32; H]>>; 2]>,
}

/// The hidden rows a thread owns for an epoch.
struct Rows<'a> {
    range: Range<usize>,
    weights: &'a mut [[f32; INPUTS]],
    bias: &'a mut [f32],
    weights_velocity: &'a mut [[f32; INPUTS]],
    bias_velocity: &'a mut [f32],
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

fn epoch<const H: usize>(
    net: &mut Mlp<INPUTS, H, CLASSES>,
    velocity: &mut Mlp<INPUTS, H, CLASSES>,
    threads: usize,
    plan: &EpochPlan<'_>,
    observer: &mut impl Observer,
) -> Result<EpochSums, TrainError> {
    let parts = threads.min(H / 4).max(1);
    let ranges = row_ranges(H, parts);
    let shared = Shared::<H> {
        barrier: SpinBarrier::new(parts),
        stop_at: AtomicUsize::new(NO_STOP),
        published: (0..parts)
            .map(|_| {
                [
                    Mutex::new(vec![[0.0; H]; plan.batch_size]),
                    Mutex::new(vec![[0.0; H]; plan.batch_size]),
                ]
            })
            .collect(),
    };
    let Mlp { hidden, output } = net;
    let Mlp {
        hidden: hidden_velocity,
        output: output_velocity,
    } = velocity;
    let mut rows = Vec::with_capacity(parts);
    let (mut w, mut b) = (&mut hidden.weights[..], &mut hidden.bias[..]);
    let (mut vw, mut vb) = (
        &mut hidden_velocity.weights[..],
        &mut hidden_velocity.bias[..],
    );
    for range in &ranges {
        let len = range.len();
        let (w0, w1) = std::mem::take(&mut w).split_at_mut(len);
        let (b0, b1) = std::mem::take(&mut b).split_at_mut(len);
        let (vw0, vw1) = std::mem::take(&mut vw).split_at_mut(len);
        let (vb0, vb1) = std::mem::take(&mut vb).split_at_mut(len);
        (w, b, vw, vb) = (w1, b1, vw1, vb1);
        rows.push(Rows {
            range: range.clone(),
            weights: w0,
            bias: b0,
            weights_velocity: vw0,
            bias_velocity: vb0,
        });
    }
    let mut rows = rows.into_iter();
    let first = rows.next().expect("at least one part");
    let output_copy: Dense<H, CLASSES> = *output;
    let output_velocity_copy: Dense<H, CLASSES> = *output_velocity;
    let shared = &shared;
    let ranges = &ranges;
    std::thread::scope(|scope| {
        for (k, part) in rows.enumerate() {
            scope.spawn(move || {
                let (mut out, mut out_velocity) = (output_copy, output_velocity_copy);
                worker(
                    k + 1,
                    part,
                    &mut out,
                    &mut out_velocity,
                    shared,
                    ranges,
                    plan,
                    None::<&mut crate::train::Quiet>,
                )
            });
        }
        worker(
            0,
            first,
            output,
            output_velocity,
            shared,
            ranges,
            plan,
            Some(observer),
        )
    })
}

/// Per-thread buffers, for the whole batch.
struct Buffers<const H: usize> {
    inputs: Vec<[f32; INPUTS]>,
    labels: Vec<u8>,
    hidden: Vec<[f32; H]>,
    logits: Vec<[f32; CLASSES]>,
    d_logits: Vec<[f32; CLASSES]>,
    d_hidden: Vec<[f32; H]>,
    /// Hidden-row gradient: the running shard sum, and one shard's.
    grads: Vec<[f32; INPUTS]>,
    shard_grads: Vec<[f32; INPUTS]>,
    bias_grads: Vec<f32>,
    shard_bias_grads: Vec<f32>,
    output_grads: Box<Dense<H, CLASSES>>,
    shard_output_grads: Box<Dense<H, CLASSES>>,
}

#[allow(clippy::too_many_arguments)]
fn worker<const H: usize, O: Observer>(
    k: usize,
    rows: Rows<'_>,
    output: &mut Dense<H, CLASSES>,
    output_velocity: &mut Dense<H, CLASSES>,
    shared: &Shared<H>,
    ranges: &[Range<usize>],
    plan: &EpochPlan<'_>,
    mut observer: Option<&mut O>,
) -> Result<EpochSums, TrainError> {
    let _guard = PanicGuard(&shared.barrier);
    let n_max = plan.batch_size;
    let own = rows.range.clone();
    let mut buf = Buffers::<H> {
        inputs: vec![[0.0; INPUTS]; n_max],
        labels: vec![0; n_max],
        hidden: vec![[0.0; H]; n_max],
        logits: vec![[0.0; CLASSES]; n_max],
        d_logits: vec![[0.0; CLASSES]; n_max],
        d_hidden: vec![[0.0; H]; n_max],
        grads: vec![[0.0; INPUTS]; own.len()],
        shard_grads: vec![[0.0; INPUTS]; own.len()],
        bias_grads: vec![0.0; own.len()],
        shard_bias_grads: vec![0.0; own.len()],
        output_grads: Box::new(Dense::zeroed()),
        shard_output_grads: Box::new(Dense::zeroed()),
    };
    let Rows {
        weights,
        bias,
        weights_velocity,
        bias_velocity,
        ..
    } = rows;
    let mut sgd = plan.sgd;
    let (mut loss_sum, mut correct) = (0.0f64, 0usize);
    let total = plan.plan.len();
    for (batch_index, batch) in plan.plan.chunks(plan.batch_size).enumerate() {
        let step = plan.first_step + batch_index;
        let parity = step % 2;
        if let Some(observer) = observer.as_deref_mut() {
            if observer.should_stop() {
                shared.stop_at.store(step, Ordering::Relaxed);
            }
        }
        let n = batch.len();
        // Inputs of the whole batch (every thread needs every sample).
        touch_images(plan.data, batch);
        for ((&(index, dx, dy), input), label) in batch
            .iter()
            .zip(buf.inputs.iter_mut())
            .zip(buf.labels.iter_mut())
        {
            shifted_input(plan.data.image(index), i32::from(dx), i32::from(dy), input);
            *label = plan.data.label(index);
        }
        let inputs = &buf.inputs[..n];
        // Own hidden rows, ReLU, publish.
        let hidden = &mut buf.hidden[..n];
        forward_batch_rows(weights, bias, own.start, inputs, hidden);
        for h in hidden.iter_mut() {
            for v in &mut h[own.clone()] {
                if *v < 0.0 {
                    *v = 0.0;
                }
            }
        }
        {
            let mut published = shared.published[k][parity]
                .lock()
                .expect("no thread panics holding it");
            for (p, h) in published.iter_mut().zip(hidden.iter()) {
                p[own.clone()].copy_from_slice(&h[own.clone()]);
            }
        }
        shared.barrier.wait();
        if shared.stop_at.load(Ordering::Relaxed) <= step {
            return Err(TrainError::Interrupted);
        }
        for (j, range) in ranges.iter().enumerate() {
            if j == k {
                continue;
            }
            let published = shared.published[j][parity]
                .lock()
                .expect("no thread panics holding it");
            for (h, p) in hidden.iter_mut().zip(published.iter()) {
                h[range.clone()].copy_from_slice(&p[range.clone()]);
            }
        }
        let hidden = &buf.hidden[..n];
        // Output layer on the whole batch (every thread, the same bits).
        let logits = &mut buf.logits[..n];
        output.forward_batch(hidden, logits);
        let d_logits = &mut buf.d_logits[..n];
        let mut batch_loss = 0.0f64;
        for (s0, shard_logits) in (0..n).step_by(SHARD).zip(logits.chunks(SHARD)) {
            let mut shard_loss = 0.0f32;
            for (s, l) in (s0..).zip(shard_logits) {
                let target = usize::from(buf.labels[s]);
                let predicted = argmax(l);
                shard_loss += cross_entropy_grad(l, target, &mut d_logits[s]);
                correct += usize::from(predicted == target);
            }
            batch_loss += f64::from(shard_loss);
        }
        if !batch_loss.is_finite() {
            return Err(TrainError::Diverged {
                epoch: plan.epoch,
                loss: batch_loss as f32,
                learning_rate: plan.peak_rate,
            });
        }
        loss_sum += batch_loss;
        let d_logits = &buf.d_logits[..n];
        // Output-layer gradient, shard by shard, summed in shard order.
        for (shard, (h, d)) in hidden.chunks(SHARD).zip(d_logits.chunks(SHARD)).enumerate() {
            if shard == 0 {
                output.accumulate_gradients_batch(h, d, &mut buf.output_grads);
            } else {
                output.accumulate_gradients_batch(h, d, &mut buf.shard_output_grads);
                add_and_clear(
                    buf.output_grads.weights.as_flattened_mut(),
                    buf.shard_output_grads.weights.as_flattened_mut(),
                );
                add_and_clear(&mut buf.output_grads.bias, &mut buf.shard_output_grads.bias);
            }
        }
        // Back to the own hidden rows.
        let d_hidden = &mut buf.d_hidden[..n];
        matvec_t_batch_cols(&output.weights, d_logits, d_hidden, own.clone());
        for (h, d) in hidden.iter().zip(d_hidden.iter_mut()) {
            for (&h, d) in h[own.clone()].iter().zip(&mut d[own.clone()]) {
                if h <= 0.0 {
                    *d = 0.0;
                }
            }
        }
        let d_hidden = &buf.d_hidden[..n];
        for (shard, (d, x)) in d_hidden.chunks(SHARD).zip(inputs.chunks(SHARD)).enumerate() {
            let (g, gb) = if shard == 0 {
                (&mut buf.grads, &mut buf.bias_grads)
            } else {
                (&mut buf.shard_grads, &mut buf.shard_bias_grads)
            };
            rank_k_rows(g, own.start, d, x);
            for d in d {
                for (b, d) in gb.iter_mut().zip(&d[own.clone()]) {
                    *b += d;
                }
            }
            if shard > 0 {
                add_and_clear(
                    buf.grads.as_flattened_mut(),
                    buf.shard_grads.as_flattened_mut(),
                );
                add_and_clear(&mut buf.bias_grads, &mut buf.shard_bias_grads);
            }
        }
        // SGD on the own rows and on this thread's copy of the output layer.
        sgd.learning_rate = plan.schedule.rate(step);
        let scale = 1.0 / n as f32;
        let update = |kind, p: &mut [f32], g: &mut [f32], v: &mut [f32]| {
            sgd.update_slice(kind, p, g, v, scale);
            g.fill(0.0);
        };
        update(
            TensorKind::Weight,
            weights.as_flattened_mut(),
            buf.grads.as_flattened_mut(),
            weights_velocity.as_flattened_mut(),
        );
        update(TensorKind::Bias, bias, &mut buf.bias_grads, bias_velocity);
        update(
            TensorKind::Weight,
            output.weights.as_flattened_mut(),
            buf.output_grads.weights.as_flattened_mut(),
            output_velocity.weights.as_flattened_mut(),
        );
        update(
            TensorKind::Bias,
            &mut output.bias,
            &mut buf.output_grads.bias,
            &mut output_velocity.bias,
        );
        if let Some(observer) = observer.as_deref_mut() {
            if batch_index % 64 == 0 {
                let done = (batch_index * plan.batch_size + n).min(total);
                observer.batch(plan.epoch, done, total, loss_sum / done as f64);
            }
        }
    }
    Ok((loss_sum, correct, sgd.learning_rate))
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
