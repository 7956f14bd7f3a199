//! The IDX header (magic number and dimensions) and the payload framing
//! shared by samples and labels: sizes checked before reading, and read
//! exactly, never allocated from what the header declares.

use std::path::{Path, PathBuf};

use byteorder::{BigEndian, ByteOrder};

use super::super::error::DataError;
use super::super::source::{open_file, Source};

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
pub(super) fn parse_header(src: &mut Source<'_>) -> Result<IdxHeader, DataError> {
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

/// The path of `src`, for errors.
pub(super) fn src_path(src: &Source<'_>) -> PathBuf {
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
pub(super) fn payload_size(src: &Source<'_>, header: &IdxHeader) -> Result<usize, DataError> {
    if let Some(index) = header.dims.iter().position(|&d| d == 0) {
        return Err(DataError::ZeroDimension {
            path: src_path(src),
            index,
            dims: header.dims.clone(),
        });
    }
    let bytes = header
        .payload_bytes()
        .ok_or_else(|| DataError::SizeOverflow {
            path: src_path(src),
            dims: header.dims.clone(),
        })?;
    Ok(bytes)
}

/// Reads exactly `expected` payload bytes: fewer is [`DataError::Truncated`],
/// more is [`DataError::TrailingData`] (reading stops at `expected + 1`).
pub(super) fn read_payload(
    src: &mut Source<'_>,
    expected: usize,
    what: String,
) -> Result<Vec<u8>, DataError> {
    let limit = super::super::source::max_data_bytes();
    if expected > limit {
        // Over the limit: count what is there without keeping it, so that a
        // file cut short (or a header that lies) is reported as such.
        let got = std::io::copy(
            &mut std::io::Read::take(&mut *src, expected as u64),
            &mut std::io::sink(),
        )
        .map_err(|e| src.error(e))?;
        let got = usize::try_from(got).unwrap_or(usize::MAX);
        if got < expected {
            return Err(DataError::Truncated {
                path: src_path(src),
                what,
                expected,
                got,
            });
        }
        return Err(DataError::TooLarge {
            path: src_path(src),
            what: format!(
                "its header declares {what}: {:.1} MiB",
                expected as f64 / (1 << 20) as f64
            ),
            limit_mib: limit >> 20,
            suggest: expected.div_ceil(1 << 20),
        });
    }
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
