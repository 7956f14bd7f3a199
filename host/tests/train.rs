//! Training end to end through the library API: accuracy on MNIST subsets,
//! byte-identical models whatever the thread count (on both parallel paths:
//! the row split of every hidden layer and the sharded epoch, one to three
//! hidden layers),
//! checkpoints, observers, diverging runs and refused configurations.

mod common;

use std::collections::BTreeMap;

use common::{data, data_dir};
use host::data::{load, Classes, DataOptions, Dataset, Role, Shape};
use host::fkernel::{FFast, FPath};
use host::model::{checkpoint, Checkpoint, HiddenLayers, Model};
use host::train::rows::FirstLayer;
use host::train::{
    self, rows, EpochMetrics, Inputs, Observer, OptimizerChoice, Quiet, Split, TrainConfig,
    TrainError, Trained,
};

/// The first `train` MNIST training images and the whole test set.
fn mnist(train: usize) -> (Dataset, Dataset) {
    let opts = DataOptions::default();
    let train_set = load(&data_dir(), &opts, Role::Train).unwrap().take(train);
    let test_set = load(&data_dir(), &opts, Role::Test).unwrap();
    (train_set, test_set)
}

/// The 8x8 digits CSV files (64 numeric features, Adam, standardised).
fn digits() -> (Dataset, Dataset) {
    let opts = DataOptions::default();
    let train_set = load(&data("digits-8x8/digits-train.csv"), &opts, Role::Train).unwrap();
    let classes = Some(train_set.classes().clone());
    let test_opts = DataOptions { classes, ..opts };
    let test_set = load(&data("digits-8x8/digits-test.csv"), &test_opts, Role::Test).unwrap();
    (train_set, test_set)
}

fn hidden(text: &str) -> HiddenLayers {
    text.parse().unwrap()
}

fn run(config: &TrainConfig, train_set: &Dataset, eval: &Dataset) -> Trained {
    train::train(config, train_set, eval, &mut Quiet).unwrap_or_else(|e| panic!("{e}"))
}

/// The checkpoint bytes of a model: what `host train` writes.
fn bytes(model: &Model) -> Vec<u8> {
    checkpoint::to_bytes(model, &BTreeMap::new()).unwrap()
}

/// Trains with 1, 2 and 3 threads, with the default split (the rows where
/// they apply) and with whole shards, and asserts the five checkpoints are
/// byte-identical; returns the first run.
fn same_bytes_with_1_2_3_threads(
    config: &TrainConfig,
    train_set: &Dataset,
    eval: &Dataset,
) -> Trained {
    let with = |threads, split| {
        run(
            &TrainConfig {
                threads,
                // Every epoch on these threads, however small the network.
                adapt_threads: false,
                split,
                ..config.clone()
            },
            train_set,
            eval,
        )
    };
    let one = with(1, Split::Auto);
    let reference = bytes(&one.model);
    for (threads, split) in [
        (2, Split::Auto),
        (3, Split::Auto),
        (2, Split::Shards),
        (3, Split::Shards),
    ] {
        let other = with(threads, split);
        assert!(
            bytes(&other.model) == reference,
            "{} with {threads} threads ({split:?}) differs from 1 thread",
            one.recipe.architecture
        );
        assert_eq!(other.history.len(), one.history.len());
        for (a, b) in one.history.iter().zip(&other.history) {
            assert_eq!(
                (a.train_loss, a.train_accuracy, a.eval_accuracy),
                (b.train_loss, b.train_accuracy, b.eval_accuracy)
            );
        }
    }
    one
}

#[test]
fn a_short_run_on_a_subset_beats_90_percent() {
    let (train_set, test_set) = mnist(6000);
    let config = TrainConfig {
        epochs: Some(2),
        threads: 2,
        ..TrainConfig::default()
    };
    let trained = run(&config, &train_set, &test_set);
    assert_eq!(trained.recipe.architecture.to_string(), "784-64-10");
    assert_eq!(trained.history.len(), 2);
    let accuracy = train::accuracy(&trained.model, &test_set);
    assert!(accuracy > 0.90, "test accuracy {accuracy}");
    assert!(
        (trained.history[1].eval_accuracy - accuracy).abs() < 1e-12,
        "last epoch reports the test accuracy"
    );
    let h = &trained.history;
    assert!(h[1].train_loss < h[0].train_loss, "{h:?}");
}

