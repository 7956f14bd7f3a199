//! What a data file holds, for any IDX or CSV file of any shape: kind,
//! dimensions or feature count, encoding, and the class histogram with the
//! class names.
//!
//! The file's kind comes from its bytes ([`sniff`]): an IDX labels file
//! (one dimension) is described with its label histogram; an IDX samples
//! file with its dimensions, element type and mean value, plus the class
//! histogram when its labels file lies beside it; CSV text is read as
//! `train` reads it (the same [`DataOptions`]).

use std::fmt::Write as _;
use std::path::Path;

use crate::data::idx::{read_idx_header, read_idx_labels};
use crate::data::load::has_labels_file;
use crate::data::{load, sniff, Classes, DataError, DataOptions, Dataset, Encoding, Role, Sniffed};

/// The description [`inspect`] returns (and `host inspect --json` prints).
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Inspection {
    /// The file as given.
    pub path: String,
    /// `idx` or `csv`.
    pub format: &'static str,
    /// Whether the bytes are a gzip stream.
    pub gzipped: bool,
    /// `labels` (IDX, one dimension), `images` (IDX, three), `vectors`
    /// (IDX, two), `labelled images` or `labelled rows` (CSV), or `other`.
    pub content: &'static str,
    /// IDX element type (`u8`, `f32`, …); for CSV `u8` (pixels) or `f32`.
    pub element_type: &'static str,
    /// Dimensions, outermost first: `[10000]` for labels, `[10000, 28, 28]`
    /// for images, `[150, 4]` for rows of 4 features.
    pub dims: Vec<u64>,
    /// Samples in the file.
    pub samples: usize,
    /// Values per sample (`None` for a labels file).
    pub features: Option<usize>,
    /// `(rows, cols)` for images.
    pub image: Option<(usize, usize)>,
    /// `pixels` or `values` (`None` for a labels file).
    pub encoding: Option<&'static str>,
    /// Feature names (a CSV header).
    pub feature_names: Option<Vec<String>>,
    /// Class names, class 0 first, when the file has labels.
    pub classes: Option<Vec<String>>,
    /// How many samples of each class, in the order of `classes`.
    pub label_histogram: Option<Vec<usize>>,
    /// Mean raw value (pixels 0–255) over all samples.
    pub mean_pixel: Option<f64>,
}

impl Inspection {
    /// What the file is, before its samples are described: `(format,
    /// gzipped)`, `(content, element type)` and the dimensions (the first is
    /// the sample count).
    fn bare(
        path: String,
        (format, gzipped): (&'static str, bool),
        (content, element_type): (&'static str, &'static str),
        dims: Vec<u64>,
    ) -> Self {
        Self {
            path,
            format,
            gzipped,
            content,
            element_type,
            samples: dims.first().copied().unwrap_or(0) as usize,
            dims,
            features: None,
            image: None,
            encoding: None,
            feature_names: None,
            classes: None,
            label_histogram: None,
            mean_pixel: None,
        }
    }

    /// Human-readable lines, each ending with `\n`.
    pub fn report(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "file: {}", self.path);
        let _ = writeln!(
            out,
            "format: {}{}, {} of {}",
            self.format,
            if self.gzipped { " (gzipped)" } else { "" },
            self.content,
            self.element_type
        );
        let dims: Vec<String> = self.dims.iter().map(u64::to_string).collect();
        let _ = writeln!(out, "dimensions: {}", dims.join(" x "));
        if let Some(features) = self.features {
            match self.image {
                Some((r, c)) => {
                    let _ = writeln!(
                        out,
                        "samples: {} images of {r}x{c} ({features} values)",
                        self.samples
                    );
                }
                None => {
                    let _ = writeln!(out, "samples: {} of {features} features", self.samples);
                }
            }
        }
        if let Some(encoding) = self.encoding {
            let _ = writeln!(out, "encoding: {encoding}");
        }
        if let Some(names) = &self.feature_names {
            let shown: Vec<&str> = names.iter().take(12).map(String::as_str).collect();
            let more = if names.len() > 12 { ", …" } else { "" };
            let _ = writeln!(out, "features: {}{more}", shown.join(", "));
        }
        if let Some(mean) = self.mean_pixel {
            let _ = writeln!(out, "mean value: {mean:.2}");
        }
        if let (Some(classes), Some(histogram)) = (&self.classes, &self.label_histogram) {
            let total: usize = histogram.iter().sum();
            let most = histogram.iter().copied().max().unwrap_or(0).max(1);
            let width = classes.iter().map(|c| c.chars().count()).max().unwrap_or(1);
            let _ = writeln!(out, "classes: {}", classes.len());
            let _ = writeln!(out, "label histogram:");
            for (class, &n) in classes.iter().zip(histogram) {
                let share = if total == 0 {
                    0.0
                } else {
                    n as f64 * 100.0 / total as f64
                };
                let bar = "█".repeat((n * 30).div_ceil(most));
                let _ = writeln!(out, "  {class:>width$}: {n:>6}  {share:5.2}%  {bar}");
            }
        }
        out
    }
}

