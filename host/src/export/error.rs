//! [`ExportError`]: why a model could not be exported.

use std::path::PathBuf;

/// Something that stopped an export.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// A parameter is NaN or infinite and has no exact literal or int8 form.
    #[error("{tensor}[{index}] is NaN or infinite: cannot export it")]
    NonFinite {
        /// Which tensor, e.g. `fc1.weight`.
        tensor: String,
        /// Flat index within the tensor.
        index: usize,
    },
    /// No calibration sample was given.
    #[error("no calibration samples: the training set is empty")]
    NoCalibrationData,
    /// A requantisation multiplier does not fit the fixed-point format.
    #[error("layer {layer}: requantisation multiplier {value:e} out of range")]
    MultiplierOutOfRange {
        /// Layer name (`fc1`, …).
        layer: String,
        /// The real multiplier.
        value: f64,
    },
    /// A data set does not fit the model.
    #[error("{0}")]
    Data(String),
    /// A set of output files could not be written or committed (the
    /// message names the file and what failed).
    #[error("{0}")]
    Files(String),
    /// An output file could not be written.
    /// (The io error is part of the message, not a source, so a report
    /// says it once.)
    #[error("cannot write {path}: {error}")]
    Write {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        error: std::io::Error,
    },
}
