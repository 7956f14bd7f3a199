//! Training: shuffled, augmented mini-batches, split into fixed shards,
//! on a thread pool, reduced in a fixed order.
//!
//! - [`inputs`]: an epoch's sample plan → network inputs (shifts, scaling).
//! - [`shard`]: forward and backward of one shard through a [`Net`] of any depth.
//! - [`sharded`]: the data-parallel epoch (any shape).
//! - [`rows`]: the model-parallel epoch (the rows of every hidden layer split
//!   over the threads; any depth with a hidden layer).
//! - [`threads`]: how many threads each epoch takes (fewer while other
//!   programs keep cores busy).
//! - [`optimizer`]: SGD with Nesterov momentum or Adam; [`schedule`]: one-cycle.
//! - [`plan`], [`observer`]: what an epoch takes, what a run reports.
//! - [`predict`]: every sample of a data set classified (the accuracy
//!   after each epoch, `eval`).
//!
//! # Determinism
//!
//! A mini-batch is cut into shards of [`SHARD`] samples whatever the thread
//! count; each shard accumulates its gradient sample by sample into its own
//! buffer, and the buffers are added in shard order. Threads only decide *who*
//! computes a shard, never what is added to what, so `--threads 1` and
//! `--threads 2` produce byte-identical models for the same `--seed`.

pub mod inputs;
pub mod observer;
pub mod optimizer;
pub mod plan;
pub mod predict;
pub mod rows;
pub mod schedule;
pub mod shard;
pub mod sharded;
pub mod threads;

use std::time::Instant;

use rand::seq::SliceRandom;
use rand::{Rng as _, SeedableRng};
use rand_pcg::Pcg64Mcg;

pub use inputs::{Inputs, Sample};
pub use observer::{EpochMetrics, Observer, Quiet, TrainError};
pub use optimizer::{Optimizer, OptimizerChoice};
pub use plan::{EpochPart, EpochPlan, EpochSums, SHARD};
pub use predict::{accuracy, checked_predictions, predictions};
pub use schedule::OneCycle;

use crate::data::{Dataset, Encoding};
use crate::fkernel::FFast;
use crate::model::{Architecture, HiddenLayers, Model, Net, ScaleMode, Scaling};
use rows::FirstLayer;
use threads::{ChooseThreads, EpochThreads, SmallerPools, ThreadChoice};

/// Optimiser steps a run takes at least when `--epochs` is left to choose:
/// small data sets get more epochs, MNIST keeps its 25.
pub const MIN_STEPS: usize = 4000;
/// Epochs when `--epochs` is left to choose and the data is large.
pub const DEFAULT_EPOCHS: usize = 25;
/// SGD's Nesterov momentum when `--momentum` is not given.
pub const DEFAULT_MOMENTUM: f32 = 0.9;
/// Most epochs a run may take.
pub const MAX_EPOCHS: usize = 100_000;
/// Largest `--batch`.
pub const MAX_BATCH: usize = 65_536;
/// Most `--threads`.
pub const MAX_THREADS: usize = 256;
/// Most bytes the per-thread buffers of an epoch take, whatever `--threads`
/// and `--batch` (threads beyond them wait; the model does not change).
pub const THREAD_BUFFER_BYTES: usize = 128 << 20;

/// Everything that decides what a training run computes; `None` means "the
/// default for this data" (see [`Recipe`]).
#[derive(Clone, Debug, PartialEq)]
pub struct TrainConfig {
    /// Hidden widths.
    pub hidden: HiddenLayers,
    /// Passes over the training set.
    pub epochs: Option<usize>,
    /// Samples per optimiser step (at most the training set).
    pub batch_size: usize,
    /// Peak learning rate of the one-cycle schedule.
    pub learning_rate: Option<f32>,
    /// Nesterov momentum (SGD; [`DEFAULT_MOMENTUM`] when not given); 0 for
    /// plain SGD, which neither reads nor writes the velocity. Refused with
    /// Adam when given.
    pub momentum: Option<f32>,
    /// L2 weight decay on weight matrices.
    pub weight_decay: Option<f32>,
    /// SGD or Adam.
    pub optimizer: OptimizerChoice,
    /// Largest random shift of a training image, in pixels (0 = no augmentation).
    pub max_shift: Option<usize>,
    /// Input scaling.
    pub scale: ScaleMode,
    /// Seed of initialisation, shuffling and augmentation.
    pub seed: u64,
    /// Worker threads (the result does not depend on it): the most an epoch
    /// takes.
    pub threads: usize,
    /// Whether an epoch may take fewer threads than [`threads`](Self::threads):
    /// as many as a small network's steps keep busy, and fewer while they
    /// wait for one another (other programs busy on the cores); see
    /// [`threads`](mod@threads). `false` takes all of them every epoch.
    pub adapt_threads: bool,
    /// How the threads share the work (the result does not depend on it either).
    pub split: Split,
}

