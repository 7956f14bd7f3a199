//! [`Net`]: a network whose shape is a run-time value, computing with the
//! very kernels of `tinymlp`.
//!
//! The parameters are one flat vector, tensor after tensor in the order of
//! `tinymlp`'s chains (`fc1.weight`, `fc1.bias`, `fc2.weight`, …), each
//! weight row-major `[outputs][inputs]`. Forward, backward and the
//! initialisation run the same `tinymlp` functions, in the same order, as the
//! const-generic [`tinymlp::Hidden`] chain of the same widths, so the two
//! give identical bits (`host/tests/model/shapes.rs` checks random shapes).

pub(super) use tinymlp::batch::Rows;
use tinymlp::{kernels, Rng, TensorInfo, TensorKind};

use super::architecture::Architecture;
use crate::fkernel::{self, FFast, Floats};

/// A dense ReLU network of any depth, parameters on the heap.
///
/// Also the type of gradients and optimiser state, as in `tinymlp`.
#[derive(Clone, PartialEq)]
pub struct Net {
    arch: Architecture,
    /// On a cache line ([`Floats`]), so the kernels' vector loads of its
    /// rows do not straddle two.
    params: Floats,
    /// Start of tensor `t` in `params`; one more entry for the end.
    offsets: Vec<usize>,
}

impl std::fmt::Debug for Net {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Net")
            .field("architecture", &self.arch.to_string())
            .finish_non_exhaustive()
    }
}

/// One dense layer of a [`Net`], borrowed.
#[derive(Clone, Copy, Debug)]
pub struct Layer<'a> {
    /// Row-major `[outputs][inputs]`.
    pub weights: &'a [f32],
    /// One per output.
    pub bias: &'a [f32],
    /// Inputs of the layer.
    pub inputs: usize,
}

impl Layer<'_> {
    /// Outputs of the layer.
    pub fn outputs(&self) -> usize {
        self.bias.len()
    }
}

/// One dense layer of a [`Net`], mutably borrowed.
#[derive(Debug)]
pub struct LayerMut<'a> {
    /// Row-major `[outputs][inputs]`.
    pub weights: &'a mut [f32],
    /// One per output.
    pub bias: &'a mut [f32],
}

impl Net {
    /// All parameters zero (also an empty gradient or momentum buffer).
    pub fn zeros(arch: &Architecture) -> Self {
        let mut offsets = vec![0];
        for l in 0..arch.layers() {
            let (inputs, outputs) = arch.layer(l);
            let start = *offsets.last().expect("starts with 0");
            offsets.push(start + inputs * outputs);
            offsets.push(start + inputs * outputs + outputs);
        }
        Self {
            arch: arch.clone(),
            params: fkernel::zeros(arch.parameter_count()),
            offsets,
        }
    }

    /// A network initialised from `seed` exactly as `tinymlp`'s
    /// `Network::init(&mut Rng::new(seed))`: He uniform for hidden layers,
    /// Xavier uniform for the output layer, biases zero, input side first.
    pub fn initialised(arch: &Architecture, seed: u64) -> Self {
        let mut net = Self::zeros(arch);
        let mut rng = Rng::new(seed);
        let last = arch.layers() - 1;
        for l in 0..arch.layers() {
            let (inputs, outputs) = arch.layer(l);
            // The expressions of `Dense::init_he` and `Dense::init_xavier`.
            let limit = if l < last {
                libm::sqrtf(6.0 / inputs as f32)
            } else {
                libm::sqrtf(6.0 / (inputs + outputs) as f32)
            };
            for w in net.layer_mut(l).weights.iter_mut() {
                *w = rng.uniform(-limit, limit);
            }
        }
        net
    }

    /// A network from its flat parameters (tensor order, see the module docs).
    ///
    /// # Panics
    /// If `params` does not hold exactly the architecture's parameter count.
    pub fn from_params(arch: &Architecture, params: Vec<f32>) -> Self {
        let mut net = Self::zeros(arch);
        assert_eq!(params.len(), net.params.len(), "parameter count");
        net.params = Floats::from_slice(fkernel::CACHE_LINE, &params);
        net
    }

