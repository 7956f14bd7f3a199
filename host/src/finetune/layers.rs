//! Training every layer, step for step as the firmware's `train` program does
//! it: from scratch (the core's initialisation from a seed, the
//! standardisation fitted on the training samples) or from a model's weights.
//!
//! The chip (`firmware/src/bin/train.rs`) holds the whole network in RAM with
//! its gradients and optimiser state, and per epoch:
//!
//! ```text
//! order: tinymlp::Rng::new(seed + 1).shuffle(indices)   one generator for the whole run
//! for each batch of ≤ 16 samples, in that order:
//!     grads = 0; for each sample: Network::train_sample(x, y, grads)
//!     Sgd::step / Adam::step (t = global step + 1), grad scale 1 / batch, constant rate
//! ```
//!
//! The host runs these steps with its own training epoch
//! ([`sharded::epoch`]): a batch of at most [`SHARD`] samples is one shard,
//! whose gradient the batch kernels compute with the bits of `train_sample`
//! called sample by sample (`host/tests/model_shapes.rs`), followed by the
//! same `update_slice` of the same optimiser. A one-cycle schedule whose
//! start, peak and end are one rate is that rate, exactly.

use tinymlp::{Adam, Rng, Sgd};

use crate::data::Dataset;
use crate::model::{Architecture, Model, Net, ScaleMode, Scaling};
use crate::train::{
    sharded, EpochPart, EpochPlan, Inputs, OneCycle, Optimizer, Quiet, Sample, TrainError, SHARD,
};

/// Largest batch: one shard, summed sample by sample in one gradient buffer
/// (what the chip keeps).
pub const MAX_BATCH: usize = SHARD;

/// How an every-layer run steps, besides its data.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EveryLayer {
    /// SGD (with its momentum, Nesterov or not) or Adam, with weight decay.
    pub optimizer: Optimizer,
    /// The learning rate of every step.
    pub learning_rate: f32,
    /// Passes over the training samples.
    pub epochs: usize,
    /// Samples per step, 1 to [`MAX_BATCH`].
    pub batch: usize,
    /// Seed of the initialisation (from scratch) and, plus one, of the order.
    pub seed: u64,
}

impl EveryLayer {
    /// SGD with plain (not Nesterov) `momentum` and `weight_decay`, or Adam
    /// with PyTorch's moments and `weight_decay`.
    pub fn optimizer(adam: bool, momentum: f32, weight_decay: f32) -> Optimizer {
        if adam {
            Optimizer::Adam(Adam {
                weight_decay,
                ..Adam::new(0.0)
            })
        } else {
            Optimizer::Sgd(Sgd {
                momentum,
                weight_decay,
                ..Sgd::new(0.0)
            })
        }
    }

    /// Optimiser steps of the run on `samples` training samples.
    pub fn steps(&self, samples: usize) -> usize {
        samples.div_ceil(self.batch) * self.epochs
    }
}

/// The generator that orders the samples of a run seeded with `seed`.
pub fn order_rng(seed: u64) -> Rng {
    Rng::new(seed.wrapping_add(1))
}

/// What a chip trains from scratch: `arch` initialised from `seed` by the
/// core's `Network::init`, inputs standardised with `train`'s statistics
/// (`tinymlp::accumulate_moments` over the samples in order).
pub fn from_scratch(arch: &Architecture, train: &Dataset, seed: u64) -> Model {
    Model {
        net: Net::initialised(arch, seed),
        scaling: Scaling::fit(train, ScaleMode::Standard),
        classes: train.classes().clone(),
        image: train.shape().image,
    }
}

