//! [`DataError`]: everything that can go wrong while reading or building a
//! data set.
//!
//! Contract: every variant that concerns a file carries its path (or the data
//! set's name), and its message says what is wrong and, where there is one,
//! the fix (the option to pass, the file to download again, …).
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
    #[error("{}: not found; check the path", path.display())]
    NotFound {
        /// The missing file.
        path: PathBuf,
    },

    /// A directory was given where a file was expected.
    #[error("{}: is a directory, expected a data file{hint}", path.display())]
    IsDirectory {
        /// The directory.
        path: PathBuf,
        /// What to do instead (may be empty).
        hint: &'static str,
    },

    /// A directory was expected but the path is not one.
    #[error("{}: is not a directory", path.display())]
    NotADirectory {
        /// The path.
        path: PathBuf,
    },

    /// The data would take more memory than [`max_data_bytes`](super::source::max_data_bytes).
    #[error(
        "{}: {what}, more than the limit of {limit_mib} MiB for one data file; if the file is \
         right, pass --max-data-mb {suggest} (memory grows with it)",
        path.display()
    )]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// What it holds, with its size: `declares 1 sample of 20480x20480 u8 (400.0 MiB)`.
        what: String,
        /// The limit, in MiB.
        limit_mib: usize,
        /// A limit that would do, in MiB.
        suggest: usize,
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
         download or compress it again (`gzip -t` checks a .gz file)",
        path.display()
    )]
    Gzip {
        /// The file.
        path: PathBuf,
        /// The error reported by the decoder (its text is part of the message).
        error: io::Error,
    },

    /// The file (after decompression, if gzipped) holds no data at all.
    #[error(
        "{}: file is empty{}; pass a file that holds samples",
        path.display(),
        if *gzipped { " (after gzip decompression)" } else { "" }
    )]
    Empty {
        /// The file.
        path: PathBuf,
        /// Whether the file was a gzip stream that decompressed to nothing.
        gzipped: bool,
    },

    /// The file's bytes are not of the format asked for (or of no format
    /// known); `looks_like` tells what they are and `fix` what to pass.
    #[error("{}: {expected}, but it looks like {looks_like}; {fix}", path.display())]
    WrongFormat {
        /// The file.
        path: PathBuf,
        /// What was expected, e.g. "expected an IDX file (--format idx)".
        expected: String,
        /// What the bytes look like, e.g. "CSV text".
        looks_like: String,
        /// The fix, e.g. "pass --format csv".
        fix: String,
    },

    /// The bytes are not an IDX file at all.
    #[error("{}: not an IDX file: {reason}", path.display())]
    NotIdx {
        /// The file.
        path: PathBuf,
        /// What gave it away.
        reason: String,
    },

    /// An IDX file of an element type this reader does not take.
    #[error(
        "{}: unsupported IDX element type 0x{code:02x} ({name}) for {what}; {supported}: \
         convert the file",
        path.display()
    )]
    UnsupportedElementType {
        /// The file.
        path: PathBuf,
        /// The type byte (third byte of the magic number).
        code: u8,
        /// The type's name.
        name: &'static str,
        /// What the file was read as ("samples", "labels").
        what: &'static str,
        /// What is supported, e.g. "samples must be u8 (0x08) or f32 (0x0D)".
        supported: &'static str,
    },

    /// An IDX file with the wrong number of dimensions for its role.
    #[error(
        "{}: wrong number of dimensions: {what} need {expected}, the header declares {found}{hint}",
        path.display()
    )]
    WrongDimensionCount {
        /// The file.
        path: PathBuf,
        /// What the file was read as ("samples", "labels").
        what: &'static str,
        /// The dimension counts accepted, e.g. "2 or 3".
        expected: &'static str,
        /// The dimension count found.
        found: usize,
        /// What to do (may be empty).
        hint: &'static str,
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
    #[error(
        "{}: header dimensions {dims:?} overflow: their product does not fit in memory; \
         the header is corrupt",
        path.display()
    )]
    SizeOverflow {
        /// The file.
        path: PathBuf,
        /// All declared dimensions.
        dims: Vec<u32>,
    },

    /// The stream ends inside the header.
    #[error(
        "{}: truncated header: it needs {needed} bytes but the stream ends after {got} bytes; \
         the file was cut short: download it again",
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
        /// What the header declares, e.g. "60000 samples of 28x28".
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

    /// An `f32` IDX element that is NaN or infinite.
    #[error(
        "{}: value {value} of sample {sample} (element {element}) is not a finite number; \
         remove or fix that sample",
        path.display()
    )]
    NonFinite {
        /// The file.
        path: PathBuf,
        /// Index of the sample (0-based).
        sample: usize,
        /// Index of the element inside the sample (0-based).
        element: usize,
        /// The value found.
        value: f32,
    },

    /// The sample and label files disagree on the number of samples.
    #[error(
        "{} holds {samples} samples but {} holds {labels} labels; use the labels file of the same data",
        samples_path.display(),
        labels_path.display()
    )]
    CountMismatch {
        /// The samples (images) file.
        samples_path: PathBuf,
        /// Its sample count.
        samples: usize,
        /// The label file.
        labels_path: PathBuf,
        /// Its label count.
        labels: usize,
    },

    /// An IDX samples file whose labels file cannot be found.
    #[error(
        "{}: an IDX samples file needs its labels file beside it{tried}; name the pair \
         `NAME-images-idx3-ubyte` and `NAME-labels-idx1-ubyte` (or pass a directory holding the \
         MNIST files, or a CSV file with a label column)",
        path.display()
    )]
    MissingLabels {
        /// The samples file.
        path: PathBuf,
        /// The names tried, e.g. " (looked for t-labels-idx1-ubyte(.gz))", or
        /// why none could be derived.
        tried: String,
    },

    /// An IDX labels file given where samples were expected.
    #[error(
        "{}: is an IDX labels file ({count} labels), not samples; pass the images file, its labels \
         file is found beside it",
        path.display()
    )]
    LabelsGivenAsData {
        /// The file.
        path: PathBuf,
        /// Labels it holds.
        count: usize,
    },

    /// A directory lacks the MNIST files of a split.
    #[error(
        "{}: MNIST {split} files not found: {missing}; put the standard MNIST files (gzipped or not) \
         in this directory, or pass a data file",
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

    /// A label that is not one of the known classes.
    #[error(
        "{}: {place}: label {label:?} is not one of the {count} known classes ({known}); \
         use data with the same classes as the training data",
        path.display()
    )]
    UnknownLabel {
        /// The file.
        path: PathBuf,
        /// Where, e.g. "line 17" or "label 3".
        place: String,
        /// The label as found.
        label: String,
        /// How many classes are known.
        count: usize,
        /// The known classes (possibly shortened).
        known: String,
    },

    /// More distinct labels (or a larger numeric label) than classes allowed.
    #[error(
        "{}: {what}; at most {max} classes are supported: is the label column right \
         (--label-column)?",
        path.display()
    )]
    TooManyClasses {
        /// The file.
        path: PathBuf,
        /// What was found, e.g. "label 70000 needs 70001 classes".
        what: String,
        /// The limit.
        max: usize,
    },

    /// `--label-column auto` took the only column of text for the labels,
    /// but it holds nearly one value per row: not classes.
    #[error(
        "{}: {column} was taken as the label column, being the only column of text, but it \
         holds {classes} different values in {rows} rows; pass --label-column with the column \
         of the classes",
        path.display()
    )]
    GuessedLabelColumn {
        /// The file.
        path: PathBuf,
        /// The column, e.g. "column 4 (time)".
        column: String,
        /// Its distinct values.
        classes: usize,
        /// Data rows.
        rows: usize,
    },

    /// A CSV line has the wrong number of fields.
    #[error(
        "{}: line {line} has {found} fields, expected {expected} (as {first}); {hint}",
        path.display()
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
        /// What set the expectation, e.g. "the header on line 1".
        first: String,
        /// The likely fix.
        hint: &'static str,
    },

    /// A CSV file with too few columns to hold a label and a feature.
    #[error(
        "{}: line {line} has {found} field(s) with delimiter {delimiter:?}; a sample needs a label \
         and at least one feature: {hint}",
        path.display()
    )]
    CsvTooFewColumns {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// Fields found.
        found: usize,
        /// The delimiter used.
        delimiter: char,
        /// What the line looks like and the fix.
        hint: String,
    },

    /// A CSV feature cell that is not a finite number.
    #[error("{}: line {line}, {column}: {value:?} {problem}{hint}", path.display())]
    CsvValue {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// The column, e.g. "column 3 (petal_length)" (1-based).
        column: String,
        /// The cell as found (shortened).
        value: String,
        /// What is wrong with it.
        problem: &'static str,
        /// The likely fix (may be empty).
        hint: String,
    },

    /// A CSV label cell that is empty.
    #[error("{}: line {line}, {column}: the label is empty; give every sample a label", path.display())]
    CsvEmptyLabel {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// The label column, e.g. "column 1 (label)".
        column: String,
    },

    /// The CSV reader failed (malformed quoting and the like).
    #[error("{}: line {line}: malformed CSV: {message}", path.display())]
    CsvSyntax {
        /// The file.
        path: PathBuf,
        /// 1-based line number (0 if unknown).
        line: u64,
        /// The reader's message.
        message: String,
    },

    /// The label column asked for does not exist.
    #[error("{}: {problem}; pass --label-column with {choices}", path.display())]
    LabelColumn {
        /// The file.
        path: PathBuf,
        /// What is wrong, e.g. "no column named \"kind\"".
        problem: String,
        /// The valid choices, e.g. the header's column names.
        choices: String,
    },

    /// A data file with no samples (e.g. only a header).
    #[error("{}: no data rows (only a header or blank lines); pass a file that holds samples", path.display())]
    NoData {
        /// The file.
        path: PathBuf,
    },

    /// Two data sets that cannot be used together (different columns, image
    /// sizes or kinds of values).
    #[error("{other}: {found}, but the training data {train} has {expected} ({fix})")]
    Incompatible {
        /// The data set checked.
        other: String,
        /// The training data set.
        train: String,
        /// What `other` holds, e.g. "63 features".
        found: String,
        /// What the training data holds, e.g. "64".
        expected: String,
        /// The rule, e.g. "both files must have the same columns".
        fix: &'static str,
    },

    /// Parts given to a [`Dataset`](super::Dataset) constructor do not agree.
    #[error("{name}: invalid data set: {reason}")]
    InvalidDataset {
        /// The data set's name.
        name: String,
        /// What does not agree.
        reason: String,
    },

    /// `--val` asks for too many samples.
    #[error(
        "--val {requested}: {name} holds {available} samples, so no training samples would be left; \
         pass a smaller --val"
    )]
    ValidationTooLarge {
        /// The data set's name.
        name: String,
        /// Samples requested.
        requested: usize,
        /// Samples available.
        available: usize,
    },

    /// `--test-fraction` out of range or leaving one side empty.
    #[error("--test-fraction {fraction}: {name}: {problem}")]
    TestFraction {
        /// The data set's name.
        name: String,
        /// The fraction asked for.
        fraction: f64,
        /// What is wrong and the fix.
        problem: String,
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

#[cfg(test)]
mod tests;
