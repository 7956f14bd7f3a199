//! Multi-layer perceptrons with one and two hidden ReLU layers.

use crate::activation::{relu, relu_backward};
use crate::dense::Dense;
use crate::loss::cross_entropy_grad;
use crate::network::Network;
use crate::params::{Parameters, TensorInfo};
use crate::rng::Rng;

/// Delegates tensor `i` of a network to its layers, in order.
macro_rules! layer_tensors {
    ($self:ident, $i:ident, $method:ident, [$($layer:ident),+]) => {{
        let mut index = $i;
        $(
            if index < 2 {
                return $self.$layer.$method(index);
            }
            index -= 2;
        )+
        panic!("tensor index {} out of range", index)
    }};
}

fn named(layer_names: &[[&'static str; 2]], i: usize, info: TensorInfo) -> TensorInfo {
    TensorInfo {
        name: layer_names[i / 2][i % 2],
        ..info
    }
}

/// `IN → HIDDEN (ReLU) → OUT` classifier, e.g. `Mlp<784, 64, 10>` for MNIST.
///
/// ```
/// use tinymlp::{Mlp, Network, Rng};
/// let mut net = Mlp::<4, 8, 3>::zeroed();
/// net.init(&mut Rng::new(1));
/// let class = net.predict(&[0.1, 0.2, 0.3, 0.4]);
/// assert!(class < 3);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "bytemuck", derive(bytemuck::Zeroable))]
#[repr(C)]
pub struct Mlp<const IN: usize, const HIDDEN: usize, const OUT: usize> {
    /// Input → hidden layer (followed by ReLU).
    pub hidden: Dense<IN, HIDDEN>,
    /// Hidden → logits layer.
    pub output: Dense<HIDDEN, OUT>,
}

impl<const IN: usize, const HIDDEN: usize, const OUT: usize> Mlp<IN, HIDDEN, OUT> {
    /// A network from its two layers.
    pub const fn new(hidden: Dense<IN, HIDDEN>, output: Dense<HIDDEN, OUT>) -> Self {
        Self { hidden, output }
    }

    /// All parameters zero; also the starting value of gradients and momentum.
    pub const fn zeroed() -> Self {
        Self {
            hidden: Dense::zeroed(),
            output: Dense::zeroed(),
        }
    }
}

/// Activations of an [`Mlp`] kept between forward and backward.
#[derive(Clone, Debug, PartialEq)]
pub struct MlpScratch<const HIDDEN: usize, const OUT: usize> {
    /// Hidden activations after ReLU.
    pub hidden: [f32; HIDDEN],
    /// Output logits.
    pub logits: [f32; OUT],
    /// Gradient of the loss with respect to the logits.
    pub d_logits: [f32; OUT],
    /// Gradient of the loss with respect to the hidden pre-activations.
    pub d_hidden: [f32; HIDDEN],
}

impl<const HIDDEN: usize, const OUT: usize> Default for MlpScratch<HIDDEN, OUT> {
    fn default() -> Self {
        Self {
            hidden: [0.0; HIDDEN],
            logits: [0.0; OUT],
            d_logits: [0.0; OUT],
            d_hidden: [0.0; HIDDEN],
        }
    }
}

impl<const IN: usize, const HIDDEN: usize, const OUT: usize> Network<IN, OUT>
    for Mlp<IN, HIDDEN, OUT>
{
    type Scratch = MlpScratch<HIDDEN, OUT>;

    fn init(&mut self, rng: &mut Rng) {
        self.hidden.init_he(rng);
        self.output.init_xavier(rng);
    }

    fn forward<'s>(&self, x: &[f32; IN], s: &'s mut Self::Scratch) -> &'s [f32; OUT] {
        self.hidden.forward(x, &mut s.hidden);
        relu(&mut s.hidden);
        self.output.forward(&s.hidden, &mut s.logits);
        &s.logits
    }

    fn backward(
        &self,
        x: &[f32; IN],
        target: usize,
        s: &mut Self::Scratch,
        grads: &mut Self,
    ) -> f32 {
        let loss = cross_entropy_grad(&s.logits, target, &mut s.d_logits);
        self.output
            .accumulate_gradients(&s.hidden, &s.d_logits, &mut grads.output);
        self.output.backward_input(&s.d_logits, &mut s.d_hidden);
        relu_backward(&s.hidden, &mut s.d_hidden);
        self.hidden
            .accumulate_gradients(x, &s.d_hidden, &mut grads.hidden);
        loss
    }
}

impl<const IN: usize, const HIDDEN: usize, const OUT: usize> Parameters for Mlp<IN, HIDDEN, OUT> {
    const TENSORS: usize = 4;

    fn tensor_info(i: usize) -> TensorInfo {
        let info = if i < 2 {
            Dense::<IN, HIDDEN>::tensor_info(i)
        } else {
            Dense::<HIDDEN, OUT>::tensor_info(i - 2)
        };
        named(
            &[["fc1.weight", "fc1.bias"], ["fc2.weight", "fc2.bias"]],
            i,
            info,
        )
    }

    fn tensor(&self, i: usize) -> &[f32] {
        layer_tensors!(self, i, tensor, [hidden, output])
    }

    fn tensor_mut(&mut self, i: usize) -> &mut [f32] {
        layer_tensors!(self, i, tensor_mut, [hidden, output])
    }
}

