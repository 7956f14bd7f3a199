//! Checkpoints as `safetensors` files.
//!
//! Tensors are named like PyTorch's (`fc1.weight` `[out, in]`, `fc1.bias`
//! `[out]`, …), stored as little-endian `F32`, so Python reads them with
//! `safetensors.numpy.load_file`. The `__metadata__` header holds the
//! architecture (`784-64-10`) and how the model was trained.

use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::path::{Path, PathBuf};

use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use tinymlp::Parameters;

use crate::arch::{Architecture, ArchitectureError};
use crate::atomic::write_atomic;

/// Largest checkpoint we read: the biggest compiled network is under 1 MB.
pub const MAX_CHECKPOINT_BYTES: u64 = 64 << 20;

/// Metadata key holding the layer list.
pub const ARCHITECTURE_KEY: &str = "architecture";

/// Something wrong with a checkpoint file.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// The file could not be read or written.
    ///
    /// The OS error's text is part of the message, so it is not also a
    /// `source()` (see [`crate::error`]).
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
    /// Reads and validates the container; the tensors are checked by [`Checkpoint::load_into`].
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
    fn architecture_parameter_count(&self) -> usize {
        let layers = self.architecture.layers();
        layers.windows(2).map(|w| w[0] * w[1] + w[1]).sum()
    }

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

    /// Copies the tensors into `net`, checking that the file holds exactly
    /// `N`'s tensors with `N`'s shapes, as `F32`, all finite.
    ///
    /// On an error `net` may hold some of the file's tensors: discard it.
    pub fn load_into<N: Parameters>(&self, net: &mut N) -> Result<(), CheckpointError> {
        let tensor_error = |reason: String| CheckpointError::Tensor {
            path: self.path.clone(),
            reason,
        };
        let tensors =
            SafeTensors::deserialize(&self.bytes).map_err(|e| CheckpointError::Format {
                path: self.path.clone(),
                reason: describe_format(&e, &self.bytes),
            })?;
        let expected: Vec<_> = (0..N::TENSORS).map(N::tensor_info).collect();
        // Whether `N` is the network the metadata names: then a tensor that
        // does not fit means the file contradicts itself.
        let fits_metadata = N::parameter_count() == self.architecture_parameter_count();
        let damaged = "; the file is damaged or was not written by `host train`";
        for name in tensors.names() {
            if !expected.iter().any(|info| info.name == name) {
                return Err(tensor_error(format!(
                    "unexpected tensor `{name}` for architecture {}{damaged}",
                    self.architecture
                )));
            }
        }
        for (i, info) in expected.iter().enumerate() {
            let view = tensors.tensor(info.name).map_err(|_| {
                tensor_error(format!(
                    "missing tensor `{}` of shape {:?}{damaged}",
                    info.name,
                    info.shape()
                ))
            })?;
            if view.dtype() != Dtype::F32 {
                return Err(tensor_error(format!(
                    "tensor `{}` is {:?}, expected F32{damaged}",
                    info.name,
                    view.dtype()
                )));
            }
            if view.shape() != info.shape() {
                return Err(tensor_error(if fits_metadata {
                    format!(
                        "tensor `{}` has shape {:?}, but the metadata's architecture {} needs {:?}: \
                         the metadata and the tensors disagree{damaged}",
                        info.name,
                        view.shape(),
                        self.architecture,
                        info.shape()
                    )
                } else {
                    format!(
                        "tensor `{}` has shape {:?} (architecture {}), but the network it is loaded \
                         into needs {:?}",
                        info.name,
                        view.shape(),
                        self.architecture,
                        info.shape()
                    )
                }));
            }
            let target = net.tensor_mut(i);
            for (value, bytes) in target.iter_mut().zip(view.data().chunks_exact(4)) {
                *value = f32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
            }
            if !target.iter().all(|v| v.is_finite()) {
                return Err(CheckpointError::NotFinite {
                    path: self.path.clone(),
                    name: info.name.to_string(),
                });
            }
        }
        Ok(())
    }
}

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