fn mean(data: &Dataset) -> f64 {
    let mut sum = 0.0f64;
    let mut raw = vec![0.0; data.features()];
    for i in 0..data.len() {
        data.raw_f32(i, &mut raw);
        sum += raw.iter().map(|&v| f64::from(v)).sum::<f64>();
    }
    let n = data.len() * data.features();
    if n == 0 {
        0.0
    } else {
        sum / n as f64
    }
}

/// Describes the IDX or CSV file at `path`, read with `options` (CSV label
/// column, header, delimiter); see the module docs.
pub fn inspect(path: &Path, options: &DataOptions) -> Result<Inspection, DataError> {
    let shown = path.display().to_string();
    if path.is_dir() {
        return Err(DataError::IsDirectory {
            path: path.to_path_buf(),
            hint: "; inspect one file of it",
        });
    }
    let sniffed = sniff(path)?;
    let options = DataOptions {
        classes: None,
        ..options.clone()
    };
    match sniffed {
        Sniffed::Idx { dims: 1, gzipped } => {
            let labels = read_idx_labels(path)?;
            let max = labels.iter().copied().max().map_or(0, usize::from);
            let mut counts = vec![0; if labels.is_empty() { 0 } else { max + 1 }];
            for &l in &labels {
                counts[usize::from(l)] += 1;
            }
            let mut result = Inspection::bare(
                shown,
                ("idx", gzipped),
                ("labels", "u8"),
                vec![labels.len() as u64],
            );
            result.classes = Some(Classes::numeric(counts.len()).names().to_vec());
            result.label_histogram = Some(counts);
            Ok(result)
        }
        Sniffed::Idx { gzipped, .. } => {
            let header = read_idx_header(path)?;
            let dims: Vec<u64> = header.dims.iter().map(|&d| u64::from(d)).collect();
            let content = match dims.len() {
                3 => "images",
                2 => "vectors",
                _ => "other",
            };
            let has_labels = has_labels_file(path);
            let data = if has_labels {
                Some(load(path, &options, Role::Test)?)
            } else {
                crate::data::idx::read_idx_samples(path).ok().and_then(|s| {
                    let labels = vec![0; s.count];
                    let classes = Classes::numeric(1);
                    match s.values {
                        crate::data::idx::IdxValues::U8(p) => {
                            Dataset::from_pixels(shown.clone(), s.shape, p, labels, classes).ok()
                        }
                        crate::data::idx::IdxValues::F32(v) => {
                            Dataset::from_values(shown.clone(), s.shape, v, labels, classes).ok()
                        }
                    }
                })
            };
            let mut result = Inspection::bare(
                shown,
                ("idx", gzipped),
                (content, header.element_type.name()),
                dims,
            );
            if let Some(data) = data {
                describe_samples(&mut result, &data, has_labels);
            }
            Ok(result)
        }
        Sniffed::CsvText { gzipped } => {
            let data = load(path, &options, Role::Test)?;
            let shape = data.shape();
            let content = if shape.image.is_some() {
                "labelled images"
            } else {
                "labelled rows"
            };
            let element_type = match data.encoding() {
                Encoding::Pixels => "u8",
                Encoding::Values => "f32",
            };
            let dims = match shape.image {
                Some((r, c)) => vec![data.len() as u64, r as u64, c as u64],
                None => vec![data.len() as u64, shape.features as u64],
            };
            let mut result =
                Inspection::bare(shown, ("csv", gzipped), (content, element_type), dims);
            describe_samples(&mut result, &data, true);
            Ok(result)
        }
        // `load` gives the error that says what the file looks like.
        Sniffed::Binary { .. } | Sniffed::Empty { .. } => {
            load(path, &options, Role::Test).map(|_| unreachable!("not data"))
        }
    }
}

