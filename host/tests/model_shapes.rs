//! The run-time-shaped `Net` against the const-generic `tinymlp` chain of the
//! same widths: initialisation, forward, backward and optimiser steps give
//! identical bits, for shapes drawn at random (seeded) once: inputs not a
//! multiple of 8, widths 1..=37, 0 to 6 hidden layers, 2 to 12 classes.

use host::model::{Architecture, Net};
use host::train::shard::{forward_shard, train_shard, ShardScratch};
use host::train::Optimizer;
use tinymlp::batch::Rows;
use tinymlp::{Adam, Dense, Hidden, Network, Parameters, Rng, Sgd};

/// The chain type of a list of widths: `chain!(5, 7, 3)` is `Hidden<5, 7, Dense<7, 3>>`.
macro_rules! chain {
    ($i:literal, $o:literal) => { Dense<$i, $o> };
    ($i:literal, $h:literal, $($rest:literal),+) => { Hidden<$i, $h, chain!($h, $($rest),+)> };
}

fn bits(values: &[f32]) -> Vec<u32> {
    values.iter().map(|v| v.to_bits()).collect()
}

fn net_bits(net: &Net) -> Vec<u32> {
    bits(net.params())
}

fn chain_bits<P: Parameters>(p: &P) -> Vec<u32> {
    (0..P::TENSORS).flat_map(|t| bits(p.tensor(t))).collect()
}

/// Equal bits, or a message naming the first difference.
fn assert_same(a: &[u32], b: &[u32], what: &str) {
    assert_eq!(a.len(), b.len(), "{what}: lengths");
    if let Some(i) = (0..a.len()).find(|&i| a[i] != b[i]) {
        panic!(
            "{what}: parameter {i} differs: {:e} vs {:e}",
            f32::from_bits(a[i]),
            f32::from_bits(b[i])
        );
    }
}

/// Inputs with exact zeros among them (as after a ReLU, or background pixels).
fn inputs(rng: &mut Rng, n: usize, width: usize) -> Vec<f32> {
    (0..n * width)
        .map(|_| {
            let u = rng.uniform(0.0, 1.0);
            if u < 0.3 {
                0.0
            } else {
                rng.uniform(-2.0, 2.0)
            }
        })
        .collect()
}

