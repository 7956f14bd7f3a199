//! The IDX format of the MNIST files.
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
//! Only unsigned bytes are read (that is all MNIST uses); other types give
//! [`DataError::UnsupportedElementType`]. A file may be gzipped: this is
//! detected from its first two bytes (`1f 8b`), not from its name.
//!
//! Sizes declared in a header are never trusted for allocation: the payload is
//! read in growing chunks, at most one byte past what the header declares, so
//! a tiny file claiming billions of images fails at once and a gzip stream that
//! inflates to far more than declared is cut off at declared + 1 bytes.

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use byteorder::{BigEndian, ByteOrder};
use flate2::read::MultiGzDecoder;

use crate::dataset::{Dataset, NUM_CLASSES};
use crate::error::DataError;

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

/// The header of an IDX file, as [`read_idx_header`] returns it.
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
        checked_product(&self.dims)
    }

    /// Payload size in bytes, `None` on overflow.
    pub fn payload_bytes(&self) -> Option<usize> {
        self.element_count()?.checked_mul(self.element_type.size())
    }

    /// Header size in bytes (4 + 4 per dimension).
    pub fn header_bytes(&self) -> usize {
        4 + 4 * self.dims.len()
    }
}

/// Smallest chunk the payload reader reserves at a time.
const MIN_CHUNK: usize = 64 * 1024;

fn checked_product(dims: &[u32]) -> Option<usize> {
    dims.iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(usize::try_from(d).ok()?))
}

/// Opens `path` as a file for reading, with errors that name it: missing,
/// a directory, unreadable.
pub(crate) fn open_file(path: &Path) -> Result<File, DataError> {
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_dir() => {
            return Err(DataError::IsDirectory {
                path: path.to_path_buf(),
            })
        }
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(DataError::NotFound {
                path: path.to_path_buf(),
            })
        }
        Err(error) => {
            return Err(DataError::Io {
                path: path.to_path_buf(),
                error,
            })
        }
    }
    File::open(path).map_err(|error| DataError::Io {
        path: path.to_path_buf(),
        error,
    })
}

/// A byte stream, decompressed if it started with the gzip magic, that wraps
/// its read errors with the file name.
pub(crate) struct Source<'a> {
    inner: Box<dyn Read + 'a>,
    /// Whether the underlying bytes are a gzip stream.
    pub(crate) gzipped: bool,
    /// Name used in errors.
    pub(crate) path: PathBuf,
}

impl std::fmt::Debug for Source<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Source")
            .field("path", &self.path)
            .field("gzipped", &self.gzipped)
            .finish_non_exhaustive()
    }
}

impl<'a> Source<'a> {
    /// Sniffs the first two bytes of `reader` and wraps it in a gzip decoder
    /// if they are `1f 8b`.
    pub(crate) fn new<R: Read + 'a>(mut reader: R, path: &Path) -> Result<Self, DataError> {
        let mut magic = [0u8; 2];
        let n = read_up_to(&mut reader, &mut magic).map_err(|error| DataError::Io {
            path: path.to_path_buf(),
            error,
        })?;
        let prefix = io::Cursor::new(magic).take(n as u64);
        let gzipped = n == 2 && magic == [0x1f, 0x8b];
        let chained = prefix.chain(reader);
        let inner: Box<dyn Read + 'a> = if gzipped {
            Box::new(MultiGzDecoder::new(chained))
        } else {
            Box::new(chained)
        };
        Ok(Self {
            inner,
            gzipped,
            path: path.to_path_buf(),
        })
    }

    /// Wraps an io error with the file name (as a gzip error if the stream
    /// is gzipped).
    pub(crate) fn error(&self, error: io::Error) -> DataError {
        let path = self.path.clone();
        if self.gzipped {
            DataError::Gzip { path, error }
        } else {
            DataError::Io { path, error }
        }
    }

    /// Fills `buf` as far as the stream allows; returns the bytes read.
    pub(crate) fn read_up_to(&mut self, buf: &mut [u8]) -> Result<usize, DataError> {
        read_up_to(&mut self.inner, buf).map_err(|e| self.error(e))
    }

    /// Reads at most `limit` bytes into a vector that grows with the data
    /// actually present (never reserving more than twice what was read, and
    /// never more than `limit`).
    pub(crate) fn read_limited(&mut self, limit: usize) -> Result<Vec<u8>, DataError> {
        let mut buf = Vec::new();
        loop {
            let room = limit - buf.len();
            if room == 0 {
                return Ok(buf);
            }
            let chunk = room.min(buf.len().max(MIN_CHUNK));
            buf.reserve_exact(chunk);
            let n = (&mut self.inner)
                .take(chunk as u64)
                .read_to_end(&mut buf)
                .map_err(|e| self.error(e))?;
            if n < chunk {
                return Ok(buf);
            }
        }
    }
}

impl Read for Source<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf)
    }
}

