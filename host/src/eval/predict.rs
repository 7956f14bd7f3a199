//! Per-sample predictions: the class, its softmax probability and the top-k
//! classes, for a [`Model`] on a [`Dataset`] or on raw rows; and reading the
//! rows of a file to classify, with or without a label column.
//!
//! Probabilities are `tinymlp::softmax` of the logits, exactly what the
//! firmware computes. The predicted class is the argmax of the logits (the
//! first on a tie), the very class [`crate::train::predictions`] gives, so
//! `predict` and `eval` always agree.
//!
//! ## Which rows have labels ([`LabelRule`], `host predict --data`)
//!
//! - [`LabelRule::None`] (`--label-column none`): no label column; every
//!   column is a feature.
//! - [`LabelRule::Column`] (`--label-column X`): the labels are in column X.
//! - [`LabelRule::Auto`] (no `--label-column`): a CSV file whose rows have
//!   exactly as many columns as the model has inputs has no label column; any
//!   other CSV file has one (found as `train` finds it), and must then have
//!   one column more than the model's inputs. An IDX samples file has labels
//!   when its labels file lies beside it; an MNIST directory always has them.
//!
//! Labels are mapped into the model's classes by name; a label the model
//! does not know is an error naming it.

use std::path::Path;

use rayon::prelude::*;

use super::unlabelled::{first_line, AppendColumn};
use crate::data::idx::{read_idx_samples, IdxValues};
use crate::data::load::has_labels_file;
use crate::data::source::{open_file, Source};
use crate::data::{
    load, Classes, DataError, DataOptions, Dataset, Format, LabelColumn, Role, Sniffed,
};
use crate::model::{BlockedNet, Model, FORWARD_BATCH};
use tinymlp::batch::Rows as Batch;

/// A class and its softmax probability.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct Ranked {
    /// Class index.
    pub class: usize,
    /// Softmax probability, in `[0, 1]`.
    pub probability: f32,
}

/// What the model says about one sample.
#[derive(Clone, Debug, PartialEq)]
pub struct Prediction {
    /// The predicted class (argmax of the logits).
    pub class: usize,
    /// Its softmax probability.
    pub confidence: f32,
    /// The `k` most probable classes, best first (ties: lower class first).
    pub top: Vec<Ranked>,
    /// The logits.
    pub logits: Vec<f32>,
}

impl Prediction {
    /// The prediction for `logits`, with the `k` best classes in `top`.
    pub fn from_logits(logits: Vec<f32>, k: usize) -> Self {
        let mut probs = vec![0.0; logits.len()];
        tinymlp::softmax(&logits, &mut probs);
        let class = tinymlp::argmax(&logits);
        let mut order: Vec<usize> = (0..probs.len()).collect();
        // Stable: equal probabilities keep the lower class first.
        order.sort_by(|&a, &b| probs[b].total_cmp(&probs[a]));
        let top = order
            .into_iter()
            .take(k)
            .map(|class| Ranked {
                class,
                probability: probs[class],
            })
            .collect();
        Self {
            class,
            confidence: probs.get(class).copied().unwrap_or(0.0),
            top,
            logits,
        }
    }
}

/// The prediction for every sample of `data`, in order (computed in
/// parallel), each with its `k` best classes.
///
/// # Panics
/// If `data.features()` is not the model's input count (check with
/// [`Model::check_data`] first).
pub fn predict_dataset(model: &Model, data: &Dataset, k: usize) -> Vec<Prediction> {
    predict_range(model, data, 0..data.len(), k)
}

