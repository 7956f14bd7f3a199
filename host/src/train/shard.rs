//! Forward and backward of one shard of samples through a [`Net`] of any
//! depth, with `tinymlp`'s batch kernels (the forward product and the
//! rank-k gradient and the transposed product through [`FFast`], which
//! gives the same bits faster).
//!
//! The gradients added into `grads` are bit-identical to calling
//! `tinymlp::Network::train_sample` on the samples one by one, in order, with
//! the const-generic chain of the same widths (see `tinymlp::batch`; checked
//! in `host/tests/model/shapes.rs`).

use std::ops::Range;
use tinymlp::activation::relu_backward;

use tinymlp::batch::Rows;
use tinymlp::{argmax, BatchLogits};

use crate::fkernel::{self, FFast, Floats};
use crate::model::Net;

/// Per-layer activations and their gradients for up to `capacity` samples.
#[derive(Clone, Debug)]
pub struct ShardScratch {
    /// Output of layer `l` for each sample (after ReLU for hidden layers; the logits last).
    acts: Vec<Floats>,
    /// Gradient of the loss with respect to layer `l`'s pre-activations.
    deltas: Vec<Floats>,
    /// One layer's bias gradient, when it is added rather than written.
    bias: Vec<f32>,
    capacity: usize,
}

/// Loss and correct predictions of one shard.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ShardOutcome {
    /// Sum of the samples' losses, added in sample order from 0 in `f32`.
    pub loss: f32,
    /// Samples whose prediction (before the update) was right.
    pub correct: usize,
}

impl ShardScratch {
    /// Buffers for `net`'s shape and up to `capacity` samples.
    pub fn new(net: &Net, capacity: usize) -> Self {
        let widths = &net.architecture().widths()[1..];
        let buffers = || {
            widths
                .iter()
                .map(|&w| fkernel::zeros(w * capacity))
                .collect()
        };
        Self {
            acts: buffers(),
            deltas: buffers(),
            bias: Vec::with_capacity(widths.iter().copied().max().unwrap_or(0)),
            capacity,
        }
    }

    /// The logits of the last shard, sample after sample.
    pub fn logits(&self) -> &[f32] {
        self.acts.last().expect("at least one layer")
    }

    /// Every layer's outputs, for a forward pass that forms the first
    /// layer's itself (`train::predict`).
    pub(crate) fn acts_mut(&mut self) -> &mut [Floats] {
        &mut self.acts
    }
}

/// How [`train_shard_into`] combines a shard's gradient into the buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Combine {
    /// Written: what the buffer held does not matter.
    Write,
    /// Summed from zero, then added element by element to what the buffer
    /// holds: the bits of writing it to a buffer of its own and adding that
    /// one, as the sharded epoch adds its shards' buffers in order.
    Add,
}

impl Combine {
    /// The first shard of a batch writes its gradient, the later ones add theirs.
    pub fn for_shard(index: usize) -> Self {
        if index == 0 {
            Combine::Write
        } else {
            Combine::Add
        }
    }
}

/// Forward and backward for `labels.len()` samples whose inputs are the rows
/// of `xs`, *writing* their gradient, summed sample by sample from zero, into
/// `grads` (what it held does not matter: no buffer needs clearing between steps).
///
/// # Panics
/// If there are more samples than the scratch holds, or a label is not a class.
pub fn train_shard(
    net: &Net,
    xs: Rows<'_>,
    labels: &[u16],
    scratch: &mut ShardScratch,
    grads: &mut Net,
) -> ShardOutcome {
    train_shard_into(net, xs, labels, scratch, (grads, Combine::Write))
}

