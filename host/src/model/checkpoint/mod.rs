//! Checkpoints as `safetensors` files.
//!
//! Tensors are named like PyTorch's (`fc1.weight` `[out, in]`, `fc1.bias`
//! `[out]`, …), stored as little-endian `F32`, so Python reads them with
//! `safetensors.numpy.load_file`. A standardised model also holds
//! `input.mean` and `input.inv_std` `[inputs]`. The `__metadata__` header
//! holds the architecture (`784-64-10`), the class names (a JSON array), the
//! input scaling (`pixels`, `standardize` or `none`), the image shape
//! (`28x28`) for image data, and how the model was trained.
//!
//! Checkpoints written before class names and scaling existed (MNIST only)
//! load as what they were: classes `0`…`9`, 28x28 pixels.
//!
//! # Files
//!
//! - `mod.rs`: the format's keys, [`CheckpointError`], and reading and
//!   checking a checkpoint ([`Checkpoint`]);
//! - `write.rs`: writing one ([`to_bytes`], [`save`]), with the header's keys
//!   sorted so that the bytes are deterministic;
//! - `tests.rs`: the unit tests.

#[cfg(test)]
mod tests;
mod write;

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use safetensors::tensor::{Dtype, SafeTensors};

pub use write::{save, to_bytes};

use super::{Architecture, ArchitectureError, Model, Net, Scaling};
use crate::data::Classes;

/// Largest checkpoint we read: the largest network tinymlp builds
/// ([`MAX_PARAMETERS`](super::MAX_PARAMETERS) `f32`s) plus room for metadata.
pub const MAX_CHECKPOINT_BYTES: u64 = (super::MAX_PARAMETERS as u64) * 4 + (16 << 20);

/// Metadata key holding the layer list.
pub const ARCHITECTURE_KEY: &str = "architecture";
/// Metadata key holding the class names, a JSON array of strings.
pub const CLASSES_KEY: &str = "classes";
/// Metadata key holding the input scaling.
pub const INPUT_KEY: &str = "input";
/// Metadata key holding the image shape, `ROWSxCOLS`.
pub const IMAGE_KEY: &str = "image";
/// Tensor names of a standardisation.
pub const MEAN_TENSOR: &str = "input.mean";
/// See [`MEAN_TENSOR`].
pub const INV_STD_TENSOR: &str = "input.inv_std";

/// Something wrong with a checkpoint file.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// The file could not be read or written.
    ///
    /// The OS error's text is part of the message, so it is not also a
    /// `source()` (see [`crate::data::DataError`]).
    #[error("{}: {}", path.display(), describe_io(error))]
    Io {
        /// The checkpoint path.
        path: PathBuf,
        /// What the OS said.
        error: std::io::Error,
    },
    /// Larger than any checkpoint this tool writes.
    #[error("{path}: {size} bytes is far larger than any tinymlp checkpoint (max {MAX_CHECKPOINT_BYTES}); is this the right file?")]
    TooLarge {
        /// The checkpoint path.
        path: PathBuf,
        /// Its size.
        size: u64,
    },
    /// Not a valid safetensors file.
    #[error("{path}: not a valid safetensors checkpoint: {reason}; pass a model.safetensors written by `host train`")]
    Format {
        /// The checkpoint path.
        path: PathBuf,
        /// What the parser found.
        reason: String,
    },
    /// The metadata names no or an unknown architecture.
    #[error("{path}: {reason}")]
    Architecture {
        /// The checkpoint path.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A tensor is missing, extra, or of the wrong dtype or shape.
    #[error("{path}: {reason}")]
    Tensor {
        /// The checkpoint path.
        path: PathBuf,
        /// Which tensor and what is wrong.
        reason: String,
    },
    /// A parameter is NaN or infinite.
    #[error("{path}: tensor {name} holds a NaN or infinite value; the file is damaged, or the model diverged when it was trained: train it again with a lower --lr")]
    NotFinite {
        /// The checkpoint path.
        path: PathBuf,
        /// The tensor.
        name: String,
    },
}

/// A checkpoint read from disk, its tensors not yet placed in a network.
#[derive(Debug)]
pub struct Checkpoint {
    path: PathBuf,
    bytes: Vec<u8>,
    metadata: BTreeMap<String, String>,
    architecture: Architecture,
}

