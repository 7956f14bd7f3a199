//! Rows to samples: each row's label and features, kept as pixels while they
//! fit the MNIST layout, then the [`Dataset`].

use std::path::Path;

use super::super::classes::{Classes, LabelSet};
use super::super::dataset::{Dataset, Shape};
use super::super::error::DataError;
use super::detect::Layout;
use super::fields::{column_name, parse_value, text, value_error};
use super::reader::Row;

/// Features of the MNIST CSV layout (`label,p0,…,p783`).
const MNIST_FEATURES: usize = 28 * 28;

/// Feature values, kept as bytes while they fit the MNIST layout.
enum Features {
    Bytes(Vec<u8>),
    Floats(Vec<f32>),
}

impl Features {
    fn push(&mut self, v: f32) {
        match self {
            Features::Bytes(b) => {
                if v.fract() == 0.0 && (0.0..=255.0).contains(&v) {
                    // Whole and in range: exact.
                    b.push(v as u8);
                } else {
                    let mut floats: Vec<f32> = b.iter().map(|&p| f32::from(p)).collect();
                    floats.push(v);
                    *self = Features::Floats(floats);
                }
            }
            Features::Floats(f) => f.push(v),
        }
    }
}

/// The samples of a CSV file as its rows are read.
pub(super) struct Samples<'p> {
    path: &'p Path,
    layout: Layout,
    delimiter: u8,
    features: Features,
    labels: LabelSet,
}

impl<'p> Samples<'p> {
    /// No samples yet, for rows of `layout`.
    pub(super) fn new(path: &'p Path, layout: Layout, delimiter: u8) -> Self {
        let features = if layout.columns - 1 == MNIST_FEATURES {
            Features::Bytes(Vec::new())
        } else {
            Features::Floats(Vec::new())
        };
        Self {
            path,
            layout,
            delimiter,
            features,
            labels: LabelSet::new(),
        }
    }

    /// What the first row decided.
    pub(super) fn layout(&self) -> &Layout {
        &self.layout
    }

    /// Adds the sample of a data row: its label and its features.
    pub(super) fn push(&mut self, row: &Row<'_>) -> Result<(), DataError> {
        self.check_field_count(row)?;
        for (i, cell) in row.record.iter().enumerate() {
            if i == self.layout.label {
                self.push_label(row.line, i, cell)?;
                continue;
            }
            match parse_value(cell) {
                Ok(v) => self.features.push(v),
                Err(problem) => {
                    return Err(value_error(
                        self.path,
                        &self.layout,
                        row.line,
                        i,
                        cell,
                        problem,
                        self.delimiter,
                    ))
                }
            }
        }
        let limit = super::super::source::max_data_bytes();
        let bytes = match &self.features {
            Features::Bytes(b) => b.len(),
            Features::Floats(f) => f.len() * 4,
        } + 2 * self.labels.len();
        if bytes > limit {
            return Err(DataError::TooLarge {
                path: self.path.to_path_buf(),
                what: format!(
                    "its values up to line {} take {:.1} MiB",
                    row.line,
                    bytes as f64 / (1 << 20) as f64
                ),
                limit_mib: limit >> 20,
                suggest: (2 * limit).div_ceil(1 << 20),
            });
        }
        Ok(())
    }

    /// Every line has as many fields as the first row.
    fn check_field_count(&self, row: &Row<'_>) -> Result<(), DataError> {
        let found = row.record.len();
        if found == self.layout.columns {
            return Ok(());
        }
        Err(DataError::CsvFieldCount {
            path: self.path.to_path_buf(),
            line: row.line,
            expected: self.layout.columns,
            found,
            first: self.layout.first_row(),
            hint: if found == 1 {
                "is the delimiter right? (pass --delimiter)"
            } else {
                "every line needs the same columns; quote cells that contain the delimiter"
            },
        })
    }

