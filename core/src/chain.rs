//! Networks of any depth, chained by type.
//!
//! [`Hidden<IN, H, Next>`](Hidden) is a dense layer `IN → H` followed by ReLU,
//! in front of any network `Next` from `H` inputs. The chain ends in a
//! [`Dense`] output layer, so one definition serves every depth:
//!
//! ```text
//! Dense<4, 3>                                  4 → 3             (no hidden layer)
//! Hidden<784, 64, Dense<64, 10>>               784 → 64 → 10     (= Mlp<784, 64, 10>)
//! Hidden<64, 32, Hidden<32, 16, Dense<16, 10>>> 64 → 32 → 16 → 10
//! ```
//!
//! Each layer's output width is the next layer's input width *in the type*:
//! a chain whose widths do not meet does not compile.
//!
//! The layer order, the tensor order (`fc1.weight`, `fc1.bias`, `fc2.weight`,
//! …) and the initialisation order are the same at every depth, input side
//! first, and every layer runs the canonical kernels, so a chain computes the
//! bits that the host's run-time-shaped network computes for the same widths.

use crate::activation::{relu, relu_backward};
use crate::dense::Dense;
use crate::kernels::Kernel;
use crate::network::Network;
use crate::params::{Parameters, TensorInfo};
use crate::rng::Rng;

/// A ReLU layer `IN → H` in front of the network `Next`.
///
/// ```
/// use tinymlp::{Dense, Hidden, Network, Rng};
/// // 4 → 8 → 6 → 3: two hidden layers.
/// let mut net = Hidden::<4, 8, Hidden<8, 6, Dense<6, 3>>>::zeroed();
/// net.init(&mut Rng::new(1));
/// assert!(net.predict(&[0.1, 0.2, 0.3, 0.4]) < 3);
/// assert_eq!(<Hidden<4, 8, Hidden<8, 6, Dense<6, 3>>> as Network<4, 3>>::LAYERS, 3);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "bytemuck", derive(bytemuck::Zeroable))]
#[repr(C)]
pub struct Hidden<const IN: usize, const H: usize, Next> {
    /// The layer `IN → H` (followed by ReLU).
    pub dense: Dense<IN, H>,
    /// The rest of the network, from `H` inputs.
    pub next: Next,
}

/// `IN → HIDDEN (ReLU) → OUT`, e.g. `Mlp<784, 64, 10>` for MNIST.
pub type Mlp<const IN: usize, const HIDDEN: usize, const OUT: usize> =
    Hidden<IN, HIDDEN, Dense<HIDDEN, OUT>>;

/// `IN → H1 (ReLU) → H2 (ReLU) → OUT`, e.g. `Mlp2<784, 256, 128, 10>`.
pub type Mlp2<const IN: usize, const H1: usize, const H2: usize, const OUT: usize> =
    Hidden<IN, H1, Hidden<H1, H2, Dense<H2, OUT>>>;

impl<const IN: usize, const H: usize, Next> Hidden<IN, H, Next> {
    /// A network from its first layer and the rest (`const`, so emitted
    /// weights can be a `static` in flash).
    pub const fn new(dense: Dense<IN, H>, next: Next) -> Self {
        Self { dense, next }
    }
}

impl<const IN: usize, const H: usize, Next: Default> Hidden<IN, H, Next> {
    /// All parameters zero; also the starting value of gradients and momentum.
    pub fn zeroed() -> Self {
        Self::default()
    }
}

impl<const IN: usize, const H: usize, Next: Default> Default for Hidden<IN, H, Next> {
    fn default() -> Self {
        Self {
            dense: Dense::zeroed(),
            next: Next::default(),
        }
    }
}

/// Activations of a [`Hidden`] layer kept between forward and backward, and
/// the scratch of the rest of the network.
#[derive(Clone, Debug, PartialEq)]
pub struct HiddenScratch<const H: usize, Next> {
    /// Activations after ReLU.
    pub hidden: [f32; H],
    /// Gradient of the loss with respect to the pre-activations.
    pub d_hidden: [f32; H],
    /// The scratch of the rest of the network.
    pub next: Next,
}

impl<const H: usize, Next: Default> Default for HiddenScratch<H, Next> {
    fn default() -> Self {
        Self {
            hidden: [0.0; H],
            d_hidden: [0.0; H],
            next: Next::default(),
        }
    }
}

impl<const IN: usize, const H: usize, const OUT: usize, Next> Network<IN, OUT>
    for Hidden<IN, H, Next>
where
    Next: Network<H, OUT>,
{
    type Scratch = HiddenScratch<H, Next::Scratch>;
    const LAYERS: usize = 1 + Next::LAYERS;

    fn init(&mut self, rng: &mut Rng) {
        self.dense.init_he(rng);
        self.next.init(rng);
    }

    fn forward_with<'s, K: Kernel>(
        &self,
        x: &[f32; IN],
        s: &'s mut Self::Scratch,
        kernel: &K,
    ) -> &'s [f32; OUT] {
        kernel.matvec(&self.dense.weights, &self.dense.bias, x, &mut s.hidden);
        relu(&mut s.hidden);
        self.next.forward_with(&s.hidden, &mut s.next, kernel)
    }

    fn infer_with<K: Kernel>(&self, x: &[f32; IN], kernel: &K) -> [f32; OUT] {
        let mut hidden = [0.0; H];
        kernel.matvec(&self.dense.weights, &self.dense.bias, x, &mut hidden);
        relu(&mut hidden);
        self.next.infer_with(&hidden, kernel)
    }

    fn backward_to(
        &self,
        x: &[f32; IN],
        target: usize,
        s: &mut Self::Scratch,
        grads: &mut Self,
        dx: Option<&mut [f32; IN]>,
    ) -> f32 {
        let loss = self.next.backward_to(
            &s.hidden,
            target,
            &mut s.next,
            &mut grads.next,
            Some(&mut s.d_hidden),
        );
        relu_backward(&s.hidden, &mut s.d_hidden);
        self.dense
            .accumulate_gradients(x, &s.d_hidden, &mut grads.dense);
        if let Some(dx) = dx {
            self.dense.backward_input(&s.d_hidden, dx);
        }
        loss
    }
}

impl<const IN: usize, const H: usize, Next: Parameters> Parameters for Hidden<IN, H, Next> {
    const TENSORS: usize = 2 + Next::TENSORS;

    fn tensor_info(i: usize) -> TensorInfo {
        if i < 2 {
            Dense::<IN, H>::tensor_info(i)
        } else {
            let info = Next::tensor_info(i - 2);
            TensorInfo {
                layer: info.layer + 1,
                ..info
            }
        }
    }

    fn tensor(&self, i: usize) -> &[f32] {
        if i < 2 {
            self.dense.tensor(i)
        } else {
            self.next.tensor(i - 2)
        }
    }

    fn tensor_mut(&mut self, i: usize) -> &mut [f32] {
        if i < 2 {
            self.dense.tensor_mut(i)
        } else {
            self.next.tensor_mut(i - 2)
        }
    }
}
