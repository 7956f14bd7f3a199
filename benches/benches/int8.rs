//! int8 inference: the integer dot product (reference vs unrolled) and a
//! whole quantised 784-64-10 forward pass at batch 1, from u8 pixels,
//! through the portable, the reference and the host's run-time-chosen
//! kernels (`host::qkernel`: AVX-512 VNNI, AVX-VNNI, AVX2, those this CPU has).
//!
//! The network has random int8 weights and a requantisation that keeps the
//! hidden activations in range: the cost does not depend on the values.

use std::hint::black_box;

use benches::{config, pixels};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use host::qkernel::{QFast, QPath};
use tinymlp::quant::{dot_i8_u8, dot_i8_u8_ref};
use tinymlp::{QDense, QHidden, QMlp, QNetwork, QOutput, Requantize, Rng};

fn random_layer<const IN: usize, const OUT: usize>(rng: &mut Rng) -> QDense<IN, OUT> {
    let mut layer = QDense::<IN, OUT>::zeroed();
    for w in layer.weights.as_flattened_mut() {
        *w = rng.uniform(-127.0, 128.0) as i8;
    }
    for b in &mut layer.bias {
        *b = rng.uniform(-1e5, 1e5) as i32;
    }
    layer
}

/// 784-64-10 with random weights; hidden accumulators (up to about 2^24)
/// are scaled by 2^-17 into `u8`.
fn random_qmlp(rng: &mut Rng) -> Box<QMlp<784, 64, 10>> {
    Box::new(QHidden::new(
        random_layer(rng),
        Requantize::new([1 << 30; 64], [47; 64]),
        QOutput::new(random_layer(rng), [1e-4; 10]),
    ))
}

fn int8(c: &mut Criterion) {
    let mut rng = Rng::new(5);
    let w: Vec<i8> = (0..784).map(|_| rng.uniform(-127.0, 128.0) as i8).collect();
    let x = pixels(&mut rng, 784);
    let mut g = c.benchmark_group("int8_dot_784");
    g.throughput(Throughput::Elements(784));
    g.bench_function("reference", |b| {
        b.iter(|| dot_i8_u8_ref(black_box(&w), black_box(&x)))
    });
    g.bench_function("unrolled", |b| {
        b.iter(|| dot_i8_u8(black_box(&w), black_box(&x)))
    });
    g.finish();

    let q = random_qmlp(&mut rng);
    let images: Vec<[u8; 784]> = pixels(&mut rng, 16 * 784)
        .chunks_exact(784)
        .map(|p| p.try_into().unwrap())
        .collect();
    // The activations are neither all zero nor all saturated.
    let hidden = q.activations(&images[0]);
    assert!(hidden.iter().any(|&h| h > 0) && hidden.iter().any(|&h| h < 255));
    let mut g = c.benchmark_group("network_784-64-10_int8");
    g.throughput(Throughput::Elements(784 * 64 + 64 * 10));
    let mut i = 0;
    g.bench_function("forward_int8_batch1", |b| {
        b.iter(|| {
            i = (i + 1) % images.len();
            q.logits(black_box(&images[i]))
        })
    });
    g.bench_function("forward_int8_batch1_reference", |b| {
        b.iter(|| {
            i = (i + 1) % images.len();
            q.accumulators_ref(black_box(&images[i]))
        })
    });
    for kernel in QPath::ALL[1..].iter().filter_map(|&p| QFast::with_path(p)) {
        let id = format!("forward_int8_batch1_{}", kernel.path().name());
        g.bench_function(id, |b| {
            b.iter(|| {
                i = (i + 1) % images.len();
                q.dequantize(&q.accumulators_with(black_box(&images[i]), &kernel))
            })
        });
    }
    g.finish();
}

criterion_group! { name = benches; config = config(); targets = int8 }
criterion_main!(benches);
