//! The fully connected layer.

use crate::batch::{self, Rows};
use crate::kernels::{self, Kernel};
use crate::loss::cross_entropy_grad;
use crate::network::Network;
use crate::params::{Parameters, TensorInfo, TensorKind};
use crate::rng::Rng;

/// A fully connected layer `y = W·x + b` with `IN` inputs and `OUT` outputs.
///
/// The weights are stored row-major as `[[f32; IN]; OUT]` (PyTorch's `Linear`
/// layout), so row `o` is the contiguous weight vector of output `o`. A layer
/// can be built in a `const` context, which is how emitted firmware weights
/// become a `static` in flash:
///
/// ```
/// use tinymlp::Dense;
/// static LAYER: Dense<3, 2> = Dense::new([[1.0, 0.0, -1.0], [0.5, 0.5, 0.5]], [0.0, 1.0]);
/// let mut y = [0.0; 2];
/// LAYER.forward(&[1.0, 2.0, 3.0], &mut y);
/// assert_eq!(y, [-2.0, 4.0]);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "bytemuck", derive(bytemuck::Zeroable))]
#[repr(C)]
pub struct Dense<const IN: usize, const OUT: usize> {
    /// `weights[o][i]` connects input `i` to output `o`.
    pub weights: [[f32; IN]; OUT],
    /// One bias per output.
    pub bias: [f32; OUT],
}

impl<const IN: usize, const OUT: usize> Default for Dense<IN, OUT> {
    fn default() -> Self {
        Self::zeroed()
    }
}

impl<const IN: usize, const OUT: usize> Dense<IN, OUT> {
    /// A layer from its weights and biases.
    pub const fn new(weights: [[f32; IN]; OUT], bias: [f32; OUT]) -> Self {
        Self { weights, bias }
    }

    /// A layer with every parameter zero (also an empty gradient buffer).
    pub const fn zeroed() -> Self {
        Self {
            weights: [[0.0; IN]; OUT],
            bias: [0.0; OUT],
        }
    }

    /// `y = W·x + b`, in the canonical summation order.
    #[inline]
    pub fn forward(&self, x: &[f32; IN], y: &mut [f32; OUT]) {
        kernels::matvec(self.weights.as_flattened(), &self.bias, x, y);
    }

    /// Accumulates this layer's gradients for one sample into `grads`:
    /// `dW += dy ⊗ x`, `db += dy`.
    #[inline]
    pub fn accumulate_gradients(&self, x: &[f32; IN], dy: &[f32; OUT], grads: &mut Self) {
        kernels::rank1(grads.weights.as_flattened_mut(), dy, x);
        for (b, d) in grads.bias.iter_mut().zip(dy) {
            *b += d;
        }
    }

    /// Gradient with respect to the input: `dx = Wᵀ·dy`.
    #[inline]
    pub fn backward_input(&self, dy: &[f32; OUT], dx: &mut [f32; IN]) {
        kernels::matvec_t(self.weights.as_flattened(), dy, dx);
    }

    /// [`forward`](Self::forward) for a batch: `ys[s] = W·xs[s] + b` (see
    /// [`batch::forward_batch`]).
    #[inline]
    pub fn forward_batch(&self, xs: &[[f32; IN]], ys: &mut [[f32; OUT]]) {
        let xs = Rows::new(xs.as_flattened(), IN);
        batch::forward_batch(
            self.weights.as_flattened(),
            &self.bias,
            xs,
            ys.as_flattened_mut(),
        );
    }

    /// [`accumulate_gradients`](Self::accumulate_gradients) for a batch,
    /// bit-identical to calling it on each sample in order (see
    /// [`batch::rank_k`], [`batch::accumulate_bias`]).
    #[inline]
    pub fn accumulate_gradients_batch(
        &self,
        xs: &[[f32; IN]],
        dys: &[[f32; OUT]],
        grads: &mut Self,
    ) {
        let (xs, dys) = (
            Rows::new(xs.as_flattened(), IN),
            Rows::new(dys.as_flattened(), OUT),
        );
        batch::rank_k(grads.weights.as_flattened_mut(), dys, xs);
        batch::accumulate_bias(&mut grads.bias, dys);
    }

