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

use std::time::Instant;

use rand::seq::SliceRandom;
use rand::{Rng as _, SeedableRng};
use rand_pcg::Pcg64Mcg;
use rayon::prelude::*;
use tinymlp::{pixels_to_input, BatchNetwork, Parameters, Rng, Sgd, PIXEL_VALUES};

use crate::arch::{Architecture, CLASSES, INPUTS};
use crate::dataset::Dataset;
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
            epochs: 30,
            batch_size: 32,
            learning_rate: 0.1,
            momentum: 0.9,
            weight_decay: 5e-4,
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

/// Copies a 28×28 image shifted by (`dx`, `dy`) pixels, filling with 0
/// (background), converted as [`pixels_to_input`] does.
fn shifted_input(pixels: &[u8], dx: i32, dy: i32, input: &mut [f32; INPUTS]) {
    const SIDE: i32 = 28;
    if let (0, 0, Ok(pixels)) = (dx, dy, <&[u8; INPUTS]>::try_from(pixels)) {
        *input = pixels_to_input(pixels);
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
            *x = PIXEL_VALUES[usize::from(p)];
        }
    }
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
        for ((&(index, dx, dy), input), label) in samples
            .iter()
            .zip(self.inputs.iter_mut())
            .zip(&mut self.labels)
        {
            shifted_input(data.image(index), i32::from(dx), i32::from(dy), input);
            *label = data.label(index);
        }
        self.grads.set_zero();
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
pub fn train<N: Trainable>(
    config: &TrainConfig,
    train: &Dataset,
    eval: &Dataset,
    observer: &mut impl Observer,
) -> Result<(Box<N>, Vec<EpochMetrics>), TrainError> {
    validate(config, train)?;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(config.threads)
        .build()
        .map_err(|e| TrainError::Config(format!("cannot start {} threads: {e}", config.threads)))?;

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
        let (mut loss_sum, mut correct) = (0.0f64, 0usize);
        let mut sgd = Sgd {
            learning_rate: 0.0,
            momentum: config.momentum,
            weight_decay: config.weight_decay,
            nesterov: true,
        };
        for (batch_index, batch) in plan.chunks(config.batch_size).enumerate() {
            if observer.should_stop() {
                return Err(TrainError::Interrupted);
            }
            let used = batch.len().div_ceil(SHARD);
            let net_ref: &N = &net;
            pool.install(|| {
                shards[..used]
                    .par_iter_mut()
                    .zip(batch.par_chunks(SHARD))
                    .for_each(|(shard, samples)| shard.run(net_ref, train, samples));
            });
            let (first, rest) = shards[..used].split_at_mut(1);
            let total = &mut first[0];
            let mut batch_loss = total.loss;
            correct += total.correct;
            for shard in rest.iter() {
                batch_loss += shard.loss;
                correct += shard.correct;
            }
            if !batch_loss.is_finite() {
                return Err(TrainError::Diverged {
                    epoch,
                    loss: batch_loss as f32,
                    learning_rate: config.learning_rate,
                });
            }
            loss_sum += batch_loss;
            sgd.learning_rate = schedule.rate(step);
            let scale = 1.0 / batch.len() as f32;
            let others: Vec<&N> = rest.iter().map(|shard| &*shard.grads).collect();
            let (net, velocity, grads) = (&mut *net, &mut *velocity, &mut *total.grads);
            pool.install(|| reduce_and_step(&sgd, net, velocity, grads, &others, scale));
            step += 1;
            if batch_index % 64 == 0 {
                let done = (batch_index * config.batch_size + batch.len()).min(train.len());
                observer.batch(epoch, done, train.len(), loss_sum / done as f64);
            }
        }
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
            eval_accuracy: pool.install(|| accuracy(&*net, eval)),
            learning_rate: sgd.learning_rate,
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

/// One piece of [`reduce_and_step`]: index, then (parameters, velocity), gradients.
type Piece<'a> = (usize, ((&'a mut [f32], &'a mut [f32]), &'a mut [f32]));

/// Elements per piece of the parallel gradient reduction and update.
const UPDATE_CHUNK: usize = 4096;

/// Adds the other shards' gradients into `grads` (in shard order, element by
/// element: the same bits as successive `add_assign`s) and applies the SGD
/// update, both split into pieces over the current rayon pool. Element-wise
/// work, so the split never changes a bit.
fn reduce_and_step<N: Trainable>(
    sgd: &Sgd,
    net: &mut N,
    velocity: &mut N,
    grads: &mut N,
    others: &[&N],
    scale: f32,
) {
    for t in 0..N::TENSORS {
        let kind = N::tensor_info(t).kind;
        let other_grads: Vec<&[f32]> = others.iter().map(|g| g.tensor(t)).collect();
        let update = |(c, ((p, v), g)): Piece<'_>| {
            let range = c * UPDATE_CHUNK..c * UPDATE_CHUNK + g.len();
            for other in &other_grads {
                for (a, b) in g.iter_mut().zip(&other[range.clone()]) {
                    *a += b;
                }
            }
            sgd.update_slice(kind, p, g, v, scale);
        };
        let (p, v, g) = (
            net.tensor_mut(t),
            velocity.tensor_mut(t),
            grads.tensor_mut(t),
        );
        if g.len() > UPDATE_CHUNK {
            p.par_chunks_mut(UPDATE_CHUNK)
                .zip(v.par_chunks_mut(UPDATE_CHUNK))
                .zip(g.par_chunks_mut(UPDATE_CHUNK))
                .enumerate()
                .for_each(update);
        } else {
            p.chunks_mut(UPDATE_CHUNK)
                .zip(v.chunks_mut(UPDATE_CHUNK))
                .zip(g.chunks_mut(UPDATE_CHUNK))
                .enumerate()
                .for_each(update);
        }
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
}
