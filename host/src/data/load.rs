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

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use super::classes::{Classes, LabelSet};
use super::csv::{read_csv, Header, LabelColumn};
use super::dataset::Dataset;
use super::error::DataError;
use super::idx::{read_idx_labels, read_idx_samples, IdxValues};
use super::source::{sniff, Sniffed};

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

/// The labels file beside an IDX samples file: `images` → `labels`, `idx3`
/// and `idx2` → `idx1`; `None` if the name has no `images`.
pub fn labels_path_for(images: &Path) -> Option<PathBuf> {
    let name = images.file_name()?.to_str()?;
    if !name.contains("images") {
        return None;
    }
    let labels = name
        .replace("images", "labels")
        .replace("idx3", "idx1")
        .replace("idx2", "idx1");
    Some(images.with_file_name(labels))
}

/// Loads an IDX samples file and the labels file beside it.
fn load_idx_file(path: &Path, classes: Option<&Classes>) -> Result<Dataset, DataError> {
    let Some(labels) = labels_path_for(path) else {
        return Err(DataError::MissingLabels {
            path: path.to_path_buf(),
            tried: " (its name has no \"images\" to replace by \"labels\")".into(),
        });
    };
    // The derived name, or it with `.gz` added or removed.
    let name = labels.file_name().unwrap_or_default().to_string_lossy();
    let other = match name.strip_suffix(".gz") {
        Some(raw) => labels.with_file_name(raw),
        None => labels.with_file_name(format!("{name}.gz")),
    };
    let Some(found) = [&labels, &other].into_iter().find(|p| p.is_file()) else {
        return Err(DataError::MissingLabels {
            path: path.to_path_buf(),
            tried: format!(" (looked for {})", labels.display()),
        });
    };
    load_idx_pair(path, found, classes)
}

/// Finds `name.gz`, else `name`, in `dir`.
fn find_file(dir: &Path, name: &str) -> Option<PathBuf> {
    [format!("{name}.gz"), name.to_owned()]
        .into_iter()
        .map(|n| dir.join(n))
        .find(|p| p.is_file())
}

/// Loads the MNIST pair of `role` from `dir` (see the module docs); if files
/// are missing, the error names every one of them.
pub fn load_mnist_dir(
    dir: &Path,
    role: Role,
    classes: Option<&Classes>,
) -> Result<Dataset, DataError> {
    match std::fs::metadata(dir) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => {
            return Err(DataError::NotADirectory {
                path: dir.to_path_buf(),
            })
        }
        Err(_) => {
            return Err(DataError::NotFound {
                path: dir.to_path_buf(),
            })
        }
    }
    let p = role.file_prefix();
    let images_name = format!("{p}-images-idx3-ubyte");
    let labels_name = format!("{p}-labels-idx1-ubyte");
    match (find_file(dir, &images_name), find_file(dir, &labels_name)) {
        (Some(images), Some(labels)) => load_idx_pair(&images, &labels, classes),
        (images, labels) => {
            let missing: Vec<String> = [(images, images_name), (labels, labels_name)]
                .into_iter()
                .filter(|(found, _)| found.is_none())
                .map(|(_, name)| format!("{name}(.gz)"))
                .collect();
            Err(DataError::MissingMnist {
                dir: dir.to_path_buf(),
                split: role.name(),
                missing: missing.join(" and "),
            })
        }
    }
}

/// Reads a samples file and its labels file into a [`Dataset`] named after
/// the samples file; their counts must match.
pub fn load_idx_pair(
    samples: &Path,
    labels: &Path,
    classes: Option<&Classes>,
) -> Result<Dataset, DataError> {
    let label_bytes = read_idx_labels(labels)?;
    let data = read_idx_samples(samples)?;
    if data.count != label_bytes.len() {
        return Err(DataError::CountMismatch {
            samples_path: samples.to_path_buf(),
            samples: data.count,
            labels_path: labels.to_path_buf(),
            labels: label_bytes.len(),
        });
    }
    let (labels_idx, classes) = match classes {
        // The common case, without going through text.
        None => {
            let max = label_bytes.iter().copied().max().unwrap_or(0);
            (
                label_bytes.iter().map(|&l| u16::from(l)).collect(),
                Classes::numeric(usize::from(max) + 1),
            )
        }
        Some(known) => {
            let mut set = LabelSet::new();
            for (i, l) in label_bytes.iter().enumerate() {
                set.push(&l.to_string(), i);
            }
            set.finish(labels, Some(known), |i| format!("label {i}"))?
        }
    };
    let name = samples.display().to_string();
    match data.values {
        IdxValues::U8(pixels) => {
            Dataset::from_pixels(name, data.shape, pixels, labels_idx, classes)
        }
        IdxValues::F32(values) => {
            Dataset::from_values(name, data.shape, values, labels_idx, classes)
        }
    }
}

