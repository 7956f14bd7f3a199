//! `host finetune`: retrains a checkpoint's output layer one sample at a time
//! (SGD with momentum, batch 1), exactly as the firmware's `finetune` program
//! does on the chip, and writes what the firmware streams and checks.
//!
//! The first `--steps` samples of `--data` (moved by `--shift`, if given) are
//! the training stream, one step each, in file order; the next `--eval`
//! samples are measured before and after. Into `--out`:
//!
//! - `model.safetensors`: the fine-tuned checkpoint;
//! - `finetune_train.bin`, `finetune_test.bin`: the two streams, raw, in the
//!   test-inputs format (`host::export::predictions`);
//! - `finetune_expected.bin`: the hyperparameters, both accuracies, the
//!   trained layer's bits and the logits afterwards
//!   (`host::finetune::expected_file`).
//!
//! Output: `accuracy before: …` and the result line `accuracy after: …`.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;

use host::data::Role;
use host::export::predictions::test_inputs;
use host::finetune::{self, expected_file};
use host::fs::write_atomic;
use host::model::checkpoint;
use tinymlp::Sgd;

use super::eval::load_for_model;
use super::{Output, ReadArgs};

#[derive(Debug, Args)]
pub(crate) struct FinetuneArgs {
    /// Checkpoint to fine-tune (a set of files a killed run left half replaced in its folder
    /// is completed first).
    #[arg(long, default_value = "model/model.safetensors")]
    model: PathBuf,
    /// Labelled samples: a CSV or IDX file, or a directory of MNIST files (its test split).
    #[arg(long, default_value = "data")]
    data: PathBuf,
    #[command(flatten)]
    read: ReadArgs,
    /// Training steps: the first N samples of --data, one step (batch 1) each, in order.
    #[arg(long, default_value_t = 5000, value_name = "N")]
    steps: usize,
    /// Samples after the training ones to measure on, before and after [default: all the rest].
    #[arg(long, value_name = "M")]
    eval: Option<usize>,
    /// Learning rate.
    #[arg(long, default_value_t = 0.01)]
    lr: f32,
    /// Momentum.
    #[arg(long, default_value_t = 0.9)]
    momentum: f32,
    /// Move every image DX columns right and DY rows down first (a distribution shift).
    #[arg(long, value_name = "DX,DY", value_parser = parse_shift, allow_hyphen_values = true)]
    shift: Option<(i32, i32)>,
    /// Output directory. One run at a time: a run into a folder another train, emit or
    /// finetune is writing fails at once, naming it.
    #[arg(long, default_value = "finetuned")]
    out: PathBuf,
}

fn parse_shift(text: &str) -> Result<(i32, i32), String> {
    let (dx, dy) = text
        .split_once(',')
        .ok_or_else(|| format!("'{text}': expected DX,DY, e.g. 3,2"))?;
    let n = |s: &str| s.trim().parse::<i32>().map_err(|e| format!("'{s}': {e}"));
    Ok((n(dx)?, n(dy)?))
}

pub(crate) fn run(args: FinetuneArgs, output: Output) -> Result<()> {
    // Held to the end: a second run into --out fails at once.
    let lock =
        host::fs::DirLock::acquire(&args.out, "host finetune").map_err(anyhow::Error::msg)?;
    let checkpoint = super::read_checkpoint(&args.model, Some(&lock))?;
    let before = checkpoint.load()?;
    let mut data = load_for_model(&args.read, &args.data, Role::Test, &before, &args.model)?;
    if let Some((dx, dy)) = args.shift {
        data = finetune::shift_images(&data, dx, dy).map_err(anyhow::Error::msg)?;
    }
    anyhow::ensure!(
        args.steps >= 1 && args.steps < data.len(),
        "--steps {}: {} has {} samples; leave some to measure on",
        args.steps,
        data.name(),
        data.len()
    );
    let rest = data.len() - args.steps;
    let m = args.eval.unwrap_or(rest);
    anyhow::ensure!(
        (1..=rest).contains(&m),
        "--eval {m}: there are {rest} samples after the {} training ones",
        args.steps
    );
    let train: Vec<usize> = (0..args.steps).collect();
    let eval: Vec<usize> = (args.steps..args.steps + m).collect();
    let (train, eval) = (data.select(&train), data.select(&eval));
    let sgd = Sgd {
        learning_rate: args.lr,
        momentum: args.momentum,
        ..Sgd::new(args.lr)
    };

    let mut after = before.clone();
    let loss = finetune::fine_tune(&mut after, &train, sgd);
    anyhow::ensure!(
        after.net.all_finite(),
        "fine-tuning diverged (non-finite parameters); lower --lr"
    );
    let (c0, c1) = (
        finetune::correct(&before, &eval),
        finetune::correct(&after, &eval),
    );

    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    let mut meta = checkpoint.metadata().clone();
    meta.insert("finetuned_from".into(), args.model.display().to_string());
    meta.insert("finetune_steps".into(), args.steps.to_string());
    meta.insert("finetune_learning_rate".into(), args.lr.to_string());
    meta.insert("finetune_momentum".into(), args.momentum.to_string());
    let files = [
        (
            "model.safetensors",
            checkpoint::to_bytes(&after, &meta).context("serialising the checkpoint")?,
        ),
        ("finetune_train.bin", test_inputs(&after, &train)),
        ("finetune_test.bin", test_inputs(&after, &eval)),
        (
            "finetune_expected.bin",
            expected_file(&before, &after, args.steps, &eval, sgd),
        ),
    ];
    for (name, bytes) in &files {
        let path = args.out.join(name);
        write_atomic(&path, bytes).with_context(|| format!("cannot write {}", path.display()))?;
        if output.chatty() {
            eprintln!("wrote {}", path.display());
        }
    }
    let pct = |c: usize| 100.0 * c as f64 / m as f64;
    if output.chatty() {
        super::print(&format!(
            "fine-tuned the output layer of {} on {} samples of {} (SGD lr {}, momentum {}, batch 1): mean loss {loss:.4}\n\
             accuracy before: {c0}/{m} = {:.2}%\n",
            args.model.display(),
            args.steps,
            data.name(),
            args.lr,
            args.momentum,
            pct(c0)
        ));
    }
    output.result(&format!("accuracy after: {c1}/{m} = {:.2}%", pct(c1)));
    output.summary(&serde_json::json!({
        "command": "finetune",
        "model": args.model.display().to_string(),
        "steps": args.steps,
        "eval": m,
        "mean_loss": loss,
        "correct_before": c0,
        "correct_after": c1,
        "accuracy_before": pct(c0) / 100.0,
        "accuracy_after": pct(c1) / 100.0,
        "files": files.iter().map(|(n, _)| args.out.join(n).display().to_string()).collect::<Vec<_>>(),
    }))
}
