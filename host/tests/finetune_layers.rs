//! Training every layer as the chip does (`host finetune --layers all`): the
//! host's steps on a run-time `Net` give the bits of the const-generic chain
//! stepped with the core's functions in the firmware's order (what
//! `firmware/src/bin/train.rs` runs), and the command end to end.

mod common;

use common::{data, ok, run_host, s};
use host::data::{Classes, Dataset, Shape};
use host::finetune::layers::{self, EveryLayer, EXPECTED_MAGIC_EVERY_LAYER};
use host::model::{Architecture, Checkpoint, HiddenLayers, Scaling};
use host::train::Optimizer;
use tinymlp::{
    accumulate_moments, Adam, Dense, Hidden, Network, Parameters, Rng, Sgd, Standardize,
};

type Chain = Hidden<5, 6, Hidden<6, 4, Dense<4, 3>>>;
const SAMPLES: usize = 37;

fn bits(values: &[f32]) -> Vec<u32> {
    values.iter().map(|v| v.to_bits()).collect()
}

/// 37 samples of 5 features (raw, far from standardised), 3 classes.
fn dataset() -> Dataset {
    let mut rng = Rng::new(21);
    let values = (0..SAMPLES * 5)
        .map(|i| rng.uniform(-3.0, 9.0) * (1 + i % 5) as f32)
        .collect();
    let labels = (0..SAMPLES).map(|i| (i * 7 % 3) as u16).collect();
    let shape = Shape {
        features: 5,
        image: None,
    };
    Dataset::from_values("synthetic", shape, values, labels, Classes::numeric(3)).unwrap()
}

/// The firmware's run on the chain: the standardisation fitted over the
/// samples in order, `init`, then per epoch a shuffle and batches of
/// `train_sample` into zeroed gradients and one step. Returns the epoch losses.
fn chip_run(chain: &mut Chain, data: &Dataset, run: &EveryLayer) -> (Standardize<5>, Vec<f64>) {
    let mut raw = [0.0f32; 5];
    let (mut sum, mut sum_sq) = ([0.0f64; 5], [0.0f64; 5]);
    for i in 0..data.len() {
        data.raw_f32(i, &mut raw);
        accumulate_moments(&raw, &mut sum, &mut sum_sq);
    }
    let scale = Standardize::fit(&sum, &sum_sq, data.len());
    chain.init(&mut Rng::new(run.seed));
    let (mut grads, mut first, mut second) = (Chain::zeroed(), Chain::zeroed(), Chain::zeroed());
    let mut order: Vec<u16> = (0..data.len() as u16).collect();
    let mut rng = Rng::new(run.seed + 1);
    let (mut t, mut losses) = (0u32, Vec::new());
    let mut scratch = Default::default();
    for _ in 0..run.epochs {
        rng.shuffle(&mut order);
        let mut epoch_loss = 0.0f64;
        for batch in order.chunks(run.batch) {
            grads.set_zero();
            let mut batch_loss = 0.0f32;
            for &i in batch {
                data.raw_f32(usize::from(i), &mut raw);
                let label = usize::from(data.labels()[usize::from(i)]);
                batch_loss += chain
                    .train_sample(&scale.apply(&raw), label, &mut scratch, &mut grads)
                    .loss;
            }
            t += 1;
            let g = 1.0 / batch.len() as f32;
            match run.optimizer {
                Optimizer::Sgd(sgd) => Sgd {
                    learning_rate: run.learning_rate,
                    ..sgd
                }
                .step(chain, &grads, &mut first, g),
                Optimizer::Adam(adam) => Adam {
                    learning_rate: run.learning_rate,
                    ..adam
                }
                .step(chain, &grads, (&mut first, &mut second), t, g),
            }
            epoch_loss += f64::from(batch_loss);
        }
        losses.push(epoch_loss / data.len() as f64);
    }
    (scale, losses)
}

