//! The data-parallel epoch: each batch cut into [`SHARD`]s that run on the
//! rayon pool, their gradients reduced in shard order, the update applied in
//! parallel pieces. Works for every network shape. On one thread the shards
//! run one after the other into one buffer, each adding its sum there
//! (`shard::Combine::Add`): the same additions in the same order.

use rayon::prelude::*;
use tinymlp::batch::Rows;
use tinymlp::TensorKind;

use super::inputs::Sample;
use super::observer::{Observer, TrainError};
use super::optimizer::Optimizer;
use super::plan::{EpochPlan, EpochSums, SHARD};
use super::shard::{train_shard_into, Combine, ShardScratch};
use crate::fkernel::{self, FFast, Floats};
use crate::model::Net;

/// One shard's worker state: its own gradient buffer, inputs and scratch.
#[derive(Debug)]
pub struct Shard {
    grads: Net,
    scratch: ShardScratch,
    inputs: Floats,
    labels: Vec<u16>,
    loss: f64,
    correct: usize,
}

impl Shard {
    /// Buffers for `net`'s shape.
    pub fn new(net: &Net) -> Self {
        Self {
            grads: Net::zeros(net.architecture()),
            scratch: ShardScratch::new(net, SHARD),
            inputs: fkernel::zeros(SHARD * net.architecture().inputs()),
            labels: Vec::with_capacity(SHARD),
            loss: 0.0,
            correct: 0,
        }
    }

    /// Gradient of up to [`SHARD`] samples, written into the gradient buffer
    /// or added to it.
    fn run(&mut self, net: &Net, plan: &EpochPlan<'_>, samples: &[Sample], into: Combine) {
        let width = plan.inputs.width();
        plan.inputs.touch(samples);
        self.labels.clear();
        for (&sample, x) in samples.iter().zip(self.inputs.chunks_exact_mut(width)) {
            plan.inputs.stage(sample, x);
            self.labels.push(plan.inputs.label(sample));
        }
        let xs = Rows::new(&self.inputs[..samples.len() * width], width);
        let grads = (&mut self.grads, into);
        let outcome = train_shard_into(net, xs, &self.labels, &mut self.scratch, grads);
        self.loss = f64::from(outcome.loss);
        self.correct = outcome.correct;
    }
}

/// Shard buffers a run needs: one per shard of a batch, but at most one more
/// than there are threads (bigger batches are computed in waves), so memory
/// does not grow with `--batch`; and at most what fits in
/// [`THREAD_BUFFER_BYTES`](super::THREAD_BUFFER_BYTES) (but two), so it does
/// not grow with `--threads` either. Waves never change the result.
pub fn shards_needed(net: &Net, batch_size: usize, threads: usize) -> usize {
    let fit = (super::THREAD_BUFFER_BYTES / shard_bytes(net).max(1)).max(2);
    batch_size.div_ceil(SHARD).min(threads + 1).min(fit)
}

/// Bytes of one [`Shard`] buffer: a gradient of the whole network, and the
/// inputs, activations and deltas of [`SHARD`] samples.
pub fn shard_bytes(net: &Net) -> usize {
    let widths = net.architecture().widths();
    let activations: usize = widths[1..].iter().sum();
    4 * (net.params().len() + SHARD * (widths[0] + 2 * activations))
}

