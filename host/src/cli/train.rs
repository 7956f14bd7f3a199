//! `host train`: train a network on any data and write the model, its
//! metrics and the firmware bundle.
//!
//! Into `--out` it writes `model.safetensors`, `metrics.json` (what
//! identical runs share), `timings.json` (what they do not: epoch times and
//! the kernels the CPU gave the run), `curves.svg`
//! and the firmware bundle. While it runs, the checkpoint of a recent
//! finished epoch (at most a second of training old) is
//! `model.partial.safetensors`.
//!
//! # Consistency
//!
//! The files of a finished run are one [`FileSet`]: written under temporary
//! names, committed by a manifest, then renamed into place, the checkpoint
//! last (see [`host::fs`]). So the checkpoint and the bundle in one `--out`
//! always describe the same model (the SHA-256 in `weights.rs` is the
//! checkpoint's), and the previous run's set stays untouched until a run
//! completes: Ctrl-C, SIGTERM, `kill -9`, a full disk or an error leaves it
//! whole. A run killed during the renames leaves the manifest; the next
//! `train` (or `emit`) into that folder completes them first, and removes
//! the temporaries of killed runs; so does any command that reads a model
//! from that folder ([`host::fs::settle`]). Before loading data it checks
//! that every output can be written and takes the folder's lock
//! ([`host::fs::prepare_output_dir`]): a second run into the same `--out`
//! fails at once, naming this one.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use host::export::BundleSummary;
use host::fs::FileSet;
use host::model::{checkpoint, Checkpoint, HiddenLayers, Model, ScaleMode};
use host::train::{
    self, EpochMetrics, Observer, Optimizer, OptimizerChoice, Recipe, TrainConfig, Trained,
};

use super::{Output, TrainData, TrainDataArgs};

/// The checkpoint of a recent finished epoch, while a run goes on.
pub(crate) const PARTIAL: &str = "model.partial.safetensors";
/// Every file `train` writes into `--out`.
const OUTPUTS: &[&str] = &[
    "model.safetensors",
    PARTIAL,
    "metrics.json",
    "timings.json",
    "curves.svg",
    "weights.rs",
    "weights_int8.rs",
    "predictions_f32.bin",
    "predictions_int8.bin",
    "test_inputs.bin.gz",
];

/// The partial checkpoint is rewritten at most this often.
const PARTIAL_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

#[derive(Debug, Args)]
pub(crate) struct TrainArgs {
    #[command(flatten)]
    data: TrainDataArgs,
    /// Output directory for the model, its metrics and the firmware bundle. Into an existing
    /// one, a run replaces the previous run's files only when it completes, all together (the
    /// checkpoint and the bundle always describe one model); a failed or interrupted run
    /// leaves them as they were, a model of another architecture needs --force, and other
    /// files stay. Checked before the data is read. One run at a time: a second run into
    /// the same --out (train, emit, finetune) fails at once, naming this one (a lock on
    /// .tinymlp.lock there, released when the run ends, however it ends).
    #[arg(long, default_value = "model")]
    out: PathBuf,
    /// Hidden layer widths, input side first: `64`, `100`, `64,32,16` (up to 16 layers),
    /// or `none` for a linear softmax classifier. Inputs and classes come from the data.
    #[arg(long, default_value = "64")]
    hidden: HiddenLayers,
    /// Passes over the training set, 1 to 100000 [default: 25, or more so that the run takes
    /// at least 4000 optimiser steps (small data sets)].
    #[arg(long)]
    epochs: Option<usize>,
    /// Mini-batch size, 1 to 65536 (at most the training set's size is used). Memory does
    /// not grow with it: big batches run in waves.
    #[arg(long, default_value_t = TrainConfig::default().batch_size)]
    batch: usize,
    /// Optimiser: auto (SGD with Nesterov momentum for pixel images, Adam for numeric
    /// features), sgd or adam.
    #[arg(long, default_value_t = OptimizerChoice::Auto)]
    optimizer: OptimizerChoice,
    /// Peak learning rate of the one-cycle schedule [default: 0.05 for SGD, 0.01 for Adam].
    #[arg(long, allow_negative_numbers = true)]
    lr: Option<f32>,
    /// Weight decay (L2) on weight matrices, 0 to 1 [default: 2e-4 for SGD, 1e-3 for Adam].
    #[arg(long, allow_negative_numbers = true)]
    weight_decay: Option<f32>,
    /// SGD's (Nesterov) momentum, 0 to below 1; 0 is plain SGD, which never reads or writes
    /// a velocity and so streams less memory per step (the algorithm of the references in
    /// benches/side-by-side) [default: 0.9].
    #[arg(long, allow_negative_numbers = true)]
    momentum: Option<f32>,
    /// Input scaling: auto (pixels / 255 for pixel images, standardisation with the
    /// training set's mean and deviation for numeric features), standard, or none.
    #[arg(long, default_value_t = ScaleMode::Auto)]
    scale: ScaleMode,
    /// Largest random shift of training images in pixels (augmentation; 0 turns it off)
    /// [default: 1 for pixel images of 16x16 or more, else 0].
    #[arg(long)]
    shift: Option<usize>,
    /// Seed for initialisation, shuffling, augmentation and --test-fraction: same seed,
    /// same model.
    #[arg(long, default_value_t = TrainConfig::default().seed)]
    seed: u64,
    /// Worker threads for reading CSV data and for training, 1 to 256 [default: number of
    /// cores; fewer for a small network, and for epochs while other programs keep some
    /// busy]. The model does not depend on it, nor does memory beyond 128 MiB of per-thread
    /// buffers. Peak memory: about 64 MB, plus the data, plus 16 bytes per network parameter,
    /// plus those buffers (under 400 MB at the default options on any input).
    #[arg(long)]
    threads: Option<usize>,
    /// Replace an existing model of a different architecture in --out.
    #[arg(long)]
    force: bool,
}

