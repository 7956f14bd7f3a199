//! `host finetune`: trains the way the firmware trains on the chip, step for
//! step, and writes what the firmware streams and checks.
//!
//! - `--layers last` (the default): retrains a checkpoint's output layer one
//!   sample at a time (SGD with momentum, batch 1), as the firmware's
//!   `finetune` program does (`host::finetune`).
//! - `--layers all`: trains every layer of a checkpoint, or with
//!   `--from-scratch --hidden W,… --seed S` of a network the chip
//!   initialises itself, for `--epochs` passes in a seeded order, batches of
//!   up to 16, SGD or Adam, as the firmware's `train` program does
//!   (`host::finetune::layers`).
//!
//! The first `--steps` samples of `--data` (moved by `--shift`, if given) are
//! the training samples; the evaluation samples are `--test`, or else the
//! samples after the training ones (`--eval` of them). Into `--out`:
//!
//! - `model.safetensors`: the trained checkpoint;
//! - `finetune_train.bin`, `finetune_test.bin`: the two streams, raw, in the
//!   test-inputs format (`host::export::predictions`);
//! - `finetune_expected.bin`: the hyperparameters, both accuracies, the
//!   trained parameters' bits and the logits afterwards
//!   (`host::finetune::expected_file`, `layers::expected_every_layer`);
//! - with `--layers all`, `finetune_net.rs`: the network's type for the
//!   firmware, and the starting weights unless `--from-scratch`
//!   (`layers::net_source`).
//!
//! Output: `accuracy before: …` and the result line `accuracy after: …`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};

use host::data::{Dataset, Role};
use host::export::predictions::test_inputs;
use host::finetune::layers::{self, EveryLayer, EveryLayerRun};
use host::finetune::{self, expected_file, Drift};
use host::fs::write_atomic;
use host::fs::DirLock;
use host::model::{checkpoint, Architecture, HiddenLayers, Model, Scaling};
use tinymlp::Sgd;

use super::eval::load_for_model;
use super::{Output, ReadArgs};

/// The checkpoint fine-tuned when `--model` is not given.
const DEFAULT_MODEL: &str = "model/model.safetensors";
/// Training samples without `--test` when `--steps` is not given.
const DEFAULT_STEPS: usize = 5000;
/// Most `--epochs`.
const MAX_EPOCHS: usize = 10_000;

#[derive(Debug, Args)]
pub(crate) struct FinetuneArgs {
    /// Checkpoint to train [default: model/model.safetensors; none with --from-scratch]. A set
    /// of files a killed run left half replaced in its folder is completed first.
    #[arg(long)]
    model: Option<PathBuf>,
    /// Labelled samples: a CSV or IDX file, or a directory of MNIST files (its test split;
    /// with --from-scratch its training split).
    #[arg(long, default_value = "data")]
    data: PathBuf,
    /// Evaluation samples from this file instead of the samples after the training ones.
    #[arg(long, value_name = "PATH")]
    test: Option<PathBuf>,
    #[command(flatten)]
    read: ReadArgs,
    /// Which layers train: `last` (the output layer; the others stay frozen in flash) or
    /// `all`.
    #[arg(long, value_enum, default_value_t = Layers::Last)]
    layers: Layers,
    /// With --layers all: start from the core's initialisation (--hidden, --seed) instead
    /// of a checkpoint.
    #[arg(long)]
    from_scratch: bool,
    /// With --from-scratch: the hidden layers' widths, e.g. 32,16 (none: `-`).
    #[arg(long, value_name = "W1,W2,…")]
    hidden: Option<HiddenLayers>,
    /// With --layers all: seed of the initialisation (--from-scratch) and, plus one, of the
    /// order of the samples in each epoch.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Training samples: the first N of --data [default: 5000; all of --data with --test].
    /// With --layers last each is one step (batch 1), in order.
    #[arg(long, value_name = "N")]
    steps: Option<usize>,
    /// Evaluation samples, measured before and after [default: all of --test, or all the
    /// samples after the training ones].
    #[arg(long, value_name = "M")]
    eval: Option<usize>,
    /// With --layers all: passes over the training samples, each in a new order.
    #[arg(long, default_value_t = 1)]
    epochs: usize,
    /// With --layers all: samples per step, 1 to 16.
    #[arg(long, default_value_t = 1)]
    batch: usize,
    /// With --layers all: the update rule, sgd (with --momentum) or adam (PyTorch's betas).
    #[arg(long, value_enum, default_value_t = OptimizerName::Sgd)]
    optimizer: OptimizerName,
    /// Learning rate (constant).
    #[arg(long, default_value_t = 0.01)]
    lr: f32,
    /// SGD momentum.
    #[arg(long, default_value_t = 0.9)]
    momentum: f32,
    /// With --layers all: L2 weight decay on the weight matrices.
    #[arg(long, default_value_t = 0.0)]
    weight_decay: f32,
    /// Move every image DX columns right and DY rows down first (a distribution shift;
    /// --layers last).
    #[arg(long, value_name = "DX,DY", value_parser = parse_shift, allow_hyphen_values = true)]
    shift: Option<(i32, i32)>,
    /// Drift every numeric value of --data and --test to `v · GAIN + OFFSET` first (a
    /// sensor's drift).
    #[arg(long, value_name = "GAIN,OFFSET", value_parser = parse_drift, allow_hyphen_values = true)]
    drift: Option<Drift>,
    /// Output directory. One run at a time: a run into a folder another train, emit or
    /// finetune is writing fails at once, naming it.
    #[arg(long, default_value = "finetuned")]
    out: PathBuf,
}