#[test]
fn mnist_784_64_10_does_not_depend_on_the_thread_count() {
    let (train_set, test_set) = mnist(1000);
    let test_set = test_set.take(100);
    // A batch that is not a multiple of the shard size, and a last partial batch.
    let config = TrainConfig {
        epochs: Some(1),
        batch_size: 40,
        ..TrainConfig::default()
    };
    let one = same_bytes_with_1_2_3_threads(&config, &train_set, &test_set);
    // MNIST is mostly background: on a CPU with AVX-512 or AVX2 every thread count
    // takes the row split with the first layer's product over the non-zero
    // chunks only (`FirstLayer::InputMajor`), which the checkpoints above
    // compare with the row-major shards. Without it, or on dense inputs,
    // one thread takes the shards.
    let inputs = Inputs {
        data: &train_set,
        scaling: &one.model.scaling,
    };
    assert!(inputs.mostly_zero());
    let path = |p| FFast::with_path(p).map(|fast| FirstLayer::choose(&inputs, fast));
    assert_eq!(path(FPath::Portable), Some(FirstLayer::RowMajor));
    for simd in [FPath::Avx2, FPath::Avx512] {
        assert!(matches!(path(simd), None | Some(FirstLayer::InputMajor)));
    }
    let net = &one.model.net;
    assert!(rows::applies(net, (1, FirstLayer::InputMajor), 32));
    assert!(rows::applies(net, (2, FirstLayer::RowMajor), 32));
    assert!(!rows::applies(net, (1, FirstLayer::RowMajor), 32));

    let other_seed = TrainConfig {
        seed: 2,
        threads: 2,
        ..config
    };
    let different = run(&other_seed, &train_set, &test_set);
    assert!(
        bytes(&one.model) != bytes(&different.model),
        "the seed must matter"
    );
}

#[test]
fn mnist_with_adam_does_not_depend_on_the_thread_count() {
    // Adam on an input-major first layer: its gradient transposed apart,
    // then the element-wise update (SGD has its own fused kernel).
    let (train_set, test_set) = mnist(600);
    let config = TrainConfig {
        epochs: Some(1),
        batch_size: 48,
        optimizer: OptimizerChoice::Adam,
        ..TrainConfig::default()
    };
    let one = same_bytes_with_1_2_3_threads(&config, &train_set, &test_set.take(50));
    assert_eq!(
        one.recipe.optimizer.name(),
        train::Optimizer::new(true, 0.9, 1e-4).name()
    );
}

#[test]
fn plain_sgd_does_not_depend_on_the_thread_count_and_differs_from_momentum() {
    // `--momentum 0`: no velocity read or written, in `tinymlp::Sgd` and in
    // the input-major first layer's fused SGD kernel alike.
    let (train_set, test_set) = mnist(600);
    let test_set = test_set.take(50);
    let config = TrainConfig {
        epochs: Some(1),
        momentum: Some(0.0),
        learning_rate: Some(0.1),
        ..TrainConfig::default()
    };
    let plain = same_bytes_with_1_2_3_threads(&config, &train_set, &test_set);
    let momentum = run(
        &TrainConfig {
            momentum: None,
            ..config
        },
        &train_set,
        &test_set,
    );
    assert!(bytes(&plain.model) != bytes(&momentum.model));
    // It learns: below the loss of a uniform guess over ten classes.
    let loss = plain.history[0].train_loss;
    assert!(loss < 10f64.ln(), "{loss}");
}