pub(crate) fn run(args: TrainArgs, output: Output) -> Result<()> {
    let config = TrainConfig {
        hidden: args.hidden.clone(),
        epochs: args.epochs,
        batch_size: args.batch,
        learning_rate: args.lr,
        weight_decay: args.weight_decay,
        momentum: args.momentum,
        optimizer: args.optimizer,
        max_shift: args.shift,
        scale: args.scale,
        seed: args.seed,
        threads: args.threads.unwrap_or(TrainConfig::default().threads),
        adapt_threads: args.threads.is_none(),
        ..TrainConfig::default()
    };
    let started = Instant::now();
    // Fail fast: the options and the output directory before the data,
    // the data and the existing model before training.
    config.check()?;
    // Held to the end: a second run into --out fails at once.
    let _lock = host::fs::prepare_output_dir(&args.out, OUTPUTS, "host train")
        .map_err(anyhow::Error::msg)?;
    // CSV files are parsed in parallel: on --threads threads, as training.
    let threads = rayon::ThreadPoolBuilder::new().num_threads(config.threads);
    let pool = threads
        .build()
        .with_context(|| format!("cannot start {} threads", config.threads))?;
    let data = pool.install(|| args.data.load(args.seed))?;
    drop(pool);
    let recipe = config.resolve(&data.train)?;
    guard_existing_model(&args.out.join("model.safetensors"), &recipe, args.force)?;
    if output.chatty() {
        super::say!(
            "training {} ({}, {} classes) on {} samples, {} epochs, batch {}, {} lr {}, {} thread{}, seed {} (data loaded in {:.2}s)",
            recipe.architecture,
            data.train.shape(),
            data.train.classes().len(),
            data.train.len(),
            recipe.epochs,
            recipe.batch_size,
            recipe.optimizer.name(),
            recipe.learning_rate,
            config.most_threads(&recipe),
            if config.most_threads(&recipe) == 1 { "" } else { "s" },
            config.seed,
            started.elapsed().as_secs_f64()
        );
    }
    let mut observer = CliObserver {
        recipe: &recipe,
        seed: config.seed,
        out: &args.out,
        eval_name: data.eval_name,
        bar: None,
        last_saved: None,
        saved_at: None,
        lines: line_every(recipe.epochs),
        quiet: !output.chatty(),
        stop: stop_on_ctrl_c(),
        threads: (config.most_threads(&recipe), config.most_threads(&recipe)),
        said_why: false,
    };
    let started = Instant::now();
    let trained = train::train(&config, &data.train, data.eval(), &mut observer)
        .map_err(|e| observer.failure(e))?;
    let seconds = started.elapsed().as_secs_f64();
    save_run(&trained, &data, &args.out, (config.seed, seconds), output)
}

