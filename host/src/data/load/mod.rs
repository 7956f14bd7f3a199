//! [`load`]: a path and [`DataOptions`] to a [`Dataset`], and
//! [`check_compatible`] for a second file.
//!
//! Contract:
//! - A directory is read as MNIST: the IDX pair `train-images-idx3-ubyte`
//!   and `train-labels-idx1-ubyte` for [`Role::Train`], `t10k-…` for
//!   [`Role::Test`], each `.gz` or raw (the `.gz` name preferred; whether it
//!   is gzipped is read from the bytes).
//! - A file is read by [`Format`]: [`Format::Auto`] decides from the bytes
//!   (IDX magic, possibly inside gzip; text is CSV). An IDX samples file
//!   needs its labels beside it: the name with `images` replaced by `labels`
//!   (and `idx3`/`idx2` by `idx1`).
//! - A file whose bytes do not match the format asked for gives an error
//!   saying what it looks like and which option to pass.
//! - With [`DataOptions::classes`] set, labels are mapped into those classes
//!   by name; an unknown label is an error.
//!
//! | file | concept |
//! |---|---|
//! | this file | [`Format`], [`DataOptions`], [`Role`]; [`load()`] decides what a path holds |
//! | `pairs` | IDX samples with their labels file: [`labels_path_for`], [`has_labels_file`], [`load_idx_pair`], MNIST directories ([`load_mnist_dir`]) |
//! | `compatible` | [`check_compatible`]: a second data set that fits the training data |

mod compatible;
mod pairs;

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use super::classes::Classes;
use super::csv::{read_csv, Header, LabelColumn};
use super::dataset::Dataset;
use super::error::DataError;
use super::idx::read_idx_labels;
use super::source::{sniff, Sniffed};
use pairs::load_idx_file;

pub use compatible::check_compatible;
pub use pairs::{has_labels_file, labels_path_for, load_idx_pair, load_mnist_dir};

/// A data file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Format {
    /// Decide from the bytes: IDX magic (possibly gzipped) is IDX, text is
    /// CSV; a directory is MNIST IDX.
    #[default]
    Auto,
    /// IDX: a samples file with its labels file beside it, or a directory of
    /// MNIST files.
    Idx,
    /// A CSV file (see [`csv`](super::csv)).
    Csv,
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::Auto => "auto",
            Format::Idx => "idx",
            Format::Csv => "csv",
        })
    }
}

impl FromStr for Format {
    type Err = String;
    /// `auto`, `idx` or `csv`.
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(Format::Auto),
            "idx" => Ok(Format::Idx),
            "csv" => Ok(Format::Csv),
            _ => Err(format!("unknown format {s:?}: expected auto, idx or csv")),
        }
    }
}

/// How to read a data file.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DataOptions {
    /// The file format (`--format`).
    pub format: Format,
    /// The CSV label column (`--label-column`).
    pub label_column: LabelColumn,
    /// Whether a CSV file has a header (`--header`).
    pub header: Header,
    /// The CSV delimiter (`--delimiter`); `None` detects it.
    pub delimiter: Option<u8>,
    /// The classes labels must map into (from a checkpoint or the training
    /// file); `None` derives them from the file.
    pub classes: Option<Classes>,
}

/// Which MNIST split a directory means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// `train-*` files.
    Train,
    /// `t10k-*` files.
    Test,
}

impl Role {
    /// The MNIST file name prefix: `train` or `t10k`.
    pub fn file_prefix(self) -> &'static str {
        match self {
            Role::Train => "train",
            Role::Test => "t10k",
        }
    }

    /// `train` or `test`.
    pub fn name(self) -> &'static str {
        match self {
            Role::Train => "train",
            Role::Test => "test",
        }
    }
}

/// Loads a data set from a directory (MNIST of `role`) or a file (by
/// `options.format`); see the module docs.
pub fn load(path: &Path, options: &DataOptions, role: Role) -> Result<Dataset, DataError> {
    let meta = std::fs::metadata(path).map_err(|error| {
        if error.kind() == std::io::ErrorKind::NotFound {
            DataError::NotFound {
                path: path.to_path_buf(),
            }
        } else {
            DataError::Io {
                path: path.to_path_buf(),
                error,
            }
        }
    })?;
    if meta.is_dir() {
        if options.format == Format::Csv {
            return Err(DataError::IsDirectory {
                path: path.to_path_buf(),
                hint: "; --format csv needs a CSV file",
            });
        }
        return load_mnist_dir(path, role, options.classes.as_ref());
    }
    let sniffed = sniff(path)?;
    let wrong = |expected: &str, fix: &str| DataError::WrongFormat {
        path: path.to_path_buf(),
        expected: expected.to_owned(),
        looks_like: sniffed.describe(),
        fix: fix.to_owned(),
    };
    match (options.format, sniffed) {
        (_, Sniffed::Empty { gzipped }) => Err(DataError::Empty {
            path: path.to_path_buf(),
            gzipped,
        }),
        (Format::Auto | Format::Idx, Sniffed::Idx { dims: 1, .. }) => {
            let count = read_idx_labels(path)?.len();
            Err(DataError::LabelsGivenAsData {
                path: path.to_path_buf(),
                count,
            })
        }
        (Format::Auto | Format::Idx, Sniffed::Idx { .. }) => {
            load_idx_file(path, options.classes.as_ref())
        }
        (Format::Auto | Format::Csv, Sniffed::CsvText { .. }) => read_csv(path, options),
        (Format::Idx, Sniffed::CsvText { .. }) => Err(wrong(
            "--format idx expects an IDX file",
            "pass --format csv (or --format auto)",
        )),
        (Format::Csv, Sniffed::Idx { .. }) => Err(wrong(
            "--format csv expects CSV text",
            "pass --format idx (or --format auto)",
        )),
        (format, Sniffed::Binary { .. }) => {
            let expected = match format {
                Format::Csv => "--format csv expects CSV text",
                Format::Idx => "--format idx expects an IDX file",
                Format::Auto if looks_like_csv_name(path) => "named like a CSV file",
                Format::Auto => "expected IDX or CSV data",
            };
            Err(wrong(
                expected,
                "pass an IDX file (gzipped or not), a CSV text file, or a directory of MNIST files",
            ))
        }
    }
}

