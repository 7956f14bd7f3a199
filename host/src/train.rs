//! The training loop: shuffled, augmented mini-batches split into fixed
//! shards that run on a thread pool, reduced in a fixed order.
//!
//! # Determinism
//!
//! A mini-batch is cut into shards of [`SHARD`] samples whatever the thread
//! count; each shard accumulates its gradient sample by sample into its own
//! buffer, and the buffers are added in shard order. Threads only decide *who*
//! computes a shard, never what is added to what, so `--threads 1` and
//! `--threads 2` produce byte-identical models for the same `--seed`.
//!
//! # Two ways to use several threads
//!
//! With one thread, or for networks with two hidden layers, the shards run on
//! the rayon pool and their gradients are reduced and applied in parallel
//! pieces (`reduce_and_step`). For single-hidden-layer networks with two or
//! more threads, `host::rowsplit` (private) instead splits the hidden *rows* over the
//! threads for a whole epoch: every thread computes every shard for its rows,
//! so gradients and parameters never move between cores; only the hidden
//! activations do. Both compute the very same numbers (see that module).

use std::time::Instant;

use rand::seq::SliceRandom;
use rand::{Rng as _, SeedableRng};
use rand_pcg::Pcg64Mcg;
use rayon::prelude::*;
use tinymlp::{BatchNetwork, Parameters, Rng, Sgd, TensorKind};

use crate::arch::{Architecture, CLASSES, INPUTS};
use crate::dataset::Dataset;
use crate::rowsplit::{EpochPlan, EpochSums};
use crate::schedule::OneCycle;

/// Samples per gradient shard: the unit of parallel work.
pub const SHARD: usize = 16;

/// Everything that decides what a training run computes.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainConfig {
    /// Network shape.
    pub architecture: Architecture,
    /// Passes over the training set.
    pub epochs: usize,
    /// Samples per optimiser step.
    pub batch_size: usize,
    /// Peak learning rate of the one-cycle schedule.
    pub learning_rate: f32,
    /// Nesterov momentum.
    pub momentum: f32,
    /// L2 weight decay on weight matrices.
    pub weight_decay: f32,
    /// Largest random shift of a training image, in pixels (0 = no augmentation).
    pub max_shift: usize,
    /// Seed of initialisation, shuffling and augmentation.
    pub seed: u64,
    /// Worker threads (the result does not depend on it).
    pub threads: usize,
}

impl Default for TrainConfig {
    /// The documented defaults of `host train`.
    fn default() -> Self {
        Self {
            architecture: Architecture::default_mnist(),
            epochs: 25,
            batch_size: 32,
            learning_rate: 0.05,
            momentum: 0.9,
            weight_decay: 2e-4,
            max_shift: 1,
            seed: 1,
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
        }
    }
}

/// Figures of one finished epoch.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct EpochMetrics {
    /// 1-based epoch number.
    pub epoch: usize,
    /// Mean cross-entropy over the epoch's training samples.
    pub train_loss: f64,
    /// Fraction of training samples predicted right (before each update).
    pub train_accuracy: f64,
    /// Accuracy on the evaluation set (test or validation).
    pub eval_accuracy: f64,
    /// Learning rate at the end of the epoch.
    pub learning_rate: f32,
    /// Wall time of the epoch's training steps, in seconds.
    pub seconds: f64,
    /// Training throughput of the epoch.
    pub samples_per_second: f64,
}

/// Why training stopped early.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// Loss or parameters became NaN/infinite.
    #[error(
        "training diverged in epoch {epoch} (loss = {loss}); try a lower --lr than {learning_rate}"
    )]
    Diverged {
        /// The epoch it happened in.
        epoch: usize,
        /// The offending batch loss.
        loss: f32,
        /// The configured peak learning rate.
        learning_rate: f32,
    },
    /// A configuration value out of range.
    #[error("{0}")]
    Config(String),
    /// The dataset does not fit the network.
    #[error("{0}")]
    Data(String),
    /// The observer asked to stop (e.g. Ctrl-C).
    #[error("interrupted")]
    Interrupted,
}

/// Receives progress; the CLI draws bars and lines, tests stay quiet.
pub trait Observer {
    /// `done` of `total` samples of `epoch` processed; `loss` is the running mean.
    fn batch(&mut self, _epoch: usize, _done: usize, _total: usize, _loss: f64) {}
    /// Asked before every optimiser step; returning `true` stops training
    /// with [`TrainError::Interrupted`] at that batch boundary, before the
    /// step (e.g. after Ctrl-C). Keep it cheap: an atomic load.
    fn should_stop(&mut self) -> bool {
        false
    }
    /// An epoch finished; the network after it is passed for checkpointing.
    /// Returning `false` stops training (e.g. after Ctrl-C).
    fn epoch<N: Parameters>(&mut self, _metrics: &EpochMetrics, _net: &N) -> bool {
        true
    }
}