/// Prints a line for every epoch of a short run, about 25 lines for a long one.
fn line_every(epochs: usize) -> usize {
    epochs.div_ceil(25).max(1)
}

/// Writes the final model, metrics, pictures and the firmware bundle as one
/// [`FileSet`]: all of them replace the previous run's together, and the
/// partial checkpoint goes in the same commit.
fn save_run(
    trained: &Trained,
    data: &TrainData,
    out: &Path,
    (seed, seconds): (u64, f64),
    output: Output,
) -> Result<()> {
    let Trained {
        model,
        history,
        recipe,
    } = trained;
    let test_accuracy = train::accuracy(model, &data.test);
    let checkpoint_path = out.join("model.safetensors");
    let metadata = run_metadata(recipe, seed, history.len(), Some(test_accuracy));
    let bytes = checkpoint::to_bytes(model, &metadata)
        .with_context(|| format!("cannot serialise {}", checkpoint_path.display()))?;
    std::fs::create_dir_all(out)
        .with_context(|| format!("{}: cannot create the output directory", out.display()))?;
    let mut set = FileSet::new(out);
    let add = |set: &mut FileSet, name: &str, bytes: &[u8]| {
        set.add(name, bytes).map_err(anyhow::Error::msg)
    };
    let int8_accuracy =
        host::export::stage_bundle(model, &bytes, seed, &data.train, &data.test, &mut set)?;
    let bundle_files = set.paths();
    for (name, text) in metrics_json(recipe, seed, history, Some(test_accuracy))? {
        add(&mut set, name, text.as_bytes())?;
    }
    let curves = out.join("curves.svg");
    let svg = host::report::pictures::curves_svg(history, data.eval_name)?;
    add(&mut set, "curves.svg", svg.as_bytes())?;
    // The checkpoint last: the bundle's headers name its SHA-256.
    add(&mut set, "model.safetensors", &bytes)?;
    set.remove_on_commit(PARTIAL);
    set.commit().map_err(anyhow::Error::msg)?;
    let bundle = BundleSummary {
        int8_accuracy,
        files: bundle_files,
    };
    if output.chatty() {
        super::say!(
            "trained in {seconds:.2}s; wrote {} and {}",
            checkpoint_path.display(),
            curves.display()
        );
        super::say!(
            "wrote weights.rs and weights_int8.rs (int8 test accuracy {:.2}%) into {}",
            bundle.int8_accuracy * 100.0,
            out.display()
        );
    }
    output.result(&host::eval::accuracy_line(test_accuracy));
    output.summary(&serde_json::json!({
        "command": "train",
        "architecture": recipe.architecture.to_string(),
        "classes": model.classes.names(),
        "optimizer": recipe.optimizer.name(),
        "epochs": recipe.epochs,
        "seed": seed,
        "train_samples": data.train.len(),
        "seconds": seconds,
        "history": history,
        "test_accuracy": test_accuracy,
        "int8_test_accuracy": bundle.int8_accuracy,
        "model": checkpoint_path.display().to_string(),
        "files": bundle.files.iter().map(|f| f.display().to_string()).collect::<Vec<_>>(),
    }))
}

/// `host train` stopped by Ctrl-C (SIGINT); `main` exits with 130 for it.
#[derive(Debug)]
pub(crate) struct Interrupted {
    last_checkpoint: Option<PathBuf>,
}

impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.last_checkpoint {
            Some(path) => write!(
                f,
                "interrupted; the model in the output directory is unchanged, and a recent \
                 finished epoch is in {}",
                path.display()
            ),
            None => f.write_str("interrupted; no checkpoint was written"),
        }
    }
}

impl std::error::Error for Interrupted {}

/// Installs a Ctrl-C handler that sets the returned flag; the training loop
/// polls it at every batch boundary. A second Ctrl-C exits at once (outputs
/// are written atomically, so that too leaves no half-written file).
fn stop_on_ctrl_c() -> Arc<AtomicBool> {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    let installed = ctrlc::set_handler(move || {
        if flag.swap(true, Ordering::SeqCst) {
            std::process::exit(130);
        }
        super::say!("\nstopping at the next batch (Ctrl-C again to quit at once)");
    });
    if let Err(e) = installed {
        super::say!("warning: cannot handle Ctrl-C ({e}); it will end the run at once");
    }
    stop
}

