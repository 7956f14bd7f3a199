//! `host predict`: classify every row of a data file, one sample of a data
//! set, or a picture.
//!
//! - `--data FILE` (without `--index`): one line per row, `ROW: CLASS
//!   (PP.PP%)`, followed by `label: LABEL` when the file has labels, and a
//!   closing `accuracy: …` line then. Whether a file has labels: see
//!   [`host::eval::predict`] (`--label-column none`: no labels; no
//!   `--label-column`: a CSV with exactly as many columns as the model's
//!   inputs has none, else one). `--out FILE.csv` writes
//!   `index,class,confidence[,label]` (row index, class name, probability).
//!   With `--json`, one object whose `predictions` array holds, per row in
//!   order, `row`, `index` (class index), `class` (class name),
//!   `confidence`, `top`, and `label`/`label_index` when labelled; after
//!   the array, `correct` and `accuracy` when labelled.
//!
//!   Memory: the rows are classified `BLOCK` (4096) at a time and each block is
//!   written (lines, CSV, JSON) before the next, so nothing grows with the
//!   row count beyond the data. A model whose output overflows is an error
//!   at the first such row (exit 1; the lines before it may have been
//!   printed, the `--out` file is not written).
//! - `--index N` (sample N of `--data`'s `--set` split) and `--image FILE`
//!   (image models only) classify one sample: drawn in the terminal for
//!   image models, then `predicted: CLASS`, the top classes and
//!   `label: CLASS`.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::Args;
use serde_json::json;

use host::data::{DataError, LabelColumn, Role};
use host::eval::predict::{predict_range, read_rows, LabelRule, Prediction, Rows};
use host::fs::AtomicWriter;
use host::model::Model;
use host::report::preprocess;
use host::report::render::{render_image, to_pixels};

use super::{print, Output, ReadArgs};

fn parse_set(text: &str) -> Result<Role, String> {
    match text {
        "train" => Ok(Role::Train),
        "test" => Ok(Role::Test),
        _ => Err(format!("unknown set {text:?}: expected train or test")),
    }
}

#[derive(Debug, Args)]
pub(crate) struct PredictArgs {
    /// Checkpoint written by `host train`. If a run was killed while it replaced the files in
    /// its folder, that set is completed first (never read half replaced).
    #[arg(long, default_value = "model/model.safetensors")]
    model: PathBuf,
    /// Data to classify, every row (a CSV or IDX file, or an MNIST directory's --set
    /// split), classified and written as they go: memory is the data (at most
    /// --max-data-mb) plus a block of 4096 rows, whatever the row count, also with --json
    /// and --out. With --index, where sample N is [default: data].
    #[arg(long, value_name = "PATH")]
    data: Option<PathBuf>,
    /// Classify only sample N of --data (0-based).
    #[arg(long, value_name = "N", conflicts_with = "image")]
    index: Option<usize>,
    /// Which split of an MNIST directory --data means: test or train.
    #[arg(long, default_value = "test", value_name = "SET", value_parser = parse_set)]
    set: Role,
    /// Classify a PNG or PGM picture (image models only; any size, dark on light or light
    /// on dark). It is cropped, scaled and centred like MNIST into the model's image size.
    #[arg(long, value_name = "FILE", conflicts_with = "data")]
    image: Option<PathBuf>,
    /// With --data: write `index,class,confidence[,label]` rows to this CSV file (under a
    /// temporary name, renamed over FILE.csv when complete: a failed run leaves the old one).
    #[arg(long, value_name = "FILE.csv")]
    out: Option<PathBuf>,
    /// How many of the most probable classes to show.
    #[arg(long, default_value_t = 3, value_name = "K")]
    top: usize,
    #[command(flatten)]
    read: ReadArgs,
}

/// The `--label-column` as a [`LabelRule`]: `none` is no label column.
fn label_rule(read: &ReadArgs) -> LabelRule {
    match &read.label_column {
        None => LabelRule::Auto,
        Some(LabelColumn::Name(n)) if n.eq_ignore_ascii_case("none") => LabelRule::None,
        Some(column) => LabelRule::Column(column.clone()),
    }
}

fn shape_of(model: &Model) -> String {
    match model.image {
        Some((r, c)) => format!("{r}x{c} images"),
        None => format!("{} features", model.inputs()),
    }
}

/// The error for a model whose output on valid input is not finite.
pub(crate) fn not_finite(model: &Path, what: &str) -> anyhow::Error {
    anyhow::anyhow!(
        "{}: the model's output for {what} is not a finite number (its weights are so large \
         that the logits overflow); the file is damaged, or the training diverged: train it \
         again with a lower --lr",
        model.display()
    )
}

