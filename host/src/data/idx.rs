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

use std::io::Read;
use std::path::Path;

use byteorder::{BigEndian, ByteOrder};

use super::dataset::Shape;
use super::error::DataError;
use super::source::{open_file, Source};

/// The element type of an IDX file (third byte of its magic number).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ElementType {
    /// `0x08`: unsigned byte.
    U8,
    /// `0x09`: signed byte.
    I8,
    /// `0x0B`: big-endian 16-bit integer.
    I16,
    /// `0x0C`: big-endian 32-bit integer.
    I32,
    /// `0x0D`: big-endian 32-bit float.
    F32,
    /// `0x0E`: big-endian 64-bit float.
    F64,
}

impl ElementType {
    /// The type for a type byte, `None` if the byte is no IDX type.
    pub fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            0x08 => Self::U8,
            0x09 => Self::I8,
            0x0B => Self::I16,
            0x0C => Self::I32,
            0x0D => Self::F32,
            0x0E => Self::F64,
            _ => return None,
        })
    }

    /// The type byte.
    pub fn code(self) -> u8 {
        match self {
            Self::U8 => 0x08,
            Self::I8 => 0x09,
            Self::I16 => 0x0B,
            Self::I32 => 0x0C,
            Self::F32 => 0x0D,
            Self::F64 => 0x0E,
        }
    }

    /// A short name: `u8`, `i8`, `i16`, `i32`, `f32`, `f64`.
    pub fn name(self) -> &'static str {
        match self {
            Self::U8 => "u8",
            Self::I8 => "i8",
            Self::I16 => "i16",
            Self::I32 => "i32",
            Self::F32 => "f32",
            Self::F64 => "f64",
        }
    }

    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            Self::U8 | Self::I8 => 1,
            Self::I16 => 2,
            Self::I32 | Self::F32 => 4,
            Self::F64 => 8,
        }
    }
}

/// The header of an IDX file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdxHeader {
    /// The element type.
    pub element_type: ElementType,
    /// The dimensions, outermost first (`[count, rows, cols]` for images).
    pub dims: Vec<u32>,
    /// Whether the file is gzipped.
    pub gzipped: bool,
}

impl IdxHeader {
    /// Number of elements (product of the dimensions), `None` on overflow.
    pub fn element_count(&self) -> Option<usize> {
        self.dims
            .iter()
            .try_fold(1usize, |acc, &d| acc.checked_mul(usize::try_from(d).ok()?))
    }

    /// Payload size in bytes, `None` on overflow.
    pub fn payload_bytes(&self) -> Option<usize> {
        self.element_count()?.checked_mul(self.element_type.size())
    }
}

/// Reads and checks the header: zero bytes, type byte, dimensions.
fn parse_header(src: &mut Source<'_>) -> Result<IdxHeader, DataError> {
    let name = src_path(src);
    let path = || name.clone();
    let mut magic = [0u8; 4];
    let got = src.read_up_to(&mut magic)?;
    if got == 0 {
        return Err(DataError::Empty {
            path: path(),
            gzipped: src.gzipped(),
        });
    }
    if got < 4 {
        return Err(DataError::TruncatedHeader {
            path: path(),
            needed: 4,
            got,
        });
    }
    let [z0, z1, code, ndims] = magic;
    if z0 != 0 || z1 != 0 {
        return Err(DataError::NotIdx {
            path: path(),
            reason: format!(
                "magic number starts {z0:02x} {z1:02x}, an IDX file starts 00 00{}",
                if src.gzipped() {
                    " (after gzip decompression)"
                } else {
                    ""
                }
            ),
        });
    }
    let Some(element_type) = ElementType::from_code(code) else {
        return Err(DataError::NotIdx {
            path: path(),
            reason: format!("unknown element type byte 0x{code:02x}"),
        });
    };
    // At most 255 * 4 bytes: bounded whatever the header says.
    let mut raw = vec![0u8; 4 * usize::from(ndims)];
    let got_dims = src.read_up_to(&mut raw)?;
    if got_dims < raw.len() {
        return Err(DataError::TruncatedHeader {
            path: path(),
            needed: 4 + raw.len(),
            got: 4 + got_dims,
        });
    }
    let dims = raw.chunks_exact(4).map(BigEndian::read_u32).collect();
    Ok(IdxHeader {
        element_type,
        dims,
        gzipped: src.gzipped(),
    })
}

fn src_path(src: &Source<'_>) -> std::path::PathBuf {
    src.path().to_path_buf()
}

/// Reads the header of the IDX file at `path` (gzipped or not); the payload
/// is not read.
pub fn read_idx_header(path: &Path) -> Result<IdxHeader, DataError> {
    let mut src = Source::new(open_file(path)?, path)?;
    parse_header(&mut src)
}

