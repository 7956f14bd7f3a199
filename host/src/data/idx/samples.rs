//! IDX samples files: `N×H×W` images or `N×F` vectors of `u8` or `f32`.

use std::io::Read;
use std::path::Path;

use byteorder::{BigEndian, ByteOrder};

use super::super::dataset::Shape;
use super::super::error::DataError;
use super::super::source::{open_file, Source};
use super::header::{parse_header, payload_size, read_payload, src_path, ElementType, IdxHeader};

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
    check_samples_header(&src, &header)?;
    let bytes = payload_size(&src, &header)?;
    let layout = SamplesLayout::of(&header);
    let payload = read_payload(&mut src, bytes, layout.describe(header.element_type))?;
    let values = if header.element_type == ElementType::U8 {
        IdxValues::U8(payload)
    } else {
        IdxValues::F32(decode_f32(&src, &payload, layout.shape.features)?)
    };
    Ok(IdxSamples {
        count: layout.count,
        shape: layout.shape,
        values,
    })
}

/// Checks that a samples file is `u8` or `f32` of two or three dimensions.
fn check_samples_header(src: &Source<'_>, header: &IdxHeader) -> Result<(), DataError> {
    if !matches!(header.element_type, ElementType::U8 | ElementType::F32) {
        return Err(DataError::UnsupportedElementType {
            path: src_path(src),
            code: header.element_type.code(),
            name: header.element_type.name(),
            what: "samples",
            supported: "samples must be u8 (0x08) or f32 (0x0D)",
        });
    }
    if !matches!(header.dims.len(), 2 | 3) {
        return Err(DataError::WrongDimensionCount {
            path: src_path(src),
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
    Ok(())
}

/// What a checked samples header declares: how many samples, of what shape.
struct SamplesLayout {
    count: usize,
    shape: Shape,
}

impl SamplesLayout {
    /// The layout of a header that passed [`check_samples_header`] and
    /// [`payload_size`] (so every dimension fits in `usize`).
    fn of(header: &IdxHeader) -> Self {
        let dim = |i: usize| {
            header
                .dims
                .get(i)
                .and_then(|&d| usize::try_from(d).ok())
                .unwrap_or(0)
        };
        let shape = if header.dims.len() == 3 {
            let (rows, cols) = (dim(1), dim(2));
            Shape {
                features: rows * cols,
                image: Some((rows, cols)),
            }
        } else {
            Shape {
                features: dim(1),
                image: None,
            }
        };
        Self {
            count: dim(0),
            shape,
        }
    }

    /// For errors about the payload, e.g. "2 samples of 28x28 u8".
    fn describe(&self, element_type: ElementType) -> String {
        let count = self.count;
        let name = element_type.name();
        match self.shape.image {
            Some((rows, cols)) => format!("{count} samples of {rows}x{cols} {name}"),
            None => format!("{count} samples of {} {name}", self.shape.features),
        }
    }
}

/// Big-endian `f32` elements, every one finite (`features` per sample, for
/// the error naming a sample).
fn decode_f32(src: &Source<'_>, payload: &[u8], features: usize) -> Result<Vec<f32>, DataError> {
    let mut values = Vec::new();
    values.reserve_exact(payload.len() / 4);
    for (i, chunk) in payload.chunks_exact(4).enumerate() {
        let value = BigEndian::read_f32(chunk);
        if !value.is_finite() {
            return Err(DataError::NonFinite {
                path: src_path(src),
                sample: i / features,
                element: i % features,
                value,
            });
        }
        values.push(value);
    }
    Ok(values)
}

/// Reads an IDX samples file (gzipped or not, whatever its name).
pub fn read_idx_samples(path: &Path) -> Result<IdxSamples, DataError> {
    parse_idx_samples(open_file(path)?, path)
}

#[cfg(test)]
mod tests {
    use super::super::encode_idx;
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
}
