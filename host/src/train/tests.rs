//! Epochs whose thread counts change during a run (as [`ThreadChoice`]
//! changes them on busy cores) give the model of a run on one thread.

use std::path::Path;

use super::*;
use crate::data::{load, DataOptions, Role};
use crate::model::checkpoint;

/// Thread counts given in advance, one per part, and the parts of each
/// epoch (`None`: as `train` cuts them); records what each part took.
struct Scripted {
    counts: Vec<usize>,
    parts: Option<usize>,
    took: Vec<EpochThreads>,
}

impl ChooseThreads for Scripted {
    fn next(&self) -> usize {
        self.counts[self.took.len()]
    }

    fn parts(&self, steps: usize, last: Option<f64>) -> usize {
        self.parts.unwrap_or(threads::part_count(steps, last))
    }

    fn record(&mut self, epoch: EpochThreads) {
        self.took.push(epoch);
    }
}

fn data(path: &str) -> (Dataset, Dataset) {
    let dir = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../data"));
    let opts = DataOptions::default();
    let train = load(&dir.join(path), &opts, Role::Train).unwrap();
    let test = train.take(64);
    (train, test)
}

/// The checkpoint bytes after `counts.len()` epochs with those thread counts
/// (on a pool of three), checking that each epoch took its count; and what
/// each epoch measured of its threads.
fn run(
    config: &TrainConfig,
    (train, eval): (&Dataset, &Dataset),
    (counts, parts): (&[usize], Option<usize>),
) -> (Vec<u8>, Vec<EpochThreads>) {
    let recipe = config.resolve(train).unwrap();
    let mut choice = Scripted {
        counts: counts.to_vec(),
        parts,
        took: Vec::new(),
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(3)
        .build()
        .unwrap();
    let (model, history) = pool
        .install(|| {
            let run = RunSetup {
                seed: config.seed,
                split: config.split,
                choice: &mut choice,
            };
            train_loop(run, &recipe, train, eval, &mut Quiet)
        })
        .unwrap();
    // An epoch's count in the history is that of its last part.
    let mut took = choice.took.iter();
    let mut last = None;
    for m in &history {
        let steps = train.len().div_ceil(recipe.batch_size);
        let parts = choice.parts(steps, last);
        let ended = took.by_ref().take(parts).last().map(|t| t.threads);
        assert_eq!(ended, Some(m.threads));
        last = Some(m.seconds);
    }
    assert!(
        took.next().is_none(),
        "parts the history does not account for"
    );
    let mut bytes = checkpoint::to_bytes(&model, &Default::default()).unwrap();
    // The reported losses too: the parts carry the sums on in order.
    for m in &history {
        bytes.extend(m.train_loss.to_le_bytes());
        bytes.extend(m.train_accuracy.to_le_bytes());
    }
    (bytes, choice.took)
}

/// The thread counts epochs took.
fn counts(took: &[EpochThreads]) -> Vec<usize> {
    took.iter().map(|t| t.threads).collect()
}

#[test]
fn thread_counts_changing_between_epochs_leave_the_model_as_on_one_thread() {
    // MNIST pixels take the row split on every count (input-major first
    // layer); the 8×8 digits' numeric features take it on two threads or
    // more, and the data-parallel epoch on a pool of one otherwise.
    for (path, limit) in [
        ("train-images-idx3-ubyte.gz", 1500),
        ("digits-8x8/digits-train.csv", 0),
    ] {
        let (train, eval) = data(path);
        let train = if limit > 0 { train.take(limit) } else { train };
        let config = TrainConfig {
            epochs: Some(4),
            ..TrainConfig::default()
        };
        let (one, _) = run(&config, (&train, &eval), (&[1, 1, 1, 1], None));
        let (changing, took) = run(&config, (&train, &eval), (&[3, 1, 2, 1], None));
        assert_eq!(counts(&took), [3, 1, 2, 1]);
        assert!(
            one == changing,
            "{path}: the thread counts changed the model"
        );
    }
}

#[test]
fn parts_of_an_epoch_on_changing_thread_counts_give_the_model_and_losses_of_one_thread() {
    // 6,000 images, 188 steps an epoch, in two parts.
    let (train, eval) = data("train-images-idx3-ubyte.gz");
    let train = train.take(6000);
    let config = TrainConfig {
        epochs: Some(2),
        ..TrainConfig::default()
    };
    let (one, _) = run(&config, (&train, &eval), (&[1, 1, 1, 1], Some(2)));
    let (changing, took) = run(&config, (&train, &eval), (&[2, 1, 3, 1], Some(2)));
    assert_eq!(counts(&took), [2, 1, 3, 1]);
    assert!(
        one == changing,
        "the parts' thread counts changed the model or the losses"
    );
    // Each epoch's sums count the samples of both its parts: 71 % right in
    // the first epoch here; the second part alone would give under half.
    let recipe = config.resolve(&train).unwrap();
    let mut choice = Scripted {
        counts: vec![1; 4],
        parts: Some(2),
        took: Vec::new(),
    };
    let run = RunSetup {
        seed: 1,
        split: Split::Auto,
        choice: &mut choice,
    };
    let (_, history) = train_loop(run, &recipe, &train, &eval, &mut Quiet).unwrap();
    let first = history[0].train_accuracy;
    assert!(first > 0.6, "{first}");
}

#[test]
fn epochs_report_the_threads_the_row_split_could_use() {
    // Eight hidden rows: at most two threads of four rows each.
    let (train, eval) = data("digits-8x8/digits-train.csv");
    let config = TrainConfig {
        hidden: "8".parse().unwrap(),
        epochs: Some(2),
        ..TrainConfig::default()
    };
    let (_, took) = run(&config, (&train, &eval), (&[3, 3], None));
    assert_eq!(counts(&took), [2, 2]);
    // Pixels: an input-major first layer, whose 32 rows are two slabs of
    // sixteen (eight blocks of four).
    let (train, eval) = data("train-images-idx3-ubyte.gz");
    let config = TrainConfig {
        hidden: "32".parse().unwrap(),
        epochs: Some(2),
        ..TrainConfig::default()
    };
    let (_, took) = run(&config, (&train.take(500), &eval), (&[3, 3], None));
    assert_eq!(counts(&took), [2, 2]);
}

#[test]
fn the_row_split_measures_how_long_its_threads_wait() {
    let (train, eval) = data("digits-8x8/digits-train.csv");
    let config = TrainConfig {
        epochs: Some(3),
        ..TrainConfig::default()
    };
    let (_, took) = run(&config, (&train, &eval), (&[2, 1, 3], None));
    let waiting: Vec<Option<f64>> = took.iter().map(|t| t.waiting).collect();
    // Above zero: at each barrier the first thread in waits for the other.
    let share = |w: f64| w > 0.0 && w <= 1.0;
    assert!(
        matches!(waiting[..], [Some(a), None, Some(b)] if share(a) && share(b)),
        "{waiting:?}"
    );
}
