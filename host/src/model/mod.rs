//! The model: a run-time-shaped network, its input scaling and its classes,
//! and the checkpoint file that holds them.
//!
//! - [`architecture`]: the widths, `inputs → hidden… → classes`, and `--hidden`.
//! - [`net`]: [`Net`], the network whose shape is a run-time value, computing
//!   with `tinymlp`'s kernels (bit-identical to the const-generic chain).
//! - [`blocked`]: [`BlockedNet`], a copy of a [`Net`] laid out for inference
//!   one sample at a time (the same logits, the weights read in one stream).
//! - [`scaling`]: raw values → network inputs (`p / 255`, standardisation).
//! - [`checkpoint`]: `safetensors` files, with the classes and scaling in them.

pub mod architecture;
pub mod blocked;
pub mod checkpoint;
pub mod net;
pub mod scaling;

pub use architecture::{
    Architecture, ArchitectureError, HiddenLayers, MAX_HIDDEN_LAYERS, MAX_PARAMETERS, MAX_WIDTH,
};
pub use blocked::BlockedNet;
pub use checkpoint::{Checkpoint, CheckpointError};
pub use net::{Layer, LayerMut, Net};
pub use scaling::{ScaleMode, Scaling};

use crate::data::{Classes, Dataset};

/// Samples per forward pass of [`Model::forward_each`].
pub const FORWARD_BATCH: usize = 64;

/// Every layer's outputs for one sample of a batch (see [`Model::forward_each`]).
#[derive(Clone, Copy, Debug)]
pub struct Outputs<'a> {
    acts: &'a [Vec<f32>],
    widths: &'a [usize],
    sample: usize,
}

impl<'a> Outputs<'a> {
    /// Layer `l`'s outputs (after ReLU for a hidden layer).
    pub fn layer(&self, l: usize) -> &'a [f32] {
        let width = self.widths[l + 1];
        &self.acts[l][self.sample * width..][..width]
    }

    /// The logits.
    pub fn logits(&self) -> &'a [f32] {
        self.layer(self.acts.len() - 1)
    }
}

/// A trained classifier: what a checkpoint holds.
#[derive(Clone, Debug, PartialEq)]
pub struct Model {
    /// The network.
    pub net: Net,
    /// Raw values → network inputs.
    pub scaling: Scaling,
    /// Class names, index order.
    pub classes: Classes,
    /// `(rows, cols)` when the inputs are an image.
    pub image: Option<(usize, usize)>,
}

impl Model {
    /// Number of raw input values.
    pub fn inputs(&self) -> usize {
        self.net.architecture().inputs()
    }

    /// The logits for raw values (pixels as `p as f32`).
    ///
    /// # Panics
    /// If `raw.len()` is not [`inputs`](Self::inputs).
    pub fn logits_raw(&self, raw: &[f32]) -> Vec<f32> {
        let mut x = vec![0.0; raw.len()];
        self.scaling.apply(raw, &mut x);
        self.net.logits(&x)
    }

    /// The forward pass of the first `count` samples of `data`, in order,
    /// [`FORWARD_BATCH`] at a time through [`Net::forward_batch`] (the bits of
    /// [`Net::logits`] per sample): `each(i, outputs)` sees every layer's
    /// outputs of sample `i`.
    ///
    /// # Panics
    /// If `data` has more than `count` samples or is not as wide as the input.
    pub fn forward_each(
        &self,
        data: &Dataset,
        count: usize,
        mut each: impl FnMut(usize, Outputs<'_>),
    ) {
        let (width, widths) = (self.inputs(), self.net.architecture().widths());
        let mut xs = vec![0.0; FORWARD_BATCH * width];
        let mut acts: Vec<Vec<f32>> = widths[1..]
            .iter()
            .map(|w| vec![0.0; w * FORWARD_BATCH])
            .collect();
        for start in (0..count).step_by(FORWARD_BATCH) {
            let n = FORWARD_BATCH.min(count - start);
            for (i, x) in (start..start + n).zip(xs.chunks_exact_mut(width)) {
                self.input(data, i, x);
            }
            let xs = net::Rows::new(&xs[..n * width], width);
            self.net.forward_batch(xs, &mut acts);
            for s in 0..n {
                each(
                    start + s,
                    Outputs {
                        acts: &acts,
                        widths,
                        sample: s,
                    },
                );
            }
        }
    }

    /// The network input of sample `i` of `data`.
    pub fn input(&self, data: &Dataset, i: usize, x: &mut [f32]) {
        self.scaling.input(data, i, x);
    }

    /// Checks that `data` can be fed to this model: its feature count (and
    /// image shape) and its classes. The message names both shapes.
    pub fn check_data(&self, data: &Dataset, model_path: &std::path::Path) -> Result<(), String> {
        if data.features() != self.inputs() {
            let shape = |image: Option<(usize, usize)>, n: usize| match image {
                Some((r, c)) => format!("{r}x{c} images ({n} values)"),
                None => format!("{n} features"),
            };
            return Err(format!(
                "{}: {}, but the model {} takes {}; use data with the columns (or image size) it was trained on",
                data.name(),
                shape(data.shape().image, data.features()),
                model_path.display(),
                shape(self.image, self.inputs()),
            ));
        }
        if data.classes().len() > self.classes.len() {
            return Err(format!(
                "{}: {} classes, but the model {} knows {}",
                data.name(),
                data.classes().len(),
                model_path.display(),
                self.classes.len()
            ));
        }
        Ok(())
    }
}
