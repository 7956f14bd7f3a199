//! Stochastic gradient descent with momentum and weight decay.

use crate::params::{Parameters, TensorKind};

/// SGD with (optionally Nesterov) momentum and decoupled-from-bias L2 weight decay.
///
/// For each parameter `p` with accumulated gradient `g`:
///
/// ```text
/// g' = g·grad_scale + weight_decay·p      (weight decay on weights only, not biases)
/// v  = momentum·v + g'
/// p -= learning_rate · (nesterov ? g' + momentum·v : v)
/// ```
///
/// `grad_scale` is usually `1 / batch_size`, turning a summed mini-batch
/// gradient into a mean. This is PyTorch's `torch.optim.SGD` update.
///
/// With `momentum == 0` it is plain SGD, `p -= learning_rate · g'` (Nesterov
/// or not), and the velocity is neither read nor written: a plain step
/// streams two buffers fewer.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sgd {
    /// Step size.
    pub learning_rate: f32,
    /// Momentum coefficient, 0 for plain SGD.
    pub momentum: f32,
    /// L2 penalty applied to weight matrices.
    pub weight_decay: f32,
    /// Use Nesterov momentum.
    pub nesterov: bool,
}

impl Sgd {
    /// Plain SGD with the given learning rate and no momentum.
    pub const fn new(learning_rate: f32) -> Self {
        Self {
            learning_rate,
            momentum: 0.0,
            weight_decay: 0.0,
            nesterov: false,
        }
    }

    /// Applies one update in place. `velocity` holds the momentum buffers
    /// (start from zero) and must be kept between steps.
    pub fn step<P: Parameters>(
        &self,
        params: &mut P,
        grads: &P,
        velocity: &mut P,
        grad_scale: f32,
    ) {
        for t in 0..P::TENSORS {
            let kind = P::tensor_info(t).kind;
            self.update_slice(
                kind,
                params.tensor_mut(t),
                grads.tensor(t),
                velocity.tensor_mut(t),
                grad_scale,
            );
        }
    }

    /// The update of [`step`](Self::step) on one slice of one tensor.
    ///
    /// Element-wise, so updating a tensor in any number of pieces (e.g. on
    /// several threads) gives exactly the same bits as one `step`.
    pub fn update_slice(
        &self,
        kind: TensorKind,
        params: &mut [f32],
        grads: &[f32],
        velocity: &mut [f32],
        grad_scale: f32,
    ) {
        let decay = kind.decay(self.weight_decay);
        if self.momentum == 0.0 {
            for (p, &g) in params.iter_mut().zip(grads) {
                let g = g * grad_scale + decay * *p;
                *p -= self.learning_rate * g;
            }
            return;
        }
        for ((p, v), &g) in params.iter_mut().zip(velocity.iter_mut()).zip(grads) {
            let g = g * grad_scale + decay * *p;
            *v = self.momentum * *v + g;
            let update = if self.nesterov {
                g + self.momentum * *v
            } else {
                *v
            };
            *p -= self.learning_rate * update;
        }
    }
}