/// Every check for one shape; `C` is the chain type of `widths`.
fn check<C, const IN: usize, const OUT: usize>(widths: &[usize], seed: u64)
where
    C: Network<IN, OUT> + Default + Clone,
{
    let arch = Architecture::from_widths(widths.to_vec()).unwrap();
    let mut net = Net::initialised(&arch, seed);
    let mut chain = C::default();
    chain.init(&mut Rng::new(seed));
    // Non-zero biases, so that their paths are exercised.
    let mut rng = Rng::new(seed ^ 0xB1A5);
    for t in (1..C::TENSORS).step_by(2) {
        for (a, b) in net.tensor_mut(t).iter_mut().zip(chain.tensor_mut(t)) {
            *a = rng.uniform(-0.2, 0.2);
            *b = *a;
        }
    }
    assert_same(
        &net_bits(&net),
        &chain_bits(&chain),
        &format!("{arch}: initialisation"),
    );

    let n = 21;
    let xs = inputs(&mut rng, n, IN);
    let labels: Vec<u16> = (0..n).map(|s| (s * 7 % OUT) as u16).collect();

    // Forward: per sample and batched.
    let mut scratch = ShardScratch::new(&net, n);
    forward_shard(&net, Rows::new(&xs, IN), &mut scratch);
    for (s, x) in xs.chunks_exact(IN).enumerate() {
        let x: &[f32; IN] = x.try_into().unwrap();
        let expected = bits(&chain.logits(x));
        let mut training = C::Scratch::default();
        assert_eq!(
            bits(chain.forward(x, &mut training)),
            expected,
            "{arch}: infer vs forward {s}"
        );
        assert_eq!(
            bits(&net.logits(x)),
            expected,
            "{arch}: logits of sample {s}"
        );
        assert_eq!(
            bits(&scratch.logits()[s * OUT..(s + 1) * OUT]),
            expected,
            "{arch}: batched logits {s}"
        );
    }

    // Backward: one shard through the batch kernels against train_sample one by one.
    let mut grads = Net::zeros(&arch);
    let outcome = train_shard(&net, Rows::new(&xs, IN), &labels, &mut scratch, &mut grads);
    let mut chain_grads = C::default();
    let mut chain_scratch = C::Scratch::default();
    let (mut loss, mut correct) = (0.0f32, 0);
    for (x, &label) in xs.chunks_exact(IN).zip(&labels) {
        let r = chain.train_sample(
            x.try_into().unwrap(),
            usize::from(label),
            &mut chain_scratch,
            &mut chain_grads,
        );
        loss += r.loss;
        correct += usize::from(r.predicted == usize::from(label));
    }
    assert_same(
        &net_bits(&grads),
        &chain_bits(&chain_grads),
        &format!("{arch}: gradients"),
    );
    assert_eq!(
        (outcome.loss.to_bits(), outcome.correct),
        (loss.to_bits(), correct),
        "{arch}: loss"
    );

    // Optimiser steps: SGD with Nesterov momentum, then Adam.
    let sgd = Sgd {
        learning_rate: 0.05,
        momentum: 0.9,
        weight_decay: 2e-4,
        nesterov: true,
    };
    let adam = Adam {
        weight_decay: 1e-4,
        ..Adam::new(0.01)
    };
    let scale = 1.0 / n as f32;
    let mut state = [Net::zeros(&arch), Net::zeros(&arch)];
    let (mut velocity, mut m, mut v) = (C::default(), C::default(), C::default());
    for step in 0..3 {
        let (optimizer, rate) = if step < 2 {
            (Optimizer::Sgd(sgd), sgd.learning_rate)
        } else {
            // Adam starts from fresh moments, as the chain's does.
            state.iter_mut().for_each(Net::set_zero);
            (Optimizer::Adam(adam), adam.learning_rate)
        };
        for t in 0..net.tensors() {
            let kind = net.tensor_info(t).kind;
            let [s0, s1] = &mut state;
            let params = net.tensor_mut(t);
            optimizer.update(
                (step, rate),
                kind,
                params,
                grads.tensor(t),
                (s0.tensor_mut(t), s1.tensor_mut(t)),
                scale,
            );
        }
        if step < 2 {
            sgd.step(&mut chain, &chain_grads, &mut velocity, scale);
        } else {
            adam.step(&mut chain, &chain_grads, (&mut m, &mut v), 3, scale);
        }
        assert_same(
            &net_bits(&net),
            &chain_bits(&chain),
            &format!("{arch}: parameters after step {step}"),
        );
    }
}

macro_rules! shapes {
    ($($name:ident: [$i:literal $(, $w:literal)*] seed $seed:literal;)*) => {$(
        #[test]
        fn $name() {
            type C = chain!($i $(, $w)*);
            let widths = [$i $(, $w)*];
            const OUT: usize = { let w = [$i $(, $w)*]; w[w.len() - 1] };
            check::<C, $i, OUT>(&widths, $seed);
        }
    )*};
}

shapes! {
    linear_3_8: [3, 8] seed 1;
    hidden1_35_37_2: [35, 37, 2] seed 2;
    hidden2_15_30_32_6: [15, 30, 32, 6] seed 3;
    hidden3_12_3_34_32_7: [12, 3, 34, 32, 7] seed 4;
    hidden4_5_16_24_3_27_4: [5, 16, 24, 3, 27, 4] seed 5;
    hidden5_26_25_27_19_17_30_4: [26, 25, 27, 19, 17, 30, 4] seed 6;
    hidden6_22_24_9_30_16_29_25_2: [22, 24, 9, 30, 16, 29, 25, 2] seed 7;
    linear_1_5: [1, 5] seed 8;
    hidden1_10_13_6: [10, 13, 6] seed 9;
    hidden2_27_16_21_12: [27, 16, 21, 12] seed 10;
    hidden3_33_28_31_5_12: [33, 28, 31, 5, 12] seed 11;
    hidden4_23_33_11_15_27_5: [23, 33, 11, 15, 27, 5] seed 12;
    mnist_784_64_10: [784, 64, 10] seed 13;
}