/// `p` if its logits are finite, else the error of [`not_finite`].
fn finite(p: Prediction, model: &Path) -> Result<Prediction> {
    if p.logits.iter().all(|v| v.is_finite()) {
        Ok(p)
    } else {
        Err(not_finite(model, "this input"))
    }
}

pub(crate) fn run(args: PredictArgs, output: Output) -> Result<()> {
    let checkpoint = super::read_checkpoint(&args.model, None)?;
    let arch = checkpoint.architecture().clone();
    let model = checkpoint.load()?;
    let k = args.top.clamp(1, model.classes.len().max(1));
    let common = json!({
        "command": "predict",
        "model": args.model.display().to_string(),
        "architecture": arch.to_string(),
        "classes": model.classes.names(),
    });
    match (&args.image, args.index, &args.data) {
        (Some(path), _, _) => {
            let Some(image) = model.image else {
                bail!(
                    "--image needs a model of images, but {} takes {} (not an image); classify rows with --data FILE",
                    args.model.display(),
                    shape_of(&model)
                );
            };
            let pixels = preprocess::load_picture(path, image)?;
            let raw: Vec<f32> = pixels.iter().map(|&p| f32::from(p)).collect();
            let p = finite(
                Prediction::from_logits(model.logits_raw(&raw), k),
                &args.model,
            )?;
            let source = json!({ "image": path.display().to_string() });
            one(&model, &common, source, Some(&pixels), &p, None, output)
        }
        (None, Some(index), data) => {
            let path = data.clone().unwrap_or_else(|| PathBuf::from("data"));
            let data =
                super::eval::load_for_model(&args.read, &path, args.set, &model, &args.model)?;
            if index >= data.len() {
                bail!(
                    "--index {index} is out of range: {} has {} samples; pick 0 to {}",
                    data.name(),
                    data.len(),
                    data.len().saturating_sub(1)
                );
            }
            let mut raw = vec![0.0; data.features()];
            data.raw_f32(index, &mut raw);
            let mut x = vec![0.0; model.inputs()];
            model.input(&data, index, &mut x);
            let p = finite(
                Prediction::from_logits(model.net.logits(&x), k),
                &args.model,
            )?;
            let pixels = model.image.map(|_| match data.pixels(index) {
                Some(p) => p.to_vec(),
                None => to_pixels(&raw),
            });
            let source = json!({ "data": data.name(), "set": args.set.name(), "index": index });
            one(
                &model,
                &common,
                source,
                pixels.as_deref(),
                &p,
                Some(data.label(index)),
                output,
            )
        }
        (None, None, Some(path)) => all_rows(&args, path, &model, common, k, output),
        (None, None, None) => {
            bail!("give --data FILE (classify every row), --index N or --image FILE")
        }
    }
}

/// Prints one prediction: the drawing, `predicted: CLASS`, the top classes,
/// `label: CLASS`.
fn one(
    model: &Model,
    common: &serde_json::Value,
    source: serde_json::Value,
    pixels: Option<&[u8]>,
    p: &Prediction,
    label: Option<usize>,
    output: Output,
) -> Result<()> {
    let name = |c: usize| model.classes.name(c).to_owned();
    if output.chatty() {
        if let (Some(pixels), Some((r, c))) = (pixels, model.image) {
            print(&render_image(pixels, r, c));
        }
    }
    output.result(&format!("predicted: {}", name(p.class)));
    if output.chatty() {
        let width = p
            .top
            .iter()
            .map(|r| name(r.class).chars().count())
            .max()
            .unwrap_or(1);
        let mut lines = String::new();
        for r in &p.top {
            let _ = writeln!(
                lines,
                "  {:>width$}: {:6.2}%",
                name(r.class),
                r.probability * 100.0
            );
        }
        print(&lines);
    }
    if let Some(label) = label {
        output.result(&format!("label: {}", name(label)));
    }
    let mut summary = common.clone();
    if let Some(object) = summary.as_object_mut() {
        object.insert("source".into(), source);
        object.insert("predicted".into(), p.class.into());
        object.insert("class".into(), name(p.class).into());
        object.insert("confidence".into(), p.confidence.into());
        object.insert("label".into(), label.into());
        object.insert("label_class".into(), label.map(name).into());
        object.insert("top".into(), top_json(model, p));
        object.insert("logits".into(), p.logits.clone().into());
    }
    output.summary(&summary)
}

fn top_json(model: &Model, p: &Prediction) -> serde_json::Value {
    p.top
        .iter()
        .map(|r| json!({ "class": r.class, "name": model.classes.name(r.class), "probability": r.probability }))
        .collect()
}

