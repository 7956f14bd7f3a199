//! The firmware bundle: everything `firmware/` and an example crate need,
//! written next to a checkpoint.
//!
//! | file | what |
//! |---|---|
//! | `weights.rs` | the f32 network, its input scaling and `classify` ([`rust`] module) |
//! | `weights_int8.rs` | the int8 network, its input quantisation and `classify` |
//! | `predictions_f32.bin` | the host's logits (bits) and class for every test sample |
//! | `predictions_int8.bin` | the host's int8 accumulators and class for every test sample |
//! | `test_inputs.bin.gz` | every raw test sample and its label, streamed by the firmware |
//!
//! Every file is a pure function of the checkpoint bytes and the data, so CI
//! can regenerate a shipped bundle and fail on any difference.

use std::path::{Path, PathBuf};

use super::error::ExportError;
use super::predictions;
use super::qnet::QNet;
use super::quantize::quantize_calibrated;
use super::rust::{self, Header};
use crate::data::Dataset;
use crate::fs::FileSet;
use crate::model::Model;

/// What [`write_bundle`] did.
#[derive(Clone, Debug, PartialEq)]
pub struct BundleSummary {
    /// Test accuracy of the int8 network, in `[0, 1]`.
    pub int8_accuracy: f64,
    /// The files written, in the order of the [module docs](self).
    pub files: Vec<PathBuf>,
}

/// Fraction of `test` the f32 network classifies right.
pub fn accuracy_f32(model: &Model, test: &Dataset) -> f64 {
    let mut correct = 0usize;
    model.forward_each(test, test.len(), |i, outputs| {
        correct += usize::from(tinymlp::argmax(outputs.logits()) == test.label(i));
    });
    correct as f64 / test.len().max(1) as f64
}

/// Fraction of `test` the int8 network classifies right.
pub fn accuracy_int8(q: &QNet, test: &Dataset) -> f64 {
    let correct = (0..test.len())
        .filter(|&i| q.predict_sample(test, i) == test.label(i))
        .count();
    correct as f64 / test.len().max(1) as f64
}

/// Writes the firmware bundle of `model` (see the [module docs](self)) into
/// `out`, the five files replacing their previous versions together (a
/// [`FileSet`]: a failed or interrupted export leaves the old bundle whole).
///
/// `checkpoint_bytes` is the checkpoint file the model was loaded from (its
/// SHA-256 goes into the headers), `seed` the training seed; `train`
/// calibrates the int8 scales and `test` gives the predictions and inputs
/// the firmware checks.
pub fn write_bundle(
    model: &Model,
    checkpoint_bytes: &[u8],
    seed: u64,
    train: &Dataset,
    test: &Dataset,
    out: &Path,
) -> Result<BundleSummary, ExportError> {
    std::fs::create_dir_all(out).map_err(|error| ExportError::Write {
        path: out.to_path_buf(),
        error,
    })?;
    crate::fs::recover(out).map_err(ExportError::Files)?;
    let mut set = FileSet::new(out);
    let int8_accuracy = stage_bundle(model, checkpoint_bytes, seed, train, test, &mut set)?;
    let files = set.paths();
    set.commit().map_err(ExportError::Files)?;
    Ok(BundleSummary {
        int8_accuracy,
        files,
    })
}

/// Writes the five files of the bundle (see [`write_bundle`]) into `set`,
/// not yet committed, and returns the int8 test accuracy. `host train` adds
/// the checkpoint and its metrics to the same set, so that all of them
/// replace the previous run's together.
pub fn stage_bundle(
    model: &Model,
    checkpoint_bytes: &[u8],
    seed: u64,
    train: &Dataset,
    test: &Dataset,
    set: &mut FileSet,
) -> Result<f64, ExportError> {
    model
        .check_data(test, Path::new("the model"))
        .map_err(ExportError::Data)?;
    let q = quantize_calibrated(model, train)?;
    let f32_accuracy = accuracy_f32(model, test);
    let int8_accuracy = accuracy_int8(&q, test);
    let f32_source = rust::emit_f32(
        model,
        &Header::new(seed, checkpoint_bytes, Some(f32_accuracy)),
    )?;
    let int8_source = rust::emit_int8(
        model,
        &q,
        &Header::new(seed, checkpoint_bytes, Some(int8_accuracy)),
    )?;
    let previous_inputs = set.dir().join("test_inputs.bin.gz");
    let mut add = |name: &str, bytes: &[u8]| set.add(name, bytes).map_err(ExportError::Files);
    add("weights.rs", f32_source.as_bytes())?;
    add("weights_int8.rs", int8_source.as_bytes())?;
    add(
        "predictions_f32.bin",
        &predictions::predictions_f32(model, test),
    )?;
    add(
        "predictions_int8.bin",
        &predictions::predictions_int8(model, &q, test),
    )?;
    add(
        "test_inputs.bin.gz",
        &predictions::test_inputs_gz_reusing(&previous_inputs, model, test),
    )?;
    Ok(int8_accuracy)
}
