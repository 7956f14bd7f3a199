//! `host eval`: accuracy, per-class accuracy and the confusion matrix of a checkpoint.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Args;

use host::atomic::write_atomic;
use host::checkpoint::Checkpoint;
use host::dataset::Dataset;
use host::eval::{accuracy_line, Evaluation};
use host::pictures::{self, Misclassified};
use host::{train, with_network};

use super::{print, Output};

#[derive(Debug, Args)]
pub(crate) struct EvalArgs {
    /// Checkpoint written by `host train`.
    #[arg(long, default_value = "model/model.safetensors")]
    model: PathBuf,
    #[command(flatten)]
    data: super::DataArgs,
    /// Directory for confusion.svg and errors.png [default: the model's directory].
    #[arg(long)]
    out: Option<PathBuf>,
    /// Most misclassified digits drawn in errors.png (the first ones of the test set).
    #[arg(long, default_value_t = 100, value_name = "N")]
    errors: usize,
}

pub(crate) fn run(args: EvalArgs, output: Output) -> Result<()> {
    let checkpoint = Checkpoint::read(&args.model)?;
    let test_set = args.data.evaluation_set()?;
    let arch = checkpoint.architecture().clone();
    let predicted = with_network!(arch, Net => {
        let mut net: Box<Net> = bytemuck::zeroed_box();
        checkpoint.load_into(&mut *net)?;
        train::predictions(&*net, &test_set)
    });
    let evaluation = Evaluation::new(&predicted, test_set.labels());
    let out_dir = match &args.out {
        Some(dir) => dir.clone(),
        None => args
            .model
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf),
    };
    let written = write_pictures(&out_dir, &evaluation, &test_set, &predicted, args.errors)?;
    if output.details() {
        print(&format!("model: {} ({})\n", args.model.display(), arch));
        print(&evaluation.report());
    }
    if output.chatty() {
        for path in &written {
            eprintln!("wrote {}", path.display());
        }
    }
    output.result(&accuracy_line(evaluation.accuracy()));
    output.summary(&serde_json::json!({
        "command": "eval",
        "model": args.model.display().to_string(),
        "architecture": arch.to_string(),
        "samples": evaluation.total(),
        "correct": evaluation.correct(),
        "accuracy": evaluation.accuracy(),
        "per_class_accuracy": evaluation.per_class(),
        "confusion": evaluation.confusion,
        "files": written.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
    }))
}

/// Writes confusion.svg and errors.png (the first `max_errors` misclassified
/// test digits) into `dir`; returns their paths.
fn write_pictures(
    dir: &Path,
    evaluation: &Evaluation,
    test_set: &Dataset,
    predicted: &[u8],
    max_errors: usize,
) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let errors: Vec<Misclassified<'_>> = test_set
        .iter()
        .zip(predicted)
        .filter(|((_, label), &p)| *label != p)
        .take(max_errors)
        .map(|((pixels, truth), &predicted)| Misclassified {
            pixels,
            truth,
            predicted,
        })
        .collect();
    let files = [
        (
            "confusion.svg",
            pictures::confusion_svg(evaluation)?.into_bytes(),
        ),
        ("errors.png", pictures::errors_png(&errors)?),
    ];
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
