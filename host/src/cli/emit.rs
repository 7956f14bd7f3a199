//! `host emit`: a checkpoint as Rust source for firmware, or as CSV tensors.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};

use super::Output;
use host::checkpoint::Checkpoint;
use host::dataset::{load_mnist, Split};
use host::emit::{self, Exportable};
use host::{atomic::write_atomic, export, with_network};

/// What `emit` writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum EmitFormat {
    /// Rust source with `pub static` items of the tinymlp types.
    Rust,
    /// One CSV file per tensor (`fc1.weight.csv`: a row per output), for spreadsheets.
    Csv,
}

#[derive(Debug, Args)]
pub(crate) struct EmitArgs {
    /// Checkpoint written by `host train`.
    #[arg(long, default_value = "model/model.safetensors")]
    model: PathBuf,
    /// Rust: write one file here (without it, the whole firmware bundle — weights.rs,
    /// weights_int8.rs, predictions_f32.bin, predictions_int8.bin — goes next to the
    /// checkpoint). CSV: the directory for the tensor files [default: next to the checkpoint].
    #[arg(long)]
    out: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = EmitFormat::Rust)]
    format: EmitFormat,
    /// With --out: emit the int8 quantized network instead of the f32 one.
    #[arg(long, requires = "out")]
    int8: bool,
    /// Directory with the MNIST files (training images calibrate int8; test images give accuracies).
    #[arg(long, default_value = "data")]
    data: PathBuf,
}

pub(crate) fn run(args: EmitArgs, output: Output) -> Result<()> {
    let checkpoint = Checkpoint::read(&args.model)?;
    let arch = checkpoint.architecture().clone();
    let beside_checkpoint = args.model.parent().map(PathBuf::from).unwrap_or_default();
    if args.format == EmitFormat::Csv {
        let dir = args.out.clone().unwrap_or(beside_checkpoint);
        let written = with_network!(arch, Net => {
            let mut net: Box<Net> = bytemuck::zeroed_box();
            checkpoint.load_into(&mut *net)?;
            export::write_tensors_csv(&dir, &*net)?
        });
        for path in &written {
            output.result(&format!("wrote {}", path.display()));
        }
        let files: Vec<String> = written.iter().map(|p| p.display().to_string()).collect();
        return output
            .summary(&serde_json::json!({ "architecture": arch.to_string(), "files": files }));
    }

    let train_set = load_mnist(&args.data, Split::Train)?;
    let test_set = load_mnist(&args.data, Split::Test)?;
    let seed = checkpoint
        .metadata()
        .get("seed")
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let name = arch.to_string();
    with_network!(arch, Net => {
        let mut net: Box<Net> = bytemuck::zeroed_box();
        checkpoint.load_into(&mut *net)?;
        match &args.out {
            None => {
                let summary = emit::write_bundle(
                    &*net, &name, seed, checkpoint.bytes(), &train_set, &test_set, &beside_checkpoint,
                )?;
                if output.chatty() {
                    eprintln!(
                        "wrote weights.rs, weights_int8.rs and the predictions files into {}",
                        beside_checkpoint.display()
                    );
                }
                output.result(&format!(
                    "test accuracy f32: {:.2}%, int8: {:.2}%",
                    summary.f32_accuracy * 100.0,
                    summary.int8_accuracy * 100.0
                ));
                output.summary(&serde_json::json!({
                    "architecture": name,
                    "directory": beside_checkpoint.display().to_string(),
                    "f32_accuracy": summary.f32_accuracy,
                    "int8_accuracy": summary.int8_accuracy,
                }))?;
            }
            Some(out) => {
                let (source, accuracy) = if args.int8 {
                    let q = emit::quantize_calibrated(&*net, &train_set)?;
                    let accuracy = emit::accuracy_on(&test_set, |x| Net::predict_int8(&q, x))?;
                    (Net::emit_int8(&q, &emit::header(&name, seed, checkpoint.bytes(), accuracy))?, accuracy)
                } else {
                    let accuracy = host::train::accuracy(&*net, &test_set);
                    (net.emit_f32(&emit::header(&name, seed, checkpoint.bytes(), accuracy))?, accuracy)
                };
                write_atomic(out, source.as_bytes())
                    .with_context(|| format!("cannot write {}", out.display()))?;
                output.result(&format!("wrote {}", out.display()));
                output.summary(&serde_json::json!({
                    "architecture": name,
                    "file": out.display().to_string(),
                    "int8": args.int8,
                    "test_accuracy": accuracy,
                }))?;
            }
        }
        Ok(())
    })
}