#[test]
fn two_and_three_hidden_layers_do_not_depend_on_the_thread_count() {
    let (train_set, test_set) = mnist(600);
    // Batches that are not a multiple of the shard size; layers whose rows
    // split unevenly, and a layer so narrow that some threads own no row.
    for (layers, batch_size, shape) in [
        ("32,16", 48, "784-32-16-10"),
        ("40,24,12", 40, "784-40-24-12-10"),
        ("36,5,20", 33, "784-36-5-20-10"),
    ] {
        let config = TrainConfig {
            hidden: hidden(layers),
            epochs: Some(1),
            batch_size,
            ..TrainConfig::default()
        };
        let one = same_bytes_with_1_2_3_threads(&config, &train_set, &test_set.take(50));
        assert_eq!(one.recipe.architecture.to_string(), shape);
        assert!(
            rows::applies(&one.model.net, (2, FirstLayer::RowMajor), 32),
            "{shape}: the row split"
        );
    }
}

#[test]
fn a_digits_csv_model_does_not_depend_on_the_thread_count() {
    let (train_set, test_set) = digits();
    // With Adam and standardised inputs: a linear model takes the sharded
    // path whatever the split; one, two or three hidden layers the row split.
    // (The deep narrow one learns slowest in two epochs: chance is 0.1.)
    for (layers, row_split, floor) in [
        ("32,16", true, 0.5),
        ("none", false, 0.5),
        ("64", true, 0.5),
        ("24,6,12", true, 0.3),
    ] {
        let config = TrainConfig {
            hidden: hidden(layers),
            epochs: Some(2),
            batch_size: 50,
            ..TrainConfig::default()
        };
        let one = same_bytes_with_1_2_3_threads(&config, &train_set, &test_set);
        let two = (2, FirstLayer::RowMajor);
        assert_eq!(
            rows::applies(&one.model.net, two, 32),
            row_split,
            "{layers}"
        );
        let inputs = Inputs {
            data: &train_set,
            scaling: &one.model.scaling,
        };
        assert!(!inputs.mostly_zero(), "standardised: dense");
        let fast = FFast::detect();
        assert_eq!(FirstLayer::choose(&inputs, fast), FirstLayer::RowMajor);
        assert_eq!(
            one.recipe.optimizer.name(),
            train::Optimizer::new(true, 0.9, 1e-4).name()
        );
        assert!(
            one.history[1].eval_accuracy > floor,
            "{layers}: {:?}",
            one.history
        );
    }
}

#[test]
fn every_sample_is_used_including_the_last_partial_batch() {
    struct Count(Vec<usize>);
    impl Observer for Count {
        fn batch(&mut self, _: usize, done: usize, _: usize, _: f64) {
            self.0.push(done);
        }
    }
    let (train_set, test_set) = mnist(1000);
    for threads in [1, 2] {
        let config = TrainConfig {
            epochs: Some(1),
            batch_size: 1000,
            threads,
            ..TrainConfig::default()
        };
        let mut count = Count(Vec::new());
        let trained = train::train(&config, &train_set, &test_set.take(10), &mut count).unwrap();
        assert_eq!(count.0, [1000], "threads {threads}");
        // Accuracy over the epoch is counted over every sample: a multiple of 1/1000.
        let scaled = trained.history[0].train_accuracy * 1000.0;
        assert!((scaled - scaled.round()).abs() < 1e-9);
    }
}

