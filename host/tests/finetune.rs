//! Fine-tuning the output layer: the host's steps on a run-time `Net` give the
//! bits of the const-generic chain stepped with the core's functions (what the
//! firmware's `finetune` program runs), and `host finetune` end to end.

mod common;

use common::{data_dir, ok, s};
use host::finetune::{self, OutputTuner, EXPECTED_MAGIC};
use host::model::{Architecture, Checkpoint, HiddenLayers, Net};
use tinymlp::{cross_entropy_grad, Dense, Hidden, Network, Parameters, Rng, Sgd};

const SGD: Sgd = Sgd {
    learning_rate: 0.05,
    momentum: 0.9,
    weight_decay: 0.0,
    nesterov: false,
};

/// The firmware's step on a chain's output layer `head`, with features `h`.
fn chip_step<const H: usize, const C: usize>(
    head: &mut Dense<H, C>,
    grads: &mut Dense<H, C>,
    velocity: &mut Dense<H, C>,
    h: &[f32; H],
    target: usize,
) {
    let mut logits = [0.0; C];
    head.forward(h, &mut logits);
    let mut d = [0.0; C];
    cross_entropy_grad(&logits, target, &mut d);
    *grads = Dense::zeroed();
    head.accumulate_gradients(h, &d, grads);
    SGD.step(head, grads, velocity, 1.0);
}

fn bits(values: &[f32]) -> Vec<u32> {
    values.iter().map(|v| v.to_bits()).collect()
}

fn inputs<const IN: usize>(n: usize, seed: u64) -> Vec<([f32; IN], usize)> {
    let mut rng = Rng::new(seed);
    (0..n)
        .map(|i| (core::array::from_fn(|_| rng.uniform(-1.0, 1.0)), i % 3))
        .collect()
}

#[test]
fn one_hidden_layer_matches_the_chain_bit_for_bit() {
    type Chain = Hidden<6, 5, Dense<5, 3>>;
    let mut chain = Chain::zeroed();
    chain.init(&mut Rng::new(3));
    let arch = Architecture::new(6, &HiddenLayers(vec![5]), 3).unwrap();
    let mut net = Net::initialised(&arch, 3);
    let mut tuner = OutputTuner::new(&net, SGD);
    let (mut grads, mut velocity) = (Dense::zeroed(), Dense::zeroed());
    for (x, target) in inputs::<6>(40, 7) {
        let mut h = [0.0; 5];
        chain.dense.forward(&x, &mut h);
        tinymlp::activation::relu(&mut h);
        chip_step(&mut chain.next, &mut grads, &mut velocity, &h, target);
        tuner.step(&mut net, &x, target);
    }
    for t in 0..net.tensors() {
        assert_eq!(bits(net.tensor(t)), bits(chain.tensor(t)), "tensor {t}");
    }
    // Only the output layer moved.
    let fresh = Net::initialised(&arch, 3);
    assert_eq!(bits(net.tensor(0)), bits(fresh.tensor(0)));
    assert_ne!(bits(net.tensor(2)), bits(fresh.tensor(2)));
}

#[test]
fn two_hidden_layers_and_none_match_the_chain() {
    type Chain = Hidden<4, 6, Hidden<6, 5, Dense<5, 3>>>;
    let mut chain = Chain::zeroed();
    chain.init(&mut Rng::new(11));
    let arch = Architecture::new(4, &HiddenLayers(vec![6, 5]), 3).unwrap();
    let mut net = Net::initialised(&arch, 11);
    let mut tuner = OutputTuner::new(&net, SGD);
    let (mut grads, mut velocity) = (Dense::zeroed(), Dense::zeroed());
    for (x, target) in inputs::<4>(30, 5) {
        let mut h1 = [0.0; 6];
        chain.dense.forward(&x, &mut h1);
        tinymlp::activation::relu(&mut h1);
        let mut h = [0.0; 5];
        chain.next.dense.forward(&h1, &mut h);
        tinymlp::activation::relu(&mut h);
        chip_step(&mut chain.next.next, &mut grads, &mut velocity, &h, target);
        tuner.step(&mut net, &x, target);
    }
    assert_eq!(bits(net.params()), bits(&chain_params(&chain)));

    // No hidden layer: the features are the input.
    let mut lone = Dense::<4, 3>::zeroed();
    lone.init(&mut Rng::new(2));
    let arch = Architecture::new(4, &HiddenLayers(vec![]), 3).unwrap();
    let mut net = Net::initialised(&arch, 2);
    let mut tuner = OutputTuner::new(&net, SGD);
    let (mut grads, mut velocity) = (Dense::zeroed(), Dense::zeroed());
    for (x, target) in inputs::<4>(30, 9) {
        chip_step(&mut lone, &mut grads, &mut velocity, &x, target);
        tuner.step(&mut net, &x, target);
    }
    assert_eq!(bits(net.params()), bits(&chain_params(&lone)));
}