    /// The shape.
    pub fn architecture(&self) -> &Architecture {
        &self.arch
    }

    /// Every parameter, tensor after tensor.
    pub fn params(&self) -> &[f32] {
        &self.params
    }

    /// Every parameter, mutable.
    pub fn params_mut(&mut self) -> &mut [f32] {
        &mut self.params
    }

    /// Number of tensors (two per layer).
    pub fn tensors(&self) -> usize {
        self.offsets.len() - 1
    }

    /// Layer, kind and shape of tensor `t`, as `tinymlp::Parameters::tensor_info` gives them.
    pub fn tensor_info(&self, t: usize) -> TensorInfo {
        let (inputs, outputs) = self.arch.layer(t / 2);
        if t.is_multiple_of(2) {
            TensorInfo {
                layer: t / 2,
                kind: TensorKind::Weight,
                dims: [outputs, inputs],
            }
        } else {
            TensorInfo {
                layer: t / 2,
                kind: TensorKind::Bias,
                dims: [outputs, 1],
            }
        }
    }

    /// Tensor `t`.
    pub fn tensor(&self, t: usize) -> &[f32] {
        &self.params[self.offsets[t]..self.offsets[t + 1]]
    }

    /// Tensor `t`, mutable.
    pub fn tensor_mut(&mut self, t: usize) -> &mut [f32] {
        &mut self.params[self.offsets[t]..self.offsets[t + 1]]
    }