/// Trains every layer of `model` on `train` as the chip does (see the module
/// docs); returns the mean loss of each epoch (the loss of each sample
/// before its step).
///
/// # Errors
/// If a batch's loss is not finite (the rate is too large).
///
/// # Panics
/// If `run.batch` is not in `1..=MAX_BATCH` or `run.epochs` is 0.
pub fn train_every_layer(
    model: &mut Model,
    train: &Dataset,
    run: &EveryLayer,
) -> Result<Vec<f64>, TrainError> {
    assert!((1..=MAX_BATCH).contains(&run.batch) && run.epochs > 0);
    let mut state = run.optimizer.state(&model.net);
    let mut shards = vec![sharded::Shard::new(&model.net)];
    let steps_per_epoch = train.len().div_ceil(run.batch);
    let constant = OneCycle {
        div: 1.0,
        final_div: 1.0,
        ..OneCycle::new(run.learning_rate, steps_per_epoch * run.epochs)
    };
    let mut rng = order_rng(run.seed);
    let mut order: Vec<usize> = (0..train.len()).collect();
    let mut losses = Vec::with_capacity(run.epochs);
    for epoch in 1..=run.epochs {
        rng.shuffle(&mut order);
        let samples: Vec<Sample> = order
            .iter()
            .map(|&index| Sample {
                index,
                dx: 0,
                dy: 0,
            })
            .collect();
        let plan = EpochPlan {
            epoch,
            samples: &samples,
            inputs: Inputs {
                data: train,
                scaling: &model.scaling,
            },
            batch_size: run.batch,
            schedule: &constant,
            first_step: (epoch - 1) * steps_per_epoch,
            optimizer: run.optimizer,
            peak_rate: run.learning_rate,
            part: EpochPart::whole(samples.len()),
        };
        let on = (&plan, rayon::current_num_threads());
        let sums = sharded::epoch(&mut model.net, &mut state, &mut shards, on, &mut Quiet)?;
        losses.push(sums.loss / train.len().max(1) as f64);
    }
    Ok(losses)
}

/// Magic of the expected-results file of an every-layer run.
pub const EXPECTED_MAGIC_EVERY_LAYER: [u8; 8] = *b"TMLPFT\x02\x00";

/// Flags of the expected-results file.
pub mod flags {
    /// Trained from the core's initialisation, not from a model.
    pub const FROM_SCRATCH: u32 = 1;
    /// Adam (else SGD).
    pub const ADAM: u32 = 2;
    /// Nesterov momentum (SGD).
    pub const NESTEROV: u32 = 4;
}

/// An every-layer run, as its expected-results file records it.
#[derive(Clone, Copy, Debug)]
pub struct EveryLayerRun<'a> {
    /// The network training started from.
    pub before: &'a Model,
    /// The network after training.
    pub after: &'a Model,
    /// How it stepped.
    pub run: &'a EveryLayer,
    /// Whether `before` is the core's initialisation.
    pub from_scratch: bool,
    /// Training samples (the samples file, in file order).
    pub train_samples: usize,
    /// The samples measured before and after.
    pub eval: &'a Dataset,
    /// Mean loss of each epoch.
    pub losses: &'a [f64],
}

/// The file of expected results the firmware's `train` program compares itself
/// with, bit for bit (all little-endian):
///
/// ```text
/// offset 0   8 bytes   magic b"TMLPFT\x02\x00"
/// offset 8   u32       flags: 1 from scratch, 2 Adam, 4 Nesterov
/// offset 12  u32       dense layers L
/// offset 16  u32       parameters P
/// offset 20  u32       training samples N
/// offset 24  u32       evaluation samples M
/// offset 28  u32       epochs E
/// offset 32  u32       batch B
/// offset 36  u32       correct of M before training
/// offset 40  u32       correct of M after
/// offset 44  u64       seed (initialisation; the order uses seed + 1)
/// offset 52  f32 × 5   learning rate, SGD momentum or Adam β1, Adam β2, Adam ε
///                      (0 with SGD), weight decay
/// offset 72  (L+1) × u32     widths, input first
/// then       2 × inputs × f32  the standardisation: means, then 1 / std
/// then       E × f64          mean loss of each epoch
/// then       P × f32          the trained parameters (fc1.weight, fc1.bias, …)
/// then       M records of C × f32 (logits after training) + u32 class
/// ```
///
/// # Errors
/// If the model does not standardise its inputs (the chip trains numeric
/// features only).
pub fn expected_every_layer(r: &EveryLayerRun<'_>) -> Result<Vec<u8>, String> {
    let Scaling::Standardize { mean, inv_std } = &r.after.scaling else {
        return Err("training every layer on the chip needs standardised numeric features".into());
    };
    let f = |v: f32| v.to_bits().to_le_bytes();
    let mut out = header_every_layer(r);
    for &v in mean.iter().chain(inv_std) {
        out.extend_from_slice(&f(v));
    }
    for loss in r.losses {
        out.extend_from_slice(&loss.to_bits().to_le_bytes());
    }
    let net = &r.after.net;
    for &v in net.params() {
        out.extend_from_slice(&f(v));
    }
    let mut x = vec![0.0; r.after.inputs()];
    for i in 0..r.eval.len() {
        r.after.input(r.eval, i, &mut x);
        let logits = net.logits(&x);
        for &l in &logits {
            out.extend_from_slice(&f(l));
        }
        let class = u32::try_from(tinymlp::argmax(&logits)).expect("fits in u32");
        out.extend_from_slice(&class.to_le_bytes());
    }
    Ok(out)
}

