//! Errors of the data layer.
//!
//! Every variant that concerns a file carries its path, and its message says
//! what is wrong and, where there is one, the fix.
//!
//! A message is complete on its own: where an underlying [`io::Error`] is the
//! cause, its text is part of the message and it is *not* also returned by
//! [`std::error::Error::source`], so printers that walk the source chain
//! (`anyhow`'s `{:#}`) do not repeat it. [`DataError::io_error`] gives
//! programs the underlying error.

use std::io;
use std::path::PathBuf;

/// Anything that can go wrong while reading or building a data set.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DataError {
    /// The file does not exist.
    #[error("{}: not found", path.display())]
    NotFound {
        /// The missing file.
        path: PathBuf,
    },

    /// A directory was given where a file was expected.
    #[error("{}: is a directory, expected a data file", path.display())]
    IsDirectory {
        /// The directory.
        path: PathBuf,
    },

    /// A directory was expected but the path is not one.
    #[error("{}: is not a directory", path.display())]
    NotADirectory {
        /// The path.
        path: PathBuf,
    },

    /// Opening or reading a plain (uncompressed) file failed.
    #[error("{}: read error: {error}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error (its text is part of the message).
        error: io::Error,
    },

    /// Decompressing a gzipped file failed: bad CRC, corrupt deflate data or
    /// a stream cut short.
    #[error(
        "{}: corrupt or incomplete gzip stream ({error}); the file is damaged or was cut short: \
         download it again (`gzip -t` checks a .gz file)",
        path.display()
    )]
    Gzip {
        /// The file.
        path: PathBuf,
        /// The error reported by the decoder (its text is part of the message).
        error: io::Error,
    },

    /// The file (after decompression, if gzipped) holds no bytes at all.
    #[error("{}: file is empty{}", path.display(), if *gzipped { " (after gzip decompression)" } else { "" })]
    Empty {
        /// The file.
        path: PathBuf,
        /// Whether the file was a gzip stream that decompressed to nothing.
        gzipped: bool,
    },

    /// The bytes are not an IDX file at all.
    #[error("{}: not an IDX file: {reason}", path.display())]
    NotIdx {
        /// The file.
        path: PathBuf,
        /// What gave it away.
        reason: String,
    },

    /// An IDX file of an element type other than unsigned bytes.
    #[error(
        "{}: unsupported IDX element type 0x{code:02x} ({name}); only unsigned bytes (0x08) are supported",
        path.display()
    )]
    UnsupportedElementType {
        /// The file.
        path: PathBuf,
        /// The type byte (third byte of the magic number).
        code: u8,
        /// The type's name.
        name: &'static str,
    },

    /// An IDX file with the wrong number of dimensions for its role.
    #[error(
        "{}: wrong number of dimensions: {what} need {expected}, the header declares {found}; \
         are the image and label files swapped?",
        path.display()
    )]
    WrongDimensionCount {
        /// The file.
        path: PathBuf,
        /// What the file was read as ("images", "labels").
        what: &'static str,
        /// The dimension count required.
        expected: u8,
        /// The dimension count found.
        found: u8,
    },

    /// An IDX header with a zero dimension.
    #[error("{}: dimension {index} of the header ({dims:?}) is zero: the file holds no data", path.display())]
    ZeroDimension {
        /// The file.
        path: PathBuf,
        /// Which dimension (0-based).
        index: usize,
        /// All declared dimensions.
        dims: Vec<u32>,
    },

    /// The declared dimensions multiply to more bytes than fit in memory.
    #[error("{}: header dimensions {dims:?} overflow: their product does not fit in memory", path.display())]
    SizeOverflow {
        /// The file.
        path: PathBuf,
        /// All declared dimensions.
        dims: Vec<u32>,
    },

    /// The stream ends inside the header.
    #[error(
        "{}: truncated header: it needs {needed} bytes but the stream ends after {got} bytes",
        path.display()
    )]
    TruncatedHeader {
        /// The file.
        path: PathBuf,
        /// Header bytes needed.
        needed: usize,
        /// Bytes the stream held.
        got: usize,
    },

    /// The payload is shorter than the header declares.
    #[error(
        "{}: truncated: header declares {what} ({expected} bytes) but the stream ends after {got} bytes \
         of data; the file was cut short: download it again",
        path.display()
    )]
    Truncated {
        /// The file.
        path: PathBuf,
        /// What the header declares, e.g. "60000 images of 28x28".
        what: String,
        /// Payload bytes declared.
        expected: usize,
        /// Payload bytes present.
        got: usize,
    },

    /// The payload is longer than the header declares.
    #[error(
        "{}: trailing data: header declares {what} ({expected} bytes) but the stream holds more; \
         the header or the file is corrupt",
        path.display()
    )]
    TrailingData {
        /// The file.
        path: PathBuf,
        /// What the header declares.
        what: String,
        /// Payload bytes declared.
        expected: usize,
    },

    /// The image and label files disagree on the number of samples.
    #[error(
        "{} holds {images} images but {} holds {labels} labels; use files of the same split",
        images_path.display(),
        labels_path.display()
    )]
    CountMismatch {
        /// The image file.
        images_path: PathBuf,
        /// Its image count.
        images: usize,
        /// The label file.
        labels_path: PathBuf,
        /// Its label count.
        labels: usize,
    },

    /// A label of an IDX label file is not a class.
    #[error(
        "{}: label {label} at index {index} is out of range (must be below {classes})",
        path.display(),
        classes = crate::dataset::NUM_CLASSES
    )]
    LabelOutOfRange {
        /// The file.
        path: PathBuf,
        /// Index of the sample.
        index: usize,
        /// The label found.
        label: u8,
    },

    /// A directory lacks the MNIST files of a split.
    #[error(
        "{}: MNIST {split} files not found: {missing}; put the standard MNIST files (gzipped or not) \
         in this directory",
        dir.display()
    )]
    MissingMnist {
        /// The directory searched.
        dir: PathBuf,
        /// "train" or "test".
        split: &'static str,
        /// The files missing, e.g. "train-images-idx3-ubyte(.gz)".
        missing: String,
    },

    /// A CSV line has the wrong number of fields.
    #[error(
        "{}: line {line}: expected {expected} comma-separated fields (label then {pixels} pixels), found {found}{hint}",
        path.display(),
        pixels = expected.saturating_sub(1),
        hint = if found.checked_add(1) == Some(*expected) { "; is the label column missing?" } else { "" }
    )]
    CsvFieldCount {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// Fields required.
        expected: usize,
        /// Fields found.
        found: usize,
    },

    /// A CSV field is not a whole number in 0..=255.
    #[error("{}: line {line}, column {column}: {value:?} {problem}", path.display())]
    CsvValue {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// 1-based column (column 1 is the label).
        column: usize,
        /// The field as found (cut to 32 characters).
        value: String,
        /// What is wrong with it.
        problem: &'static str,
    },

    /// A CSV label is not a class.
    #[error(
        "{}: line {line}: label {label} is out of range (must be below {classes})",
        path.display(),
        classes = crate::dataset::NUM_CLASSES
    )]
    CsvLabelOutOfRange {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// The label found.
        label: u8,
    },

    /// A CSV line longer than any valid one.
    #[error("{}: line {line} is longer than {limit} bytes: not a MNIST CSV file", path.display())]
    CsvLineTooLong {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// The limit.
        limit: usize,
    },

    /// A CSV file with a header but no data rows.
    #[error("{}: no data rows (only a header or blank lines)", path.display())]
    NoData {
        /// The file.
        path: PathBuf,
    },

    /// The file name does not tell which format it is in.
    #[error("{}: cannot tell the data format: pass a directory of IDX files or a .csv file", path.display())]
    UnknownFormat {
        /// The path.
        path: PathBuf,
    },

    /// Pixels and labels given to [`Dataset::new`](crate::dataset::Dataset::new) do not agree.
    #[error("invalid dataset: {reason}")]
    InvalidDataset {
        /// What does not agree.
        reason: String,
    },

    /// More validation samples requested than the data set holds.
    #[error("cannot split off {requested} validation samples from a data set of {available}")]
    SplitTooLarge {
        /// Samples requested.
        requested: usize,
        /// Samples available.
        available: usize,
    },
}

impl DataError {
    /// The operating system's or the gzip decoder's error behind an
    /// [`Io`](DataError::Io) or [`Gzip`](DataError::Gzip) error.
    pub fn io_error(&self) -> Option<&io::Error> {
        match self {
            DataError::Io { error, .. } | DataError::Gzip { error, .. } => Some(error),
            _ => None,
        }
    }
}