fn chain_params<P: Parameters>(p: &P) -> Vec<f32> {
    (0..P::TENSORS).flat_map(|t| p.tensor(t).to_vec()).collect()
}

#[test]
fn shifted_images_move_and_keep_their_labels() {
    let data = host::data::load(
        &data_dir(),
        &host::data::DataOptions::default(),
        host::data::Role::Test,
    )
    .unwrap()
    .take(3);
    let moved = finetune::shift_images(&data, 2, -1).unwrap();
    assert_eq!(moved.labels(), data.labels());
    let (a, b) = (data.pixels(0).unwrap(), moved.pixels(0).unwrap());
    for r in 0..27 {
        for c in 0..26 {
            assert_eq!(b[r * 28 + c + 2], a[(r + 1) * 28 + c]);
        }
    }
    assert!(
        b[27 * 28..].iter().all(|&p| p == 0),
        "the bottom row is uncovered"
    );
}

#[test]
fn host_finetune_writes_what_the_firmware_checks() {
    let dir = tempfile::tempdir().unwrap();
    let model = data_dir().join("../model/model.safetensors");
    let out = ok(&[
        "finetune",
        "--model",
        s(&model),
        "--data",
        s(&data_dir()),
        "--steps",
        "300",
        "--eval",
        "200",
        "--shift",
        "3,3",
        "--out",
        s(dir.path()),
    ]);
    assert!(out.contains("accuracy after: "), "{out}");
    let before = Checkpoint::read(&model).unwrap().load().unwrap();
    let after = Checkpoint::read(&dir.path().join("model.safetensors"))
        .unwrap()
        .load()
        .unwrap();
    // The hidden layer is untouched, the output layer trained.
    assert_eq!(bits(after.net.tensor(0)), bits(before.net.tensor(0)));
    assert_eq!(bits(after.net.tensor(1)), bits(before.net.tensor(1)));
    assert_ne!(bits(after.net.tensor(2)), bits(before.net.tensor(2)));

    let expected = std::fs::read(dir.path().join("finetune_expected.bin")).unwrap();
    let word = |i: usize| u32::from_le_bytes(expected[8 + 4 * i..12 + 4 * i].try_into().unwrap());
    assert_eq!(expected[..8], EXPECTED_MAGIC);
    assert_eq!((word(0), word(1), word(2), word(3)), (64, 10, 300, 200));
    assert_eq!(
        (f32::from_bits(word(4)), f32::from_bits(word(5))),
        (0.01, 0.9)
    );
    let params: Vec<u32> = (0..650).map(|i| word(8 + i)).collect();
    let trained: Vec<f32> = after
        .net
        .tensor(2)
        .iter()
        .chain(after.net.tensor(3))
        .copied()
        .collect();
    assert_eq!(params, bits(&trained));
    assert_eq!(expected.len(), 40 + 650 * 4 + 200 * 11 * 4);
    // On shifted digits even 300 steps of the output layer help.
    assert!(
        word(7) > word(6),
        "correct before {} after {}",
        word(6),
        word(7)
    );
    for (name, n) in [("finetune_train.bin", 300), ("finetune_test.bin", 200)] {
        let bytes = std::fs::read(dir.path().join(name)).unwrap();
        assert_eq!(bytes.len(), 20 + n * (784 + 4), "{name}");
        assert_eq!(&bytes[..8], b"TMLPTIN\x02");
    }
}

#[test]
fn host_finetune_refuses_steps_that_leave_nothing_to_measure() {
    let dir = tempfile::tempdir().unwrap();
    let run = common::run_host(&[
        "finetune",
        "--model",
        s(&data_dir().join("../model/model.safetensors")),
        "--data",
        s(&data_dir()),
        "--steps",
        "10000",
        "--out",
        s(dir.path()),
    ]);
    run.assert_error(&["--steps 10000", "leave some to measure on"]);
}