/// The gradient of one batch, summed in shard order into the first `used`
/// shard buffers (`used` > 1 only when the whole batch fit in one wave);
/// returns the batch loss (shard sums added in order), the correct
/// predictions and `used`.
///
/// With more shards than buffers, shard 0 holds the running sum: each wave
/// computes the next shards into buffers 1.. and adds them to it in order,
/// which gives the same bits as adding all shards in order at once.
fn gradients(
    net: &Net,
    shards: &mut [Shard],
    (plan, threads): (&EpochPlan<'_>, usize),
    batch: &[Sample],
) -> (f64, usize, usize) {
    let (mut loss, mut correct) = (0.0f64, 0usize);
    if threads == 1 {
        // One thread: the shards one after the other into one buffer, each
        // later one adding its sum there, without the buffers the others
        // would need and the pass that adds them (the same bits).
        let shard = &mut shards[0];
        for (k, samples) in batch.chunks(SHARD).enumerate() {
            shard.run(net, plan, samples, Combine::for_shard(k));
            loss += shard.loss;
            correct += shard.correct;
        }
        return (loss, correct, 1);
    }
    let mut run = |buffers: &mut [Shard], samples: &[Sample]| {
        buffers
            .par_iter_mut()
            .zip(samples.par_chunks(SHARD))
            .with_max_len(1)
            .for_each(|(shard, samples)| shard.run(net, plan, samples, Combine::Write));
        let used = samples.len().div_ceil(SHARD);
        for shard in &buffers[..used] {
            loss += shard.loss;
            correct += shard.correct;
        }
        used
    };
    let count = batch.len().div_ceil(SHARD);
    if count <= shards.len() {
        let used = run(shards, batch);
        return (loss, correct, used);
    }
    let first_wave = SHARD * shards.len();
    run(shards, &batch[..first_wave]);
    let (first, rest) = shards.split_first_mut().expect("at least two buffers");
    fold(first, &rest[..]);
    for wave in batch[first_wave..].chunks(SHARD * rest.len()) {
        let used = run(rest, wave);
        fold(first, &rest[..used]);
    }
    (loss, correct, 1)
}

/// `first += shard` for each shard in order.
fn fold(first: &mut Shard, shards: &[Shard]) {
    for shard in shards {
        for (total, part) in first
            .grads
            .params_mut()
            .iter_mut()
            .zip(shard.grads.params())
        {
            *total += *part;
        }
    }
}

/// One epoch: every batch's shards in parallel, reduced in shard order; on
/// the current rayon pool, or with `threads` 1 on the calling thread alone.
pub fn epoch(
    net: &mut Net,
    state: &mut [Net],
    shards: &mut [Shard],
    (plan, threads): (&EpochPlan<'_>, usize),
    observer: &mut impl Observer,
) -> Result<EpochSums, TrainError> {
    let mut sums = EpochSums {
        waiting: None,
        ..plan.part.before
    };
    let total = plan.part.total;
    let fast = FFast::detect();
    let batches = || plan.samples.chunks(plan.batch_size);
    for (batch_index, batch) in batches().enumerate() {
        if observer.should_stop() {
            return Err(TrainError::Interrupted);
        }
        // The next batch's images are on their way while this one computes.
        if let Some(next) = batches().nth(batch_index + 1) {
            plan.inputs.prefetch(next, fast);
        }
        let (batch_loss, correct, used) = gradients(net, shards, (plan, threads), batch);
        sums.correct += correct;
        sums.add_loss(batch_loss, plan)?;
        let step = plan.first_step + batch_index;
        sums.learning_rate = plan.schedule.rate(step);
        let update = Update {
            optimizer: plan.optimizer,
            step,
            learning_rate: sums.learning_rate,
            scale: 1.0 / batch.len() as f32,
        };
        let mut grads: Vec<&mut Net> = shards[..used].iter_mut().map(|s| &mut s.grads).collect();
        reduce_and_step(&update, net, state, &mut grads, threads);
        if batch_index % 64 == 0 {
            let done = (plan.part.done + batch_index * plan.batch_size + batch.len()).min(total);
            observer.batch(plan.epoch, done, total, sums.loss / done as f64);
        }
    }
    Ok(sums)
}

/// One optimiser step's parameters.
#[derive(Clone, Copy, Debug)]
struct Update {
    optimizer: Optimizer,
    step: usize,
    learning_rate: f32,
    scale: f32,
}

/// Elements per block of the fused reduce-and-update pass: small enough that a
/// block of every buffer stays in L1 between the two uses.
const UPDATE_BLOCK: usize = 512;

/// Tensors smaller than this are updated by the calling thread alone.
const PARALLEL_UPDATE_MIN: usize = 4096;

/// One contiguous piece of one tensor: parameters, optimiser state and every
/// shard's gradients.
struct Piece<'a> {
    params: &'a mut [f32],
    state: Vec<&'a mut [f32]>,
    grads: Vec<&'a mut [f32]>,
}

impl Piece<'_> {
    /// Sums the shard gradients into the first one (in shard order, element
    /// by element: the same bits as successive additions) and applies the
    /// update, block by block. (The next step's shards overwrite the gradients.)
    fn update(mut self, update: &Update, kind: TensorKind) {
        let len = self.params.len();
        let mut start = 0;
        while start < len {
            let range = start..(start + UPDATE_BLOCK).min(len);
            let (first, rest) = self.grads.split_first_mut().expect("at least one shard");
            let total = &mut first[range.clone()];
            for other in rest.iter() {
                for (a, b) in total.iter_mut().zip(&other[range.clone()]) {
                    *a += *b;
                }
            }
            let (s0, s1) = match self.state.as_mut_slice() {
                [a] => (&mut a[range.clone()], &mut [][..]),
                [a, b] => (&mut a[range.clone()], &mut b[range.clone()]),
                _ => unreachable!("one or two state buffers"),
            };
            update.optimizer.update(
                (update.step, update.learning_rate),
                kind,
                &mut self.params[range.clone()],
                total,
                (s0, s1),
                update.scale,
            );
            start = range.end;
        }
    }
}