fn describe_samples(result: &mut Inspection, data: &Dataset, labelled: bool) {
    let shape = data.shape();
    result.samples = data.len();
    result.features = Some(shape.features);
    result.image = shape.image;
    result.encoding = Some(match data.encoding() {
        Encoding::Pixels => "pixels",
        Encoding::Values => "values",
    });
    result.feature_names = data.feature_names().map(<[String]>::to_vec);
    result.mean_pixel = Some(mean(data));
    if labelled {
        result.classes = Some(data.classes().names().to_vec());
        result.label_histogram = Some(data.class_counts());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo(path: &str) -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path)
    }

    #[test]
    fn describes_a_csv_file_of_named_classes() {
        let opts = DataOptions {
            label_column: "species".parse().unwrap(),
            ..DataOptions::default()
        };
        let i = inspect(&repo("data/iris/iris.csv"), &opts).unwrap();
        assert_eq!(
            (i.format, i.content, i.gzipped),
            ("csv", "labelled rows", false)
        );
        assert_eq!(i.dims, [150, 4]);
        assert_eq!(
            (i.features, i.image, i.encoding),
            (Some(4), None, Some("values"))
        );
        assert_eq!(i.classes.as_ref().unwrap()[0], "setosa");
        assert_eq!(i.label_histogram.as_deref(), Some(&[50, 50, 50][..]));
        let report = i.report();
        assert!(report.contains("  versicolor:     50  33.33%"), "{report}");
        assert!(report.contains("samples: 150 of 4 features"), "{report}");
    }

    #[test]
    fn describes_a_csv_of_mnist_rows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("two.csv");
        let line = |label: u8| {
            let mut s = label.to_string();
            for _ in 0..784 {
                s.push_str(",10");
            }
            s + "\n"
        };
        std::fs::write(&path, line(3) + &line(3) + &line(9)).unwrap();
        let i = inspect(&path, &DataOptions::default()).unwrap();
        assert_eq!(
            (i.format, i.content, i.gzipped),
            ("csv", "labelled images", false)
        );
        assert_eq!(i.dims, [3, 28, 28]);
        assert_eq!(i.label_histogram.as_ref().unwrap()[3], 2);
        assert_eq!(i.mean_pixel, Some(10.0));
        assert!(i.report().contains("  3:      2  66.67%"), "{}", i.report());
    }

    #[test]
    fn describes_idx_files_of_any_shape() {
        let dir = tempfile::tempdir().unwrap();
        let images = dir.path().join("x-images-idx3-ubyte");
        let payload: Vec<u8> = (0..2 * 3 * 5).map(|v| v as u8).collect();
        std::fs::write(
            &images,
            crate::data::idx::encode_idx(0x08, &[2, 3, 5], &payload),
        )
        .unwrap();
        let i = inspect(&images, &DataOptions::default()).unwrap();
        assert_eq!(
            (i.content, i.image, i.label_histogram.clone()),
            ("images", Some((3, 5)), None)
        );
        std::fs::write(
            dir.path().join("x-labels-idx1-ubyte"),
            crate::data::idx::encode_idx(0x08, &[2], &[4, 1]),
        )
        .unwrap();
        let i = inspect(&images, &DataOptions::default()).unwrap();
        assert_eq!(i.label_histogram.as_deref(), Some(&[0, 1, 0, 0, 1][..]));
        let labels = inspect(
            &dir.path().join("x-labels-idx1-ubyte"),
            &DataOptions::default(),
        )
        .unwrap();
        assert_eq!((labels.content, labels.dims.clone()), ("labels", vec![2]));
    }
}