/// `.csv`, `.tsv`, `.txt`, optionally `.gz`, any case.
fn looks_like_csv_name(path: &Path) -> bool {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    let name = name.strip_suffix(".gz").unwrap_or(&name);
    [".csv", ".tsv", ".txt"].iter().any(|e| name.ends_with(e))
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::super::idx::encode_idx;
    use super::super::testing::{data_dir, gzip, opts};
    use super::super::Encoding;
    use super::*;

    #[test]
    fn format_from_str() {
        for (s, f) in [
            ("auto", Format::Auto),
            ("idx", Format::Idx),
            ("csv", Format::Csv),
        ] {
            assert_eq!(s.parse::<Format>(), Ok(f));
            assert_eq!(f.to_string(), s);
        }
        assert!("png".parse::<Format>().is_err());
    }

    #[test]
    fn format_mismatch_says_what_the_file_looks_like() {
        let dir = tempfile::tempdir().unwrap();
        let csv = dir.path().join("d.data");
        fs::write(&csv, "label,a\n1,2\n").unwrap();
        let idx_opts = DataOptions {
            format: Format::Idx,
            ..opts()
        };
        let e = load(&csv, &idx_opts, Role::Train).unwrap_err().to_string();
        assert!(
            e.ends_with(
                "d.data: --format idx expects an IDX file, but it looks like CSV text; \
                         pass --format csv (or --format auto)"
            ),
            "{e}"
        );
        // Auto reads text as CSV whatever the name.
        assert_eq!(load(&csv, &opts(), Role::Train).unwrap().len(), 1);

        let idx = dir.path().join("x-images.csv");
        fs::write(&idx, gzip(&encode_idx(8, &[1, 1], &[1]))).unwrap();
        let csv_opts = DataOptions {
            format: Format::Csv,
            ..opts()
        };
        let e = load(&idx, &csv_opts, Role::Train).unwrap_err().to_string();
        assert!(
            e.contains("looks like a gzipped IDX file (2 dimensions); pass --format idx"),
            "{e}"
        );

        let png = dir.path().join("p.csv");
        fs::write(&png, b"\x89PNG\r\n\x1a\n\0\0\0").unwrap();
        let e = load(&png, &opts(), Role::Train).unwrap_err().to_string();
        assert!(
            e.contains("p.csv: named like a CSV file, but it looks like binary data"),
            "{e}"
        );

        let empty = dir.path().join("e.csv");
        fs::write(&empty, b"").unwrap();
        let e = load(&empty, &opts(), Role::Train).unwrap_err().to_string();
        assert!(e.contains("file is empty"), "{e}");
        let e = load(dir.path(), &csv_opts, Role::Train)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("is a directory, expected a data file; --format csv needs a CSV file"),
            "{e}"
        );
        let e = load(&dir.path().join("nope"), &opts(), Role::Train).unwrap_err();
        assert!(matches!(e, DataError::NotFound { .. }));
    }

    #[test]
    fn real_iris() {
        let path = data_dir().join("iris/iris.csv");
        // Auto finds the species as the only text column.
        for choice in [
            LabelColumn::Auto,
            LabelColumn::Last,
            LabelColumn::Name("species".into()),
        ] {
            let options = DataOptions {
                label_column: choice,
                ..opts()
            };
            let d = load(&path, &options, Role::Train).unwrap();
            assert_eq!(
                (d.len(), d.features(), d.encoding()),
                (150, 4, Encoding::Values)
            );
            assert_eq!(d.classes().names(), ["setosa", "versicolor", "virginica"]);
            assert_eq!(d.class_counts(), [50, 50, 50]);
            assert_eq!(d.values(0), Some(&[5.1, 3.5, 1.4, 0.2][..]));
            assert_eq!(
                d.feature_names().unwrap(),
                [
                    "sepal_length_cm",
                    "sepal_width_cm",
                    "petal_length_cm",
                    "petal_width_cm"
                ]
            );
            let (train, test) = d.stratified_split(0.2, 42).unwrap();
            assert_eq!(
                (train.class_counts(), test.class_counts()),
                (vec![40; 3], vec![10; 3])
            );
        }
        // The first column as labels: the error says what to pass.
        let first = DataOptions {
            label_column: LabelColumn::First,
            ..opts()
        };
        let e = load(&path, &first, Role::Train).unwrap_err().to_string();
        assert!(
            e.contains("line 2, column 5 (species): \"setosa\" is not a number"),
            "{e}"
        );
        assert!(e.contains("pass --label-column"), "{e}");
    }
}
