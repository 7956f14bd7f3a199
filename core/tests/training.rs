//! Backpropagation checked against finite differences, and small problems learned end to end.

use tinymlp::{cross_entropy, Dense, Mlp, Mlp2, Network, Parameters, Rng, Sgd};

/// Central-difference check of every parameter of `net` on one sample.
///
/// Step h = 1e-3 in f32: rounding noise in the loss is ~1e-7/h = 1e-4 and the
/// truncation error O(h²) is far below that, so |analytic − numeric| must stay
/// under 1e-3 + 1% of the magnitude.
fn gradient_check<N, const IN: usize, const OUT: usize>(net: &N, x: &[f32; IN], target: usize)
where
    N: Network<IN, OUT> + Clone,
{
    let mut grads = net.clone();
    grads.set_zero();
    let mut scratch = N::Scratch::default();
    net.train_sample(x, target, &mut scratch, &mut grads);

    let h = 1e-3f32;
    let mut probe = net.clone();
    let mut checked = 0;
    for t in 0..N::TENSORS {
        for k in 0..N::tensor_info(t).len() {
            let original = probe.tensor(t)[k];
            probe.tensor_mut(t)[k] = original + h;
            let plus = cross_entropy(&probe.logits(x), target);
            probe.tensor_mut(t)[k] = original - h;
            let minus = cross_entropy(&probe.logits(x), target);
            probe.tensor_mut(t)[k] = original;
            let numeric = (plus - minus) / (2.0 * h);
            let analytic = grads.tensor(t)[k];
            assert!(
                (numeric - analytic).abs() <= 1e-3 + 1e-2 * analytic.abs(),
                "{}[{k}]: analytic {analytic} vs numeric {numeric}",
                N::tensor_info(t).name()
            );
            checked += 1;
        }
    }
    assert_eq!(checked, N::parameter_count());
}

/// Hidden pre-activations far from the ReLU kink, so a step of h cannot cross it.
fn assert_away_from_kink<const IN: usize, const H: usize>(
    layer: &Dense<IN, H>,
    x: &[f32; IN],
) -> [f32; H] {
    let mut pre = [0.0; H];
    layer.forward(x, &mut pre);
    assert!(
        pre.iter().all(|v| v.abs() > 0.02),
        "pick another seed: {pre:?}"
    );
    pre
}

#[test]
fn mlp_gradients_match_finite_differences() {
    let mut net = Mlp::<5, 7, 3>::zeroed();
    net.init(&mut Rng::new(11));
    // Non-zero biases so their gradients are exercised away from the initial state.
    for (i, b) in net.dense.bias.iter_mut().enumerate() {
        *b = 0.1 * (i as f32 - 3.0);
    }
    net.next.bias = [0.2, -0.1, 0.05];
    let x = [0.5, -0.3, 0.8, 0.1, -0.6];
    assert_away_from_kink(&net.dense, &x);
    gradient_check(&net, &x, 2);
}

#[test]
fn mlp2_gradients_match_finite_differences() {
    let mut net = Mlp2::<4, 6, 5, 3>::zeroed();
    net.init(&mut Rng::new(5));
    net.next.dense.bias = [0.05, -0.04, 0.03, 0.06, -0.05];
    let x = [0.9, -0.4, 0.3, 0.7];
    let pre1 = assert_away_from_kink(&net.dense, &x);
    let h1 = pre1.map(|v| v.max(0.0));
    assert_away_from_kink(&net.next.dense, &h1);
    gradient_check(&net, &x, 0);
}

/// Two interleaved spirals, the classic problem a linear model cannot separate.
fn spirals(n_per_class: usize) -> Vec<([f32; 2], usize)> {
    let mut points = Vec::new();
    for class in 0..2 {
        for i in 0..n_per_class {
            let t = i as f32 / n_per_class as f32 * 3.0 * core::f32::consts::PI;
            let r = 0.1 + t / (3.0 * core::f32::consts::PI);
            let angle = t + class as f32 * core::f32::consts::PI;
            points.push(([r * angle.cos(), r * angle.sin()], class));
        }
    }
    points
}

#[test]
fn two_spirals_are_learned_to_100_percent() {
    let data = spirals(100);
    let mut net = Mlp2::<2, 32, 32, 2>::zeroed();
    let mut rng = Rng::new(3);
    net.init(&mut rng);
    let (mut grads, mut velocity) = (Mlp2::zeroed(), Mlp2::zeroed());
    let mut scratch = Default::default();
    let sgd = Sgd {
        learning_rate: 0.05,
        momentum: 0.9,
        weight_decay: 0.0,
        nesterov: true,
    };
    let mut order: Vec<usize> = (0..data.len()).collect();
    for _epoch in 0..3000 {
        for i in (1..order.len()).rev() {
            order.swap(i, rng.below(i as u32 + 1) as usize);
        }
        for batch in order.chunks(20) {
            grads.set_zero();
            for &i in batch {
                net.train_sample(&data[i].0, data[i].1, &mut scratch, &mut grads);
            }
            sgd.step(&mut net, &grads, &mut velocity, 1.0 / batch.len() as f32);
        }
        if data.iter().all(|(x, y)| net.predict(x) == *y) {
            return;
        }
    }
    let correct = data.iter().filter(|(x, y)| net.predict(x) == *y).count();
    panic!("spirals: only {correct}/{} correct", data.len());
}