/// How the threads of a run share an epoch's work. Never what is computed:
/// both give the same bits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Split {
    /// The rows of the hidden layers ([`rows`]) where that applies
    /// ([`rows::applies`]: several threads, or one on inputs that are mostly
    /// zero ([`Inputs::mostly_zero`]); a hidden layer of 8 rows or more,
    /// batches up to [`rows::MAX_BATCH`]), else whole shards.
    #[default]
    Auto,
    /// Always whole shards per thread ([`sharded`]), the data-parallel epoch.
    Shards,
}

impl Default for TrainConfig {
    /// The documented defaults of `host train`.
    fn default() -> Self {
        Self {
            hidden: HiddenLayers::default_mnist(),
            epochs: None,
            batch_size: 32,
            learning_rate: None,
            momentum: None,
            weight_decay: None,
            optimizer: OptimizerChoice::Auto,
            max_shift: None,
            scale: ScaleMode::Auto,
            seed: 1,
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            adapt_threads: true,
            split: Split::Auto,
        }
    }
}

impl TrainConfig {
    /// The most threads an epoch of `recipe` takes: [`threads`](Self::threads),
    /// or when adapting ([`adapt_threads`](Self::adapt_threads)) as many as
    /// its steps keep busy ([`threads::useful`]).
    pub fn most_threads(&self, recipe: &Recipe) -> usize {
        if self.adapt_threads {
            let widths = recipe.architecture.widths();
            self.threads.min(threads::useful(widths, recipe.batch_size))
        } else {
            self.threads
        }
    }
}

/// A configuration resolved against the training data: every value a run uses.
#[derive(Clone, Debug, PartialEq)]
pub struct Recipe {
    /// The network's shape.
    pub architecture: Architecture,
    /// Passes over the training set.
    pub epochs: usize,
    /// Samples per optimiser step.
    pub batch_size: usize,
    /// Peak learning rate.
    pub learning_rate: f32,
    /// L2 weight decay.
    pub weight_decay: f32,
    /// The update rule.
    pub optimizer: Optimizer,
    /// Largest image shift.
    pub max_shift: usize,
    /// Input scaling, fitted on the training set.
    pub scaling: Scaling,
}

impl TrainConfig {
    /// Resolves the defaults for `train`: pixel images get the MNIST recipe
    /// (SGD with Nesterov momentum, peak rate 0.05, weight decay 2e-4, ±1 px
    /// shifts for images of 16×16 or more); numeric features get Adam (peak
    /// rate 0.01, weight decay 1e-3, no shifts). Epochs: 25, or more so that
    /// the run takes at least [`MIN_STEPS`] steps.
    pub fn resolve(&self, train: &Dataset) -> Result<Recipe, TrainError> {
        validate(self, train)?;
        let architecture = Architecture::new(train.features(), &self.hidden, train.classes().len())
            .map_err(|e| TrainError::Config(format!("--hidden: {e}")))?;
        let scaling = Scaling::fit(train, self.scale);
        let pixels = train.encoding() == Encoding::Pixels && matches!(scaling, Scaling::Pixels);
        let adam = match self.optimizer {
            OptimizerChoice::Auto => !pixels,
            choice => choice == OptimizerChoice::Adam,
        };
        let weight_decay = self.weight_decay.unwrap_or(if adam { 1e-3 } else { 2e-4 });
        let batch_size = self.batch_size.min(train.len());
        let steps_per_epoch = train.len().div_ceil(batch_size);
        let epochs = self
            .epochs
            .unwrap_or_else(|| DEFAULT_EPOCHS.max(MIN_STEPS.div_ceil(steps_per_epoch)));
        let image = train.shape().image;
        let max_shift = match (self.max_shift, image) {
            (Some(shift), _) => shift,
            (None, Some((rows, cols))) if pixels && rows >= 16 && cols >= 16 => 1,
            (None, _) => 0,
        };
        if adam && self.momentum.is_some() {
            return Err(TrainError::Config(
                "--momentum is SGD's, and this run uses Adam (--optimizer auto picks it for \
                 numeric features): add --optimizer sgd, or drop --momentum"
                    .into(),
            ));
        }
        if max_shift > 0 && !(pixels && image.is_some()) {
            return Err(TrainError::Config(
                "--shift moves images; this data is not pixel images: use --shift 0".into(),
            ));
        }
        Ok(Recipe {
            architecture,
            epochs,
            batch_size,
            learning_rate: self.learning_rate.unwrap_or(if adam { 0.01 } else { 0.05 }),
            weight_decay,
            optimizer: Optimizer::new(
                adam,
                self.momentum.unwrap_or(DEFAULT_MOMENTUM),
                weight_decay,
            ),
            max_shift,
            scaling,
        })
    }
}

