//! The model: a run-time-shaped network, its input scaling and its classes,
//! and the checkpoint file that holds them.
//!
//! - [`architecture`]: the widths, `inputs → hidden… → classes`, and `--hidden`.
//! - [`net`]: [`Net`], the network whose shape is a run-time value, computing
//!   with `tinymlp`'s kernels (bit-identical to the const-generic chain).
//! - [`scaling`]: raw values → network inputs (`p / 255`, standardisation).
//! - [`checkpoint`]: `safetensors` files, with the classes and scaling in them.

pub mod architecture;
pub mod checkpoint;
pub mod net;
pub mod scaling;

pub use architecture::{
    Architecture, ArchitectureError, HiddenLayers, MAX_HIDDEN_LAYERS, MAX_PARAMETERS, MAX_WIDTH,
};
pub use checkpoint::{Checkpoint, CheckpointError};
pub use net::{Layer, LayerMut, Net};
pub use scaling::{ScaleMode, Scaling};

use crate::data::{Classes, Dataset};

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
