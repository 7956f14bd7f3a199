//! How raw values become network inputs, fitted on the training set and
//! stored with the model so that `predict`, `eval` and the firmware all
//! compute the same bits from the same raw input.
//!
//! - [`Scaling::Pixels`]: `u8` pixels, `p / 255` ([`tinymlp::pixels_to_input`]);
//!   MNIST keeps exactly today's inputs.
//! - [`Scaling::Standardize`]: `(raw − mean) · inv_std` per feature
//!   ([`tinymlp::standardize`]) with the training set's mean and `1 / std`
//!   (population standard deviation, computed in `f64`, stored as `f32`; a
//!   constant feature gets `inv_std = 1`).
//! - [`Scaling::None`]: the raw values as they are.

use std::fmt;
use std::str::FromStr;

use crate::data::{Dataset, Encoding};

/// The input scaling of a model.
#[derive(Clone, Debug, PartialEq)]
pub enum Scaling {
    /// `u8` pixels divided by 255.
    Pixels,
    /// Per-feature standardisation.
    Standardize {
        /// Training-set mean of each feature.
        mean: Vec<f32>,
        /// `1 / standard deviation` of each feature (1 where it is constant).
        inv_std: Vec<f32>,
    },
    /// Raw values.
    None,
}

/// `--scale`: how to scale the inputs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ScaleMode {
    /// Pixels for pixel data (IDX `u8`, the MNIST CSV layout), standardisation otherwise.
    #[default]
    Auto,
    /// Standardise whatever the data is.
    Standard,
    /// Raw values.
    None,
}

impl FromStr for ScaleMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "auto" => Ok(Self::Auto),
            "standard" => Ok(Self::Standard),
            "none" => Ok(Self::None),
            _ => Err(format!(
                "unknown scaling {s:?}: expected auto, standard or none"
            )),
        }
    }
}

impl fmt::Display for ScaleMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Auto => "auto",
            Self::Standard => "standard",
            Self::None => "none",
        })
    }
}

impl Scaling {
    /// The scaling `mode` asks for, fitted on `train`.
    pub fn fit(train: &Dataset, mode: ScaleMode) -> Self {
        match (mode, train.encoding()) {
            (ScaleMode::Auto, Encoding::Pixels) => Self::Pixels,
            (ScaleMode::None, _) => Self::None,
            (ScaleMode::Auto | ScaleMode::Standard, _) => Self::standardize(train),
        }
    }

    /// `tinymlp::accumulate_moments` over the samples in order, then
    /// `tinymlp::fit_standardize`: the very code a chip training from scratch
    /// runs on the samples it receives.
    fn standardize(train: &Dataset) -> Self {
        let n = train.features();
        let (mut sum, mut sum_sq) = (vec![0.0f64; n], vec![0.0f64; n]);
        let mut raw = vec![0.0f32; n];
        for i in 0..train.len() {
            train.raw_f32(i, &mut raw);
            tinymlp::accumulate_moments(&raw, &mut sum, &mut sum_sq);
        }
        let (mut mean, mut inv_std) = (vec![0.0f32; n], vec![0.0f32; n]);
        tinymlp::fit_standardize(&sum, &sum_sq, train.len(), &mut mean, &mut inv_std);
        Self::Standardize { mean, inv_std }
    }

    /// The name stored in checkpoints: `pixels`, `standardize` or `none`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Pixels => "pixels",
            Self::Standardize { .. } => "standardize",
            Self::None => "none",
        }
    }

    /// Whether the raw input is `u8` pixels (else `f32` values).
    pub fn takes_pixels(&self) -> bool {
        matches!(self, Self::Pixels)
    }

    /// Network input from raw `f32` values (pixels as `p as f32`).
    pub fn apply(&self, raw: &[f32], x: &mut [f32]) {
        match self {
            // `p as f32 / 255.0` is `PIXEL_VALUES[p]` bit for bit (IEEE division).
            Self::Pixels => x.iter_mut().zip(raw).for_each(|(x, &r)| *x = r / 255.0),
            Self::Standardize { mean, inv_std } => tinymlp::standardize(raw, mean, inv_std, x),
            Self::None => x.copy_from_slice(raw),
        }
    }

    /// Network input for sample `i` of `data`.
    pub fn input(&self, data: &Dataset, i: usize, x: &mut [f32]) {
        match (self, data.pixels(i), data.values(i)) {
            (Self::Pixels, Some(pixels), _) => {
                let n = x.len().min(pixels.len());
                crate::fkernel::FFast::detect().pixels_to_inputs(&pixels[..n], &mut x[..n])
            }
            // Straight from the data set: no copy (and no allocation) first.
            (_, _, Some(values)) => self.apply(values, x),
            _ => {
                let mut raw = vec![0.0; data.features()];
                data.raw_f32(i, &mut raw);
                self.apply(&raw, x);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pixels_divide_like_the_core_table() {
        let raw: Vec<f32> = (0..=255).map(|p| p as f32).collect();
        let mut x = vec![0.0; 256];
        Scaling::Pixels.apply(&raw, &mut x);
        for (x, table) in x.iter().zip(tinymlp::PIXEL_VALUES) {
            assert_eq!(x.to_bits(), table.to_bits());
        }
    }

    #[test]
    fn standardize_applies_mean_and_inverse_deviation() {
        let s = Scaling::Standardize {
            mean: vec![1.0, 5.0],
            inv_std: vec![0.5, 1.0],
        };
        let mut x = [0.0; 2];
        s.apply(&[3.0, 5.0], &mut x);
        assert_eq!(x, [1.0, 0.0]);
    }
}
