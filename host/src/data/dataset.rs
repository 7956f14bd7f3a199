//! [`Dataset`]: labelled samples of any shape.
//!
//! Contract (checked by [`Dataset::from_pixels`] and
//! [`Dataset::from_values`], the only ways to build one):
//! - every sample has [`Shape::features`] > 0 raw values; when
//!   [`Shape::image`] is `Some((rows, cols))`, `rows * cols == features`;
//! - raw values are kept as they were read: `u8` pixels
//!   ([`Encoding::Pixels`], 47 MB for MNIST train, not 188 MB of `f32`) or
//!   finite `f32` ([`Encoding::Values`]);
//! - every label is a class index below `classes().len()`, at most
//!   [`MAX_CLASSES`] classes;
//! - feature names, when present, are one per feature.
//!
//! Splitting (`--val`, `--limit`, `--test-fraction`) is in
//! [`split`](super::split).

use std::fmt;

use super::classes::{Classes, MAX_CLASSES};
use super::error::DataError;

/// How raw values become network inputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Encoding {
    /// `u8` pixels `0..=255`; the input is `p / 255`.
    Pixels,
    /// `f32` values, standardised later by the trainer.
    Values,
}

impl fmt::Display for Encoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Encoding::Pixels => "pixels (whole numbers 0..=255)",
            Encoding::Values => "values (decimal numbers)",
        })
    }
}

/// Features per sample, and the image size when the samples are images.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Shape {
    /// Raw values per sample.
    pub features: usize,
    /// `(rows, cols)` when the samples are images (`rows * cols == features`).
    pub image: Option<(usize, usize)>,
}

impl fmt::Display for Shape {
    /// `28x28 images` or `64 features`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.image {
            Some((r, c)) => write!(f, "{r}x{c} images"),
            None => write!(f, "{} features", self.features),
        }
    }
}

/// The raw values of all samples, sample after sample.
#[derive(Clone, PartialEq)]
pub(super) enum Raw {
    Pixels(Vec<u8>),
    Values(Vec<f32>),
}

/// Labelled samples of any shape (see the module docs for the invariants).
#[derive(Clone, PartialEq)]
pub struct Dataset {
    pub(super) name: String,
    pub(super) shape: Shape,
    pub(super) raw: Raw,
    pub(super) labels: Vec<u16>,
    pub(super) classes: Classes,
    pub(super) feature_names: Option<Vec<String>>,
}

impl fmt::Debug for Dataset {
    /// Name, shape and size only: the values would be megabytes of output.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dataset")
            .field("name", &self.name)
            .field("len", &self.len())
            .field("shape", &self.shape)
            .field("encoding", &self.encoding())
            .field("classes", &self.classes)
            .finish_non_exhaustive()
    }
}

impl Dataset {
    /// A data set of `u8` pixels ([`Encoding::Pixels`]), sample after
    /// sample. `name` (the file name(s)) is used in messages.
    pub fn from_pixels(
        name: impl Into<String>,
        shape: Shape,
        pixels: Vec<u8>,
        labels: Vec<u16>,
        classes: Classes,
    ) -> Result<Self, DataError> {
        let name = name.into();
        check(&name, shape, pixels.len(), &labels, &classes)?;
        Ok(Self {
            name,
            shape,
            raw: Raw::Pixels(pixels),
            labels,
            classes,
            feature_names: None,
        })
    }

    /// A data set of finite `f32` values ([`Encoding::Values`]), sample after
    /// sample. `name` (the file name(s)) is used in messages.
    pub fn from_values(
        name: impl Into<String>,
        shape: Shape,
        values: Vec<f32>,
        labels: Vec<u16>,
        classes: Classes,
    ) -> Result<Self, DataError> {
        let name = name.into();
        check(&name, shape, values.len(), &labels, &classes)?;
        if let Some(i) = values.iter().position(|v| !v.is_finite()) {
            return Err(DataError::InvalidDataset {
                reason: format!(
                    "value {} of sample {} (feature {}) is not finite",
                    values[i],
                    i / shape.features,
                    i % shape.features
                ),
                name,
            });
        }
        Ok(Self {
            name,
            shape,
            raw: Raw::Values(values),
            labels,
            classes,
            feature_names: None,
        })
    }

    /// The same data set with names for its features (e.g. a CSV header);
    /// fails unless there is one name per feature.
    pub fn with_feature_names(mut self, names: Vec<String>) -> Result<Self, DataError> {
        if names.len() != self.shape.features {
            return Err(DataError::InvalidDataset {
                reason: format!(
                    "{} feature names for {} features",
                    names.len(),
                    self.shape.features
                ),
                name: self.name,
            });
        }
        self.feature_names = Some(names);
        Ok(self)
    }