impl Checkpoint {
    /// Reads and validates the container; the tensors are checked by [`Checkpoint::load`].
    pub fn read(path: &Path) -> Result<Self, CheckpointError> {
        let io = |error| CheckpointError::Io {
            path: path.to_path_buf(),
            error,
        };
        let meta = std::fs::metadata(path).map_err(io)?;
        if meta.is_dir() {
            return Err(io(std::io::Error::from(std::io::ErrorKind::IsADirectory)));
        }
        let size = meta.len();
        if size > MAX_CHECKPOINT_BYTES {
            return Err(CheckpointError::TooLarge {
                path: path.to_path_buf(),
                size,
            });
        }
        // Read at most one byte past the limit: the file may grow after the
        // size check (or be a device that reports no size).
        let mut bytes = Vec::new();
        std::fs::File::open(path)
            .and_then(|file| file.take(MAX_CHECKPOINT_BYTES + 1).read_to_end(&mut bytes))
            .map_err(io)?;
        if bytes.len() as u64 > MAX_CHECKPOINT_BYTES {
            return Err(CheckpointError::TooLarge {
                path: path.to_path_buf(),
                size: bytes.len() as u64,
            });
        }
        Self::from_bytes(path, bytes)
    }

    /// Validates an in-memory checkpoint; `path` is only used in messages.
    pub fn from_bytes(path: &Path, bytes: Vec<u8>) -> Result<Self, CheckpointError> {
        let path = path.to_path_buf();
        let (_, header) =
            SafeTensors::read_metadata(&bytes).map_err(|e| CheckpointError::Format {
                path: path.clone(),
                reason: describe_format(&e, &bytes),
            })?;
        let metadata: BTreeMap<String, String> = header
            .metadata()
            .clone()
            .unwrap_or_default()
            .into_iter()
            .collect();
        let layers =
            metadata
                .get(ARCHITECTURE_KEY)
                .ok_or_else(|| CheckpointError::Architecture {
                    path: path.clone(),
                    reason: format!(
                        "no `{ARCHITECTURE_KEY}` in the metadata; was it written by `host train`?"
                    ),
                })?;
        let architecture = Architecture::from_layers(layers).map_err(|e: ArchitectureError| {
            CheckpointError::Architecture {
                path: path.clone(),
                reason: format!("metadata architecture: {e}"),
            }
        })?;
        Ok(Self {
            path,
            bytes,
            metadata,
            architecture,
        })
    }

    /// Parameters of the architecture the metadata declares.
    /// The architecture the metadata declares.
    pub fn architecture(&self) -> &Architecture {
        &self.architecture
    }

    /// All metadata entries.
    pub fn metadata(&self) -> &BTreeMap<String, String> {
        &self.metadata
    }

    /// The raw file bytes (e.g. for a SHA-256 in emitted sources).
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The path it was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The model: the network, its classes, its input scaling and image shape.
    ///
    /// Checks that the file holds exactly the tensors the metadata's
    /// architecture needs, with their shapes, as `F32`, all finite, and that
    /// the metadata is consistent.
    pub fn load(&self) -> Result<Model, CheckpointError> {
        let tensors =
            SafeTensors::deserialize(&self.bytes).map_err(|e| CheckpointError::Format {
                path: self.path.clone(),
                reason: describe_format(&e, &self.bytes),
            })?;
        let mut net = Net::zeros(&self.architecture);
        let scaling = self.scaling(&tensors)?;
        let mut expected: Vec<String> = (0..net.tensors())
            .map(|t| net.tensor_info(t).name().to_string())
            .collect();
        if matches!(scaling, Scaling::Standardize { .. }) {
            expected.extend([MEAN_TENSOR.to_string(), INV_STD_TENSOR.to_string()]);
        }
        for name in tensors.names() {
            if !expected.iter().any(|e| e == name) {
                return Err(self.tensor_error(format!(
                    "unexpected tensor `{name}` for architecture {}{DAMAGED}",
                    self.architecture
                )));
            }
        }
        for t in 0..net.tensors() {
            let info = net.tensor_info(t);
            let name = info.name().to_string();
            let values = self.read_tensor(&tensors, &name, info.shape())?;
            net.tensor_mut(t).copy_from_slice(&values);
        }
        Ok(Model {
            net,
            scaling,
            classes: self.classes()?,
            image: self.image()?,
        })
    }

    fn tensor_error(&self, reason: String) -> CheckpointError {
        CheckpointError::Tensor {
            path: self.path.clone(),
            reason,
        }
    }

    fn metadata_error(&self, reason: String) -> CheckpointError {
        CheckpointError::Architecture {
            path: self.path.clone(),
            reason: format!("{reason}{DAMAGED}"),
        }
    }

    /// Tensor `name` of shape `shape`, `F32`, finite.
    fn read_tensor(
        &self,
        tensors: &SafeTensors<'_>,
        name: &str,
        shape: &[usize],
    ) -> Result<Vec<f32>, CheckpointError> {
        let view = tensors.tensor(name).map_err(|_| {
            self.tensor_error(format!(
                "missing tensor `{name}` of shape {shape:?}{DAMAGED}"
            ))
        })?;
        if view.dtype() != Dtype::F32 {
            return Err(self.tensor_error(format!(
                "tensor `{name}` is {:?}, expected F32{DAMAGED}",
                view.dtype()
            )));
        }
        if view.shape() != shape {
            return Err(self.tensor_error(format!(
                "tensor `{name}` has shape {:?}, but the metadata's architecture {} needs {shape:?}: \
                 the metadata and the tensors disagree{DAMAGED}",
                view.shape(),
                self.architecture,
            )));
        }
        let values: Vec<f32> = view
            .data()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        if !values.iter().all(|v| v.is_finite()) {
            return Err(CheckpointError::NotFinite {
                path: self.path.clone(),
                name: name.to_string(),
            });
        }
        Ok(values)
    }