/// The header of [`expected_every_layer`], up to the widths.
fn header_every_layer(r: &EveryLayerRun<'_>) -> Vec<u8> {
    let u = |n: usize| u32::try_from(n).expect("fits in u32").to_le_bytes();
    let arch = r.after.net.architecture();
    let (adam, hyper) = match r.run.optimizer {
        Optimizer::Sgd(s) => {
            let nesterov = if s.nesterov { flags::NESTEROV } else { 0 };
            (nesterov, [s.momentum, 0.0, 0.0, s.weight_decay])
        }
        Optimizer::Adam(a) => (flags::ADAM, [a.beta1, a.beta2, a.epsilon, a.weight_decay]),
    };
    let scratch = if r.from_scratch {
        flags::FROM_SCRATCH
    } else {
        0
    };
    let mut out = EXPECTED_MAGIC_EVERY_LAYER.to_vec();
    out.extend_from_slice(&(scratch | adam).to_le_bytes());
    let (c0, c1) = (
        super::correct(r.before, r.eval),
        super::correct(r.after, r.eval),
    );
    let params = r.after.net.params().len();
    for n in [arch.layers(), params, r.train_samples, r.eval.len()] {
        out.extend_from_slice(&u(n));
    }
    for n in [r.run.epochs, r.run.batch, c0, c1] {
        out.extend_from_slice(&u(n));
    }
    out.extend_from_slice(&r.run.seed.to_le_bytes());
    for v in [r.run.learning_rate].iter().chain(&hyper) {
        out.extend_from_slice(&v.to_bits().to_le_bytes());
    }
    for &w in arch.widths() {
        out.extend_from_slice(&u(w));
    }
    out
}

/// Where an every-layer run's network comes from, for [`net_source`].
#[derive(Clone, Copy, Debug)]
pub enum Origin<'a> {
    /// The core's initialisation.
    Scratch,
    /// A checkpoint: its bytes and training seed (for the emitted file's header).
    Checkpoint {
        /// The checkpoint file's bytes.
        bytes: &'a [u8],
        /// The seed it was trained with (0 if unknown).
        seed: u64,
    },
}

/// The Rust source the firmware's `train` program includes
/// (`finetune_net.rs`): the network's type and sizes, and `START`, where
/// training starts. From scratch that is `None` (the chip initialises the
/// network and fits the standardisation itself) and the file holds no
/// weights; else it is the emitted f32 model (`weights.rs`, its `MODEL` in
/// flash) with `START = Some((&MODEL, &SCALING))`.
///
/// # Errors
/// If the model's weights cannot be emitted (a non-finite value).
pub fn net_source(start: &Model, origin: Origin<'_>) -> Result<String, String> {
    let Origin::Checkpoint { bytes, seed } = origin else {
        return Ok(scratch_source(start.net.architecture().widths()));
    };
    let header = crate::export::rust::Header::new(seed, bytes, None);
    let mut source = crate::export::rust::emit_f32(start, &header).map_err(|e| e.to_string())?;
    source.push_str(&format!(
        "/// Where training starts: the weights above, in flash, and their standardisation.\n\
         pub static START: {START_TYPE} = Some((&MODEL, &SCALING));\n"
    ));
    Ok(source)
}

/// The type of `START` in `finetune_net.rs`.
const START_TYPE: &str = "Option<(&Model, &tinymlp::Standardize<INPUTS>)>";

/// `finetune_net.rs` from scratch: the sizes and the type, no weights.
fn scratch_source(widths: &[usize]) -> String {
    let list = widths.iter().map(usize::to_string).collect::<Vec<_>>();
    format!(
        "// @generated by `host finetune --layers all --from-scratch` — do not edit.\n\
         // The {} network the firmware's `train` program builds in RAM.\n\n\
         /// Raw input values per sample.\npub const INPUTS: usize = {};\n\
         /// Number of classes.\npub const CLASSES: usize = {};\n\
         /// Layer widths, input side first.\npub const WIDTHS: [usize; {}] = [{}];\n\
         /// One raw input value, as in the training data.\npub type Raw = f32;\n\
         /// The network type.\npub type Model = {};\n\
         /// Where training starts: nothing (the core's initialisation from the seed,\n\
         /// the standardisation fitted on the training samples).\n\
         pub static START: {START_TYPE} = None;\n",
        crate::export::rust::architecture(widths),
        widths[0],
        widths[widths.len() - 1],
        widths.len(),
        list.join(", "),
        crate::export::rust::chain_type(widths, "Hidden", "Dense"),
    )
}
