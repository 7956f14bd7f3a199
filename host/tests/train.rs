//! Training end to end on real MNIST subsets, through the library API.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use host::checkpoint::{self, Checkpoint};
use host::dataset::{load_mnist, Dataset, Split};
use host::eval::Evaluation;
use host::train::{self, EpochMetrics, Observer, Quiet, TrainConfig};
use tinymlp::{Mlp, Parameters};

type Net = Mlp<784, 64, 10>;

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../data")
}

fn subsets(train: usize) -> (Dataset, Dataset) {
    let train_set = load_mnist(&data_dir(), Split::Train).unwrap().take(train);
    let test_set = load_mnist(&data_dir(), Split::Test).unwrap();
    (train_set, test_set)
}

fn quick_config(threads: usize) -> TrainConfig {
    TrainConfig {
        epochs: 2,
        threads,
        ..TrainConfig::default()
    }
}

#[test]
fn a_short_run_on_a_subset_beats_90_percent() {
    let (train_set, test_set) = subsets(6000);
    let (net, history) =
        train::train::<Net>(&quick_config(2), &train_set, &test_set, &mut Quiet).unwrap();
    assert_eq!(history.len(), 2);
    let accuracy = train::accuracy(&*net, &test_set);
    assert!(accuracy > 0.90, "test accuracy {accuracy}");
    assert!(
        (history[1].eval_accuracy - accuracy).abs() < 1e-12,
        "last epoch reports the test accuracy"
    );
    assert!(history[1].train_loss < history[0].train_loss, "{history:?}");
}

#[test]
fn the_model_does_not_depend_on_the_thread_count() {
    let (train_set, test_set) = subsets(1000);
    let test_set = test_set.take(100);
    // A batch that is not a multiple of the shard size, and a last partial batch.
    let config = |threads| TrainConfig {
        epochs: 1,
        batch_size: 40,
        threads,
        ..TrainConfig::default()
    };
    let (one, _) = train::train::<Net>(&config(1), &train_set, &test_set, &mut Quiet).unwrap();
    let (two, _) = train::train::<Net>(&config(2), &train_set, &test_set, &mut Quiet).unwrap();
    let (three, _) = train::train::<Net>(&config(3), &train_set, &test_set, &mut Quiet).unwrap();
    let arch = config(1).architecture;
    let bytes = |n: &Net| checkpoint::to_bytes(n, &arch, &BTreeMap::new()).unwrap();
    assert_eq!(bytes(&one), bytes(&two));
    assert_eq!(bytes(&one), bytes(&three));

    let other_seed = TrainConfig {
        seed: 2,
        ..config(2)
    };
    let (different, _) =
        train::train::<Net>(&other_seed, &train_set, &test_set, &mut Quiet).unwrap();
    assert_ne!(bytes(&one), bytes(&different), "the seed must matter");
}

#[test]
fn every_sample_is_used_including_the_last_partial_batch() {
    struct Count(Vec<usize>);
    impl Observer for Count {
        fn batch(&mut self, _: usize, done: usize, _: usize, _: f64) {
            self.0.push(done);
        }
    }
    let (train_set, test_set) = subsets(1000);
    // 1000 = 7·130 + 90: the last report covers all 1000 samples when it falls on the last batch.
    let config = TrainConfig {
        epochs: 1,
        batch_size: 1000,
        threads: 1,
        ..TrainConfig::default()
    };
    let mut count = Count(Vec::new());
    let (_, history) =
        train::train::<Net>(&config, &train_set, &test_set.take(10), &mut count).unwrap();
    assert_eq!(count.0, [1000]);
    // Accuracy over the epoch is counted over every sample: a multiple of 1/1000.
    let scaled = history[0].train_accuracy * 1000.0;
    assert!((scaled - scaled.round()).abs() < 1e-9);
}

