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
//!   `confidence`, `top`, and `label`/`label_index` when labelled.
//! - `--index N` (sample N of `--data`'s `--set` split) and `--image FILE`
//!   (image models only) classify one sample: drawn in the terminal for
//!   image models, then `predicted: CLASS`, the top classes and
//!   `label: CLASS`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::Args;
use serde_json::json;

use host::data::{LabelColumn, Role};
use host::eval::predict::{predict_dataset, read_rows, LabelRule, Prediction};
use host::fs::write_atomic;
use host::model::{Checkpoint, Model};
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
    /// Checkpoint written by `host train`.
    #[arg(long, default_value = "model/model.safetensors")]
    model: PathBuf,
    /// Data to classify, every row (a CSV or IDX file, or an MNIST directory's --set
    /// split); with --index, where sample N is [default: data].
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
    /// With --data: write `index,class,confidence[,label]` rows to this CSV file.
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
    let checkpoint = Checkpoint::read(&args.model)?;
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

/// Classifies every row of `path`.
fn all_rows(
    args: &PredictArgs,
    path: &Path,
    model: &Model,
    mut summary: serde_json::Value,
    k: usize,
    output: Output,
) -> Result<()> {
    let rule = label_rule(&args.read);
    let options = args.read.options(None);
    let rows = match read_rows(path, &options, args.set, model, &rule) {
        Ok(rows) => rows,
        Err(error) => {
            // A file of the wrong shape: say so rather than which label is unknown.
            if let Ok(data) = args.read.load(path, args.set, None) {
                model
                    .check_data(&data, &args.model)
                    .map_err(anyhow::Error::msg)?;
            }
            return Err(error.into());
        }
    };
    let data = &rows.data;
    model
        .check_data(data, &args.model)
        .map_err(anyhow::Error::msg)?;
    let predictions = predict_dataset(model, data, k);
    if let Some(bad) = predictions
        .iter()
        .position(|p| !p.logits.iter().all(|v| v.is_finite()))
    {
        return Err(not_finite(&args.model, &format!("sample {bad}")));
    }
    let name = |c: usize| model.classes.name(c);
    let correct = (0..data.len())
        .filter(|&i| predictions[i].class == data.label(i))
        .count();
    if !output.json {
        let mut text = String::new();
        for (i, p) in predictions.iter().enumerate() {
            let _ = write!(
                text,
                "{i}: {} ({:.2}%)",
                name(p.class),
                p.confidence * 100.0
            );
            if rows.labelled {
                let _ = write!(text, " label: {}", name(data.label(i)));
            }
            text.push('\n');
            // Printed as it goes: memory does not grow with the file.
            if text.len() > 1 << 16 {
                print(&text);
                text.clear();
            }
        }
        print(&text);
        if rows.labelled && !data.is_empty() {
            output.result(&format!(
                "accuracy: {:.2}% ({correct} of {})",
                correct as f64 * 100.0 / data.len() as f64,
                data.len()
            ));
        }
    }
    if let Some(out) = &args.out {
        let mut csv = String::from(if rows.labelled {
            "index,class,confidence,label\n"
        } else {
            "index,class,confidence\n"
        });
        for (i, p) in predictions.iter().enumerate() {
            let _ = write!(csv, "{i},{},{}", csv_cell(name(p.class)), p.confidence);
            if rows.labelled {
                let _ = write!(csv, ",{}", csv_cell(name(data.label(i))));
            }
            csv.push('\n');
        }
        write_atomic(out, csv.as_bytes())
            .with_context(|| format!("cannot write {}", out.display()))?;
        if output.chatty() {
            super::say!("wrote {}", out.display());
        }
    }
    if !output.json {
        return Ok(());
    }
    let list: Vec<serde_json::Value> = predictions
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let mut row = json!({
                "row": i,
                "index": p.class,
                "class": name(p.class),
                "confidence": p.confidence,
                "top": top_json(model, p),
            });
            if rows.labelled {
                row["label_index"] = data.label(i).into();
                row["label"] = name(data.label(i)).into();
            }
            row
        })
        .collect();
    if let Some(object) = summary.as_object_mut() {
        object.insert("data".into(), data.name().into());
        object.insert("labelled".into(), rows.labelled.into());
        object.insert("samples".into(), data.len().into());
        if rows.labelled {
            object.insert("correct".into(), correct.into());
            object.insert(
                "accuracy".into(),
                (correct as f64 / data.len().max(1) as f64).into(),
            );
        }
        if let Some(out) = &args.out {
            object.insert("out".into(), out.display().to_string().into());
        }
        object.insert("predictions".into(), list.into());
    }
    output.summary(&summary)
}

/// A CSV cell, quoted when it holds a comma, a quote or a line break.
fn csv_cell(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}