/// Checks there is no zero dimension and the payload size fits in memory;
/// returns the payload size in bytes.
fn payload_size(src: &Source<'_>, header: &IdxHeader) -> Result<usize, DataError> {
    if let Some(index) = header.dims.iter().position(|&d| d == 0) {
        return Err(DataError::ZeroDimension {
            path: src_path(src),
            index,
            dims: header.dims.clone(),
        });
    }
    header
        .payload_bytes()
        .ok_or_else(|| DataError::SizeOverflow {
            path: src_path(src),
            dims: header.dims.clone(),
        })
}

/// Reads exactly `expected` payload bytes: fewer is [`DataError::Truncated`],
/// more is [`DataError::TrailingData`] (reading stops at `expected + 1`).
fn read_payload(src: &mut Source<'_>, expected: usize, what: String) -> Result<Vec<u8>, DataError> {
    let data = src.read_limited(expected.saturating_add(1))?;
    match data.len() {
        n if n == expected => Ok(data),
        n if n < expected => Err(DataError::Truncated {
            path: src_path(src),
            what,
            expected,
            got: n,
        }),
        _ => Err(DataError::TrailingData {
            path: src_path(src),
            what,
            expected,
        }),
    }
}

/// The elements of an IDX samples file.
#[derive(Clone, PartialEq)]
pub enum IdxValues {
    /// `u8` elements (pixels).
    U8(Vec<u8>),
    /// `f32` elements, all finite.
    F32(Vec<f32>),
}

impl std::fmt::Debug for IdxValues {
    /// The length only: the values would be megabytes of output.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            IdxValues::U8(v) => write!(f, "U8(len {})", v.len()),
            IdxValues::F32(v) => write!(f, "F32(len {})", v.len()),
        }
    }
}

/// Samples read from an IDX file.
#[derive(Debug, Clone, PartialEq)]
pub struct IdxSamples {
    /// Number of samples (first dimension).
    pub count: usize,
    /// Features per sample and image size.
    pub shape: Shape,
    /// The elements, sample after sample.
    pub values: IdxValues,
}

/// Parses an IDX samples file (`u8` or `f32`, two or three dimensions) from
/// any reader, raw or gzipped. `name` is used in error messages only.
pub fn parse_idx_samples<R: Read>(reader: R, name: &Path) -> Result<IdxSamples, DataError> {
    let mut src = Source::new(reader, name)?;
    let header = parse_header(&mut src)?;
    if !matches!(header.element_type, ElementType::U8 | ElementType::F32) {
        return Err(DataError::UnsupportedElementType {
            path: src_path(&src),
            code: header.element_type.code(),
            name: header.element_type.name(),
            what: "samples",
            supported: "samples must be u8 (0x08) or f32 (0x0D)",
        });
    }
    if !matches!(header.dims.len(), 2 | 3) {
        return Err(DataError::WrongDimensionCount {
            path: src_path(&src),
            what: "samples",
            expected: "2 (samples x features) or 3 (samples x rows x cols)",
            found: header.dims.len(),
            hint: if header.dims.len() == 1 {
                "; is this the labels file? pass the samples (images) file"
            } else {
                ""
            },
        });
    }
    let bytes = payload_size(&src, &header)?;
    // payload_size checked that the product fits in usize, so each dim does.
    let dim = |i: usize| {
        header
            .dims
            .get(i)
            .and_then(|&d| usize::try_from(d).ok())
            .unwrap_or(0)
    };
    let count = dim(0);
    let (shape, what) = if header.dims.len() == 3 {
        let (rows, cols) = (dim(1), dim(2));
        (
            Shape {
                features: rows * cols,
                image: Some((rows, cols)),
            },
            format!(
                "{count} samples of {rows}x{cols} {}",
                header.element_type.name()
            ),
        )
    } else {
        let features = dim(1);
        (
            Shape {
                features,
                image: None,
            },
            format!(
                "{count} samples of {features} {}",
                header.element_type.name()
            ),
        )
    };
    let payload = read_payload(&mut src, bytes, what)?;
    let values = if header.element_type == ElementType::U8 {
        IdxValues::U8(payload)
    } else {
        let mut values = Vec::new();
        values.reserve_exact(payload.len() / 4);
        for (i, chunk) in payload.chunks_exact(4).enumerate() {
            let value = BigEndian::read_f32(chunk);
            if !value.is_finite() {
                return Err(DataError::NonFinite {
                    path: src_path(&src),
                    sample: i / shape.features,
                    element: i % shape.features,
                    value,
                });
            }
            values.push(value);
        }
        IdxValues::F32(values)
    };
    Ok(IdxSamples {
        count,
        shape,
        values,
    })
}

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