/// An observer that ignores everything.
#[derive(Debug, Default)]
pub struct Quiet;
impl Observer for Quiet {}

// The sizes are written as literals below because rustc does not yet normalise
// const items inside supertrait bounds; this keeps them tied to the constants.
const _: () = assert!(INPUTS == 784 && CLASSES == 10);

/// What the training loop needs of a network: the `tinymlp` training API plus
/// what it takes to live on the heap and cross threads.
pub trait Trainable:
    BatchNetwork<784, 10, BatchScratch<SHARD>: Send>
    + Clone
    + Send
    + Sync
    + bytemuck::Zeroable
    + 'static
{
}
impl<N> Trainable for N where
    N: BatchNetwork<784, 10, BatchScratch<SHARD>: Send>
        + Clone
        + Send
        + Sync
        + bytemuck::Zeroable
        + 'static
{
}

/// `p as f32 / 255.0`: the value [`tinymlp::PIXEL_VALUES`] holds for `p`, bit for bit
/// (IEEE division is correctly rounded, see `tinymlp::input`). On the host a
/// vector division is ~4× faster than the table lookup, which compiles to
/// gathers (`converts_like_the_table` checks all 256 values).
#[inline(always)]
fn pixel_value(p: u8) -> f32 {
    f32::from(p) / 255.0
}

/// Copies a 28×28 image shifted by (`dx`, `dy`) pixels, filling with 0
/// (background), converted as [`tinymlp::pixels_to_input`] does.
pub(crate) fn shifted_input(pixels: &[u8], dx: i32, dy: i32, input: &mut [f32; INPUTS]) {
    const SIDE: i32 = 28;
    if let (0, 0, Ok(pixels)) = (dx, dy, <&[u8; INPUTS]>::try_from(pixels)) {
        for (x, &p) in input.iter_mut().zip(pixels) {
            *x = pixel_value(p);
        }
        return;
    }
    input.fill(0.0);
    // Copy whole row segments: the valid columns of a shifted row are contiguous.
    let width = (SIDE - dx.abs()).max(0) as usize;
    let (src_col, dst_col) = (dx.min(0).unsigned_abs() as usize, dx.max(0) as usize);
    for row in 0..SIDE {
        let src_row = row - dy;
        if !(0..SIDE).contains(&src_row) {
            continue;
        }
        let src = &pixels[(src_row * SIDE) as usize + src_col..][..width];
        let dst = &mut input[(row * SIDE) as usize + dst_col..][..width];
        for (x, &p) in dst.iter_mut().zip(src) {
            *x = pixel_value(p);
        }
    }
}

/// Reads one byte of every cache line of the images, all before any is
/// converted: the images of a shuffled batch are scattered over the 47 MB
/// training set, and touching them together lets their cache misses overlap
/// instead of stalling one image at a time. (Safe Rust has no prefetch
/// instruction; a plain load whose value is discarded does the same here.)
pub(crate) fn touch_images(data: &Dataset, samples: &[(usize, i8, i8)]) {
    let mut sum = 0u8;
    for &(index, _, _) in samples {
        for line in data.image(index).iter().step_by(64) {
            sum ^= *line;
        }
    }
    std::hint::black_box(sum);
}

/// One shard's worker state: its own gradient buffer, inputs and batch scratch.
struct Shard<N: Trainable> {
    grads: Box<N>,
    scratch: Box<N::BatchScratch<SHARD>>,
    inputs: Box<[[f32; INPUTS]; SHARD]>,
    labels: [u8; SHARD],
    loss: f64,
    correct: usize,
}

impl<N: Trainable> Shard<N> {
    fn new() -> Self {
        Self {
            grads: bytemuck::zeroed_box(),
            scratch: Box::default(),
            inputs: Box::new([[0.0; INPUTS]; SHARD]),
            labels: [0; SHARD],
            loss: 0.0,
            correct: 0,
        }
    }