    /// The file name(s) the data came from, for messages.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are no samples.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Features per sample and image size.
    pub fn shape(&self) -> Shape {
        self.shape
    }

    /// Raw values per sample.
    pub fn features(&self) -> usize {
        self.shape.features
    }

    /// How raw values become network inputs.
    pub fn encoding(&self) -> Encoding {
        match self.raw {
            Raw::Pixels(_) => Encoding::Pixels,
            Raw::Values(_) => Encoding::Values,
        }
    }

    /// The pixels of sample `i` (row-major for images); `None` if the data
    /// set is not [`Encoding::Pixels`] or `i` is out of range.
    pub fn pixels(&self, i: usize) -> Option<&[u8]> {
        match &self.raw {
            Raw::Pixels(p) => p.get(self.range(i)?),
            Raw::Values(_) => None,
        }
    }

    /// The values of sample `i`; `None` if the data set is not
    /// [`Encoding::Values`] or `i` is out of range.
    pub fn values(&self, i: usize) -> Option<&[f32]> {
        match &self.raw {
            Raw::Values(v) => v.get(self.range(i)?),
            Raw::Pixels(_) => None,
        }
    }

    /// Writes sample `i` as raw `f32` values into `out` (a pixel `p` becomes
    /// `p as f32`, not `p / 255`).
    ///
    /// # Panics
    /// If `i >= self.len()` or `out.len() != self.features()`.
    pub fn raw_f32(&self, i: usize, out: &mut [f32]) {
        assert_eq!(out.len(), self.shape.features, "raw_f32: output length");
        let range = self.range(i).expect("raw_f32: sample index out of range");
        match &self.raw {
            Raw::Pixels(p) => {
                for (o, &v) in out.iter_mut().zip(&p[range]) {
                    *o = f32::from(v);
                }
            }
            Raw::Values(v) => out.copy_from_slice(&v[range]),
        }
    }

    /// The class index of sample `i`.
    ///
    /// # Panics
    /// If `i >= self.len()`.
    pub fn label(&self, i: usize) -> usize {
        usize::from(self.labels[i])
    }

    /// All class indices.
    pub fn labels(&self) -> &[u16] {
        &self.labels
    }

    /// The classes.
    pub fn classes(&self) -> &Classes {
        &self.classes
    }

    /// How many samples of each class (`classes().len()` entries).
    pub fn class_counts(&self) -> Vec<usize> {
        let mut counts = vec![0; self.classes.len()];
        for &l in &self.labels {
            counts[usize::from(l)] += 1;
        }
        counts
    }

    /// The feature names (a CSV header), one per feature.
    pub fn feature_names(&self) -> Option<&[String]> {
        self.feature_names.as_deref()
    }

    /// The element range of sample `i`, `None` if out of range.
    fn range(&self, i: usize) -> Option<std::ops::Range<usize>> {
        (i < self.len()).then(|| i * self.shape.features..(i + 1) * self.shape.features)
    }

    /// A data set of the same kind holding the given samples (in that order).
    /// `indices` must be in range.
    pub(super) fn gather(&self, indices: &[usize]) -> Dataset {
        let f = self.shape.features;
        let raw = match &self.raw {
            Raw::Pixels(p) => Raw::Pixels(
                indices
                    .iter()
                    .flat_map(|&i| &p[i * f..(i + 1) * f])
                    .copied()
                    .collect(),
            ),
            Raw::Values(v) => Raw::Values(
                indices
                    .iter()
                    .flat_map(|&i| &v[i * f..(i + 1) * f])
                    .copied()
                    .collect(),
            ),
        };
        Dataset {
            name: self.name.clone(),
            shape: self.shape,
            raw,
            labels: indices.iter().map(|&i| self.labels[i]).collect(),
            classes: self.classes.clone(),
            feature_names: self.feature_names.clone(),
        }
    }
}

