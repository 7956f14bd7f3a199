//! Epochs whose thread counts change during a run (as [`ThreadChoice`]
//! changes them on busy cores) give the model of a run on one thread.

use std::path::Path;

use super::*;
use crate::data::{load, DataOptions, Role};
use crate::model::checkpoint;

/// Thread counts given in advance, one per epoch; records what each took.
struct Scripted {
    counts: Vec<usize>,
    took: Vec<EpochThreads>,
}

impl ChooseThreads for Scripted {
    fn next(&self) -> usize {
        self.counts[self.took.len()]
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
    counts: &[usize],
) -> (Vec<u8>, Vec<EpochThreads>) {
    let recipe = config.resolve(train).unwrap();
    let mut choice = Scripted {
        counts: counts.to_vec(),
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
    // What the choice was told each epoch took is what the history says.
    let took: Vec<usize> = choice.took.iter().map(|t| t.threads).collect();
    let used: Vec<usize> = history.iter().map(|m| m.threads).collect();
    assert_eq!(took, used);
    let bytes = checkpoint::to_bytes(&model, &Default::default()).unwrap();
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
        let (one, _) = run(&config, (&train, &eval), &[1, 1, 1, 1]);
        let (changing, took) = run(&config, (&train, &eval), &[3, 1, 2, 1]);
        assert_eq!(counts(&took), [3, 1, 2, 1]);
        assert!(
            one == changing,
            "{path}: the thread counts changed the model"
        );
    }
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
    let (_, took) = run(&config, (&train, &eval), &[3, 3]);
    assert_eq!(counts(&took), [2, 2]);
}

#[test]
fn the_row_split_measures_how_long_its_threads_wait() {
    let (train, eval) = data("digits-8x8/digits-train.csv");
    let config = TrainConfig {
        epochs: Some(3),
        ..TrainConfig::default()
    };
    let (_, took) = run(&config, (&train, &eval), &[2, 1, 3]);
    let waiting: Vec<Option<f64>> = took.iter().map(|t| t.waiting).collect();
    // Above zero: at each barrier the first thread in waits for the other.
    let share = |w: f64| w > 0.0 && w <= 1.0;
    assert!(
        matches!(waiting[..], [Some(a), None, Some(b)] if share(a) && share(b)),
        "{waiting:?}"
    );
}