#[test]
fn gradients_from_two_halves_add_up_to_the_whole() {
    let mut net = Mlp::<6, 5, 3>::zeroed();
    net.init(&mut Rng::new(2));
    let mut rng = Rng::new(8);
    let samples: Vec<([f32; 6], usize)> = (0..8)
        .map(|i| (core::array::from_fn(|_| rng.uniform(0.0, 1.0)), i % 3))
        .collect();
    let mut scratch = Default::default();
    let (mut a, mut b) = (Mlp::zeroed(), Mlp::zeroed());
    for (x, y) in &samples[..4] {
        net.train_sample(x, *y, &mut scratch, &mut a);
    }
    for (x, y) in &samples[4..] {
        net.train_sample(x, *y, &mut scratch, &mut b);
    }
    a.add_assign(&b);
    let mut whole = Mlp::zeroed();
    for (x, y) in &samples {
        net.train_sample(x, *y, &mut scratch, &mut whole);
    }
    for t in 0..4 {
        for (p, q) in a.tensor(t).iter().zip(whole.tensor(t)) {
            assert!((p - q).abs() < 1e-5);
        }
    }
}

#[test]
fn sgd_matches_pytorch_update_rule() {
    // One parameter of each kind, worked by hand (PyTorch's SGD with nesterov).
    let mut p = Dense::<1, 1>::new([[1.0]], [0.5]);
    let g = Dense::<1, 1>::new([[0.2]], [0.4]);
    let mut v = Dense::<1, 1>::zeroed();
    let sgd = Sgd {
        learning_rate: 0.1,
        momentum: 0.9,
        weight_decay: 0.01,
        nesterov: true,
    };
    sgd.step(&mut p, &g, &mut v, 0.5);
    // weight: g' = 0.1 + 0.01 = 0.11; v = 0.11; p = 1 - 0.1·(0.11 + 0.099) = 0.9791
    assert!(
        (p.weights[0][0] - 0.9791).abs() < 1e-6,
        "{}",
        p.weights[0][0]
    );
    // bias: no decay: g' = 0.2; v = 0.2; p = 0.5 - 0.1·(0.2 + 0.18) = 0.462
    assert!((p.bias[0] - 0.462).abs() < 1e-6, "{}", p.bias[0]);
    assert!((v.weights[0][0] - 0.11).abs() < 1e-7);
}

#[test]
fn sgd_without_momentum_is_plain_and_leaves_the_velocity_alone() {
    let mut p = Dense::<1, 1>::new([[1.0]], [0.5]);
    let g = Dense::<1, 1>::new([[0.2]], [0.4]);
    // Not read: a NaN there would reach the parameters if it were.
    let mut v = Dense::<1, 1>::new([[f32::NAN]], [f32::NAN]);
    let sgd = Sgd {
        weight_decay: 0.01,
        nesterov: true,
        ..Sgd::new(0.1)
    };
    sgd.step(&mut p, &g, &mut v, 0.5);
    // weight: g' = 0.2·0.5 + 0.01·1 = 0.11, p = 1 - 0.1·0.11; bias: g' = 0.2.
    assert_eq!(p.weights[0][0], 1.0 - 0.1 * (0.2 * 0.5 + 0.01 * 1.0));
    assert_eq!(p.bias[0], 0.5 - 0.1 * (0.4 * 0.5));
    assert!(
        v.weights[0][0].is_nan() && v.bias[0].is_nan(),
        "not written"
    );
}

#[test]
fn tensor_metadata_describes_the_shapes() {
    type Net = Mlp2<784, 256, 128, 10>;
    let names: Vec<_> = (0..Net::TENSORS)
        .map(|i| Net::tensor_info(i).name().to_string())
        .collect();
    assert_eq!(
        names,
        [
            "fc1.weight",
            "fc1.bias",
            "fc2.weight",
            "fc2.bias",
            "fc3.weight",
            "fc3.bias"
        ]
    );
    assert_eq!(Net::tensor_info(0).shape(), &[256, 784]);
    assert_eq!(Net::tensor_info(5).shape(), &[10]);
    assert_eq!(
        Net::parameter_count(),
        784 * 256 + 256 + 256 * 128 + 128 + 128 * 10 + 10
    );
}