/// Refuses to overwrite a checkpoint of another architecture unless `--force`.
fn guard_existing_model(path: &Path, recipe: &Recipe, force: bool) -> Result<()> {
    if force || !path.exists() {
        return Ok(());
    }
    match Checkpoint::read(path) {
        Ok(existing) if existing.architecture() == &recipe.architecture => Ok(()),
        Ok(existing) => bail!(
            "{} holds a {} model; training {} would replace it. Pass --force, or choose another --out",
            path.display(),
            existing.architecture(),
            recipe.architecture
        ),
        Err(e) => bail!("{e}; pass --force to replace it, or choose another --out"),
    }
}

fn run_metadata(
    recipe: &Recipe,
    seed: u64,
    epochs_done: usize,
    test_accuracy: Option<f64>,
) -> BTreeMap<String, String> {
    let mut meta = BTreeMap::new();
    meta.insert("tinymlp_version".into(), env!("CARGO_PKG_VERSION").into());
    meta.insert("activation".into(), "relu".into());
    meta.insert("seed".into(), seed.to_string());
    meta.insert("epochs".into(), epochs_done.to_string());
    meta.insert("batch_size".into(), recipe.batch_size.to_string());
    meta.insert("optimizer".into(), recipe.optimizer.name().into());
    meta.insert("learning_rate".into(), recipe.learning_rate.to_string());
    meta.insert("weight_decay".into(), recipe.weight_decay.to_string());
    if let Optimizer::Sgd(sgd) = recipe.optimizer {
        meta.insert("momentum".into(), sgd.momentum.to_string());
    }
    if let Some(acc) = test_accuracy {
        meta.insert("test_accuracy".into(), format!("{acc:.4}"));
    }
    meta
}

/// `metrics.json` holds what two identical runs share (so a tracked copy stays
/// clean); `timings.json` the seconds and throughput of each epoch, and the
/// kernels this CPU (and `TINYMLP_MAX_ISA`) gave the run.
fn metrics_json(
    recipe: &Recipe,
    seed: u64,
    history: &[EpochMetrics],
    test: Option<f64>,
) -> Result<[(&'static str, String); 2]> {
    let epochs: Vec<_> = history
        .iter()
        .map(|m| {
            serde_json::json!({
                "epoch": m.epoch,
                "train_loss": m.train_loss,
                "train_accuracy": m.train_accuracy,
                "eval_accuracy": m.eval_accuracy,
                "learning_rate": m.learning_rate,
            })
        })
        .collect();
    let timings: Vec<_> = history
        .iter()
        .map(|m| serde_json::json!({"epoch": m.epoch, "seconds": m.seconds, "samples_per_second": m.samples_per_second, "threads": m.threads}))
        .collect();
    let mut metrics = serde_json::json!({
        "architecture": recipe.architecture.to_string(),
        "seed": seed,
        "batch_size": recipe.batch_size,
        "optimizer": recipe.optimizer.name(),
        "learning_rate": recipe.learning_rate,
        "weight_decay": recipe.weight_decay,
        "epochs": epochs,
        "test_accuracy": test,
    });
    if let Optimizer::Sgd(sgd) = recipe.optimizer {
        metrics["momentum"] = serde_json::json!(sgd.momentum);
    }
    Ok([
        (
            "metrics.json",
            serde_json::to_string_pretty(&metrics)? + "\n",
        ),
        (
            "timings.json",
            serde_json::to_string_pretty(&serde_json::json!({
                "kernels": {
                    "f32": host::fkernel::FFast::detect().path().name(),
                    "int8": host::qkernel::QFast::detect().path().name(),
                },
                "epochs": timings,
            }))? + "\n",
        ),
    ])
}

/// Progress bar per epoch, a line per epoch (or every few), a partial
/// checkpoint per epoch.
struct CliObserver<'a> {
    recipe: &'a Recipe,
    seed: u64,
    out: &'a Path,
    eval_name: &'a str,
    bar: Option<ProgressBar>,
    last_saved: Option<PathBuf>,
    saved_at: Option<Instant>,
    /// Print every `lines`-th epoch (and the last).
    lines: usize,
    /// `--quiet`: no progress bar, no per-epoch lines.
    quiet: bool,
    stop: Arc<AtomicBool>,
    /// The most threads an epoch takes, and how many the last one took.
    threads: (usize, usize),
    /// Whether the run said why an epoch took fewer threads.
    said_why: bool,
}