/// Checks that `other` fits `train`: same feature count, same image shape,
/// same encoding; one error naming both files and both shapes.
pub fn check_compatible(train: &Dataset, other: &Dataset) -> Result<(), DataError> {
    let fail = |found: String, expected: String, fix: &'static str| {
        Err(DataError::Incompatible {
            other: other.name().to_owned(),
            train: train.name().to_owned(),
            found,
            expected,
            fix,
        })
    };
    let (a, b) = (train.shape(), other.shape());
    match (a.image, b.image) {
        (Some((r, c)), Some((r2, c2))) if (r, c) != (r2, c2) => {
            return fail(
                format!("{r2}x{c2} images"),
                format!("{r}x{c}"),
                "both must hold images of the same size",
            )
        }
        _ => {}
    }
    if a.features != b.features {
        return fail(
            format!("{} features", b.features),
            a.features.to_string(),
            "both files must have the same columns",
        );
    }
    if a.image.is_some() != b.image.is_some() {
        let describe = |s: super::Shape| match s.image {
            Some((r, c)) => format!("{r}x{c} images"),
            None => format!("{} features (not images)", s.features),
        };
        return fail(
            describe(b),
            describe(a),
            "both must hold the same kind of samples",
        );
    }
    if train.encoding() != other.encoding() {
        return fail(
            other.encoding().to_string(),
            train.encoding().to_string(),
            "both must hold the same kind of values",
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::io::Write;

    use super::super::idx::encode_idx;
    use super::super::{Encoding, Shape};
    use super::*;

    fn repo() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
    }

    fn mnist_dir() -> PathBuf {
        repo().join("data")
    }

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(bytes).unwrap();
        enc.finish().unwrap()
    }

    fn opts() -> DataOptions {
        DataOptions::default()
    }

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
    fn labels_path_names() {
        let p = |s: &str| labels_path_for(Path::new(s)).map(|p| p.display().to_string());
        assert_eq!(
            p("d/train-images-idx3-ubyte.gz").as_deref(),
            Some("d/train-labels-idx1-ubyte.gz")
        );
        assert_eq!(p("x/images.idx").as_deref(), Some("x/labels.idx"));
        assert_eq!(
            p("v-images-idx2-ubyte").as_deref(),
            Some("v-labels-idx1-ubyte")
        );
        assert_eq!(p("data.idx"), None);
    }

    #[test]
    fn idx_files_of_any_shape_with_sibling_labels() {
        let dir = tempfile::tempdir().unwrap();
        // f32 vectors, raw; labels gzipped under the .gz name.
        let v: Vec<u8> = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0]
            .iter()
            .flat_map(|x| x.to_be_bytes())
            .collect();
        fs::write(
            dir.path().join("s-images-idx2-f32"),
            encode_idx(0x0D, &[2, 3], &v),
        )
        .unwrap();
        fs::write(
            dir.path().join("s-labels-idx1-f32.gz"),
            gzip(&encode_idx(8, &[2], &[4, 1])),
        )
        .unwrap();
        let d = load(&dir.path().join("s-images-idx2-f32"), &opts(), Role::Train).unwrap();
        assert_eq!(d.encoding(), Encoding::Values);
        assert_eq!(
            d.shape(),
            Shape {
                features: 3,
                image: None
            }
        );
        assert_eq!(d.values(1), Some(&[4.0, 5.0, 6.0][..]));
        assert_eq!((d.labels(), d.classes().len()), (&[4u16, 1][..], 5));

        // u8 images, gzipped, through --format idx; known classes.
        let images = dir.path().join("p-images.idx.gz");
        fs::write(&images, gzip(&encode_idx(8, &[2, 2, 3], &[9; 12]))).unwrap();
        fs::write(
            dir.path().join("p-labels.idx.gz"),
            gzip(&encode_idx(8, &[2], &[1, 0])),
        )
        .unwrap();
        let options = DataOptions {
            format: Format::Idx,
            classes: Some(Classes::new(vec!["1".into(), "0".into()])),
            ..opts()
        };
        let d = load(&images, &options, Role::Test).unwrap();
        assert_eq!(
            (d.encoding(), d.shape().image),
            (Encoding::Pixels, Some((2, 3)))
        );
        assert_eq!(d.labels(), [0, 1]);
        let options = DataOptions {
            classes: Some(Classes::numeric(1)),
            ..opts()
        };
        let e = load(&images, &options, Role::Test).unwrap_err().to_string();
        assert!(
            e.contains(
                "p-labels.idx.gz: label 0: label \"1\" is not one of the 1 known classes (0)"
            ),
            "{e}"
        );

        // u8 vectors.
        let vec_path = dir.path().join("u-images");
        fs::write(&vec_path, encode_idx(8, &[1, 5], &[1, 2, 3, 4, 5])).unwrap();
        fs::write(dir.path().join("u-labels"), encode_idx(8, &[1], &[0])).unwrap();
        let d = load(&vec_path, &opts(), Role::Train).unwrap();
        assert_eq!(
            (d.encoding(), d.shape().image, d.features()),
            (Encoding::Pixels, None, 5)
        );
    }

    #[test]
    fn idx_errors() {
        let dir = tempfile::tempdir().unwrap();
        let lonely = dir.path().join("data.idx");
        fs::write(&lonely, encode_idx(8, &[1, 2], &[1, 2])).unwrap();
        let e = load(&lonely, &opts(), Role::Train).unwrap_err().to_string();
        assert!(
            e.contains("needs its labels file beside it (its name has no \"images\""),
            "{e}"
        );
        let orphan = dir.path().join("a-images");
        fs::write(&orphan, encode_idx(8, &[1, 2], &[1, 2])).unwrap();
        let e = load(&orphan, &opts(), Role::Train).unwrap_err().to_string();
        assert!(e.contains("(looked for "), "{e}");
        assert!(e.contains("a-labels)"), "{e}");
        fs::write(dir.path().join("a-labels"), encode_idx(8, &[3], &[1, 2, 3])).unwrap();
        let e = load(&orphan, &opts(), Role::Train).unwrap_err().to_string();
        assert!(e.contains("holds 1 samples but"), "{e}");
        assert!(e.contains("holds 3 labels"), "{e}");
        let e = load(&dir.path().join("a-labels"), &opts(), Role::Train)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("is an IDX labels file (3 labels), not samples"),
            "{e}"
        );
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
    fn mnist_directory_names_missing_files() {
        let dir = tempfile::tempdir().unwrap();
        let e = load(dir.path(), &opts(), Role::Test)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(
                "MNIST test files not found: t10k-images-idx3-ubyte(.gz) and \
                        t10k-labels-idx1-ubyte(.gz)"
            ),
            "{e}"
        );
    }

    #[test]
    fn real_mnist_test_split_through_the_directory_and_as_csv() {
        let d = load(&mnist_dir(), &opts(), Role::Test).unwrap();
        assert_eq!((d.len(), d.features()), (10_000, 784));
        assert_eq!(
            (d.encoding(), d.shape().image),
            (Encoding::Pixels, Some((28, 28)))
        );
        assert_eq!(d.labels()[..10], [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]);
        assert_eq!(
            d.class_counts(),
            [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
        );
        assert!(d.classes().is_numeric() && d.classes().len() == 10);
        assert!(d.name().ends_with("t10k-images-idx3-ubyte.gz"));

        // The same samples written as an MNIST CSV (first 500, with a header).
        let part = d.take(500);
        let dir = tempfile::tempdir().unwrap();
        let csv = dir.path().join("t10k.csv");
        let mut text = String::from("label");
        for i in 0..784 {
            text.push_str(&format!(",p{i}"));
        }
        text.push('\n');
        for i in 0..part.len() {
            text.push_str(&part.label(i).to_string());
            for p in part.pixels(i).unwrap() {
                text.push_str(&format!(",{p}"));
            }
            text.push('\n');
        }
        fs::write(&csv, text).unwrap();
        let c = load(&csv, &opts(), Role::Test).unwrap();
        assert_eq!((c.encoding(), c.shape()), (part.encoding(), part.shape()));
        assert_eq!(c.labels(), part.labels());
        for i in 0..part.len() {
            assert_eq!(c.pixels(i), part.pixels(i));
        }
        check_compatible(&d, &c).unwrap();
        // Mapped into the training classes.
        let options = DataOptions {
            classes: Some(d.classes().clone()),
            ..opts()
        };
        assert_eq!(
            load(&csv, &options, Role::Test).unwrap().labels(),
            part.labels()
        );
    }

    #[test]
    fn real_iris() {
        let path = repo().join("data/iris/iris.csv");
        for choice in [LabelColumn::Last, LabelColumn::Name("species".into())] {
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
        // The default label column is the first: the error says what to pass.
        let e = load(&path, &opts(), Role::Train).unwrap_err().to_string();
        assert!(
            e.contains("line 2, column 5 (species): \"setosa\" is not a number"),
            "{e}"
        );
        assert!(e.contains("pass --label-column"), "{e}");
    }

    #[test]
    fn real_digits() {
        let train = load(
            &repo().join("data/digits-8x8/digits-train.csv"),
            &opts(),
            Role::Train,
        )
        .unwrap();
        let test = load(
            &repo().join("data/digits-8x8/digits-test.csv"),
            &opts(),
            Role::Test,
        )
        .unwrap();
        assert_eq!((train.len(), test.len()), (1347, 450));
        for d in [&train, &test] {
            assert_eq!((d.features(), d.encoding()), (64, Encoding::Values));
            assert_eq!(d.shape().image, None);
            assert_eq!(*d.classes(), Classes::numeric(10));
            assert!(d
                .values(0)
                .unwrap()
                .iter()
                .all(|&v| (0.0..=16.0).contains(&v)));
        }
        assert_eq!(train.label(0), 3);
        check_compatible(&train, &test).unwrap();
        let mnist = load(&mnist_dir(), &opts(), Role::Test).unwrap();
        let e = check_compatible(&mnist, &test).unwrap_err().to_string();
        assert!(
            e.contains("digits-test.csv: 64 features, but the training data "),
            "{e}"
        );
        assert!(
            e.ends_with("has 784 (both files must have the same columns)"),
            "{e}"
        );
    }

    #[test]
    fn compatibility_messages() {
        let values = |name: &str, f: usize| {
            Dataset::from_values(
                name,
                Shape {
                    features: f,
                    image: None,
                },
                vec![0.0; f],
                vec![0],
                Classes::numeric(1),
            )
            .unwrap()
        };
        let pixels = |name: &str, r: usize, c: usize| {
            Dataset::from_pixels(
                name,
                Shape {
                    features: r * c,
                    image: Some((r, c)),
                },
                vec![0; r * c],
                vec![0],
                Classes::numeric(1),
            )
            .unwrap()
        };
        let msg = |a: &Dataset, b: &Dataset| check_compatible(a, b).unwrap_err().to_string();
        assert_eq!(
            msg(&values("data/train.csv", 64), &values("data/test.csv", 63)),
            "data/test.csv: 63 features, but the training data data/train.csv has 64 \
             (both files must have the same columns)"
        );
        assert_eq!(
            msg(&pixels("data/train", 28, 28), &pixels("data/test", 8, 8)),
            "data/test: 8x8 images, but the training data data/train has 28x28 \
             (both must hold images of the same size)"
        );
        assert_eq!(
            msg(&pixels("a", 2, 2), &values("b", 4)),
            "b: 4 features (not images), but the training data a has 2x2 images \
             (both must hold the same kind of samples)"
        );
        let mut flat = pixels("b", 2, 2);
        flat.shape.image = None;
        let mut flat_a = values("a", 4);
        flat_a.shape.image = None;
        assert!(msg(&flat_a, &flat)
            .contains("b: pixels (whole numbers 0..=255), but the training data a has values"));
        check_compatible(&pixels("a", 2, 2), &pixels("b", 2, 2)).unwrap();
    }
}