/// Rows classified at a time: their predictions (and their text) are all
/// `predict --data` holds besides the data, however many rows there are.
const BLOCK: usize = 4096;

/// Printed to stdout when this much text is waiting.
const FLUSH_AT: usize = 1 << 16;

/// Classifies every row of `path`, writing each block of rows as it goes
/// (lines, `--out` CSV, `--json` array): memory does not grow with the rows.
fn all_rows(
    args: &PredictArgs,
    path: &Path,
    model: &Model,
    summary: serde_json::Value,
    k: usize,
    output: Output,
) -> Result<()> {
    let rows = load_rows(args, path, model)?;
    let data = &rows.data;
    let mut csv = match &args.out {
        Some(out) => Some(CsvOut::create(out, rows.labelled)?),
        None => None,
    };
    let mut json = output.json.then(|| JsonOut::start(&summary, args, &rows));
    let mut text = String::new();
    let mut correct = 0;
    for start in (0..data.len()).step_by(BLOCK) {
        let block = predict_range(model, data, start..data.len().min(start + BLOCK), k);
        if let Some(bad) = block
            .iter()
            .position(|p| !p.logits.iter().all(|v| v.is_finite()))
        {
            return Err(not_finite(&args.model, &format!("sample {}", start + bad)));
        }
        for (i, p) in block.iter().enumerate() {
            let row = start + i;
            let view = RowView {
                model,
                row,
                prediction: p,
                label: rows.labelled.then(|| data.label(row)),
            };
            correct += usize::from(view.label == Some(p.class));
            if let Some(json) = &mut json {
                json.row(&view);
            } else {
                view.write_line(&mut text);
            }
            if let Some(csv) = &mut csv {
                csv.row(&view)?;
            }
        }
        if text.len() > FLUSH_AT {
            print(&text);
            text.clear();
        }
    }
    print(&text);
    if rows.labelled && !data.is_empty() && !output.json {
        output.result(&format!(
            "accuracy: {:.2}% ({correct} of {})",
            correct as f64 * 100.0 / data.len() as f64,
            data.len()
        ));
    }
    if let Some(csv) = csv {
        let written = csv.finish()?;
        if output.chatty() {
            super::say!("wrote {}", written.display());
        }
    }
    if let Some(json) = json {
        json.finish(rows.labelled.then_some(Correct {
            correct,
            samples: data.len(),
        }));
    }
    Ok(())
}

/// Reads the rows of `path` for `model` and checks their shape.
fn load_rows(args: &PredictArgs, path: &Path, model: &Model) -> Result<Rows> {
    let rule = label_rule(&args.read);
    let options = args.read.options(None);
    let rows = match read_rows(path, &options, args.set, model, &rule) {
        Ok(rows) => rows,
        Err(error) => {
            // A file of the wrong shape: say so rather than which label is
            // unknown (only then: a file too large to read, say, is not
            // another shape, whatever reading it otherwise would give).
            let about_labels = matches!(
                error,
                DataError::UnknownLabel { .. } | DataError::TooManyClasses { .. }
            );
            if let (true, Ok(data)) = (about_labels, args.read.load(path, args.set, None)) {
                model
                    .check_data(&data, &args.model)
                    .map_err(anyhow::Error::msg)?;
            }
            return Err(error.into());
        }
    };
    model
        .check_data(&rows.data, &args.model)
        .map_err(anyhow::Error::msg)?;
    Ok(rows)
}

/// One row's prediction, as the outputs show it.
struct RowView<'a> {
    model: &'a Model,
    row: usize,
    prediction: &'a Prediction,
    /// The row's label, when the file has labels.
    label: Option<usize>,
}

impl RowView<'_> {
    fn name(&self, class: usize) -> &str {
        self.model.classes.name(class)
    }

    /// `ROW: CLASS (PP.PP%)[ label: LABEL]`.
    fn write_line(&self, text: &mut String) {
        let p = self.prediction;
        let _ = write!(
            text,
            "{}: {} ({:.2}%)",
            self.row,
            self.name(p.class),
            p.confidence * 100.0
        );
        if let Some(label) = self.label {
            let _ = write!(text, " label: {}", self.name(label));
        }
        text.push('\n');
    }

    /// The row's object in the `--json` `predictions` array.
    fn json(&self) -> serde_json::Value {
        let p = self.prediction;
        let mut row = json!({
            "row": self.row,
            "index": p.class,
            "class": self.name(p.class),
            "confidence": p.confidence,
            "top": top_json(self.model, p),
        });
        if let Some(label) = self.label {
            row["label_index"] = label.into();
            row["label"] = self.name(label).into();
        }
        row
    }
}