/// `--layers`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Layers {
    /// The output layer.
    Last,
    /// Every layer.
    All,
}

/// `--optimizer`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum OptimizerName {
    /// SGD with momentum.
    Sgd,
    /// Adam.
    Adam,
}

fn parse_shift(text: &str) -> Result<(i32, i32), String> {
    let (dx, dy) = text
        .split_once(',')
        .ok_or_else(|| format!("'{text}': expected DX,DY, e.g. 3,2"))?;
    let n = |s: &str| s.trim().parse::<i32>().map_err(|e| format!("'{s}': {e}"));
    Ok((n(dx)?, n(dy)?))
}

fn parse_drift(text: &str) -> Result<Drift, String> {
    let (gain, offset) = text
        .split_once(',')
        .ok_or_else(|| format!("'{text}': expected GAIN,OFFSET, e.g. 0.5,4"))?;
    let n = |s: &str| match s.trim().parse::<f32>() {
        Ok(v) if v.is_finite() => Ok(v),
        Ok(_) => Err(format!("'{s}': not a finite number")),
        Err(e) => Err(format!("'{s}': {e}")),
    };
    Ok(Drift {
        gain: n(gain)?,
        offset: n(offset)?,
    })
}

/// Every option against its bounds and the others, before any file is read.
fn check_options(args: &FinetuneArgs) -> Result<()> {
    let all = args.layers == Layers::All;
    let last_only = |set: bool, option: &str| {
        anyhow::ensure!(
            all || !set,
            "{option} needs --layers all (the output layer trains one pass, batch 1, SGD)"
        );
        Ok(())
    };
    last_only(args.from_scratch, "--from-scratch")?;
    last_only(args.epochs != 1, "--epochs")?;
    last_only(args.batch != 1, "--batch")?;
    last_only(args.optimizer != OptimizerName::Sgd, "--optimizer adam")?;
    last_only(args.weight_decay != 0.0, "--weight-decay")?;
    anyhow::ensure!(
        !(all && args.shift.is_some()),
        "--shift moves images; --layers all trains on numeric features"
    );
    anyhow::ensure!(
        !(args.from_scratch && args.model.is_some()),
        "--from-scratch starts from the core's initialisation: leave out --model"
    );
    anyhow::ensure!(
        args.hidden.is_none() || args.from_scratch,
        "--hidden shapes a network from scratch: add --from-scratch (a --model keeps its layers)"
    );
    anyhow::ensure!(
        (1..=MAX_EPOCHS).contains(&args.epochs),
        "--epochs must be between 1 and {MAX_EPOCHS}"
    );
    anyhow::ensure!(
        (1..=layers::MAX_BATCH).contains(&args.batch),
        "--batch must be between 1 and {} (the chip sums a batch in one gradient buffer)",
        layers::MAX_BATCH
    );
    anyhow::ensure!(
        args.lr.is_finite() && args.lr > 0.0,
        "--lr must be a positive number"
    );
    anyhow::ensure!(
        args.momentum.is_finite() && (0.0..1.0).contains(&args.momentum),
        "--momentum must be a number in [0, 1)"
    );
    anyhow::ensure!(
        args.weight_decay.is_finite() && (0.0..=1.0).contains(&args.weight_decay),
        "--weight-decay must be a number between 0 and 1"
    );
    Ok(())
}

