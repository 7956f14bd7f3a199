//! Labelled images and the loaders that produce them.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::error::DataError;
use crate::idx::load_idx_pair;

/// Number of classes (the digits 0 to 9); every label is below this.
pub const NUM_CLASSES: usize = 10;

/// Labelled images, pixels kept as `u8` (47 MB for MNIST train, not 188 MB of
/// `f32`).
///
/// Image `i` is `pixels[i * rows * cols .. (i + 1) * rows * cols]`, row-major,
/// and its label is `labels[i]`, always below [`NUM_CLASSES`]. Both invariants
/// are checked by [`Dataset::new`], the only way to build one.
#[derive(Clone, PartialEq, Eq)]
pub struct Dataset {
    rows: usize,
    cols: usize,
    pixels: Vec<u8>,
    labels: Vec<u8>,
}

impl fmt::Debug for Dataset {
    /// Shape and size only: the pixels would be megabytes of output.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dataset")
            .field("len", &self.len())
            .field("rows", &self.rows)
            .field("cols", &self.cols)
            .finish_non_exhaustive()
    }
}

impl Dataset {
    /// Builds a data set from row-major pixels and labels.
    ///
    /// Fails unless `rows` and `cols` are non-zero,
    /// `pixels.len() == labels.len() * rows * cols` and every label is below
    /// [`NUM_CLASSES`]. An empty data set (no labels, no pixels) is allowed.
    pub fn new(
        rows: usize,
        cols: usize,
        pixels: Vec<u8>,
        labels: Vec<u8>,
    ) -> Result<Self, DataError> {
        let invalid = |reason: String| Err(DataError::InvalidDataset { reason });
        if rows == 0 || cols == 0 {
            return invalid(format!("images of {rows}x{cols} pixels"));
        }
        let expected = rows
            .checked_mul(cols)
            .and_then(|p| p.checked_mul(labels.len()));
        if expected != Some(pixels.len()) {
            return invalid(format!(
                "{} pixels for {} labels of {rows}x{cols} images",
                pixels.len(),
                labels.len()
            ));
        }
        if let Some((i, &l)) = labels
            .iter()
            .enumerate()
            .find(|(_, &l)| usize::from(l) >= NUM_CLASSES)
        {
            return invalid(format!(
                "label {l} of sample {i} is out of range (must be below {NUM_CLASSES})"
            ));
        }
        Ok(Self {
            rows,
            cols,
            pixels,
            labels,
        })
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are no samples.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Image height.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Image width.
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// `rows * cols` (784 for MNIST).
    pub fn pixels_per_image(&self) -> usize {
        self.rows * self.cols
    }

    /// The pixels of image `i`, row-major.
    ///
    /// # Panics
    /// If `i >= self.len()`.
    pub fn image(&self, i: usize) -> &[u8] {
        let n = self.pixels_per_image();
        &self.pixels[i * n..(i + 1) * n]
    }

    /// The label of sample `i`, below [`NUM_CLASSES`].
    ///
    /// # Panics
    /// If `i >= self.len()`.
    pub fn label(&self, i: usize) -> u8 {
        self.labels[i]
    }

    /// Sample `i` as `(image, label)`, `None` if out of range.
    pub fn get(&self, i: usize) -> Option<(&[u8], u8)> {
        let label = *self.labels.get(i)?;
        let n = self.pixels_per_image();
        // i < len, so these products are at most pixels.len().
        Some((self.pixels.get(i * n..(i + 1) * n)?, label))
    }

    /// Iterates over `(image, label)` pairs in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&[u8], u8)> + '_ {
        self.pixels
            .chunks_exact(self.pixels_per_image())
            .zip(self.labels.iter().copied())
    }

    /// All pixels, image after image.
    pub fn pixels(&self) -> &[u8] {
        &self.pixels
    }

    /// All labels.
    pub fn labels(&self) -> &[u8] {
        &self.labels
    }

    /// How many samples of each class.
    pub fn class_counts(&self) -> [usize; NUM_CLASSES] {
        let mut counts = [0; NUM_CLASSES];
        for &l in &self.labels {
            if let Some(c) = counts.get_mut(usize::from(l)) {
                *c += 1;
            }
        }
        counts
    }

    /// Splits off the **last** `n` samples as a validation set, returning
    /// `(training, validation)`. Deterministic: no shuffling, so the same
    /// data always gives the same split (MNIST's training file is not sorted
    /// by class, so its last samples are a fair validation set).
    ///
    /// Fails if `n > self.len()`; `n == 0` gives an empty validation set.
    pub fn split_validation(mut self, n: usize) -> Result<(Dataset, Dataset), DataError> {
        let len = self.len();
        if n > len {
            return Err(DataError::SplitTooLarge {
                requested: n,
                available: len,
            });
        }
        let keep = len - n;
        let val_labels = self.labels.split_off(keep);
        let val_pixels = self.pixels.split_off(keep * self.pixels_per_image());
        let validation = Dataset {
            rows: self.rows,
            cols: self.cols,
            pixels: val_pixels,
            labels: val_labels,
        };
        self.pixels.shrink_to_fit();
        self.labels.shrink_to_fit();
        Ok((self, validation))
    }