/// Reads until `buf` is full or the stream ends; returns the bytes read.
fn read_up_to<R: Read + ?Sized>(reader: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while let Some(rest) = buf.get_mut(filled..) {
        if rest.is_empty() {
            break;
        }
        match reader.read(rest) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// Reads and checks the header: zero bytes, type byte, dimensions.
fn parse_header(src: &mut Source<'_>) -> Result<IdxHeader, DataError> {
    let name = src.path.clone();
    let path = || name.clone();
    let mut magic = [0u8; 4];
    let got = src.read_up_to(&mut magic)?;
    if got == 0 {
        return Err(DataError::Empty {
            path: path(),
            gzipped: src.gzipped,
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
                if src.gzipped {
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
        gzipped: src.gzipped,
    })
}

/// Reads the header of an IDX file of any element type (for `host inspect`).
///
/// Checks the magic number only; the payload is not read.
pub fn parse_idx_header<R: Read>(reader: R, name: &Path) -> Result<IdxHeader, DataError> {
    let mut src = Source::new(reader, name)?;
    parse_header(&mut src)
}

/// Reads the header of the IDX file at `path` (gzipped or not).
pub fn read_idx_header(path: &Path) -> Result<IdxHeader, DataError> {
    parse_idx_header(open_file(path)?, path)
}

/// Reads a header and checks it is `u8` with `ndims` non-zero dimensions;
/// returns the dims and the payload size.
fn expect_u8_header(
    src: &mut Source<'_>,
    ndims: u8,
    what: &'static str,
) -> Result<(Vec<u32>, usize), DataError> {
    let header = parse_header(src)?;
    if header.element_type != ElementType::U8 {
        return Err(DataError::UnsupportedElementType {
            path: src.path.clone(),
            code: header.element_type.code(),
            name: header.element_type.name(),
        });
    }
    if header.dims.len() != usize::from(ndims) {
        return Err(DataError::WrongDimensionCount {
            path: src.path.clone(),
            what,
            expected: ndims,
            found: u8::try_from(header.dims.len()).unwrap_or(u8::MAX),
        });
    }
    if let Some(index) = header.dims.iter().position(|&d| d == 0) {
        return Err(DataError::ZeroDimension {
            path: src.path.clone(),
            index,
            dims: header.dims,
        });
    }
    let Some(bytes) = header.element_count() else {
        return Err(DataError::SizeOverflow {
            path: src.path.clone(),
            dims: header.dims,
        });
    };
    Ok((header.dims, bytes))
}

/// Reads exactly `expected` payload bytes: fewer is [`DataError::Truncated`],
/// more is [`DataError::TrailingData`] (reading stops at `expected + 1`).
fn read_payload(src: &mut Source<'_>, expected: usize, what: String) -> Result<Vec<u8>, DataError> {
    let data = src.read_limited(expected.saturating_add(1))?;
    match data.len() {
        n if n == expected => Ok(data),
        n if n < expected => Err(DataError::Truncated {
            path: src.path.clone(),
            what,
            expected,
            got: n,
        }),
        _ => Err(DataError::TrailingData {
            path: src.path.clone(),
            what,
            expected,
        }),
    }
}

/// Images read from an IDX file: `(count, rows, cols, pixels)`.
pub type IdxImages = (usize, usize, usize, Vec<u8>);

/// Parses an IDX image file (`u8`, three dimensions) from any reader, raw or
/// gzipped. `name` is used in error messages only.
///
/// Returns `(count, rows, cols, pixels)`, `pixels` row-major per image.
pub fn parse_idx_images<R: Read>(reader: R, name: &Path) -> Result<IdxImages, DataError> {
    let mut src = Source::new(reader, name)?;
    let (dims, expected) = expect_u8_header(&mut src, 3, "images")?;
    // expect_u8_header checked there are three dimensions whose product fits
    // in usize, so each fits too.
    let dim = |i: usize| {
        dims.get(i)
            .and_then(|&d| usize::try_from(d).ok())
            .unwrap_or(0)
    };
    let (count, rows, cols) = (dim(0), dim(1), dim(2));
    let what = format!("{count} images of {rows}x{cols}");
    let pixels = read_payload(&mut src, expected, what)?;
    Ok((count, rows, cols, pixels))
}

/// Parses an IDX label file (`u8`, one dimension) from any reader, raw or
/// gzipped; every label must be below [`NUM_CLASSES`]. `name` is used in
/// error messages only.
pub fn parse_idx_labels<R: Read>(reader: R, name: &Path) -> Result<Vec<u8>, DataError> {
    let mut src = Source::new(reader, name)?;
    let (_, expected) = expect_u8_header(&mut src, 1, "labels")?;
    let labels = read_payload(&mut src, expected, format!("{expected} labels"))?;
    if let Some((index, &label)) = labels
        .iter()
        .enumerate()
        .find(|(_, &l)| usize::from(l) >= NUM_CLASSES)
    {
        return Err(DataError::LabelOutOfRange {
            path: src.path.clone(),
            index,
            label,
        });
    }
    Ok(labels)
}

/// Reads an IDX image file (gzipped or not, whatever its name).
pub fn read_idx_images(path: &Path) -> Result<IdxImages, DataError> {
    parse_idx_images(open_file(path)?, path)
}

/// Reads an IDX label file (gzipped or not, whatever its name).
pub fn read_idx_labels(path: &Path) -> Result<Vec<u8>, DataError> {
    parse_idx_labels(open_file(path)?, path)
}

/// Reads an image file and its label file into a [`Dataset`]; their counts
/// must match.
pub fn load_idx_pair(images: &Path, labels: &Path) -> Result<Dataset, DataError> {
    let label_data = read_idx_labels(labels)?;
    let (count, rows, cols, pixels) = read_idx_images(images)?;
    if count != label_data.len() {
        return Err(DataError::CountMismatch {
            images_path: images.to_path_buf(),
            images: count,
            labels_path: labels.to_path_buf(),
            labels: label_data.len(),
        });
    }
    Dataset::new(rows, cols, pixels, label_data)
}
