//! The [`Network`] trait: what the trainer and the firmware need from a model.

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
pub trait Network<const IN: usize, const OUT: usize>: Parameters {
    /// Caller-owned activations cached by the forward pass for the backward pass.
    type Scratch: Default;

    /// Seeded initialisation: He for layers followed by ReLU, Xavier for the output layer.
    fn init(&mut self, rng: &mut Rng);

    /// Forward pass; caches the activations in `scratch` and returns the logits.
    fn forward<'s>(&self, x: &[f32; IN], scratch: &'s mut Self::Scratch) -> &'s [f32; OUT];

    /// Backward pass of softmax cross-entropy against `target` for the sample
    /// whose [`forward`](Self::forward) filled `scratch`; *adds* the parameter
    /// gradients into `grads` (so a mini-batch accumulates) and returns the loss.
    ///
    /// # Panics
    /// If `target >= OUT`.
    fn backward(
        &self,
        x: &[f32; IN],
        target: usize,
        scratch: &mut Self::Scratch,
        grads: &mut Self,
    ) -> f32;

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

    /// The logits for `x`.
    fn logits(&self, x: &[f32; IN]) -> [f32; OUT] {
        let mut scratch = Self::Scratch::default();
        *self.forward(x, &mut scratch)
    }

    /// The most likely class for `x`.
    fn predict(&self, x: &[f32; IN]) -> usize {
        argmax(&self.logits(x))
    }
}
