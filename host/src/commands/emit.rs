//! `host emit`: a checkpoint as Rust source for firmware.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;

use host::checkpoint::Checkpoint;
use host::dataset::{load_mnist, Split};
use host::emit::{self, Exportable};
use host::{atomic::write_atomic, with_network};

#[derive(Debug, Args)]
pub(crate) struct EmitArgs {
    /// Checkpoint written by `host train`.
    #[arg(long, default_value = "model/model.safetensors")]
    model: PathBuf,
    /// Write one Rust file here. Without it, the whole firmware bundle (weights.rs,
    /// weights_int8.rs, predictions_f32.bin, predictions_int8.bin) goes next to the checkpoint.
    #[arg(long)]
    out: Option<PathBuf>,
    /// With --out: emit the int8 quantized network instead of the f32 one.
    #[arg(long, requires = "out")]
    int8: bool,
    /// Directory with the MNIST files (training images calibrate int8; test images give accuracies).
    #[arg(long, default_value = "data")]
    data: PathBuf,
}

pub(crate) fn run(args: EmitArgs) -> Result<()> {
    let checkpoint = Checkpoint::read(&args.model)?;
    let train_set = load_mnist(&args.data, Split::Train)?;
    let test_set = load_mnist(&args.data, Split::Test)?;
    let arch = checkpoint.architecture().clone();
    let seed = checkpoint
        .metadata()
        .get("seed")
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    with_network!(arch, Net => {
        let mut net: Box<Net> = bytemuck::zeroed_box();
        checkpoint.load_into(&mut *net)?;
        match &args.out {
            None => {
                let dir = args.model.parent().map(PathBuf::from).unwrap_or_default();
                let summary = emit::write_bundle(&*net, &arch.to_string(), seed, checkpoint.bytes(), &train_set, &test_set, &dir)?;
                eprintln!("wrote weights.rs, weights_int8.rs and the predictions files into {}", dir.display());
                println!(
                    "test accuracy f32: {:.2}%, int8: {:.2}%",
                    summary.f32_accuracy * 100.0,
                    summary.int8_accuracy * 100.0
                );
            }
            Some(out) => {
                let images = emit::images(&test_set)?;
                let source = if args.int8 {
                    let calibration = emit::images(&train_set)?;
                    let q = net.quantize(&calibration[..calibration.len().min(emit::CALIBRATION_IMAGES)])?;
                    let correct = images.iter().zip(test_set.labels())
                        .filter(|(x, &y)| Net::predict_int8(&q, x) == usize::from(y)).count();
                    let accuracy = correct as f64 / images.len().max(1) as f64;
                    Net::emit_int8(&q, &emit::header(&arch.to_string(), seed, checkpoint.bytes(), accuracy))?
                } else {
                    let accuracy = host::train::accuracy(&*net, &test_set);
                    net.emit_f32(&emit::header(&arch.to_string(), seed, checkpoint.bytes(), accuracy))?
                };
                write_atomic(out, source.as_bytes()).with_context(|| format!("cannot write {}", out.display()))?;
                eprintln!("wrote {}", out.display());
            }
        }
        Ok(())
    })
}