fn host_matches_chip(run: EveryLayer) {
    let data = dataset();
    let arch = Architecture::new(5, &HiddenLayers(vec![6, 4]), 3).unwrap();
    let mut model = layers::from_scratch(&arch, &data, run.seed);
    let host_losses = layers::train_every_layer(&mut model, &data, &run).unwrap();
    let mut chain = Chain::zeroed();
    let (scale, chip_losses) = chip_run(&mut chain, &data, &run);
    let Scaling::Standardize { mean, inv_std } = &model.scaling else {
        panic!("from scratch standardises")
    };
    assert_eq!(bits(mean), bits(&scale.mean));
    assert_eq!(bits(inv_std), bits(&scale.inv_std));
    let to_bits = |l: &[f64]| l.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
    assert_eq!(to_bits(&host_losses), to_bits(&chip_losses));
    for t in 0..Chain::TENSORS {
        assert_eq!(
            bits(model.net.tensor(t)),
            bits(chain.tensor(t)),
            "tensor {t}"
        );
    }
    // It learnt something: the last epoch's loss is below the first's.
    assert!(
        host_losses[run.epochs - 1] < host_losses[0],
        "{host_losses:?}"
    );
}

#[test]
fn every_layer_sgd_matches_the_chain_bit_for_bit() {
    host_matches_chip(EveryLayer {
        optimizer: EveryLayer::optimizer(false, 0.9, 0.01),
        learning_rate: 0.05,
        epochs: 4,
        batch: 3,
        seed: 7,
    });
    // Batch 1 and the largest batch, Nesterov momentum.
    for batch in [1, layers::MAX_BATCH] {
        host_matches_chip(EveryLayer {
            optimizer: Optimizer::Sgd(Sgd {
                momentum: 0.5,
                nesterov: true,
                ..Sgd::new(0.0)
            }),
            learning_rate: 0.02,
            epochs: 3,
            batch,
            seed: 3,
        });
    }
}

#[test]
fn every_layer_adam_matches_the_chain_bit_for_bit() {
    host_matches_chip(EveryLayer {
        optimizer: EveryLayer::optimizer(true, 0.0, 0.001),
        learning_rate: 0.01,
        epochs: 5,
        batch: 4,
        seed: 11,
    });
}

#[test]
fn host_finetune_from_scratch_writes_what_the_train_program_checks() {
    let dir = tempfile::tempdir().unwrap();
    let out = ok(&[
        "finetune",
        "--layers",
        "all",
        "--from-scratch",
        "--hidden",
        "8",
        "--seed",
        "4",
        "--data",
        s(&data("digits-8x8/digits-train.csv")),
        "--test",
        s(&data("digits-8x8/digits-test.csv")),
        "--steps",
        "400",
        "--eval",
        "100",
        "--epochs",
        "3",
        "--batch",
        "8",
        "--lr",
        "0.02",
        "--out",
        s(dir.path()),
    ]);
    assert!(out.contains("accuracy after: "), "{out}");
    let after = Checkpoint::read(&dir.path().join("model.safetensors"))
        .unwrap()
        .load()
        .unwrap();
    let expected = std::fs::read(dir.path().join("finetune_expected.bin")).unwrap();
    let word = |i: usize| u32::from_le_bytes(expected[4 * i..4 * i + 4].try_into().unwrap());
    assert_eq!(expected[..8], EXPECTED_MAGIC_EVERY_LAYER);
    let params = 64 * 8 + 8 + 8 * 10 + 10;
    // flags (from scratch, SGD), layers, parameters, samples, eval, epochs, batch.
    assert_eq!(
        (2..9).map(word).collect::<Vec<_>>(),
        [1, 2, params, 400, 100, 3, 8]
    );
    assert!(
        word(10) > 2 * word(9),
        "correct before {} after {}",
        word(9),
        word(10)
    );
    assert_eq!((word(11), word(12)), (4, 0), "seed");
    assert_eq!((18..21).map(word).collect::<Vec<_>>(), [64, 8, 10]);
    let params_at = 21 + 2 * 64 + 2 * 3;
    let stored: Vec<u32> = (params_at..params_at + params as usize).map(word).collect();
    assert_eq!(stored, bits(after.net.params()));
    assert_eq!(
        expected.len(),
        4 * (params_at + params as usize) + 100 * 11 * 4
    );
    let source = std::fs::read_to_string(dir.path().join("finetune_net.rs")).unwrap();
    assert!(source.contains("pub type Model = tinymlp::Hidden<64, 8, tinymlp::Dense<8, 10>>;"));
    assert!(source.contains("= None;") && !source.contains("MODEL"));
}

