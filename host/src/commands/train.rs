//! `host train`: train a network and write the checkpoint, metrics and emitted weights.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use tinymlp::Parameters;

use host::arch::Architecture;
use host::checkpoint::{self, Checkpoint};
use host::dataset::Dataset;
use host::emit::{self, Exportable};
use host::eval::accuracy_line;
use host::train::{self, EpochMetrics, Observer, TrainConfig};
use host::{atomic::write_atomic, pictures, with_network};

use super::Output;

#[derive(Debug, Args)]
pub(crate) struct TrainArgs {
    #[command(flatten)]
    data: super::DataArgs,
    /// Output directory for model.safetensors, metrics.json, curves.svg and the firmware
    /// bundle (weights.rs, weights_int8.rs, predictions_*.bin).
    #[arg(long, default_value = "model")]
    out: PathBuf,
    /// Hidden layer sizes: one of 16, 32, 64, 128, 256, or two layers 128,64 / 256,128.
    #[arg(long, default_value = "64")]
    hidden: Architecture,
    /// Passes over the training set.
    #[arg(long, default_value_t = TrainConfig::default().epochs)]
    epochs: usize,
    /// Mini-batch size.
    #[arg(long, default_value_t = TrainConfig::default().batch_size)]
    batch: usize,
    /// Peak learning rate of the one-cycle schedule (SGD, Nesterov momentum 0.9).
    #[arg(long, default_value_t = TrainConfig::default().learning_rate)]
    lr: f32,
    /// Weight decay (L2) on weight matrices.
    #[arg(long, default_value_t = TrainConfig::default().weight_decay)]
    weight_decay: f32,
    /// Largest random shift of training images in pixels (augmentation; 0 turns it off).
    #[arg(long, default_value_t = TrainConfig::default().max_shift)]
    shift: usize,
    /// Seed for initialisation, shuffling and augmentation: same seed, same model.
    #[arg(long, default_value_t = TrainConfig::default().seed)]
    seed: u64,
    /// Worker threads [default: number of cores]. The model does not depend on it.
    #[arg(long)]
    threads: Option<usize>,
    /// Hold out the last N training images as a validation set, reported per epoch instead of the test set.
    #[arg(long, default_value_t = 0)]
    val: usize,
    /// Train on only the first N training images (quick experiments).
    #[arg(long)]
    limit: Option<usize>,
    /// Replace an existing model of a different architecture in --out.
    #[arg(long)]
    force: bool,
}

pub(crate) fn run(args: TrainArgs, output: Output) -> Result<()> {
    let config = TrainConfig {
        architecture: args.hidden.clone(),
        epochs: args.epochs,
        batch_size: args.batch,
        learning_rate: args.lr,
        weight_decay: args.weight_decay,
        max_shift: args.shift,
        seed: args.seed,
        threads: args.threads.unwrap_or(TrainConfig::default().threads),
        ..TrainConfig::default()
    };
    let started = Instant::now();
    let mut train_set = args.data.train_set()?;
    let test_set = args.data.test_set()?;
    if let Some(limit) = args.limit {
        train_set = train_set.take(limit);
    }
    let (train_set, val_set) = if args.val > 0 {
        let (t, v) = train_set.split_validation(args.val)?;
        (t, Some(v))
    } else {
        (train_set, None)
    };
    let checkpoint_path = args.out.join("model.safetensors");
    guard_existing_model(&checkpoint_path, &config.architecture, args.force)?;
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    if output.chatty() {
        eprintln!(
        "training {} on {} images ({} held out), {} epochs, batch {}, {} threads, seed {} (data loaded in {:.2}s)",
        config.architecture,
        train_set.len(),
        val_set.as_ref().map_or(0, Dataset::len),
        config.epochs,
        config.batch_size,
        config.threads,
        config.seed,
        started.elapsed().as_secs_f64()
    );
    }
    let stop = stop_on_ctrl_c();
    let eval_set = val_set.as_ref().unwrap_or(&test_set);
    let eval_name = if val_set.is_some() { "val" } else { "test" };
    with_network!(config.architecture, Net => {
        let sets = Sets { train: &train_set, eval: eval_set, eval_name, test: &test_set };
        train_and_save::<Net>(&config, &sets, &args.out, output, stop)
    })
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
                "interrupted; the last complete checkpoint is {}",
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
        eprintln!("\nstopping at the next batch (Ctrl-C again to quit at once)");
    });
    if let Err(e) = installed {
        eprintln!("warning: cannot handle Ctrl-C ({e}); it will end the run at once");
    }
    stop
}

/// Refuses to overwrite a checkpoint of another architecture unless `--force`.
fn guard_existing_model(path: &Path, architecture: &Architecture, force: bool) -> Result<()> {
    if force || !path.exists() {
        return Ok(());
    }
    match Checkpoint::read(path) {
        Ok(existing) if existing.architecture() == architecture => Ok(()),
        Ok(existing) => bail!(
            "{} holds a {} model; training {} would replace it. Pass --force, or choose another --out",
            path.display(),
            existing.architecture(),
            architecture
        ),
        Err(e) => bail!("{e}; pass --force to replace it, or choose another --out"),
    }
}

/// The data of a run: what it trains on, what it reports per epoch, what it is tested on.
struct Sets<'a> {
    train: &'a Dataset,
    eval: &'a Dataset,
    /// `test` or `val`.
    eval_name: &'a str,
    test: &'a Dataset,
}

