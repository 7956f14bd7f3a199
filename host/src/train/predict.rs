//! Every sample of a data set classified by a [`Model`]: in parallel on the
//! current rayon pool, [`SHARD`] samples at a time through the batch
//! kernels, the bits of `Net::logits` per sample. The trainer measures the
//! test accuracy this way after every epoch, and `eval` and `predict --data`
//! run it on whole files.
//!
//! # The first layer over the chunks that are not zero
//!
//! When the inputs are mostly zero (MNIST's background: the first samples'
//! chunks of eight inputs at most half non-zero, the trainer's own rule) on
//! a CPU with the sparse kernels, the first layer is copied input-major once
//! per call and its product formed over only each sample's non-zero chunks
//! (`fkernel::sparse`, whose bits are those of the dense product). That
//! layer is nearly all of the work: MNIST's 10,000 test images take 9–10 ms
//! on two threads with the dense product.

use rayon::prelude::*;
use tinymlp::batch::Rows;

use super::shard::{self, ShardScratch};
use super::SHARD;
use crate::data::Dataset;
use crate::fkernel::sparse::{Chunks, InputMajor, NonZeroChunks};
use crate::fkernel::{self, FFast, Floats};
use crate::model::Model;

/// Samples a data set needs for the input-major copy of the first layer
/// (and the probe of its zeros) to be worth making.
const SPARSE_MIN_SAMPLES: usize = 256;

/// Samples whose zeros decide whether the first layer runs sparse.
const SPARSITY_PROBE: usize = 64;

/// Predicted class of every sample of `data`.
pub fn predictions(model: &Model, data: &Dataset) -> Vec<usize> {
    predictions_with_check(model, data).0
}

/// [`predictions`], or the first sample whose logits are not all finite
/// (a model with weights so large that valid input overflows): `eval`
/// reports that instead of an accuracy.
pub fn checked_predictions(model: &Model, data: &Dataset) -> Result<Vec<usize>, usize> {
    match predictions_with_check(model, data) {
        (predicted, None) => Ok(predicted),
        (_, Some(sample)) => Err(sample),
    }
}

/// Fraction of `data` that `model` classifies right (0 for an empty set).
pub fn accuracy(model: &Model, data: &Dataset) -> f64 {
    if data.is_empty() {
        return 0.0;
    }
    let predicted = predictions(model, data);
    let correct = predicted
        .iter()
        .zip(data.labels())
        .filter(|(&p, &l)| p == usize::from(l))
        .count();
    correct as f64 / data.len() as f64
}

fn predictions_with_check(model: &Model, data: &Dataset) -> (Vec<usize>, Option<usize>) {
    let (width, fast) = (model.inputs(), FFast::detect());
    let classes = model.net.architecture().classes();
    let sparse = SparseFirst::choose(model, data, fast);
    let starts: Vec<usize> = (0..data.len()).step_by(SHARD).collect();
    let chunks: Vec<(Vec<usize>, Option<usize>)> = starts
        .into_par_iter()
        .map_init(
            || Shard {
                xs: vec![0.0; SHARD * width],
                lists: NonZeroChunks::with(fast),
                scratch: ShardScratch::new(&model.net, SHARD),
            },
            |shard, start| {
                let n = SHARD.min(data.len() - start);
                for (i, x) in (start..start + n).zip(shard.xs.chunks_exact_mut(width)) {
                    model.input(data, i, x);
                }
                let logits = shard.forward(model, sparse.as_ref(), (n, fast));
                let logits = &logits[..n * classes];
                let bad = logits
                    .chunks_exact(classes)
                    .position(|l| !l.iter().all(|v| v.is_finite()))
                    .map(|i| start + i);
                (
                    logits.chunks_exact(classes).map(tinymlp::argmax).collect(),
                    bad,
                )
            },
        )
        .collect();
    let bad = chunks.iter().find_map(|(_, bad)| *bad);
    (chunks.into_iter().flat_map(|(p, _)| p).collect(), bad)
}

/// A thread's buffers: one shard's inputs, their non-zero chunks, and every
/// layer's outputs.
struct Shard {
    xs: Vec<f32>,
    lists: NonZeroChunks,
    scratch: ShardScratch,
}

impl Shard {
    /// The logits of the first `n` samples of `xs`, sample after sample.
    fn forward(
        &mut self,
        model: &Model,
        sparse: Option<&SparseFirst>,
        (n, fast): (usize, FFast),
    ) -> &[f32] {
        let net = &model.net;
        let xs = Rows::new(&self.xs[..n * model.inputs()], model.inputs());
        match sparse {
            None => shard::forward_shard(net, xs, &mut self.scratch),
            Some(first) => {
                self.lists.clear();
                self.lists.extend(xs);
                let chunks = match first.finite {
                    true => Chunks::Listed(&self.lists, 0),
                    false => Chunks::All,
                };
                let rows = first.layout.rows;
                let acts = self.scratch.acts_mut();
                let out = &mut acts[0][..n * rows];
                let weights = (&first.weights[..], first.layout);
                let bias = net.layer(0).bias;
                fast.forward_input_major(weights, bias, 0, (xs, chunks), (out, rows));
                net.forward_batch_from(1, xs, acts);
            }
        }
        self.scratch.logits()
    }
}