/// Serialises `net` with `metadata` (the architecture is added) into safetensors bytes.
///
/// The output is deterministic: the same parameters and metadata give the
/// same bytes (the JSON header is rewritten with sorted keys).
pub fn to_bytes<N: Parameters>(
    net: &N,
    architecture: &Architecture,
    metadata: &BTreeMap<String, String>,
) -> Result<Vec<u8>, safetensors::SafeTensorError> {
    let data: Vec<(&'static str, Vec<usize>, Vec<u8>)> = (0..N::TENSORS)
        .map(|i| {
            let info = N::tensor_info(i);
            let bytes = net.tensor(i).iter().flat_map(|v| v.to_le_bytes()).collect();
            (info.name, info.shape().to_vec(), bytes)
        })
        .collect();
    let views = data
        .iter()
        .map(|(name, shape, bytes)| Ok((*name, TensorView::new(Dtype::F32, shape.clone(), bytes)?)))
        .collect::<Result<Vec<_>, safetensors::SafeTensorError>>()?;
    let mut header: HashMap<String, String> = metadata.clone().into_iter().collect();
    header.insert(ARCHITECTURE_KEY.to_string(), architecture.to_string());
    header.insert("format".to_string(), "tinymlp".to_string());
    let bytes = safetensors::serialize(views, Some(header))?;
    Ok(canonical_header(bytes))
}

/// Rewrites the JSON header with its keys sorted.
///
/// `safetensors` takes the metadata as a `HashMap` and writes it in hash
/// order, which changes from run to run; sorting makes checkpoints
/// byte-identical for identical content. The compact JSON has the same length
/// in any key order, so the data offsets stay valid.
fn canonical_header(mut bytes: Vec<u8>) -> Vec<u8> {
    let Some(len_bytes) = bytes.first_chunk::<8>() else {
        return bytes;
    };
    let header_len = u64::from_le_bytes(*len_bytes) as usize;
    let Some(header) = bytes.get(8..8 + header_len) else {
        return bytes;
    };
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(header) else {
        return bytes;
    };
    let Ok(mut sorted) = serde_json::to_vec(&sort_keys(value)) else {
        return bytes;
    };
    if sorted.len() > header_len {
        return bytes;
    }
    sorted.resize(header_len, b' ');
    bytes[8..8 + header_len].copy_from_slice(&sorted);
    bytes
}

fn sort_keys(value: serde_json::Value) -> serde_json::Value {
    match value {
        serde_json::Value::Object(map) => {
            let sorted: BTreeMap<String, serde_json::Value> =
                map.into_iter().map(|(k, v)| (k, sort_keys(v))).collect();
            serde_json::Value::Object(sorted.into_iter().collect())
        }
        other => other,
    }
}

/// Writes a checkpoint atomically (temporary file + rename).
pub fn save<N: Parameters>(
    path: &Path,
    net: &N,
    architecture: &Architecture,
    metadata: &BTreeMap<String, String>,
) -> Result<(), CheckpointError> {
    let bytes = to_bytes(net, architecture, metadata).map_err(|e| CheckpointError::Format {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    write_atomic(path, &bytes).map_err(|error| CheckpointError::Io {
        path: path.to_path_buf(),
        error,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tinymlp::{Mlp, Network, Rng};

    fn sample() -> (Box<Mlp<784, 16, 10>>, Architecture) {
        let mut net: Box<Mlp<784, 16, 10>> = bytemuck::zeroed_box();
        net.init(&mut Rng::new(4));
        (net, "16".parse().unwrap())
    }

    #[test]
    fn round_trips_bit_exactly_and_deterministically() {
        let (net, arch) = sample();
        let meta: BTreeMap<_, _> = [
            ("seed", "4"),
            ("epochs", "1"),
            ("zeta", "z"),
            ("alpha", "a"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let a = to_bytes(&*net, &arch, &meta).unwrap();
        for _ in 0..5 {
            assert_eq!(
                a,
                to_bytes(&*net, &arch, &meta).unwrap(),
                "bytes differ between two saves"
            );
        }
        let ckpt = Checkpoint::from_bytes(Path::new("m.safetensors"), a).unwrap();
        assert_eq!(ckpt.architecture(), &arch);
        assert_eq!(ckpt.metadata()["seed"], "4");
        let mut back: Box<Mlp<784, 16, 10>> = bytemuck::zeroed_box();
        ckpt.load_into(&mut *back).unwrap();
        assert_eq!(*back, *net);
    }

    #[test]
    fn shape_mismatch_and_lying_metadata_are_errors() {
        let (net, arch) = sample();
        let bytes = to_bytes(&*net, &arch, &BTreeMap::new()).unwrap();
        let ckpt = Checkpoint::from_bytes(Path::new("m.safetensors"), bytes.clone()).unwrap();
        let mut wrong: Box<Mlp<784, 32, 10>> = bytemuck::zeroed_box();
        let err = ckpt.load_into(&mut *wrong).unwrap_err().to_string();
        assert!(
            err.contains("fc1.weight") && err.contains("[16, 784]"),
            "{err}"
        );

        // Metadata claims 784-64-10 while the tensors are 784-16-10.
        let liar = to_bytes(&*net, &"64".parse().unwrap(), &BTreeMap::new()).unwrap();
        let ckpt = Checkpoint::from_bytes(Path::new("liar.safetensors"), liar).unwrap();
        let mut as_claimed: Box<Mlp<784, 64, 10>> = bytemuck::zeroed_box();
        let err = ckpt.load_into(&mut *as_claimed).unwrap_err().to_string();
        assert!(
            err.contains("liar.safetensors") && err.contains("needs [64, 784]"),
            "{err}"
        );

        let err = Checkpoint::from_bytes(Path::new("junk.bin"), b"not a checkpoint".to_vec())
            .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("junk.bin: not a valid safetensors"),
            "{err}"
        );
        let err =
            Checkpoint::from_bytes(Path::new("cut"), bytes[..bytes.len() - 3].to_vec()).map(|c| {
                let mut n: Box<Mlp<784, 16, 10>> = bytemuck::zeroed_box();
                c.load_into(&mut *n)
            });
        assert!(
            matches!(err, Err(_) | Ok(Err(_))),
            "a truncated checkpoint must not load"
        );
    }
}