/// Reads an IDX samples file (gzipped or not, whatever its name).
pub fn read_idx_samples(path: &Path) -> Result<IdxSamples, DataError> {
    parse_idx_samples(open_file(path)?, path)
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
    use super::*;

    fn samples(bytes: &[u8]) -> Result<IdxSamples, DataError> {
        parse_idx_samples(bytes, Path::new("s.idx"))
    }

    fn f32_payload(values: &[f32]) -> Vec<u8> {
        values.iter().flat_map(|v| v.to_be_bytes()).collect()
    }

    #[test]
    fn images_of_any_size() {
        let pixels: Vec<u8> = (0..2 * 3 * 4).collect();
        let s = samples(&encode_idx(8, &[2, 3, 4], &pixels)).unwrap();
        assert_eq!(s.count, 2);
        assert_eq!(
            s.shape,
            Shape {
                features: 12,
                image: Some((3, 4))
            }
        );
        assert_eq!(s.values, IdxValues::U8(pixels));
    }

    #[test]
    fn u8_vectors() {
        let s = samples(&encode_idx(8, &[3, 5], &[1; 15])).unwrap();
        assert_eq!(
            (s.count, s.shape),
            (
                3,
                Shape {
                    features: 5,
                    image: None
                }
            )
        );
    }

    #[test]
    fn f32_values_big_endian() {
        let v = [1.5f32, -2.0, 1e-3, 0.0, 7.25, -0.5];
        let s = samples(&encode_idx(0x0D, &[3, 2], &f32_payload(&v))).unwrap();
        assert_eq!(s.values, IdxValues::F32(v.to_vec()));
        assert_eq!(s.shape.image, None);
        let s = samples(&encode_idx(0x0D, &[1, 2, 3], &f32_payload(&v))).unwrap();
        assert_eq!(s.shape.image, Some((2, 3)));
    }

    #[test]
    fn f32_must_be_finite() {
        let v = [1.0f32, 2.0, 3.0, f32::NAN];
        let err = samples(&encode_idx(0x0D, &[2, 2], &f32_payload(&v))).unwrap_err();
        assert!(
            matches!(
                err,
                DataError::NonFinite {
                    sample: 1,
                    element: 1,
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().starts_with("s.idx: value NaN of sample 1"));
    }

    #[test]
    fn header_errors() {
        let err = samples(&[]).unwrap_err();
        assert!(matches!(err, DataError::Empty { .. }));
        let err = samples(&[0, 0, 8]).unwrap_err();
        assert!(matches!(
            err,
            DataError::TruncatedHeader {
                needed: 4,
                got: 3,
                ..
            }
        ));
        let err = samples(b"a,b\n").unwrap_err();
        assert!(matches!(err, DataError::NotIdx { .. }));
        let err = samples(&[0, 0, 0x42, 1]).unwrap_err();
        assert!(err.to_string().contains("unknown element type byte 0x42"));
        let err = samples(&[0, 0, 8, 3, 0, 0]).unwrap_err();
        assert!(matches!(
            err,
            DataError::TruncatedHeader {
                needed: 16,
                got: 6,
                ..
            }
        ));
        let err = samples(&encode_idx(0x0C, &[1, 1], &[0; 4])).unwrap_err();
        assert!(err.to_string().contains("0x0c (i32) for samples"), "{err}");
        let err = samples(&encode_idx(8, &[0, 2], &[])).unwrap_err();
        assert!(matches!(err, DataError::ZeroDimension { index: 0, .. }));
        let err = samples(&encode_idx(8, &[3], &[1, 2, 3])).unwrap_err();
        assert!(err.to_string().contains("is this the labels file"), "{err}");
        let err = samples(&encode_idx(8, &[1, 1, 1, 1], &[1])).unwrap_err();
        assert!(matches!(
            err,
            DataError::WrongDimensionCount { found: 4, .. }
        ));
    }

    #[test]
    fn huge_claims_fail_without_allocating() {
        let err = samples(&encode_idx(8, &[u32::MAX, u32::MAX, u32::MAX], &[1, 2])).unwrap_err();
        // usize is 64-bit here: the product overflows.
        assert!(
            matches!(
                err,
                DataError::SizeOverflow { .. } | DataError::Truncated { .. }
            ),
            "{err}"
        );
        let err = samples(&encode_idx(0x0D, &[4_000_000_000, 1_000], &[0; 8])).unwrap_err();
        assert!(matches!(err, DataError::Truncated { got: 8, .. }), "{err}");
    }

    #[test]
    fn truncated_and_trailing() {
        let err = samples(&encode_idx(8, &[2, 2], &[1, 2, 3])).unwrap_err();
        assert!(
            err.to_string()
                .contains("declares 2 samples of 2 u8 (4 bytes)"),
            "{err}"
        );
        let err = samples(&encode_idx(8, &[2, 2], &[1, 2, 3, 4, 5])).unwrap_err();
        assert!(matches!(err, DataError::TrailingData { expected: 4, .. }));
    }

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
        let dir = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../data"));
        let header = read_idx_header(&dir.join("t10k-images-idx3-ubyte.gz")).unwrap();
        assert_eq!(header.dims, [10_000, 28, 28]);
        assert!(header.gzipped);
        let labels = read_idx_labels(&dir.join("t10k-labels-idx1-ubyte.gz")).unwrap();
        assert_eq!(labels[..10], [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]);
    }
}