/// Cuts `slice` into `sizes.len()` consecutive pieces of those sizes.
fn cut<'a>(mut slice: &'a mut [f32], sizes: &[usize]) -> Vec<&'a mut [f32]> {
    sizes
        .iter()
        .map(|&size| {
            let (head, tail) = std::mem::take(&mut slice).split_at_mut(size);
            slice = tail;
            head
        })
        .collect()
}

/// Adds the shard gradients `grads` (in shard order) and applies the update to
/// `net` and `state`. Large tensors
/// are split into one piece per thread. Element-wise work, so the split never
/// changes a bit.
fn reduce_and_step(
    update: &Update,
    net: &mut Net,
    state: &mut [Net],
    grads: &mut [&mut Net],
    threads: usize,
) {
    for t in 0..net.tensors() {
        let kind = net.tensor_info(t).kind;
        let len = net.tensor(t).len();
        let parts = if len < PARALLEL_UPDATE_MIN {
            1
        } else {
            threads
        };
        // One piece per thread, cut at multiples of 16 elements (whole vectors).
        let mut sizes: Vec<usize> = Vec::with_capacity(parts);
        let mut left = len;
        for k in 0..parts {
            let size = if k + 1 == parts {
                left
            } else {
                (len / parts).next_multiple_of(16).min(left)
            };
            sizes.push(size);
            left -= size;
        }
        let params = cut(net.tensor_mut(t), &sizes);
        let mut states: Vec<Vec<&mut [f32]>> = state
            .iter_mut()
            .map(|s| cut(s.tensor_mut(t), &sizes))
            .collect();
        let mut shard_grads: Vec<Vec<&mut [f32]>> = grads
            .iter_mut()
            .map(|g| cut(g.tensor_mut(t), &sizes))
            .collect();
        let mut pieces = Vec::with_capacity(parts);
        for (k, params) in params.into_iter().enumerate().rev() {
            pieces.push(Piece {
                params,
                state: states
                    .iter_mut()
                    .map(|s| s.pop().expect("one per piece"))
                    .collect(),
                grads: shard_grads
                    .iter_mut()
                    .map(|g| g.pop().expect("one per piece"))
                    .collect(),
            });
            debug_assert_eq!(pieces.last().map(|p| p.params.len()), Some(sizes[k]));
        }
        if parts == 1 {
            pieces.pop().expect("one piece").update(update, kind);
        } else {
            pieces
                .into_par_iter()
                .with_max_len(1)
                .for_each(|piece| piece.update(update, kind));
        }
    }
}