    /// The label cell (`column` is 0-based); an empty one is an error.
    fn push_label(&mut self, line: usize, column: usize, cell: &[u8]) -> Result<(), DataError> {
        let label = text(cell);
        if label.is_empty() {
            return Err(DataError::CsvEmptyLabel {
                path: self.path.to_path_buf(),
                line,
                column: column_name(column, self.layout.header.as_deref()),
            });
        }
        self.labels.push(&label, line);
        Ok(())
    }

    /// The data set named after the file: labels mapped into `classes` (or
    /// classes derived from them), feature names from the header.
    pub(super) fn into_dataset(self, classes: Option<&Classes>) -> Result<Dataset, DataError> {
        let path = self.path;
        if self.labels.len() == 0 {
            return Err(DataError::NoData {
                path: path.to_path_buf(),
            });
        }
        let (labels, classes) = self.labels.finish(path, classes, |l| format!("line {l}"))?;
        let features = self.layout.columns - 1;
        let name = path.display().to_string();
        let dataset = match self.features {
            Features::Bytes(pixels) => Dataset::from_pixels(
                name,
                Shape {
                    features,
                    image: Some((28, 28)),
                },
                pixels,
                labels,
                classes,
            )?,
            Features::Floats(values) => Dataset::from_values(
                name,
                Shape {
                    features,
                    image: None,
                },
                values,
                labels,
                classes,
            )?,
        };
        match self.layout.header {
            Some(mut names) => {
                names.remove(self.layout.label);
                dataset.with_feature_names(names)
            }
            None => Ok(dataset),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::super::{Classes, Encoding};
    use super::super::testing::*;
    use super::super::DataOptions;

    #[test]
    fn labels_numeric_text_and_known() {
        let d = parse("3,1\n0,2\n").unwrap();
        assert!(d.classes().is_numeric());
        assert_eq!((d.classes().len(), d.labels()), (4, &[3u16, 0][..]));
        let d = parse("b,1\na,2\n-1,3\n").unwrap();
        assert_eq!(d.classes().names(), ["-1", "a", "b"]);
        let known = Classes::new(vec!["b".into(), "a".into()]);
        let options = DataOptions {
            classes: Some(known.clone()),
            ..DataOptions::default()
        };
        let d = parse_with("a,1\nb,2\n", &options).unwrap();
        assert_eq!((d.labels(), d.classes()), (&[1u16, 0][..], &known));
        let e = parse_with("a,1\nc,2\n", &options).unwrap_err().to_string();
        assert!(
            e.starts_with("t.csv: line 2: label \"c\" is not one of the 2 known classes (b, a)"),
            "{e}"
        );
        let e = err("70000,1\n");
        assert!(e.contains("line 1: label 70000 needs 70001 classes"), "{e}");
    }

    #[test]
    fn mnist_layout_is_pixels() {
        let row = |label: u8, p: u8| {
            let mut s = label.to_string();
            for i in 0..784 {
                s.push_str(&format!(",{}", (usize::from(p) + i) % 256));
            }
            s.push('\n');
            s
        };
        let d = parse(&(row(7, 0) + &row(2, 100))).unwrap();
        assert_eq!(d.encoding(), Encoding::Pixels);
        assert_eq!(d.shape().image, Some((28, 28)));
        assert_eq!(d.pixels(1).unwrap()[..3], [100, 101, 102]);
        // One value out of range: all values.
        let mut text = row(7, 0) + &row(2, 100);
        text.push_str(&row(1, 0).replacen(",0,", ",256,", 1));
        let d = parse(&text).unwrap();
        assert_eq!(d.encoding(), Encoding::Values);
        assert_eq!(d.values(1).unwrap()[..3], [100.0, 101.0, 102.0]);
        assert_eq!(d.values(2).unwrap()[0], 256.0);
        // 64 whole-number features: values.
        assert_eq!(parse("1,2,3\n").unwrap().encoding(), Encoding::Values);
    }
}
