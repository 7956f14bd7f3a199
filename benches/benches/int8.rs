//! int8 inference: the integer dot product (reference vs unrolled) and a whole
//! quantized 784-64-10 forward pass at batch 1, from u8 pixels.

use std::hint::black_box;

use benches::config;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use host::dataset::{load_mnist, Split};
use host::emit::{images, Exportable, CALIBRATION_IMAGES};
use host::train::{self, Quiet, TrainConfig};
use tinymlp::quant::{dot_i8_u8, dot_i8_u8_ref};
use tinymlp::{Mlp, Rng};

fn int8(c: &mut Criterion) {
    let mut rng = Rng::new(5);
    let w: Vec<i8> = (0..784).map(|_| rng.uniform(-127.0, 128.0) as i8).collect();
    let x: Vec<u8> = (0..784).map(|_| rng.uniform(0.0, 256.0) as u8).collect();
    let mut g = c.benchmark_group("int8_dot_784");
    g.throughput(Throughput::Elements(784));
    g.bench_function("reference", |b| {
        b.iter(|| dot_i8_u8_ref(black_box(&w), black_box(&x)))
    });
    g.bench_function("unrolled", |b| {
        b.iter(|| dot_i8_u8(black_box(&w), black_box(&x)))
    });
    g.finish();

    // A really trained and calibrated network, so activations look like MNIST's.
    let data = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../data");
    let train_set = load_mnist(&data, Split::Train).expect("data/").take(6000);
    let config_train = TrainConfig {
        epochs: 1,
        threads: 1,
        ..TrainConfig::default()
    };
    let (net, _) = train::train::<Mlp<784, 64, 10>>(
        &config_train,
        &train_set,
        &train_set.take(10),
        &mut Quiet,
    )
    .expect("training");
    let calibration = images(&train_set).expect("28x28");
    let q = net
        .quantize(&calibration[..CALIBRATION_IMAGES])
        .expect("quantize");
    let image = calibration[0];
    let mut g = c.benchmark_group("network_784-64-10_int8");
    g.throughput(Throughput::Elements(784 * 64 + 64 * 10));
    g.bench_function("forward_int8_batch1", |b| {
        b.iter(|| q.logits(black_box(&image)))
    });
    g.finish();
}

criterion_group! { name = benches; config = config(); targets = int8 }
criterion_main!(benches);