/// The samples a run trains on and those it measures on.
struct Streams {
    train: Dataset,
    eval: Dataset,
}

/// Cuts `data` (and `test`, if given) into the training and evaluation samples.
fn streams(args: &FinetuneArgs, mut data: Dataset, mut test: Option<Dataset>) -> Result<Streams> {
    if let Some(drift) = args.drift {
        let drifted = |d: &Dataset| finetune::drift_values(d, drift).map_err(anyhow::Error::msg);
        data = drifted(&data)?;
        test = test.as_ref().map(drifted).transpose()?;
    }
    let with_test = test.is_some();
    let steps = args
        .steps
        .unwrap_or(if with_test { data.len() } else { DEFAULT_STEPS });
    let most = if with_test {
        data.len()
    } else {
        data.len().saturating_sub(1)
    };
    anyhow::ensure!(
        (1..=most).contains(&steps),
        "--steps {steps}: {} has {} samples{}",
        data.name(),
        data.len(),
        if with_test {
            ""
        } else {
            "; leave some to measure on, or name --test"
        }
    );
    let (pool, first) = match test {
        Some(test) => (test, 0),
        None => (data.clone(), steps),
    };
    let rest = pool.len() - first;
    let m = args.eval.unwrap_or(rest);
    anyhow::ensure!(
        (1..=rest).contains(&m),
        "--eval {m}: {} has {rest} samples to measure on",
        pool.name()
    );
    let train: Vec<usize> = (0..steps).collect();
    let eval: Vec<usize> = (first..first + m).collect();
    Ok(Streams {
        train: data.select(&train),
        eval: pool.select(&eval),
    })
}

pub(crate) fn run(args: FinetuneArgs, output: Output) -> Result<()> {
    check_options(&args)?;
    // Held to the end: a second run into --out fails at once.
    let lock =
        host::fs::DirLock::acquire(&args.out, "host finetune").map_err(anyhow::Error::msg)?;
    match args.layers {
        Layers::Last => run_last(&args, &lock, output),
        Layers::All => run_all(&args, &lock, output),
    }
}

/// A checkpoint to start from.
struct Start {
    model: Model,
    path: PathBuf,
    metadata: BTreeMap<String, String>,
    bytes: Vec<u8>,
}

fn read_start(args: &FinetuneArgs, lock: &DirLock) -> Result<Start> {
    let path = args
        .model
        .clone()
        .unwrap_or_else(|| PathBuf::from(DEFAULT_MODEL));
    let checkpoint = super::read_checkpoint(&path, Some(lock))?;
    let bytes = std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(Start {
        model: checkpoint.load()?,
        path,
        metadata: checkpoint.metadata().clone(),
        bytes,
    })
}

/// `--data` and `--test` for a model: its input width, its classes.
fn load_for(args: &FinetuneArgs, model: &Model, path: &Path) -> Result<(Dataset, Option<Dataset>)> {
    let data = load_for_model(&args.read, &args.data, Role::Test, model, path)?;
    let test = match &args.test {
        Some(test) => Some(load_for_model(&args.read, test, Role::Test, model, path)?),
        None => None,
    };
    Ok((data, test))
}

