//! `host predict`: classify one digit, from the data set or from an image file.

use std::path::PathBuf;

use anyhow::{bail, Result};
use clap::Args;
use serde_json::json;
use tinymlp::Network;

use host::arch::{CLASSES, INPUTS};
use host::checkpoint::Checkpoint;
use host::dataset::{load_mnist, Split};
use host::emit;
use host::preprocess::{self, SIDE};
use host::render::render_digit;
use host::with_network;

use super::{print, Output};

#[derive(Debug, Args)]
pub(crate) struct PredictArgs {
    /// Checkpoint written by `host train`.
    #[arg(long, default_value = "model/model.safetensors")]
    model: PathBuf,
    /// Classify image N of the MNIST set chosen by --set (0-based).
    #[arg(
        long,
        value_name = "N",
        required_unless_present = "image",
        conflicts_with = "image"
    )]
    index: Option<usize>,
    /// Which MNIST set --index refers to: test or train.
    #[arg(long, default_value_t = Split::Test, value_name = "SET")]
    set: Split,
    /// Classify a PNG or PGM picture of one digit (any size; dark on light or
    /// light on dark). It is cropped, scaled into 20x20 and centred in 28x28 like MNIST.
    #[arg(long, value_name = "FILE")]
    image: Option<PathBuf>,
    /// Predict with the int8 quantized network, exactly as the firmware does
    /// (calibrated on the first 5000 training images, like `host emit`).
    #[arg(long)]
    int8: bool,
    /// Directory holding the MNIST files (for --index, and for --int8 calibration).
    #[arg(long, default_value = "data")]
    data: PathBuf,
}

pub(crate) fn run(args: PredictArgs, output: Output) -> Result<()> {
    let checkpoint = Checkpoint::read(&args.model)?;
    let (pixels, label, source) = match (&args.image, args.index) {
        (Some(path), _) => (
            preprocess::load_digit(path)?.to_vec(),
            None,
            json!({ "image": path.display().to_string() }),
        ),
        (None, Some(index)) => {
            let data = load_mnist(&args.data, args.set)?;
            let Some((image, label)) = data.get(index) else {
                bail!(
                    "--index {index} is out of range: the {} set in {} has {} images; pick 0 to {}",
                    args.set,
                    args.data.display(),
                    data.len(),
                    data.len().saturating_sub(1)
                );
            };
            if image.len() != INPUTS {
                bail!(
                    "{}: images are {}x{}, the network takes 28x28",
                    args.data.display(),
                    data.rows(),
                    data.cols()
                );
            }
            (
                image.to_vec(),
                Some(label),
                json!({ "set": args.set.name(), "index": index }),
            )
        }
        (None, None) => bail!("give --index N or --image FILE"),
    };
    let arch = checkpoint.architecture().clone();
    let logits: [f32; CLASSES] = with_network!(arch, Net => {
        let mut net: Box<Net> = bytemuck::zeroed_box();
        checkpoint.load_into(&mut *net)?;
        let image: &[u8; INPUTS] = pixels.as_slice().try_into()?;
        if args.int8 {
            let train_set = load_mnist(&args.data, Split::Train)?;
            let quantized = emit::quantize_calibrated(&*net, &train_set)?;
            quantized.logits(image)
        } else {
            net.logits(&tinymlp::pixels_to_input(image))
        }
    });
    let top = tinymlp::top_k::<3, CLASSES>(&logits);
    let predicted = top.first().map_or(0, |r| r.class);

    if output.details() {
        print(&render_digit(&pixels, SIDE, SIDE));
    }
    output.result(&format!("predicted: {predicted}"));
    if output.details() {
        for r in &top {
            print(&format!("  {}: {:6.2}%\n", r.class, r.probability * 100.0));
        }
    }
    if let Some(label) = label {
        output.result(&format!("label: {label}"));
    }
    output.summary(&json!({
        "command": "predict",
        "model": args.model.display().to_string(),
        "architecture": arch.to_string(),
        "int8": args.int8,
        "source": source,
        "predicted": predicted,
        "label": label,
        "top": top
            .iter()
            .map(|r| json!({ "class": r.class, "probability": r.probability }))
            .collect::<Vec<_>>(),
        "logits": logits.to_vec(),
    }))
}