/// The `--out FILE.csv` of `predict --data`, written as the rows are
/// classified into a temporary file that replaces FILE when complete.
struct CsvOut {
    path: PathBuf,
    file: AtomicWriter,
}

impl CsvOut {
    /// Starts the file with its header (checked writable before any row is
    /// classified).
    fn create(path: &Path, labelled: bool) -> Result<Self> {
        if path.is_dir() {
            bail!(
                "{}: is a directory; give --out a file name, e.g. predictions.csv",
                path.display()
            );
        }
        let mut file = AtomicWriter::create(path)
            .with_context(|| format!("cannot write {}", path.display()))?;
        let header: &[u8] = if labelled {
            b"index,class,confidence,label\n"
        } else {
            b"index,class,confidence\n"
        };
        file.write_all(header)
            .with_context(|| format!("cannot write {}", path.display()))?;
        Ok(Self {
            path: path.to_path_buf(),
            file,
        })
    }

    /// `index,class,confidence[,label]`.
    fn row(&mut self, view: &RowView<'_>) -> Result<()> {
        let p = view.prediction;
        let mut line = format!(
            "{},{},{}",
            view.row,
            csv_cell(view.name(p.class)),
            p.confidence
        );
        if let Some(label) = view.label {
            let _ = write!(line, ",{}", csv_cell(view.name(label)));
        }
        line.push('\n');
        self.file
            .write_all(line.as_bytes())
            .with_context(|| format!("cannot write {}", self.path.display()))
    }

    /// Moves the complete file into place; returns its path.
    fn finish(self) -> Result<PathBuf> {
        self.file
            .finish()
            .with_context(|| format!("cannot write {}", self.path.display()))?;
        Ok(self.path)
    }
}

/// How many rows the model got right, when the file has labels.
#[derive(Debug, Clone, Copy)]
struct Correct {
    correct: usize,
    samples: usize,
}

/// The one `--json` object of `predict --data`, printed as it is made: the
/// fields known before the rows, the `predictions` array a row at a time,
/// then `correct` and `accuracy` (which need every row).
struct JsonOut {
    text: String,
    rows: usize,
}

impl JsonOut {
    /// Prints `{`, the fields of `summary` and of the data, and opens the
    /// `predictions` array.
    fn start(summary: &serde_json::Value, args: &PredictArgs, rows: &Rows) -> Self {
        let mut fields: Vec<(String, serde_json::Value)> = summary
            .as_object()
            .map(|o| o.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default();
        fields.push(("data".into(), rows.data.name().into()));
        fields.push(("labelled".into(), rows.labelled.into()));
        fields.push(("samples".into(), rows.data.len().into()));
        if let Some(out) = &args.out {
            fields.push(("out".into(), out.display().to_string().into()));
        }
        let mut text = String::from("{\n");
        for (key, value) in &fields {
            let _ = writeln!(
                text,
                "  {}: {},",
                json_text(&key.as_str().into(), 1),
                json_text(value, 1)
            );
        }
        text.push_str("  \"predictions\": [");
        Self { text, rows: 0 }
    }

    /// Adds one row's object to the array.
    fn row(&mut self, view: &RowView<'_>) {
        let separator = if self.rows == 0 { "" } else { "," };
        let _ = write!(self.text, "{separator}\n    {}", json_text(&view.json(), 2));
        self.rows += 1;
        if self.text.len() > FLUSH_AT {
            print(&self.text);
            self.text.clear();
        }
    }

    /// Closes the array, adds `correct` and `accuracy` for labelled rows,
    /// and closes the object.
    fn finish(mut self, correct: Option<Correct>) {
        self.text
            .push_str(if self.rows == 0 { "]" } else { "\n  ]" });
        if let Some(Correct { correct, samples }) = correct {
            let accuracy = correct as f64 / samples.max(1) as f64;
            let _ = write!(
                self.text,
                ",\n  \"correct\": {correct},\n  \"accuracy\": {}",
                json_text(&accuracy.into(), 1)
            );
        }
        self.text.push_str("\n}\n");
        print(&self.text);
    }
}

/// `value` as pretty JSON for a place `depth` levels deep in the object.
fn json_text(value: &serde_json::Value, depth: usize) -> String {
    let text = serde_json::to_string_pretty(value).unwrap_or_else(|_| "null".into());
    text.replace('\n', &format!("\n{}", "  ".repeat(depth)))
}

/// A CSV cell, quoted when it holds a comma, a quote or a line break.
fn csv_cell(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}