/// The result of a run: the model and its learning curves.
#[derive(Debug)]
pub struct Trained {
    /// The trained model.
    pub model: Model,
    /// One entry per epoch.
    pub history: Vec<EpochMetrics>,
    /// What the run used.
    pub recipe: Recipe,
}

/// Trains a fresh network on `train`, evaluating on `eval` after each epoch.
///
/// The whole loop runs on the worker threads of its own rayon pool, so the
/// per-step parallel regions are forks inside the pool (one of the workers
/// carries on itself) rather than hand-offs from an outside thread.
pub fn train(
    config: &TrainConfig,
    train: &Dataset,
    eval: &Dataset,
    observer: &mut (impl Observer + Send),
) -> Result<Trained, TrainError> {
    let recipe = config.resolve(train)?;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(config.threads)
        .build()
        .map_err(|e| TrainError::Config(format!("cannot start {} threads: {e}", config.threads)))?;
    let choice = ThreadChoice::new(config.most_threads(&recipe), config.adapt_threads);
    let run = RunSetup {
        seed: config.seed,
        split: config.split,
        choice,
    };
    let (model, history) = pool.install(|| train_loop(run, &recipe, train, eval, observer))?;
    Ok(Trained {
        model,
        history,
        recipe,
    })
}

/// An epoch's samples: shuffled, each with its random shift.
fn plan_epoch(rng: &mut Pcg64Mcg, order: &mut [usize], max_shift: usize, plan: &mut Vec<Sample>) {
    order.shuffle(rng);
    let shift = max_shift as i8;
    plan.clear();
    plan.extend(order.iter().map(|&index| {
        let (dx, dy) = if shift > 0 {
            (
                rng.random_range(-shift..=shift),
                rng.random_range(-shift..=shift),
            )
        } else {
            (0, 0)
        };
        Sample { index, dx, dy }
    }));
}

/// How a run goes besides its recipe: seed, split, thread counts.
struct RunSetup<C> {
    seed: u64,
    split: Split,
    choice: C,
}

