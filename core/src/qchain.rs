//! Quantised networks of any depth, chained by type like [`Hidden`](crate::Hidden).
//!
//! [`QHidden<IN, H, Next>`](QHidden) is an int8 layer `IN → H` whose `i32`
//! accumulators are requantised to `u8` activations (ReLU folded in), in
//! front of the network `Next`; the chain ends in a [`QOutput`] layer whose
//! accumulators become `f32` logits with one multiply per row. The scheme is
//! described in [`quant`](crate::quant).

use crate::loss::argmax;
use crate::quant::{QDense, QKernel, QPortable, QReference, Requantize};

/// An int8 classifier from `IN` `u8` inputs to `OUT` logits.
pub trait QNetwork<const IN: usize, const OUT: usize> {
    /// Number of layers (hidden layers plus the output layer).
    const LAYERS: usize;

    /// Raw `i32` output accumulators, every layer through `kernel`.
    fn accumulators_with<K: QKernel>(&self, x: &[u8; IN], kernel: &K) -> [i32; OUT];

    /// Logits from the output accumulators: `acc[o] as f32 * scale[o]`.
    fn dequantize(&self, acc: &[i32; OUT]) -> [f32; OUT];

    /// Raw `i32` output accumulators through the fast portable kernels.
    #[inline]
    fn accumulators(&self, x: &[u8; IN]) -> [i32; OUT] {
        self.accumulators_with(x, &QPortable)
    }

    /// Raw `i32` output accumulators through the reference kernels.
    fn accumulators_ref(&self, x: &[u8; IN]) -> [i32; OUT] {
        self.accumulators_with(x, &QReference)
    }

    /// The `f32` logits for `x`.
    fn logits(&self, x: &[u8; IN]) -> [f32; OUT] {
        self.dequantize(&self.accumulators(x))
    }

    /// The most likely class for `x`.
    fn predict(&self, x: &[u8; IN]) -> usize {
        argmax(&self.logits(x))
    }
}

/// The output layer of a quantised network: accumulators, then `f32` logits.
///
/// ```
/// use tinymlp::{QDense, QHidden, QNetwork, QOutput, Requantize};
/// // hidden = relu(x0 - x1) at scale 1 (multiplier 2^30 with shift 30), logit = ±0.5·hidden.
/// static NET: QHidden<2, 1, QOutput<1, 2>> = QHidden::new(
///     QDense::new([[1, -1]], [0]),
///     Requantize::new([1 << 30], [30]),
///     QOutput::new(QDense::new([[1], [-1]], [0, 0]), [0.5, 0.5]),
/// );
/// assert_eq!(NET.accumulators(&[200, 50]), [150, -150]);
/// assert_eq!(NET.logits(&[200, 50]), [75.0, -75.0]);
/// assert_eq!(NET.predict(&[10, 50]), 0); // hidden clamps to 0: a tie, first class wins
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
#[repr(C)]
pub struct QOutput<const IN: usize, const OUT: usize> {
    /// The layer's int8 weights and `i32` biases.
    pub layer: QDense<IN, OUT>,
    /// Logit of row `o` is `acc[o] as f32 * scale[o]`.
    pub scale: [f32; OUT],
}

impl<const IN: usize, const OUT: usize> QOutput<IN, OUT> {
    /// An output layer from its parts.
    pub const fn new(layer: QDense<IN, OUT>, scale: [f32; OUT]) -> Self {
        Self { layer, scale }
    }
}

impl<const IN: usize, const OUT: usize> QNetwork<IN, OUT> for QOutput<IN, OUT> {
    const LAYERS: usize = 1;

    #[inline]
    fn accumulators_with<K: QKernel>(&self, x: &[u8; IN], kernel: &K) -> [i32; OUT] {
        kernel.accumulate(&self.layer, x)
    }

    fn dequantize(&self, acc: &[i32; OUT]) -> [f32; OUT] {
        core::array::from_fn(|o| acc[o] as f32 * self.scale[o])
    }
}

/// An int8 ReLU layer `IN → H` in front of the quantised network `Next`.
#[derive(Clone, Copy, Debug, PartialEq)]
#[repr(C)]
pub struct QHidden<const IN: usize, const H: usize, Next> {
    /// The layer `IN → H`.
    pub layer: QDense<IN, H>,
    /// Its accumulators → `u8` activations (ReLU folded in).
    pub requant: Requantize<H>,
    /// The rest of the network, from `H` inputs.
    pub next: Next,
}

impl<const IN: usize, const H: usize, Next> QHidden<IN, H, Next> {
    /// A network from its first layer, that layer's requantisation and the rest.
    pub const fn new(layer: QDense<IN, H>, requant: Requantize<H>, next: Next) -> Self {
        Self {
            layer,
            requant,
            next,
        }
    }

    /// The `u8` activations of the first layer for `x`.
    #[inline]
    pub fn activations(&self, x: &[u8; IN]) -> [u8; H] {
        self.requant.apply(&self.layer.accumulate(x))
    }
}

/// int8 counterpart of [`Mlp`](crate::Mlp).
pub type QMlp<const IN: usize, const HIDDEN: usize, const OUT: usize> =
    QHidden<IN, HIDDEN, QOutput<HIDDEN, OUT>>;

impl<const IN: usize, const H: usize, const OUT: usize, Next> QNetwork<IN, OUT>
    for QHidden<IN, H, Next>
where
    Next: QNetwork<H, OUT>,
{
    const LAYERS: usize = 1 + Next::LAYERS;

    #[inline]
    fn accumulators_with<K: QKernel>(&self, x: &[u8; IN], kernel: &K) -> [i32; OUT] {
        let h = self.requant.apply(&kernel.accumulate(&self.layer, x));
        self.next.accumulators_with(&h, kernel)
    }

    fn dequantize(&self, acc: &[i32; OUT]) -> [f32; OUT] {
        self.next.dequantize(acc)
    }
}