    /// [`backward_input`](Self::backward_input) for a batch (see [`batch::matvec_t_batch`]).
    #[inline]
    pub fn backward_input_batch(&self, dys: &[[f32; OUT]], dxs: &mut [[f32; IN]]) {
        let dys = Rows::new(dys.as_flattened(), OUT);
        batch::matvec_t_batch(self.weights.as_flattened(), dys, dxs.as_flattened_mut(), IN);
    }

    /// He (Kaiming) uniform initialisation for a layer followed by ReLU:
    /// `W ~ U(±√(6/IN))`, `b = 0`.
    pub fn init_he(&mut self, rng: &mut Rng) {
        self.init_uniform(rng, libm::sqrtf(6.0 / IN as f32));
    }

    /// Xavier (Glorot) uniform initialisation: `W ~ U(±√(6/(IN+OUT)))`, `b = 0`.
    pub fn init_xavier(&mut self, rng: &mut Rng) {
        self.init_uniform(rng, libm::sqrtf(6.0 / (IN + OUT) as f32));
    }

    fn init_uniform(&mut self, rng: &mut Rng, limit: f32) {
        for w in self.weights.as_flattened_mut() {
            *w = rng.uniform(-limit, limit);
        }
        self.bias.fill(0.0);
    }
}

impl<const IN: usize, const OUT: usize> Parameters for Dense<IN, OUT> {
    const TENSORS: usize = 2;

    fn tensor_info(i: usize) -> TensorInfo {
        match i {
            0 => TensorInfo {
                layer: 0,
                kind: TensorKind::Weight,
                dims: [OUT, IN],
            },
            1 => TensorInfo {
                layer: 0,
                kind: TensorKind::Bias,
                dims: [OUT, 1],
            },
            _ => panic!("Dense has 2 tensors"),
        }
    }

    fn tensor(&self, i: usize) -> &[f32] {
        match i {
            0 => self.weights.as_flattened(),
            1 => &self.bias,
            _ => panic!("Dense has 2 tensors"),
        }
    }

    fn tensor_mut(&mut self, i: usize) -> &mut [f32] {
        match i {
            0 => self.weights.as_flattened_mut(),
            1 => &mut self.bias,
            _ => panic!("Dense has 2 tensors"),
        }
    }
}

/// Logits and their gradient: what a [`Dense`] output layer caches between
/// forward and backward.
#[derive(Clone, Debug, PartialEq)]
pub struct OutputScratch<const OUT: usize> {
    /// Output logits.
    pub logits: [f32; OUT],
    /// Gradient of the loss with respect to the logits.
    pub d_logits: [f32; OUT],
}

impl<const OUT: usize> Default for OutputScratch<OUT> {
    fn default() -> Self {
        Self {
            logits: [0.0; OUT],
            d_logits: [0.0; OUT],
        }
    }
}

/// A lone dense layer is a linear softmax classifier, and the output layer
/// that ends every deeper network.
impl<const IN: usize, const OUT: usize> Network<IN, OUT> for Dense<IN, OUT> {
    type Scratch = OutputScratch<OUT>;
    const LAYERS: usize = 1;

    fn init(&mut self, rng: &mut Rng) {
        self.init_xavier(rng);
    }

    fn forward_with<'s, K: Kernel>(
        &self,
        x: &[f32; IN],
        s: &'s mut Self::Scratch,
        kernel: &K,
    ) -> &'s [f32; OUT] {
        kernel.matvec(&self.weights, &self.bias, x, &mut s.logits);
        &s.logits
    }

    fn infer_with<K: Kernel>(&self, x: &[f32; IN], kernel: &K) -> [f32; OUT] {
        let mut logits = [0.0; OUT];
        kernel.matvec(&self.weights, &self.bias, x, &mut logits);
        logits
    }

    fn backward_to(
        &self,
        x: &[f32; IN],
        target: usize,
        s: &mut Self::Scratch,
        grads: &mut Self,
        dx: Option<&mut [f32; IN]>,
    ) -> f32 {
        let loss = cross_entropy_grad(&s.logits, target, &mut s.d_logits);
        self.accumulate_gradients(x, &s.d_logits, grads);
        if let Some(dx) = dx {
            self.backward_input(&s.d_logits, dx);
        }
        loss
    }
}