    /// Gradient of up to [`SHARD`] samples, bit-identical to adding them one
    /// by one in order (see `tinymlp::batch`).
    fn run(&mut self, net: &N, data: &Dataset, samples: &[(usize, i8, i8)]) {
        let n = samples.len();
        touch_images(data, samples);
        for ((&(index, dx, dy), input), label) in samples
            .iter()
            .zip(self.inputs.iter_mut())
            .zip(&mut self.labels)
        {
            shifted_input(data.image(index), i32::from(dx), i32::from(dy), input);
            *label = data.label(index);
        }
        // `grads` is all zeros here: `reduce_and_step` clears it after use
        // (and a new shard starts zeroed).
        let outcome = net.train_batch::<SHARD, u8>(
            &self.inputs[..n],
            &self.labels[..n],
            &mut self.scratch,
            &mut self.grads,
        );
        self.loss = f64::from(outcome.loss);
        self.correct = outcome.correct;
    }
}

/// Trains a fresh `N` on `train`, evaluating on `eval` after each epoch.
///
/// The whole loop runs on the worker threads of its own rayon pool, so the
/// per-step parallel regions are forks inside the pool (one of the workers
/// carries on itself) rather than hand-offs from an outside thread, which
/// would put that thread to sleep and wake it twice per step.
pub fn train<N: Trainable>(
    config: &TrainConfig,
    train: &Dataset,
    eval: &Dataset,
    observer: &mut (impl Observer + Send),
) -> Result<(Box<N>, Vec<EpochMetrics>), TrainError> {
    validate(config, train)?;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(config.threads)
        .build()
        .map_err(|e| TrainError::Config(format!("cannot start {} threads: {e}", config.threads)))?;
    pool.install(|| train_loop(config, train, eval, observer))
}

/// [`train`] on the current rayon pool.
fn train_loop<N: Trainable>(
    config: &TrainConfig,
    train: &Dataset,
    eval: &Dataset,
    observer: &mut impl Observer,
) -> Result<(Box<N>, Vec<EpochMetrics>), TrainError> {
    let threads = rayon::current_num_threads();

    let mut net: Box<N> = bytemuck::zeroed_box();
    net.init(&mut Rng::new(config.seed));
    let mut velocity: Box<N> = bytemuck::zeroed_box();
    let mut shards: Vec<Shard<N>> = (0..config.batch_size.div_ceil(SHARD))
        .map(|_| Shard::new())
        .collect();
    let mut rng = Pcg64Mcg::seed_from_u64(config.seed);
    let mut order: Vec<usize> = (0..train.len()).collect();
    let mut plan: Vec<(usize, i8, i8)> = Vec::with_capacity(train.len());
    let steps_per_epoch = train.len().div_ceil(config.batch_size);
    let schedule = OneCycle::new(config.learning_rate, steps_per_epoch * config.epochs);
    let shift = config.max_shift as i8;
    let mut step = 0;
    let mut history = Vec::with_capacity(config.epochs);

    for epoch in 1..=config.epochs {
        let started = Instant::now();
        order.shuffle(&mut rng);
        plan.clear();
        plan.extend(order.iter().map(|&i| {
            let (dx, dy) = if shift > 0 {
                (
                    rng.random_range(-shift..=shift),
                    rng.random_range(-shift..=shift),
                )
            } else {
                (0, 0)
            };
            (i, dx, dy)
        }));
        let sgd = Sgd {
            learning_rate: 0.0,
            momentum: config.momentum,
            weight_decay: config.weight_decay,
            nesterov: true,
        };
        let epoch_plan = EpochPlan {
            epoch,
            plan: &plan,
            data: train,
            batch_size: config.batch_size,
            schedule: &schedule,
            first_step: step,
            sgd,
            peak_rate: config.learning_rate,
        };
        let rows = if threads > 1 {
            crate::rowsplit::try_epoch(&mut *net, &mut *velocity, threads, &epoch_plan, observer)
        } else {
            None
        };
        let (loss_sum, correct, learning_rate) = match rows {
            Some(sums) => sums?,
            None => sharded_epoch(
                &mut *net,
                &mut *velocity,
                &mut shards,
                threads,
                &epoch_plan,
                observer,
            )?,
        };
        step += steps_per_epoch;
        let seconds = started.elapsed().as_secs_f64();
        if !net.all_finite() {
            return Err(TrainError::Diverged {
                epoch,
                loss: f32::NAN,
                learning_rate: config.learning_rate,
            });
        }
        let metrics = EpochMetrics {
            epoch,
            train_loss: loss_sum / train.len() as f64,
            train_accuracy: correct as f64 / train.len() as f64,
            eval_accuracy: accuracy(&*net, eval),
            learning_rate,
            seconds,
            samples_per_second: train.len() as f64 / seconds.max(1e-9),
        };
        history.push(metrics);
        if !observer.epoch(history.last().expect("just pushed"), &*net) {
            return Err(TrainError::Interrupted);
        }
    }
    Ok((net, history))
}

