//! IDX files of any dimensions.
//!
//! An IDX file is a big-endian header followed by the raw elements:
//!
//! | bytes | content |
//! |---|---|
//! | 0, 1 | zero |
//! | 2 | element type: `0x08` u8, `0x09` i8, `0x0B` i16, `0x0C` i32, `0x0D` f32, `0x0E` f64 |
//! | 3 | number of dimensions *n* |
//! | 4 .. 4+4n | each dimension, a big-endian `u32` |
//! | then | the elements, row-major, exactly the product of the dimensions |
//!
//! Contract:
//! - Samples ([`read_idx_samples`]): `N×H×W` (images, `Shape::image` is
//!   `Some((H, W))`) or `N×F` (vectors, `image` `None`), of `u8` (pixels) or
//!   big-endian `f32` (values, every one finite). Other element types give
//!   [`DataError::UnsupportedElementType`].
//! - Labels ([`read_idx_labels`]): one dimension `N` of `u8`.
//! - A file may be gzipped: detected from its bytes, not its name.
//! - Sizes declared in a header are never trusted for allocation: the payload
//!   is read in growing chunks, at most one byte past what the header
//!   declares, so a tiny file claiming billions of samples fails at once and a
//!   gzip stream that inflates to far more than declared is cut off.
//!
//! | file | concept |
//! |---|---|
//! | `header` | [`ElementType`], [`IdxHeader`], [`read_idx_header`]; the payload size checked and read exactly |
//! | `samples` | [`read_idx_samples`]: [`IdxSamples`], images or vectors of `u8` or `f32` |
//! | this file | [`read_idx_labels`]; [`encode_idx`] for tests and tools |

mod header;
mod samples;

use std::io::Read;
use std::path::Path;

use super::error::DataError;
use super::source::{open_file, Source};
use header::{parse_header, payload_size, read_payload, src_path};

pub use header::{read_idx_header, ElementType, IdxHeader};
pub use samples::{parse_idx_samples, read_idx_samples, IdxSamples, IdxValues};

/// Parses an IDX label file (`u8`, one dimension) from any reader, raw or
/// gzipped. `name` is used in error messages only.
pub fn parse_idx_labels<R: Read>(reader: R, name: &Path) -> Result<Vec<u8>, DataError> {
    let mut src = Source::new(reader, name)?;
    let header = parse_header(&mut src)?;
    if header.element_type != ElementType::U8 {
        return Err(DataError::UnsupportedElementType {
            path: src_path(&src),
            code: header.element_type.code(),
            name: header.element_type.name(),
            what: "labels",
            supported: "labels must be u8 (0x08)",
        });
    }
    if header.dims.len() != 1 {
        return Err(DataError::WrongDimensionCount {
            path: src_path(&src),
            what: "labels",
            expected: "1",
            found: header.dims.len(),
            hint: "; are the samples and label files swapped?",
        });
    }
    let bytes = payload_size(&src, &header)?;
    read_payload(&mut src, bytes, format!("{bytes} labels"))
}

/// Reads an IDX label file (gzipped or not, whatever its name).
pub fn read_idx_labels(path: &Path) -> Result<Vec<u8>, DataError> {
    parse_idx_labels(open_file(path)?, path)
}

/// Encodes an IDX file (for tests and tools): `code` is the element type
/// byte, `payload` the raw big-endian elements.
pub fn encode_idx(code: u8, dims: &[u32], payload: &[u8]) -> Vec<u8> {
    let mut out = vec![0, 0, code, u8::try_from(dims.len()).unwrap_or(u8::MAX)];
    for &d in dims {
        out.extend_from_slice(&d.to_be_bytes());
    }
    out.extend_from_slice(payload);
    out
}

#[cfg(test)]
mod tests {
    use super::super::testing::data_dir;
    use super::*;

    #[test]
    fn labels() {
        let l = parse_idx_labels(&encode_idx(8, &[3], &[1, 0, 2])[..], Path::new("l")).unwrap();
        assert_eq!(l, [1, 0, 2]);
        let err =
            parse_idx_labels(&encode_idx(8, &[1, 3], &[1, 0, 2])[..], Path::new("l")).unwrap_err();
        assert!(err.to_string().contains("swapped"), "{err}");
        let err =
            parse_idx_labels(&encode_idx(0x0D, &[1], &[0; 4])[..], Path::new("l")).unwrap_err();
        assert!(err.to_string().contains("labels must be u8"), "{err}");
    }

    #[test]
    fn real_mnist_test_images() {
        let dir = data_dir();
        let header = read_idx_header(&dir.join("t10k-images-idx3-ubyte.gz")).unwrap();
        assert_eq!(header.dims, [10_000, 28, 28]);
        assert!(header.gzipped);
        let labels = read_idx_labels(&dir.join("t10k-labels-idx1-ubyte.gz")).unwrap();
        assert_eq!(labels[..10], [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]);
    }
}