/// [`predict_dataset`] for the samples `range` of `data` only (to stream a
/// large file's predictions a block at a time).
///
/// # Panics
/// As [`predict_dataset`], and if `range` goes past `data.len()`.
pub fn predict_range(
    model: &Model,
    data: &Dataset,
    range: std::ops::Range<usize>,
    k: usize,
) -> Vec<Prediction> {
    assert!(
        range.end <= data.len(),
        "predict_range: samples out of range"
    );
    // Batches through the batch kernels: the bits of `Net::logits` per
    // sample, without its allocations per layer and sample.
    let (width, classes) = (model.inputs(), model.net.architecture().classes());
    let widths = model.net.architecture().widths()[1..].to_vec();
    let end = range.end;
    range
        .step_by(FORWARD_BATCH)
        .collect::<Vec<_>>()
        .into_par_iter()
        .map_init(
            || {
                let acts: Vec<Vec<f32>> = widths
                    .iter()
                    .map(|w| vec![0.0; w * FORWARD_BATCH])
                    .collect();
                (vec![0.0; FORWARD_BATCH * width], acts)
            },
            |(xs, acts), start| {
                let n = FORWARD_BATCH.min(end - start);
                for (i, x) in (start..start + n).zip(xs.chunks_exact_mut(width)) {
                    model.input(data, i, x);
                }
                model
                    .net
                    .forward_batch(Batch::new(&xs[..n * width], width), acts);
                let logits = &acts[acts.len() - 1][..n * classes];
                logits
                    .chunks_exact(classes)
                    .map(|z| Prediction::from_logits(z.to_vec(), k))
                    .collect::<Vec<_>>()
            },
        )
        .flatten_iter()
        .collect()
}

/// The prediction for raw rows (pixels as `p as f32`), `model.inputs()`
/// values each, one after the other.
///
/// # Panics
/// If `rows.len()` is not a multiple of the model's input count.
pub fn predict_raw(model: &Model, rows: &[f32], k: usize) -> Vec<Prediction> {
    let n = model.inputs();
    assert!(
        rows.len().is_multiple_of(n),
        "predict_raw: rows of {n} values"
    );
    // One row at a time: the weights in blocks of rows, read in one stream.
    let blocked = BlockedNet::new(&model.net);
    rows.par_chunks_exact(n)
        .map_init(
            || vec![0.0; n],
            |x, row| {
                model.scaling.apply(row, x);
                Prediction::from_logits(blocked.logits(x), k)
            },
        )
        .collect()
}

/// Where the labels of a file to classify are (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum LabelRule {
    /// Decided from the file's shape.
    #[default]
    Auto,
    /// No labels.
    None,
    /// This CSV column.
    Column(LabelColumn),
}

/// Rows to classify: a data set, and whether its labels are real.
#[derive(Debug, Clone)]
pub struct Rows {
    /// The samples; without labels, every label is 0 of one class `"0"`.
    pub data: Dataset,
    /// Whether the file had labels (mapped into the model's classes).
    pub labelled: bool,
}

/// Reads `path` (a CSV or IDX file, or an MNIST directory's `role` split)
/// to classify with `model`, labels or not by `rule` (see the module docs).
/// `options.label_column` and `options.classes` are set here.
pub fn read_rows(
    path: &Path,
    options: &DataOptions,
    role: Role,
    model: &Model,
    rule: &LabelRule,
) -> Result<Rows, DataError> {
    let labelled_options = |column: LabelColumn| DataOptions {
        label_column: column,
        classes: Some(model.classes.clone()),
        ..options.clone()
    };
    let labelled = |column| -> Result<Rows, DataError> {
        Ok(Rows {
            data: load(path, &labelled_options(column), role)?,
            labelled: true,
        })
    };
    if path.is_dir() {
        return labelled(LabelColumn::Auto);
    }
    match rule {
        LabelRule::Column(column) => return labelled(column.clone()),
        LabelRule::None | LabelRule::Auto => {}
    }
    let sniffed = crate::data::sniff(path)?;
    let is_idx = match (options.format, sniffed) {
        (Format::Idx, _) | (Format::Auto, Sniffed::Idx { .. }) => true,
        (Format::Csv, _) | (Format::Auto, _) => false,
    };
    if is_idx {
        let has_labels = has_labels_file(path);
        if *rule == LabelRule::Auto && has_labels {
            return labelled(LabelColumn::Auto);
        }
        return read_idx_unlabelled(path);
    }
    // The first line decides the delimiter and whether there is a label
    // column; the file is then streamed, never held as text.
    let mut head = Source::new(open_file(path)?, path)?;
    let first = first_line(&mut head, FIRST_LINE_MOST).map_err(|e| head.error(e))?;
    let delimiter = options
        .delimiter
        .unwrap_or_else(|| detect_delimiter(&first));
    if *rule == LabelRule::Auto && first_row_columns(&first, delimiter) != Some(model.inputs()) {
        return labelled(LabelColumn::Auto);
    }
    // No label column: append a constant one, then read it as `train` would,
    // so header, MNIST layout and error messages (columns keep their
    // positions) are the same.
    let unlabelled_options = DataOptions {
        format: Format::Csv,
        label_column: LabelColumn::Last,
        delimiter: Some(delimiter),
        classes: None,
        ..options.clone()
    };
    let stream = AppendColumn::new(Source::new(open_file(path)?, path)?, delimiter);
    let data = crate::data::csv::parse_csv(stream, path, &unlabelled_options)?;
    Ok(Rows {
        data,
        labelled: false,
    })
}