    /// Dense layer `l`.
    pub fn layer(&self, l: usize) -> Layer<'_> {
        Layer {
            weights: self.tensor(2 * l),
            bias: self.tensor(2 * l + 1),
            inputs: self.arch.layer(l).0,
        }
    }

    /// Dense layer `l`, mutable.
    pub fn layer_mut(&mut self, l: usize) -> LayerMut<'_> {
        let (start, mid, end) = (
            self.offsets[2 * l],
            self.offsets[2 * l + 1],
            self.offsets[2 * l + 2],
        );
        let (weights, bias) = self.params[start..end].split_at_mut(mid - start);
        LayerMut { weights, bias }
    }

    /// Sets every parameter to zero.
    pub fn set_zero(&mut self) {
        self.params.fill(0.0);
    }

    /// True when no parameter is NaN or infinite.
    pub fn all_finite(&self) -> bool {
        self.params.iter().all(|v| v.is_finite())
    }

    /// The logits for one (already scaled) input, through the per-sample
    /// kernel `tinymlp::kernels::matvec`, ReLU between layers.
    ///
    /// # Panics
    /// If `x.len()` is not the number of inputs.
    pub fn logits(&self, x: &[f32]) -> Vec<f32> {
        assert_eq!(x.len(), self.arch.inputs(), "input width");
        let mut current = x.to_vec();
        for l in 0..self.arch.layers() {
            let layer = self.layer(l);
            let mut next = vec![0.0; layer.outputs()];
            kernels::matvec(layer.weights, layer.bias, &current, &mut next);
            if l + 1 < self.arch.layers() {
                tinymlp::activation::relu(&mut next);
            }
            current = next;
        }
        current
    }

    /// The forward pass of a batch of (already scaled) inputs through the
    /// batch kernels ([`FFast`]): `acts[l]` receives layer `l`'s outputs,
    /// sample after sample (after ReLU for hidden layers; the logits last).
    /// The same bits as [`logits`](Self::logits) of each sample.
    ///
    /// # Panics
    /// If `xs` is not as wide as the input, or `acts` does not hold one buffer
    /// of at least `xs.len()` samples per layer (`Vec<f32>` or [`Floats`]).
    pub fn forward_batch<B>(&self, xs: Rows<'_>, acts: &mut [B])
    where
        B: std::ops::DerefMut<Target = [f32]>,
    {
        self.forward_batch_from(0, xs, acts);
    }

    /// [`forward_batch`](Self::forward_batch) from layer `first` on, with
    /// layer `first − 1`'s outputs already in `acts`, *before* its ReLU
    /// (which this applies: `train::predict` forms the first layer's by the
    /// sparse product); `xs` gives the sample count and, for `first = 0`,
    /// the inputs.
    ///
    /// # Panics
    /// As `forward_batch`.
    pub fn forward_batch_from<B>(&self, first: usize, xs: Rows<'_>, acts: &mut [B])
    where
        B: std::ops::DerefMut<Target = [f32]>,
    {
        assert_eq!(xs.width, self.arch.inputs(), "input width");
        assert_eq!(acts.len(), self.arch.layers(), "one buffer per layer");
        let (n, widths, fast) = (xs.len(), self.arch.widths(), FFast::detect());
        if first > 0 {
            tinymlp::activation::relu(&mut acts[first - 1][..n * widths[first]]);
        }
        for l in first..self.arch.layers() {
            let (done, rest) = acts.split_at_mut(l);
            let input = match done.last() {
                None => xs,
                Some(prev) => Rows::new(&prev[..n * widths[l]], widths[l]),
            };
            let out = &mut rest[0][..n * widths[l + 1]];
            let layer = self.layer(l);
            fast.forward_batch(layer.weights, layer.bias, input, out);
            if l + 1 < self.arch.layers() {
                tinymlp::activation::relu(out);
            }
        }
    }

    /// The most likely class for one (already scaled) input.
    pub fn predict(&self, x: &[f32]) -> usize {
        tinymlp::argmax(&self.logits(x))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::HiddenLayers;
    use tinymlp::{Mlp2, Network, Parameters};

    #[test]
    fn tensors_are_laid_out_like_the_chain() {
        let arch = Architecture::new(7, &HiddenLayers(vec![5, 3]), 2).unwrap();
        let net = Net::initialised(&arch, 9);
        let mut chain = Mlp2::<7, 5, 3, 2>::zeroed();
        chain.init(&mut Rng::new(9));
        assert_eq!(net.tensors(), <Mlp2<7, 5, 3, 2> as Parameters>::TENSORS);
        for t in 0..net.tensors() {
            assert_eq!(net.tensor_info(t), Mlp2::<7, 5, 3, 2>::tensor_info(t));
            assert_eq!(net.tensor(t), chain.tensor(t), "tensor {t}");
        }
        let x = [0.3, -0.2, 0.9, 0.0, 0.5, -1.0, 0.25];
        let logits = net.logits(&x);
        assert_eq!(
            logits.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            chain.logits(&x).map(f32::to_bits)
        );
    }

    #[test]
    fn batch_forward_equals_per_sample_logits() {
        let arch = Architecture::new(19, &HiddenLayers(vec![13, 5]), 3).unwrap();
        let net = Net::initialised(&arch, 4);
        let mut rng = Rng::new(4);
        let n = 11;
        let xs: Vec<f32> = (0..n * 19).map(|_| rng.uniform(-1.0, 1.0)).collect();
        let mut acts: Vec<Vec<f32>> = [13, 5, 3].iter().map(|w| vec![0.0; w * n]).collect();
        net.forward_batch(Rows::new(&xs, 19), &mut acts);
        for (x, batch) in xs.chunks_exact(19).zip(acts[2].chunks_exact(3)) {
            let bits = |v: &[f32]| v.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(batch), bits(&net.logits(x)));
        }
    }

    #[test]
    fn parameters_start_on_a_cache_line() {
        let arch = Architecture::new(784, &HiddenLayers(vec![64]), 10).unwrap();
        let on_a_line = |net: &Net| net.params().as_ptr().align_offset(64) == 0;
        assert!(on_a_line(&Net::zeros(&arch)));
        assert!(on_a_line(&Net::initialised(&arch, 1)));
        let params = vec![0.5; arch.parameter_count()];
        assert!(on_a_line(&Net::from_params(&arch, params)));
        assert!(on_a_line(&Net::zeros(&arch).clone()));
    }
}
