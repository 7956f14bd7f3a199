//! `host eval`: accuracy, per-class accuracy and the confusion matrix of a
//! checkpoint on any labelled data set, with its class names.
//!
//! Output: the per-class table and the confusion matrix (not with `--quiet`
//! or `--json`), then `test accuracy: NN.NN%` last. Pictures: `confusion.svg`
//! always, `errors.png` (the first `--errors` misclassified samples) for
//! image models, into `--out` [default: the model's directory]. With
//! `--json`, stdout holds one JSON object, stderr no human lines, and the
//! pictures are written only when `--pictures` or `--out` asks for them.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Args;

use host::data::{Dataset, Role};
use host::eval::{accuracy_line, Evaluation};
use host::fs::write_atomic;
use host::model::Model;
use host::report::pictures::{self, Misclassified};
use host::report::render::to_pixels;
use host::train;

use super::{print, Output, ReadArgs};

#[derive(Debug, Args)]
pub(crate) struct EvalArgs {
    /// Checkpoint written by `host train`. If a run was killed while it replaced the files in
    /// its folder, that set is completed first (never read half replaced).
    #[arg(long, default_value = "model/model.safetensors")]
    model: PathBuf,
    /// Labelled data to evaluate on: a CSV or IDX file, or a directory of MNIST files
    /// (its test split).
    #[arg(long, default_value = "data")]
    data: PathBuf,
    /// The test set file; when given, it is evaluated instead of --data.
    #[arg(long, value_name = "PATH")]
    test: Option<PathBuf>,
    #[command(flatten)]
    read: ReadArgs,
    /// Directory for confusion.svg and errors.png [default: the model's directory].
    /// With --json, pictures are written only when --out or --pictures is given.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Write the pictures also with --json (into --out or the model's directory).
    #[arg(long)]
    pictures: bool,
    /// Most misclassified samples drawn in errors.png (the first ones; image models only).
    #[arg(long, default_value_t = 100, value_name = "N")]
    errors: usize,
}

/// Loads `path` for `model`: labels mapped into its classes; a file whose
/// shape does not fit the model is [`Model::check_data`]'s error, even when
/// its labels are unknown to the model too.
pub(crate) fn load_for_model(
    read: &ReadArgs,
    path: &Path,
    role: Role,
    model: &Model,
    model_path: &Path,
) -> Result<Dataset> {
    match read.load(path, role, Some(model.classes.clone())) {
        Ok(data) => {
            model
                .check_data(&data, model_path)
                .map_err(anyhow::Error::msg)?;
            Ok(data)
        }
        Err(error) => {
            // A shape mismatch explains more than an unknown label.
            if let Ok(data) = read.load(path, role, None) {
                model
                    .check_data(&data, model_path)
                    .map_err(anyhow::Error::msg)?;
            }
            Err(error)
        }
    }
}

pub(crate) fn run(args: EvalArgs, output: Output) -> Result<()> {
    let checkpoint = super::read_checkpoint(&args.model, None)?;
    let arch = checkpoint.architecture().clone();
    let model = checkpoint.load()?;
    let path = args.test.as_ref().unwrap_or(&args.data);
    let data = load_for_model(&args.read, path, Role::Test, &model, &args.model)?;
    let predicted = train::checked_predictions(&model, &data).map_err(|sample| {
        super::predict::not_finite(&args.model, &format!("sample {sample} of {}", data.name()))
    })?;
    let labels: Vec<usize> = data.labels().iter().map(|&l| usize::from(l)).collect();
    let evaluation = Evaluation::new(model.classes.clone(), &predicted, &labels);
    let want_pictures = !output.json || args.pictures || args.out.is_some();
    let written = if want_pictures {
        let out_dir = match &args.out {
            Some(dir) => dir.clone(),
            None => args
                .model
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .map_or_else(|| PathBuf::from("."), Path::to_path_buf),
        };
        write_pictures(
            &out_dir,
            &evaluation,
            &model,
            &data,
            &predicted,
            args.errors,
        )?
    } else {
        Vec::new()
    };
    if output.chatty() {
        print(&format!(
            "model: {} ({}), data: {} ({} samples)\n",
            args.model.display(),
            arch,
            data.name(),
            data.len()
        ));
        print(&evaluation.report());
    }
    if output.chatty() {
        for path in &written {
            super::say!("wrote {}", path.display());
        }
    }
    if !output.json {
        output.result(&accuracy_line(evaluation.accuracy()));
    }
    let mut summary = evaluation.to_json();
    if let Some(object) = summary.as_object_mut() {
        object.insert("command".into(), "eval".into());
        object.insert("model".into(), args.model.display().to_string().into());
        object.insert("architecture".into(), arch.to_string().into());
        object.insert("data".into(), data.name().into());
        object.insert(
            "files".into(),
            written
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .into(),
        );
    }
    output.summary(&summary)
}

/// Writes confusion.svg, and errors.png for image models (the first
/// `max_errors` misclassified samples), into `dir`; returns their paths.
fn write_pictures(
    dir: &Path,
    evaluation: &Evaluation,
    model: &Model,
    data: &Dataset,
    predicted: &[usize],
    max_errors: usize,
) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut files = vec![(
        "confusion.svg",
        pictures::confusion_svg(evaluation)?.into_bytes(),
    )];
    if let Some(image) = model.image {
        let wrong: Vec<usize> = (0..data.len())
            .filter(|&i| predicted[i] != data.label(i))
            .take(max_errors)
            .collect();
        let mut raw = vec![0.0; data.features()];
        let pixels: Vec<Vec<u8>> = wrong
            .iter()
            .map(|&i| match data.pixels(i) {
                Some(p) => p.to_vec(),
                None => {
                    data.raw_f32(i, &mut raw);
                    to_pixels(&raw)
                }
            })
            .collect();
        let errors: Vec<Misclassified<'_>> = wrong
            .iter()
            .zip(&pixels)
            .map(|(&i, pixels)| Misclassified {
                pixels,
                truth: data.label(i),
                predicted: predicted[i],
            })
            .collect();
        files.push(("errors.png", pictures::errors_png(&errors, image)?));
    }
    files
        .into_iter()
        .map(|(name, bytes)| {
            let path = dir.join(name);
            write_atomic(&path, &bytes).with_context(|| {
                format!(
                    "cannot write {}; choose a writable directory with --out",
                    path.display()
                )
            })?;
            Ok(path)
        })
        .collect()
}