    /// The class names; a checkpoint without them is an MNIST one (`0`…`K-1`).
    fn classes(&self) -> Result<Classes, CheckpointError> {
        let k = self.architecture.classes();
        let Some(text) = self.metadata.get(CLASSES_KEY) else {
            return Ok(Classes::numeric(k));
        };
        let names: Vec<String> = serde_json::from_str(text).map_err(|e| {
            self.metadata_error(format!(
                "metadata `{CLASSES_KEY}` is not a JSON list of names ({e})"
            ))
        })?;
        if names.len() != k {
            return Err(self.metadata_error(format!(
                "metadata names {} classes, but the architecture {} has {k}",
                names.len(),
                self.architecture
            )));
        }
        Ok(Classes::new(names))
    }

    /// The input scaling; a checkpoint without it takes pixels.
    fn scaling(&self, tensors: &SafeTensors<'_>) -> Result<Scaling, CheckpointError> {
        match self.metadata.get(INPUT_KEY).map(String::as_str) {
            None | Some("pixels") => Ok(Scaling::Pixels),
            // What checkpoints said before inputs could be anything else.
            Some(legacy) if legacy.starts_with("28x28 u8 pixels scaled by 1/255") => {
                Ok(Scaling::Pixels)
            }
            Some("none") => Ok(Scaling::None),
            Some("standardize") => {
                let shape = [self.architecture.inputs()];
                Ok(Scaling::Standardize {
                    mean: self.read_tensor(tensors, MEAN_TENSOR, &shape)?,
                    inv_std: self.read_tensor(tensors, INV_STD_TENSOR, &shape)?,
                })
            }
            Some(other) => Err(self.metadata_error(format!(
                "unknown input scaling `{other}` (expected pixels, standardize or none)"
            ))),
        }
    }

    /// The image shape: from the metadata, or 28x28 for a legacy 784-input checkpoint.
    fn image(&self) -> Result<Option<(usize, usize)>, CheckpointError> {
        let inputs = self.architecture.inputs();
        let Some(text) = self.metadata.get(IMAGE_KEY) else {
            let legacy = !self.metadata.contains_key(CLASSES_KEY) && inputs == 784;
            return Ok(legacy.then_some((28, 28)));
        };
        let parsed = text
            .split_once('x')
            .and_then(|(r, c)| Some((r.parse::<usize>().ok()?, c.parse::<usize>().ok()?)));
        match parsed {
            Some((rows, cols)) if rows.checked_mul(cols) == Some(inputs) => Ok(Some((rows, cols))),
            _ => Err(self.metadata_error(format!(
                "metadata `{IMAGE_KEY}` = `{text}` does not describe {inputs} pixels"
            ))),
        }
    }
}

/// The suffix of every message about an inconsistent file.
const DAMAGED: &str = "; the file is damaged or was not written by `host train`";

/// An OS error in words, without the `(os error N)` noise for the common cases.
fn describe_io(error: &std::io::Error) -> String {
    match error.kind() {
        std::io::ErrorKind::NotFound => "not found; train a model with `host train` first".into(),
        std::io::ErrorKind::IsADirectory => {
            "is a directory, expected a checkpoint file (model.safetensors)".into()
        }
        _ => error.to_string(),
    }
}

/// A safetensors container error in words, with the sizes involved.
fn describe_format(error: &safetensors::SafeTensorError, bytes: &[u8]) -> String {
    use safetensors::SafeTensorError as E;
    let declared = bytes.first_chunk::<8>().map(|len| u64::from_le_bytes(*len));
    match (error, declared) {
        (E::HeaderTooSmall, _) => format!(
            "{} bytes, too short for the 8-byte header length{}",
            bytes.len(),
            if bytes.is_empty() {
                " (the file is empty)"
            } else {
                ""
            }
        ),
        (E::HeaderTooLarge | E::InvalidHeaderLength, Some(n)) => format!(
            "its first 8 bytes declare a {n}-byte JSON header, but the file holds {} bytes; \
             it is cut short or not a safetensors file",
            bytes.len()
        ),
        (E::MetadataIncompleteBuffer, _) => {
            "the tensor data does not exactly fill the file: it is cut short or has bytes appended"
                .into()
        }
        _ => error.to_string(),
    }
}