/// Most bytes read to find a CSV file's first line (a line of 16 MiB holds
/// some two million numbers).
const FIRST_LINE_MOST: u64 = 16 << 20;

/// The one class of unlabelled rows, `"0"` (what a constant label `0` reads as).
fn unlabelled_classes() -> Classes {
    Classes::numeric(1)
}

/// An IDX samples file without labels.
fn read_idx_unlabelled(path: &Path) -> Result<Rows, DataError> {
    let samples = read_idx_samples(path)?;
    let labels = vec![0; samples.count];
    let name = path.display().to_string();
    let data = match samples.values {
        IdxValues::U8(p) => {
            Dataset::from_pixels(name, samples.shape, p, labels, unlabelled_classes())?
        }
        IdxValues::F32(v) => {
            Dataset::from_values(name, samples.shape, v, labels, unlabelled_classes())?
        }
    };
    Ok(Rows {
        data,
        labelled: false,
    })
}

/// The most frequent of `,`, `;` and tab outside quotes on the first
/// non-blank line; comma on a tie or when there is none.
fn detect_delimiter(text: &[u8]) -> u8 {
    let line = text
        .split(|&b| b == b'\n' || b == b'\r')
        .find(|l| !l.trim_ascii().is_empty())
        .unwrap_or_default();
    let mut counts = [(b',', 0usize), (b';', 0), (b'\t', 0)];
    let mut quoted = false;
    for &b in line {
        if b == b'"' {
            quoted = !quoted;
        } else if !quoted {
            for (d, n) in &mut counts {
                if *d == b {
                    *n += 1;
                }
            }
        }
    }
    let best = counts.iter().map(|&(_, n)| n).max().unwrap_or(0);
    counts
        .iter()
        .find(|&&(_, n)| n == best && n > 0)
        .map_or(b',', |&(d, _)| d)
}

fn reader(text: &[u8], delimiter: u8) -> csv::Reader<&[u8]> {
    let text = text.strip_prefix(b"\xef\xbb\xbf").unwrap_or(text);
    csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(text)
}

fn blank(record: &csv::ByteRecord) -> bool {
    record.len() <= 1 && record.iter().all(|c| c.trim_ascii().is_empty())
}

