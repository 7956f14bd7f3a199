//! The [`Network`] trait: what the trainer and the firmware need from a model.

use crate::kernels::{Kernel, Portable};
use crate::loss::argmax;
use crate::params::Parameters;
use crate::rng::Rng;

/// Result of one training sample.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SampleOutcome {
    /// Cross-entropy loss of the sample.
    pub loss: f32,
    /// The class the network predicted before the update.
    pub predicted: usize,
}

/// A classifier from `IN` inputs to `OUT` class logits that can be trained.
///
/// The shapes are part of the trait, so a trainer written for
/// `Network<784, 10>` accepts every MNIST-shaped network and nothing else.
/// Gradients and optimiser state are values of the network type itself.
///
/// Implemented by [`Dense`](crate::Dense) (a linear softmax classifier, and
/// the output layer of every deeper network) and by
/// [`Hidden`](crate::Hidden), which puts a ReLU layer in front of any
/// network: one definition serves every depth.
pub trait Network<const IN: usize, const OUT: usize>: Parameters {
    /// Caller-owned activations cached by the forward pass for the backward pass.
    type Scratch: Default;

    /// Number of dense layers (hidden layers plus the output layer).
    const LAYERS: usize;

    /// Seeded initialisation, input side first: He for layers followed by
    /// ReLU, Xavier for the output layer.
    fn init(&mut self, rng: &mut Rng);

    /// Forward pass through a caller-chosen [`Kernel`] (e.g. a target's
    /// assembly kernel, which must give the same bits); caches the
    /// activations in `scratch` and returns the logits.
    fn forward_with<'s, K: Kernel>(
        &self,
        x: &[f32; IN],
        scratch: &'s mut Self::Scratch,
        kernel: &K,
    ) -> &'s [f32; OUT];

    /// Backward pass of softmax cross-entropy against `target` for the sample
    /// whose forward pass filled `scratch`; *adds* the parameter gradients
    /// into `grads` (so a mini-batch accumulates), writes the gradient with
    /// respect to the input into `dx` when asked (how layers chain), and
    /// returns the loss.
    ///
    /// # Panics
    /// If `target >= OUT`.
    fn backward_to(
        &self,
        x: &[f32; IN],
        target: usize,
        scratch: &mut Self::Scratch,
        grads: &mut Self,
        dx: Option<&mut [f32; IN]>,
    ) -> f32;

    /// The logits for `x` through `kernel`, for inference only: nothing is
    /// kept for a backward pass, so the stack holds just one activation
    /// vector per layer (what firmware wants). The same bits as
    /// [`forward_with`](Self::forward_with).
    fn infer_with<K: Kernel>(&self, x: &[f32; IN], kernel: &K) -> [f32; OUT];

    /// Forward pass through the portable kernels of [`kernels`](crate::kernels).
    fn forward<'s>(&self, x: &[f32; IN], scratch: &'s mut Self::Scratch) -> &'s [f32; OUT] {
        self.forward_with(x, scratch, &Portable)
    }

    /// [`backward_to`](Self::backward_to) without the input gradient.
    ///
    /// # Panics
    /// If `target >= OUT`.
    fn backward(
        &self,
        x: &[f32; IN],
        target: usize,
        scratch: &mut Self::Scratch,
        grads: &mut Self,
    ) -> f32 {
        self.backward_to(x, target, scratch, grads, None)
    }

    /// Forward and backward for one labelled sample, accumulating into `grads`.
    fn train_sample(
        &self,
        x: &[f32; IN],
        target: usize,
        scratch: &mut Self::Scratch,
        grads: &mut Self,
    ) -> SampleOutcome {
        let predicted = argmax(self.forward(x, scratch));
        let loss = self.backward(x, target, scratch, grads);
        SampleOutcome { loss, predicted }
    }

    /// The logits for `x` (see [`infer_with`](Self::infer_with)).
    fn logits(&self, x: &[f32; IN]) -> [f32; OUT] {
        self.infer_with(x, &Portable)
    }

    /// The most likely class for `x`.
    fn predict(&self, x: &[f32; IN]) -> usize {
        argmax(&self.logits(x))
    }
}
