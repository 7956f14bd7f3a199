//! What each thread owns for an epoch, how the rows are split between the
//! threads, and how they go back into the network.

use std::ops::Range;
use std::sync::RwLock;

use tinymlp::TensorKind;

use super::sync::Shared;
use super::worker::Grads;
use super::FirstLayer;
use crate::fkernel::sparse::InputMajor;
use crate::fkernel::{self, Floats};
use crate::model::Net;
use crate::train::optimizer::Optimizer;

/// A parameter slice with the matching slices of the optimiser state.
pub(super) struct Owned<'a> {
    pub(super) params: &'a mut [f32],
    pub(super) state: Vec<&'a mut [f32]>,
}

impl Owned<'_> {
    /// Applies the update to the whole slice.
    pub(super) fn update(&mut self, step: Step, kind: TensorKind, grads: &[f32]) {
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
    }
}

/// One optimiser step's parameters.
#[derive(Clone, Copy, Debug)]
pub(super) struct Step {
    pub(super) optimizer: Optimizer,
    pub(super) index: usize,
    pub(super) learning_rate: f32,
    pub(super) scale: f32,
}

/// What one thread owns of one hidden layer for an epoch, besides its
/// weights (which are in [`Shared::weights`]).
pub(super) struct RowPart {
    pub(super) range: Range<usize>,
    /// How the rows' weights and optimiser state are stored: row-major
    /// (`None`), or input-major (the first layer with
    /// [`FirstLayer::InputMajor`]). Their gradient is row-major either way.
    pub(super) layout: Option<InputMajor>,
    pub(super) bias: Vec<f32>,
    pub(super) weights_state: Vec<Floats>,
    pub(super) bias_state: Vec<Vec<f32>>,
}

/// What one thread owns for an epoch: its rows of every hidden layer, and a
/// copy of the output layer.
pub(super) struct Part {
    pub(super) layers: Vec<RowPart>,
    pub(super) output: OutputCopy,
}

/// A thread's copy of the output layer with its optimiser state.
#[derive(Clone)]
pub(super) struct OutputCopy {
    layer: usize,
    pub(super) weights: Vec<f32>,
    pub(super) bias: Vec<f32>,
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

    pub(super) fn update(&mut self, step: Step, grads: &Grads) {
        let mut weights = Owned {
            params: &mut self.weights,
            state: self.weights_state.iter_mut().map(|s| &mut s[..]).collect(),
        };
        weights.update(step, TensorKind::Weight, &grads.weights);
        let mut bias = Owned {
            params: &mut self.bias,
            state: self.bias_state.iter_mut().map(|s| &mut s[..]).collect(),
        };
        bias.update(step, TensorKind::Bias, &grads.bias);
    }
}

/// Splits `0..h` into `parts` consecutive ranges whose sizes are multiples of 4
/// (where possible) and differ by at most 4.
pub(super) fn row_ranges(h: usize, parts: usize) -> Vec<Range<usize>> {
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

/// A copy on a cache line.
fn aligned(values: &[f32]) -> Floats {
    Floats::from_slice(fkernel::CACHE_LINE, values)
}

/// The element range of rows `rows` of a matrix with `width` columns.
fn elements(rows: &Range<usize>, width: usize) -> Range<usize> {
    rows.start * width..rows.end * width
}

/// How a thread keeps its rows `rows` of layer `l` (`inputs` wide).
fn layout(first: FirstLayer, l: usize, rows: &Range<usize>, inputs: usize) -> Option<InputMajor> {
    (l == 0 && first == FirstLayer::InputMajor).then(|| InputMajor::new(rows.len(), inputs))
}

/// The rows `rows` of the row-major matrix `m` (`inputs` wide), stored as
/// `layout` says.
fn own_rows(
    m: &[f32],
    (rows, inputs): (&Range<usize>, usize),
    layout: Option<InputMajor>,
) -> Floats {
    let part = &m[elements(rows, inputs)];
    match layout {
        Some(layout) => layout.from_rows(part),
        None => aligned(part),
    }
}

/// [`own_rows`] back into `m`.
fn put_rows(
    m: &mut [f32],
    (rows, inputs): (&Range<usize>, usize),
    layout: Option<InputMajor>,
    own: &[f32],
) {
    let part = &mut m[elements(rows, inputs)];
    match layout {
        Some(layout) => layout.to_rows(own, part),
        None => part.copy_from_slice(own),
    }
}

/// Every thread's rows of every hidden layer's weights, to share.
pub(super) fn shared_weights(
    net: &Net,
    ranges: &[Vec<Range<usize>>],
    first: FirstLayer,
) -> Vec<Vec<RwLock<Floats>>> {
    let widths = net.architecture().widths();
    ranges
        .iter()
        .enumerate()
        .map(|(l, ranges)| {
            let weights = net.layer(l).weights;
            ranges
                .iter()
                .map(|r| {
                    let layout = layout(first, l, r, widths[l]);
                    RwLock::new(own_rows(weights, (r, widths[l]), layout))
                })
                .collect()
        })
        .collect()
}

/// The parts of `count` threads.
pub(super) fn parts(
    net: &Net,
    state: &[Net],
    (ranges, first): (&[Vec<Range<usize>>], FirstLayer),
    count: usize,
) -> Vec<Part> {
    let widths = net.architecture().widths();
    let output = OutputCopy::of(net, state, ranges.len());
    (0..count)
        .map(|j| Part {
            layers: (0..ranges.len())
                .map(|l| {
                    let r = ranges[l][j].clone();
                    let layout = layout(first, l, &r, widths[l]);
                    RowPart {
                        bias: net.layer(l).bias[r.clone()].to_vec(),
                        weights_state: state
                            .iter()
                            .map(|s| own_rows(s.layer(l).weights, (&r, widths[l]), layout))
                            .collect(),
                        bias_state: state
                            .iter()
                            .map(|s| s.layer(l).bias[r.clone()].to_vec())
                            .collect(),
                        range: r,
                        layout,
                    }
                })
                .collect(),
            output: output.clone(),
        })
        .collect()
}

/// Puts every thread's rows, and thread 0's output layer, back into `net`
/// and `state`.
pub(super) fn write_back(net: &mut Net, state: &mut [Net], shared: &Shared, parts: &[Part]) {
    let widths = net.architecture().widths().to_vec();
    for (j, part) in parts.iter().enumerate() {
        for (l, own) in part.layers.iter().enumerate() {
            let (r, inputs, layout) = (&own.range, widths[l], own.layout);
            let weights = shared.weights[l][j]
                .read()
                .expect("no thread panics holding it");
            let layer = net.layer_mut(l);
            put_rows(layer.weights, (r, inputs), layout, &weights);
            layer.bias[r.clone()].copy_from_slice(&own.bias);
            for (s, (sw, sb)) in state
                .iter_mut()
                .zip(own.weights_state.iter().zip(&own.bias_state))
            {
                let layer = s.layer_mut(l);
                put_rows(layer.weights, (r, inputs), layout, sw);
                layer.bias[r.clone()].copy_from_slice(sb);
            }
        }
    }
    parts[0].output.write_back(net, state);
}