/// `IN → H1 (ReLU) → H2 (ReLU) → OUT` classifier, e.g. `Mlp2<784, 256, 128, 10>`.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "bytemuck", derive(bytemuck::Zeroable))]
#[repr(C)]
pub struct Mlp2<const IN: usize, const H1: usize, const H2: usize, const OUT: usize> {
    /// Input → first hidden layer (followed by ReLU).
    pub hidden1: Dense<IN, H1>,
    /// First → second hidden layer (followed by ReLU).
    pub hidden2: Dense<H1, H2>,
    /// Second hidden → logits layer.
    pub output: Dense<H2, OUT>,
}

impl<const IN: usize, const H1: usize, const H2: usize, const OUT: usize> Mlp2<IN, H1, H2, OUT> {
    /// A network from its three layers.
    pub const fn new(
        hidden1: Dense<IN, H1>,
        hidden2: Dense<H1, H2>,
        output: Dense<H2, OUT>,
    ) -> Self {
        Self {
            hidden1,
            hidden2,
            output,
        }
    }

    /// All parameters zero; also the starting value of gradients and momentum.
    pub const fn zeroed() -> Self {
        Self {
            hidden1: Dense::zeroed(),
            hidden2: Dense::zeroed(),
            output: Dense::zeroed(),
        }
    }
}

/// Activations of an [`Mlp2`] kept between forward and backward.
#[derive(Clone, Debug, PartialEq)]
pub struct Mlp2Scratch<const H1: usize, const H2: usize, const OUT: usize> {
    /// First hidden activations after ReLU.
    pub hidden1: [f32; H1],
    /// Second hidden activations after ReLU.
    pub hidden2: [f32; H2],
    /// Output logits.
    pub logits: [f32; OUT],
    /// Gradient of the loss with respect to the logits.
    pub d_logits: [f32; OUT],
    /// Gradient with respect to the second hidden pre-activations.
    pub d_hidden2: [f32; H2],
    /// Gradient with respect to the first hidden pre-activations.
    pub d_hidden1: [f32; H1],
}

impl<const H1: usize, const H2: usize, const OUT: usize> Default for Mlp2Scratch<H1, H2, OUT> {
    fn default() -> Self {
        Self {
            hidden1: [0.0; H1],
            hidden2: [0.0; H2],
            logits: [0.0; OUT],
            d_logits: [0.0; OUT],
            d_hidden2: [0.0; H2],
            d_hidden1: [0.0; H1],
        }
    }
}

impl<const IN: usize, const H1: usize, const H2: usize, const OUT: usize> Network<IN, OUT>
    for Mlp2<IN, H1, H2, OUT>
{
    type Scratch = Mlp2Scratch<H1, H2, OUT>;

    fn init(&mut self, rng: &mut Rng) {
        self.hidden1.init_he(rng);
        self.hidden2.init_he(rng);
        self.output.init_xavier(rng);
    }

    fn forward<'s>(&self, x: &[f32; IN], s: &'s mut Self::Scratch) -> &'s [f32; OUT] {
        self.hidden1.forward(x, &mut s.hidden1);
        relu(&mut s.hidden1);
        self.hidden2.forward(&s.hidden1, &mut s.hidden2);
        relu(&mut s.hidden2);
        self.output.forward(&s.hidden2, &mut s.logits);
        &s.logits
    }

    fn backward(
        &self,
        x: &[f32; IN],
        target: usize,
        s: &mut Self::Scratch,
        grads: &mut Self,
    ) -> f32 {
        let loss = cross_entropy_grad(&s.logits, target, &mut s.d_logits);
        self.output
            .accumulate_gradients(&s.hidden2, &s.d_logits, &mut grads.output);
        self.output.backward_input(&s.d_logits, &mut s.d_hidden2);
        relu_backward(&s.hidden2, &mut s.d_hidden2);
        self.hidden2
            .accumulate_gradients(&s.hidden1, &s.d_hidden2, &mut grads.hidden2);
        self.hidden2.backward_input(&s.d_hidden2, &mut s.d_hidden1);
        relu_backward(&s.hidden1, &mut s.d_hidden1);
        self.hidden1
            .accumulate_gradients(x, &s.d_hidden1, &mut grads.hidden1);
        loss
    }
}

impl<const IN: usize, const H1: usize, const H2: usize, const OUT: usize> Parameters
    for Mlp2<IN, H1, H2, OUT>
{
    const TENSORS: usize = 6;

    fn tensor_info(i: usize) -> TensorInfo {
        let info = match i {
            0 | 1 => Dense::<IN, H1>::tensor_info(i),
            2 | 3 => Dense::<H1, H2>::tensor_info(i - 2),
            _ => Dense::<H2, OUT>::tensor_info(i - 4),
        };
        named(
            &[
                ["fc1.weight", "fc1.bias"],
                ["fc2.weight", "fc2.bias"],
                ["fc3.weight", "fc3.bias"],
            ],
            i,
            info,
        )
    }

    fn tensor(&self, i: usize) -> &[f32] {
        layer_tensors!(self, i, tensor, [hidden1, hidden2, output])
    }

    fn tensor_mut(&mut self, i: usize) -> &mut [f32] {
        layer_tensors!(self, i, tensor_mut, [hidden1, hidden2, output])
    }
}
