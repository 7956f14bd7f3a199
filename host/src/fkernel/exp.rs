//! The exponentials of the softmax: `libm::expf` on the host's widest
//! vectors, with the scalar function's bits, and `tinymlp`'s cross-entropy
//! gradient of a batch taking them.
//!
//! The trainer computes a softmax for every sample of every batch (on every
//! thread of the row split, which each run the output layer): ten `expf`
//! calls a sample for MNIST. The AVX-512 and AVX2 forms ([`FFast::exp`])
//! run the same operations on sixteen or eight values at once, a whole
//! shard's in one call (one sample's ten at a time did not pay: the call and
//! the partial vector cost more than the ten scalar calls); the portable
//! path calls `libm::expf` value by value.

use tinymlp::BatchLogits;

use super::{FFast, FPath};

impl FFast {
    /// `v = libm::expf(v)` for every value, the same bits.
    pub fn exp(self, values: &mut [f32]) {
        match self.path {
            FPath::Portable => tinymlp::exp_each(values),
            FPath::Avx2 | FPath::Avx512 => self.simd(super::Kernel::Exp { values }),
        }
    }

    /// [`tinymlp::cross_entropy_grads_with`] (the softmax cross-entropy
    /// gradient of a batch, the bits of `tinymlp::cross_entropy_grad` per
    /// sample), its exponentials taken by [`exp`](Self::exp) in one call.
    ///
    /// # Panics
    /// If the lengths do not fit together or a target is not a class.
    pub fn cross_entropy_grads<T: Fn(usize) -> usize>(
        self,
        samples: BatchLogits<'_, T>,
        grads: &mut [f32],
        loss: impl FnMut(usize, f32),
    ) {
        tinymlp::cross_entropy_grads_with(samples, grads, |g| self.exp(g), loss);
    }
}
