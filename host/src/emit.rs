//! The firmware bundle: a trained network turned into what `firmware/` compiles
//! and checks against.
//!
//! From one checkpoint, [`write_bundle`] writes next to it:
//!
//! | file | what |
//! |---|---|
//! | `weights.rs` | the f32 network as a `pub static MODEL` |
//! | `weights_int8.rs` | the int8 network as a `pub static MODEL_INT8` |
//! | `predictions_f32.bin` | the host's logits (bits) and class for every test image |
//! | `predictions_int8.bin` | the host's int8 accumulators and class for every test image |
//!
//! Every file is a pure function of the checkpoint bytes and the data files, so
//! CI regenerates the shipped bundle and fails on any difference.

use std::path::Path;

use tinymlp::{Mlp, Mlp2, QMlp, QMlp2};

use crate::arch::{CLASSES, INPUTS};
use crate::atomic::write_atomic;
use crate::codegen::{self, CodegenError, Header};
use crate::dataset::Dataset;
use crate::quantize::{self, QuantizeError};
use crate::train::Trainable;

/// Training images used to calibrate the int8 activation scale.
pub const CALIBRATION_IMAGES: usize = 5000;

/// A trainable network that also has an int8 form and emitted-source writers.
pub trait Exportable: Trainable {
    /// Its int8 quantized counterpart.
    type Quantized: Send + Sync;
    /// Quantizes, calibrating the activation scales on `calibration`.
    fn quantize(&self, calibration: &[[u8; INPUTS]])
        -> Result<Box<Self::Quantized>, QuantizeError>;
    /// Rust source of the f32 network.
    fn emit_f32(&self, header: &Header) -> Result<String, CodegenError>;
    /// Rust source of the int8 network.
    fn emit_int8(quantized: &Self::Quantized, header: &Header) -> Result<String, CodegenError>;
    /// The int8 predictions file over `images`.
    fn predictions_int8(quantized: &Self::Quantized, images: &[[u8; INPUTS]]) -> Vec<u8>;
    /// The int8 network's class for one image.
    fn predict_int8(quantized: &Self::Quantized, image: &[u8; INPUTS]) -> usize;
}

impl<const H: usize> Exportable for Mlp<INPUTS, H, CLASSES>
where
    Self: Trainable,
{
    type Quantized = QMlp<INPUTS, H, CLASSES>;
    fn quantize(
        &self,
        calibration: &[[u8; INPUTS]],
    ) -> Result<Box<Self::Quantized>, QuantizeError> {
        quantize::quantize(self, calibration.iter()).map(Box::new)
    }
    fn emit_f32(&self, header: &Header) -> Result<String, CodegenError> {
        codegen::emit_f32(self, header)
    }
    fn emit_int8(quantized: &Self::Quantized, header: &Header) -> Result<String, CodegenError> {
        codegen::emit_int8(quantized, header)
    }
    fn predictions_int8(quantized: &Self::Quantized, images: &[[u8; INPUTS]]) -> Vec<u8> {
        codegen::write_predictions_int8(quantized, images)
    }
    fn predict_int8(quantized: &Self::Quantized, image: &[u8; INPUTS]) -> usize {
        quantized.predict(image)
    }
}

impl<const H1: usize, const H2: usize> Exportable for Mlp2<INPUTS, H1, H2, CLASSES>
where
    Self: Trainable,
{
    type Quantized = QMlp2<INPUTS, H1, H2, CLASSES>;
    fn quantize(
        &self,
        calibration: &[[u8; INPUTS]],
    ) -> Result<Box<Self::Quantized>, QuantizeError> {
        quantize::quantize2(self, calibration.iter()).map(Box::new)
    }
    fn emit_f32(&self, header: &Header) -> Result<String, CodegenError> {
        codegen::emit_f32_mlp2(self, header)
    }
    fn emit_int8(quantized: &Self::Quantized, header: &Header) -> Result<String, CodegenError> {
        codegen::emit_int8_mlp2(quantized, header)
    }
    fn predictions_int8(quantized: &Self::Quantized, images: &[[u8; INPUTS]]) -> Vec<u8> {
        codegen::write_predictions_int8_mlp2(quantized, images)
    }
    fn predict_int8(quantized: &Self::Quantized, image: &[u8; INPUTS]) -> usize {
        quantized.predict(image)
    }
}