/// One epoch of the data-parallel loop: each batch cut into [`SHARD`]s that
/// run on the rayon pool, their gradients reduced in shard order.
fn sharded_epoch<N: Trainable>(
    net: &mut N,
    velocity: &mut N,
    shards: &mut [Shard<N>],
    threads: usize,
    plan: &EpochPlan<'_>,
    observer: &mut impl Observer,
) -> Result<EpochSums, TrainError> {
    let (mut loss_sum, mut correct) = (0.0f64, 0usize);
    let mut sgd = plan.sgd;
    let train = plan.data;
    let total = plan.plan.len();
    for (batch_index, batch) in plan.plan.chunks(plan.batch_size).enumerate() {
        if observer.should_stop() {
            return Err(TrainError::Interrupted);
        }
        let used = batch.len().div_ceil(SHARD);
        let net_ref: &N = net;
        shards[..used]
            .par_iter_mut()
            .zip(batch.par_chunks(SHARD))
            .with_max_len(1)
            .for_each(|(shard, samples)| shard.run(net_ref, train, samples));
        let mut batch_loss = 0.0;
        for shard in &shards[..used] {
            batch_loss += shard.loss;
            correct += shard.correct;
        }
        if !batch_loss.is_finite() {
            return Err(TrainError::Diverged {
                epoch: plan.epoch,
                loss: batch_loss as f32,
                learning_rate: plan.peak_rate,
            });
        }
        loss_sum += batch_loss;
        sgd.learning_rate = plan.schedule.rate(plan.first_step + batch_index);
        let scale = 1.0 / batch.len() as f32;
        let mut grads: Vec<&mut N> = shards[..used]
            .iter_mut()
            .map(|shard| &mut *shard.grads)
            .collect();
        reduce_and_step(&sgd, net, velocity, &mut grads, scale, threads);
        if batch_index % 64 == 0 {
            let done = (batch_index * plan.batch_size + batch.len()).min(total);
            observer.batch(plan.epoch, done, total, loss_sum / done as f64);
        }
    }
    Ok((loss_sum, correct, sgd.learning_rate))
}

/// Elements per block of the fused reduce-update-clear pass: small enough that a
/// block of every buffer stays in L1 between the three uses.
const UPDATE_BLOCK: usize = 512;

/// Tensors smaller than this are updated by the calling thread alone.
const PARALLEL_UPDATE_MIN: usize = 4096;

/// One contiguous piece of one tensor: parameters, velocity and every shard's gradients.
struct Piece<'a> {
    params: &'a mut [f32],
    velocity: &'a mut [f32],
    grads: Vec<&'a mut [f32]>,
}

impl Piece<'_> {
    /// Sums the shard gradients into the first one (in shard order, element
    /// by element: the same bits as successive `add_assign`s), applies the
    /// SGD update and clears every gradient for the next step, block by block.
    fn update(mut self, sgd: &Sgd, kind: TensorKind, scale: f32) {
        let len = self.params.len();
        let mut start = 0;
        while start < len {
            let range = start..(start + UPDATE_BLOCK).min(len);
            let (first, rest) = self.grads.split_first_mut().expect("at least one shard");
            let total = &mut first[range.clone()];
            for other in rest.iter_mut() {
                let other = &mut other[range.clone()];
                for (a, b) in total.iter_mut().zip(other.iter()) {
                    *a += *b;
                }
                other.fill(0.0);
            }
            sgd.update_slice(
                kind,
                &mut self.params[range.clone()],
                total,
                &mut self.velocity[range.clone()],
                scale,
            );
            total.fill(0.0);
            start = range.end;
        }
    }
}