/// The first layer's weights input-major (`fkernel::sparse`), and whether
/// they are all finite (else every chunk is read).
struct SparseFirst {
    weights: Floats,
    layout: InputMajor,
    finite: bool,
}

impl SparseFirst {
    /// The copy, when the path has the sparse kernels, `data` is large
    /// enough and its first samples' inputs are mostly zero, and the first
    /// layer is a hidden one.
    fn choose(model: &Model, data: &Dataset, fast: FFast) -> Option<Self> {
        let widths = model.net.architecture().widths();
        if !fast.path().has_sparse_kernels() || data.len() < SPARSE_MIN_SAMPLES || widths.len() < 3
        {
            return None;
        }
        let inputs = widths[0];
        let mut x = vec![0.0; inputs];
        let mut lists = NonZeroChunks::with(fast);
        for i in 0..SPARSITY_PROBE.min(data.len()) {
            model.input(data, i, &mut x);
            lists.push(&x);
        }
        if lists.density(inputs) > 0.5 {
            return None;
        }
        let layout = InputMajor::new(widths[1], inputs);
        let mut weights = fkernel::zeros(layout.len());
        let finite = fast.to_input_major(model.net.layer(0).weights, (&mut weights, layout));
        Some(Self {
            weights,
            layout,
            finite,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::data::{load, Classes, DataOptions, Role};
    use crate::model::{Architecture, Net, Scaling};

    fn mnist_test(n: usize) -> Dataset {
        let dir = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../data"));
        let data = load(
            &dir.join("t10k-images-idx3-ubyte.gz"),
            &DataOptions::default(),
            Role::Test,
        );
        data.unwrap().take(n)
    }

    /// A 784-40-24-10 model (rows not a multiple of sixteen).
    fn model() -> Model {
        let arch = Architecture::from_widths(vec![784, 40, 24, 10]).unwrap();
        Model {
            net: Net::initialised(&arch, 3),
            scaling: Scaling::Pixels,
            classes: Classes::numeric(10),
            image: Some((28, 28)),
        }
    }

    /// Every shard's logits, by bits, the first layer dense or sparse.
    fn logits(model: &Model, data: &Dataset, sparse: Option<&SparseFirst>) -> Vec<u32> {
        let (width, fast) = (model.inputs(), FFast::detect());
        let mut shard = Shard {
            xs: vec![0.0; SHARD * width],
            lists: NonZeroChunks::with(fast),
            scratch: ShardScratch::new(&model.net, SHARD),
        };
        let mut bits = Vec::new();
        for start in (0..data.len()).step_by(SHARD) {
            let n = SHARD.min(data.len() - start);
            for (i, x) in (start..start + n).zip(shard.xs.chunks_exact_mut(width)) {
                model.input(data, i, x);
            }
            let logits = shard.forward(model, sparse, (n, fast));
            bits.extend(logits[..n * 10].iter().map(|v| v.to_bits()));
        }
        bits
    }

    #[test]
    fn the_sparse_first_layer_gives_the_logits_of_the_dense_one() {
        let data = mnist_test(300);
        let mut model = model();
        let fast = FFast::detect();
        let Some(sparse) = SparseFirst::choose(&model, &data, fast) else {
            assert!(!fast.path().has_sparse_kernels(), "MNIST is mostly zero");
            return;
        };
        assert!(sparse.finite);
        assert_eq!(
            logits(&model, &data, Some(&sparse)),
            logits(&model, &data, None)
        );
        // An infinite weight: every chunk is read, and the NaNs and
        // infinities are those of the dense product.
        model.net.layer_mut(0).weights[5 * 784 + 3] = f32::INFINITY;
        let sparse = SparseFirst::choose(&model, &data, fast).unwrap();
        assert!(!sparse.finite);
        assert_eq!(
            logits(&model, &data, Some(&sparse)),
            logits(&model, &data, None)
        );
        // Too few samples for the copy to pay: the dense product.
        assert!(SparseFirst::choose(&model, &data.take(100), fast).is_none());
    }

    #[test]
    fn predictions_are_those_of_each_sample_alone() {
        let data = mnist_test(300);
        let model = model();
        let mut x = vec![0.0; 784];
        let alone: Vec<usize> = (0..data.len())
            .map(|i| {
                model.input(&data, i, &mut x);
                model.net.predict(&x)
            })
            .collect();
        assert_eq!(predictions(&model, &data), alone);
    }
}