fn run_last(args: &FinetuneArgs, lock: &DirLock, output: Output) -> Result<()> {
    let start = read_start(args, lock)?;
    let before = &start.model;
    let (mut data, test) = load_for(args, before, &start.path)?;
    if let Some((dx, dy)) = args.shift {
        data = finetune::shift_images(&data, dx, dy).map_err(anyhow::Error::msg)?;
    }
    let name = data.name().to_string();
    let Streams { train, eval } = streams(args, data, test)?;
    let sgd = Sgd {
        momentum: args.momentum,
        ..Sgd::new(args.lr)
    };
    let mut after = before.clone();
    let loss = finetune::fine_tune(&mut after, &train, sgd);
    anyhow::ensure!(
        after.net.all_finite(),
        "fine-tuning diverged (non-finite parameters); lower --lr"
    );
    let mut meta = start.metadata.clone();
    meta.insert("finetuned_from".into(), start.path.display().to_string());
    meta.insert("finetune_steps".into(), train.len().to_string());
    meta.insert("finetune_learning_rate".into(), args.lr.to_string());
    meta.insert("finetune_momentum".into(), args.momentum.to_string());
    let files = vec![
        (
            "model.safetensors",
            checkpoint::to_bytes(&after, &meta).context("serialising the checkpoint")?,
        ),
        ("finetune_train.bin", test_inputs(&after, &train)),
        ("finetune_test.bin", test_inputs(&after, &eval)),
        (
            "finetune_expected.bin",
            expected_file(before, &after, train.len(), &eval, sgd),
        ),
    ];
    write_files(&args.out, &files, output)?;
    let what = format!(
        "fine-tuned the output layer of {} on {} samples of {name} (SGD lr {}, momentum {}, batch 1): mean loss {loss:.4}",
        start.path.display(),
        train.len(),
        args.lr,
        args.momentum,
    );
    report(
        args,
        output,
        &what,
        Accuracies::of(before, &after, &eval),
        &files,
    )
}

/// Correct evaluation samples before and after training.
#[derive(Clone, Copy, Debug)]
struct Accuracies {
    before: usize,
    after: usize,
    of: usize,
}

impl Accuracies {
    fn of(before: &Model, after: &Model, eval: &Dataset) -> Self {
        Self {
            before: finetune::correct(before, eval),
            after: finetune::correct(after, eval),
            of: eval.len(),
        }
    }
}

fn write_files(out: &Path, files: &[(&str, Vec<u8>)], output: Output) -> Result<()> {
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    for (name, bytes) in files {
        let path = out.join(name);
        write_atomic(&path, bytes).with_context(|| format!("cannot write {}", path.display()))?;
        if output.chatty() {
            eprintln!("wrote {}", path.display());
        }
    }
    Ok(())
}

fn report(
    args: &FinetuneArgs,
    output: Output,
    what: &str,
    acc: Accuracies,
    files: &[(&str, Vec<u8>)],
) -> Result<()> {
    let pct = |c: usize| 100.0 * c as f64 / acc.of as f64;
    if output.chatty() {
        super::print(&format!(
            "{what}\naccuracy before: {}/{} = {:.2}%\n",
            acc.before,
            acc.of,
            pct(acc.before)
        ));
    }
    output.result(&format!(
        "accuracy after: {}/{} = {:.2}%",
        acc.after,
        acc.of,
        pct(acc.after)
    ));
    output.summary(&serde_json::json!({
        "command": "finetune",
        "layers": if args.layers == Layers::All { "all" } else { "last" },
        "from_scratch": args.from_scratch,
        "model": args.model.as_ref().map(|m| m.display().to_string()),
        "eval": acc.of,
        "correct_before": acc.before,
        "correct_after": acc.after,
        "accuracy_before": pct(acc.before) / 100.0,
        "accuracy_after": pct(acc.after) / 100.0,
        "files": files.iter().map(|(n, _)| args.out.join(n).display().to_string()).collect::<Vec<_>>(),
    }))
}

/// Where an every-layer run starts: a checkpoint, or the core's initialisation.
struct AllStart {
    model: Model,
    streams: Streams,
    /// The checkpoint's metadata and bytes (none from scratch).
    checkpoint: Option<Start>,
}

fn start_all(args: &FinetuneArgs, lock: &DirLock) -> Result<AllStart> {
    if !args.from_scratch {
        let start = read_start(args, lock)?;
        anyhow::ensure!(
            matches!(start.model.scaling, Scaling::Standardize { .. }),
            "{}: its inputs are scaled as {}; --layers all trains standardised numeric \
             features on the chip (e.g. data/digits-8x8, data/iris)",
            start.path.display(),
            start.model.scaling.name()
        );
        let (data, test) = load_for(args, &start.model, &start.path)?;
        return Ok(AllStart {
            model: start.model.clone(),
            streams: streams(args, data, test)?,
            checkpoint: Some(start),
        });
    }
    let data = args.read.load(&args.data, Role::Train, None)?;
    let test = match &args.test {
        Some(path) => {
            let mapped = args
                .read
                .load(path, Role::Test, Some(data.classes().clone()));
            // Other columns usually mean other labels too: the shapes explain more.
            if mapped.is_err() {
                if let Ok(unmapped) = args.read.load(path, Role::Test, None) {
                    host::data::check_compatible(&data, &unmapped)?;
                }
            }
            let test = mapped?;
            host::data::check_compatible(&data, &test)?;
            Some(test)
        }
        None => None,
    };
    let hidden = args.hidden.clone().unwrap_or(HiddenLayers(vec![32, 16]));
    let arch = Architecture::new(data.features(), &hidden, data.classes().len())
        .map_err(|e| anyhow::anyhow!("--hidden: {e}"))?;
    let streams = streams(args, data, test)?;
    Ok(AllStart {
        model: layers::from_scratch(&arch, &streams.train, args.seed),
        streams,
        checkpoint: None,
    })
}