#[test]
fn a_saved_checkpoint_loads_back_to_the_same_model() {
    let (train_set, test_set) = mnist(2000);
    let config = TrainConfig {
        epochs: Some(1),
        ..TrainConfig::default()
    };
    let trained = run(&config, &train_set, &test_set);
    let dir = common::tempdir();
    let path = dir.path().join("model.safetensors");
    let meta = BTreeMap::from([("seed".to_string(), "1".to_string())]);
    checkpoint::save(&path, &trained.model, &meta).unwrap();

    let loaded = Checkpoint::read(&path).unwrap();
    assert_eq!(loaded.architecture(), &trained.recipe.architecture);
    assert_eq!(loaded.metadata()["seed"], "1");
    let back = loaded.load().unwrap();
    assert_eq!(back, trained.model);
    assert_eq!(back.classes, Classes::numeric(10));
    assert_eq!(back.image, Some((28, 28)));
    let before = train::predictions(&trained.model, &test_set);
    let after = train::predictions(&back, &test_set);
    assert_eq!(before, after);
    let accuracy = train::accuracy(&back, &test_set);
    assert!(accuracy > 0.8, "{accuracy}");
    // The batch predictions are the per-sample logits' argmax.
    let mut x = vec![0.0; 784];
    for (i, &predicted) in after.iter().enumerate().take(20) {
        back.input(&test_set, i, &mut x);
        assert_eq!(back.net.predict(&x), predicted);
    }

    // Text classes and standardisation survive the round trip too.
    let (digits_train, digits_test) = digits();
    let small = run(
        &TrainConfig {
            epochs: Some(1),
            ..TrainConfig::default()
        },
        &digits_train,
        &digits_test,
    );
    let bytes = checkpoint::to_bytes(&small.model, &BTreeMap::new()).unwrap();
    let back = Checkpoint::from_bytes(std::path::Path::new("d"), bytes)
        .unwrap()
        .load()
        .unwrap();
    assert_eq!(back, small.model);
}

#[test]
fn validation_split_is_reported_per_epoch() {
    struct Last(Option<EpochMetrics>);
    impl Observer for Last {
        fn epoch(&mut self, m: &EpochMetrics, _: &Model) -> bool {
            self.0 = Some(m.clone());
            true
        }
    }
    let (train_set, _) = mnist(3000);
    let (train_part, val) = train_set.split_validation(500).unwrap();
    assert_eq!((train_part.len(), val.len()), (2500, 500));
    let mut last = Last(None);
    let config = TrainConfig {
        epochs: Some(1),
        ..TrainConfig::default()
    };
    let trained = train::train(&config, &train_part, &val, &mut last).unwrap();
    let reported = last.0.unwrap().eval_accuracy;
    assert_eq!(reported, train::accuracy(&trained.model, &val));
}

#[test]
fn bad_configurations_are_refused_naming_the_option() {
    let (train_set, test_set) = mnist(100);
    let base = TrainConfig::default;
    for (config, option) in [
        (
            TrainConfig {
                epochs: Some(0),
                ..base()
            },
            "--epochs",
        ),
        (
            TrainConfig {
                batch_size: 0,
                ..base()
            },
            "--batch",
        ),
        (
            TrainConfig {
                learning_rate: Some(f32::NAN),
                ..base()
            },
            "--lr",
        ),
        (
            TrainConfig {
                learning_rate: Some(-1.0),
                ..base()
            },
            "--lr",
        ),
        (
            TrainConfig {
                threads: 0,
                ..base()
            },
            "--threads",
        ),
        (
            TrainConfig {
                weight_decay: Some(2.0),
                ..base()
            },
            "--weight-decay",
        ),
        (
            TrainConfig {
                momentum: Some(1.0),
                ..base()
            },
            "--momentum",
        ),
        (
            TrainConfig {
                max_shift: Some(5),
                ..base()
            },
            "--shift",
        ),
        (
            TrainConfig {
                hidden: HiddenLayers(vec![0]),
                ..base()
            },
            "--hidden",
        ),
        (
            TrainConfig {
                hidden: HiddenLayers(vec![1 << 20]),
                ..base()
            },
            "--hidden",
        ),
    ] {
        let err = train::train(&config, &train_set, &test_set, &mut Quiet).unwrap_err();
        assert!(matches!(err, TrainError::Config(_)), "{option}: {err}");
        assert!(err.to_string().contains(option), "{option}: {err}");
    }
    // Shifts move images: numeric features refuse them.
    let (digits_train, digits_test) = digits();
    let config = TrainConfig {
        max_shift: Some(1),
        ..base()
    };
    let err = train::train(&config, &digits_train, &digits_test, &mut Quiet).unwrap_err();
    assert!(err.to_string().contains("--shift 0"), "{err}");
    // Momentum is SGD's: numeric features train with Adam unless told.
    let config = TrainConfig {
        momentum: Some(0.9),
        ..base()
    };
    let err = train::train(&config, &digits_train, &digits_test, &mut Quiet).unwrap_err();
    assert!(err.to_string().contains("--optimizer sgd"), "{err}");
    // An empty training set.
    let empty = train_set.take(0);
    let err = train::train(&base(), &empty, &test_set, &mut Quiet).unwrap_err();
    assert!(matches!(err, TrainError::Data(_)), "{err}");
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
    let (train_set, test_set) = mnist(1000);
    for threads in [1, 2, 3] {
        let config = TrainConfig {
            epochs: Some(2),
            threads,
            ..TrainConfig::default()
        };
        // Stops in the second epoch (32 batches per epoch).
        let result = train::train(&config, &train_set, &test_set, &mut StopAfter(40));
        assert!(
            matches!(result, Err(TrainError::Interrupted)),
            "threads {threads}"
        );
    }
}