#[test]
fn a_saved_checkpoint_evaluates_like_the_trained_network() {
    let (train_set, test_set) = subsets(2000);
    let config = TrainConfig {
        epochs: 1,
        ..TrainConfig::default()
    };
    let (net, _) = train::train::<Net>(&config, &train_set, &test_set, &mut Quiet).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.safetensors");
    checkpoint::save(&path, &*net, &config.architecture, &BTreeMap::new()).unwrap();

    let loaded = Checkpoint::read(&path).unwrap();
    assert_eq!(loaded.architecture(), &config.architecture);
    let mut back: Box<Net> = bytemuck::zeroed_box();
    loaded.load_into(&mut *back).unwrap();
    for t in 0..Net::TENSORS {
        assert_eq!(back.tensor(t), net.tensor(t));
    }
    let before = Evaluation::new(&train::predictions(&*net, &test_set), test_set.labels());
    let after = Evaluation::new(&train::predictions(&*back, &test_set), test_set.labels());
    assert_eq!(before, after);
    assert!(after.accuracy() > 0.8, "{}", after.accuracy());
}

#[test]
fn validation_split_is_reported_per_epoch() {
    struct Last(Option<EpochMetrics>);
    impl Observer for Last {
        fn epoch<N: Parameters>(&mut self, m: &EpochMetrics, _: &N) -> bool {
            self.0 = Some(m.clone());
            true
        }
    }
    let (train_set, _) = subsets(3000);
    let (train_part, val) = train_set.split_validation(500).unwrap();
    assert_eq!((train_part.len(), val.len()), (2500, 500));
    let mut last = Last(None);
    let config = TrainConfig {
        epochs: 1,
        ..TrainConfig::default()
    };
    let (net, _) = train::train::<Net>(&config, &train_part, &val, &mut last).unwrap();
    let reported = last.0.unwrap().eval_accuracy;
    assert_eq!(reported, train::accuracy(&*net, &val));
}

#[test]
fn bad_configurations_are_refused() {
    let (train_set, test_set) = subsets(100);
    for config in [
        TrainConfig {
            epochs: 0,
            ..TrainConfig::default()
        },
        TrainConfig {
            batch_size: 0,
            ..TrainConfig::default()
        },
        TrainConfig {
            learning_rate: f32::NAN,
            ..TrainConfig::default()
        },
        TrainConfig {
            threads: 0,
            ..TrainConfig::default()
        },
    ] {
        let err = train::train::<Net>(&config, &train_set, &test_set, &mut Quiet).unwrap_err();
        assert!(matches!(err, train::TrainError::Config(_)), "{err}");
    }
}

#[test]
fn should_stop_interrupts_with_any_thread_count() {
    struct StopAfter(usize);
    impl Observer for StopAfter {
        fn should_stop(&mut self) -> bool {
            if self.0 == 0 {
                return true;
            }
            self.0 -= 1;
            false
        }
    }
    let (train_set, test_set) = subsets(1000);
    for threads in [1, 2, 3] {
        let config = TrainConfig {
            epochs: 2,
            threads,
            ..TrainConfig::default()
        };
        // Stops in the second epoch (32 batches per epoch).
        let result = train::train::<Net>(&config, &train_set, &test_set, &mut StopAfter(40));
        assert!(
            matches!(result, Err(train::TrainError::Interrupted)),
            "threads {threads}"
        );
    }
}

#[test]
fn two_hidden_layers_do_not_depend_on_the_thread_count() {
    type Net2 = tinymlp::Mlp2<784, 32, 16, 10>;
    let (train_set, test_set) = subsets(600);
    let test_set = test_set.take(50);
    let config = |threads| TrainConfig {
        epochs: 1,
        batch_size: 48,
        threads,
        ..TrainConfig::default()
    };
    let (one, _) = train::train::<Net2>(&config(1), &train_set, &test_set, &mut Quiet).unwrap();
    let (two, _) = train::train::<Net2>(&config(2), &train_set, &test_set, &mut Quiet).unwrap();
    let all = |n: &Net2| {
        (0..Net2::TENSORS)
            .flat_map(|t| n.tensor(t).iter().map(|v| v.to_bits()).collect::<Vec<_>>())
            .collect::<Vec<_>>()
    };
    assert_eq!(all(&one), all(&two));
}