/// [`train`] on the current rayon pool (its threads the most an epoch takes).
fn train_loop(
    RunSetup {
        seed,
        split,
        mut choice,
    }: RunSetup<impl ChooseThreads>,
    recipe: &Recipe,
    train: &Dataset,
    eval: &Dataset,
    observer: &mut (impl Observer + Send),
) -> Result<(Model, Vec<EpochMetrics>), TrainError> {
    let threads = rayon::current_num_threads();
    let mut pools = SmallerPools::default();
    let mut model = Model {
        net: Net::initialised(&recipe.architecture, seed),
        scaling: recipe.scaling.clone(),
        classes: train.classes().clone(),
        image: train.shape().image,
    };
    let mut state = recipe.optimizer.state(&model.net);
    let mut shards: Vec<sharded::Shard> =
        (0..sharded::shards_needed(&model.net, recipe.batch_size, threads))
            .map(|_| sharded::Shard::new(&model.net))
            .collect();
    let mut rng = Pcg64Mcg::seed_from_u64(seed);
    let mut order: Vec<usize> = (0..train.len()).collect();
    let mut samples = Vec::with_capacity(train.len());
    let steps_per_epoch = train.len().div_ceil(recipe.batch_size);
    let schedule = OneCycle::new(recipe.learning_rate, steps_per_epoch * recipe.epochs);
    let mut history = Vec::new();
    let inputs = Inputs {
        data: train,
        scaling: &model.scaling,
    };
    let first = FirstLayer::choose(&inputs, FFast::detect());
    for epoch in 1..=recipe.epochs {
        let started = Instant::now();
        plan_epoch(&mut rng, &mut order, recipe.max_shift, &mut samples);
        let whole = EpochPlan {
            epoch,
            samples: &samples,
            inputs: Inputs {
                data: train,
                scaling: &model.scaling,
            },
            batch_size: recipe.batch_size,
            schedule: &schedule,
            first_step: (epoch - 1) * steps_per_epoch,
            optimizer: recipe.optimizer,
            peak_rate: recipe.learning_rate,
            part: EpochPart::whole(samples.len()),
        };
        let (mut sums, mut count) = (EpochSums::default(), 1);
        let last = history.last().map(|m: &EpochMetrics| m.seconds);
        let parts = choice.parts(steps_per_epoch, last);
        for part in threads::parts(samples.len(), recipe.batch_size, parts) {
            let plan = EpochPlan {
                samples: &samples[part.clone()],
                first_step: whole.first_step + part.start / recipe.batch_size,
                part: EpochPart {
                    before: sums,
                    done: part.start,
                    total: samples.len(),
                },
                ..whole
            };
            let started = Instant::now();
            count = choice.next().clamp(1, threads);
            let by_rows = match split {
                Split::Auto => rows::threads_for(&model.net, (count, first), recipe.batch_size),
                Split::Shards => None,
            };
            sums = if let Some(taken) = by_rows {
                count = taken;
                rows::epoch(&mut model.net, &mut state, (count, first), &plan, observer)?
            } else {
                let net = &mut model.net;
                let on = (&plan, count);
                let epoch = || sharded::epoch(net, &mut state, &mut shards, on, observer);
                pools.on(count, threads, epoch)??
            };
            choice.record(EpochThreads {
                threads: count,
                waiting: sums.waiting,
                seconds_per_sample: started.elapsed().as_secs_f64() / part.len() as f64,
            });
        }
        let seconds = started.elapsed().as_secs_f64();
        if !model.net.all_finite() {
            return Err(TrainError::Diverged {
                epoch,
                loss: f32::NAN,
                learning_rate: recipe.learning_rate,
            });
        }
        history.push(EpochMetrics {
            epoch,
            train_loss: sums.loss / train.len() as f64,
            train_accuracy: sums.correct as f64 / train.len() as f64,
            eval_accuracy: accuracy(&model, eval),
            learning_rate: sums.learning_rate,
            seconds,
            samples_per_second: train.len() as f64 / seconds.max(1e-9),
            threads: count,
        });
        if !observer.epoch(history.last().expect("just pushed"), &model) {
            return Err(TrainError::Interrupted);
        }
    }
    Ok((model, history))
}

fn validate(config: &TrainConfig, train: &Dataset) -> Result<(), TrainError> {
    if train.is_empty() {
        return Err(TrainError::Data(format!(
            "{}: the training set is empty",
            train.name()
        )));
    }
    config.check()
}

impl TrainConfig {
    /// Checks every option against its documented bounds, before any data
    /// is read; each error names the option and its range.
    pub fn check(&self) -> Result<(), TrainError> {
        check_options(self)
    }
}

fn check_options(config: &TrainConfig) -> Result<(), TrainError> {
    let check = |ok: bool, what: &str| {
        if ok {
            Ok(())
        } else {
            Err(TrainError::Config(what.to_string()))
        }
    };
    check(
        config.epochs.is_none_or(|e| (1..=MAX_EPOCHS).contains(&e)),
        &format!("--epochs must be between 1 and {MAX_EPOCHS}"),
    )?;
    check(
        (1..=MAX_BATCH).contains(&config.batch_size),
        &format!("--batch must be between 1 and {MAX_BATCH}"),
    )?;
    check(
        (1..=MAX_THREADS).contains(&config.threads),
        &format!("--threads must be between 1 and {MAX_THREADS}"),
    )?;
    check(
        config
            .learning_rate
            .is_none_or(|r| r.is_finite() && r > 0.0),
        "--lr must be a positive number",
    )?;
    check(
        config
            .weight_decay
            .is_none_or(|w| w.is_finite() && (0.0..=1.0).contains(&w)),
        "--weight-decay must be a number between 0 and 1",
    )?;
    check(
        config
            .momentum
            .is_none_or(|m| m.is_finite() && (0.0..1.0).contains(&m)),
        "--momentum must be a number in [0, 1)",
    )?;
    check(
        config.max_shift.is_none_or(|s| s <= 4),
        "--shift must be between 0 and 4 pixels",
    )?;
    Ok(())
}

#[cfg(test)]
mod tests;