/// Adds the shard gradients `grads` (in shard order), applies the SGD update to
/// `net` and `velocity`, and leaves every gradient buffer zeroed. Large tensors
/// are split into one piece per thread of the current rayon pool. Element-wise
/// work, so the split never changes a bit.
fn reduce_and_step<N: Trainable>(
    sgd: &Sgd,
    net: &mut N,
    velocity: &mut N,
    grads: &mut [&mut N],
    scale: f32,
    threads: usize,
) {
    for t in 0..N::TENSORS {
        let kind = N::tensor_info(t).kind;
        let mut params = net.tensor_mut(t);
        let mut vel = velocity.tensor_mut(t);
        let mut shard_grads: Vec<&mut [f32]> = grads.iter_mut().map(|g| g.tensor_mut(t)).collect();
        let len = params.len();
        if len < PARALLEL_UPDATE_MIN || threads == 1 {
            Piece {
                params,
                velocity: vel,
                grads: shard_grads,
            }
            .update(sgd, kind, scale);
            continue;
        }
        // One piece per thread, cut at multiples of 16 elements (whole vectors).
        let mut pieces = Vec::with_capacity(threads);
        for k in 0..threads {
            let size = if k + 1 == threads {
                params.len()
            } else {
                (len / threads).next_multiple_of(16).min(params.len())
            };
            let (p, p_rest) = std::mem::take(&mut params).split_at_mut(size);
            let (v, v_rest) = std::mem::take(&mut vel).split_at_mut(size);
            params = p_rest;
            vel = v_rest;
            let mut g = Vec::with_capacity(shard_grads.len());
            for shard in shard_grads.iter_mut() {
                let (head, tail) = std::mem::take(shard).split_at_mut(size);
                *shard = tail;
                g.push(head);
            }
            pieces.push(Piece {
                params: p,
                velocity: v,
                grads: g,
            });
        }
        pieces
            .into_par_iter()
            .with_max_len(1)
            .for_each(|piece| piece.update(sgd, kind, scale));
    }
}

fn validate(config: &TrainConfig, train: &Dataset) -> Result<(), TrainError> {
    if train.pixels_per_image() != INPUTS {
        return Err(TrainError::Data(format!(
            "images are {}x{}, the compiled networks take 28x28 ({INPUTS} pixels)",
            train.rows(),
            train.cols()
        )));
    }
    if train.is_empty() {
        return Err(TrainError::Data("the training set is empty".into()));
    }
    let check = |ok: bool, what: &str| {
        if ok {
            Ok(())
        } else {
            Err(TrainError::Config(what.to_string()))
        }
    };
    check(config.epochs >= 1, "--epochs must be at least 1")?;
    check(config.batch_size >= 1, "--batch must be at least 1")?;
    check(config.batch_size <= 65_536, "--batch must be at most 65536")?;
    check(
        config.threads >= 1 && config.threads <= 256,
        "--threads must be between 1 and 256",
    )?;
    check(
        config.learning_rate.is_finite() && config.learning_rate > 0.0,
        "--lr must be a positive number",
    )?;
    check(
        config.max_shift <= 4,
        "--shift must be between 0 and 4 pixels",
    )?;
    Ok(())
}

/// Predicted class of every image of `data`, in parallel on the current rayon pool.
pub fn predictions<N: Trainable>(net: &N, data: &Dataset) -> Vec<u8> {
    (0..data.len())
        .into_par_iter()
        .map(|i| {
            let mut input = [0.0; INPUTS];
            shifted_input(data.image(i), 0, 0, &mut input);
            net.predict(&input) as u8
        })
        .collect()
}

/// Fraction of `data` that `net` classifies right.
pub fn accuracy<N: Trainable>(net: &N, data: &Dataset) -> f64 {
    if data.is_empty() {
        return 0.0;
    }
    let predicted = predictions(net, data);
    let correct = predicted
        .iter()
        .zip(data.labels())
        .filter(|(p, l)| p == l)
        .count();
    correct as f64 / data.len() as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use tinymlp::{pixels_to_input, PIXEL_VALUES};

    #[test]
    fn shift_moves_pixels_and_fills_with_background() {
        let mut image = [0u8; INPUTS];
        image[28 * 10 + 10] = 255;
        let mut input = [0.0; INPUTS];
        shifted_input(&image, 2, -1, &mut input);
        assert_eq!(input[28 * 9 + 12], 1.0);
        assert_eq!(input.iter().filter(|&&v| v != 0.0).count(), 1);
        shifted_input(&image, -3, 2, &mut input);
        assert_eq!(input[28 * 12 + 7], 1.0);
        assert_eq!(input.iter().filter(|&&v| v != 0.0).count(), 1);
        shifted_input(&image, 0, 0, &mut input);
        assert_eq!(input, pixels_to_input(&image));
        // The shifted path converts exactly like the plain one.
        let mut gray = [0u8; INPUTS];
        for (i, p) in gray.iter_mut().enumerate() {
            *p = (i % 256) as u8;
        }
        let mut moved = [0.0; INPUTS];
        shifted_input(&gray, 1, 0, &mut moved);
        let plain = pixels_to_input(&gray);
        assert_eq!(moved[28 * 5 + 10].to_bits(), plain[28 * 5 + 9].to_bits());
    }

    #[test]
    fn converts_like_the_table() {
        for p in 0..=255u8 {
            assert_eq!(
                pixel_value(std::hint::black_box(p)).to_bits(),
                PIXEL_VALUES[usize::from(p)].to_bits(),
                "p={p}"
            );
        }
    }
}
