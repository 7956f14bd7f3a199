//! Writing checkpoints: the safetensors bytes, with a canonical header, and
//! the atomic save.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use safetensors::tensor::{Dtype, TensorView};

use super::{
    CheckpointError, ARCHITECTURE_KEY, CLASSES_KEY, IMAGE_KEY, INPUT_KEY, INV_STD_TENSOR,
    MEAN_TENSOR,
};
use crate::fs::write_atomic;
use crate::model::{Model, Scaling};

/// Serialises `model` with `metadata` (architecture, classes, scaling and
/// image shape are added) into safetensors bytes.
///
/// The output is deterministic: the same model and metadata give the same
/// bytes (the JSON header is rewritten with sorted keys).
pub fn to_bytes(
    model: &Model,
    metadata: &BTreeMap<String, String>,
) -> Result<Vec<u8>, safetensors::SafeTensorError> {
    let net = &model.net;
    let le = |values: &[f32]| {
        values
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect::<Vec<u8>>()
    };
    let mut data: Vec<(String, Vec<usize>, Vec<u8>)> = (0..net.tensors())
        .map(|t| {
            let info = net.tensor_info(t);
            (
                info.name().to_string(),
                info.shape().to_vec(),
                le(net.tensor(t)),
            )
        })
        .collect();
    if let Scaling::Standardize { mean, inv_std } = &model.scaling {
        let shape = vec![mean.len()];
        data.push((MEAN_TENSOR.to_string(), shape.clone(), le(mean)));
        data.push((INV_STD_TENSOR.to_string(), shape, le(inv_std)));
    }
    let views = data
        .iter()
        .map(|(name, shape, bytes)| {
            Ok((
                name.as_str(),
                TensorView::new(Dtype::F32, shape.clone(), bytes)?,
            ))
        })
        .collect::<Result<Vec<_>, safetensors::SafeTensorError>>()?;
    let mut header: HashMap<String, String> = metadata.clone().into_iter().collect();
    header.insert(ARCHITECTURE_KEY.to_string(), net.architecture().to_string());
    header.insert("format".to_string(), "tinymlp".to_string());
    let names = serde_json::to_string(model.classes.names()).expect("strings serialise");
    header.insert(CLASSES_KEY.to_string(), names);
    header.insert(INPUT_KEY.to_string(), model.scaling.name().to_string());
    if let Some((rows, cols)) = model.image {
        header.insert(IMAGE_KEY.to_string(), format!("{rows}x{cols}"));
    }
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
pub fn save(
    path: &Path,
    model: &Model,
    metadata: &BTreeMap<String, String>,
) -> Result<(), CheckpointError> {
    let bytes = to_bytes(model, metadata).map_err(|e| CheckpointError::Format {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    write_atomic(path, &bytes).map_err(|error| CheckpointError::Io {
        path: path.to_path_buf(),
        error,
    })
}