/// [`train_shard`], with the gradient written to `grads` or added to it.
///
/// # Panics
/// If there are more samples than the scratch holds, or a label is not a class.
pub fn train_shard_into(
    net: &Net,
    xs: Rows<'_>,
    labels: &[u16],
    scratch: &mut ShardScratch,
    (grads, into): (&mut Net, Combine),
) -> ShardOutcome {
    let (n, fast) = (labels.len(), FFast::detect());
    assert_eq!(xs.len(), n, "one label per sample");
    forward_shard(net, xs, scratch);
    let widths = net.architecture().widths();
    let layers = widths.len() - 1;
    let outcome = loss_and_grad(fast, scratch, labels, widths[layers]);
    for l in (0..layers).rev() {
        let (inputs, outputs) = (widths[l], widths[l + 1]);
        let dys = Rows::new(&scratch.deltas[l][..n * outputs], outputs);
        let input = if l == 0 {
            xs
        } else {
            Rows::new(&scratch.acts[l - 1][..n * inputs], inputs)
        };
        let g = grads.layer_mut(l);
        let rows = (0..outputs, dys, input);
        combine_gradient(fast, (g.weights, g.bias), rows, into, &mut scratch.bias);
        if l > 0 {
            let (lower, upper) = scratch.deltas.split_at_mut(l);
            let dys = Rows::new(&upper[0][..n * outputs], outputs);
            let dxs = &mut lower[l - 1][..n * inputs];
            fast.matvec_t_batch(net.layer(l).weights, dys, dxs, inputs);
            relu_backward(&scratch.acts[l - 1][..n * inputs], dxs);
        }
    }
    outcome
}

/// One shard's gradient of the rows `rows` of a layer — `dys` holds every
/// row's deltas, `xs` the layer's inputs — put into that layer's `weights`
/// (`rows.len()` × inputs) and `bias` as `combine` says: the weights summed
/// sample by sample and the bias in sample order, both from zero, then
/// written or added element by element. `sum` is scratch for the bias.
pub(crate) fn combine_gradient(
    fast: FFast,
    (weights, bias): (&mut [f32], &mut [f32]),
    (rows, dys, xs): (Range<usize>, Rows<'_>, Rows<'_>),
    combine: Combine,
    sum: &mut Vec<f32>,
) {
    match combine {
        Combine::Write => fast.set_rank_k_rows(weights, rows.start, dys, xs),
        Combine::Add => fast.add_rank_k_sum_rows(weights, rows.start, dys, xs),
    }
    combine_bias(bias, (rows, dys), combine, sum);
}

/// The bias part of [`combine_gradient`] alone: one shard's deltas of the
/// rows `rows` summed in sample order from zero, then written to `bias` or
/// added to it as `combine` says. `sum` is scratch.
pub(crate) fn combine_bias(
    bias: &mut [f32],
    (rows, dys): (Range<usize>, Rows<'_>),
    combine: Combine,
    sum: &mut Vec<f32>,
) {
    let target = match combine {
        Combine::Write => &mut *bias,
        Combine::Add => {
            sum.clear();
            sum.resize(rows.len(), 0.0);
            &mut sum[..]
        }
    };
    target.fill(0.0);
    for s in 0..dys.len() {
        for (b, d) in target.iter_mut().zip(&dys.get(s)[rows.clone()]) {
            *b += d;
        }
    }
    if combine == Combine::Add {
        bias.iter_mut().zip(sum.iter()).for_each(|(b, s)| *b += s);
    }
}

/// The forward pass of the samples `xs` (at most the scratch's capacity);
/// the logits are then the first `xs.len()` rows of [`ShardScratch::logits`].
/// Bit-identical to `Net::logits` of each sample.
///
/// # Panics
/// If there are more samples than the scratch holds.
pub fn forward_shard(net: &Net, xs: Rows<'_>, scratch: &mut ShardScratch) {
    let n = xs.len();
    assert!(n <= scratch.capacity, "shard of {n} samples");
    net.forward_batch(xs, &mut scratch.acts);
}

/// Softmax cross-entropy of every sample: the loss, the prediction and the
/// gradient of the logits.
fn loss_and_grad(
    fast: FFast,
    scratch: &mut ShardScratch,
    labels: &[u16],
    classes: usize,
) -> ShardOutcome {
    let logits = scratch.acts.last().expect("at least one layer");
    let d_logits = scratch.deltas.last_mut().expect("at least one layer");
    let mut outcome = ShardOutcome {
        loss: 0.0,
        correct: 0,
    };
    let logits = &logits[..labels.len() * classes];
    for (z, &label) in logits.chunks_exact(classes).zip(labels) {
        outcome.correct += usize::from(argmax(z) == usize::from(label));
    }
    let samples = BatchLogits {
        logits,
        classes,
        targets: |s| usize::from(labels[s]),
    };
    let d_logits = &mut d_logits[..logits.len()];
    fast.cross_entropy_grads(samples, d_logits, |_, loss| outcome.loss += loss);
    outcome
}