fn run_all(args: &FinetuneArgs, lock: &DirLock, output: Output) -> Result<()> {
    let AllStart {
        model: before,
        streams: Streams { train, eval },
        checkpoint: start,
    } = start_all(args, lock)?;
    let run = EveryLayer {
        optimizer: EveryLayer::optimizer(
            args.optimizer == OptimizerName::Adam,
            args.momentum,
            args.weight_decay,
        ),
        learning_rate: args.lr,
        epochs: args.epochs,
        batch: args.batch,
        seed: args.seed,
    };
    let mut after = before.clone();
    let losses = layers::train_every_layer(&mut after, &train, &run)?;
    anyhow::ensure!(
        after.net.all_finite(),
        "training diverged (non-finite parameters); lower --lr"
    );
    let record = EveryLayerRun {
        before: &before,
        after: &after,
        run: &run,
        from_scratch: start.is_none(),
        train_samples: train.len(),
        eval: &eval,
        losses: &losses,
    };
    let files = every_layer_files(args, &record, &train, start.as_ref())?;
    write_files(&args.out, &files, output)?;
    let what = format!(
        "trained every layer of {} {} on {} samples: {} epochs, batch {}, {} lr {}: mean loss {:.4} → {:.4}",
        host::export::rust::architecture(after.net.architecture().widths()),
        start.as_ref().map_or(format!("from scratch (seed {})", args.seed), |s| format!("from {}", s.path.display())),
        train.len(),
        args.epochs,
        args.batch,
        run.optimizer.name(),
        args.lr,
        losses.first().copied().unwrap_or(0.0),
        losses.last().copied().unwrap_or(0.0),
    );
    report(
        args,
        output,
        &what,
        Accuracies::of(&before, &after, &eval),
        &files,
    )
}

/// The checkpoint, the two streams, the expected results and the network's
/// source of an every-layer run.
fn every_layer_files(
    args: &FinetuneArgs,
    record: &EveryLayerRun<'_>,
    train: &Dataset,
    start: Option<&Start>,
) -> Result<Vec<(&'static str, Vec<u8>)>> {
    let mut meta = start.map_or_else(BTreeMap::new, |s| s.metadata.clone());
    match start {
        Some(s) => meta.insert("finetuned_from".into(), s.path.display().to_string()),
        None => meta.insert("seed".into(), args.seed.to_string()),
    };
    for (key, value) in [
        ("finetune_layers", "all".to_string()),
        ("finetune_samples", train.len().to_string()),
        ("finetune_epochs", args.epochs.to_string()),
        ("finetune_batch", args.batch.to_string()),
        (
            "finetune_optimizer",
            record.run.optimizer.name().to_string(),
        ),
        ("finetune_learning_rate", args.lr.to_string()),
        ("finetune_order_seed", args.seed.to_string()),
    ] {
        meta.insert(key.into(), value);
    }
    let origin = start.map_or(layers::Origin::Scratch, |s| layers::Origin::Checkpoint {
        bytes: &s.bytes,
        seed: s
            .metadata
            .get("seed")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0),
    });
    let source = layers::net_source(record.before, origin).map_err(anyhow::Error::msg)?;
    Ok(vec![
        (
            "model.safetensors",
            checkpoint::to_bytes(record.after, &meta).context("serialising the checkpoint")?,
        ),
        ("finetune_train.bin", test_inputs(record.after, train)),
        ("finetune_test.bin", test_inputs(record.after, record.eval)),
        (
            "finetune_expected.bin",
            layers::expected_every_layer(record).map_err(anyhow::Error::msg)?,
        ),
        ("finetune_net.rs", source.into_bytes()),
    ])
}