/// Records whether every model offered for checkpointing was finite.
#[derive(Default)]
struct Saves {
    epochs: usize,
    all_finite: bool,
}

impl Observer for Saves {
    fn epoch(&mut self, _: &EpochMetrics, model: &Model) -> bool {
        self.all_finite = (self.epochs == 0 || self.all_finite) && model.net.all_finite();
        self.epochs += 1;
        true
    }
}

#[test]
fn diverging_runs_fail_and_never_offer_non_finite_weights() {
    let (pixels, labels) = common::synthetic(256, 5);
    let shape = Shape {
        features: 784,
        image: Some((28, 28)),
    };
    let labels = labels.into_iter().map(u16::from).collect();
    let data =
        Dataset::from_pixels("synthetic", shape, pixels, labels, Classes::numeric(10)).unwrap();
    // Learning rates that blow up at different points: in the first epoch,
    // or after epochs whose weights are still finite.
    let mut saved = 0;
    for threads in [1, 2] {
        for learning_rate in [1e6, 1e4, 3e3, 1e3] {
            let config = TrainConfig {
                hidden: hidden("16"),
                epochs: Some(8),
                learning_rate: Some(learning_rate),
                weight_decay: Some(5e-4),
                threads,
                ..TrainConfig::default()
            };
            let mut saves = Saves::default();
            let result = train::train(&config, &data, &data.take(32), &mut saves);
            match result {
                Err(TrainError::Diverged {
                    learning_rate: lr, ..
                }) => assert_eq!(lr, learning_rate),
                other => panic!("lr {learning_rate}: {:?}", other.map(|t| t.history)),
            }
            assert!(
                saves.epochs == 0 || saves.all_finite,
                "lr {learning_rate}: non-finite weights offered for saving"
            );
            saved += saves.epochs;
        }
    }
    assert!(saved > 0, "no run completed an epoch before diverging");
}

#[test]
fn a_network_too_small_to_share_takes_one_thread_unless_told() {
    let (train_set, test_set) = digits();
    let threads_of = |hidden_widths: &str, adapt_threads| {
        let config = TrainConfig {
            hidden: hidden(hidden_widths),
            epochs: Some(3),
            threads: 2,
            adapt_threads,
            ..TrainConfig::default()
        };
        let trained = run(&config, &train_set, &test_set);
        let took: Vec<usize> = trained.history.iter().map(|m| m.threads).collect();
        (
            config.most_threads(&trained.recipe),
            took,
            bytes(&trained.model),
        )
    };
    // 64-4-10: under 10,000 multiply-adds a step; 64-32-10: 76,000.
    let (most, took, small) = threads_of("4", true);
    assert_eq!((most, took), (1, vec![1; 3]));
    let (most, took, told) = threads_of("4", false);
    assert_eq!((most, took), (2, vec![2; 3]));
    assert!(small == told, "the thread count changed the model");
    let (most, _, _) = threads_of("32", true);
    assert_eq!(most, 2);
}