    /// A copy of the first `n` samples (all of them if `n >= self.len()`),
    /// for quick runs and tests.
    pub fn take(&self, n: usize) -> Dataset {
        let n = n.min(self.len());
        Dataset {
            rows: self.rows,
            cols: self.cols,
            pixels: self.pixels[..n * self.pixels_per_image()].to_vec(),
            labels: self.labels[..n].to_vec(),
        }
    }
}

/// Which MNIST split.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Split {
    /// 60 000 training samples (`train-*` files).
    Train,
    /// 10 000 test samples (`t10k-*` files).
    Test,
}

impl Split {
    /// The file name prefix: `train` or `t10k`.
    pub fn file_prefix(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Test => "t10k",
        }
    }

    /// `train` or `test`.
    pub fn name(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Test => "test",
        }
    }

    /// The standard (uncompressed) file names `(images, labels)`.
    pub fn file_names(self) -> (String, String) {
        let p = self.file_prefix();
        (
            format!("{p}-images-idx3-ubyte"),
            format!("{p}-labels-idx1-ubyte"),
        )
    }
}

impl fmt::Display for Split {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Split {
    type Err = String;
    /// `train` or `test` (also `t10k`).
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "train" => Ok(Split::Train),
            "test" | "t10k" => Ok(Split::Test),
            _ => Err(format!("unknown split {s:?}: expected train or test")),
        }
    }
}

/// Finds `name.gz`, else `name`, in `dir`.
fn find_file(dir: &Path, name: &str) -> Option<PathBuf> {
    [format!("{name}.gz"), name.to_owned()]
        .into_iter()
        .map(|n| dir.join(n))
        .find(|p| p.exists())
}

/// Loads an MNIST split from `dir`: `train-images-idx3-ubyte.gz` and
/// `train-labels-idx1-ubyte.gz` (or `t10k-…` for [`Split::Test`]),
/// preferring the `.gz` name and falling back to the raw one. Whether a file
/// is actually gzipped is read from its bytes, not its name.
///
/// If files are missing, the error names every one of them.
pub fn load_mnist(dir: &Path, split: Split) -> Result<Dataset, DataError> {
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
    let (images_name, labels_name) = split.file_names();
    let images = find_file(dir, &images_name);
    let labels = find_file(dir, &labels_name);
    match (images, labels) {
        (Some(images), Some(labels)) => load_idx_pair(&images, &labels),
        (images, labels) => {
            let missing: Vec<String> = [(images, images_name), (labels, labels_name)]
                .into_iter()
                .filter(|(found, _)| found.is_none())
                .map(|(_, name)| format!("{name}(.gz)"))
                .collect();
            Err(DataError::MissingMnist {
                dir: dir.to_path_buf(),
                split: split.name(),
                missing: missing.join(" and "),
            })
        }
    }
}

/// A data file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Format {
    /// Decide from the path: a `.csv` (or `.csv.gz`) file is CSV, anything
    /// else IDX.
    #[default]
    Auto,
    /// The four IDX files of MNIST in a directory.
    Idx,
    /// One `label,p0,…,p783` file (see [`crate::csv`]).
    Csv,
}

impl Format {
    /// Resolves [`Format::Auto`] from the path's name: `.csv` or `.csv.gz`
    /// (any case) is [`Format::Csv`], everything else [`Format::Idx`].
    /// `Idx` and `Csv` are returned as they are.
    pub fn resolve(self, path: &Path) -> Format {
        match self {
            Format::Auto => {
                let name = path
                    .file_name()
                    .map(|n| n.to_string_lossy().to_ascii_lowercase())
                    .unwrap_or_default();
                if name.ends_with(".csv") || name.ends_with(".csv.gz") {
                    Format::Csv
                } else {
                    Format::Idx
                }
            }
            other => other,
        }
    }
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
        match s {
            "auto" => Ok(Format::Auto),
            "idx" => Ok(Format::Idx),
            "csv" => Ok(Format::Csv),
            _ => Err(format!("unknown format {s:?}: expected auto, idx or csv")),
        }
    }
}

/// Loads a data set by `format`: CSV reads the file at `path`
/// ([`crate::csv::load_csv`]); IDX reads the `split` from the directory
/// `path` ([`load_mnist`]). [`Format::Auto`] picks by [`Format::resolve`].
pub fn load(path: &Path, split: Split, format: Format) -> Result<Dataset, DataError> {
    match format.resolve(path) {
        Format::Csv => crate::csv::load_csv(path),
        Format::Idx | Format::Auto => load_mnist(path, split),
    }
}