/// Checks shape, sizes and labels.
fn check(
    name: &str,
    shape: Shape,
    elements: usize,
    labels: &[u16],
    classes: &Classes,
) -> Result<(), DataError> {
    let invalid = |reason: String| {
        Err(DataError::InvalidDataset {
            name: name.to_owned(),
            reason,
        })
    };
    if shape.features == 0 {
        return invalid("samples of 0 features".into());
    }
    if let Some((r, c)) = shape.image {
        if r.checked_mul(c) != Some(shape.features) {
            return invalid(format!(
                "{r}x{c} images but {} features per sample",
                shape.features
            ));
        }
    }
    if shape.features.checked_mul(labels.len()) != Some(elements) {
        return invalid(format!(
            "{elements} values for {} labels of {} features",
            labels.len(),
            shape.features
        ));
    }
    if classes.len() > MAX_CLASSES {
        return invalid(format!(
            "{} classes, at most {MAX_CLASSES} are supported",
            classes.len()
        ));
    }
    if let Some((i, &l)) = labels
        .iter()
        .enumerate()
        .find(|(_, &l)| usize::from(l) >= classes.len())
    {
        return invalid(format!(
            "label {l} of sample {i} is out of range (there are {} classes)",
            classes.len()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vectors(n: usize) -> Shape {
        Shape {
            features: n,
            image: None,
        }
    }

    #[test]
    fn pixels_dataset() {
        let shape = Shape {
            features: 4,
            image: Some((2, 2)),
        };
        let d = Dataset::from_pixels(
            "p",
            shape,
            (0..8).collect(),
            vec![1, 0],
            Classes::numeric(2),
        )
        .unwrap();
        assert_eq!((d.name(), d.len(), d.features()), ("p", 2, 4));
        assert_eq!(d.shape(), shape);
        assert_eq!(d.encoding(), Encoding::Pixels);
        assert_eq!(d.pixels(1), Some(&[4, 5, 6, 7][..]));
        assert_eq!(d.pixels(2), None);
        assert_eq!(d.values(0), None);
        let mut out = [0.0; 4];
        d.raw_f32(1, &mut out);
        assert_eq!(out, [4.0, 5.0, 6.0, 7.0]);
        assert_eq!((d.label(0), d.labels()), (1, &[1, 0][..]));
        assert_eq!(d.class_counts(), [1, 1]);
        assert_eq!(d.feature_names(), None);
        assert_eq!(shape.to_string(), "2x2 images");
    }

    #[test]
    fn values_dataset() {
        let d = Dataset::from_values(
            "v",
            vectors(2),
            vec![0.5, -1.0, 2.0, 3.0, 4.0, 5.0],
            vec![0, 2, 2],
            Classes::new(vec!["a".into(), "b".into(), "c".into()]),
        )
        .unwrap()
        .with_feature_names(vec!["x".into(), "y".into()])
        .unwrap();
        assert_eq!(d.encoding(), Encoding::Values);
        assert_eq!(d.values(0), Some(&[0.5, -1.0][..]));
        assert_eq!(d.pixels(0), None);
        let mut out = [0.0; 2];
        d.raw_f32(2, &mut out);
        assert_eq!(out, [4.0, 5.0]);
        assert_eq!(d.class_counts(), [1, 0, 2]);
        assert_eq!(d.feature_names().unwrap(), ["x", "y"]);
        assert_eq!(vectors(2).to_string(), "2 features");
    }

    #[test]
    fn invariants_are_checked() {
        let err = |r: Result<Dataset, DataError>| r.unwrap_err().to_string();
        let c = Classes::numeric(2);
        assert!(err(Dataset::from_pixels(
            "d",
            vectors(0),
            vec![],
            vec![],
            c.clone()
        ))
        .contains("0 features"));
        let img = Shape {
            features: 5,
            image: Some((2, 2)),
        };
        assert!(
            err(Dataset::from_pixels("d", img, vec![], vec![], c.clone()))
                .contains("2x2 images but 5 features")
        );
        assert_eq!(
            err(Dataset::from_pixels(
                "d",
                vectors(2),
                vec![1; 3],
                vec![0, 1],
                c.clone()
            )),
            "d: invalid data set: 3 values for 2 labels of 2 features"
        );
        assert!(err(Dataset::from_pixels(
            "d",
            vectors(1),
            vec![1],
            vec![2],
            c.clone()
        ))
        .contains("label 2 of sample 0 is out of range"));
        assert!(err(Dataset::from_values(
            "d",
            vectors(2),
            vec![1.0, f32::INFINITY],
            vec![0],
            c.clone()
        ))
        .contains("value inf of sample 0 (feature 1) is not finite"));
        let d = Dataset::from_values("d", vectors(2), vec![], vec![], c).unwrap();
        assert!(d.is_empty());
        assert!(err(d.with_feature_names(vec!["a".into()])).contains("1 feature names"));
    }
}