/// Something that stopped the bundle from being written.
#[derive(Debug, thiserror::Error)]
pub enum EmitError {
    /// Quantization failed (e.g. no calibration data).
    #[error("cannot quantize the network: {0}")]
    Quantize(#[from] QuantizeError),
    /// A parameter has no exact literal.
    #[error("cannot emit source: {0}")]
    Codegen(#[from] CodegenError),
    /// A data set is not made of 28x28 images.
    #[error("{0}")]
    Data(String),
    /// An output file could not be written.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file.
        path: std::path::PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
}

/// Accuracies of the f32 and int8 forms on the test set, in `[0, 1]`.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct BundleSummary {
    /// f32 network.
    pub f32_accuracy: f64,
    /// int8 network.
    pub int8_accuracy: f64,
}

/// The images of a 28×28 data set as fixed-size arrays.
pub fn images(data: &Dataset) -> Result<&[[u8; INPUTS]], EmitError> {
    let (images, rest) = data.pixels().as_chunks::<INPUTS>();
    if data.pixels_per_image() != INPUTS || !rest.is_empty() {
        return Err(EmitError::Data(format!(
            "images are {}x{}; emitted networks take 28x28",
            data.rows(),
            data.cols()
        )));
    }
    Ok(images)
}

/// Quantizes `net` as the firmware bundle does: activation scales calibrated on
/// the first [`CALIBRATION_IMAGES`] images of `train`.
pub fn quantize_calibrated<N: Exportable>(
    net: &N,
    train: &Dataset,
) -> Result<Box<N::Quantized>, EmitError> {
    let calibration = images(train)?;
    Ok(net.quantize(&calibration[..calibration.len().min(CALIBRATION_IMAGES)])?)
}

/// Fraction of `test` that `predict` classifies right.
pub fn accuracy_on(
    test: &Dataset,
    predict: impl Fn(&[u8; INPUTS]) -> usize,
) -> Result<f64, EmitError> {
    let images = images(test)?;
    let correct = images
        .iter()
        .zip(test.labels())
        .filter(|(x, &y)| predict(x) == usize::from(y))
        .count();
    Ok(correct as f64 / images.len().max(1) as f64)
}

/// The header of emitted files for a checkpoint: provenance plus accuracy.
pub fn header(architecture: &str, seed: u64, checkpoint_bytes: &[u8], accuracy: f64) -> Header {
    Header {
        tool: "tinymlp host".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        architecture: architecture.into(),
        seed,
        test_accuracy: Some(accuracy * 100.0),
        checkpoint_sha256: codegen::sha256_hex(checkpoint_bytes),
    }
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), EmitError> {
    write_atomic(path, bytes).map_err(|source| EmitError::Write {
        path: path.to_path_buf(),
        source,
    })
}

/// Writes the firmware bundle for `net` (see the [module docs](self)) into `dir`.
///
/// `checkpoint_bytes` is the checkpoint file the network was loaded from (its
/// SHA-256 goes into the headers); `train` provides calibration images and
/// `test` the images whose predictions the firmware checks.
pub fn write_bundle<N: Exportable>(
    net: &N,
    architecture: &str,
    seed: u64,
    checkpoint_bytes: &[u8],
    train: &Dataset,
    test: &Dataset,
    dir: &Path,
) -> Result<BundleSummary, EmitError> {
    let test_images = images(test)?;
    let quantized = quantize_calibrated(net, train)?;
    let summary = BundleSummary {
        f32_accuracy: accuracy_on(test, |x| net.predict(&tinymlp::pixels_to_input(x)))?,
        int8_accuracy: accuracy_on(test, |x| N::predict_int8(&quantized, x))?,
    };
    let f32_header = header(architecture, seed, checkpoint_bytes, summary.f32_accuracy);
    let int8_header = header(architecture, seed, checkpoint_bytes, summary.int8_accuracy);
    write(
        &dir.join("weights.rs"),
        net.emit_f32(&f32_header)?.as_bytes(),
    )?;
    write(
        &dir.join("weights_int8.rs"),
        N::emit_int8(&quantized, &int8_header)?.as_bytes(),
    )?;
    write(
        &dir.join("predictions_f32.bin"),
        &codegen::write_predictions_f32(net, test_images),
    )?;
    write(
        &dir.join("predictions_int8.bin"),
        &N::predictions_int8(&quantized, test_images),
    )?;
    Ok(summary)
}
