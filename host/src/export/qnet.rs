//! [`QNet`]: the int8 network of any depth at run time, as the emitted
//! const-generic `QHidden … QOutput` chain computes it (the same `tinymlp`
//! integer arithmetic; integer sums are exact, so the [`QFast`] path the CPU
//! picks never changes a bit). [`quantize`](super::quantize) makes one.

use tinymlp::quant::requantize_u8;
use tinymlp::quantize_input;

use crate::data::Dataset;
use crate::qkernel::QFast;

/// How raw values become the `u8` input of a [`QNet`].
#[derive(Clone, Debug, PartialEq)]
pub enum QInput {
    /// `u8` pixels, consumed as they are (scale `1/255`).
    Pixels,
    /// `tinymlp::QuantizeInput`: standardise, then quantise with zero point 128.
    Quantize {
        /// Per-feature mean (zeros for a model without scaling).
        mean: Vec<f32>,
        /// Per-feature `1 / std` (ones for a model without scaling).
        inv_std: Vec<f32>,
        /// Quantisation steps per standardised unit.
        inv_scale: f32,
    },
}

/// What follows a layer's `i32` accumulators.
#[derive(Clone, Debug, PartialEq)]
pub enum Rescale {
    /// A hidden layer: `u8 = requantize_u8(acc, multiplier[o], shift[o])`.
    Requantize {
        /// Fixed-point multipliers, one per row.
        multiplier: Vec<i32>,
        /// Right shifts, one per row.
        shift: Vec<u8>,
    },
    /// The output layer: `logit = acc as f32 · scale[o]`.
    Output {
        /// One per row.
        scale: Vec<f32>,
    },
}

/// One quantised dense layer.
#[derive(Clone, Debug, PartialEq)]
pub struct QLayer {
    /// Row-major `[outputs][inputs]`.
    pub weights: Vec<i8>,
    /// At the accumulator scale, one per row (zero point already folded in).
    pub bias: Vec<i32>,
    /// Inputs of the layer.
    pub inputs: usize,
    /// Requantisation (hidden) or output scales.
    pub rescale: Rescale,
}

impl QLayer {
    /// Outputs of the layer.
    pub fn outputs(&self) -> usize {
        self.bias.len()
    }

    /// `acc[o] = bias[o] + Σ W[o][i]·x[i]` (wrapping `i32`, as `QDense`),
    /// through `kernel`.
    pub fn accumulate(&self, x: &[u8], kernel: QFast) -> Vec<i32> {
        assert_eq!(x.len(), self.inputs, "layer input width");
        let mut acc = self.bias.clone();
        kernel.accumulate(&self.weights, x, &mut acc);
        acc
    }
}

/// A quantised network whose shape is a run-time value.
#[derive(Clone, Debug, PartialEq)]
pub struct QNet {
    /// Raw values → `u8` input.
    pub input: QInput,
    /// The layers, input side first; the last one has [`Rescale::Output`].
    pub layers: Vec<QLayer>,
}

impl QNet {
    /// Number of raw input values.
    pub fn inputs(&self) -> usize {
        self.layers[0].inputs
    }

    /// Number of classes.
    pub fn classes(&self) -> usize {
        self.layers.last().expect("at least one layer").outputs()
    }

    /// Layer widths, `inputs → hidden… → classes`.
    pub fn widths(&self) -> Vec<usize> {
        std::iter::once(self.inputs())
            .chain(self.layers.iter().map(QLayer::outputs))
            .collect()
    }

    /// The `u8` network input for raw values (pixels as `p as f32`), as the
    /// emitted `input(raw)` computes it.
    ///
    /// # Panics
    /// If `raw.len()` is not [`inputs`](Self::inputs).
    pub fn input(&self, raw: &[f32]) -> Vec<u8> {
        assert_eq!(raw.len(), self.inputs(), "input width");
        match &self.input {
            QInput::Pixels => raw.iter().map(|&p| p as u8).collect(),
            QInput::Quantize {
                mean,
                inv_std,
                inv_scale,
            } => {
                let mut x = vec![0.0; raw.len()];
                tinymlp::standardize(raw, mean, inv_std, &mut x);
                x.iter().map(|&v| quantize_input(v, *inv_scale)).collect()
            }
        }
    }

    /// The `u8` input of sample `i` of `data`.
    pub fn input_of(&self, data: &Dataset, i: usize) -> Vec<u8> {
        match (&self.input, data.pixels(i)) {
            (QInput::Pixels, Some(pixels)) => pixels.to_vec(),
            _ => {
                let mut raw = vec![0.0; data.features()];
                data.raw_f32(i, &mut raw);
                self.input(&raw)
            }
        }
    }

    /// The output accumulators for a `u8` input, as `QNetwork::accumulators`,
    /// through the fastest kernel of this CPU ([`QFast::detect`]).
    pub fn accumulators_u8(&self, x: &[u8]) -> Vec<i32> {
        self.accumulators_u8_with(x, QFast::detect())
    }

    /// [`accumulators_u8`](Self::accumulators_u8) through `kernel`.
    pub fn accumulators_u8_with(&self, x: &[u8], kernel: QFast) -> Vec<i32> {
        let mut current = x.to_vec();
        for layer in &self.layers {
            let acc = layer.accumulate(&current, kernel);
            match &layer.rescale {
                Rescale::Requantize { multiplier, shift } => {
                    current = acc
                        .iter()
                        .zip(multiplier.iter().zip(shift))
                        .map(|(&a, (&m, &s))| requantize_u8(a, m, s))
                        .collect();
                }
                Rescale::Output { .. } => return acc,
            }
        }
        unreachable!("the last layer is an output layer")
    }

    /// The output accumulators for raw values: what the emitted
    /// `accumulators(raw)` returns.
    pub fn accumulators(&self, raw: &[f32]) -> Vec<i32> {
        self.accumulators_u8(&self.input(raw))
    }

    /// Logits from output accumulators: `acc[o] as f32 · scale[o]`.
    pub fn dequantize(&self, acc: &[i32]) -> Vec<f32> {
        let Some(Rescale::Output { scale }) = self.layers.last().map(|l| &l.rescale) else {
            unreachable!("the last layer is an output layer")
        };
        acc.iter().zip(scale).map(|(&a, &s)| a as f32 * s).collect()
    }

    /// The logits for raw values.
    pub fn logits(&self, raw: &[f32]) -> Vec<f32> {
        self.dequantize(&self.accumulators(raw))
    }

    /// The class for raw values (first on ties), as the emitted `classify`.
    pub fn predict(&self, raw: &[f32]) -> usize {
        tinymlp::argmax(&self.logits(raw))
    }

    /// The class of sample `i` of `data`.
    pub fn predict_sample(&self, data: &Dataset, i: usize) -> usize {
        tinymlp::argmax(&self.dequantize(&self.accumulators_u8(&self.input_of(data, i))))
    }
}
