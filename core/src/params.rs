//! Uniform access to a network's parameter tensors.
//!
//! Optimisers, gradient reduction, checkpoints and code generation all walk a
//! network as an ordered list of flat `f32` tensors. Gradients and optimiser
//! state use the network type itself, so they always have the same shapes.

/// What a tensor is, for the optimiser (weight decay applies to weights only)
/// and for checkpoints.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TensorKind {
    /// A `[OUT][IN]` weight matrix.
    Weight,
    /// A `[OUT]` bias vector.
    Bias,
}

impl TensorKind {
    /// The weight decay an optimiser applies to a tensor of this kind:
    /// `weight_decay` for weights, none for biases.
    #[inline]
    pub fn decay(self, weight_decay: f32) -> f32 {
        match self {
            TensorKind::Weight => weight_decay,
            TensorKind::Bias => 0.0,
        }
    }
}

/// Layer, shape and kind of one parameter tensor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TensorInfo {
    /// 0-based index of the dense layer the tensor belongs to, input side first.
    pub layer: usize,
    /// Weight or bias.
    pub kind: TensorKind,
    /// `[rows, cols]` for a weight, `[len, 1]` for a bias; see [`TensorInfo::shape`].
    pub dims: [usize; 2],
}

impl TensorInfo {
    /// The stable name, PyTorch style: `fc1.weight`, `fc1.bias`, `fc2.weight`, …
    pub fn name(&self) -> TensorName {
        TensorName {
            layer: self.layer,
            kind: self.kind,
        }
    }

    /// The shape as it is stored: `[OUT, IN]` for a weight, `[OUT]` for a bias.
    pub fn shape(&self) -> &[usize] {
        match self.kind {
            TensorKind::Weight => &self.dims,
            TensorKind::Bias => &self.dims[..1],
        }
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.dims[0] * self.dims[1]
    }

    /// True for a tensor with no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The name of a tensor, displayed as `fc{layer + 1}.weight` or `….bias`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TensorName {
    layer: usize,
    kind: TensorKind,
}

impl core::fmt::Display for TensorName {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let kind = match self.kind {
            TensorKind::Weight => "weight",
            TensorKind::Bias => "bias",
        };
        write!(f, "fc{}.{kind}", self.layer + 1)
    }
}

/// A fixed list of flat `f32` parameter tensors.
///
/// Implemented by [`Dense`](crate::Dense) and the networks. The provided
/// methods are what gradient accumulation and the optimiser need.
pub trait Parameters {
    /// Number of tensors.
    const TENSORS: usize;

    /// Name, shape and kind of tensor `i` (`i < TENSORS`).
    fn tensor_info(i: usize) -> TensorInfo;

    /// Tensor `i`, row-major. Panics if `i >= TENSORS`.
    fn tensor(&self, i: usize) -> &[f32];

    /// Tensor `i`, row-major, mutable. Panics if `i >= TENSORS`.
    fn tensor_mut(&mut self, i: usize) -> &mut [f32];

    /// Total number of scalar parameters.
    fn parameter_count() -> usize {
        (0..Self::TENSORS).map(|i| Self::tensor_info(i).len()).sum()
    }

    /// Sets every parameter to zero (e.g. to clear a gradient buffer).
    fn set_zero(&mut self) {
        for i in 0..Self::TENSORS {
            self.tensor_mut(i).fill(0.0);
        }
    }

    /// `self += other`, element-wise. Used to reduce per-thread gradients in a
    /// fixed order, so the sum does not depend on the thread count.
    fn add_assign(&mut self, other: &Self) {
        for i in 0..Self::TENSORS {
            for (a, b) in self.tensor_mut(i).iter_mut().zip(other.tensor(i)) {
                *a += b;
            }
        }
    }

    /// Multiplies every parameter by `factor`.
    fn scale(&mut self, factor: f32) {
        for i in 0..Self::TENSORS {
            for a in self.tensor_mut(i) {
                *a *= factor;
            }
        }
    }

    /// Copies every parameter from `other`.
    fn copy_from(&mut self, other: &Self) {
        for i in 0..Self::TENSORS {
            self.tensor_mut(i).copy_from_slice(other.tensor(i));
        }
    }

    /// True when no parameter is NaN or infinite.
    fn all_finite(&self) -> bool {
        (0..Self::TENSORS).all(|i| self.tensor(i).iter().all(|v| v.is_finite()))
    }
}
