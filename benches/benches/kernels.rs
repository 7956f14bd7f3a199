//! Per-sample kernels on flat slices: plain reference loops against the
//! unrolled ones.
//!
//! Throughput is in multiply-accumulates (one MAC = 2 flops), so criterion's
//! "elem/s" reads as MAC/s.

use std::hint::black_box;

use benches::{config, random_values};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use tinymlp::kernels::*;
use tinymlp::Rng;

fn matvec_shape(c: &mut Criterion, rng: &mut Rng, inputs: usize, outputs: usize) {
    let w = random_values(rng, inputs * outputs);
    let b = random_values(rng, outputs);
    let x = random_values(rng, inputs);
    let mut y = vec![0.0; outputs];
    let shape = format!("{inputs}x{outputs}");
    let mut g = c.benchmark_group("matvec");
    g.throughput(Throughput::Elements((inputs * outputs) as u64));
    g.bench_function(BenchmarkId::new("reference", &shape), |bench| {
        bench.iter(|| matvec_ref(black_box(&w), &b, black_box(&x), &mut y))
    });
    g.bench_function(BenchmarkId::new("unrolled", &shape), |bench| {
        bench.iter(|| matvec(black_box(&w), &b, black_box(&x), &mut y))
    });
    g.finish();
}

fn matvec_t_shape(c: &mut Criterion, rng: &mut Rng, inputs: usize, outputs: usize) {
    let w = random_values(rng, inputs * outputs);
    let dy = random_values(rng, outputs);
    let mut dx = vec![0.0; inputs];
    let shape = format!("{inputs}x{outputs}");
    let mut g = c.benchmark_group("matvec_t");
    g.throughput(Throughput::Elements((inputs * outputs) as u64));
    g.bench_function(BenchmarkId::new("reference", &shape), |bench| {
        bench.iter(|| matvec_t_ref(black_box(&w), black_box(&dy), &mut dx))
    });
    g.bench_function(BenchmarkId::new("unrolled", &shape), |bench| {
        bench.iter(|| matvec_t(black_box(&w), black_box(&dy), &mut dx))
    });
    g.finish();
}

fn rank1_shape(c: &mut Criterion, rng: &mut Rng, inputs: usize, outputs: usize) {
    let mut grad = random_values(rng, inputs * outputs);
    // Dense gradient (no zero rows to skip): the worst case.
    let dy: Vec<f32> = random_values(rng, outputs)
        .iter()
        .map(|v| v * 1e-6)
        .collect();
    let x = random_values(rng, inputs);
    let shape = format!("{inputs}x{outputs}");
    let mut g = c.benchmark_group("rank1");
    g.throughput(Throughput::Elements((inputs * outputs) as u64));
    g.bench_function(BenchmarkId::new("reference", &shape), |bench| {
        bench.iter(|| rank1_ref(&mut grad, black_box(&dy), black_box(&x)))
    });
    g.bench_function(BenchmarkId::new("unrolled", &shape), |bench| {
        bench.iter(|| rank1(&mut grad, black_box(&dy), black_box(&x)))
    });
    g.finish();
}

fn vector_kernels(c: &mut Criterion, rng: &mut Rng) {
    let x = random_values(rng, 784);
    let w = random_values(rng, 784);
    let mut y = random_values(rng, 784);
    let mut g = c.benchmark_group("dot");
    g.throughput(Throughput::Elements(784));
    g.bench_function(BenchmarkId::new("reference", 784), |bench| {
        bench.iter(|| dot_ref(black_box(&w), black_box(&x)))
    });
    g.bench_function(BenchmarkId::new("unrolled", 784), |bench| {
        bench.iter(|| dot(black_box(&w), black_box(&x)))
    });
    g.finish();
    let mut g = c.benchmark_group("axpy");
    g.throughput(Throughput::Elements(784));
    g.bench_function(BenchmarkId::new("reference", 784), |bench| {
        bench.iter(|| axpy_ref(black_box(1e-6), black_box(&x), &mut y))
    });
    g.bench_function(BenchmarkId::new("unrolled", 784), |bench| {
        bench.iter(|| axpy(black_box(1e-6), black_box(&x), &mut y))
    });
    g.finish();
}

fn kernels(c: &mut Criterion) {
    let mut rng = Rng::new(1);
    // The hidden layer of 784-64-10, its output layer, the first layer of
    // 784-256-…, and a width that is no multiple of the lane count (8x8 digits).
    matvec_shape(c, &mut rng, 784, 64);
    matvec_shape(c, &mut rng, 64, 10);
    matvec_shape(c, &mut rng, 784, 256);
    matvec_shape(c, &mut rng, 61, 32);
    // Back-propagation through the output layer of 784-64-10 and the middle layer of 784-256-128-10.
    matvec_t_shape(c, &mut rng, 64, 10);
    matvec_t_shape(c, &mut rng, 256, 128);
    rank1_shape(c, &mut rng, 784, 64);
    vector_kernels(c, &mut rng);
}

criterion_group! { name = benches; config = config(); targets = kernels }
criterion_main!(benches);