fn train_and_save<N: Exportable>(
    config: &TrainConfig,
    sets: &Sets<'_>,
    out: &Path,
    output: Output,
    stop: Arc<AtomicBool>,
) -> Result<()> {
    let Sets {
        train: train_set,
        eval: eval_set,
        eval_name,
        test: test_set,
    } = *sets;
    let mut observer = CliObserver::new(config, out, eval_name, stop);
    observer.quiet = output.quiet;
    let started = Instant::now();
    let (net, history) =
        train::train::<N>(config, train_set, eval_set, &mut observer).map_err(|e| {
            match (e, observer.last_saved.clone()) {
                (train::TrainError::Interrupted, last_checkpoint) => {
                    anyhow::Error::new(Interrupted { last_checkpoint })
                }
                (e, Some(path)) => {
                    anyhow::anyhow!("{e}; the last complete checkpoint is {}", path.display())
                }
                (e, None) => anyhow::anyhow!("{e}; no checkpoint was written"),
            }
        })?;
    let seconds = started.elapsed().as_secs_f64();
    let test_accuracy = train::accuracy(&*net, test_set);
    let metadata = run_metadata(config, history.len(), Some(test_accuracy));
    let checkpoint_path = out.join("model.safetensors");
    checkpoint::save(&checkpoint_path, &*net, &config.architecture, &metadata)?;
    write_metrics(out, config, &history, Some(test_accuracy))?;
    let curves = out.join("curves.svg");
    write_atomic(
        &curves,
        pictures::curves_svg(&history, eval_name)?.as_bytes(),
    )
    .with_context(|| format!("cannot write {}", curves.display()))?;
    if output.chatty() {
        eprintln!(
            "trained in {seconds:.2}s; wrote {} and {}",
            checkpoint_path.display(),
            curves.display()
        );
    }
    let checkpoint_bytes = std::fs::read(&checkpoint_path)
        .with_context(|| format!("cannot read back {}", checkpoint_path.display()))?;
    let arch = config.architecture.to_string();
    let bundle = emit::write_bundle(
        &*net,
        &arch,
        config.seed,
        &checkpoint_bytes,
        train_set,
        test_set,
        out,
    )?;
    if output.chatty() {
        eprintln!(
            "wrote weights.rs and weights_int8.rs (int8 test accuracy {:.2}%) into {}",
            bundle.int8_accuracy * 100.0,
            out.display()
        );
    }
    output.result(&accuracy_line(test_accuracy));
    let files = [
        "model.safetensors",
        "metrics.json",
        "curves.svg",
        "weights.rs",
        "weights_int8.rs",
    ]
    .map(|f| out.join(f).display().to_string());
    output.summary(&serde_json::json!({
        "command": "train",
        "architecture": arch,
        "seed": config.seed,
        "train_samples": train_set.len(),
        "seconds": seconds,
        "epochs": history,
        "test_accuracy": test_accuracy,
        "int8_test_accuracy": bundle.int8_accuracy,
        "model": checkpoint_path.display().to_string(),
        "files": files,
    }))
}

fn run_metadata(
    config: &TrainConfig,
    epochs_done: usize,
    test_accuracy: Option<f64>,
) -> BTreeMap<String, String> {
    let mut meta = BTreeMap::new();
    meta.insert("tinymlp_version".into(), env!("CARGO_PKG_VERSION").into());
    meta.insert("activation".into(), "relu".into());
    meta.insert(
        "input".into(),
        "28x28 u8 pixels scaled by 1/255, row-major".into(),
    );
    meta.insert("seed".into(), config.seed.to_string());
    meta.insert("epochs".into(), epochs_done.to_string());
    meta.insert("batch_size".into(), config.batch_size.to_string());
    meta.insert("learning_rate".into(), config.learning_rate.to_string());
    if let Some(acc) = test_accuracy {
        meta.insert("test_accuracy".into(), format!("{:.4}", acc));
    }
    meta
}

fn write_metrics(
    out: &Path,
    config: &TrainConfig,
    history: &[EpochMetrics],
    test: Option<f64>,
) -> Result<()> {
    let json = serde_json::json!({
        "architecture": config.architecture.to_string(),
        "seed": config.seed,
        "batch_size": config.batch_size,
        "learning_rate": config.learning_rate,
        "epochs": history,
        "test_accuracy": test,
    });
    let path = out.join("metrics.json");
    let text = serde_json::to_string_pretty(&json)? + "\n";
    write_atomic(&path, text.as_bytes()).with_context(|| format!("cannot write {}", path.display()))
}

/// Progress bar per epoch, a line per epoch, a checkpoint per epoch.
struct CliObserver<'a> {
    config: &'a TrainConfig,
    out: &'a Path,
    eval_name: &'a str,
    bar: Option<ProgressBar>,
    history: Vec<EpochMetrics>,
    last_saved: Option<PathBuf>,
    /// `--quiet`: no progress bar, no per-epoch lines.
    quiet: bool,
    stop: Arc<AtomicBool>,
}

impl<'a> CliObserver<'a> {
    fn new(
        config: &'a TrainConfig,
        out: &'a Path,
        eval_name: &'a str,
        stop: Arc<AtomicBool>,
    ) -> Self {
        Self {
            config,
            out,
            eval_name,
            bar: None,
            history: Vec::new(),
            last_saved: None,
            quiet: false,
            stop,
        }
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

    fn epoch<N: Parameters>(&mut self, m: &EpochMetrics, net: &N) -> bool {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        if !self.quiet {
            eprintln!(
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
        self.history.push(m.clone());
        let path = self.out.join("model.safetensors");
        let meta = run_metadata(self.config, m.epoch, None);
        match checkpoint::save(&path, net, &self.config.architecture, &meta) {
            Ok(()) => self.last_saved = Some(path),
            Err(e) => eprintln!("warning: could not save the epoch checkpoint: {e}"),
        }
        if let Err(e) = write_metrics(self.out, self.config, &self.history, None) {
            eprintln!("warning: {e:#}");
        }
        true
    }
}