/// Fields of the first non-blank record.
fn first_row_columns(text: &[u8], delimiter: u8) -> Option<usize> {
    let mut rdr = reader(text, delimiter);
    let mut record = csv::ByteRecord::new();
    while rdr.read_byte_record(&mut record).ok()? {
        if !blank(&record) {
            return Some(record.len());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Architecture, HiddenLayers, Net, Scaling};

    fn model(inputs: usize, classes: &[&str]) -> Model {
        let arch = Architecture::new(inputs, &HiddenLayers(vec![4]), classes.len()).unwrap();
        Model {
            net: Net::initialised(&arch, 3),
            scaling: Scaling::None,
            classes: Classes::new(classes.iter().map(|s| s.to_string()).collect()),
            image: None,
        }
    }

    #[test]
    fn top_k_is_sorted_softmax_and_agrees_with_argmax() {
        let p = Prediction::from_logits(vec![1.0, 3.0, 2.0, 3.0], 3);
        assert_eq!(p.class, 1, "first of the tied maxima");
        assert_eq!(p.top.iter().map(|r| r.class).collect::<Vec<_>>(), [1, 3, 2]);
        assert_eq!(p.confidence, p.top[0].probability);
        let mut probs = [0.0; 4];
        tinymlp::softmax(&p.logits, &mut probs);
        assert_eq!(p.top[2].probability, probs[2]);
        assert_eq!(Prediction::from_logits(vec![0.5, 0.1], 5).top.len(), 2);
    }

    #[test]
    fn raw_rows_and_data_sets_agree() {
        let m = model(3, &["a", "b"]);
        let rows = [0.5f32, -1.0, 2.0, 0.0, 0.25, 1.0];
        let data = Dataset::from_values(
            "t",
            crate::data::Shape {
                features: 3,
                image: None,
            },
            rows.to_vec(),
            vec![0, 1],
            m.classes.clone(),
        )
        .unwrap();
        let a = predict_raw(&m, &rows, 2);
        let b = predict_dataset(&m, &data, 2);
        assert_eq!(a, b);
        assert_eq!(
            a.iter().map(|p| p.class).collect::<Vec<_>>(),
            crate::train::predictions(&m, &data)
        );
    }

    /// Batched (and in parallel) for a data set, one sample at a time for
    /// raw rows: the same logits, bit for bit, over several batches and a
    /// partial one, and the same ranking.
    #[test]
    fn batches_give_every_sample_its_own_logits() {
        let m = model(3, &["a", "b"]);
        let mut rng = tinymlp::Rng::new(3);
        let n = 2 * FORWARD_BATCH + 22;
        let rows: Vec<f32> = (0..3 * n).map(|_| rng.uniform(-4.0, 4.0)).collect();
        let shape = crate::data::Shape {
            features: 3,
            image: None,
        };
        let labels = vec![0; n];
        let data =
            Dataset::from_values("t", shape, rows.clone(), labels, m.classes.clone()).unwrap();
        let bits = |p: &[Prediction]| -> Vec<Vec<u32>> {
            p.iter()
                .map(|p| p.logits.iter().map(|v| v.to_bits()).collect())
                .collect()
        };
        let (each, batched) = (predict_raw(&m, &rows, 2), predict_dataset(&m, &data, 2));
        assert_eq!(bits(&each), bits(&batched));
        assert_eq!(each, batched);
        let part = predict_range(&m, &data, 70..n - 3, 2);
        assert_eq!(part, batched[70..n - 3]);
    }

    #[test]
    fn label_column_by_shape() {
        let dir = tempfile::tempdir().unwrap();
        let m = model(2, &["no", "yes"]);
        let opts = DataOptions::default();
        let unlabelled = dir.path().join("u.csv");
        std::fs::write(&unlabelled, "x;y\n1;2\n\n3.5;4\n").unwrap();
        let rows = read_rows(&unlabelled, &opts, Role::Test, &m, &LabelRule::Auto).unwrap();
        assert!(!rows.labelled);
        assert_eq!(rows.data.len(), 2);
        assert_eq!(rows.data.values(1).unwrap(), [3.5, 4.0]);
        assert_eq!(rows.data.feature_names().unwrap(), ["x", "y"]);

        let labelled = dir.path().join("l.csv");
        std::fs::write(&labelled, "a,b,class\n1,2,yes\n3,4,no\n").unwrap();
        let rows = read_rows(&labelled, &opts, Role::Test, &m, &LabelRule::Auto).unwrap();
        assert!(rows.labelled);
        assert_eq!(rows.data.labels(), [1, 0]);

        // Forced: `none` on a file of three columns is three features.
        let rows = read_rows(&labelled, &opts, Role::Test, &m, &LabelRule::None);
        assert!(
            rows.is_err(),
            "the header's `class` cell is text, `yes` is not a number"
        );
        let err = read_rows(
            &unlabelled,
            &opts,
            Role::Test,
            &m,
            &LabelRule::Column(LabelColumn::First),
        )
        .unwrap_err();
        assert!(err.to_string().contains("u.csv"), "{err}");
    }
}