#[test]
fn host_finetune_every_layer_of_a_checkpoint_starts_from_its_weights() {
    let dir = tempfile::tempdir().unwrap();
    let model = data("../examples/digits/model/model.safetensors");
    let out = ok(&[
        "finetune",
        "--layers",
        "all",
        "--model",
        s(&model),
        "--data",
        s(&data("digits-8x8/digits-train.csv")),
        "--test",
        s(&data("digits-8x8/digits-test.csv")),
        "--drift",
        "0.8,1",
        "--optimizer",
        "adam",
        "--lr",
        "0.001",
        "--batch",
        "8",
        "--out",
        s(dir.path()),
    ]);
    assert!(out.contains("accuracy after: "), "{out}");
    let source = std::fs::read_to_string(dir.path().join("finetune_net.rs")).unwrap();
    assert!(source.contains("pub static MODEL: Model"));
    assert!(source.contains(
        "START: Option<(&Model, &tinymlp::Standardize<INPUTS>)> = Some((&MODEL, &SCALING));"
    ));
    let expected = std::fs::read(dir.path().join("finetune_expected.bin")).unwrap();
    let word = |i: usize| u32::from_le_bytes(expected[4 * i..4 * i + 4].try_into().unwrap());
    assert_eq!(word(2), 2, "Adam, not from scratch");
    // The drift hurts the shipped model; training every layer recovers.
    assert!(
        word(9) < 300 && word(10) > 420,
        "{} → {}",
        word(9),
        word(10)
    );
}

#[test]
fn host_finetune_refuses_options_that_do_not_fit_together() {
    let dir = tempfile::tempdir().unwrap();
    let digits = data("digits-8x8/digits-train.csv");
    let base = ["finetune", "--data", s(&digits), "--out", s(dir.path())];
    let cases: [(&[&str], &[&str]); 6] = [
        (&["--epochs", "2"], &["--epochs needs --layers all"]),
        (&["--from-scratch"], &["--from-scratch needs --layers all"]),
        (
            &["--layers", "all", "--from-scratch", "--batch", "17"],
            &["--batch must be between 1 and 16"],
        ),
        (
            &["--layers", "all", "--hidden", "8"],
            &["--hidden", "--from-scratch"],
        ),
        (
            &[
                "--layers",
                "all",
                "--from-scratch",
                "--model",
                "m.safetensors",
            ],
            &["leave out --model"],
        ),
        (
            &["--layers", "all", "--from-scratch", "--drift", "1,x"],
            &["'x'"],
        ),
    ];
    for (extra, words) in cases {
        let args: Vec<&str> = base.iter().copied().chain(extra.iter().copied()).collect();
        let run = run_host(&args);
        if words == ["'x'"] {
            // A value clap rejects: exit 2 with the option named.
            assert_eq!(run.code, Some(2), "{run:#?}");
            assert!(
                run.stderr.contains("--drift") && run.stderr.contains("'x'"),
                "{run:#?}"
            );
        } else {
            run.assert_error(words);
        }
    }
    // MNIST pixels are not numeric features.
    let run = run_host(&[
        "finetune",
        "--layers",
        "all",
        "--model",
        s(&data("../model/model.safetensors")),
        "--data",
        s(&common::data_dir()),
        "--steps",
        "10",
        "--eval",
        "10",
        "--out",
        s(dir.path()),
    ]);
    run.assert_error(&["--layers all trains standardised numeric features"]);
}
