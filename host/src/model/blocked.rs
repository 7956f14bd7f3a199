//! A network laid out for one sample at a time: [`BlockedNet`], the logits of
//! [`Net::logits`] bit for bit, each layer's weights in blocks of rows
//! ([`crate::fkernel::blocked`]) so that an inference streams them once.
//!
//! For a program that classifies samples one by one as they arrive (a live
//! sensor feed on a desktop): build it once, then call
//! [`logits`](BlockedNet::logits) per sample. Many samples at once go faster
//! still through [`Model::forward_each`](super::Model::forward_each) in batches.

use tinymlp::activation::relu;

use super::net::Net;
use crate::fkernel::blocked::BlockedRows;

/// Every layer of a [`Net`] in blocks of rows, with its bias.
#[derive(Clone, Debug, PartialEq)]
pub struct BlockedNet {
    layers: Vec<(BlockedRows, Vec<f32>)>,
}

impl BlockedNet {
    /// A copy of `net`'s parameters in the blocked layout (as many floats
    /// again as the network, rounded up to whole blocks).
    pub fn new(net: &Net) -> Self {
        let layers = (0..net.architecture().layers())
            .map(|l| {
                let layer = net.layer(l);
                let rows = BlockedRows::new(layer.weights, layer.inputs);
                (rows, layer.bias.to_vec())
            })
            .collect();
        Self { layers }
    }

    /// Values per input.
    pub fn inputs(&self) -> usize {
        self.layers.first().map_or(0, |(w, _)| w.inputs())
    }

    /// The logits for one (already scaled) input, ReLU between layers: the
    /// bits of [`Net::logits`].
    ///
    /// # Panics
    /// If `x.len()` is not [`inputs`](Self::inputs).
    pub fn logits(&self, x: &[f32]) -> Vec<f32> {
        assert_eq!(x.len(), self.inputs(), "input width");
        let mut current = Vec::new();
        for (l, (weights, bias)) in self.layers.iter().enumerate() {
            let mut next = vec![0.0; weights.rows()];
            let input = if l == 0 { x } else { &current };
            weights.matvec(bias, input, &mut next);
            if l + 1 < self.layers.len() {
                relu(&mut next);
            }
            current = next;
        }
        current
    }
}