impl CliObserver<'_> {
    /// The error of a run that did not finish, naming its last checkpoint.
    fn failure(&self, error: train::TrainError) -> anyhow::Error {
        match (error, self.last_saved.clone()) {
            (train::TrainError::Interrupted, last_checkpoint) => {
                anyhow::Error::new(Interrupted { last_checkpoint })
            }
            (e, Some(path)) => anyhow::anyhow!(
                "{e}; the model in the output directory is unchanged; the last finite epoch is in {}",
                path.display()
            ),
            (e, None) => anyhow::anyhow!("{e}; the output directory is unchanged"),
        }
    }
}

/// Says that epoch `m` ended on another number of threads than the one
/// before (`last`; at most `most`), and the first time fewer, why.
fn say_threads(m: &EpochMetrics, (most, last): (usize, usize), said_why: bool) {
    let (epoch, threads) = (m.epoch, m.threads);
    let plural = if threads == 1 { "" } else { "s" };
    if threads > last {
        super::say!("epoch {epoch} ended on {threads} threads of {most} again");
    } else if said_why {
        super::say!("epoch {epoch} ended on {threads} thread{plural} of {most}");
    } else {
        super::say!(
            "epoch {epoch} ended on {threads} thread{plural} of {most}: with {last}, they waited for one \
             another over a third of the time (other programs busy on the cores?); --threads N \
             fixes the count"
        );
    }
}

impl Observer for CliObserver<'_> {
    fn should_stop(&mut self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    fn batch(&mut self, epoch: usize, done: usize, total: usize, loss: f64) {
        if self.quiet || !std::io::stderr().is_terminal() {
            return;
        }
        let bar = self.bar.get_or_insert_with(|| {
            let bar = ProgressBar::new(total as u64);
            bar.set_style(
                ProgressStyle::with_template("epoch {prefix:>3} [{bar:30}] {pos}/{len} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
            );
            bar
        });
        bar.set_prefix(epoch.to_string());
        let rate = done as f64 / bar.elapsed().as_secs_f64().max(1e-9);
        bar.set_message(format!("loss {loss:.4}, {rate:.0} samples/s"));
        bar.set_position(done as u64);
    }

    fn epoch(&mut self, m: &EpochMetrics, model: &Model) -> bool {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        let (most, last) = (
            self.threads.0,
            std::mem::replace(&mut self.threads.1, m.threads),
        );
        if !self.quiet && m.threads != last {
            say_threads(m, (most, last), std::mem::replace(&mut self.said_why, true));
        }
        if !self.quiet && (m.epoch.is_multiple_of(self.lines) || m.epoch == self.recipe.epochs) {
            super::say!(
                "epoch {:>3}: train loss {:.4}, train accuracy {:.2}%, {} accuracy {:.2}%, {:.2}s ({:.0} samples/s)",
                m.epoch,
                m.train_loss,
                m.train_accuracy * 100.0,
                self.eval_name,
                m.eval_accuracy * 100.0,
                m.seconds,
                m.samples_per_second,
            );
        }
        // A small data set runs hundreds of epochs a second: save at most
        // once per PARTIAL_EVERY (and after the first epoch).
        if self.saved_at.is_some_and(|at| at.elapsed() < PARTIAL_EVERY) {
            return true;
        }
        let path = self.out.join(PARTIAL);
        let meta = run_metadata(self.recipe, self.seed, m.epoch, None);
        let saved = std::fs::create_dir_all(self.out)
            .map_err(|e| format!("{}: {e}", self.out.display()))
            .and_then(|()| checkpoint::save(&path, model, &meta).map_err(|e| e.to_string()));
        match saved {
            Ok(()) => {
                self.last_saved = Some(path);
                self.saved_at = Some(Instant::now());
            }
            Err(e) => super::say!("warning: could not save the epoch checkpoint: {e}"),
        }
        true
    }
}
