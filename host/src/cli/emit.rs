//! `host emit`: a checkpoint as Rust source for firmware (the whole bundle,
//! or one file), or as CSV tensors.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};

use host::data::{Format, Header as CsvHeader, LabelColumn};
use host::export::rust::{self, Header};
use host::export::{bundle, quantize_calibrated, tensors, write_bundle};
use host::fs::write_atomic;
use host::model::Checkpoint;

use super::{Output, ReadArgs, TrainDataArgs};

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
    /// Checkpoint written by `host train`. If a run was killed while it replaced the files in
    /// its folder, that set is completed first (never read half replaced).
    #[arg(long, default_value = "model/model.safetensors")]
    model: PathBuf,
    /// Rust: write one file here (without it, the whole firmware bundle — weights.rs,
    /// weights_int8.rs, the predictions files and test_inputs.bin.gz — goes next to the
    /// checkpoint). CSV: the directory for the tensor files [default: next to the checkpoint].
    /// A folder another train, emit or finetune is writing is refused at once, naming it.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = EmitFormat::Rust)]
    format: EmitFormat,
    /// With --out: emit the int8 quantised network instead of the f32 one.
    #[arg(long, requires = "out")]
    int8: bool,
    /// The model's training data (calibrates the int8 scales): an MNIST directory or a
    /// file, as for `train`.
    #[arg(long, default_value = "data")]
    data: PathBuf,
    /// The test set (accuracies and the firmware's predictions) [default: the MNIST test
    /// files of a --data directory].
    #[arg(long, value_name = "PATH", conflicts_with = "test_fraction")]
    test: Option<PathBuf>,
    /// As for `train`: the share of --data held out as the test set (split with the
    /// checkpoint's seed, so it is the training run's test set).
    #[arg(long, value_name = "F")]
    test_fraction: Option<f64>,
    /// As for `train`: the last N training samples were held out for validation (they
    /// do not calibrate the int8 scales).
    #[arg(long, default_value_t = 0)]
    val: usize,
    /// As for `train`: only the first N training samples were used.
    #[arg(long)]
    limit: Option<usize>,
    /// Data file format: auto, idx or csv (`--format` of `train`; here `--format` is
    /// what to emit).
    #[arg(long, default_value_t = Format::Auto)]
    data_format: Format,
    /// The CSV column holding the labels, as for `train`.
    #[arg(long, value_name = "COLUMN")]
    label_column: Option<LabelColumn>,
    /// Whether CSV files start with a header row: yes, no, or auto.
    #[arg(long, default_value_t = CsvHeader::Auto)]
    header: CsvHeader,
    /// CSV delimiter: `,`, `;` or `tab` [default: detected from the first line].
    #[arg(long, value_name = "CHAR", value_parser = super::parse_delimiter)]
    delimiter: Option<u8>,
}

impl EmitArgs {
    fn read(&self) -> ReadArgs {
        ReadArgs {
            format: self.data_format,
            label_column: self.label_column.clone(),
            header: self.header,
            delimiter: self.delimiter,
        }
    }
}

pub(crate) fn run(args: EmitArgs, output: Output) -> Result<()> {
    let beside_checkpoint = super::folder_of(&args.model);
    let target = match (&args.out, args.format) {
        (None, _) => beside_checkpoint.clone(),
        (Some(dir), EmitFormat::Csv) => dir.clone(),
        (Some(file), EmitFormat::Rust) => super::folder_of(file),
    };
    // Held to the end: a second run writing into that folder fails at once.
    let lock = host::fs::DirLock::acquire(&target, "host emit").map_err(anyhow::Error::msg)?;
    // A `train` killed while it renamed its files into place: complete that
    // set first, so the checkpoint read is the one its bundle describes.
    let checkpoint = super::read_checkpoint(&args.model, Some(&lock))?;
    let model = checkpoint.load()?;
    let arch = model.net.architecture().to_string();
    if args.format == EmitFormat::Csv {
        let dir = args.out.clone().unwrap_or(beside_checkpoint);
        let written = tensors::write_tensors_csv(&dir, &model.net)?;
        for path in &written {
            output.result(&format!("wrote {}", path.display()));
        }
        let files: Vec<String> = written.iter().map(|p| p.display().to_string()).collect();
        return output.summary(&serde_json::json!({ "architecture": arch, "files": files }));
    }

    let seed = checkpoint
        .metadata()
        .get("seed")
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    // The training run's own data sets: the same files, split the same way.
    let data = TrainDataArgs {
        data: args.data.clone(),
        test: args.test.clone(),
        test_fraction: args.test_fraction,
        val: args.val,
        limit: args.limit,
        read: args.read(),
    }
    .load_for(seed, Some(&model.classes))?;
    let (train, test) = (data.train, data.test);
    for data in [&train, &test] {
        model
            .check_data(data, &args.model)
            .map_err(anyhow::Error::msg)?;
    }

    match &args.out {
        None => {
            let summary = write_bundle(
                &model,
                checkpoint.bytes(),
                seed,
                &train,
                &test,
                &beside_checkpoint,
            )?;
            if output.chatty() {
                for path in &summary.files {
                    super::say!("wrote {}", path.display());
                }
            }
            output.result(&format!(
                "test accuracy int8: {:.2}%",
                summary.int8_accuracy * 100.0
            ));
            let files: Vec<String> = summary
                .files
                .iter()
                .map(|p| p.display().to_string())
                .collect();
            output.summary(&serde_json::json!({
                "architecture": arch,
                "directory": beside_checkpoint.display().to_string(),
                "int8_accuracy": summary.int8_accuracy,
                "files": files,
            }))
        }
        Some(out) => emit_one(&args, &checkpoint, seed, &train, &test, out, output),
    }
}

fn emit_one(
    args: &EmitArgs,
    checkpoint: &Checkpoint,
    seed: u64,
    train: &host::data::Dataset,
    test: &host::data::Dataset,
    out: &Path,
    output: Output,
) -> Result<()> {
    let model = checkpoint.load()?;
    let (source, accuracy) = if args.int8 {
        let q = quantize_calibrated(&model, train)?;
        let accuracy = bundle::accuracy_int8(&q, test);
        let header = Header::new(seed, checkpoint.bytes(), Some(accuracy));
        (rust::emit_int8(&model, &q, &header)?, accuracy)
    } else {
        let accuracy = bundle::accuracy_f32(&model, test);
        let header = Header::new(seed, checkpoint.bytes(), Some(accuracy));
        (rust::emit_f32(&model, &header)?, accuracy)
    };
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    write_atomic(out, source.as_bytes())
        .with_context(|| format!("cannot write {}", out.display()))?;
    output.result(&format!("wrote {}", out.display()));
    output.summary(&serde_json::json!({
        "architecture": model.net.architecture().to_string(),
        "file": out.display().to_string(),
        "int8": args.int8,
        "test_accuracy": accuracy,
    }))
}
